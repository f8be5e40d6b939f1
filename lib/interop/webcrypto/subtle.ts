// Pkcs11SubtleCrypto: the SubtleCrypto methods over a session's keys. Each method checks its
// arguments as WebCrypto does (TypeError, SyntaxError, InvalidAccessError, NotSupportedError …)
// and runs on the token through the typed layer; the algorithm families live in their own files.
import * as nodeCrypto from 'node:crypto';
import type { Session } from '../../session/session';
import { PrivateKey, PublicKey, SecretKey } from '../../objects/keys';
import type { HashName, MechanismSpec } from '../../mechanisms';
import { AlgorithmInput, Algorithm, arrayBuffer, bytes, BufferSource, CURVE_SIZE, domError, hashName, KeyUsage, nodeHash, normalize } from './algorithms';
import { cryptoKey, keyHash, needUsage, Pkcs11CryptoKey } from './key';
import { decrypt, encrypt } from './cipher';
import { generateKey, GeneratedKey } from './generate';
import { exportKey, importKey, ImportOptions, JsonWebKey, KeyFormat } from './transfer';
import { deriveBits, deriveKey } from './derive';
import { unwrapKey, wrapKey } from './wrap';

export interface Pkcs11CryptoOptions extends ImportOptions {
  /** Where `importKey` puts public keys: 'token' (session objects, the default) or 'node' (KeyObjects). */
  importPublicKeys?: 'token' | 'node';
}

/** The token mechanism for a sign/verify algorithm on a key. */
function signSpec(alg: Algorithm, k: Pkcs11CryptoKey): MechanismSpec {
  switch (alg.name) {
    case 'ECDSA':
      return { name: 'ECDSA', hash: hashName(alg.hash) };
    case 'Ed25519':
      return { name: 'EdDSA' };
    case 'RSASSA-PKCS1-v1_5':
      return { name: 'RSASSA-PKCS1-v1_5', hash: keyHash(k) };
    case 'RSA-PSS': {
      if (typeof alg.saltLength !== 'number' || !Number.isInteger(alg.saltLength) || alg.saltLength < 0) throw new TypeError('RSA-PSS needs saltLength (a non-negative integer)');
      return { name: 'RSA-PSS', hash: keyHash(k), saltLength: alg.saltLength };
    }
    case 'HMAC':
      return { name: 'HMAC', hash: keyHash(k) };
    default:
      throw domError(`'${alg.name}' is not a signature algorithm`, 'NotSupportedError');
  }
}

