// signCms / verifyCms with SoftHSM keys (p11bridge-a, session objects only), checked by
// `openssl cms -verify` (detached and attached, the test CA as -CAfile) for RSA PKCS#1 v1.5,
// RSA-PSS and ECDSA; a changed byte must fail there too. Large input: a 48 MiB stream is hashed
// as it arrives (RSS growth stays far below the file's size).
import * as crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixture } from './helpers/softhsm';
import { Module, Session, PrivateKey, PublicKey } from '../lib/index';
import { signCms, verifyCms, CertificateMismatchError } from '../lib/documents';
import { makeCa, TestCa } from './fixtures/documents/pki';

type KeyCase = {
  name: string;
  spec: { name: 'RSA'; modulusLength: number } | { name: 'EC'; curve: string };
  rsaScheme?: 'pkcs1' | 'pss';
  digest: 'SHA-256' | 'SHA-384' | 'SHA-512';
};
const CASES: KeyCase[] = [
  { name: 'RSA PKCS#1 v1.5', spec: { name: 'RSA', modulusLength: 2048 }, digest: 'SHA-256' },
  { name: 'RSA-PSS', spec: { name: 'RSA', modulusLength: 2048 }, rsaScheme: 'pss', digest: 'SHA-256' },
  { name: 'ECDSA P-256', spec: { name: 'EC', curve: 'P-256' }, digest: 'SHA-256' },
  { name: 'ECDSA P-384', spec: { name: 'EC', curve: 'P-384' }, digest: 'SHA-384' },
];

function openssl(args: string[], input?: Buffer): { status: number | null; out: string } {
  const r = spawnSync('openssl', args, { input, timeout: 60000 });
  return { status: r.status, out: r.stdout.toString('latin1') + r.stderr.toString('latin1') };
}

