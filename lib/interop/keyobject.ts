// node:crypto interop for keys: token public keys as KeyObject / JWK / SPKI, node:crypto keys
// imported into a session (C_CreateObject), and ECDSA signature encodings (raw r||s ↔ DER).
// Node's own encoders do the ASN.1: a key goes in as a JWK (createPublicKey({ format: 'jwk' }))
// and comes out with KeyObject.export(); only the CKA_EC_POINT OCTET STRING wrapper is read and
// written here, and the two INTEGERs of an ECDSA signature.
import { createPublicKey, ECDH, KeyObject } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { CURVES } from '../mechanisms';
import { Pkcs11Object } from '../objects/object';
import { PrivateKey, PublicKey, SecretKey } from '../objects/keys';
import { Session } from '../session';
import type { TemplateObject } from '../template/attributes';

// --- curves ---

interface CurveInfo {
  /** JWK `crv`. */
  jwk: string;
  kty: 'EC' | 'OKP';
  /** Field element bytes (EC) or raw public key bytes (OKP). */
  size: number;
  /** CKK name for the PKCS#11 key type. */
  keyType: 'ec' | 'ecEdwards' | 'ecMontgomery';
  /** node:crypto ECDH curve name, to decompress points (EC only). */
  ecdh?: string;
}

const CURVE_INFO: Record<string, CurveInfo> = {
  'P-256': { jwk: 'P-256', kty: 'EC', size: 32, keyType: 'ec', ecdh: 'prime256v1' },
  'P-384': { jwk: 'P-384', kty: 'EC', size: 48, keyType: 'ec', ecdh: 'secp384r1' },
  'P-521': { jwk: 'P-521', kty: 'EC', size: 66, keyType: 'ec', ecdh: 'secp521r1' },
  secp256k1: { jwk: 'secp256k1', kty: 'EC', size: 32, keyType: 'ec', ecdh: 'secp256k1' },
  Ed25519: { jwk: 'Ed25519', kty: 'OKP', size: 32, keyType: 'ecEdwards' },
  Ed448: { jwk: 'Ed448', kty: 'OKP', size: 57, keyType: 'ecEdwards' },
  X25519: { jwk: 'X25519', kty: 'OKP', size: 32, keyType: 'ecMontgomery' },
  X448: { jwk: 'X448', kty: 'OKP', size: 56, keyType: 'ecMontgomery' },
};

// CKA_EC_PARAMS (DER) → curve name: the named-curve OIDs, and the PKCS#11 3.0 printable names
// of the Edwards and Montgomery curves (PrintableString "edwards25519" …).
const PARAMS_TO_CURVE = new Map<string, string>();
for (const [name, der] of Object.entries(CURVES)) PARAMS_TO_CURVE.set(der.toString('hex'), name);
PARAMS_TO_CURVE.set('06032b656e', 'X25519');
PARAMS_TO_CURVE.set('06032b656f', 'X448');
PARAMS_TO_CURVE.set('06092b06010401da470f01', 'Ed25519'); // 1.3.6.1.4.1.11591.15.1 (GnuPG's Ed25519)
PARAMS_TO_CURVE.set('060a2b060104019755010501', 'X25519'); // 1.3.6.1.4.1.3029.1.5.1 (GnuPG's Curve25519)
for (const [printable, name] of [['edwards25519', 'Ed25519'], ['edwards448', 'Ed448'], ['curve25519', 'X25519'], ['curve448', 'X448']]) {
  PARAMS_TO_CURVE.set(Buffer.concat([Buffer.from([0x13, printable.length]), Buffer.from(printable, 'latin1')]).toString('hex'), name);
}

/** The curve name (P-256, Ed25519 …) for a CKA_EC_PARAMS value, or undefined for curves node:crypto cannot take. */
export function curveOfParams(ecParams: Uint8Array): string | undefined {
  return PARAMS_TO_CURVE.get(Buffer.from(ecParams.buffer, ecParams.byteOffset, ecParams.byteLength).toString('hex'));
}

