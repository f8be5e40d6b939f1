// The native one-trip calls (src-native/functions/fused.cc): C_XInit and C_X together on one call
// thread. Not part of the raw layer's PKCS#11 surface; the typed layer's one-shot operations use
// them, so a signature costs one trip to a call thread instead of two.
import type { Bytes, Mechanism, PKCS11, Ulong } from './raw-types';

export interface FusedCalls {
  signOnceAsync(hSession: Ulong, mechanism: Mechanism, hKey: Ulong, data: Bytes): Promise<Buffer>;
  verifyOnceAsync(hSession: Ulong, mechanism: Mechanism, hKey: Ulong, data: Bytes, signature: Bytes): Promise<boolean>;
  encryptOnceAsync(hSession: Ulong, mechanism: Mechanism, hKey: Ulong, data: Bytes): Promise<Buffer>;
  decryptOnceAsync(hSession: Ulong, mechanism: Mechanism, hKey: Ulong, data: Bytes): Promise<Buffer>;
  digestOnceAsync(hSession: Ulong, mechanism: Mechanism, data: Bytes): Promise<Buffer>;
}

/** The fused calls of a raw module object (every PKCS11 the addon makes has them). */
export function fused(raw: PKCS11): FusedCalls {
  return raw as unknown as FusedCalls;
}

/** Whether a failure of a fused call came from its Init (then no operation is left active). */
export function failedInInit(e: unknown): boolean {
  const fn = (e as { function?: unknown } | null)?.function;
  return typeof fn === 'string' && fn.endsWith('Init');
}
