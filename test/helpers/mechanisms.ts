// Shared by the mechanism-parameter tests (mechanisms-softhsm / mechanisms-nss): session keys of
// known value, templates for extractable derived secrets, node-made RSA keys put on a token from
// their components, and node:crypto reference implementations of the KDFs tokens run (ANSI X9.63,
// HKDF extract/expand, SP 800-108 counter mode) so every derived byte is checked independently.
import * as crypto from 'node:crypto';
import {
  ULONG_SIZE,
  CKA_CLASS,
  CKA_KEY_TYPE,
  CKA_TOKEN,
  CKA_VALUE,
  CKA_VALUE_LEN,
  CKA_SENSITIVE,
  CKA_EXTRACTABLE,
  CKA_ENCRYPT,
  CKA_DECRYPT,
  CKA_SIGN,
  CKA_VERIFY,
  CKA_WRAP,
  CKA_UNWRAP,
  CKA_DERIVE,
  CKA_MODULUS,
  CKA_PUBLIC_EXPONENT,
  CKA_PRIVATE_EXPONENT,
  CKA_PRIME_1,
  CKA_PRIME_2,
  CKA_EXPONENT_1,
  CKA_EXPONENT_2,
  CKA_COEFFICIENT,
  CKO_SECRET_KEY,
  CKO_PUBLIC_KEY,
  CKO_PRIVATE_KEY,
  CKK_GENERIC_SECRET,
  CKK_RSA,
} from '../../lib/raw';
import type { PKCS11, Ulong, Template, KeyPair } from '../../lib/raw';
import { attr } from './keys';

/** Every usage flag a secret key of known value may need in these tests. */
const ALL_USAGES: Template = [
  { type: CKA_ENCRYPT, value: true },
  { type: CKA_DECRYPT, value: true },
  { type: CKA_WRAP, value: true },
  { type: CKA_UNWRAP, value: true },
  { type: CKA_DERIVE, value: true },
];

/** A session secret key of the given type and bytes, with every usage this file needs. */
export function secretKey(mod: PKCS11, s: Ulong, keyType: Ulong, value: Buffer, extra: Template = []): Ulong {
  return mod.C_CreateObject(s, [
    { type: CKA_CLASS, value: CKO_SECRET_KEY },
    { type: CKA_KEY_TYPE, value: keyType },
    { type: CKA_TOKEN, value: false },
    { type: CKA_VALUE, value },
    ...ALL_USAGES,
    ...extra,
  ]);
}

/** Extra attributes that make a key's CKA_VALUE readable (and the key wrappable). */
export const EXTRACTABLE: Template = [
  { type: CKA_SENSITIVE, value: false },
  { type: CKA_EXTRACTABLE, value: true },
];

/** Template of a derived/unwrapped session secret whose CKA_VALUE can be read back. */
export function readableSecret(valueLen?: number, keyType: Ulong = CKK_GENERIC_SECRET): Template {
  const t: Template = [{ type: CKA_CLASS, value: CKO_SECRET_KEY }, { type: CKA_KEY_TYPE, value: keyType }, { type: CKA_TOKEN, value: false }, ...EXTRACTABLE];
  if (valueLen !== undefined) t.push({ type: CKA_VALUE_LEN, value: valueLen });
  return t;
}

/** CKA_VALUE of a (non-sensitive, extractable) key. */
export function keyValue(mod: PKCS11, s: Ulong, h: Ulong): Buffer {
  return attr(mod, s, h, CKA_VALUE);
}

/** A CK_ULONG the module wrote into caller memory (a CK_DERIVED_KEY.phKey), native width and order. */
export function readUlong(b: Uint8Array): number {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length !== ULONG_SIZE) throw new Error(`expected ${ULONG_SIZE} bytes, got ${buf.length}`);
  return ULONG_SIZE === 8 ? Number(buf.readBigUInt64LE(0)) : buf.readUInt32LE(0);
}

/** A CK_ULONG as bytes in native width and order (the target of a CK_ULONG_PTR field). */
export function ulongBuffer(v: number): Buffer {
  const b = Buffer.alloc(ULONG_SIZE);
  if (ULONG_SIZE === 8) b.writeBigUInt64LE(BigInt(v));
  else b.writeUInt32LE(v);
  return b;
}

/**
 * A node-generated RSA key pair put on the token from its components (CKA_MODULUS,
 * CKA_PRIVATE_EXPONENT, CKA_PRIME_1 …), so node holds the same private key as the token.
 */
