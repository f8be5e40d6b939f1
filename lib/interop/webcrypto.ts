// A WebCrypto provider over token keys: `new Pkcs11Crypto(session)` has `subtle` (the
// SubtleCrypto methods, run on the token through the typed layer) and `getRandomValues`.
// Libraries that take a `Crypto` (e.g. @peculiar/x509's cryptoProvider) can sign with token keys.
//
// - Private and secret keys stay on the token (sensitive). `exportKey` is for public keys only.
// - Public keys imported with `importKey('spki' | 'jwk' | 'raw')` become token session objects by
//   default; `new Pkcs11Crypto(session, { importPublicKeys: 'node' })` keeps them as node:crypto
//   KeyObjects and verifies in node instead.
// - `getRandomValues` must be synchronous, and the token's RNG is not (C_GenerateRandom runs off
//   the event loop), so it fills the array from node:crypto. `crypto.randomBytes(n)` on the token
//   is `session.random(n)`.
import * as nodeCrypto from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import type { Session } from '../session';
import { PrivateKey, PublicKey, SecretKey } from '../objects/keys';
import type { HashName, MechanismSpec } from '../mechanisms';
import type { TemplateObject } from '../template/attributes';
import { curveOfParams, exportPublicKey, importPublicKey, importSecretKey } from './keyobject';

type KeyUsage = webcrypto.KeyUsage;
type KeyType = 'public' | 'private' | 'secret';
type BufferSource = ArrayBuffer | NodeJS.ArrayBufferView;
type AlgorithmInput = string | { name: string; [k: string]: unknown };

/** The `algorithm` of a Pkcs11CryptoKey (the WebCrypto KeyAlgorithm dictionaries). */
export type Pkcs11KeyAlgorithm =
  | { name: 'ECDSA'; namedCurve: string }
  | { name: 'RSASSA-PKCS1-v1_5' | 'RSA-PSS'; modulusLength: number; publicExponent: Uint8Array; hash: { name: HashName } }
  | { name: 'AES-GCM'; length: number }
  | { name: 'HMAC'; hash: { name: HashName }; length: number };

export interface Pkcs11CryptoOptions {
  /** Where `importKey` puts public keys: 'token' (session objects, the default) or 'node' (KeyObjects). */
  importPublicKeys?: 'token' | 'node';
}

function domError(message: string, name: string): DOMException {
  return new DOMException(message, name);
}

const HASHES: readonly HashName[] = ['SHA-1', 'SHA-224', 'SHA-256', 'SHA-384', 'SHA-512'];
const HMAC_BLOCK_BITS: Record<HashName, number> = { 'SHA-1': 512, 'SHA-224': 512, 'SHA-256': 512, 'SHA-384': 1024, 'SHA-512': 1024 };
const NAMES = ['ECDSA', 'RSASSA-PKCS1-v1_5', 'RSA-PSS', 'AES-GCM', 'HMAC', ...HASHES] as const;
const CURVE_SIZE: Record<string, number> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };
const NODE_CURVE: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
const ALL_USAGES: readonly KeyUsage[] = ['encrypt', 'decrypt', 'sign', 'verify', 'deriveKey', 'deriveBits', 'wrapKey', 'unwrapKey'];

/** The canonical WebCrypto name (names are case-insensitive), or NotSupportedError. */
function canonicalName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError("the algorithm needs a 'name' (a string)");
  const n = NAMES.find((x) => x.toLowerCase() === name.toLowerCase());
  if (!n) throw domError(`algorithm '${name}' is not supported by the PKCS#11 provider`, 'NotSupportedError');
  return n;
}

function normalize(alg: unknown): { name: string; [k: string]: unknown } {
  if (typeof alg === 'string') return { name: canonicalName(alg) };
  if (alg === null || typeof alg !== 'object') throw new TypeError('the algorithm must be a string or an object with a name');
  const a = alg as { name?: unknown };
  return { ...(alg as object), name: canonicalName(a.name) };
}

function hashName(h: unknown): HashName {
  const n = canonicalName(typeof h === 'object' && h !== null ? (h as { name?: unknown }).name : h);
  if (!(HASHES as readonly string[]).includes(n)) throw domError(`'${n}' is not a hash`, 'NotSupportedError');
  return n as HashName;
}

