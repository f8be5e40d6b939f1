// Value marshaling through real SoftHSM round trips: CK_ULONG (numbers, bigints, range checks),
// CK_DATE from JS Dates, UTF-8 strings, CK_ULONG arrays (CKA_ALLOWED_MECHANISMS), nested templates
// (CKA_WRAP_TEMPLATE / CKA_UNWRAP_TEMPLATE), and caller-supplied output buffers.
import { createHash } from 'node:crypto';
import { openSoftHSM, userSession } from './helpers/softhsm';
import { thrown, rejection, expectPkcs11, ulongOf } from './helpers/p11-expect';
import {
  CK_UNAVAILABLE_INFORMATION,
  CKA_ALLOWED_MECHANISMS,
  CKA_APPLICATION,
  CKA_CERTIFICATE_CATEGORY,
  CKA_CERTIFICATE_TYPE,
  CKA_CLASS,
  CKA_DERIVE_TEMPLATE,
  CKA_EC_PARAMS,
  CKA_ENCRYPT,
  CKA_END_DATE,
  CKA_EXTRACTABLE,
  CKA_KEY_TYPE,
  CKA_LABEL,
  CKA_MODULUS,
  CKA_MODULUS_BITS,
  CKA_PRIVATE,
  CKA_PUBLIC_EXPONENT,
  CKA_SENSITIVE,
  CKA_SIGN,
  CKA_START_DATE,
  CKA_SUBJECT,
  CKA_TOKEN,
  CKA_UNWRAP,
  CKA_UNWRAP_TEMPLATE,
  CKA_VALUE,
  CKA_VALUE_LEN,
  CKA_VERIFY,
  CKA_WRAP,
  CKA_WRAP_TEMPLATE,
  CKC_X_509,
  CKK_AES,
  CKM_AES_CBC,
  CKM_AES_ECB,
  CKM_AES_GCM,
  CKM_AES_KEY_GEN,
  CKM_AES_KEY_WRAP,
  CKM_EC_KEY_PAIR_GEN,
  CKM_RSA_PKCS_KEY_PAIR_GEN,
  CKM_SHA256,
  CKM_SHA256_RSA_PKCS,
  CKO_CERTIFICATE,
  CKO_DATA,
  CKO_SECRET_KEY,
  CKR_BUFFER_TOO_SMALL,
  ULONG_SIZE,
} from '../lib/raw';
import type { Attribute, AttributeResult, Ulong } from '../lib/raw';

const P256 = Buffer.from('06082a8648ce3d030107', 'hex');
const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/** CK_DATE bytes as text. */
const dateText = (b: Buffer | AttributeResult['value']): string => (b as Buffer).toString('latin1');

