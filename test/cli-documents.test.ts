// p11bridge sign-cms, sign-pdf, sign-xml and verify-cms in child processes against a throw-away
// SoftHSM of their own; keys made by pkcs11-tool (not by p11bridge), certificates issued by the
// test CA and stored with the key's CKA_ID, results checked by openssl cms, pdfsig and xmlsec1.
// Needs `npx tsc -p .` first.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI_BIN as bin, cliFixture, CliFixture, CliResult, runCli } from './helpers/cli';
import { makeCa, TestCa } from './fixtures/documents/pki';
import { makePdf } from './fixtures/documents/pdf';

const PIN = '73519';
let fx: CliFixture;
let ca: TestCa;
let caFile: string;

const run = (args: string[], input: string | Buffer = '', extra: NodeJS.ProcessEnv = {}): CliResult => runCli({ ...fx.env, ...extra }, args, input);
const uri = (attrs: string): string => `pkcs11:token=docs;${attrs}?module-path=${fx.modulePath}`;
const file = (name: string, data?: string | Buffer): string => {
  const f = path.join(fx.tmp, name);
  if (data !== undefined) fs.writeFileSync(f, data);
  return f;
};
const tool = (args: string[]): Buffer =>
  execFileSync('pkcs11-tool', ['--module', fx.modulePath, '--token-label', 'docs', '--login', '--pin', PIN, ...args], { env: fx.env, stdio: ['ignore', 'pipe', 'pipe'] });

function ok(args: string[], input?: string | Buffer, extra?: NodeJS.ProcessEnv): Buffer {
  const r = run(args, input, extra);
  if (r.status !== 0) throw new Error(`p11bridge ${args.join(' ')} → ${r.status}\n${r.stderr}`);
  return r.stdout;
}

/** A key pair made by pkcs11-tool with CKA_ID `id`, and the CA's certificate for it stored with the same CKA_ID. */
async function keyWithCertificate(label: string, id: string, keyType: string, extra: string[] = []): Promise<crypto.X509Certificate> {
  tool(['--keypairgen', '--key-type', keyType, '--id', id, '--label', label, ...extra]);
  const spki = tool(['--read-object', '--type', 'pubkey', '--id', id]);
  const cert = await ca.issue(spki, `cli ${label}`);
  ok(['import', uri(`object=${label};id=%${id}`), file(`${label}.pem`, cert.toString())]);
  return cert;
}

beforeAll(async () => {
  fx = cliFixture('docs', PIN, 'p11bridge-cli-docs-');
  ca = await makeCa('p11bridge cli root');
  caFile = file('ca.pem', ca.pem);
  await keyWithCertificate('ec', '01', 'EC:prime256v1');
  await keyWithCertificate('rsa', '02', 'rsa:2048');
  await keyWithCertificate('always', '03', 'EC:prime256v1', ['--always-auth']);
});
afterAll(() => fx?.cleanup());

const withPin = (args: string[]): string[] => [...args, '--pin-source', 'env:CLI_PIN'];

