// NSS softoken 3.87 (a PKCS#11 3.0 module reached through C_GetInterface) on real databases made
// by scripts/nss.js: initialization with library parameters, the interface functions, C_LoginUser,
// C_SessionCancel and every message-based function, sync and async. Every result is either
// cross-checked with node:crypto or asserted as the exact CKR NSS gives (including its quirks,
// which are marked as such). Softoken allows one database per process: the two describe blocks
// below run one after the other, each closing its module object before the next opens.
import * as crypto from 'node:crypto';
import {
  Pkcs11Error,
  params,
  CKF_DECRYPT,
  CKF_DIGEST,
  CKF_ENCRYPT,
  CKF_END_OF_MESSAGE,
  CKF_FIND_OBJECTS,
  CKF_INTERFACE_FORK_SAFE,
  CKF_LOGIN_REQUIRED,
  CKF_MESSAGE_DECRYPT,
  CKF_MESSAGE_ENCRYPT,
  CKF_MESSAGE_SIGN,
  CKF_MESSAGE_VERIFY,
  CKF_SIGN,
  CKF_VERIFY,
  CKG_GENERATE_COUNTER,
  CKG_GENERATE_RANDOM,
  CKM_AES_CBC,
  CKM_AES_CBC_PAD,
  CKM_AES_GCM,
  CKM_CHACHA20_POLY1305,
  CKM_SHA256,
  CKM_SHA256_HMAC,
  CKS_RW_PUBLIC_SESSION,
  CKS_RW_USER_FUNCTIONS,
  CKU_SO,
  CKU_USER,
} from '../lib/raw';
import type { InterfaceInfo, Ulong } from '../lib/raw';
import { openNss, NssEnv, aesKey, chachaKey, hmacKey, nodeGcmEncrypt, nodeGcmDecrypt, nodeChachaEncrypt } from './helpers/nss-env';
import { thrown, rejection, expectPkcs11, expectBoth } from './helpers/p11-expect';

const PKCS11_30: InterfaceInfo = { name: 'PKCS 11', version: { major: 3, minor: 0 }, flags: CKF_INTERFACE_FORK_SAFE };
const PKCS11_240: InterfaceInfo = { name: 'PKCS 11', version: { major: 2, minor: 40 }, flags: CKF_INTERFACE_FORK_SAFE };
const NSS_MODULE: InterfaceInfo = { name: 'Vendor NSS Module Interface', version: { major: 1, minor: 0 }, flags: CKF_INTERFACE_FORK_SAFE };
const NSS_FIPS: InterfaceInfo = { name: 'Vendor NSS FIPS Interface', version: { major: 1, minor: 0 }, flags: CKF_INTERFACE_FORK_SAFE };

/** The Pkcs11Error came from the module itself, not from the addon's "not provided" pre-check. */
function expectFromModule(e: unknown, rvName: string, fn: string): void {
  expectPkcs11(e, rvName, fn);
  expect((e as Pkcs11Error).detail).toBeUndefined();
}

async function expectBothFromModule(sync: () => unknown, async: () => Promise<unknown>, rvName: string, fn: string): Promise<void> {
  expectFromModule(thrown(sync), rvName, fn);
  expectFromModule(await rejection(async()), rvName, fn);
}

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest();

