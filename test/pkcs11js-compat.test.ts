// p11bridge/pkcs11js against pkcs11js 2.1.7 itself (issue 16): the call table of
// test/helpers/pkcs11js-table.js (every function pkcs11js has, sync, callback and Promise forms,
// results and failures) runs once through the real pkcs11js (its own native addon, the
// devDependency bench/raw builds) and once through the facade, each in a child process on its own
// copy of one SoftHSM token directory. The results must be equal, except for the differences
// docs/migrating.md lists, which are checked here one by one.
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createSoftHSM } = require('../scripts/softhsm.js') as {
  createSoftHSM(o: { tokens: Array<{ label: string; soPin: string; userPin: string }>; setEnv: boolean }): { dir: string; modulePath: string; cleanup(): void };
};

const root = path.join(__dirname, '..');
const facadeEntry = path.join(root, 'dist', 'compat', 'pkcs11js', 'index.js');

interface StepError {
  cls: string;
  code: number | null;
  message: string;
  isPkcs11Error: boolean;
  isNativeError: boolean;
}
interface Step {
  name: string;
  ok: boolean;
  value?: unknown;
  error?: StepError;
  skipped?: string;
}
interface Run {
  steps: Step[];
  functions: string[];
  constants: Record<string, number>;
}

function pkcs11jsLoads(): string | null {
  const r = spawnSync(process.execPath, ['-e', "require('pkcs11js')"], { cwd: root, encoding: 'utf8', timeout: 20000 });
  return r.status === 0 ? null : r.stderr.trim().split('\n').slice(-3).join(' ');
}

const runs: Record<'pkcs11js' | 'facade', Run> = {} as Record<'pkcs11js' | 'facade', Run>;
let tmp = '';
let fx: { dir: string; modulePath: string; cleanup(): void } | null = null;