describe('signCms on token keys, checked by openssl cms', () => {
  let mod: Module;
  let s: Session;
  let ca: TestCa;
  let dir: string;
  let caFile: string;
  const keys = new Map<string, { privateKey: PrivateKey; publicKey: PublicKey; cert: crypto.X509Certificate }>();

  beforeAll(async () => {
    mod = await Module.open(fixture().modulePath);
    s = await (await mod.findSlot('p11bridge-a'))!.openSession({ write: true });
    await s.login('1234');
    ca = await makeCa();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-cms-'));
    caFile = path.join(dir, 'ca.pem');
    fs.writeFileSync(caFile, ca.pem);
    for (const c of CASES) {
      const id = crypto.randomBytes(8);
      const kp = await s.generateKeyPair(c.spec, { privateKey: { id, label: `cms ${c.name}` }, publicKey: { id } });
      const cert = await ca.issue(await kp.publicKey.toSpki(), `cms signer ${c.name}`);
      // The certificate on the token with the key's CKA_ID: signCms finds it there.
      await s.importCertificate(cert, { id, label: `cms ${c.name}` });
      keys.set(c.name, { ...kp, cert });
    }
  });
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await s?.close();
    await mod?.close();
  });

  describe.each(CASES)('$name', (c) => {
    const content = Buffer.from(`CAdES-BES content for ${c.name}\n`);

    test('detached: openssl cms -verify accepts it with the CA; a changed byte fails', async () => {
      const k = keys.get(c.name)!;
      const signed = await signCms(content, { key: k.privateKey, digest: c.digest, rsaScheme: c.rsaScheme });
      expect(signed.certificate.raw.equals(k.cert.raw)).toBe(true);
      const sig = path.join(dir, `${c.name}.p7s`);
      const dataFile = path.join(dir, `${c.name}.txt`);
      fs.writeFileSync(sig, signed.der);
      fs.writeFileSync(dataFile, content);
      const ok = openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', sig, '-content', dataFile, '-CAfile', caFile, '-out', '/dev/null']);
      expect(ok.out).toContain('Verification successful');
      expect(ok.status).toBe(0);
      const bad = Buffer.from(content);
      bad[3] ^= 1;
      fs.writeFileSync(dataFile, bad);
      const fail = openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', sig, '-content', dataFile, '-CAfile', caFile, '-out', '/dev/null']);
      expect(fail.status).not.toBe(0);
      expect(fail.out).toMatch(/digest failure|verification failure/i);
    });

    test('attached: openssl cms -verify prints the content; a changed content byte fails', async () => {
      const k = keys.get(c.name)!;
      const signed = await signCms(content, { key: k.privateKey, certificate: k.cert, detached: false, digest: c.digest, rsaScheme: c.rsaScheme });
      const ok = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-CAfile', caFile], { input: signed.der });
      expect(ok.stderr.toString()).toContain('Verification successful');
      expect(ok.stdout.equals(content)).toBe(true);
      const at = signed.der.indexOf(content);
      expect(at).toBeGreaterThan(0);
      const bad = Buffer.from(signed.der);
      bad[at + 5] ^= 1;
      const fail = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-CAfile', caFile, '-out', '/dev/null'], { input: bad });
      expect(fail.status).not.toBe(0);
    });

    test('the SignerInfo says what openssl reads: attributes, algorithm, PSS parameters', async () => {
      const k = keys.get(c.name)!;
      const signed = await signCms(content, { key: k.privateKey, digest: c.digest, rsaScheme: c.rsaScheme });
      const r = openssl(['cms', '-cmsout', '-print', '-inform', 'DER'], signed.der);
      expect(r.status).toBe(0);
      expect(r.out).toContain('contentType');
      expect(r.out).toContain('messageDigest');
      expect(r.out).toContain('signingTime');
      expect(r.out).toMatch(/id-smime-aa-signingCertificateV2|signingCertificateV2/);
      if (c.rsaScheme === 'pss') {
        expect(r.out).toContain('rsassaPss');
        // RSASSA-PSS-params: hash SHA-256, MGF1 with SHA-256, salt 32 (0x20).
        expect(r.out).toMatch(/rsassaPss[\s\S]*?cont \[ 0 \][\s\S]*?:sha256[\s\S]*?cont \[ 1 \][\s\S]*?:mgf1[\s\S]*?:sha256[\s\S]*?cont \[ 2 \][\s\S]*?INTEGER\s+:20/);
      } else if (c.spec.name === 'EC') expect(r.out).toContain(`ecdsa-with-${c.digest.replace('-', '')}`);
      else expect(r.out).toContain('sha256WithRSAEncryption');
    });

    test('verifyCms: valid round trip (detached and attached), invalid for changed content', async () => {
      const k = keys.get(c.name)!;
      const det = await signCms(content, { key: k.privateKey, digest: c.digest, rsaScheme: c.rsaScheme });
      const v = await verifyCms(det.der, { data: content, trusted: [ca.certificate] });
      expect(v.signers[0].reason).toBeUndefined();
      expect(v.valid).toBe(true);
      expect(v.signers).toHaveLength(1);
      expect(v.signers[0].certificate!.raw.equals(k.cert.raw)).toBe(true);
      expect(v.signers[0].signingTime).toBeInstanceOf(Date);
      const att = await signCms(content, { key: k.privateKey, digest: c.digest, rsaScheme: c.rsaScheme, detached: false });
      const va = await verifyCms(att.der, { trusted: [ca.certificate] });
      expect(va.valid).toBe(true);
      expect(va.content!.equals(content)).toBe(true);
      const changed = Buffer.from(content);
      changed[0] ^= 0x20;
      const vb = await verifyCms(det.der, { data: changed, trusted: [ca.certificate] });
      expect(vb.valid).toBe(false);
      expect(vb.signers[0].reason).toMatch(/message digest/);
    });
  });

  test('a 48 MiB stream is hashed as it arrives: RSS grows far less than the input', async () => {
    const k = keys.get('ECDSA P-256')!;
    const chunk = crypto.randomBytes(1 << 20);
    const total = 48;
    let produced = 0;
    const hash = crypto.createHash('sha256');
    async function* source() {
      for (let i = 0; i < total; i++) {
        chunk[0] = i; // each chunk differs; the same buffer is reused, as a reader would
        hash.update(chunk);
        produced++;
        yield chunk;
      }
    }
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const signed = await signCms(source(), {
      key: k.privateKey,
      onProgress: () => {
        peak = Math.max(peak, process.memoryUsage().rss);
      },
    });
    expect(produced).toBe(total);
    expect(signed.length).toBe(total << 20);
    expect(signed.digest.equals(hash.digest())).toBe(true);
    // Had the input been collected, RSS would have grown by ≥ 48 MiB.
    expect(peak - before).toBeLessThan(24 << 20);
  });

  test('a file stream signs detached and openssl verifies it against the file', async () => {
    const k = keys.get('RSA PKCS#1 v1.5')!;
    const file = path.join(dir, 'big.bin');
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < 12; i++) fs.writeSync(fd, crypto.randomBytes(1 << 20));
    fs.closeSync(fd);
    const signed = await signCms(fs.createReadStream(file), { key: k.privateKey });
    const sig = path.join(dir, 'big.p7s');
    fs.writeFileSync(sig, signed.der);
    const r = openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', sig, '-content', file, '-CAfile', caFile, '-out', '/dev/null']);
    expect(r.out).toContain('Verification successful');
    expect((await verifyCms(signed.der, { data: fs.createReadStream(file), trusted: [ca.certificate] })).valid).toBe(true);
  });

  test("a certificate that is not the key's is refused before anything is returned", async () => {
    const a = keys.get('ECDSA P-256')!;
    const b = keys.get('RSA PKCS#1 v1.5')!;
    await expect(signCms(Buffer.from('x'), { key: a.privateKey, certificate: keys.get('ECDSA P-384')!.cert })).rejects.toThrow(CertificateMismatchError);
    await expect(signCms(Buffer.from('x'), { key: b.privateKey, certificate: a.cert })).rejects.toThrow(/certificate|key/);
  });

  test('verifyCms reads CMS that openssl made (streamed BER, attached and detached), and a changed one is invalid', async () => {
    const soft = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cert = await ca.issue(soft.publicKey.export({ type: 'spki', format: 'der' }), 'openssl signer');
    const keyFile = path.join(dir, 'soft.key');
    const certFile = path.join(dir, 'soft.pem');
    const dataFile = path.join(dir, 'soft.txt');
    fs.writeFileSync(keyFile, soft.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    fs.writeFileSync(certFile, cert.toString());
    const data = Buffer.from('signed by openssl, read by verifyCms\n'.repeat(100));
    fs.writeFileSync(dataFile, data);
    const sign = (extra: string[]): Buffer => {
      const r = spawnSync('openssl', ['cms', '-sign', '-binary', '-in', dataFile, '-signer', certFile, '-inkey', keyFile, '-outform', 'DER', ...extra], { timeout: 60000 });
      expect(r.status).toBe(0);
      return r.stdout;
    };
    const attached = sign(['-nodetach', '-stream']);
    const va = await verifyCms(attached, { trusted: [ca.certificate] });
    expect(va.signers[0].reason).toBeUndefined();
    expect(va.valid).toBe(true);
    expect(va.content!.equals(data)).toBe(true);
    const detached = sign([]);
    expect((await verifyCms(detached, { data, trusted: [ca.certificate] })).valid).toBe(true);
    const changed = Buffer.from(data);
    changed[10] ^= 1;
    expect((await verifyCms(detached, { data: changed, trusted: [ca.certificate] })).valid).toBe(false);
    // Trusting another CA: the chain is the reason.
    const other = await makeCa('another root');
    const vo = await verifyCms(detached, { data, trusted: [other.certificate] });
    expect(vo.valid).toBe(false);
    expect(vo.signers[0].reason).toMatch(/no trusted issuer/);
  });

  test('bad arguments are TypeError / RangeError naming them', async () => {
    const k = keys.get('ECDSA P-256')!;
    await expect(signCms('text' as never, { key: k.privateKey })).rejects.toThrow(TypeError);
    await expect(signCms(Buffer.from('x'), { key: 'nope' as never })).rejects.toThrow(/option 'key'/);
    await expect(signCms(Buffer.from('x'), { key: k.privateKey, digest: 'MD5' as never })).rejects.toThrow(RangeError);
    await expect(signCms(Buffer.from('x'), { key: k.privateKey, rsaScheme: 'pss' })).rejects.toThrow(/rsaScheme/);
    const ed = await s.generateKeyPair({ name: 'Ed25519' });
    await expect(signCms(Buffer.from('x'), { key: ed.privateKey })).rejects.toThrow(/cannot sign here \(RSA and EC keys can\)/);
    await expect(signCms(Buffer.from('x'), { key: k.privateKey, certificate: 42 as never })).rejects.toThrow(/'certificate'/);
    await expect(verifyCms(Buffer.from('not der') as never)).rejects.toThrow();
  });
});
