// Session management against SoftHSM: open/close, session info and states, login/logout for the
// user and the SO, the operation-state and legacy parallel functions, concurrency of async calls
// across sessions, and C_CloseSession / C_CloseAllSessions waiting for work in flight.
import { createHash } from 'node:crypto';
import { openSoftHSM } from './helpers/softhsm';
import { thrown, rejection, expectPkcs11, expectBoth } from './helpers/p11-expect';
import {
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKM_SHA256,
  CKM_SHA512,
  CKR_FUNCTION_NOT_PARALLEL,
  CKR_FUNCTION_NOT_SUPPORTED,
  CKR_SESSION_HANDLE_INVALID,
  CKR_USER_ALREADY_LOGGED_IN,
  CKS_RO_PUBLIC_SESSION,
  CKS_RO_USER_FUNCTIONS,
  CKS_RW_PUBLIC_SESSION,
  CKS_RW_SO_FUNCTIONS,
  CKS_RW_USER_FUNCTIONS,
  CKU_SO,
  CKU_USER,
} from '../lib/raw';
import type { Ulong } from '../lib/raw';

const RW = CKF_SERIAL_SESSION | CKF_RW_SESSION;
const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

describe('session management on SoftHSM', () => {
  const env = openSoftHSM();
  const mod = env.mod;
  const b = env.pinOf('p11bridge-b');
  // Sessions for the concurrency and close-all tests: C_CloseAllSessions only reaches this process's sessions.
  const spare = env.slot2;
  afterAll(() => env.close());

  function expectClosed(h: Ulong): void {
    expectPkcs11(
      thrown(() => mod.C_GetSessionInfo(h)),
      'CKR_SESSION_HANDLE_INVALID',
      'C_GetSessionInfo',
      CKR_SESSION_HANDLE_INVALID,
    );
  }

  describe('open, close, info', () => {
    test('C_OpenSession with default flags opens a read-only serial session (CKS_RO_PUBLIC_SESSION)', () => {
      const h = mod.C_OpenSession(env.slot);
      expect(typeof h).toBe('number');
      expect(mod.C_GetSessionInfo(h)).toEqual({ slotID: env.slot, state: CKS_RO_PUBLIC_SESSION, flags: CKF_SERIAL_SESSION, deviceError: 0 });
      mod.C_CloseSession(h);
      expectClosed(h);
    });

    test('C_OpenSessionAsync read-write (CKS_RW_PUBLIC_SESSION), C_GetSessionInfoAsync, C_CloseSessionAsync', async () => {
      const h = await mod.C_OpenSessionAsync(env.slot, RW);
      const info = await mod.C_GetSessionInfoAsync(h);
      expect(info).toEqual({ slotID: env.slot, state: CKS_RW_PUBLIC_SESSION, flags: RW, deviceError: 0 });
      expect(mod.C_GetSessionInfo(h)).toEqual(info);
      // Distinct handles for distinct sessions.
      const h2 = await mod.C_OpenSessionAsync(env.slot);
      expect(h2).not.toBe(h);
      expect((await mod.C_GetSessionInfoAsync(h2)).state).toBe(CKS_RO_PUBLIC_SESSION);
      await mod.C_CloseSessionAsync(h);
      await mod.C_CloseSessionAsync(h2);
      await expect(mod.C_GetSessionInfoAsync(h)).rejects.toMatchObject({ rvName: 'CKR_SESSION_HANDLE_INVALID', function: 'C_GetSessionInfo' });
      expectClosed(h2);
    });

    test('C_OpenSession without CKF_SERIAL_SESSION: CKR_SESSION_PARALLEL_NOT_SUPPORTED; unknown slot: CKR_SLOT_ID_INVALID', async () => {
      await expectBoth(
        () => mod.C_OpenSession(env.slot, CKF_RW_SESSION),
        () => mod.C_OpenSessionAsync(env.slot, CKF_RW_SESSION),
        'CKR_SESSION_PARALLEL_NOT_SUPPORTED',
        'C_OpenSession',
        0xb4,
      );
      await expectBoth(
        () => mod.C_OpenSession(0x7ffffff0),
        () => mod.C_OpenSessionAsync(0x7ffffff0),
        'CKR_SLOT_ID_INVALID',
        'C_OpenSession',
        0x3,
      );
    });

    test('a closed or made-up session handle gives CKR_SESSION_HANDLE_INVALID, sync and async', async () => {
      const h = mod.C_OpenSession(env.slot);
      mod.C_CloseSession(h);
      await expectBoth(
        () => mod.C_GetSessionInfo(h),
        () => mod.C_GetSessionInfoAsync(h),
        'CKR_SESSION_HANDLE_INVALID',
        'C_GetSessionInfo',
        0xb3,
      );
      await expectBoth(
        () => mod.C_CloseSession(h),
        () => mod.C_CloseSessionAsync(h),
        'CKR_SESSION_HANDLE_INVALID',
        'C_CloseSession',
        0xb3,
      );
      await expectBoth(
        () => mod.C_Login(h, CKU_USER, '1234'),
        () => mod.C_LoginAsync(h, CKU_USER, '1234'),
        'CKR_SESSION_HANDLE_INVALID',
        'C_Login',
        0xb3,
      );
      await expectBoth(
        () => mod.C_GenerateRandom(h, 8),
        () => mod.C_GenerateRandomAsync(h, 8),
        'CKR_SESSION_HANDLE_INVALID',
        'C_GenerateRandom',
      );
      // Full-width handles travel as bigints.
      const big = 2n ** 63n + 5n;
      await expectBoth(
        () => mod.C_GetSessionInfo(big),
        () => mod.C_GetSessionInfoAsync(big),
        'CKR_SESSION_HANDLE_INVALID',
        'C_GetSessionInfo',
      );
      await expectBoth(
        () => mod.C_GetSessionInfo(0),
        () => mod.C_GetSessionInfoAsync(0),
        'CKR_SESSION_HANDLE_INVALID',
        'C_GetSessionInfo',
      );
    });

    test('C_CloseAllSessions (sync) closes every session of that slot only', () => {
      const mine = [mod.C_OpenSession(spare), mod.C_OpenSession(spare, RW), mod.C_OpenSession(spare)];
      const other = mod.C_OpenSession(env.slot);
      mod.C_CloseAllSessions(spare);
      for (const h of mine) expectClosed(h);
      expect(mod.C_GetSessionInfo(other).slotID).toBe(env.slot);
      mod.C_CloseSession(other);
      // A slot without sessions is fine too.
      mod.C_CloseAllSessions(spare);
    });

    test('C_CloseAllSessionsAsync closes every session of the slot and logs the token out', async () => {
      const wp = b;
      const hs = await Promise.all([mod.C_OpenSessionAsync(spare, RW), mod.C_OpenSessionAsync(spare, RW)]);
      await mod.C_LoginAsync(hs[0], CKU_USER, wp.userPin);
      expect(mod.C_GetSessionInfo(hs[1]).state).toBe(CKS_RW_USER_FUNCTIONS);
      await mod.C_CloseAllSessionsAsync(spare);
      for (const h of hs) await expect(mod.C_GetSessionInfoAsync(h)).rejects.toMatchObject({ rvName: 'CKR_SESSION_HANDLE_INVALID' });
      // The login ended with the last session: a new session is public.
      const h = mod.C_OpenSession(spare, RW);
      expect(mod.C_GetSessionInfo(h).state).toBe(CKS_RW_PUBLIC_SESSION);
      mod.C_CloseSession(h);
      await expectBoth(
        () => mod.C_CloseAllSessions(0x7ffffff0),
        () => mod.C_CloseAllSessionsAsync(0x7ffffff0),
        'CKR_SLOT_ID_INVALID',
        'C_CloseAllSessions',
      );
    });
  });

  test('this jest worker has a token directory of its own (SoftHSM fails logins racing another process)', () => {
    const conf = process.env.SOFTHSM2_CONF!;
    expect(conf).toMatch(new RegExp(`worker-${process.env.JEST_WORKER_ID ?? '1'}/softhsm2\\.conf$`));
    expect(process.env.P11BRIDGE_FIXTURE).toBe(conf.replace(/softhsm2\.conf$/, 'fixture.json'));
  });

  describe('login and logout (p11bridge-b)', () => {
    const slot = (): Ulong => env.slot2;

    test('user login (sync) is token-wide: RO and RW sessions change state; twice gives CKR_USER_ALREADY_LOGGED_IN; logout (sync), a second logout is CKR_OK', async () => {
      const ro = mod.C_OpenSession(slot());
      const rw = mod.C_OpenSession(slot(), RW);
      mod.C_Login(ro, CKU_USER, b.userPin);
      expect(mod.C_GetSessionInfo(ro).state).toBe(CKS_RO_USER_FUNCTIONS);
      expect(mod.C_GetSessionInfo(rw).state).toBe(CKS_RW_USER_FUNCTIONS);
      await expectBoth(
        () => mod.C_Login(rw, CKU_USER, b.userPin),
        () => mod.C_LoginAsync(rw, CKU_USER, b.userPin),
        'CKR_USER_ALREADY_LOGGED_IN',
        'C_Login',
        CKR_USER_ALREADY_LOGGED_IN,
      );
      mod.C_Logout(rw);
      expect(mod.C_GetSessionInfo(ro).state).toBe(CKS_RO_PUBLIC_SESSION);
      expect(mod.C_GetSessionInfo(rw).state).toBe(CKS_RW_PUBLIC_SESSION);
      // SoftHSM answers CKR_OK (not CKR_USER_NOT_LOGGED_IN) to a logout with nobody logged in.
      expect(mod.C_Logout(ro)).toBeUndefined();
      await expect(mod.C_LogoutAsync(ro)).resolves.toBeUndefined();
      expect(mod.C_GetSessionInfo(ro).state).toBe(CKS_RO_PUBLIC_SESSION);
      mod.C_CloseSession(ro);
      mod.C_CloseSession(rw);
    });

    test('user login and logout async, PIN as a Buffer', async () => {
      const h = await mod.C_OpenSessionAsync(slot(), RW);
      await mod.C_LoginAsync(h, CKU_USER, Buffer.from(b.userPin));
      expect((await mod.C_GetSessionInfoAsync(h)).state).toBe(CKS_RW_USER_FUNCTIONS);
      await mod.C_LogoutAsync(h);
      expect((await mod.C_GetSessionInfoAsync(h)).state).toBe(CKS_RW_PUBLIC_SESSION);
      await mod.C_CloseSessionAsync(h);
    });

    test('SO login: refused while a read-only session exists, then CKS_RW_SO_FUNCTIONS; user login meanwhile refused; async and sync', async () => {
      const ro = mod.C_OpenSession(slot());
      const rw = mod.C_OpenSession(slot(), RW);
      await expectBoth(
        () => mod.C_Login(rw, CKU_SO, b.soPin),
        () => mod.C_LoginAsync(rw, CKU_SO, b.soPin),
        'CKR_SESSION_READ_ONLY_EXISTS',
        'C_Login',
        0xb7,
      );
      mod.C_CloseSession(ro);
      await mod.C_LoginAsync(rw, CKU_SO, b.soPin);
      expect(mod.C_GetSessionInfo(rw).state).toBe(CKS_RW_SO_FUNCTIONS);
      expectPkcs11(
        thrown(() => mod.C_Login(rw, CKU_SO, b.soPin)),
        'CKR_USER_ALREADY_LOGGED_IN',
        'C_Login',
        CKR_USER_ALREADY_LOGGED_IN,
      );
      expectPkcs11(
        thrown(() => mod.C_Login(rw, CKU_USER, b.userPin)),
        'CKR_USER_ANOTHER_ALREADY_LOGGED_IN',
        'C_Login',
        0x104,
      );
      // No read-only session may be opened while the SO is logged in.
      expectPkcs11(
        thrown(() => mod.C_OpenSession(slot())),
        'CKR_SESSION_READ_WRITE_SO_EXISTS',
        'C_OpenSession',
        0xb8,
      );
      await mod.C_LogoutAsync(rw);
      expect(mod.C_GetSessionInfo(rw).state).toBe(CKS_RW_PUBLIC_SESSION);
      // Sync SO login/logout.
      mod.C_Login(rw, CKU_SO, Buffer.from(b.soPin));
      expect(mod.C_GetSessionInfo(rw).state).toBe(CKS_RW_SO_FUNCTIONS);
      mod.C_Logout(rw);
      mod.C_CloseSession(rw);
    });

    test('an unknown user type gives CKR_USER_TYPE_INVALID', async () => {
      const h = mod.C_OpenSession(slot(), RW);
      await expectBoth(
        () => mod.C_Login(h, 0x7ff0, b.userPin),
        () => mod.C_LoginAsync(h, 0x7ff0, b.userPin),
        'CKR_USER_TYPE_INVALID',
        'C_Login',
        0x103,
      );
      mod.C_CloseSession(h);
    });
  });

  describe('functions SoftHSM does not support', () => {
    test('C_GetOperationState / C_SetOperationState: SoftHSM itself answers CKR_FUNCTION_NOT_SUPPORTED (0x54), sync and async', async () => {
      // The module exports both, so the code comes from SoftHSM, not from p11bridge's own check.
      expect(mod.has('C_GetOperationState')).toBe(true);
      expect(mod.has('C_SetOperationState')).toBe(true);
      const h = mod.C_OpenSession(env.slot);
      const get = expectPkcs11(
        thrown(() => mod.C_GetOperationState(h)),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_GetOperationState',
        CKR_FUNCTION_NOT_SUPPORTED,
      );
      expect(get.detail).toBeUndefined();
      expectPkcs11(await rejection(mod.C_GetOperationStateAsync(h)), 'CKR_FUNCTION_NOT_SUPPORTED', 'C_GetOperationState', CKR_FUNCTION_NOT_SUPPORTED);
      // Also with an operation active, and with a caller buffer; the digest is unharmed.
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      mod.C_DigestUpdate(h, Buffer.from('ab'));
      expectPkcs11(
        thrown(() => mod.C_GetOperationState(h, Buffer.alloc(1024))),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_GetOperationState',
      );
      const set = expectPkcs11(
        thrown(() => mod.C_SetOperationState(h, Buffer.from('00112233', 'hex'))),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_SetOperationState',
        CKR_FUNCTION_NOT_SUPPORTED,
      );
      expect(set.detail).toBeUndefined();
      expectPkcs11(await rejection(mod.C_SetOperationStateAsync(h, Buffer.alloc(16), 0, 0)), 'CKR_FUNCTION_NOT_SUPPORTED', 'C_SetOperationState', CKR_FUNCTION_NOT_SUPPORTED);
      mod.C_DigestUpdate(h, Buffer.from('c'));
      expect(mod.C_DigestFinal(h)).toEqual(sha256(Buffer.from('abc')));
      mod.C_CloseSession(h);
    });

    test('C_GetFunctionStatus / C_CancelFunction: CKR_FUNCTION_NOT_PARALLEL (0x51), sync and async', async () => {
      const h = mod.C_OpenSession(env.slot);
      await expectBoth(
        () => mod.C_GetFunctionStatus(h),
        () => mod.C_GetFunctionStatusAsync(h),
        'CKR_FUNCTION_NOT_PARALLEL',
        'C_GetFunctionStatus',
        CKR_FUNCTION_NOT_PARALLEL,
      );
      await expectBoth(
        () => mod.C_CancelFunction(h),
        () => mod.C_CancelFunctionAsync(h),
        'CKR_FUNCTION_NOT_PARALLEL',
        'C_CancelFunction',
        CKR_FUNCTION_NOT_PARALLEL,
      );
      mod.C_CloseSession(h);
    });
  });

  describe('async work across sessions', () => {
    test('8 sessions × C_GenerateRandomAsync in parallel: all succeed with the asked lengths', async () => {
      const hs = await Promise.all(Array.from({ length: 8 }, () => mod.C_OpenSessionAsync(spare)));
      const outs = await Promise.all(hs.flatMap((h, i) => [mod.C_GenerateRandomAsync(h, 32 + i), mod.C_GenerateRandomAsync(h, 1000 + i)]));
      outs.forEach((o, k) => {
        const i = Math.floor(k / 2);
        expect(Buffer.isBuffer(o)).toBe(true);
        expect(o.length).toBe(k % 2 === 0 ? 32 + i : 1000 + i);
      });
      // 32+ random bytes never repeat.
      expect(new Set(outs.map((o) => o.toString('hex'))).size).toBe(outs.length);
      await Promise.all(hs.map((h) => mod.C_CloseSessionAsync(h)));
    });

    test('8 sessions × C_DigestInitAsync + C_DigestAsync in parallel: every digest matches its own input', async () => {
      const hs = await Promise.all(Array.from({ length: 8 }, () => mod.C_OpenSessionAsync(spare)));
      const inputs = hs.map((_, i) => Buffer.alloc(200_000 + i * 1000, i + 1));
      const digests = await Promise.all(
        hs.map(async (h, i) => {
          await mod.C_DigestInitAsync(h, { mechanism: CKM_SHA256 });
          return mod.C_DigestAsync(h, inputs[i]);
        }),
      );
      digests.forEach((d, i) => expect(d).toEqual(sha256(inputs[i])));
      // Second round with sync inits and a different mechanism, all digests in flight at once.
      hs.forEach((h) => mod.C_DigestInit(h, { mechanism: CKM_SHA512 }));
      const d512 = await Promise.all(hs.map((h, i) => mod.C_DigestAsync(h, inputs[i])));
      d512.forEach((d, i) => expect(d).toEqual(createHash('sha512').update(inputs[i]).digest()));
      hs.forEach((h) => mod.C_CloseSession(h));
    });

    test('C_CloseSession (sync) waits for async work already queued on that session', async () => {
      const h = mod.C_OpenSession(spare);
      const big = Buffer.alloc(32 * 1024 * 1024, 0x5a);
      const expected = sha256(big);
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      const digest = mod.C_DigestAsync(h, big);
      const randoms = [mod.C_GenerateRandomAsync(h, 64), mod.C_GenerateRandomAsync(h, 128), mod.C_GenerateRandomAsync(h, 256)];
      mod.C_CloseSession(h);
      // Everything started before the close completed normally, not with CKR_SESSION_HANDLE_INVALID.
      expect(await digest).toEqual(expected);
      expect((await Promise.all(randoms)).map((r) => r.length)).toEqual([64, 128, 256]);
      expectClosed(h);
    });

    test('C_CloseSessionAsync waits for earlier async work on that session; later calls see the closed session', async () => {
      const h = await mod.C_OpenSessionAsync(spare);
      const big = Buffer.alloc(24 * 1024 * 1024, 0xa5);
      await mod.C_DigestInitAsync(h, { mechanism: CKM_SHA256 });
      const digest = mod.C_DigestAsync(h, big);
      const random = mod.C_GenerateRandomAsync(h, 48);
      const closed = mod.C_CloseSessionAsync(h);
      const [d, r] = await Promise.all([digest, random, closed]);
      expect(d).toEqual(sha256(big));
      expect(r.length).toBe(48);
      await expect(mod.C_GenerateRandomAsync(h, 8)).rejects.toMatchObject({ rvName: 'CKR_SESSION_HANDLE_INVALID', function: 'C_GenerateRandom' });
    });

    test('C_CloseAllSessions waits for async work in flight on the slot', async () => {
      const hs = [mod.C_OpenSession(spare), mod.C_OpenSession(spare)];
      const big = Buffer.alloc(16 * 1024 * 1024, 0x33);
      hs.forEach((h) => mod.C_DigestInit(h, { mechanism: CKM_SHA256 }));
      const digests = hs.map((h) => mod.C_DigestAsync(h, big));
      mod.C_CloseAllSessions(spare);
      const expected = sha256(big);
      for (const d of await Promise.all(digests)) expect(d).toEqual(expected);
      hs.forEach(expectClosed);
    });
  });
});
