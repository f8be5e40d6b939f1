// generateKey: key pairs (ECDSA, ECDH, Ed25519, RSA) and secret keys (AES, HMAC) as token
// session objects. Pairs share a fresh CKA_ID, so keyStorage and certificates can pair them up.
import type { Session } from '../../session/session';
import type { KeyPairSpec } from '../../objects/generate';
import {
  Algorithm,
  allowedUsages,
  checkUsages,
  CURVE_SIZE,
  domError,
  exponentBytes,
  exponentNumber,
  hashName,
  HMAC_BLOCK_BITS,
  isAes,
  isRsa,
  KeyUsage,
  newKeyId,
  Pkcs11KeyAlgorithm,
  usageTemplate,
} from './algorithms';
import { Pkcs11CryptoKey } from './key';

export type GeneratedKey = { publicKey: Pkcs11CryptoKey; privateKey: Pkcs11CryptoKey } | Pkcs11CryptoKey;

export async function generateKey(session: Session, alg: Algorithm, extractable: boolean, keyUsages: unknown): Promise<GeneratedKey> {
  if (isAes(alg.name) || alg.name === 'HMAC') return generateSecret(session, alg, extractable, keyUsages);
  const priv = allowedUsages(alg.name, 'private');
  const pub = allowedUsages(alg.name, 'public');
  if (priv.length === 0) throw domError(`generateKey: '${alg.name}' is not a key algorithm`, 'NotSupportedError');
  const usages = checkUsages(keyUsages, [...priv, ...pub], alg.name);
  const privUsages = usages.filter((u) => priv.includes(u));
  const pubUsages = usages.filter((u) => pub.includes(u));
  if (privUsages.length === 0) throw domError(`an ${alg.name} key pair needs a private key usage (${priv.join(', ')})`, 'SyntaxError');
  let spec: KeyPairSpec;
  let a: Pkcs11KeyAlgorithm;
  let keyType: string;
  if (alg.name === 'ECDSA' || alg.name === 'ECDH') {
    const curve = alg.namedCurve;
    if (typeof curve !== 'string' || !(curve in CURVE_SIZE)) throw domError(`namedCurve '${String(curve)}' is not supported (P-256, P-384, P-521)`, 'NotSupportedError');
    spec = { name: 'EC', curve };
    a = { name: alg.name, namedCurve: curve };
    keyType = 'ec';
  } else if (alg.name === 'Ed25519') {
    spec = { name: 'Ed25519' };
    a = { name: 'Ed25519' };
    keyType = 'ecEdwards';
  } else if (isRsa(alg.name)) {
    const modulusLength = alg.modulusLength;
    if (typeof modulusLength !== 'number' || !Number.isInteger(modulusLength) || modulusLength < 1024) throw new TypeError('modulusLength must be an integer of at least 1024');
    const e = exponentNumber(alg.publicExponent);
    spec = { name: 'RSA', modulusLength, publicExponent: e };
    a = { name: alg.name, modulusLength, publicExponent: exponentBytes(e), hash: { name: hashName(alg.hash) } };
    keyType = 'rsa';
  } else {
    throw domError(`generateKey: '${alg.name}' is not a key algorithm`, 'NotSupportedError');
  }
  const id = newKeyId();
  const { publicKey, privateKey } = await session.generateKeyPair(spec, {
    privateKey: { id, extractable, ...usageTemplate('private', keyType, privUsages) },
    publicKey: { id, ...usageTemplate('public', keyType, pubUsages) },
  });
  // Each key gets its own copy of the algorithm (publicExponent is a mutable Uint8Array).
  const copy = (): Pkcs11KeyAlgorithm => ('publicExponent' in a ? { ...a, publicExponent: new Uint8Array(a.publicExponent) } : { ...a });
  return {
    publicKey: new Pkcs11CryptoKey(publicKey, copy(), true, pubUsages),
    privateKey: new Pkcs11CryptoKey(privateKey, copy(), extractable, privUsages),
  };
}

async function generateSecret(session: Session, alg: Algorithm, extractable: boolean, keyUsages: unknown): Promise<Pkcs11CryptoKey> {
  const usages: KeyUsage[] = checkUsages(keyUsages, allowedUsages(alg.name, 'secret'), alg.name);
  if (usages.length === 0) throw domError(`an ${alg.name} key needs a usage`, 'SyntaxError');
  const id = newKeyId();
  if (alg.name === 'HMAC') {
    const hash = hashName(alg.hash);
    const length = alg.length === undefined ? HMAC_BLOCK_BITS[hash] : alg.length;
    if (typeof length !== 'number' || !Number.isInteger(length) || length <= 0 || length % 8 !== 0)
      throw domError('HMAC length must be a positive multiple of 8 (bits)', 'OperationError');
    const key = await session.generateKey({ name: 'generic', length: length / 8 }, { id, extractable, ...usageTemplate('secret', 'genericSecret', usages) });
    return new Pkcs11CryptoKey(key, { name: 'HMAC', hash: { name: hash }, length }, extractable, usages);
  }
  const length = alg.length;
  if (length !== 128 && length !== 192 && length !== 256) throw domError('AES length must be 128, 192 or 256', 'OperationError');
  const key = await session.generateKey({ name: 'AES', length }, { id, extractable, ...usageTemplate('secret', 'aes', usages) });
  return new Pkcs11CryptoKey(key, { name: alg.name as 'AES-GCM', length }, extractable, usages);
}
