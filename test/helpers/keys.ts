// Key fixtures on the token (session objects only) and bridges from token keys to node:crypto
// KeyObjects, so every result the token produces can be checked by an independent implementation.
import * as crypto from 'node:crypto';
import {
  Pkcs11Error,
  ULONG_SIZE,
  CKA_CLASS,
  CKA_KEY_TYPE,
  CKA_TOKEN,
  CKA_VALUE,
  CKA_ENCRYPT,
  CKA_DECRYPT,
  CKA_SIGN,
  CKA_VERIFY,
  CKA_WRAP,
  CKA_UNWRAP,
  CKA_EXTRACTABLE,
  CKA_SENSITIVE,
  CKA_MODULUS,
  CKA_MODULUS_BITS,
  CKA_PUBLIC_EXPONENT,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKO_SECRET_KEY,
  CKO_PUBLIC_KEY,
  CKK_AES,
  CKK_GENERIC_SECRET,
  CKK_RSA,
  CKM_RSA_PKCS_KEY_PAIR_GEN,
  CKM_EC_KEY_PAIR_GEN,
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
} from '../../lib/raw';
import type { PKCS11, Ulong, Template, KeyPair } from '../../lib/raw';

/** DER OID of prime256v1 / secp256r1. */
export const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');
/** DER OID 1.3.101.112 (id-Ed25519). */
export const ED25519_PARAMS = Buffer.from('06032b6570', 'hex');

/** One attribute's raw bytes; fails the test when the token does not return it. */
export function attr(mod: PKCS11, s: Ulong, h: Ulong, type: Ulong): Buffer {
  const [r] = mod.C_GetAttributeValue(s, h, [type]);
  if (r.status !== 'ok' || !Buffer.isBuffer(r.value)) throw new Error(`attribute 0x${type.toString(16)} is ${r.status}`);
  return r.value;
}

/** A CK_ULONG attribute value (native endianness and width) as a number. */
export function ulongAttr(mod: PKCS11, s: Ulong, h: Ulong, type: Ulong): number {
  const b = attr(mod, s, h, type);
  if (b.length !== ULONG_SIZE) throw new Error(`attribute 0x${type.toString(16)} is ${b.length} bytes, not a CK_ULONG`);
  return ULONG_SIZE === 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
}

export function boolAttr(mod: PKCS11, s: Ulong, h: Ulong, type: Ulong): boolean {
  const b = attr(mod, s, h, type);
  if (b.length !== 1) throw new Error('not a CK_BBOOL');
  return b[0] !== 0;
}

/** An AES session key with known bytes (usable by node too). */
export function createAesKey(mod: PKCS11, s: Ulong, value: Buffer, extra: Template = []): Ulong {
  return mod.C_CreateObject(s, [
    { type: CKA_CLASS, value: CKO_SECRET_KEY },
    { type: CKA_KEY_TYPE, value: CKK_AES },
    { type: CKA_TOKEN, value: false },
    { type: CKA_VALUE, value },
    { type: CKA_ENCRYPT, value: true },
    { type: CKA_DECRYPT, value: true },
    ...extra,
  ]);
}

/** An AES key-encryption key with known bytes. */
export function createKek(mod: PKCS11, s: Ulong, value: Buffer): Ulong {
  return createAesKey(mod, s, value, [
    { type: CKA_WRAP, value: true },
    { type: CKA_UNWRAP, value: true },
  ]);
}

/** A CKK_GENERIC_SECRET session key with known bytes, for HMAC. */
export function createGenericSecret(mod: PKCS11, s: Ulong, value: Buffer, extra: Template = []): Ulong {
  return mod.C_CreateObject(s, [
    { type: CKA_CLASS, value: CKO_SECRET_KEY },
    { type: CKA_KEY_TYPE, value: CKK_GENERIC_SECRET },
    { type: CKA_TOKEN, value: false },
    { type: CKA_VALUE, value },
    { type: CKA_SIGN, value: true },
    { type: CKA_VERIFY, value: true },
    ...extra,
  ]);
}

