// Slot and token management against the run's SoftHSM fixture: lists and infos, token
// initialization (the free slot and p11bridge-admin), C_InitPIN, C_SetPIN and PIN errors.
import { openSoftHSM } from './helpers/softhsm';
import type { TokenName } from './helpers/softhsm';
import { thrown, rejection, expectPkcs11, expectBoth } from './helpers/p11-expect';
import {
  CK_UNAVAILABLE_INFORMATION,
  CK_EFFECTIVELY_INFINITE,
  CKA_CLASS,
  CKA_LABEL,
  CKA_PRIVATE,
  CKA_TOKEN,
  CKF_DECRYPT,
  CKF_DIGEST,
  CKF_ENCRYPT,
  CKF_GENERATE_KEY_PAIR,
  CKF_LOGIN_REQUIRED,
  CKF_REMOVABLE_DEVICE,
  CKF_RESTORE_KEY_NOT_NEEDED,
  CKF_RNG,
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKF_SIGN,
  CKF_TOKEN_INITIALIZED,
  CKF_TOKEN_PRESENT,
  CKF_USER_PIN_COUNT_LOW,
  CKF_USER_PIN_INITIALIZED,
  CKF_VERIFY,
  CKM_AES_CBC,
  CKM_AES_KEY_GEN,
  CKM_EC_KEY_PAIR_GEN,
  CKM_ECDSA,
  CKM_RSA_PKCS,
  CKM_RSA_PKCS_KEY_PAIR_GEN,
  CKM_SHA256,
  CKO_DATA,
  CKR_PIN_INCORRECT,
  CKS_RW_SO_FUNCTIONS,
  CKS_RW_USER_FUNCTIONS,
  CKU_SO,
  CKU_USER,
  Pkcs11Error,
} from '../lib/raw';
import type { TokenInfo, Ulong } from '../lib/raw';

const RW = CKF_SERIAL_SESSION | CKF_RW_SESSION;
const FIXTURE_LABELS: TokenName[] = ['p11bridge-a', 'p11bridge-b', 'p11bridge-admin', 'p11bridge-workers'];

/** TokenInfo without the clock, which may tick between two reads. */
function stable(t: TokenInfo): Omit<TokenInfo, 'utcTime'> {
  const { utcTime: _ignored, ...rest } = t;
  return rest;
}

