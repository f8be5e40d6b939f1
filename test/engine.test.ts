// The call engine (src-native/engine/): async calls run on the addon's own threads, never on
// libuv's pool, so a slow or blocked token cannot starve fs/dns/zlib, hold up other calls, or
// keep close() and process exit waiting. Each case runs in a child process with a hard timeout
// (a hang fails here); the fault shim over SoftHSM supplies the slow and blocking module.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { shimModule, ShimModule } from './helpers/shim';
import { fixturesDir } from './helpers/child-process';

/* eslint-disable @typescript-eslint/no-var-requires */
const softhsm = require('../scripts/softhsm.js') as {
  createSoftHSM(o: { tokens: Array<{ label: string; soPin: string; userPin: string }>; setEnv: false }): {
    conf: string;
    modulePath: string;
    cleanup(): void;
  };
};
/* eslint-enable @typescript-eslint/no-var-requires */

interface Run {
  status: number | null;
  signal: string | null;
  ms: number;
  json: Record<string, unknown>;
  output: string;
}

let hsm: ReturnType<typeof softhsm.createSoftHSM>;
const shims: ShimModule[] = [];

beforeAll(() => {
  hsm = softhsm.createSoftHSM({ tokens: [{ label: 'engine', soPin: '12345678', userPin: '1234' }], setEnv: false });
});
afterAll(() => {
  for (const s of shims) s.cleanup();
  hsm.cleanup();
});

function shim(rules: string[]): string {
  const s = shimModule(rules, { target: hsm.modulePath });
  shims.push(s);
  return s.path;
}

function run(scenario: string, paths: string[], timeoutMs: number, env: Record<string, string> = {}): Run {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(fixturesDir, 'engine-child.js'), scenario], {
    env: {
      ...process.env,
      SOFTHSM2_CONF: hsm.conf,
      P11BRIDGE_ENGINE: JSON.stringify({ shims: paths, label: 'engine', pin: '1234' }),
      ...env,
    },
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  const ms = Date.now() - t0;
  const output = `exit ${r.status} signal ${r.signal} after ${ms} ms\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  let json: Record<string, unknown> = {};
  for (const line of (r.stdout || '').trim().split('\n').reverse()) {
    try {
      json = JSON.parse(line);
      break;
    } catch {
      /* not JSON */
    }
  }
  return { status: r.status, signal: r.signal, ms, json, output };
}

function expectExit0(r: Run) {
  if (r.status !== 0 || r.signal !== null) throw new Error(`child did not exit cleanly: ${r.output}`);
}

describe('call engine: the addon’s own threads (child processes, hard timeouts)', () => {
  // Before: with 4 blocking watchers the libuv pool was full, fs never answered and close() and
  // exit hung for ever (C_Finalize queued behind the waits).
  test('4 modules with blocking watchers: fs answers, other calls run, every module closes, the process exits', () => {
    const paths = [0, 1, 2, 3].map(() => shim([]));
    const r = run('watchers', paths, 30_000);
    expectExit0(r);
    expect(r.json).toMatchObject({ sources: ['block', 'block', 'block', 'block'], random: true });
    // Each wait holds a thread of its own: none of the modules' call threads is taken by one.
    expect(r.json.waitThreads).toEqual([0, 0, 0, 0]);
  }, 40_000);

  test('process.exit() while 4 blocking waits are inside their modules exits at once', () => {
    const paths = [0, 1, 2, 3].map(() => shim([]));
    const r = run('watchers-exit', paths, 30_000);
    expectExit0(r);
    expect(r.json).toMatchObject({ exiting: true, random: true });
  }, 40_000);

  test('16 calls on a 300 ms token run side by side on threads of their own; fs answers while all are in the module; idle threads go', () => {
    const r = run('slow', [shim(['delay C_Sign 300'])], 60_000, { P11BRIDGE_THREAD_IDLE_MS: '150' });
    expectExit0(r);
    const j = r.json as { settledWhenFsAnswered: number; signatures: boolean; threads: { peak: number; max: number }; threadsLater: number };
    expect(j.signatures).toBe(true);
    // libuv's 4 threads would have held fs behind the first four signatures.
    expect(j.settledWhenFsAnswered).toBe(0);
    // One thread per waiting call, grown on demand.
    expect(j.threads.peak).toBeGreaterThanOrEqual(16);
    expect(j.threads.peak).toBeLessThanOrEqual(18);
    expect(j.threads.max).toBe(64);
    expect(j.threadsLater).toBe(0);
  }, 70_000);

  // The other half of the sizing rule: calls that wait for a thread while the busy threads compute
  // (a soft token on every core) get no extra threads, which would only add context switches.
  test('CPU-bound calls do not grow the pool past one thread per CPU, however many wait', () => {
    const r = run('busy', [hsm.modulePath], 60_000);
    expectExit0(r);
    const j = r.json as { keys: number; threads: { peak: number; core: number; heldBack: number } };
    expect(j.keys).toBeGreaterThanOrEqual(32);
    // Calls did wait (the monitor looked at the threads), and it held back every time.
    expect(j.threads.heldBack).toBeGreaterThan(0);
    expect(j.threads.peak).toBeLessThanOrEqual(j.threads.core);
  }, 70_000);

  test('P11BRIDGE_MAX_THREADS caps the threads: 16 calls on 4 threads still all complete', () => {
    const r = run('slow', [shim(['delay C_Sign 100'])], 60_000, { P11BRIDGE_THREAD_IDLE_MS: '150', P11BRIDGE_MAX_THREADS: '4' });
    expectExit0(r);
    const j = r.json as { signatures: boolean; threads: { peak: number; max: number } };
    expect(j.signatures).toBe(true);
    expect(j.threads.max).toBe(4);
    expect(j.threads.peak).toBeLessThanOrEqual(4);
  }, 70_000);
});

describe('call engine: options', () => {
  test('load(path, { maxThreads }) sets the cap; bad values are errors naming the option', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const raw = require('../lib/raw') as typeof import('../lib/raw');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-engine-'));
    try {
      const m = new raw.PKCS11();
      expect(() => m.load(hsm.modulePath, { maxThreads: 0 })).toThrow(/load: argument 'options.maxThreads' must be an integer from 1 to 4096/);
      expect(() => m.load(hsm.modulePath, { maxThreads: 1.5 })).toThrow(RangeError);
      expect(() => m.load(hsm.modulePath, { maxThreads: '8' as unknown as number })).toThrow(TypeError);
      m.load(hsm.modulePath, { maxThreads: 8 });
      expect(m.moduleInfo()!.threads).toMatchObject({ max: 8, alive: 0 });
      m.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
