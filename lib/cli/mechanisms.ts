// Command-line mechanism and key-type names → the typed layer's specs.
//   sign/verify: ECDSA, ECDSA-SHA256, ES256, RS256, RSA-PKCS, SHA256-RSA-PKCS, PS256, RSA-PSS-SHA256,
//                EdDSA, HMAC-SHA256, HS256, and the CKM_ forms (CKM_ECDSA_SHA256 …)
//   digest:      SHA-1, SHA-224, SHA-256, SHA-384, SHA-512 (also SHA256, CKM_SHA256)
//   keygen:      EC:P-256, RSA:2048, AES:256, Ed25519, Ed448, generic:32
import { CURVES } from '../index';
import type { HashName, KeyPairSpec, MechanismSpec, SecretKeySpec } from '../index';
import { UsageError } from './errors';

// Weierstrass curves keygen EC: takes; Ed25519/Ed448 are types of their own (--type Ed25519).
const EC_CURVES = Object.keys(CURVES).filter((c) => !/^(Ed|X)\d/.test(c));

/** A curve name in any case (p-256, SECP256K1) → the name the typed layer knows, or a dotted OID. */
function curveName(arg: string, bad: (why: string) => never): string {
  if (/^\d+(\.\d+)+$/.test(arg)) return arg;
  const hit = EC_CURVES.find((c) => c.toLowerCase() === arg.toLowerCase());
  return hit ?? bad(`unknown curve '${arg}' (${EC_CURVES.join(', ')}, or a dotted OID)`);
}

const HASHES: Record<string, HashName> = { '1': 'SHA-1', '224': 'SHA-224', '256': 'SHA-256', '384': 'SHA-384', '512': 'SHA-512' };

/** 'ckm_sha256_rsa_pkcs' → 'SHA256-RSA-PKCS'. */
function normalize(name: string): string {
  return name.trim().toUpperCase().replace(/^CKM_/, '').replace(/_/g, '-');
}

/** The sign/verify spec for a command-line name. */
export function signatureSpec(name: string): MechanismSpec {
  const n = normalize(name);
  let m: RegExpExecArray | null;
  if (n === 'ECDSA') return { name: 'ECDSA' };
  if (n === 'EDDSA' || n === 'ED25519' || n === 'ED448') return { name: 'EdDSA' };
  if (n === 'RSA-PKCS' || n === 'RSASSA-PKCS1-V1-5') return { name: 'RSASSA-PKCS1-v1_5' };
  if ((m = /^(?:ECDSA-SHA-?(1|224|256|384|512)|ES(256|384|512))$/.exec(n))) return { name: 'ECDSA', hash: HASHES[m[1] ?? m[2]] };
  if ((m = /^(?:SHA-?(1|224|256|384|512)-RSA-PKCS|RS(256|384|512)|RSASSA-PKCS1-V1-5-SHA-?(1|224|256|384|512)|RSA-PKCS-SHA-?(1|224|256|384|512))$/.exec(n)))
    return { name: 'RSASSA-PKCS1-v1_5', hash: HASHES[m[1] ?? m[2] ?? m[3] ?? m[4]] };
  if ((m = /^(?:SHA-?(1|224|256|384|512)-RSA-PKCS-PSS|PS(256|384|512)|RSA-PSS-SHA-?(1|224|256|384|512))$/.exec(n))) return { name: 'RSA-PSS', hash: HASHES[m[1] ?? m[2] ?? m[3]] };
  if ((m = /^(?:HMAC-SHA-?(1|224|256|384|512)|SHA-?(1|224|256|384|512)-HMAC|HS(256|384|512))$/.exec(n))) return { name: 'HMAC', hash: HASHES[m[1] ?? m[2] ?? m[3]] };
  throw new UsageError(`unknown signature mechanism '${name}' (ECDSA-SHA256, ES256, RS256, PS256, EdDSA, HMAC-SHA256, RSA-PKCS, ECDSA …)`);
}

/** The default signature spec for a key type (as the typed layer names it). */
export function defaultSignatureSpec(keyType: unknown): MechanismSpec {
  switch (keyType) {
    case 'ec':
      return { name: 'ECDSA', hash: 'SHA-256' };
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    case 'ecEdwards':
      return { name: 'EdDSA' };
    case 'genericSecret':
      return { name: 'HMAC', hash: 'SHA-256' };
    default:
      throw new UsageError(`no default mechanism for key type '${String(keyType)}': give --mechanism`);
  }
}

/** A digest spec: SHA-256, SHA256, CKM_SHA256, sha-256. */
export function digestSpec(name: string): MechanismSpec {
  const m = /^SHA-?(1|224|256|384|512)$/.exec(normalize(name));
  if (!m) throw new UsageError(`unknown digest mechanism '${name}' (SHA-1, SHA-224, SHA-256, SHA-384, SHA-512)`);
  return { name: HASHES[m[1]] };
}

export type KeygenPlan = { kind: 'pair'; spec: KeyPairSpec } | { kind: 'secret'; spec: SecretKeySpec };

/** EC:P-256, EC:secp256k1, RSA:2048, RSA (2048), AES:256, Ed25519, Ed448, generic:32 (bytes). */
export function keygenSpec(type: string): KeygenPlan {
  const [kindRaw, arg, extra] = type.trim().split(':');
  const kind = kindRaw.toUpperCase();
  const bad = (why: string): never => {
    throw new UsageError(`bad --type '${type}': ${why} (EC:P-256, RSA:2048, AES:256, Ed25519, generic:32)`);
  };
  if (extra !== undefined) bad('too many parts');
  const int = (s: string | undefined, dflt?: number): number => {
    if (s === undefined || s === '') {
      if (dflt === undefined) bad('a size is needed');
      return dflt as number;
    }
    if (!/^\d+$/.test(s)) bad(`'${s}' is not a number`);
    return Number(s);
  };
  switch (kind) {
    case 'EC':
    case 'ECDSA':
      return { kind: 'pair', spec: { name: 'EC', curve: curveName(arg || 'P-256', bad) } };
    case 'RSA':
      return { kind: 'pair', spec: { name: 'RSA', modulusLength: int(arg, 2048) } };
    case 'ED25519':
      return { kind: 'pair', spec: { name: 'Ed25519' } };
    case 'ED448':
      return { kind: 'pair', spec: { name: 'Ed448' } };
    case 'AES': {
      const length = int(arg, 256);
      if (length !== 128 && length !== 192 && length !== 256) bad('AES keys are 128, 192 or 256 bits');
      return { kind: 'secret', spec: { name: 'AES', length: length as 128 | 192 | 256 } };
    }
    case 'GENERIC':
    case 'HMAC':
      return { kind: 'secret', spec: { name: 'generic', length: int(arg, 32) } };
    default:
      return bad(`unknown key type '${kindRaw}'`);
  }
}