function nodeVerify(spec: MechanismSpec, key: nodeCrypto.KeyObject, data: Buffer, sig: Buffer): boolean {
  const s = spec as { name: string; hash: HashName; saltLength?: number };
  if (s.name === 'ECDSA') return nodeCrypto.verify(nodeHash(s.hash), data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  if (s.name === 'EdDSA') return nodeCrypto.verify(null, data, key, sig);
  if (s.name === 'RSASSA-PKCS1-v1_5') return nodeCrypto.verify(nodeHash(s.hash), data, key, sig);
  if (s.name === 'RSA-PSS') return nodeCrypto.verify(nodeHash(s.hash), data, { key, padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: s.saltLength }, sig);
  throw domError(`'${s.name}' cannot verify with a public key`, 'InvalidAccessError');
}

export class Pkcs11SubtleCrypto {
  constructor(
    readonly session: Session,
    private readonly options: Pkcs11CryptoOptions = {},
  ) {}

  get [Symbol.toStringTag](): string {
    return 'SubtleCrypto';
  }

  /** SHA-1/224/256/384/512 on the token (C_Digest). */
  async digest(algorithm: AlgorithmInput, data: BufferSource): Promise<ArrayBuffer> {
    const h = hashName(normalize(algorithm));
    return arrayBuffer(await this.session.digest({ name: h }, bytes(data)));
  }

  /**
   * Key pairs (ECDSA and ECDH on P-256/384/521, Ed25519, RSASSA-PKCS1-v1_5, RSA-PSS, RSA-OAEP)
   * and secret keys (AES-GCM/CBC/CTR/KW, HMAC) as token session objects. Private and secret keys
   * are sensitive; `extractable` sets CKA_EXTRACTABLE (wrapKey may export them), exportKey never
   * does. A pair's two keys share a fresh CKA_ID.
   */
  async generateKey(algorithm: AlgorithmInput, extractable: boolean, keyUsages: KeyUsage[]): Promise<GeneratedKey> {
    return generateKey(this.session, normalize(algorithm), Boolean(extractable), keyUsages);
  }

  /** ECDSA signatures are r||s, as in WebCrypto; the hash is the algorithm's (ECDSA) or the key's. */
  async sign(algorithm: AlgorithmInput, key: Pkcs11CryptoKey, data: BufferSource): Promise<ArrayBuffer> {
    const alg = normalize(algorithm);
    const k = cryptoKey(key);
    needUsage(k, 'sign', alg.name);
    const spec = signSpec(alg, k);
    if (!(k.key instanceof PrivateKey) && !(k.key instanceof SecretKey)) throw domError('sign needs a private or secret key', 'InvalidAccessError');
    return arrayBuffer(await k.key.sign(spec, bytes(data)));
  }

  async verify(algorithm: AlgorithmInput, key: Pkcs11CryptoKey, signature: BufferSource, data: BufferSource): Promise<boolean> {
    const alg = normalize(algorithm);
    const k = cryptoKey(key);
    needUsage(k, 'verify', alg.name);
    const spec = signSpec(alg, k);
    const sig = bytes(signature, 'signature');
    const d = bytes(data);
    if (k.keyObject) return nodeVerify(spec, k.keyObject, d, sig);
    if (k.key instanceof PublicKey || k.key instanceof SecretKey) {
      // A signature of the wrong size is simply invalid, not a module error.
      if (alg.name === 'ECDSA' && sig.length !== 2 * CURVE_SIZE[(k.algorithm as { namedCurve: string }).namedCurve]) return false;
      if (alg.name === 'Ed25519' && sig.length !== 64) return false;
      return k.key.verify(spec, d, sig);
    }
    throw domError('verify needs a public or secret key', 'InvalidAccessError');
  }

  /**
   * AES-GCM (ciphertext || tag), AES-CBC (PKCS#7 padding), AES-CTR, and RSA-OAEP with a public
   * key (on the token, or node's for a KeyObject-backed key).
   */
  async encrypt(algorithm: AlgorithmInput, key: Pkcs11CryptoKey, data: BufferSource): Promise<ArrayBuffer> {
    return arrayBuffer(await encrypt(normalize(algorithm), cryptoKey(key), bytes(data)));
  }

  /** A wrong tag, padding or length is OperationError (the Pkcs11Error is its `cause`). */
  async decrypt(algorithm: AlgorithmInput, key: Pkcs11CryptoKey, data: BufferSource): Promise<ArrayBuffer> {
    return arrayBuffer(await decrypt(normalize(algorithm), cryptoKey(key), bytes(data)));
  }

  /** Public keys only: 'spki', 'jwk' and 'raw' (EC points, Ed25519). Private and secret keys: wrapKey. */
  exportKey(format: 'jwk', key: Pkcs11CryptoKey): Promise<JsonWebKey>;
  exportKey(format: 'spki' | 'raw' | 'pkcs8', key: Pkcs11CryptoKey): Promise<ArrayBuffer>;
  exportKey(format: KeyFormat, key: Pkcs11CryptoKey): Promise<ArrayBuffer | JsonWebKey>;
  async exportKey(format: KeyFormat, key: Pkcs11CryptoKey): Promise<ArrayBuffer | JsonWebKey> {
    return exportKey(format, cryptoKey(key));
  }

  /**
   * Public keys ('spki', 'jwk', 'raw') become token session objects, or KeyObjects with
   * `importPublicKeys: 'node'`; private keys ('pkcs8', a JWK with d) and secret keys ('raw', an
   * 'oct' JWK) become sensitive token session objects with CKA_EXTRACTABLE = `extractable`.
   */
  async importKey(format: KeyFormat, keyData: BufferSource | JsonWebKey, algorithm: AlgorithmInput, extractable: boolean, keyUsages: KeyUsage[]): Promise<Pkcs11CryptoKey> {
    return importKey(this.session, this.options, format, keyData, normalize(algorithm), Boolean(extractable), keyUsages);
  }

  /** ECDH: the leftmost `length` bits of the shared secret (all of it for null). */
  async deriveBits(algorithm: AlgorithmInput, baseKey: Pkcs11CryptoKey, length: number | null): Promise<ArrayBuffer> {
    return deriveBits(normalize(algorithm), cryptoKey(baseKey, 'base key'), length);
  }

  /** ECDH → an AES-* or HMAC key on the token (sensitive; see derive.ts for short keys). */
  async deriveKey(algorithm: AlgorithmInput, baseKey: Pkcs11CryptoKey, derivedKeyType: AlgorithmInput, extractable: boolean, keyUsages: KeyUsage[]): Promise<Pkcs11CryptoKey> {
    return deriveKey(this.session, normalize(algorithm), cryptoKey(baseKey, 'base key'), normalize(derivedKeyType), Boolean(extractable), keyUsages);
  }

  /**
   * Secret keys as 'raw' and private keys as 'pkcs8', wrapped on the token (C_WrapKey) with AES-KW,
   * AES-GCM, AES-CBC or RSA-OAEP (what the module supports); public keys in any export format.
   */
  async wrapKey(format: KeyFormat, key: Pkcs11CryptoKey, wrappingKey: Pkcs11CryptoKey, wrapAlgorithm: AlgorithmInput): Promise<ArrayBuffer> {
    return wrapKey(format, key, wrappingKey, normalize(wrapAlgorithm));
  }

  /** The inverse of wrapKey: 'raw' and 'pkcs8' keys are unwrapped on the token (C_UnwrapKey). */
  async unwrapKey(
    format: KeyFormat,
    wrappedKey: BufferSource,
    unwrappingKey: Pkcs11CryptoKey,
    unwrapAlgorithm: AlgorithmInput,
    unwrappedKeyAlgorithm: AlgorithmInput,
    extractable: boolean,
    keyUsages: KeyUsage[],
  ): Promise<Pkcs11CryptoKey> {
    return unwrapKey(
      this.session,
      this.options,
      format,
      bytes(wrappedKey, 'wrappedKey'),
      unwrappingKey,
      normalize(unwrapAlgorithm),
      normalize(unwrappedKeyAlgorithm),
      Boolean(extractable),
      keyUsages,
    );
  }
}
