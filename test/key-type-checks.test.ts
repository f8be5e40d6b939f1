// Key-type checks wherever the typed layer starts an operation with a key (issue 17, item 2): the
// multi-part and session-level starts (signInit … decryptInit, the streams, the message Inits,
// KEM), key management (wrap, unwrap, derive), and keys the library made itself (generateKey,
// generateKeyPair, createObject, copy, unwrap, derive), whose type is known from the start.
//
// "Before the module is called" is proven with the fault shim's storm rule over SoftHSM: while it
// blows, every call into the module answers CKR_DEVICE_ERROR, so any call the library made would
// surface as DeviceError (or as the cause of the mismatch error); the positive control below shows
// the storm does reach a call that fits the key. Without a shim, SoftHSM's own answers to a key of
// unknown type (a fresh object for the same handle) become the same error, the answer as `cause`,
// also when SoftHSM takes the Init and fails a later part; NSS (a 3.0 module) does the same for
// the message-based Init, which SoftHSM 2.6 lacks.
import * as crypto from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CKK_AES,
  CKK_RSA,
  CKM_AES_KEY_GEN,
  CKM_EC_KEY_PAIR_GEN,
  CKM_PKCS5_PBKD2,
  CKM_RSA_PKCS,
  DeviceError,
  KeyMechanismMismatchError,
  KeyTypeInconsistentError,
  Module,
  Pkcs11Error,
  PrivateKey,
  PublicKey,
  SecretKey,
  UnwrappingKeyTypeInconsistentError,
  type Session,
} from '../lib/index';
import { knownKeyType, rememberMadeKeyType } from '../lib/mechanisms/key-compat';
import { fixture } from './helpers/softhsm';
import { shimModule, type ShimModule } from './helpers/shim';
import { createNssDb, type NssDb } from './helpers/nss';

const data = Buffer.from('which key for which mechanism');
const TOKEN = 'p11bridge-b';

type Pair = { publicKey: PublicKey; privateKey: PrivateKey };

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

function sink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

// The error a stream ends with: from its result (sign/verify) or the pipeline.
async function streamError(stream: NodeJS.WritableStream & { result?: Promise<unknown> }, transform: boolean): Promise<unknown> {
  if (transform) return rejection(pipeline(Readable.from([data]), stream as unknown as NodeJS.ReadWriteStream, sink()));
  const piped = pipeline(Readable.from([data]), stream).catch((e: unknown) => e);
  const e = await rejection(stream.result!);
  await piped;
  return e;
}

function expectRefused(e: unknown, message: string): void {
  expect(e).toBeInstanceOf(KeyMechanismMismatchError);
  expect(e).not.toBeInstanceOf(Pkcs11Error);
  expect((e as Error).message).toBe(message);
  // No module answer behind it: the module was not asked.
  expect((e as { cause?: unknown }).cause).toBeUndefined();
}

