// Mechanism parameters on SoftHSM 2.6.1: raw-byte parameters (IVs) and struct descriptions from
// p11bridge/raw `params` (laid out natively with the C ABI), each mechanism sync and async, every
// result cross-checked with node:crypto under the same key.
//
// Run here (in SoftHSM's C_GetMechanismList): AES-CBC, AES-CBC-PAD, AES-CTR, AES-GCM, AES key wrap
// (RFC 3394) and with padding (RFC 5649), RSA-OAEP (SHA-1 only: SoftHSM refuses anything else),
// RSA-PSS, ECDH1 (CKD_NULL only), EdDSA (Ed25519), AES-ECB/CBC_ENCRYPT_DATA.
// Run on NSS softoken instead (test/mechanisms-nss.test.ts), since SoftHSM 2.6.1 lacks them:
// RSA-OAEP SHA-256 with a label, ECDH1 with CKD_SHA256_KDF, HKDF, PBKDF2, SP 800-108, ChaCha20-Poly1305,
// the PKCS#11 3.0 message API (SoftHSM 2.6.1 is a 2.40 module).
// Layout only (test/layout.test.ts): AES-CCM (CK_CCM_PARAMS) and CK_CCM_MESSAGE_PARAMS: neither
// SoftHSM 2.6.1 nor NSS 3.87 softoken implements CKM_AES_CCM; below, the exact CKR for asking.
import * as crypto from 'node:crypto';
import { openSoftHSM, userSession } from './helpers/softhsm';
import {
  params,
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKK_AES,
  CKK_GENERIC_SECRET,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKA_TOKEN,
  CKA_DERIVE,
  CKA_SIGN,
  CKA_VERIFY,
  CKM_AES_CBC,
  CKM_AES_CBC_PAD,
  CKM_AES_CTR,
  CKM_AES_GCM,
  CKM_AES_CCM,
  CKM_AES_KEY_WRAP,
  CKM_AES_KEY_WRAP_PAD,
  CKM_AES_ECB_ENCRYPT_DATA,
  CKM_AES_CBC_ENCRYPT_DATA,
  CKM_RSA_PKCS_OAEP,
  CKM_RSA_PKCS_PSS,
  CKM_SHA256_RSA_PKCS_PSS,
  CKM_ECDH1_DERIVE,
  CKM_EC_KEY_PAIR_GEN,
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  CKM_EDDSA,
  CKM_HKDF_DERIVE,
  CKM_PKCS5_PBKD2,
  CKM_SP800_108_COUNTER_KDF,
  CKM_CHACHA20_POLY1305,
  CKM_SHA_1,
  CKM_SHA256,
  CKG_MGF1_SHA1,
  CKG_MGF1_SHA256,
  CKD_NULL,
  CKD_SHA256_KDF,
  CKR_ARGUMENTS_BAD,
  CKR_DATA_LEN_RANGE,
  CKR_GENERAL_ERROR,
  CKR_MECHANISM_INVALID,
  CKR_MECHANISM_PARAM_INVALID,
} from '../lib/raw';
import type { Ulong, KeyPair, Mechanism } from '../lib/raw';
import { P256_PARAMS, ED25519_PARAMS, derOctetString, attr, ed25519PublicKey, rsaPublicKey, generateRsa } from './helpers/keys';
import { expectBoth, expectPkcs11, thrown, rejection } from './helpers/p11-expect';
import { secretKey, readableSecret, keyValue, importRsaKeyPair, EXTRACTABLE } from './helpers/mechanisms';

const A6 = Buffer.from('a6a6a6a6a6a6a6a6', 'hex'); // RFC 3394 default IV
const A65959A6 = Buffer.from('a65959a6', 'hex'); // RFC 5649 alternative IV prefix

function nodeCipher(alg: string, key: Buffer, iv: Buffer | null, data: Buffer, pad = true): Buffer {
  const c = crypto.createCipheriv(alg, key, iv);
  c.setAutoPadding(pad);
  return Buffer.concat([c.update(data), c.final()]);
}

function nodeDecipher(alg: string, key: Buffer, iv: Buffer | null, data: Buffer, pad = true): Buffer {
  const d = crypto.createDecipheriv(alg, key, iv);
  d.setAutoPadding(pad);
  return Buffer.concat([d.update(data), d.final()]);
}

function nodeGcm(key: Buffer, iv: Buffer, aad: Buffer, pt: Buffer, tagLen = 16): { ct: Buffer; tag: Buffer } {
  const c = crypto.createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagLen });
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { ct, tag: c.getAuthTag() };
}

