// lib/encoding: the one copy of the EC curve/point code and the key-export encodings, bytes in
// and bytes out (no token). Points, keys and signatures come from node:crypto, which nobody here
// wrote; the token-side round trips are in interop-node, typed-derive and webcrypto-keys.
import * as crypto from 'node:crypto';
import { CURVES, curveOfParams, curveParams, derToEcdsa, ecdsaToDer, ecPointBytes, octetString, paramsOfCurve, rawEcPoint } from '../lib/encoding/ec';
import { keyObjectPoint, privateKeyAttributes, publicJwkOfAttributes, publicKeyAttributes } from '../lib/encoding/jwk';
import * as entry from '../lib';
import * as kdf from '../lib/mechanisms/kdf';
import * as mechanisms from '../lib/mechanisms';
import * as keyobject from '../lib/interop/keyobject';

const WEIERSTRASS = [
  ['P-256', 'prime256v1'],
  ['P-384', 'secp384r1'],
  ['P-521', 'secp521r1'],
  ['secp256k1', 'secp256k1'],
] as const;

test('one copy: the old homes export the encoding module functions themselves', () => {
  expect([entry.rawEcPoint, kdf.rawEcPoint]).toEqual([rawEcPoint, rawEcPoint]);
  expect([entry.CURVES, mechanisms.CURVES, entry.curveParams, mechanisms.curveParams]).toEqual([CURVES, CURVES, curveParams, curveParams]);
  expect([keyobject.ecPointBytes, keyobject.curveOfParams, keyobject.ecdsaToDer, keyobject.derToEcdsa, keyobject.privateKeyAttributes]).toEqual([
    ecPointBytes,
    curveOfParams,
    ecdsaToDer,
    derToEcdsa,
    privateKeyAttributes,
  ]);
});

test.each(WEIERSTRASS)('%s: rawEcPoint and ecPointBytes agree on raw and DER-wrapped, uncompressed and compressed points', (curve, nodeName) => {
  const ecdh = crypto.createECDH(nodeName);
  ecdh.generateKeys();
  const params = curveParams(curve);
  expect(curveOfParams(params)).toBe(curve);
  for (const form of ['uncompressed', 'compressed'] as const) {
    const point = ecdh.getPublicKey(undefined, form);
    for (const stored of [point, octetString(point)]) {
      expect(ecPointBytes(stored, curve)).toEqual(point);
      expect(rawEcPoint(stored, params, 'ec')).toEqual(point);
    }
  }
  // Without the curve, rawEcPoint still unwraps an uncompressed point (04 prefix, odd length).
  expect(rawEcPoint(octetString(ecdh.getPublicKey()))).toEqual(ecdh.getPublicKey());
});

test('X25519/X448 and brainpool points (curves rawEcPoint knew before the merge) read as before', () => {
  for (const [type, size] of [
    ['x25519', 32],
    ['x448', 56],
  ] as const) {
    const jwk = crypto.generateKeyPairSync(type as 'x448').publicKey.export({ format: 'jwk' });
    const raw = Buffer.from(jwk.x!, 'base64url');
    expect(raw).toHaveLength(size);
    const params = paramsOfCurve(jwk.crv!);
    expect(rawEcPoint(octetString(raw), params)).toEqual(raw);
    expect(rawEcPoint(raw, params)).toEqual(raw);
    expect(rawEcPoint(octetString(raw), undefined, 'ecMontgomery')).toEqual(raw);
  }
  const bp = crypto.createECDH('brainpoolP256r1');
  bp.generateKeys();
  const bpParams = Buffer.from('06092b2403030208010107', 'hex');
  expect(curveOfParams(bpParams)).toBeUndefined(); // node:crypto has no JWK for it
  expect(rawEcPoint(octetString(bp.getPublicKey()), bpParams)).toEqual(bp.getPublicKey());
  expect(rawEcPoint(bp.getPublicKey(), bpParams)).toEqual(bp.getPublicKey());
});

