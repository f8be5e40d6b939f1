// Encryption, decryption, digests, signatures and verification on SoftHSM through the raw API,
// every result cross-checked with node:crypto; sync and async forms of each function.
import * as crypto from 'node:crypto';
import { openSoftHSM, userSession } from './helpers/softhsm';
import {
  Pkcs11Error,
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKM_AES_CBC_PAD,
  CKM_RSA_PKCS,
  CKM_RSA_PKCS_OAEP,
  CKM_SHA256,
  CKM_SHA256_RSA_PKCS,
  CKM_SHA256_HMAC,
  CKM_ECDSA,
  CKM_SHA_1,
  CKG_MGF1_SHA1,
  CKZ_DATA_SPECIFIED,
  CKA_SENSITIVE,
  CKA_EXTRACTABLE,
  CKR_BUFFER_TOO_SMALL,
  CKR_FUNCTION_NOT_SUPPORTED,
  CKR_KEY_INDIGESTIBLE,
  CKR_SIGNATURE_LEN_RANGE,
} from '../lib/raw';
import type { Ulong, KeyPair, FunctionName } from '../lib/raw';
import {
  createAesKey,
  createGenericSecret,
  generateRsa,
  generateEc,
  rsaPublicKey,
  ecPublicKey,
  importRsaPublicKey,
  oaepParams,
  boolAttr,
  expectPkcs11Throw,
  expectPkcs11Reject,
} from './helpers/keys';