describe('mechanism parameters on SoftHSM 2.6.1, cross-checked with node:crypto', () => {
  const env = openSoftHSM();
  const mod = env.mod;
  let owner: Ulong; // holds the session objects of the whole file
  let s: Ulong; // a fresh session per test, so a failure cannot leave an operation active for the next

  const aesValue = crypto.randomBytes(32);
  let aes: Ulong;
  let mechanisms: Ulong[];

  beforeAll(() => {
    owner = userSession(env);
    aes = secretKey(mod, owner, CKK_AES, aesValue);
    mechanisms = mod.C_GetMechanismList(env.slot);
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

  test('C_GetMechanismList: the mechanisms run here are listed; the ones left to NSS or to the layout test are not', () => {
    for (const m of [
      CKM_AES_CBC,
      CKM_AES_CBC_PAD,
      CKM_AES_CTR,
      CKM_AES_GCM,
      CKM_AES_KEY_WRAP,
      CKM_AES_KEY_WRAP_PAD,
      CKM_AES_ECB_ENCRYPT_DATA,
      CKM_AES_CBC_ENCRYPT_DATA,
      CKM_RSA_PKCS_OAEP,
      CKM_RSA_PKCS_PSS,
      CKM_SHA256_RSA_PKCS_PSS,
      CKM_ECDH1_DERIVE,
      CKM_EDDSA,
    ]) {
      expect({ m, listed: mechanisms.includes(m) }).toEqual({ m, listed: true });
    }
    for (const m of [CKM_AES_CCM, CKM_HKDF_DERIVE, CKM_PKCS5_PBKD2, CKM_SP800_108_COUNTER_KDF, CKM_CHACHA20_POLY1305]) {
      expect({ m, listed: mechanisms.includes(m) }).toEqual({ m, listed: false });
    }
    // A 2.40 module: no message-based functions at all.
    expect(mod.has('C_MessageEncryptInit')).toBe(false);
  });

  describe('AES-CBC and AES-CBC-PAD with a raw-bytes IV', () => {
    test('CKM_AES_CBC sync: block-multiple data encrypts and decrypts like node aes-256-cbc without padding', () => {
      for (const n of [16, 48, 4096]) {
        const iv = crypto.randomBytes(16);
        const pt = crypto.randomBytes(n);
        mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC, parameter: iv }, aes);
        expect(mod.C_Encrypt(s, pt)).toEqual(nodeCipher('aes-256-cbc', aesValue, iv, pt, false));

        const other = crypto.randomBytes(n);
        mod.C_DecryptInit(s, { mechanism: CKM_AES_CBC, parameter: iv }, aes);
        expect(mod.C_Decrypt(s, nodeCipher('aes-256-cbc', aesValue, iv, other, false))).toEqual(other);
      }
    });

    test('CKM_AES_CBC async, the IV given as a Uint8Array view at an offset and as an ArrayBuffer', async () => {
      const backing = crypto.randomBytes(40);
      const ivView = new Uint8Array(backing.buffer, backing.byteOffset + 7, 16);
      const iv = Buffer.from(ivView);
      const pt = crypto.randomBytes(64);
      await mod.C_EncryptInitAsync(s, { mechanism: CKM_AES_CBC, parameter: ivView }, aes);
      expect(await mod.C_EncryptAsync(s, pt)).toEqual(nodeCipher('aes-256-cbc', aesValue, iv, pt, false));

      const ivBuffer = iv.buffer.slice(iv.byteOffset, iv.byteOffset + 16);
      await mod.C_DecryptInitAsync(s, { mechanism: CKM_AES_CBC, parameter: ivBuffer }, aes);
      expect(await mod.C_DecryptAsync(s, nodeCipher('aes-256-cbc', aesValue, iv, pt, false))).toEqual(pt);
    });

    test('CKM_AES_CBC refusals: data not a block multiple → CKR_DATA_LEN_RANGE; 8-byte IV → CKR_MECHANISM_INVALID; no IV → CKR_ARGUMENTS_BAD', async () => {
      mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC, parameter: crypto.randomBytes(16) }, aes);
      expectPkcs11(
        thrown(() => mod.C_Encrypt(s, Buffer.alloc(15))),
        'CKR_DATA_LEN_RANGE',
        'C_Encrypt',
        CKR_DATA_LEN_RANGE,
      );
      await mod.C_EncryptInitAsync(s, { mechanism: CKM_AES_CBC, parameter: crypto.randomBytes(16) }, aes);
      expectPkcs11(await rejection(mod.C_EncryptAsync(s, Buffer.alloc(17))), 'CKR_DATA_LEN_RANGE', 'C_Encrypt', CKR_DATA_LEN_RANGE);

      // SoftHSM answers a wrong IV length with CKR_MECHANISM_INVALID (not ..._PARAM_INVALID).
      await expectBoth(
        () => mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC, parameter: Buffer.alloc(8) }, aes),
        () => mod.C_EncryptInitAsync(s, { mechanism: CKM_AES_CBC, parameter: Buffer.alloc(8) }, aes),
        'CKR_MECHANISM_INVALID',
        'C_EncryptInit',
        CKR_MECHANISM_INVALID,
      );
      await expectBoth(
        () => mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC }, aes),
        () => mod.C_EncryptInitAsync(s, { mechanism: CKM_AES_CBC, parameter: null }, aes),
        'CKR_ARGUMENTS_BAD',
        'C_EncryptInit',
        CKR_ARGUMENTS_BAD,
      );
    });

    test('CKM_AES_CBC_PAD sync and async: every length pads like node (PKCS#7), decrypts node ciphertexts', async () => {
      for (const n of [0, 1, 15, 16, 31, 1000]) {
        const iv = crypto.randomBytes(16);
        const pt = crypto.randomBytes(n);
        mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
        const ct = mod.C_Encrypt(s, pt);
        expect(ct.length).toBe(n + 16 - (n % 16));
        expect(ct).toEqual(nodeCipher('aes-256-cbc', aesValue, iv, pt));

        await mod.C_DecryptInitAsync(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
        const other = crypto.randomBytes(n);
        expect(await mod.C_DecryptAsync(s, nodeCipher('aes-256-cbc', aesValue, iv, other))).toEqual(other);
      }
      // A ciphertext whose padding is garbage: SoftHSM reports CKR_GENERAL_ERROR (not ENCRYPTED_DATA_INVALID).
      mod.C_DecryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: Buffer.alloc(16) }, aes);
      const bad = Buffer.concat([nodeCipher('aes-256-cbc', aesValue, Buffer.alloc(16), Buffer.alloc(32, 0x55), false)]);
      expectPkcs11(
        thrown(() => mod.C_Decrypt(s, bad)),
        'CKR_GENERAL_ERROR',
        'C_Decrypt',
        CKR_GENERAL_ERROR,
      );
    });
  });

  describe('AES-CTR with params.aesCtrParams (CK_AES_CTR_PARAMS: ulCounterBits + cb[16] embedded)', () => {
    // A counter block whose low 32 bits are about to wrap: only a 128-bit counter may carry.
    const counterBlock = Buffer.from('00112233445566778899aabbfffffffe', 'hex');

    test('counterBits 128, sync: single-part and multi-part match node aes-256-ctr across the 32-bit carry', () => {
      const pt = crypto.randomBytes(100); // 7 blocks: the counter goes ...fffffffe → ...00000004 with a carry
      const expected = nodeCipher('aes-256-ctr', aesValue, counterBlock, pt);
      const mech: Mechanism = { mechanism: CKM_AES_CTR, parameter: params.aesCtrParams({ counterBits: 128, counterBlock }) };
      mod.C_EncryptInit(s, mech, aes);
      expect(mod.C_Encrypt(s, pt)).toEqual(expected);

      mod.C_EncryptInit(s, mech, aes);
      const parts = [mod.C_EncryptUpdate(s, pt.subarray(0, 7)), mod.C_EncryptUpdate(s, pt.subarray(7, 70)), mod.C_EncryptUpdate(s, pt.subarray(70))];
      parts.push(mod.C_EncryptFinal(s));
      expect(Buffer.concat(parts)).toEqual(expected);

      mod.C_DecryptInit(s, mech, aes);
      expect(mod.C_Decrypt(s, expected)).toEqual(pt);
    });

    test('counterBits 128, async, the embedded counter block given as a view at an odd offset: decrypts a node ciphertext, encrypts like node', async () => {
      const backing = crypto.randomBytes(64);
      const view = new Uint8Array(backing.buffer, backing.byteOffset + 5, 16);
      const cb = Buffer.from(view);
      const pt = crypto.randomBytes(333);
      const mech: Mechanism = { mechanism: CKM_AES_CTR, parameter: params.aesCtrParams({ counterBits: 128, counterBlock: view }) };
      await mod.C_DecryptInitAsync(s, mech, aes);
      expect(await mod.C_DecryptAsync(s, nodeCipher('aes-256-ctr', aesValue, cb, pt))).toEqual(pt);
      await mod.C_EncryptInitAsync(s, mech, aes);
      expect(await mod.C_EncryptAsync(s, pt)).toEqual(nodeCipher('aes-256-ctr', aesValue, cb, pt));
    });

    test('counterBits is read: 32 bits that would wrap → CKR_DATA_LEN_RANGE, 32 bits without a wrap = node; 0 and 129 → CKR_MECHANISM_PARAM_INVALID', async () => {
      const pt = crypto.randomBytes(100);
      mod.C_EncryptInit(s, { mechanism: CKM_AES_CTR, parameter: params.aesCtrParams({ counterBits: 32, counterBlock }) }, aes);
      expectPkcs11(
        thrown(() => mod.C_Encrypt(s, pt)),
        'CKR_DATA_LEN_RANGE',
        'C_Encrypt',
        CKR_DATA_LEN_RANGE,
      );

      const low = Buffer.from(counterBlock);
      low.writeUInt32BE(1, 12);
      await mod.C_EncryptInitAsync(s, { mechanism: CKM_AES_CTR, parameter: params.aesCtrParams({ counterBits: 32, counterBlock: low }) }, aes);
      expect(await mod.C_EncryptAsync(s, pt)).toEqual(nodeCipher('aes-256-ctr', aesValue, low, pt));

      for (const counterBits of [0, 129]) {
        const mech = { mechanism: CKM_AES_CTR, parameter: params.aesCtrParams({ counterBits, counterBlock }) };
        await expectBoth(
          () => mod.C_EncryptInit(s, mech, aes),
          () => mod.C_EncryptInitAsync(s, mech, aes),
          'CKR_MECHANISM_PARAM_INVALID',
          'C_EncryptInit',
          CKR_MECHANISM_PARAM_INVALID,
        );
      }
      expect(() => params.aesCtrParams({ counterBits: 128, counterBlock: Buffer.alloc(15) })).toThrow(RangeError);
    });
  });

  describe('AES-GCM with params.gcmParams (CK_GCM_PARAMS with ulIvBits)', () => {
    test('sync: ciphertext || tag equals node aes-256-gcm with the same IV and AAD; decrypts node output', () => {
      for (const n of [0, 1, 16, 100]) {
        const iv = crypto.randomBytes(12);
        const aad = crypto.randomBytes(n % 7 === 0 ? 0 : 20);
        const pt = crypto.randomBytes(n);
        const mech: Mechanism = { mechanism: CKM_AES_GCM, parameter: params.gcmParams({ iv, additionalData: aad, tagBits: 128 }) };
        mod.C_EncryptInit(s, mech, aes);
        const out = mod.C_Encrypt(s, pt);
        const { ct, tag } = nodeGcm(aesValue, iv, aad, pt);
        expect(out).toEqual(Buffer.concat([ct, tag]));

        const other = crypto.randomBytes(n);
        const o = nodeGcm(aesValue, iv, aad, other);
        mod.C_DecryptInit(s, mech, aes);
        expect(mod.C_Decrypt(s, Buffer.concat([o.ct, o.tag]))).toEqual(other);
      }
    });

    test('async: 96-bit tags and a 16-byte IV (GHASH-derived J0) are honoured like node; IV and AAD are copied when the call starts', async () => {
      const iv = crypto.randomBytes(16);
      const aad = Buffer.from('header bytes');
      const pt = crypto.randomBytes(77);
      const ivCopy = Buffer.from(iv);
      const aadCopy = Buffer.from(aad);
      const mech: Mechanism = { mechanism: CKM_AES_GCM, parameter: params.gcmParams({ iv, additionalData: aad, tagBits: 96 }) };
      const init = mod.C_EncryptInitAsync(s, mech, aes);
      iv.fill(0); // too late to matter: the struct was marshalled when C_EncryptInitAsync was called
      aad.fill(0);
      await init;
      const out = await mod.C_EncryptAsync(s, pt);
      const { ct, tag } = nodeGcm(aesValue, ivCopy, aadCopy, pt, 12);
      expect(out).toEqual(Buffer.concat([ct, tag]));
      const again: Mechanism = {
        mechanism: CKM_AES_GCM,
        parameter: params.gcmParams({
          iv: ivCopy.buffer.slice(ivCopy.byteOffset, ivCopy.byteOffset + 16),
          additionalData: new DataView(aadCopy.buffer, aadCopy.byteOffset, aadCopy.length),
          tagBits: 96,
        }),
      };
      await mod.C_DecryptInitAsync(s, again, aes);
      expect(await mod.C_DecryptAsync(s, out)).toEqual(pt);
    });

    test('multi-part: C_EncryptUpdate streams, C_EncryptFinal gives the tag', async () => {
      const iv = crypto.randomBytes(12);
      const aad = crypto.randomBytes(33);
      const pt = crypto.randomBytes(70);
      const mech: Mechanism = { mechanism: CKM_AES_GCM, parameter: params.gcmParams({ iv, additionalData: aad, tagBits: 128 }) };
      await mod.C_EncryptInitAsync(s, mech, aes);
      const parts = [await mod.C_EncryptUpdateAsync(s, pt.subarray(0, 20)), await mod.C_EncryptUpdateAsync(s, pt.subarray(20))];
      parts.push(await mod.C_EncryptFinalAsync(s));
      const { ct, tag } = nodeGcm(aesValue, iv, aad, pt);
      expect(Buffer.concat(parts)).toEqual(Buffer.concat([ct, tag]));
    });

    test('a tampered ciphertext, tag or AAD fails C_Decrypt with CKR_GENERAL_ERROR (SoftHSM 2.6.1 reports the tag mismatch so), sync and async', async () => {
      const iv = crypto.randomBytes(12);
      const aad = Buffer.from('aad');
      const pt = crypto.randomBytes(40);
      const { ct, tag } = nodeGcm(aesValue, iv, aad, pt);
      const good = Buffer.concat([ct, tag]);
      const mech = (a: Buffer): Mechanism => ({ mechanism: CKM_AES_GCM, parameter: params.gcmParams({ iv, additionalData: a, tagBits: 128 }) });

      const flipped = Buffer.from(good);
      flipped[3] ^= 0x01;
      mod.C_DecryptInit(s, mech(aad), aes);
      expectPkcs11(
        thrown(() => mod.C_Decrypt(s, flipped)),
        'CKR_GENERAL_ERROR',
        'C_Decrypt',
        CKR_GENERAL_ERROR,
      );

      const badTag = Buffer.from(good);
      badTag[badTag.length - 1] ^= 0x80;
      await mod.C_DecryptInitAsync(s, mech(aad), aes);
      expectPkcs11(await rejection(mod.C_DecryptAsync(s, badTag)), 'CKR_GENERAL_ERROR', 'C_Decrypt', CKR_GENERAL_ERROR);

      await mod.C_DecryptInitAsync(s, mech(Buffer.from('aaD')), aes);
      expectPkcs11(await rejection(mod.C_DecryptAsync(s, good)), 'CKR_GENERAL_ERROR', 'C_Decrypt', CKR_GENERAL_ERROR);

      // The untouched ciphertext still decrypts (the failures ended their operations).
      mod.C_DecryptInit(s, mech(aad), aes);
      expect(mod.C_Decrypt(s, good)).toEqual(pt);
    });

    test('tagBits 136 → CKR_ARGUMENTS_BAD at C_EncryptInit, sync and async', async () => {
      const mech = { mechanism: CKM_AES_GCM, parameter: params.gcmParams({ iv: Buffer.alloc(12), tagBits: 136 }) };
      await expectBoth(
        () => mod.C_EncryptInit(s, mech, aes),
        () => mod.C_EncryptInitAsync(s, mech, aes),
        'CKR_ARGUMENTS_BAD',
        'C_EncryptInit',
        CKR_ARGUMENTS_BAD,
      );
    });
  });

  test('AES-CCM (params.ccmParams): not implemented by SoftHSM 2.6.1 → CKR_MECHANISM_INVALID; CK_CCM_PARAMS is covered by test/layout.test.ts', async () => {
    const mech = { mechanism: CKM_AES_CCM, parameter: params.ccmParams({ dataLength: 5, nonce: crypto.randomBytes(12), additionalData: Buffer.from('a'), macLength: 16 }) };
    await expectBoth(
      () => mod.C_EncryptInit(s, mech, aes),
      () => mod.C_EncryptInitAsync(s, mech, aes),
      'CKR_MECHANISM_INVALID',
      'C_EncryptInit',
      CKR_MECHANISM_INVALID,
    );
  });

  describe('AES key wrap (no parameter): CKM_AES_KEY_WRAP (RFC 3394) and CKM_AES_KEY_WRAP_PAD (RFC 5649)', () => {
    const kekValue = crypto.randomBytes(32);
    let kek: Ulong;
    beforeAll(() => {
      kek = secretKey(mod, owner, CKK_AES, kekValue);
    });

    test('CKM_AES_KEY_WRAP sync: C_WrapKey of an AES-192 key equals node id-aes256-wrap; C_UnwrapKey of node output restores it', () => {
      const value = crypto.randomBytes(24);
      const key = secretKey(mod, s, CKK_AES, value, EXTRACTABLE);
      const wrapped = mod.C_WrapKey(s, { mechanism: CKM_AES_KEY_WRAP }, kek, key);
      expect(wrapped).toEqual(nodeCipher('id-aes256-wrap', kekValue, A6, value));

      const other = crypto.randomBytes(32);
      const h = mod.C_UnwrapKey(s, { mechanism: CKM_AES_KEY_WRAP }, kek, nodeCipher('id-aes256-wrap', kekValue, A6, other), readableSecret(undefined, CKK_AES));
      expect(keyValue(mod, s, h)).toEqual(other);
    });

    test('CKM_AES_KEY_WRAP async; a tampered wrapping fails C_UnwrapKey with CKR_GENERAL_ERROR (SoftHSM), sync and async', async () => {
      const value = crypto.randomBytes(16);
      const key = secretKey(mod, s, CKK_AES, value, EXTRACTABLE);
      const wrapped = await mod.C_WrapKeyAsync(s, { mechanism: CKM_AES_KEY_WRAP }, kek, key);
      expect(wrapped).toEqual(nodeCipher('id-aes256-wrap', kekValue, A6, value));
      const h = await mod.C_UnwrapKeyAsync(s, { mechanism: CKM_AES_KEY_WRAP }, kek, wrapped, readableSecret(undefined, CKK_AES));
      expect(keyValue(mod, s, h)).toEqual(value);

      const bad = Buffer.from(wrapped);
      bad[9] ^= 0x10;
      await expectBoth(
        () => mod.C_UnwrapKey(s, { mechanism: CKM_AES_KEY_WRAP }, kek, bad, readableSecret(undefined, CKK_AES)),
        () => mod.C_UnwrapKeyAsync(s, { mechanism: CKM_AES_KEY_WRAP }, kek, bad, readableSecret(undefined, CKK_AES)),
        'CKR_GENERAL_ERROR',
        'C_UnwrapKey',
        CKR_GENERAL_ERROR,
      );
    });

    test('CKM_AES_KEY_WRAP_PAD sync: C_WrapKey of an AES-192 key equals node id-aes256-wrap-pad (RFC 5649 IV, not RFC 3394)', () => {
      const value = crypto.randomBytes(24);
      const key = secretKey(mod, s, CKK_AES, value, EXTRACTABLE);
      const wrapped = mod.C_WrapKey(s, { mechanism: CKM_AES_KEY_WRAP_PAD }, kek, key);
      expect(wrapped).toEqual(nodeCipher('id-aes256-wrap-pad', kekValue, A65959A6, value));
      expect(wrapped).not.toEqual(nodeCipher('id-aes256-wrap', kekValue, A6, value));
    });

    test("CKM_AES_KEY_WRAP_PAD async: unwraps node's RFC 5649 wrapping of a 21-byte secret to exactly those 21 bytes", async () => {
      const value = crypto.randomBytes(21);
      const h = await mod.C_UnwrapKeyAsync(s, { mechanism: CKM_AES_KEY_WRAP_PAD }, kek, nodeCipher('id-aes256-wrap-pad', kekValue, A65959A6, value), readableSecret());
      expect(keyValue(mod, s, h)).toEqual(value);
    });

    test('SoftHSM quirk: a 21-byte secret is zero-padded to 24 bytes before wrapping, with and without _PAD', async () => {
      const value = crypto.randomBytes(21);
      const key = secretKey(mod, s, CKK_GENERIC_SECRET, value, EXTRACTABLE);
      const padded = Buffer.concat([value, Buffer.alloc(3)]);
      const kwp = await mod.C_WrapKeyAsync(s, { mechanism: CKM_AES_KEY_WRAP_PAD }, kek, key);
      // RFC 5649 would encode the 21-byte length in the IV; SoftHSM wraps 24 bytes.
      expect(nodeDecipher('id-aes256-wrap-pad', kekValue, A65959A6, kwp)).toEqual(padded);
      const kw = mod.C_WrapKey(s, { mechanism: CKM_AES_KEY_WRAP }, kek, key);
      expect(nodeDecipher('id-aes256-wrap', kekValue, A6, kw)).toEqual(padded);
    });

    test('an IV parameter for CKM_AES_KEY_WRAP is refused: CKR_ARGUMENTS_BAD, sync and async', async () => {
      const key = secretKey(mod, s, CKK_AES, crypto.randomBytes(16), EXTRACTABLE);
      const mech = { mechanism: CKM_AES_KEY_WRAP, parameter: A6 };
      await expectBoth(
        () => mod.C_WrapKey(s, mech, kek, key),
        () => mod.C_WrapKeyAsync(s, mech, kek, key),
        'CKR_ARGUMENTS_BAD',
        'C_WrapKey',
        CKR_ARGUMENTS_BAD,
      );
    });
  });

  describe('RSA-OAEP (params.oaepParams) and RSA-PSS (params.pssParams) with a node key pair put on the token', () => {
    const nodePair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    let rsa: KeyPair;
    beforeAll(() => {
      rsa = importRsaKeyPair(mod, owner, nodePair);
    });

    test('OAEP SHA-1 / MGF1-SHA1 without a label (all SoftHSM 2.6.1 accepts): token encrypts, node decrypts, and back, sync and async', async () => {
      const mech: Mechanism = { mechanism: CKM_RSA_PKCS_OAEP, parameter: params.oaepParams({ hashAlg: CKM_SHA_1, mgf: CKG_MGF1_SHA1 }) };
      const opts = { key: nodePair.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' };
      const msg = crypto.randomBytes(40);
      mod.C_EncryptInit(s, mech, rsa.publicKey);
      const ct = mod.C_Encrypt(s, msg);
      expect(ct.length).toBe(256);
      expect(crypto.privateDecrypt(opts, ct)).toEqual(msg);

      await mod.C_EncryptInitAsync(s, mech, rsa.publicKey);
      expect(crypto.privateDecrypt(opts, await mod.C_EncryptAsync(s, msg))).toEqual(msg);

      const fromNode = crypto.publicEncrypt({ ...opts, key: nodePair.publicKey }, msg);
      await mod.C_DecryptInitAsync(s, mech, rsa.privateKey);
      expect(await mod.C_DecryptAsync(s, fromNode)).toEqual(msg);
      mod.C_DecryptInit(s, mech, rsa.privateKey);
      expect(mod.C_Decrypt(s, fromNode)).toEqual(msg);
    });

    test('OAEP with SHA-256 or with a label: SoftHSM 2.6.1 answers CKR_ARGUMENTS_BAD (SHA-256 + label runs on NSS)', async () => {
      for (const p of [
        { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256 },
        { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, label: Buffer.from('label') },
        { hashAlg: CKM_SHA_1, mgf: CKG_MGF1_SHA1, label: Buffer.from('label') },
      ]) {
        const mech = { mechanism: CKM_RSA_PKCS_OAEP, parameter: params.oaepParams(p) };
        await expectBoth(
          () => mod.C_EncryptInit(s, mech, rsa.publicKey),
          () => mod.C_EncryptInitAsync(s, mech, rsa.publicKey),
          'CKR_ARGUMENTS_BAD',
          'C_EncryptInit',
          CKR_ARGUMENTS_BAD,
        );
      }
    });

    const pss32: Mechanism = { mechanism: CKM_SHA256_RSA_PKCS_PSS, parameter: params.pssParams({ hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, saltLength: 32 }) };

    test('CKM_SHA256_RSA_PKCS_PSS salt 32, sync: node verifies with RSA_PKCS1_PSS_PADDING saltLength 32 (and not with 20)', () => {
      const data = crypto.randomBytes(300);
      mod.C_SignInit(s, pss32, rsa.privateKey);
      const sig = mod.C_Sign(s, data);
      expect(sig.length).toBe(256);
      const key = { key: nodePair.publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING };
      expect(crypto.verify('sha256', data, { ...key, saltLength: 32 }, sig)).toBe(true);
      expect(crypto.verify('sha256', data, { ...key, saltLength: 20 }, sig)).toBe(false);
      // PSS is randomized: a second signature differs but verifies too.
      mod.C_SignInit(s, pss32, rsa.privateKey);
      const sig2 = mod.C_Sign(s, data);
      expect(sig2).not.toEqual(sig);
      expect(crypto.verify('sha256', data, { ...key, saltLength: 32 }, sig2)).toBe(true);
    });

    test('CKM_SHA256_RSA_PKCS_PSS async sign and verify; node signatures verify on the token only with the right salt length', async () => {
      const data = crypto.randomBytes(64);
      await mod.C_SignInitAsync(s, pss32, rsa.privateKey);
      const sig = await mod.C_SignAsync(s, data);
      expect(crypto.verify('sha256', data, { key: nodePair.publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig)).toBe(true);

      const nodeSig = crypto.sign('sha256', data, { key: nodePair.privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
      await mod.C_VerifyInitAsync(s, pss32, rsa.publicKey);
      expect(await mod.C_VerifyAsync(s, data, nodeSig)).toBe(true);
      mod.C_VerifyInit(s, pss32, rsa.publicKey);
      expect(mod.C_Verify(s, data, nodeSig)).toBe(true);
      const pss20 = { mechanism: CKM_SHA256_RSA_PKCS_PSS, parameter: params.pssParams({ hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, saltLength: 20 }) };
      mod.C_VerifyInit(s, pss20, rsa.publicKey);
      expect(mod.C_Verify(s, data, nodeSig)).toBe(false);
    });

    test('CKM_RSA_PKCS_PSS over a SHA-256 digest (salt 32) verifies in node; a hashAlg that contradicts the mechanism → CKR_ARGUMENTS_BAD', async () => {
      const data = crypto.randomBytes(50);
      const digest = crypto.createHash('sha256').update(data).digest();
      await mod.C_SignInitAsync(s, { mechanism: CKM_RSA_PKCS_PSS, parameter: params.pssParams({ hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, saltLength: 32 }) }, rsa.privateKey);
      const sig = await mod.C_SignAsync(s, digest);
      expect(crypto.verify('sha256', data, { key: nodePair.publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig)).toBe(true);

      const wrong = { mechanism: CKM_SHA256_RSA_PKCS_PSS, parameter: params.pssParams({ hashAlg: CKM_SHA_1, mgf: CKG_MGF1_SHA256, saltLength: 32 }) };
      await expectBoth(
        () => mod.C_SignInit(s, wrong, rsa.privateKey),
        () => mod.C_SignInitAsync(s, wrong, rsa.privateKey),
        'CKR_ARGUMENTS_BAD',
        'C_SignInit',
        CKR_ARGUMENTS_BAD,
      );
    });

    test('a token-generated key: PSS signature verifies with the JWK public key node builds from CKA_MODULUS', () => {
      const pair = generateRsa(mod, s, 2048);
      const data = Buffer.from('token generated');
      mod.C_SignInit(s, pss32, pair.privateKey);
      const sig = mod.C_Sign(s, data);
      expect(crypto.verify('sha256', data, { key: rsaPublicKey(mod, s, pair.publicKey), padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig)).toBe(true);
    });
  });

  describe('ECDH1 derive (params.ecdh1DeriveParams) on P-256', () => {
    let ec: KeyPair;
    let tokenPoint: Buffer;
    beforeAll(() => {
      ec = mod.C_GenerateKeyPair(
        owner,
        { mechanism: CKM_EC_KEY_PAIR_GEN },
        [
          { type: CKA_TOKEN, value: false },
          { type: CKA_EC_PARAMS, value: P256_PARAMS },
        ],
        [
          { type: CKA_TOKEN, value: false },
          { type: CKA_DERIVE, value: true },
        ],
      );
      tokenPoint = derOctetString(attr(mod, owner, ec.publicKey, CKA_EC_POINT));
    });

    test('CKD_NULL, sync: the derived CKK_GENERIC_SECRET equals node ECDH computeSecret (x coordinate)', () => {
      const node = crypto.createECDH('prime256v1');
      node.generateKeys();
      const mech = { mechanism: CKM_ECDH1_DERIVE, parameter: params.ecdh1DeriveParams({ publicData: node.getPublicKey(), kdf: CKD_NULL }) };
      const h = mod.C_DeriveKey(s, mech, ec.privateKey, readableSecret(32));
      const z = keyValue(mod, s, h);
      expect(z).toEqual(node.computeSecret(tokenPoint));
    });

    test('CKD_NULL, async, kdf left to the builder default; a shorter CKA_VALUE_LEN keeps the trailing bytes (SoftHSM)', async () => {
      const node = crypto.createECDH('prime256v1');
      node.generateKeys();
      const z = node.computeSecret(tokenPoint);
      const h = await mod.C_DeriveKeyAsync(
        s,
        { mechanism: CKM_ECDH1_DERIVE, parameter: params.ecdh1DeriveParams({ publicData: node.getPublicKey() }) },
        ec.privateKey,
        readableSecret(32),
      );
      expect(keyValue(mod, s, h)).toEqual(z);
      const h16 = await mod.C_DeriveKeyAsync(
        s,
        { mechanism: CKM_ECDH1_DERIVE, parameter: params.ecdh1DeriveParams({ publicData: node.getPublicKey() }) },
        ec.privateKey,
        readableSecret(16),
      );
      // SoftHSM truncates from the leading end: the last 16 bytes of Z.
      expect(keyValue(mod, s, h16)).toEqual(z.subarray(16));
    });

    test('CKD_SHA256_KDF: SoftHSM 2.6.1 supports only CKD_NULL → CKR_MECHANISM_PARAM_INVALID (the KDF runs on NSS)', async () => {
      const node = crypto.createECDH('prime256v1');
      node.generateKeys();
      const mech = { mechanism: CKM_ECDH1_DERIVE, parameter: params.ecdh1DeriveParams({ publicData: node.getPublicKey(), kdf: CKD_SHA256_KDF, sharedData: Buffer.from('info') }) };
      await expectBoth(
        () => mod.C_DeriveKey(s, mech, ec.privateKey, readableSecret(32)),
        () => mod.C_DeriveKeyAsync(s, mech, ec.privateKey, readableSecret(32)),
        'CKR_MECHANISM_PARAM_INVALID',
        'C_DeriveKey',
        CKR_MECHANISM_PARAM_INVALID,
      );
    });
  });

  describe('EdDSA (Ed25519) with and without params.eddsaParams', () => {
    let ed: KeyPair;
    let edPub: crypto.KeyObject;
    beforeAll(() => {
      ed = mod.C_GenerateKeyPair(
        owner,
        { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN },
        [
          { type: CKA_TOKEN, value: false },
          { type: CKA_EC_PARAMS, value: ED25519_PARAMS },
          { type: CKA_VERIFY, value: true },
        ],
        [
          { type: CKA_TOKEN, value: false },
          { type: CKA_SIGN, value: true },
        ],
      );
      edPub = ed25519PublicKey(mod, owner, ed.publicKey);
    });

    test('pure Ed25519 (no parameter, and eddsaParams({})) sync and async: node crypto.verify accepts, both are the same deterministic signature', async () => {
      const data = crypto.randomBytes(123);
      mod.C_SignInit(s, { mechanism: CKM_EDDSA }, ed.privateKey);
      const sig = mod.C_Sign(s, data);
      expect(sig.length).toBe(64);
      expect(crypto.verify(null, data, edPub, sig)).toBe(true);

      await mod.C_SignInitAsync(s, { mechanism: CKM_EDDSA, parameter: params.eddsaParams({}) }, ed.privateKey);
      expect(await mod.C_SignAsync(s, data)).toEqual(sig);

      mod.C_VerifyInit(s, { mechanism: CKM_EDDSA, parameter: params.eddsaParams({}) }, ed.publicKey);
      expect(mod.C_Verify(s, data, sig)).toBe(true);
    });

    test('Ed25519ctx / Ed25519ph parameters: SoftHSM 2.6.1 accepts CK_EDDSA_PARAMS but ignores it (CKR_OK, the pure Ed25519 signature)', async () => {
      const data = Buffer.from('context matters');
      mod.C_SignInit(s, { mechanism: CKM_EDDSA }, ed.privateKey);
      const pure = mod.C_Sign(s, data);
      for (const p of [{ context: Buffer.from('ctx') }, { preHash: true }, { preHash: true, context: Buffer.from('ctx') }]) {
        mod.C_SignInit(s, { mechanism: CKM_EDDSA, parameter: params.eddsaParams(p) }, ed.privateKey);
        const sig = mod.C_Sign(s, data);
        await mod.C_SignInitAsync(s, { mechanism: CKM_EDDSA, parameter: params.eddsaParams(p) }, ed.privateKey);
        const sigAsync = await mod.C_SignAsync(s, data);
        // Ed25519ctx/ph would differ from pure Ed25519 (dom2 prefix); SoftHSM signs pure.
        expect(sig).toEqual(pure);
        expect(sigAsync).toEqual(pure);
        expect(crypto.verify(null, data, edPub, sig)).toBe(true);
      }
    });
  });

  describe('key derivation by encryption: params.keyDerivationStringData / params.aesCbcEncryptDataParams', () => {
    test('CKM_AES_ECB_ENCRYPT_DATA sync and async: the derived value is node aes-256-ecb of the data', async () => {
      const data = crypto.randomBytes(32);
      const expected = nodeCipher('aes-256-ecb', aesValue, null, data, false);
      const mech = { mechanism: CKM_AES_ECB_ENCRYPT_DATA, parameter: params.keyDerivationStringData(data) };
      expect(keyValue(mod, s, mod.C_DeriveKey(s, mech, aes, readableSecret(32)))).toEqual(expected);
      expect(keyValue(mod, s, await mod.C_DeriveKeyAsync(s, mech, aes, readableSecret(32)))).toEqual(expected);
    });

    test('CKM_AES_CBC_ENCRYPT_DATA sync and async: the derived value is node aes-256-cbc of the data under the embedded IV', async () => {
      const data = crypto.randomBytes(48);
      const iv = crypto.randomBytes(16);
      const expected = nodeCipher('aes-256-cbc', aesValue, iv, data, false);
      const mech = { mechanism: CKM_AES_CBC_ENCRYPT_DATA, parameter: params.aesCbcEncryptDataParams({ iv, data }) };
      expect(keyValue(mod, s, mod.C_DeriveKey(s, mech, aes, readableSecret(48)))).toEqual(expected);
      expect(keyValue(mod, s, await mod.C_DeriveKeyAsync(s, mech, aes, readableSecret(48)))).toEqual(expected);
    });
  });
});