describe('NSS softoken, empty-password database', () => {
  let env: NssEnv;
  let preInit: {
    moduleInfo: ReturnType<NssEnv['mod']['moduleInfo']>;
    interfaces: InterfaceInfo[];
    interfacesAsync: InterfaceInfo[];
    getInterface: InterfaceInfo;
    getInfoError: unknown;
  };
  let s: Ulong;

  beforeAll(async () => {
    env = openNss({ initialize: false });
    preInit = {
      moduleInfo: env.mod.moduleInfo(),
      interfaces: env.mod.C_GetInterfaceList(),
      interfacesAsync: await env.mod.C_GetInterfaceListAsync(),
      getInterface: env.mod.C_GetInterface('PKCS 11', { major: 3, minor: 0 }),
      getInfoError: thrown(() => env.mod.C_GetInfo()),
    };
    env.mod.C_Initialize({ libraryParameters: env.db.libraryParameters });
    s = env.session();
  });
  afterAll(() => env?.close());

  describe('initialization with library parameters', () => {
    test('moduleInfo(): found through C_GetInterface as "PKCS 11" 3.0 with 92 functions', () => {
      const before = preInit.moduleInfo!;
      expect(before).toMatchObject({
        interface: 'PKCS 11',
        interfaceFlags: CKF_INTERFACE_FORK_SAFE,
        functionListVersion: { major: 3, minor: 0 },
        functionCount: 92,
        initialized: false,
      });
      expect(before.path).toMatch(/libsoftokn3\.(so|dylib)$/);
      expect(before.functions).toHaveLength(92);
      expect(before.functions).toContain('C_MessageVerifyFinal');
      expect(before.functions).not.toContain('C_EncapsulateKey');
      // The call threads are live counters (calls ran in between); everything else is unchanged.
      const after = env.mod.moduleInfo()!;
      expect({ ...after, threads: null }).toEqual({ ...before, initialized: true, threads: null });
      expect(after.threads).toMatchObject({ max: 64, core: expect.any(Number) });
    });

    test('before C_Initialize: C_GetInfo is CKR_CRYPTOKI_NOT_INITIALIZED, the interface functions already work', () => {
      expectPkcs11(preInit.getInfoError, 'CKR_CRYPTOKI_NOT_INITIALIZED', 'C_GetInfo');
      expect(preInit.interfaces).toEqual([PKCS11_30, PKCS11_240, NSS_MODULE, NSS_FIPS]);
      expect(preInit.interfacesAsync).toEqual(preInit.interfaces);
      expect(preInit.getInterface).toEqual(PKCS11_30);
    });

    test('C_GetInfo (sync and async): a 3.0 module, softoken 3.87', async () => {
      const info = env.mod.C_GetInfo();
      expect(info).toEqual({
        cryptokiVersion: { major: 3, minor: 0 },
        manufacturerID: 'Mozilla Foundation',
        flags: 0,
        libraryDescription: 'NSS Internal Crypto Services',
        libraryVersion: { major: 3, minor: 87 },
      });
      await expect(env.mod.C_GetInfoAsync()).resolves.toEqual(info);
    });

    test('the library parameters opened the database: slot 1 crypto services, slot 2 the (empty-password) database token', async () => {
      expect(env.mod.C_GetSlotList(true)).toEqual([1, 2]);
      await expect(env.mod.C_GetSlotListAsync(false)).resolves.toEqual([1, 2]);
      expect(env.mod.C_GetSlotInfo(1).slotDescription).toBe('NSS Internal Cryptographic Services');
      expect(env.mod.C_GetSlotInfo(2).slotDescription).toBe('NSS User Private Key and Certificate Services');
      expect(env.mod.C_GetTokenInfo(1).label).toBe('NSS Generic Crypto Services');
      const db = env.mod.C_GetTokenInfo(env.slot);
      expect(db.label).toBe('NSS Certificate DB');
      // An empty password: no login required.
      expect(Number(db.flags) & CKF_LOGIN_REQUIRED).toBe(0);
    });

    test('C_GetFunctionList: NSS hands out its 2.40 list there; the functions listed are the 92 of the 3.0 interface in use', () => {
      const fl = env.mod.C_GetFunctionList();
      expect(fl.version).toEqual({ major: 2, minor: 40 });
      expect(fl.functions).toEqual(env.mod.moduleInfo()!.functions);
    });

    test('a second C_Initialize on the same object: CKR_CRYPTOKI_ALREADY_INITIALIZED, sync and async', async () => {
      await expectBoth(
        () => env.mod.C_Initialize({ libraryParameters: env.db.libraryParameters }),
        () => env.mod.C_InitializeAsync({ libraryParameters: env.db.libraryParameters }),
        'CKR_CRYPTOKI_ALREADY_INITIALIZED',
        'C_Initialize',
      );
    });
  });

  describe('C_GetInterfaceList / C_GetInterface', () => {
    test('C_GetInterfaceList (sync and async): "PKCS 11" 3.0 and 2.40, then the two NSS vendor interfaces', async () => {
      const list = env.mod.C_GetInterfaceList();
      expect(list).toEqual([PKCS11_30, PKCS11_240, NSS_MODULE, NSS_FIPS]);
      await expect(env.mod.C_GetInterfaceListAsync()).resolves.toEqual(list);
    });

    const found: Array<[string, unknown[], InterfaceInfo]> = [
      ["'PKCS 11', 3.0", ['PKCS 11', { major: 3, minor: 0 }], PKCS11_30],
      ["'PKCS 11', 2.40", ['PKCS 11', { major: 2, minor: 40 }], PKCS11_240],
      ["'PKCS 11', null (the first one: 3.0)", ['PKCS 11', null], PKCS11_30],
      ['null, null (the default interface: 3.0)', [null, null], PKCS11_30],
      ['no arguments', [], PKCS11_30],
      ['undefined, undefined, undefined', [undefined, undefined, undefined], PKCS11_30],
      ["'Vendor NSS Module Interface'", ['Vendor NSS Module Interface', null], NSS_MODULE],
      ["'Vendor NSS FIPS Interface', 1.0", ['Vendor NSS FIPS Interface', { major: 1, minor: 0 }], NSS_FIPS],
      ['null, 2.40', [null, { major: 2, minor: 40 }], PKCS11_240],
      ["'PKCS 11', 3.0, CKF_INTERFACE_FORK_SAFE", ['PKCS 11', { major: 3, minor: 0 }, CKF_INTERFACE_FORK_SAFE], PKCS11_30],
      ['version as bigints', ['PKCS 11', { major: 3n, minor: 0n }], PKCS11_30],
    ];
    test.each(found)('C_GetInterface(%s) finds it, sync and async', async (_label, args, expected) => {
      const get = env.mod.C_GetInterface as (...a: unknown[]) => InterfaceInfo;
      const getAsync = env.mod.C_GetInterfaceAsync as (...a: unknown[]) => Promise<InterfaceInfo>;
      expect(get.apply(env.mod, args)).toEqual(expected);
      await expect(getAsync.apply(env.mod, args)).resolves.toEqual(expected);
    });

    const missing: Array<[string, unknown[]]> = [
      ['an unknown name', ['No Such Interface', null]],
      ['an empty name', ['', null]],
      ["'pkcs 11' (names are case-sensitive)", ['pkcs 11', null]],
      ["'PKCS 11', 3.2 (NSS 3.87 has no 3.2 list)", ['PKCS 11', { major: 3, minor: 2 }]],
      ["'PKCS 11', 3.1", ['PKCS 11', { major: 3, minor: 1 }]],
      ["'PKCS 11', 2.11", ['PKCS 11', { major: 2, minor: 11 }]],
      ['the NSS module interface as version 3.0', ['Vendor NSS Module Interface', { major: 3, minor: 0 }]],
      // NSS quirk: softoken tests `flags & ((iface.flags & flags) != flags)`, a bitwise AND with a
      // boolean, so only odd flag values are ever compared: 3 matches nothing while 2 (below)
      // matches everything.
      ['flags 3', ['PKCS 11', { major: 3, minor: 0 }, 3]],
    ];
    test.each(missing)('C_GetInterface(%s): CKR_ARGUMENTS_BAD from NSS, sync and async', async (_label, args) => {
      const get = env.mod.C_GetInterface as (...a: unknown[]) => InterfaceInfo;
      const getAsync = env.mod.C_GetInterfaceAsync as (...a: unknown[]) => Promise<InterfaceInfo>;
      await expectBothFromModule(
        () => get.apply(env.mod, args),
        () => getAsync.apply(env.mod, args),
        'CKR_ARGUMENTS_BAD',
        'C_GetInterface',
      );
    });

    test('NSS quirk: required flags 2 (not offered by any interface) still match "PKCS 11" 3.0', async () => {
      expect(env.mod.C_GetInterface('PKCS 11', { major: 3, minor: 0 }, 2)).toEqual(PKCS11_30);
      await expect(env.mod.C_GetInterfaceAsync(null, null, 2)).resolves.toEqual(PKCS11_30);
    });
  });

  describe('C_SessionCancel', () => {
    const pt = Buffer.from('sixteen byte msg and then some more');
    const iv = Buffer.alloc(16, 7);
    let aes: { handle: Ulong; value: Buffer };
    beforeAll(() => {
      aes = aesKey(env.mod, s);
    });

    const nodeCbcPad = (key: Buffer, data: Buffer) => {
      const c = crypto.createCipheriv('aes-256-cbc', key, iv);
      return Buffer.concat([c.update(data), c.final()]);
    };

    test('after C_EncryptInit (AES-CBC-PAD), CKF_ENCRYPT cancels it: C_Encrypt then gives CKR_OPERATION_NOT_INITIALIZED (sync)', () => {
      env.mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes.handle);
      env.mod.C_SessionCancel(s, CKF_ENCRYPT);
      expectFromModule(
        thrown(() => env.mod.C_Encrypt(s, pt)),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_Encrypt',
      );
      // The session is free again: a new operation starts (no CKR_OPERATION_ACTIVE) and is right.
      env.mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes.handle);
      expect(env.mod.C_Encrypt(s, pt)).toEqual(nodeCbcPad(aes.value, pt));
    });

    test('the same with C_SessionCancelAsync, and a cancelled C_EncryptUpdate sequence', async () => {
      env.mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes.handle);
      const first = env.mod.C_EncryptUpdate(s, pt.subarray(0, 20));
      expect(first).toEqual(nodeCbcPad(aes.value, pt).subarray(0, 16));
      await expect(env.mod.C_SessionCancelAsync(s, CKF_ENCRYPT)).resolves.toBeUndefined();
      expectFromModule(await rejection(env.mod.C_EncryptUpdateAsync(s, pt)), 'CKR_OPERATION_NOT_INITIALIZED', 'C_EncryptUpdate');
      expectFromModule(
        thrown(() => env.mod.C_EncryptFinal(s)),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_EncryptFinal',
      );
    });

    test('CKF_DECRYPT, CKF_DIGEST, CKF_SIGN, CKF_VERIFY each end their operation', async () => {
      const hmac = hmacKey(env.mod, s);
      const cases: Array<[string, Ulong, () => void, () => unknown, string]> = [
        [
          'decrypt',
          CKF_DECRYPT,
          () => env.mod.C_DecryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes.handle),
          () => env.mod.C_Decrypt(s, Buffer.alloc(16)),
          'C_Decrypt',
        ],
        ['digest', CKF_DIGEST, () => env.mod.C_DigestInit(s, { mechanism: CKM_SHA256 }), () => env.mod.C_Digest(s, pt), 'C_Digest'],
        ['sign', CKF_SIGN, () => env.mod.C_SignInit(s, { mechanism: CKM_SHA256_HMAC }, hmac.handle), () => env.mod.C_Sign(s, pt), 'C_Sign'],
        ['verify', CKF_VERIFY, () => env.mod.C_VerifyInit(s, { mechanism: CKM_SHA256_HMAC }, hmac.handle), () => env.mod.C_Verify(s, pt, Buffer.alloc(32)), 'C_Verify'],
      ];
      for (const [what, flag, init, use, fn] of cases) {
        init();
        if (what === 'digest') await env.mod.C_SessionCancelAsync(s, flag);
        else env.mod.C_SessionCancel(s, flag);
        expect([what, (thrown(use) as Pkcs11Error).rvName]).toEqual([what, 'CKR_OPERATION_NOT_INITIALIZED']);
        expectFromModule(thrown(use), 'CKR_OPERATION_NOT_INITIALIZED', fn);
      }
      // The key worked all along: HMAC-SHA256 matches node.
      env.mod.C_SignInit(s, { mechanism: CKM_SHA256_HMAC }, hmac.handle);
      expect(env.mod.C_Sign(s, pt)).toEqual(crypto.createHmac('sha256', hmac.value).update(pt).digest());
    });

    test('two operations at once (encrypt + digest) cancelled by one call', () => {
      env.mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes.handle);
      env.mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
      env.mod.C_SessionCancel(s, CKF_ENCRYPT | CKF_DIGEST);
      expectFromModule(
        thrown(() => env.mod.C_Encrypt(s, pt)),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_Encrypt',
      );
      expectFromModule(
        thrown(() => env.mod.C_Digest(s, pt)),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_Digest',
      );
    });

    test('after C_MessageEncryptInit / C_MessageDecryptInit, CKF_MESSAGE_ENCRYPT / CKF_MESSAGE_DECRYPT end them', async () => {
      env.mod.C_MessageEncryptInit(s, { mechanism: CKM_AES_GCM }, aes.handle);
      env.mod.C_SessionCancel(s, CKF_MESSAGE_ENCRYPT);
      const p = params.gcmMessageParams({ iv: Buffer.alloc(12), tag: Buffer.alloc(16) });
      expectFromModule(
        thrown(() => env.mod.C_EncryptMessage(s, p, Buffer.alloc(0), pt)),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_EncryptMessage',
      );
      expectFromModule(
        thrown(() => env.mod.C_MessageEncryptFinal(s)),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_MessageEncryptFinal',
      );

      await env.mod.C_MessageDecryptInitAsync(s, { mechanism: CKM_AES_GCM }, aes.handle);
      await env.mod.C_SessionCancelAsync(s, CKF_MESSAGE_DECRYPT);
      expectFromModule(await rejection(env.mod.C_DecryptMessageAsync(s, p, Buffer.alloc(0), pt)), 'CKR_OPERATION_NOT_INITIALIZED', 'C_DecryptMessage');
    });

    test('nothing to cancel: CKR_OPERATION_CANCEL_FAILED for every operation flag; flags 0 and CKF_FIND_OBJECTS: CKR_OK', async () => {
      for (const flag of [CKF_ENCRYPT, CKF_DECRYPT, CKF_DIGEST, CKF_SIGN, CKF_VERIFY, CKF_MESSAGE_ENCRYPT, CKF_MESSAGE_DECRYPT]) {
        const e = thrown(() => env.mod.C_SessionCancel(s, flag));
        expect([flag, (e as Pkcs11Error).rvName]).toEqual([flag, 'CKR_OPERATION_CANCEL_FAILED']);
        expectFromModule(e, 'CKR_OPERATION_CANCEL_FAILED', 'C_SessionCancel');
      }
      expectFromModule(await rejection(env.mod.C_SessionCancelAsync(s, CKF_ENCRYPT)), 'CKR_OPERATION_CANCEL_FAILED', 'C_SessionCancel');
      expect(env.mod.C_SessionCancel(s, 0)).toBeUndefined();
      await expect(env.mod.C_SessionCancelAsync(s, 0)).resolves.toBeUndefined();
      expect(env.mod.C_SessionCancel(s, CKF_FIND_OBJECTS)).toBeUndefined();
    });

    test('one active and one idle operation: the active one is cancelled, the call still answers CKR_OPERATION_CANCEL_FAILED', () => {
      env.mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes.handle);
      expectFromModule(
        thrown(() => env.mod.C_SessionCancel(s, CKF_ENCRYPT | CKF_DIGEST)),
        'CKR_OPERATION_CANCEL_FAILED',
        'C_SessionCancel',
      );
      expectFromModule(
        thrown(() => env.mod.C_Encrypt(s, pt)),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_Encrypt',
      );
    });

    test('NSS quirk: a single-part-only operation (AES-GCM via C_EncryptInit) cannot be cancelled: CKR_OPERATION_CANCEL_FAILED and it stays active', async () => {
      const gcmIv = crypto.randomBytes(12);
      env.mod.C_EncryptInit(s, { mechanism: CKM_AES_GCM, parameter: params.gcmParams({ iv: gcmIv, tagBits: 128 }) }, aes.handle);
      expectFromModule(
        thrown(() => env.mod.C_SessionCancel(s, CKF_ENCRYPT)),
        'CKR_OPERATION_CANCEL_FAILED',
        'C_SessionCancel',
      );
      expectFromModule(await rejection(env.mod.C_SessionCancelAsync(s, CKF_ENCRYPT)), 'CKR_OPERATION_CANCEL_FAILED', 'C_SessionCancel');
      // Still initialized: the encryption goes through (into a caller buffer, see the next test).
      const out = Buffer.alloc(pt.length + 16);
      const ct = env.mod.C_Encrypt(s, pt, out);
      const n = nodeGcmEncrypt(aes.value, gcmIv, Buffer.alloc(0), pt);
      expect(ct).toEqual(Buffer.concat([n.ct, n.tag]));
    });

    test('an invalid session handle: NSS answers CKR_OPERATION_CANCEL_FAILED (not CKR_SESSION_HANDLE_INVALID)', async () => {
      await expectBothFromModule(
        () => env.mod.C_SessionCancel(987654, CKF_ENCRYPT),
        () => env.mod.C_SessionCancelAsync(987654, CKF_ENCRYPT),
        'CKR_OPERATION_CANCEL_FAILED',
        'C_SessionCancel',
      );
    });
  });

  test('NSS quirk handled: single-part AES-GCM C_Encrypt without a caller buffer works although NSS sizes the output without the tag', async () => {
    const aes = aesKey(env.mod, s);
    const iv = crypto.randomBytes(12);
    const pt = Buffer.alloc(16, 1);
    const mech = { mechanism: CKM_AES_GCM, parameter: params.gcmParams({ iv, tagBits: 128 }) };
    const n = nodeGcmEncrypt(aes.value, iv, Buffer.alloc(0), pt);
    env.mod.C_EncryptInit(s, mech, aes.handle);
    expect(env.mod.C_Encrypt(s, pt)).toEqual(Buffer.concat([n.ct, n.tag]));
    await env.mod.C_EncryptInitAsync(s, mech, aes.handle);
    expect(await env.mod.C_EncryptAsync(s, pt)).toEqual(Buffer.concat([n.ct, n.tag]));
    // With a caller buffer large enough for ciphertext + tag it works too.
    env.mod.C_EncryptInit(s, mech, aes.handle);
    expect(await env.mod.C_EncryptAsync(s, pt, Buffer.alloc(64))).toEqual(Buffer.concat([n.ct, n.tag]));
  });

  describe('message-based encryption (AES-GCM, ChaCha20-Poly1305)', () => {
    let aes: { handle: Ulong; value: Buffer };
    const aad = Buffer.from('associated data');
    const pt = Buffer.from('the message-based encryption of PKCS#11 3.0');
    beforeAll(() => {
      aes = aesKey(env.mod, s);
    });

    test('C_MessageEncryptInit + C_EncryptMessage (sync) with a caller IV: the module writes the tag into `tag`; equals node aes-256-gcm', () => {
      const ses = env.session();
      env.mod.C_MessageEncryptInit(ses, { mechanism: CKM_AES_GCM }, aes.handle);
      const iv = crypto.randomBytes(12);
      const ivBefore = Buffer.from(iv);
      const tag = Buffer.alloc(16);
      const ct = env.mod.C_EncryptMessage(ses, params.gcmMessageParams({ iv, tag }), aad, pt);
      const n = nodeGcmEncrypt(aes.value, iv, aad, pt);
      expect(ct).toEqual(n.ct);
      expect(tag).toEqual(n.tag);
      expect(iv).toEqual(ivBefore); // CKG_NO_GENERATE: the IV is input only
      // More messages under the same init, each with its own IV; an empty AAD and a 96-bit tag.
      const iv2 = crypto.randomBytes(12);
      const tag12 = Buffer.alloc(12);
      const ct2 = env.mod.C_EncryptMessage(ses, params.gcmMessageParams({ iv: iv2, tag: tag12 }), Buffer.alloc(0), pt);
      const n2 = nodeGcmEncrypt(aes.value, iv2, Buffer.alloc(0), pt, 12);
      expect([ct2, tag12]).toEqual([n2.ct, n2.tag]);
      env.mod.C_MessageEncryptFinal(ses);
      env.mod.C_CloseSession(ses);
    });

    test('C_EncryptMessageAsync: the tag is written back to the caller buffer when the promise settles, not before', async () => {
      const ses = env.session();
      await env.mod.C_MessageEncryptInitAsync(ses, { mechanism: CKM_AES_GCM }, aes.handle);
      const iv = crypto.randomBytes(12);
      const tag = Buffer.alloc(16);
      const p = env.mod.C_EncryptMessageAsync(ses, params.gcmMessageParams({ iv, tag }), aad, pt);
      expect(tag).toEqual(Buffer.alloc(16)); // the module writes into a copy until completion
      const ct = await p;
      const n = nodeGcmEncrypt(aes.value, iv, aad, pt);
      expect(ct).toEqual(n.ct);
      expect(tag).toEqual(n.tag);
      await env.mod.C_MessageEncryptFinalAsync(ses);
      expectFromModule(
        thrown(() => env.mod.C_MessageEncryptFinal(ses)),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_MessageEncryptFinal',
      );
      env.mod.C_CloseSession(ses);
    });

    test('C_EncryptMessage into a caller `out` buffer (sync and async): a view of that buffer; too small: CKR_BUFFER_TOO_SMALL', async () => {
      const ses = env.session();
      env.mod.C_MessageEncryptInit(ses, { mechanism: CKM_AES_GCM }, aes.handle);
      for (const how of ['sync', 'async'] as const) {
        const iv = crypto.randomBytes(12);
        const tag = Buffer.alloc(16);
        const out = Buffer.alloc(128, 0xee);
        const args = [ses, params.gcmMessageParams({ iv, tag }), aad, pt, out] as const;
        const ct = how === 'sync' ? env.mod.C_EncryptMessage(...args) : await env.mod.C_EncryptMessageAsync(...args);
        expect(ct.buffer).toBe(out.buffer);
        expect(ct.byteOffset).toBe(out.byteOffset);
        const n = nodeGcmEncrypt(aes.value, iv, aad, pt);
        expect([how, ct, tag]).toEqual([how, n.ct, n.tag]);
        expect(out.subarray(pt.length)).toEqual(Buffer.alloc(128 - pt.length, 0xee));
      }
      const small = () => env.mod.C_EncryptMessage(ses, params.gcmMessageParams({ iv: Buffer.alloc(12), tag: Buffer.alloc(16) }), aad, pt, Buffer.alloc(4));
      expectFromModule(thrown(small), 'CKR_BUFFER_TOO_SMALL', 'C_EncryptMessage');
      env.mod.C_MessageEncryptFinal(ses);
      env.mod.C_CloseSession(ses);
    });

    test('CKG_GENERATE_COUNTER with 32 fixed bits: NSS keeps the fixed part and counts 0, 1, 2 in the rest (sync, async, sync); node decrypts each', async () => {
      const ses = env.session();
      env.mod.C_MessageEncryptInit(ses, { mechanism: CKM_AES_GCM }, aes.handle);
      for (let i = 0; i < 3; i++) {
        const iv = Buffer.alloc(12, 0xcd);
        const tag = Buffer.alloc(16);
        const p = params.gcmMessageParams({ iv, tag, ivGenerator: CKG_GENERATE_COUNTER, ivFixedBits: 32 });
        const ct = i === 1 ? await env.mod.C_EncryptMessageAsync(ses, p, aad, pt) : env.mod.C_EncryptMessage(ses, p, aad, pt);
        const expectedIv = Buffer.concat([Buffer.alloc(4, 0xcd), Buffer.alloc(8)]);
        expectedIv.writeUInt32BE(i, 8);
        expect([i, iv.toString('hex')]).toEqual([i, expectedIv.toString('hex')]);
        expect(nodeGcmDecrypt(aes.value, iv, aad, ct, tag)).toEqual(pt);
      }
      env.mod.C_MessageEncryptFinal(ses);
      env.mod.C_CloseSession(ses);
    });

    test('CKG_GENERATE_RANDOM: the module writes a new IV into `iv` (sync and async); node decrypts with it', async () => {
      const ses = env.session();
      env.mod.C_MessageEncryptInit(ses, { mechanism: CKM_AES_GCM }, aes.handle);
      const ivs: string[] = [];
      for (const how of ['sync', 'async']) {
        const iv = Buffer.alloc(12, 0xcd);
        const tag = Buffer.alloc(16);
        const p = params.gcmMessageParams({ iv, tag, ivGenerator: CKG_GENERATE_RANDOM });
        const ct = how === 'sync' ? env.mod.C_EncryptMessage(ses, p, aad, pt) : await env.mod.C_EncryptMessageAsync(ses, p, aad, pt);
        expect(iv).not.toEqual(Buffer.alloc(12, 0xcd));
        expect(nodeGcmDecrypt(aes.value, iv, aad, ct, tag)).toEqual(pt);
        ivs.push(iv.toString('hex'));
      }
      expect(new Set(ivs).size).toBe(2);
      // NSS: random generation with fixed bits is refused.
      const p = params.gcmMessageParams({ iv: Buffer.alloc(12), tag: Buffer.alloc(16), ivGenerator: CKG_GENERATE_RANDOM, ivFixedBits: 32 });
      expectFromModule(
        thrown(() => env.mod.C_EncryptMessage(ses, p, aad, pt)),
        'CKR_ARGUMENTS_BAD',
        'C_EncryptMessage',
      );
      env.mod.C_MessageEncryptFinal(ses);
      env.mod.C_CloseSession(ses);
    });

    test('C_EncryptMessageBegin / C_EncryptMessageNext: NSS answers CKR_FUNCTION_NOT_SUPPORTED (sync and async), the single-part API keeps working', async () => {
      const ses = env.session();
      env.mod.C_MessageEncryptInit(ses, { mechanism: CKM_AES_GCM }, aes.handle);
      const iv = crypto.randomBytes(12);
      const tag = Buffer.alloc(16);
      const p = params.gcmMessageParams({ iv, tag });
      await expectBothFromModule(
        () => env.mod.C_EncryptMessageBegin(ses, p, aad),
        () => env.mod.C_EncryptMessageBeginAsync(ses, p, aad),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_EncryptMessageBegin',
      );
      await expectBothFromModule(
        () => env.mod.C_EncryptMessageNext(ses, p, pt, CKF_END_OF_MESSAGE),
        () => env.mod.C_EncryptMessageNextAsync(ses, p, pt, 0, Buffer.alloc(64)),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_EncryptMessageNext',
      );
      expect(env.mod.C_EncryptMessage(ses, p, aad, pt)).toEqual(nodeGcmEncrypt(aes.value, iv, aad, pt).ct);
      env.mod.C_MessageEncryptFinal(ses);
      env.mod.C_CloseSession(ses);
    });

    test('C_DecryptMessage (sync, async, into `out`) of node ciphertext; a wrong tag: CKR_ENCRYPTED_DATA_INVALID', async () => {
      const ses = env.session();
      env.mod.C_MessageDecryptInit(ses, { mechanism: CKM_AES_GCM }, aes.handle);
      const iv = crypto.randomBytes(12);
      const n = nodeGcmEncrypt(aes.value, iv, aad, pt);
      const p = () => params.gcmMessageParams({ iv, tag: Buffer.from(n.tag) });
      expect(env.mod.C_DecryptMessage(ses, p(), aad, n.ct)).toEqual(pt);
      expect(await env.mod.C_DecryptMessageAsync(ses, p(), aad, n.ct)).toEqual(pt);
      const out = Buffer.alloc(100);
      const viaOut = await env.mod.C_DecryptMessageAsync(ses, p(), aad, n.ct, out);
      expect(viaOut.buffer).toBe(out.buffer);
      expect(viaOut).toEqual(pt);
      const bad = Buffer.from(n.tag);
      bad[0] ^= 1;
      await expectBothFromModule(
        () => env.mod.C_DecryptMessage(ses, params.gcmMessageParams({ iv, tag: bad }), aad, n.ct),
        () => env.mod.C_DecryptMessageAsync(ses, params.gcmMessageParams({ iv, tag: bad }), aad, n.ct),
        'CKR_ENCRYPTED_DATA_INVALID',
        'C_DecryptMessage',
      );
      const wrongAad = () => env.mod.C_DecryptMessage(ses, p(), Buffer.from('other'), n.ct);
      expectFromModule(thrown(wrongAad), 'CKR_ENCRYPTED_DATA_INVALID', 'C_DecryptMessage');
      // The message context survives failed messages.
      expect(env.mod.C_DecryptMessage(ses, p(), aad, n.ct)).toEqual(pt);
      env.mod.C_MessageDecryptFinal(ses);
      expectFromModule(
        thrown(() => env.mod.C_DecryptMessage(ses, p(), aad, n.ct)),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_DecryptMessage',
      );
      env.mod.C_CloseSession(ses);
    });

    test('C_DecryptMessageBegin / C_DecryptMessageNext: CKR_FUNCTION_NOT_SUPPORTED (sync and async); C_MessageDecryptInitAsync / FinalAsync', async () => {
      const ses = env.session();
      await env.mod.C_MessageDecryptInitAsync(ses, { mechanism: CKM_AES_GCM }, aes.handle);
      const p = params.gcmMessageParams({ iv: Buffer.alloc(12), tag: Buffer.alloc(16) });
      await expectBothFromModule(
        () => env.mod.C_DecryptMessageBegin(ses, p, aad),
        () => env.mod.C_DecryptMessageBeginAsync(ses, p, aad),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_DecryptMessageBegin',
      );
      await expectBothFromModule(
        () => env.mod.C_DecryptMessageNext(ses, p, pt, CKF_END_OF_MESSAGE),
        () => env.mod.C_DecryptMessageNextAsync(ses, p, pt, CKF_END_OF_MESSAGE),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_DecryptMessageNext',
      );
      await env.mod.C_MessageDecryptFinalAsync(ses);
      expectFromModule(await rejection(env.mod.C_MessageDecryptFinalAsync(ses)), 'CKR_OPERATION_NOT_INITIALIZED', 'C_MessageDecryptFinal');
      env.mod.C_CloseSession(ses);
    });

    test('ChaCha20-Poly1305 messages: encrypt equals node chacha20-poly1305, node ciphertext decrypts (sync and async)', async () => {
      const ses = env.session();
      const key = chachaKey(env.mod, ses);
      env.mod.C_MessageEncryptInit(ses, { mechanism: CKM_CHACHA20_POLY1305 }, key.handle);
      const nonce = crypto.randomBytes(12);
      const tag = Buffer.alloc(16);
      const ct = env.mod.C_EncryptMessage(ses, params.chacha20Poly1305MessageParams({ nonce, tag }), aad, pt);
      const n = nodeChachaEncrypt(key.value, nonce, aad, pt);
      expect([ct, tag]).toEqual([n.ct, n.tag]);
      env.mod.C_MessageEncryptFinal(ses);

      await env.mod.C_MessageDecryptInitAsync(ses, { mechanism: CKM_CHACHA20_POLY1305 }, key.handle);
      const nonce2 = crypto.randomBytes(12);
      const n2 = nodeChachaEncrypt(key.value, nonce2, aad, pt);
      const p2 = params.chacha20Poly1305MessageParams({ nonce: nonce2, tag: Buffer.from(n2.tag) });
      expect(await env.mod.C_DecryptMessageAsync(ses, p2, aad, n2.ct)).toEqual(pt);
      expect(env.mod.C_DecryptMessage(ses, p2, aad, n2.ct)).toEqual(pt);
      await env.mod.C_MessageDecryptFinalAsync(ses);
      env.mod.C_CloseSession(ses);
    });

    test('init errors: a second init is CKR_OPERATION_ACTIVE, AES-CBC is CKR_MECHANISM_INVALID, a null GCM message parameter CKR_ARGUMENTS_BAD', async () => {
      const ses = env.session();
      env.mod.C_MessageEncryptInit(ses, { mechanism: CKM_AES_GCM }, aes.handle);
      await expectBothFromModule(
        () => env.mod.C_MessageEncryptInit(ses, { mechanism: CKM_AES_GCM }, aes.handle),
        () => env.mod.C_MessageEncryptInitAsync(ses, { mechanism: CKM_AES_GCM }, aes.handle),
        'CKR_OPERATION_ACTIVE',
        'C_MessageEncryptInit',
      );
      expectFromModule(
        thrown(() => env.mod.C_EncryptMessage(ses, null, aad, pt)),
        'CKR_ARGUMENTS_BAD',
        'C_EncryptMessage',
      );
      env.mod.C_MessageEncryptFinal(ses);
      await expectBothFromModule(
        () => env.mod.C_MessageEncryptInit(ses, { mechanism: CKM_AES_CBC }, aes.handle),
        () => env.mod.C_MessageEncryptInitAsync(ses, { mechanism: CKM_AES_CBC }, aes.handle),
        'CKR_MECHANISM_INVALID',
        'C_MessageEncryptInit',
      );
      await expectBothFromModule(
        () => env.mod.C_MessageDecryptInit(ses, { mechanism: CKM_AES_CBC }, aes.handle),
        () => env.mod.C_MessageDecryptInitAsync(ses, { mechanism: CKM_AES_CBC }, aes.handle),
        'CKR_MECHANISM_INVALID',
        'C_MessageDecryptInit',
      );
      env.mod.C_CloseSession(ses);
    });
  });

  describe('message-based signing: NSS 3.87 does not implement it', () => {
    let hmac: { handle: Ulong; value: Buffer };
    const data = Buffer.from('data to sign');
    beforeAll(() => {
      hmac = hmacKey(env.mod, s);
    });

    test('CKM_SHA256_HMAC is offered for C_Sign/C_Verify (matches node) but without CKF_MESSAGE_SIGN / CKF_MESSAGE_VERIFY', () => {
      const flags = Number(env.mod.C_GetMechanismInfo(env.slot, CKM_SHA256_HMAC).flags);
      expect(flags & CKF_SIGN).toBe(CKF_SIGN);
      expect(flags & CKF_VERIFY).toBe(CKF_VERIFY);
      expect(flags & CKF_MESSAGE_SIGN).toBe(0);
      expect(flags & CKF_MESSAGE_VERIFY).toBe(0);
      env.mod.C_SignInit(s, { mechanism: CKM_SHA256_HMAC }, hmac.handle);
      expect(env.mod.C_Sign(s, data)).toEqual(crypto.createHmac('sha256', hmac.value).update(data).digest());
    });

    test('the five sign functions are provided (has) and each answers CKR_FUNCTION_NOT_SUPPORTED from NSS, sync and async', async () => {
      for (const fn of ['C_MessageSignInit', 'C_SignMessage', 'C_SignMessageBegin', 'C_SignMessageNext', 'C_MessageSignFinal'] as const) {
        expect([fn, env.mod.has(fn)]).toEqual([fn, true]);
      }
      const mech = { mechanism: CKM_SHA256_HMAC };
      await expectBothFromModule(
        () => env.mod.C_MessageSignInit(s, mech, hmac.handle),
        () => env.mod.C_MessageSignInitAsync(s, mech, hmac.handle),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_MessageSignInit',
      );
      await expectBothFromModule(
        () => env.mod.C_SignMessage(s, null, data),
        () => env.mod.C_SignMessageAsync(s, null, data, Buffer.alloc(32)),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_SignMessage',
      );
      await expectBothFromModule(
        () => env.mod.C_SignMessageBegin(s, null),
        () => env.mod.C_SignMessageBeginAsync(s, Buffer.alloc(0)),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_SignMessageBegin',
      );
      await expectBothFromModule(
        () => env.mod.C_SignMessageNext(s, null, data),
        () => env.mod.C_SignMessageNextAsync(s, null, data, false),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_SignMessageNext',
      );
      await expectBothFromModule(
        () => env.mod.C_SignMessageNext(s, null, data, true),
        () => env.mod.C_SignMessageNextAsync(s, null, data, true, Buffer.alloc(32)),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_SignMessageNext',
      );
      await expectBothFromModule(
        () => env.mod.C_MessageSignFinal(s),
        () => env.mod.C_MessageSignFinalAsync(s),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_MessageSignFinal',
      );
    });

    test('the five verify functions likewise', async () => {
      const mech = { mechanism: CKM_SHA256_HMAC };
      const sig = crypto.createHmac('sha256', hmac.value).update(data).digest();
      await expectBothFromModule(
        () => env.mod.C_MessageVerifyInit(s, mech, hmac.handle),
        () => env.mod.C_MessageVerifyInitAsync(s, mech, hmac.handle),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_MessageVerifyInit',
      );
      await expectBothFromModule(
        () => env.mod.C_VerifyMessage(s, null, data, sig),
        () => env.mod.C_VerifyMessageAsync(s, null, data, sig),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_VerifyMessage',
      );
      await expectBothFromModule(
        () => env.mod.C_VerifyMessageBegin(s, null),
        () => env.mod.C_VerifyMessageBeginAsync(s, null),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_VerifyMessageBegin',
      );
      await expectBothFromModule(
        () => env.mod.C_VerifyMessageNext(s, null, data, null),
        () => env.mod.C_VerifyMessageNextAsync(s, null, data),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_VerifyMessageNext',
      );
      await expectBothFromModule(
        () => env.mod.C_VerifyMessageNext(s, null, data, sig),
        () => env.mod.C_VerifyMessageNextAsync(s, null, data, sig),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_VerifyMessageNext',
      );
      await expectBothFromModule(
        () => env.mod.C_MessageVerifyFinal(s),
        () => env.mod.C_MessageVerifyFinalAsync(s),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_MessageVerifyFinal',
      );
    });
  });

  test('after all of that the module and the session still work (SHA-256 equals node)', async () => {
    env.mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
    expect(env.mod.C_Digest(s, Buffer.from('abc'))).toEqual(sha256(Buffer.from('abc')));
    await env.mod.C_DigestInitAsync(s, { mechanism: CKM_SHA256 });
    expect(await env.mod.C_DigestAsync(s, Buffer.from('abcd'))).toEqual(sha256(Buffer.from('abcd')));
  });
});

