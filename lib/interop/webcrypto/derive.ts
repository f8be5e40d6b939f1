// deriveBits / deriveKey with ECDH (CKM_ECDH1_DERIVE, no KDF): Z stays on the token for deriveKey
// whenever the module can produce the bits WebCrypto asks for.
//
// WebCrypto keeps the leftmost `length` bits of Z. PKCS#11 leaves the side to the module when
// CKA_VALUE_LEN is shorter than Z (SoftHSM 2.6 keeps the rightmost bytes), so the side is probed
// once per slot with throw-away keys. A shorter key from a module that truncates on the other side
// is derived as Z, cut in Node and imported (Z passes through this process, as deriveBits's does).
import * as nodeCrypto from 'node:crypto';
import type { Session } from '../../session/session';
import { PrivateKey, PublicKey, SecretKey } from '../../objects/keys';
import type { EcdhSpec } from '../../mechanisms/kdf';
import { importSecretKey } from '../keyobject';
import { Algorithm, allowedUsages, checkUsages, CURVE_SIZE, domError, hashName, HMAC_BLOCK_BITS, isAes, newKeyId, Pkcs11KeyAlgorithm, usageTemplate } from './algorithms';
import { needUsage, Pkcs11CryptoKey } from './key';
import { webCryptoError } from './cipher';

type Truncation = 'left' | 'right' | 'unknown';
const truncation = new WeakMap<object, Promise<Truncation>>();

/** @internal Which bytes of Z the module keeps when CKA_VALUE_LEN is shorter than Z (probed once per slot). */
export function truncationOf(session: Session): Promise<Truncation> {
  let p = truncation.get(session.slot);
  if (!p) {
    p = probeTruncation(session).catch(() => 'unknown' as const);
    truncation.set(session.slot, p);
  }
  return p;
}

async function probeTruncation(session: Session): Promise<Truncation> {
  const peer = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const { publicKey, privateKey } = await session.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { sign: false, derive: true }, publicKey: { verify: false } });
  const made: SecretKey[] = [];
  try {
    const value = async (valueLen: number): Promise<Buffer> => {
      const k = await privateKey.derive({ name: 'ECDH', publicKey: peer }, { keyType: 'genericSecret', valueLen, sensitive: false, extractable: true });
      made.push(k);
      return (await k.getAttributes(['value'])).value as Buffer;
    };
    const full = await value(32);
    const half = await value(16);
    if (half.equals(full.subarray(0, 16))) return 'left';
    if (half.equals(full.subarray(16))) return 'right';
    return 'unknown';
  } finally {
    for (const k of made) await k.destroy().catch(() => undefined);
    await privateKey.destroy().catch(() => undefined);
    await publicKey.destroy().catch(() => undefined);
  }
}

// node's CryptoKey class is not a global in every context (jest's sandbox, Node 18): check the
// brand, then let KeyObject.from (which takes only real CryptoKeys) decide.
function isNodeCryptoKey(k: unknown): k is nodeCrypto.webcrypto.CryptoKey {
  return typeof k === 'object' && k !== null && Object.prototype.toString.call(k) === '[object CryptoKey]' && !(k instanceof Pkcs11CryptoKey);
}

/** The peer's public key for ECDH: a Pkcs11CryptoKey (token or KeyObject) or a node CryptoKey. */
function peerOf(alg: Algorithm, base: Pkcs11CryptoKey): EcdhSpec['publicKey'] {
  const pub = alg.public;
  let curve: string | undefined;
  let key: EcdhSpec['publicKey'];
  if (pub instanceof Pkcs11CryptoKey) {
    if (pub.type !== 'public' || pub.algorithm.name !== 'ECDH') throw domError("ECDH: 'public' must be an ECDH public key", 'InvalidAccessError');
    curve = (pub.algorithm as { namedCurve: string }).namedCurve;
    key = pub.keyObject ?? (pub.key as PublicKey);
  } else if (isNodeCryptoKey(pub)) {
    if (pub.type !== 'public' || pub.algorithm.name !== 'ECDH') throw domError("ECDH: 'public' must be an ECDH public key", 'InvalidAccessError');
    curve = (pub.algorithm as { namedCurve?: string }).namedCurve;
    key = nodeCrypto.KeyObject.from(pub);
  } else {
    throw new TypeError("ECDH needs 'public': the peer's public key (a Pkcs11CryptoKey or a CryptoKey)");
  }
  if (curve !== (base.algorithm as { namedCurve: string }).namedCurve) throw domError('ECDH: the keys are on different curves', 'InvalidAccessError');
  return key;
}

