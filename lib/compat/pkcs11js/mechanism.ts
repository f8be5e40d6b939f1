// pkcs11js's mechanism argument, `{ mechanism, parameter? }` with a parameter that is a Buffer, a
// number (a CK_ULONG) or an object `{ type: CK_PARAMS_…, … }` naming a C struct, turned into the
// core's form: bytes, or a struct description that native code lays out with the C ABI and keeps
// alive for the whole call (pkcs11js's async forms pointed at JS buffers it did not pin).
import type { Mechanism as CoreMechanism, StructField, Ulong } from '../../binding/raw-types';
import { handleProperty, toHandle } from './handles';
import type { IParams, Mechanism } from './types';

/** The `type` of a structured mechanism parameter (pkcs11js's CK_PARAMS_* values). */
export const CK_PARAMS_BUFFER = 0;
export const CK_PARAMS_AES_CBC = 1;
export const CK_PARAMS_AES_CCM = 2;
export const CK_PARAMS_AES_GCM = 3;
export const CK_PARAMS_RSA_OAEP = 4;
export const CK_PARAMS_RSA_PSS = 5;
export const CK_PARAMS_EC_DH = 6;
export const CK_PARAMS_AES_GCM_v240 = 7;
export const CK_PARAMS_ECDH2_DERIVE = 8;
export const CK_PARAMS_ECMQV_DERIVE = 9;
export const CK_PARAMS_X9_42_DH1_DERIVE = 10;
export const CK_PARAMS_X9_42_DH2_DERIVE = 11;
export const CK_PARAMS_X9_42_MQV_DERIVE = 12;
export const CK_PARAMS_KEA_DERIVE = 13;
export const CK_PARAMS_RC2 = 14;
export const CK_PARAMS_RC2_CBC = 15;
export const CK_PARAMS_RC2_MAC_GENERAL = 16;
export const CK_PARAMS_RC5 = 17;
export const CK_PARAMS_RC5_CBC = 18;
export const CK_PARAMS_RC5_MAC_GENERAL = 19;
export const CK_PARAMS_DES_CBC_ENCRYPT_DATA = 20;
export const CK_PARAMS_SKIPJACK_PRIVATE_WRAP = 21;
export const CK_PARAMS_SKIPJACK_RELAYX = 22;
export const CK_PARAMS_PBE = 23;
export const CK_PARAMS_KEY_WRAP_SET_OAEP = 24;
export const CK_PARAMS_GCM = 25;
export const CK_PARAMS_CCM = 26;
export const CK_PARAM_GOSTR3410_DERIVE = 27;
export const CK_PARAM_GOSTR3410_KEY_WRAP = 28;

type P = Record<string, unknown>;

function fail(property: string, struct: string, what: string): never {
  throw new TypeError(`Property '${property}' of ${struct} mechanism parameter should be ${what}`);
}

function empty(v: unknown): boolean {
  return v === undefined || v === null;
}

function num(p: P, k: string, s: string, optional = false): number {
  const v = p[k];
  if (optional && empty(v)) return 0;
  if (typeof v !== 'number') fail(k, s, 'Number');
  return v;
}

function bytes(p: P, k: string, s: string, optional = false): Uint8Array | null {
  const v = p[k];
  if (optional && empty(v)) return null;
  if (!(v instanceof Uint8Array)) fail(k, s, 'Buffer');
  return v;
}

function len(b: Uint8Array | null): number {
  return b ? b.length : 0;
}

function handle(p: P, k: string, s: string): Ulong {
  return handleProperty(p[k], k, s);
}

function fixed(p: P, k: string, s: string, size: number): Uint8Array {
  const b = bytes(p, k, s) as Uint8Array;
  if (b.length !== size) throw new TypeError(`Property '${k}' of ${s} mechanism parameter should be a Buffer of length ${size}`);
  return b;
}

