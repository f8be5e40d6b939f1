// The CLI's output rules (docs/cli.md, "Common rules"), each checked in a child process against
// a throw-away SoftHSM of its own: raw bytes unless -e, verify reads what sign writes (with a hint
// when the encoding looks wrong), token URIs in list-tokens, --json results and errors on stdout
// with the exit code, the mechanism sign really used, keygen's duplicate check and fresh CKA_ID,
// list-objects' hidden-objects note and bare SIZE, delete's confirmation and --dry-run, exit 64
// for bad arguments, case-insensitive names with the valid ones listed, --module NAME, and a
// key type that does not fit the mechanism.
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createSoftHSM } = require('../scripts/softhsm.js') as {
  createSoftHSM(o: { tokens: Array<{ label: string; soPin: string; userPin: string }>; setEnv: boolean }): {
    conf: string;
    modulePath: string;
    dir: string;
    cleanup(): void;
  };
};

const root = path.join(__dirname, '..');
const bin = path.join(root, 'bin', 'p11bridge.js');
const PIN = '61827';

let fx: ReturnType<typeof createSoftHSM>;
let tmp: string;
let env: NodeJS.ProcessEnv;

type Run = SpawnSyncReturns<Buffer> & { out: string; err: string };
function run(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...env, ...options.env }, input: options.input ?? '', timeout: 60000 });
  return Object.assign(r, { out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') });
}
function ok(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = run(args, options);
  if (r.status !== 0) throw new Error(`p11bridge ${args.join(' ')} → ${r.status}\n${r.err}`);
  return r;
}
function json<T = unknown>(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): T {
  return JSON.parse(ok([...args, '--json'], options).out) as T;
}

const uri = (attrs: string): string => `pkcs11:token=rules${attrs ? ';' + attrs : ''}?module-path=${fx.modulePath}`;
const pin = ['--pin-source', 'env:RULES_PIN'];
const pinEnv = { env: { RULES_PIN: PIN } };

beforeAll(() => {
  fx = createSoftHSM({ tokens: [{ label: 'rules', soPin: '12345678', userPin: PIN }], setEnv: false });
  env = { ...process.env, SOFTHSM2_CONF: fx.conf };
  delete env.P11BRIDGE_MODULE;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-cli-rules-'));
  ok(['keygen', uri('object=ec'), '--type', 'EC:P-256', ...pin], pinEnv);
  ok(['keygen', uri('object=rsa'), '--type', 'RSA:2048', ...pin], pinEnv);
}, 120_000);

afterAll(() => {
  fx?.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('bytes out: raw unless -e; verify reads what sign writes', () => {
  const data = Buffer.from('rules of the road\n');
  let dataFile: string;
  let pem: string;
  beforeAll(() => {
    dataFile = path.join(tmp, 'data.txt');
    fs.writeFileSync(dataFile, data);
    pem = ok(['export-public', uri('object=ec')]).out;
  });

  test('sign -o writes the raw signature; stdout is raw too; -e base64 and -e hex only when asked', () => {
    const file = path.join(tmp, 'ec.sig');
    expect(ok(['sign', uri('object=ec'), dataFile, '-o', file, ...pin], pinEnv).stdout.length).toBe(0);
    const sig = fs.readFileSync(file);
    expect(sig.length).toBe(64);
    expect(crypto.verify('sha256', data, { key: crypto.createPublicKey(pem), dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    expect(ok(['sign', uri('object=ec'), dataFile, ...pin], pinEnv).stdout.length).toBe(64);
    const b64 = ok(['sign', uri('object=ec'), dataFile, '-e', 'base64', ...pin], pinEnv).out;
    expect(b64).toMatch(/^[A-Za-z0-9+/]+=*\n$/);
    expect(Buffer.from(b64, 'base64').length).toBe(64);
    expect(ok(['sign', uri('object=ec'), dataFile, '-e', 'hex', ...pin], pinEnv).out).toMatch(/^[0-9a-f]{128}\n$/);
  });

  test('verify reads what sign wrote, raw by default or with the same -e', () => {
    const raw = path.join(tmp, 'v.sig');
    ok(['sign', uri('object=ec'), dataFile, '-o', raw, ...pin], pinEnv);
    expect(ok(['verify', uri('object=ec'), dataFile, '-s', raw]).out).toBe('signature valid\n');
    const hex = path.join(tmp, 'v.hex');
    ok(['sign', uri('object=ec'), dataFile, '-o', hex, '-e', 'hex', ...pin], pinEnv);
    expect(ok(['verify', uri('object=ec'), dataFile, '-s', hex, '-e', 'hex']).out).toBe('signature valid\n');
  });

  test('a signature file in base64 read as raw: invalid, with a hint to add -e base64', () => {
    const b64 = path.join(tmp, 'h.b64');
    ok(['sign', uri('object=ec'), dataFile, '-o', b64, '-e', 'base64', ...pin], pinEnv);
    const r = run(['verify', uri('object=ec'), dataFile, '-s', b64]);
    expect(r.status).toBe(3);
    expect(r.err).toMatch(/looks like base64 text.*-e base64/);
    expect(ok(['verify', uri('object=ec'), dataFile, '-s', b64, '-e', 'base64']).out).toBe('signature valid\n');
  });

  test('sign --json reports the mechanism the token ran (ECDSA with SHA-256 on the token, or raw ECDSA after a hash in Node)', () => {
    const j = json<{ mechanism: string; prehash: string | null; signature: string; encoding: string }>(
      ['sign', uri('object=ec'), dataFile, '--mechanism', 'es256', ...pin],
      pinEnv,
    );
    // SoftHSM 2.6 has CKM_ECDSA_SHA256? Whatever it has, the answer names a CKM_ and is consistent with prehash.
    expect(j.mechanism).toMatch(/^CKM_ECDSA(_SHA256)?$/);
    expect(j.prehash).toBe(j.mechanism === 'CKM_ECDSA' ? 'SHA-256' : null);
    expect(j.encoding).toBe('base64');
    expect(crypto.verify('sha256', data, { key: crypto.createPublicKey(pem), dsaEncoding: 'ieee-p1363' }, Buffer.from(j.signature, 'base64'))).toBe(true);
    const mechs = json<Array<{ name: string }>>(['list-mechanisms', uri('')]).map((m) => m.name);
    expect(j.mechanism).toBe(mechs.includes('CKM_ECDSA_SHA256') ? 'CKM_ECDSA_SHA256' : 'CKM_ECDSA');
    const raw = json<{ mechanism: string; prehash: string | null }>(['sign', uri('object=ec'), dataFile, '--mechanism', 'ECDSA', ...pin], pinEnv);
    expect(raw).toMatchObject({ mechanism: 'CKM_ECDSA', prehash: null });
  });

  test('--json with -o: the file gets the raw bytes, stdout the JSON result (sign, export-public, encrypt)', () => {
    const sigFile = path.join(tmp, 'j.sig');
    const j = json<{ out: string; bytes: number; mechanism: string }>(['sign', uri('object=ec'), dataFile, '-o', sigFile, ...pin], pinEnv);
    expect(j).toMatchObject({ out: sigFile, bytes: 64 });
    expect(fs.readFileSync(sigFile).length).toBe(64);
    const der = path.join(tmp, 'pub.der');
    const e = json<{ out: string; bytes: number; format: string }>(['export-public', uri('object=ec'), '--format', 'der', '-o', der]);
    expect(e).toMatchObject({ out: der, format: 'der', bytes: fs.statSync(der).size });
    expect(crypto.createPublicKey({ key: fs.readFileSync(der), format: 'der', type: 'spki' }).asymmetricKeyType).toBe('ec');
    const pemJson = json<{ publicKey: string; format: string }>(['export-public', uri('object=ec')]);
    expect(pemJson).toEqual({ format: 'pem', publicKey: pem });
    ok(['keygen', uri('object=aes'), '--type', 'AES:256', ...pin], pinEnv);
    const ct = path.join(tmp, 'ct.bin');
    const enc = json<{ out: string; bytes: number }>(['encrypt', uri('object=aes'), dataFile, '-o', ct, ...pin], pinEnv);
    expect(enc).toMatchObject({ out: ct, bytes: fs.statSync(ct).size });
  });
});

describe('--json errors, exit codes, names', () => {
  test('a PKCS#11 error with --json: { error: { rvName, function, message } } on stdout, exit 2, nothing on stdout without --json', () => {
    const r = run(['sign', uri('object=ec'), '-', '--pin-source', 'env:WRONG', '--json'], { env: { WRONG: '99999' }, input: 'x' });
    expect(r.status).toBe(2);
    expect(JSON.parse(r.out)).toEqual({ error: { rvName: 'CKR_PIN_INCORRECT', function: 'C_Login', message: expect.stringMatching(/CKR_PIN_INCORRECT/) } });
    expect(r.out).not.toContain('99999');
    const plain = run(['sign', uri('object=ec'), '-', '--pin-source', 'env:WRONG'], { env: { WRONG: '99999' }, input: 'x' });
    expect(plain.status).toBe(2);
    expect(plain.out).toBe('');
    expect(plain.err).toBe('error: CKR_PIN_INCORRECT (C_Login)\n');
  });

  test('a usage error with --json: JSON on stdout with rvName and function null, exit 64', () => {
    const r = run(['random', 'lots', '--module', fx.modulePath, '--json']);
    expect(r.status).toBe(64);
    expect(JSON.parse(r.out)).toEqual({ error: { rvName: null, function: null, message: expect.stringMatching(/random: n must be/) } });
    const unknown = run(['sign', uri('object=ec'), '-', '--bogus-option', '--json']);
    expect(unknown.status).toBe(64);
    expect(JSON.parse(unknown.out).error.message).toMatch(/unknown option/);
    const other = run(['delete', uri('object=nothing-here'), ...pin, '--json'], pinEnv);
    expect(other.status).toBe(1);
    expect(JSON.parse(other.out)).toEqual({ error: { rvName: null, function: null, message: 'no object matches the URI' } });
  });

  test.each([
    [['keygen', 'pkcs11:token=rules', '--type', 'EC:P-999']],
    [['keygen', 'pkcs11:token=rules', '--type', 'banana']],
    [['sign', 'pkcs11:token=rules;object=ec', '-', '--mechanism', 'ECDSA-SHA3000']],
    [['digest', '-', '--mechanism', 'MD5']],
    [['random', '0']],
    [['random', '4', '-e', 'base32']],
    [['sign', 'pkcs11:token=rules;object=ec', '-', '-e', 'octal']],
    [['list-objects', 'pkcs11:token=rules', '--slot', 'abc']],
    [['keygen', 'pkcs11:token=rules', '--type', 'RSA:2048', '--id', 'xyz']],
    [['list-tokens', 'not-a-uri']],
  ])('bad arguments exit 64: %j', (args) => {
    const r = run([...args, '--module', fx.modulePath, ...pin], { ...pinEnv, input: 'x' });
    expect({ status: r.status, err: r.err }).toEqual({ status: 64, err: expect.stringMatching(/^error: /) });
  });

  test('curve and hash names are case-insensitive; errors list the valid ones', () => {
    const made = json<Array<{ curve: string }>>(['keygen', uri('object=lc'), '--type', 'ec:p-384', ...pin], pinEnv);
    expect(made[0].curve).toBe('P-384');
    const r = run(['keygen', uri('object=lc2'), '--type', 'EC:P-999', ...pin], pinEnv);
    expect(r.status).toBe(64);
    expect(r.err).toMatch(/P-256.*P-384.*P-521/);
    const d = json<{ mechanism: string; digest: string }>(['digest', '-', uri(''), '--mechanism', 'sha-384'].filter(Boolean));
    expect(d.digest).toBe(crypto.createHash('sha384').update('').digest('hex'));
    const bad = run(['digest', '-', uri(''), '--mechanism', 'whirlpool']);
    expect(bad.status).toBe(64);
    expect(bad.err).toMatch(/SHA-1, SHA-224, SHA-256, SHA-384, SHA-512/);
  });

  test('--module NAME: a module name from list-modules', () => {
    const mods = json<Array<{ name: string; path: string }>>(['list-modules']);
    const softhsm = mods.find((m) => fs.existsSync(m.path) && fs.realpathSync(m.path) === fs.realpathSync(fx.modulePath));
    if (softhsm) {
      const info = json<{ manufacturerID: string }>(['info', '--module', softhsm.name]);
      expect(info.manufacturerID).toBe('SoftHSM');
    }
    // A name nothing is installed under: the error says what a name can be.
    const r = run(['info', '--module', 'no-such-module-name']);
    expect(r.status).toBe(64);
    expect(r.err).toMatch(/no module named 'no-such-module-name'.*list-modules/);
  });
});

describe('listing, keygen, delete', () => {
  test('list-tokens prints each token URI, with what is needed to use it again', () => {
    const out = ok(['list-tokens', '--module', fx.modulePath]).out;
    const line = out.split('\n').find((l) => /\brules\b/.test(l))!;
    const tokenUri = /(pkcs11:\S+)/.exec(line)![1];
    expect(tokenUri).toContain('token=rules');
    expect(tokenUri).toContain('module-path=');
    // used again, alone: it names the module and the token
    expect(json<Array<{ label: string }>>(['list-objects', tokenUri]).map((o) => o.label)).toContain('ec');
  });

  test('list-objects without a PIN says private objects are hidden; SIZE is a bare number', () => {
    const r = ok(['list-objects', uri('')]);
    expect(r.err).toMatch(/private objects are not listed without a login/);
    const withPin = ok(['list-objects', uri(''), ...pin], pinEnv);
    expect(withPin.err).toBe('');
    const header = withPin.out.split('\n')[0].split(/\s{2,}/);
    const rows = withPin.out
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => l.split(/\s{2,}/));
    const size = header.indexOf('SIZE');
    expect(size).toBeGreaterThan(0);
    const rsa = rows.find((c) => c[0] === 'privateKey' && c.includes('rsa'))!;
    expect(rsa[size]).toBe('2048');
    const ec = rows.find((c) => c[0] === 'privateKey' && c.includes('ec'))!; // the label 'ec' (P-256)
    expect(ec[size]).toBe('256');
    for (const row of rows) if (row[size] !== '') expect(row[size]).toMatch(/^\d+$/);
    // --json keeps numbers and the curve
    const j = json<Array<{ label: string; class: string; size: number; curve?: string }>>(['list-objects', uri('object=ec;type=private'), ...pin], pinEnv);
    expect(j).toEqual([expect.objectContaining({ size: 256, curve: 'P-256' })]);
  });

  test('keygen refuses a label that already names a key of that kind, unless --force', () => {
    const r = run(['keygen', uri('object=ec'), '--type', 'EC:P-256', ...pin], pinEnv);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/'ec' already exists.*--force/);
    const again = json<Array<{ class: string }>>(['keygen', uri('object=ec'), '--type', 'EC:P-256', '--force', ...pin], pinEnv);
    expect(again.length).toBe(2);
    const all = json<unknown[]>(['list-objects', uri('object=ec;type=private'), ...pin], pinEnv);
    expect(all.length).toBe(2);
  });

  test('keygen with no label and no ID: a fresh CKA_ID, and the printed URI selects just that key', () => {
    const made = json<Array<{ class: string; uri: string; id: string }>>(['keygen', uri(''), '--type', 'EC:P-256', ...pin], pinEnv);
    expect(made[0].id).toMatch(/^[0-9a-f]{16,}$/);
    const priv = made.find((m) => m.class === 'privateKey')!;
    expect(priv.uri).toMatch(/;id=/);
    const found = json<Array<{ id: string }>>(['list-objects', priv.uri, ...pin], pinEnv);
    expect(found.map((f) => f.id)).toEqual([made[0].id]);
  });

  test('delete of several objects asks first: no terminal and no --yes is exit 64; --dry-run lists each object once with its full URI', () => {
    ok(['keygen', uri('object=gone'), '--type', 'EC:P-256', ...pin], pinEnv);
    const dry = ok(['delete', uri('object=gone'), '--dry-run', ...pin], pinEnv)
      .out.trim()
      .split('\n');
    expect(dry.length).toBe(2);
    expect(new Set(dry).size).toBe(2);
    for (const l of dry) expect(l).toMatch(/^would delete (publicKey|privateKey): pkcs11:.*object=gone.*type=(public|private).*\?module-path=/);
    const refused = run(['delete', uri('object=gone'), ...pin], pinEnv);
    expect(refused.status).toBe(64);
    expect(refused.err).toMatch(/2 objects.*--yes/);
    expect(json<unknown[]>(['list-objects', uri('object=gone'), ...pin], pinEnv).length).toBe(2);
    const done = json<{ deleted: string[] }>(['delete', uri('object=gone'), '--yes', ...pin], pinEnv);
    expect(done.deleted.length).toBe(2);
    expect(json<unknown[]>(['list-objects', uri('object=gone'), ...pin], pinEnv)).toEqual([]);
  });
});

describe('a mechanism that does not fit the key', () => {
  test('sign --mechanism RS256 / PS256 / EdDSA on an EC key: the library error naming both, not CKR_GENERAL_ERROR', () => {
    // A key of its own: the keygen --force test above made a second 'ec'.
    ok(['keygen', uri('object=mm'), '--type', 'EC:P-256', ...pin], pinEnv);
    for (const m of ['RS256', 'PS256', 'EdDSA']) {
      const r = run(['sign', uri('object=mm;type=private'), '-', '--mechanism', m, ...pin], { ...pinEnv, input: 'x' });
      expect(r.err).not.toMatch(/CKR_GENERAL_ERROR/);
      expect(r.err).toMatch(/an EC key.*(RSA|EC-EDWARDS)|(RSA|EC-EDWARDS).*EC key/);
      expect(r.status).toBe(1);
    }
    const j = run(['sign', uri('object=mm;type=private'), '-', '--mechanism', 'RS256', '--json', ...pin], { ...pinEnv, input: 'x' });
    expect(JSON.parse(j.out).error).toMatchObject({ rvName: null, code: 'ERR_P11_KEY_MECHANISM_MISMATCH' });
  });
});
