// Key-management mechanisms: typed wrap, derive and PBKDF2 specs → the raw `{ mechanism, parameter }`,
// built with the struct builders of ./params. A raw `{ mechanism, parameter }` passes through.
// Pure: no token calls. What a spec names on the token (an ECDH peer PublicKey's CKA_EC_POINT, an
// HKDF salt key) is read by the caller, objects/keys.ts, and comes in as bytes and handles.
import { KeyObject } from 'node:crypto';
import * as C from '../constants/generated';
import binding from '../binding/native';
import { keyObjectPoint } from '../encoding/jwk';
import type { PublicKey, SecretKey } from '../objects/keys';
import type { Bytes, Mechanism, StructField, Ulong } from '../binding/raw-types';
import { HashName, MechanismSpec, resolveMechanism } from './index';
import * as P from './params';

/** Hashes the KDFs below can name: the SHA-2 family, and SHA-3 where the module has it. */
export type KdfHash = HashName | 'SHA3-224' | 'SHA3-256' | 'SHA3-384' | 'SHA3-512';

const DIGEST: Record<KdfHash, number> = {
  'SHA-1': C.CKM_SHA_1,
  'SHA-224': C.CKM_SHA224,
  'SHA-256': C.CKM_SHA256,
  'SHA-384': C.CKM_SHA384,
  'SHA-512': C.CKM_SHA512,
  'SHA3-224': C.CKM_SHA3_224,
  'SHA3-256': C.CKM_SHA3_256,
  'SHA3-384': C.CKM_SHA3_384,
  'SHA3-512': C.CKM_SHA3_512,
};

const HMAC: Record<KdfHash, number> = {
  'SHA-1': C.CKM_SHA_1_HMAC,
  'SHA-224': C.CKM_SHA224_HMAC,
  'SHA-256': C.CKM_SHA256_HMAC,
  'SHA-384': C.CKM_SHA384_HMAC,
  'SHA-512': C.CKM_SHA512_HMAC,
  'SHA3-224': C.CKM_SHA3_224_HMAC,
  'SHA3-256': C.CKM_SHA3_256_HMAC,
  'SHA3-384': C.CKM_SHA3_384_HMAC,
  'SHA3-512': C.CKM_SHA3_512_HMAC,
};

/** ANSI X9.63 KDFs of CK_ECDH1_DERIVE_PARAMS; 'null' is CKD_NULL (the raw shared secret Z). */
export type EcdhKdf = 'null' | KdfHash;

const X963: Record<EcdhKdf, number> = {
  null: C.CKD_NULL,
  'SHA-1': C.CKD_SHA1_KDF,
  'SHA-224': C.CKD_SHA224_KDF,
  'SHA-256': C.CKD_SHA256_KDF,
  'SHA-384': C.CKD_SHA384_KDF,
  'SHA-512': C.CKD_SHA512_KDF,
  'SHA3-224': C.CKD_SHA3_224_KDF,
  'SHA3-256': C.CKD_SHA3_256_KDF,
  'SHA3-384': C.CKD_SHA3_384_KDF,
  'SHA3-512': C.CKD_SHA3_512_KDF,
};

const PBKDF2_PRF: Record<HashName, number> = {
  'SHA-1': C.CKP_PKCS5_PBKD2_HMAC_SHA1,
  'SHA-224': C.CKP_PKCS5_PBKD2_HMAC_SHA224,
  'SHA-256': C.CKP_PKCS5_PBKD2_HMAC_SHA256,
  'SHA-384': C.CKP_PKCS5_PBKD2_HMAC_SHA384,
  'SHA-512': C.CKP_PKCS5_PBKD2_HMAC_SHA512,
};

// ---------------------------------------------------------------------------------------------
// Wrap / unwrap

/** Mechanisms for C_WrapKey / C_UnwrapKey. */
export type WrapSpec =
  | { name: 'AES-KW'; padding?: boolean }
  | { name: 'RSA-OAEP'; hash?: HashName; label?: Bytes }
  | { name: 'RSAES-PKCS1-v1_5' }
  | { name: 'AES-CBC'; iv: Bytes; padding?: boolean }
  | { name: 'AES-GCM'; iv: Bytes; additionalData?: Bytes; tagLength?: number }
  | Mechanism;

const WRAP_NAMES = new Set(['AES-KW', 'RSA-OAEP', 'RSAES-PKCS1-v1_5', 'AES-CBC', 'AES-GCM']);

function specObject(what: string, spec: unknown): Record<string, unknown> {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new TypeError(`${what}: argument 'spec' must be a mechanism spec object ({ name: … } or { mechanism, parameter })`);
  }
  return spec as Record<string, unknown>;
}

