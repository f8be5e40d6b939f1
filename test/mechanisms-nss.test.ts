// Mechanism parameters on NSS softoken (3.87, a PKCS#11 3.0 module) for what SoftHSM 2.6.1 lacks:
// RSA-OAEP SHA-256 with a label, ECDH1 with the X9.63 KDFs, HKDF, PBKDF2, SP 800-108 counter mode,
// ChaCha20 / ChaCha20-Poly1305, and the 3.0 message-based encryption API (AES-GCM, ChaCha20-Poly1305).
// Every result is cross-checked with node:crypto (or a KDF computed in node by hand); each
// mechanism runs sync and async.
//
// Layout only (test/layout.test.ts): CK_CCM_PARAMS and CK_CCM_MESSAGE_PARAMS, since NSS 3.87 has no
// CKM_AES_CCM (nor does SoftHSM 2.6.1); below, the exact CKR for asking.
//
// NSS facts these tests pin (module behaviour, not p11bridge's):
// - single-part AEAD (AES-GCM, ChaCha20-Poly1305) C_Encrypt answers the NULL length query with
//   ulDataLen + 2*blockSize, short of the tag, then ends the operation on CKR_BUFFER_TOO_SMALL, so
//   the retry would see CKR_OPERATION_NOT_INITIALIZED; the addon offers input + 64 bytes, so it works;
// - CKM_PKCS5_PBKD2 reads the v2.20 CK_PKCS5_PBKD2_PARAMS (ulPasswordLen is a CK_ULONG_PTR), so
//   params.pbkdf2Params (CK_PKCS5_PBKD2_PARAMS2, length by value) crashes it; the tests build the
//   v2.20 struct from the same fields;
// - C_EncryptMessageBegin/Next and C_DecryptMessageBegin/Next are CKR_FUNCTION_NOT_SUPPORTED stubs.
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { openNss, createNssDb } from './helpers/nss';
import { runChild } from './helpers/child-process';
import {
  params,
  structLayout,
  CKA_CLASS,
  CKA_TOKEN,
  CKA_VALUE,
  CKA_KEY_TYPE,
  CKA_SENSITIVE,
  CKA_VALUE_LEN,
  CKA_EXTRACTABLE,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKA_DERIVE,
  CKO_SECRET_KEY,
  CKK_AES,
  CKK_GENERIC_SECRET,
  CKK_CHACHA20,
  CKM_AES_GCM,
  CKM_AES_CCM,
  CKM_CHACHA20,
  CKM_CHACHA20_POLY1305,
  CKM_RSA_PKCS_OAEP,
  CKM_ECDH1_DERIVE,
  CKM_EC_KEY_PAIR_GEN,
  CKM_EDDSA,
  CKM_HKDF_DERIVE,
  CKM_PKCS5_PBKD2,
  CKM_SP800_108_COUNTER_KDF,
  CKM_SP800_108_FEEDBACK_KDF,
  CKM_SP800_108_DOUBLE_PIPELINE_KDF,
  CKM_SHA256_HMAC,
  CKM_SHA384_HMAC,
  CKM_SHA256,
  CKM_SHA384,
  CKM_AES_CBC,
  CKG_MGF1_SHA1,
  CKG_MGF1_SHA256,
  CKG_NO_GENERATE,
  CKG_GENERATE_RANDOM,
  CKG_GENERATE_COUNTER,
  CKD_NULL,
  CKD_SHA1_KDF,
  CKD_SHA256_KDF,
  CKD_SHA384_KDF,
  CKD_SHA512_KDF,
  CKF_MESSAGE_ENCRYPT,
  CKF_MESSAGE_DECRYPT,
  CKF_END_OF_MESSAGE,
  CKF_HKDF_SALT_DATA,
  CKF_HKDF_SALT_KEY,
  CKF_HKDF_SALT_NULL,
  CKP_PKCS5_PBKD2_HMAC_SHA1,
  CKP_PKCS5_PBKD2_HMAC_SHA256,
  CKP_PKCS5_PBKD2_HMAC_SHA512,
  CK_SP800_108_ITERATION_VARIABLE,
  CK_SP800_108_COUNTER,
  CK_SP800_108_BYTE_ARRAY,
  CK_SP800_108_DKM_LENGTH,
  CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
  CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS,
  CKR_ARGUMENTS_BAD,
  CKR_ENCRYPTED_DATA_INVALID,
  CKR_FUNCTION_NOT_SUPPORTED,
  CKR_KEY_SIZE_RANGE,
  CKR_MECHANISM_INVALID,
  CKR_MECHANISM_PARAM_INVALID,
  CKR_OPERATION_NOT_INITIALIZED,
} from '../lib/raw';
import type { Ulong, Mechanism, StructField, KeyPair } from '../lib/raw';
import { attr, derOctetString, P256_PARAMS } from './helpers/keys';
import { expectBoth, expectPkcs11, thrown, rejection } from './helpers/p11-expect';
import { secretKey, readableSecret, keyValue, importRsaKeyPair, readUlong, x963Kdf, hkdfExtract, hkdfExpand, sp800108CounterHmac } from './helpers/mechanisms';

const structSize = (f: StructField[]): number => structLayout(f).size;

function nodeGcm(key: Buffer, iv: Buffer, aad: Buffer, pt: Buffer): { ct: Buffer; tag: Buffer } {
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { ct, tag: c.getAuthTag() };
}

function nodeChaChaPoly(key: Buffer, nonce: Buffer, aad: Buffer, pt: Buffer): { ct: Buffer; tag: Buffer } {
  const c = crypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: pt.length });
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { ct, tag: c.getAuthTag() };
}

/** The v2.20 CK_PKCS5_PBKD2_PARAMS NSS softoken reads (length behind a pointer), via the library's builder. */
function pbkdf2ParamsV220(p: Parameters<typeof params.pbkdf2Params>[0]): StructField[] {
  return params.pbkdf2ParamsLegacy(p);
}

const sha256 = (b: Buffer): Buffer => crypto.createHash('sha256').update(b).digest();