describe('keys the library made are of known type: a mismatch is refused before any module call (fault shim storm over SoftHSM)', () => {
  let shim: ShimModule;
  let mod: Module;
  let s: Session;
  let ec: Pair;
  let rsa: Pair;
  let aes: SecretKey;
  let generic: SecretKey;
  let created: SecretKey;
  let copied: SecretKey;
  let unwrapped: SecretKey;
  let derived: SecretKey;
  beforeAll(async () => {
    shim = shimModule();
    mod = await Module.open(shim.path);
    const f = fixture();
    s = await (await mod.findSlot(TOKEN))!.openSession({ write: true });
    await s.login(f.tokens.find((t) => t.label === TOKEN)!.userPin);
    ec = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
    rsa = await s.generateKeyPair({ name: 'RSA', modulusLength: 1024 });
    aes = await s.generateKey({ name: 'AES', length: 128 }, { wrap: true, unwrap: true, extractable: true });
    generic = await s.generateKey({ name: 'generic', length: 32 }, { derive: true });
    created = (await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value: crypto.randomBytes(16), encrypt: true, derive: true })) as SecretKey;
    copied = (await created.copy({ label: 'copied' })) as SecretKey;
    unwrapped = await aes.unwrap({ name: 'AES-KW' }, await aes.wrap({ name: 'AES-KW' }, aes), { class: 'secretKey', keyType: 'aes' });
    derived = await created.derive({ name: 'AES-ECB-ENCRYPT-DATA', data: Buffer.alloc(16) }, { keyType: 'aes', valueLen: 16 });
    // The token's mechanism list is read (and kept) by a call that fits.
    expect(await ec.publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, data, await ec.privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data))).toBe(true);
  }, 60_000);
  afterAll(async () => {
    shim?.setRules([]);
    await s?.close();
    await mod?.close();
    shim?.cleanup();
  });

  const cases: Array<[string, () => Promise<unknown>, string]> = [
    // one-shot
    ['privateKey.sign', () => ec.privateKey.sign({ name: 'RSA-PSS', hash: 'SHA-256' }, data), 'privateKey.sign: CKM_SHA256_RSA_PKCS_PSS takes an RSA key, and this is an EC key'],
    [
      'publicKey.encrypt',
      () => rsa.publicKey.encrypt({ name: 'AES-CBC', iv: Buffer.alloc(16) }, data),
      'publicKey.encrypt: CKM_AES_CBC_PAD takes an AES key, and this is an RSA key',
    ],
    ['secretKey.sign', () => aes.sign({ name: 'ECDSA' }, data), 'secretKey.sign: CKM_ECDSA takes an EC key, and this is an AES key'],
    // multi-part starts
    [
      'session.signInit',
      () => s.signInit({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, ec.privateKey),
      'session.signInit: CKM_SHA256_RSA_PKCS takes an RSA key, and this is an EC key',
    ],
    ['session.verifyInit', () => s.verifyInit({ name: 'EdDSA' }, rsa.publicKey), 'session.verifyInit: CKM_EDDSA takes an EC-EDWARDS key, and this is an RSA key'],
    ['session.encryptInit', () => s.encryptInit({ name: 'RSA-OAEP', hash: 'SHA-256' }, aes), 'session.encryptInit: CKM_RSA_PKCS_OAEP takes an RSA key, and this is an AES key'],
    [
      'session.decryptInit',
      () => s.decryptInit({ name: 'AES-GCM', iv: Buffer.alloc(12) }, rsa.privateKey),
      'session.decryptInit: CKM_AES_GCM takes an AES key, and this is an RSA key',
    ],
    // streams (the error is the stream's)
    [
      'session.signStream',
      () => streamError(s.signStream({ name: 'RSA-PSS', hash: 'SHA-256' }, ec.privateKey), false).then((e) => Promise.reject(e)),
      'session.signStream: CKM_SHA256_RSA_PKCS_PSS takes an RSA key, and this is an EC key',
    ],
    // ECDSA with a hash goes through Node's hash on SoftHSM (the prehashed path)
    [
      'session.signStream (prehashed)',
      () => streamError(s.signStream({ name: 'ECDSA', hash: 'SHA-256' }, rsa.privateKey), false).then((e) => Promise.reject(e)),
      'session.signStream: CKM_ECDSA takes an EC key, and this is an RSA key',
    ],
    [
      'session.verifyStream',
      () => streamError(s.verifyStream({ name: 'ECDSA', hash: 'SHA-384' }, rsa.publicKey, Buffer.alloc(64)), false).then((e) => Promise.reject(e)),
      'session.verifyStream: CKM_ECDSA takes an EC key, and this is an RSA key',
    ],
    [
      'session.encryptStream',
      () => streamError(s.encryptStream({ name: 'AES-CTR', counter: Buffer.alloc(16), length: 128 }, ec.publicKey), true).then((e) => Promise.reject(e)),
      'session.encryptStream: CKM_AES_CTR takes an AES key, and this is an EC key',
    ],
    [
      'session.decryptStream',
      () => streamError(s.decryptStream({ name: 'RSA-OAEP' }, aes), true).then((e) => Promise.reject(e)),
      'session.decryptStream: CKM_RSA_PKCS_OAEP takes an RSA key, and this is an AES key',
    ],
    // message-based (PKCS#11 3.0) and KEM (3.2): refused before the module would say it lacks the function
    [
      'session.messageEncryptInit',
      () => s.messageEncryptInit({ name: 'AES-GCM' }, ec.privateKey),
      'session.messageEncryptInit: CKM_AES_GCM takes an AES key, and this is an EC key',
    ],
    ['session.messageSignInit', () => s.messageSignInit({ name: 'ECDSA' }, rsa.privateKey), 'session.messageSignInit: CKM_ECDSA takes an EC key, and this is an RSA key'],
    ['session.encapsulate', () => s.encapsulate({ mechanism: CKM_RSA_PKCS }, ec.publicKey), 'session.encapsulate: CKM_RSA_PKCS takes an RSA key, and this is an EC key'],
    // key management
    ['publicKey.wrap', () => rsa.publicKey.wrap({ name: 'AES-KW' }, aes), 'publicKey.wrap: CKM_AES_KEY_WRAP takes an AES key, and this is an RSA key'],
    ['secretKey.wrap', () => aes.wrap({ name: 'RSA-OAEP', hash: 'SHA-256' }, aes), 'secretKey.wrap: CKM_RSA_PKCS_OAEP takes an RSA key, and this is an AES key'],
    [
      'privateKey.unwrap',
      () => ec.privateKey.unwrap({ name: 'AES-KW' }, Buffer.alloc(24), { class: 'secretKey', keyType: 'aes' }),
      'privateKey.unwrap: CKM_AES_KEY_WRAP takes an AES key, and this is an EC key',
    ],
    [
      'privateKey.derive',
      () => rsa.privateKey.derive({ name: 'ECDH', publicKey: Buffer.alloc(65, 4) }),
      'privateKey.derive: CKM_ECDH1_DERIVE takes an EC or EC-MONTGOMERY key, and this is an RSA key',
    ],
    [
      'secretKey.derive',
      () => generic.derive({ name: 'AES-ECB-ENCRYPT-DATA', data: Buffer.alloc(16) }),
      'secretKey.derive: CKM_AES_ECB_ENCRYPT_DATA takes an AES key, and this is a GENERIC-SECRET key',
    ],
    // keys made by createObject, copy, unwrap and derive
    ['createObject', () => created.sign({ name: 'ECDSA' }, data), 'secretKey.sign: CKM_ECDSA takes an EC key, and this is an AES key'],
    ['copy', () => copied.encrypt({ name: 'RSA-OAEP' }, data), 'secretKey.encrypt: CKM_RSA_PKCS_OAEP takes an RSA key, and this is an AES key'],
    ['unwrap', () => unwrapped.encrypt({ name: 'RSA-OAEP' }, data), 'secretKey.encrypt: CKM_RSA_PKCS_OAEP takes an RSA key, and this is an AES key'],
    ['derive', () => derived.sign({ name: 'RSASSA-PKCS1-v1_5' }, data), 'secretKey.sign: CKM_RSA_PKCS takes an RSA key, and this is an AES key'],
  ];

  test('while every module call answers CKR_DEVICE_ERROR, a call that fits fails with DeviceError (the control) …', async () => {
    shim.setRules(['storm CKR_DEVICE_ERROR']);
    try {
      await expect(ec.privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data)).rejects.toBeInstanceOf(DeviceError);
      await expect(s.signInit({ name: 'ECDSA' }, ec.privateKey)).rejects.toBeInstanceOf(DeviceError);
      await expect(aes.wrap({ name: 'AES-KW' }, aes)).rejects.toBeInstanceOf(DeviceError);
    } finally {
      shim.setRules([]);
    }
  });

  test.each(cases)('… and %s with a mechanism of another family is KeyMechanismMismatchError, without a module answer', async (_name, call, message) => {
    shim.setRules(['storm CKR_DEVICE_ERROR']);
    try {
      expectRefused(await rejection(call), message);
    } finally {
      shim.setRules([]);
    }
  });

  test('after the storm the session works, and calls that fit are not refused', async () => {
    const op = await s.signInit({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, rsa.privateKey);
    await op.update(data);
    const sig = await op.final();
    const pub = crypto.createPublicKey({ key: await rsa.publicKey.toSpki('der'), format: 'der', type: 'spki' });
    expect(crypto.verify('sha256', data, pub, sig)).toBe(true);
    const wrapped = await aes.wrap({ name: 'AES-KW' }, aes);
    expect(wrapped.length).toBe(24);
    // node:crypto encrypts (OAEP, SHA-1: SoftHSM's only OAEP hash), the token decrypts.
    const ct = crypto.publicEncrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, data);
    expect(await rsa.privateKey.decrypt({ name: 'RSA-OAEP' }, ct)).toEqual(data);
  });
});