/** CKA_EC_PARAMS for a curve name (the OID; Ed/X curves by their RFC 8410 OIDs). */
function paramsOfCurve(curve: string): Buffer {
  for (const [hex, name] of PARAMS_TO_CURVE) if (name === curve && hex.startsWith('06')) return Buffer.from(hex, 'hex');
  throw new RangeError(`no CKA_EC_PARAMS for curve '${curve}'`);
}

// --- EC points ---

// The DER OCTET STRING around a CKA_EC_POINT: its body when `b` is exactly one OCTET STRING.
function octetStringBody(b: Buffer): Buffer | undefined {
  if (b.length < 2 || b[0] !== 0x04) return undefined;
  let len = b[1];
  let at = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 2 || b.length < 2 + n) return undefined;
    len = b.readUIntBE(2, n);
    at = 2 + n;
  }
  return at + len === b.length ? b.subarray(at) : undefined;
}

function octetString(body: Buffer): Buffer {
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([0x04, ...len]), body]);
}

function isRawPoint(p: Buffer, c: CurveInfo): boolean {
  if (c.kty === 'OKP') return p.length === c.size;
  return (p.length === 1 + 2 * c.size && p[0] === 0x04) || (p.length === 1 + c.size && (p[0] === 0x02 || p[0] === 0x03));
}

/**
 * The raw public value of a CKA_EC_POINT for `curve`: the DER OCTET STRING the spec asks for is
 * unwrapped; a raw value (some tokens) is taken as it is. The lengths of the curve decide, so a
 * raw point whose bytes happen to look like a DER header is not mistaken for one.
 */
export function ecPointBytes(ecPoint: Uint8Array, curve: string): Buffer {
  const c = CURVE_INFO[curve];
  if (!c) throw new RangeError(`unknown curve '${curve}'`);
  const b = Buffer.from(ecPoint.buffer, ecPoint.byteOffset, ecPoint.byteLength);
  const inner = octetStringBody(b);
  if (inner && isRawPoint(inner, c)) return inner;
  if (isRawPoint(b, c)) return b;
  throw new RangeError(`CKA_EC_POINT of ${b.length} bytes is not a ${curve} point (raw or in a DER OCTET STRING)`);
}

// --- public keys: token → node ---

function b64(b: Buffer): string {
  return b.toString('base64url');
}

