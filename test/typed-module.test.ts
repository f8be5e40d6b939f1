// The typed layer's foundation on SoftHSM: Module, Slot (typed infos), Session (token-wide login
// state, per-session mutex, close/dispose) and the per-CKR error classes with the caller's stack.
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { fixture } from './helpers/softhsm';
import { Module, Session, SessionNotOpenError, PinIncorrectError, PinError, Pkcs11Error, CKM_ECDSA, CKM_AES_KEY_GEN } from '../lib/index';

describe('Module / Slot / Session on SoftHSM', () => {
  let mod: Module;
  const f = fixture();
  beforeAll(async () => {
    mod = await Module.open(f.modulePath);
  });
  afterAll(async () => {
    await mod.close();
  });

  test('module info is typed and says how the function list was found', async () => {
    const info = await mod.info();
    expect(info.manufacturerID).toBe('SoftHSM');
    expect(info.cryptokiVersion).toEqual({ major: 2, minor: 40 });
    expect(info.functionCount).toBe(68);
    expect(info.interface).toBeNull();
  });

  test('slots with tokens; the same Slot object each time; findSlot by label', async () => {
    const slots = await mod.slots();
    expect(slots.length).toBeGreaterThanOrEqual(4);
    expect((await mod.slots())[0]).toBe(slots[0]);
    const a = await mod.findSlot('p11bridge-a');
    expect(a).toBeDefined();
    expect(await mod.findSlot('no such token')).toBeUndefined();
  });

  test('slot and token info: flags as named booleans, limits as infinite/unavailable instead of raw ~0', async () => {
    const slot = (await mod.findSlot('p11bridge-a'))!;
    const si = await slot.info();
    expect(si.flags.tokenPresent).toBe(true);
    expect(typeof si.description).toBe('string');
    const ti = await slot.tokenInfo();
    expect(ti.label).toBe('p11bridge-a');
    expect(ti.flags).toMatchObject({ tokenInitialized: true, userPinInitialized: true, loginRequired: true, rng: true, userPinLocked: false });
    // SoftHSM: max session counts 0 (CK_EFFECTIVELY_INFINITE), counters CK_UNAVAILABLE_INFORMATION.
    expect(ti.maxSessionCount).toBe('infinite');
    expect(ti.sessionCount).toBe('unavailable');
    expect(ti.freePrivateMemory).toBe('unavailable');
    expect(ti.minPinLength).toBe(4);
    expect(ti.utcTime).toBeNull(); // SoftHSM has no clock on token
  });

  test('mechanisms with names and capability flags', async () => {
    const slot = (await mod.findSlot('p11bridge-a'))!;
    const mechs = await slot.mechanisms();
    const ecdsa = mechs.find((m) => m.type === CKM_ECDSA)!;
    expect(ecdsa.name).toBe('CKM_ECDSA');
    expect(ecdsa.flags.sign).toBe(true);
    expect(ecdsa.flags.verify).toBe(true);
    expect(ecdsa.flags.encrypt).toBe(false);
    const aes = await slot.mechanismInfo(CKM_AES_KEY_GEN);
    expect(aes).toMatchObject({ name: 'CKM_AES_KEY_GEN', minKeySize: 16, maxKeySize: 32 });
    expect(aes.flags.generate).toBe(true);
  });

  test('login is per token: a second session sees it, no second C_Login; logout clears it', async () => {
    const slot = (await mod.findSlot('p11bridge-b'))!;
    const s1 = await slot.openSession({ write: true });
    const s2 = await slot.openSession();
    expect((await s2.info()).state).toBe('roPublic');
    await s1.login('5678');
    expect(slot.loginState).toBe('user');
    expect((await s2.info()).state).toBe('roUser');
    expect((await s1.info()).state).toBe('rwUser');
    await s2.login('5678'); // already logged in for the token: a no-op, not CKR_USER_ALREADY_LOGGED_IN
    await s2.logout();
    expect(slot.loginState).toBeNull();
    expect((await s1.info()).state).toBe('rwPublic');
    await s1.close();
    await s2.close();
    expect(slot.openSessionCount).toBe(0);
  });

  test('a wrong PIN rejects with PinIncorrectError (a PinError and Pkcs11Error) carrying the caller stack, never the PIN', async () => {
    const slot = (await mod.findSlot('p11bridge-b'))!;
    const s = await slot.openSession();
    const err = await s.login('wrong-pin-7361').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PinIncorrectError);
    expect(err).toBeInstanceOf(PinError);
    expect(err).toBeInstanceOf(Pkcs11Error);
    const e = err as PinIncorrectError;
    expect(e).toMatchObject({ rvName: 'CKR_PIN_INCORRECT', rv: 0xa0, function: 'C_Login' });
    expect(e.stack).toContain('typed-module.test.ts');
    expect(e.stack).not.toContain('wrong-pin-7361');
    expect(e.message).not.toContain('wrong-pin-7361');
    expect(slot.loginState).toBeNull();
    await s.close();
  });

  test('calls on one session never interleave: concurrent random() calls all complete, in order', async () => {
    const slot = (await mod.findSlot('p11bridge-a'))!;
    const s = await slot.openSession();
    const order: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        s.random(16 + i).then((b) => {
          order.push(i);
          return b;
        }),
      ),
    );
    expect(results.map((b) => b.length)).toEqual(Array.from({ length: 12 }, (_, i) => 16 + i));
    expect(order).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(new Set(results.map((b) => b.toString('hex'))).size).toBe(12);
    await s.close();
  });

  test('close waits for the call in progress; calls after close reject with SessionNotOpenError; close twice is fine', async () => {
    const slot = (await mod.findSlot('p11bridge-a'))!;
    const s = await slot.openSession();
    const pending = s.random(1 << 20);
    const closing = s.close();
    expect((await pending).length).toBe(1 << 20);
    await closing;
    expect(s.isOpen).toBe(false);
    await expect(s.random(1)).rejects.toBeInstanceOf(SessionNotOpenError);
    await s.close();
  });

  test('await using closes the session at the end of the block', async () => {
    const slot = (await mod.findSlot('p11bridge-a'))!;
    let leaked: Session | undefined;
    {
      await using s = await slot.openSession();
      leaked = s;
      expect((await s.random(8)).length).toBe(8);
    }
    expect(leaked!.isOpen).toBe(false);
    expect(slot.openSessionCount).toBe(0);
    // The raw handle is gone in the module too.
    expect(() => mod.raw.C_GetSessionInfo(leaked!.handle)).toThrow(expect.objectContaining({ rvName: 'CKR_SESSION_HANDLE_INVALID' }));
  });

  test('SO login, initPin and setPin on the admin token', async () => {
    const slot = (await mod.findSlot('p11bridge-admin'))!;
    const so = await slot.openSession({ write: true });
    await so.login('11111111', { user: 'so' });
    expect(slot.loginState).toBe('so');
    expect((await so.info()).state).toBe('rwSO');
    await so.initPin('1111');
    await so.logout();
    const user = await slot.openSession({ write: true });
    await user.login('1111');
    await user.setPin('1111', '2345');
    await user.logout();
    await user.login('2345');
    await user.setPin('2345', '1111');
    await user.close();
    await so.close();
  });

  test('random bytes differ and come from the token', async () => {
    const slot = (await mod.findSlot('p11bridge-a'))!;
    const s = await slot.openSession();
    const a = await s.random(32);
    const b = await s.random(32);
    expect(a.equals(b)).toBe(false);
    await expect(s.random(-1)).rejects.toThrow(RangeError);
    await s.close();
    void crypto;
  });
});

