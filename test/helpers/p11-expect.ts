// Small assertion helpers for the raw-layer tests: capture what a sync call throws or an async
// call rejects with, and check it is a Pkcs11Error with the exact code and function.
import { Pkcs11Error } from '../../lib/raw';

/** The value `fn` throws; fails the test when it returns normally. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw, but it returned');
}

/** The reason `p` rejects with; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** Asserts `e` is a Pkcs11Error with exactly this CKR name (and rv) from this function. */
export function expectPkcs11(e: unknown, rvName: string, fn: string, rv?: number): Pkcs11Error {
  expect(e).toBeInstanceOf(Pkcs11Error);
  const err = e as Pkcs11Error;
  expect({ rvName: err.rvName, function: err.function }).toEqual({ rvName, function: fn });
  if (rv !== undefined) expect(err.rv).toBe(rv);
  return err;
}

/** Sync form throws and async form rejects with the same CKR. */
export async function expectBoth(sync: () => unknown, async: () => Promise<unknown>, rvName: string, fn: string, rv?: number): Promise<void> {
  expectPkcs11(thrown(sync), rvName, fn, rv);
  expectPkcs11(await rejection(async()), rvName, fn, rv);
}

/** A CK_ULONG attribute value (8 bytes little-endian on Linux x64) as a bigint. */
export function ulongOf(b: Buffer | undefined): bigint {
  if (!b) throw new Error('attribute has no value');
  expect(b.length).toBe(8);
  return b.readBigUInt64LE(0);
}
