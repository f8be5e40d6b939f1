// Typed key management: wrap / unwrap, derive (ECDH, HKDF, AES encrypt-data, SP 800-108) and
// PBKDF2 through session.generateKey, on real modules, every derived or wrapped byte cross-checked
// with node:crypto (or a KDF computed in node). SoftHSM 2.6 runs wrap/unwrap, ECDH with CKD_NULL
// and the encrypt-data derivations; NSS softokn runs what SoftHSM lacks (HKDF, PBKDF2, ECDH with
// an X9.63 KDF, SP 800-108). All keys are session objects, so parallel files on the shared SoftHSM
// token do not see them.
import * as crypto from 'node:crypto';
import { fixture } from './helpers/softhsm';
import { createNssDb } from './helpers/nss';
import type { NssDb } from './helpers/nss';
import { derOctetString } from './helpers/keys';
import { x963Kdf, hkdfExtract, sp800108CounterHmac } from './helpers/mechanisms';
import {
  Module,
  Session,
  Key,
  PrivateKey,
  PublicKey,
  SecretKey,
  Pkcs11Error,
  KeyFunctionNotPermittedError,
  KeyUnextractableError,
  UnwrappingKeyTypeInconsistentError,
  KeyMechanismMismatchError,
  MechanismInvalidError,
  FunctionFailedError,
  KeyError,
  CKM_AES_KEY_WRAP,
  CKM_PKCS5_PBKD2,
  CKO_SECRET_KEY,
  CKK_GENERIC_SECRET,
} from '../lib/index';
import { planSecretKey } from '../lib/objects/generate';
import { rawEcPoint } from '../lib/mechanisms/kdf';
import type { StructField } from '../lib/raw';

const A6 = Buffer.from('a6a6a6a6a6a6a6a6', 'hex'); // RFC 3394 IV
const A65959A6 = Buffer.from('a65959a6', 'hex'); // RFC 5649 IV prefix
const data = Buffer.from('data the unwrapped and derived keys must handle like the originals');

function nodeCipher(alg: string, key: Buffer, iv: Buffer | null, input: Buffer, pad = true): Buffer {
  const c = crypto.createCipheriv(alg, key, iv);
  c.setAutoPadding(pad);
  return Buffer.concat([c.update(input), c.final()]);
}

function nodeDecipher(alg: string, key: Buffer, iv: Buffer | null, input: Buffer): Buffer {
  const d = crypto.createDecipheriv(alg, key, iv);
  return Buffer.concat([d.update(input), d.final()]);
}

/** A node KeyObject for a token EC P-256 public key. */
async function nodeEcPublic(pub: PublicKey): Promise<crypto.KeyObject> {
  const q = derOctetString((await pub.getAttribute('ecPoint')) as Buffer);
  return crypto.createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: q.subarray(1, 33).toString('base64url'), y: q.subarray(33).toString('base64url') },
    format: 'jwk',
  });
}

/** AES-CMAC (RFC 4493) from node's AES-ECB: the reference for the SP 800-108 CMAC PRF. */
function aesCmac(key: Buffer, msg: Buffer): Buffer {
  const ecb = (b: Buffer): Buffer => nodeCipher(`aes-${key.length * 8}-ecb`, key, null, b, false);
  const dbl = (b: Buffer): Buffer => {
    const o = Buffer.alloc(16);
    for (let i = 0; i < 16; i++) o[i] = ((b[i] << 1) | (i < 15 ? b[i + 1] >> 7 : 0)) & 0xff;
    if (b[0] & 0x80) o[15] ^= 0x87;
    return o;
  };
  const xor = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((v, i) => v ^ b[i]));
  const k1 = dbl(ecb(Buffer.alloc(16)));
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const tail = msg.subarray((n - 1) * 16);
  const last = msg.length > 0 && msg.length % 16 === 0 ? xor(tail, k1) : xor(Buffer.concat([tail, Buffer.from([0x80]), Buffer.alloc(15 - tail.length)]), dbl(k1));
  let x: Buffer = Buffer.alloc(16);
  for (let i = 0; i < n - 1; i++) x = ecb(xor(x, msg.subarray(i * 16, i * 16 + 16)));
  return ecb(xor(x, last));
}

