// p11bridge bench and the progress indicator, in child processes against a throw-away SoftHSM of
// its own. Bench numbers are checked for consistency, never for speed. The indicator is checked
// through a pseudo-terminal (script -qec), as test/cli.test.ts checks the PIN prompt. Needs
// `npx tsc -p .` first.
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI_BIN, cliFixture, CliFixture, runCli } from './helpers/cli';
import type { BenchResult } from '../lib/cli/commands/bench';

const bin = CLI_BIN;
const PIN = '62830';

let fx: CliFixture;
let tmp: string;
let env: NodeJS.ProcessEnv;

function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}, input: string | Buffer = ''): { status: number | null; stdout: string; stderr: string } {
  const r = runCli({ ...env, ...extraEnv }, args, input);
  return { status: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

function ok(args: string[], extraEnv: NodeJS.ProcessEnv = {}): string {
  const r = run(args, extraEnv);
  if (r.status !== 0) throw new Error(`p11bridge ${args.join(' ')} → ${r.status}\n${r.stderr}`);
  return r.stdout;
}

const tokenUri = (attrs = ''): string => `pkcs11:token=bench${attrs ? ';' + attrs : ''}?module-path=${fx.modulePath}`;

beforeAll(() => {
  fx = cliFixture('bench', PIN, 'p11bridge-cli-bench-');
  env = fx.env;
  tmp = fx.tmp;
});

afterAll(() => fx?.cleanup());

type BenchJson = BenchResult;

/** Numbers that hang together: counts, ordering of the percentiles, throughput = operations / time. */
function expectSane(r: BenchJson): void {
  const l = r.latencyMs;
  expect(r.operations).toBeGreaterThan(0);
  expect(r.seconds).toBeGreaterThan(0);
  expect(l.min).toBeGreaterThan(0);
  expect(l.min).toBeLessThanOrEqual(l.p50);
  expect(l.p50).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.max);
  expect(l.mean).toBeGreaterThanOrEqual(l.min);
  expect(l.mean).toBeLessThanOrEqual(l.max);
  // seconds is rounded to the millisecond
  const exact = r.operations / r.opsPerSecond;
  expect(Math.abs(exact - r.seconds)).toBeLessThan(0.002 + r.seconds * 0.01);
  // with one operation in flight, the run takes at least the sum of its latencies
  if (r.concurrency === 1) expect(r.seconds * 1000).toBeGreaterThanOrEqual(r.operations * l.mean * 0.99 - 1);
}

describe('bench', () => {
  test('sign ES256 --count with a pool of 3: JSON numbers are consistent; no PIN needed', () => {
    const r = JSON.parse(ok(['bench', tokenUri(), '--op', 'sign', '--mechanism', 'ES256', '--count', '60', '--concurrency', '3', '--json'])) as BenchJson;
    expect(r).toEqual(expect.objectContaining({ op: 'sign', mechanism: 'ES256', keyType: 'EC:P-256', dataBytes: 32, concurrency: 3, operations: 60 }));
    expectSane(r);
  });

  test.each([
    [['--op', 'verify', '--mechanism', 'RS256'], 'RSA:2048'],
    [['--op', 'verify', '--mechanism', 'HMAC-SHA256'], 'generic:32'],
    [['--op', 'sign', '--mechanism', 'EdDSA'], 'Ed25519'],
    [['--op', 'sign', '--mechanism', 'PS256', '--key-type', 'RSA:3072'], 'RSA:3072'],
    [['--op', 'encrypt', '--mechanism', 'AES-GCM', '--size', '4096'], 'AES:256'],
    [['--op', 'encrypt', '--mechanism', 'AES-CBC-PAD'], 'AES:256'],
    [['--op', 'encrypt', '--mechanism', 'RSA-OAEP'], 'RSA:2048'],
    [['--op', 'digest', '--mechanism', 'SHA-512', '--size', '65536'], undefined],
    [['--op', 'random', '--size', '64'], undefined],
  ])('%j runs 25 operations (temporary key: %s)', (args, keyType) => {
    const r = JSON.parse(ok(['bench', tokenUri(), ...args, '--count', '25', '--json'])) as BenchJson;
    expect(r.operations).toBe(25);
    expect(r.keyType).toBe(keyType);
    expectSane(r);
  });

  test('--duration runs for about that long; human output', () => {
    const r = JSON.parse(ok(['bench', tokenUri(), '--op', 'digest', '--duration', '0.4', '--concurrency', '2', '--json'])) as BenchJson;
    expect(r.seconds).toBeGreaterThanOrEqual(0.4);
    expect(r.seconds).toBeLessThan(10);
    expectSane(r);
    const text = ok(['bench', tokenUri(), '--op', 'random', '--count', '10']);
    expect(text).toMatch(/^operation:\s+random C_GenerateRandom, 32 bytes each$/m);
    expect(text).toMatch(/^operations:\s+10 in \d+\.\d{3} s$/m);
    expect(text).toMatch(/^throughput:\s+[\d.]+ ops\/s$/m);
    expect(text).toMatch(/^latency \(ms\):\s+mean [\d.]+\s+p50 [\d.]+\s+p99 [\d.]+/m);
  });

  test('a failing operation fails the bench (exit 2 with the CKR name); usage errors exit 64', () => {
    // SoftHSM refuses OAEP with SHA-256 (docs/api.md, Module limitations)
    const r = run(['bench', tokenUri(), '--op', 'encrypt', '--mechanism', 'RSA-OAEP', '--hash', 'SHA-256', '--count', '5']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('error: CKR_ARGUMENTS_BAD (C_EncryptInit)\n');
    expect(r.stdout).toBe('');
    for (const bad of [
      ['--count', '0'],
      ['--count', '5', '--duration', '1'],
      ['--op', 'wrap'],
      ['--mechanism', 'MD5', '--op', 'digest'],
      ['--concurrency', 'x'],
    ]) {
      expect(run(['bench', tokenUri(), ...bad]).status).toBe(64);
    }
  });

  test('the temporary keys are session objects: the token has none afterwards', () => {
    ok(['bench', tokenUri(), '--op', 'sign', '--count', '5', '--pin-source', 'env:CLI_PIN']);
    expect(JSON.parse(ok(['list-objects', tokenUri(), '--pin-source', 'env:CLI_PIN', '--json']))).toEqual([]);
  });
});

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const sh = (args: string[]): string => args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');

/** Runs the command on a pseudo-terminal with stdout redirected to a file: returns what the terminal saw (stderr) and stdout. */
async function onTty(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; tty: string; stdout: string }> {
  const outFile = path.join(tmp, `tty-${crypto.randomBytes(4).toString('hex')}.out`);
  const child = spawn('script', ['-qec', `${sh([process.execPath, bin, ...args])} > ${sh([outFile])}`, '/dev/null'], {
    env: { ...env, ...extraEnv },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let tty = '';
  child.stdout.on('data', (c: Buffer) => (tty += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (tty += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('timed out; output so far: ' + tty));
    }, 60000);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, tty, stdout: fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '' };
}

(hasScript ? describe : describe.skip)('progress indicator', () => {
  const big = crypto.randomBytes(48 * 1024 * 1024);
  let bigFile: string;
  beforeAll(() => {
    bigFile = path.join(tmp, 'big.bin');
    fs.writeFileSync(bigFile, big);
  });

  test('digest of a big file on a terminal: bytes of the total and elapsed time on stderr, erased; stdout has only the digest', async () => {
    // The indicator shows after P11BRIDGE_PROGRESS_DELAY ms (300 by default); 0 makes it certain here.
    const r = await onTty(['digest', bigFile, tokenUri()], { P11BRIDGE_PROGRESS_DELAY: '0' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(crypto.createHash('sha256').update(big).digest('hex') + '\n');
    expect(r.tty).toMatch(/\r[-\\|/] digest SHA-256 [\d.]+ (B|KiB|MiB) of 48\.0 MiB \(\d+%\) \d+\.\d+s\x1b\[K/);
    // the line is erased at the end, so the terminal is left clean
    expect(r.tty.endsWith('\r\x1b[K')).toBe(true);
  });

  test('keygen RSA:4096 on a terminal shows the spinner with the elapsed time', async () => {
    // RSA-4096 generation takes far longer than 50 ms.
    const r = await onTty(['keygen', tokenUri('object=rsa4096'), '--type', 'RSA:4096', '--pin-source', 'env:CLI_PIN'], { P11BRIDGE_PROGRESS_DELAY: '50' });
    expect(r.code).toBe(0);
    expect(r.tty).toMatch(/\r[-\\|/] keygen RSA:4096 \d+\.\ds\x1b\[K/);
    expect(r.stdout).toMatch(/^publicKey: pkcs11:.*object=rsa4096/m);
    expect(r.stdout).not.toMatch(/keygen|\x1b/);
  });

  test('encrypt of a big file on a terminal counts bytes; the ciphertext written with --out is intact', async () => {
    const key = crypto.randomBytes(32);
    const keyFile = path.join(tmp, 'prog-aes.key');
    fs.writeFileSync(keyFile, key);
    ok(['import', tokenUri('object=prog-aes'), keyFile, '--type', 'secret', '--key-type', 'aes', '--pin-source', 'env:CLI_PIN']);
    const out = path.join(tmp, 'big.gcm');
    const r = await onTty(['encrypt', tokenUri('object=prog-aes'), bigFile, '--out', out, '--pin-source', 'env:CLI_PIN'], { P11BRIDGE_PROGRESS_DELAY: '0' });
    expect(r.code).toBe(0);
    expect(r.tty).toMatch(/\r[-\\|/] encrypt AES-GCM [\d.]+ (B|KiB|MiB) of 48\.0 MiB \(\d+%\) \d+\.\d+s\x1b\[K/);
    expect(r.stdout).toBe('');
    const ct = fs.readFileSync(out);
    const d = crypto.createDecipheriv('aes-256-gcm', key, ct.subarray(0, 12));
    d.setAuthTag(ct.subarray(ct.length - 16));
    expect(Buffer.concat([d.update(ct.subarray(12, ct.length - 16)), d.final()]).equals(big)).toBe(true);
  });

  test('nothing with --json, --quiet, or when stderr is not a terminal; nothing for a fast command', async () => {
    for (const flag of ['--json', '--quiet']) {
      const r = await onTty(['digest', bigFile, tokenUri(), flag], { P11BRIDGE_PROGRESS_DELAY: '0' });
      expect(r.code).toBe(0);
      expect(r.tty).toBe('');
    }
    const fast = await onTty(['random', '16', tokenUri()]);
    expect(fast.code).toBe(0);
    expect(fast.tty).toBe('');
    const piped = run(['digest', bigFile, tokenUri()], { P11BRIDGE_PROGRESS_DELAY: '0' });
    expect(piped.status).toBe(0);
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toBe(crypto.createHash('sha256').update(big).digest('hex') + '\n');
  });
});
