// JWS (RFC 7515) and JWT (RFC 7519) in compact form, signed by a token private key, and the
// public JWK (RFC 7517) a verifier needs. The token signs the JWS signing input
// ASCII(b64url(header) '.' b64url(payload)) with the RFC 7518 mechanism for `alg`:
//   ES256/384/512 → ECDSA with SHA-256/384/512 (hashed in node when the token has no combined
//                   mechanism); PKCS#11 returns r||s, which is exactly the JWS form (64/96/132 bytes)
//   RS256/384/512 → RSASSA-PKCS1-v1_5 with SHA-256/384/512
//   PS256/384/512 → RSA-PSS with SHA-256/384/512, MGF1 with the same hash, salt = hash length
//   EdDSA         → EdDSA (Ed25519 or Ed448, RFC 8037)
// The key is checked against `alg` (key type and curve) before anything is signed.
import type { JsonWebKey } from 'node:crypto';
import type { HashName, MechanismSpec } from '../mechanisms';
import { Pkcs11Object } from '../objects/object';
import type { PrivateKey, PublicKey } from '../objects/keys';
import type { Bytes } from '../binding/raw-types';
import { curveOfParams } from '../encoding/ec';
import { exportJwk } from './keyobject';

export type JwsAlgorithm = 'ES256' | 'ES384' | 'ES512' | 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'EdDSA';

/** A JOSE header; `alg` is always the one the token signs with. */
export interface JwsHeader {
  alg?: JwsAlgorithm;
  typ?: string;
  kid?: string;
  cty?: string;
  [name: string]: unknown;
}

export interface SignJwtOptions {
  /** Extra header parameters (typ defaults to 'JWT'; alg cannot be changed). */
  header?: JwsHeader;
  /** Header `kid`. */
  kid?: string;
  /** Adds `iat` (now, in seconds) to the claims unless the payload has its own. */
  iat?: boolean;
}

export interface JwkOfOptions {
  /** The JWK `alg`; checked against the key's type and curve. */
  alg?: JwsAlgorithm;
  /** The JWK `kid`. */
  kid?: string;
}

/** The public JWK with the JOSE members a verifier uses. */
export type PublicJwk = JsonWebKey & { kty: string; alg?: JwsAlgorithm; kid?: string; use: 'sig' };

interface AlgInfo {
  /** CKA_KEY_TYPE name the key must have. */
  keyType: 'ec' | 'rsa' | 'ecEdwards';
  /** Curves the key may be on (EC and Edwards). */
  curves?: readonly string[];
  spec: MechanismSpec;
  /** Bytes of an r||s signature (ECDSA). */
  signatureLength?: number;
  /** What the key must be, for messages. */
  needs: string;
}

const HASH_BYTES: Record<string, number> = { 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };

function es(hash: HashName, curve: string, size: number): AlgInfo {
  return { keyType: 'ec', curves: [curve], spec: { name: 'ECDSA', hash }, signatureLength: 2 * size, needs: `an EC ${curve} key` };
}
function rs(hash: HashName): AlgInfo {
  return { keyType: 'rsa', spec: { name: 'RSASSA-PKCS1-v1_5', hash }, needs: 'an RSA key' };
}
function ps(hash: HashName): AlgInfo {
  return { keyType: 'rsa', spec: { name: 'RSA-PSS', hash, saltLength: HASH_BYTES[hash] }, needs: 'an RSA key' };
}

const ALGS: Readonly<Record<JwsAlgorithm, AlgInfo>> = {
  ES256: es('SHA-256', 'P-256', 32),
  ES384: es('SHA-384', 'P-384', 48),
  ES512: es('SHA-512', 'P-521', 66),
  RS256: rs('SHA-256'),
  RS384: rs('SHA-384'),
  RS512: rs('SHA-512'),
  PS256: ps('SHA-256'),
  PS384: ps('SHA-384'),
  PS512: ps('SHA-512'),
  EdDSA: { keyType: 'ecEdwards', curves: ['Ed25519', 'Ed448'], spec: { name: 'EdDSA' }, needs: 'an Ed25519 or Ed448 key' },
};