function unsignedBytes(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/**
 * The public key's JWK, from its attributes (one C_GetAttributeValue): RSA from CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT; EC, Edwards and Montgomery from CKA_EC_PARAMS and CKA_EC_POINT (compressed
 * EC points are decompressed by node:crypto's ECDH.convertKey).
 */
export async function publicKeyJwk(publicKey: PublicKey): Promise<JsonWebKey> {
  if (!(publicKey instanceof Pkcs11Object)) throw new TypeError("exportPublicKey: argument 'publicKey' must be a PublicKey");
  const a = await publicKey.getAttributes(['class', 'keyType', 'modulus', 'publicExponent', 'ecParams', 'ecPoint']);
  if (a.class !== undefined && a.class !== 'publicKey') throw new TypeError(`exportPublicKey: the object is a '${String(a.class)}', not a public key`);
  const keyType = a.keyType;
  if (keyType === 'rsa') {
    if (!(a.modulus instanceof Buffer) || !(a.publicExponent instanceof Buffer)) throw new TypeError('exportPublicKey: the RSA key has no readable CKA_MODULUS / CKA_PUBLIC_EXPONENT');
    return { kty: 'RSA', n: b64(unsignedBytes(a.modulus)), e: b64(unsignedBytes(a.publicExponent)) };
  }
  if (keyType === 'ec' || keyType === 'ecEdwards' || keyType === 'ecMontgomery') {
    if (!(a.ecParams instanceof Buffer) || !(a.ecPoint instanceof Buffer)) throw new TypeError('exportPublicKey: the key has no readable CKA_EC_PARAMS / CKA_EC_POINT');
    const curve = curveOfParams(a.ecParams);
    const c = curve !== undefined ? CURVE_INFO[curve] : undefined;
    if (!curve || !c) throw new RangeError(`exportPublicKey: curve with CKA_EC_PARAMS ${a.ecParams.toString('hex')} is not one node:crypto takes (${Object.keys(CURVE_INFO).join(', ')})`);
    if (c.keyType !== keyType) throw new TypeError(`exportPublicKey: a '${keyType}' key on curve ${curve}`);
    let point = ecPointBytes(a.ecPoint, curve);
    if (c.kty === 'OKP') return { kty: 'OKP', crv: c.jwk, x: b64(point) };
    if (point[0] !== 0x04) point = ECDH.convertKey(point, c.ecdh!, undefined, undefined, 'uncompressed') as Buffer;
    return { kty: 'EC', crv: c.jwk, x: b64(point.subarray(1, 1 + c.size)), y: b64(point.subarray(1 + c.size)) };
  }
  throw new TypeError(`exportPublicKey: key type '${String(keyType)}' has no node:crypto form (RSA, EC, Edwards and Montgomery keys do)`);
}

/** The public key as a node:crypto KeyObject (RSA, EC P-256/P-384/P-521/secp256k1, Ed25519/Ed448, X25519/X448). */
export async function exportPublicKey(publicKey: PublicKey): Promise<KeyObject> {
  return createPublicKey({ key: await publicKeyJwk(publicKey), format: 'jwk' });
}

/** SubjectPublicKeyInfo of the public key, DER (a Buffer) or PEM (a string), encoded by node:crypto. */
export async function exportSpki(publicKey: PublicKey, format: 'der'): Promise<Buffer>;
export async function exportSpki(publicKey: PublicKey, format: 'pem'): Promise<string>;
export async function exportSpki(publicKey: PublicKey, format: 'der' | 'pem' = 'der'): Promise<Buffer | string> {
  if (format !== 'der' && format !== 'pem') throw new RangeError(`exportSpki: argument 'format' must be 'der' or 'pem' (got ${String(format)})`);
  const k = await exportPublicKey(publicKey);
  return format === 'der' ? k.export({ type: 'spki', format: 'der' }) : (k.export({ type: 'spki', format: 'pem' }) as string);
}

/** The public key's JWK as node:crypto exports it (members in node's order). */
export async function exportJwk(publicKey: PublicKey): Promise<JsonWebKey> {
  return (await exportPublicKey(publicKey)).export({ format: 'jwk' });
}

// --- node → token ---

function keyObjectArg(what: string, k: unknown, type: 'private' | 'public' | 'secret'): KeyObject {
  if (!(k instanceof KeyObject)) throw new TypeError(`${what}: argument 'keyObject' must be a node:crypto KeyObject`);
  if (k.type !== type) throw new TypeError(`${what}: argument 'keyObject' must be a ${type} key (got a ${k.type} key)`);
  return k;
}

function templateArg(what: string, t: unknown): TemplateObject {
  if (t === undefined) return {};
  if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new TypeError(`${what}: argument 'template' must be an object of attribute values`);
  return t as TemplateObject;
}

function jwkBytes(jwk: JsonWebKey, name: string): Buffer {
  const v = (jwk as Record<string, unknown>)[name];
  if (typeof v !== 'string') throw new TypeError(`the key's JWK has no '${name}'`);
  return Buffer.from(v, 'base64url');
}

function jwkCurve(what: string, jwk: JsonWebKey): CurveInfo & { name: string } {
  const c = typeof jwk.crv === 'string' ? CURVE_INFO[jwk.crv] : undefined;
  if (!c || c.kty !== jwk.kty) throw new RangeError(`${what}: curve '${String(jwk.crv)}' is not supported (${Object.keys(CURVE_INFO).join(', ')})`);
  return { ...c, name: jwk.crv! };
}

function exportJwkOf(what: string, k: KeyObject): JsonWebKey {
  try {
    return k.export({ format: 'jwk' });
  } catch (e) {
    throw new TypeError(`${what}: node:crypto cannot export this ${String(k.asymmetricKeyType)} key as a JWK (${(e as Error).message})`);
  }
}

const PRIVATE_USAGE: Record<string, TemplateObject> = { rsa: { sign: true, decrypt: true }, ec: { sign: true }, ecEdwards: { sign: true }, ecMontgomery: { derive: true } };
const PUBLIC_USAGE: Record<string, TemplateObject> = { rsa: { verify: true, encrypt: true }, ec: { verify: true }, ecEdwards: { verify: true }, ecMontgomery: {} };

/**
 * The PKCS#11 attributes of a node:crypto private key (class, key type and components), from
 * node's JWK export: RSA n, e, d, p, q, dp, dq, qi; EC/Edwards/Montgomery curve → CKA_EC_PARAMS
 * and d → CKA_VALUE.
 */
export function privateKeyAttributes(keyObject: KeyObject): TemplateObject {
  const what = 'importPrivateKey';
  const jwk = exportJwkOf(what, keyObjectArg(what, keyObject, 'private'));
  if (jwk.kty === 'RSA') {
    return {
      class: 'privateKey',
      keyType: 'rsa',
      modulus: jwkBytes(jwk, 'n'),
      publicExponent: jwkBytes(jwk, 'e'),
      privateExponent: jwkBytes(jwk, 'd'),
      prime1: jwkBytes(jwk, 'p'),
      prime2: jwkBytes(jwk, 'q'),
      exponent1: jwkBytes(jwk, 'dp'),
      exponent2: jwkBytes(jwk, 'dq'),
      coefficient: jwkBytes(jwk, 'qi'),
    };
  }
  if (jwk.kty === 'EC' || jwk.kty === 'OKP') {
    const c = jwkCurve(what, jwk);
    return { class: 'privateKey', keyType: c.keyType, ecParams: paramsOfCurve(c.name), value: jwkBytes(jwk, 'd') };
  }
  throw new TypeError(`${what}: key type '${String(jwk.kty)}' is not supported (RSA, EC, OKP)`);
}

/** The PKCS#11 attributes of a node:crypto public key (CKA_EC_POINT as a DER OCTET STRING). */
export function publicKeyAttributes(keyObject: KeyObject): TemplateObject {
  const what = 'importPublicKey';
  const jwk = exportJwkOf(what, keyObjectArg(what, keyObject, 'public'));
  if (jwk.kty === 'RSA') return { class: 'publicKey', keyType: 'rsa', modulus: jwkBytes(jwk, 'n'), publicExponent: jwkBytes(jwk, 'e') };
  if (jwk.kty === 'EC' || jwk.kty === 'OKP') {
    const c = jwkCurve(what, jwk);
    const point = jwk.kty === 'EC' ? Buffer.concat([Buffer.from([4]), jwkBytes(jwk, 'x'), jwkBytes(jwk, 'y')]) : jwkBytes(jwk, 'x');
    return { class: 'publicKey', keyType: c.keyType, ecParams: paramsOfCurve(c.name), ecPoint: octetString(point) };
  }
  throw new TypeError(`${what}: key type '${String(jwk.kty)}' is not supported (RSA, EC, OKP)`);
}

/**
 * Creates a session private key from a node:crypto private key. Defaults: session object
 * (token false), private, sensitive, sign (RSA also decrypt; X25519/X448 derive); the caller's
 * `template` wins over the defaults (label, id, token: true …), the key's own class, type and
 * components over the template.
 */
export async function importPrivateKey(session: Session, keyObject: KeyObject, template?: TemplateObject): Promise<PrivateKey> {
  const t = templateArg('importPrivateKey', template);
  const material = privateKeyAttributes(keyObject);
  const defaults = { token: false, private: true, sensitive: true, ...PRIVATE_USAGE[material.keyType as string] };
  const o = await session.createObject({ ...defaults, ...t, ...material });
  return new PrivateKey(session, o.handle);
}

/** Creates a session public key from a node:crypto public key (defaults: token false, verify; RSA also encrypt). */
export async function importPublicKey(session: Session, keyObject: KeyObject, template?: TemplateObject): Promise<PublicKey> {
  const t = templateArg('importPublicKey', template);
  const material = publicKeyAttributes(keyObject);
  const defaults = { token: false, ...PUBLIC_USAGE[material.keyType as string] };
  const o = await session.createObject({ ...defaults, ...t, ...material });
  return new PublicKey(session, o.handle);
}

/**
 * Creates a session secret key from a node:crypto secret KeyObject: AES for 16, 24 or 32 bytes
 * (encrypt, decrypt), else a generic secret (sign, verify, derive — HMAC keys). A `keyType` in
 * the template picks the type instead (e.g. 'genericSecret' for a 32-byte HMAC key); defaults
 * token false, sensitive true; the caller's template wins, the value is the key's.
 */
export async function importSecretKey(session: Session, keyObject: KeyObject, template?: TemplateObject): Promise<SecretKey> {
  const t = templateArg('importSecretKey', template);
  const value = keyObjectArg('importSecretKey', keyObject, 'secret').export();
  if (value.length === 0) throw new RangeError('importSecretKey: the secret key is empty');
  const keyType = t.keyType ?? ([16, 24, 32].includes(value.length) ? 'aes' : 'genericSecret');
  const usage = keyType === 'aes' ? { encrypt: true, decrypt: true } : keyType === 'genericSecret' ? { sign: true, verify: true, derive: true } : {};
  const o = await session.createObject({ token: false, sensitive: true, ...usage, ...t, class: 'secretKey', keyType, value });
  return new SecretKey(session, o.handle);
}

/** Imports any node:crypto KeyObject by its type (secret, private, public); see the three functions above. */
export function importKey(session: Session, keyObject: KeyObject, template?: TemplateObject): Promise<PrivateKey | PublicKey | SecretKey> {
  if (!(keyObject instanceof KeyObject)) return Promise.reject(new TypeError("importKey: argument 'keyObject' must be a node:crypto KeyObject"));
  if (keyObject.type === 'secret') return importSecretKey(session, keyObject, template);
  if (keyObject.type === 'private') return importPrivateKey(session, keyObject, template);
  return importPublicKey(session, keyObject, template);
}

// --- ECDSA signatures: raw r||s (PKCS#11, node 'ieee-p1363') ↔ DER (X.509, node's default) ---

function derLength(n: number): number[] {
  return n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
}

function derInteger(b: Uint8Array): number[] {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const body = Array.from(b.subarray(i));
  if (body[0] & 0x80) body.unshift(0);
  return [0x02, ...derLength(body.length), ...body];
}

/** A PKCS#11 ECDSA signature (r||s, equal halves) as DER: SEQUENCE { INTEGER r, INTEGER s }. */
export function ecdsaToDer(signature: Uint8Array): Buffer {
  if (!(signature instanceof Uint8Array)) throw new TypeError("ecdsaToDer: argument 'signature' must be a Buffer or Uint8Array");
  if (signature.length === 0 || signature.length % 2 !== 0) throw new RangeError(`ecdsaToDer: a raw ECDSA signature has two equal halves (got ${signature.length} bytes)`);
  const half = signature.length / 2;
  const body = [...derInteger(signature.subarray(0, half)), ...derInteger(signature.subarray(half))];
  return Buffer.from([0x30, ...derLength(body.length), ...body]);
}

/**
 * A DER ECDSA signature as r||s, each left-padded to `size` bytes (the curve's field size: 32 for
 * P-256, 48 for P-384, 66 for P-521), for PKCS#11 verify. Strict DER: anything else is a RangeError.
 */
export function derToEcdsa(der: Uint8Array, size: number): Buffer {
  if (!(der instanceof Uint8Array)) throw new TypeError("derToEcdsa: argument 'der' must be a Buffer or Uint8Array");
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError("derToEcdsa: argument 'size' must be a positive integer (the curve's field size in bytes)");
  const b = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const bad = (why: string) => new RangeError(`derToEcdsa: not a DER ECDSA signature (${why})`);
  let at = 0;
  const header = (tag: number): number => {
    if (b[at] !== tag) throw bad(`expected tag 0x${tag.toString(16)} at ${at}`);
    let len = b[at + 1];
    at += 2;
    if (len === undefined) throw bad('truncated');
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 2 || at + n > b.length) throw bad('bad length');
      len = b.readUIntBE(at, n);
      if (len < 0x80 || (n === 2 && len < 0x100)) throw bad('non-minimal length');
      at += n;
    }
    if (at + len > b.length) throw bad('truncated');
    return len;
  };
  if (header(0x30) !== b.length - at) throw bad('trailing bytes');
  const out = Buffer.alloc(2 * size);
  for (let i = 0; i < 2; i++) {
    const len = header(0x02);
    let v = b.subarray(at, at + len);
    at += len;
    if (len === 0 || v[0] & 0x80) throw bad('negative or empty integer');
    if (v[0] === 0 && len > 1) {
      if (!(v[1] & 0x80)) throw bad('non-minimal integer');
      v = v.subarray(1);
    }
    if (v.length > size) throw new RangeError(`derToEcdsa: integer of ${v.length} bytes does not fit size ${size}`);
    v.copy(out, i * size + size - v.length);
  }
  if (at !== b.length) throw bad('trailing bytes');
  return out;
}

