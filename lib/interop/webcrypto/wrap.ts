// wrapKey / unwrapKey. Secret ('raw') and private ('pkcs8') keys are wrapped by the token itself
// (C_WrapKey / C_UnwrapKey), so their bytes never reach this process; PKCS#11 wraps a private key
// as its PKCS#8 PrivateKeyInfo, which is what WebCrypto's 'pkcs8' wrapping holds. Public keys
// ('spki', 'jwk', 'raw') are exported and then encrypted, as WebCrypto does.
import type { Session } from '../../session/session';
import { PrivateKey, PublicKey, SecretKey, UnwrapTemplate } from '../../objects/keys';
import type { WrapSpec } from '../../mechanisms/kdf';
import { Algorithm, allowedUsages, arrayBuffer, checkUsages, domError, isAes, isRsa, keyTypeOf, KeyUsage, newKeyId, usageTemplate } from './algorithms';
import { cryptoKey, Pkcs11CryptoKey } from './key';
import { cipherSpec, decrypt, encrypt, webCryptoError } from './cipher';
import { exportKey, importKey, ImportOptions } from './transfer';

const TOKEN_FORMAT: Record<string, 'secret' | 'private'> = { raw: 'secret', pkcs8: 'private' };

function wrapSpec(alg: Algorithm, k: Pkcs11CryptoKey, usage: 'wrapKey' | 'unwrapKey'): WrapSpec {
  if (alg.name === 'AES-CTR') throw domError('AES-CTR cannot wrap keys on a PKCS#11 token (AES-KW, AES-GCM, AES-CBC, RSA-OAEP)', 'NotSupportedError');
  // AES-KW, AES-GCM, AES-CBC and RSA-OAEP have the same shape as mechanisms and as wrap specs.
  return cipherSpec(alg, k, usage) as WrapSpec;
}

export async function wrapKey(format: unknown, key: unknown, wrappingKey: unknown, alg: Algorithm): Promise<ArrayBuffer> {
  const k = cryptoKey(key);
  const w = cryptoKey(wrappingKey, 'wrapping key');
  if (typeof format !== 'string' || !['raw', 'pkcs8', 'spki', 'jwk'].includes(format)) throw new TypeError(`wrapKey: unknown format '${String(format)}'`);
  if (k.type === 'public') {
    const exported = await exportKey(format, k);
    const data = exported instanceof ArrayBuffer ? Buffer.from(exported) : Buffer.from(JSON.stringify(exported));
    if (alg.name === 'AES-KW') throw domError('AES-KW wraps secret and private keys on the token; wrap a public key with AES-GCM, AES-CBC or RSA-OAEP', 'NotSupportedError');
    // The token encrypts the exported key, which needs CKA_ENCRYPT: wrapKey-only keys have CKA_WRAP
    // alone, and this provider does not add CKA_ENCRYPT/CKA_DECRYPT to wrapping keys (a key that can
    // both unwrap and decrypt lets anyone read the keys it wrapped).
    if (!w.usages.includes('encrypt'))
      throw domError("wrapKey: wrapping a public key encrypts it on the token, so the wrapping key needs the 'encrypt' usage too", 'InvalidAccessError');
    return arrayBuffer(await encrypt(alg, w, data, 'wrapKey'));
  }
  if (TOKEN_FORMAT[format] !== k.type)
    throw domError(`wrapKey: a ${k.type} key wraps as '${k.type === 'secret' ? 'raw' : 'pkcs8'}' (the token does not export '${format}')`, 'NotSupportedError');
  if (!k.extractable) throw domError('wrapKey: the key is not extractable', 'InvalidAccessError');
  const spec = wrapSpec(alg, w, 'wrapKey');
  if (!(w.key instanceof SecretKey) && !(w.key instanceof PublicKey)) throw domError('wrapKey needs a secret or public wrapping key on the token', 'InvalidAccessError');
  try {
    return arrayBuffer(await w.key.wrap(spec, k.key as PrivateKey | SecretKey));
  } catch (e) {
    throw webCryptoError(e, `${alg.name} key wrapping`);
  }
}