export function rsaTemplates(bits: number): [Template, Template] {
  return [
    [
      { type: CKA_TOKEN, value: false },
      { type: CKA_MODULUS_BITS, value: bits },
      { type: CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
      { type: CKA_VERIFY, value: true },
      { type: CKA_ENCRYPT, value: true },
    ],
    [
      { type: CKA_TOKEN, value: false },
      { type: CKA_SIGN, value: true },
      { type: CKA_DECRYPT, value: true },
      { type: CKA_SENSITIVE, value: true },
      { type: CKA_EXTRACTABLE, value: false },
    ],
  ];
}

export function generateRsa(mod: PKCS11, s: Ulong, bits = 2048): KeyPair {
  const [pub, priv] = rsaTemplates(bits);
  return mod.C_GenerateKeyPair(s, { mechanism: CKM_RSA_PKCS_KEY_PAIR_GEN }, pub, priv);
}

export function ecTemplates(params: Buffer = P256_PARAMS): [Template, Template] {
  return [
    [
      { type: CKA_TOKEN, value: false },
      { type: CKA_EC_PARAMS, value: params },
      { type: CKA_VERIFY, value: true },
    ],
    [
      { type: CKA_TOKEN, value: false },
      { type: CKA_SIGN, value: true },
      { type: CKA_SENSITIVE, value: true },
    ],
  ];
}

export function generateEc(mod: PKCS11, s: Ulong): KeyPair {
  const [pub, priv] = ecTemplates();
  return mod.C_GenerateKeyPair(s, { mechanism: CKM_EC_KEY_PAIR_GEN }, pub, priv);
}

export function generateEd25519(mod: PKCS11, s: Ulong): KeyPair {
  const [pub, priv] = ecTemplates(ED25519_PARAMS);
  return mod.C_GenerateKeyPair(s, { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN }, pub, priv);
}

/** node KeyObject of a token RSA public key, from CKA_MODULUS / CKA_PUBLIC_EXPONENT. */
export function rsaPublicKey(mod: PKCS11, s: Ulong, hPub: Ulong): crypto.KeyObject {
  const n = attr(mod, s, hPub, CKA_MODULUS);
  const e = attr(mod, s, hPub, CKA_PUBLIC_EXPONENT);
  return crypto.createPublicKey({
    key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') },
    format: 'jwk',
  });
}

/** Contents of a DER OCTET STRING (CKA_EC_POINT as SoftHSM stores it). */
export function derOctetString(der: Buffer): Buffer {
  if (der[0] !== 0x04) throw new Error('CKA_EC_POINT is not a DER OCTET STRING');
  let len = der[1];
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[2 + i];
    off = 2 + n;
  }
  if (off + len !== der.length) throw new Error('CKA_EC_POINT DER length does not match');
  return der.subarray(off, off + len);
}

/** node KeyObject of a token P-256 public key, from CKA_EC_POINT. */
export function ecPublicKey(mod: PKCS11, s: Ulong, hPub: Ulong): crypto.KeyObject {
  const point = derOctetString(attr(mod, s, hPub, CKA_EC_POINT));
  if (point.length !== 65 || point[0] !== 0x04) throw new Error('not an uncompressed P-256 point');
  return crypto.createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
}

/** node KeyObject of a token Ed25519 public key, from CKA_EC_POINT. */
export function ed25519PublicKey(mod: PKCS11, s: Ulong, hPub: Ulong): crypto.KeyObject {
  const point = derOctetString(attr(mod, s, hPub, CKA_EC_POINT));
  if (point.length !== 32) throw new Error('not an Ed25519 public key');
  return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: point.toString('base64url') }, format: 'jwk' });
}

/** Imports the public half of a node RSA key pair into the token (so node-made signatures can be verified there). */
export function importRsaPublicKey(mod: PKCS11, s: Ulong, key: crypto.KeyObject): Ulong {
  const jwk = key.export({ format: 'jwk' });
  return mod.C_CreateObject(s, [
    { type: CKA_CLASS, value: CKO_PUBLIC_KEY },
    { type: CKA_KEY_TYPE, value: CKK_RSA },
    { type: CKA_TOKEN, value: false },
    { type: CKA_MODULUS, value: Buffer.from(jwk.n!, 'base64url') },
    { type: CKA_PUBLIC_EXPONENT, value: Buffer.from(jwk.e!, 'base64url') },
    { type: CKA_ENCRYPT, value: true },
    { type: CKA_VERIFY, value: true },
  ]);
}

/** CK_ULONG laid out in native width and (little-endian) byte order. */
export function ulongBytes(v: number): Buffer {
  const b = Buffer.alloc(ULONG_SIZE);
  if (ULONG_SIZE === 8) b.writeBigUInt64LE(BigInt(v));
  else b.writeUInt32LE(v);
  return b;
}

/**
 * CK_RSA_PKCS_OAEP_PARAMS { hashAlg, mgf, source, pSourceData = NULL, ulSourceDataLen = 0 } as raw
 * bytes (64-bit pointers; the pointer is aligned to 8).
 */
export function oaepParams(hashAlg: number, mgf: number, source: number): Buffer {
  const head = Buffer.concat([ulongBytes(hashAlg), ulongBytes(mgf), ulongBytes(source)]);
  const pad = Buffer.alloc((8 - (head.length % 8)) % 8);
  const tail = ulongBytes(0);
  const end = Buffer.alloc((8 - ((head.length + pad.length + 8 + tail.length) % 8)) % 8);
  return Buffer.concat([head, pad, Buffer.alloc(8), tail, end]);
}

/** Runs fn and returns what it threw (failing when it did not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw');
}

/** Asserts a sync call throws a Pkcs11Error with exactly this rvName and function name. */
export function expectPkcs11Throw(fn: () => unknown, rvName: string, rv: Ulong, fnName: string): Pkcs11Error {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(Pkcs11Error);
  expect(e).toMatchObject({ rv, rvName, function: fnName });
  return e as Pkcs11Error;
}

/** Asserts an async call rejects with a Pkcs11Error with exactly this rvName and function name. */
export async function expectPkcs11Reject(p: Promise<unknown>, rvName: string, rv: Ulong, fnName: string): Promise<Pkcs11Error> {
  let e: unknown;
  try {
    await p;
  } catch (err) {
    e = err;
  }
  if (e === undefined) throw new Error(`expected ${fnName} to reject with ${rvName}`);
  expect(e).toBeInstanceOf(Pkcs11Error);
  expect(e).toMatchObject({ rv, rvName, function: fnName });
  return e as Pkcs11Error;
}

/** Byte equality for large buffers (jest's toEqual walks them element by element, which takes seconds per MB). */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  expect({ length: a.length, firstDifference: i }).toEqual({ length: b.length, firstDifference: -1 });
}
