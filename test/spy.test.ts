// OpenSC's pkcs11-spy between p11bridge and SoftHSM. The spy reads PKCS11SPY (the module it
// forwards to) and PKCS11SPY_OUTPUT (its log) from the real process environment, so each run is a
// child process (test/fixtures/spy-child.js) that gets them in its environment.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensurePkcs11Spy, fixture } from './helpers/softhsm';
import { runChild, expectCleanExit, ChildResult } from './helpers/child-process';

const spyPath = ensurePkcs11Spy();
const modulePath = fixture().modulePath;
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-spy-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function runSpy(mode: 'full' | 'flags0'): { r: ChildResult; log: string } {
  const logFile = path.join(tmp, `spy-${mode}.log`);
  const r = runChild('spy-child.js', [spyPath, mode, 'p11bridge-a', '1234'], {
    env: { PKCS11SPY: modulePath, PKCS11SPY_OUTPUT: logFile },
  });
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  return { r, log };
}

/** The spy's entries: "<n>: C_Name" followed by its lines, up to the next entry. */
function entries(log: string): Array<{ name: string; body: string }> {
  const out: Array<{ name: string; body: string }> = [];
  const re = /^\d+: (C_\w+)$/gm;
  const marks = [...log.matchAll(re)];
  marks.forEach((m, i) => {
    const end = i + 1 < marks.length ? marks[i + 1].index : log.length;
    out.push({ name: m[1], body: log.slice(m.index, end) });
  });
  return out;
}

/** Hex bytes of an output buffer as the spy dumps it ("00000000  6B A2 …  text"). */
function dumpedBytes(body: string, label: string): string {
  const start = body.indexOf(label);
  if (start < 0) return '';
  let hex = '';
  for (const line of body.slice(start).split('\n').slice(1)) {
    const m = /^\s+[0-9A-F]{8} {2}((?:[0-9A-F]{2} )+)/.exec(line);
    if (!m) break;
    hex += m[1].replace(/ /g, '');
  }
  return hex.toLowerCase();
}

describe('pkcs11-spy over SoftHSM', () => {
  test('default C_Initialize (CKF_OS_LOCKING_OK), C_GetInfo, slots, session, login, sign: all through the spy', () => {
    const { r, log } = runSpy('full');
    expectCleanExit(r);
    const out = r.json;
    expect(out.mode).toBe('full');
    // The spy is what was loaded; SoftHSM answers behind it.
    expect(out.moduleInfo.path).toBe(fs.realpathSync(spyPath));
    expect(out.moduleInfo.functionCount).toBe(68);
    expect(out.initialize).toEqual({ ok: true });
    expect(out.info).toEqual({ manufacturerID: 'SoftHSM', cryptokiVersion: { major: 2, minor: 40 } });
    expect(out.slots.map((s: { label: string }) => s.label)).toEqual(expect.arrayContaining(['p11bridge-a', 'p11bridge-b']));
    expect(out.login).toBe('ok');
    expect(out.sign.verified).toBe(true);
    expect(out.sign.signature).toMatch(/^[0-9a-f]{128}$/);

    expect(log).toContain(`Loaded: "${modulePath}"`);
    const e = entries(log);
    const names = e.map((x) => x.name);
    for (const fn of [
      'C_Initialize',
      'C_GetInfo',
      'C_GetSlotList',
      'C_GetTokenInfo',
      'C_OpenSession',
      'C_Login',
      'C_GenerateKeyPair',
      'C_SignInit',
      'C_Sign',
      'C_Logout',
      'C_CloseSession',
      'C_Finalize',
    ]) {
      expect(names).toContain(fn);
    }
    // C_Initialize went out with CKF_OS_LOCKING_OK and succeeded.
    const init = e.filter((x) => x.name === 'C_Initialize');
    expect(init).toHaveLength(1);
    expect(init[0].body).toMatch(/flags: 2\s+CKF_OS_LOCKING_OK/);
    expect(init[0].body).toMatch(/Returned:\s+0 CKR_OK/);
    // Every C_Sign succeeded (a size query, then the signature) and the bytes the spy saw
    // leaving SoftHSM are the bytes JS got.
    const signs = e.filter((x) => x.name === 'C_Sign');
    expect(signs.length).toBeGreaterThanOrEqual(1);
    for (const s of signs) expect(s.body).toMatch(/Returned:\s+0 CKR_OK/);
    expect(dumpedBytes(signs[signs.length - 1].body, '[out] pSignature')).toBe(out.sign.signature);
    // C_Finalize is the last call.
    expect(names[names.length - 1]).toBe('C_Finalize');
  });

  test('C_Initialize({ flags: 0 }) (no locking): the spy passes it on and SoftHSM answers CKR_OK', () => {
    const { r, log } = runSpy('flags0');
    expectCleanExit(r);
    const out = r.json;
    expect(out.initialize).toEqual({ ok: true });
    expect(out.info.manufacturerID).toBe('SoftHSM');
    const init = entries(log).filter((x) => x.name === 'C_Initialize');
    expect(init).toHaveLength(1);
    expect(init[0].body).toMatch(/flags: 0\n/);
    expect(init[0].body).not.toContain('CKF_OS_LOCKING_OK');
    expect(init[0].body).toMatch(/Returned:\s+0 CKR_OK/);
    expect(entries(log).map((x) => x.name)).toEqual(expect.arrayContaining(['C_Initialize', 'C_GetInfo', 'C_Finalize']));
  });
});
