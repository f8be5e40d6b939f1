// Key export and import encodings, bytes and attribute values only: a public key's PKCS#11
// attributes → its JWK, and a node:crypto KeyObject → the attributes that make it on a token.
// Node's own encoders do the ASN.1 (a key goes in and out as a JWK); the CKA_EC_POINT wrapper and
// the curve tables are ./ec. The token reads and C_CreateObject are interop/keyobject.ts's.
import { createPublicKey, ECDH, KeyObject } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import type { TemplateObject } from '../template/attributes';
import { CURVE_INFO, CurveInfo, curveOfParams, ecPointBytes, jwkPoint, octetString, paramsOfCurve } from './ec';

function b64(b: Buffer): string {
  return b.toString('base64url');
}

function unsignedBytes(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** @internal The attributes `publicJwkOfAttributes` reads, as C_GetAttributeValue decodes them. */
export interface PublicKeyAttributeValues {
  class?: unknown;
  keyType?: unknown;
  modulus?: unknown;
  publicExponent?: unknown;
  ecParams?: unknown;
  ecPoint?: unknown;
}

/**
 * @internal A public key's JWK from its attributes: RSA from CKA_MODULUS and CKA_PUBLIC_EXPONENT;
 * EC, Edwards and Montgomery from CKA_EC_PARAMS and CKA_EC_POINT (compressed EC points are
 * decompressed by node:crypto's ECDH.convertKey). `what` names the caller in errors.
 */
export function publicJwkOfAttributes(a: PublicKeyAttributeValues, what = 'exportPublicKey'): JsonWebKey {
  if (a.class !== undefined && a.class !== 'publicKey') throw new TypeError(`${what}: the object is a '${String(a.class)}', not a public key`);
  const keyType = a.keyType;
  if (keyType === 'rsa') {
    if (!(a.modulus instanceof Buffer) || !(a.publicExponent instanceof Buffer)) throw new TypeError(`${what}: the RSA key has no readable CKA_MODULUS / CKA_PUBLIC_EXPONENT`);
    return { kty: 'RSA', n: b64(unsignedBytes(a.modulus)), e: b64(unsignedBytes(a.publicExponent)) };
  }
  if (keyType === 'ec' || keyType === 'ecEdwards' || keyType === 'ecMontgomery') {
    if (!(a.ecParams instanceof Buffer) || !(a.ecPoint instanceof Buffer)) throw new TypeError(`${what}: the key has no readable CKA_EC_PARAMS / CKA_EC_POINT`);
    const curve = curveOfParams(a.ecParams);
    const c = curve !== undefined ? CURVE_INFO[curve] : undefined;
    if (!curve || !c) throw new RangeError(`${what}: curve with CKA_EC_PARAMS ${a.ecParams.toString('hex')} is not one node:crypto takes (${Object.keys(CURVE_INFO).join(', ')})`);
    if (c.keyType !== keyType) throw new TypeError(`${what}: a '${keyType}' key on curve ${curve}`);
    let point = ecPointBytes(a.ecPoint, curve);
    if (c.kty === 'OKP') return { kty: 'OKP', crv: c.name, x: b64(point) };
    if (point[0] !== 0x04) point = ECDH.convertKey(point, c.ecdh!, undefined, undefined, 'uncompressed') as Buffer;
    return { kty: 'EC', crv: c.name, x: b64(point.subarray(1, 1 + c.size)), y: b64(point.subarray(1 + c.size)) };
  }
  throw new TypeError(`${what}: key type '${String(keyType)}' has no node:crypto form (RSA, EC, Edwards and Montgomery keys do)`);
}

// --- node → token ---

/** @internal `k` when it is a KeyObject of `type`, else a TypeError naming argument 'keyObject'. */
export function keyObjectArg(what: string, k: unknown, type: 'private' | 'public' | 'secret'): KeyObject {
  if (!(k instanceof KeyObject)) throw new TypeError(`${what}: argument 'keyObject' must be a node:crypto KeyObject`);
  if (k.type !== type) throw new TypeError(`${what}: argument 'keyObject' must be a ${type} key (got a ${k.type} key)`);
  return k;
}

function jwkBytes(jwk: JsonWebKey, name: string): Buffer {
  const v = (jwk as Record<string, unknown>)[name];
  if (typeof v !== 'string') throw new TypeError(`the key's JWK has no '${name}'`);
  return Buffer.from(v, 'base64url');
}

function jwkCurve(what: string, jwk: JsonWebKey): CurveInfo {
  const c = typeof jwk.crv === 'string' ? CURVE_INFO[jwk.crv] : undefined;
  if (!c || c.kty !== jwk.kty) throw new RangeError(`${what}: curve '${String(jwk.crv)}' is not supported (${Object.keys(CURVE_INFO).join(', ')})`);
  return c;
}

function exportJwkOf(what: string, k: KeyObject): JsonWebKey {
  try {
    return k.export({ format: 'jwk' });
  } catch (e) {
    throw new TypeError(`${what}: node:crypto cannot export this ${String(k.asymmetricKeyType)} key as a JWK (${(e as Error).message})`, { cause: e });
  }
}

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
 * @internal The public point of a node:crypto EC/X25519/X448 key as ECDH's public data (a private
 * key gives its public half). `what` and `field` name the caller and the argument in errors.
 */
export function keyObjectPoint(what: string, field: string, k: KeyObject): Buffer {
  if (k.type === 'secret') throw new TypeError(`${what}: '${field}' is a secret KeyObject; an EC, X25519 or X448 public key is needed`);
  const pub = k.type === 'private' ? createPublicKey(k) : k;
  const jwk = pub.export({ format: 'jwk' });
  const point = jwk.kty === 'EC' || (jwk.kty === 'OKP' && (jwk.crv === 'X25519' || jwk.crv === 'X448')) ? jwkPoint(jwk) : undefined;
  if (point) return point;
  throw new TypeError(`${what}: '${field}' KeyObject must be an EC, X25519 or X448 key (got ${String(pub.asymmetricKeyType)})`);
}
