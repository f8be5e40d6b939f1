// Errors of the command itself and how any error becomes a message and an exit code.

/** Exit codes: 0 success, 1 other errors, 2 a PKCS#11 error (CKR_…), 3 an invalid signature, 64 usage. */
export const EXIT = { ok: 0, error: 1, pkcs11: 2, invalidSignature: 3, usage: 64 } as const;

/** A bad command line (exit 64). Messages never contain a PIN. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure that is not a module error (no such object, …), with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * The stderr line and exit code for an error. Module errors are `error: CKR_X (C_Fn)`; the typed
 * layer's messages name arguments, never their values, so a PIN cannot leak through them.
 */
export function describeError(e: unknown): { message: string; exitCode: number } {
  const x = e as { rvName?: unknown; function?: unknown; message?: unknown; name?: unknown; code?: unknown };
  if (x && typeof x.rvName === 'string' && typeof x.function === 'string') {
    return { message: `error: ${x.rvName} (${x.function})`, exitCode: EXIT.pkcs11 };
  }
  if (e instanceof UsageError) return { message: `error: ${e.message}`, exitCode: EXIT.usage };
  if (e instanceof CliError) return { message: `error: ${e.message}`, exitCode: e.exitCode };
  if (x && x.name === 'Pkcs11UriError') return { message: `error: ${String(x.message)}`, exitCode: EXIT.usage };
  const msg = x && typeof x.message === 'string' ? x.message.split('\n')[0] : String(e);
  return { message: `error: ${msg}`, exitCode: EXIT.error };
}