async function value(k: Key): Promise<Buffer> {
  const v = await k.getAttribute('value');
  if (!(v instanceof Buffer)) throw new Error('key value is not readable');
  return v;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** A readable result: what the tests pass to read derived/unwrapped values back. */
const READABLE = { sensitive: false, extractable: true } as const;

describe('typed wrap / unwrap / derive on SoftHSM', () => {
  let mod: Module;
  let s: Session;
  const kekValue = crypto.randomBytes(32);
  let kek: SecretKey;

  beforeAll(async () => {
    mod = await Module.open(fixture().modulePath);
    s = await (await mod.findSlot('p11bridge-a'))!.openSession({ write: true });
    await s.login('1234');
    kek = (await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value: kekValue, wrap: true, unwrap: true })) as SecretKey;
  });
  afterAll(async () => {
    await s.close();
    await mod.close();
  });

  test('AES-KW: the wrapping equals node id-aes256-wrap; the unwrapped SecretKey decrypts what the original encrypted', async () => {
    const key = await s.generateKey({ name: 'AES', length: 256 }, { ...READABLE });
    const keyValue = await value(key);
    const wrapped = await kek.wrap({ name: 'AES-KW' }, key);
    expect(wrapped).toEqual(nodeCipher('id-aes256-wrap', kekValue, A6, keyValue));

    const unwrapped = await kek.unwrap({ name: 'AES-KW' }, wrapped, { class: 'secretKey', keyType: 'aes' });
    expect(unwrapped).toBeInstanceOf(SecretKey);
    // Defaults under the caller's template: a sensitive session key with the AES usages.
    const a = await unwrapped.getAttributes(['class', 'keyType', 'token', 'sensitive', 'encrypt', 'decrypt', 'value']);
    expect(a).toMatchObject({ class: 'secretKey', keyType: 'aes', token: false, sensitive: true, encrypt: true, decrypt: true });
    expect(a.unreadable.value).toBe('sensitive');

    const iv = crypto.randomBytes(12);
    const ct = await key.encrypt({ name: 'AES-GCM', iv }, data);
    expect(await unwrapped.decrypt({ name: 'AES-GCM', iv }, ct)).toEqual(data);

    // node's wrapping of another value unwraps to exactly that value (caller's template wins).
    const other = crypto.randomBytes(16);
    const fromNode = await kek.unwrap({ mechanism: CKM_AES_KEY_WRAP }, nodeCipher('id-aes256-wrap', kekValue, A6, other), { class: 'secretKey', keyType: 'aes', ...READABLE });
    expect(await value(fromNode)).toEqual(other);
  });

  test('AES-KW with padding wraps an EC private key (PKCS#8 inside, checked in node); the unwrapped PrivateKey signs for the original public key', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { extractable: true } });
    const wrapped = await kek.wrap({ name: 'AES-KW', padding: true }, privateKey);
    const pkcs8 = nodeDecipher('id-aes256-wrap-pad', kekValue, A65959A6, wrapped);
    const nodePub = await nodeEcPublic(publicKey);
    const inner = crypto.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    expect(crypto.createPublicKey(inner).export({ format: 'jwk' })).toEqual(nodePub.export({ format: 'jwk' }));

    const unwrapped = await kek.unwrap({ name: 'AES-KW', padding: true }, wrapped, { class: 'privateKey', keyType: 'ec' });
    expect(unwrapped).toBeInstanceOf(PrivateKey);
    expect(await unwrapped.getAttributes(['private', 'sensitive', 'sign', 'token'])).toMatchObject({ private: true, sensitive: true, sign: true, token: false });
    const sig = await unwrapped.sign({ name: 'ECDSA', hash: 'SHA-256' }, data);
    expect(crypto.verify('sha256', data, { key: nodePub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
  });

  test("AES-KW with padding round-trips an RSA private key: node verifies the unwrapped key's PKCS#1 v1.5 signature", async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 }, { privateKey: { extractable: true } });
    const wrapped = await kek.wrap({ name: 'AES-KW', padding: true }, privateKey);
    const unwrapped = await kek.unwrap({ name: 'AES-KW', padding: true }, wrapped, { class: 'privateKey', keyType: 'rsa' });
    expect(unwrapped).toBeInstanceOf(PrivateKey);
    const sig = await unwrapped.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data);
    const a = await publicKey.getAttributes(['modulus', 'publicExponent']);
    const nodePub = crypto.createPublicKey({
      key: { kty: 'RSA', n: (a.modulus as Buffer).toString('base64url'), e: (a.publicExponent as Buffer).toString('base64url') },
      format: 'jwk',
    });
    expect(crypto.verify('sha256', data, nodePub, sig)).toBe(true);
  });

  test('RSA-OAEP (SHA-1): the public key wraps an AES key, the private key unwraps it; node OAEP wrappings unwrap too', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 }, { publicKey: { wrap: true }, privateKey: { unwrap: true } });
    const aes = await s.generateKey({ name: 'AES', length: 128 }, { ...READABLE });
    const wrapped = await publicKey.wrap({ name: 'RSA-OAEP' }, aes);
    expect(wrapped.length).toBe(256);
    const unwrapped = await privateKey.unwrap({ name: 'RSA-OAEP', hash: 'SHA-1' }, wrapped, { class: 'secretKey', keyType: 'aes', ...READABLE });
    expect(unwrapped).toBeInstanceOf(SecretKey);
    expect(await value(unwrapped)).toEqual(await value(aes));
    const iv = crypto.randomBytes(16);
    expect(await unwrapped.decrypt({ name: 'AES-CBC', iv }, await aes.encrypt({ name: 'AES-CBC', iv }, data))).toEqual(data);

    const a = await publicKey.getAttributes(['modulus', 'publicExponent']);
    const nodePub = crypto.createPublicKey({
      key: { kty: 'RSA', n: (a.modulus as Buffer).toString('base64url'), e: (a.publicExponent as Buffer).toString('base64url') },
      format: 'jwk',
    });
    const secret = crypto.randomBytes(32);
    const fromNode = crypto.publicEncrypt({ key: nodePub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, secret);
    const k = await privateKey.unwrap({ name: 'RSA-OAEP' }, fromNode, { class: 'secretKey', keyType: 'aes', ...READABLE });
    expect(await value(k)).toEqual(secret);
  });

  test('SoftHSM 2.6 AES-CBC: CKM_AES_CBC wraps (= node aes-256-cbc) but does not unwrap, CKM_AES_CBC_PAD does neither: CKR_MECHANISM_INVALID, typed', async () => {
    const secret = crypto.randomBytes(32);
    const key = (await s.createObject({ class: 'secretKey', keyType: 'genericSecret', token: false, value: secret, extractable: true })) as SecretKey;
    const iv = crypto.randomBytes(16);
    const wrapped = await kek.wrap({ name: 'AES-CBC', iv, padding: false }, key);
    expect(wrapped).toEqual(nodeCipher('aes-256-cbc', kekValue, iv, secret, false));
    const refusals = [
      kek.unwrap({ name: 'AES-CBC', iv, padding: false }, wrapped, { class: 'secretKey', keyType: 'genericSecret' }),
      kek.wrap({ name: 'AES-CBC', iv }, key),
      kek.unwrap({ name: 'AES-CBC', iv }, nodeCipher('aes-256-cbc', kekValue, iv, secret), { class: 'secretKey', keyType: 'genericSecret' }),
    ];
    const errors = await Promise.all(refusals.map(rejection));
    expect(errors.map((e) => [e instanceof MechanismInvalidError, (e as Pkcs11Error).function])).toEqual([
      [true, 'C_UnwrapKey'],
      [true, 'C_WrapKey'],
      [true, 'C_UnwrapKey'],
    ]);
  });

  test("a numeric class/keyType template unwraps to the class's JS type, with that key type's default usages", async () => {
    const secret = crypto.randomBytes(24);
    const back = await kek.unwrap({ name: 'AES-KW' }, nodeCipher('id-aes256-wrap', kekValue, A6, secret), { class: CKO_SECRET_KEY, keyType: CKK_GENERIC_SECRET, ...READABLE });
    expect(back).toBeInstanceOf(SecretKey); // typed Key: the class is a number, not a name
    expect(await back.getAttributes(['value', 'sign', 'verify', 'derive'])).toMatchObject({ value: secret, sign: true, verify: true, derive: true });
  });

  test('ECDH (CKD_NULL): the derived secret equals node computeSecret, for a node point, a token PublicKey and a node KeyObject', async () => {
    const a = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { derive: true } });
    const aPoint = derOctetString((await a.publicKey.getAttribute('ecPoint')) as Buffer);
    const node = crypto.createECDH('prime256v1');
    node.generateKeys();
    const z = await a.privateKey.derive({ name: 'ECDH', publicKey: node.getPublicKey(), kdf: 'null' }, { valueLen: 32, ...READABLE });
    expect(z).toBeInstanceOf(SecretKey);
    expect(await z.getAttributes(['class', 'keyType', 'token', 'derive'])).toMatchObject({ class: 'secretKey', keyType: 'genericSecret', token: false, derive: true });
    expect(await value(z)).toEqual(node.computeSecret(aPoint));

    // Both token parties agree when the peer is a PublicKey object (its CKA_EC_POINT, unwrapped).
    const b = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { derive: true } });
    const ab = await a.privateKey.derive({ name: 'ECDH', publicKey: b.publicKey }, { valueLen: 32, ...READABLE });
    const ba = await b.privateKey.derive({ name: 'ECDH', publicKey: a.publicKey }, { valueLen: 32, ...READABLE });
    expect(await value(ab)).toEqual(await value(ba));

    // A node KeyObject peer; node's own diffieHellman is the reference.
    const nodePair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const withKeyObject = await a.privateKey.derive({ name: 'ECDH', publicKey: nodePair.publicKey }, { valueLen: 32, ...READABLE });
    expect(await value(withKeyObject)).toEqual(crypto.diffieHellman({ privateKey: nodePair.privateKey, publicKey: await nodeEcPublic(a.publicKey) }));
  });

  test('AES-ECB/CBC-ENCRYPT-DATA: the derived value is node AES-256 ECB/CBC of the data; an AES result encrypts like node', async () => {
    const baseValue = crypto.randomBytes(32);
    const base = (await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value: baseValue, derive: true })) as SecretKey;
    const input = crypto.randomBytes(32);
    const ecb = await base.derive({ name: 'AES-ECB-ENCRYPT-DATA', data: input }, { valueLen: 32, ...READABLE });
    expect(await value(ecb)).toEqual(nodeCipher('aes-256-ecb', baseValue, null, input, false));

    const iv = crypto.randomBytes(16);
    const cbc = await base.derive({ name: 'AES-CBC-ENCRYPT-DATA', iv, data: input }, { keyType: 'aes', valueLen: 32, ...READABLE });
    const derivedValue = nodeCipher('aes-256-cbc', baseValue, iv, input, false);
    expect(await value(cbc)).toEqual(derivedValue);
    expect(await cbc.getAttributes(['keyType', 'encrypt', 'decrypt'])).toMatchObject({ keyType: 'aes', encrypt: true, decrypt: true });
    const gcmIv = crypto.randomBytes(12);
    const ct = await cbc.encrypt({ name: 'AES-GCM', iv: gcmIv }, data);
    const d = crypto.createDecipheriv('aes-256-gcm', derivedValue, gcmIv);
    d.setAuthTag(ct.subarray(-16));
    expect(Buffer.concat([d.update(ct.subarray(0, -16)), d.final()])).toEqual(data);

    const des3Value = crypto.randomBytes(24);
    const des3 = (await s.createObject({ class: 'secretKey', keyType: 'des3', token: false, value: des3Value, derive: true })) as SecretKey;
    const des3Out = await des3.derive({ name: 'DES3-ECB-ENCRYPT-DATA', data: input.subarray(0, 24) }, { valueLen: 24, ...READABLE });
    expect(await value(des3Out)).toEqual(nodeCipher('des-ede3-ecb', des3Value, null, input.subarray(0, 24), false));
  });

  test('module errors pass through typed: derive without CKA_DERIVE, wrapping an unextractable key, unwrapping with a non-AES key or as the wrong key type', async () => {
    const noDerive = (await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value: crypto.randomBytes(32), encrypt: true, derive: false })) as SecretKey;
    const e1 = await rejection(noDerive.derive({ name: 'AES-ECB-ENCRYPT-DATA', data: Buffer.alloc(16) }, { valueLen: 16 }));
    expect(e1).toBeInstanceOf(KeyFunctionNotPermittedError);
    expect(e1).toMatchObject({ rvName: 'CKR_KEY_FUNCTION_NOT_PERMITTED', function: 'C_DeriveKey' });

    const locked = await s.generateKey({ name: 'AES', length: 128 }, { extractable: false });
    const e2 = await rejection(kek.wrap({ name: 'AES-KW' }, locked));
    expect(e2).toBeInstanceOf(KeyUnextractableError);
    expect(e2).toMatchObject({ rvName: 'CKR_KEY_UNEXTRACTABLE', function: 'C_WrapKey' });

    const hmacKey = (await s.createObject({ class: 'secretKey', keyType: 'genericSecret', token: false, value: crypto.randomBytes(32), unwrap: true })) as SecretKey;
    // Its type is known from createObject: refused before the call (issue 17). A fresh object for
    // the handle reaches the module, whose answer is the cause of the same error.
    await expect(hmacKey.unwrap({ name: 'AES-KW' }, crypto.randomBytes(24), { class: 'secretKey', keyType: 'aes' })).rejects.toBeInstanceOf(KeyMechanismMismatchError);
    const fresh = (await s.object(hmacKey.handle)) as SecretKey;
    const e3 = ((await rejection(fresh.unwrap({ name: 'AES-KW' }, crypto.randomBytes(24), { class: 'secretKey', keyType: 'aes' }))) as { cause?: unknown }).cause;
    expect(e3).toBeInstanceOf(UnwrappingKeyTypeInconsistentError);
    expect(e3).toBeInstanceOf(KeyError);
    expect(e3).toMatchObject({ rvName: 'CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT', function: 'C_UnwrapKey' });

    // An EC private key (PKCS#8) unwrapped under a template that says RSA: SoftHSM answers
    // CKR_FUNCTION_FAILED (not CKR_WRAPPED_KEY_INVALID or CKR_TEMPLATE_INCONSISTENT).
    const { privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { extractable: true } });
    const wrappedEc = await kek.wrap({ name: 'AES-KW', padding: true }, privateKey);
    const e4 = await rejection(kek.unwrap({ name: 'AES-KW', padding: true }, wrappedEc, { class: 'privateKey', keyType: 'rsa' }));
    expect(e4).toBeInstanceOf(FunctionFailedError);
    expect(e4).toMatchObject({ rvName: 'CKR_FUNCTION_FAILED', function: 'C_UnwrapKey' });
  });

  test('bad arguments are TypeError / RangeError naming the argument, before the module is called', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { derive: true } });
    const cases: Array<[Promise<unknown>, ErrorConstructor, RegExp]> = [
      [kek.unwrap({ name: 'AES-KW' }, Buffer.alloc(24), { keyType: 'aes' } as never), TypeError, /unwrap: argument 'template' must say the new key's class/],
      [kek.unwrap({ name: 'AES-KW' }, Buffer.alloc(24), { class: 'secretKey' } as never), TypeError, /unwrap: argument 'template' must say the new key's type/],
      [kek.unwrap({ name: 'AES-KW' }, Buffer.alloc(24), { class: 'data', keyType: 'aes' } as never), RangeError, /'template.class'/],
      [kek.unwrap({ name: 'AES-KW' }, 'not bytes' as never, { class: 'secretKey', keyType: 'aes' }), TypeError, /argument 'wrapped'/],
      [kek.unwrap({ name: 'AES-KW' }, Buffer.alloc(24), null as never), TypeError, /argument 'template'/],
      [kek.unwrap({ name: 'AES-KW' }, Buffer.alloc(24), { class: 'secretKey', keyType: 'aes', bogus: 1 }), RangeError, /unknown attribute 'bogus'/],
      [kek.wrap({ name: 'AES-KW' }, {} as never), TypeError, /wrap: argument 'key'/],
      [kek.wrap(null as never, kek), TypeError, /wrap: argument 'spec'/],
      [kek.wrap({ name: 'ECDSA' } as never, kek), RangeError, /wrap: unknown wrapping mechanism 'ECDSA'/],
      [kek.wrap({ name: 'AES-CBC' } as never, kek), TypeError, /'spec.iv' must be bytes/],
      [kek.derive({ name: 'ECDH', publicKey: publicKey } as never), RangeError, /'ECDH' derives from a private key/],
      [privateKey.derive({ name: 'HKDF', hash: 'SHA-256' } as never), RangeError, /'HKDF' derives from a secret key/],
      [privateKey.derive({ name: 'ECDH' } as never), TypeError, /'spec.publicKey' is required/],
      [privateKey.derive({ name: 'ECDH', publicKey: 42 } as never), TypeError, /'spec.publicKey' must be/],
      [privateKey.derive({ name: 'ECDH', publicKey: Buffer.alloc(65), kdf: 'MD5' } as never), RangeError, /'spec.kdf' must be one of/],
      [privateKey.derive({ name: 'ECDH', publicKey: Buffer.alloc(65), sharedData: Buffer.from('x') }), RangeError, /'spec.sharedData' needs a kdf/],
      [privateKey.derive({ name: 'ECDH', publicKey: crypto.createSecretKey(Buffer.alloc(16)) }), TypeError, /secret KeyObject/],
      [kek.derive({ name: 'HKDF', hash: 'SHA-256', extract: false, expand: false }), RangeError, /needs 'spec.extract', 'spec.expand' or both/],
      [kek.derive({ name: 'HKDF', hash: 'SHA-256', salt: 'salt' as never }), TypeError, /'spec.salt'/],
      [kek.derive({ name: 'AES-CBC-ENCRYPT-DATA', iv: Buffer.alloc(8), data: Buffer.alloc(16) }), RangeError, /'spec.iv' must be 16 bytes/],
      [kek.derive({ name: 'AES-ECB-ENCRYPT-DATA' } as never), TypeError, /'spec.data' is required/],
      [kek.derive({ name: 'SP800-108', prf: 'HMAC-MD5' } as never), RangeError, /'spec.prf'/],
      [kek.derive({ name: 'SP800-108', prf: 'HMAC-SHA-256', counterBits: 0 }), RangeError, /counter mode needs a counter/],
      [kek.derive({ name: 'SP800-108', prf: 'HMAC-SHA-256', iv: Buffer.alloc(32) }), RangeError, /'spec.iv' is for feedback mode only/],
      [kek.derive({ name: 'AES-ECB-ENCRYPT-DATA', data: Buffer.alloc(16) }, 'x' as never), TypeError, /derive: argument 'template'/],
      [s.generateKey({ name: 'PBKDF2', password: 'pw', salt: Buffer.alloc(8), iterations: 0, hash: 'SHA-256', length: 32 }), RangeError, /'spec.iterations'/],
      [s.generateKey({ name: 'PBKDF2', password: 7 as never, salt: Buffer.alloc(8), iterations: 1, hash: 'SHA-256', length: 32 }), TypeError, /'spec.password'/],
      [s.generateKey({ name: 'PBKDF2', password: 'pw', salt: Buffer.alloc(8), iterations: 1, hash: 'SHA-999' as never, length: 32 }), RangeError, /'spec.hash'/],
      [s.generateKey({ name: 'PBKDF2', password: 'pw', salt: Buffer.alloc(8), iterations: 1, hash: 'SHA-256', length: 0 }), RangeError, /'spec.length'/],
    ];
    // All were started above; mark them handled now, since some reject only after a module call
    // (PBKDF2 asks the module's manufacturer first) while earlier cases are still being awaited.
    for (const [p] of cases) p.catch(() => undefined);
    for (const [p, Ctor, message] of cases) {
      const e = await rejection(p);
      expect({ message: (e as Error).message, isCtor: e instanceof Ctor, pkcs11: e instanceof Pkcs11Error }).toEqual({
        message: expect.stringMatching(message),
        isCtor: true,
        pkcs11: false,
      });
    }
  });
});

