// Mechanism parameter structs of PKCS#11 3.2 as struct descriptions (see StructField in
// raw-types.ts). Field order follows the spec's structs; native code lays them out with the C
// ABI, and test/layout.test.ts checks every one against offsetof/sizeof of the project's header.
import type { Attribute, Bytes, StructField, Ulong } from '../binding/raw-types';
import { CKG_NO_GENERATE, CKZ_DATA_SPECIFIED, CKD_NULL, CKF_HKDF_SALT_NULL, CKZ_SALT_SPECIFIED } from '../constants/generated';

const NULL_HANDLE = 0;

function len(b: Bytes | null | undefined): number {
  return b ? b.byteLength : 0;
}

/** CK_AES_CTR_PARAMS: counter width in bits and the 16-byte initial counter block. */
export function aesCtrParams(p: { counterBits: Ulong; counterBlock: Bytes }): StructField[] {
  if (p.counterBlock.byteLength !== 16) throw new RangeError('aesCtrParams: counterBlock must be 16 bytes');
  return [{ ulong: p.counterBits }, { fixed: p.counterBlock }];
}

/** CK_GCM_PARAMS (3.0 layout with ulIvBits). */
export function gcmParams(p: { iv: Bytes; additionalData?: Bytes | null; tagBits: Ulong; ivBits?: Ulong }): StructField[] {
  return [{ bytes: p.iv }, { ulong: len(p.iv) }, { ulong: p.ivBits ?? len(p.iv) * 8 }, { bytes: p.additionalData ?? null }, { ulong: len(p.additionalData) }, { ulong: p.tagBits }];
}

/** CK_CCM_PARAMS. */
export function ccmParams(p: { dataLength: Ulong; nonce: Bytes; additionalData?: Bytes | null; macLength: Ulong }): StructField[] {
  return [{ ulong: p.dataLength }, { bytes: p.nonce }, { ulong: len(p.nonce) }, { bytes: p.additionalData ?? null }, { ulong: len(p.additionalData) }, { ulong: p.macLength }];
}

/**
 * CK_GCM_MESSAGE_PARAMS for C_EncryptMessage / C_DecryptMessage. `iv` is in/out (the module
 * writes a generated IV into it), `tag` is written on encrypt and read on decrypt.
 */
export function gcmMessageParams(p: { iv: Uint8Array; ivFixedBits?: Ulong; ivGenerator?: Ulong; tag: Uint8Array }): StructField[] {
  return [{ out: p.iv }, { ulong: p.iv.byteLength }, { ulong: p.ivFixedBits ?? 0 }, { ulong: p.ivGenerator ?? CKG_NO_GENERATE }, { out: p.tag }, { ulong: p.tag.byteLength * 8 }];
}

/** CK_CCM_MESSAGE_PARAMS: `nonce` in/out, `mac` written on encrypt. */
export function ccmMessageParams(p: { dataLength: Ulong; nonce: Uint8Array; nonceFixedBits?: Ulong; nonceGenerator?: Ulong; mac: Uint8Array }): StructField[] {
  return [
    { ulong: p.dataLength },
    { out: p.nonce },
    { ulong: p.nonce.byteLength },
    { ulong: p.nonceFixedBits ?? 0 },
    { ulong: p.nonceGenerator ?? CKG_NO_GENERATE },
    { out: p.mac },
    { ulong: p.mac.byteLength },
  ];
}

/** CK_RSA_PKCS_OAEP_PARAMS; `label` is the CKZ_DATA_SPECIFIED source data. */
export function oaepParams(p: { hashAlg: Ulong; mgf: Ulong; label?: Bytes | null }): StructField[] {
  return [{ ulong: p.hashAlg }, { ulong: p.mgf }, { ulong: CKZ_DATA_SPECIFIED }, { bytes: p.label ?? null }, { ulong: len(p.label) }];
}

/** CK_RSA_PKCS_PSS_PARAMS. */
export function pssParams(p: { hashAlg: Ulong; mgf: Ulong; saltLength: Ulong }): StructField[] {
  return [{ ulong: p.hashAlg }, { ulong: p.mgf }, { ulong: p.saltLength }];
}

/** CK_ECDH1_DERIVE_PARAMS: `publicData` is the other party's EC point; kdf defaults to CKD_NULL. */
export function ecdh1DeriveParams(p: { publicData: Bytes; kdf?: Ulong; sharedData?: Bytes | null }): StructField[] {
  return [{ ulong: p.kdf ?? CKD_NULL }, { ulong: len(p.sharedData) }, { bytes: p.sharedData ?? null }, { ulong: len(p.publicData) }, { bytes: p.publicData }];
}

