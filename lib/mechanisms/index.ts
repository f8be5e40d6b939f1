// Typed mechanisms: `{ name: 'ECDSA', hash: 'SHA-256' }` … → the raw `{ mechanism, parameter }`.
// A raw escape hatch `{ mechanism, parameter }` passes through untouched.
import * as C from '../constants/generated';
import type { Bytes, Mechanism, Ulong } from '../binding/raw-types';
import * as P from './params';
import { isGostMechanismName, resolveGostMechanism } from './gost';
import type { GostMechanismSpec } from './gost';

export type HashName = 'SHA-1' | 'SHA-224' | 'SHA-256' | 'SHA-384' | 'SHA-512';

const HASH: Record<HashName, { digest: number; mgf: number; node: string; ecdsa: number; rsa: number; pss: number; hmac: number }> = {
  'SHA-1': { digest: C.CKM_SHA_1, mgf: C.CKG_MGF1_SHA1, node: 'sha1', ecdsa: C.CKM_ECDSA_SHA1, rsa: C.CKM_SHA1_RSA_PKCS, pss: C.CKM_SHA1_RSA_PKCS_PSS, hmac: C.CKM_SHA_1_HMAC },
  'SHA-224': {
    digest: C.CKM_SHA224,
    mgf: C.CKG_MGF1_SHA224,
    node: 'sha224',
    ecdsa: C.CKM_ECDSA_SHA224,
    rsa: C.CKM_SHA224_RSA_PKCS,
    pss: C.CKM_SHA224_RSA_PKCS_PSS,
    hmac: C.CKM_SHA224_HMAC,
  },
  'SHA-256': {
    digest: C.CKM_SHA256,
    mgf: C.CKG_MGF1_SHA256,
    node: 'sha256',
    ecdsa: C.CKM_ECDSA_SHA256,
    rsa: C.CKM_SHA256_RSA_PKCS,
    pss: C.CKM_SHA256_RSA_PKCS_PSS,
    hmac: C.CKM_SHA256_HMAC,
  },
  'SHA-384': {
    digest: C.CKM_SHA384,
    mgf: C.CKG_MGF1_SHA384,
    node: 'sha384',
    ecdsa: C.CKM_ECDSA_SHA384,
    rsa: C.CKM_SHA384_RSA_PKCS,
    pss: C.CKM_SHA384_RSA_PKCS_PSS,
    hmac: C.CKM_SHA384_HMAC,
  },
  'SHA-512': {
    digest: C.CKM_SHA512,
    mgf: C.CKG_MGF1_SHA512,
    node: 'sha512',
    ecdsa: C.CKM_ECDSA_SHA512,
    rsa: C.CKM_SHA512_RSA_PKCS,
    pss: C.CKM_SHA512_RSA_PKCS_PSS,
    hmac: C.CKM_SHA512_HMAC,
  },
};

const HASH_LENGTH: Record<HashName, number> = { 'SHA-1': 20, 'SHA-224': 28, 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };

export type MechanismSpec =
  | { name: 'ECDSA'; hash?: HashName }
  | { name: 'EdDSA' }
  | { name: 'RSASSA-PKCS1-v1_5'; hash?: HashName }
  | { name: 'RSA-PSS'; hash: HashName; saltLength?: number }
  | { name: 'RSA-OAEP'; hash?: HashName; label?: Bytes }
  | { name: 'HMAC'; hash: HashName }
  | { name: 'AES-GCM'; iv: Bytes; additionalData?: Bytes; tagLength?: number }
  | { name: 'AES-CBC'; iv: Bytes; padding?: boolean }
  | { name: 'AES-CTR'; counter: Bytes; length: number }
  | { name: 'AES-KW'; padding?: boolean }
  | { name: HashName }
  | GostMechanismSpec
  | Mechanism;

function hashOf(name: HashName): (typeof HASH)[HashName] {
  const h = HASH[name];
  if (!h) throw new RangeError(`unknown hash '${name}'`);
  return h;
}

