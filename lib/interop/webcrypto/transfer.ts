// importKey / exportKey. Public keys come and go as spki, jwk or raw (EC points, Ed25519 bytes)
// through node:crypto's own encoders. Private keys (pkcs8, or a JWK with d) and secret keys (raw,
// or an 'oct' JWK) are imported into the token as sensitive session objects; they never export:
// their bytes leave the token only wrapped (wrapKey).
import * as nodeCrypto from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import type { Session } from '../../session/session';
import { PublicKey } from '../../objects/keys';
import { exportPublicKey, importPrivateKey, importPublicKey, importSecretKey } from '../keyobject';
import {
  Algorithm,
  allowedUsages,
  arrayBuffer,
  bytes,
  checkUsages,
  CURVE_SIZE,
  domError,
  hashName,
  isAes,
  isRsa,
  KeyUsage,
  newKeyId,
  Pkcs11KeyAlgorithm,
  usageTemplate,
} from './algorithms';
import { algorithmOfKeyObject, Pkcs11CryptoKey } from './key';

export type KeyFormat = 'spki' | 'pkcs8' | 'jwk' | 'raw';
export type JsonWebKey = webcrypto.JsonWebKey;

const NODE_EC_CURVE: Record<string, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };

function jwkAlg(a: Pkcs11KeyAlgorithm): string | undefined {
  if (a.name === 'RSASSA-PKCS1-v1_5') return 'RS' + a.hash.name.slice(4);
  if (a.name === 'RSA-PSS') return 'PS' + a.hash.name.slice(4);
  if (a.name === 'RSA-OAEP') return a.hash.name === 'SHA-1' ? 'RSA-OAEP' : 'RSA-OAEP-' + a.hash.name.slice(4);
  if (a.name === 'Ed25519') return 'Ed25519';
  return undefined;
}

/** Public keys only: 'spki', 'jwk' (with key_ops, ext and alg) and 'raw' (EC points, Ed25519 bytes). */
export async function exportKey(format: unknown, k: Pkcs11CryptoKey): Promise<ArrayBuffer | JsonWebKey> {
  if (k.type !== 'public') throw domError(`exportKey: a ${k.type} key stays on the token (only public keys export; wrapKey exports ${k.type} keys encrypted)`, 'NotSupportedError');
  if (!k.extractable) throw domError('exportKey: the key is not extractable', 'InvalidAccessError');
  const ko = k.keyObject ?? (await exportPublicKey(k.key as PublicKey));
  if (format === 'spki') return arrayBuffer(ko.export({ type: 'spki', format: 'der' }));
  if (format === 'jwk') {
    const jwk: JsonWebKey = { ...ko.export({ format: 'jwk' }), key_ops: [...k.usages], ext: true };
    const a = jwkAlg(k.algorithm);
    if (a) jwk.alg = a;
    return jwk;
  }
  if (format === 'raw' && (k.algorithm.name === 'ECDSA' || k.algorithm.name === 'ECDH')) {
    const jwk = ko.export({ format: 'jwk' });
    return arrayBuffer(Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]));
  }
  if (format === 'raw' && k.algorithm.name === 'Ed25519') return arrayBuffer(Buffer.from(ko.export({ format: 'jwk' }).x!, 'base64url'));
  throw domError(`exportKey: format '${String(format)}' is not supported for ${k.algorithm.name} public keys`, 'NotSupportedError');
}

function jwkArg(keyData: unknown, extractable: boolean, alg: string): JsonWebKey {
  const jwk = keyData as JsonWebKey;
  if (jwk === null || typeof jwk !== 'object' || ArrayBuffer.isView(jwk) || jwk instanceof ArrayBuffer) throw new TypeError('a JWK must be an object');
  if (jwk.ext === false && extractable) throw domError('importKey: the JWK says ext: false', 'DataError');
  // An RSA JWK's alg must name the same scheme (RS*, PS*, RSA-OAEP*); the hash is the caller's algorithm's.
  const scheme = JWK_SCHEME[alg];
  if (scheme !== undefined && jwk.alg !== undefined && !jwk.alg.startsWith(scheme))
    throw domError(`importKey: the JWK's alg '${jwk.alg}' does not match ${alg} (${scheme}…)`, 'DataError');
  return jwk;
}

const JWK_SCHEME: Record<string, string> = { 'RSASSA-PKCS1-v1_5': 'RS', 'RSA-PSS': 'PS', 'RSA-OAEP': 'RSA-OAEP' };

