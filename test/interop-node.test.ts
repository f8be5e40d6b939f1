// node:crypto interop on SoftHSM (p11bridge-b, session objects only): token public keys as
// KeyObject / SPKI / JWK verify token signatures in node; node keys imported into the token sign
// and encrypt for node; an openssl-made certificate is stored and read back; ECDSA encodings.
import * as crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useLoggedInSession } from './helpers/typed-session';
import { Session, PublicKey, PrivateKey, SecretKey, Certificate, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA } from '../lib/index';
import {
  curveOfParams,
  derToEcdsa,
  ecdsaToDer,
  ecPointBytes,
  exportJwk,
  exportPublicKey,
  exportSpki,
  importKey,
  importPrivateKey,
  importPublicKey,
  importSecretKey,
  privateKeyAttributes,
  publicKeyJwk,
} from '../lib/interop/keyobject';
import { certificateFields, readCertificate, storeCertificate } from '../lib/interop/x509';

const data = Buffer.from('node:crypto interop data');

describe('node:crypto interop', () => {
  let s: Session;
  useLoggedInSession('p11bridge-b', (_m, x) => (s = x));

  test.each([
    ['P-256', 'SHA-256', 32],
    ['P-384', 'SHA-384', 48],
  ] as const)('EC %s: token key pair → KeyObject, SPKI DER/PEM, JWK; token signatures verify in node (p1363 and DER)', async (curve, hash, size) => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve });
    const key = await exportPublicKey(publicKey);
    expect(key.type).toBe('public');
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails).toMatchObject({ namedCurve: curve === 'P-256' ? 'prime256v1' : 'secp384r1' });
    const nodeHash = hash.replace('-', '').toLowerCase();
    const sig = await privateKey.sign({ name: 'ECDSA', hash }, data);
    expect(sig).toHaveLength(2 * size);
    expect(crypto.verify(nodeHash, data, { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    expect(crypto.verify(nodeHash, Buffer.from('other'), { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(false);

    // SPKI DER and PEM, and the JWK, round-trip through createPublicKey.
    const der = await exportSpki(publicKey, 'der');
    const pem = await exportSpki(publicKey, 'pem');
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(der).toEqual(key.export({ type: 'spki', format: 'der' }));
    const fromDer = crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
    const fromPem = crypto.createPublicKey(pem);
    const jwk = await exportJwk(publicKey);
    expect(jwk).toMatchObject({ kty: 'EC', crv: curve });
    const fromJwk = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    for (const k of [fromDer, fromPem, fromJwk]) {
      expect(k.equals(key)).toBe(true);
      expect(crypto.verify(nodeHash, data, { key: k, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    }
    // The point read from the token is the one in the SPKI.
    const point = ecPointBytes((await publicKey.getAttribute('ecPoint')) as Buffer, curve);
    expect(der.subarray(-point.length)).toEqual(point);

    // DER on request: node's default dsaEncoding, and back to r||s for the token.
    const asDer = ecdsaToDer(sig);
    expect(crypto.verify(nodeHash, data, { key, dsaEncoding: 'der' }, asDer)).toBe(true);
    expect(crypto.verify(nodeHash, data, key, asDer)).toBe(true);
    expect(derToEcdsa(asDer, size)).toEqual(sig);
    // A node DER signature converted to r||s verifies on the token.
    const nodePriv = crypto.generateKeyPairSync('ec', { namedCurve: curve }).privateKey;
    const nodePub = await importPublicKey(s, crypto.createPublicKey(nodePriv));
    const nodeSig = crypto.sign(nodeHash, data, nodePriv);
    expect(await nodePub.verify({ name: 'ECDSA', hash }, data, derToEcdsa(nodeSig, size))).toBe(true);
    for (const o of [publicKey, privateKey, nodePub]) await o.destroy();
  });

  test('RSA-2048: KeyObject, SPKI and JWK from the token; PKCS#1 v1.5 and PSS token signatures verify in node', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 });
    const key = await exportPublicKey(publicKey);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
    const v15 = await privateKey.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data);
    expect(crypto.verify('sha256', data, key, v15)).toBe(true);
    const pss = await privateKey.sign({ name: 'RSA-PSS', hash: 'SHA-256' }, data);
    expect(crypto.verify('sha256', data, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, pss)).toBe(true);
    const jwk = await exportJwk(publicKey);
    expect(jwk).toMatchObject({ kty: 'RSA', e: 'AQAB' });
    expect(Buffer.from(jwk.n!, 'base64url')).toHaveLength(256);
    const der = await exportSpki(publicKey, 'der');
    const pem = await exportSpki(publicKey, 'pem');
    for (const k of [crypto.createPublicKey({ key: der, format: 'der', type: 'spki' }), crypto.createPublicKey(pem), crypto.createPublicKey({ key: jwk, format: 'jwk' })]) {
      expect(k.equals(key)).toBe(true);
      expect(crypto.verify('sha256', data, k, v15)).toBe(true);
    }
    // Node encrypts to the exported key (OAEP SHA-1, what SoftHSM 2.6 implements); the token decrypts.
    const ct = crypto.publicEncrypt({ key, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, data);
    expect(await privateKey.decrypt({ name: 'RSA-OAEP' }, ct)).toEqual(data);
    for (const o of [publicKey, privateKey]) await o.destroy();
  });

  test('export refuses what is not a public key with a readable form', async () => {
    const aes = await s.generateKey({ name: 'AES', length: 128 });
    await expect(exportPublicKey(aes as unknown as PublicKey)).rejects.toThrow(/not a public key/);
    await expect(exportPublicKey({} as PublicKey)).rejects.toThrow(TypeError);
    await aes.destroy();
    expect(() => ecPointBytes(Buffer.alloc(10), 'P-256')).toThrow(RangeError);
  });

  test('compressed and raw CKA_EC_POINT values are read (compressed ones decompressed by node:crypto)', async () => {
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.generateKeys();
    const uncompressed = ecdh.getPublicKey();
    const compressed = ecdh.getPublicKey(undefined, 'compressed');
    const oct = (b: Buffer) => Buffer.concat([Buffer.from([0x04, b.length]), b]);
    expect(ecPointBytes(oct(uncompressed), 'P-256')).toEqual(uncompressed);
    expect(ecPointBytes(uncompressed, 'P-256')).toEqual(uncompressed);
    expect(ecPointBytes(oct(compressed), 'P-256')).toEqual(compressed);
    // A raw point whose second byte looks like a DER length is still taken as raw.
    const tricky = Buffer.from(uncompressed);
    tricky[1] = 0x3f;
    expect(ecPointBytes(tricky, 'P-256')).toEqual(tricky);
    // A public key object holding a compressed point (SoftHSM stores CKA_EC_POINT as given).
    const stored = new PublicKey(
      s,
      (await s.createObject({ class: 'publicKey', keyType: 'ec', token: false, verify: true, ecParams: Buffer.from('06082a8648ce3d030107', 'hex'), ecPoint: oct(compressed) }))
        .handle,
    );
    const jwk = await publicKeyJwk(stored);
    expect(Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')])).toEqual(uncompressed);
    expect((await exportPublicKey(stored)).equals(crypto.createPublicKey({ key: jwk, format: 'jwk' }))).toBe(true);
    await stored.destroy();
  });

  test('node-generated EC P-256/P-384 and RSA private keys imported as session keys sign on the token; node verifies', async () => {
    for (const curve of ['P-256', 'P-384'] as const) {
      const { privateKey: nodePriv, publicKey: nodePub } = crypto.generateKeyPairSync('ec', { namedCurve: curve });
      const key = await importPrivateKey(s, nodePriv, { label: `interop-${curve}`, id: Buffer.from('a1', 'hex') });
      expect(key).toBeInstanceOf(PrivateKey);
      const a = await key.getAttributes(['class', 'keyType', 'token', 'sensitive', 'sign', 'label', 'id', 'ecParams', 'value', 'extractable']);
      expect(a).toMatchObject({ class: 'privateKey', keyType: 'ec', token: false, sensitive: true, sign: true, label: `interop-${curve}`, id: Buffer.from('a1', 'hex') });
      expect(curveOfParams(a.ecParams as Buffer)).toBe(curve);
      expect(a.value).toBeUndefined(); // sensitive: not readable
      expect(a.unreadable.value).toBe('sensitive');
      const hash = curve === 'P-256' ? 'SHA-256' : 'SHA-384';
      const sig = await key.sign({ name: 'ECDSA', hash }, data);
      expect(crypto.verify(hash.replace('-', '').toLowerCase(), data, { key: nodePub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
      await key.destroy();
    }
    const { privateKey: rsaPriv, publicKey: rsaPub } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsa = await importPrivateKey(s, rsaPriv);
    expect(await rsa.getAttributes(['keyType', 'sign', 'decrypt', 'sensitive', 'token', 'modulusBits'])).toMatchObject({
      keyType: 'rsa',
      sign: true,
      decrypt: true,
      sensitive: true,
      token: false,
    });
    const sig = await rsa.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data);
    expect(crypto.verify('sha256', data, rsaPub, sig)).toBe(true);
    expect(sig).toEqual(crypto.sign('sha256', data, rsaPriv)); // PKCS#1 v1.5 is deterministic
    const ct = crypto.publicEncrypt({ key: rsaPub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, data);
    expect(await rsa.decrypt({ name: 'RSA-OAEP' }, ct)).toEqual(data);
    // The caller's template wins over the defaults: here a non-sensitive, extractable key.
    const open = await importPrivateKey(s, rsaPriv, { sensitive: false, extractable: true, decrypt: false });
    const o = await open.getAttributes(['sensitive', 'decrypt', 'privateExponent', 'prime1']);
    expect(o).toMatchObject({ sensitive: false, decrypt: false });
    const jwk = rsaPriv.export({ format: 'jwk' });
    expect(o.privateExponent).toEqual(Buffer.from(jwk.d!, 'base64url'));
    expect(o.prime1).toEqual(Buffer.from(jwk.p!, 'base64url'));
    for (const k of [rsa, open]) await k.destroy();
  });

  test('the key material wins over the template; wrong kinds of keys are refused before any call', async () => {
    const nodePriv = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const attrs = privateKeyAttributes(nodePriv);
    expect(attrs).toMatchObject({ class: 'privateKey', keyType: 'ec', ecParams: Buffer.from('06082a8648ce3d030107', 'hex') });
    expect((attrs.value as Buffer).length).toBe(32);
    const k = await importPrivateKey(s, nodePriv, { keyType: 'rsa', class: 'secretKey' } as never);
    expect(await k.getAttributes(['class', 'keyType'])).toMatchObject({ class: 'privateKey', keyType: 'ec' });
    await k.destroy();
    await expect(importPrivateKey(s, crypto.createPublicKey(nodePriv))).rejects.toThrow(/must be a private key/);
    await expect(importPrivateKey(s, 'pem' as never)).rejects.toThrow(TypeError);
    await expect(importSecretKey(s, nodePriv)).rejects.toThrow(/must be a secret key/);
    const dsa = crypto.generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 }).privateKey;
    await expect(importPrivateKey(s, dsa)).rejects.toThrow(TypeError);
    await expect(importPrivateKey(s, nodePriv, [] as never)).rejects.toThrow(TypeError);
  });

  test('an AES-256 key from node: the token encrypts AES-GCM, node decrypts; other lengths are generic secrets (HMAC)', async () => {
    const secret = crypto.generateKeySync('aes', { length: 256 });
    const key = await importSecretKey(s, secret, { label: 'interop-aes' });
    expect(key).toBeInstanceOf(SecretKey);
    expect(await key.getAttributes(['keyType', 'sensitive', 'encrypt', 'decrypt', 'token', 'valueLen'])).toMatchObject({
      keyType: 'aes',
      sensitive: true,
      encrypt: true,
      decrypt: true,
      token: false,
      valueLen: 32,
    });
    const iv = crypto.randomBytes(12);
    const aad = Buffer.from('header');
    const ct = await key.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, data);
    const d = crypto.createDecipheriv('aes-256-gcm', secret, iv);
    d.setAAD(aad);
    d.setAuthTag(ct.subarray(-16));
    expect(Buffer.concat([d.update(ct.subarray(0, -16)), d.final()])).toEqual(data);
    // And node → token.
    const iv2 = crypto.randomBytes(12);
    const c = crypto.createCipheriv('aes-256-gcm', secret, iv2);
    const body = Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
    expect(await key.decrypt({ name: 'AES-GCM', iv: iv2 }, body)).toEqual(data);

    // 40 bytes: not an AES length. (SoftHSM refuses HMAC keys shorter than the hash: CKR_KEY_SIZE_RANGE.)
    const hmacKey = crypto.createSecretKey(crypto.randomBytes(40));
    const h = await importKey(s, hmacKey);
    expect(h).toBeInstanceOf(SecretKey);
    expect(await h.getAttributes(['keyType', 'sign'])).toMatchObject({ keyType: 'genericSecret', sign: true });
    expect(await (h as SecretKey).sign({ name: 'HMAC', hash: 'SHA-256' }, data)).toEqual(crypto.createHmac('sha256', hmacKey).update(data).digest());
    // A 32-byte HMAC key: the template picks the type.
    const k32 = crypto.createSecretKey(crypto.randomBytes(32));
    const g = await importSecretKey(s, k32, { keyType: 'genericSecret' });
    expect(await g.sign({ name: 'HMAC', hash: 'SHA-256' }, data)).toEqual(crypto.createHmac('sha256', k32).update(data).digest());
    for (const o of [key, h, g]) await o.destroy();
  });

  test('certificates: an openssl-made X509Certificate is stored with DER subject/issuer/serial and read back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11b-interop-'));
    let x: crypto.X509Certificate;
    let certKey: crypto.KeyObject;
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-subj',
          '/CN=p11bridge interop/O=p11bridge/C=DE',
          '-set_serial',
          '0x00ff0102030405',
          '-days',
          '2',
          '-keyout',
          path.join(dir, 'k.pem'),
          '-outform',
          'DER',
          '-out',
          path.join(dir, 'c.der'),
        ],
        { stdio: 'ignore' },
      );
      x = new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'c.der')));
      certKey = crypto.createPrivateKey(fs.readFileSync(path.join(dir, 'k.pem')));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const f = certificateFields(x.raw);
    expect(f.serialNumber.toString('hex')).toBe('020700ff0102030405');
    expect(f.serialNumber.subarray(2).toString('hex').replace(/^0+/, '').toUpperCase()).toBe(x.serialNumber.replace(/^0+/, ''));
    expect(f.subject).toEqual(f.issuer); // self-signed
    expect(x.raw.includes(f.subject)).toBe(true);

    const id = Buffer.from('c0ffee', 'hex');
    const cert = await storeCertificate(s, x, { label: 'interop-cert', id });
    expect(cert).toBeInstanceOf(Certificate);
    const a = await cert.getAttributes(['class', 'certificateType', 'token', 'label', 'id', 'subject', 'issuer', 'serialNumber', 'value']);
    expect(a).toMatchObject({
      class: 'certificate',
      certificateType: 'x509',
      token: false,
      label: 'interop-cert',
      id,
      subject: f.subject,
      issuer: f.issuer,
      serialNumber: f.serialNumber,
      value: x.raw,
    });
    const back = await readCertificate(cert);
    expect(back.fingerprint256).toBe(x.fingerprint256);
    expect(back.subject).toBe(x.subject);
    expect(back.serialNumber).toBe(x.serialNumber);
    expect(back.verify(crypto.createPublicKey(certKey))).toBe(true);
    // Found by the DER subject; the private key imported with the same id signs for the certificate's public key.
    const [found] = await s.findAll({ class: 'certificate', subject: f.subject, id });
    expect((await readCertificate(found)).fingerprint256).toBe(x.fingerprint256);
    const priv = await importPrivateKey(s, certKey, { id });
    const sig = await priv.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data);
    expect(crypto.verify('sha256', data, x.publicKey, sig)).toBe(true);
    // DER bytes work as well as an X509Certificate; garbage is refused.
    const fromDer = await storeCertificate(s, x.raw, { label: 'interop-cert-der' });
    expect((await readCertificate(fromDer)).fingerprint256).toBe(x.fingerprint256);
    expect(() => certificateFields(Buffer.from('3003020101', 'hex'))).toThrow(RangeError);
    await expect(storeCertificate(s, 'pem' as never)).rejects.toThrow(TypeError);
    for (const o of [cert, fromDer, priv]) await o.destroy();
  });

  test('ECDSA encodings: DER rules, leading zeros and P-521 sizes', () => {
    // r with its high bit set gets a 00 byte; s with leading zeros is shortened.
    const raw = Buffer.concat([Buffer.alloc(32, 0x80), Buffer.concat([Buffer.alloc(3), Buffer.alloc(29, 0x11)])]);
    const der = ecdsaToDer(raw);
    expect(der.subarray(0, 5).toString('hex')).toBe('3042022100');
    expect(derToEcdsa(der, 32)).toEqual(raw);
    // P-521: 66-byte halves, a long-form SEQUENCE length; node verifies the converted signature.
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-521' });
    const p1363 = crypto.sign('sha512', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    expect(p1363).toHaveLength(132);
    const d521 = ecdsaToDer(p1363);
    expect(crypto.verify('sha512', data, publicKey, d521)).toBe(true);
    expect(derToEcdsa(crypto.sign('sha512', data, privateKey), 66)).toHaveLength(132);
    expect(derToEcdsa(d521, 66)).toEqual(p1363);
    expect(() => ecdsaToDer(Buffer.alloc(3))).toThrow(RangeError);
    expect(() => derToEcdsa(Buffer.concat([der, Buffer.from([0])]), 32)).toThrow(RangeError);
    expect(() => derToEcdsa(der, 16)).toThrow(/does not fit/);
    expect(derToEcdsa(Buffer.from('3006020100020100', 'hex'), 32)).toEqual(Buffer.alloc(64)); // zeros are DER too
    expect(() => derToEcdsa(Buffer.from('30060201010201', 'hex'), 32)).toThrow(/truncated|trailing/);
    expect(() => derToEcdsa(Buffer.from('3006020180020101', 'hex'), 32)).toThrow(/negative/);
    expect(() => derToEcdsa(Buffer.from('300702020001020101', 'hex'), 32)).toThrow(/non-minimal/);
  });

  test('Ed25519: what SoftHSM 2.6.1 offers decides; when offered, export, import and EdDSA interop with node', async () => {
    const mechs = await s.slot.mechanismSet();
    const hasEd = mechs.has(String(CKM_EC_EDWARDS_KEY_PAIR_GEN)) && mechs.has(String(CKM_EDDSA));
    if (!hasEd) {
      // Not built with EdDSA: generation is refused by the module.
      await expect(s.generateKeyPair({ name: 'Ed25519' })).rejects.toThrow(/MECHANISM_INVALID/);
      return;
    }
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'Ed25519' });
    const key = await exportPublicKey(publicKey);
    expect(key.asymmetricKeyType).toBe('ed25519');
    const jwk = await exportJwk(publicKey);
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    const sig = await privateKey.sign({ name: 'EdDSA' }, data);
    expect(crypto.verify(null, data, key, sig)).toBe(true);
    const der = await exportSpki(publicKey, 'der');
    expect(crypto.verify(null, data, crypto.createPublicKey({ key: der, format: 'der', type: 'spki' }), sig)).toBe(true);
    // A node Ed25519 key imported: the token's signature is node's (EdDSA is deterministic).
    const pair = crypto.generateKeyPairSync('ed25519');
    const imported = await importPrivateKey(s, pair.privateKey);
    expect(await imported.getAttributes(['keyType', 'sign'])).toMatchObject({ keyType: 'ecEdwards', sign: true });
    const tokenSig = await imported.sign({ name: 'EdDSA' }, data);
    expect(tokenSig).toEqual(crypto.sign(null, data, pair.privateKey));
    const pub = await importPublicKey(s, pair.publicKey);
    expect(await pub.verify({ name: 'EdDSA' }, data, tokenSig)).toBe(true);
    expect((await exportPublicKey(pub)).equals(pair.publicKey)).toBe(true);
    for (const o of [publicKey, privateKey, imported, pub]) await o.destroy();
  });

  test('Ed448: a token key pair exports as a node KeyObject, SPKI and JWK that verify its signatures; a node key imports and signs as node does', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'Ed448' });
    const key = await exportPublicKey(publicKey);
    expect(key.asymmetricKeyType).toBe('ed448');
    expect(await exportJwk(publicKey)).toMatchObject({ kty: 'OKP', crv: 'Ed448' });
    const sig = await privateKey.sign({ name: 'EdDSA' }, data);
    expect(sig.length).toBe(114);
    expect(crypto.verify(null, data, key, sig)).toBe(true);
    expect(crypto.verify(null, Buffer.from('other'), key, sig)).toBe(false);
    const spki = crypto.createPublicKey({ key: await exportSpki(publicKey, 'der'), format: 'der', type: 'spki' });
    expect(crypto.verify(null, data, spki, sig)).toBe(true);
    const pair = crypto.generateKeyPairSync('ed448');
    const imported = await importPrivateKey(s, pair.privateKey);
    expect(await imported.sign({ name: 'EdDSA' }, data)).toEqual(crypto.sign(null, data, pair.privateKey));
    const pub = await importPublicKey(s, pair.publicKey);
    expect((await exportPublicKey(pub)).equals(pair.publicKey)).toBe(true);
    for (const o of [publicKey, privateKey, imported, pub]) await o.destroy();
  });

  test('curve parameters: OIDs and PKCS#11 3.0 printable names', () => {
    expect(curveOfParams(Buffer.from('06032b6570', 'hex'))).toBe('Ed25519');
    expect(curveOfParams(Buffer.concat([Buffer.from([0x13, 12]), Buffer.from('edwards25519')]))).toBe('Ed25519');
    expect(curveOfParams(Buffer.concat([Buffer.from([0x13, 10]), Buffer.from('edwards448')]))).toBe('Ed448');
    expect(curveOfParams(Buffer.from('06052b81040023', 'hex'))).toBe('P-521');
    expect(curveOfParams(Buffer.from('06052b8104000a', 'hex'))).toBe('secp256k1');
    expect(curveOfParams(Buffer.from('0601ff', 'hex'))).toBeUndefined();
  });
});
