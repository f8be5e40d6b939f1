// The WebCrypto algorithms the PKCS#11 provider knows, their key usages and the PKCS#11
// attributes those usages become, plus the argument helpers every part of the provider shares.
import * as nodeCrypto from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import type { HashName } from '../../mechanisms';
import type { TemplateObject } from '../../template/attributes';

export type KeyUsage = webcrypto.KeyUsage;
export type KeyType = 'public' | 'private' | 'secret';
export type BufferSource = ArrayBuffer | NodeJS.ArrayBufferView;
export type AlgorithmInput = string | { name: string; [k: string]: unknown };
export type Algorithm = { name: string; [k: string]: unknown };

/** The `algorithm` of a Pkcs11CryptoKey (the WebCrypto KeyAlgorithm dictionaries). */
export type Pkcs11KeyAlgorithm =
  | { name: 'ECDSA' | 'ECDH'; namedCurve: string }
  | { name: 'Ed25519' }
  | { name: 'RSASSA-PKCS1-v1_5' | 'RSA-PSS' | 'RSA-OAEP'; modulusLength: number; publicExponent: Uint8Array; hash: { name: HashName } }
  | { name: 'AES-GCM' | 'AES-CBC' | 'AES-CTR' | 'AES-KW'; length: number }
  | { name: 'HMAC'; hash: { name: HashName }; length: number };

export type RsaName = 'RSASSA-PKCS1-v1_5' | 'RSA-PSS' | 'RSA-OAEP';
export type AesName = 'AES-GCM' | 'AES-CBC' | 'AES-CTR' | 'AES-KW';

export const HASHES: readonly HashName[] = ['SHA-1', 'SHA-224', 'SHA-256', 'SHA-384', 'SHA-512'];
export const HMAC_BLOCK_BITS: Record<HashName, number> = { 'SHA-1': 512, 'SHA-224': 512, 'SHA-256': 512, 'SHA-384': 1024, 'SHA-512': 1024 };
export const RSA_NAMES: readonly RsaName[] = ['RSASSA-PKCS1-v1_5', 'RSA-PSS', 'RSA-OAEP'];
export const AES_NAMES: readonly AesName[] = ['AES-GCM', 'AES-CBC', 'AES-CTR', 'AES-KW'];
const NAMES = ['ECDSA', 'ECDH', 'Ed25519', ...RSA_NAMES, ...AES_NAMES, 'HMAC', ...HASHES] as const;
/** Field size in bytes of the NIST curves WebCrypto names. */
export const CURVE_SIZE: Record<string, number> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };
export const NODE_CURVE: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
export const ALL_USAGES: readonly KeyUsage[] = ['encrypt', 'decrypt', 'sign', 'verify', 'deriveKey', 'deriveBits', 'wrapKey', 'unwrapKey'];

/** Usages each kind of key may have, per algorithm (WebCrypto's tables). */
export interface UsageRule {
  private?: readonly KeyUsage[];
  public?: readonly KeyUsage[];
  secret?: readonly KeyUsage[];
}
const SIGN: UsageRule = { private: ['sign'], public: ['verify'] };
const AES_CIPHER: UsageRule = { secret: ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'] };
export const USAGES: Record<string, UsageRule> = {
  ECDSA: SIGN,
  Ed25519: SIGN,
  'RSASSA-PKCS1-v1_5': SIGN,
  'RSA-PSS': SIGN,
  ECDH: { private: ['deriveKey', 'deriveBits'], public: [] },
  'RSA-OAEP': { private: ['decrypt', 'unwrapKey'], public: ['encrypt', 'wrapKey'] },
  'AES-GCM': AES_CIPHER,
  'AES-CBC': AES_CIPHER,
  'AES-CTR': AES_CIPHER,
  'AES-KW': { secret: ['wrapKey', 'unwrapKey'] },
  HMAC: { secret: ['sign', 'verify'] },
};

export function domError(message: string, name: string, cause?: unknown): DOMException {
  const e = new DOMException(message, name);
  if (cause !== undefined) (e as { cause?: unknown }).cause = cause;
  return e;
}

/** The canonical WebCrypto name (names are case-insensitive), or NotSupportedError. */
export function canonicalName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError("the algorithm needs a 'name' (a string)");
  const n = NAMES.find((x) => x.toLowerCase() === name.toLowerCase());
  if (!n) throw domError(`algorithm '${name}' is not supported by the PKCS#11 provider`, 'NotSupportedError');
  return n;
}