/** CK_EDDSA_PARAMS: pre-hash flag (Ed25519ph/Ed448ph) and context. */
export function eddsaParams(p: { preHash?: boolean; context?: Bytes | null }): StructField[] {
  return [{ byte: p.preHash ?? false }, { ulong: len(p.context) }, { bytes: p.context ?? null }];
}

/** CK_HKDF_PARAMS. Salt: bytes (CKF_HKDF_SALT_DATA), a key handle (CKF_HKDF_SALT_KEY) or none. */
export function hkdfParams(p: {
  extract: boolean;
  expand: boolean;
  prfHashMechanism: Ulong;
  saltType?: Ulong;
  salt?: Bytes | null;
  saltKey?: Ulong;
  info?: Bytes | null;
}): StructField[] {
  return [
    { byte: p.extract },
    { byte: p.expand },
    { ulong: p.prfHashMechanism },
    { ulong: p.saltType ?? CKF_HKDF_SALT_NULL },
    { bytes: p.salt ?? null },
    { ulong: len(p.salt) },
    { ulong: p.saltKey ?? NULL_HANDLE },
    { bytes: p.info ?? null },
    { ulong: len(p.info) },
  ];
}

/** CK_PKCS5_PBKD2_PARAMS2 (password length by value). */
export function pbkdf2Params(p: { salt: Bytes; iterations: Ulong; prf: Ulong; password: Bytes; prfData?: Bytes | null }): StructField[] {
  return [
    { ulong: CKZ_SALT_SPECIFIED },
    { bytes: p.salt },
    { ulong: len(p.salt) },
    { ulong: p.iterations },
    { ulong: p.prf },
    { bytes: p.prfData ?? null },
    { ulong: len(p.prfData) },
    { bytes: p.password },
    { ulong: len(p.password) },
  ];
}

/**
 * CK_PKCS5_PBKD2_PARAMS, the 2.x struct whose password length is a pointer to a CK_ULONG. NSS
 * softokn 3.87 reads this layout for CKM_PKCS5_PBKD2 (given PARAMS2 it dereferences the length
 * and crashes), so use this one there. The pointed-to CK_ULONG is a one-field struct.
 */
export function pbkdf2ParamsLegacy(p: { salt: Bytes; iterations: Ulong; prf: Ulong; password: Bytes; prfData?: Bytes | null }): StructField[] {
  const f = pbkdf2Params(p);
  f[f.length - 1] = { struct: [{ ulong: len(p.password) }] };
  return f;
}

/** One CK_PRF_DATA_PARAM of an SP 800-108 KDF: its type and the bytes or struct it points to. */
export interface PrfDataParam {
  type: Ulong;
  value: Bytes | StructField[];
}

/** CK_SP800_108_COUNTER_FORMAT (value of a CK_SP800_108_ITERATION_VARIABLE / COUNTER param). */
export function sp800108CounterFormat(p: { littleEndian?: boolean; widthInBits: Ulong }): StructField[] {
  return [{ byte: p.littleEndian ?? false }, { ulong: p.widthInBits }];
}

/** CK_SP800_108_DKM_LENGTH_FORMAT. */
export function sp800108DkmLengthFormat(p: { method: Ulong; littleEndian?: boolean; widthInBits: Ulong }): StructField[] {
  return [{ ulong: p.method }, { byte: p.littleEndian ?? false }, { ulong: p.widthInBits }];
}

function prfDataParams(params: PrfDataParam[], layout: (f: StructField[]) => number): StructField[][] {
  return params.map((d) => {
    if (Array.isArray(d.value)) return [{ ulong: d.type }, { struct: d.value }, { ulong: layout(d.value) }];
    return [{ ulong: d.type }, { bytes: d.value }, { ulong: d.value.byteLength }];
  });
}

// prfType, ulNumberOfDataParams, pDataParams: the start of both SP 800-108 structs.
function kdfHead(p: { prfType: Ulong; dataParams: PrfDataParam[] }, structSize: (f: StructField[]) => number): StructField[] {
  const data = prfDataParams(p.dataParams, structSize);
  return [{ ulong: p.prfType }, { ulong: data.length }, { structs: data }];
}

// ulAdditionalDerivedKeys, pAdditionalDerivedKeys: the end of both.
function derivedKeys(keys: StructField[][] = []): StructField[] {
  return [{ ulong: keys.length }, keys.length ? { structs: keys } : { bytes: null }];
}

/** CK_DERIVED_KEY: an additional key an SP 800-108 KDF derives; `handle` receives its handle (8 bytes on LP64). */
export function derivedKey(p: { template: Attribute[]; handle: Uint8Array }): StructField[] {
  return [{ template: p.template }, { ulong: p.template.length }, { out: p.handle }];
}

