// The library's own errors: a call the typed layer refused without calling the module. None is a
// Pkcs11Error (no CKR code); each has a stable `code` to test instead of the message. One file, at
// the bottom of the typed layer, so that every layer can throw them without importing the layer
// that owns the state (session.ts used to import module.ts for ModuleClosedError: a cycle).

/** A call on a Module (or its slots) after close(). */
export class ModuleClosedError extends Error {
  readonly code = 'ERR_P11_MODULE_CLOSED';
  constructor() {
    super('the module is closed');
    this.name = 'ModuleClosedError';
  }
}

/**
 * A call on a Session object that was closed (or whose Module was). (CKR_SESSION_CLOSED from a
 * module is the generated SessionClosedError.)
 */
export class SessionNotOpenError extends Error {
  readonly code = 'ERR_P11_SESSION_NOT_OPEN';
  constructor(what: string) {
    super(`${what}: the session is closed`);
    this.name = 'SessionNotOpenError';
  }
}

/** A part of a multi-part operation after final() or abort(). */
export class OperationFinishedError extends Error {
  readonly code = 'ERR_P11_OPERATION_FINISHED';
  constructor(what: string) {
    super(`${what}: the operation has already finished`);
    this.name = 'OperationFinishedError';
  }
}

/** SessionPool.use() waited `waitTimeout` ms and no session became free. */
export class PoolTimeoutError extends Error {
  readonly code = 'ERR_P11_POOL_TIMEOUT';
  constructor(ms: number) {
    super(`no session became free within ${ms} ms`);
    this.name = 'PoolTimeoutError';
  }
}

/** SessionPool.use() after close(), or waiting when it closed. */
export class PoolClosedError extends Error {
  readonly code = 'ERR_P11_POOL_CLOSED';
  constructor() {
    super('the session pool is closed');
    this.name = 'PoolClosedError';
  }
}

/**
 * A key asked for a mechanism of another key type (an EC key for RSA-PSS, an RSA key for EdDSA …).
 * Thrown before the module is called when the key's type is known, or in place of the module's
 * answer (CKR_KEY_TYPE_INCONSISTENT, CKR_MECHANISM_INVALID, SoftHSM's CKR_GENERAL_ERROR), which
 * is then its `cause`. `what` is the typed method (`privateKey.sign`).
 */
export class KeyMechanismMismatchError extends Error {
  readonly code = 'ERR_P11_KEY_MECHANISM_MISMATCH';
  constructor(
    what: string,
    /** The key's type as the spec names it without CKK_ ('EC', 'RSA', 'EC-EDWARDS' …). */
    readonly keyType: string,
    /** The mechanism's CKM_ name. */
    readonly mechanism: string,
    /** The key types the mechanism takes. */
    readonly expected: readonly string[],
  ) {
    super(`${what}: ${mechanism} takes ${article(expected[0])} ${expected.join(' or ')} key, and this is ${article(keyType)} ${keyType} key`);
    this.name = 'KeyMechanismMismatchError';
  }
}

function article(word: string | undefined): string {
  return word && /^[AEFHILMNORSX]/i.test(word) && !/^(EU|US)/i.test(word) ? 'an' : 'a';
}

/**
 * A call on a Session, or on an object reached through one, from before Module.reinitialize():
 * the handle belongs to the module's earlier initialization, and its number may name another
 * session (or object) now. Open a new session and find the objects again.
 */
export class StaleHandleError extends Error {
  readonly code = 'ERR_P11_STALE_HANDLE';
  constructor(what: string) {
    super(`${what}: the handle is from before the module was initialized again; open a new session`);
    this.name = 'StaleHandleError';
  }
}

/**
 * SessionPool.use() ran past its deadline (`timeoutMs`, waiting for a session and running fn
 * together). The module call in progress, if any, was not interrupted: its session is
 * quarantined and closed when the call returns.
 */
export class PoolDeadlineError extends Error {
  readonly code = 'ERR_P11_POOL_DEADLINE';
  constructor(ms: number) {
    super(`the pool call did not finish within its deadline of ${ms} ms`);
    this.name = 'PoolDeadlineError';
  }
}