describe('marshaling through SoftHSM', () => {
  const env = openSoftHSM();
  const mod = env.mod;
  let h: Ulong;

  beforeAll(() => {
    h = userSession(env);
  });
  afterAll(() => {
    mod.C_CloseSession(h);
    env.close();
  });

  function aesKey(extra: Attribute[], valueLen: Ulong = 32): Ulong {
    return mod.C_GenerateKey(h, { mechanism: CKM_AES_KEY_GEN }, [{ type: CKA_TOKEN, value: false }, { type: CKA_VALUE_LEN, value: valueLen }, ...extra]);
  }

  function read(obj: Ulong, type: number): Buffer {
    const [r] = mod.C_GetAttributeValue(h, obj, [type]);
    expect(r.status).toBe('ok');
    return r.value as Buffer;
  }

  function certificate(category: Ulong): Attribute[] {
    return [
      { type: CKA_CLASS, value: CKO_CERTIFICATE },
      { type: CKA_TOKEN, value: false },
      { type: CKA_CERTIFICATE_TYPE, value: CKC_X_509 },
      { type: CKA_SUBJECT, value: Buffer.from([0x30, 0x00]) },
      { type: CKA_VALUE, value: Buffer.from([0x30, 0x00]) },
      { type: CKA_CERTIFICATE_CATEGORY, value: category },
    ];
  }

  describe('CK_ULONG', () => {
    test('this platform has an 8-byte CK_ULONG; numbers round-trip as 8 little-endian bytes', () => {
      expect(ULONG_SIZE).toBe(8);
      const k = aesKey([]);
      expect(read(k, CKA_VALUE_LEN)).toEqual(Buffer.from([32, 0, 0, 0, 0, 0, 0, 0]));
      expect(ulongOf(read(k, CKA_CLASS))).toBe(BigInt(CKO_SECRET_KEY));
      expect(ulongOf(read(k, CKA_KEY_TYPE))).toBe(BigInt(CKK_AES));
      // A bigint value and a bigint attribute type work as well as numbers.
      const k2 = mod.C_GenerateKey(h, { mechanism: BigInt(CKM_AES_KEY_GEN) }, [
        { type: BigInt(CKA_TOKEN), value: false },
        { type: BigInt(CKA_VALUE_LEN), value: 16n },
      ]);
      expect(ulongOf(read(k2, CKA_VALUE_LEN))).toBe(16n);
      mod.C_DestroyObject(h, k);
      mod.C_DestroyObject(h, k2);
    });

    test('bigints above 2^53 reach the module unrounded: CKA_CERTIFICATE_CATEGORY 2^60+3 and 2^64-1 read back exactly, sync and async', async () => {
      for (const v of [2n ** 60n + 3n, 2n ** 53n + 1n, 2n ** 64n - 1n]) {
        const c = mod.C_CreateObject(h, certificate(v));
        expect(ulongOf(read(c, CKA_CERTIFICATE_CATEGORY))).toBe(v);
        mod.C_DestroyObject(h, c);
      }
      const c = await mod.C_CreateObjectAsync(h, certificate(2n ** 62n + 7n));
      const [r] = await mod.C_GetAttributeValueAsync(h, c, [CKA_CERTIFICATE_CATEGORY]);
      expect(ulongOf(r.value as Buffer)).toBe(2n ** 62n + 7n);
      mod.C_DestroyObject(h, c);
    });

    test('a bigint CKA_VALUE_LEN above 2^53 is passed on: SoftHSM itself refuses it with CKR_ATTRIBUTE_VALUE_INVALID', async () => {
      const e = expectPkcs11(
        thrown(() => aesKey([], 2n ** 60n)),
        'CKR_ATTRIBUTE_VALUE_INVALID',
        'C_GenerateKey',
        0x13,
      );
      expect(e.detail).toBeUndefined();
      await expect(
        mod.C_GenerateKeyAsync(h, { mechanism: CKM_AES_KEY_GEN }, [
          { type: CKA_TOKEN, value: false },
          { type: CKA_VALUE_LEN, value: 2n ** 60n },
        ]),
      ).rejects.toMatchObject({ rvName: 'CKR_ATTRIBUTE_VALUE_INVALID', function: 'C_GenerateKey' });
    });

    test('numbers above 2^53-1, negative, NaN, ±Infinity, fractional, and bigints out of range are RangeErrors, sync and async', async () => {
      const bad: Array<number | bigint> = [2 ** 53, 2 ** 64, -1, -0.5, NaN, Infinity, -Infinity, 1.5, -1n, 2n ** 64n];
      for (const v of bad) {
        const t: Attribute[] = [
          { type: CKA_CLASS, value: CKO_DATA },
          { type: CKA_TOKEN, value: false },
          { type: CKA_APPLICATION, value: 'x' },
          { type: CKA_VALUE_LEN, value: v },
        ];
        const e = thrown(() => mod.C_CreateObject(h, t));
        expect(e).toBeInstanceOf(RangeError);
        expect((e as Error).message).toContain('C_CreateObject');
        expect((e as Error).message).toContain('template[3].value');
        expect(await rejection(mod.C_CreateObjectAsync(h, t))).toBeInstanceOf(RangeError);
        // As an attribute type and as a plain ULONG argument too.
        expect(thrown(() => mod.C_GetAttributeValue(h, 1, [v]))).toBeInstanceOf(RangeError);
        expect(thrown(() => mod.C_GetSessionInfo(v))).toBeInstanceOf(RangeError);
        expect(await rejection(mod.C_GetSessionInfoAsync(v))).toBeInstanceOf(RangeError);
      }
      // 2^53-1 is fine as a number (the module answers, not the marshaler).
      expectPkcs11(
        thrown(() => mod.C_GetSessionInfo(2 ** 53 - 1)),
        'CKR_SESSION_HANDLE_INVALID',
        'C_GetSessionInfo',
      );
      // Not a number at all: TypeError.
      expect(thrown(() => mod.C_GetSessionInfo('1' as unknown as number))).toBeInstanceOf(TypeError);
    });

    test('CK_ULONG results above 2^53 come back as bigints (CK_UNAVAILABLE_INFORMATION), small ones as numbers', () => {
      const t = mod.C_GetTokenInfo(env.slot);
      expect(t.sessionCount).toBe(CK_UNAVAILABLE_INFORMATION);
      expect(t.sessionCount).toBe(2n ** 64n - 1n);
      expect(typeof t.minPinLen).toBe('number');
      expect(typeof h).toBe('number');
    });
  });

  describe('CK_DATE', () => {
    test('JS Dates are written as UTC YYYYMMDD (month not off by one) and read back as 8 ASCII bytes, sync and async', async () => {
      const k = aesKey([
        { type: CKA_PRIVATE, value: false },
        { type: CKA_START_DATE, value: new Date(Date.UTC(2024, 0, 31)) },
        { type: CKA_END_DATE, value: new Date(Date.UTC(2025, 11, 1)) },
      ]);
      const [s, e] = mod.C_GetAttributeValue(h, k, [CKA_START_DATE, CKA_END_DATE]);
      expect(s.value).toEqual(Buffer.from('20240131', 'ascii'));
      expect(dateText(e.value)).toBe('20251201');
      const cases: Array<[Date, string]> = [
        [new Date(Date.UTC(2024, 1, 29)), '20240229'], // leap day
        [new Date(Date.UTC(2023, 11, 31, 23, 59, 59, 999)), '20231231'], // last millisecond of the UTC day
        [new Date('2024-03-01T00:30:00+02:00'), '20240229'], // 22:30 UTC the day before
        [new Date(Date.UTC(1969, 11, 31, 12)), '19691231'], // before the epoch
        [new Date('0001-01-01T00:00:00Z'), '00010101'],
        [new Date('9999-12-31T23:59:59Z'), '99991231'],
      ];
      for (const [d, text] of cases) {
        await mod.C_SetAttributeValueAsync(h, k, [{ type: CKA_START_DATE, value: d }]);
        const [r] = await mod.C_GetAttributeValueAsync(h, k, [CKA_START_DATE]);
        expect(dateText(r.value)).toBe(text);
      }
      mod.C_DestroyObject(h, k);
    });

    test('dates on an EC public key through C_GenerateKeyPair', () => {
      const kp = mod.C_GenerateKeyPair(
        h,
        { mechanism: CKM_EC_KEY_PAIR_GEN },
        [
          { type: CKA_TOKEN, value: false },
          { type: CKA_EC_PARAMS, value: P256 },
          { type: CKA_VERIFY, value: true },
          { type: CKA_START_DATE, value: new Date(Date.UTC(2030, 5, 15)) },
          { type: CKA_END_DATE, value: new Date(Date.UTC(2031, 9, 9)) },
        ],
        [
          { type: CKA_TOKEN, value: false },
          { type: CKA_SIGN, value: true },
        ],
      );
      expect(mod.C_GetAttributeValue(h, kp.publicKey, [CKA_START_DATE, CKA_END_DATE]).map((r) => dateText(r.value))).toEqual(['20300615', '20311009']);
      mod.C_DestroyObject(h, kp.publicKey);
      mod.C_DestroyObject(h, kp.privateKey);
    });

    test('an invalid Date or a year past 9999 is a RangeError, sync and async', async () => {
      const k = aesKey([{ type: CKA_PRIVATE, value: false }]);
      for (const d of [new Date(NaN), new Date('+010000-01-01T00:00:00Z'), new Date('-000001-06-01T00:00:00Z')]) {
        expect(thrown(() => mod.C_SetAttributeValue(h, k, [{ type: CKA_START_DATE, value: d }]))).toBeInstanceOf(RangeError);
        expect(await rejection(mod.C_SetAttributeValueAsync(h, k, [{ type: CKA_END_DATE, value: d }]))).toBeInstanceOf(RangeError);
      }
      expect(read(k, CKA_START_DATE)).toEqual(Buffer.alloc(0));
      mod.C_DestroyObject(h, k);
    });

    test('SoftHSM 2.6.1 cannot read dates back from a private key (SoftHSMv2 #655/#804): its CKR_GENERAL_ERROR is passed through', () => {
      const k = aesKey([
        { type: CKA_PRIVATE, value: true },
        { type: CKA_START_DATE, value: new Date(Date.UTC(2024, 0, 31)) },
      ]);
      const e = expectPkcs11(
        thrown(() => mod.C_GetAttributeValue(h, k, [CKA_START_DATE])),
        'CKR_GENERAL_ERROR',
        'C_GetAttributeValue',
        0x5,
      );
      expect(e.detail).toBeUndefined();
      mod.C_DestroyObject(h, k);
    });
  });

  describe('UTF-8 strings', () => {
    test('a non-ASCII label round-trips byte for byte and can be searched for', async () => {
      const label = 'Schlüssel – 鍵 🔑 ünïcødé';
      const app = `p11bridge-marshal-${process.pid}-ü`;
      const o = mod.C_CreateObject(h, [
        { type: CKA_CLASS, value: CKO_DATA },
        { type: CKA_TOKEN, value: false },
        { type: CKA_LABEL, value: label },
        { type: CKA_APPLICATION, value: app },
      ]);
      const raw = read(o, CKA_LABEL);
      expect(raw).toEqual(Buffer.from(label, 'utf8'));
      expect(raw.length).toBe(Buffer.byteLength(label));
      expect(raw.toString('utf8')).toBe(label);
      // The same bytes given as a Buffer find it; a different normalization does not.
      await mod.C_FindObjectsInitAsync(h, [
        { type: CKA_LABEL, value: Buffer.from(label, 'utf8') },
        { type: CKA_APPLICATION, value: app },
      ]);
      expect(await mod.C_FindObjectsAsync(h)).toEqual([o]);
      await mod.C_FindObjectsFinalAsync(h);
      mod.C_FindObjectsInit(h, [
        { type: CKA_LABEL, value: label.normalize('NFD') },
        { type: CKA_APPLICATION, value: app },
      ]);
      expect(mod.C_FindObjects(h)).toEqual([]);
      mod.C_FindObjectsFinal(h);
      // An empty string is an empty value.
      mod.C_SetAttributeValue(h, o, [{ type: CKA_LABEL, value: '' }]);
      expect(read(o, CKA_LABEL)).toEqual(Buffer.alloc(0));
      mod.C_DestroyObject(h, o);
    });
  });

  describe('CK_ULONG arrays', () => {
    test('CKA_ALLOWED_MECHANISMS from a number[] (with a bigint) reads back as 8-byte little-endian CK_ULONGs, and SoftHSM enforces it', async () => {
      const mechs = [CKM_AES_CBC, CKM_AES_KEY_WRAP, BigInt(CKM_AES_GCM)];
      const k = aesKey([
        { type: CKA_ALLOWED_MECHANISMS, value: mechs },
        { type: CKA_ENCRYPT, value: true },
      ]);
      const [r] = await mod.C_GetAttributeValueAsync(h, k, [CKA_ALLOWED_MECHANISMS]);
      const b = r.value as Buffer;
      expect(b.length).toBe(3 * ULONG_SIZE);
      const decoded = [0, 1, 2].map((i) => b.readBigUInt64LE(i * 8));
      // SoftHSM keeps the list as a set, so it comes back in ascending order.
      expect(decoded).toEqual(mechs.map((m) => BigInt(m)).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      expect(decoded).toEqual([BigInt(CKM_AES_CBC), BigInt(CKM_AES_GCM), BigInt(CKM_AES_KEY_WRAP)]);
      // The module received the list: a mechanism outside it is refused.
      expectPkcs11(
        thrown(() => mod.C_EncryptInit(h, { mechanism: CKM_AES_ECB }, k)),
        'CKR_MECHANISM_INVALID',
        'C_EncryptInit',
        0x70,
      );
      mod.C_EncryptInit(h, { mechanism: CKM_AES_CBC, parameter: Buffer.alloc(16) }, k);
      expect(mod.C_Encrypt(h, Buffer.alloc(32))).toHaveLength(32);
      mod.C_DestroyObject(h, k);
    });

    test('an empty array is a zero-length value (SoftHSM refuses it with CKR_ATTRIBUTE_VALUE_INVALID); a bad element is a RangeError naming it', async () => {
      await expect(
        mod.C_GenerateKeyAsync(h, { mechanism: CKM_AES_KEY_GEN }, [
          { type: CKA_TOKEN, value: false },
          { type: CKA_VALUE_LEN, value: 32 },
          { type: CKA_ALLOWED_MECHANISMS, value: [] },
        ]),
      ).rejects.toMatchObject({ rvName: 'CKR_ATTRIBUTE_VALUE_INVALID', function: 'C_GenerateKey' });
      const e = thrown(() => aesKey([{ type: CKA_ALLOWED_MECHANISMS, value: [CKM_AES_CBC, -3] }]));
      expect(e).toBeInstanceOf(RangeError);
      expect((e as Error).message).toContain('[1]');
      // Without the attribute the key reads an empty list.
      const k = aesKey([]);
      expect(read(k, CKA_ALLOWED_MECHANISMS)).toEqual(Buffer.alloc(0));
      mod.C_DestroyObject(h, k);
    });
  });

  describe('nested templates', () => {
    function wrappingKey(): Ulong {
      return aesKey([
        { type: CKA_WRAP, value: true },
        { type: CKA_UNWRAP, value: true },
        {
          type: CKA_WRAP_TEMPLATE,
          value: [
            { type: CKA_EXTRACTABLE, value: true },
            { type: CKA_VALUE_LEN, value: 16 },
          ],
        },
        {
          type: CKA_UNWRAP_TEMPLATE,
          value: [
            { type: CKA_SENSITIVE, value: true },
            { type: CKA_KEY_TYPE, value: CKK_AES },
            { type: CKA_LABEL, value: 'unwrapped' },
          ],
        },
      ]);
    }

    function byType(rs: AttributeResult[]): Map<number, AttributeResult> {
      return new Map(rs.map((r) => [Number(r.type), r]));
    }

    test('CKA_WRAP_TEMPLATE / CKA_UNWRAP_TEMPLATE read back as arrays of { type, status, value }, sync and async', async () => {
      const k = wrappingKey();
      const sync = mod.C_GetAttributeValue(h, k, [CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_VALUE_LEN]);
      const asyncR = await mod.C_GetAttributeValueAsync(h, k, [{ type: CKA_WRAP_TEMPLATE }, { type: CKA_UNWRAP_TEMPLATE }, { type: CKA_VALUE_LEN }]);
      expect(asyncR).toEqual(sync);
      expect(sync.map((r) => [r.type, r.status])).toEqual([
        [CKA_WRAP_TEMPLATE, 'ok'],
        [CKA_UNWRAP_TEMPLATE, 'ok'],
        [CKA_VALUE_LEN, 'ok'],
      ]);
      const wrap = sync[0].value as AttributeResult[];
      expect(Array.isArray(wrap)).toBe(true);
      expect(wrap).toHaveLength(2);
      const w = byType(wrap);
      expect(w.get(CKA_EXTRACTABLE)).toEqual({ type: CKA_EXTRACTABLE, status: 'ok', value: Buffer.from([1]) });
      expect(w.get(CKA_VALUE_LEN)?.status).toBe('ok');
      expect(ulongOf(w.get(CKA_VALUE_LEN)?.value as Buffer)).toBe(16n);

      const unwrap = sync[1].value as AttributeResult[];
      expect(unwrap).toHaveLength(3);
      const u = byType(unwrap);
      expect(u.get(CKA_SENSITIVE)).toEqual({ type: CKA_SENSITIVE, status: 'ok', value: Buffer.from([1]) });
      expect(ulongOf(u.get(CKA_KEY_TYPE)?.value as Buffer)).toBe(BigInt(CKK_AES));
      expect(u.get(CKA_LABEL)).toEqual({ type: CKA_LABEL, status: 'ok', value: Buffer.from('unwrapped') });
      // The plain attribute next to them is still a Buffer.
      expect(ulongOf(sync[2].value as Buffer)).toBe(32n);
      mod.C_DestroyObject(h, k);
    });

    test('a key without templates reads them as empty arrays; CKA_DERIVE_TEMPLATE (unknown to SoftHSM 2.6) is typeInvalid', () => {
      const k = aesKey([]);
      expect(mod.C_GetAttributeValue(h, k, [CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE])).toEqual([
        { type: CKA_WRAP_TEMPLATE, status: 'ok', value: [] },
        { type: CKA_UNWRAP_TEMPLATE, status: 'ok', value: [] },
        { type: CKA_DERIVE_TEMPLATE, status: 'typeInvalid' },
      ]);
      mod.C_DestroyObject(h, k);
    });

    test('SoftHSM received the nested values: it enforces the wrap template (value_len 16) and the unwrap template (sensitive)', async () => {
      const wk = wrappingKey();
      const extractable: Attribute[] = [
        { type: CKA_EXTRACTABLE, value: true },
        { type: CKA_SENSITIVE, value: false },
      ];
      const k32 = aesKey(extractable, 32);
      const k16 = aesKey(extractable, 16);
      expectPkcs11(
        thrown(() => mod.C_WrapKey(h, { mechanism: CKM_AES_KEY_WRAP }, wk, k32)),
        'CKR_KEY_NOT_WRAPPABLE',
        'C_WrapKey',
        0x69,
      );
      const wrapped = await mod.C_WrapKeyAsync(h, { mechanism: CKM_AES_KEY_WRAP }, wk, k16);
      expect(wrapped).toHaveLength(24);
      const base: Attribute[] = [
        { type: CKA_CLASS, value: CKO_SECRET_KEY },
        { type: CKA_KEY_TYPE, value: CKK_AES },
        { type: CKA_TOKEN, value: false },
        { type: CKA_LABEL, value: 'unwrapped' },
      ];
      expectPkcs11(
        thrown(() => mod.C_UnwrapKey(h, { mechanism: CKM_AES_KEY_WRAP }, wk, wrapped, [...base, { type: CKA_SENSITIVE, value: false }])),
        'CKR_TEMPLATE_INCONSISTENT',
        'C_UnwrapKey',
        0xd1,
      );
      const u = mod.C_UnwrapKey(h, { mechanism: CKM_AES_KEY_WRAP }, wk, wrapped, [...base, { type: CKA_SENSITIVE, value: true }]);
      expect(mod.C_GetAttributeValue(h, u, [CKA_SENSITIVE, CKA_VALUE])).toEqual([
        { type: CKA_SENSITIVE, status: 'ok', value: Buffer.from([1]) },
        { type: CKA_VALUE, status: 'sensitive' },
      ]);
      for (const x of [u, k16, k32, wk]) mod.C_DestroyObject(h, x);
    });

    test('SoftHSM only takes the templates at creation: C_SetAttributeValue answers CKR_ATTRIBUTE_READ_ONLY', async () => {
      const k = wrappingKey();
      await expect(mod.C_SetAttributeValueAsync(h, k, [{ type: CKA_UNWRAP_TEMPLATE, value: [{ type: CKA_SENSITIVE, value: false }] }])).rejects.toMatchObject({
        rvName: 'CKR_ATTRIBUTE_READ_ONLY',
        function: 'C_SetAttributeValue',
      });
      const u = byType(mod.C_GetAttributeValue(h, k, [CKA_UNWRAP_TEMPLATE])[0].value as AttributeResult[]);
      expect(u.get(CKA_SENSITIVE)?.value).toEqual(Buffer.from([1]));
      mod.C_DestroyObject(h, k);
    });

    test('a malformed nested template is a TypeError before the module is called', async () => {
      const t: Attribute[] = [
        { type: CKA_TOKEN, value: false },
        { type: CKA_VALUE_LEN, value: 32 },
        { type: CKA_WRAP_TEMPLATE, value: [{ type: CKA_EXTRACTABLE, value: true }, 5 as never] },
      ];
      expect(thrown(() => mod.C_GenerateKey(h, { mechanism: CKM_AES_KEY_GEN }, t))).toBeInstanceOf(TypeError);
      expect(await rejection(mod.C_GenerateKeyAsync(h, { mechanism: CKM_AES_KEY_GEN }, t))).toBeInstanceOf(TypeError);
    });
  });

  describe('output buffers', () => {
    const data = Buffer.from('the quick brown fox');

    test('C_Digest(h, data, out) writes into out and returns a 32-byte view sharing its memory', () => {
      const out = Buffer.alloc(64, 0xee);
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      const d = mod.C_Digest(h, data, out);
      expect(d).toHaveLength(32);
      expect(Buffer.from(d)).toEqual(sha256(data));
      expect(d.buffer).toBe(out.buffer);
      expect(d.byteOffset).toBe(out.byteOffset);
      expect(out.subarray(0, 32)).toEqual(sha256(data));
      expect(out.subarray(32)).toEqual(Buffer.alloc(32, 0xee));
      d[0] ^= 0xff;
      expect(out[0]).toBe(d[0]);
    });

    test('a caller buffer that is a view at an offset, and a plain Uint8Array', () => {
      const backing = Buffer.alloc(100, 0);
      const out = backing.subarray(10, 60);
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      const d = mod.C_Digest(h, data, out);
      expect(d.byteOffset).toBe(out.byteOffset);
      expect(backing.subarray(10, 42)).toEqual(sha256(data));
      expect(backing.subarray(0, 10)).toEqual(Buffer.alloc(10));
      expect(backing.subarray(42)).toEqual(Buffer.alloc(58));

      const u8 = new Uint8Array(32);
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      const d2 = mod.C_Digest(h, data, u8);
      expect(d2.buffer).toBe(u8.buffer);
      expect(Buffer.from(u8)).toEqual(sha256(data));
    });

    test('a too-small caller buffer gives Pkcs11Error CKR_BUFFER_TOO_SMALL (sync and async), leaves the operation usable', async () => {
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      const small = Buffer.alloc(16, 0x11);
      expectPkcs11(
        thrown(() => mod.C_Digest(h, data, small)),
        'CKR_BUFFER_TOO_SMALL',
        'C_Digest',
        CKR_BUFFER_TOO_SMALL,
      );
      expect(small).toEqual(Buffer.alloc(16, 0x11));
      expectPkcs11(await rejection(mod.C_DigestAsync(h, data, Buffer.alloc(31))), 'CKR_BUFFER_TOO_SMALL', 'C_Digest', CKR_BUFFER_TOO_SMALL);
      // CKR_BUFFER_TOO_SMALL does not end the operation: the same digest can be finished.
      expect(mod.C_Digest(h, data, Buffer.alloc(32))).toEqual(sha256(data));
    });

    test('async with a caller buffer fills it and returns a view of it', async () => {
      const out = Buffer.alloc(48, 0);
      await mod.C_DigestInitAsync(h, { mechanism: CKM_SHA256 });
      const d = await mod.C_DigestAsync(h, data, out);
      expect(d).toHaveLength(32);
      expect(d.buffer).toBe(out.buffer);
      expect(out.subarray(0, 32)).toEqual(sha256(data));
      expect(out.subarray(32)).toEqual(Buffer.alloc(16));
      // Multi-part with a caller buffer for the final part.
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      mod.C_DigestUpdate(h, data.subarray(0, 5));
      await mod.C_DigestUpdateAsync(h, data.subarray(5));
      const fin = Buffer.alloc(32);
      expect(await mod.C_DigestFinalAsync(h, fin)).toEqual(sha256(data));
      expect(fin).toEqual(sha256(data));
      // C_GenerateRandom fills a caller buffer too.
      const r = new Uint8Array(40);
      const got = await mod.C_GenerateRandomAsync(h, r);
      expect(got.buffer).toBe(r.buffer);
      expect(got).toHaveLength(40);
      expect(Buffer.from(r).equals(Buffer.alloc(40))).toBe(false);
    });

    test('an output that is not a Uint8Array is a TypeError', async () => {
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      expect(thrown(() => mod.C_Digest(h, data, new Uint16Array(32) as unknown as Uint8Array))).toBeInstanceOf(TypeError);
      expect(await rejection(mod.C_DigestAsync(h, data, new DataView(new ArrayBuffer(32)) as unknown as Uint8Array))).toBeInstanceOf(TypeError);
      // The digest operation is still there to finish.
      expect(mod.C_Digest(h, data)).toEqual(sha256(data));
    });

    test('module-sized output: a 2048-bit RSA signature is 256 bytes (sync and async) and verifies; caller buffers too small / large enough', async () => {
      const kp = mod.C_GenerateKeyPair(
        h,
        { mechanism: CKM_RSA_PKCS_KEY_PAIR_GEN },
        [
          { type: CKA_TOKEN, value: false },
          { type: CKA_MODULUS_BITS, value: 2048 },
          { type: CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          { type: CKA_VERIFY, value: true },
        ],
        [
          { type: CKA_TOKEN, value: false },
          { type: CKA_SIGN, value: true },
        ],
      );
      expect(read(kp.publicKey, CKA_MODULUS)).toHaveLength(256);
      mod.C_SignInit(h, { mechanism: CKM_SHA256_RSA_PKCS }, kp.privateKey);
      const sig = mod.C_Sign(h, data);
      expect(Buffer.isBuffer(sig)).toBe(true);
      expect(sig).toHaveLength(256);
      await mod.C_SignInitAsync(h, { mechanism: CKM_SHA256_RSA_PKCS }, kp.privateKey);
      const sig2 = await mod.C_SignAsync(h, data);
      // PKCS#1 v1.5 is deterministic.
      expect(sig2).toEqual(sig);
      mod.C_VerifyInit(h, { mechanism: CKM_SHA256_RSA_PKCS }, kp.publicKey);
      expect(mod.C_Verify(h, data, sig)).toBe(true);

      mod.C_SignInit(h, { mechanism: CKM_SHA256_RSA_PKCS }, kp.privateKey);
      expectPkcs11(
        thrown(() => mod.C_Sign(h, data, Buffer.alloc(100))),
        'CKR_BUFFER_TOO_SMALL',
        'C_Sign',
        CKR_BUFFER_TOO_SMALL,
      );
      const big = Buffer.alloc(512);
      const sig3 = mod.C_Sign(h, data, big);
      expect(sig3).toHaveLength(256);
      expect(sig3.buffer).toBe(big.buffer);
      expect(Buffer.from(sig3)).toEqual(sig);
      mod.C_DestroyObject(h, kp.publicKey);
      mod.C_DestroyObject(h, kp.privateKey);
    });
  });
});