describe('slot and token management on SoftHSM', () => {
  const env = openSoftHSM();
  const mod = env.mod;
  const admin = env.pinOf('p11bridge-admin');
  afterAll(() => env.close());

  /** The one slot whose token is not initialized (SoftHSM always keeps exactly one). */
  function freeSlots(): Ulong[] {
    return mod.C_GetSlotList(false).filter((s) => (Number(mod.C_GetTokenInfo(s).flags) & CKF_TOKEN_INITIALIZED) === 0);
  }

  describe('slot and token information', () => {
    test('C_GetSlotList(false) lists every fixture token plus one free slot, sync and async', async () => {
      const all = mod.C_GetSlotList(false);
      const labels = all.map((s) => mod.C_GetTokenInfo(s).label);
      for (const l of FIXTURE_LABELS) expect(labels).toContain(l);
      for (const s of all) expect(typeof s).toBe('number');
      expect(new Set(all).size).toBe(all.length);
      const free = freeSlots();
      expect(free).toHaveLength(1);
      expect(labels[all.indexOf(free[0])]).toBe('');
      await expect(mod.C_GetSlotListAsync(false)).resolves.toEqual(all);
      // Omitted tokenPresent means false.
      expect(mod.C_GetSlotList()).toEqual(all);
    });

    test('C_GetSlotList(true): SoftHSM reports its free slot as holding a (blank) token, so it is listed too', async () => {
      const all = mod.C_GetSlotList(false);
      const present = mod.C_GetSlotList(true);
      expect(present).toEqual(all);
      expect(present).toContain(freeSlots()[0]);
      await expect(mod.C_GetSlotListAsync(true)).resolves.toEqual(present);
    });

    test('C_GetSlotInfo: flags are exactly CKF_TOKEN_PRESENT (not removable, not hardware), sync and async', async () => {
      for (const s of mod.C_GetSlotList(false)) {
        const info = mod.C_GetSlotInfo(s);
        expect(info.flags).toBe(CKF_TOKEN_PRESENT);
        expect(Number(info.flags) & CKF_REMOVABLE_DEVICE).toBe(0);
        expect(info.manufacturerID).toBe('SoftHSM project');
        expect(info.slotDescription).toBe(`SoftHSM slot ID 0x${s.toString(16)}`);
        expect(info.hardwareVersion).toEqual({ major: 2, minor: 6 });
        await expect(mod.C_GetSlotInfoAsync(s)).resolves.toEqual(info);
      }
    });

    test('C_GetSlotInfo / C_GetTokenInfo on a slot that does not exist give CKR_SLOT_ID_INVALID', async () => {
      const bogus = 0x7ffffff0;
      expect(mod.C_GetSlotList(false)).not.toContain(bogus);
      await expectBoth(
        () => mod.C_GetSlotInfo(bogus),
        () => mod.C_GetSlotInfoAsync(bogus),
        'CKR_SLOT_ID_INVALID',
        'C_GetSlotInfo',
        0x3,
      );
      await expectBoth(
        () => mod.C_GetTokenInfo(bogus),
        () => mod.C_GetTokenInfoAsync(bogus),
        'CKR_SLOT_ID_INVALID',
        'C_GetTokenInfo',
        0x3,
      );
    });

    test('C_GetTokenInfo of p11bridge-a: label, flags, and the counters SoftHSM leaves unavailable', async () => {
      const t = mod.C_GetTokenInfo(env.slot);
      expect(t.label).toBe('p11bridge-a');
      expect(t.manufacturerID).toBe('SoftHSM project');
      expect(t.model).toBe('SoftHSM v2');
      expect(t.serialNumber).toMatch(/^[0-9a-f]{16}$/);
      expect(t.flags).toBe(CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_RESTORE_KEY_NOT_NEEDED | CKF_TOKEN_INITIALIZED);
      // CK_UNAVAILABLE_INFORMATION is ~0 at 64 bits: a bigint, never a rounded number.
      expect(typeof CK_UNAVAILABLE_INFORMATION).toBe('bigint');
      expect(CK_UNAVAILABLE_INFORMATION).toBe(2n ** 64n - 1n);
      for (const k of ['sessionCount', 'rwSessionCount', 'totalPublicMemory', 'freePublicMemory', 'totalPrivateMemory', 'freePrivateMemory'] as const) {
        expect(t[k]).toBe(CK_UNAVAILABLE_INFORMATION);
      }
      // The maxima are reported as "effectively infinite" (0), the PIN bounds as real numbers.
      expect(t.maxSessionCount).toBe(CK_EFFECTIVELY_INFINITE);
      expect(t.maxRwSessionCount).toBe(CK_EFFECTIVELY_INFINITE);
      expect(t.minPinLen).toBe(4);
      expect(t.maxPinLen).toBe(255);
      expect(t.hardwareVersion).toEqual({ major: 2, minor: 6 });
      expect(t.utcTime).toMatch(/^\d{14}00$/);
      const a = await mod.C_GetTokenInfoAsync(env.slot);
      expect(stable(a)).toEqual(stable(t));
      // Every token's serial differs; labels match what the fixture initialized.
      const serials = mod.C_GetSlotList(false).map((s) => mod.C_GetTokenInfo(s).serialNumber);
      expect(new Set(serials).size).toBe(serials.length);
    });

    test('C_GetTokenInfo of the free slot: blank label, not initialized, no user PIN', async () => {
      const free = freeSlots()[0];
      const t = await mod.C_GetTokenInfoAsync(free);
      expect(t.label).toBe('');
      expect(Number(t.flags) & CKF_TOKEN_INITIALIZED).toBe(0);
      expect(Number(t.flags) & CKF_USER_PIN_INITIALIZED).toBe(0);
      expect(Number(t.flags) & CKF_RNG).toBe(CKF_RNG);
      expect(stable(mod.C_GetTokenInfo(free))).toEqual(stable(t));
    });

    test('C_GetMechanismList: RSA, ECDSA, AES and SHA-256 mechanisms, sync and async', async () => {
      const list = mod.C_GetMechanismList(env.slot);
      for (const m of [CKM_RSA_PKCS, CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_ECDSA, CKM_EC_KEY_PAIR_GEN, CKM_AES_CBC, CKM_AES_KEY_GEN, CKM_SHA256]) {
        expect(list).toContain(m);
      }
      expect(new Set(list).size).toBe(list.length);
      for (const m of list) expect(typeof m).toBe('number');
      await expect(mod.C_GetMechanismListAsync(env.slot)).resolves.toEqual(list);
    });

    test('C_GetMechanismInfo: key sizes and flags of RSA, ECDSA, AES-CBC, SHA-256, sync and async', async () => {
      const rsa = mod.C_GetMechanismInfo(env.slot, CKM_RSA_PKCS);
      expect(rsa.minKeySize).toBe(512);
      expect(rsa.maxKeySize).toBe(16384);
      const rf = Number(rsa.flags);
      for (const f of [CKF_SIGN, CKF_VERIFY, CKF_ENCRYPT, CKF_DECRYPT]) expect(rf & f).toBe(f);
      await expect(mod.C_GetMechanismInfoAsync(env.slot, CKM_RSA_PKCS)).resolves.toEqual(rsa);

      const ec = await mod.C_GetMechanismInfoAsync(env.slot, CKM_ECDSA);
      expect(ec.minKeySize).toBe(112);
      expect(ec.maxKeySize).toBe(521);
      expect(Number(ec.flags) & (CKF_SIGN | CKF_VERIFY)).toBe(CKF_SIGN | CKF_VERIFY);
      expect(Number(ec.flags) & CKF_ENCRYPT).toBe(0);

      const aes = mod.C_GetMechanismInfo(env.slot, CKM_AES_CBC);
      expect(aes).toMatchObject({ minKeySize: 16, maxKeySize: 32 });
      expect(Number(aes.flags) & (CKF_ENCRYPT | CKF_DECRYPT)).toBe(CKF_ENCRYPT | CKF_DECRYPT);
      expect(Number(aes.flags) & CKF_SIGN).toBe(0);

      expect(mod.C_GetMechanismInfo(env.slot, CKM_SHA256)).toEqual({ minKeySize: 0, maxKeySize: 0, flags: CKF_DIGEST });
      expect(Number(mod.C_GetMechanismInfo(env.slot, CKM_EC_KEY_PAIR_GEN).flags) & CKF_GENERATE_KEY_PAIR).toBe(CKF_GENERATE_KEY_PAIR);
    });

    test('C_GetMechanismInfo of a mechanism SoftHSM lacks gives CKR_MECHANISM_INVALID', async () => {
      const nope = 0x7ffffff0;
      expect(mod.C_GetMechanismList(env.slot)).not.toContain(nope);
      await expectBoth(
        () => mod.C_GetMechanismInfo(env.slot, nope),
        () => mod.C_GetMechanismInfoAsync(env.slot, nope),
        'CKR_MECHANISM_INVALID',
        'C_GetMechanismInfo',
        0x70,
      );
    });
  });

  describe('C_InitToken', () => {
    test('a label longer than 32 bytes of UTF-8 is a RangeError, sync and async, before the module is called', async () => {
      const free = freeSlots()[0];
      expect(() => mod.C_InitToken(free, '12345678', 'x'.repeat(33))).toThrow(RangeError);
      // 17 × 'é' is 17 characters but 34 bytes.
      expect(() => mod.C_InitToken(free, '12345678', 'é'.repeat(17))).toThrow(RangeError);
      await expect(mod.C_InitTokenAsync(free, '12345678', 'y'.repeat(40))).rejects.toThrow(RangeError);
      // Nothing happened to the free slot.
      expect(Number(mod.C_GetTokenInfo(free).flags) & CKF_TOKEN_INITIALIZED).toBe(0);
    });

    test('async on the free slot creates a token (32-byte UTF-8 label); a new free slot appears, the new token changes slot ID after re-initializing', async () => {
      const before = mod.C_GetSlotList(false);
      const free = freeSlots()[0];
      const suffix = Date.now().toString(36).slice(-6);
      // 'p11-jéton-' is 11 bytes; pad with ASCII to exactly 32 bytes.
      let label = `p11-jéton-${suffix}-`;
      label += 'z'.repeat(32 - Buffer.byteLength(label));
      expect(Buffer.byteLength(label)).toBe(32);
      const soPin = Buffer.from('55556666');

      await mod.C_InitTokenAsync(free, soPin, label);

      // Right away: the token is on the same slot ID, and SoftHSM has added a new free slot.
      const t = mod.C_GetTokenInfo(free);
      expect(t.label).toBe(label);
      expect(Number(t.flags) & CKF_TOKEN_INITIALIZED).toBe(CKF_TOKEN_INITIALIZED);
      expect(Number(t.flags) & CKF_USER_PIN_INITIALIZED).toBe(0);
      const after = mod.C_GetSlotList(false);
      expect(after).toHaveLength(before.length + 1);
      for (const s of before) expect(after).toContain(s);
      const newFree = freeSlots();
      expect(newFree).toHaveLength(1);
      expect(newFree[0]).not.toBe(free);

      // The SO PIN given as a Buffer is the token's SO PIN.
      const h = mod.C_OpenSession(free, RW);
      mod.C_Login(h, CKU_SO, '55556666');
      expect(mod.C_GetSessionInfo(h).state).toBe(CKS_RW_SO_FUNCTIONS);
      mod.C_CloseSession(h);

      // After C_Finalize + C_Initialize SoftHSM lists the token under its serial-derived slot ID.
      await mod.C_FinalizeAsync();
      await mod.C_InitializeAsync();
      const relisted = mod.C_GetSlotList(false);
      const byLabel = relisted.filter((s) => mod.C_GetTokenInfo(s).label === label);
      expect(byLabel).toHaveLength(1);
      expect(byLabel[0]).not.toBe(free);
      expect(relisted).not.toContain(free);
      expect(mod.C_GetTokenInfo(byLabel[0]).serialNumber).toBe(t.serialNumber);
      // The fixture tokens keep their slot IDs.
      for (const l of FIXTURE_LABELS) expect(relisted.find((s) => mod.C_GetTokenInfo(s).label === l)).toBe(env.slotOf(l));
      expect(freeSlots()).toHaveLength(1);
    });

    test('re-initializing p11bridge-admin: refused with a session open or a wrong SO PIN; sync with its SO PIN erases its objects and user PIN', async () => {
      const slot = env.slotOf('p11bridge-admin');
      // A public token object that re-initialization must erase.
      const h = mod.C_OpenSession(slot, RW);
      mod.C_Login(h, CKU_USER, admin.userPin);
      const marker = `admin-marker-${process.pid}`;
      const obj = mod.C_CreateObject(h, [
        { type: CKA_CLASS, value: CKO_DATA },
        { type: CKA_TOKEN, value: true },
        { type: CKA_PRIVATE, value: false },
        { type: CKA_LABEL, value: marker },
      ]);
      expect(typeof obj).toBe('number');

      await expectBoth(
        () => mod.C_InitToken(slot, admin.soPin, 'p11bridge-admin'),
        () => mod.C_InitTokenAsync(slot, admin.soPin, 'p11bridge-admin'),
        'CKR_SESSION_EXISTS',
        'C_InitToken',
        0xb6,
      );
      mod.C_CloseSession(h);

      const wrongSo = '90817263';
      const e = expectPkcs11(
        thrown(() => mod.C_InitToken(slot, wrongSo, 'p11bridge-admin')),
        'CKR_PIN_INCORRECT',
        'C_InitToken',
        CKR_PIN_INCORRECT,
      );
      expect(e.message).not.toContain(wrongSo);

      mod.C_InitToken(slot, admin.soPin, 'p11bridge-admin');
      const t = mod.C_GetTokenInfo(slot);
      expect(t.label).toBe('p11bridge-admin');
      expect(Number(t.flags) & CKF_TOKEN_INITIALIZED).toBe(CKF_TOKEN_INITIALIZED);
      expect(Number(t.flags) & CKF_USER_PIN_INITIALIZED).toBe(0);

      const s = mod.C_OpenSession(slot);
      mod.C_FindObjectsInit(s, [{ type: CKA_LABEL, value: marker }]);
      expect(mod.C_FindObjects(s)).toEqual([]);
      mod.C_FindObjectsFinal(s);
      // No user PIN any more.
      expectPkcs11(
        thrown(() => mod.C_Login(s, CKU_USER, admin.userPin)),
        'CKR_USER_PIN_NOT_INITIALIZED',
        'C_Login',
      );
      mod.C_CloseSession(s);
    });
  });

  describe('PINs on p11bridge-admin', () => {
    const slot = (): Ulong => env.slotOf('p11bridge-admin');

    test('C_InitPIN needs an SO session (CKR_USER_NOT_LOGGED_IN otherwise); sync and async set the user PIN', async () => {
      const h = mod.C_OpenSession(slot(), RW);
      await expectBoth(
        () => mod.C_InitPIN(h, '2468'),
        () => mod.C_InitPINAsync(h, '2468'),
        'CKR_USER_NOT_LOGGED_IN',
        'C_InitPIN',
        0x101,
      );

      mod.C_Login(h, CKU_SO, admin.soPin);
      expect(mod.C_GetSessionInfo(h).state).toBe(CKS_RW_SO_FUNCTIONS);
      mod.C_InitPIN(h, '2468');
      expect(Number(mod.C_GetTokenInfo(slot()).flags) & CKF_USER_PIN_INITIALIZED).toBe(CKF_USER_PIN_INITIALIZED);
      // The async form, with the PIN as bytes, resets it to the fixture's PIN.
      await mod.C_InitPINAsync(h, Buffer.from(admin.userPin));
      mod.C_Logout(h);

      expectPkcs11(
        thrown(() => mod.C_Login(h, CKU_USER, '2468')),
        'CKR_PIN_INCORRECT',
        'C_Login',
        0xa0,
      );
      mod.C_Login(h, CKU_USER, admin.userPin);
      expect(mod.C_GetSessionInfo(h).state).toBe(CKS_RW_USER_FUNCTIONS);
      mod.C_Logout(h);
      mod.C_CloseSession(h);
    });

    test('C_SetPIN for the user: sync to a new PIN, async back (PINs as string and Buffer)', async () => {
      const h = mod.C_OpenSession(slot(), RW);
      mod.C_Login(h, CKU_USER, admin.userPin);
      mod.C_SetPIN(h, admin.userPin, '97531');
      mod.C_Logout(h);
      expectPkcs11(
        thrown(() => mod.C_Login(h, CKU_USER, admin.userPin)),
        'CKR_PIN_INCORRECT',
        'C_Login',
      );
      mod.C_Login(h, CKU_USER, Buffer.from('97531'));
      // A wrong old PIN is refused and changes nothing.
      await expect(mod.C_SetPINAsync(h, 'not-it', admin.userPin)).rejects.toMatchObject({ rvName: 'CKR_PIN_INCORRECT', function: 'C_SetPIN' });
      await mod.C_SetPINAsync(h, Buffer.from('97531'), admin.userPin);
      mod.C_Logout(h);
      mod.C_Login(h, CKU_USER, admin.userPin);
      mod.C_Logout(h);
      mod.C_CloseSession(h);
    });

    test('C_SetPIN for the SO: async to a new PIN, sync back', async () => {
      const h = mod.C_OpenSession(slot(), RW);
      mod.C_Login(h, CKU_SO, admin.soPin);
      await mod.C_SetPINAsync(h, admin.soPin, '13572468');
      mod.C_Logout(h);
      await expect(mod.C_LoginAsync(h, CKU_SO, admin.soPin)).rejects.toMatchObject({ rvName: 'CKR_PIN_INCORRECT' });
      mod.C_Login(h, CKU_SO, '13572468');
      mod.C_SetPIN(h, Buffer.from('13572468'), Buffer.from(admin.soPin));
      mod.C_Logout(h);
      mod.C_Login(h, CKU_SO, admin.soPin);
      mod.C_Logout(h);
      mod.C_CloseSession(h);
    });

    test('a wrong PIN: Pkcs11Error CKR_PIN_INCORRECT (0xA0) from C_Login whose message never contains the PIN, sync and async', async () => {
      const h = mod.C_OpenSession(slot(), RW);
      const wrong = '73914826';
      const e = expectPkcs11(
        thrown(() => mod.C_Login(h, CKU_USER, wrong)),
        'CKR_PIN_INCORRECT',
        'C_Login',
        0xa0,
      );
      expect(e.rv).toBe(CKR_PIN_INCORRECT);
      expect(e.message).toBe('C_Login failed: CKR_PIN_INCORRECT (0xA0)');
      expect(e.message).not.toContain(wrong);
      expect(String(e.stack)).not.toContain(wrong);
      expect(e.detail).toBeUndefined();

      const wrongBytes = Buffer.from('86420135');
      const a = expectPkcs11(await rejection(mod.C_LoginAsync(h, CKU_USER, wrongBytes)), 'CKR_PIN_INCORRECT', 'C_Login', 0xa0);
      expect(a).toBeInstanceOf(Pkcs11Error);
      expect(a.message).not.toContain('86420135');
      // SoftHSM flags the failed attempts; a good login clears the flag.
      expect(Number(mod.C_GetTokenInfo(slot()).flags) & CKF_USER_PIN_COUNT_LOW).toBe(CKF_USER_PIN_COUNT_LOW);
      await mod.C_LoginAsync(h, CKU_USER, Buffer.from(admin.userPin));
      expect(Number(mod.C_GetTokenInfo(slot()).flags) & CKF_USER_PIN_COUNT_LOW).toBe(0);
      mod.C_Logout(h);
      mod.C_CloseSession(h);
    });
  });
});
