// Which key types a mechanism takes, so that a key asked for a mechanism of another family (an EC
// key for RSA-PSS, an RSA key for EdDSA …) is refused with one clear error instead of whatever the
// module answers: SoftHSM says CKR_GENERAL_ERROR, others CKR_KEY_TYPE_INCONSISTENT or
// CKR_MECHANISM_INVALID. A key's type is remembered per key object when the library learns it
// (at generation, from a find() template, or when a failed call made it read CKA_KEY_TYPE), so the
// check before each call is two Map lookups and never a module call: the typed sign() is a hot
// path. A key whose type is not known yet is not checked before the call; if the call fails with
// one of the codes above, the type is read then and the failure becomes the same error.
import * as C from '../constants/generated';
import { KeyMechanismMismatchError } from '../errors/library';
import type { Mechanism, Ulong } from '../binding/raw-types';
import { KEY_TYPES } from '../template/attributes';
import { resolveMechanism, type MechanismSpec, type ResolvedMechanism } from './index';

/** Anything the library hands out as a key: only its identity is used here. */
type KeyRef = object;

const RSA = [C.CKK_RSA];
const EC = [C.CKK_EC];
const EDWARDS = [C.CKK_EC_EDWARDS];
const DSA = [C.CKK_DSA];
const AES = [C.CKK_AES];

// mechanism type → key types it accepts. Only families whose key type is not in doubt; a
// mechanism missing here (HMAC, which vendors pair with their own key types, vendor mechanisms …)
// is never refused by the library.
const TABLE = new Map<number, readonly number[]>();
function family(keyTypes: readonly number[], mechanisms: readonly number[]): void {
  for (const m of mechanisms) TABLE.set(m, keyTypes);
}
family(RSA, [
  C.CKM_RSA_PKCS, C.CKM_RSA_PKCS_PSS, C.CKM_RSA_PKCS_OAEP, C.CKM_RSA_X_509, C.CKM_RSA_9796, C.CKM_RSA_X9_31,
  C.CKM_SHA1_RSA_PKCS, C.CKM_SHA224_RSA_PKCS, C.CKM_SHA256_RSA_PKCS, C.CKM_SHA384_RSA_PKCS, C.CKM_SHA512_RSA_PKCS,
  C.CKM_SHA1_RSA_PKCS_PSS, C.CKM_SHA224_RSA_PKCS_PSS, C.CKM_SHA256_RSA_PKCS_PSS, C.CKM_SHA384_RSA_PKCS_PSS, C.CKM_SHA512_RSA_PKCS_PSS,
  C.CKM_SHA3_224_RSA_PKCS, C.CKM_SHA3_256_RSA_PKCS, C.CKM_SHA3_384_RSA_PKCS, C.CKM_SHA3_512_RSA_PKCS,
  C.CKM_SHA3_224_RSA_PKCS_PSS, C.CKM_SHA3_256_RSA_PKCS_PSS, C.CKM_SHA3_384_RSA_PKCS_PSS, C.CKM_SHA3_512_RSA_PKCS_PSS,
  C.CKM_SHA1_RSA_X9_31,
]); // prettier-ignore
family(EC, [
  C.CKM_ECDSA, C.CKM_ECDSA_SHA1, C.CKM_ECDSA_SHA224, C.CKM_ECDSA_SHA256, C.CKM_ECDSA_SHA384, C.CKM_ECDSA_SHA512,
  C.CKM_ECDSA_SHA3_224, C.CKM_ECDSA_SHA3_256, C.CKM_ECDSA_SHA3_384, C.CKM_ECDSA_SHA3_512,
]); // prettier-ignore
family(EDWARDS, [C.CKM_EDDSA]);
family(DSA, [
  C.CKM_DSA, C.CKM_DSA_SHA1, C.CKM_DSA_SHA224, C.CKM_DSA_SHA256, C.CKM_DSA_SHA384, C.CKM_DSA_SHA512,
  C.CKM_DSA_SHA3_224, C.CKM_DSA_SHA3_256, C.CKM_DSA_SHA3_384, C.CKM_DSA_SHA3_512,
]); // prettier-ignore
family(AES, [
  C.CKM_AES_ECB, C.CKM_AES_CBC, C.CKM_AES_CBC_PAD, C.CKM_AES_CTR, C.CKM_AES_GCM, C.CKM_AES_CCM, C.CKM_AES_CTS,
  C.CKM_AES_OFB, C.CKM_AES_CFB8, C.CKM_AES_CFB64, C.CKM_AES_CFB128, C.CKM_AES_CMAC, C.CKM_AES_CMAC_GENERAL,
  C.CKM_AES_MAC, C.CKM_AES_MAC_GENERAL, C.CKM_AES_KEY_WRAP, C.CKM_AES_KEY_WRAP_PAD, C.CKM_AES_KEY_WRAP_KWP,
]); // prettier-ignore
// Derive mechanisms, checked against the base key (ECDH on X25519/X448 keys is CKM_ECDH1_DERIVE too).
family([C.CKK_EC, C.CKK_EC_MONTGOMERY], [C.CKM_ECDH1_DERIVE, C.CKM_ECDH1_COFACTOR_DERIVE]);
family(AES, [C.CKM_AES_ECB_ENCRYPT_DATA, C.CKM_AES_CBC_ENCRYPT_DATA]);
family([C.CKK_DH], [C.CKM_DH_PKCS_DERIVE]);