export function importRsaKeyPair(mod: PKCS11, s: Ulong, pair: crypto.KeyPairKeyObjectResult): KeyPair {
  const j = pair.privateKey.export({ format: 'jwk' });
  const b = (x: string | undefined): Buffer => Buffer.from(x!, 'base64url');
  const privateKey = mod.C_CreateObject(s, [
    { type: CKA_CLASS, value: CKO_PRIVATE_KEY },
    { type: CKA_KEY_TYPE, value: CKK_RSA },
    { type: CKA_TOKEN, value: false },
    { type: CKA_DECRYPT, value: true },
    { type: CKA_SIGN, value: true },
    { type: CKA_MODULUS, value: b(j.n) },
    { type: CKA_PUBLIC_EXPONENT, value: b(j.e) },
    { type: CKA_PRIVATE_EXPONENT, value: b(j.d) },
    { type: CKA_PRIME_1, value: b(j.p) },
    { type: CKA_PRIME_2, value: b(j.q) },
    { type: CKA_EXPONENT_1, value: b(j.dp) },
    { type: CKA_EXPONENT_2, value: b(j.dq) },
    { type: CKA_COEFFICIENT, value: b(j.qi) },
  ]);
  const publicKey = mod.C_CreateObject(s, [
    { type: CKA_CLASS, value: CKO_PUBLIC_KEY },
    { type: CKA_KEY_TYPE, value: CKK_RSA },
    { type: CKA_TOKEN, value: false },
    { type: CKA_ENCRYPT, value: true },
    { type: CKA_VERIFY, value: true },
    { type: CKA_MODULUS, value: b(j.n) },
    { type: CKA_PUBLIC_EXPONENT, value: b(j.e) },
  ]);
  return { publicKey, privateKey };
}

function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** ANSI X9.63 KDF (CKD_SHAx_KDF): Hash(Z || counter (4 bytes BE, from 1) || SharedInfo) … truncated. */
export function x963Kdf(hash: string, z: Buffer, sharedInfo: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let have = 0;
  for (let i = 1; have < length; i++) {
    const d = crypto.createHash(hash).update(z).update(be32(i)).update(sharedInfo).digest();
    out.push(d);
    have += d.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** HKDF-Extract (RFC 5869): HMAC(salt, IKM); an absent salt is HashLen zero bytes. */
export function hkdfExtract(hash: string, salt: Buffer | null, ikm: Buffer): Buffer {
  const len = crypto.createHash(hash).digest().length;
  return crypto
    .createHmac(hash, salt && salt.length ? salt : Buffer.alloc(len))
    .update(ikm)
    .digest();
}

/** HKDF-Expand (RFC 5869): T(i) = HMAC(PRK, T(i-1) || info || i), truncated. */
export function hkdfExpand(hash: string, prk: Buffer, info: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  let have = 0;
  for (let i = 1; have < length; i++) {
    t = crypto
      .createHmac(hash, prk)
      .update(t)
      .update(info)
      .update(Buffer.from([i]))
      .digest();
    out.push(t);
    have += t.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/**
 * NIST SP 800-108 KDF in counter mode with an HMAC PRF, input laid out as
 * counter (counterBytes, big-endian, from 1) || fixedInput || [L (dkmBytes, big-endian)].
 * PKCS#11 3.0 starts every key on a fresh PRF output block ("segment"), so `keyLengths` gives one
 * slice per key: the first key, then the CK_DERIVED_KEY ones in order.
 */
export function sp800108CounterHmac(p: {
  hash: string;
  key: Buffer;
  fixedInput: Buffer;
  counterBytes: 1 | 2 | 3 | 4;
  dkmBits?: number;
  dkmBytes?: number;
  keyLengths: number[];
}): Buffer[] {
  const h = crypto.createHash(p.hash).digest().length;
  const blocksPerKey = p.keyLengths.map((n) => Math.ceil(n / h));
  const total = blocksPerKey.reduce((a, b) => a + b, 0);
  const blocks: Buffer[] = [];
  for (let i = 1; i <= total; i++) {
    const ctr = Buffer.alloc(p.counterBytes);
    ctr.writeUIntBE(i, 0, p.counterBytes);
    const mac = crypto.createHmac(p.hash, p.key).update(ctr).update(p.fixedInput);
    if (p.dkmBits !== undefined) {
      const l = Buffer.alloc(p.dkmBytes ?? 4);
      l.writeUIntBE(p.dkmBits, 0, l.length);
      mac.update(l);
    }
    blocks.push(mac.digest());
  }
  const keys: Buffer[] = [];
  let at = 0;
  p.keyLengths.forEach((n, k) => {
    keys.push(Buffer.concat(blocks.slice(at, at + blocksPerKey[k])).subarray(0, n));
    at += blocksPerKey[k];
  });
  return keys;
}
