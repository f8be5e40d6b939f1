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
 * Argument errors of the typed layer (TypeError, RangeError) are bad command-line input: exit 64.
 */
export function describeError(e: unknown): { message: string; exitCode: number } {
  const d = errorDetails(e);
  return { message: d.rvName ? `error: ${d.rvName} (${String(d.function)})` : `error: ${d.message}`, exitCode: d.exitCode };
}

/** What `--json` prints for an error: `{ error: { rvName, function, message, code? } }`, and the exit code. */
export interface ErrorDetails {
  rvName: string | null;
  function: string | null;
  message: string;
  /** The library's error code (ERR_P11_…), when it has one. */
  code?: string;
  exitCode: number;
}

export function errorDetails(e: unknown): ErrorDetails {
  const x = e as { rvName?: unknown; function?: unknown; message?: unknown; name?: unknown; code?: unknown };
  const firstLine = (m: unknown): string => (typeof m === 'string' ? m.split('\n')[0] : String(e));
  if (x && typeof x.rvName === 'string' && typeof x.function === 'string') {
    return { rvName: x.rvName, function: x.function, message: firstLine(x.message), exitCode: EXIT.pkcs11 };
  }
  const code = x && typeof x.code === 'string' && x.code.startsWith('ERR_P11_') ? { code: x.code } : {};
  if (e instanceof UsageError) return { rvName: null, function: null, message: e.message, exitCode: EXIT.usage };
  if (e instanceof CliError) return { rvName: null, function: null, message: e.message, exitCode: e.exitCode };
  if (x && x.name === 'Pkcs11UriError') return { rvName: null, function: null, message: firstLine(x.message), ...code, exitCode: EXIT.usage };
  if (e instanceof TypeError || e instanceof RangeError) return { rvName: null, function: null, message: firstLine(x.message), ...code, exitCode: EXIT.usage };
  return { rvName: null, function: null, message: firstLine(x?.message), ...code, exitCode: EXIT.error };
}