function bytes(data: unknown, what = 'data'): Buffer {
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${what} must be a BufferSource (ArrayBuffer or ArrayBufferView)`);
}

function arrayBuffer(b: Buffer): ArrayBuffer {
  const out = new ArrayBuffer(b.byteLength);
  new Uint8Array(out).set(b);
  return out;
}

function exponentNumber(e: unknown): number {
  const b = e === undefined ? Buffer.from([1, 0, 1]) : bytes(e, 'publicExponent');
  if (b.length === 0 || b.length > 6) throw domError('publicExponent must be 1 to 6 bytes', 'OperationError');
  return b.readUIntBE(0, b.length);
}

function exponentBytes(n: number | bigint | Buffer): Uint8Array {
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

function checkUsages(usages: unknown, allowed: readonly KeyUsage[], what: string): KeyUsage[] {
  if (!Array.isArray(usages)) throw new TypeError('keyUsages must be an array');
  for (const u of usages) {
    if (!ALL_USAGES.includes(u as KeyUsage)) throw new TypeError(`unknown key usage '${String(u)}'`);
    if (!allowed.includes(u as KeyUsage)) throw domError(`usage '${String(u)}' is not valid for ${what}`, 'SyntaxError');
  }
  return [...new Set(usages as KeyUsage[])];
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
  readonly key: PrivateKey | PublicKey | SecretKey | undefined;
  readonly keyObject: nodeCrypto.KeyObject | undefined;

  constructor(
    key: PrivateKey | PublicKey | SecretKey | nodeCrypto.KeyObject,
    algorithm: Pkcs11KeyAlgorithm,
    extractable: boolean,
    usages: readonly KeyUsage[],
  ) {
    if (key instanceof nodeCrypto.KeyObject) {
      if (key.type !== 'public') throw new TypeError('Pkcs11CryptoKey: only public KeyObjects can back a key (private and secret keys live on the token)');
      this.keyObject = key;
      this.key = undefined;
      this.type = 'public';
    } else if (key instanceof PrivateKey || key instanceof PublicKey || key instanceof SecretKey) {
      this.key = key;
      this.keyObject = undefined;
      this.type = key instanceof PrivateKey ? 'private' : key instanceof PublicKey ? 'public' : 'secret';
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
   * key's attributes: `{ name: 'ECDSA' }` → namedCurve from CKA_EC_PARAMS; RSA → modulusLength
   * and publicExponent from CKA_MODULUS / CKA_PUBLIC_EXPONENT (give `hash`); AES-GCM → length
   * from CKA_VALUE_LEN; HMAC → `hash` (and length) from you. Usages default to what the key type
   * allows; `extractable` defaults to CKA_EXTRACTABLE for private/secret keys, true for public keys.
   */
  static async from(
    key: PrivateKey | PublicKey | SecretKey,
    algorithm: AlgorithmInput,
    options: { usages?: KeyUsage[]; extractable?: boolean } = {},
  ): Promise<Pkcs11CryptoKey> {
    const alg = normalize(algorithm);
    const type: KeyType = key instanceof PrivateKey ? 'private' : key instanceof PublicKey ? 'public' : 'secret';
    const a = await key.getAttributes(['keyType', 'ecParams', 'modulus', 'publicExponent', 'valueLen', 'extractable']);
    let full: Pkcs11KeyAlgorithm;
    let allowed: KeyUsage[];
    switch (alg.name) {
      case 'ECDSA': {
        const curve = a.ecParams instanceof Buffer ? curveOfParams(a.ecParams) : undefined;
        if (a.keyType !== 'ec' || !curve || !(curve in CURVE_SIZE)) throw domError('the key is not an EC key on P-256, P-384 or P-521', 'DataError');
        full = { name: 'ECDSA', namedCurve: curve };
        allowed = type === 'private' ? ['sign'] : ['verify'];
        break;
      }
      case 'RSASSA-PKCS1-v1_5':
      case 'RSA-PSS': {
        if (a.keyType !== 'rsa' || !(a.modulus instanceof Buffer) || !(a.publicExponent instanceof Buffer)) throw domError('the key is not an RSA key with a readable modulus', 'DataError');
        let m = a.modulus as Buffer;
        while (m.length > 1 && m[0] === 0) m = m.subarray(1);
        full = { name: alg.name, modulusLength: m.length * 8 - Math.clz32(m[0]) + 24, publicExponent: exponentBytes(a.publicExponent), hash: { name: hashName(alg.hash) } };
        allowed = type === 'private' ? ['sign'] : ['verify'];
        break;
      }
      case 'AES-GCM': {
        if (a.keyType !== 'aes') throw domError('the key is not an AES key', 'DataError');
        full = { name: 'AES-GCM', length: Number(a.valueLen) * 8 };
        allowed = ['encrypt', 'decrypt'];
        break;
      }
      case 'HMAC': {
        const h = hashName(alg.hash);
        full = { name: 'HMAC', hash: { name: h }, length: typeof alg.length === 'number' ? alg.length : typeof a.valueLen === 'number' || typeof a.valueLen === 'bigint' ? Number(a.valueLen) * 8 : 0 };
        allowed = ['sign', 'verify'];
        break;
      }
      default:
        throw domError(`'${alg.name}' is not a key algorithm`, 'NotSupportedError');
    }
    const usages = options.usages ? checkUsages(options.usages, allowed, alg.name) : allowed;
    const extractable = options.extractable ?? (type === 'public' ? true : a.extractable === true);
    return new Pkcs11CryptoKey(key, full, extractable, usages);
  }
}

function cryptoKey(k: unknown): Pkcs11CryptoKey {
  if (!(k instanceof Pkcs11CryptoKey)) throw new TypeError('the key must be a Pkcs11CryptoKey (from this provider)');
  return k;
}

function needUsage(k: Pkcs11CryptoKey, usage: KeyUsage, algName: string): void {
  if (k.algorithm.name !== algName) throw domError(`the key is a ${k.algorithm.name} key, not ${algName}`, 'InvalidAccessError');
  if (!k.usages.includes(usage)) throw domError(`the key's usages do not include '${usage}'`, 'InvalidAccessError');
}

