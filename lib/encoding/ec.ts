// Elliptic curves in PKCS#11 terms, bytes in and bytes out: CKA_EC_PARAMS of a named curve, the
// public point in CKA_EC_POINT, and the two forms of an ECDSA signature. The one copy of this code:
// mechanisms/ (key generation, ECDH), objects/ (a peer PublicKey), interop/ (KeyObject, JWK,
// WebCrypto, JWS) and the CLI all use it. No token calls, no imports above binding/.

// --- DER, the little of it that CKA_EC_PARAMS, CKA_EC_POINT and ECDSA signatures need ---

/** @internal DER length octets (short form, or long form of one or two bytes: enough for a key). */
export function derLength(n: number): number[] {
  return n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
}

/**
 * @internal The body of `b` when `b` is exactly one DER OCTET STRING (a length of up to two bytes;
 * a non-minimal length is taken, as tokens write them), else undefined.
 */
export function octetStringBody(b: Buffer): Buffer | undefined {
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

/** @internal `body` as a DER OCTET STRING (what the spec asks CKA_EC_POINT to be). */
export function octetString(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x04, ...derLength(body.length)]), body]);
}

function view(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

// --- curves ---

/** @internal What the library knows of a curve. */
export interface CurveInfo {
  /** The name: JWK `crv` for the curves node:crypto takes (P-256, Ed25519 …). */
  name: string;
  kty: 'EC' | 'OKP';
  /** Field element bytes (EC) or raw public key bytes (OKP). */
  size: number;
  /** CKK name of the PKCS#11 key type. */
  keyType: 'ec' | 'ecEdwards' | 'ecMontgomery';
  /** node:crypto ECDH curve name, to decompress points (EC only). */
  ecdh?: string;
  /** false for curves node:crypto has no KeyObject/JWK form of (brainpool). */
  node: boolean;
}

const CURVE_LIST: CurveInfo[] = [
  { name: 'P-256', kty: 'EC', size: 32, keyType: 'ec', ecdh: 'prime256v1', node: true },
  { name: 'P-384', kty: 'EC', size: 48, keyType: 'ec', ecdh: 'secp384r1', node: true },
  { name: 'P-521', kty: 'EC', size: 66, keyType: 'ec', ecdh: 'secp521r1', node: true },
  { name: 'secp256k1', kty: 'EC', size: 32, keyType: 'ec', ecdh: 'secp256k1', node: true },
  { name: 'Ed25519', kty: 'OKP', size: 32, keyType: 'ecEdwards', node: true },
  { name: 'Ed448', kty: 'OKP', size: 57, keyType: 'ecEdwards', node: true },
  { name: 'X25519', kty: 'OKP', size: 32, keyType: 'ecMontgomery', node: true },
  { name: 'X448', kty: 'OKP', size: 56, keyType: 'ecMontgomery', node: true },
  { name: 'brainpoolP256r1', kty: 'EC', size: 32, keyType: 'ec', node: false },
  { name: 'brainpoolP384r1', kty: 'EC', size: 48, keyType: 'ec', node: false },
  { name: 'brainpoolP512r1', kty: 'EC', size: 64, keyType: 'ec', node: false },
];

/** @internal The curves node:crypto takes, by name (the JWK `crv`). */
export const CURVE_INFO: Readonly<Record<string, CurveInfo>> = Object.fromEntries(CURVE_LIST.filter((c) => c.node).map((c) => [c.name, c]));

/** DER OIDs of named curves for CKA_EC_PARAMS. */
export const CURVES: Readonly<Record<string, Buffer>> = {
  'P-256': Buffer.from('06082a8648ce3d030107', 'hex'),
  'P-384': Buffer.from('06052b81040022', 'hex'),
  'P-521': Buffer.from('06052b81040023', 'hex'),
  secp256k1: Buffer.from('06052b8104000a', 'hex'),
  Ed25519: Buffer.from('06032b6570', 'hex'),
  Ed448: Buffer.from('06032b6571', 'hex'),
};

/** The DER of an OBJECT IDENTIFIER in dotted form ('1.2.840.10045.3.1.7'). */
function oidDer(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const body: number[] = [parts[0] * 40 + parts[1]];
  for (const n of parts.slice(2)) {
    const chunk: number[] = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    body.push(...chunk);
  }
  return Buffer.from([0x06, body.length, ...body]);
}

/** A curve by name or dotted OID → DER for CKA_EC_PARAMS. */
export function curveParams(curve: string): Buffer {
  if (CURVES[curve]) return CURVES[curve];
  if (/^\d+(\.\d+)+$/.test(curve)) return oidDer(curve);
  throw new RangeError(`unknown curve '${curve}' (a name: ${Object.keys(CURVES).join(', ')}, or a dotted OID)`);
}

// CKA_EC_PARAMS (DER, hex) → curve. The first entry for a name is the one paramsOfCurve writes
// (the RFC 8410 OIDs for Ed/X curves); the others are read: GnuPG's OIDs and the PKCS#11 3.0
// printable names of the Edwards and Montgomery curves (PrintableString "edwards25519" …).
const PARAMS_TO_CURVE = new Map<string, CurveInfo>();
const byName = (name: string): CurveInfo => CURVE_LIST.find((c) => c.name === name)!;
for (const [name, der] of Object.entries(CURVES)) PARAMS_TO_CURVE.set(der.toString('hex'), byName(name));
for (const [oid, name] of [
  ['1.3.101.110', 'X25519'],
  ['1.3.101.111', 'X448'],
  ['1.3.6.1.4.1.11591.15.1', 'Ed25519'], // GnuPG's Ed25519
  ['1.3.6.1.4.1.3029.1.5.1', 'X25519'], // GnuPG's Curve25519
  ['1.3.36.3.3.2.8.1.1.7', 'brainpoolP256r1'],
  ['1.3.36.3.3.2.8.1.1.11', 'brainpoolP384r1'],
  ['1.3.36.3.3.2.8.1.1.13', 'brainpoolP512r1'],
]) {
  PARAMS_TO_CURVE.set(oidDer(oid).toString('hex'), byName(name));
}
for (const [printable, name] of [
  ['edwards25519', 'Ed25519'],
  ['edwards448', 'Ed448'],
  ['curve25519', 'X25519'],
  ['curve448', 'X448'],
]) {
  PARAMS_TO_CURVE.set(Buffer.concat([Buffer.from([0x13, printable.length]), Buffer.from(printable, 'latin1')]).toString('hex'), byName(name));
}

/** @internal Any curve the library knows (brainpool too) by its CKA_EC_PARAMS. */
export function curveInfoOfParams(ecParams: Uint8Array): CurveInfo | undefined {
  return PARAMS_TO_CURVE.get(view(ecParams).toString('hex'));
}

/** The curve name (P-256, Ed25519 …) for a CKA_EC_PARAMS value, or undefined for curves node:crypto cannot take. */
export function curveOfParams(ecParams: Uint8Array): string | undefined {
  const c = curveInfoOfParams(ecParams);
  return c?.node ? c.name : undefined;
}

/** @internal CKA_EC_PARAMS for a curve name (the OID; Ed/X curves by their RFC 8410 OIDs). */
export function paramsOfCurve(curve: string): Buffer {
  for (const [hex, c] of PARAMS_TO_CURVE) if (c.name === curve && hex.startsWith('06')) return Buffer.from(hex, 'hex');
  throw new RangeError(`no CKA_EC_PARAMS for curve '${curve}'`);
}

// --- EC points ---

function isRawPoint(p: Buffer, c: CurveInfo): boolean {
  if (c.kty === 'OKP') return p.length === c.size;
  return (p.length === 1 + 2 * c.size && p[0] === 0x04) || (p.length === 1 + c.size && (p[0] === 0x02 || p[0] === 0x03));
}

// The one reading of CKA_EC_POINT. The spec asks for a DER OCTET STRING, some tokens give the raw
// value. With the curve known its lengths decide (so a raw point whose first bytes look like a
// DER header is not taken for one): the DER body if it is a point of the curve, else the value if
// it is one, else undefined. A raw point and a DER-wrapped one can never have the same length
// (1 + 2s or 1 + s against 3 + 2s, 4 + 2s or 3 + s), so the order of the two tests does not matter.
function pointOf(b: Buffer, c: CurveInfo): Buffer | undefined {
  const inner = octetStringBody(b);
  if (inner && isRawPoint(inner, c)) return inner;
  return isRawPoint(b, c) ? b : undefined;
}

/**
 * The raw public value of a CKA_EC_POINT for `curve` (a name of `curveOfParams`): the DER OCTET
 * STRING the spec asks for is unwrapped; a raw value (some tokens) is taken as it is. Strict: a
 * value that is neither is a RangeError.
 */
export function ecPointBytes(ecPoint: Uint8Array, curve: string): Buffer {
  const c = CURVE_INFO[curve];
  if (!c) throw new RangeError(`unknown curve '${curve}'`);
  const b = view(ecPoint);
  const p = pointOf(b, c);
  if (!p) throw new RangeError(`CKA_EC_POINT of ${b.length} bytes is not a ${curve} point (raw or in a DER OCTET STRING)`);
  return p;
}

/**
 * The raw public value of a CKA_EC_POINT (DER OCTET STRING per the spec; some tokens give it raw),
 * e.g. for ECDH's public data. Lenient, where `ecPointBytes` is strict: it never throws, and what
 * it cannot read comes back as given.
 *
 * With `ecParams` of a curve the library knows (the ones of `curveOfParams`, and brainpool P-256/
 * 384/512r1) it is `ecPointBytes`'s reading, so both agree: compressed points are taken too.
 * (Before the two were one, this function knew only uncompressed lengths and handed a wrapped
 * compressed point back still wrapped.) Without `ecParams`, or for another curve, the DER wrapper
 * is removed when its body looks like a point: any body for `keyType` 'ecMontgomery' or
 * 'ecEdwards', else an uncompressed Weierstrass point (04 prefix, odd length).
 */
export function rawEcPoint(point: Buffer, ecParams?: Buffer, keyType?: unknown): Buffer {
  const c = ecParams ? curveInfoOfParams(ecParams) : undefined;
  if (c) return pointOf(point, c) ?? point;
  const inner = octetStringBody(point);
  if (!inner) return point;
  if (keyType === 'ecMontgomery' || keyType === 'ecEdwards') return inner;
  return inner.length % 2 === 1 && inner[0] === 0x04 ? inner : point;
}

/**
 * @internal The public point of a JWK as PKCS#11 holds it: 04 || x || y for an EC key, the raw
 * key for an OKP key (Ed/X25519, Ed/X448); undefined for other keys or a JWK without them.
 */
export function jwkPoint(jwk: { kty?: string; x?: string; y?: string }): Buffer | undefined {
  if (jwk.kty === 'EC' && typeof jwk.x === 'string' && typeof jwk.y === 'string') {
    return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  }
  if (jwk.kty === 'OKP' && typeof jwk.x === 'string') return Buffer.from(jwk.x, 'base64url');
  return undefined;
}

// --- ECDSA signatures: raw r||s (PKCS#11, node 'ieee-p1363') ↔ DER (X.509, node's default) ---

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
  const b = view(der);
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
