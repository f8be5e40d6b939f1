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
