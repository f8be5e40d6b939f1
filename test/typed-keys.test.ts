// Typed keys on SoftHSM: generateKeyPair / generateKey from specs, sign/verify/encrypt/decrypt
// with typed mechanisms, every result cross-checked with node:crypto.
import * as crypto from 'node:crypto';
import { useLoggedInSession } from './helpers/typed-session';
import { Session, PublicKey, curveParams, resolveMechanism, CKM_ECDSA, CKM_ECDSA_SHA256 } from '../lib/index';

function ecPublicKey(ecPoint: Buffer, crv: 'P-256' | 'P-384'): crypto.KeyObject {
  const q = ecPoint[1] & 0x80 ? ecPoint.subarray(2 + (ecPoint[1] & 0x7f)) : ecPoint.subarray(2);
  const n = (q.length - 1) / 2;
  return crypto.createPublicKey({
    key: { kty: 'EC', crv, x: q.subarray(1, 1 + n).toString('base64url'), y: q.subarray(1 + n).toString('base64url') },
    format: 'jwk',
  });
}

async function rsaPublicKey(k: PublicKey): Promise<crypto.KeyObject> {
  const a = await k.getAttributes(['modulus', 'publicExponent']);
  return crypto.createPublicKey({
    key: { kty: 'RSA', n: (a.modulus as Buffer).toString('base64url'), e: (a.publicExponent as Buffer).toString('base64url') },
    format: 'jwk',
  });
}

