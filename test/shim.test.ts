// The fault-injecting shim itself (test/shim/p11shim.c over the run's SoftHSM), driven through the
// raw layer: every rule does what it says, and everything else passes through to the real module.
//
// Every test gets its own shim copy (own dlopen, own state) and closes it before the next one: the
// copies share one SoftHSM underneath, which is initialized once per process. Logins happen on the
// 'p11bridge-workers' token (PIN 2222); only session objects are created; no PIN is changed.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import {
  PKCS11,
  CKA_CLASS,
  CKA_EC_PARAMS,
  CKA_LABEL,
  CKA_SIGN,
  CKA_TOKEN,
  CKA_VERIFY,
  CKF_DONT_BLOCK,
  CKF_OS_LOCKING_OK,
  CKF_PROTECTED_AUTHENTICATION_PATH,
  CKF_RNG,
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKF_TOKEN_PRESENT,
  CKF_USER_PIN_COUNT_LOW,
  CKF_USER_PIN_FINAL_TRY,
  CKF_USER_PIN_LOCKED,
  CKM_EC_KEY_PAIR_GEN,
  CKM_ECDSA,
  CKM_SHA256,
  CKO_DATA,
  CKS_RW_PUBLIC_SESSION,
  CKS_RW_USER_FUNCTIONS,
  CKU_USER,
} from '../lib/raw';
import type { Ulong } from '../lib/raw';
import {
  Pkcs11Error,
  CantLockError,
  CryptokiNotInitializedError,
  DeviceErrorError,
  DeviceRemovedError,
  FunctionNotSupportedError,
  GeneralError,
  PinIncorrectError,
  PinLockedError,
  SessionHandleInvalidError,
  TokenNotPresentError,
  UserNotLoggedInError,
  VendorDefinedError,
} from '../lib/index';
import { buildShim, shimModule, ShimModule } from './helpers/shim';

const WORKERS = 'p11bridge-workers';
const WORKERS_PIN = '2222';
const P256 = Buffer.from('06082a8648ce3d030107', 'hex');

interface Open {
  shim: ShimModule;
  mod: PKCS11;
  slot: Ulong;
}

let current: Open | undefined;

/** A shim copy with these rules, loaded and (unless `init` is false) initialized; closed after the test. */
function open(rules: string[] = [], init = true): Open {
  const shim = shimModule(rules);
  const mod = new PKCS11();
  current = { shim, mod, slot: -1 };
  mod.load(shim.path);
  if (init) {
    mod.C_Initialize();
    current.slot = workersSlot(mod);
  }
  return current;
}

function workersSlot(mod: PKCS11): Ulong {
  for (const s of mod.C_GetSlotList(true)) if (mod.C_GetTokenInfo(s).label === WORKERS) return s;
  throw new Error('token not found: ' + WORKERS);
}