/** A node KeyObject (public or private) for asymmetric key data in `format`. */
function asymmetricKeyObject(format: unknown, keyData: unknown, alg: Algorithm, extractable: boolean): nodeCrypto.KeyObject {
  try {
    if (format === 'spki') return nodeCrypto.createPublicKey({ key: bytes(keyData, 'keyData'), format: 'der', type: 'spki' });
    if (format === 'pkcs8') return nodeCrypto.createPrivateKey({ key: bytes(keyData, 'keyData'), format: 'der', type: 'pkcs8' });
    if (format === 'jwk') {
      const jwk = jwkArg(keyData, extractable, alg.name);
      const input = { key: jwk as nodeCrypto.JsonWebKey, format: 'jwk' as const };
      return jwk.d !== undefined ? nodeCrypto.createPrivateKey(input) : nodeCrypto.createPublicKey(input);
    }
    if (format === 'raw' && (alg.name === 'ECDSA' || alg.name === 'ECDH')) {
      const curve = String(alg.namedCurve);
      const size = CURVE_SIZE[curve];
      if (!size) throw domError(`namedCurve '${curve}' is not supported`, 'NotSupportedError');
      const p = bytes(keyData, 'keyData');
      const point = p[0] === 4 ? p : (nodeCrypto.ECDH.convertKey(p, NODE_EC_CURVE[curve], undefined, undefined, 'uncompressed') as Buffer);
      if (point.length !== 1 + 2 * size) throw domError(`not a ${curve} point`, 'DataError');
      return nodeCrypto.createPublicKey({
        key: { kty: 'EC', crv: curve, x: point.subarray(1, 1 + size).toString('base64url'), y: point.subarray(1 + size).toString('base64url') },
        format: 'jwk',
      });
    }
    if (format === 'raw' && alg.name === 'Ed25519') {
      const p = bytes(keyData, 'keyData');
      if (p.length !== 32) throw domError('an Ed25519 public key is 32 bytes', 'DataError');
      return nodeCrypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: p.toString('base64url') }, format: 'jwk' });
    }
  } catch (e) {
    if (e instanceof DOMException || e instanceof TypeError) throw e;
    throw domError(`importKey: ${(e as Error).message}`, 'DataError', e);
  }
  const formats = alg.name === 'ECDSA' || alg.name === 'ECDH' || alg.name === 'Ed25519' ? 'spki, pkcs8, jwk, raw' : 'spki, pkcs8, jwk';
  throw domError(`importKey: format '${String(format)}' is not supported for ${alg.name} (${formats})`, 'NotSupportedError');
}

export interface ImportOptions {
  importPublicKeys?: 'token' | 'node';
}

export async function importKey(
  session: Session,
  options: ImportOptions,
  format: unknown,
  keyData: unknown,
  alg: Algorithm,
  extractable: boolean,
  keyUsages: unknown,
): Promise<Pkcs11CryptoKey> {
  if (isAes(alg.name) || alg.name === 'HMAC') return importSecret(session, format, keyData, alg, extractable, keyUsages);
  if (!isRsa(alg.name) && alg.name !== 'ECDSA' && alg.name !== 'ECDH' && alg.name !== 'Ed25519')
    throw domError(`importKey: '${alg.name}' is not a key algorithm`, 'NotSupportedError');
  const ko = asymmetricKeyObject(format, keyData, alg, extractable);
  const type = ko.type === 'private' ? 'private' : 'public';
  const a = algorithmOfKeyObject(ko, alg);
  const usages = checkUsages(keyUsages, allowedUsages(alg.name, type), `an ${alg.name} ${type} key`);
  const keyType = ko.asymmetricKeyType === 'rsa' ? 'rsa' : ko.asymmetricKeyType === 'ec' ? 'ec' : 'ecEdwards';
  if (type === 'private') {
    if (usages.length === 0) throw domError('importKey: a private key needs a usage', 'SyntaxError');
    const pk = await importPrivateKey(session, ko, { id: newKeyId(), extractable, ...usageTemplate('private', keyType, usages) });
    return new Pkcs11CryptoKey(pk, a, extractable, usages);
  }
  if (options.importPublicKeys === 'node') return new Pkcs11CryptoKey(ko, a, true, usages);
  const pk = await importPublicKey(session, ko, usageTemplate('public', keyType, usages));
  // Public keys are always extractable in WebCrypto.
  return new Pkcs11CryptoKey(pk, a, true, usages);
}

async function importSecret(session: Session, format: unknown, keyData: unknown, alg: Algorithm, extractable: boolean, keyUsages: unknown): Promise<Pkcs11CryptoKey> {
  let value: Buffer;
  if (format === 'raw') value = Buffer.from(bytes(keyData, 'keyData'));
  else if (format === 'jwk') {
    const jwk = jwkArg(keyData, extractable, alg.name);
    if (jwk.kty !== 'oct' || typeof jwk.k !== 'string') throw domError("importKey: a secret JWK needs kty 'oct' and k", 'DataError');
    value = Buffer.from(jwk.k, 'base64url');
  } else throw domError(`importKey: format '${String(format)}' is not supported for ${alg.name} (raw, jwk)`, 'NotSupportedError');
  const usages: KeyUsage[] = checkUsages(keyUsages, allowedUsages(alg.name, 'secret'), alg.name);
  if (usages.length === 0) throw domError(`importKey: an ${alg.name} key needs a usage`, 'SyntaxError');
  const ko = nodeCrypto.createSecretKey(value);
  if (alg.name === 'HMAC') {
    const hash = hashName(alg.hash);
    if (value.length === 0) throw domError('an HMAC key cannot be empty', 'DataError');
    const key = await importSecretKey(session, ko, { keyType: 'genericSecret', id: newKeyId(), extractable, ...usageTemplate('secret', 'genericSecret', usages) });
    return new Pkcs11CryptoKey(key, { name: 'HMAC', hash: { name: hash }, length: value.length * 8 }, extractable, usages);
  }
  if (![16, 24, 32].includes(value.length)) throw domError('an AES key is 16, 24 or 32 bytes', 'DataError');
  const key = await importSecretKey(session, ko, { keyType: 'aes', id: newKeyId(), extractable, ...usageTemplate('secret', 'aes', usages) });
  return new Pkcs11CryptoKey(key, { name: alg.name as 'AES-GCM', length: value.length * 8 }, extractable, usages);
}