describe("SoftHSM's own answers for a key of unknown type become the same error, the answer as cause", () => {
  let mod: Module;
  let s: Session;
  let ec: Pair;
  let rsa: Pair;
  beforeAll(async () => {
    const f = fixture();
    mod = await Module.open(f.modulePath);
    s = await (await mod.findSlot(TOKEN))!.openSession({ write: true });
    await s.login(f.tokens.find((t) => t.label === TOKEN)!.userPin);
    ec = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
    // derive allowed, so that ECDH on it meets the key type, not CKR_KEY_FUNCTION_NOT_PERMITTED
    rsa = await s.generateKeyPair({ name: 'RSA', modulusLength: 1024 }, { privateKey: { derive: true } });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await mod?.close();
  });

  // A fresh object for the same handle: the library has not learnt its type.
  const fresh = async <K>(key: K): Promise<K> => (await s.object((key as unknown as PrivateKey).handle)) as unknown as K;

  // SoftHSM takes C_SignInit of an EC key with RSA-PSS and fails the first part (CKR_GENERAL_ERROR).
  test('session.signInit: an EC key for RSA-PSS fails at the first part; then refused before the call', async () => {
    const key = await fresh(ec.privateKey);
    const e1 = (await rejection(async () => {
      const op = await s.signInit({ name: 'RSA-PSS', hash: 'SHA-256' }, key);
      try {
        await op.update(data);
        await op.final();
      } finally {
        await op.abort();
      }
    })) as KeyMechanismMismatchError;
    expect(e1).toBeInstanceOf(KeyMechanismMismatchError);
    expect(e1.message).toBe('session.signInit: CKM_SHA256_RSA_PKCS_PSS takes an RSA key, and this is an EC key');
    expect((e1 as { cause?: unknown }).cause).toMatchObject({ rvName: 'CKR_GENERAL_ERROR', function: expect.stringMatching(/^C_Sign(Update|Final)$/) });
    expectRefused(await rejection(s.signInit({ name: 'RSA-PSS', hash: 'SHA-256' }, key)), e1.message);
    // The session is free: a mechanism that fits runs.
    const sig = await key.sign({ name: 'ECDSA', hash: 'SHA-256' }, data);
    const pub = crypto.createPublicKey({ key: await ec.publicKey.toSpki('der'), format: 'der', type: 'spki' });
    expect(crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
  });

  test('session.encryptStream: an RSA public key for AES-CBC (SoftHSM: CKR_KEY_TYPE_INCONSISTENT at C_EncryptInit)', async () => {
    const key = await fresh(rsa.publicKey);
    const e = (await rejection(pipeline(Readable.from([data]), s.encryptStream({ name: 'AES-CBC', iv: Buffer.alloc(16) }, key), sink()))) as Error;
    expect(e).toBeInstanceOf(KeyMechanismMismatchError);
    expect(e.message).toBe('session.encryptStream: CKM_AES_CBC_PAD takes an AES key, and this is an RSA key');
    expect((e as { cause?: unknown }).cause).toBeInstanceOf(KeyTypeInconsistentError);
    expect((e as { cause?: unknown }).cause).toMatchObject({ rvName: 'CKR_KEY_TYPE_INCONSISTENT', function: 'C_EncryptInit' });
  });

  test('secretKey.unwrap: a generic secret for AES-KW (SoftHSM: CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)', async () => {
    const generic = await s.createObject({ class: 'secretKey', keyType: 'genericSecret', token: false, value: crypto.randomBytes(32), unwrap: true });
    const key = await fresh(generic as SecretKey);
    const e = (await rejection(key.unwrap({ name: 'AES-KW' }, crypto.randomBytes(24), { class: 'secretKey', keyType: 'aes' }))) as Error;
    expect(e).toBeInstanceOf(KeyMechanismMismatchError);
    expect(e.message).toBe('secretKey.unwrap: CKM_AES_KEY_WRAP takes an AES key, and this is a GENERIC-SECRET key');
    expect((e as { cause?: unknown }).cause).toBeInstanceOf(UnwrappingKeyTypeInconsistentError);
  });

  test('privateKey.derive: an RSA key for ECDH', async () => {
    const key = await fresh(rsa.privateKey);
    const peer = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(peer.x!, 'base64url'), Buffer.from(peer.y!, 'base64url')]);
    const e = (await rejection(key.derive({ name: 'ECDH', publicKey: point }, { valueLen: 32 }))) as Error;
    expect(e).toBeInstanceOf(KeyMechanismMismatchError);
    expect(e.message).toBe('privateKey.derive: CKM_ECDH1_DERIVE takes an EC or EC-MONTGOMERY key, and this is an RSA key');
    expect((e as { cause?: unknown }).cause).toBeInstanceOf(Pkcs11Error);
  });

  test('session.verifyInit: an EC public key for RSA PKCS#1 (SoftHSM takes the Init) fails at the end with the mismatch, not a verdict', async () => {
    const key = await fresh(ec.publicKey);
    const e = (await rejection(async () => {
      const op = await s.verifyInit({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, key);
      try {
        await op.update(data);
        return await op.final(Buffer.alloc(128));
      } finally {
        await op.abort();
      }
    })) as Error;
    expect(e).toBeInstanceOf(KeyMechanismMismatchError);
    expect(e.message).toBe('session.verifyInit: CKM_SHA256_RSA_PKCS takes an RSA key, and this is an EC key');
    // A fitting verification still gives its verdict: true for node's signature, false for garbage.
    const pub = crypto.createPublicKey({ key: await ec.publicKey.toSpki('der'), format: 'der', type: 'spki' });
    const sig = crypto.sign('sha256', data, { key: crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, dsaEncoding: 'ieee-p1363' });
    expect(await ec.publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, data, sig)).toBe(false);
    const own = await ec.privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data);
    expect(crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, own)).toBe(true);
    const fitting = await fresh(ec.publicKey);
    expect(await fitting.verify({ name: 'ECDSA', hash: 'SHA-256' }, data, own)).toBe(true);
  });

  test('session.signStream over a digest hashed in Node (ECDSA with a hash on SoftHSM): an RSA key is told apart at the last call', async () => {
    const key = await fresh(rsa.privateKey);
    const w = s.signStream({ name: 'ECDSA', hash: 'SHA-256' }, key);
    const piped = pipeline(Readable.from([data]), w).catch((x: unknown) => x);
    const e = (await rejection(w.result)) as Error;
    await piped;
    expect(e).toBeInstanceOf(KeyMechanismMismatchError);
    expect(e.message).toBe('session.signStream: CKM_ECDSA takes an EC key, and this is an RSA key');
    expect((e as { cause?: unknown }).cause).toBeInstanceOf(Pkcs11Error);
  });

  test('argument errors of the multi-part starts name the method', async () => {
    await expect(s.signInit({ name: 'ECDSA' }, null as never)).rejects.toThrow(new TypeError("signInit: argument 'key' must be a Key, got null"));
    await expect(s.decryptInit({ name: 'RSA-OAEP' }, {} as never)).rejects.toThrow(new TypeError("decryptInit: argument 'key' must be a Key, got an object (Object)"));
  });
});