const sha256 = (...parts: Buffer[]): Buffer => {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function nodeCbcEncrypt(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const c = crypto.createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

function nodeCbcDecrypt(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const d = crypto.createDecipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([d.update(data), d.final()]);
}

/** Splits data at the given offsets. */
function chunks(data: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, data.length]) {
    out.push(data.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** PKCS#1 v1.5 type 2 unpadding (node's privateDecrypt refuses RSA_PKCS1_PADDING since CVE-2023-46809). */
function unpadPkcs1Type2(em: Buffer): Buffer {
  expect(em[0]).toBe(0x00);
  expect(em[1]).toBe(0x02);
  const sep = em.indexOf(0x00, 2);
  expect(sep).toBeGreaterThanOrEqual(10); // at least 8 non-zero padding bytes
  return em.subarray(sep + 1);
}

/** Same memory as `out` (a trimmed view of the caller's buffer, not a copy). */
function expectViewOf(result: Uint8Array, out: Uint8Array): void {
  expect(result.buffer).toBe(out.buffer);
  expect(result.byteOffset).toBe(out.byteOffset);
}

describe('crypto functions on SoftHSM (AES-CBC-PAD, RSA, ECDSA, HMAC, SHA-256)', () => {
  const env = openSoftHSM();
  const mod = env.mod;
  let owner: Ulong; // holds the session objects for the whole file
  let s: Ulong; // a fresh session per test, so a failure cannot leave an operation active for the next

  const aesValue = crypto.randomBytes(32);
  const hmacValue = crypto.randomBytes(40);
  let aes: Ulong;
  let aesSensitive: Ulong;
  let hmac: Ulong;
  let rsa: KeyPair;
  let rsaPub: crypto.KeyObject;
  let ec: KeyPair;
  let ecPub: crypto.KeyObject;
  const nodeRsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  let nodeRsaOnToken: Ulong;

  beforeAll(() => {
    owner = userSession(env);
    aes = createAesKey(mod, owner, aesValue);
    aesSensitive = createAesKey(mod, owner, aesValue, [
      { type: CKA_SENSITIVE, value: true },
      { type: CKA_EXTRACTABLE, value: false },
    ]);
    hmac = createGenericSecret(mod, owner, hmacValue);
    rsa = generateRsa(mod, owner, 2048);
    rsaPub = rsaPublicKey(mod, owner, rsa.publicKey);
    ec = generateEc(mod, owner);
    ecPub = ecPublicKey(mod, owner, ec.publicKey);
    nodeRsaOnToken = importRsaPublicKey(mod, owner, nodeRsa.publicKey);
  });
  afterAll(() => {
    mod.C_CloseSession(owner);
    env.close();
  });
  beforeEach(() => {
    s = mod.C_OpenSession(env.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
  });
  afterEach(() => {
    mod.C_CloseSession(s);
  });

  describe('AES-256-CBC-PAD with a key of known value', () => {
    const lengths = [0, 1, 15, 16, 17, 100, 4096 + 3];

    test('C_EncryptInit / C_Encrypt and C_DecryptInit / C_Decrypt single-part, sync, match node aes-256-cbc', () => {
      for (const n of lengths) {
        const iv = crypto.randomBytes(16);
        const pt = crypto.randomBytes(n);
        mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
        const ct = mod.C_Encrypt(s, pt);
        expect(Buffer.isBuffer(ct)).toBe(true);
        expect(ct.length).toBe((Math.floor(n / 16) + 1) * 16);
        expect(ct).toEqual(nodeCbcEncrypt(aesValue, iv, pt));

        const other = crypto.randomBytes(n);
        const otherCt = nodeCbcEncrypt(aesValue, iv, other);
        mod.C_DecryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
        expect(mod.C_Decrypt(s, otherCt)).toEqual(other);
      }
    });

    test('C_EncryptInitAsync / C_EncryptAsync and C_DecryptInitAsync / C_DecryptAsync single-part match node', async () => {
      for (const n of lengths) {
        const iv = crypto.randomBytes(16);
        const pt = crypto.randomBytes(n);
        await expect(mod.C_EncryptInitAsync(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes)).resolves.toBeUndefined();
        const ct = await mod.C_EncryptAsync(s, pt);
        expect(ct).toEqual(nodeCbcEncrypt(aesValue, iv, pt));

        const other = crypto.randomBytes(n);
        await mod.C_DecryptInitAsync(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
        expect(await mod.C_DecryptAsync(s, nodeCbcEncrypt(aesValue, iv, other))).toEqual(other);
      }
    });

    test('C_EncryptUpdate / C_EncryptFinal and C_DecryptUpdate / C_DecryptFinal multi-part, sync', () => {
      const iv = crypto.randomBytes(16);
      const pt = crypto.randomBytes(100);
      mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      const parts: Buffer[] = [];
      for (const c of chunks(pt, [7, 40, 41, 96])) {
        const o = mod.C_EncryptUpdate(s, c);
        expect(o.length % 16).toBe(0);
        parts.push(o);
      }
      const last = mod.C_EncryptFinal(s);
      expect(last.length).toBe(16);
      parts.push(last);
      const ct = Buffer.concat(parts);
      expect(ct).toEqual(nodeCbcEncrypt(aesValue, iv, pt));

      // Decrypt a node ciphertext in uneven pieces.
      const other = crypto.randomBytes(77);
      const otherCt = nodeCbcEncrypt(aesValue, iv, other);
      mod.C_DecryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      const out: Buffer[] = [];
      for (const c of chunks(otherCt, [5, 16, 33, 64])) out.push(mod.C_DecryptUpdate(s, c));
      out.push(mod.C_DecryptFinal(s));
      expect(Buffer.concat(out)).toEqual(other);
    });

    test('C_EncryptUpdateAsync / C_EncryptFinalAsync and C_DecryptUpdateAsync / C_DecryptFinalAsync multi-part', async () => {
      const iv = crypto.randomBytes(16);
      const pt = crypto.randomBytes(1000);
      await mod.C_EncryptInitAsync(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      const parts: Buffer[] = [];
      for (const c of chunks(pt, [1, 17, 500, 999])) parts.push(await mod.C_EncryptUpdateAsync(s, c));
      parts.push(await mod.C_EncryptFinalAsync(s));
      expect(Buffer.concat(parts)).toEqual(nodeCbcEncrypt(aesValue, iv, pt));

      const ct = nodeCbcEncrypt(aesValue, iv, pt);
      await mod.C_DecryptInitAsync(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      const out: Buffer[] = [];
      for (const c of chunks(ct, [3, 300, 1008])) out.push(await mod.C_DecryptUpdateAsync(s, c));
      out.push(await mod.C_DecryptFinalAsync(s));
      expect(Buffer.concat(out)).toEqual(pt);
    });

    test('the token decrypts its own multi-part ciphertext and node decrypts it too', () => {
      const iv = crypto.randomBytes(16);
      const pt = Buffer.from('multi-part round trip through the token and node '.repeat(5));
      mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      const ct = Buffer.concat([mod.C_EncryptUpdate(s, pt.subarray(0, 33)), mod.C_EncryptUpdate(s, pt.subarray(33)), mod.C_EncryptFinal(s)]);
      expect(nodeCbcDecrypt(aesValue, iv, ct)).toEqual(pt);
      mod.C_DecryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      expect(mod.C_Decrypt(s, ct)).toEqual(pt);
    });

    test('C_Encrypt into a caller buffer (sync): written in place, a trimmed view of that buffer returned', () => {
      const iv = crypto.randomBytes(16);
      const pt = crypto.randomBytes(40);
      const expected = nodeCbcEncrypt(aesValue, iv, pt);
      const out = Buffer.alloc(100, 0xee);
      mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      const ct = mod.C_Encrypt(s, pt, out);
      expect(ct.length).toBe(48);
      expect(ct).toEqual(expected);
      expectViewOf(ct, out);
      expect(out.subarray(0, 48)).toEqual(expected);
      expect(out.subarray(48)).toEqual(Buffer.alloc(52, 0xee)); // nothing written past the output

      // A plain Uint8Array works as well.
      const u8 = new Uint8Array(64);
      mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      const ct2 = mod.C_Encrypt(s, pt, u8);
      expect(Buffer.from(ct2)).toEqual(expected);
      expectViewOf(ct2, u8);
    });

    test('C_EncryptAsync into a caller buffer: the buffer is filled when the promise settles', async () => {
      const iv = crypto.randomBytes(16);
      const pt = crypto.randomBytes(33);
      const expected = nodeCbcEncrypt(aesValue, iv, pt);
      const out = Buffer.alloc(80, 0xee);
      await mod.C_EncryptInitAsync(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      const ct = await mod.C_EncryptAsync(s, pt, out);
      expect(ct).toEqual(expected);
      expectViewOf(ct, out);
      expect(out.subarray(0, expected.length)).toEqual(expected);
      expect(out.subarray(expected.length)).toEqual(Buffer.alloc(80 - expected.length, 0xee));
    });

    test('a too-small caller buffer gives CKR_BUFFER_TOO_SMALL and leaves the operation active (sync and async)', async () => {
      const iv = crypto.randomBytes(16);
      const pt = crypto.randomBytes(20);
      const expected = nodeCbcEncrypt(aesValue, iv, pt);
      mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      expectPkcs11Throw(() => mod.C_Encrypt(s, pt, Buffer.alloc(16)), 'CKR_BUFFER_TOO_SMALL', CKR_BUFFER_TOO_SMALL, 'C_Encrypt');
      await expectPkcs11Reject(mod.C_EncryptAsync(s, pt, Buffer.alloc(31)), 'CKR_BUFFER_TOO_SMALL', CKR_BUFFER_TOO_SMALL, 'C_Encrypt');
      expect(await mod.C_EncryptAsync(s, pt, Buffer.alloc(32))).toEqual(expected);
    });

    test('C_EncryptUpdate / C_EncryptFinal / C_DecryptUpdate / C_DecryptFinal into caller buffers', () => {
      const iv = crypto.randomBytes(16);
      const pt = crypto.randomBytes(20);
      const expected = nodeCbcEncrypt(aesValue, iv, pt);
      mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      const o1 = Buffer.alloc(64);
      const o2 = Buffer.alloc(64);
      const a = mod.C_EncryptUpdate(s, pt, o1);
      const b = mod.C_EncryptFinal(s, o2);
      expectViewOf(a, o1);
      expectViewOf(b, o2);
      expect(Buffer.concat([a, b])).toEqual(expected);

      mod.C_DecryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      const d1 = Buffer.alloc(64);
      const d2 = Buffer.alloc(16); // SoftHSM wants a whole block for the padded last block
      const x = mod.C_DecryptUpdate(s, expected, d1);
      const y = mod.C_DecryptFinal(s, d2);
      expectViewOf(y, d2);
      expect(Buffer.concat([x, y])).toEqual(pt);
    });
  });

  describe('RSA PKCS#1 v1.5 and OAEP', () => {
    test('node publicEncrypt (RSA_PKCS1_PADDING) → C_DecryptInit / C_Decrypt with CKM_RSA_PKCS on the token (sync)', () => {
      for (const msg of [Buffer.from('hello token'), crypto.randomBytes(200), Buffer.alloc(0)]) {
        const ct = crypto.publicEncrypt({ key: rsaPub, padding: crypto.constants.RSA_PKCS1_PADDING }, msg);
        mod.C_DecryptInit(s, { mechanism: CKM_RSA_PKCS }, rsa.privateKey);
        expect(mod.C_Decrypt(s, ct)).toEqual(msg);
      }
    });

    test('node publicEncrypt → C_DecryptInitAsync / C_DecryptAsync (CKM_RSA_PKCS)', async () => {
      const msg = crypto.randomBytes(100);
      const ct = crypto.publicEncrypt({ key: rsaPub, padding: crypto.constants.RSA_PKCS1_PADDING }, msg);
      await mod.C_DecryptInitAsync(s, { mechanism: CKM_RSA_PKCS }, rsa.privateKey);
      expect(await mod.C_DecryptAsync(s, ct)).toEqual(msg);
    });

    test('C_Encrypt with CKM_RSA_PKCS under a node key imported as public key: node (raw RSA) recovers the message', async () => {
      const msg = Buffer.from('pkcs1 v1.5 from the token');
      mod.C_EncryptInit(s, { mechanism: CKM_RSA_PKCS }, nodeRsaOnToken);
      const ct = mod.C_Encrypt(s, msg);
      expect(ct.length).toBe(256);
      const em = crypto.privateDecrypt({ key: nodeRsa.privateKey, padding: crypto.constants.RSA_NO_PADDING }, ct);
      expect(unpadPkcs1Type2(em)).toEqual(msg);

      await mod.C_EncryptInitAsync(s, { mechanism: CKM_RSA_PKCS }, nodeRsaOnToken);
      const ct2 = await mod.C_EncryptAsync(s, msg);
      expect(ct2).not.toEqual(ct); // random padding
      expect(unpadPkcs1Type2(crypto.privateDecrypt({ key: nodeRsa.privateKey, padding: crypto.constants.RSA_NO_PADDING }, ct2))).toEqual(msg);
    });

    test('C_Encrypt with CKM_RSA_PKCS_OAEP (SHA-1, raw parameter struct): node privateDecrypt recovers it, sync and async', async () => {
      const param = oaepParams(Number(CKM_SHA_1), Number(CKG_MGF1_SHA1), Number(CKZ_DATA_SPECIFIED));
      const msg = Buffer.from('oaep from the token');
      const nodeOpts = { key: nodeRsa.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' };
      mod.C_EncryptInit(s, { mechanism: CKM_RSA_PKCS_OAEP, parameter: param }, nodeRsaOnToken);
      expect(crypto.privateDecrypt(nodeOpts, mod.C_Encrypt(s, msg))).toEqual(msg);
      await mod.C_EncryptInitAsync(s, { mechanism: CKM_RSA_PKCS_OAEP, parameter: param }, nodeRsaOnToken);
      expect(crypto.privateDecrypt(nodeOpts, await mod.C_EncryptAsync(s, msg))).toEqual(msg);
    });
  });

  describe('SHA-256 digests', () => {
    const inputs = [Buffer.alloc(0), Buffer.from('abc'), crypto.randomBytes(4095), crypto.randomBytes(4096), crypto.randomBytes(1 << 20)];

    test('C_DigestInit / C_Digest (sync, including borrowed large inputs) equal createHash', () => {
      for (const data of inputs) {
        mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
        expect(mod.C_Digest(s, data)).toEqual(sha256(data));
      }
      // Views with an offset, other TypedArrays, DataView and ArrayBuffer hash the bytes they cover.
      const big = crypto.randomBytes(10000);
      const view = big.subarray(123, 123 + 5000);
      mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
      expect(mod.C_Digest(s, view)).toEqual(sha256(view));
      const u32 = new Uint32Array(big.buffer, big.byteOffset + 16, 1000); // 4000 bytes
      mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
      expect(mod.C_Digest(s, u32)).toEqual(sha256(big.subarray(16, 4016)));
      const dv = new DataView(big.buffer, big.byteOffset + 7, 33);
      mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
      expect(mod.C_Digest(s, dv)).toEqual(sha256(big.subarray(7, 40)));
      const ab = new Uint8Array([1, 2, 3, 4, 5]).buffer;
      mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
      expect(mod.C_Digest(s, ab)).toEqual(sha256(Buffer.from([1, 2, 3, 4, 5])));
    });

    test('C_DigestInitAsync / C_DigestAsync equal createHash', async () => {
      for (const data of inputs) {
        await expect(mod.C_DigestInitAsync(s, { mechanism: CKM_SHA256 })).resolves.toBeUndefined();
        expect(await mod.C_DigestAsync(s, data)).toEqual(sha256(data));
      }
    });

    test('C_Digest into a caller buffer, sync and async', async () => {
      const data = Buffer.from('digest into out');
      const out = Buffer.alloc(40, 1);
      mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
      const d = mod.C_Digest(s, data, out);
      expect(d).toEqual(sha256(data));
      expectViewOf(d, out);
      const out2 = Buffer.alloc(32);
      await mod.C_DigestInitAsync(s, { mechanism: CKM_SHA256 });
      const d2 = await mod.C_DigestAsync(s, data, out2);
      expect(out2).toEqual(sha256(data));
      expectViewOf(d2, out2);
    });

    test('C_DigestUpdate / C_DigestFinal multi-part, sync and async', async () => {
      const big = inputs[4];
      const parts = chunks(big, [0, 1, 4096, 70000, 500000]);
      mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
      for (const p of parts) expect(mod.C_DigestUpdate(s, p)).toBeUndefined();
      expect(mod.C_DigestFinal(s)).toEqual(sha256(big));

      await mod.C_DigestInitAsync(s, { mechanism: CKM_SHA256 });
      for (const p of parts) await expect(mod.C_DigestUpdateAsync(s, p)).resolves.toBeUndefined();
      expect(await mod.C_DigestFinalAsync(s)).toEqual(sha256(big));
    });

    test('C_DigestKey hashes the key value in sequence with the data, sync and async', async () => {
      const pre = Buffer.from('prefix:');
      const post = Buffer.from(':suffix');
      const expected = sha256(pre, aesValue, post);
      expect(boolAttr(mod, s, aes, CKA_SENSITIVE)).toBe(false);

      mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
      mod.C_DigestUpdate(s, pre);
      expect(mod.C_DigestKey(s, aes)).toBeUndefined();
      mod.C_DigestUpdate(s, post);
      expect(mod.C_DigestFinal(s)).toEqual(expected);

      await mod.C_DigestInitAsync(s, { mechanism: CKM_SHA256 });
      await mod.C_DigestUpdateAsync(s, pre);
      await expect(mod.C_DigestKeyAsync(s, aes)).resolves.toBeUndefined();
      await mod.C_DigestUpdateAsync(s, post);
      expect(await mod.C_DigestFinalAsync(s)).toEqual(expected);
    });

    test('SoftHSM also digests a sensitive, non-extractable secret key (same hash as its value)', async () => {
      expect(boolAttr(mod, s, aesSensitive, CKA_SENSITIVE)).toBe(true);
      expect(boolAttr(mod, s, aesSensitive, CKA_EXTRACTABLE)).toBe(false);
      mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
      mod.C_DigestKey(s, aesSensitive);
      expect(mod.C_DigestFinal(s)).toEqual(sha256(aesValue));
      await mod.C_DigestInitAsync(s, { mechanism: CKM_SHA256 });
      await mod.C_DigestKeyAsync(s, aesSensitive);
      expect(await mod.C_DigestFinalAsync(s)).toEqual(sha256(aesValue));
    });

    test('C_DigestKey on keys without CKA_VALUE (RSA private, EC public): CKR_KEY_INDIGESTIBLE, sync and async; the digest stays usable', async () => {
      mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
      mod.C_DigestUpdate(s, Buffer.from('a'));
      expectPkcs11Throw(() => mod.C_DigestKey(s, rsa.privateKey), 'CKR_KEY_INDIGESTIBLE', CKR_KEY_INDIGESTIBLE, 'C_DigestKey');
      await expectPkcs11Reject(mod.C_DigestKeyAsync(s, ec.publicKey), 'CKR_KEY_INDIGESTIBLE', CKR_KEY_INDIGESTIBLE, 'C_DigestKey');
      mod.C_DigestUpdate(s, Buffer.from('b'));
      expect(mod.C_DigestFinal(s)).toEqual(sha256(Buffer.from('ab')));
    });
  });

  describe('signatures verified with node:crypto', () => {
    const data = Buffer.from('the quick brown fox jumps over the lazy dog '.repeat(30));

    test('CKM_ECDSA over a SHA-256 hash: C_SignInit / C_Sign (sync) verify as ieee-p1363 with node', () => {
      for (let i = 0; i < 3; i++) {
        const msg = crypto.randomBytes(50 + i);
        mod.C_SignInit(s, { mechanism: CKM_ECDSA }, ec.privateKey);
        const sig = mod.C_Sign(s, sha256(msg));
        expect(sig.length).toBe(64);
        expect(crypto.verify('sha256', msg, { key: ecPub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
        expect(crypto.verify('sha256', Buffer.concat([msg, Buffer.from('x')]), { key: ecPub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(false);
      }
    });

    test('CKM_ECDSA: C_SignInitAsync / C_SignAsync verify with node', async () => {
      await expect(mod.C_SignInitAsync(s, { mechanism: CKM_ECDSA }, ec.privateKey)).resolves.toBeUndefined();
      const sig = await mod.C_SignAsync(s, sha256(data));
      expect(crypto.verify('sha256', data, { key: ecPub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    });

    test('C_Sign into a caller buffer, sync and async (ECDSA, 64-byte r||s)', async () => {
      const out = Buffer.alloc(100, 0xaa);
      mod.C_SignInit(s, { mechanism: CKM_ECDSA }, ec.privateKey);
      const sig = mod.C_Sign(s, sha256(data), out);
      expectViewOf(sig, out);
      expect(sig.length).toBe(64);
      expect(out.subarray(64)).toEqual(Buffer.alloc(36, 0xaa));
      expect(crypto.verify('sha256', data, { key: ecPub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);

      const out2 = new Uint8Array(64);
      await mod.C_SignInitAsync(s, { mechanism: CKM_ECDSA }, ec.privateKey);
      const sig2 = await mod.C_SignAsync(s, sha256(data), out2);
      expectViewOf(sig2, out2);
      expect(crypto.verify('sha256', data, { key: ecPub, dsaEncoding: 'ieee-p1363' }, out2)).toBe(true);
    });

    test('C_Sign with a too-small caller buffer: CKR_BUFFER_TOO_SMALL, then the same operation signs (sync and async)', async () => {
      mod.C_SignInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.privateKey);
      expectPkcs11Throw(() => mod.C_Sign(s, data, Buffer.alloc(255)), 'CKR_BUFFER_TOO_SMALL', CKR_BUFFER_TOO_SMALL, 'C_Sign');
      await expectPkcs11Reject(mod.C_SignAsync(s, data, Buffer.alloc(10)), 'CKR_BUFFER_TOO_SMALL', CKR_BUFFER_TOO_SMALL, 'C_Sign');
      const out = Buffer.alloc(512);
      const sig = await mod.C_SignAsync(s, data, out);
      expect(sig.length).toBe(256);
      expectViewOf(sig, out);
      expect(crypto.verify('sha256', data, rsaPub, sig)).toBe(true);
    });

    test('CKM_SHA256_RSA_PKCS: C_Sign (sync) and C_SignAsync verify with node, and are deterministic', async () => {
      mod.C_SignInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.privateKey);
      const sig = mod.C_Sign(s, data);
      expect(sig.length).toBe(256);
      expect(crypto.verify('sha256', data, rsaPub, sig)).toBe(true);
      await mod.C_SignInitAsync(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.privateKey);
      const sig2 = await mod.C_SignAsync(s, data);
      expect(sig2).toEqual(sig);
    });

    test('CKM_SHA256_RSA_PKCS multi-part: C_SignUpdate / C_SignFinal (sync and async) equal the single-part signature', async () => {
      mod.C_SignInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.privateKey);
      const single = mod.C_Sign(s, data);

      mod.C_SignInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.privateKey);
      for (const p of chunks(data, [10, 11, 700])) expect(mod.C_SignUpdate(s, p)).toBeUndefined();
      const multi = mod.C_SignFinal(s);
      expect(multi).toEqual(single);
      expect(crypto.verify('sha256', data, rsaPub, multi)).toBe(true);

      await mod.C_SignInitAsync(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.privateKey);
      for (const p of chunks(data, [1, 500])) await expect(mod.C_SignUpdateAsync(s, p)).resolves.toBeUndefined();
      expect(await mod.C_SignFinalAsync(s)).toEqual(single);

      // C_SignFinal into a caller buffer
      const out = Buffer.alloc(300);
      mod.C_SignInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.privateKey);
      mod.C_SignUpdate(s, data);
      const viaOut = mod.C_SignFinal(s, out);
      expectViewOf(viaOut, out);
      expect(viaOut).toEqual(single);
    });

    test('CKM_SHA256_HMAC on a generic secret of known value equals createHmac (single- and multi-part, sync and async)', async () => {
      const expected = crypto.createHmac('sha256', hmacValue).update(data).digest();
      mod.C_SignInit(s, { mechanism: CKM_SHA256_HMAC }, hmac);
      expect(mod.C_Sign(s, data)).toEqual(expected);
      await mod.C_SignInitAsync(s, { mechanism: CKM_SHA256_HMAC }, hmac);
      expect(await mod.C_SignAsync(s, data)).toEqual(expected);

      mod.C_SignInit(s, { mechanism: CKM_SHA256_HMAC }, hmac);
      for (const p of chunks(data, [3, 64, 65])) mod.C_SignUpdate(s, p);
      expect(mod.C_SignFinal(s)).toEqual(expected);
      await mod.C_SignInitAsync(s, { mechanism: CKM_SHA256_HMAC }, hmac);
      for (const p of chunks(data, [100])) await mod.C_SignUpdateAsync(s, p);
      expect(await mod.C_SignFinalAsync(s)).toEqual(expected);
    });
  });

  describe('verification: true, false for CKR_SIGNATURE_INVALID, throws for other failures', () => {
    const data = Buffer.from('verify me please');
    const tamper = (b: Buffer): Buffer => {
      const t = Buffer.from(b);
      t[t.length >> 1] ^= 0x01;
      return t;
    };

    test('RSA C_VerifyInit / C_Verify (sync): token signature true, node signature on an imported key true, tampered false', () => {
      mod.C_SignInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.privateKey);
      const sig = mod.C_Sign(s, data);
      expect(mod.C_VerifyInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.publicKey)).toBeUndefined();
      expect(mod.C_Verify(s, data, sig)).toBe(true);
      mod.C_VerifyInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.publicKey);
      expect(mod.C_Verify(s, data, tamper(sig))).toBe(false);
      mod.C_VerifyInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.publicKey);
      expect(mod.C_Verify(s, Buffer.from('verify me pleasE'), sig)).toBe(false);

      const nodeSig = crypto.sign('sha256', data, nodeRsa.privateKey);
      mod.C_VerifyInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, nodeRsaOnToken);
      expect(mod.C_Verify(s, data, nodeSig)).toBe(true);
      mod.C_VerifyInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, nodeRsaOnToken);
      expect(mod.C_Verify(s, data, tamper(nodeSig))).toBe(false);
    });

    test('RSA C_VerifyInitAsync / C_VerifyAsync: true and false', async () => {
      const nodeSig = crypto.sign('sha256', data, nodeRsa.privateKey);
      await expect(mod.C_VerifyInitAsync(s, { mechanism: CKM_SHA256_RSA_PKCS }, nodeRsaOnToken)).resolves.toBeUndefined();
      await expect(mod.C_VerifyAsync(s, data, nodeSig)).resolves.toBe(true);
      await mod.C_VerifyInitAsync(s, { mechanism: CKM_SHA256_RSA_PKCS }, nodeRsaOnToken);
      await expect(mod.C_VerifyAsync(s, data, tamper(nodeSig))).resolves.toBe(false);
    });

    test('RSA C_VerifyUpdate / C_VerifyFinal, sync and async: true and false', async () => {
      const nodeSig = crypto.sign('sha256', data, nodeRsa.privateKey);
      mod.C_VerifyInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, nodeRsaOnToken);
      for (const p of chunks(data, [4, 9])) expect(mod.C_VerifyUpdate(s, p)).toBeUndefined();
      expect(mod.C_VerifyFinal(s, nodeSig)).toBe(true);
      mod.C_VerifyInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, nodeRsaOnToken);
      mod.C_VerifyUpdate(s, data);
      expect(mod.C_VerifyFinal(s, tamper(nodeSig))).toBe(false);

      await mod.C_VerifyInitAsync(s, { mechanism: CKM_SHA256_RSA_PKCS }, nodeRsaOnToken);
      for (const p of chunks(data, [8])) await expect(mod.C_VerifyUpdateAsync(s, p)).resolves.toBeUndefined();
      await expect(mod.C_VerifyFinalAsync(s, nodeSig)).resolves.toBe(true);
      await mod.C_VerifyInitAsync(s, { mechanism: CKM_SHA256_RSA_PKCS }, nodeRsaOnToken);
      await mod.C_VerifyUpdateAsync(s, data);
      await expect(mod.C_VerifyFinalAsync(s, tamper(nodeSig))).resolves.toBe(false);
    });

    test('RSA signature of the wrong length: SoftHSM answers CKR_SIGNATURE_LEN_RANGE, thrown as Pkcs11Error (not false)', async () => {
      const short = Buffer.alloc(255, 1);
      mod.C_VerifyInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.publicKey);
      expectPkcs11Throw(() => mod.C_Verify(s, data, short), 'CKR_SIGNATURE_LEN_RANGE', CKR_SIGNATURE_LEN_RANGE, 'C_Verify');
      await mod.C_VerifyInitAsync(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.publicKey);
      await expectPkcs11Reject(mod.C_VerifyAsync(s, data, Buffer.alloc(257)), 'CKR_SIGNATURE_LEN_RANGE', CKR_SIGNATURE_LEN_RANGE, 'C_Verify');

      mod.C_VerifyInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.publicKey);
      mod.C_VerifyUpdate(s, data);
      expectPkcs11Throw(() => mod.C_VerifyFinal(s, Buffer.alloc(10)), 'CKR_SIGNATURE_LEN_RANGE', CKR_SIGNATURE_LEN_RANGE, 'C_VerifyFinal');
      await mod.C_VerifyInitAsync(s, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.publicKey);
      await mod.C_VerifyUpdateAsync(s, data);
      await expectPkcs11Reject(mod.C_VerifyFinalAsync(s, Buffer.alloc(0)), 'CKR_SIGNATURE_LEN_RANGE', CKR_SIGNATURE_LEN_RANGE, 'C_VerifyFinal');
    });

    test('ECDSA C_Verify: good true, tampered false, wrong length CKR_SIGNATURE_LEN_RANGE (sync and async)', async () => {
      const h = sha256(data);
      mod.C_SignInit(s, { mechanism: CKM_ECDSA }, ec.privateKey);
      const sig = mod.C_Sign(s, h);
      mod.C_VerifyInit(s, { mechanism: CKM_ECDSA }, ec.publicKey);
      expect(mod.C_Verify(s, h, sig)).toBe(true);
      await mod.C_VerifyInitAsync(s, { mechanism: CKM_ECDSA }, ec.publicKey);
      await expect(mod.C_VerifyAsync(s, h, tamper(sig))).resolves.toBe(false);
      mod.C_VerifyInit(s, { mechanism: CKM_ECDSA }, ec.publicKey);
      expectPkcs11Throw(() => mod.C_Verify(s, h, sig.subarray(0, 63)), 'CKR_SIGNATURE_LEN_RANGE', CKR_SIGNATURE_LEN_RANGE, 'C_Verify');
      // A node-made P-256 signature with a token-imported key is covered by key.test.ts; here the
      // token verifies its own signature over node's digest of the same data.
      await mod.C_VerifyInitAsync(s, { mechanism: CKM_ECDSA }, ec.publicKey);
      await expect(mod.C_VerifyAsync(s, crypto.createHash('sha256').update(data).digest(), sig)).resolves.toBe(true);
    });

    test('HMAC C_Verify / C_VerifyFinal of a node createHmac tag: true, tampered false, sync and async', async () => {
      const tag = crypto.createHmac('sha256', hmacValue).update(data).digest();
      mod.C_VerifyInit(s, { mechanism: CKM_SHA256_HMAC }, hmac);
      expect(mod.C_Verify(s, data, tag)).toBe(true);
      mod.C_VerifyInit(s, { mechanism: CKM_SHA256_HMAC }, hmac);
      expect(mod.C_Verify(s, data, tamper(tag))).toBe(false);
      await mod.C_VerifyInitAsync(s, { mechanism: CKM_SHA256_HMAC }, hmac);
      await expect(mod.C_VerifyAsync(s, data, tag)).resolves.toBe(true);

      mod.C_VerifyInit(s, { mechanism: CKM_SHA256_HMAC }, hmac);
      mod.C_VerifyUpdate(s, data.subarray(0, 5));
      mod.C_VerifyUpdate(s, data.subarray(5));
      expect(mod.C_VerifyFinal(s, tag)).toBe(true);
      await mod.C_VerifyInitAsync(s, { mechanism: CKM_SHA256_HMAC }, hmac);
      await mod.C_VerifyUpdateAsync(s, data);
      await expect(mod.C_VerifyFinalAsync(s, tamper(tag))).resolves.toBe(false);
    });
  });

  describe('functions SoftHSM 2.6.1 does not implement', () => {
    // SoftHSM lists them (has() is true), so the code comes from the module, not the bridge's precheck.
    const cases: Array<{ fn: FunctionName; call: (s: Ulong, async: boolean) => unknown }> = [
      {
        fn: 'C_SignRecoverInit',
        call: (h, a) => (a ? mod.C_SignRecoverInitAsync(h, { mechanism: CKM_RSA_PKCS }, rsa.privateKey) : mod.C_SignRecoverInit(h, { mechanism: CKM_RSA_PKCS }, rsa.privateKey)),
      },
      { fn: 'C_SignRecover', call: (h, a) => (a ? mod.C_SignRecoverAsync(h, Buffer.from('abc')) : mod.C_SignRecover(h, Buffer.from('abc'))) },
      {
        fn: 'C_VerifyRecoverInit',
        call: (h, a) => (a ? mod.C_VerifyRecoverInitAsync(h, { mechanism: CKM_RSA_PKCS }, rsa.publicKey) : mod.C_VerifyRecoverInit(h, { mechanism: CKM_RSA_PKCS }, rsa.publicKey)),
      },
      { fn: 'C_VerifyRecover', call: (h, a) => (a ? mod.C_VerifyRecoverAsync(h, Buffer.alloc(256, 1)) : mod.C_VerifyRecover(h, Buffer.alloc(256, 1))) },
      { fn: 'C_DigestEncryptUpdate', call: (h, a) => (a ? mod.C_DigestEncryptUpdateAsync(h, Buffer.alloc(16)) : mod.C_DigestEncryptUpdate(h, Buffer.alloc(16))) },
      { fn: 'C_DecryptDigestUpdate', call: (h, a) => (a ? mod.C_DecryptDigestUpdateAsync(h, Buffer.alloc(16)) : mod.C_DecryptDigestUpdate(h, Buffer.alloc(16))) },
      { fn: 'C_SignEncryptUpdate', call: (h, a) => (a ? mod.C_SignEncryptUpdateAsync(h, Buffer.alloc(16)) : mod.C_SignEncryptUpdate(h, Buffer.alloc(16))) },
      { fn: 'C_DecryptVerifyUpdate', call: (h, a) => (a ? mod.C_DecryptVerifyUpdateAsync(h, Buffer.alloc(16)) : mod.C_DecryptVerifyUpdate(h, Buffer.alloc(16))) },
    ];

    test.each(cases.map((c) => [c.fn, c] as const))('%s: CKR_FUNCTION_NOT_SUPPORTED from the module, sync and async', async (_name, c) => {
      expect(mod.has(c.fn)).toBe(true);
      const e = expectPkcs11Throw(() => c.call(s, false), 'CKR_FUNCTION_NOT_SUPPORTED', CKR_FUNCTION_NOT_SUPPORTED, c.fn);
      expect(e.detail).toBeUndefined();
      expect(e.message).toBe(`${c.fn} failed: CKR_FUNCTION_NOT_SUPPORTED (0x54)`);
      const p = c.call(s, true) as Promise<unknown>;
      expect(typeof (p as { then?: unknown }).then).toBe('function'); // a promise (from the addon's realm)
      const ea = await expectPkcs11Reject(p, 'CKR_FUNCTION_NOT_SUPPORTED', CKR_FUNCTION_NOT_SUPPORTED, c.fn);
      expect(ea.detail).toBeUndefined();
      expect(ea).toBeInstanceOf(Pkcs11Error);
    });

    test('the session is still usable after the unsupported calls (no operation left active)', () => {
      for (const c of cases) expect(() => c.call(s, false)).toThrow(Pkcs11Error);
      mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
      expect(mod.C_Digest(s, Buffer.from('ok'))).toEqual(sha256(Buffer.from('ok')));
    });
  });
});
