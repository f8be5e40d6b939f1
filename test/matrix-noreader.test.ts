// The module matrix, smart-card modules with no reader attached: OpenSC's opensc-pkcs11.so and
// Yubico's ykcs11, installed from Debian by scripts/p11kit.js (opensc-pkcs11, ykcs11, pcscd). Each
// runs in a child process whose PCSCLITE_CSOCK_NAME points either at nothing (pcscd absent) or at
// a private pcscd with no reader (its own mount namespace, so the system's /run/pcscd is never
// touched). Notes and timings: docs/modules/noreader.md.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runConformance, statuses, expectNoFailures, MatrixResult } from './helpers/matrix';
import { runChild, repoRoot } from './helpers/child-process';

interface Pcscd {
  socket: string;
  env: Record<string, string>;
  stop(): Promise<{ code: number | null; signal: string | null; forced: boolean }>;
}
/* eslint-disable @typescript-eslint/no-var-requires */
const p11kit = require('../scripts/p11kit.js') as {
  ensureOpenscPkcs11(): string;
  ensureYkcs11(): string;
  ensurePcscd(): string;
  canUnshareMount(): { ok: boolean; reason?: string };
  startPcscd(): Promise<Pcscd>;
};
/* eslint-enable @typescript-eslint/no-var-requires */

const OPEN = 'open (C_Initialize with CKF_OS_LOCKING_OK)';
const NO_SLOTS = { [OPEN]: 'pass', 'module info': 'pass', slots: 'pass', close: 'pass' };

// Slot calls on a slot ID no module has: every one must be SlotIdInvalidError from the right C_*.
const BAD_SLOT_CHILD = `'use strict';
const p11 = require(${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))});
(async () => {
  const mod = await p11.Module.open(process.argv[2]);
  const out = {};
  const typed = (e) =>
    e instanceof p11.Pkcs11Error
      ? e.name + ' ' + e.rvName + ' ' + e.function + (e instanceof p11.SlotIdInvalidError ? ' (SlotIdInvalidError)' : '')
      : 'untyped ' + e;
  out.slotList = await mod.slots({ tokenPresent: false }).then((s) => s.length, typed);
  const slot = mod.slot(0x1234);
  const calls = {
    info: () => slot.info(),
    tokenInfo: () => slot.tokenInfo(),
    mechanisms: () => slot.mechanisms(),
    mechanismInfo: () => slot.mechanismInfo(p11.CKM_ECDSA),
    openSession: () => slot.openSession(),
    openSessionWrite: () => slot.openSession({ write: true }),
    initToken: () => slot.initToken('12345678', 'never'),
  };
  for (const [name, fn] of Object.entries(calls)) out[name] = await fn().then(() => 'resolved', typed);
  try { mod.raw.C_GetSlotInfo(0x1234); out.rawSync = 'returned'; } catch (e) { out.rawSync = typed(e); }
  out.waitForSlotEvent = await mod.raw.C_WaitForSlotEventAsync(p11.CKF_DONT_BLOCK).then((v) => (v === null ? 'no event' : 'event ' + v), typed);
  await mod.close();
  out.finalized = true;
  console.log(JSON.stringify(out));
})();
`;

function badSlotExpectation(waitForSlotEvent: string): Record<string, unknown> {
  const invalid = (fn: string) => `SlotIdInvalidError CKR_SLOT_ID_INVALID ${fn} (SlotIdInvalidError)`;
  return {
    info: invalid('C_GetSlotInfo'),
    tokenInfo: invalid('C_GetTokenInfo'),
    mechanisms: invalid('C_GetMechanismList'),
    mechanismInfo: invalid('C_GetMechanismInfo'),
    openSession: invalid('C_OpenSession'),
    openSessionWrite: invalid('C_OpenSession'),
    initToken: invalid('C_InitToken'),
    rawSync: invalid('C_GetSlotInfo'),
    waitForSlotEvent,
    finalized: true,
  };
}

let tmp: string;
let childScript: string;
let opensc: string;
let ykcs11: string;