/** The raw mechanism for a wrap spec (also used to unwrap). `what` names the caller in errors. */
export function resolveWrapMechanism(spec: WrapSpec, what = 'wrap'): Mechanism {
  const s = specObject(what, spec);
  if ('mechanism' in s) return spec as Mechanism;
  const name = s.name;
  if (typeof name !== 'string' || !WRAP_NAMES.has(name)) {
    throw new RangeError(`${what}: unknown wrapping mechanism '${String(name)}' (${[...WRAP_NAMES].join(', ')}, or { mechanism, parameter })`);
  }
  if (name === 'RSAES-PKCS1-v1_5') return { mechanism: C.CKM_RSA_PKCS };
  if ((name === 'AES-CBC' || name === 'AES-GCM') && !isBytes(s.iv)) throw new TypeError(`${what}: 'spec.iv' must be bytes`);
  return resolveMechanism(spec as MechanismSpec).mechanism;
}

// ---------------------------------------------------------------------------------------------
// Derive

/**
 * ECDH (CKM_ECDH1_DERIVE, or CKM_ECDH1_COFACTOR_DERIVE with `cofactor`), on a private key.
 * `publicKey` is the peer's public value: its EC point as bytes (raw uncompressed 04||x||y, or
 * X25519/X448 bytes; passed to the module as given), a PublicKey on the token (its CKA_EC_POINT,
 * DER wrapper removed), or a node:crypto KeyObject (EC, X25519, X448).
 */
export interface EcdhSpec {
  name: 'ECDH';
  publicKey: Bytes | PublicKey | KeyObject;
  /** The X9.63 KDF applied to Z; default 'null' (Z itself, truncated to CKA_VALUE_LEN by the module). */
  kdf?: EcdhKdf;
  /** SharedInfo for the KDF (not allowed with 'null'). */
  sharedData?: Bytes | null;
  cofactor?: boolean;
}

/**
 * HKDF (CKM_HKDF_DERIVE, PKCS#11 3.0) on a secret key: extract and/or expand (both by default).
 * `salt`: bytes, a SecretKey on the token (CKF_HKDF_SALT_KEY), or none (HashLen zero bytes).
 */
export interface HkdfSpec {
  name: 'HKDF';
  hash: KdfHash;
  salt?: Bytes | SecretKey | null;
  info?: Bytes | null;
  extract?: boolean;
  expand?: boolean;
}

/** Derivation by encryption: the new key's value is the base key's encryption of `data`. */
export interface AesEcbEncryptDataSpec {
  name: 'AES-ECB-ENCRYPT-DATA';
  data: Bytes;
}
export interface AesCbcEncryptDataSpec {
  name: 'AES-CBC-ENCRYPT-DATA';
  /** 16 bytes. */
  iv: Bytes;
  data: Bytes;
}
export interface Des3EcbEncryptDataSpec {
  name: 'DES3-ECB-ENCRYPT-DATA';
  data: Bytes;
}

/** SP 800-108 PRFs: HMAC with a hash, or AES-CMAC. */
export type Sp800108Prf = `HMAC-${KdfHash}` | 'AES-CMAC';

/**
 * NIST SP 800-108 KDF (PKCS#11 3.0) with the usual input layout:
 * counter mode  PRF(key, [i] || Label || 0x00 || Context || [L]),
 * feedback      PRF(key, K(i-1) || [i] || Label || 0x00 || Context || [L]), K(0) = iv,
 * double-pipeline PRF(key, A(i) || [i] || Label || 0x00 || Context || [L]),
 *                 A(i) = PRF(key, A(i-1)), A(0) = Label || 0x00 || Context || [L].
 * [i] and [L] are big-endian; [L] is the derived key's length in bits. Without label and context
 * there is no fixed-input field. Only one key is derived (no CK_DERIVED_KEY extras).
 */
export interface Sp800108Spec {
  name: 'SP800-108';
  mode?: 'counter' | 'feedback' | 'double-pipeline';
  prf: Sp800108Prf;
  label?: Bytes;
  context?: Bytes;
  /** Width of [i]; default 32. 0 leaves the counter out (feedback and double-pipeline only). */
  counterBits?: 0 | 8 | 16 | 24 | 32;
  /** Width of [L]; default 32. 0 leaves it out. */
  lengthBits?: 0 | 8 | 16 | 24 | 32;
  /** Feedback mode's initial chaining value K(0); none by default. */
  iv?: Bytes;
}

