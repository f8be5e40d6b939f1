// Ending a session's active operation whatever state the module left it in. PKCS#11 2.x has no
// cancel call, and modules differ in which call ends what, so this tries, in order:
//   1. C_SessionCancel (3.x) with the operation's flag;
//   2. the multi-part final call (ends the operation whatever it answers, per the spec);
//   3. when that says CKR_OPERATION_NOT_INITIALIZED, the one-shot call on empty input: NSS keeps
//      single-part-only operations (AES-GCM, raw ECDSA) active while refusing the final call,
//      and SoftHSM keeps an operation whose context login failed; the one-shot call ends both.
// Every answer is swallowed: the caller only needs the session free again.
import * as C from '../constants/generated';
import { OperationNotInitializedError } from '../errors/generated';
import type { PKCS11, Pin, Ulong } from '../binding/raw-types';

export type OperationKind = 'sign' | 'verify' | 'encrypt' | 'decrypt' | 'digest';

const EMPTY = Buffer.alloc(0);

const KINDS: Record<OperationKind, { flag: number; final(raw: PKCS11, h: Ulong): Promise<unknown>; single(raw: PKCS11, h: Ulong): Promise<unknown> }> = {
  sign: { flag: C.CKF_SIGN, final: (r, h) => r.C_SignFinalAsync(h), single: (r, h) => r.C_SignAsync(h, EMPTY) },
  verify: { flag: C.CKF_VERIFY, final: (r, h) => r.C_VerifyFinalAsync(h, Buffer.alloc(1)), single: (r, h) => r.C_VerifyAsync(h, EMPTY, EMPTY) },
  encrypt: { flag: C.CKF_ENCRYPT, final: (r, h) => r.C_EncryptFinalAsync(h), single: (r, h) => r.C_EncryptAsync(h, EMPTY) },
  decrypt: { flag: C.CKF_DECRYPT, final: (r, h) => r.C_DecryptFinalAsync(h), single: (r, h) => r.C_DecryptAsync(h, EMPTY) },
  digest: { flag: C.CKF_DIGEST, final: (r, h) => r.C_DigestFinalAsync(h), single: (r, h) => r.C_DigestAsync(h, EMPTY) },
};

/** Ends the active operation of `kind` on session `h` (see above); never throws. */
export async function endOperation(raw: PKCS11, h: Ulong, kind: OperationKind): Promise<void> {
  const k = KINDS[kind];
  if (raw.has('C_SessionCancel')) {
    try {
      await raw.C_SessionCancelAsync(h, k.flag);
      return;
    } catch {
      /* CKR_OPERATION_CANCEL_FAILED and the like: the 2.x way below */
    }
  }
  try {
    await k.final(raw, h);
  } catch (e) {
    if (e instanceof OperationNotInitializedError) await k.single(raw, h).catch(() => undefined);
  }
}

/**
 * The context-specific login a CKA_ALWAYS_AUTHENTICATE key needs between Init and its use, in the
 * same hold of the session; on failure (a wrong PIN) the operation is ended before rethrowing,
 * so the session is not left with an operation nobody can finish.
 */
export async function contextLogin(raw: PKCS11, h: Ulong, pin: Pin | undefined, kind: OperationKind): Promise<void> {
  if (pin === undefined) return;
  try {
    await raw.C_LoginAsync(h, C.CKU_CONTEXT_SPECIFIC, pin);
  } catch (e) {
    await endOperation(raw, h, kind);
    throw e;
  }
}