describe('NSS softoken, database with a password: C_LoginUser', () => {
  const PASSWORD = 'nss-Pa55word';
  let env: NssEnv;
  let s: Ulong;
  beforeAll(() => {
    env = openNss({ password: PASSWORD });
    s = env.session();
  });
  afterAll(() => env?.close());

  test('the database token requires login; the session starts public', () => {
    expect(Number(env.mod.C_GetTokenInfo(env.slot).flags) & CKF_LOGIN_REQUIRED).toBe(CKF_LOGIN_REQUIRED);
    expect(env.mod.C_GetSessionInfo(s).state).toBe(CKS_RW_PUBLIC_SESSION);
  });

  test('C_LoginUser: NSS 3.87 supports no named users and answers CKR_OPERATION_NOT_INITIALIZED for the right PIN, sync and async', async () => {
    await expectBothFromModule(
      () => env.mod.C_LoginUser(s, CKU_USER, PASSWORD, 'user'),
      () => env.mod.C_LoginUserAsync(s, CKU_USER, Buffer.from(PASSWORD), Buffer.from('user')),
      'CKR_OPERATION_NOT_INITIALIZED',
      'C_LoginUser',
    );
    expect(env.mod.C_GetSessionInfo(s).state).toBe(CKS_RW_PUBLIC_SESSION);
  });

  test('C_LoginUser with a wrong PIN, as SO, with an empty user name, a null PIN or an invalid session: the same CKR, and the PIN is not in the error', async () => {
    const WRONG = 'wrong-pin-4711';
    const calls: Array<[string, () => unknown, () => Promise<unknown>]> = [
      ['wrong PIN', () => env.mod.C_LoginUser(s, CKU_USER, WRONG, 'user'), () => env.mod.C_LoginUserAsync(s, CKU_USER, WRONG, 'user')],
      ['SO', () => env.mod.C_LoginUser(s, CKU_SO, PASSWORD, 'so'), () => env.mod.C_LoginUserAsync(s, CKU_SO, PASSWORD, 'so')],
      ['empty user name', () => env.mod.C_LoginUser(s, CKU_USER, PASSWORD, ''), () => env.mod.C_LoginUserAsync(s, CKU_USER, PASSWORD, '')],
      ['null PIN', () => env.mod.C_LoginUser(s, CKU_USER, null, 'user'), () => env.mod.C_LoginUserAsync(s, CKU_USER, null, 'user')],
      ['invalid session', () => env.mod.C_LoginUser(987654, CKU_USER, WRONG, 'user'), () => env.mod.C_LoginUserAsync(987654, CKU_USER, WRONG, 'user')],
    ];
    for (const [what, sync, async] of calls) {
      for (const e of [thrown(sync), await rejection(async())]) {
        expect([what, (e as Pkcs11Error).rvName]).toEqual([what, 'CKR_OPERATION_NOT_INITIALIZED']);
        expectFromModule(e, 'CKR_OPERATION_NOT_INITIALIZED', 'C_LoginUser');
        const text = `${(e as Error).message} ${(e as Error).stack} ${JSON.stringify(e)}`;
        expect(text).not.toContain(WRONG);
        expect(text).not.toContain(PASSWORD);
      }
    }
    expect(env.mod.C_GetSessionInfo(s).state).toBe(CKS_RW_PUBLIC_SESSION);
  });

  test('C_Login is how NSS logs in: wrong PIN CKR_PIN_INCORRECT, right PIN logs the user in; C_LoginUser still answers the same afterwards', async () => {
    await expectBothFromModule(
      () => env.mod.C_Login(s, CKU_USER, 'not-the-password'),
      () => env.mod.C_LoginAsync(s, CKU_USER, 'not-the-password'),
      'CKR_PIN_INCORRECT',
      'C_Login',
    );
    await env.mod.C_LoginAsync(s, CKU_USER, PASSWORD);
    expect(env.mod.C_GetSessionInfo(s).state).toBe(CKS_RW_USER_FUNCTIONS);
    expectFromModule(
      thrown(() => env.mod.C_LoginUser(s, CKU_USER, PASSWORD, 'user')),
      'CKR_OPERATION_NOT_INITIALIZED',
      'C_LoginUser',
    );
    expect(env.mod.C_GetSessionInfo(s).state).toBe(CKS_RW_USER_FUNCTIONS);
    env.mod.C_Logout(s);
    expect(env.mod.C_GetSessionInfo(s).state).toBe(CKS_RW_PUBLIC_SESSION);
  });
});