/** The token mechanism (and node verify options) for a sign/verify algorithm on a key. */
function signSpec(alg: { name: string; [k: string]: unknown }, k: Pkcs11CryptoKey): MechanismSpec {
  const ka = k.algorithm;
  switch (alg.name) {
    case 'ECDSA':
      return { name: 'ECDSA', hash: hashName(alg.hash) };
    case 'RSASSA-PKCS1-v1_5':
      return { name: 'RSASSA-PKCS1-v1_5', hash: (ka as { hash: { name: HashName } }).hash.name };
    case 'RSA-PSS': {
      if (typeof alg.saltLength !== 'number' || !Number.isInteger(alg.saltLength) || alg.saltLength < 0) throw new TypeError('RSA-PSS needs saltLength (a non-negative integer)');
      return { name: 'RSA-PSS', hash: (ka as { hash: { name: HashName } }).hash.name, saltLength: alg.saltLength };
    }
    case 'HMAC':
      return { name: 'HMAC', hash: (ka as { hash: { name: HashName } }).hash.name };
    default:
      throw domError(`'${alg.name}' is not a signature algorithm`, 'NotSupportedError');
  }
}

function nodeHash(h: HashName): string {
  return h.replace('-', '').toLowerCase();
}

function nodeVerify(spec: MechanismSpec, key: nodeCrypto.KeyObject, data: Buffer, sig: Buffer): boolean {
  const s = spec as { name: string; hash: HashName; saltLength?: number };
  if (s.name === 'ECDSA') return nodeCrypto.verify(nodeHash(s.hash), data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  if (s.name === 'RSASSA-PKCS1-v1_5') return nodeCrypto.verify(nodeHash(s.hash), data, key, sig);
  if (s.name === 'RSA-PSS') return nodeCrypto.verify(nodeHash(s.hash), data, { key, padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: s.saltLength }, sig);
  throw domError(`'${s.name}' cannot verify with a public key`, 'InvalidAccessError');
}

function keyOps(usages: readonly KeyUsage[]): string[] {
  return [...usages];
}

function jwkAlg(a: Pkcs11KeyAlgorithm): string | undefined {
  if (a.name === 'RSASSA-PKCS1-v1_5') return 'RS' + a.hash.name.slice(4);
  if (a.name === 'RSA-PSS') return 'PS' + a.hash.name.slice(4);
  return undefined;
}

/** The WebCrypto key algorithm of a node public KeyObject for `alg` (DataError when they do not match). */
function algorithmOfKeyObject(ko: nodeCrypto.KeyObject, alg: { name: string; [k: string]: unknown }): Pkcs11KeyAlgorithm {
  const d = ko.asymmetricKeyDetails ?? {};
  if (alg.name === 'ECDSA') {
    const curve = ko.asymmetricKeyType === 'ec' ? NODE_CURVE[d.namedCurve ?? ''] : undefined;
    if (!curve) throw domError('the key is not an EC key on P-256, P-384 or P-521', 'DataError');
    if (alg.namedCurve !== undefined && alg.namedCurve !== curve) throw domError(`the key is on ${curve}, not ${String(alg.namedCurve)}`, 'DataError');
    return { name: 'ECDSA', namedCurve: curve };
  }
  if (alg.name === 'RSASSA-PKCS1-v1_5' || alg.name === 'RSA-PSS') {
    if (ko.asymmetricKeyType !== 'rsa') throw domError('the key is not an RSA key', 'DataError');
    return { name: alg.name, modulusLength: d.modulusLength!, publicExponent: exponentBytes(d.publicExponent!), hash: { name: hashName(alg.hash) } };
  }
  throw domError(`'${alg.name}' has no public keys`, 'NotSupportedError');
}

/** The SubtleCrypto methods over a session's keys. Every method returns a Promise, as in WebCrypto. */
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
   * ECDSA (P-256, P-384, P-521) and RSASSA-PKCS1-v1_5 / RSA-PSS key pairs, AES-GCM and HMAC keys,
   * as token session objects. Private and secret keys are sensitive; `extractable` sets
   * CKA_EXTRACTABLE (the key can be wrapped), but exportKey never exports them.
   */
  async generateKey(algorithm: AlgorithmInput, extractable: boolean, keyUsages: KeyUsage[]): Promise<{ publicKey: Pkcs11CryptoKey; privateKey: Pkcs11CryptoKey } | Pkcs11CryptoKey> {
    const alg = normalize(algorithm);
    const ext = Boolean(extractable);
    switch (alg.name) {
      case 'ECDSA': {
        const usages = checkUsages(keyUsages, ['sign', 'verify'], 'ECDSA');
        const curve = alg.namedCurve;
        if (typeof curve !== 'string' || !(curve in CURVE_SIZE)) throw domError(`namedCurve '${String(curve)}' is not supported (P-256, P-384, P-521)`, 'NotSupportedError');
        const priv = usages.filter((u) => u === 'sign');
        if (priv.length === 0) throw domError('an ECDSA key pair needs the sign usage', 'SyntaxError');
        const { publicKey, privateKey } = await this.session.generateKeyPair(
          { name: 'EC', curve },
          { privateKey: { sign: true, extractable: ext }, publicKey: { verify: true } },
        );
        const a = { name: 'ECDSA' as const, namedCurve: curve };
        return {
          publicKey: new Pkcs11CryptoKey(publicKey, a, true, usages.filter((u) => u === 'verify')),
          privateKey: new Pkcs11CryptoKey(privateKey, a, ext, priv),
        };
      }
      case 'RSASSA-PKCS1-v1_5':
      case 'RSA-PSS': {
        const usages = checkUsages(keyUsages, ['sign', 'verify'], alg.name);
        const priv = usages.filter((u) => u === 'sign');
        if (priv.length === 0) throw domError(`an ${alg.name} key pair needs the sign usage`, 'SyntaxError');
        const modulusLength = alg.modulusLength;
        if (typeof modulusLength !== 'number' || !Number.isInteger(modulusLength) || modulusLength < 1024) throw new TypeError('modulusLength must be an integer of at least 1024');
        const e = exponentNumber(alg.publicExponent);
        const hash = hashName(alg.hash);
        const { publicKey, privateKey } = await this.session.generateKeyPair(
          { name: 'RSA', modulusLength, publicExponent: e },
          { privateKey: { sign: true, decrypt: false, extractable: ext }, publicKey: { verify: true, encrypt: false } },
        );
        const a = { name: alg.name, modulusLength, publicExponent: exponentBytes(e), hash: { name: hash } };
        return {
          publicKey: new Pkcs11CryptoKey(publicKey, a, true, usages.filter((u) => u === 'verify')),
          privateKey: new Pkcs11CryptoKey(privateKey, { ...a, publicExponent: exponentBytes(e) }, ext, priv),
        };
      }
      case 'AES-GCM': {
        const usages = checkUsages(keyUsages, ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'], 'AES-GCM');
        if (usages.length === 0) throw domError('an AES-GCM key needs a usage', 'SyntaxError');
        const length = alg.length;
        if (length !== 128 && length !== 192 && length !== 256) throw domError('AES length must be 128, 192 or 256', 'OperationError');
        const key = await this.session.generateKey(
          { name: 'AES', length },
          { encrypt: usages.includes('encrypt'), decrypt: usages.includes('decrypt'), wrap: usages.includes('wrapKey'), unwrap: usages.includes('unwrapKey'), extractable: ext },
        );
        return new Pkcs11CryptoKey(key, { name: 'AES-GCM', length }, ext, usages);
      }
      case 'HMAC': {
        const usages = checkUsages(keyUsages, ['sign', 'verify'], 'HMAC');
        if (usages.length === 0) throw domError('an HMAC key needs a usage', 'SyntaxError');
        const hash = hashName(alg.hash);
        const length = alg.length === undefined ? HMAC_BLOCK_BITS[hash] : alg.length;
        if (typeof length !== 'number' || !Number.isInteger(length) || length <= 0 || length % 8 !== 0) throw domError('HMAC length must be a positive multiple of 8 (bits)', 'OperationError');
        const key = await this.session.generateKey({ name: 'generic', length: length / 8 }, { sign: usages.includes('sign'), verify: usages.includes('verify'), derive: false, extractable: ext });
        return new Pkcs11CryptoKey(key, { name: 'HMAC', hash: { name: hash }, length }, ext, usages);
      }
      default:
        throw domError(`generateKey: '${alg.name}' is not a key algorithm`, 'NotSupportedError');
    }
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
      if (alg.name === 'ECDSA' && sig.length !== 2 * CURVE_SIZE[(k.algorithm as { namedCurve: string }).namedCurve]) return false;
      return k.key.verify(spec, d, sig);
    }
    throw domError('verify needs a public or secret key', 'InvalidAccessError');
  }

  /** AES-GCM: the result is ciphertext || tag (tagLength bits, default 128), as in WebCrypto. */
  async encrypt(algorithm: AlgorithmInput, key: Pkcs11CryptoKey, data: BufferSource): Promise<ArrayBuffer> {
    const { spec, k } = this.gcm(algorithm, key, 'encrypt');
    return arrayBuffer(await k.encrypt(spec, bytes(data)));
  }

  async decrypt(algorithm: AlgorithmInput, key: Pkcs11CryptoKey, data: BufferSource): Promise<ArrayBuffer> {
    const { spec, k } = this.gcm(algorithm, key, 'decrypt');
    try {
      return arrayBuffer(await k.decrypt(spec, bytes(data)));
    } catch (e) {
      // A wrong tag (CKR_ENCRYPTED_DATA_INVALID …) is WebCrypto's OperationError.
      const err = domError(`AES-GCM decryption failed (${(e as Error).message})`, 'OperationError');
      (err as { cause?: unknown }).cause = e;
      throw err;
    }
  }

  private gcm(algorithm: AlgorithmInput, key: Pkcs11CryptoKey, usage: 'encrypt' | 'decrypt'): { spec: MechanismSpec; k: SecretKey } {
    const alg = normalize(algorithm);
    const k = cryptoKey(key);
    if (alg.name !== 'AES-GCM') throw domError(`${usage}: '${alg.name}' is not supported (AES-GCM)`, 'NotSupportedError');
    needUsage(k, usage, 'AES-GCM');
    if (!(k.key instanceof SecretKey)) throw domError('AES-GCM needs a secret key', 'InvalidAccessError');
    const tagLength = alg.tagLength === undefined ? 128 : alg.tagLength;
    if (![32, 64, 96, 104, 112, 120, 128].includes(tagLength as number)) throw domError(`tagLength ${String(tagLength)} is not valid`, 'OperationError');
    const spec: MechanismSpec = {
      name: 'AES-GCM',
      iv: bytes(alg.iv, 'iv'),
      additionalData: alg.additionalData === undefined ? undefined : bytes(alg.additionalData, 'additionalData'),
      tagLength: tagLength as number,
    };
    return { spec, k: k.key };
  }

  /**
   * Public keys only: 'spki' (an ArrayBuffer), 'jwk' (with key_ops, ext and alg) and 'raw' (an
   * ECDSA key's uncompressed point). Private and secret keys stay on the token: NotSupportedError.
   */
  async exportKey(format: 'spki' | 'jwk' | 'raw' | 'pkcs8', key: Pkcs11CryptoKey): Promise<ArrayBuffer | webcrypto.JsonWebKey> {
    const k = cryptoKey(key);
    if (k.type !== 'public') throw domError(`exportKey: a ${k.type} key stays on the token (only public keys export)`, 'NotSupportedError');
    if (!k.extractable) throw domError('exportKey: the key is not extractable', 'InvalidAccessError');
    const ko = k.keyObject ?? (await exportPublicKey(k.key as PublicKey));
    if (format === 'spki') return arrayBuffer(ko.export({ type: 'spki', format: 'der' }));
    if (format === 'jwk') {
      const jwk: webcrypto.JsonWebKey = { ...ko.export({ format: 'jwk' }), key_ops: keyOps(k.usages), ext: true };
      const a = jwkAlg(k.algorithm);
      if (a) jwk.alg = a;
      return jwk;
    }
    if (format === 'raw' && k.algorithm.name === 'ECDSA') {
      const jwk = ko.export({ format: 'jwk' });
      return arrayBuffer(Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]));
    }
    throw domError(`exportKey: format '${String(format)}' is not supported for ${k.algorithm.name} public keys`, 'NotSupportedError');
  }

  /**
   * Public keys from 'spki', 'jwk' or 'raw' (ECDSA points): token session objects (verify), or
   * KeyObjects with `importPublicKeys: 'node'`. Secret keys from 'raw' (or an 'oct' JWK) for
   * AES-GCM and HMAC: token session objects, sensitive. Private keys: NotSupportedError.
   */
  async importKey(
    format: 'spki' | 'jwk' | 'raw' | 'pkcs8',
    keyData: BufferSource | webcrypto.JsonWebKey,
    algorithm: AlgorithmInput,
    extractable: boolean,
    keyUsages: KeyUsage[],
  ): Promise<Pkcs11CryptoKey> {
    const alg = normalize(algorithm);
    if (alg.name === 'AES-GCM' || alg.name === 'HMAC') return this.importSecret(format, keyData, alg, Boolean(extractable), keyUsages);
    if (alg.name !== 'ECDSA' && alg.name !== 'RSASSA-PKCS1-v1_5' && alg.name !== 'RSA-PSS') throw domError(`importKey: '${alg.name}' is not a key algorithm`, 'NotSupportedError');
    let ko: nodeCrypto.KeyObject;
    try {
      if (format === 'spki') ko = nodeCrypto.createPublicKey({ key: bytes(keyData, 'keyData'), format: 'der', type: 'spki' });
      else if (format === 'jwk') {
        const jwk = keyData as webcrypto.JsonWebKey;
        if (jwk === null || typeof jwk !== 'object' || ArrayBuffer.isView(jwk) || jwk instanceof ArrayBuffer) throw new TypeError('a JWK must be an object');
        if (jwk.d !== undefined) throw domError('importKey: private keys are not imported (keep them on the token)', 'NotSupportedError');
        if (jwk.ext === false && extractable) throw domError('importKey: the JWK says ext: false', 'DataError');
        ko = nodeCrypto.createPublicKey({ key: jwk as nodeCrypto.JsonWebKey, format: 'jwk' });
      } else if (format === 'raw' && alg.name === 'ECDSA') {
        const curve = String(alg.namedCurve);
        const size = CURVE_SIZE[curve];
        const p = bytes(keyData, 'keyData');
        if (!size) throw domError(`namedCurve '${curve}' is not supported`, 'NotSupportedError');
        const point = p[0] === 4 ? p : (nodeCrypto.ECDH.convertKey(p, curve === 'P-256' ? 'prime256v1' : curve === 'P-384' ? 'secp384r1' : 'secp521r1', undefined, undefined, 'uncompressed') as Buffer);
        if (point.length !== 1 + 2 * size) throw domError(`not a ${curve} point`, 'DataError');
        ko = nodeCrypto.createPublicKey({ key: { kty: 'EC', crv: curve, x: point.subarray(1, 1 + size).toString('base64url'), y: point.subarray(1 + size).toString('base64url') }, format: 'jwk' });
      } else throw domError(`importKey: format '${String(format)}' is not supported for ${alg.name} (spki, jwk${alg.name === 'ECDSA' ? ', raw' : ''})`, 'NotSupportedError');
    } catch (e) {
      if (e instanceof DOMException) throw e;
      const err = domError(`importKey: ${(e as Error).message}`, 'DataError');
      (err as { cause?: unknown }).cause = e;
      throw err;
    }
    const a = algorithmOfKeyObject(ko, alg);
    const usages = checkUsages(keyUsages, ['verify'], `an ${alg.name} public key`);
    if (this.options.importPublicKeys === 'node') return new Pkcs11CryptoKey(ko, a, true, usages);
    const pk = await importPublicKey(this.session, ko, { verify: true, encrypt: false });
    // Public keys are always extractable in WebCrypto.
    return new Pkcs11CryptoKey(pk, a, true, usages);
  }

  private async importSecret(format: string, keyData: unknown, alg: { name: string; [k: string]: unknown }, extractable: boolean, keyUsages: KeyUsage[]): Promise<Pkcs11CryptoKey> {
    let value: Buffer;
    if (format === 'raw') value = Buffer.from(bytes(keyData, 'keyData'));
    else if (format === 'jwk') {
      const jwk = keyData as webcrypto.JsonWebKey;
      if (!jwk || jwk.kty !== 'oct' || typeof jwk.k !== 'string') throw domError("importKey: a secret JWK needs kty 'oct' and k", 'DataError');
      value = Buffer.from(jwk.k, 'base64url');
    } else throw domError(`importKey: format '${format}' is not supported for ${alg.name} (raw, jwk)`, 'NotSupportedError');
    const ko = nodeCrypto.createSecretKey(value);
    if (alg.name === 'AES-GCM') {
      const usages = checkUsages(keyUsages, ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'], 'AES-GCM');
      if (![16, 24, 32].includes(value.length)) throw domError('an AES key is 16, 24 or 32 bytes', 'DataError');
      const t: TemplateObject = { keyType: 'aes', encrypt: usages.includes('encrypt'), decrypt: usages.includes('decrypt'), wrap: usages.includes('wrapKey'), unwrap: usages.includes('unwrapKey'), extractable };
      const key = await importSecretKey(this.session, ko, t);
      return new Pkcs11CryptoKey(key, { name: 'AES-GCM', length: value.length * 8 }, extractable, usages);
    }
    const usages = checkUsages(keyUsages, ['sign', 'verify'], 'HMAC');
    const hash = hashName(alg.hash);
    if (value.length === 0) throw domError('an HMAC key cannot be empty', 'DataError');
    const key = await importSecretKey(this.session, ko, { keyType: 'genericSecret', sign: usages.includes('sign'), verify: usages.includes('verify'), derive: false, extractable });
    return new Pkcs11CryptoKey(key, { name: 'HMAC', hash: { name: hash }, length: value.length * 8 }, extractable, usages);
  }

  async deriveBits(): Promise<ArrayBuffer> {
    throw domError('deriveBits is not supported by the PKCS#11 provider yet', 'NotSupportedError');
  }
  async deriveKey(): Promise<Pkcs11CryptoKey> {
    throw domError('deriveKey is not supported by the PKCS#11 provider yet', 'NotSupportedError');
  }
  async wrapKey(): Promise<ArrayBuffer> {
    throw domError('wrapKey is not supported by the PKCS#11 provider yet', 'NotSupportedError');
  }
  async unwrapKey(): Promise<Pkcs11CryptoKey> {
    throw domError('unwrapKey is not supported by the PKCS#11 provider yet', 'NotSupportedError');
  }
}

/**
 * A `Crypto`-shaped object over a session: `subtle` runs on the token; `getRandomValues` and
 * `randomUUID` use node:crypto, because WebCrypto's getRandomValues is synchronous and the
 * token's RNG (C_GenerateRandom, `session.random(n)`) is not.
 */
export class Pkcs11Crypto {
  readonly subtle: Pkcs11SubtleCrypto;

  constructor(
    readonly session: Session,
    options: Pkcs11CryptoOptions = {},
  ) {
    this.subtle = new Pkcs11SubtleCrypto(session, options);
  }

  get [Symbol.toStringTag](): string {
    return 'Crypto';
  }

  /** node:crypto's CSPRNG (synchronous, so not the token's); at most 65536 bytes, as in WebCrypto. */
  getRandomValues<T extends NodeJS.ArrayBufferView | null>(array: T): T {
    return nodeCrypto.webcrypto.getRandomValues(array as never) as T;
  }

  randomUUID(): string {
    return nodeCrypto.randomUUID();
  }
}