describe('sign-cms and verify-cms', () => {
  const content = (name: string, data: string): string => file(name, data);
  test('detached, certificate found by CKA_ID: openssl cms -verify and verify-cms accept it; a changed byte is exit 3', () => {
    const data = content('doc.txt', 'a document for the portal\n');
    const sig = file('doc.p7s');
    ok(withPin(['sign-cms', uri('object=ec;type=private'), data, '-o', sig]));
    const o = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', sig, '-content', data, '-CAfile', caFile, '-out', '/dev/null']);
    expect(o.stderr.toString()).toContain('Verification successful');
    const v = run(['verify-cms', sig, data, '--ca-file', caFile]);
    expect(v.status).toBe(0);
    expect(v.stdout.toString()).toMatch(/^valid: CN=cli ec, O=p11bridge tests, signed \d{4}-/);
    const changed = content('doc-changed.txt', 'a document for the portaL\n');
    const bad = run(['verify-cms', sig, changed, '--ca-file', caFile, '--json']);
    expect(bad.status).toBe(3);
    expect(JSON.parse(bad.stdout.toString()).signers[0].reason).toMatch(/message digest/);
    // openssl agrees that the changed content does not match.
    const other = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', sig, '-content', changed, '-CAfile', caFile, '-out', '/dev/null']);
    expect(other.status).not.toBe(0);
  });

  test('attached PEM with RSA-PSS and SHA-384: openssl prints the content', () => {
    const data = content('att.txt', 'attached content\n');
    const out = ok(withPin(['sign-cms', uri('object=rsa;type=private'), data, '--attached', '--pem', '--pss', '--digest', 'SHA-384']));
    expect(out.toString()).toMatch(/^-----BEGIN CMS-----\n/);
    const o = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'PEM', '-CAfile', caFile], { input: out });
    expect(o.stderr.toString()).toContain('Verification successful');
    expect(o.stdout.toString()).toBe('attached content\n');
    const printed = spawnSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'PEM'], { input: out }).stdout.toString();
    expect(printed).toContain('rsassaPss');
    expect(printed).toContain('sha384');
    const v = run(['verify-cms', '-', '--ca-file', caFile, '--json'], out);
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout.toString())).toMatchObject({ valid: true, signers: [{ valid: true, signature: 'rsa-pss', digest: 'SHA-384' }] });
  });

  test('--cert as a file and as a pkcs11: URI; a certificate of another key is refused', () => {
    const data = content('c.txt', 'x');
    ok(withPin(['sign-cms', uri('object=ec;type=private'), data, '--cert', file('ec.pem'), '-o', file('c1.p7s')]));
    ok(withPin(['sign-cms', uri('object=ec;type=private'), data, '--cert', 'pkcs11:object=ec;type=cert', '-o', file('c2.p7s')]));
    for (const f of ['c1.p7s', 'c2.p7s']) expect(run(['verify-cms', file(f), data, '--ca-file', caFile]).status).toBe(0);
    const r = run(withPin(['sign-cms', uri('object=ec;type=private'), data, '--cert', file('rsa.pem')]));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not the key's/);
  });

  test('CKA_ALWAYS_AUTHENTICATE key: the login PIN source is used again, or --context-pin-source; a wrong one is exit 2 and never printed', () => {
    const data = content('always.txt', 'second PIN\n');
    ok(withPin(['sign-cms', uri('object=always;type=private'), data, '-o', file('always.p7s')]));
    expect(run(['verify-cms', file('always.p7s'), data, '--ca-file', caFile]).status).toBe(0);
    ok(withPin(['sign-cms', uri('object=always;type=private'), data, '-o', file('always2.p7s'), '--context-pin-source', 'env:CTX_PIN']), '', { CTX_PIN: PIN });
    const wrong = run(withPin(['sign-cms', uri('object=always;type=private'), data, '--context-pin-source', 'env:CTX_PIN']), '', { CTX_PIN: '99887766' });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/CKR_PIN_INCORRECT/);
    expect(wrong.stderr + wrong.stdout.toString()).not.toContain('99887766');
    for (const cmd of ['sign-pdf', 'sign-xml']) {
      const input = cmd === 'sign-pdf' ? file('always.pdf', makePdf('always')) : file('always.xml', '<a><b>1</b></a>');
      ok(withPin([cmd, uri('object=always;type=private'), input, '-o', file(`always-signed-${cmd}`)]));
    }
    expect(spawnSync('pdfsig', [file('always-signed-sign-pdf')]).stdout.toString()).toContain('Signature is Valid');
  });

  test('usage errors: no PIN source off a terminal, unknown digest, a missing key', () => {
    const data = content('u.txt', 'x');
    const noPin = run(['sign-cms', uri('object=ec;type=private'), data], '', { CLI_PIN: undefined });
    expect(noPin.status).toBe(64);
    expect(run(withPin(['sign-cms', uri('object=ec;type=private'), data, '--digest', 'MD5'])).status).toBe(64);
    const missing = run(withPin(['sign-cms', uri('object=nope;type=private'), data]));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no private key matches/);
  });
});

describe('sign-pdf and sign-xml', () => {
  test('sign-pdf: pdfsig says valid, by the token certificate', () => {
    const out = file('signed.pdf');
    ok(withPin(['sign-pdf', uri('object=rsa;type=private'), file('in.pdf', makePdf('cli')), '-o', out, '--reason', 'approved', '--location', 'Berlin']));
    const r = spawnSync('pdfsig', [out]).stdout.toString();
    expect(r).toContain('Signature is Valid');
    expect(r).toContain('Signer Certificate Common Name: cli rsa');
    expect(r).toContain('Signing Hash Algorithm: SHA-256');
  });

  test('sign-xml: xmlsec1 --verify accepts it', () => {
    const out = file('signed.xml');
    ok(withPin(['sign-xml', uri('object=ec;type=private'), file('in.xml', '<order id="7"><item>tea</item></order>'), '-o', out]));
    const r = spawnSync('xmlsec1', ['--verify', '--trusted-pem', caFile, '--id-attr:Id', 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties', out]);
    expect(r.stderr.toString()).toMatch(/^OK/m);
    expect(r.status).toBe(0);
  });
});

const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).error === undefined;

(hasScript ? test : test.skip)('sign-cms of a 32 MiB file on a terminal shows the progress line, and the signature is right', async () => {
  const big = file('big.bin');
  const fd = fs.openSync(big, 'w');
  for (let i = 0; i < 32; i++) fs.writeSync(fd, crypto.randomBytes(1 << 20));
  fs.closeSync(fd);
  const sig = file('big.p7s');
  const sh = (a: string[]): string => a.map((x) => `'${x.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qec', sh([process.execPath, bin, ...withPin(['sign-cms', uri('object=ec;type=private'), big, '-o', sig])]), '/dev/null'], {
    env: { ...fx.env, P11BRIDGE_PROGRESS_DELAY: '0' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let tty = '';
  child.stdout.on('data', (c: Buffer) => (tty += c.toString()));
  child.stderr.on('data', (c: Buffer) => (tty += c.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('timed out: ' + tty));
    }, 60000);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  expect(code).toBe(0);
  // The line, redrawn in place (\r … ESC[K).
  expect(tty).toMatch(/\r[-\\|/] sign-cms SHA-256 [\d.]+ (B|KiB|MiB) of 32\.0 MiB \(\d+%\) \d+\.\d+s\x1b\[K/);
  const o = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', sig, '-content', big, '-CAfile', caFile, '-out', '/dev/null']);
  expect(o.stderr.toString()).toContain('Verification successful');
});