describe('Module lifecycle', () => {
  test('open/close twice; a module that fails to initialize is unloaded', async () => {
    const f = fixture();
    const m = await Module.open(f.modulePath);
    await m.close();
    await m.close();
    expect(m.isClosed).toBe(true);
    await expect(Module.open('/nonexistent/libnothing.so')).rejects.toMatchObject({ code: 'MODULE_NOT_FOUND' });
  });

  test('Module.open({ path }) with options; a bad argument shape is a TypeError naming it', async () => {
    const m = await Module.open({ path: fixture().modulePath, vendorErrors: false });
    expect(m.path).toBe(fixture().modulePath);
    expect((await m.info()).manufacturerID).toMatch(/SoftHSM/);
    await m.close();
    const bad: unknown[] = [null, 42, {}, { path: 3 }, { uri: 7 }, { path: fixture().modulePath, uri: 'pkcs11:' }];
    for (const arg of bad) {
      await expect(Module.open(arg as string)).rejects.toThrow(TypeError);
      await expect(Module.open(arg as string)).rejects.toThrow(/Module\.open: .*'(path|uri)'/);
    }
  });

  test('close finalizes: sessions of a closed module reject with SessionNotOpenError', async () => {
    const f = fixture();
    const m = await Module.open(f.modulePath);
    const slot = (await m.findSlot('p11bridge-a'))!;
    const s = await slot.openSession();
    await m.close();
    await expect(s.random(4)).rejects.toBeInstanceOf(SessionNotOpenError);
  });
});