function ecdhBase(alg: Algorithm, baseKey: Pkcs11CryptoKey, usage: 'deriveBits' | 'deriveKey'): { priv: PrivateKey; size: number } {
  if (alg.name !== 'ECDH') throw domError(`${usage}: '${alg.name}' is not supported (ECDH)`, 'NotSupportedError');
  needUsage(baseKey, usage, 'ECDH');
  if (!(baseKey.key instanceof PrivateKey)) throw domError(`${usage} needs an ECDH private key`, 'InvalidAccessError');
  return { priv: baseKey.key, size: CURVE_SIZE[(baseKey.algorithm as { namedCurve: string }).namedCurve] };
}

/** Z (the whole shared secret), read from a non-sensitive session key that is destroyed at once. */
async function sharedSecret(priv: PrivateKey, peer: EcdhSpec['publicKey'], size: number): Promise<Buffer> {
  let k: SecretKey | undefined;
  try {
    k = await priv.derive({ name: 'ECDH', publicKey: peer }, { keyType: 'genericSecret', valueLen: size, sensitive: false, extractable: true });
    return Buffer.from((await k.getAttributes(['value'])).value as Buffer);
  } catch (e) {
    throw webCryptoError(e, 'ECDH');
  } finally {
    if (k) await k.destroy().catch(() => undefined);
  }
}

export async function deriveBits(alg: Algorithm, baseKey: Pkcs11CryptoKey, length: unknown): Promise<ArrayBuffer> {
  const { priv, size } = ecdhBase(alg, baseKey, 'deriveBits');
  const peer = peerOf(alg, baseKey);
  const bits = length === null || length === undefined ? size * 8 : length;
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 0) throw new TypeError('length must be a non-negative integer or null');
  if (bits > size * 8) throw domError(`length ${bits} is longer than the shared secret (${size * 8} bits)`, 'OperationError');
  const z = await sharedSecret(priv, peer, size);
  const n = Math.ceil(bits / 8);
  const out = new ArrayBuffer(n);
  const view = new Uint8Array(out);
  view.set(z.subarray(0, n));
  if (bits % 8) view[n - 1] &= 0xff << (8 - (bits % 8));
  z.fill(0);
  return out;
}

/** AES-* or HMAC keys from ECDH; on the token unless the module truncates Z on the wrong side. */
export async function deriveKey(
  session: Session,
  alg: Algorithm,
  baseKey: Pkcs11CryptoKey,
  derived: Algorithm,
  extractable: boolean,
  keyUsages: unknown,
): Promise<Pkcs11CryptoKey> {
  const { priv, size } = ecdhBase(alg, baseKey, 'deriveKey');
  const peer = peerOf(alg, baseKey);
  let a: Pkcs11KeyAlgorithm;
  let keyType: 'aes' | 'genericSecret';
  if (isAes(derived.name)) {
    const length = derived.length;
    if (length !== 128 && length !== 192 && length !== 256) throw domError('AES length must be 128, 192 or 256', 'OperationError');
    a = { name: derived.name, length };
    keyType = 'aes';
  } else if (derived.name === 'HMAC') {
    const hash = hashName(derived.hash);
    const length = derived.length === undefined ? HMAC_BLOCK_BITS[hash] : derived.length;
    if (typeof length !== 'number' || !Number.isInteger(length) || length <= 0 || length % 8 !== 0)
      throw domError('HMAC length must be a positive multiple of 8 (bits)', 'OperationError');
    a = { name: 'HMAC', hash: { name: hash }, length };
    keyType = 'genericSecret';
  } else {
    throw domError(`deriveKey: cannot derive an '${derived.name}' key (AES-GCM, AES-CBC, AES-CTR, AES-KW, HMAC)`, 'NotSupportedError');
  }
  const usages = checkUsages(keyUsages, allowedUsages(derived.name, 'secret'), derived.name);
  if (usages.length === 0) throw domError(`deriveKey: an ${derived.name} key needs a usage`, 'SyntaxError');
  const bytesWanted = a.length / 8;
  if (bytesWanted > size) throw domError(`a ${a.length}-bit key is longer than the shared secret (${size * 8} bits)`, 'OperationError');
  const template = { id: newKeyId(), extractable, ...usageTemplate('secret', keyType, usages) };
  let key: SecretKey;
  if (bytesWanted === size || (await truncationOf(session)) === 'left') {
    try {
      key = await priv.derive({ name: 'ECDH', publicKey: peer }, { ...template, keyType, valueLen: bytesWanted });
    } catch (e) {
      throw webCryptoError(e, 'ECDH');
    }
  } else {
    const z = await sharedSecret(priv, peer, size);
    try {
      key = await importSecretKey(session, nodeCrypto.createSecretKey(z.subarray(0, bytesWanted)), { ...template, keyType });
    } finally {
      z.fill(0);
    }
  }
  return new Pkcs11CryptoKey(key, a, extractable, usages);
}
