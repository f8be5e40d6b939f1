// Keys with CKA_ALWAYS_AUTHENTICATE (SoftHSM enforces it: C_Sign without a context-specific login
// is CKR_USER_NOT_LOGGED_IN) sign through every document path with `contextPin`: CMS (checked by
// openssl cms), PDF (pdfsig) and XAdES (xmlsec1). Without it the signers say so before signing;
// a wrong one is the module's PinIncorrectError.
import * as crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixture } from './helpers/softhsm';
import { Module, Session, PrivateKey, PinIncorrectError } from '../lib/index';
import { signCms, signPdf, signXml } from '../lib/documents';
import { makeCa, TestCa } from './fixtures/documents/pki';
import { makePdf } from './fixtures/documents/pdf';

describe('CKA_ALWAYS_AUTHENTICATE keys sign documents with contextPin', () => {
  let mod: Module;
  let s: Session;
  let ca: TestCa;
  let dir: string;
  let caFile: string;
  const keys: Record<string, PrivateKey> = {};

  beforeAll(async () => {
    mod = await Module.open(fixture().modulePath);
    s = await (await mod.findSlot('p11bridge-a'))!.openSession({ write: true });
    await s.login('1234');
    ca = await makeCa('p11bridge context-pin root');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-ctxpin-'));
    caFile = path.join(dir, 'ca.pem');
    fs.writeFileSync(caFile, ca.pem);
    for (const [name, spec] of [
      ['rsa', { name: 'RSA', modulusLength: 2048 }],
      ['ec', { name: 'EC', curve: 'P-256' }],
    ] as const) {
      const id = crypto.randomBytes(8);
      const kp = await s.generateKeyPair(spec, { privateKey: { id, alwaysAuthenticate: true }, publicKey: { id } });
      expect(await kp.privateKey.getAttribute('alwaysAuthenticate')).toBe(true);
      await s.importCertificate(await ca.issue(await kp.publicKey.toSpki(), `context pin ${name}`), { id });
      keys[name] = kp.privateKey;
    }
  });
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await s?.close();
    await mod?.close();
  });

  test.each(['rsa', 'ec'])('%s: CMS (openssl cms -verify), PSS too for RSA', async (name) => {
    const data = Buffer.from(`context pin ${name}`);
    const schemes = name === 'rsa' ? (['pkcs1', 'pss'] as const) : [undefined];
    for (const rsaScheme of schemes) {
      const signed = await signCms(data, { key: keys[name], contextPin: '1234', rsaScheme, detached: false });
      const r = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-CAfile', caFile], { input: signed.der });
      expect(r.stderr.toString()).toContain('Verification successful');
      expect(r.stdout.equals(data)).toBe(true);
    }
    await expect(signCms(data, { key: keys[name] })).rejects.toThrow(/CKA_ALWAYS_AUTHENTICATE.*contextPin/);
    await expect(signCms(data, { key: keys[name], contextPin: '9999' })).rejects.toBeInstanceOf(PinIncorrectError);
    // The failed context login left the session usable.
    expect((await signCms(data, { key: keys[name], contextPin: '1234' })).der.length).toBeGreaterThan(500);
  });

  test.each(['rsa', 'ec'])('%s: PDF (pdfsig says valid)', async (name) => {
    const signed = await signPdf(makePdf(`context pin ${name}`), { key: keys[name], contextPin: '1234' });
    const file = path.join(dir, `${name}.pdf`);
    fs.writeFileSync(file, signed);
    const r = spawnSync('pdfsig', [file]);
    expect(r.stdout.toString()).toContain('Signature is Valid');
    await expect(signPdf(makePdf('x'), { key: keys[name] })).rejects.toThrow(/contextPin/);
  });

  test.each(['rsa', 'ec'])('%s: XAdES (xmlsec1 --verify)', async (name) => {
    const signed = await signXml('<doc><v>1</v></doc>', { key: keys[name], contextPin: '1234' });
    const file = path.join(dir, `${name}.xml`);
    fs.writeFileSync(file, signed);
    const r = spawnSync('xmlsec1', ['--verify', '--trusted-pem', caFile, '--id-attr:Id', 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties', file]);
    expect(r.status).toBe(0);
    await expect(signXml('<doc/>', { key: keys[name] })).rejects.toThrow(/contextPin/);
  });
});