describe('typed keys and operations', () => {
  let s: Session;
  const data = Buffer.from('typed layer data to sign and encrypt');
  useLoggedInSession('p11bridge-a', (_m, x) => (s = x));

  test('curves by name or OID; ECDSA with a hash falls back to Node hashing when the token lacks the combined mechanism', () => {
    expect(curveParams('P-256').toString('hex')).toBe('06082a8648ce3d030107');
    expect(curveParams('1.2.840.10045.3.1.7')).toEqual(curveParams('P-256'));
    expect(() => curveParams('P-999')).toThrow(RangeError);
    expect(resolveMechanism({ name: 'ECDSA', hash: 'SHA-256' }, () => false)).toEqual({ mechanism: { mechanism: CKM_ECDSA }, prehash: 'sha256' });
    expect(resolveMechanism({ name: 'ECDSA', hash: 'SHA-256' }, () => true)).toEqual({ mechanism: { mechanism: CKM_ECDSA_SHA256 } });
  });

  test('EC P-256 and P-384: sign on the token, verify in node and on the token; tampered → false', async () => {
    for (const curve of ['P-256', 'P-384'] as const) {
      const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve }, { privateKey: { label: `typed-${curve}` } });
      expect(await privateKey.getAttributes(['label', 'keyType', 'sensitive', 'sign'])).toMatchObject({ label: `typed-${curve}`, keyType: 'ec', sensitive: true, sign: true });
      const hash = curve === 'P-256' ? 'SHA-256' : 'SHA-384';
      const sig = await privateKey.sign({ name: 'ECDSA', hash }, data);
      const node = ecPublicKey((await publicKey.getAttribute('ecPoint')) as Buffer, curve);
      expect(crypto.verify(hash.replace('-', '').toLowerCase(), data, { key: node, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
      expect(await publicKey.verify({ name: 'ECDSA', hash }, data, sig)).toBe(true);
      const bad = Buffer.from(sig);
      bad[3] ^= 1;
      expect(await publicKey.verify({ name: 'ECDSA', hash }, data, bad)).toBe(false);
      expect(await publicKey.verify({ name: 'ECDSA', hash }, data, sig.subarray(1))).toBe(false);
    }
  });

  test('Ed25519: EdDSA signatures verify in node', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'Ed25519' });
    const sig = await privateKey.sign({ name: 'EdDSA' }, data);
    const point = (await publicKey.getAttribute('ecPoint')) as Buffer;
    const raw = point.length === 34 ? point.subarray(2) : point;
    const node = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    expect(crypto.verify(null, data, node, sig)).toBe(true);
    expect(await publicKey.verify({ name: 'EdDSA' }, data, sig)).toBe(true);
  });

  test('RSA 2048: PKCS#1 v1.5 and PSS signatures verify in node; OAEP round trip on the token and from node', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 });
    expect(await publicKey.getAttribute('modulusBits')).toBe(2048);
    const node = await rsaPublicKey(publicKey);
    const v15 = await privateKey.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data);
    expect(crypto.verify('sha256', data, node, v15)).toBe(true);
    const pss = await privateKey.sign({ name: 'RSA-PSS', hash: 'SHA-256' }, data);
    expect(crypto.verify('sha256', data, { key: node, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, pss)).toBe(true);
    expect(await publicKey.verify({ name: 'RSA-PSS', hash: 'SHA-256' }, data, pss)).toBe(true);
    // SoftHSM 2.6 implements OAEP with SHA-1 and no label only.
    const ct = await publicKey.encrypt({ name: 'RSA-OAEP' }, data);
    expect(await privateKey.decrypt({ name: 'RSA-OAEP' }, ct)).toEqual(data);
    const fromNode = crypto.publicEncrypt({ key: node, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, data);
    expect(await privateKey.decrypt({ name: 'RSA-OAEP' }, fromNode)).toEqual(data);
  });

  test('AES-256: GCM and CBC ciphertexts decrypt in node and on the token', async () => {
    const key = await s.generateKey({ name: 'AES', length: 256 }, { sensitive: false, extractable: true });
    const value = (await key.getAttribute('value')) as Buffer;
    expect(value.length).toBe(32);
    const iv = crypto.randomBytes(12);
    const aad = Buffer.from('header');
    const ct = await key.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, data);
    const d = crypto.createDecipheriv('aes-256-gcm', value, iv);
    d.setAAD(aad);
    d.setAuthTag(ct.subarray(-16));
    expect(Buffer.concat([d.update(ct.subarray(0, -16)), d.final()])).toEqual(data);
    expect(await key.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, ct)).toEqual(data);
    const cbcIv = crypto.randomBytes(16);
    const cbc = await key.encrypt({ name: 'AES-CBC', iv: cbcIv }, data);
    const dc = crypto.createDecipheriv('aes-256-cbc', value, cbcIv);
    expect(Buffer.concat([dc.update(cbc), dc.final()])).toEqual(data);
    expect(await key.decrypt({ name: 'AES-CBC', iv: cbcIv }, cbc)).toEqual(data);
  });

  test('HMAC-SHA256 with a generic secret matches node; verify detects tampering', async () => {
    const key = await s.generateKey({ name: 'generic', length: 32 }, { sensitive: false, extractable: true });
    const value = (await key.getAttribute('value')) as Buffer;
    const mac = await key.sign({ name: 'HMAC', hash: 'SHA-256' }, data);
    expect(mac).toEqual(crypto.createHmac('sha256', value).update(data).digest());
    expect(await key.verify({ name: 'HMAC', hash: 'SHA-256' }, data, mac)).toBe(true);
    expect(await key.verify({ name: 'HMAC', hash: 'SHA-256' }, Buffer.from('other'), mac)).toBe(false);
  });

  test('DES3 generation; bad specs are rejected before reaching the module', async () => {
    const des = await s.generateKey({ name: 'DES3' });
    expect(await des.getAttribute('keyType')).toBe('des3');
    await expect(s.generateKey({ name: 'AES', length: 100 as 128 })).rejects.toThrow(RangeError);
    await expect(s.generateKeyPair({ name: 'EC', curve: 'nope' })).rejects.toThrow(RangeError);
  });

  test('raw escape hatch: { mechanism, parameter } passes through', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
    const digest = crypto.createHash('sha256').update(data).digest();
    const sig = await privateKey.sign({ mechanism: CKM_ECDSA }, digest);
    expect(await publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, data, sig)).toBe(true);
  });
});