// Generation mechanism → the type of the keys it makes, for keys the library generates: their
// type is known from the start, so the first mismatched call is refused before the module.
const GENERATED = new Map<number, number>([
  [C.CKM_RSA_PKCS_KEY_PAIR_GEN, C.CKK_RSA],
  [C.CKM_EC_KEY_PAIR_GEN, C.CKK_EC],
  [C.CKM_EC_EDWARDS_KEY_PAIR_GEN, C.CKK_EC_EDWARDS],
  [C.CKM_EC_MONTGOMERY_KEY_PAIR_GEN, C.CKK_EC_MONTGOMERY],
  [C.CKM_DSA_KEY_PAIR_GEN, C.CKK_DSA],
  [C.CKM_DH_PKCS_KEY_PAIR_GEN, C.CKK_DH],
  [C.CKM_AES_KEY_GEN, C.CKK_AES],
  [C.CKM_GENERIC_SECRET_KEY_GEN, C.CKK_GENERIC_SECRET],
  [C.CKM_DES3_KEY_GEN, C.CKK_DES3],
]);

// The module's answers that mean "not this key" on such a call. CKR_GENERAL_ERROR is SoftHSM's;
// it becomes the library's error only when the table says the pair does not fit.
// C_WrapKey / C_UnwrapKey say it with their own codes.
const MISMATCH_CODES = new Set<number>([
  C.CKR_KEY_TYPE_INCONSISTENT,
  C.CKR_MECHANISM_INVALID,
  C.CKR_GENERAL_ERROR,
  C.CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
  C.CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
]);

const keyTypes = new WeakMap<KeyRef, number>();

/** Records a key's CKK_* type (from generation, a template, or a read). Unknown input is ignored. */
export function rememberKeyType(key: KeyRef, keyType: unknown): void {
  const n = typeof keyType === 'number' ? keyType : typeof keyType === 'string' ? keyTypeNumber(keyType) : typeof keyType === 'bigint' ? Number(keyType) : undefined;
  if (n !== undefined && Number.isSafeInteger(n)) keyTypes.set(key, n);
}

/**
 * Records the type of a key the library made with `mechanism` (a generation mechanism) or from
 * `template`: the template's keyType wins (the module refuses a template that contradicts the
 * mechanism, so a key that exists has it); otherwise the type the mechanism makes, if known.
 */
export function rememberMadeKeyType(key: KeyRef, mechanism: Mechanism | undefined, template?: { keyType?: unknown } | null): void {
  const kt = template?.keyType ?? (mechanism ? GENERATED.get(Number(mechanism.mechanism)) : undefined);
  if (kt !== undefined) rememberKeyType(key, kt);
}

/** The key's CKK_* type when the library knows it, without asking the module. */
export function knownKeyType(key: KeyRef): number | undefined {
  return keyTypes.get(key);
}

/** The key types `mechanism` accepts, or undefined when the library has no opinion. */
export function keyTypesFor(mechanism: Ulong): readonly number[] | undefined {
  return TABLE.get(Number(mechanism));
}

/**
 * Throws KeyMechanismMismatchError when the key's type is known and the mechanism is of another
 * family. `what` is the typed method (`privateKey.sign`).
 */
export function checkKeyMechanism(key: KeyRef, mechanism: Mechanism, what: string): void {
  const kt = keyTypes.get(key);
  if (kt === undefined) return;
  const allowed = TABLE.get(Number(mechanism.mechanism));
  if (allowed !== undefined && !allowed.includes(kt)) throw mismatch(kt, mechanism.mechanism, allowed, what);
}

/**
 * After a failed call: when the module's code can mean "wrong key type" and the key's type (read
 * with `readKeyType` when not yet known) is outside the mechanism's family, the error is
 * KeyMechanismMismatchError with the module's error as its `cause`; otherwise `e` unchanged.
 */
export async function mismatchAfterFailure(e: unknown, key: KeyRef, mechanism: Mechanism | undefined, what: string, readKeyType: () => Promise<unknown>): Promise<unknown> {
  if (!mechanism) return e;
  const rv = (e as { rv?: unknown } | null)?.rv;
  if (typeof rv !== 'number' || !MISMATCH_CODES.has(rv)) return e;
  const allowed = TABLE.get(Number(mechanism.mechanism));
  if (!allowed) return e;
  let kt = keyTypes.get(key);
  if (kt === undefined) {
    try {
      rememberKeyType(key, await readKeyType());
    } catch {
      return e;
    }
    kt = keyTypes.get(key);
  }
  if (kt === undefined || allowed.includes(kt)) return e;
  const err = mismatch(kt, mechanism.mechanism, allowed, what);
  (err as { cause?: unknown }).cause = e;
  return err;
}

function keyTypeNumber(name: string): number | undefined {
  return KEY_TYPES[name];
}

function keyTypeName(kt: number): string {
  return (C.CKK_NAMES[kt] ?? `0x${kt.toString(16)}`).replace(/^CKK_/, '').replace(/_/g, '-');
}

function mismatch(kt: number, mechanism: Ulong, allowed: readonly number[], what: string): KeyMechanismMismatchError {
  const m = Number(mechanism);
  const mechName = C.CKM_NAMES[m] ?? `0x${m.toString(16)}`;
  return new KeyMechanismMismatchError(what, keyTypeName(kt), mechName, allowed.map(keyTypeName));
}

/**
 * resolveMechanism, with every argument error (TypeError, RangeError) starting with the typed
 * method that was called (`privateKey.sign: unknown mechanism 'X'`), whatever depth threw it.
 */
export function resolveFor(spec: MechanismSpec, supports: ((type: Ulong) => boolean) | undefined, what: string): ResolvedMechanism {
  try {
    return resolveMechanism(spec, supports, what);
  } catch (e) {
    if ((e instanceof TypeError || e instanceof RangeError) && !e.message.startsWith(`${what}:`)) e.message = `${what}: ${e.message}`;
    throw e;
  }
}
