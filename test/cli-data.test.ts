// p11bridge import / export / encrypt / decrypt and list-objects' SIZE column, in child processes
// against a throw-away SoftHSM of its own (SOFTHSM2_CONF passed to the children only), checked
// with node:crypto, openssl and pkcs11-tool. Needs `npx tsc -p .` first.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI_BIN as bin, cliFixture, CliFixture, CliResult, ROOT as root, runCli } from './helpers/cli';

const PIN = '40917';

let fx: CliFixture;
let tmp: string;
let env: NodeJS.ProcessEnv;

const run = (args: string[], input: string | Buffer = ''): CliResult => runCli(env, args, input);

function ok(args: string[], input?: string | Buffer): Buffer {
  const r = run(args, input);
  if (r.status !== 0) throw new Error(`p11bridge ${args.join(' ')} → ${r.status}\n${r.stderr}`);
  return r.stdout;
}

const withPin = (args: string[]): string[] => [...args, '--pin-source', 'env:CLI_PIN'];
const uri = (attrs: string): string => `pkcs11:token=data;${attrs}?module-path=${fx.modulePath}`;
const file = (name: string, data?: string | Buffer): string => {
  const f = path.join(tmp, name);
  if (data !== undefined) fs.writeFileSync(f, data);
  return f;
};
const pkcs11Tool = (args: string[]): Buffer =>
  execFileSync('pkcs11-tool', ['--module', fx.modulePath, '--token-label', 'data', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
const hasTool = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined;

beforeAll(() => {
  fx = cliFixture('data', PIN, 'p11bridge-cli-data-');
  env = fx.env;
  tmp = fx.tmp;
});

afterAll(() => fx?.cleanup());

describe('import and export', () => {
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

  (hasTool('openssl') ? test : test.skip)('a PEM certificate: detected, stored, read back identical by export (PEM, DER) and pkcs11-tool', () => {
    const key = file('cert-key.pem', ec.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const pem = file('cert.pem');
    execFileSync('openssl', ['req', '-x509', '-key', key, '-out', pem, '-subj', '/CN=p11bridge cli test', '-days', '2']);
    const x = new crypto.X509Certificate(fs.readFileSync(pem));
    // a certificate is a public object: no PIN needed
    expect(ok(['import', uri('object=web;id=%c1'), pem]).toString()).toMatch(/^imported certificate: pkcs11:.*object=web;type=cert;id=%C1/i);
    expect(ok(['export', uri('object=web;type=cert')]).toString()).toBe(x.toString());
    expect(ok(['export', uri('object=web'), '--der']).equals(x.raw)).toBe(true);
    expect(pkcs11Tool(['--read-object', '--type', 'cert', '--label', 'web']).equals(x.raw)).toBe(true);
    // DER input, imported under another label; --json export to a file
    const der = file('cert.der', x.raw);
    ok(['import', uri('object=web-der'), der]);
    const out = file('web-der.pem');
    const j = JSON.parse(ok(['export', uri('object=web-der'), out, '--json']).toString()) as { class: string; format: string };
    expect(j).toEqual(expect.objectContaining({ class: 'certificate', format: 'pem' }));
    expect(fs.readFileSync(out, 'utf8')).toBe(x.toString());
  });

  test('a PKCS#8 PEM EC key with --with-public: the token signs, node:crypto verifies; the private key is not exported', () => {
    const pem = file('ec.pem', ec.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const made = JSON.parse(ok(withPin(['import', uri('object=ec-imp;id=%e1'), pem, '--with-public', '--json'])).toString()) as Array<{
      class: string;
      sensitive?: boolean;
      extractable?: boolean;
      token: boolean;
      curve: string;
    }>;
    expect(made.map((m) => m.class)).toEqual(['privateKey', 'publicKey']);
    expect(made[0]).toEqual(expect.objectContaining({ sensitive: true, extractable: false, token: true, curve: 'P-256' }));
    // the stored public key is node's key
    expect(ok(['export', uri('object=ec-imp')]).toString()).toBe(ec.publicKey.export({ type: 'spki', format: 'pem' }));
    const data = file('ec-msg.txt', 'signed with an imported key\n');
    const sig = ok(withPin(['sign', uri('object=ec-imp'), data])); // raw bytes (docs/cli.md)
    expect(sig.length).toBe(64);
    expect(crypto.verify('sha256', fs.readFileSync(data), { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);

    const r = run(withPin(['export', uri('object=ec-imp;type=private')]));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: refusing to export a private key/);
    expect(r.stdout.length).toBe(0);
  });

  test('an SPKI DER public key: --jwk export equals node:crypto; pkcs11-tool reads the same key', () => {
    const der = file('pub.der', rsa.publicKey.export({ type: 'spki', format: 'der' }));
    ok(['import', uri('object=rsa-pub'), der]);
    expect(JSON.parse(ok(['export', uri('object=rsa-pub'), '--jwk']).toString())).toEqual(rsa.publicKey.export({ format: 'jwk' }));
    expect(ok(['export', uri('object=rsa-pub'), '--der']).equals(fs.readFileSync(der))).toBe(true);
    expect(pkcs11Tool(['--read-object', '--type', 'pubkey', '--label', 'rsa-pub']).equals(fs.readFileSync(der))).toBe(true);
  });

  test('data objects: raw bytes in, the same bytes out (export and pkcs11-tool); CKA_APPLICATION set', () => {
    const bytes = crypto.randomBytes(1000);
    const f = file('blob.bin', bytes);
    ok(['import', uri('object=blob'), f, '--type', 'data', '--application', 'p11bridge-tests']);
    expect(ok(['export', uri('object=blob')]).equals(bytes)).toBe(true);
    expect(pkcs11Tool(['--read-object', '--type', 'data', '--label', 'blob']).equals(bytes)).toBe(true);
    expect(pkcs11Tool(['--list-objects', '--type', 'data']).toString()).toMatch(/label:\s+'blob'\s+application:\s+'p11bridge-tests'/);
    // stdin, private data object (needs the PIN to see)
    ok(withPin(['import', uri('object=secret-note;type=data'), '-', '--private']), 'private note');
    expect(run(['export', uri('object=secret-note')]).stderr).toBe('error: no object matches the URI\n');
    expect(ok(withPin(['export', uri('object=secret-note')])).toString()).toBe('private note');
  });

  test('detection and usage errors', () => {
    const junk = file('junk.bin', crypto.randomBytes(64));
    let r = run(withPin(['import', uri('object=junk'), junk]));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot tell what the file holds.*--type/);
    r = run(withPin(['import', uri('object=junk'), junk, '--type', 'cert']));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not an X\.509 certificate/);
    const enc = file('enc.pem', ec.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }));
    expect(run(withPin(['import', uri('object=enc'), enc])).stderr).toMatch(/encrypted private keys are not supported/);
    r = run(withPin(['import', uri('object=short'), junk, '--type', 'secret', '--key-type', 'aes']));
    expect(r.stderr).toMatch(/an AES key is 16, 24 or 32 bytes; the file has 64/);
    expect(run(['import', uri('object=x'), junk, '--key-type', 'aes']).status).toBe(64);
    expect(run(['import', uri('object=x'), junk, '--type', 'nonsense']).status).toBe(64);
    // nothing was stored by the failures
    expect(JSON.parse(ok(withPin(['list-objects', uri('object=junk'), '--json'])).toString())).toEqual([]);
  });
});

describe('encrypt and decrypt', () => {
  const aesKey = crypto.randomBytes(32);
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const big = crypto.randomBytes(5 * 1024 * 1024 + 123); // several stream chunks, not block-aligned

  beforeAll(() => {
    ok(withPin(['import', uri('object=aes-k'), file('aes.key', aesKey), '--type', 'secret', '--key-type', 'aes']));
    ok(withPin(['import', uri('object=rsa-k;id=%a1'), file('rsa.der', rsa.privateKey.export({ type: 'pkcs8', format: 'der' })), '--with-public']));
    file('big.bin', big);
  });

  test('AES-GCM: the output is iv(12) || ciphertext || tag(16), node:crypto decrypts it; node output decrypts on the token', () => {
    const out = file('big.gcm');
    const j = JSON.parse(ok(withPin(['encrypt', uri('object=aes-k'), file('big.bin'), '--out', out, '--json'])).toString()) as {
      mechanism: string;
      bytesIn: number;
      bytesOut: number;
    };
    expect(j).toEqual(expect.objectContaining({ mechanism: 'AES-GCM', bytesIn: big.length, bytesOut: big.length + 28 }));
    const ct = fs.readFileSync(out);
    const d = crypto.createDecipheriv('aes-256-gcm', aesKey, ct.subarray(0, 12));
    d.setAuthTag(ct.subarray(ct.length - 16));
    expect(Buffer.concat([d.update(ct.subarray(12, ct.length - 16)), d.final()]).equals(big)).toBe(true);
    // two runs use different IVs
    const again = ok(withPin(['encrypt', uri('object=aes-k'), '-']), big.subarray(0, 100));
    expect(again.subarray(0, 12).equals(ct.subarray(0, 12))).toBe(false);

    const iv = crypto.randomBytes(12);
    const e = crypto.createCipheriv('aes-256-gcm', aesKey, iv);
    const nodeCt = Buffer.concat([iv, e.update(big), e.final(), e.getAuthTag()]);
    const back = ok(withPin(['decrypt', uri('object=aes-k'), '-', '--mechanism', 'CKM_AES_GCM']), nodeCt);
    expect(back.equals(big)).toBe(true);
  });

  test.each(['AES-GCM', 'AES-CBC-PAD'])('%s streams: ciphertext comes out while stdin is still open', async (mechanism) => {
    const child = spawn(process.execPath, [bin, ...withPin(['encrypt', uri('object=aes-k'), '-', '--mechanism', mechanism])], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const first = crypto.randomBytes(4 << 20);
    const second = crypto.randomBytes(1000);
    // Most of the first part must come back before the input ends: nothing waits for the whole file.
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const early = new Promise<boolean>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        out.push(c);
        outBytes += c.length;
        if (outBytes > 2 << 20) resolve(true);
      });
      // A child that dies early fails the test now, with its stderr, not at jest's timeout.
      void closed.then(() => resolve(false));
    });
    // EPIPE when the child is gone is reported through `closed`, not as an uncaught error.
    child.stdin.on('error', () => undefined);
    child.stdin.write(first);
    expect({ early: await early, err }).toEqual({ early: true, err: '' });
    child.stdin.end(second);
    const code = await closed;
    expect({ code, err }).toEqual({ code: 0, err: '' });
    const ct = Buffer.concat(out);
    const plain = Buffer.concat([first, second]);
    if (mechanism === 'AES-GCM') {
      const d = crypto.createDecipheriv('aes-256-gcm', aesKey, ct.subarray(0, 12));
      d.setAuthTag(ct.subarray(ct.length - 16));
      expect(Buffer.concat([d.update(ct.subarray(12, ct.length - 16)), d.final()]).equals(plain)).toBe(true);
    } else {
      const d = crypto.createDecipheriv('aes-256-cbc', aesKey, ct.subarray(0, 16));
      expect(Buffer.concat([d.update(ct.subarray(16)), d.final()]).equals(plain)).toBe(true);
    }
  });

  test('AES-GCM with --aad; a changed tag or AAD fails (exit 2) and leaves no --out file', () => {
    const aad = file('aad.txt', 'header v1');
    const msg = Buffer.from('authenticated message');
    const ct = ok(withPin(['encrypt', uri('object=aes-k'), '-', '--aad', aad]), msg);
    const d = crypto.createDecipheriv('aes-256-gcm', aesKey, ct.subarray(0, 12));
    d.setAAD(Buffer.from('header v1'));
    d.setAuthTag(ct.subarray(ct.length - 16));
    expect(Buffer.concat([d.update(ct.subarray(12, ct.length - 16)), d.final()])).toEqual(msg);

    const bad = Buffer.from(ct);
    bad[bad.length - 1] ^= 1;
    const out = file('tampered.out');
    const r = run(withPin(['decrypt', uri('object=aes-k'), '-', '--aad', aad, '--out', out]), bad);
    expect(r.status).toBe(2);
    // SoftHSM reports a wrong tag as CKR_GENERAL_ERROR from C_DecryptFinal; the CLI adds what it means.
    expect(r.stderr).toMatch(/^error: CKR_(ENCRYPTED_DATA_INVALID|GENERAL_ERROR) \(C_Decrypt\w*\): the data did not authenticate/);
    expect(fs.existsSync(out)).toBe(false);
    const other = file('aad2.txt', 'header v2');
    expect(run(withPin(['decrypt', uri('object=aes-k'), '-', '--aad', other]), ct).status).toBe(2);
    expect(run(withPin(['decrypt', uri('object=aes-k'), '-']), Buffer.alloc(5)).stderr).toMatch(/too short for AES-GCM/);
  });

  test('AES-CBC-PAD: iv(16) || ciphertext both ways with node:crypto', () => {
    const ct = ok(withPin(['encrypt', uri('object=aes-k'), file('big.bin'), '--mechanism', 'AES-CBC-PAD']));
    expect(ct.length).toBe(16 + (Math.floor(big.length / 16) + 1) * 16);
    const d = crypto.createDecipheriv('aes-256-cbc', aesKey, ct.subarray(0, 16));
    expect(Buffer.concat([d.update(ct.subarray(16)), d.final()]).equals(big)).toBe(true);

    const iv = crypto.randomBytes(16);
    const e = crypto.createCipheriv('aes-256-cbc', aesKey, iv);
    const out = file('cbc.out');
    ok(withPin(['decrypt', uri('object=aes-k'), '-', '--mechanism', 'aes_cbc_pad', '-o', out]), Buffer.concat([iv, e.update(big), e.final()]));
    expect(fs.readFileSync(out).equals(big)).toBe(true);
  });

  test('RSA-OAEP: node:crypto decrypts what the public key encrypted and the token decrypts node output; limits and SoftHSM hashes', () => {
    const msg = Buffer.from('a session key, say');
    // the public key needs no PIN (type=public)
    const ct = ok(['encrypt', uri('object=rsa-k;type=public'), '-', '--hash', 'SHA-1'], msg);
    expect(ct.length).toBe(256);
    expect(crypto.privateDecrypt({ key: rsa.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, ct)).toEqual(msg);
    const nodeCt = crypto.publicEncrypt({ key: rsa.publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, msg);
    expect(ok(withPin(['decrypt', uri('object=rsa-k'), '-', '--hash', 'sha1']), nodeCt)).toEqual(msg);

    // 2048-bit key, SHA-1: at most 256 - 42 = 214 bytes
    expect(run(['encrypt', uri('object=rsa-k;type=public'), '-', '--hash', 'SHA-1'], Buffer.alloc(215)).stderr).toMatch(/at most 214 bytes/);
    // the default hash is SHA-256, which SoftHSM 2.6 refuses (docs/api.md, Module limitations)
    const r = run(['encrypt', uri('object=rsa-k;type=public'), '-'], msg);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('error: CKR_ARGUMENTS_BAD (C_EncryptInit)\n');
    // AES modes do not take an RSA key
    expect(run(['encrypt', uri('object=rsa-k;type=public'), '-', '--mechanism', 'AES-GCM'], msg).status).toBe(64);
  });
});