describe('garbage-collection backstop', () => {
  test('a Session collected without close() is closed in the module (child process with --expose-gc)', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', 'session-backstop-child.js'), fixture().modulePath], {
      encoding: 'utf8',
    });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ before: 1, after: 0, rvName: 'CKR_SESSION_HANDLE_INVALID' });
  });
});

describe('raw: a getter that closes the module while arguments are read', () => {
  test('sync throws and async rejects the same state error; nothing is called', async () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { PKCS11, CKM_SHA256 } = require('../lib/raw') as typeof import('../lib/raw');
    for (const async of [false, true]) {
      const m = new PKCS11();
      m.load(fixture().modulePath);
      m.C_Initialize();
      const s = m.C_OpenSession(m.C_GetSlotList(true)[0]);
      const mech = {
        get mechanism() {
          m.close();
          return CKM_SHA256;
        },
      };
      const call = () => (async ? m.C_DigestInitAsync(s, mech) : m.C_DigestInit(s, mech));
      const err = await Promise.resolve()
        .then(call)
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toMatchObject({ code: 'ERR_P11_STATE', message: expect.stringContaining('closed while the arguments were read') });
    }
  });
});

describe('vendor error tables', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const lib = require('../lib/index') as typeof import('../lib/index');

  test('the Rutoken table names CKR_VENDOR_DEFINED + 1 … + 11 and is chosen by manufacturer ID', () => {
    expect(lib.vendorErrorTableFor('Aktiv Co.')).toBe(lib.RUTOKEN_ERRORS);
    expect(lib.vendorErrorTableFor('SoftHSM')).toBeUndefined();
    expect(lib.vendorErrorTable('rutoken')).toBe(lib.RUTOKEN_ERRORS);
    const names = Object.keys(lib.RUTOKEN_ERRORS.codes).map((k) => {
      const e = lib.applyVendorErrors(lib.createPkcs11Error(0x80000000 + Number(k), 'C_Login'), lib.RUTOKEN_ERRORS) as InstanceType<typeof lib.VendorPkcs11Error>;
      expect(e).toBeInstanceOf(lib.VendorPkcs11Error);
      expect(e).toBeInstanceOf(lib.VendorDefinedError);
      expect(e).toBeInstanceOf(lib.Pkcs11Error);
      expect(e.vendor).toBe('rutoken');
      expect(e.message).toBe(`C_Login failed: ${e.rvName} (0x${(0x80000000 + Number(k)).toString(16).toUpperCase()})`);
      return e.rvName;
    });
    expect(names).toEqual([
      'CKR_CORRUPTED_MAPFILE',
      'CKR_WRONG_VERSION_FIELD',
      'CKR_WRONG_PKCS1_ENCODING',
      'CKR_RTPKCS11_DATA_CORRUPTED',
      'CKR_RTPKCS11_RSF_DATA_CORRUPTED',
      'CKR_SM_PASSWORD_INVALID',
      'CKR_LICENSE_READ_ONLY',
      'CKR_VENDOR_EMITENT_KEY_BLOCKED',
      'CKR_CERT_CHAIN_NOT_VERIFIED',
      'CKR_INAPPROPRIATE_PIN',
      'CKR_PIN_IN_HISTORY',
    ]);
    // Codes outside the table and non-vendor errors pass through unchanged.
    const other = lib.createPkcs11Error(0x8000000c, 'C_Login');
    expect(lib.applyVendorErrors(other, lib.RUTOKEN_ERRORS)).toBe(other);
    const pin = lib.createPkcs11Error(0xa0, 'C_Login');
    expect(lib.applyVendorErrors(pin, lib.RUTOKEN_ERRORS)).toBe(pin);
  });

  test('registered tables; Module.open picks one explicitly, by manufacturer, or none', async () => {
    lib.registerVendorErrors({ name: 'softhsm-test', manufacturer: /^SoftHSM$/, codes: { 1: 'CKR_TEST_ONE' } });
    const auto = await Module.open(fixture().modulePath);
    expect(auto.vendorErrors?.name).toBe('softhsm-test');
    const err = lib.applyVendorErrors(lib.createPkcs11Error(0x80000001, 'C_Sign'), auto.vendorErrors) as { rvName: string };
    expect(err.rvName).toBe('CKR_TEST_ONE');
    await auto.close();
    const explicit = await Module.open(fixture().modulePath, { vendorErrors: 'rutoken' });
    expect(explicit.vendorErrors).toBe(lib.RUTOKEN_ERRORS);
    await explicit.close();
    const none = await Module.open(fixture().modulePath, { vendorErrors: false });
    expect(none.vendorErrors).toBeUndefined();
    await none.close();
    await expect(Module.open(fixture().modulePath, { vendorErrors: 'nope' })).rejects.toThrow(RangeError);
  });
});