/** The algorithms signJws / signJwt take. */
export const JWS_ALGORITHMS: readonly JwsAlgorithm[] = Object.freeze(Object.keys(ALGS) as JwsAlgorithm[]);

/** RFC 7518 §3.3: RSA keys for RS256…PS512 must have at least 2048 bits. */
const MIN_RSA_BITS = 2048;

function algInfo(what: string, alg: unknown, algArg = 'alg'): AlgInfo {
  if (typeof alg !== 'string')
    throw new TypeError(`${what}: argument '${algArg}' must be a JWS algorithm name (${JWS_ALGORITHMS.join(', ')}), got ${alg === null ? 'null' : typeof alg}`);
  if (!Object.prototype.hasOwnProperty.call(ALGS, alg)) throw new RangeError(`${what}: argument '${algArg}' '${alg}' is not supported (${JWS_ALGORITHMS.join(', ')})`);
  return ALGS[alg as JwsAlgorithm];
}

function unsignedLength(b: Buffer): number {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.length - i;
}

/** Checks a token key (private or public) against `alg`: class, key type, curve, RSA size. */
async function checkKey(what: string, argName: string, key: unknown, cls: 'privateKey' | 'publicKey', alg: string, info: AlgInfo, algArg = 'alg'): Promise<void> {
  if (!(key instanceof Pkcs11Object)) throw new TypeError(`${what}: argument '${argName}' must be a token ${cls === 'privateKey' ? 'PrivateKey' : 'PublicKey'}`);
  const a = await key.getAttributes(['class', 'keyType', 'ecParams', 'modulus']);
  if (a.class !== undefined && a.class !== cls)
    throw new TypeError(`${what}: argument '${argName}' is a '${String(a.class)}', not a ${cls === 'privateKey' ? 'private' : 'public'} key`);
  if (a.keyType !== info.keyType) {
    throw new TypeError(`${what}: argument '${algArg}' '${alg}' needs ${info.needs}; argument '${argName}' is a '${String(a.keyType)}' key`);
  }
  if (info.curves) {
    const curve = a.ecParams instanceof Buffer ? curveOfParams(a.ecParams) : undefined;
    if (curve === undefined || !info.curves.includes(curve)) {
      const on = curve ?? (a.ecParams instanceof Buffer ? `CKA_EC_PARAMS ${a.ecParams.toString('hex')}` : 'an unreadable curve');
      throw new TypeError(`${what}: argument '${algArg}' '${alg}' needs ${info.needs}; argument '${argName}' is on ${on}`);
    }
  }
  if (info.keyType === 'rsa' && a.modulus instanceof Buffer) {
    const bits = unsignedLength(a.modulus) * 8;
    if (bits < MIN_RSA_BITS) throw new RangeError(`${what}: argument '${argName}' is a ${bits}-bit RSA key; '${alg}' needs ${MIN_RSA_BITS} bits or more (RFC 7518 §3.3)`);
  }
}

function b64url(b: Buffer | string): string {
  return (typeof b === 'string' ? Buffer.from(b, 'utf8') : b).toString('base64url');
}

function bytesOf(what: string, payload: unknown): Buffer {
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (payload instanceof ArrayBuffer) return Buffer.from(payload);
  if (ArrayBuffer.isView(payload)) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  throw new TypeError(`${what}: argument 'payload' must be a string, Buffer, TypedArray, DataView or ArrayBuffer`);
}

function plainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function headerOf(what: string, argName: string, alg: JwsAlgorithm, header: unknown, defaults: Record<string, unknown>): Record<string, unknown> {
  if (header === undefined) return { alg, ...defaults };
  if (!plainObject(header)) throw new TypeError(`${what}: argument '${argName}' must be a plain object of header parameters`);
  if (header.alg !== undefined && header.alg !== alg) throw new TypeError(`${what}: argument '${argName}' has alg '${String(header.alg)}', but argument 'alg' is '${alg}'`);
  if (header.b64 !== undefined || header.crit !== undefined) throw new TypeError(`${what}: argument '${argName}': 'b64' and 'crit' (RFC 7797) are not supported`);
  return { alg, ...defaults, ...header };
}

