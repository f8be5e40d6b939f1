// Bun and Deno (docs/runtimes.md): the same N-API addon Node loads, the typed-layer demo flow, the
// conformance run, the README's demo and the examples under each; and each known limitation by its
// minimal case (test/fixtures/runtime-limits.js), so that a runtime which fixes one fails here and
// says which paragraph of docs/runtimes.md to update. Node runs the same cases as the baseline.
// The runtimes come from npm into the persistent cache (scripts/runtime-cache.js): without npm
// this fails, it does not skip.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lastJson } from './helpers/child-process';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const cache = require('../scripts/runtime-cache.js');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createSoftHSM } = require('../scripts/softhsm.js');

interface Runtime {
  name: 'node' | 'bun' | 'deno';
  bin: string;
  version: string;
}

const root = path.join(__dirname, '..');
const fixtures = path.join(__dirname, 'fixtures');
// The demo's and the examples' own createSoftHSM() tokens are these labels and PINs (see Bun below).
const TOKENS = [
  { label: 'p11bridge-a', soPin: '12345678', userPin: '1234' },
  { label: 'p11bridge-b', soPin: '87654321', userPin: '5678' },
];
const DOC = 'docs/runtimes.md';

const runtimes: Record<string, Runtime> = {};
let fx: { conf: string; modulePath: string; cleanup(): void };

beforeAll(() => {
  runtimes.node = { name: 'node', bin: process.execPath, version: process.versions.node };
  runtimes.bun = { name: 'bun', ...cache.ensureBun() };
  runtimes.deno = { name: 'deno', ...cache.ensureDeno() };
  fx = createSoftHSM({ tokens: TOKENS, setEnv: false });
}, 600_000);

afterAll(() => fx?.cleanup());

/**
 * Runs a CommonJS file of this package under a runtime with the fixture's SOFTHSM2_CONF in its
 * starting environment (Bun's native code sees no other: see the env limitation).
 */