/** How a spec runs on a module: the raw mechanism, and whether the data must be hashed in Node first. */
export interface ResolvedMechanism {
  mechanism: Mechanism;
  /** Node hash name when the module gets a digest (ECDSA with a hash the module cannot combine). */
  prehash?: string;
}

/**
 * Resolves a spec. `supports(type)` says whether the token offers a mechanism, so ECDSA with a
 * hash can fall back to hashing in Node and signing the digest with CKM_ECDSA (SoftHSM has no
 * CKM_ECDSA_SHA256).
 */
export function resolveMechanism(spec: MechanismSpec, supports: (type: Ulong) => boolean = () => true, what = 'mechanism'): ResolvedMechanism {
  if (spec === null || typeof spec !== 'object') {
    throw new TypeError(`${what}: argument 'spec' must be a mechanism object ({ name: 'ECDSA', … } or { mechanism, parameter }), got ${spec === null ? 'null' : typeof spec}`);
  }
  if ('mechanism' in spec) return { mechanism: spec };
  if (typeof spec.name !== 'string') throw new TypeError(`${what}: argument 'spec' needs a 'name' (a string) or a 'mechanism' (a CKM_ number)`);
  switch (spec.name) {
    case 'ECDSA': {
      if (!spec.hash) return { mechanism: { mechanism: C.CKM_ECDSA } };
      const h = hashOf(spec.hash);
      return supports(h.ecdsa) ? { mechanism: { mechanism: h.ecdsa } } : { mechanism: { mechanism: C.CKM_ECDSA }, prehash: h.node };
    }
    case 'EdDSA':
      return { mechanism: { mechanism: C.CKM_EDDSA } };
    case 'RSASSA-PKCS1-v1_5':
      return { mechanism: { mechanism: spec.hash ? hashOf(spec.hash).rsa : C.CKM_RSA_PKCS } };
    case 'RSA-PSS': {
      const h = hashOf(spec.hash);
      const saltLength = spec.saltLength ?? HASH_LENGTH[spec.hash];
      return { mechanism: { mechanism: h.pss, parameter: P.pssParams({ hashAlg: h.digest, mgf: h.mgf, saltLength }) } };
    }
    case 'RSA-OAEP': {
      const h = hashOf(spec.hash ?? 'SHA-1');
      return { mechanism: { mechanism: C.CKM_RSA_PKCS_OAEP, parameter: P.oaepParams({ hashAlg: h.digest, mgf: h.mgf, label: spec.label ?? null }) } };
    }
    case 'HMAC':
      return { mechanism: { mechanism: hashOf(spec.hash).hmac } };
    case 'AES-GCM':
      return {
        mechanism: {
          mechanism: C.CKM_AES_GCM,
          parameter: P.gcmParams({ iv: spec.iv, additionalData: spec.additionalData ?? null, tagBits: spec.tagLength ?? 128 }),
        },
      };
    case 'AES-CBC':
      return { mechanism: { mechanism: spec.padding === false ? C.CKM_AES_CBC : C.CKM_AES_CBC_PAD, parameter: spec.iv } };
    case 'AES-CTR':
      return { mechanism: { mechanism: C.CKM_AES_CTR, parameter: P.aesCtrParams({ counterBits: spec.length, counterBlock: spec.counter }) } };
    case 'AES-KW':
      return { mechanism: { mechanism: spec.padding ? C.CKM_AES_KEY_WRAP_PAD : C.CKM_AES_KEY_WRAP } };
    default:
      if (spec.name in HASH) return { mechanism: { mechanism: HASH[spec.name as HashName].digest } };
      // GOST R 34.10/34.11-2012, Kuznyechik, Magma (TC26 / Rutoken): ./gost.ts.
      if (isGostMechanismName(spec.name)) return { mechanism: resolveGostMechanism(spec as GostMechanismSpec) };
      throw new RangeError(`unknown mechanism '${(spec as { name: string }).name}'`);
  }
}

// Named curves for CKA_EC_PARAMS live with the rest of the EC encoding (encoding/ec.ts); exported
// from here too, where key generation and 0.1's callers find them.
export { CURVES, curveParams } from '../encoding/ec';