// One builder per CK_PARAMS_* type: the struct's fields in the spec's order, read from the
// properties pkcs11js reads. Where pkcs11js left a field unset (garbage from malloc) the facade
// sets what the spec means: CK_AES_GCM_PARAMS.ulIvBits, CK_ECMQV_DERIVE_PARAMS.publicKey.
const BUILDERS: Record<number, (p: P) => StructField[]> = {
  [CK_PARAMS_AES_CBC]: (p) => {
    const s = 'CK_AES_CBC_ENCRYPT_DATA_PARAMS';
    const data = bytes(p, 'data', s, true);
    return [{ fixed: fixed(p, 'iv', s, 16) }, { bytes: data }, { ulong: len(data) }];
  },
  [CK_PARAMS_AES_CCM]: (p) => ccm(p, 'CK_AES_CCM_PARAMS'),
  [CK_PARAMS_CCM]: (p) => ccm(p, 'CK_CCM_PARAMS'),
  [CK_PARAMS_AES_GCM]: (p) => gcm(p, 'CK_AES_GCM_PARAMS', false),
  [CK_PARAMS_AES_GCM_v240]: (p) => gcm(p, 'CK_AES_GCM_240_PARAMS', true),
  [CK_PARAMS_GCM]: (p) => gcm(p, 'CK_GCM_PARAMS', true),
  [CK_PARAMS_RSA_OAEP]: (p) => {
    const s = 'CK_RSA_PKCS_OAEP_PARAMS';
    const src = bytes(p, 'sourceData', s, true);
    return [{ ulong: num(p, 'hashAlg', s) }, { ulong: num(p, 'mgf', s) }, { ulong: num(p, 'source', s) }, { bytes: src }, { ulong: len(src) }];
  },
  [CK_PARAMS_RSA_PSS]: (p) => {
    const s = 'CK_RSA_PKCS_PSS_PARAMS';
    return [{ ulong: num(p, 'hashAlg', s) }, { ulong: num(p, 'mgf', s) }, { ulong: num(p, 'saltLen', s) }];
  },
  [CK_PARAMS_EC_DH]: (p) => {
    const s = 'CK_ECDH1_DERIVE_PARAMS';
    const kdf = num(p, 'kdf', s);
    const pub = bytes(p, 'publicData', s);
    const shared = bytes(p, 'sharedData', s, true);
    return [{ ulong: kdf }, { ulong: len(shared) }, { bytes: shared }, { ulong: len(pub) }, { bytes: pub }];
  },
  [CK_PARAMS_ECDH2_DERIVE]: (p) => twoParty(p, 'CK_ECDH2_DERIVE_PARAMS', 'sharedData', false),
  [CK_PARAMS_ECMQV_DERIVE]: (p) => twoParty(p, 'CK_ECMQV_DERIVE_PARAMS', 'sharedData', true),
  [CK_PARAMS_X9_42_DH1_DERIVE]: (p) => {
    const s = 'CK_X9_42_DH1_DERIVE_PARAMS';
    const kdf = num(p, 'kdf', s);
    const other = bytes(p, 'otherInfo', s, true);
    const pub = bytes(p, 'publicData', s);
    return [{ ulong: kdf }, { ulong: len(other) }, { bytes: other }, { ulong: len(pub) }, { bytes: pub }];
  },
  [CK_PARAMS_X9_42_DH2_DERIVE]: (p) => twoParty(p, 'CK_X9_42_DH2_DERIVE_PARAMS', 'otherInfo', false),
  [CK_PARAMS_X9_42_MQV_DERIVE]: (p) => twoParty(p, 'CK_X9_42_MQV_DERIVE_PARAMS', 'otherInfo', true),
  [CK_PARAMS_KEA_DERIVE]: (p) => {
    const s = 'CK_KEA_DERIVE_PARAMS';
    const sender = p.isSender;
    if (!empty(sender) && typeof sender !== 'boolean') fail('isSender', s, 'Boolean');
    const a = bytes(p, 'randomA', s) as Uint8Array;
    const b = bytes(p, 'randomB', s) as Uint8Array;
    const pub = bytes(p, 'publicData', s);
    if (a.length !== b.length) {
      throw new TypeError(`Property 'randomA' and 'randomB' of ${s} mechanism parameter should be Buffers of equal length`);
    }
    return [{ byte: sender === true }, { ulong: a.length }, { bytes: a }, { bytes: b }, { ulong: len(pub) }, { bytes: pub }];
  },
  [CK_PARAMS_RC2_CBC]: (p) => {
    const s = 'CK_RC2_CBC_PARAMS';
    return [{ ulong: num(p, 'effectiveBits', s) }, { fixed: fixed(p, 'iv', s, 8) }];
  },
  [CK_PARAMS_RC2_MAC_GENERAL]: (p) => {
    const s = 'CK_RC2_MAC_GENERAL_PARAMS';
    return [{ ulong: num(p, 'effectiveBits', s) }, { ulong: num(p, 'macLength', s) }];
  },
  [CK_PARAMS_RC5]: (p) => [{ ulong: num(p, 'wordSize', 'CK_RC5_PARAMS') }, { ulong: num(p, 'rounds', 'CK_RC5_PARAMS') }],
  [CK_PARAMS_RC5_CBC]: (p) => {
    const s = 'CK_RC5_CBC_PARAMS';
    const iv = bytes(p, 'iv', s);
    return [{ ulong: num(p, 'wordSize', s) }, { ulong: num(p, 'rounds', s) }, { bytes: iv }, { ulong: len(iv) }];
  },
  [CK_PARAMS_RC5_MAC_GENERAL]: (p) => {
    const s = 'CK_RC5_MAC_GENERAL_PARAMS';
    return [{ ulong: num(p, 'wordSize', s) }, { ulong: num(p, 'rounds', s) }, { ulong: num(p, 'macLength', s) }];
  },
  [CK_PARAMS_DES_CBC_ENCRYPT_DATA]: (p) => {
    const s = 'CK_DES_CBC_ENCRYPT_DATA_PARAMS';
    const iv = fixed(p, 'iv', s, 8);
    const data = bytes(p, 'data', s, true);
    return [{ fixed: iv }, { bytes: data }, { ulong: len(data) }];
  },
  [CK_PARAMS_SKIPJACK_PRIVATE_WRAP]: (p) => {
    const s = 'CK_SKIPJACK_PRIVATE_WRAP_PARAMS';
    const [pw, pub, prime, base, sub, rnd] = ['password', 'publicData', 'primeP', 'baseG', 'subprimeQ', 'randomA'].map((k) => bytes(p, k, s));
    return [
      { ulong: len(pw) },
      { bytes: pw },
      { ulong: len(pub) },
      { bytes: pub },
      { ulong: len(prime) + len(base) },
      { ulong: len(sub) },
      { ulong: len(rnd) },
      { bytes: rnd },
      { bytes: prime },
      { bytes: base },
      { bytes: sub },
    ];
  },
  [CK_PARAMS_SKIPJACK_RELAYX]: (p) => {
    const s = 'CK_SKIPJACK_RELAYX_PARAMS';
    const keys = ['oldWrappedX', 'oldPassword', 'oldPublicData', 'oldRandomA', 'newPassword', 'newPublicData', 'newRandomA'];
    return keys.map((k) => bytes(p, k, s)).flatMap((b): StructField[] => [{ ulong: len(b) }, { bytes: b }]);
  },
  [CK_PARAMS_PBE]: (p) => {
    const s = 'CK_PBE_PARAMS';
    const [iv, pw, salt] = ['initVector', 'password', 'salt'].map((k) => bytes(p, k, s));
    return [{ bytes: iv }, { bytes: pw }, { ulong: len(pw) }, { bytes: salt }, { ulong: len(salt) }, { ulong: num(p, 'iteration', s) }];
  },
  [CK_PARAMS_KEY_WRAP_SET_OAEP]: (p) => {
    const s = 'CK_KEY_WRAP_SET_OAEP_PARAMS';
    const bc = num(p, 'bc', s, true);
    if (bc > 255) fail('bc', s, 'Number');
    const x = bytes(p, 'x', s, true);
    return [{ byte: bc }, { bytes: x }, { ulong: len(x) }];
  },
  [CK_PARAM_GOSTR3410_DERIVE]: (p) => {
    const s = 'CK_GOSTR3410_DERIVE_PARAMS';
    const kdf = num(p, 'kdf', s);
    const pub = bytes(p, 'publicData', s);
    const ukm = bytes(p, 'ukm', s, true);
    return [{ ulong: kdf }, { bytes: pub }, { ulong: len(pub) }, { bytes: ukm }, { ulong: len(ukm) }];
  },
  [CK_PARAM_GOSTR3410_KEY_WRAP]: (p) => {
    const s = 'CK_GOSTR3410_KEY_WRAP_PARAMS';
    const oid = bytes(p, 'wrapOID', s);
    const ukm = bytes(p, 'ukm', s, true);
    return [{ bytes: oid }, { ulong: len(oid) }, { bytes: ukm }, { ulong: len(ukm) }, { ulong: handle(p, 'key', s) }];
  },
};

