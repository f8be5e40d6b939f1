// Typed layer against the fault shim (test/shim/p11shim.c over the run's SoftHSM): slot events from
// a blocking C_WaitForSlotEvent, from CKF_DONT_BLOCK polling and from presence polling; login
// through a protected authentication path; a locked user PIN; a session pool that recovers after
// its token is pulled and put back.
import { fixture } from './helpers/softhsm';
import { shimModule, ShimModule } from './helpers/shim';
import {
  Module,
  Slot,
  SlotEvent,
  SlotWatcher,
  PinIncorrectError,
  PinLockedError,
  PinError,
  DeviceRemovedError,
  TokenNotPresentError,
  Pkcs11Error,
  VendorPkcs11Error,
  VendorDefinedError,
} from '../lib/index';

const WORKERS = { label: 'p11bridge-workers', pin: '2222' };

function nextEvent(w: SlotWatcher, name: 'tokenInserted' | 'tokenRemoved'): Promise<SlotEvent> {
  return new Promise((resolve) => w.once(name, resolve));
}

describe('typed layer through the fault shim', () => {
  let shim: ShimModule;
  let mod: Module;
  let slot: Slot;
  beforeAll(async () => {
    expect(fixture().tokens.some((t) => t.label === WORKERS.label)).toBe(true);
    shim = shimModule([]);
    mod = await Module.open(shim.path);
    slot = (await mod.findSlot(WORKERS.label))!;
  });
  afterEach(() => shim.setRules([]));
  afterAll(async () => {
    await mod.close();
    shim.cleanup();
  });

  test('blocking slot events: removal and re-insertion arrive as events and through the async iterator', async () => {
    const w = mod.watchSlots();
    await w.ready();
    expect(w.source).toBe('block');
    const seen: Array<[string, boolean, string]> = [];
    const iterated = (async () => {
      for await (const e of w) seen.push([String(e.slot.id), e.tokenPresent, e.source]);
    })();
    const removed = nextEvent(w, 'tokenRemoved');
    shim.setRules([`removed ${slot.id}`]);
    const r = await removed;
    expect(r.slot).toBe(slot);
    expect(r.tokenPresent).toBe(false);
    expect(r.source).toBe('wait');
    expect((await slot.info()).flags.tokenPresent).toBe(false);
    const inserted = nextEvent(w, 'tokenInserted');
    shim.setRules([]);
    expect((await inserted).tokenPresent).toBe(true);
    w.stop();
    await iterated;
    expect(seen).toEqual([
      [String(slot.id), false, 'wait'],
      [String(slot.id), true, 'wait'],
    ]);
  });

  test("'poll' mode: CKF_DONT_BLOCK events on a timer", async () => {
    const w = mod.watchSlots({ mode: 'poll', interval: 20 });
    await w.ready();
    expect(w.source).toBe('poll');
    const removed = nextEvent(w, 'tokenRemoved');
    shim.setRules([`removed ${slot.id}`]);
    expect((await removed).source).toBe('wait');
    const inserted = nextEvent(w, 'tokenInserted');
    shim.setRules([]);
    expect((await inserted).slot).toBe(slot);
    w.stop();
  });

  test('a module without slot events: presence polling finds the change', async () => {
    shim.setRules(['noevents']);
    const w = mod.watchSlots({ interval: 20 });
    await w.ready();
    for (let i = 0; i < 100 && w.source !== 'presence'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(w.source).toBe('presence');
    const removed = nextEvent(w, 'tokenRemoved');
    shim.setRules(['noevents', `removed ${slot.id}`]);
    const e = await removed;
    expect([e.slot, e.tokenPresent, e.source]).toEqual([slot, false, 'poll']);
    const inserted = nextEvent(w, 'tokenInserted');
    shim.setRules(['noevents']);
    expect((await inserted).tokenPresent).toBe(true);
    w.stop();
  });

  test('protected authentication path: login() without a PIN lets the token collect it', async () => {
    shim.setRules(['tokenflags +CKF_PROTECTED_AUTHENTICATION_PATH', `protected-pin user ${WORKERS.pin}`]);
    expect((await slot.tokenInfo()).flags.protectedAuthenticationPath).toBe(true);
    const s = await slot.openSession();
    await s.login();
    expect(slot.loginState).toBe('user');
    expect((await s.info()).state).toBe('roUser');
    await s.logout();
    await s.close();
  });

  test('a locked user PIN: PinIncorrectError until the limit, then PinLockedError, and the token says so', async () => {
    shim.setRules(['lockout user 2']);
    const s = await slot.openSession();
    await expect(s.login('bad-1')).rejects.toBeInstanceOf(PinIncorrectError);
    expect((await slot.tokenInfo()).flags.userPinFinalTry).toBe(true);
    await expect(s.login('bad-2')).rejects.toBeInstanceOf(PinIncorrectError);
    const locked = await s.login(WORKERS.pin).catch((e: unknown) => e);
    expect(locked).toBeInstanceOf(PinLockedError);
    expect(locked).toBeInstanceOf(PinError);
    expect(locked).toMatchObject({ rv: 0xa4, rvName: 'CKR_PIN_LOCKED', function: 'C_Login' });
    const info = await slot.tokenInfo();
    expect(info.flags.userPinLocked).toBe(true);
    expect(slot.loginState).toBe(null);
    // The real token answers again without the rule (this also clears SoftHSM's COUNT_LOW flag).
    shim.setRules([]);
    await s.login(WORKERS.pin);
    await s.logout();
    await s.close();
  });

  test('a pool whose token is pulled: use() rejects with the typed error, then recovers once the token is back', async () => {
    const pool = await slot.pool({ size: 2, login: WORKERS.pin, waitTimeout: 5000 });
    const sign = () =>
      pool.use(async (s) => {
        const k = await s.generateKey({ name: 'generic', length: 32 });
        return k.sign({ name: 'HMAC', hash: 'SHA-256' }, Buffer.from('x'));
      });
    expect(await sign()).toHaveLength(32);
    shim.setRules([`removed ${slot.id}`]);
    const e = await sign().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Pkcs11Error);
    expect(e instanceof DeviceRemovedError || e instanceof TokenNotPresentError).toBe(true);
    shim.setRules([]);
    // Fresh sessions, logged in again: the old handles died with the removal.
    expect(await sign()).toHaveLength(32);
    expect(await Promise.all([sign(), sign(), sign()])).toHaveLength(3);
    expect(pool.opened).toBeLessThanOrEqual(2);
    await pool.close();
  });

  test('vendor codes end to end: the Rutoken table names CKR_VENDOR_DEFINED+n from the module', async () => {
    // A second Module on the same shim shares the loaded library; only its vendor table differs.
    const rutoken = await Module.open(shim.path, { vendorErrors: 'rutoken' });
    const s = await (await rutoken.findSlot(WORKERS.label))!.openSession();
    shim.setRules(['rv C_Login 0x80000009 times 1', 'rv C_GenerateRandom 0x8000000b times 1']);
    const e1 = await s.login(WORKERS.pin).catch((x: unknown) => x);
    expect(e1).toBeInstanceOf(VendorPkcs11Error);
    expect(e1).toBeInstanceOf(VendorDefinedError);
    expect(e1).toMatchObject({ rv: 0x80000009, rvName: 'CKR_CERT_CHAIN_NOT_VERIFIED', function: 'C_Login', vendor: 'rutoken' });
    const e2 = await s.random(4).catch((x: unknown) => x);
    expect(e2).toMatchObject({ rv: 0x8000000b, rvName: 'CKR_PIN_IN_HISTORY' });
    // The plain Module (no table chosen: SoftHSM's manufacturer ID) reports the bare vendor code.
    shim.setRules(['rv C_GenerateRandom 0x80000001 times 1']);
    const plain = await (await slot.openSession()).random(4).catch((x: unknown) => x);
    expect(plain).toBeInstanceOf(VendorDefinedError);
    expect(plain).not.toBeInstanceOf(VendorPkcs11Error);
    expect(plain).toMatchObject({ rv: 0x80000001, rvName: 'CKR_VENDOR_DEFINED+0x1' });
    shim.setRules([]);
    await s.close();
    await rutoken.close();
  });

  test('Module.close() with a blocking wait in the module: C_Finalize ends it and the watcher stops (last test)', async () => {
    const w = mod.watchSlots();
    await w.ready();
    expect(w.source).toBe('block');
    const iterated = (async () => {
      const got: SlotEvent[] = [];
      for await (const e of w) got.push(e);
      return got;
    })();
    await new Promise((r) => setTimeout(r, 50));
    await mod.close();
    expect(w.isStopped).toBe(true);
    expect(await iterated).toEqual([]);
    expect(() => mod.watchSlots()).toThrow(/closed/);
  });
});