describe('mechanism parameters on NSS softoken, cross-checked with node:crypto', () => {
  const env = openNss();
  const mod = env.mod;
  let s: Ulong; // NSS session objects are visible to their own session only: keys are made per test

  afterAll(() => env.close());
  beforeEach(() => {
    s = env.session();
  });
  afterEach(() => {
    mod.C_CloseSession(s);
  });

  test('the module: NSS softoken, Cryptoki 3.0, 92 functions; the mechanism list has what runs here, not CCM or EdDSA', () => {
    const info = mod.C_GetInfo();
    expect(info.cryptokiVersion).toEqual({ major: 3, minor: 0 });
    expect(info.manufacturerID).toBe('Mozilla Foundation');
    expect(mod.moduleInfo()).toMatchObject({ functionCount: 92, interface: 'PKCS 11' });
    const list = mod.C_GetMechanismList(env.slot);
    for (const m of [CKM_RSA_PKCS_OAEP, CKM_ECDH1_DERIVE, CKM_HKDF_DERIVE, CKM_PKCS5_PBKD2, CKM_SP800_108_COUNTER_KDF, CKM_CHACHA20, CKM_CHACHA20_POLY1305, CKM_AES_GCM]) {
      expect({ m, listed: list.includes(m) }).toEqual({ m, listed: true });
    }
    for (const m of [CKM_AES_CCM, CKM_EDDSA]) expect({ m, listed: list.includes(m) }).toEqual({ m, listed: false });
    const both = CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT;
    expect(Number(mod.C_GetMechanismInfo(env.slot, CKM_AES_GCM).flags) & both).toBe(both);
    expect(Number(mod.C_GetMechanismInfo(env.slot, CKM_CHACHA20_POLY1305).flags) & both).toBe(both);
  });

  describe('RSA-OAEP SHA-256 / MGF1-SHA256 with a label (params.oaepParams), node key pair on the token', () => {
    const nodePair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const label = Buffer.from('p11bridge OAEP label');
    const mech: Mechanism = { mechanism: CKM_RSA_PKCS_OAEP, parameter: params.oaepParams({ hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, label }) };
    const nodeOpts = (l: Buffer) => ({ padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: l });

    test('sync: the token encrypts with the public key, node privateDecrypt (sha256 + the label) recovers it; another label fails in node', () => {
      const rsa: KeyPair = importRsaKeyPair(mod, s, nodePair);
      const msg = crypto.randomBytes(60);
      mod.C_EncryptInit(s, mech, rsa.publicKey);
      const ct = mod.C_Encrypt(s, msg);
      expect(ct.length).toBe(256);
      expect(crypto.privateDecrypt({ key: nodePair.privateKey, ...nodeOpts(label) }, ct)).toEqual(msg);
      expect(() => crypto.privateDecrypt({ key: nodePair.privateKey, ...nodeOpts(Buffer.from('other')) }, ct)).toThrow();
      expect(() => crypto.privateDecrypt({ key: nodePair.privateKey, ...nodeOpts(Buffer.alloc(0)) }, ct)).toThrow();
    });

    test('async: node publicEncrypt with the label → C_DecryptAsync; C_EncryptAsync → node; wrong label/MGF on the token → CKR_ENCRYPTED_DATA_INVALID', async () => {
      const rsa: KeyPair = importRsaKeyPair(mod, s, nodePair);
      const msg = crypto.randomBytes(32);
      const fromNode = crypto.publicEncrypt({ key: nodePair.publicKey, ...nodeOpts(label) }, msg);
      await mod.C_DecryptInitAsync(s, mech, rsa.privateKey);
      expect(await mod.C_DecryptAsync(s, fromNode)).toEqual(msg);

      await mod.C_EncryptInitAsync(s, mech, rsa.publicKey);
      expect(crypto.privateDecrypt({ key: nodePair.privateKey, ...nodeOpts(label) }, await mod.C_EncryptAsync(s, msg))).toEqual(msg);

      for (const p of [
        { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, label: Buffer.from('p11bridge OAEP labeL') },
        { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256 },
        { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA1, label },
      ]) {
        const wrong = { mechanism: CKM_RSA_PKCS_OAEP, parameter: params.oaepParams(p) };
        mod.C_DecryptInit(s, wrong, rsa.privateKey);
        expectPkcs11(
          thrown(() => mod.C_Decrypt(s, fromNode)),
          'CKR_ENCRYPTED_DATA_INVALID',
          'C_Decrypt',
          CKR_ENCRYPTED_DATA_INVALID,
        );
        await mod.C_DecryptInitAsync(s, wrong, rsa.privateKey);
        expectPkcs11(await rejection(mod.C_DecryptAsync(s, fromNode)), 'CKR_ENCRYPTED_DATA_INVALID', 'C_Decrypt', CKR_ENCRYPTED_DATA_INVALID);
      }
    });
  });

  describe('ECDH1 derive (params.ecdh1DeriveParams) on P-256, with and without an X9.63 KDF', () => {
    function tokenEc(): { pair: KeyPair; point: Buffer } {
      const pair = mod.C_GenerateKeyPair(
        s,
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
      return { pair, point: derOctetString(attr(mod, s, pair.publicKey, CKA_EC_POINT)) };
    }
    function nodeEcdh(): crypto.ECDH {
      const e = crypto.createECDH('prime256v1');
      e.generateKeys();
      return e;
    }

    test('CKD_NULL sync and async: CKA_VALUE equals node computeSecret', async () => {
      const { pair, point } = tokenEc();
      const node = nodeEcdh();
      const z = node.computeSecret(point);
      const mech = { mechanism: CKM_ECDH1_DERIVE, parameter: params.ecdh1DeriveParams({ publicData: node.getPublicKey(), kdf: CKD_NULL }) };
      expect(keyValue(mod, s, mod.C_DeriveKey(s, mech, pair.privateKey, readableSecret(32)))).toEqual(z);
      expect(keyValue(mod, s, await mod.C_DeriveKeyAsync(s, mech, pair.privateKey, readableSecret(32)))).toEqual(z);
    });

    test('CKD_SHA256_KDF with shared data, sync: 48 bytes = SHA256(Z || 00000001 || info) || SHA256(Z || 00000002 || info) truncated', () => {
      const { pair, point } = tokenEc();
      const node = nodeEcdh();
      const z = node.computeSecret(point);
      const sharedInfo = Buffer.from('X9.63 shared info');
      const mech = { mechanism: CKM_ECDH1_DERIVE, parameter: params.ecdh1DeriveParams({ publicData: node.getPublicKey(), kdf: CKD_SHA256_KDF, sharedData: sharedInfo }) };
      const value = keyValue(mod, s, mod.C_DeriveKey(s, mech, pair.privateKey, readableSecret(48)));
      const c1 = Buffer.from([0, 0, 0, 1]);
      const c2 = Buffer.from([0, 0, 0, 2]);
      expect(value).toEqual(Buffer.concat([sha256(Buffer.concat([z, c1, sharedInfo])), sha256(Buffer.concat([z, c2, sharedInfo]))]).subarray(0, 48));
      expect(value).toEqual(x963Kdf('sha256', z, sharedInfo, 48));
    });

    test('X9.63 KDFs async (SHA-1/256/384/512, with and without shared data) match the node computation', async () => {
      const { pair, point } = tokenEc();
      for (const [kdf, hash] of [
        [CKD_SHA1_KDF, 'sha1'],
        [CKD_SHA256_KDF, 'sha256'],
        [CKD_SHA384_KDF, 'sha384'],
        [CKD_SHA512_KDF, 'sha512'],
      ] as const) {
        for (const sharedData of [null, Buffer.from('shared')]) {
          const node = nodeEcdh();
          const mech = { mechanism: CKM_ECDH1_DERIVE, parameter: params.ecdh1DeriveParams({ publicData: node.getPublicKey(), kdf, sharedData }) };
          const h = await mod.C_DeriveKeyAsync(s, mech, pair.privateKey, readableSecret(40));
          expect({ kdf, value: keyValue(mod, s, h) }).toEqual({ kdf, value: x963Kdf(hash, node.computeSecret(point), sharedData ?? Buffer.alloc(0), 40) });
        }
      }
    });

    test('refusals: CKD_NULL with shared data → CKR_MECHANISM_PARAM_INVALID; a point off the curve → CKR_KEY_SIZE_RANGE (NSS), sync and async', async () => {
      const { pair } = tokenEc();
      const node = nodeEcdh();
      const withShared = { mechanism: CKM_ECDH1_DERIVE, parameter: params.ecdh1DeriveParams({ publicData: node.getPublicKey(), kdf: CKD_NULL, sharedData: Buffer.from('x') }) };
      await expectBoth(
        () => mod.C_DeriveKey(s, withShared, pair.privateKey, readableSecret(32)),
        () => mod.C_DeriveKeyAsync(s, withShared, pair.privateKey, readableSecret(32)),
        'CKR_MECHANISM_PARAM_INVALID',
        'C_DeriveKey',
        CKR_MECHANISM_PARAM_INVALID,
      );
      const bad = node.getPublicKey();
      bad[40] ^= 1;
      const offCurve = { mechanism: CKM_ECDH1_DERIVE, parameter: params.ecdh1DeriveParams({ publicData: bad }) };
      await expectBoth(
        () => mod.C_DeriveKey(s, offCurve, pair.privateKey, readableSecret(32)),
        () => mod.C_DeriveKeyAsync(s, offCurve, pair.privateKey, readableSecret(32)),
        'CKR_KEY_SIZE_RANGE',
        'C_DeriveKey',
        CKR_KEY_SIZE_RANGE,
      );
    });
  });

  describe('HKDF: CKM_HKDF_DERIVE with params.hkdfParams', () => {
    const ikm = crypto.randomBytes(32);
    const salt = crypto.randomBytes(16);
    const info = Buffer.from('p11bridge hkdf info');

    test('extract + expand, salt data, sync: 42 bytes equal crypto.hkdfSync(sha256)', () => {
      const base = secretKey(mod, s, CKK_GENERIC_SECRET, ikm);
      const mech = {
        mechanism: CKM_HKDF_DERIVE,
        parameter: params.hkdfParams({ extract: true, expand: true, prfHashMechanism: CKM_SHA256, saltType: CKF_HKDF_SALT_DATA, salt, info }),
      };
      const value = keyValue(mod, s, mod.C_DeriveKey(s, mech, base, readableSecret(42)));
      expect(value).toEqual(Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info, 42)));
    });

    test('async: SHA-384 without salt (CKF_HKDF_SALT_NULL), salt from a key (CKF_HKDF_SALT_KEY), extract only, expand only', async () => {
      const base = secretKey(mod, s, CKK_GENERIC_SECRET, ikm);
      const derive = async (p: Parameters<typeof params.hkdfParams>[0], len?: number): Promise<Buffer> =>
        keyValue(mod, s, await mod.C_DeriveKeyAsync(s, { mechanism: CKM_HKDF_DERIVE, parameter: params.hkdfParams(p) }, base, readableSecret(len)));

      expect(await derive({ extract: true, expand: true, prfHashMechanism: CKM_SHA384, saltType: CKF_HKDF_SALT_NULL, info }, 50)).toEqual(
        Buffer.from(crypto.hkdfSync('sha384', ikm, Buffer.alloc(0), info, 50)),
      );

      const saltKey = secretKey(mod, s, CKK_GENERIC_SECRET, salt);
      expect(await derive({ extract: true, expand: true, prfHashMechanism: CKM_SHA256, saltType: CKF_HKDF_SALT_KEY, saltKey, info }, 20)).toEqual(
        Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info, 20)),
      );

      // Extract only: the PRK itself (HashLen bytes, with or without CKA_VALUE_LEN).
      const prk = hkdfExtract('sha256', salt, ikm);
      expect(await derive({ extract: true, expand: false, prfHashMechanism: CKM_SHA256, saltType: CKF_HKDF_SALT_DATA, salt })).toEqual(prk);
      expect(await derive({ extract: true, expand: false, prfHashMechanism: CKM_SHA256, saltType: CKF_HKDF_SALT_DATA, salt }, 32)).toEqual(prk);

      // Expand only: the base key is taken as the PRK.
      expect(await derive({ extract: false, expand: true, prfHashMechanism: CKM_SHA256, info }, 50)).toEqual(hkdfExpand('sha256', ikm, info, 50));
      // Both steps in node = both steps on the token.
      expect(hkdfExpand('sha256', prk, info, 42)).toEqual(Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info, 42)));
    });

    test('refusals: neither extract nor expand → CKR_MECHANISM_PARAM_INVALID; a non-hash PRF → CKR_MECHANISM_INVALID, sync and async', async () => {
      const base = secretKey(mod, s, CKK_GENERIC_SECRET, ikm);
      const neither = { mechanism: CKM_HKDF_DERIVE, parameter: params.hkdfParams({ extract: false, expand: false, prfHashMechanism: CKM_SHA256 }) };
      await expectBoth(
        () => mod.C_DeriveKey(s, neither, base, readableSecret(20)),
        () => mod.C_DeriveKeyAsync(s, neither, base, readableSecret(20)),
        'CKR_MECHANISM_PARAM_INVALID',
        'C_DeriveKey',
        CKR_MECHANISM_PARAM_INVALID,
      );
      const notHash = { mechanism: CKM_HKDF_DERIVE, parameter: params.hkdfParams({ extract: true, expand: true, prfHashMechanism: CKM_AES_CBC }) };
      await expectBoth(
        () => mod.C_DeriveKey(s, notHash, base, readableSecret(20)),
        () => mod.C_DeriveKeyAsync(s, notHash, base, readableSecret(20)),
        'CKR_MECHANISM_INVALID',
        'C_DeriveKey',
        CKR_MECHANISM_INVALID,
      );
    });
  });

  describe('PBKDF2: CKM_PKCS5_PBKD2 (C_GenerateKey) with the PRF CKP_PKCS5_PBKD2_HMAC_SHA256', () => {
    const password = Buffer.from('correct horse battery staple');
    const salt = crypto.randomBytes(16);

    test('sync: the derived value equals crypto.pbkdf2Sync(sha256)', () => {
      const mech = { mechanism: CKM_PKCS5_PBKD2, parameter: pbkdf2ParamsV220({ salt, iterations: 2048, prf: CKP_PKCS5_PBKD2_HMAC_SHA256, password }) };
      const value = keyValue(mod, s, mod.C_GenerateKey(s, mech, readableSecret(32)));
      expect(value).toEqual(crypto.pbkdf2Sync(password, salt, 2048, 32, 'sha256'));
    });

    test('async: SHA-1, SHA-256 and SHA-512 PRFs, output longer than one PRF block', async () => {
      for (const [prf, hash] of [
        [CKP_PKCS5_PBKD2_HMAC_SHA1, 'sha1'],
        [CKP_PKCS5_PBKD2_HMAC_SHA256, 'sha256'],
        [CKP_PKCS5_PBKD2_HMAC_SHA512, 'sha512'],
      ] as const) {
        const mech = { mechanism: CKM_PKCS5_PBKD2, parameter: pbkdf2ParamsV220({ salt, iterations: 1000, prf, password }) };
        const value = keyValue(mod, s, await mod.C_GenerateKeyAsync(s, mech, readableSecret(70)));
        expect({ hash, value }).toEqual({ hash, value: crypto.pbkdf2Sync(password, salt, 1000, 70, hash) });
      }
    });

    test('params.pbkdf2Params (CK_PKCS5_PBKD2_PARAMS2, length by value) makes NSS 3.87 dereference ulPasswordLen: SIGSEGV in a child; the v2.20 struct works there', () => {
      // The child's C constants, checked here against the generated ones.
      expect({ CKO_SECRET_KEY, CKM_PKCS5_PBKD2, CKA_CLASS, CKA_TOKEN, CKA_VALUE, CKA_KEY_TYPE, CKA_SENSITIVE, CKA_VALUE_LEN, CKA_EXTRACTABLE, CKK_GENERIC_SECRET }).toEqual({
        CKO_SECRET_KEY: 0x4,
        CKM_PKCS5_PBKD2: 0x3b0,
        CKA_CLASS: 0x0,
        CKA_TOKEN: 0x1,
        CKA_VALUE: 0x11,
        CKA_KEY_TYPE: 0x100,
        CKA_SENSITIVE: 0x103,
        CKA_VALUE_LEN: 0x161,
        CKA_EXTRACTABLE: 0x162,
        CKK_GENERIC_SECRET: 0x10,
      });
      const p = { salt, iterations: 1000, prf: CKP_PKCS5_PBKD2_HMAC_SHA256, password };
      const db = createNssDb(); // the child's own database: one per process
      try {
        const child = (fields: StructField[]) =>
          runChild(path.join(__dirname, 'helpers', 'nss-pbkdf2-child.js'), [db.modulePath, db.libraryParameters, String(db.slot), JSON.stringify(fields), '32'], {
            timeoutMs: 60_000,
          });
        const good = child(pbkdf2ParamsV220(p));
        expect(good.json).toEqual({ ok: true, value: crypto.pbkdf2Sync(password, salt, 1000, 32, 'sha256').toString('hex') });

        const crashed = child(params.pbkdf2Params(p));
        expect(crashed.stdout).toContain('calling C_GenerateKey');
        expect({ signal: crashed.signal, json: crashed.json }).toEqual({ signal: 'SIGSEGV', json: undefined });
      } finally {
        db.cleanup();
      }
    });
  });

  describe('SP 800-108 KDFs: counter (params.sp800108Params), feedback (params.sp800108FeedbackParams), double pipeline', () => {
    const key = crypto.randomBytes(32);
    const label = Buffer.from('p11bridge label');
    const context = Buffer.from('context bytes');
    const fixedInput = Buffer.concat([label, Buffer.from([0]), context]);

    test('sync: [i]32 || Label || 0x00 || Context || [L]32 with HMAC-SHA256, 48 bytes, equals the node computation', () => {
      const base = secretKey(mod, s, CKK_GENERIC_SECRET, key);
      const mech = {
        mechanism: CKM_SP800_108_COUNTER_KDF,
        parameter: params.sp800108Params(
          {
            prfType: CKM_SHA256_HMAC,
            dataParams: [
              { type: CK_SP800_108_ITERATION_VARIABLE, value: params.sp800108CounterFormat({ widthInBits: 32 }) },
              { type: CK_SP800_108_BYTE_ARRAY, value: fixedInput },
              { type: CK_SP800_108_DKM_LENGTH, value: params.sp800108DkmLengthFormat({ method: CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, widthInBits: 32 }) },
            ],
          },
          structSize,
        ),
      };
      const value = keyValue(mod, s, mod.C_DeriveKey(s, mech, base, readableSecret(48)));
      // By hand: K(i) = HMAC-SHA256(key, [i]_32 || fixed || [384]_32).
      const k = (i: number) => {
        const ctr = Buffer.alloc(4);
        ctr.writeUInt32BE(i);
        const l = Buffer.alloc(4);
        l.writeUInt32BE(48 * 8);
        return crypto
          .createHmac('sha256', key)
          .update(Buffer.concat([ctr, fixedInput, l]))
          .digest();
      };
      expect(value).toEqual(Buffer.concat([k(1), k(2)]).subarray(0, 48));
      expect(value).toEqual(sp800108CounterHmac({ hash: 'sha256', key, fixedInput, counterBytes: 4, dkmBits: 384, dkmBytes: 4, keyLengths: [48] })[0]);
    });

    test('async with two CK_DERIVED_KEYs: their handles are written into the `out` buffers; each key starts on a new PRF block', async () => {
      const base = secretKey(mod, s, CKK_GENERIC_SECRET, key);
      const h1 = new Uint8Array(8);
      const h2 = new Uint8Array(8);
      const mech = {
        mechanism: CKM_SP800_108_COUNTER_KDF,
        parameter: params.sp800108Params(
          {
            prfType: CKM_SHA256_HMAC,
            dataParams: [
              { type: CK_SP800_108_ITERATION_VARIABLE, value: params.sp800108CounterFormat({ widthInBits: 8 }) },
              { type: CK_SP800_108_BYTE_ARRAY, value: fixedInput },
              { type: CK_SP800_108_DKM_LENGTH, value: params.sp800108DkmLengthFormat({ method: CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, widthInBits: 16 }) },
            ],
            additionalKeys: [params.derivedKey({ template: readableSecret(16), handle: h1 }), params.derivedKey({ template: readableSecret(20), handle: h2 })],
          },
          structSize,
        ),
      };
      const promise = mod.C_DeriveKeyAsync(s, mech, base, readableSecret(32));
      expect([readUlong(h1), readUlong(h2)]).toEqual([0, 0]); // written back when the Promise resolves
      const h = await promise;
      const extra1 = readUlong(h1);
      const extra2 = readUlong(h2);
      expect(new Set([h, extra1, extra2]).size).toBe(3);
      expect(extra1).not.toBe(0);
      expect(extra2).not.toBe(0);
      const [k0, k1, k2] = sp800108CounterHmac({ hash: 'sha256', key, fixedInput, counterBytes: 1, dkmBits: (32 + 16 + 20) * 8, dkmBytes: 2, keyLengths: [32, 16, 20] });
      expect(keyValue(mod, s, h)).toEqual(k0);
      expect(keyValue(mod, s, extra1)).toEqual(k1);
      expect(keyValue(mod, s, extra2)).toEqual(k2);
    });

    test('sync, HMAC-SHA384, DKM length as the sum of segments, with a little-endian 16-bit counter', () => {
      const base = secretKey(mod, s, CKK_GENERIC_SECRET, key);
      const handle = new Uint8Array(8);
      const mech = {
        mechanism: CKM_SP800_108_COUNTER_KDF,
        parameter: params.sp800108Params(
          {
            prfType: CKM_SHA384_HMAC,
            dataParams: [
              { type: CK_SP800_108_BYTE_ARRAY, value: label },
              { type: CK_SP800_108_ITERATION_VARIABLE, value: params.sp800108CounterFormat({ littleEndian: true, widthInBits: 16 }) },
              { type: CK_SP800_108_DKM_LENGTH, value: params.sp800108DkmLengthFormat({ method: CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS, widthInBits: 32 }) },
            ],
            additionalKeys: [params.derivedKey({ template: readableSecret(10), handle })],
          },
          structSize,
        ),
      };
      const h = mod.C_DeriveKey(s, mech, base, readableSecret(50));
      // Segments: 50 bytes → 2 SHA-384 blocks, 10 bytes → 1 block: L = 3 * 384 bits.
      const block = (i: number) => {
        const ctr = Buffer.alloc(2);
        ctr.writeUInt16LE(i);
        const l = Buffer.alloc(4);
        l.writeUInt32BE(3 * 384);
        return crypto
          .createHmac('sha384', key)
          .update(Buffer.concat([label, ctr, l]))
          .digest();
      };
      expect(keyValue(mod, s, h)).toEqual(Buffer.concat([block(1), block(2)]).subarray(0, 50));
      expect(keyValue(mod, s, readUlong(handle))).toEqual(block(3).subarray(0, 10));
    });
    test('feedback mode (params.sp800108FeedbackParams, CKM_SP800_108_FEEDBACK_KDF) sync: K(i) = HMAC(key, K(i-1) || [i]32 || fixed), K(0) = IV', () => {
      const base = secretKey(mod, s, CKK_GENERIC_SECRET, key);
      const iv = crypto.randomBytes(32);
      const mech = {
        mechanism: CKM_SP800_108_FEEDBACK_KDF,
        parameter: params.sp800108FeedbackParams(
          {
            prfType: CKM_SHA256_HMAC,
            dataParams: [
              // Feedback and double-pipeline modes take the iteration variable with no value (NULL, 0).
              { type: CK_SP800_108_ITERATION_VARIABLE, value: Buffer.alloc(0) },
              { type: CK_SP800_108_COUNTER, value: params.sp800108CounterFormat({ widthInBits: 32 }) },
              { type: CK_SP800_108_BYTE_ARRAY, value: fixedInput },
            ],
            iv,
          },
          structSize,
        ),
      };
      const value = keyValue(mod, s, mod.C_DeriveKey(s, mech, base, readableSecret(48)));
      let prev = iv;
      const blocks: Buffer[] = [];
      for (let i = 1; i <= 2; i++) {
        const ctr = Buffer.alloc(4);
        ctr.writeUInt32BE(i);
        prev = crypto
          .createHmac('sha256', key)
          .update(Buffer.concat([prev, ctr, fixedInput]))
          .digest();
        blocks.push(prev);
      }
      expect(value).toEqual(Buffer.concat(blocks).subarray(0, 48));
    });

    test('double-pipeline mode (CKM_SP800_108_DOUBLE_PIPELINE_KDF) async: A(i) = HMAC(key, A(i-1)), A(0) = fixed; K(i) = HMAC(key, A(i) || fixed)', async () => {
      const base = secretKey(mod, s, CKK_GENERIC_SECRET, key);
      const mech = {
        mechanism: CKM_SP800_108_DOUBLE_PIPELINE_KDF,
        parameter: params.sp800108Params(
          {
            prfType: CKM_SHA256_HMAC,
            dataParams: [
              { type: CK_SP800_108_ITERATION_VARIABLE, value: Buffer.alloc(0) },
              { type: CK_SP800_108_BYTE_ARRAY, value: fixedInput },
            ],
          },
          structSize,
        ),
      };
      const value = keyValue(mod, s, await mod.C_DeriveKeyAsync(s, mech, base, readableSecret(48)));
      let a = fixedInput;
      const blocks: Buffer[] = [];
      for (let i = 1; i <= 2; i++) {
        a = crypto.createHmac('sha256', key).update(a).digest();
        blocks.push(
          crypto
            .createHmac('sha256', key)
            .update(Buffer.concat([a, fixedInput]))
            .digest(),
        );
      }
      expect(value).toEqual(Buffer.concat(blocks).subarray(0, 48));
    });
  });

  describe('ChaCha20 (params.chacha20Params) and ChaCha20-Poly1305 (params.chacha20Poly1305Params)', () => {
    const keyValue32 = crypto.randomBytes(32);

    test('CKM_CHACHA20 sync and async: a 32-bit block counter + 96-bit nonce stream equals node chacha20 (16-byte IV = counter LE || nonce)', async () => {
      const k = secretKey(mod, s, CKK_CHACHA20, keyValue32);
      const nonce = crypto.randomBytes(12);
      const counter = Buffer.from([7, 0, 0, 0]);
      const pt = crypto.randomBytes(200);
      const expected = crypto.createCipheriv('chacha20', keyValue32, Buffer.concat([counter, nonce])).update(pt);
      const mech = { mechanism: CKM_CHACHA20, parameter: params.chacha20Params({ blockCounter: counter, nonce }) };
      mod.C_EncryptInit(s, mech, k);
      expect(mod.C_Encrypt(s, pt)).toEqual(expected);
      await mod.C_DecryptInitAsync(s, mech, k);
      expect(await mod.C_DecryptAsync(s, expected)).toEqual(pt);
    });

    test('CKM_CHACHA20_POLY1305 sync: ciphertext || tag equals node chacha20-poly1305 (an `out` buffer: see the NSS length-query note)', () => {
      const k = secretKey(mod, s, CKK_CHACHA20, keyValue32);
      for (const n of [0, 1, 64, 1000]) {
        const nonce = crypto.randomBytes(12);
        const aad = crypto.randomBytes(n % 3 === 0 ? 13 : 0);
        const pt = crypto.randomBytes(n);
        const mech = { mechanism: CKM_CHACHA20_POLY1305, parameter: params.chacha20Poly1305Params({ nonce, additionalData: aad }) };
        mod.C_EncryptInit(s, mech, k);
        const out = mod.C_Encrypt(s, pt, Buffer.alloc(n + 16));
        const { ct, tag } = nodeChaChaPoly(keyValue32, nonce, aad, pt);
        expect(out).toEqual(Buffer.concat([ct, tag]));
        mod.C_DecryptInit(s, mech, k);
        expect(mod.C_Decrypt(s, out)).toEqual(pt);
      }
    });

    test('CKM_CHACHA20_POLY1305 async: encrypts like node, decrypts node output; a flipped bit → CKR_ENCRYPTED_DATA_INVALID', async () => {
      const k = secretKey(mod, s, CKK_CHACHA20, keyValue32);
      const nonce = crypto.randomBytes(12);
      const aad = Buffer.from('associated');
      const pt = crypto.randomBytes(99);
      const mech = { mechanism: CKM_CHACHA20_POLY1305, parameter: params.chacha20Poly1305Params({ nonce, additionalData: aad }) };
      const { ct, tag } = nodeChaChaPoly(keyValue32, nonce, aad, pt);
      await mod.C_EncryptInitAsync(s, mech, k);
      expect(await mod.C_EncryptAsync(s, pt, Buffer.alloc(pt.length + 16))).toEqual(Buffer.concat([ct, tag]));
      await mod.C_DecryptInitAsync(s, mech, k);
      expect(await mod.C_DecryptAsync(s, Buffer.concat([ct, tag]))).toEqual(pt);

      const bad = Buffer.concat([ct, tag]);
      bad[10] ^= 4;
      await mod.C_DecryptInitAsync(s, mech, k);
      expectPkcs11(await rejection(mod.C_DecryptAsync(s, bad)), 'CKR_ENCRYPTED_DATA_INVALID', 'C_Decrypt', CKR_ENCRYPTED_DATA_INVALID);
      mod.C_DecryptInit(s, mech, k);
      expectPkcs11(
        thrown(() => mod.C_Decrypt(s, bad)),
        'CKR_ENCRYPTED_DATA_INVALID',
        'C_Decrypt',
        CKR_ENCRYPTED_DATA_INVALID,
      );
    });
  });

  describe("single-part AES-GCM on NSS (params.gcmParams): the module's length-query quirk", () => {
    const aesValue = crypto.randomBytes(32);

    test('with an `out` buffer: equals node; a tampered ciphertext → CKR_ENCRYPTED_DATA_INVALID (SoftHSM says CKR_GENERAL_ERROR), sync and async', async () => {
      const aes = secretKey(mod, s, CKK_AES, aesValue);
      const iv = crypto.randomBytes(12);
      const aad = Buffer.from('gcm aad');
      const pt = crypto.randomBytes(45);
      const mech = { mechanism: CKM_AES_GCM, parameter: params.gcmParams({ iv, additionalData: aad, tagBits: 128 }) };
      const { ct, tag } = nodeGcm(aesValue, iv, aad, pt);
      mod.C_EncryptInit(s, mech, aes);
      expect(mod.C_Encrypt(s, pt, Buffer.alloc(100))).toEqual(Buffer.concat([ct, tag]));
      await mod.C_EncryptInitAsync(s, mech, aes);
      expect(await mod.C_EncryptAsync(s, pt, Buffer.alloc(100))).toEqual(Buffer.concat([ct, tag]));

      const bad = Buffer.concat([ct, tag]);
      bad[0] ^= 1;
      mod.C_DecryptInit(s, mech, aes);
      expectPkcs11(
        thrown(() => mod.C_Decrypt(s, bad)),
        'CKR_ENCRYPTED_DATA_INVALID',
        'C_Decrypt',
        CKR_ENCRYPTED_DATA_INVALID,
      );
      await mod.C_DecryptInitAsync(s, mech, aes);
      expectPkcs11(await rejection(mod.C_DecryptAsync(s, bad)), 'CKR_ENCRYPTED_DATA_INVALID', 'C_Decrypt', CKR_ENCRYPTED_DATA_INVALID);
      // Decrypt's NULL length query (ulEncryptedDataLen + blockSize) is big enough.
      mod.C_DecryptInit(s, mech, aes);
      expect(mod.C_Decrypt(s, Buffer.concat([ct, tag]))).toEqual(pt);
    });

    test('without an `out` buffer: NSS answers the length query short of the tag; the addon offers input + 64 bytes, so the call succeeds', async () => {
      const aes = secretKey(mod, s, CKK_AES, aesValue);
      const iv = crypto.randomBytes(12);
      const mech = { mechanism: CKM_AES_GCM, parameter: params.gcmParams({ iv, tagBits: 128 }) };
      const c = crypto.createCipheriv('aes-256-gcm', aesValue, iv);
      const expected = Buffer.concat([c.update(Buffer.from('abc')), c.final(), c.getAuthTag()]);
      mod.C_EncryptInit(s, mech, aes);
      expect(mod.C_Encrypt(s, Buffer.from('abc'))).toEqual(expected);
      await mod.C_EncryptInitAsync(s, mech, aes);
      expect(await mod.C_EncryptAsync(s, Buffer.from('abc'))).toEqual(expected);
      // With a caller buffer the module's own behaviour shows: too small by the tag ends the operation.
      mod.C_EncryptInit(s, mech, aes);
      expectPkcs11(
        thrown(() => mod.C_Encrypt(s, Buffer.from('abc'), Buffer.alloc(10))),
        'CKR_BUFFER_TOO_SMALL',
        'C_Encrypt',
      );
      expectPkcs11(
        thrown(() => mod.C_Encrypt(s, Buffer.from('abc'), Buffer.alloc(19))),
        'CKR_OPERATION_NOT_INITIALIZED',
        'C_Encrypt',
        CKR_OPERATION_NOT_INITIALIZED,
      );
    });
  });

  test('AES-CCM: NSS 3.87 has no CKM_AES_CCM → CKR_MECHANISM_INVALID for C_EncryptInit (ccmParams) and C_MessageEncryptInit; layouts in test/layout.test.ts', async () => {
    const aes = secretKey(mod, s, CKK_AES, crypto.randomBytes(32));
    const single = { mechanism: CKM_AES_CCM, parameter: params.ccmParams({ dataLength: 3, nonce: crypto.randomBytes(12), additionalData: Buffer.from('a'), macLength: 16 }) };
    await expectBoth(
      () => mod.C_EncryptInit(s, single, aes),
      () => mod.C_EncryptInitAsync(s, single, aes),
      'CKR_MECHANISM_INVALID',
      'C_EncryptInit',
      CKR_MECHANISM_INVALID,
    );
    await expectBoth(
      () => mod.C_MessageEncryptInit(s, { mechanism: CKM_AES_CCM }, aes),
      () => mod.C_MessageEncryptInitAsync(s, { mechanism: CKM_AES_CCM }, aes),
      'CKR_MECHANISM_INVALID',
      'C_MessageEncryptInit',
      CKR_MECHANISM_INVALID,
    );
    await expectBoth(
      () => mod.C_MessageDecryptInit(s, { mechanism: CKM_AES_CCM }, aes),
      () => mod.C_MessageDecryptInitAsync(s, { mechanism: CKM_AES_CCM }, aes),
      'CKR_MECHANISM_INVALID',
      'C_MessageDecryptInit',
      CKR_MECHANISM_INVALID,
    );
    // With no message operation, a CK_CCM_MESSAGE_PARAMS reaches the module and is turned away there.
    const msg = params.ccmMessageParams({ dataLength: 3, nonce: new Uint8Array(12), mac: new Uint8Array(16) });
    await expectBoth(
      () => mod.C_EncryptMessage(s, msg, Buffer.alloc(0), Buffer.from('abc')),
      () => mod.C_EncryptMessageAsync(s, msg, Buffer.alloc(0), Buffer.from('abc')),
      'CKR_OPERATION_NOT_INITIALIZED',
      'C_EncryptMessage',
      CKR_OPERATION_NOT_INITIALIZED,
    );
  });

  describe('PKCS#11 3.0 message-based encryption: AES-GCM with params.gcmMessageParams', () => {
    const aesValue = crypto.randomBytes(32);
    let aes: Ulong;
    beforeEach(() => {
      aes = secretKey(mod, s, CKK_AES, aesValue);
    });

    test('sync, module-generated IV (CKG_GENERATE_RANDOM): C_EncryptMessage fills the iv and tag buffers; node decrypts with them', () => {
      mod.C_MessageEncryptInit(s, { mechanism: CKM_AES_GCM }, aes);
      const ivs: string[] = [];
      for (const n of [0, 17, 64]) {
        const iv = new Uint8Array(12);
        const tag = new Uint8Array(16);
        const aad = crypto.randomBytes(9);
        const pt = crypto.randomBytes(n);
        const ct = mod.C_EncryptMessage(s, params.gcmMessageParams({ iv, tag, ivGenerator: CKG_GENERATE_RANDOM }), aad, pt);
        expect(Buffer.from(iv).equals(Buffer.alloc(12))).toBe(false);
        ivs.push(Buffer.from(iv).toString('hex'));
        const expected = nodeGcm(aesValue, Buffer.from(iv), aad, pt);
        expect(ct).toEqual(expected.ct);
        expect(Buffer.from(tag)).toEqual(expected.tag);
      }
      expect(new Set(ivs).size).toBe(3);
      mod.C_MessageEncryptFinal(s);
    });

    test('sync, caller IV (CKG_NO_GENERATE): the iv buffer is left as given, the tag is written; counter IVs (CKG_GENERATE_COUNTER) keep the fixed part', () => {
      mod.C_MessageEncryptInit(s, { mechanism: CKM_AES_GCM }, aes);
      const given = crypto.randomBytes(12);
      const iv = Buffer.from(given);
      const tag = Buffer.alloc(16);
      const aad = Buffer.from('caller iv');
      const pt = crypto.randomBytes(33);
      const ct = mod.C_EncryptMessage(s, params.gcmMessageParams({ iv, tag, ivGenerator: CKG_NO_GENERATE }), aad, pt);
      expect(iv).toEqual(given);
      const expected = nodeGcm(aesValue, given, aad, pt);
      expect(ct).toEqual(expected.ct);
      expect(tag).toEqual(expected.tag);
      mod.C_MessageEncryptFinal(s);

      // NSS keeps one generator per operation (mixing them → CKR_ARGUMENTS_BAD): a fresh init for counters.
      mod.C_MessageEncryptInit(s, { mechanism: CKM_AES_GCM }, aes);
      const fixed = Buffer.from('p11b');
      const seen: Buffer[] = [];
      for (let i = 0; i < 3; i++) {
        const civ = Buffer.concat([fixed, Buffer.alloc(8)]);
        const ctag = Buffer.alloc(16);
        const c = mod.C_EncryptMessage(s, params.gcmMessageParams({ iv: civ, tag: ctag, ivFixedBits: 32, ivGenerator: CKG_GENERATE_COUNTER }), aad, pt);
        expect(civ.subarray(0, 4)).toEqual(fixed);
        expect(c).toEqual(nodeGcm(aesValue, civ, aad, pt).ct);
        expect(ctag).toEqual(nodeGcm(aesValue, civ, aad, pt).tag);
        seen.push(Buffer.from(civ));
      }
      expect(seen.map((b) => b.readBigUInt64BE(4))).toEqual([seen[0].readBigUInt64BE(4), seen[0].readBigUInt64BE(4) + 1n, seen[0].readBigUInt64BE(4) + 2n]);
      expectPkcs11(
        thrown(() => mod.C_EncryptMessage(s, params.gcmMessageParams({ iv: Buffer.alloc(12), tag: Buffer.alloc(16), ivGenerator: CKG_GENERATE_RANDOM }), aad, pt)),
        'CKR_ARGUMENTS_BAD',
        'C_EncryptMessage',
        CKR_ARGUMENTS_BAD,
      );
      mod.C_MessageEncryptFinal(s);
    });

    test('sync decrypt: C_MessageDecryptInit / C_DecryptMessage of node output; a wrong tag → CKR_ENCRYPTED_DATA_INVALID and the operation goes on', () => {
      const iv = crypto.randomBytes(12);
      const aad = Buffer.from('msg aad');
      const pt = crypto.randomBytes(80);
      const { ct, tag } = nodeGcm(aesValue, iv, aad, pt);
      mod.C_MessageDecryptInit(s, { mechanism: CKM_AES_GCM }, aes);
      expect(mod.C_DecryptMessage(s, params.gcmMessageParams({ iv: Buffer.from(iv), tag: Buffer.from(tag) }), aad, ct)).toEqual(pt);
      const badTag = Buffer.from(tag);
      badTag[15] ^= 1;
      expectPkcs11(
        thrown(() => mod.C_DecryptMessage(s, params.gcmMessageParams({ iv: Buffer.from(iv), tag: badTag }), aad, ct)),
        'CKR_ENCRYPTED_DATA_INVALID',
        'C_DecryptMessage',
        CKR_ENCRYPTED_DATA_INVALID,
      );
      expect(mod.C_DecryptMessage(s, params.gcmMessageParams({ iv: Buffer.from(iv), tag: Buffer.from(tag) }), aad, ct)).toEqual(pt);
      mod.C_MessageDecryptFinal(s);
    });

    test('async: the iv/tag `out` buffers are written when the C_EncryptMessageAsync Promise resolves; round trip through C_DecryptMessageAsync', async () => {
      await mod.C_MessageEncryptInitAsync(s, { mechanism: CKM_AES_GCM }, aes);
      const iv = new Uint8Array(12);
      const tag = new Uint8Array(16);
      const aad = Buffer.from('async aad');
      const pt = crypto.randomBytes(150);
      const p = mod.C_EncryptMessageAsync(s, params.gcmMessageParams({ iv, tag, ivGenerator: CKG_GENERATE_RANDOM }), aad, pt);
      // Still untouched: the module writes into p11bridge's copy, copied back on resolution.
      expect(Buffer.from(iv).equals(Buffer.alloc(12)) && Buffer.from(tag).equals(Buffer.alloc(16))).toBe(true);
      const ct = await p;
      expect(Buffer.from(iv).equals(Buffer.alloc(12))).toBe(false);
      const expected = nodeGcm(aesValue, Buffer.from(iv), aad, pt);
      expect(ct).toEqual(expected.ct);
      expect(Buffer.from(tag)).toEqual(expected.tag);

      // Caller IV (one generator per operation in NSS: a new one), async, into a caller output buffer.
      await mod.C_MessageEncryptFinalAsync(s);
      await mod.C_MessageEncryptInitAsync(s, { mechanism: CKM_AES_GCM }, aes);
      const civ = crypto.randomBytes(12);
      const ctag = new Uint8Array(16);
      const out = Buffer.alloc(200);
      const ct2 = await mod.C_EncryptMessageAsync(s, params.gcmMessageParams({ iv: Buffer.from(civ), tag: ctag }), aad, pt, out);
      expect(ct2.buffer).toBe(out.buffer);
      expect(ct2).toEqual(nodeGcm(aesValue, civ, aad, pt).ct);
      expect(Buffer.from(ctag)).toEqual(nodeGcm(aesValue, civ, aad, pt).tag);
      await mod.C_MessageEncryptFinalAsync(s);

      await mod.C_MessageDecryptInitAsync(s, { mechanism: CKM_AES_GCM }, aes);
      expect(await mod.C_DecryptMessageAsync(s, params.gcmMessageParams({ iv, tag }), aad, ct)).toEqual(pt);
      const wrongAad = Buffer.from('async aaD');
      expectPkcs11(
        await rejection(mod.C_DecryptMessageAsync(s, params.gcmMessageParams({ iv, tag }), wrongAad, ct)),
        'CKR_ENCRYPTED_DATA_INVALID',
        'C_DecryptMessage',
        CKR_ENCRYPTED_DATA_INVALID,
      );
      await mod.C_MessageDecryptFinalAsync(s);
    });

    test('iv/tag `out` buffers as views at odd offsets of one ArrayBuffer: written in place, neighbouring bytes untouched, sync and async', async () => {
      for (const mode of ['sync', 'async'] as const) {
        mod.C_MessageEncryptInit(s, { mechanism: CKM_AES_GCM }, aes);
        const backing = Buffer.alloc(64, 0xee);
        const iv = new Uint8Array(backing.buffer, backing.byteOffset + 3, 12);
        const tag = new Uint8Array(backing.buffer, backing.byteOffset + 20, 16);
        const aad = Buffer.from(mode);
        const pt = crypto.randomBytes(21);
        const mp = params.gcmMessageParams({ iv, tag, ivGenerator: CKG_GENERATE_RANDOM });
        const ct = mode === 'sync' ? mod.C_EncryptMessage(s, mp, aad, pt) : await mod.C_EncryptMessageAsync(s, mp, aad, pt);
        const expected = nodeGcm(aesValue, Buffer.from(iv), aad, pt);
        expect({ mode, ct, tag: Buffer.from(tag) }).toEqual({ mode, ct: expected.ct, tag: expected.tag });
        expect([backing.subarray(0, 3), backing.subarray(15, 20), backing.subarray(36)]).toEqual([Buffer.alloc(3, 0xee), Buffer.alloc(5, 0xee), Buffer.alloc(28, 0xee)]);
        mod.C_MessageEncryptFinal(s);
      }
    });

    test('multi-part messages: C_EncryptMessageBegin/Next and C_DecryptMessageBegin/Next are CKR_FUNCTION_NOT_SUPPORTED in NSS 3.87, sync and async', async () => {
      const aad = Buffer.from('parts');
      const mp = () => params.gcmMessageParams({ iv: crypto.randomBytes(12), tag: new Uint8Array(16) });
      await mod.C_MessageEncryptInitAsync(s, { mechanism: CKM_AES_GCM }, aes);
      await expectBoth(
        () => mod.C_EncryptMessageBegin(s, mp(), aad),
        () => mod.C_EncryptMessageBeginAsync(s, mp(), aad),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_EncryptMessageBegin',
        CKR_FUNCTION_NOT_SUPPORTED,
      );
      await expectBoth(
        () => mod.C_EncryptMessageNext(s, mp(), Buffer.alloc(20), 0),
        () => mod.C_EncryptMessageNextAsync(s, mp(), Buffer.alloc(20), CKF_END_OF_MESSAGE),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_EncryptMessageNext',
        CKR_FUNCTION_NOT_SUPPORTED,
      );
      mod.C_MessageEncryptFinal(s);
      await mod.C_MessageDecryptInitAsync(s, { mechanism: CKM_AES_GCM }, aes);
      await expectBoth(
        () => mod.C_DecryptMessageBegin(s, mp(), aad),
        () => mod.C_DecryptMessageBeginAsync(s, mp(), aad),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_DecryptMessageBegin',
        CKR_FUNCTION_NOT_SUPPORTED,
      );
      await expectBoth(
        () => mod.C_DecryptMessageNext(s, mp(), Buffer.alloc(20), CKF_END_OF_MESSAGE),
        () => mod.C_DecryptMessageNextAsync(s, mp(), Buffer.alloc(20), CKF_END_OF_MESSAGE),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_DecryptMessageNext',
        CKR_FUNCTION_NOT_SUPPORTED,
      );
      await mod.C_MessageDecryptFinalAsync(s);
    });

    test('ChaCha20-Poly1305 messages (params.chacha20Poly1305MessageParams), sync and async: ciphertext and tag equal node', async () => {
      const ck = crypto.randomBytes(32);
      const k = secretKey(mod, s, CKK_CHACHA20, ck);
      const aad = Buffer.from('chacha msg');
      const pt = crypto.randomBytes(70);
      mod.C_MessageEncryptInit(s, { mechanism: CKM_CHACHA20_POLY1305 }, k);
      const nonce = crypto.randomBytes(12);
      const tag = Buffer.alloc(16);
      const ct = mod.C_EncryptMessage(s, params.chacha20Poly1305MessageParams({ nonce: Buffer.from(nonce), tag }), aad, pt);
      const expected = nodeChaChaPoly(ck, nonce, aad, pt);
      expect(ct).toEqual(expected.ct);
      expect(tag).toEqual(expected.tag);
      const nonce2 = crypto.randomBytes(12);
      const tag2 = Buffer.alloc(16);
      const ct2 = await mod.C_EncryptMessageAsync(s, params.chacha20Poly1305MessageParams({ nonce: Buffer.from(nonce2), tag: tag2 }), aad, pt);
      expect(Buffer.concat([ct2, tag2])).toEqual(Buffer.concat(Object.values(nodeChaChaPoly(ck, nonce2, aad, pt))));
      mod.C_MessageEncryptFinal(s);

      await mod.C_MessageDecryptInitAsync(s, { mechanism: CKM_CHACHA20_POLY1305 }, k);
      expect(await mod.C_DecryptMessageAsync(s, params.chacha20Poly1305MessageParams({ nonce: Buffer.from(nonce), tag: Buffer.from(expected.tag) }), aad, expected.ct)).toEqual(pt);
      expect(mod.C_DecryptMessage(s, params.chacha20Poly1305MessageParams({ nonce: Buffer.from(nonce2), tag: tag2 }), aad, ct2)).toEqual(pt);
      mod.C_MessageDecryptFinal(s);
    });
  });
});
