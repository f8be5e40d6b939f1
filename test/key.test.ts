// Key management and random numbers on SoftHSM: C_GenerateKey, C_GenerateKeyPair, C_WrapKey,
// C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom — sync and async, checked with node:crypto.
import * as crypto from 'node:crypto';
import { openSoftHSM, userSession } from './helpers/softhsm';
import {
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKA_CLASS,
  CKA_KEY_TYPE,
  CKA_TOKEN,
  CKA_VALUE,
  CKA_VALUE_LEN,
  CKA_ENCRYPT,
  CKA_DECRYPT,
  CKA_SIGN,
  CKA_VERIFY,
  CKA_DERIVE,
  CKA_SENSITIVE,
  CKA_EXTRACTABLE,
  CKA_MODULUS,
  CKA_MODULUS_BITS,
  CKA_PUBLIC_EXPONENT,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKA_PRIME,
  CKA_BASE,
  CKO_SECRET_KEY,
  CKO_PUBLIC_KEY,
  CKO_PRIVATE_KEY,
  CKK_AES,
  CKK_GENERIC_SECRET,
  CKK_RSA,
  CKK_EC,
  CKK_EC_EDWARDS,
  CKK_DH,
  CKM_AES_KEY_GEN,
  CKM_AES_ECB,
  CKM_AES_CBC_PAD,
  CKM_AES_KEY_WRAP,
  CKM_AES_KEY_WRAP_PAD,
  CKM_GENERIC_SECRET_KEY_GEN,
  CKM_SHA256_HMAC,
  CKM_SHA256_RSA_PKCS,
  CKM_RSA_PKCS_KEY_PAIR_GEN,
  CKM_EC_KEY_PAIR_GEN,
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  CKM_ECDSA,
  CKM_EDDSA,
  CKM_DH_PKCS_KEY_PAIR_GEN,
  CKM_DH_PKCS_DERIVE,
  CKR_ATTRIBUTE_VALUE_INVALID,
  CKR_KEY_UNEXTRACTABLE,
  CKR_TEMPLATE_INCOMPLETE,
  CKR_KEY_SIZE_RANGE,
} from '../lib/raw';
import type { Ulong, Template, KeyPair } from '../lib/raw';
import {
  attr,
  ulongAttr,
  boolAttr,
  createAesKey,
  createKek,
  createGenericSecret,
  rsaTemplates,
  ecTemplates,
  rsaPublicKey,
  ecPublicKey,
  ed25519PublicKey,
  derOctetString,
  P256_PARAMS,
  ED25519_PARAMS,
  expectPkcs11Throw,
  expectPkcs11Reject,
} from './helpers/keys';

const DEFAULT_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex'); // RFC 3394
const PAD_IV = Buffer.from('A65959A6', 'hex'); // RFC 5649 AIV prefix