// pkcs11js's native code reads `dataLength` and `macLength` while its index.d.ts documents
// `dataLen` and `macLen`: both spellings are accepted.
function ccm(p: P, s: string): StructField[] {
  const dataLen = empty(p.dataLength) ? num(p, 'dataLen', s) : num(p, 'dataLength', s);
  const nonce = bytes(p, 'nonce', s, true);
  const aad = bytes(p, 'aad', s, true);
  const mac = empty(p.macLength) ? num(p, 'macLen', s, true) : num(p, 'macLength', s);
  return [{ ulong: dataLen }, { bytes: nonce }, { ulong: len(nonce) }, { bytes: aad }, { ulong: len(aad) }, { ulong: mac }];
}

function gcm(p: P, s: string, ivBitsRequired: boolean): StructField[] {
  const iv = bytes(p, 'iv', s) as Uint8Array;
  const ivBits = ivBitsRequired ? num(p, 'ivBits', s) : empty(p.ivBits) ? iv.length * 8 : num(p, 'ivBits', s);
  const aad = bytes(p, 'aad', s, true);
  const tagBits = num(p, 'tagBits', s, true);
  return [{ bytes: iv }, { ulong: iv.length }, { ulong: ivBits }, { bytes: aad }, { ulong: len(aad) }, { ulong: tagBits }];
}

