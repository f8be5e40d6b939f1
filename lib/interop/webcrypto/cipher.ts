// encrypt / decrypt (and the mechanisms wrapKey / unwrapKey use): AES-GCM, AES-CBC (PKCS#7
// padding, CKM_AES_CBC_PAD), AES-CTR, AES-KW (wrapping only) and RSA-OAEP, each as WebCrypto
// defines its parameters and output.
import * as nodeCrypto from 'node:crypto';
import type { MechanismSpec } from '../../mechanisms';
import { PrivateKey, PublicKey, SecretKey } from '../../objects/keys';
import { Pkcs11Error } from '../../errors/pkcs11-error';
import { Algorithm, bytes, domError, KeyUsage, nodeHash } from './algorithms';
import { keyHash, needUsage, Pkcs11CryptoKey } from './key';

const GCM_TAGS = [32, 64, 96, 104, 112, 120, 128];

/** The token mechanism for a cipher algorithm used by `k` for `usage`. */
export function cipherSpec(alg: Algorithm, k: Pkcs11CryptoKey, usage: KeyUsage): MechanismSpec {
  needUsage(k, usage, alg.name);
  switch (alg.name) {
    case 'AES-GCM': {
      const tagLength = alg.tagLength === undefined ? 128 : alg.tagLength;
      if (!GCM_TAGS.includes(tagLength as number)) throw domError(`tagLength ${String(tagLength)} is not valid`, 'OperationError');
      const iv = bytes(alg.iv, 'iv');
      if (iv.length === 0) throw domError('AES-GCM needs a non-empty iv', 'OperationError');
      return { name: 'AES-GCM', iv, additionalData: alg.additionalData === undefined ? undefined : bytes(alg.additionalData, 'additionalData'), tagLength: tagLength as number };
    }
    case 'AES-CBC': {
      const iv = bytes(alg.iv, 'iv');
      if (iv.length !== 16) throw domError('AES-CBC needs a 16-byte iv', 'OperationError');
      return { name: 'AES-CBC', iv, padding: true };
    }
    case 'AES-CTR': {
      const counter = bytes(alg.counter, 'counter');
      const length = alg.length;
      if (counter.length !== 16) throw domError('AES-CTR needs a 16-byte counter', 'OperationError');
      if (typeof length !== 'number' || !Number.isInteger(length) || length < 1 || length > 128) throw domError('AES-CTR length must be 1 to 128 (bits)', 'OperationError');
      return { name: 'AES-CTR', counter, length };
    }
    case 'AES-KW':
      return { name: 'AES-KW' };
    case 'RSA-OAEP':
      return { name: 'RSA-OAEP', hash: keyHash(k), label: alg.label === undefined ? undefined : bytes(alg.label, 'label') };
    default:
      throw domError(
        `'${alg.name}' does not ${usage === 'wrapKey' || usage === 'unwrapKey' ? 'wrap keys' : 'encrypt'} here (AES-GCM, AES-CBC, AES-CTR, AES-KW, RSA-OAEP)`,
        'NotSupportedError',
      );
  }
}

// Codes that mean "these bytes are wrong" (a bad tag, padding or length): WebCrypto's OperationError.
const DATA_ERRORS = new Set([
  'CKR_ENCRYPTED_DATA_INVALID',
  'CKR_ENCRYPTED_DATA_LEN_RANGE',
  'CKR_DATA_INVALID',
  'CKR_DATA_LEN_RANGE',
  'CKR_WRAPPED_KEY_INVALID',
  'CKR_WRAPPED_KEY_LEN_RANGE',
  'CKR_AEAD_DECRYPT_FAILED',
]);

/**
 * Maps a module failure to WebCrypto's errors where WebCrypto has one: bad input bytes are
 * OperationError, a mechanism the token lacks is NotSupportedError (both keep the Pkcs11Error as
 * `cause`); anything else (not logged in, session closed …) stays the typed Pkcs11Error.
 */
export function webCryptoError(e: unknown, what: string, decrypting = false): unknown {
  if (!(e instanceof Pkcs11Error)) return e;
  // SoftHSM answers a wrong GCM tag with CKR_GENERAL_ERROR.
  if (DATA_ERRORS.has(e.rvName) || (decrypting && e.rvName === 'CKR_GENERAL_ERROR')) return domError(`${what} failed (${e.rvName})`, 'OperationError', e);
  if (e.rvName === 'CKR_MECHANISM_INVALID' || e.rvName === 'CKR_MECHANISM_PARAM_INVALID')
    return domError(`${what}: the token does not support this (${e.rvName})`, 'NotSupportedError', e);
  return e;
}

export async function encrypt(alg: Algorithm, k: Pkcs11CryptoKey, data: Buffer, usage: KeyUsage = 'encrypt'): Promise<Buffer> {
  const spec = cipherSpec(alg, k, usage);
  if (k.keyObject) {
    if (alg.name !== 'RSA-OAEP') throw domError(`${alg.name} cannot encrypt with a public key`, 'InvalidAccessError');
    const s = spec as { hash: string; label?: Buffer };
    return nodeCrypto.publicEncrypt({ key: k.keyObject, padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: nodeHash(keyHash(k)), oaepLabel: s.label }, data);
  }
  if (!(k.key instanceof PublicKey) && !(k.key instanceof SecretKey)) throw domError('encrypt needs a public or secret key', 'InvalidAccessError');
  try {
    return await k.key.encrypt(spec, data);
  } catch (e) {
    throw webCryptoError(e, `${alg.name} encryption`);
  }
}

export async function decrypt(alg: Algorithm, k: Pkcs11CryptoKey, data: Buffer, usage: KeyUsage = 'decrypt'): Promise<Buffer> {
  const spec = cipherSpec(alg, k, usage);
  if (!(k.key instanceof PrivateKey) && !(k.key instanceof SecretKey)) throw domError('decrypt needs a private or secret key', 'InvalidAccessError');
  try {
    return await k.key.decrypt(spec, data);
  } catch (e) {
    throw webCryptoError(e, `${alg.name} decryption`, true);
  }
}