export async function unwrapKey(
  session: Session,
  options: ImportOptions,
  format: unknown,
  wrapped: Buffer,
  unwrappingKey: unknown,
  alg: Algorithm,
  keyAlg: Algorithm,
  extractable: boolean,
  keyUsages: unknown,
): Promise<Pkcs11CryptoKey> {
  const u = cryptoKey(unwrappingKey, 'unwrapping key');
  if (typeof format !== 'string' || !['raw', 'pkcs8', 'spki', 'jwk'].includes(format)) throw new TypeError(`unwrapKey: unknown format '${String(format)}'`);
  const secretAlg = isAes(keyAlg.name) || keyAlg.name === 'HMAC';
  const onToken = (format === 'raw' && secretAlg) || format === 'pkcs8';
  if (!onToken) {
    if (alg.name === 'AES-KW') throw domError("AES-KW unwraps 'raw' secret and 'pkcs8' private keys on the token", 'NotSupportedError');
    if (!u.usages.includes('decrypt'))
      throw domError(`unwrapKey: a '${format}' key is decrypted on the token, so the unwrapping key needs the 'decrypt' usage too`, 'InvalidAccessError');
    const plain = await decrypt(alg, u, wrapped, 'unwrapKey');
    const data = format === 'jwk' ? (JSON.parse(plain.toString('utf8')) as unknown) : plain;
    return importKey(session, options, format, data, keyAlg, extractable, keyUsages);
  }
  const type = format === 'raw' ? 'secret' : 'private';
  if (type === 'private' && !isRsa(keyAlg.name) && !['ECDSA', 'ECDH', 'Ed25519'].includes(keyAlg.name))
    throw domError(`unwrapKey: '${keyAlg.name}' has no private keys`, 'NotSupportedError');
  const usages: KeyUsage[] = checkUsages(keyUsages, allowedUsages(keyAlg.name, type), `an ${keyAlg.name} ${type} key`);
  if (usages.length === 0) throw domError(`unwrapKey: an ${keyAlg.name} key needs a usage`, 'SyntaxError');
  const spec = wrapSpec(alg, u, 'unwrapKey');
  if (!(u.key instanceof SecretKey) && !(u.key instanceof PrivateKey)) throw domError('unwrapKey needs a secret or private unwrapping key on the token', 'InvalidAccessError');
  const keyType = keyTypeOf(keyAlg.name);
  const template: UnwrapTemplate = { class: type === 'secret' ? 'secretKey' : 'privateKey', keyType, id: newKeyId(), extractable, ...usageTemplate(type, keyType, usages) };
  let key: SecretKey | PrivateKey;
  try {
    key = (await u.key.unwrap(spec, wrapped, template)) as SecretKey | PrivateKey;
  } catch (e) {
    throw webCryptoError(e, `${alg.name} key unwrapping`, true);
  }
  try {
    const k = await Pkcs11CryptoKey.from(key, keyAlg, { usages, extractable });
    if (!('length' in k.algorithm) || k.algorithm.length !== 0 || !isAes(keyAlg.name)) return k;
    // SoftHSM leaves CKA_VALUE_LEN 0 on unwrapped AES keys: take the caller's length, or AES-KW's
    // (the wrapping is 8 bytes longer than the key).
    const length = typeof keyAlg.length === 'number' ? keyAlg.length : alg.name === 'AES-KW' ? (wrapped.length - 8) * 8 : 0;
    return new Pkcs11CryptoKey(key, { name: k.algorithm.name as 'AES-GCM', length }, k.extractable, k.usages);
  } catch (e) {
    // The unwrapped key is not what keyAlg says (an EC key for RSA-PSS …): do not leave it behind.
    await key.destroy().catch(() => undefined);
    throw e;
  }
}