function run(rt: Runtime, file: string, args: string[] = [], env: Record<string, string | undefined> = {}) {
  const c = cache.command(rt, file, args) as { bin: string; argv: string[]; env: Record<string, string> };
  const e: Record<string, string | undefined> = { ...process.env, ...c.env, SOFTHSM2_CONF: fx.conf, NO_COLOR: '1', ...env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  const r = spawnSync(c.bin, c.argv, { cwd: root, env: e as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });
  const json = lastJson(r.stdout);
  const summary = `${rt.name} ${rt.version} ${file}: exit ${r.status} signal ${r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || '', json, summary };
}

function expectOk(r: ReturnType<typeof run>) {
  if (r.status !== 0) throw new Error(r.summary);
}

const examples = fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.js'));

describe.each(['bun', 'deno'])('%s', (name) => {
  const rt = () => runtimes[name];

  test('loads the very addon file Node loads (same path, same sha256) and runs the typed demo flow with 64 concurrent async calls', () => {
    const addon = cache.addon();
    const r = run(rt(), path.join(fixtures, 'runtime-probe.js'), [fx.modulePath, TOKENS[0].label, TOKENS[0].userPin]);
    expectOk(r);
    expect(r.json).toMatchObject({
      binding: addon.file,
      mapped: [addon.file],
      sha256: addon.sha256,
      demo: { verifiedOnToken: true, verifiedByNode: true, concurrent: 64 },
    });
    expect(r.json.runtime).toBe(`${name} ${rt().version}`);
  });

  test('the conformance run on SoftHSM: every step passes', () => {
    const r = run(rt(), 'test/matrix/conformance.js', [JSON.stringify({ modulePath: fx.modulePath, token: TOKENS[1].label, userPin: TOKENS[1].userPin })]);
    expectOk(r);
    expect(r.json.steps.length).toBe(18);
    expect(r.json.steps.filter((s: { status: string }) => s.status !== 'pass')).toEqual([]);
  });

  test("the README's demo (scripts/demo.js): raw and typed layers, a certificate issued with a token key", () => {
    const r = run(rt(), 'scripts/demo.js');
    expectOk(r);
    expect(r.stdout).toMatch(/verified by node:crypto: true; async: true/);
    expect(r.stdout.trim().endsWith('demo OK')).toBe(true);
  });

  test.each(examples)('examples/%s', (file) => {
    const r = run(rt(), path.join('examples', file));
    if (name === 'bun' && file === 'key-agreement.js') {
      // Bun's node:crypto has no AES key wrap (limitation "node:crypto AES key wrap" in the doc):
      // the token's part works, the example's own check with node:crypto cannot run.
      expect(r.stdout).toContain('ECDH secret on the token equals node computeSecret: true');
      expect([r.status, r.stderr]).toEqual([1, expect.stringContaining('ERR_CRYPTO_UNKNOWN_CIPHER')]);
      return;
    }
    expectOk(r);
    expect(r.stdout.trim().endsWith(`${file.replace(/\.js$/, '')} example OK`)).toBe(true);
  });
});

describe(`known limitations (${DOC}): each asserted as it is, so a fixed runtime fails here`, () => {
  const limits = (rt: Runtime, args: string[], env: Record<string, string | undefined> = {}) => {
    const r = run(rt, path.join(fixtures, 'runtime-limits.js'), args, env);
    if (!r.json) throw new Error(r.summary);
    return r.json;
  };

  test('process.env written in JS reaches native getenv(3) under Node and Deno; under Bun it does not', () => {
    const other = createSoftHSM({ tokens: [{ label: 'env-probe', soPin: '12345678', userPin: '1234' }], setEnv: false });
    try {
      // Started without SOFTHSM2_CONF, which the script then sets to the env-probe token's config.
      const args = ['env', other.conf];
      const env = { SOFTHSM2_CONF: undefined };
      for (const n of ['node', 'deno'])
        expect([n, limits(runtimes[n], args, env)]).toEqual([n, expect.objectContaining({ js: true, labels: expect.arrayContaining(['env-probe']) })]);
      const bun = limits(runtimes.bun, args, env);
      // If this fails, Bun now writes process.env through to the C environment: update the doc's
      // "process.env and native code" section and drop the SOFTHSM2_CONF advice for Bun.
      expect(bun.js).toBe(true);
      expect(bun.libc).toBe('null');
      expect(bun.labels ?? []).not.toContain('env-probe');
    } finally {
      other.cleanup();
    }
  });

  test('node:crypto AES key wrap: Node knows id-aes256-wrap and aes256-wrap, Deno only aes256-wrap, Bun neither', () => {
    expect(limits(runtimes.node, ['aes-kw'])).toEqual({ 'id-aes256-wrap': 'ok', 'aes256-wrap': 'ok' });
    // If one of these fails, update the doc's "node:crypto AES key wrap" section (and, for Bun,
    // the key-agreement expectation above).
    expect(limits(runtimes.deno, ['aes-kw'])).toEqual({ 'id-aes256-wrap': 'ERR_CRYPTO_UNKNOWN_CIPHER', 'aes256-wrap': 'ok' });
    expect(limits(runtimes.bun, ['aes-kw'])).toEqual({ 'id-aes256-wrap': 'ERR_CRYPTO_UNKNOWN_CIPHER', 'aes256-wrap': 'ERR_CRYPTO_UNKNOWN_CIPHER' });
  });

  test("worker.terminate() with a call in flight: Node and Bun settle after the addon's teardown closed the worker's session; Deno settles first, the session closes later", () => {
    const args = ['terminate', fx.modulePath, TOKENS[0].label, TOKENS[0].userPin];
    for (const n of ['node', 'bun']) {
      expect([n, limits(runtimes[n], args)]).toEqual([n, expect.objectContaining({ atResolve: 'CKR_SESSION_HANDLE_INVALID', workerHasParentPortClose: true })]);
    }
    // If this fails, Deno's terminate() now waits for the worker's environment teardown: update
    // the doc's "worker.terminate()" section. atResolve is the session's state: still open.
    expect(limits(runtimes.deno, args)).toEqual({
      atResolve: expect.any(Number),
      terminateMs: expect.any(Number),
      closedAfterMs: expect.any(Number),
      workerHasParentPortClose: false,
    });
  });
});