// The node:crypto forms of a public key, as methods: added here, above objects/keys.ts, in the
// way sharp's operation files add to its class (objects/ must not import interop/).
declare module '../session/session' {
  interface Session {
    /** A node:crypto key put on the token: private (RSA/EC/Edwards), public, or secret (AES/generic). */
    importKey(keyObject: KeyObject, template?: TemplateObject): Promise<PrivateKey | PublicKey | SecretKey>;
  }
}

declare module '../objects/keys' {
  interface PublicKey {
    /** The key as a node:crypto KeyObject (RSA, EC, Ed25519/Ed448, X25519/X448). */
    toKeyObject(): Promise<KeyObject>;
    /** SubjectPublicKeyInfo, DER or PEM, encoded by node:crypto. */
    toSpki(format?: 'der'): Promise<Buffer>;
    toSpki(format: 'pem'): Promise<string>;
    /** The public JWK. */
    toJwk(): Promise<JsonWebKey>;
  }
}

Object.defineProperty(Session.prototype, 'importKey', {
  value: function importKeyMethod(this: Session, keyObject: KeyObject, template?: TemplateObject) {
    return importKey(this, keyObject, template);
  },
  writable: true,
  configurable: true,
});

Object.defineProperties(PublicKey.prototype, {
  toKeyObject: {
    value: function toKeyObject(this: PublicKey): Promise<KeyObject> {
      return exportPublicKey(this);
    },
    writable: true,
    configurable: true,
  },
  toSpki: {
    value: function toSpki(this: PublicKey, format: 'der' | 'pem' = 'der'): Promise<Buffer | string> {
      return format === 'pem' ? exportSpki(this, 'pem') : exportSpki(this, 'der');
    },
    writable: true,
    configurable: true,
  },
  toJwk: {
    value: function toJwk(this: PublicKey): Promise<JsonWebKey> {
      return exportJwk(this);
    },
    writable: true,
    configurable: true,
  },
});