function nodeWrap(kek: Buffer, key: Buffer): Buffer {
  const c = crypto.createCipheriv(`id-aes${kek.length * 8}-wrap`, kek, DEFAULT_IV);
  return Buffer.concat([c.update(key), c.final()]);
}
function nodeWrapPad(kek: Buffer, key: Buffer): Buffer {
  const c = crypto.createCipheriv(`id-aes${kek.length * 8}-wrap-pad`, kek, PAD_IV);
  return Buffer.concat([c.update(key), c.final()]);
}
function nodeEcb(key: Buffer, block: Buffer): Buffer {
  const c = crypto.createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

const readableSecret: Template = [
  { type: CKA_TOKEN, value: false },
  { type: CKA_SENSITIVE, value: false },
  { type: CKA_EXTRACTABLE, value: true },
];

describe('key management and random numbers on SoftHSM', () => {
  const env = openSoftHSM();
  const mod = env.mod;
  let owner: Ulong;
  let s: Ulong;

  beforeAll(() => {
    owner = userSession(env);
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

  /** AES-ECB of one block on the token with key h. */
  function tokenEcb(h: Ulong, block: Buffer): Buffer {
    mod.C_EncryptInit(s, { mechanism: CKM_AES_ECB }, h);
    return mod.C_Encrypt(s, block);
  }

  describe('C_GenerateKey', () => {
    const aesTemplate = (len: number): Template => [...readableSecret, { type: CKA_VALUE_LEN, value: len }, { type: CKA_ENCRYPT, value: true }, { type: CKA_DECRYPT, value: true }];

    test('AES-128 and AES-256 (sync): class, type, length, and the value encrypts like node', () => {
      for (const len of [16, 32]) {
        const h = mod.C_GenerateKey(owner, { mechanism: CKM_AES_KEY_GEN }, aesTemplate(len));
        expect(typeof h === 'number' || typeof h === 'bigint').toBe(true);
        expect(ulongAttr(mod, s, h, CKA_CLASS)).toBe(Number(CKO_SECRET_KEY));
        expect(ulongAttr(mod, s, h, CKA_KEY_TYPE)).toBe(Number(CKK_AES));
        expect(ulongAttr(mod, s, h, CKA_VALUE_LEN)).toBe(len);
        const value = attr(mod, s, h, CKA_VALUE);
        expect(value.length).toBe(len);
        const block = crypto.randomBytes(16);
        expect(tokenEcb(h, block)).toEqual(nodeEcb(value, block));
      }
    });

    test('AES-256 with C_GenerateKeyAsync: a fresh random key each time, usable with CBC-PAD like node', async () => {
      const h1 = await mod.C_GenerateKeyAsync(owner, { mechanism: CKM_AES_KEY_GEN }, aesTemplate(32));
      const h2 = await mod.C_GenerateKeyAsync(owner, { mechanism: CKM_AES_KEY_GEN }, aesTemplate(32));
      expect(h1).not.toEqual(h2);
      const v1 = attr(mod, s, h1, CKA_VALUE);
      const v2 = attr(mod, s, h2, CKA_VALUE);
      expect(v1.length).toBe(32);
      expect(v1).not.toEqual(v2);
      const iv = crypto.randomBytes(16);
      const pt = crypto.randomBytes(50);
      mod.C_EncryptInit(s, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, h1);
      const c = crypto.createCipheriv('aes-256-cbc', v1, iv);
      expect(mod.C_Encrypt(s, pt)).toEqual(Buffer.concat([c.update(pt), c.final()]));
    });

    test('AES-128 with C_GenerateKeyAsync', async () => {
      const h = await mod.C_GenerateKeyAsync(owner, { mechanism: CKM_AES_KEY_GEN }, aesTemplate(16));
      const v = attr(mod, s, h, CKA_VALUE);
      expect(v.length).toBe(16);
      const block = crypto.randomBytes(16);
      expect(tokenEcb(h, block)).toEqual(nodeEcb(v, block));
    });

    test('SoftHSM defaults a generated key to non-extractable: CKA_VALUE reads as sensitive', () => {
      const h = mod.C_GenerateKey(owner, { mechanism: CKM_AES_KEY_GEN }, [
        { type: CKA_TOKEN, value: false },
        { type: CKA_VALUE_LEN, value: 16 },
      ]);
      expect(boolAttr(mod, s, h, CKA_EXTRACTABLE)).toBe(false);
      const [v] = mod.C_GetAttributeValue(s, h, [CKA_VALUE]);
      expect(v).toEqual({ type: CKA_VALUE, status: 'sensitive' });
    });

    test('generic secret (CKM_GENERIC_SECRET_KEY_GEN), sync and async: HMAC on the token equals createHmac with its value', async () => {
      const tpl = (len: number): Template => [...readableSecret, { type: CKA_VALUE_LEN, value: len }, { type: CKA_SIGN, value: true }, { type: CKA_VERIFY, value: true }];
      const hs = mod.C_GenerateKey(owner, { mechanism: CKM_GENERIC_SECRET_KEY_GEN }, tpl(32));
      const ha = await mod.C_GenerateKeyAsync(owner, { mechanism: CKM_GENERIC_SECRET_KEY_GEN }, tpl(48));
      const data = Buffer.from('hmac me');
      for (const h of [hs, ha]) {
        expect(ulongAttr(mod, s, h, CKA_KEY_TYPE)).toBe(Number(CKK_GENERIC_SECRET));
        const value = attr(mod, s, h, CKA_VALUE);
        expect(value.length).toBe(h === hs ? 32 : 48);
        mod.C_SignInit(s, { mechanism: CKM_SHA256_HMAC }, h);
        expect(mod.C_Sign(s, data)).toEqual(crypto.createHmac('sha256', value).update(data).digest());
      }
    });

    test('SoftHSM refuses CKM_SHA256_HMAC with a generic secret shorter than 32 bytes: CKR_KEY_SIZE_RANGE at C_SignInit', async () => {
      const h = mod.C_GenerateKey(owner, { mechanism: CKM_GENERIC_SECRET_KEY_GEN }, [
        { type: CKA_TOKEN, value: false },
        { type: CKA_VALUE_LEN, value: 20 },
        { type: CKA_SIGN, value: true },
      ]);
      expect(ulongAttr(mod, s, h, CKA_VALUE_LEN)).toBe(20);
      expectPkcs11Throw(() => mod.C_SignInit(s, { mechanism: CKM_SHA256_HMAC }, h), 'CKR_KEY_SIZE_RANGE', CKR_KEY_SIZE_RANGE, 'C_SignInit');
      await expectPkcs11Reject(mod.C_SignInitAsync(s, { mechanism: CKM_SHA256_HMAC }, h), 'CKR_KEY_SIZE_RANGE', CKR_KEY_SIZE_RANGE, 'C_SignInit');
    });

    test('an AES key of 17 bytes: CKR_ATTRIBUTE_VALUE_INVALID, sync and async', async () => {
      const tpl: Template = [
        { type: CKA_TOKEN, value: false },
        { type: CKA_VALUE_LEN, value: 17 },
      ];
      expectPkcs11Throw(() => mod.C_GenerateKey(owner, { mechanism: CKM_AES_KEY_GEN }, tpl), 'CKR_ATTRIBUTE_VALUE_INVALID', CKR_ATTRIBUTE_VALUE_INVALID, 'C_GenerateKey');
      await expectPkcs11Reject(mod.C_GenerateKeyAsync(owner, { mechanism: CKM_AES_KEY_GEN }, tpl), 'CKR_ATTRIBUTE_VALUE_INVALID', CKR_ATTRIBUTE_VALUE_INVALID, 'C_GenerateKey');
    });
  });

  describe('C_GenerateKeyPair', () => {
    function checkRsa(kp: KeyPair, bits: number): void {
      expect(kp.publicKey).not.toEqual(kp.privateKey);
      expect(ulongAttr(mod, s, kp.publicKey, CKA_CLASS)).toBe(Number(CKO_PUBLIC_KEY));
      expect(ulongAttr(mod, s, kp.privateKey, CKA_CLASS)).toBe(Number(CKO_PRIVATE_KEY));
      expect(ulongAttr(mod, s, kp.privateKey, CKA_KEY_TYPE)).toBe(Number(CKK_RSA));
      expect(ulongAttr(mod, s, kp.publicKey, CKA_MODULUS_BITS)).toBe(bits);
      expect(attr(mod, s, kp.publicKey, CKA_MODULUS).length).toBe(bits / 8);
      expect(attr(mod, s, kp.publicKey, CKA_PUBLIC_EXPONENT)).toEqual(Buffer.from([1, 0, 1]));
      const pub = rsaPublicKey(mod, s, kp.publicKey);
      expect(pub.asymmetricKeyDetails).toMatchObject({ modulusLength: bits, publicExponent: 65537n });
      const data = crypto.randomBytes(100);
      mod.C_SignInit(s, { mechanism: CKM_SHA256_RSA_PKCS }, kp.privateKey);
      const sig = mod.C_Sign(s, data);
      expect(crypto.verify('sha256', data, pub, sig)).toBe(true);
      expect(crypto.verify('sha256', Buffer.concat([data, Buffer.from([0])]), pub, sig)).toBe(false);
    }

    test('RSA 2048 (sync): attributes and a signature node verifies', () => {
      const [pub, priv] = rsaTemplates(2048);
      checkRsa(mod.C_GenerateKeyPair(owner, { mechanism: CKM_RSA_PKCS_KEY_PAIR_GEN }, pub, priv), 2048);
    });

    test('RSA 2048 (async)', async () => {
      const [pub, priv] = rsaTemplates(2048);
      const kp = await mod.C_GenerateKeyPairAsync(owner, { mechanism: CKM_RSA_PKCS_KEY_PAIR_GEN }, pub, priv);
      expect(Object.keys(kp).sort()).toEqual(['privateKey', 'publicKey']);
      checkRsa(kp, 2048);
    });

    function checkP256(kp: KeyPair): void {
      expect(ulongAttr(mod, s, kp.publicKey, CKA_KEY_TYPE)).toBe(Number(CKK_EC));
      expect(attr(mod, s, kp.publicKey, CKA_EC_PARAMS)).toEqual(P256_PARAMS);
      const pub = ecPublicKey(mod, s, kp.publicKey);
      expect(pub.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
      const data = crypto.randomBytes(64);
      mod.C_SignInit(s, { mechanism: CKM_ECDSA }, kp.privateKey);
      const sig = mod.C_Sign(s, crypto.createHash('sha256').update(data).digest());
      expect(crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
      expect(crypto.verify('sha256', data.subarray(1), { key: pub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(false);
    }

    test('EC P-256, sync and async: CKA_EC_POINT is a node-usable public key, ECDSA signatures verify', async () => {
      const [pub, priv] = ecTemplates();
      checkP256(mod.C_GenerateKeyPair(owner, { mechanism: CKM_EC_KEY_PAIR_GEN }, pub, priv));
      checkP256(await mod.C_GenerateKeyPairAsync(owner, { mechanism: CKM_EC_KEY_PAIR_GEN }, pub, priv));
    });

    test('EC P-256 public key from node on the token verifies node ECDSA signatures', () => {
      const nk = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const jwk = nk.publicKey.export({ format: 'jwk' });
      const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
      const h = mod.C_CreateObject(s, [
        { type: CKA_CLASS, value: CKO_PUBLIC_KEY },
        { type: CKA_KEY_TYPE, value: CKK_EC },
        { type: CKA_TOKEN, value: false },
        { type: CKA_EC_PARAMS, value: P256_PARAMS },
        { type: CKA_EC_POINT, value: Buffer.concat([Buffer.from([0x04, point.length]), point]) },
        { type: CKA_VERIFY, value: true },
      ]);
      const data = Buffer.from('node signs, the token verifies');
      const sig = crypto.sign('sha256', data, { key: nk.privateKey, dsaEncoding: 'ieee-p1363' });
      const digest = crypto.createHash('sha256').update(data).digest();
      mod.C_VerifyInit(s, { mechanism: CKM_ECDSA }, h);
      expect(mod.C_Verify(s, digest, sig)).toBe(true);
      sig[5] ^= 0x80;
      mod.C_VerifyInit(s, { mechanism: CKM_ECDSA }, h);
      expect(mod.C_Verify(s, digest, sig)).toBe(false);
    });

    test('Ed25519: SoftHSM 2.6.1 supports CKM_EC_EDWARDS_KEY_PAIR_GEN; CKM_EDDSA signatures verify with node (sync and async)', async () => {
      const [pub, priv] = ecTemplates(ED25519_PARAMS);
      const kps = mod.C_GenerateKeyPair(owner, { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN }, pub, priv);
      const kpa = await mod.C_GenerateKeyPairAsync(owner, { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN }, pub, priv);
      for (const kp of [kps, kpa]) {
        expect(ulongAttr(mod, s, kp.publicKey, CKA_KEY_TYPE)).toBe(Number(CKK_EC_EDWARDS));
        expect(ulongAttr(mod, s, kp.privateKey, CKA_KEY_TYPE)).toBe(Number(CKK_EC_EDWARDS));
        const key = ed25519PublicKey(mod, s, kp.publicKey);
        expect(key.asymmetricKeyType).toBe('ed25519');
        const msg = crypto.randomBytes(77);
        await mod.C_SignInitAsync(s, { mechanism: CKM_EDDSA }, kp.privateKey);
        const sig = await mod.C_SignAsync(s, msg);
        expect(sig.length).toBe(64);
        expect(crypto.verify(null, msg, key, sig)).toBe(true);
        expect(crypto.verify(null, Buffer.concat([msg, msg]), key, sig)).toBe(false);
      }
      expect(ed25519PublicKey(mod, s, kps.publicKey).export({ format: 'der', type: 'spki' })).not.toEqual(
        ed25519PublicKey(mod, s, kpa.publicKey).export({ format: 'der', type: 'spki' }),
      );
    });
  });

  describe('C_WrapKey / C_UnwrapKey', () => {
    const unwrapAes: Template = [{ type: CKA_CLASS, value: CKO_SECRET_KEY }, { type: CKA_KEY_TYPE, value: CKK_AES }, ...readableSecret, { type: CKA_ENCRYPT, value: true }];

    test('CKM_AES_KEY_WRAP (RFC 3394) sync: equals node id-aes256-wrap; unwrapped key encrypts like the original', () => {
      const kekValue = crypto.randomBytes(32);
      const keyValue = crypto.randomBytes(32);
      const kek = createKek(mod, s, kekValue);
      const key = createAesKey(mod, s, keyValue, [{ type: CKA_EXTRACTABLE, value: true }]);

      const wrapped = mod.C_WrapKey(s, { mechanism: CKM_AES_KEY_WRAP }, kek, key);
      expect(wrapped.length).toBe(40);
      expect(wrapped).toEqual(nodeWrap(kekValue, keyValue));

      const unwrapped = mod.C_UnwrapKey(s, { mechanism: CKM_AES_KEY_WRAP }, kek, wrapped, unwrapAes);
      expect(unwrapped).not.toEqual(key);
      expect(attr(mod, s, unwrapped, CKA_VALUE)).toEqual(keyValue);
      const block = crypto.randomBytes(16);
      const c1 = tokenEcb(key, block);
      const c2 = tokenEcb(unwrapped, block);
      expect(c2).toEqual(c1);
      expect(c2).toEqual(nodeEcb(keyValue, block));
    });

    test('CKM_AES_KEY_WRAP async, into a caller buffer, and unwrapping a node-made wrap', async () => {
      const kekValue = crypto.randomBytes(32);
      const keyValue = crypto.randomBytes(16);
      const kek = createKek(mod, s, kekValue);
      const key = createAesKey(mod, s, keyValue, [{ type: CKA_EXTRACTABLE, value: true }]);
      const expected = nodeWrap(kekValue, keyValue);

      expect(await mod.C_WrapKeyAsync(s, { mechanism: CKM_AES_KEY_WRAP }, kek, key)).toEqual(expected);
      const out = Buffer.alloc(64, 0x55);
      const viaOut = mod.C_WrapKey(s, { mechanism: CKM_AES_KEY_WRAP }, kek, key, out);
      expect(viaOut).toEqual(expected);
      expect(viaOut.buffer).toBe(out.buffer);
      expect(out.subarray(24)).toEqual(Buffer.alloc(40, 0x55));
      const out2 = Buffer.alloc(24);
      await mod.C_WrapKeyAsync(s, { mechanism: CKM_AES_KEY_WRAP }, kek, key, out2);
      expect(out2).toEqual(expected);

      // A key wrapped by node, unwrapped on the token.
      const other = crypto.randomBytes(32);
      const h = await mod.C_UnwrapKeyAsync(s, { mechanism: CKM_AES_KEY_WRAP }, kek, nodeWrap(kekValue, other), unwrapAes);
      expect(attr(mod, s, h, CKA_VALUE)).toEqual(other);
      const block = crypto.randomBytes(16);
      expect(tokenEcb(h, block)).toEqual(nodeEcb(other, block));
    });

    test('CKM_AES_KEY_WRAP_PAD (RFC 5649), sync and async: a 32-byte key wraps like node id-aes256-wrap-pad and unwraps', async () => {
      const kekValue = crypto.randomBytes(32);
      const keyValue = crypto.randomBytes(32);
      const kek = createKek(mod, s, kekValue);
      const key = createAesKey(mod, s, keyValue, [{ type: CKA_EXTRACTABLE, value: true }]);
      const expected = nodeWrapPad(kekValue, keyValue);
      expect(mod.C_WrapKey(s, { mechanism: CKM_AES_KEY_WRAP_PAD }, kek, key)).toEqual(expected);
      expect(await mod.C_WrapKeyAsync(s, { mechanism: CKM_AES_KEY_WRAP_PAD }, kek, key)).toEqual(expected);
      const h1 = mod.C_UnwrapKey(s, { mechanism: CKM_AES_KEY_WRAP_PAD }, kek, expected, unwrapAes);
      const h2 = await mod.C_UnwrapKeyAsync(s, { mechanism: CKM_AES_KEY_WRAP_PAD }, kek, expected, unwrapAes);
      const block = crypto.randomBytes(16);
      expect(tokenEcb(h1, block)).toEqual(nodeEcb(keyValue, block));
      expect(tokenEcb(h2, block)).toEqual(tokenEcb(key, block));
    });

    test('CKM_AES_KEY_WRAP_PAD unwraps a node-wrapped 20-byte generic secret to exactly its value', () => {
      const kekValue = crypto.randomBytes(32);
      const secret = crypto.randomBytes(20);
      const kek = createKek(mod, s, kekValue);
      const h = mod.C_UnwrapKey(s, { mechanism: CKM_AES_KEY_WRAP_PAD }, kek, nodeWrapPad(kekValue, secret), [
        { type: CKA_CLASS, value: CKO_SECRET_KEY },
        { type: CKA_KEY_TYPE, value: CKK_GENERIC_SECRET },
        ...readableSecret,
      ]);
      expect(attr(mod, s, h, CKA_VALUE)).toEqual(secret);
    });

    test('SoftHSM 2.6.1 zero-pads a 20-byte key to 24 bytes before wrapping (both AES wrap mechanisms)', () => {
      const kekValue = crypto.randomBytes(32);
      const secret = crypto.randomBytes(20);
      const padded = Buffer.concat([secret, Buffer.alloc(4)]);
      const kek = createKek(mod, s, kekValue);
      const h = createGenericSecret(mod, s, secret, [{ type: CKA_EXTRACTABLE, value: true }]);
      expect(mod.C_WrapKey(s, { mechanism: CKM_AES_KEY_WRAP }, kek, h)).toEqual(nodeWrap(kekValue, padded));
      expect(mod.C_WrapKey(s, { mechanism: CKM_AES_KEY_WRAP_PAD }, kek, h)).toEqual(nodeWrapPad(kekValue, padded));
    });

    test('wrapping a non-extractable key: CKR_KEY_UNEXTRACTABLE, sync and async', async () => {
      const kek = createKek(mod, s, crypto.randomBytes(32));
      const key = createAesKey(mod, s, crypto.randomBytes(32), [{ type: CKA_EXTRACTABLE, value: false }]);
      expectPkcs11Throw(() => mod.C_WrapKey(s, { mechanism: CKM_AES_KEY_WRAP }, kek, key), 'CKR_KEY_UNEXTRACTABLE', CKR_KEY_UNEXTRACTABLE, 'C_WrapKey');
      await expectPkcs11Reject(mod.C_WrapKeyAsync(s, { mechanism: CKM_AES_KEY_WRAP }, kek, key), 'CKR_KEY_UNEXTRACTABLE', CKR_KEY_UNEXTRACTABLE, 'C_WrapKey');
    });
  });

  describe('C_DeriveKey with CKM_DH_PKCS_DERIVE (RFC 3526 group 14)', () => {
    const group = crypto.getDiffieHellman('modp14');
    const prime = group.getPrime();
    const base = group.getGenerator();
    const pubTpl: Template = [
      { type: CKA_TOKEN, value: false },
      { type: CKA_PRIME, value: prime },
      { type: CKA_BASE, value: base },
    ];
    const privTpl = (readable: boolean): Template => [
      { type: CKA_TOKEN, value: false },
      { type: CKA_DERIVE, value: true },
      { type: CKA_SENSITIVE, value: !readable },
      { type: CKA_EXTRACTABLE, value: readable },
    ];
    const derived = (len: number): Template => [
      { type: CKA_CLASS, value: CKO_SECRET_KEY },
      { type: CKA_KEY_TYPE, value: CKK_GENERIC_SECRET },
      { type: CKA_VALUE_LEN, value: len },
      ...readableSecret,
    ];

    test('two token parties derive the same secret both ways (sync and async) and node computes it too', async () => {
      expect(base).toEqual(Buffer.from([2]));
      const a = mod.C_GenerateKeyPair(s, { mechanism: CKM_DH_PKCS_KEY_PAIR_GEN }, pubTpl, privTpl(true));
      const b = await mod.C_GenerateKeyPairAsync(s, { mechanism: CKM_DH_PKCS_KEY_PAIR_GEN }, pubTpl, privTpl(true));
      expect(ulongAttr(mod, s, a.privateKey, CKA_KEY_TYPE)).toBe(Number(CKK_DH));
      const aPub = attr(mod, s, a.publicKey, CKA_VALUE);
      const bPub = attr(mod, s, b.publicKey, CKA_VALUE);
      // CKA_VALUE is the minimal big-endian integer: 256 bytes, one less when the top byte is zero
      // (1 run in 256).
      for (const pub of [aPub, bPub]) {
        expect(pub.length).toBeGreaterThanOrEqual(250);
        expect(pub.length).toBeLessThanOrEqual(256);
        expect(pub[0]).not.toBe(0);
      }
      expect(aPub).not.toEqual(bPub);

      const ka = mod.C_DeriveKey(s, { mechanism: CKM_DH_PKCS_DERIVE, parameter: bPub }, a.privateKey, derived(32));
      const kb = await mod.C_DeriveKeyAsync(s, { mechanism: CKM_DH_PKCS_DERIVE, parameter: aPub }, b.privateKey, derived(32));
      const va = attr(mod, s, ka, CKA_VALUE);
      const vb = attr(mod, s, kb, CKA_VALUE);
      expect(va.length).toBe(32);
      expect(va).toEqual(vb);

      // SoftHSM lets us read a non-sensitive, extractable DH private value: node recomputes everything.
      const aPriv = attr(mod, s, a.privateKey, CKA_VALUE);
      const nodeA = crypto.createDiffieHellman(prime, base);
      nodeA.setPrivateKey(aPriv);
      expect(nodeA.generateKeys()).toEqual(aPub);
      const shared = nodeA.computeSecret(bPub);
      expect(shared.length).toBe(256);
      // A shorter CKA_VALUE_LEN keeps the trailing bytes of the shared secret.
      expect(va).toEqual(shared.subarray(256 - 32));
      const full = mod.C_DeriveKey(s, { mechanism: CKM_DH_PKCS_DERIVE, parameter: bPub }, a.privateKey, derived(256));
      expect(attr(mod, s, full, CKA_VALUE)).toEqual(shared);
    });

    test('a node party and a token party with a sensitive private key agree', async () => {
      const t = await mod.C_GenerateKeyPairAsync(s, { mechanism: CKM_DH_PKCS_KEY_PAIR_GEN }, pubTpl, privTpl(false));
      expect(mod.C_GetAttributeValue(s, t.privateKey, [CKA_VALUE])[0].status).toBe('sensitive');
      const node = crypto.createDiffieHellman(prime, base);
      const nodePub = node.generateKeys();
      const tokenPub = attr(mod, s, t.publicKey, CKA_VALUE);
      const k = await mod.C_DeriveKeyAsync(s, { mechanism: CKM_DH_PKCS_DERIVE, parameter: nodePub }, t.privateKey, derived(256));
      expect(attr(mod, s, k, CKA_VALUE)).toEqual(node.computeSecret(tokenPub));
    });

    test('a generic secret without CKA_VALUE_LEN: SoftHSM answers CKR_TEMPLATE_INCOMPLETE, sync and async', async () => {
      const a = mod.C_GenerateKeyPair(s, { mechanism: CKM_DH_PKCS_KEY_PAIR_GEN }, pubTpl, privTpl(false));
      const peer = crypto.createDiffieHellman(prime, base).generateKeys();
      const tpl = derived(32).filter((x) => x.type !== CKA_VALUE_LEN);
      expectPkcs11Throw(
        () => mod.C_DeriveKey(s, { mechanism: CKM_DH_PKCS_DERIVE, parameter: peer }, a.privateKey, tpl),
        'CKR_TEMPLATE_INCOMPLETE',
        CKR_TEMPLATE_INCOMPLETE,
        'C_DeriveKey',
      );
      await expectPkcs11Reject(
        mod.C_DeriveKeyAsync(s, { mechanism: CKM_DH_PKCS_DERIVE, parameter: peer }, a.privateKey, tpl),
        'CKR_TEMPLATE_INCOMPLETE',
        CKR_TEMPLATE_INCOMPLETE,
        'C_DeriveKey',
      );
    });
  });

  describe('random numbers', () => {
    test('C_SeedRandom: SoftHSM accepts a seed (CKR_OK), sync and async', async () => {
      expect(mod.C_SeedRandom(s, crypto.randomBytes(32))).toBeUndefined();
      await expect(mod.C_SeedRandomAsync(s, Buffer.from('more seed material'))).resolves.toBeUndefined();
      // Seeding does not make the generator repeat itself.
      mod.C_SeedRandom(s, Buffer.alloc(16, 1));
      const a = mod.C_GenerateRandom(s, 32);
      mod.C_SeedRandom(s, Buffer.alloc(16, 1));
      const b = mod.C_GenerateRandom(s, 32);
      expect(a).not.toEqual(b);
    });

    test('C_GenerateRandom(h, 32) sync and async: fresh 32-byte Buffers', async () => {
      const a = mod.C_GenerateRandom(s, 32);
      const b = await mod.C_GenerateRandomAsync(s, 32);
      for (const r of [a, b]) {
        expect(Buffer.isBuffer(r)).toBe(true);
        expect(r.length).toBe(32);
      }
      expect(a).not.toEqual(b);
      expect(a).not.toEqual(Buffer.alloc(32));
      const big = mod.C_GenerateRandom(s, 100000);
      expect(big.length).toBe(100000);
      // Roughly uniform bytes: every value occurs.
      expect(new Set(big).size).toBe(256);
      expect(mod.C_GenerateRandom(s, 0)).toEqual(Buffer.alloc(0));
    });

    test('C_GenerateRandom into a caller buffer (sync): fills exactly that view, returns it', () => {
      const backing = Buffer.alloc(64, 0x5a);
      const view = backing.subarray(16, 48);
      const r = mod.C_GenerateRandom(s, view);
      expect(r.length).toBe(32);
      expect(r.buffer).toBe(backing.buffer);
      expect(r.byteOffset).toBe(view.byteOffset);
      expect(backing.subarray(0, 16)).toEqual(Buffer.alloc(16, 0x5a));
      expect(backing.subarray(48)).toEqual(Buffer.alloc(16, 0x5a));
      expect(view).not.toEqual(Buffer.alloc(32, 0x5a));
      const u8 = new Uint8Array(24);
      expect(mod.C_GenerateRandom(s, u8)).toHaveLength(24);
      expect(u8.some((x) => x !== 0)).toBe(true);
    });

    test('C_GenerateRandomAsync into a caller buffer: filled when the promise settles', async () => {
      const backing = Buffer.alloc(64, 0x5a);
      const view = backing.subarray(8, 40);
      const r = await mod.C_GenerateRandomAsync(s, view);
      expect(r.length).toBe(32);
      expect(r.buffer).toBe(backing.buffer);
      expect(r.byteOffset).toBe(view.byteOffset);
      expect(Buffer.from(r)).toEqual(Buffer.from(view));
      expect(backing.subarray(0, 8)).toEqual(Buffer.alloc(8, 0x5a));
      expect(backing.subarray(40)).toEqual(Buffer.alloc(24, 0x5a));
      expect(view).not.toEqual(Buffer.alloc(32, 0x5a));
    });
  });

  test('derOctetString helper handles long-form lengths', () => {
    const inner = Buffer.alloc(200, 7);
    expect(derOctetString(Buffer.concat([Buffer.from([0x04, 0x81, 200]), inner]))).toEqual(inner);
    expect(() => derOctetString(Buffer.from([0x03, 0x01, 0x00]))).toThrow();
  });
});
