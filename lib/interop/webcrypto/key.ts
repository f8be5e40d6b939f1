// Pkcs11CryptoKey: the CryptoKey of the PKCS#11 provider, over a token key or a node:crypto
// public KeyObject, and how a key's WebCrypto algorithm is read from its PKCS#11 attributes.
import * as nodeCrypto from 'node:crypto';
import { PrivateKey, PublicKey, SecretKey } from '../../objects/keys';
import type { HashName } from '../../mechanisms';
import { curveOfParams } from '../keyobject';
import { bitLength } from '../../util/bits';
import {
  AlgorithmInput,
  Algorithm,
  allowedUsages,
  checkUsages,
  CURVE_SIZE,
  domError,
  exponentBytes,
  HMAC_BLOCK_BITS,
  hashName,
  isAes,
  isRsa,
  KeyType,
  KeyUsage,
  NODE_CURVE,
  normalize,
  Pkcs11KeyAlgorithm,
} from './algorithms';

export type TokenKey = PrivateKey | PublicKey | SecretKey;

export function keyTypeOfObject(key: TokenKey): KeyType {
  return key instanceof PrivateKey ? 'private' : key instanceof PublicKey ? 'public' : 'secret';
}

/**
 * A CryptoKey-shaped wrapper of a token key (PrivateKey, PublicKey or SecretKey) or of a
 * node:crypto public KeyObject. `algorithm`, `type`, `extractable` and `usages` are as in
 * WebCrypto; `key` is the typed token key (undefined for a KeyObject-backed public key).
 */
export class Pkcs11CryptoKey {
  readonly type: KeyType;
  readonly extractable: boolean;
  readonly algorithm: Pkcs11KeyAlgorithm;
  readonly usages: KeyUsage[];
  readonly key: TokenKey | undefined;
  readonly keyObject: nodeCrypto.KeyObject | undefined;

  constructor(key: TokenKey | nodeCrypto.KeyObject, algorithm: Pkcs11KeyAlgorithm, extractable: boolean, usages: readonly KeyUsage[]) {
    if (key instanceof nodeCrypto.KeyObject) {
      if (key.type !== 'public') throw new TypeError('Pkcs11CryptoKey: only public KeyObjects can back a key (private and secret keys live on the token)');
      this.keyObject = key;
      this.key = undefined;
      this.type = 'public';
    } else if (key instanceof PrivateKey || key instanceof PublicKey || key instanceof SecretKey) {
      this.key = key;
      this.keyObject = undefined;
      this.type = keyTypeOfObject(key);
    } else {
      throw new TypeError('Pkcs11CryptoKey: key must be a PrivateKey, PublicKey, SecretKey or a public KeyObject');
    }
    this.algorithm = algorithm;
    this.extractable = extractable;
    this.usages = [...usages];
  }

  get [Symbol.toStringTag](): string {
    return 'CryptoKey';
  }

  /**
   * Wraps a token key found elsewhere (session.find …). The algorithm's details come from the
   * key's attributes: ECDSA/ECDH → namedCurve from CKA_EC_PARAMS; RSA → modulusLength and
   * publicExponent from CKA_MODULUS / CKA_PUBLIC_EXPONENT (give `hash`); AES → length from
   * CKA_VALUE_LEN; HMAC → `hash` from you (length from CKA_VALUE_LEN). Usages default to what the
   * key's PKCS#11 usage attributes allow; `extractable` defaults to CKA_EXTRACTABLE for private
   * and secret keys, true for public keys.
   */
  static async from(key: TokenKey, algorithm: AlgorithmInput, options: { usages?: KeyUsage[]; extractable?: boolean } = {}): Promise<Pkcs11CryptoKey> {
    if (!(key instanceof PrivateKey || key instanceof PublicKey || key instanceof SecretKey))
      throw new TypeError("Pkcs11CryptoKey.from: argument 'key' must be a PrivateKey, PublicKey or SecretKey");
    const alg = normalize(algorithm);
    const type = keyTypeOfObject(key);
    const a = await key.getAttributes(['keyType', 'ecParams', 'modulus', 'publicExponent', 'valueLen', 'extractable', ...USAGE_ATTRIBUTES]);
    const full = keyAlgorithm(alg, a);
    const allowed = allowedUsages(alg.name, type);
    if (allowed.length === 0 && !(alg.name === 'ECDH' && type === 'public')) throw domError(`a ${type} key cannot be an ${alg.name} key`, 'DataError');
    const usages = options.usages ? checkUsages(options.usages, allowed, `an ${alg.name} ${type} key`) : allowed.filter((u) => a[USAGE_ATTRIBUTE[u]] === true);
    const extractable = options.extractable ?? (type === 'public' ? true : a.extractable === true);
    return new Pkcs11CryptoKey(key, full, extractable, usages);
  }
}

const USAGE_ATTRIBUTE: Record<KeyUsage, string> = {
  encrypt: 'encrypt',
  decrypt: 'decrypt',
  sign: 'sign',
  verify: 'verify',
  wrapKey: 'wrap',
  unwrapKey: 'unwrap',
  deriveKey: 'derive',
  deriveBits: 'derive',
};
const USAGE_ATTRIBUTES = [...new Set(Object.values(USAGE_ATTRIBUTE))];