beforeAll(() => {
  const why = pkcs11jsLoads();
  // The comparison needs the reference: without it this file fails (bench/raw/run.js builds it).
  if (why) throw new Error(`pkcs11js does not load (build it: node -e "require('./bench/common').ensurePkcs11js()"): ${why}`);
  if (!fs.existsSync(facadeEntry)) throw new Error('dist/ is not built: npx tsc -p tsconfig.json');
  fx = createSoftHSM({ tokens: [{ label: 'compat-a', soPin: '12345678', userPin: '1234' }], setEnv: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-compat-'));
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keys = path.join(tmp, 'keys.json');
  fs.writeFileSync(keys, JSON.stringify({ aes: crypto.randomBytes(32).toString('base64url'), rsa: privateKey.export({ format: 'jwk' }) }));
  for (const impl of ['pkcs11js', 'facade'] as const) {
    // Identical copies: same serial numbers, slot IDs and object store, so equal handles.
    const dir = path.join(tmp, impl);
    fs.cpSync(fx.dir, dir, { recursive: true });
    const conf = path.join(dir, 'softhsm2.conf');
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace(/^directories\.tokendir\s*=.*$/m, `directories.tokendir = ${path.join(dir, 'tokens')}`));
    const r = spawnSync(process.execPath, [path.join(__dirname, 'helpers', 'pkcs11js-table.js'), impl, fx.modulePath, keys], {
      cwd: root,
      env: { ...process.env, SOFTHSM2_CONF: conf, P11_FACADE: facadeEntry },
      encoding: 'utf8',
      timeout: 90000,
      killSignal: 'SIGKILL',
    });
    if (r.status !== 0) throw new Error(`${impl} run failed (status ${r.status}, signal ${r.signal}): ${r.stderr.slice(-2000)}`);
    runs[impl] = JSON.parse(r.stdout) as Run;
  }
}, 200000);

afterAll(() => {
  if (fx) fx.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// pkcs11js converts no error of these four (its JS wrappers shadow the converted methods, or
// replace them): it throws its native Error, message `CKR_NAME:code`. The facade throws
// Pkcs11Error like everywhere else; the code must be the same.
const UNCONVERTED = ['C_CreateObject', 'C_CopyObject', 'C_SetAttributeValue', 'C_FindObjects'];
const unconverted = (s: Step): boolean => UNCONVERTED.includes(s.name.split(' ')[0]);

/** What must agree for a step: the value, or for a failure its kind and code (TypeError: text). */
function outcome(s: Step): unknown {
  if (s.ok) return { value: s.value };
  const e = s.error as StepError;
  if (e.cls === 'TypeError') return { typeError: e.message };
  return { code: e.code, message: e.message.replace(/:\d+$/, ''), pkcs11: e.isPkcs11Error || /^CKR_\w+:\d+$/.test(e.message) };
}

const DOCUMENTED = new Set(['C_GetAttributeValue empty date', 'C_EncryptInit mechanism without number']);

describe('p11bridge/pkcs11js against pkcs11js 2.1.7', () => {
  test('both runs made every step, in the same order', () => {
    expect(runs.facade.steps.map((s) => s.name)).toEqual(runs.pkcs11js.steps.map((s) => s.name));
    expect(runs.pkcs11js.steps.length).toBeGreaterThan(150);
  });

  test('the table calls every C_ function pkcs11js has, and the facade has each of them', () => {
    const names = runs.pkcs11js.steps.map((s) => s.name);
    const fns = runs.pkcs11js.functions;
    expect(fns.length).toBeGreaterThanOrEqual(99);
    const base = fns.filter((f) => !f.endsWith('Callback') && !f.endsWith('Async'));
    const uncalled = base.filter((f) => !names.some((n) => n.split(/[ +()]/).includes(f)));
    expect(uncalled).toEqual([]);
    // The Async forms are what the 'promise' rows call, the Callback forms what 'callback' rows reach.
    const formless = (suffix: string, row: string): string[] =>
      fns.filter((f) => f.endsWith(suffix)).filter((f) => !names.some((n) => n.startsWith(`${f.slice(0, -suffix.length)} `) && n.endsWith(row)));
    expect(formless('Async', ' promise')).toEqual([]);
    expect(formless('Callback', ' callback')).toEqual([]);
    expect(fns.filter((f) => !runs.facade.functions.includes(f))).toEqual([]);
  });

  test('every exported constant has the same value', () => {
    expect(runs.facade.constants).toEqual(runs.pkcs11js.constants);
  });

  test('equal results and equal error codes, step by step', () => {
    const mismatches: string[] = [];
    runs.pkcs11js.steps.forEach((p, i) => {
      const f = runs.facade.steps[i];
      if (DOCUMENTED.has(p.name)) return;
      const a = outcome(p);
      const b = outcome(f);
      if (JSON.stringify(a) !== JSON.stringify(b)) mismatches.push(`${p.name}: pkcs11js ${JSON.stringify(a)} facade ${JSON.stringify(b)}`);
    });
    expect(mismatches).toEqual([]);
    // Not vacuous: successes, PKCS#11 failures and argument errors are all in the table.
    const kinds = runs.pkcs11js.steps.map((s) => (s.ok ? 'ok' : s.error && s.error.cls === 'TypeError' ? 'type' : 'rv'));
    expect(kinds.filter((k) => k === 'ok').length).toBeGreaterThan(60);
    expect(kinds.filter((k) => k === 'rv').length).toBeGreaterThan(40);
    expect(kinds.filter((k) => k === 'type').length).toBeGreaterThan(10);
  });

  test('every PKCS#11 failure of the facade is a Pkcs11Error (pkcs11js: not from four functions)', () => {
    const rv = runs.facade.steps.filter((s) => !s.ok && s.error && s.error.code);
    expect(rv.length).toBeGreaterThan(40);
    for (const s of rv) {
      expect({
        name: s.name,
        cls: s.error?.cls,
        isPkcs11Error: s.error?.isPkcs11Error,
        isNativeError: s.error?.isNativeError,
        message: /^CKR_\w+$/.test(s.error?.message ?? ''),
      }).toEqual({
        name: s.name,
        cls: 'Pkcs11Error',
        isPkcs11Error: true,
        isNativeError: true,
        message: true,
      });
    }
    const plain = runs.pkcs11js.steps.filter((s) => !s.ok && s.error && s.error.cls === 'Error');
    expect(plain.length).toBeGreaterThan(0);
    for (const s of plain) expect(unconverted(s)).toBe(true);
  });

  test('documented difference: an empty CK_DATE reads as an empty Buffer (pkcs11js: TypeError)', () => {
    const p = runs.pkcs11js.steps.find((s) => s.name === 'C_GetAttributeValue empty date') as Step;
    const f = runs.facade.steps.find((s) => s.name === 'C_GetAttributeValue empty date') as Step;
    expect(p.error?.cls).toBe('TypeError');
    expect(f.value).toEqual([{ type: 0x110, value: { hex: '' } }]);
  });

  test("documented difference: a refused mechanism is pkcs11js's TypeError, without its heap corruption", () => {
    const p = runs.pkcs11js.steps.find((s) => s.name === 'C_EncryptInit mechanism without number') as Step;
    const f = runs.facade.steps.find((s) => s.name === 'C_EncryptInit mechanism without number') as Step;
    expect(p.skipped).toBeTruthy();
    expect(f.error).toMatchObject({ cls: 'TypeError', message: "Argument 1 has wrong type. Property 'mechanism' should be a Number" });
  });
});

describe('p11bridge/pkcs11js keeps the API, not the bugs', () => {
  test('async forms keep their buffers alive: temporary outputs under forced GC', () => {
    // pkcs11js's workers hold raw pointers into Buffers nobody references (its issue: a GC during
    // the call frees them). The same calls through the facade, with a GC forced while each is in
    // flight, must all give the right digests.
    const own = createSoftHSM({ tokens: [{ label: 'gc', soPin: '12345678', userPin: '1234' }], setEnv: false });
    try {
      const script = `
        const crypto = require('node:crypto');
        const pk = require(${JSON.stringify(facadeEntry)});
        const m = new pk.PKCS11(${JSON.stringify(own.modulePath)});
        m.C_Initialize();
        const slot = m.C_GetSlotList(true).find((s) => m.C_GetTokenInfo(s).label.trim() === 'gc');
        const sessions = [0, 1, 2, 3].map(() => m.C_OpenSession(slot, pk.CKF_SERIAL_SESSION));
        (async () => {
          let good = 0;
          for (let round = 0; round < 50; round++) {
            await Promise.all(sessions.map(async (s, i) => {
              const data = crypto.randomBytes(1000 + i);
              m.C_DigestInit(s, { mechanism: pk.CKM_SHA256 });
              const p = m.C_DigestAsync(s, Buffer.from(data), Buffer.alloc(64));
              global.gc();
              const d = await p;
              if (d.equals(crypto.createHash('sha256').update(data).digest())) good++;
            }));
          }
          m.C_Finalize();
          console.log(JSON.stringify({ good }));
        })();`;
      const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], {
        env: { ...process.env, SOFTHSM2_CONF: path.join(own.dir, 'softhsm2.conf') },
        encoding: 'utf8',
        timeout: 60000,
        killSignal: 'SIGKILL',
      });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      expect(JSON.parse(r.stdout)).toEqual({ good: 200 });
    } finally {
      own.cleanup();
    }
  }, 70000);
});
