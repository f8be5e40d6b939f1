// The public API of the typed layer: its own errors (one definition each, lib/errors/library.ts,
// exported from the entry point, each with a stable code and its own name) and the entry point's types.
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

// The package entry point's info types are the typed layer's (plain names); the raw structs stay
// under 'p11bridge/raw'. Checked by the compiler: a wrong type makes this file fail to compile.
import type * as entry from '../lib';
import type * as rawEntry from '../lib/raw';
import type { SessionInfo as TypedSession } from '../lib/session/session';
import type { MechanismInfo as TypedMechanism, SlotInfo as TypedSlot, TokenInfo as TypedToken } from '../lib/core/token';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const plainNames: [
  Same<entry.SessionInfo, TypedSession>,
  Same<entry.SlotInfo, TypedSlot>,
  Same<entry.TokenInfo, TypedToken>,
  Same<entry.MechanismInfo, TypedMechanism>,
  Same<entry.TypedSessionInfo, TypedSession>,
  Same<entry.SessionInfo, rawEntry.SessionInfo>,
] = [true, true, true, true, true, false];

test('the entry point exports the typed info types under their plain names', () => {
  expect(plainNames).toEqual([true, true, true, true, true, false]);
});