test('lenient and strict: what is not a point comes back as given from rawEcPoint, a RangeError from ecPointBytes', () => {
  const junk = Buffer.from('0403010203', 'hex'); // a DER OCTET STRING, but not of a P-256 point
  expect(rawEcPoint(junk, CURVES['P-256'])).toBe(junk);
  expect(() => ecPointBytes(junk, 'P-256')).toThrow(RangeError);
  expect(() => ecPointBytes(junk, 'brainpoolP256r1')).toThrow(/unknown curve/);
  const even = octetString(Buffer.alloc(64, 1)); // no curve known, even body: left wrapped
  expect(rawEcPoint(even)).toBe(even);
});

test('curve parameters: names, dotted OIDs and the printable Edwards/Montgomery names', () => {
  expect(curveParams('1.3.132.0.10')).toEqual(CURVES.secp256k1);
  expect(curveParams('1.3.101.112')).toEqual(CURVES.Ed25519);
  expect(() => curveParams('X25519')).toThrow(RangeError); // CURVES is the key-generation list, as in 0.1
  expect(paramsOfCurve('X25519').toString('hex')).toBe('06032b656e');
  expect(curveOfParams(Buffer.concat([Buffer.from([0x13, 8]), Buffer.from('curve448')]))).toBe('X448'); // PrintableString
  expect(curveOfParams(Buffer.from('060a2b060104019755010501', 'hex'))).toBe('X25519'); // GnuPG's Curve25519
});

test.each([
  ['rsa', { modulusLength: 2048 }],
  ['ec', { namedCurve: 'P-256' }],
  ['ec', { namedCurve: 'P-521' }],
  ['ec', { namedCurve: 'secp256k1' }],
  ['ed25519', {}],
  ['ed448', {}],
  ['x25519', {}],
  ['x448', {}],
] as const)('key export: node %s key → PKCS#11 attributes → JWK is node’s own JWK %j', (type, options) => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync(type as 'ec', options as crypto.ECKeyPairOptions<'pem', 'pem'>) as unknown as crypto.KeyPairKeyObjectResult;
  const attrs = publicKeyAttributes(publicKey);
  const jwk = publicJwkOfAttributes(attrs);
  expect(crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'jwk' })).toEqual(publicKey.export({ format: 'jwk' }));
  const priv = privateKeyAttributes(privateKey);
  expect(priv.keyType).toBe(attrs.keyType);
  if (type !== 'rsa') {
    expect(priv.ecParams).toEqual(attrs.ecParams);
    // ECDH's public data from a KeyObject is the point inside CKA_EC_POINT, private or public key.
    if (type === 'ec' || type === 'x25519' || type === 'x448') expect(keyObjectPoint('t', 'k', privateKey)).toEqual(rawEcPoint(attrs.ecPoint as Buffer, attrs.ecParams as Buffer));
  }
});

test('key export errors name the caller and the problem', () => {
  expect(() => publicJwkOfAttributes({ class: 'privateKey' })).toThrow(/exportPublicKey: the object is a 'privateKey'/);
  expect(() => publicJwkOfAttributes({ keyType: 'aes' }, 'toJwk')).toThrow(/^toJwk: key type 'aes'/);
  expect(() => publicJwkOfAttributes({ keyType: 'ec', ecParams: Buffer.from('06092b2403030208010107', 'hex'), ecPoint: Buffer.alloc(65) })).toThrow(RangeError);
  expect(() => keyObjectPoint('derive', 'spec.publicKey', crypto.createSecretKey(Buffer.alloc(16)))).toThrow(/derive: 'spec.publicKey' is a secret KeyObject/);
  const ed = crypto.generateKeyPairSync('ed25519').publicKey;
  expect(() => keyObjectPoint('derive', 'spec.publicKey', ed)).toThrow(/must be an EC, X25519 or X448 key \(got ed25519\)/);
});

test('ECDSA signature forms match node:crypto (DER default, ieee-p1363 raw)', () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const data = Buffer.from('encoding');
  const raw = crypto.sign('sha384', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  expect(crypto.verify('sha384', data, publicKey, ecdsaToDer(raw))).toBe(true);
  expect(derToEcdsa(crypto.sign('sha384', data, privateKey), 48)).toHaveLength(96);
  expect(crypto.verify('sha384', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, derToEcdsa(crypto.sign('sha384', data, privateKey), 48))).toBe(true);
});
