// The typed classes' URI, discovery and node:crypto entry points on SoftHSM: Module.open({ uri }),
// Module.discover(), findSlotByUri, session.findByUri, PublicKey.toKeyObject/toSpki/toJwk,
// session.importKey / importCertificate. The functions behind them are tested in uri.test.ts,
// discovery.test.ts and interop-node.test.ts.
import * as crypto from 'node:crypto';
import { fixture } from './helpers/softhsm';
import { Module, Session, PrivateKey, SecretKey, Certificate, formatUri } from '../lib/index';

describe('typed integration: URIs, discovery, node:crypto', () => {
  let mod: Module;
  let s: Session;
  beforeAll(async () => {
    mod = await Module.open({ uri: `pkcs11:library-manufacturer=SoftHSM?module-path=${fixture().modulePath}` });
    s = await (await mod.findSlot('p11bridge-b'))!.openSession({ write: true });
    await s.login('5678');
  });
  afterAll(async () => {
    await s.close();
    await mod.close();
  });

  test('Module.open({ uri }): module-path, library attributes checked; a mismatch is refused without echoing the URI', async () => {
    expect((await mod.info()).manufacturerID).toBe('SoftHSM');
    const wrong = `pkcs11:library-manufacturer=Nobody?module-path=${fixture().modulePath}&pin-value=secret-123`;
    const e = await Module.open({ uri: wrong }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RangeError);
    expect(String((e as Error).message)).not.toContain('secret-123');
    await expect(Module.open({ uri: 'pkcs11:?module-name=no-such-module-anywhere' })).rejects.toThrow(/no installed module matches/);
  });

  test('Module.discover() lists the installed SoftHSM', async () => {
    const found = await Module.discover();
    expect(found.some((m) => m.exists && m.path.endsWith('libsofthsm2.so'))).toBe(true);
  });

  test('findSlotByUri and session.findByUri find what a URI names', async () => {
    const slot = await mod.findSlotByUri('pkcs11:token=p11bridge-b');
    expect(slot).toBe(s.slot);
    expect(await mod.findSlotByUri('pkcs11:token=no-such-token')).toBeUndefined();
    const id = crypto.randomBytes(4);
    const { privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { id, label: 'uri key' }, publicKey: { id, label: 'uri key' } });
    const uri = formatUri({ token: 'p11bridge-b', object: 'uri key', id, type: 'private' });
    const found = await s.findByUri(uri);
    expect(found.map((o) => o.handle)).toEqual([privateKey.handle]);
    expect(found[0]).toBeInstanceOf(PrivateKey);
    expect(await s.findByUri(formatUri({ token: 'p11bridge-a', id }))).toEqual([]);
  });

  test('PublicKey.toKeyObject / toSpki / toJwk: token signatures verify in node with each', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-384' });
    const data = Buffer.from('interop');
    const sig = await privateKey.sign({ name: 'ECDSA', hash: 'SHA-384' }, data);
    const ko = await publicKey.toKeyObject();
    expect(crypto.verify('sha384', data, { key: ko, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    const spki = crypto.createPublicKey({ key: await publicKey.toSpki('der'), format: 'der', type: 'spki' });
    expect(spki.equals(ko)).toBe(true);
    expect(crypto.createPublicKey(await publicKey.toSpki('pem')).equals(ko)).toBe(true);
    expect(crypto.createPublicKey({ key: await publicKey.toJwk(), format: 'jwk' }).equals(ko)).toBe(true);
  });

  test('session.importKey (node RSA private key, AES key) and importCertificate', async () => {
    const { privateKey: nodePriv, publicKey: nodePub } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const priv = await s.importKey(nodePriv);
    expect(priv).toBeInstanceOf(PrivateKey);
    const data = Buffer.from('imported');
    const sig = await (priv as PrivateKey).sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data);
    expect(crypto.verify('sha256', data, nodePub, sig)).toBe(true);
    const aes = await s.importKey(crypto.createSecretKey(crypto.randomBytes(32)));
    expect(aes).toBeInstanceOf(SecretKey);
    // A certificate openssl made, stored with its DER subject/issuer/serial and read back.
    const { execFileSync } = await import('node:child_process');
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11b-int-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        '/CN=integration',
        '-days',
        '1',
        '-keyout',
        path.join(dir, 'k'),
        '-outform',
        'DER',
        '-out',
        path.join(dir, 'c'),
      ],
      { stdio: 'ignore' },
    );
    const x = new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'c')));
    fs.rmSync(dir, { recursive: true, force: true });
    const cert = await s.importCertificate(x, { label: 'integration' });
    expect(cert).toBeInstanceOf(Certificate);
    expect((await cert.x509()).fingerprint256).toBe(x.fingerprint256);
  });
});