describe('typed derive and PBKDF2 on NSS softokn', () => {
  let db: NssDb;
  let mod: Module;
  let s: Session;

  beforeAll(async () => {
    db = createNssDb();
    mod = await Module.open(db.modulePath, { initialize: { libraryParameters: db.libraryParameters } });
    s = await mod.slot(db.slot).openSession({ write: true });
  });
  afterAll(async () => {
    try {
      if (s) await s.close();
      if (mod) await mod.close();
    } finally {
      db?.cleanup();
    }
  });

  async function ikmKey(v: Buffer): Promise<SecretKey> {
    return (await s.createObject({ class: 'secretKey', keyType: 'genericSecret', token: false, value: v, derive: true })) as SecretKey;
  }

  test('HKDF: extract + expand with salt bytes, a salt key, no salt, and extract only equal node hkdfSync / HMAC', async () => {
    const ikm = crypto.randomBytes(32);
    const salt = crypto.randomBytes(16);
    const info = Buffer.from('p11bridge typed hkdf');
    const base = await ikmKey(ikm);

    const k = await base.derive({ name: 'HKDF', hash: 'SHA-256', salt, info }, { valueLen: 42, ...READABLE });
    expect(k).toBeInstanceOf(SecretKey);
    expect(await value(k)).toEqual(Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info, 42)));

    const saltKey = await ikmKey(salt);
    const viaKey = await base.derive({ name: 'HKDF', hash: 'SHA-256', salt: saltKey, info }, { valueLen: 20, ...READABLE });
    expect(await value(viaKey)).toEqual(Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info, 20)));

    const noSalt = await base.derive({ name: 'HKDF', hash: 'SHA-384', info }, { valueLen: 50, ...READABLE });
    expect(await value(noSalt)).toEqual(Buffer.from(crypto.hkdfSync('sha384', ikm, Buffer.alloc(0), info, 50)));

    const prk = await base.derive({ name: 'HKDF', hash: 'SHA-256', salt, expand: false }, { ...READABLE });
    expect(await value(prk)).toEqual(hkdfExtract('sha256', salt, ikm));

    // An AES key straight out of HKDF encrypts like node under the same bytes.
    const aes = await base.derive({ name: 'HKDF', hash: 'SHA-256', salt, info }, { keyType: 'aes', valueLen: 32 });
    const iv = crypto.randomBytes(16);
    const ct = await aes.encrypt({ name: 'AES-CBC', iv }, data);
    expect(nodeDecipher('aes-256-cbc', Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info, 32)), iv, ct)).toEqual(data);
  });

  test('PBKDF2 with legacyParams: session.generateKey equals node pbkdf2Sync (SHA-256 32 bytes, SHA-512 70 bytes, SHA-1 bytes password)', async () => {
    const salt = crypto.randomBytes(16);
    const k = await s.generateKey(
      { name: 'PBKDF2', password: 'correct horse battery staple', salt, iterations: 2048, hash: 'SHA-256', length: 32, legacyParams: true },
      { ...READABLE },
    );
    expect(k).toBeInstanceOf(SecretKey);
    expect(await k.getAttributes(['keyType', 'valueLen', 'token'])).toMatchObject({ keyType: 'genericSecret', valueLen: 32, token: false });
    expect(await value(k)).toEqual(crypto.pbkdf2Sync('correct horse battery staple', salt, 2048, 32, 'sha256'));

    const long = await s.generateKey({ name: 'PBKDF2', password: 'pässwörd', salt, iterations: 1000, hash: 'SHA-512', length: 70, legacyParams: true }, { ...READABLE });
    expect(await value(long)).toEqual(crypto.pbkdf2Sync(Buffer.from('pässwörd', 'utf8'), salt, 1000, 70, 'sha512'));

    const pw = crypto.randomBytes(20);
    const sha1 = await s.generateKey({ name: 'PBKDF2', password: new Uint8Array(pw), salt, iterations: 10, hash: 'SHA-1', length: 20, legacyParams: true }, { ...READABLE });
    expect(await value(sha1)).toEqual(crypto.pbkdf2Sync(pw, salt, 10, 20, 'sha1'));
  });

  test('PBKDF2 parameter layout: PARAMS2 by default, the 2.x struct with legacyParams or for a Mozilla module (planSecretKey context)', () => {
    const spec = { name: 'PBKDF2', password: 'pw', salt: Buffer.alloc(8), iterations: 1, hash: 'SHA-256', length: 16 } as const;
    const last = (p: ReturnType<typeof planSecretKey>): StructField => (p.mechanism.parameter as StructField[]).slice(-1)[0];
    expect(planSecretKey(spec).mechanism.mechanism).toBe(CKM_PKCS5_PBKD2);
    expect(last(planSecretKey(spec))).toEqual({ ulong: 2 });
    expect(last(planSecretKey({ ...spec, legacyParams: true }))).toEqual({ struct: [{ ulong: 2 }] });
    expect(last(planSecretKey(spec, { manufacturerID: 'Mozilla Foundation' }))).toEqual({ struct: [{ ulong: 2 }] });
    expect(last(planSecretKey({ ...spec, legacyParams: false }, { manufacturerID: 'Mozilla Foundation' }))).toEqual({ ulong: 2 });
  });

  test('ECDH with the X9.63 SHA-256 KDF and shared data equals the KDF computed in node over node computeSecret', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { derive: true } });
    const tokenPoint = derOctetString((await publicKey.getAttribute('ecPoint')) as Buffer);
    expect(rawEcPoint((await publicKey.getAttribute('ecPoint')) as Buffer)).toEqual(tokenPoint);
    const node = crypto.createECDH('prime256v1');
    node.generateKeys();
    const sharedData = Buffer.from('X9.63 shared info');
    const k = await privateKey.derive({ name: 'ECDH', publicKey: node.getPublicKey(), kdf: 'SHA-256', sharedData }, { valueLen: 48, ...READABLE });
    expect(await value(k)).toEqual(x963Kdf('sha256', node.computeSecret(tokenPoint), sharedData, 48));

    // The same with the token's own PublicKey on the other side.
    const other = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { derive: true } });
    const ab = await privateKey.derive({ name: 'ECDH', publicKey: other.publicKey, kdf: 'SHA-384' }, { valueLen: 40, ...READABLE });
    const ba = await other.privateKey.derive({ name: 'ECDH', publicKey: publicKey, kdf: 'SHA-384' }, { valueLen: 40, ...READABLE });
    expect(await value(ab)).toEqual(await value(ba));
  });

  test('SP 800-108 counter mode (HMAC-SHA-256, label/context) and feedback mode (with IV) equal the node computation', async () => {
    const keyBytes = crypto.randomBytes(32);
    const base = await ikmKey(keyBytes);
    const label = Buffer.from('p11bridge label');
    const context = Buffer.from('context');
    const fixedInput = Buffer.concat([label, Buffer.from([0]), context]);

    const counter = await base.derive({ name: 'SP800-108', prf: 'HMAC-SHA-256', label, context }, { valueLen: 48, ...READABLE });
    expect(await value(counter)).toEqual(sp800108CounterHmac({ hash: 'sha256', key: keyBytes, fixedInput, counterBytes: 4, dkmBits: 384, dkmBytes: 4, keyLengths: [48] })[0]);

    const iv = crypto.randomBytes(32);
    const fb = await base.derive({ name: 'SP800-108', mode: 'feedback', prf: 'HMAC-SHA-256', label, context, iv, counterBits: 8 }, { valueLen: 40, ...READABLE });
    let prev = iv;
    const blocks: Buffer[] = [];
    const l = Buffer.alloc(4);
    l.writeUInt32BE(40 * 8);
    for (let i = 1; i <= 2; i++) {
      prev = crypto
        .createHmac('sha256', keyBytes)
        .update(Buffer.concat([prev, Buffer.from([i]), fixedInput, l]))
        .digest();
      blocks.push(prev);
    }
    expect(await value(fb)).toEqual(Buffer.concat(blocks).subarray(0, 40));
  });

  test('SP 800-108 with an AES-CMAC PRF (16-bit counter and length) and in double-pipeline mode equal the node computation', async () => {
    const keyBytes = crypto.randomBytes(32);
    const label = Buffer.from('L');
    const context = Buffer.from('C');
    const fixed = Buffer.concat([label, Buffer.from([0]), context]);
    const be = (n: number, bytes: number): Buffer => {
      const b = Buffer.alloc(bytes);
      b.writeUIntBE(n, 0, bytes);
      return b;
    };

    const aes = (await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value: keyBytes, derive: true })) as SecretKey;
    const cmac = await aes.derive({ name: 'SP800-108', prf: 'AES-CMAC', label, context, counterBits: 16, lengthBits: 16 }, { valueLen: 20, ...READABLE });
    const block = (i: number): Buffer => aesCmac(keyBytes, Buffer.concat([be(i, 2), fixed, be(160, 2)]));
    expect(await value(cmac)).toEqual(Buffer.concat([block(1), block(2)]).subarray(0, 20));

    // A(0) = Label || 0x00 || Context || [L] (no counter), A(i) = PRF(A(i-1)), K(i) = PRF(A(i) || [i] || fixed || [L]).
    const base = await ikmKey(keyBytes);
    const dp = await base.derive({ name: 'SP800-108', mode: 'double-pipeline', prf: 'HMAC-SHA-256', label, context }, { valueLen: 48, ...READABLE });
    const L = be(384, 4);
    let a = Buffer.concat([fixed, L]);
    const blocks: Buffer[] = [];
    for (let i = 1; i <= 2; i++) {
      a = crypto.createHmac('sha256', keyBytes).update(a).digest();
      blocks.push(
        crypto
          .createHmac('sha256', keyBytes)
          .update(Buffer.concat([a, be(i, 4), fixed, L]))
          .digest(),
      );
    }
    expect(await value(dp)).toEqual(Buffer.concat(blocks).subarray(0, 48));
  });

  test('AES-CBC with padding (CKM_AES_CBC_PAD) wraps a 21-byte secret like node aes-256-cbc and unwraps it to exactly those bytes', async () => {
    const kekBytes = crypto.randomBytes(32);
    const kek = (await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value: kekBytes, wrap: true, unwrap: true })) as SecretKey;
    const secret = crypto.randomBytes(21);
    const key = (await s.createObject({ class: 'secretKey', keyType: 'genericSecret', token: false, value: secret, extractable: true })) as SecretKey;
    const iv = crypto.randomBytes(16);
    const wrapped = await kek.wrap({ name: 'AES-CBC', iv }, key);
    expect(wrapped).toEqual(nodeCipher('aes-256-cbc', kekBytes, iv, secret));
    const back = await kek.unwrap({ name: 'AES-CBC', iv }, wrapped, { class: 'secretKey', keyType: 'genericSecret', ...READABLE });
    expect(await value(back)).toEqual(secret);
  });
});