/** What PrivateKey.derive takes. */
export type PrivateKeyDeriveSpec = EcdhSpec | Mechanism;
/** What SecretKey.derive takes. */
export type SecretKeyDeriveSpec = HkdfSpec | AesEcbEncryptDataSpec | AesCbcEncryptDataSpec | Des3EcbEncryptDataSpec | Sp800108Spec | Mechanism;
export type DeriveSpec = PrivateKeyDeriveSpec | SecretKeyDeriveSpec;

const PRIVATE_DERIVE = new Set(['ECDH']);
const SECRET_DERIVE = new Set(['HKDF', 'AES-ECB-ENCRYPT-DATA', 'AES-CBC-ENCRYPT-DATA', 'DES3-ECB-ENCRYPT-DATA', 'SP800-108']);

/** @internal true for a Buffer, TypedArray, DataView or ArrayBuffer. */
export function isBytes(v: unknown): v is Bytes {
  return v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

function bytes(what: string, field: string, v: unknown, optional = false): Bytes | null {
  if (v === undefined || v === null) {
    if (optional) return null;
    throw new TypeError(`${what}: 'spec.${field}' is required (bytes)`);
  }
  if (!isBytes(v)) throw new TypeError(`${what}: 'spec.${field}' must be bytes (a Buffer, TypedArray or ArrayBuffer)`);
  return v;
}

function buf(b: Bytes): Buffer {
  return b instanceof ArrayBuffer ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function lookup<T extends string>(what: string, field: string, table: Record<T, number>, v: unknown): number {
  if (typeof v !== 'string' || !Object.prototype.hasOwnProperty.call(table, v)) {
    throw new RangeError(`${what}: 'spec.${field}' must be one of ${Object.keys(table).join(', ')} (got ${String(v)})`);
  }
  return table[v as T];
}

// The one reading of CKA_EC_POINT is encoding/ec's; exported from here too, where 0.1 had it.
export { rawEcPoint } from '../encoding/ec';

/**
 * @internal What a derive spec names on the token, read by the caller before the mechanism is
 * built (objects/keys.ts's resolveDeriveMechanism): this layer makes no token calls.
 */
export interface DeriveInputs {
  /** ECDH with a PublicKey peer: its public value (CKA_EC_POINT, unwrapped by rawEcPoint). */
  peerPoint?: Bytes;
  /** HKDF with a SecretKey salt: its handle (CKF_HKDF_SALT_KEY). */
  saltKey?: Ulong;
}

/**
 * @internal true when the spec is ECDH whose peer is an object on a token (not bytes, not a
 * KeyObject): the caller reads its CKA_EC_POINT into DeriveInputs.peerPoint. `isObject` is the
 * caller's test for a token object (this layer does not know the class).
 */
export function needsPeerPoint(spec: unknown, base: 'privateKey' | 'secretKey', isObject: (v: unknown) => boolean): boolean {
  if (base !== 'privateKey' || spec === null || typeof spec !== 'object' || 'mechanism' in spec) return false;
  const s = spec as Record<string, unknown>;
  return s.name === 'ECDH' && isObject(s.publicKey);
}

function peerPoint(what: string, pk: unknown, read: Bytes | undefined): Bytes {
  if (read !== undefined) return read;
  if (isBytes(pk)) return pk;
  if (pk instanceof KeyObject) return keyObjectPoint(what, 'spec.publicKey', pk);
  throw new TypeError(`${what}: 'spec.publicKey' must be the peer's EC point (bytes), a PublicKey or a node:crypto KeyObject`);
}

function ecdh(what: string, s: Record<string, unknown>, point: Bytes): Mechanism {
  const kdf = s.kdf === undefined ? C.CKD_NULL : lookup(what, 'kdf', X963, s.kdf);
  const sharedData = bytes(what, 'sharedData', s.sharedData, true);
  if (kdf === C.CKD_NULL && sharedData && sharedData.byteLength > 0) throw new RangeError(`${what}: 'spec.sharedData' needs a kdf other than 'null'`);
  return {
    mechanism: s.cofactor === true ? C.CKM_ECDH1_COFACTOR_DERIVE : C.CKM_ECDH1_DERIVE,
    parameter: P.ecdh1DeriveParams({ publicData: point, kdf, sharedData }),
  };
}

function hkdf(what: string, s: Record<string, unknown>, saltKey: Ulong | undefined): Mechanism {
  const hash = lookup(what, 'hash', DIGEST, s.hash);
  const extract = s.extract ?? true;
  const expand = s.expand ?? true;
  if (typeof extract !== 'boolean' || typeof expand !== 'boolean') throw new TypeError(`${what}: 'spec.extract' and 'spec.expand' must be booleans`);
  if (!extract && !expand) throw new RangeError(`${what}: HKDF needs 'spec.extract', 'spec.expand' or both`);
  const info = bytes(what, 'info', s.info, true);
  const salt = s.salt;
  let saltFields: { saltType: Ulong; salt?: Bytes; saltKey?: Ulong };
  if (salt === undefined || salt === null || (isBytes(salt) && salt.byteLength === 0)) saltFields = { saltType: C.CKF_HKDF_SALT_NULL };
  else if (isBytes(salt)) saltFields = { saltType: C.CKF_HKDF_SALT_DATA, salt };
  else if (saltKey !== undefined) saltFields = { saltType: C.CKF_HKDF_SALT_KEY, saltKey };
  else throw new TypeError(`${what}: 'spec.salt' must be bytes, a SecretKey or null`);
  return { mechanism: C.CKM_HKDF_DERIVE, parameter: P.hkdfParams({ extract, expand, prfHashMechanism: hash, ...saltFields, info }) };
}

const SP800_108_PRF: Record<string, number> = { 'AES-CMAC': C.CKM_AES_CMAC };
for (const [h, m] of Object.entries(HMAC)) SP800_108_PRF[`HMAC-${h}`] = m;
const WIDTHS = new Set([0, 8, 16, 24, 32]);
const structSize = (f: StructField[]): number => binding.structLayout(f).size;

function sp800108(what: string, s: Record<string, unknown>): Mechanism {
  const prfType = lookup(what, 'prf', SP800_108_PRF, s.prf);
  const mode = s.mode ?? 'counter';
  if (mode !== 'counter' && mode !== 'feedback' && mode !== 'double-pipeline') {
    throw new RangeError(`${what}: 'spec.mode' must be 'counter', 'feedback' or 'double-pipeline'`);
  }
  const counterBits = s.counterBits ?? 32;
  const lengthBits = s.lengthBits ?? 32;
  if (!WIDTHS.has(counterBits as number)) throw new RangeError(`${what}: 'spec.counterBits' must be 0, 8, 16, 24 or 32`);
  if (!WIDTHS.has(lengthBits as number)) throw new RangeError(`${what}: 'spec.lengthBits' must be 0, 8, 16, 24 or 32`);
  if (mode === 'counter' && counterBits === 0) throw new RangeError(`${what}: counter mode needs a counter ('spec.counterBits' > 0)`);
  const iv = bytes(what, 'iv', s.iv, true);
  if (iv && mode !== 'feedback') throw new RangeError(`${what}: 'spec.iv' is for feedback mode only`);
  const label = bytes(what, 'label', s.label, true);
  const context = bytes(what, 'context', s.context, true);

  const counter = P.sp800108CounterFormat({ widthInBits: counterBits as number });
  const dataParams: P.PrfDataParam[] = [];
  if (mode === 'counter') dataParams.push({ type: C.CK_SP800_108_ITERATION_VARIABLE, value: counter });
  else {
    // Feedback and double-pipeline: the iteration variable is K(i-1) / A(i), given without a value.
    dataParams.push({ type: C.CK_SP800_108_ITERATION_VARIABLE, value: Buffer.alloc(0) });
    if (counterBits !== 0) dataParams.push({ type: C.CK_SP800_108_COUNTER, value: counter });
  }
  if (label || context) {
    dataParams.push({ type: C.CK_SP800_108_BYTE_ARRAY, value: Buffer.concat([label ? buf(label) : Buffer.alloc(0), Buffer.from([0]), context ? buf(context) : Buffer.alloc(0)]) });
  }
  if (lengthBits !== 0) {
    dataParams.push({
      type: C.CK_SP800_108_DKM_LENGTH,
      value: P.sp800108DkmLengthFormat({ method: C.CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, widthInBits: lengthBits as number }),
    });
  }
  if (mode === 'feedback') return { mechanism: C.CKM_SP800_108_FEEDBACK_KDF, parameter: P.sp800108FeedbackParams({ prfType, dataParams, iv }, structSize) };
  const mechanism = mode === 'counter' ? C.CKM_SP800_108_COUNTER_KDF : C.CKM_SP800_108_DOUBLE_PIPELINE_KDF;
  return { mechanism, parameter: P.sp800108Params({ prfType, dataParams }, structSize) };
}

/**
 * @internal The raw mechanism for a derive spec, once what it names on the token is read
 * (`inputs`; the public, async form is objects/keys.ts's resolveDeriveMechanism). `base` says
 * which key class derives ('privateKey' for ECDH, 'secretKey' for the others), so a spec on the
 * wrong kind of key is a RangeError here rather than a module error.
 */
export function deriveMechanism(spec: DeriveSpec, base: 'privateKey' | 'secretKey', what = 'derive', inputs: DeriveInputs = {}): Mechanism {
  const s = specObject(what, spec);
  if ('mechanism' in s) return spec as Mechanism;
  const name = s.name;
  const allowed = base === 'privateKey' ? PRIVATE_DERIVE : SECRET_DERIVE;
  if (typeof name !== 'string' || !allowed.has(name)) {
    const other = base === 'privateKey' ? SECRET_DERIVE : PRIVATE_DERIVE;
    const hint = typeof name === 'string' && other.has(name) ? ` ('${name}' derives from a ${base === 'privateKey' ? 'secret' : 'private'} key)` : '';
    throw new RangeError(
      `${what}: unknown derivation '${String(name)}' for a ${base === 'privateKey' ? 'private' : 'secret'} key${hint}; use ${[...allowed].join(', ')} or { mechanism, parameter }`,
    );
  }
  switch (name) {
    case 'ECDH':
      if (s.publicKey === undefined) throw new TypeError(`${what}: 'spec.publicKey' is required`);
      return ecdh(what, s, peerPoint(what, s.publicKey, inputs.peerPoint));
    case 'HKDF':
      return hkdf(what, s, inputs.saltKey);
    case 'AES-ECB-ENCRYPT-DATA':
      return { mechanism: C.CKM_AES_ECB_ENCRYPT_DATA, parameter: P.keyDerivationStringData(bytes(what, 'data', s.data)!) };
    case 'DES3-ECB-ENCRYPT-DATA':
      return { mechanism: C.CKM_DES3_ECB_ENCRYPT_DATA, parameter: P.keyDerivationStringData(bytes(what, 'data', s.data)!) };
    case 'AES-CBC-ENCRYPT-DATA': {
      const iv = bytes(what, 'iv', s.iv)!;
      if (iv.byteLength !== 16) throw new RangeError(`${what}: 'spec.iv' must be 16 bytes (got ${iv.byteLength})`);
      return { mechanism: C.CKM_AES_CBC_ENCRYPT_DATA, parameter: P.aesCbcEncryptDataParams({ iv, data: bytes(what, 'data', s.data)! }) };
    }
    default:
      return sp800108(what, s);
  }
}

// ---------------------------------------------------------------------------------------------
// PBKDF2 (C_GenerateKey with CKM_PKCS5_PBKD2)

/**
 * PBKDF2 (PKCS #5) on the token: `session.generateKey({ name: 'PBKDF2', … })`. `length` is the
 * key's length in bytes (CKA_VALUE_LEN, like node's pbkdf2 keylen); `hash` picks the HMAC PRF.
 *
 * `legacyParams`: PKCS#11 2.40 errata replaced CK_PKCS5_PBKD2_PARAMS (password length behind a
 * pointer) with CK_PKCS5_PBKD2_PARAMS2 (length by value) for the same mechanism, and a module
 * cannot tell which one it got. The default is the current PARAMS2; set `legacyParams: true` for
 * modules that read the old struct — NSS softokn does, and crashes the process when given PARAMS2.
 */
export interface Pbkdf2Spec {
  name: 'PBKDF2';
  /** A string is UTF-8 encoded. */
  password: string | Bytes;
  salt: Bytes;
  iterations: number;
  hash: HashName;
  length: number;
  legacyParams?: boolean;
}

/** CKM_PKCS5_PBKD2 with its parameter (validated; `what` names the caller in errors). */
export function pbkdf2Mechanism(spec: Pbkdf2Spec, what = 'generateKey'): Mechanism {
  const s = specObject(what, spec);
  const pw = s.password;
  if (typeof pw !== 'string' && !isBytes(pw)) throw new TypeError(`${what}: 'spec.password' must be a string or bytes`);
  const salt = bytes(what, 'salt', s.salt)!;
  if (!Number.isSafeInteger(s.iterations) || (s.iterations as number) < 1) throw new RangeError(`${what}: 'spec.iterations' must be a positive integer`);
  const prf = lookup(what, 'hash', PBKDF2_PRF, s.hash);
  if (s.legacyParams !== undefined && typeof s.legacyParams !== 'boolean') throw new TypeError(`${what}: 'spec.legacyParams' must be a boolean`);
  const p = { salt, iterations: s.iterations as number, prf, password: typeof pw === 'string' ? Buffer.from(pw, 'utf8') : pw };
  return { mechanism: C.CKM_PKCS5_PBKD2, parameter: s.legacyParams ? P.pbkdf2ParamsLegacy(p) : P.pbkdf2Params(p) };
}