beforeAll(() => {
  opensc = p11kit.ensureOpenscPkcs11();
  ykcs11 = p11kit.ensureYkcs11();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-noreader-'));
  childScript = path.join(tmp, 'bad-slot-child.js');
  fs.writeFileSync(childScript, BAD_SLOT_CHILD);
}, 180_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function badSlot(modulePath: string, env: Record<string, string>): Record<string, unknown> {
  const r = runChild(childScript, [modulePath], { env, timeoutMs: 60_000 });
  if (r.status !== 0 || r.signal !== null || !r.json) throw new Error(`bad-slot child did not finish cleanly: ${r.summary}`);
  return r.json as Record<string, unknown>;
}

function expectOpenSC(r: MatrixResult): void {
  expect(r.module).toMatchObject({
    manufacturerID: 'OpenSC Project',
    description: 'OpenSC smartcard framework',
    cryptokiVersion: { major: 3, minor: 0 },
    functionCount: 92,
    interface: 'PKCS 11',
    slots: 0,
    tokens: 0,
  });
}

function expectYkcs11Info(r: MatrixResult): void {
  expect(r.module).toMatchObject({
    manufacturerID: 'Yubico (www.yubico.com)',
    description: 'PKCS#11 PIV Library (SP-800-73)',
    cryptokiVersion: { major: 2, minor: 40 },
    functionCount: 68,
    interface: null,
  });
}

describe('no reader, pcscd absent (PCSCLITE_CSOCK_NAME points at no socket)', () => {
  const env = (): Record<string, string> => ({ PCSCLITE_CSOCK_NAME: path.join(tmp, 'no-pcscd.comm') });

  test('opensc-pkcs11.so: initializes, zero slots, C_Finalize fine', () => {
    const r = runConformance({ modulePath: opensc, expectNoSlots: true }, env());
    expectNoFailures(r);
    expect(statuses(r)).toEqual(NO_SLOTS);
    expect(r.steps.find((s) => s.name === 'slots')!.detail).toBe('0 slots, no token');
    expectOpenSC(r);
  });

  test('opensc-pkcs11.so: slot calls on a bad slot ID are SlotIdInvalidError', () => {
    expect(badSlot(opensc, env())).toEqual({ slotList: 0, ...badSlotExpectation('no event') });
  });

  test('ykcs11: initializes, but C_GetSlotList is CKR_DEVICE_ERROR without pcscd (a clean typed error)', () => {
    const r = runConformance({ modulePath: ykcs11, expectNoSlots: true }, env());
    expect(statuses(r)).toEqual({ [OPEN]: 'pass', 'module info': 'pass', slots: 'fail', close: 'pass' });
    expect(r.steps.find((s) => s.name === 'slots')!.detail).toBe('DeviceErrorError: C_GetSlotList failed: CKR_DEVICE_ERROR (0x30) (CKR_DEVICE_ERROR from C_GetSlotList)');
    expectYkcs11Info(r);
  });

  test('ykcs11: slot calls on a bad slot ID are SlotIdInvalidError', () => {
    expect(badSlot(ykcs11, env())).toEqual({
      slotList: 'DeviceErrorError CKR_DEVICE_ERROR C_GetSlotList',
      ...badSlotExpectation('FunctionNotSupportedError CKR_FUNCTION_NOT_SUPPORTED C_WaitForSlotEvent'),
    });
  });
});

const unshare = p11kit.canUnshareMount();
const withPcscd = unshare.ok ? describe : describe.skip;

withPcscd(`no reader, a private pcscd running${unshare.ok ? '' : ` (skipped: ${unshare.reason})`}`, () => {
  let pcscd: Pcscd;
  beforeAll(async () => {
    pcscd = await p11kit.startPcscd();
  }, 180_000);
  afterAll(async () => {
    if (pcscd) {
      const st = await pcscd.stop();
      expect(st.forced).toBe(false);
    }
  });

  test('the private pcscd has its socket outside the system /run/pcscd', () => {
    expect(fs.statSync(pcscd.socket).isSocket()).toBe(true);
    expect(pcscd.socket.startsWith('/run/')).toBe(false);
  });

  test('opensc-pkcs11.so: initializes, zero slots, C_Finalize fine', () => {
    const r = runConformance({ modulePath: opensc, expectNoSlots: true }, pcscd.env);
    expectNoFailures(r);
    expect(statuses(r)).toEqual(NO_SLOTS);
    expectOpenSC(r);
  });

  test('ykcs11: initializes, zero slots, C_Finalize fine', () => {
    const r = runConformance({ modulePath: ykcs11, expectNoSlots: true }, pcscd.env);
    expectNoFailures(r);
    expect(statuses(r)).toEqual(NO_SLOTS);
    expect(r.steps.find((s) => s.name === 'slots')!.detail).toBe('0 slots, no token');
    expectYkcs11Info(r);
    expect(r.module).toMatchObject({ slots: 0, tokens: 0 });
  });

  test('both: slot calls on a bad slot ID are SlotIdInvalidError', () => {
    expect(badSlot(opensc, pcscd.env)).toEqual({ slotList: 0, ...badSlotExpectation('no event') });
    expect(badSlot(ykcs11, pcscd.env)).toEqual({
      slotList: 0,
      ...badSlotExpectation('FunctionNotSupportedError CKR_FUNCTION_NOT_SUPPORTED C_WaitForSlotEvent'),
    });
  });
});
