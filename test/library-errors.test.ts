// The typed layer's own errors: one definition each (lib/errors/library.ts), exported from the
// package's entry point as before, each with a stable code and its own name.
import * as p11 from '../lib';
import * as library from '../lib/errors/library';

test.each([
  ['ModuleClosedError', 'ERR_P11_MODULE_CLOSED', () => new p11.ModuleClosedError()],
  ['SessionNotOpenError', 'ERR_P11_SESSION_NOT_OPEN', () => new p11.SessionNotOpenError('session.digest')],
  ['OperationFinishedError', 'ERR_P11_OPERATION_FINISHED', () => new p11.OperationFinishedError('sign.update')],
  ['PoolTimeoutError', 'ERR_P11_POOL_TIMEOUT', () => new p11.PoolTimeoutError(5)],
  ['PoolClosedError', 'ERR_P11_POOL_CLOSED', () => new p11.PoolClosedError()],
] as const)('%s has code %s, its own name, and is not a Pkcs11Error', (name, code, make) => {
  const e = make();
  expect(e).toBeInstanceOf(Error);
  expect(e).not.toBeInstanceOf(p11.Pkcs11Error);
  expect(e.name).toBe(name);
  expect(e.code).toBe(code);
  // The entry point exports the one class, not a copy.
  expect((library as Record<string, unknown>)[name]).toBe((p11 as Record<string, unknown>)[name]);
});