// ECDH2 / ECMQV / X9.42 DH2 / X9.42 MQV: kdf, first data, own public data, the private key and
// the second public data; the MQV forms end with the public key's handle.
function twoParty(p: P, s: string, first: string, mqv: boolean): StructField[] {
  const kdf = num(p, 'kdf', s);
  const a = bytes(p, first, s, true);
  const pub = bytes(p, 'publicData', s);
  const privLen = num(p, 'privateDataLen', s);
  const priv = handle(p, 'privateData', s);
  const pub2 = bytes(p, 'publicData2', s, true);
  const fields: StructField[] = [
    { ulong: kdf },
    { ulong: len(a) },
    { bytes: a },
    { ulong: len(pub) },
    { bytes: pub },
    { ulong: privLen },
    { ulong: priv },
    { ulong: len(pub2) },
    { bytes: pub2 },
  ];
  if (mqv) fields.push({ ulong: s === 'CK_X9_42_MQV_DERIVE_PARAMS' ? handle(p, 'publicKey', s) : empty(p.publicKey) ? 0 : handle(p, 'publicKey', s) });
  return fields;
}

/**
 * The core's mechanism for a pkcs11js one. The common cases (no parameter, a Buffer) hand the
 * caller's object on as it is, so a hot loop allocates nothing here.
 * @internal
 */
export function toMechanism(m: unknown, index: number): CoreMechanism {
  if (typeof m !== 'object' || m === null) throw new TypeError(`Argument ${index} has wrong type. Should be an Object`);
  const mech = m as Mechanism;
  if (typeof mech.mechanism !== 'number') {
    throw new TypeError(`Argument ${index} has wrong type. Property 'mechanism' should be a Number`);
  }
  const param = mech.parameter;
  if (param === undefined || param === null || param instanceof Uint8Array) return mech as CoreMechanism;
  if (typeof param === 'number') return { mechanism: mech.mechanism, parameter: toHandle(param) };
  if (typeof param !== 'object') {
    throw new TypeError(`Argument ${index} has wrong type. Property 'parameter' should be an Object or Buffer`);
  }
  const type = (param as IParams).type;
  if (typeof type !== 'number') throw new TypeError(`Argument ${index} has wrong type. Property 'type' should be a Number`);
  const build = BUILDERS[type];
  // pkcs11js passes an uninitialized parameter for an unknown type (and for CK_PARAMS_BUFFER and
  // CK_PARAMS_RC2, which it lists but never reads); the facade refuses instead.
  if (!build) throw new TypeError(`Argument ${index} has wrong type. Property 'type' is not a known CK_PARAMS_* value: ${type}`);
  return { mechanism: mech.mechanism, parameter: build(param as unknown as P) };
}