function session(o: Open): Ulong {
  return o.mod.C_OpenSession(o.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
}

function loggedIn(o: Open): Ulong {
  const s = session(o);
  o.mod.C_Login(s, CKU_USER, WORKERS_PIN);
  return s;
}

function ecKey(o: Open, s: Ulong): Ulong {
  const { privateKey } = o.mod.C_GenerateKeyPair(
    s,
    { mechanism: CKM_EC_KEY_PAIR_GEN },
    [
      { type: CKA_TOKEN, value: false },
      { type: CKA_EC_PARAMS, value: P256 },
      { type: CKA_VERIFY, value: true },
    ],
    [
      { type: CKA_TOKEN, value: false },
      { type: CKA_SIGN, value: true },
    ],
  );
  return privateKey;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw');
}

async function rejected(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(() => {
  if (!current) return;
  const { mod, shim } = current;
  current = undefined;
  mod.close();
  shim.cleanup();
});

describe('p11shim', () => {
  test('builds with gcc and exports only C_GetFunctionList', () => {
    const so = buildShim();
    const r = spawnSync('nm', ['-D', '--defined-only', so], { encoding: 'utf8' });
    if (r.status === 0)
      expect(
        r.stdout
          .trim()
          .split('\n')
          .map((l) => l.split(' ').pop()),
      ).toEqual(['C_GetFunctionList']);
    expect(buildShim()).toBe(so); // up to date: no rebuild
  });

  test('without rules it passes everything through to SoftHSM', () => {
    const o = open();
    const info = o.mod.moduleInfo()!;
    expect(info.path).toBe(o.shim.path);
    expect(info.interface).toBeNull();
    expect(info.functionCount).toBe(68);
    expect(o.mod.has('C_Digest')).toBe(true);
    expect(o.mod.C_GetInfo().manufacturerID).toMatch(/SoftHSM/);
    const s = loggedIn(o);
    expect(o.mod.C_GetSessionInfo(s).state).toBe(CKS_RW_USER_FUNCTIONS);
    const key = ecKey(o, s);
    o.mod.C_SignInit(s, { mechanism: CKM_ECDSA }, key);
    expect(o.mod.C_Sign(s, Buffer.alloc(32, 1)).length).toBe(64);
    o.mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
    expect(o.mod.C_Digest(s, Buffer.from('abc')).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  test('rv: answers the code after skip calls, for times calls; vendor codes pass through', async () => {
    const o = open(['rv C_GenerateRandom CKR_DEVICE_ERROR skip 1 times 2']);
    const s = session(o);
    expect(o.mod.C_GenerateRandom(s, 4).length).toBe(4);
    expect(thrown(() => o.mod.C_GenerateRandom(s, 4))).toBeInstanceOf(DeviceErrorError);
    expect(await rejected(o.mod.C_GenerateRandomAsync(s, 4))).toBeInstanceOf(DeviceErrorError);
    expect(o.mod.C_GenerateRandom(s, 4).length).toBe(4);

    o.shim.setRules(['rv C_GenerateRandom 0x80000001', 'rv C_SeedRandom PIN_LOCKED # prefix optional']);
    const e = thrown(() => o.mod.C_GenerateRandom(s, 4)) as Pkcs11Error;
    expect(e).toBeInstanceOf(VendorDefinedError);
    expect(e).toBeInstanceOf(Pkcs11Error);
    expect(e.rv).toBe(0x80000001);
    expect(e.function).toBe('C_GenerateRandom');
    expect(thrown(() => o.mod.C_SeedRandom(s, Buffer.alloc(4)))).toBeInstanceOf(PinLockedError);

    o.shim.setRules([]);
    expect(o.mod.C_GenerateRandom(s, 4).length).toBe(4);
  });

  test('delay: C_SignAsync takes at least the delay while the event loop keeps ticking', async () => {
    const o = open();
    const s = loggedIn(o);
    const key = ecKey(o, s);
    o.shim.setRules(['delay C_Sign 300']);
    o.mod.C_SignInit(s, { mechanism: CKM_ECDSA }, key);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const t0 = performance.now();
    try {
      const sig = await o.mod.C_SignAsync(s, Buffer.alloc(32, 2));
      expect(sig.length).toBe(64);
    } finally {
      clearInterval(timer);
    }
    expect(performance.now() - t0).toBeGreaterThanOrEqual(295);
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  test('lie: a module claiming more bytes than the buffer holds is an error, never an over-read', async () => {
    const o = open();
    const s = loggedIn(o);
    const key = ecKey(o, s);
    o.shim.setRules(['lie C_Sign 16', 'lie C_GetSlotList 1', 'lie C_FindObjects 3', 'lie C_GetAttributeValue 8']);

    o.mod.C_SignInit(s, { mechanism: CKM_ECDSA }, key);
    let e = thrown(() => o.mod.C_Sign(s, Buffer.alloc(32, 3))) as Pkcs11Error;
    expect(e).toBeInstanceOf(GeneralError);
    expect(e.function).toBe('C_Sign');
    expect(e.detail).toMatch(/reported \d+ bytes written into a \d+-byte buffer/);

    // Into the caller's own buffer, async: the same error, the buffer is never read past.
    o.mod.C_SignInit(s, { mechanism: CKM_ECDSA }, key);
    const out = Buffer.alloc(80);
    e = (await rejected(o.mod.C_SignAsync(s, Buffer.alloc(32, 3), out))) as Pkcs11Error;
    expect(e).toBeInstanceOf(GeneralError);
    expect(e.detail).toMatch(/96 bytes written into a 80-byte buffer/);

    e = thrown(() => o.mod.C_GetSlotList(true)) as Pkcs11Error;
    expect(e).toBeInstanceOf(GeneralError);
    expect(e.detail).toMatch(/more list entries than the buffer holds/);

    const data = o.mod.C_CreateObject(s, [
      { type: CKA_CLASS, value: CKO_DATA },
      { type: CKA_TOKEN, value: false },
      { type: CKA_LABEL, value: 'shim-lie' },
    ]);
    o.mod.C_FindObjectsInit(s, [{ type: CKA_LABEL, value: 'shim-lie' }]);
    e = thrown(() => o.mod.C_FindObjects(s, 4)) as Pkcs11Error;
    expect(e).toBeInstanceOf(GeneralError);
    expect(e.detail).toMatch(/more handles than asked for/);
    o.mod.C_FindObjectsFinal(s);

    e = thrown(() => o.mod.C_GetAttributeValue(s, data, [CKA_LABEL])) as Pkcs11Error;
    expect(e).toBeInstanceOf(GeneralError);
    expect(e.detail).toMatch(/bytes for a 8-byte attribute buffer/);

    // A length query answered with an absurd size is refused before any allocation.
    o.shim.setRules(['lie-query C_GetAttributeValue 0xFFFFFFFFFFFF']);
    e = thrown(() => o.mod.C_GetAttributeValue(s, data, [CKA_LABEL])) as Pkcs11Error;
    expect(e).toBeInstanceOf(GeneralError);
    expect(e.detail).toMatch(/attribute length/);

    o.shim.setRules([]);
    const [label] = o.mod.C_GetAttributeValue(s, data, [CKA_LABEL]);
    expect(label.value).toEqual(Buffer.from('shim-lie'));
  });

  test('missing: a NULL entry in the list; has() is false and the call is not supported', () => {
    const o = open(['missing C_Digest C_DigestFinal']);
    expect(o.mod.has('C_Digest')).toBe(false);
    expect(o.mod.has('C_DigestFinal')).toBe(false);
    expect(o.mod.has('C_DigestInit')).toBe(true);
    expect(o.mod.moduleInfo()!.functions).not.toContain('C_Digest');
    const s = session(o);
    o.mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
    const e = thrown(() => o.mod.C_Digest(s, Buffer.from('abc'))) as Pkcs11Error;
    expect(e).toBeInstanceOf(FunctionNotSupportedError);
    expect(e.function).toBe('C_Digest');

    // Added after loading: the entry is still in the addon's copy of the list, the shim refuses.
    o.shim.setRules(['missing C_GenerateRandom']);
    expect(o.mod.has('C_GenerateRandom')).toBe(true);
    expect(thrown(() => o.mod.C_GenerateRandom(s, 4))).toBeInstanceOf(FunctionNotSupportedError);
  });

  test('nolocking: C_Initialize with locking fails with CantLockError; flags 0 works', () => {
    const o = open(['nolocking'], false);
    expect(thrown(() => o.mod.C_Initialize())).toBeInstanceOf(CantLockError);
    expect(thrown(() => o.mod.C_Initialize({ flags: CKF_OS_LOCKING_OK }))).toBeInstanceOf(CantLockError);
    o.mod.C_Initialize({ flags: 0 });
    expect(workersSlot(o.mod)).toBeDefined();
  });

  test('removed: a pulled token, then re-insertion invalidates the old sessions', () => {
    const o = open();
    const old = session(o);
    expect(o.mod.C_GenerateRandom(old, 4).length).toBe(4);

    o.shim.setRules([`removed ${o.slot}`]);
    expect(thrown(() => o.mod.C_GenerateRandom(old, 4))).toBeInstanceOf(DeviceRemovedError);
    expect(thrown(() => o.mod.C_GetSessionInfo(old))).toBeInstanceOf(DeviceRemovedError);
    expect(thrown(() => o.mod.C_OpenSession(o.slot, CKF_SERIAL_SESSION))).toBeInstanceOf(TokenNotPresentError);
    expect(thrown(() => o.mod.C_GetTokenInfo(o.slot))).toBeInstanceOf(TokenNotPresentError);
    expect(Number(o.mod.C_GetSlotInfo(o.slot).flags) & CKF_TOKEN_PRESENT).toBe(0);
    expect(o.mod.C_GetSlotList(true)).not.toContain(o.slot);
    expect(o.mod.C_GetSlotList(false)).toContain(o.slot);

    o.shim.setRules([]);
    expect(Number(o.mod.C_GetSlotInfo(o.slot).flags) & CKF_TOKEN_PRESENT).toBe(CKF_TOKEN_PRESENT);
    expect(o.mod.C_GetSlotList(true)).toContain(o.slot);
    const fresh = session(o);
    expect(o.mod.C_GenerateRandom(fresh, 4).length).toBe(4);
    expect(thrown(() => o.mod.C_GenerateRandom(old, 4))).toBeInstanceOf(SessionHandleInvalidError);
  });

  test('slot events with CKF_DONT_BLOCK: one per change of the removed state', () => {
    const o = open();
    expect(o.mod.C_WaitForSlotEvent(CKF_DONT_BLOCK)).toBeNull();
    o.shim.setRules([`removed ${o.slot}`]);
    expect(o.mod.C_WaitForSlotEvent(CKF_DONT_BLOCK)).toBe(o.slot);
    expect(o.mod.C_WaitForSlotEvent(CKF_DONT_BLOCK)).toBeNull();
    o.shim.setRules([`removed ${o.slot} # still removed, rewritten`]);
    expect(o.mod.C_WaitForSlotEvent(CKF_DONT_BLOCK)).toBeNull();
    o.shim.setRules([]);
    expect(o.mod.C_WaitForSlotEvent(CKF_DONT_BLOCK)).toBe(o.slot);
    expect(o.mod.C_WaitForSlotEvent(CKF_DONT_BLOCK)).toBeNull();
  });

  test('blocking C_WaitForSlotEventAsync resolves after the rules change; C_Finalize ends a wait', async () => {
    const o = open();
    let settled = false;
    const wait = o.mod.C_WaitForSlotEventAsync(0).finally(() => (settled = true));
    await sleep(100);
    expect(settled).toBe(false);
    o.shim.setRules([`removed ${o.slot}`]);
    expect(await wait).toBe(o.slot);

    const pending = rejected(o.mod.C_WaitForSlotEventAsync(0));
    await sleep(50);
    o.mod.C_Finalize();
    expect(await pending).toBeInstanceOf(CryptokiNotInitializedError);
  });

  test('noevents and events dontblock-only', async () => {
    const o = open(['noevents']);
    expect(thrown(() => o.mod.C_WaitForSlotEvent(CKF_DONT_BLOCK))).toBeInstanceOf(FunctionNotSupportedError);
    expect(await rejected(o.mod.C_WaitForSlotEventAsync(0))).toBeInstanceOf(FunctionNotSupportedError);
    o.shim.setRules(['events dontblock-only']);
    expect(o.mod.C_WaitForSlotEvent(CKF_DONT_BLOCK)).toBeNull();
    expect(await rejected(o.mod.C_WaitForSlotEventAsync(0))).toBeInstanceOf(FunctionNotSupportedError);
  });

  test('tokenflags and protected-pin: a PIN pad login with a null PIN', () => {
    const o = open(['tokenflags +CKF_PROTECTED_AUTHENTICATION_PATH -RNG', `protected-pin user ${WORKERS_PIN}`]);
    const flags = Number(o.mod.C_GetTokenInfo(o.slot).flags);
    expect(flags & CKF_PROTECTED_AUTHENTICATION_PATH).toBe(CKF_PROTECTED_AUTHENTICATION_PATH);
    expect(flags & CKF_RNG).toBe(0);
    const s = session(o);
    o.mod.C_Login(s, CKU_USER, null);
    expect(o.mod.C_GetSessionInfo(s).state).toBe(CKS_RW_USER_FUNCTIONS);
  });

  test('lockout: PinLockedError after N wrong PINs, with the token flags on the way', () => {
    const o = open(['lockout user 3']);
    const s = session(o);
    const userFlags = () => Number(o.mod.C_GetTokenInfo(o.slot).flags) & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED);
    expect(userFlags()).toBe(0);
    expect(thrown(() => o.mod.C_Login(s, CKU_USER, 'wrong-1'))).toBeInstanceOf(PinIncorrectError);
    expect(userFlags()).toBe(CKF_USER_PIN_COUNT_LOW);
    expect(thrown(() => o.mod.C_Login(s, CKU_USER, 'wrong-2'))).toBeInstanceOf(PinIncorrectError);
    expect(userFlags()).toBe(CKF_USER_PIN_FINAL_TRY);
    expect(thrown(() => o.mod.C_Login(s, CKU_USER, 'wrong-3'))).toBeInstanceOf(PinIncorrectError);
    expect(userFlags()).toBe(CKF_USER_PIN_LOCKED);
    expect(thrown(() => o.mod.C_Login(s, CKU_USER, WORKERS_PIN))).toBeInstanceOf(PinLockedError);
    expect(thrown(() => o.mod.C_Login(s, CKU_USER, 'wrong-4'))).toBeInstanceOf(PinLockedError);

    // Without the rule the real token answers again (and clears SoftHSM's own COUNT_LOW flag).
    o.shim.setRules([]);
    o.mod.C_Login(s, CKU_USER, WORKERS_PIN);
    expect(userFlags()).toBe(0);
  });

  test('lockout: a correct login before the limit resets the count', () => {
    const o = open(['lockout user 2']);
    const s = session(o);
    for (let i = 0; i < 3; i++) {
      expect(thrown(() => o.mod.C_Login(s, CKU_USER, 'wrong'))).toBeInstanceOf(PinIncorrectError);
      o.mod.C_Login(s, CKU_USER, WORKERS_PIN);
      o.mod.C_Logout(s);
    }
    expect(Number(o.mod.C_GetTokenInfo(o.slot).flags) & CKF_USER_PIN_LOCKED).toBe(0);
  });

  test('logout: a silent logout after N session calls; USER_NOT_LOGGED_IN on every session until C_Login', () => {
    const o = open(['logout skip 2']);
    const s = loggedIn(o);
    const other = session(o);
    expect(o.mod.C_GenerateRandom(s, 4).length).toBe(4);
    expect(o.mod.C_GenerateRandom(other, 4).length).toBe(4);
    expect(thrown(() => o.mod.C_GenerateRandom(s, 4))).toBeInstanceOf(UserNotLoggedInError);
    expect(thrown(() => o.mod.C_GenerateRandom(other, 4))).toBeInstanceOf(UserNotLoggedInError);
    // The real module was logged out too: its own session state says so.
    expect(o.mod.C_GetSessionInfo(s).state).toBe(CKS_RW_PUBLIC_SESSION);
    o.mod.C_Login(other, CKU_USER, WORKERS_PIN);
    expect(o.mod.C_GetSessionInfo(s).state).toBe(CKS_RW_USER_FUNCTIONS);
    // Once per rules load: it does not fire again.
    for (let i = 0; i < 10; i++) expect(o.mod.C_GenerateRandom(i % 2 ? s : other, 4).length).toBe(4);
    o.shim.setRules(['logout']);
    expect(thrown(() => o.mod.C_GenerateRandom(s, 4))).toBeInstanceOf(UserNotLoggedInError);
  });

  test('storm: every call fails until C_Finalize + C_Initialize; old sessions are gone after', () => {
    const o = open();
    const old = session(o);
    o.shim.setRules(['storm CKR_CRYPTOKI_NOT_INITIALIZED skip 1']);
    expect(o.mod.C_GenerateRandom(old, 4).length).toBe(4);
    expect(thrown(() => o.mod.C_GenerateRandom(old, 4))).toBeInstanceOf(CryptokiNotInitializedError);
    expect(thrown(() => o.mod.C_GetInfo())).toBeInstanceOf(CryptokiNotInitializedError);
    expect(thrown(() => o.mod.C_GetSlotList(true))).toBeInstanceOf(CryptokiNotInitializedError);
    expect(thrown(() => o.mod.C_OpenSession(o.slot, CKF_SERIAL_SESSION))).toBeInstanceOf(CryptokiNotInitializedError);
    o.mod.C_Finalize();
    o.mod.C_Initialize();
    expect(o.mod.C_GetSlotList(true)).toContain(o.slot);
    expect(thrown(() => o.mod.C_GenerateRandom(old, 4))).toBeInstanceOf(SessionHandleInvalidError);
    expect(o.mod.C_GenerateRandom(session(o), 4).length).toBe(4);
  });

  test('storm: for N calls, or for N ms', async () => {
    const o = open();
    const s = session(o);
    o.shim.setRules(['storm CKR_GENERAL_ERROR times 3']);
    for (let i = 0; i < 3; i++) expect(thrown(() => o.mod.C_GenerateRandom(s, 4))).toBeInstanceOf(GeneralError);
    expect(o.mod.C_GenerateRandom(s, 4).length).toBe(4);
    o.shim.setRules(['storm GENERAL_ERROR ms 150']);
    expect(thrown(() => o.mod.C_GenerateRandom(s, 4))).toBeInstanceOf(GeneralError);
    await sleep(60);
    expect(thrown(() => o.mod.C_GetInfo())).toBeInstanceOf(GeneralError);
    await sleep(150);
    expect(o.mod.C_GenerateRandom(s, 4).length).toBe(4);
    expect(o.mod.C_GetInfo().manufacturerID).toMatch(/SoftHSM/);
  });

  test('device-error: DEVICE_ERROR on the token while it stays present; its old sessions are gone after', () => {
    const o = open();
    const old = session(o);
    o.shim.setRules([`device-error ${o.slot}`]);
    expect(thrown(() => o.mod.C_GenerateRandom(old, 4))).toBeInstanceOf(DeviceErrorError);
    expect(thrown(() => o.mod.C_OpenSession(o.slot, CKF_SERIAL_SESSION))).toBeInstanceOf(DeviceErrorError);
    expect(thrown(() => o.mod.C_GetTokenInfo(o.slot))).toBeInstanceOf(DeviceErrorError);
    expect(o.mod.C_GetSlotList(true)).toContain(o.slot);
    o.shim.setRules([]);
    expect(thrown(() => o.mod.C_GenerateRandom(old, 4))).toBeInstanceOf(SessionHandleInvalidError);
    expect(o.mod.C_GenerateRandom(session(o), 4).length).toBe(4);
  });

  test('hang: the call blocks until the rule goes away while other calls go through', async () => {
    const o = open();
    const s = session(o);
    o.shim.setRules(['hang C_GenerateRandom', 'hang C_Bogus # bad line: reported and ignored']);
    let settled = false;
    const hung = o.mod.C_GenerateRandomAsync(s, 4).finally(() => (settled = true));
    await sleep(250);
    expect(settled).toBe(false);
    expect(o.mod.C_GetInfo().manufacturerID).toMatch(/SoftHSM/);
    expect((await o.mod.C_GetSessionInfoAsync(session(o))).slotID).toBe(o.slot);
    o.shim.setRules([]);
    expect((await hung).length).toBe(4);
  });

  test('env mode: a child process loading the built .so reads P11SHIM_MODULE / P11SHIM_RULES', () => {
    const shim = shimModule(['rv C_GetInfo 0x80000002']);
    try {
      const root = path.join(__dirname, '..');
      const script = `
        const b = require('node-gyp-build')(${JSON.stringify(root)});
        const m = new b.PKCS11();
        m.load(${JSON.stringify(buildShim())});
        m.C_Initialize();
        let rv = null;
        try { m.C_GetInfo(); } catch (e) { rv = Number(e.rv); }
        console.log(JSON.stringify({ slots: m.C_GetSlotList(true).length, rv }));
        m.close();`;
      const r = spawnSync(process.execPath, ['-e', script], {
        env: { ...process.env, ...shim.env },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(out.slots).toBeGreaterThan(0);
      expect(out.rv).toBe(0x80000002);
    } finally {
      shim.cleanup();
    }
  });
});
