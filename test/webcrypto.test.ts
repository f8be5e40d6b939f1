// WebCrypto provider over token keys on SoftHSM (p11bridge-b, session objects only): key
// generation, sign/verify against node's WebCrypto, public key export/import, AES-GCM, digest,
// and @peculiar/x509 making a self-signed certificate and a CSR with a token ECDSA key that
// openssl accepts.
import * as crypto from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixture } from './helpers/softhsm';
import { Module, Session, PrivateKey, PublicKey, SecretKey } from '../lib/index';
import { Pkcs11Crypto, Pkcs11CryptoKey } from '../lib/interop/webcrypto';
import { x509 } from './helpers/x509';

const node = crypto.webcrypto.subtle;
const data = Buffer.from('webcrypto provider data');

type Pair = { publicKey: Pkcs11CryptoKey; privateKey: Pkcs11CryptoKey };

describe('WebCrypto provider (Pkcs11Crypto)', () => {
  let mod: Module;
  let s: Session;
  let wc: Pkcs11Crypto;
  let dir: string;
  beforeAll(async () => {
    mod = await Module.open(fixture().modulePath);
    s = await (await mod.findSlot('p11bridge-b'))!.openSession({ write: true });
    await s.login('5678');
    wc = new Pkcs11Crypto(s);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-webcrypto-'));
  });
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await s.close();
    await mod.close();
  });

  test.each([
    ['P-256', 'SHA-256', 64],
    ['P-384', 'SHA-384', 96],
  ] as const)('ECDSA %s: generateKey, sign (r||s), verify on the token and in node, export spki/jwk', async (namedCurve, hash, sigLen) => {
    const kp = (await wc.subtle.generateKey({ name: 'ECDSA', namedCurve }, false, ['sign', 'verify'])) as Pair;
    expect(kp.privateKey).toBeInstanceOf(Pkcs11CryptoKey);
    expect(kp.privateKey.key).toBeInstanceOf(PrivateKey);
    expect(kp.publicKey.key).toBeInstanceOf(PublicKey);
    expect(kp.privateKey).toMatchObject({ type: 'private', extractable: false, usages: ['sign'], algorithm: { name: 'ECDSA', namedCurve } });
    expect(kp.publicKey).toMatchObject({ type: 'public', extractable: true, usages: ['verify'], algorithm: { name: 'ECDSA', namedCurve } });
    expect(Object.prototype.toString.call(kp.publicKey)).toBe('[object CryptoKey]');

    const sig = await wc.subtle.sign({ name: 'ECDSA', hash }, kp.privateKey, data);
    expect(sig).toBeInstanceOf(ArrayBuffer);
    expect(sig.byteLength).toBe(sigLen);
    expect(await wc.subtle.verify({ name: 'ECDSA', hash }, kp.publicKey, sig, data)).toBe(true);
    expect(await wc.subtle.verify({ name: 'ECDSA', hash }, kp.publicKey, sig, Buffer.from('other'))).toBe(false);
    expect(await wc.subtle.verify({ name: 'ECDSA', hash }, kp.publicKey, new Uint8Array(10), data)).toBe(false);

    // Node's WebCrypto verifies it from the exported SPKI and JWK.
    const spki = (await wc.subtle.exportKey('spki', kp.publicKey)) as ArrayBuffer;
    const jwk = (await wc.subtle.exportKey('jwk', kp.publicKey)) as crypto.webcrypto.JsonWebKey;
    expect(jwk).toMatchObject({ kty: 'EC', crv: namedCurve, key_ops: ['verify'], ext: true });
    const fromSpki = await node.importKey('spki', spki, { name: 'ECDSA', namedCurve }, true, ['verify']);
    const fromJwk = await node.importKey('jwk', jwk, { name: 'ECDSA', namedCurve }, true, ['verify']);
    expect(await node.verify({ name: 'ECDSA', hash }, fromSpki, sig, data)).toBe(true);
    expect(await node.verify({ name: 'ECDSA', hash }, fromJwk, sig, data)).toBe(true);
    expect(Buffer.from((await node.exportKey('spki', fromJwk)) as ArrayBuffer)).toEqual(Buffer.from(spki));
    const raw = (await wc.subtle.exportKey('raw', kp.publicKey)) as ArrayBuffer;
    expect(Buffer.from(raw)).toEqual(Buffer.from(await node.exportKey('raw', fromSpki)));

    // Private keys stay on the token.
    await expect(wc.subtle.exportKey('spki', kp.privateKey)).rejects.toMatchObject({ name: 'NotSupportedError' });
    // Usages are enforced.
    await expect(wc.subtle.sign({ name: 'ECDSA', hash }, kp.publicKey, data)).rejects.toMatchObject({ name: 'InvalidAccessError' });
  });

  test('ECDSA: node signatures verify through imported public keys (token objects and KeyObject-backed)', async () => {
    const n = (await node.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as crypto.webcrypto.CryptoKeyPair;
    const sig = await node.sign({ name: 'ECDSA', hash: 'SHA-256' }, n.privateKey, data);
    const spki = await node.exportKey('spki', n.publicKey);
    const jwk = await node.exportKey('jwk', n.publicKey);
    const onToken = await wc.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    expect(onToken.key).toBeInstanceOf(PublicKey);
    expect(await onToken.key!.getAttribute('token')).toBe(false);
    expect(await wc.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, onToken, sig, data)).toBe(true);
    const fromJwk = await wc.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    expect(await wc.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, fromJwk, sig, data)).toBe(true);
    expect(Buffer.from((await wc.subtle.exportKey('spki', fromJwk)) as ArrayBuffer)).toEqual(Buffer.from(spki));

    const inNode = new Pkcs11Crypto(s, { importPublicKeys: 'node' });
    const ko = await inNode.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    expect(ko.key).toBeUndefined();
    expect(ko.keyObject).toBeInstanceOf(crypto.KeyObject);
    expect(await inNode.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, ko, sig, data)).toBe(true);
    expect(await inNode.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, ko, sig, Buffer.from('x'))).toBe(false);

    // A curve mismatch is refused.
    await expect(wc.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-384' }, true, ['verify'])).rejects.toMatchObject({ name: 'DataError' });
    const priv = await node.exportKey('jwk', n.privateKey);
    // A private JWK is a private key: 'verify' is not one of its usages.
    await expect(wc.subtle.importKey('jwk', priv, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify'])).rejects.toMatchObject({ name: 'SyntaxError' });
  });

  test.each([
    [{ name: 'RSASSA-PKCS1-v1_5' }, 'RS256'],
    [{ name: 'RSA-PSS', saltLength: 32 }, 'PS256'],
  ] as const)('%o: generateKey 2048, sign, verify on the token and in node, jwk alg', async (signAlg, jwkAlg) => {
    const kp = (await wc.subtle.generateKey({ name: signAlg.name, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ])) as Pair;
    expect(kp.publicKey.algorithm).toMatchObject({ name: signAlg.name, modulusLength: 2048, hash: { name: 'SHA-256' } });
    expect(Array.from((kp.publicKey.algorithm as { publicExponent: Uint8Array }).publicExponent)).toEqual([1, 0, 1]);
    const sig = await wc.subtle.sign(signAlg, kp.privateKey, data);
    expect(sig.byteLength).toBe(256);
    expect(await wc.subtle.verify(signAlg, kp.publicKey, sig, data)).toBe(true);
    expect(await wc.subtle.verify(signAlg, kp.publicKey, sig, Buffer.from('other'))).toBe(false);
    const jwk = (await wc.subtle.exportKey('jwk', kp.publicKey)) as crypto.webcrypto.JsonWebKey;
    expect(jwk).toMatchObject({ kty: 'RSA', alg: jwkAlg, e: 'AQAB' });
    const k = await node.importKey('jwk', jwk, { name: signAlg.name, hash: 'SHA-256' }, true, ['verify']);
    expect(await node.verify(signAlg, k, sig, data)).toBe(true);

    // A Pkcs11CryptoKey over an existing token key reads its details from the attributes.
    const again = await Pkcs11CryptoKey.from(kp.privateKey.key as PrivateKey, { name: signAlg.name, hash: 'SHA-256' });
    expect(again.algorithm).toMatchObject({ name: signAlg.name, modulusLength: 2048, hash: { name: 'SHA-256' } });
    expect(again.usages).toEqual(['sign']);
    expect(await wc.subtle.verify(signAlg, kp.publicKey, await wc.subtle.sign(signAlg, again, data), data)).toBe(true);
  });

  test('AES-GCM: generateKey, encrypt/decrypt with AAD interoperate with node; a bad tag is OperationError', async () => {
    const key = (await wc.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])) as Pkcs11CryptoKey;
    expect(key).toMatchObject({ type: 'secret', extractable: false, algorithm: { name: 'AES-GCM', length: 256 } });
    expect(key.key).toBeInstanceOf(SecretKey);
    const iv = wc.getRandomValues(new Uint8Array(12));
    const additionalData = Buffer.from('aad');
    const ct = await wc.subtle.encrypt({ name: 'AES-GCM', iv, additionalData }, key, data);
    expect(ct.byteLength).toBe(data.length + 16);
    expect(Buffer.from(await wc.subtle.decrypt({ name: 'AES-GCM', iv, additionalData }, key, ct))).toEqual(data);
    const bad = new Uint8Array(ct.slice(0));
    bad[bad.length - 1] ^= 1;
    await expect(wc.subtle.decrypt({ name: 'AES-GCM', iv, additionalData }, key, bad)).rejects.toMatchObject({ name: 'OperationError' });
    await expect(wc.subtle.exportKey('raw', key)).rejects.toMatchObject({ name: 'NotSupportedError' });

    // A raw key imported into the token and the same key in node agree.
    const raw = crypto.randomBytes(16);
    const tk = await wc.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
    const nk = await node.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
    const ct2 = await wc.subtle.encrypt({ name: 'AES-GCM', iv, tagLength: 96 }, tk, data);
    expect(Buffer.from(ct2)).toEqual(Buffer.from(await node.encrypt({ name: 'AES-GCM', iv, tagLength: 96 }, nk, data)));
    expect(Buffer.from(await node.decrypt({ name: 'AES-GCM', iv, tagLength: 96 }, nk, ct2))).toEqual(data);
  });

  test('HMAC: generateKey and an imported key agree with node', async () => {
    const key = (await wc.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])) as Pkcs11CryptoKey;
    expect(key.algorithm).toEqual({ name: 'HMAC', hash: { name: 'SHA-256' }, length: 512 });
    const mac = await wc.subtle.sign('HMAC', key, data);
    expect(mac.byteLength).toBe(32);
    expect(await wc.subtle.verify('HMAC', key, mac, data)).toBe(true);
    expect(await wc.subtle.verify('HMAC', key, mac, Buffer.from('x'))).toBe(false);

    const raw = crypto.randomBytes(48);
    const tk = await wc.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-384' }, false, ['sign', 'verify']);
    expect(tk.algorithm).toEqual({ name: 'HMAC', hash: { name: 'SHA-384' }, length: 384 });
    const tag = await wc.subtle.sign('HMAC', tk, data);
    expect(Buffer.from(tag)).toEqual(crypto.createHmac('sha384', raw).update(data).digest());
    expect(await wc.subtle.verify('HMAC', tk, tag, data)).toBe(true);

    // SoftHSM refuses HMAC keys shorter than the hash output (WebCrypto allows them): the
    // module's error comes through.
    const short = await wc.subtle.importKey('raw', crypto.randomBytes(32), { name: 'HMAC', hash: 'SHA-384' }, false, ['sign']);
    await expect(wc.subtle.sign('HMAC', short, data)).rejects.toMatchObject({ name: 'KeySizeRangeError' });
  });

  test('digest on the token; getRandomValues from node', async () => {
    for (const h of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'] as const) {
      const d = await wc.subtle.digest(h, data);
      expect(Buffer.from(d)).toEqual(crypto.createHash(h.replace('-', '').toLowerCase()).update(data).digest());
    }
    expect(Buffer.from(await wc.subtle.digest({ name: 'sha-256' }, new Uint8Array(data)))).toEqual(crypto.createHash('sha256').update(data).digest());
    await expect(wc.subtle.digest('MD5', data)).rejects.toMatchObject({ name: 'NotSupportedError' });
    const a = wc.getRandomValues(new Uint8Array(32));
    expect(a).toHaveLength(32);
    expect(Buffer.from(a).equals(Buffer.alloc(32))).toBe(false);
    expect(wc.randomUUID()).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('@peculiar/x509: a self-signed certificate and a CSR signed by a token ECDSA key; openssl verifies both', async () => {
    x509.cryptoProvider.set(wc);
    try {
      const keys = (await wc.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as Pair;
      const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' };
      const cert = await x509.X509CertificateGenerator.createSelfSigned(
        {
          serialNumber: '01',
          name: 'CN=p11bridge webcrypto test, O=p11bridge',
          notBefore: new Date(Date.now() - 60_000),
          notAfter: new Date(Date.now() + 86_400_000),
          signingAlgorithm,
          keys,
          extensions: [
            new x509.BasicConstraintsExtension(true, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true),
            await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, wc),
          ],
        },
        wc,
      );
      // @peculiar/x509 verifies it through the provider too (importKey('spki') + verify).
      expect(await cert.verify({ date: new Date() }, wc)).toBe(true);
      const certPem = path.join(dir, 'cert.pem');
      fs.writeFileSync(certPem, cert.toString('pem'));
      expect(execFileSync('openssl', ['verify', '-CAfile', certPem, certPem], { encoding: 'utf8' })).toMatch(/cert\.pem: OK/);
      // openssl does not check a trust anchor's own signature unless told to.
      expect(execFileSync('openssl', ['verify', '-check_ss_sig', '-CAfile', certPem, certPem], { encoding: 'utf8' })).toMatch(/cert\.pem: OK/);

      // The certificate's key is the token key.
      const nodeCert = new crypto.X509Certificate(fs.readFileSync(certPem));
      const spki = Buffer.from((await wc.subtle.exportKey('spki', keys.publicKey)) as ArrayBuffer);
      expect(nodeCert.publicKey.export({ type: 'spki', format: 'der' })).toEqual(spki);

      const csr = await x509.Pkcs10CertificateRequestGenerator.create(
        {
          name: 'CN=p11bridge csr, O=p11bridge',
          keys,
          signingAlgorithm,
          extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature)],
        },
        wc,
      );
      expect(await csr.verify(wc)).toBe(true);
      const csrPem = path.join(dir, 'csr.pem');
      fs.writeFileSync(csrPem, csr.toString('pem'));
      // Exit status 0 (execFileSync throws otherwise); OpenSSL reports on stderr.
      const r = spawnSync('openssl', ['req', '-verify', '-in', csrPem, '-noout'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout + r.stderr).toMatch(/verify OK/i);
      expect(execFileSync('openssl', ['req', '-in', csrPem, '-noout', '-subject'], { encoding: 'utf8' })).toMatch(/CN\s*=\s*p11bridge csr/);

      // A flipped signature bit fails openssl -check_ss_sig, so the check above means something.
      const der = Buffer.from(cert.rawData);
      der[der.length - 5] ^= 1;
      const badPem = path.join(dir, 'bad.pem');
      fs.writeFileSync(badPem, new x509.X509Certificate(der).toString('pem'));
      expect(spawnSync('openssl', ['verify', '-check_ss_sig', '-CAfile', badPem, badPem], { encoding: 'utf8' }).status).not.toBe(0);
    } finally {
      x509.cryptoProvider.clear();
    }
  });

  test('bad arguments: unknown algorithms, usages, foreign keys', async () => {
    await expect(wc.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['encrypt'])).rejects.toMatchObject({ name: 'SyntaxError' });
    await expect(wc.subtle.generateKey({ name: 'ECDSA', namedCurve: 'K-256' }, false, ['sign'])).rejects.toMatchObject({ name: 'NotSupportedError' });
    await expect(wc.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits'])).rejects.toMatchObject({ name: 'NotSupportedError' });
    const n = (await node.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as crypto.webcrypto.CryptoKeyPair;
    await expect(wc.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, n.privateKey as never, data)).rejects.toThrow(TypeError);
    await expect(wc.subtle.deriveBits({ name: 'HKDF' } as never, n.privateKey as never, 128)).rejects.toMatchObject({ name: 'NotSupportedError' });
  });
});