export function normalize(alg: unknown): Algorithm {
  if (typeof alg === 'string') return { name: canonicalName(alg) };
  if (alg === null || typeof alg !== 'object') throw new TypeError('the algorithm must be a string or an object with a name');
  const a = alg as { name?: unknown };
  return { ...(alg as object), name: canonicalName(a.name) };
}

export function hashName(h: unknown): HashName {
  const n = canonicalName(typeof h === 'object' && h !== null ? (h as { name?: unknown }).name : h);
  if (!(HASHES as readonly string[]).includes(n)) throw domError(`'${n}' is not a hash`, 'NotSupportedError');
  return n as HashName;
}

export function isRsa(name: string): name is RsaName {
  return (RSA_NAMES as readonly string[]).includes(name);
}

export function isAes(name: string): name is AesName {
  return (AES_NAMES as readonly string[]).includes(name);
}

export function bytes(data: unknown, what = 'data'): Buffer {
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${what} must be a BufferSource (ArrayBuffer or ArrayBufferView)`);
}

export function arrayBuffer(b: Buffer): ArrayBuffer {
  const out = new ArrayBuffer(b.byteLength);
  new Uint8Array(out).set(b);
  return out;
}

export function exponentNumber(e: unknown): number {
  const b = e === undefined ? Buffer.from([1, 0, 1]) : bytes(e, 'publicExponent');
  if (b.length === 0 || b.length > 6) throw domError('publicExponent must be 1 to 6 bytes', 'OperationError');
  return b.readUIntBE(0, b.length);
}

export function exponentBytes(n: number | bigint | Uint8Array): Uint8Array {
  if (n instanceof Uint8Array) {
    let i = 0;
    while (i < n.length - 1 && n[i] === 0) i++;
    return new Uint8Array(n.subarray(i));
  }
  let v = BigInt(n);
  const out: number[] = [];
  do {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  return new Uint8Array(out);
}

/** Checks usages against what the algorithm allows for this kind of key; duplicates removed. */
export function checkUsages(usages: unknown, allowed: readonly KeyUsage[], what: string): KeyUsage[] {
  if (!Array.isArray(usages)) throw new TypeError('keyUsages must be an array');
  for (const u of usages) {
    if (!ALL_USAGES.includes(u as KeyUsage)) throw new TypeError(`unknown key usage '${String(u)}'`);
    if (!allowed.includes(u as KeyUsage)) throw domError(`usage '${String(u)}' is not valid for ${what}`, 'SyntaxError');
  }
  return [...new Set(usages as KeyUsage[])];
}

/** The usages `alg` allows on a key of `type` (an empty list when it has none). */
export function allowedUsages(alg: string, type: KeyType): readonly KeyUsage[] {
  return USAGES[alg]?.[type] ?? [];
}

/**
 * The PKCS#11 usage attributes for WebCrypto usages, limited to the attributes that make sense
 * for the key's class and type (some modules refuse e.g. CKA_DECRYPT on EC keys even when false).
 */
export function usageTemplate(type: KeyType, keyType: string, usages: readonly KeyUsage[]): TemplateObject {
  const has = (u: KeyUsage): boolean => usages.includes(u);
  if (type === 'secret')
    return { encrypt: has('encrypt'), decrypt: has('decrypt'), wrap: has('wrapKey'), unwrap: has('unwrapKey'), sign: has('sign'), verify: has('verify'), derive: false };
  if (keyType === 'rsa')
    return type === 'private' ? { sign: has('sign'), decrypt: has('decrypt'), unwrap: has('unwrapKey') } : { verify: has('verify'), encrypt: has('encrypt'), wrap: has('wrapKey') };
  if (keyType === 'ec') return type === 'private' ? { sign: has('sign'), derive: has('deriveKey') || has('deriveBits') } : { verify: has('verify') };
  return type === 'private' ? { sign: has('sign') } : { verify: has('verify') };
}

/** The PKCS#11 key type behind a WebCrypto algorithm. */
export function keyTypeOf(alg: string): 'ec' | 'ecEdwards' | 'rsa' | 'aes' | 'genericSecret' {
  if (alg === 'ECDSA' || alg === 'ECDH') return 'ec';
  if (alg === 'Ed25519') return 'ecEdwards';
  if (isRsa(alg)) return 'rsa';
  if (isAes(alg)) return 'aes';
  return 'genericSecret';
}

export function nodeHash(h: HashName): string {
  return h.replace('-', '').toLowerCase();
}

/** A fresh CKA_ID: key pairs share one, so storage and certificates can find each other. */
export function newKeyId(): Buffer {
  return nodeCrypto.randomBytes(16);
}