async function sign(what: string, privateKey: PrivateKey, alg: JwsAlgorithm, info: AlgInfo, header: Record<string, unknown>, payload: Buffer): Promise<string> {
  await checkKey(what, 'privateKey', privateKey, 'privateKey', alg, info);
  const input = `${b64url(JSON.stringify(header))}.${b64url(payload)}`;
  const signature = await privateKey.sign(info.spec, Buffer.from(input, 'ascii'));
  if (info.signatureLength !== undefined && signature.length !== info.signatureLength) {
    throw new RangeError(`${what}: the token's ECDSA signature is ${signature.length} bytes, not the ${info.signatureLength}-byte r||s '${alg}' needs`);
  }
  return `${input}.${b64url(signature)}`;
}

/**
 * A compact JWS (header.payload.signature) over `payload` (bytes, or a string taken as UTF-8),
 * signed on the token. `header` adds parameters (kid, typ, cty …); its `alg`, if any, must be `alg`.
 */
export async function signJws(privateKey: PrivateKey, alg: JwsAlgorithm, payload: Bytes | string, header?: JwsHeader): Promise<string> {
  const what = 'signJws';
  const info = algInfo(what, alg);
  const h = headerOf(what, 'header', alg, header, {});
  return sign(what, privateKey, alg, info, h, bytesOf(what, payload));
}

/**
 * A compact JWT: the claims in `payload` as JSON, header { alg, typ: 'JWT', kid? } plus
 * `options.header`, signed on the token. `options.iat` adds the issue time unless the claims have one.
 */
export async function signJwt(privateKey: PrivateKey, alg: JwsAlgorithm, payload: object, options: SignJwtOptions = {}): Promise<string> {
  const what = 'signJwt';
  const info = algInfo(what, alg);
  if (!plainObject(payload)) throw new TypeError(`${what}: argument 'payload' must be a plain object of claims`);
  if (options === null || typeof options !== 'object') throw new TypeError(`${what}: argument 'options' must be an object`);
  if (options.kid !== undefined && typeof options.kid !== 'string') throw new TypeError(`${what}: argument 'options.kid' must be a string`);
  const defaults: Record<string, unknown> = { typ: 'JWT' };
  if (options.kid !== undefined) defaults.kid = options.kid;
  const h = headerOf(what, 'options.header', alg, options.header, defaults);
  const claims = options.iat ? { iat: Math.floor(Date.now() / 1000), ...payload } : payload;
  return sign(what, privateKey, alg, info, h, Buffer.from(JSON.stringify(claims), 'utf8'));
}

/**
 * The public key's JWK (node:crypto's export) with `use: 'sig'` and, when given, `alg` (checked
 * against the key) and `kid`: what a verifier (a JWKS, jose.importJWK) takes.
 */
export async function jwkOf(publicKey: PublicKey, options: JwkOfOptions = {}): Promise<PublicJwk> {
  const what = 'jwkOf';
  if (options === null || typeof options !== 'object') throw new TypeError(`${what}: argument 'options' must be an object`);
  if (options.kid !== undefined && typeof options.kid !== 'string') throw new TypeError(`${what}: argument 'options.kid' must be a string`);
  if (options.alg !== undefined) await checkKey(what, 'publicKey', publicKey, 'publicKey', options.alg, algInfo(what, options.alg, 'options.alg'), 'options.alg');
  const base = await exportJwk(publicKey);
  const jwk: PublicJwk = { ...base, kty: String(base.kty), use: 'sig' };
  if (options.alg !== undefined) jwk.alg = options.alg;
  if (options.kid !== undefined) jwk.kid = options.kid;
  return jwk;
}
