import { openSoftHSM } from './helpers/softhsm';
import { PKCS11, Pkcs11Error, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_CRYPTOKI_ALREADY_INITIALIZED, CKF_DONT_BLOCK } from '../lib/raw';

describe('general-purpose functions on SoftHSM', () => {
  const env = openSoftHSM();
  afterAll(() => env.close());

  test('C_GetInfo sync and async', async () => {
    const info = env.mod.C_GetInfo();
    expect(info.manufacturerID).toBe('SoftHSM');
    expect(info.cryptokiVersion).toEqual({ major: 2, minor: 40 });
    await expect(env.mod.C_GetInfoAsync()).resolves.toEqual(info);
  });

  test('C_GetFunctionList sync and async', async () => {
    const fl = env.mod.C_GetFunctionList();
    expect(fl.version.major).toBe(2);
    expect(fl.functions).toHaveLength(68);
    expect(fl.functions).toContain('C_WaitForSlotEvent');
    await expect(env.mod.C_GetFunctionListAsync()).resolves.toEqual(fl);
  });

  test('moduleInfo and has(): SoftHSM 2.6 is a 2.40 module reached through C_GetFunctionList', () => {
    const mi = env.mod.moduleInfo()!;
    expect(mi.interface).toBeNull();
    expect(mi.functionCount).toBe(68);
    expect(env.mod.has('C_Sign')).toBe(true);
    expect(env.mod.has('C_LoginUser')).toBe(false);
    expect(() => env.mod.has('C_Nope')).toThrow(RangeError);
  });

  test('C_WaitForSlotEvent: SoftHSM answers CKR_NO_EVENT with CKF_DONT_BLOCK (null), sync and async', async () => {
    expect(env.mod.C_WaitForSlotEvent(CKF_DONT_BLOCK)).toBeNull();
    await expect(env.mod.C_WaitForSlotEventAsync(CKF_DONT_BLOCK)).resolves.toBeNull();
  });

  test('C_Initialize twice on one object gives CKR_CRYPTOKI_ALREADY_INITIALIZED', async () => {
    expect(() => env.mod.C_Initialize()).toThrow(expect.objectContaining({ rvName: 'CKR_CRYPTOKI_ALREADY_INITIALIZED' }));
    await expect(env.mod.C_InitializeAsync()).rejects.toMatchObject({ rv: CKR_CRYPTOKI_ALREADY_INITIALIZED });
  });

  test('C_Initialize / C_Finalize async on a second object sharing the module', async () => {
    const m2 = new PKCS11();
    m2.load(env.fixture.modulePath);
    await m2.C_InitializeAsync();
    expect((await m2.C_GetInfoAsync()).manufacturerID).toBe('SoftHSM');
    await m2.C_FinalizeAsync();
    // Our finalize dropped only m2's share: the first object still works.
    expect(env.mod.C_GetInfo().manufacturerID).toBe('SoftHSM');
    const err = (() => {
      try {
        m2.C_GetInfo();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(Pkcs11Error);
    expect(err).toMatchObject({ rv: CKR_CRYPTOKI_NOT_INITIALIZED, rvName: 'CKR_CRYPTOKI_NOT_INITIALIZED', function: 'C_GetInfo' });
    m2.close();
  });
});
