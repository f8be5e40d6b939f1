// Key generation specs → mechanisms and default templates.
import * as C from '../constants/generated';
import { curveParams } from '../mechanisms';
import type { Mechanism } from '../raw-types';
import type { TemplateObject } from '../template/attributes';

export type KeyPairSpec =
  | { name: 'EC'; curve: string }
  | { name: 'RSA'; modulusLength?: number; publicExponent?: number }
  | { name: 'Ed25519' }
  | { name: 'Ed448' };

export type SecretKeySpec = { name: 'AES'; length: 128 | 192 | 256 } | { name: 'generic'; length: number } | { name: 'DES3' };

export interface KeyPairPlan {
  mechanism: Mechanism;
  publicKey: TemplateObject;
  privateKey: TemplateObject;
}

function exponentBytes(e: number): Buffer {
  const hex = e.toString(16);
  return Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex');
}

/** Mechanism and defaults; the caller's templates are merged over them (caller wins). */
export function planKeyPair(spec: KeyPairSpec): KeyPairPlan {
  const priv: TemplateObject = { token: false, private: true, sensitive: true };
  const pub: TemplateObject = { token: false };
  switch (spec.name) {
    case 'EC':
      return { mechanism: { mechanism: C.CKM_EC_KEY_PAIR_GEN }, publicKey: { ...pub, ecParams: curveParams(spec.curve), verify: true }, privateKey: { ...priv, sign: true } };
    case 'Ed25519':
    case 'Ed448':
      return {
        mechanism: { mechanism: C.CKM_EC_EDWARDS_KEY_PAIR_GEN },
        publicKey: { ...pub, ecParams: curveParams(spec.name), verify: true },
        privateKey: { ...priv, sign: true },
      };
    case 'RSA':
      return {
        mechanism: { mechanism: C.CKM_RSA_PKCS_KEY_PAIR_GEN },
        publicKey: { ...pub, modulusBits: spec.modulusLength ?? 2048, publicExponent: exponentBytes(spec.publicExponent ?? 65537), verify: true, encrypt: true },
        privateKey: { ...priv, sign: true, decrypt: true },
      };
    default:
      throw new RangeError(`unknown key pair type '${(spec as { name: string }).name}'`);
  }
}

export function planSecretKey(spec: SecretKeySpec): { mechanism: Mechanism; template: TemplateObject } {
  const base: TemplateObject = { token: false, sensitive: true };
  switch (spec.name) {
    case 'AES':
      if (![128, 192, 256].includes(spec.length)) throw new RangeError('AES length must be 128, 192 or 256');
      return { mechanism: { mechanism: C.CKM_AES_KEY_GEN }, template: { ...base, valueLen: spec.length / 8, encrypt: true, decrypt: true } };
    case 'generic':
      return { mechanism: { mechanism: C.CKM_GENERIC_SECRET_KEY_GEN }, template: { ...base, valueLen: spec.length, sign: true, verify: true } };
    case 'DES3':
      return { mechanism: { mechanism: C.CKM_DES3_KEY_GEN }, template: { ...base, encrypt: true, decrypt: true } };
    default:
      throw new RangeError(`unknown secret key type '${(spec as { name: string }).name}'`);
  }
}
