// Object management against SoftHSM: create (session and token objects), copy, destroy, size,
// attribute reads with a status per attribute, attribute writes, and searches in batches.
import { createCipheriv } from 'node:crypto';
import { openSoftHSM, userSession } from './helpers/softhsm';
import { thrown, rejection, expectPkcs11, expectBoth, ulongOf } from './helpers/p11-expect';
import {
  CK_UNAVAILABLE_INFORMATION,
  CKA_APPLICATION,
  CKA_CLASS,
  CKA_ENCRYPT,
  CKA_ID,
  CKA_EXTRACTABLE,
  CKA_KEY_TYPE,
  CKA_LABEL,
  CKA_MODULUS,
  CKA_PRIVATE,
  CKA_PRIVATE_EXPONENT,
  CKA_SENSITIVE,
  CKA_TOKEN,
  CKA_VALUE,
  CKA_VALUE_LEN,
  CKK_AES,
  CKM_AES_ECB,
  CKM_AES_KEY_GEN,
  CKO_DATA,
  CKO_SECRET_KEY,
  CKR_OBJECT_HANDLE_INVALID,
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
} from '../lib/raw';
import type { Attribute, AttributeResult, Ulong } from '../lib/raw';

describe('object management on SoftHSM', () => {
  const env = openSoftHSM();
  const mod = env.mod;
  const tag = `p11bridge-object-test-${process.pid}-${Date.now()}`;
  let h: Ulong;

  beforeAll(() => {
    h = userSession(env);
  });
  afterAll(() => {
    mod.C_CloseSession(h);
    env.close();
  });

  function dataTemplate(label: string, extra: Attribute[] = []): Attribute[] {
    return [
      { type: CKA_CLASS, value: CKO_DATA },
      { type: CKA_TOKEN, value: false },
      { type: CKA_PRIVATE, value: false },
      { type: CKA_LABEL, value: label },
      { type: CKA_APPLICATION, value: tag },
      { type: CKA_VALUE, value: Buffer.from(`value of ${label}`) },
      ...extra,
    ];
  }

  function aesKey(extra: Attribute[]): Ulong {
    return mod.C_GenerateKey(h, { mechanism: CKM_AES_KEY_GEN }, [
      { type: CKA_TOKEN, value: false },
      { type: CKA_VALUE_LEN, value: 32 },
      { type: CKA_LABEL, value: 'aes' },
      ...extra,
    ]);
  }

  /** Values of ok attributes, in the order asked. */
  function values(obj: Ulong, types: number[]): Buffer[] {
    const r = mod.C_GetAttributeValue(h, obj, types);
    return r.map((a) => {
      expect(a.status).toBe('ok');
      return a.value as Buffer;
    });
  }

  function find(template: Attribute[]): Ulong[] {
    mod.C_FindObjectsInit(h, template);
    const found = mod.C_FindObjects(h, 1000);
    mod.C_FindObjectsFinal(h);
    return found;
  }

  describe('create, copy, destroy', () => {
    test('C_CreateObject (sync): a CKO_DATA session object with label, application and value', () => {
      const o = mod.C_CreateObject(h, dataTemplate('created-sync'));
      expect(typeof o).toBe('number');
      const [cls, token, priv, label, app, value] = values(o, [CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_APPLICATION, CKA_VALUE]);
      expect(ulongOf(cls)).toBe(BigInt(CKO_DATA));
      expect(token).toEqual(Buffer.from([0]));
      expect(priv).toEqual(Buffer.from([0]));
      expect(label.toString()).toBe('created-sync');
      expect(app.toString()).toBe(tag);
      expect(value).toEqual(Buffer.from('value of created-sync'));
      expect(
        find([
          { type: CKA_LABEL, value: 'created-sync' },
          { type: CKA_APPLICATION, value: tag },
        ]),
      ).toEqual([o]);
      mod.C_DestroyObject(h, o);
    });

    test('C_CreateObjectAsync: a token object is visible from another session and gone after C_DestroyObjectAsync', async () => {
      // On a token of its own: SoftHSM answers CKR_GENERAL_ERROR to other processes reading a
      // token whose object files are being written.
      const slot = env.slotOf('p11bridge-objects');
      const w = mod.C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
      const label = `token-${tag}`;
      const o = await mod.C_CreateObjectAsync(w, dataTemplate(label, [{ type: CKA_TOKEN, value: true }]));
      try {
        expect(mod.C_GetAttributeValue(w, o, [CKA_TOKEN])[0].value).toEqual(Buffer.from([1]));
        const other = mod.C_OpenSession(slot);
        mod.C_FindObjectsInit(other, [{ type: CKA_LABEL, value: label }]);
        expect(mod.C_FindObjects(other)).toEqual([o]);
        mod.C_FindObjectsFinal(other);
        mod.C_CloseSession(other);
      } finally {
        await mod.C_DestroyObjectAsync(w, o);
      }
      mod.C_FindObjectsInit(w, [{ type: CKA_LABEL, value: label }]);
      expect(mod.C_FindObjects(w, 10)).toEqual([]);
      mod.C_FindObjectsFinal(w);
      await expectBoth(
        () => mod.C_GetAttributeValue(w, o, [CKA_LABEL]),
        () => mod.C_GetAttributeValueAsync(w, o, [CKA_LABEL]),
        'CKR_OBJECT_HANDLE_INVALID',
        'C_GetAttributeValue',
        CKR_OBJECT_HANDLE_INVALID,
      );
      mod.C_CloseSession(w);
    });

    test('C_CreateObject with an inconsistent template: CKR_TEMPLATE_INCOMPLETE without CKA_CLASS', async () => {
      const t: Attribute[] = [
        { type: CKA_TOKEN, value: false },
        { type: CKA_LABEL, value: 'no class' },
      ];
      await expectBoth(
        () => mod.C_CreateObject(h, t),
        () => mod.C_CreateObjectAsync(h, t),
        'CKR_TEMPLATE_INCOMPLETE',
        'C_CreateObject',
        0xd0,
      );
    });

    test('C_CopyObject with a template (sync and async): the copy gets the new attributes, the original keeps its own', async () => {
      const o = mod.C_CreateObject(h, dataTemplate('original'));
      const c1 = mod.C_CopyObject(h, o, [{ type: CKA_LABEL, value: 'copy-1' }]);
      const c2 = await mod.C_CopyObjectAsync(h, o, [{ type: CKA_LABEL, value: 'copy-2' }]);
      expect(new Set([o, c1, c2]).size).toBe(3);
      expect(values(o, [CKA_LABEL])[0].toString()).toBe('original');
      expect(values(c1, [CKA_LABEL, CKA_VALUE]).map((v) => v.toString())).toEqual(['copy-1', 'value of original']);
      expect(values(c2, [CKA_LABEL, CKA_VALUE]).map((v) => v.toString())).toEqual(['copy-2', 'value of original']);
      // An empty template copies as is.
      const c3 = mod.C_CopyObject(h, o, []);
      expect(values(c3, [CKA_LABEL, CKA_APPLICATION]).map((v) => v.toString())).toEqual(['original', tag]);
      for (const x of [o, c1, c2, c3]) mod.C_DestroyObject(h, x);
    });

    test('C_CopyObject without a template (omitted or null) copies the object as is, sync and async', async () => {
      const o = mod.C_CreateObject(h, dataTemplate('copy-me'));
      try {
        const c1 = mod.C_CopyObject(h, o);
        const c2 = await mod.C_CopyObjectAsync(h, o, null);
        for (const c of [c1, c2]) {
          expect(c).not.toBe(o);
          expect(values(c, [CKA_LABEL, CKA_VALUE]).map((v) => v.toString())).toEqual(['copy-me', 'value of copy-me']);
          mod.C_DestroyObject(h, c);
        }
      } finally {
        mod.C_DestroyObject(h, o);
      }
    });

    test('C_DestroyObject (sync) and C_DestroyObjectAsync; destroying twice gives CKR_OBJECT_HANDLE_INVALID', async () => {
      const a = mod.C_CreateObject(h, dataTemplate('destroy-a'));
      const b = mod.C_CreateObject(h, dataTemplate('destroy-b'));
      mod.C_DestroyObject(h, a);
      await mod.C_DestroyObjectAsync(h, b);
      expect(find([{ type: CKA_LABEL, value: 'destroy-a' }])).toEqual([]);
      expect(find([{ type: CKA_LABEL, value: 'destroy-b' }])).toEqual([]);
      expectPkcs11(
        thrown(() => mod.C_DestroyObject(h, a)),
        'CKR_OBJECT_HANDLE_INVALID',
        'C_DestroyObject',
        CKR_OBJECT_HANDLE_INVALID,
      );
      expectPkcs11(await rejection(mod.C_DestroyObjectAsync(h, b)), 'CKR_OBJECT_HANDLE_INVALID', 'C_DestroyObject', CKR_OBJECT_HANDLE_INVALID);
    });

    test('C_GetObjectSize: SoftHSM answers CKR_OK with CK_UNAVAILABLE_INFORMATION (a bigint), sync and async', async () => {
      const o = mod.C_CreateObject(h, dataTemplate('sized'));
      const k = aesKey([]);
      expect(mod.C_GetObjectSize(h, o)).toBe(CK_UNAVAILABLE_INFORMATION);
      expect(typeof mod.C_GetObjectSize(h, k)).toBe('bigint');
      await expect(mod.C_GetObjectSizeAsync(h, k)).resolves.toBe(CK_UNAVAILABLE_INFORMATION);
      mod.C_DestroyObject(h, o);
      await expectBoth(
        () => mod.C_GetObjectSize(h, o),
        () => mod.C_GetObjectSizeAsync(h, o),
        'CKR_OBJECT_HANDLE_INVALID',
        'C_GetObjectSize',
        CKR_OBJECT_HANDLE_INVALID,
      );
      mod.C_DestroyObject(h, k);
    });
  });

  describe('attributes', () => {
    test("C_GetAttributeValue on an extractable AES key: 'ok' values are the real key (checked by encrypting)", async () => {
      const k = aesKey([
        { type: CKA_SENSITIVE, value: false },
        { type: CKA_EXTRACTABLE, value: true },
        { type: CKA_ENCRYPT, value: true },
      ]);
      const r = await mod.C_GetAttributeValueAsync(h, k, [CKA_CLASS, CKA_KEY_TYPE, CKA_VALUE_LEN, CKA_VALUE]);
      expect(r.map((a) => a.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
      expect(r.map((a) => a.type)).toEqual([CKA_CLASS, CKA_KEY_TYPE, CKA_VALUE_LEN, CKA_VALUE]);
      expect(ulongOf(r[0].value as Buffer)).toBe(BigInt(CKO_SECRET_KEY));
      expect(ulongOf(r[1].value as Buffer)).toBe(BigInt(CKK_AES));
      expect(ulongOf(r[2].value as Buffer)).toBe(32n);
      const keyBytes = r[3].value as Buffer;
      expect(keyBytes.length).toBe(32);
      const block = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
      mod.C_EncryptInit(h, { mechanism: CKM_AES_ECB }, k);
      const ct = mod.C_Encrypt(h, block);
      const c = createCipheriv('aes-256-ecb', keyBytes, null).setAutoPadding(false);
      expect(ct).toEqual(Buffer.concat([c.update(block), c.final()]));
      mod.C_DestroyObject(h, k);
    });

    test("per-attribute status: 'sensitive' CKA_VALUE of a sensitive key, 'typeInvalid' for attributes it lacks, several failing at once", async () => {
      const k = aesKey([{ type: CKA_SENSITIVE, value: true }]);
      const types = [CKA_VALUE_LEN, CKA_VALUE, CKA_MODULUS, CKA_LABEL, CKA_PRIVATE_EXPONENT, CKA_SENSITIVE];
      const expected = [
        { type: CKA_VALUE_LEN, status: 'ok', value: Buffer.from([32, 0, 0, 0, 0, 0, 0, 0]) },
        { type: CKA_VALUE, status: 'sensitive' },
        { type: CKA_MODULUS, status: 'typeInvalid' },
        { type: CKA_LABEL, status: 'ok', value: Buffer.from('aes') },
        { type: CKA_PRIVATE_EXPONENT, status: 'typeInvalid' },
        { type: CKA_SENSITIVE, status: 'ok', value: Buffer.from([1]) },
      ];
      const sync = mod.C_GetAttributeValue(h, k, types);
      expect(sync).toEqual(expected);
      for (const a of sync) if (a.status !== 'ok') expect('value' in a).toBe(false);
      // Types given as { type } objects (and as bigints) read the same.
      const asObjects = await mod.C_GetAttributeValueAsync(
        h,
        k,
        types.map((type) => ({ type })),
      );
      expect(asObjects).toEqual(expected);
      expect(mod.C_GetAttributeValue(h, k, [BigInt(CKA_VALUE), { type: BigInt(CKA_LABEL) }])).toEqual([expected[1], expected[3]]);
      // A single failing attribute on its own.
      expect(mod.C_GetAttributeValue(h, k, [CKA_VALUE])).toEqual([{ type: CKA_VALUE, status: 'sensitive' }]);
      expect(await mod.C_GetAttributeValueAsync(h, k, [{ type: CKA_MODULUS }])).toEqual([{ type: CKA_MODULUS, status: 'typeInvalid' }]);
      // Nothing asked, nothing read.
      expect(mod.C_GetAttributeValue(h, k, [])).toEqual([]);
      mod.C_DestroyObject(h, k);
    });

    test('C_SetAttributeValue: sync on a data object label, async on key attributes; read-only attributes are refused', async () => {
      const o = mod.C_CreateObject(h, dataTemplate('before'));
      mod.C_SetAttributeValue(h, o, [{ type: CKA_LABEL, value: 'after' }]);
      expect(values(o, [CKA_LABEL, CKA_VALUE])).toEqual([Buffer.from('after'), Buffer.from('value of before')]);
      expect(
        find([
          { type: CKA_LABEL, value: 'after' },
          { type: CKA_APPLICATION, value: tag },
        ]),
      ).toEqual([o]);
      // SoftHSM fixes a data object's CKA_VALUE and CKA_APPLICATION at creation, and CKA_CLASS always.
      await expectBoth(
        () => mod.C_SetAttributeValue(h, o, [{ type: CKA_VALUE, value: Buffer.from([1, 2, 3]) }]),
        () => mod.C_SetAttributeValueAsync(h, o, [{ type: CKA_APPLICATION, value: 'elsewhere' }]),
        'CKR_ATTRIBUTE_READ_ONLY',
        'C_SetAttributeValue',
        0x10,
      );
      expectPkcs11(
        thrown(() => mod.C_SetAttributeValue(h, o, [{ type: CKA_CLASS, value: CKO_SECRET_KEY }])),
        'CKR_ATTRIBUTE_READ_ONLY',
        'C_SetAttributeValue',
        0x10,
      );
      expect(values(o, [CKA_VALUE, CKA_APPLICATION]).map((v) => v.toString())).toEqual(['value of before', tag]);

      const k = aesKey([
        { type: CKA_SENSITIVE, value: true },
        { type: CKA_ENCRYPT, value: true },
      ]);
      await mod.C_SetAttributeValueAsync(h, k, [
        { type: CKA_LABEL, value: 'renamed key' },
        { type: CKA_ID, value: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) },
        { type: CKA_ENCRYPT, value: false },
      ]);
      const r: AttributeResult[] = await mod.C_GetAttributeValueAsync(h, k, [CKA_LABEL, CKA_ID, CKA_ENCRYPT]);
      expect(r).toEqual([
        { type: CKA_LABEL, status: 'ok', value: Buffer.from('renamed key') },
        { type: CKA_ID, status: 'ok', value: Buffer.from('deadbeef', 'hex') },
        { type: CKA_ENCRYPT, status: 'ok', value: Buffer.from([0]) },
      ]);
      // A sensitive key cannot be made non-sensitive.
      expectPkcs11(
        thrown(() => mod.C_SetAttributeValue(h, k, [{ type: CKA_SENSITIVE, value: false }])),
        'CKR_ATTRIBUTE_READ_ONLY',
        'C_SetAttributeValue',
      );
      expect(values(k, [CKA_SENSITIVE])[0]).toEqual(Buffer.from([1]));
      mod.C_DestroyObject(h, k);
      mod.C_DestroyObject(h, o);
    });
  });

  describe('search', () => {
    const batchTag = `${tag}-batch`;
    let made: Ulong[] = [];
    const byApp = (): Attribute[] => [{ type: CKA_APPLICATION, value: batchTag }];

    beforeAll(() => {
      made = Array.from({ length: 10 }, (_, i) => mod.C_CreateObject(h, dataTemplate(`batch-${i}`, [{ type: CKA_APPLICATION, value: batchTag }])));
    });
    afterAll(() => {
      for (const o of made) mod.C_DestroyObject(h, o);
    });

    test('C_FindObjectsInit / C_FindObjects(h, 3) / C_FindObjectsFinal (sync): batches of 3, 3, 3, 1, then none', () => {
      mod.C_FindObjectsInit(h, byApp());
      const batches: Ulong[][] = [];
      for (let i = 0; i < 5; i++) batches.push(mod.C_FindObjects(h, 3));
      mod.C_FindObjectsFinal(h);
      expect(batches.map((x) => x.length)).toEqual([3, 3, 3, 1, 0]);
      const all = batches.flat();
      expect(new Set(all).size).toBe(10);
      expect([...all].sort()).toEqual([...made].sort());
    });

    test('the async forms: batches of 4, 4, 2, then none', async () => {
      await mod.C_FindObjectsInitAsync(h, byApp());
      const sizes: number[] = [];
      const all: Ulong[] = [];
      for (let i = 0; i < 4; i++) {
        const got = await mod.C_FindObjectsAsync(h, 4);
        sizes.push(got.length);
        all.push(...got);
      }
      await mod.C_FindObjectsFinalAsync(h);
      expect(sizes).toEqual([4, 4, 2, 0]);
      expect([...all].sort()).toEqual([...made].sort());
    });

    test('default maxObjectCount returns all ten at once; a narrower template finds one; no template finds them among all', async () => {
      mod.C_FindObjectsInit(h, byApp());
      expect([...mod.C_FindObjects(h)].sort()).toEqual([...made].sort());
      mod.C_FindObjectsFinal(h);
      expect(find([...byApp(), { type: CKA_LABEL, value: 'batch-7' }])).toEqual([made[7]]);
      expect(find([...byApp(), { type: CKA_CLASS, value: CKO_SECRET_KEY }])).toEqual([]);
      await mod.C_FindObjectsInitAsync(h, null);
      const every = await mod.C_FindObjectsAsync(h, 65536);
      await mod.C_FindObjectsFinalAsync(h);
      for (const o of made) expect(every).toContain(o);
      mod.C_FindObjectsInit(h);
      const every2 = mod.C_FindObjects(h, 65536);
      mod.C_FindObjectsFinal(h);
      expect([...every2].sort()).toEqual([...every].sort());
    });

    test('search misuse: not initialized, initialized twice, finalized twice, maxObjectCount 0', async () => {
      await expectBoth(
        () => mod.C_FindObjects(h),
        () => mod.C_FindObjectsAsync(h),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_FindObjects',
        0x91,
      );
      await expectBoth(
        () => mod.C_FindObjectsFinal(h),
        () => mod.C_FindObjectsFinalAsync(h),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_FindObjectsFinal',
        0x91,
      );
      mod.C_FindObjectsInit(h, byApp());
      await expectBoth(
        () => mod.C_FindObjectsInit(h, []),
        () => mod.C_FindObjectsInitAsync(h, []),
        'CKR_OPERATION_ACTIVE',
        'C_FindObjectsInit',
        0x90,
      );
      expect(() => mod.C_FindObjects(h, 0)).toThrow(RangeError);
      await expect(mod.C_FindObjectsAsync(h, 0)).rejects.toThrow(RangeError);
      // The search is still usable after the refused calls.
      expect(mod.C_FindObjects(h, 100)).toHaveLength(10);
      mod.C_FindObjectsFinal(h);
    });
  });
});
