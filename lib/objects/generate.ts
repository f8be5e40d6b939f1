// Key generation specs → mechanisms and default templates.
import * as C from '../constants/generated';
import { curveParams } from '../mechanisms';
import { pbkdf2Mechanism, Pbkdf2Spec } from '../mechanisms/kdf';
import type { Bytes, Mechanism } from '../binding/raw-types';
import type { TemplateObject } from '../template/attributes';
import type { DomainParameters } from './domain-parameters';

/** DSA / DH group values (p, q, g; PKCS#3 DH has no q). */
export interface GroupParameters {
  prime: Bytes;
  subprime?: Bytes;
  base: Bytes;
}

export type KeyPairSpec =
  | { name: 'EC'; curve: string }
  | { name: 'RSA'; modulusLength?: number; publicExponent?: number }
  | { name: 'Ed25519' }
  | { name: 'Ed448' }
  /** From token domain parameters (Session.generateDomainParameters) or the group's values. */
  | { name: 'DSA' | 'DH'; parameters: DomainParameters | GroupParameters };

export type SecretKeySpec = { name: 'AES'; length: 128 | 192 | 256 } | { name: 'generic'; length: number } | { name: 'DES3' } | Pbkdf2Spec;

export type { Pbkdf2Spec };

/** What planSecretKey may know about the module (Session.generateKey can pass it). */
export interface SecretKeyPlanContext {
  /** The module's manufacturer ID (C_GetInfo): 'Mozilla Foundation' picks the legacy PBKDF2 params. */
  manufacturerID?: string;
}

// Modules known to read the 2.x CK_PKCS5_PBKD2_PARAMS (and to crash on PARAMS2).
const LEGACY_PBKDF2_MANUFACTURERS = new Set(['Mozilla Foundation']);

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
  // A module's defaults may allow more than a key is made for (SoftHSM lets a new EC private key
  // unwrap and derive), so key management stays off unless a template turns it on (derive: true
  // for ECDH …). Not decrypt/encrypt: tpm2-pkcs11 refuses those attributes on EC keys even as false.
  const priv: TemplateObject = { token: false, private: true, sensitive: true, unwrap: false, derive: false };
  const pub: TemplateObject = { token: false, wrap: false, derive: false };
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
    case 'DSA':
    case 'DH': {
      const g = spec.parameters as GroupParameters;
      if (!g || typeof g !== 'object' || g.prime === undefined || g.base === undefined || (spec.name === 'DSA' && g.subprime === undefined)) {
        throw new TypeError(`generateKeyPair: spec.parameters must be DomainParameters or { prime, ${spec.name === 'DSA' ? 'subprime, ' : ''}base }`);
      }
      const group: TemplateObject = { prime: g.prime, base: g.base, ...(spec.name === 'DSA' ? { subprime: g.subprime } : {}) };
      return spec.name === 'DSA'
        ? { mechanism: { mechanism: C.CKM_DSA_KEY_PAIR_GEN }, publicKey: { ...pub, ...group, verify: true }, privateKey: { ...priv, sign: true } }
        : { mechanism: { mechanism: C.CKM_DH_PKCS_KEY_PAIR_GEN }, publicKey: { ...pub, ...group }, privateKey: { ...priv, derive: true } };
    }
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

/**
 * Mechanism and default template of a secret key spec; the caller's template goes over it.
 * `context` lets PBKDF2 pick its parameter layout by module when the spec does not say.
 */
export function planSecretKey(spec: SecretKeySpec, context: SecretKeyPlanContext = {}): { mechanism: Mechanism; template: TemplateObject } {
  if (spec === null || typeof spec !== 'object') throw new TypeError("generateKey: argument 'spec' must be a key spec object ({ name: 'AES', length: 256 } …)");
  const base: TemplateObject = { token: false, sensitive: true };
  switch (spec.name) {
    case 'PBKDF2': {
      const legacyParams = spec.legacyParams ?? LEGACY_PBKDF2_MANUFACTURERS.has(context.manufacturerID?.trim() ?? '');
      const mechanism = pbkdf2Mechanism({ ...spec, legacyParams });
      if (!Number.isSafeInteger(spec.length) || spec.length < 1) throw new RangeError("generateKey: 'spec.length' must be the key's length in bytes (a positive integer)");
      // A generic secret for HMAC or further derivation; { keyType: 'aes', encrypt: true, decrypt: true } in the template makes an AES key.
      return { mechanism, template: { ...base, class: 'secretKey', keyType: 'genericSecret', valueLen: spec.length, sign: true, verify: true, derive: true } };
    }
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