describe('a module that answers CKR_KEY_TYPE_INCONSISTENT or CKR_MECHANISM_INVALID at a multi-part Init (fault shim over SoftHSM)', () => {
  let shim: ShimModule;
  let mod: Module;
  let s: Session;
  let ec: Pair;
  beforeAll(async () => {
    shim = shimModule();
    mod = await Module.open(shim.path);
    const f = fixture();
    s = await (await mod.findSlot(TOKEN))!.openSession({ write: true });
    await s.login(f.tokens.find((t) => t.label === TOKEN)!.userPin);
    ec = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
  });
  afterAll(async () => {
    await s?.close();
    await mod?.close();
    shim?.cleanup();
  });

  test.each([
    ['C_VerifyInit', '0x63', 'CKR_KEY_TYPE_INCONSISTENT'],
    ['C_VerifyInit', '0x70', 'CKR_MECHANISM_INVALID'],
  ])('%s answering %s (%s) for an EC key of unknown type and RSA PKCS#1: the mismatch error, the answer as cause', async (fn, rv, name) => {
    const key = (await s.object(ec.publicKey.handle)) as PublicKey;
    shim.setRules([`rv ${fn} ${rv}`]);
    try {
      const e = (await rejection(s.verifyInit({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, key))) as KeyMechanismMismatchError;
      expect(e).toBeInstanceOf(KeyMechanismMismatchError);
      expect(e.message).toBe('session.verifyInit: CKM_SHA256_RSA_PKCS takes an RSA key, and this is an EC key');
      expect((e as { cause?: { rvName?: string; function?: string } }).cause).toMatchObject({ rvName: name, function: fn });
    } finally {
      shim.setRules([]);
    }
  });

  test('the same code for a mechanism that fits the key stays the module error', async () => {
    shim.setRules(['rv C_SignInit 0x63']);
    try {
      const e = await rejection(s.signInit({ name: 'ECDSA' }, ec.privateKey));
      expect(e).toBeInstanceOf(KeyTypeInconsistentError);
    } finally {
      shim.setRules([]);
    }
  });
});

describe('message-based Init on NSS softokn 3.87 (a 3.0 module), a key of unknown type', () => {
  let db: NssDb;
  let mod: Module;
  let s: Session;
  beforeAll(async () => {
    db = createNssDb();
    mod = await Module.open(db.modulePath, { initialize: { libraryParameters: db.libraryParameters } });
    s = await mod.slot(db.slot).openSession({ write: true });
  });
  afterAll(async () => {
    await s?.close();
    await mod?.close();
    db?.cleanup();
  });

  test("NSS's answer to AES-GCM messages with an EC key becomes the mismatch error; the generated key is refused before the call", async () => {
    const ec = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
    const e1 = await rejection(s.messageEncryptInit({ name: 'AES-GCM' }, ec.privateKey));
    expectRefused(e1, 'session.messageEncryptInit: CKM_AES_GCM takes an AES key, and this is an EC key');
    const key = (await s.object(ec.privateKey.handle)) as PrivateKey;
    const e2 = (await rejection(s.messageEncryptInit({ name: 'AES-GCM' }, key))) as Error;
    expect(e2).toBeInstanceOf(KeyMechanismMismatchError);
    expect(e2.message).toBe('session.messageEncryptInit: CKM_AES_GCM takes an AES key, and this is an EC key');
    expect((e2 as { cause?: unknown }).cause).toMatchObject({ function: 'C_MessageEncryptInit' });
    // The session is free, and AES-GCM messages with an AES key work (node decrypts).
    const value = crypto.randomBytes(16);
    const aes = (await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value, encrypt: true, decrypt: true })) as SecretKey;
    const op = await s.messageEncryptInit({ name: 'AES-GCM' }, aes);
    const m = await op.encrypt(data);
    await op.final();
    const d = crypto.createDecipheriv('aes-128-gcm', value, m.iv);
    d.setAuthTag(m.tag);
    expect(Buffer.concat([d.update(m.ciphertext), d.final()])).toEqual(data);
  });
});

describe('the type a made key gets', () => {
  test("the template's keyType wins over the generation mechanism's (PBKDF2 → AES, as generateKey's doc says)", () => {
    const k1 = {};
    rememberMadeKeyType(k1, { mechanism: CKM_PKCS5_PBKD2 }, { keyType: 'aes' });
    expect(knownKeyType(k1)).toBe(CKK_AES);
    const k2 = {};
    rememberMadeKeyType(k2, { mechanism: CKM_EC_KEY_PAIR_GEN }, { keyType: CKK_RSA });
    expect(knownKeyType(k2)).toBe(CKK_RSA);
    const k3 = {};
    rememberMadeKeyType(k3, { mechanism: CKM_AES_KEY_GEN }, {});
    expect(knownKeyType(k3)).toBe(CKK_AES);
    // A mechanism the table does not know, and no keyType: unknown, so never refused by the library.
    const k4 = {};
    rememberMadeKeyType(k4, { mechanism: CKM_PKCS5_PBKD2 }, undefined);
    expect(knownKeyType(k4)).toBeUndefined();
  });
});