/**
 * CK_SP800_108_KDF_PARAMS (counter and double-pipeline modes). `structSize` returns the native
 * size of a nested struct (pass `structLayout(f).size` from p11bridge/raw).
 */
export function sp800108Params(p: { prfType: Ulong; dataParams: PrfDataParam[]; additionalKeys?: StructField[][] }, structSize: (f: StructField[]) => number): StructField[] {
  return [...kdfHead(p, structSize), ...derivedKeys(p.additionalKeys)];
}

/** CK_SP800_108_FEEDBACK_KDF_PARAMS. */
export function sp800108FeedbackParams(
  p: { prfType: Ulong; dataParams: PrfDataParam[]; iv?: Bytes | null; additionalKeys?: StructField[][] },
  structSize: (f: StructField[]) => number,
): StructField[] {
  return [...kdfHead(p, structSize), { ulong: len(p.iv) }, { bytes: p.iv ?? null }, ...derivedKeys(p.additionalKeys)];
}

/** CK_CHACHA20_PARAMS. */
export function chacha20Params(p: { blockCounter: Bytes; nonce: Bytes }): StructField[] {
  return [{ bytes: p.blockCounter }, { ulong: len(p.blockCounter) * 8 }, { bytes: p.nonce }, { ulong: len(p.nonce) * 8 }];
}

/** CK_SALSA20_CHACHA20_POLY1305_PARAMS (CKM_CHACHA20_POLY1305 single-part AEAD). */
export function chacha20Poly1305Params(p: { nonce: Bytes; additionalData?: Bytes | null }): StructField[] {
  return [{ bytes: p.nonce }, { ulong: len(p.nonce) }, { bytes: p.additionalData ?? null }, { ulong: len(p.additionalData) }];
}

/** CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS (message-based): `tag` is written on encrypt. */
export function chacha20Poly1305MessageParams(p: { nonce: Uint8Array; tag: Uint8Array }): StructField[] {
  return [{ out: p.nonce }, { ulong: p.nonce.byteLength }, { out: p.tag }];
}

/** CK_KEY_DERIVATION_STRING_DATA (CKM_AES_ECB_ENCRYPT_DATA, CKM_CONCATENATE_BASE_AND_DATA …). */
export function keyDerivationStringData(data: Bytes): StructField[] {
  return [{ bytes: data }, { ulong: len(data) }];
}

/** CK_AES_CBC_ENCRYPT_DATA_PARAMS. */
export function aesCbcEncryptDataParams(p: { iv: Bytes; data: Bytes }): StructField[] {
  if (p.iv.byteLength !== 16) throw new RangeError('aesCbcEncryptDataParams: iv must be 16 bytes');
  return [{ fixed: p.iv }, { bytes: p.data }, { ulong: len(p.data) }];
}

/** CK_SIGN_ADDITIONAL_CONTEXT (3.2, ML-DSA / SLH-DSA). */
export function signAdditionalContext(p: { hedgeVariant: Ulong; context?: Bytes | null }): StructField[] {
  return [{ ulong: p.hedgeVariant }, { bytes: p.context ?? null }, { ulong: len(p.context) }];
}

/** CK_HASH_SIGN_ADDITIONAL_CONTEXT (3.2, pre-hash ML-DSA / SLH-DSA). */
export function hashSignAdditionalContext(p: { hedgeVariant: Ulong; context?: Bytes | null; hash: Ulong }): StructField[] {
  return [{ ulong: p.hedgeVariant }, { bytes: p.context ?? null }, { ulong: len(p.context) }, { ulong: p.hash }];
}

/** CK_ECDH2_DERIVE_PARAMS / CK_ECMQV_DERIVE_PARAMS. */
export function ecdh2DeriveParams(p: {
  kdf?: Ulong;
  sharedData?: Bytes | null;
  publicData: Bytes;
  privateDataLength: Ulong;
  privateData: Ulong;
  publicData2: Bytes;
  publicKey?: Ulong;
}): StructField[] {
  const f: StructField[] = [
    { ulong: p.kdf ?? CKD_NULL },
    { ulong: len(p.sharedData) },
    { bytes: p.sharedData ?? null },
    { ulong: len(p.publicData) },
    { bytes: p.publicData },
    { ulong: p.privateDataLength },
    { ulong: p.privateData },
    { ulong: len(p.publicData2) },
    { bytes: p.publicData2 },
  ];
  if (p.publicKey !== undefined) f.push({ ulong: p.publicKey });
  return f;
}