/** The full KeyAlgorithm of a key with attributes `a` used as `alg` (DataError when they do not fit). */
function keyAlgorithm(alg: Algorithm, a: Record<string, unknown>): Pkcs11KeyAlgorithm {
  const name = alg.name;
  if (name === 'ECDSA' || name === 'ECDH') {
    const curve = a.ecParams instanceof Buffer ? curveOfParams(a.ecParams) : undefined;
    if (a.keyType !== 'ec' || !curve || !(curve in CURVE_SIZE)) throw domError('the key is not an EC key on P-256, P-384 or P-521', 'DataError');
    return { name, namedCurve: curve };
  }
  if (name === 'Ed25519') {
    const curve = a.ecParams instanceof Buffer ? curveOfParams(a.ecParams) : undefined;
    if (a.keyType !== 'ecEdwards' || curve !== 'Ed25519') throw domError('the key is not an Ed25519 key', 'DataError');
    return { name };
  }
  if (isRsa(name)) {
    if (a.keyType !== 'rsa' || !(a.modulus instanceof Buffer) || !(a.publicExponent instanceof Buffer))
      throw domError('the key is not an RSA key with a readable modulus and exponent', 'DataError');
    return { name, modulusLength: bitLength(a.modulus), publicExponent: exponentBytes(a.publicExponent), hash: { name: hashName(alg.hash) } };
  }
  if (isAes(name)) {
    if (a.keyType !== 'aes') throw domError('the key is not an AES key', 'DataError');
    return { name, length: Number(a.valueLen) * 8 };
  }
  if (name === 'HMAC') {
    const h = hashName(alg.hash);
    const fromKey = typeof a.valueLen === 'number' || typeof a.valueLen === 'bigint' ? Number(a.valueLen) * 8 : undefined;
    return { name, hash: { name: h }, length: typeof alg.length === 'number' ? alg.length : (fromKey ?? HMAC_BLOCK_BITS[h]) };
  }
  throw domError(`'${name}' is not a key algorithm`, 'NotSupportedError');
}

/**
 * A likely WebCrypto algorithm for a stored key, from its PKCS#11 attributes (keyStorage when the
 * caller names none): EC → ECDSA, or ECDH for a derive-only key; Ed25519; RSA → RSA-OAEP for an
 * encryption key, else RSASSA-PKCS1-v1_5 (SHA-256); AES → AES-KW for a wrap-only key, else
 * AES-GCM; generic secret → HMAC SHA-256.
 */
export function guessAlgorithm(a: Record<string, unknown>): Algorithm | undefined {
  const has = (k: string): boolean => a[k] === true;
  switch (a.keyType) {
    case 'ec':
      return { name: has('derive') && !has('sign') && !has('verify') ? 'ECDH' : 'ECDSA' };
    case 'ecEdwards':
      return { name: 'Ed25519' };
    case 'rsa':
      return { name: (has('decrypt') || has('encrypt') || has('wrap') || has('unwrap')) && !has('sign') && !has('verify') ? 'RSA-OAEP' : 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    case 'aes':
      return { name: (has('wrap') || has('unwrap')) && !has('encrypt') && !has('decrypt') ? 'AES-KW' : 'AES-GCM' };
    case 'genericSecret':
      return { name: 'HMAC', hash: 'SHA-256' };
    default:
      return undefined;
  }
}

/** The WebCrypto key algorithm of a node public KeyObject for `alg` (DataError when they do not match). */
export function algorithmOfKeyObject(ko: nodeCrypto.KeyObject, alg: Algorithm): Pkcs11KeyAlgorithm {
  const d = ko.asymmetricKeyDetails ?? {};
  if (alg.name === 'ECDSA' || alg.name === 'ECDH') {
    const curve = ko.asymmetricKeyType === 'ec' ? NODE_CURVE[d.namedCurve ?? ''] : undefined;
    if (!curve) throw domError('the key is not an EC key on P-256, P-384 or P-521', 'DataError');
    if (alg.namedCurve !== undefined && alg.namedCurve !== curve) throw domError(`the key is on ${curve}, not ${String(alg.namedCurve)}`, 'DataError');
    return { name: alg.name, namedCurve: curve };
  }
  if (alg.name === 'Ed25519') {
    if (ko.asymmetricKeyType !== 'ed25519') throw domError('the key is not an Ed25519 key', 'DataError');
    return { name: 'Ed25519' };
  }
  if (isRsa(alg.name)) {
    if (ko.asymmetricKeyType !== 'rsa') throw domError('the key is not an RSA key', 'DataError');
    return { name: alg.name, modulusLength: d.modulusLength!, publicExponent: exponentBytes(d.publicExponent!), hash: { name: hashName(alg.hash) } };
  }
  throw domError(`'${alg.name}' has no public or private keys`, 'NotSupportedError');
}

export function cryptoKey(k: unknown, what = 'key'): Pkcs11CryptoKey {
  if (k instanceof Pkcs11CryptoKey) return k;
  throw new TypeError(`the ${what} must be a Pkcs11CryptoKey (from this provider)`);
}

export function needUsage(k: Pkcs11CryptoKey, usage: KeyUsage, algName: string): void {
  if (k.algorithm.name !== algName) throw domError(`the key is a ${k.algorithm.name} key, not ${algName}`, 'InvalidAccessError');
  if (!k.usages.includes(usage)) throw domError(`the key's usages do not include '${usage}'`, 'InvalidAccessError');
}

export function keyHash(k: Pkcs11CryptoKey): HashName {
  return (k.algorithm as { hash: { name: HashName } }).hash.name;
}