describe('list-objects SIZE', () => {
  test('an RSA private key without CKA_MODULUS_BITS shows its size from CKA_MODULUS', () => {
    ok(withPin(['keygen', uri('object=rsa-size'), '--type', 'RSA:3072']));
    // The premise: SoftHSM's private key really has no CKA_MODULUS_BITS.
    const script = `
      const { Module } = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
      (async () => {
        const mod = await Module.open(${JSON.stringify(fx.modulePath)});
        const s = await (await mod.findSlot('data')).openSession();
        await s.login(${JSON.stringify(PIN)});
        const [k] = await s.findAll({ class: 'privateKey', label: 'rsa-size' });
        const a = await k.getAttributes(['modulusBits', 'modulus']);
        process.stdout.write(JSON.stringify({ bits: a.modulusBits ?? null, unreadable: a.unreadable, modulusBytes: a.modulus.length }));
        await mod.close();
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const premise = JSON.parse(execFileSync(process.execPath, ['-e', script], { env, cwd: root }).toString()) as {
      bits: unknown;
      unreadable: Record<string, string>;
      modulusBytes: number;
    };
    expect(premise).toEqual({ bits: null, unreadable: { modulusBits: 'typeInvalid' }, modulusBytes: 384 });

    const rows = JSON.parse(ok(withPin(['list-objects', uri('object=rsa-size'), '--json'])).toString()) as Array<{ class: string; size?: number }>;
    expect(rows.map((r) => [r.class, r.size]).sort()).toEqual([
      ['privateKey', 3072],
      ['publicKey', 3072],
    ]);
    expect(ok(withPin(['list-objects', uri('object=rsa-size')])).toString()).toMatch(/privateKey\s+rsa\s+3072\s+rsa-size/);
  });
});
