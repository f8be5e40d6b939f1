// The typed layer (Module → Slot → Session → objects, keys, operations, pool, errors) on NSS
// softoken 3.87, a PKCS#11 3.0 module reached through C_GetInterface and initialized with library
// parameters. Every cryptographic result is cross-checked with node:crypto; every failure is
// asserted as the error class NSS really produces. Where NSS departs from the spec the test says
// "NSS quirk" and pins what NSS does.
//
// Softoken allows one database per process, so the describe blocks below run one after another,
// each opening its own database in beforeAll and closing the Module (C_Finalize) in afterAll:
//   1. a certutil database with the empty password (helpers/nss.ts), most of the API;
//   2. a certutil database whose password is set here with setPin: login state, PIN errors, pool;
//   3. a directory certutil never touched (an uninitialized key database): SO login and initPin,
//      with the Module held by `await using`.
//
// A few tests watch the raw calls the typed layer makes (watchRaw: a pass-through wrapper on the
// real binding object): find()'s batches and C_FindObjectsFinal — NSS answers C_FindObjectsInit over
// an active search and C_FindObjects without one with CKR_OK, so the module cannot show whether
// the search was finalized — the single C_GetAttributeValue of getAttributes, and the mechanism
// ECDSA resolves to.
import * as crypto from 'node:crypto';
import {
  Module,
  Session,
  Slot,
  Pkcs11Object,
  PrivateKey,
  PublicKey,
  SecretKey,
  Data,
  SessionNotOpenError,
  ModuleClosedError,
  SessionClosedError,
  OperationFinishedError,
  PoolClosedError,
  Pkcs11Error,
  PinError,
  KeyError,
  ObjectError,
  SessionError,
  PinIncorrectError,
  ObjectHandleInvalidError,
  KeyHandleInvalidError,
  KeyTypeInconsistentError,
  KeyMechanismMismatchError,
  MechanismInvalidError,
  AttributeReadOnlyError,
  AttributeValueInvalidError,
  EncryptedDataInvalidError,
  EncryptedDataLenRangeError,
  DataLenRangeError,
  OperationNotInitializedError,
  OperationActiveError,
  SessionHandleInvalidError,
  UserNotLoggedInError,
  UserTypeInvalidError,
  UserAlreadyLoggedInError,
  CKF_INTERFACE_FORK_SAFE,
  CKF_SERIAL_SESSION,
  CKM_AES_CBC_PAD,
  CKM_AES_KEY_GEN,
  CKM_ECDSA,
  CKM_ECDSA_SHA256,
  CKM_ECDSA_SHA384,
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  CKM_EC_KEY_PAIR_GEN,
  CKM_EDDSA,
  CKM_RSA_PKCS_OAEP,
  CKM_SHA256,
  CKM_SHA256_HMAC,
  CKU_USER,
} from '../lib/index';
import type { InterfaceInfo } from '../lib/index';
import { createNssDb, NssDb } from './helpers/nss';
import { createUninitializedNssDb, nodeEcPublicKey, nodeRsaPublicKey, rsaPrivateKeyTemplate, watchRaw } from './helpers/nss-typed';
import { rejection, thrown } from './helpers/p11-expect';

const DB_TOKEN = 'NSS Certificate DB';
const CRYPTO_TOKEN = 'NSS Generic Crypto Services';

/** The rejection of `p`, asserted to be an instance of `cls` (and, given `fn`, to come from that C function). */
async function rejectsWith<E extends Error>(p: Promise<unknown>, cls: abstract new (...a: never[]) => E, fn?: string): Promise<E> {
  const e = await rejection(p);
  expect(e).toBeInstanceOf(cls);
  if (fn !== undefined) expect((e as Pkcs11Error).function).toBe(fn);
  return e as E;
}

const sha = (alg: string, ...parts: Buffer[]): Buffer => {
  const h = crypto.createHash(alg);
  for (const p of parts) h.update(p);
  return h.digest();
};

function nodeCipher(alg: string, key: Buffer, iv: Buffer, data: Buffer, autoPadding = true): Buffer {
  const c = crypto.createCipheriv(alg, key, iv);
  c.setAutoPadding(autoPadding);
  return Buffer.concat([c.update(data), c.final()]);
}

function nodeDecipher(alg: string, key: Buffer, iv: Buffer, data: Buffer, autoPadding = true): Buffer {
  const d = crypto.createDecipheriv(alg, key, iv);
  d.setAutoPadding(autoPadding);
  return Buffer.concat([d.update(data), d.final()]);
}

function nodeGcm(key: Buffer, iv: Buffer, aad: Buffer, pt: Buffer, tagLength = 16): Buffer {
  const c = crypto.createCipheriv(`aes-${key.length * 8}-gcm` as crypto.CipherGCMTypes, key, iv, { authTagLength: tagLength });
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return Buffer.concat([ct, c.getAuthTag()]);
}

function nodeGcmOpen(key: Buffer, iv: Buffer, aad: Buffer, ctAndTag: Buffer, tagLength = 16): Buffer {
  const d = crypto.createDecipheriv(`aes-${key.length * 8}-gcm` as crypto.CipherGCMTypes, key, iv, { authTagLength: tagLength });
  d.setAAD(aad);
  d.setAuthTag(ctAndTag.subarray(ctAndTag.length - tagLength));
  return Buffer.concat([d.update(ctAndTag.subarray(0, ctAndTag.length - tagLength)), d.final()]);
}

async function ecNodeKey(pub: PublicKey, crv: 'P-256' | 'P-384'): Promise<crypto.KeyObject> {
  return nodeEcPublicKey((await pub.getAttribute('ecPoint')) as Buffer, crv);
}

async function rsaNodeKey(pub: PublicKey): Promise<crypto.KeyObject> {
  const a = await pub.getAttributes(['modulus', 'publicExponent']);
  return nodeRsaPublicKey(a.modulus as Buffer, a.publicExponent as Buffer);
}

/** Module.open for an NSS database: softoken's path and the library parameters C_Initialize passes it. */
function openModule(db: NssDb): Promise<Module> {
  return Module.open(db.modulePath, { initialize: { libraryParameters: db.libraryParameters } });
}

describe('NSS softoken through the typed layer: empty-password database', () => {
  let db: NssDb;
  let mod: Module;
  let slot: Slot;
  let s: Session;
  const data = Buffer.from('typed layer on NSS softoken 3.87');

  beforeAll(async () => {
    db = createNssDb();
    mod = await openModule(db);
    slot = (await mod.findSlot(DB_TOKEN))!;
    s = await slot.openSession({ write: true });
  });
  afterAll(async () => {
    try {
      await mod?.close();
    } finally {
      db?.cleanup();
    }
  });

  describe('Module and Slot', () => {
    test('info(): Cryptoki 3.0 from Mozilla, softoken 3.87, found through C_GetInterface("PKCS 11") with the 92-function 3.0 list', async () => {
      const info = await mod.info();
      expect(info).toEqual({
        cryptokiVersion: { major: 3, minor: 0 },
        manufacturerID: 'Mozilla Foundation',
        description: 'NSS Internal Crypto Services',
        libraryVersion: { major: 3, minor: 87 },
        functionCount: 92,
        interface: 'PKCS 11',
        path: expect.stringMatching(/libsoftokn3\.(so|dylib)$/),
      });
      expect(info.path).toBe(mod.raw.moduleInfo()!.path);
      expect(mod.isClosed).toBe(false);
    });

    test('interfaces(): "PKCS 11" 3.0 and 2.40 and the two NSS vendor interfaces, as the raw C_GetInterfaceList says', async () => {
      const list: InterfaceInfo[] = await mod.interfaces();
      expect(list.map((i) => `${i.name} ${i.version.major}.${i.version.minor}`)).toEqual([
        'PKCS 11 3.0',
        'PKCS 11 2.40',
        'Vendor NSS Module Interface 1.0',
        'Vendor NSS FIPS Interface 1.0',
      ]);
      for (const i of list) expect(i.flags).toBe(CKF_INTERFACE_FORK_SAFE);
      expect(list).toEqual(mod.raw.C_GetInterfaceList());
    });

    test('slots(): slot 1 (crypto services) and slot 2 (the database), the same Slot objects every time; findSlot by token label', async () => {
      const slots = await mod.slots();
      expect(slots.map((x) => x.id)).toEqual([db.cryptoSlot, db.slot]);
      expect(await mod.slots({ tokenPresent: false })).toEqual(slots);
      expect((await mod.slots())[1]).toBe(slots[1]);
      expect(slot).toBe(slots[1]);
      expect(mod.slot(db.slot)).toBe(slot);
      expect(await mod.findSlot(CRYPTO_TOKEN)).toBe(slots[0]);
      expect(await mod.findSlot('no such token')).toBeUndefined();
    });

    test('slot.info(): description and flags as named booleans', async () => {
      expect(await slot.info()).toEqual({
        description: 'NSS User Private Key and Certificate Services',
        manufacturerID: 'Mozilla Foundation',
        flags: { tokenPresent: true, removableDevice: false, hardwareSlot: false },
        hardwareVersion: { major: 3, minor: 87 },
        firmwareVersion: { major: 1, minor: 0 },
      });
      expect((await mod.slot(db.cryptoSlot).info()).description).toBe('NSS Internal Cryptographic Services');
    });

    test('tokenInfo(): flags as booleans; limits typed (NSS: 0 session maxima → "infinite", real counters, plain numbers)', async () => {
      const ti = await slot.tokenInfo();
      expect(ti).toMatchObject({ label: DB_TOKEN, manufacturerID: 'Mozilla Foundation', model: 'NSS 3', utcTime: null });
      // An empty password: the token is initialized, its PIN too, yet no login is required.
      expect(ti.flags).toMatchObject({
        rng: true,
        writeProtected: false,
        loginRequired: false,
        userPinInitialized: true,
        tokenInitialized: true,
        dualCryptoOperations: true,
        clockOnToken: false,
        protectedAuthenticationPath: false,
        userPinLocked: false,
        soPinLocked: false,
      });
      expect(Object.values(ti.flags).every((v) => typeof v === 'boolean')).toBe(true);
      expect(ti.maxSessionCount).toBe('infinite');
      expect(ti.maxRwSessionCount).toBe('infinite');
      expect(ti.maxPinLength).toBe(500);
      expect(ti.minPinLength).toBe(0);
      // Unlike SoftHSM (CK_UNAVAILABLE_INFORMATION), NSS reports numbers for memory and counts.
      for (const k of ['totalPublicMemory', 'freePublicMemory', 'totalPrivateMemory', 'freePrivateMemory'] as const) expect(typeof ti[k]).toBe('number');
      // The counters are live: one read-only and one read-write session more show up in them.
      const before = { all: ti.sessionCount as number, rw: ti.rwSessionCount as number };
      const ro = await slot.openSession();
      const rw = await slot.openSession({ write: true });
      const during = await slot.tokenInfo();
      expect([during.sessionCount, during.rwSessionCount]).toEqual([before.all + 2, before.rw + 1]);
      await ro.close();
      await rw.close();
      const after = await slot.tokenInfo();
      expect([after.sessionCount, after.rwSessionCount]).toEqual([before.all, before.rw]);

      const crypt = await mod.slot(db.cryptoSlot).tokenInfo();
      expect(crypt.label).toBe(CRYPTO_TOKEN);
      expect(crypt.flags).toMatchObject({ writeProtected: true, loginRequired: false, userPinInitialized: false, tokenInitialized: true });
    });

    test('mechanisms(): named, with key sizes and capability flags; NSS 3.87 has combined ECDSA-SHA2 but no EdDSA', async () => {
      const mechs = await slot.mechanisms();
      const byName = new Map(mechs.map((m) => [m.name, m]));
      expect(byName.get('CKM_ECDSA_SHA256')).toMatchObject({ type: CKM_ECDSA_SHA256, minKeySize: 256, maxKeySize: 521 });
      expect(byName.get('CKM_ECDSA_SHA256')!.flags).toMatchObject({ sign: true, verify: true, encrypt: false, digest: false });
      expect(byName.get('CKM_AES_GCM')!.flags).toMatchObject({ encrypt: true, decrypt: true, messageEncrypt: true, messageDecrypt: true, sign: false });
      expect(byName.get('CKM_EC_KEY_PAIR_GEN')!.flags.generateKeyPair).toBe(true);
      expect(byName.get('CKM_RSA_PKCS_OAEP')!.type).toBe(CKM_RSA_PKCS_OAEP);
      for (const m of ['CKM_ECDSA_SHA384', 'CKM_SHA256_RSA_PKCS', 'CKM_SHA256_RSA_PKCS_PSS', 'CKM_SHA256_HMAC', 'CKM_AES_CTR', 'CKM_AES_CBC_PAD']) {
        expect({ m, listed: byName.has(m) }).toEqual({ m, listed: true });
      }
      // No Edwards curves in 3.87: neither key generation nor EdDSA, on either slot.
      const crypt = await mod.slot(db.cryptoSlot).mechanisms();
      for (const list of [mechs, crypt]) {
        expect(list.some((m) => m.type === CKM_EC_EDWARDS_KEY_PAIR_GEN || m.type === CKM_EDDSA)).toBe(false);
      }
      // NSS's own mechanisms get stable vendor names.
      expect(mechs.some((m) => /^CKM_VENDOR_DEFINED\+0x[0-9a-f]+$/i.test(m.name))).toBe(true);
      expect(await slot.mechanismInfo(CKM_AES_KEY_GEN)).toMatchObject({ name: 'CKM_AES_KEY_GEN', minKeySize: 16, maxKeySize: 32 });
      expect((await slot.mechanismInfo(CKM_EC_KEY_PAIR_GEN)).flags.generateKeyPair).toBe(true);
    });

    test("NSS quirk: the database slot does not list digests (CKM_SHA256 is the crypto slot's), yet its sessions digest", async () => {
      expect((await slot.mechanisms()).some((m) => m.type === CKM_SHA256)).toBe(false);
      await rejectsWith(slot.mechanismInfo(CKM_SHA256), MechanismInvalidError, 'C_GetMechanismInfo');
      expect((await mod.slot(db.cryptoSlot).mechanismInfo(CKM_SHA256)).flags.digest).toBe(true);
      expect(await s.digest({ name: 'SHA-256' }, data)).toEqual(sha('sha256', data));
    });
  });

  describe('sessions', () => {
    test('openSession read-only and read-write: info() state and readWrite; random() gives fresh bytes', async () => {
      const ro = await slot.openSession();
      const rw = await slot.openSession({ write: true });
      expect(ro.readWrite).toBe(false);
      expect(await ro.info()).toEqual({ slotID: db.slot, state: 'roPublic', readWrite: false, deviceError: 0 });
      expect(await rw.info()).toEqual({ slotID: db.slot, state: 'rwPublic', readWrite: true, deviceError: 0 });
      const a = await ro.random(48);
      const b = await rw.random(48);
      expect([a.length, b.length]).toEqual([48, 48]);
      expect(a.equals(b)).toBe(false);
      expect((await ro.random(0)).length).toBe(0);
      await expect(ro.random(-1)).rejects.toThrow(RangeError);
      // Session objects may be made in a read-only session (the spec allows it; NSS too).
      expect(await ro.createObject({ class: 'data', token: false, label: 'from a read-only session' })).toBeInstanceOf(Data);
      await ro.close();
      await rw.close();
    });

    test('login on an empty-password database: a wrong PIN is PinIncorrectError; the empty PIN is accepted, but NSS keeps the session public; logout', async () => {
      const a = await slot.openSession({ write: true });
      const err = await rejectsWith(a.login('not-empty'), PinIncorrectError, 'C_Login');
      expect(err).toBeInstanceOf(PinError);
      expect(err.rv).toBe(0xa0);
      expect(slot.loginState).toBeNull();
      await a.login('');
      expect(slot.loginState).toBe('user');
      // NSS quirk: with no password there is nothing to log in to; C_Login('') answers CKR_OK and the
      // session stays rwPublic (and C_Logout would answer CKR_USER_NOT_LOGGED_IN).
      expect((await a.info()).state).toBe('rwPublic');
      await a.logout(); // the typed layer absorbs that CKR_USER_NOT_LOGGED_IN
      expect(slot.loginState).toBeNull();
      await a.close();
    });

    test('calls on one session run one at a time; `await using` closes the session at the end of its block', async () => {
      let held: Session | undefined;
      {
        await using t = await slot.openSession();
        held = t;
        const order: number[] = [];
        const sizes = await Promise.all([40, 1, 20, 2].map((n, i) => t.random(n).then((r) => (order.push(i), r.length))));
        expect(sizes).toEqual([40, 1, 20, 2]);
        expect(order).toEqual([0, 1, 2, 3]);
      }
      expect(held.isOpen).toBe(false);
      await rejectsWith(mod.raw.C_GetSessionInfoAsync(held.handle), SessionHandleInvalidError, 'C_GetSessionInfo');
    });
  });

  describe('objects', () => {
    test('createObject(data) → a Data instance; getAttributes reads every name in ONE C_GetAttributeValue, reporting what it cannot read', async () => {
      const o = await s.createObject({ class: 'data', token: false, label: 'typed-nss data', application: 'p11bridge', value: Buffer.from('hello') });
      expect(o).toBeInstanceOf(Data);
      expect(o).toBeInstanceOf(Pkcs11Object);
      expect(await (o as Data).value()).toEqual(Buffer.from('hello'));
      const spy = watchRaw(mod.raw, 'C_GetAttributeValueAsync');
      try {
        const a = await o.getAttributes(['class', 'label', 'application', 'value', 'token', 'private', 'modifiable', 'objectId', 'modulus']);
        expect(spy.calls).toHaveLength(1);
        expect({ ...a }).toEqual({
          class: 'data',
          label: 'typed-nss data',
          application: 'p11bridge',
          value: Buffer.from('hello'),
          token: false,
          private: false,
          modifiable: true,
        });
        expect(a.unreadable).toEqual({ objectId: 'typeInvalid', modulus: 'typeInvalid' });
      } finally {
        spy.restore();
      }
      await o.destroy();
    });

    test('NSS quirk: no token data objects and no private data objects (CKR_ATTRIBUTE_VALUE_INVALID → AttributeValueInvalidError)', async () => {
      const tok = await rejectsWith(s.createObject({ class: 'data', token: true, label: 'x' }), AttributeValueInvalidError, 'C_CreateObject');
      expect(tok).toBeInstanceOf(ObjectError);
      await rejectsWith(s.createObject({ class: 'data', token: false, private: true, label: 'x' }), AttributeValueInvalidError, 'C_CreateObject');
    });

    test('setAttributes, copy (a new handle, same class), size (NSS: 0), destroy; the destroyed object is ObjectHandleInvalidError', async () => {
      const o = await s.createObject({ class: 'data', token: false, label: 'orig', value: Buffer.from([1, 2, 3]) });
      await o.setAttributes({ label: 'renamed', application: 'app' });
      expect(await o.getAttributes(['label', 'application'])).toEqual({ label: 'renamed', application: 'app' });
      const c = await o.copy({ label: 'the copy' });
      expect(c).toBeInstanceOf(Data);
      expect(c.handle).not.toBe(o.handle);
      expect(await c.getAttributes(['label', 'value'])).toEqual({ label: 'the copy', value: Buffer.from([1, 2, 3]) });
      expect(await o.getAttribute('label')).toBe('renamed');
      // NSS quirk: C_GetObjectSize answers 0 for every object (not CK_UNAVAILABLE_INFORMATION).
      expect(await o.size()).toBe(0);
      await c.destroy();
      const e = await rejectsWith(c.getAttributes(['label']), ObjectHandleInvalidError, 'C_GetAttributeValue');
      expect(e).toBeInstanceOf(ObjectError);
      expect(e.rv).toBe(0x82);
      await rejectsWith(c.destroy(), ObjectHandleInvalidError, 'C_DestroyObject');
      await rejectsWith(s.object(0x7fff_fff0), ObjectHandleInvalidError, 'C_GetAttributeValue');
      expect(await s.object(o.handle)).toBeInstanceOf(Data);
      await o.destroy();
    });

    test('find(): batchSize handles per C_FindObjects, objects typed by class, visible from another session (NSS); break still runs C_FindObjectsFinal; findAll', async () => {
      const tag = `find-${crypto.randomBytes(4).toString('hex')}`;
      for (let i = 0; i < 7; i++) await s.createObject({ class: 'data', token: false, label: tag, value: Buffer.from([i]) });
      const other = await slot.openSession();
      const findObjects = watchRaw(mod.raw, 'C_FindObjectsAsync');
      const final = watchRaw(mod.raw, 'C_FindObjectsFinalAsync');
      try {
        const values: number[] = [];
        // Without `class` in the template each object's class is read once.
        for await (const o of other.find({ label: tag }, { batchSize: 3 })) {
          expect(o).toBeInstanceOf(Data);
          values.push((await (o as Data).value())[0]);
        }
        expect(values.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
        expect(findObjects.calls.map((c) => [c[0], c[1]])).toEqual([
          [other.handle, 3],
          [other.handle, 3],
          [other.handle, 3],
        ]);
        expect(final.calls).toHaveLength(1);

        findObjects.calls.length = 0;
        final.calls.length = 0;
        for await (const o of other.find({ class: 'data', label: tag }, { batchSize: 2 })) {
          expect(o).toBeInstanceOf(Data);
          break;
        }
        expect(findObjects.calls).toHaveLength(1);
        expect(final.calls).toHaveLength(1);
        expect(final.calls).toEqual([[other.handle]]);
      } finally {
        findObjects.restore();
        final.restore();
      }
      // A new search on the session finds everything again.
      expect(await other.findAll({ label: tag })).toHaveLength(7);
      expect(await other.findAll({ label: `${tag}-none` })).toEqual([]);
      await expect(other.find({}, { batchSize: 0 }).next()).rejects.toThrow(RangeError);
      for (const o of await s.findAll({ label: tag })) await o.destroy();
      expect(await s.findAll({ label: tag })).toEqual([]);
      await other.close();
    });

    test('keys: a sensitive value is unreadable as "sensitive"; NSS quirks: CKA_LOCAL false and no CKA_KEY_GEN_MECHANISM / CKA_MODULUS_BITS on generated keys', async () => {
      const aes = await s.generateKey({ name: 'AES', length: 256 }, { label: 'typed-nss aes' });
      expect(aes).toBeInstanceOf(SecretKey);
      const a = await aes.getAttributes(['label', 'keyType', 'class', 'valueLen', 'sensitive', 'extractable', 'value', 'modulus', 'local', 'keyGenMechanism']);
      expect({ ...a }).toEqual({ label: 'typed-nss aes', keyType: 'aes', class: 'secretKey', valueLen: 32, sensitive: true, extractable: true, local: false });
      expect(a.unreadable).toEqual({ value: 'sensitive', modulus: 'typeInvalid', keyGenMechanism: 'typeInvalid' });

      const { publicKey, privateKey } = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 });
      const pub = await publicKey.getAttributes(['class', 'keyType', 'modulus', 'publicExponent', 'modulusBits', 'verify', 'encrypt']);
      expect(pub).toMatchObject({ class: 'publicKey', keyType: 'rsa', publicExponent: Buffer.from([1, 0, 1]), verify: true, encrypt: true });
      expect((pub.modulus as Buffer).length * 8).toBe(2048);
      expect(pub.unreadable).toEqual({ modulusBits: 'typeInvalid' });
      const priv = await privateKey.getAttributes(['class', 'private', 'sensitive', 'sign', 'decrypt', 'privateExponent', 'prime1', 'modulus']);
      expect(priv).toMatchObject({ class: 'privateKey', private: true, sensitive: true, sign: true, decrypt: true, modulus: pub.modulus });
      expect(priv.unreadable).toEqual({ privateExponent: 'sensitive', prime1: 'sensitive' });
      // Key attributes the spec marks read-only after creation.
      await rejectsWith(privateKey.setAttributes({ keyType: 'aes' }), AttributeReadOnlyError, 'C_SetAttributeValue');
      // A copy of a key is a key of the same class.
      const copy = await privateKey.copy({ label: 'copied' });
      expect(copy).toBeInstanceOf(PrivateKey);
      expect(await copy.getAttributes(['label', 'keyType'])).toEqual({ label: 'copied', keyType: 'rsa' });
      await copy.destroy();
    });
  });

  describe('keys and single-part operations, cross-checked with node:crypto', () => {
    test('EC P-256 and P-384: NSS has CKM_ECDSA_SHA256/384, so sign/verify use them (no Node pre-hash); node verifies; a tampered signature verifies false', async () => {
      for (const [curve, hash, mech] of [
        ['P-256', 'SHA-256', CKM_ECDSA_SHA256],
        ['P-384', 'SHA-384', CKM_ECDSA_SHA384],
      ] as const) {
        const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve }, { privateKey: { label: `ec-${curve}` } });
        expect(publicKey).toBeInstanceOf(PublicKey);
        expect(privateKey).toBeInstanceOf(PrivateKey);
        expect(await privateKey.getAttributes(['keyType', 'label', 'sign', 'sensitive'])).toEqual({ keyType: 'ec', label: `ec-${curve}`, sign: true, sensitive: true });
        const init = watchRaw(mod.raw, 'signOnceAsync'); // C_SignInit + C_Sign in one trip (lib/fused.ts)
        let sig: Buffer;
        try {
          sig = await privateKey.sign({ name: 'ECDSA', hash }, data);
          expect(init.calls).toHaveLength(1);
          expect(init.calls[0][1]).toEqual({ mechanism: mech });
        } finally {
          init.restore();
        }
        expect(sig.length).toBe(curve === 'P-256' ? 64 : 96);
        const node = await ecNodeKey(publicKey, curve);
        const nodeHash = hash === 'SHA-256' ? 'sha256' : 'sha384';
        expect(crypto.verify(nodeHash, data, { key: node, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
        expect(await publicKey.verify({ name: 'ECDSA', hash }, data, sig)).toBe(true);
        const bad = Buffer.from(sig);
        bad[5] ^= 0x01;
        expect(await publicKey.verify({ name: 'ECDSA', hash }, data, bad)).toBe(false);
        expect(await publicKey.verify({ name: 'ECDSA', hash }, Buffer.from('other data'), sig)).toBe(false);
      }
    });

    test('NSS quirk: an ECDSA signature of odd length is CKR_DATA_LEN_RANGE (not CKR_SIGNATURE_LEN_RANGE), so verify() rejects instead of answering false', async () => {
      // (freebl refuses odd lengths, and those longer than 2 × the order, with SEC_ERROR_INPUT_LEN.)
      const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
      const sig = await privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data);
      await rejectsWith(publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, data, sig.subarray(1)), DataLenRangeError, 'C_Verify');
      await rejectsWith(publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, data, Buffer.concat([sig, Buffer.alloc(1)])), DataLenRangeError, 'C_Verify');
      // The session is fine afterwards.
      expect(await publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, data, sig)).toBe(true);
    });

    test('ECDSA over a digest with the raw escape hatch { mechanism: CKM_ECDSA }; node EC keys put on the token with createObject sign and verify', async () => {
      const nodePair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = nodePair.privateKey.export({ format: 'jwk' });
      const x = Buffer.from(jwk.x!, 'base64url');
      const y = Buffer.from(jwk.y!, 'base64url');
      const ecPoint = Buffer.concat([Buffer.from([0x04, 0x41, 0x04]), x, y]);
      const ecParams = Buffer.from('06082a8648ce3d030107', 'hex');
      const priv = await s.createObject({ class: 'privateKey', keyType: 'ec', token: false, ecParams, value: Buffer.from(jwk.d!, 'base64url'), sign: true });
      const pub = await s.createObject({ class: 'publicKey', keyType: 'ec', token: false, ecParams, ecPoint, verify: true });
      expect(priv).toBeInstanceOf(PrivateKey);
      expect(pub).toBeInstanceOf(PublicKey);
      const digest = sha('sha256', data);
      const sig = await (priv as PrivateKey).sign({ mechanism: CKM_ECDSA }, digest);
      expect(crypto.verify('sha256', data, { key: nodePair.publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
      const nodeSig = crypto.sign('sha256', data, { key: nodePair.privateKey, dsaEncoding: 'ieee-p1363' });
      expect(await (pub as PublicKey).verify({ name: 'ECDSA', hash: 'SHA-256' }, data, nodeSig)).toBe(true);
      expect(await (pub as PublicKey).verify({ mechanism: CKM_ECDSA }, digest, nodeSig)).toBe(true);
      expect(await (pub as PublicKey).verify({ mechanism: CKM_ECDSA }, sha('sha256', Buffer.from('x')), nodeSig)).toBe(false);
    });

    test('Ed25519: NSS 3.87 lists no CKM_EC_EDWARDS_KEY_PAIR_GEN, and generateKeyPair answers MechanismInvalidError', async () => {
      expect((await slot.mechanismSet()).has(String(CKM_EC_EDWARDS_KEY_PAIR_GEN))).toBe(false);
      const e = await rejectsWith(s.generateKeyPair({ name: 'Ed25519' }), MechanismInvalidError, 'C_GenerateKeyPair');
      expect(e.rv).toBe(0x70);
    });

    test('RSA-2048: RSASSA-PKCS1-v1_5 (SHA-256, SHA-384) and RSA-PSS SHA-256 signatures verify in node and on the token; tampered → false', async () => {
      const { publicKey, privateKey } = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 });
      const node = await rsaNodeKey(publicKey);
      for (const hash of ['SHA-256', 'SHA-384'] as const) {
        const sig = await privateKey.sign({ name: 'RSASSA-PKCS1-v1_5', hash }, data);
        expect(sig.length).toBe(256);
        expect(crypto.verify(hash.replace('-', '').toLowerCase(), data, node, sig)).toBe(true);
        expect(await publicKey.verify({ name: 'RSASSA-PKCS1-v1_5', hash }, data, sig)).toBe(true);
        const bad = Buffer.from(sig);
        bad[100] ^= 0x80;
        expect(await publicKey.verify({ name: 'RSASSA-PKCS1-v1_5', hash }, data, bad)).toBe(false);
      }
      const pss = await privateKey.sign({ name: 'RSA-PSS', hash: 'SHA-256' }, data);
      expect(crypto.verify('sha256', data, { key: node, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, pss)).toBe(true);
      expect(await publicKey.verify({ name: 'RSA-PSS', hash: 'SHA-256' }, data, pss)).toBe(true);
      const nodePss = crypto.sign('sha256', data, { key: crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING });
      expect(await publicKey.verify({ name: 'RSA-PSS', hash: 'SHA-256' }, data, nodePss)).toBe(false); // another key's signature
      // A short RSA signature: NSS answers CKR_SIGNATURE_LEN_RANGE here, which verify() turns into false.
      expect(await publicKey.verify({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data, Buffer.alloc(10))).toBe(false);
    });

    test("RSA with node's key on the token (createObject): PKCS#1 v1.5 signature equals node's; PSS from node verifies on the token", async () => {
      const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const priv = (await s.createObject({ ...rsaPrivateKeyTemplate(pair.privateKey), token: false, sign: true, decrypt: true })) as PrivateKey;
      const pubTemplate = rsaPrivateKeyTemplate(pair.privateKey);
      const pub = (await s.createObject({
        class: 'publicKey',
        keyType: 'rsa',
        token: false,
        modulus: pubTemplate.modulus,
        publicExponent: pubTemplate.publicExponent,
        verify: true,
        encrypt: true,
      })) as PublicKey;
      expect(priv).toBeInstanceOf(PrivateKey);
      expect(pub).toBeInstanceOf(PublicKey);
      expect(await priv.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data)).toEqual(crypto.sign('sha256', data, pair.privateKey));
      const nodePss = crypto.sign('sha256', data, { key: pair.privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
      expect(await pub.verify({ name: 'RSA-PSS', hash: 'SHA-256' }, data, nodePss)).toBe(true);
    });

    test('RSA-OAEP SHA-256 with a label (NSS supports labels): node → token, token → node, token → token; a wrong label is EncryptedDataInvalidError', async () => {
      const label = Buffer.from('p11bridge typed OAEP label');
      const spec = { name: 'RSA-OAEP', hash: 'SHA-256', label } as const;
      const nodeOpts = (l: Buffer) => ({ padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: l });
      // A token-generated pair: node encrypts to it, the token decrypts.
      const gen = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 });
      const fromNode = crypto.publicEncrypt({ key: await rsaNodeKey(gen.publicKey), ...nodeOpts(label) }, data);
      expect(await gen.privateKey.decrypt(spec, fromNode)).toEqual(data);
      expect(await gen.privateKey.decrypt(spec, await gen.publicKey.encrypt(spec, data))).toEqual(data);
      const e = await rejectsWith(gen.privateKey.decrypt({ ...spec, label: Buffer.from('another label') }, fromNode), EncryptedDataInvalidError, 'C_Decrypt');
      expect(e.rv).toBe(0x40);
      await rejectsWith(gen.privateKey.decrypt({ name: 'RSA-OAEP', hash: 'SHA-256' }, fromNode), EncryptedDataInvalidError, 'C_Decrypt');
      // Node's pair on the token: the token encrypts, node's private key decrypts (only with the label).
      const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const t = rsaPrivateKeyTemplate(pair.privateKey);
      const pub = (await s.createObject({ class: 'publicKey', keyType: 'rsa', token: false, modulus: t.modulus, publicExponent: t.publicExponent, encrypt: true })) as PublicKey;
      const ct = await pub.encrypt(spec, data);
      expect(ct.length).toBe(256);
      expect(crypto.privateDecrypt({ key: pair.privateKey, ...nodeOpts(label) }, ct)).toEqual(data);
      expect(() => crypto.privateDecrypt({ key: pair.privateKey, ...nodeOpts(Buffer.from('x')) }, ct)).toThrow();
    });

    test(
      'AES-256 from known bytes (createObject): GCM with AAD (128- and 96-bit tags), CBC-PAD, CBC, CTR equal node both ways; ' + 'a bad GCM tag is EncryptedDataInvalidError',
      async () => {
        const value = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
        const k = await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value, encrypt: true, decrypt: true });
        expect(k).toBeInstanceOf(SecretKey);
        const key = k as SecretKey;
        const pt = Buffer.from('forty-five bytes of plaintext for AES modes..');
        const iv12 = crypto.randomBytes(12);
        const aad = Buffer.from('header');

        const gcm = await key.encrypt({ name: 'AES-GCM', iv: iv12, additionalData: aad }, pt);
        expect(gcm).toEqual(nodeGcm(value, iv12, aad, pt));
        expect(nodeGcmOpen(value, iv12, aad, gcm)).toEqual(pt);
        expect(await key.decrypt({ name: 'AES-GCM', iv: iv12, additionalData: aad }, nodeGcm(value, iv12, aad, pt))).toEqual(pt);
        const gcm96 = await key.encrypt({ name: 'AES-GCM', iv: iv12, tagLength: 96 }, pt);
        expect(gcm96).toEqual(nodeGcm(value, iv12, Buffer.alloc(0), pt, 12));
        expect(await key.decrypt({ name: 'AES-GCM', iv: iv12, tagLength: 96 }, gcm96)).toEqual(pt);
        const tampered = Buffer.from(gcm);
        tampered[tampered.length - 1] ^= 1;
        await rejectsWith(key.decrypt({ name: 'AES-GCM', iv: iv12, additionalData: aad }, tampered), EncryptedDataInvalidError, 'C_Decrypt');
        await rejectsWith(key.decrypt({ name: 'AES-GCM', iv: iv12, additionalData: Buffer.from('other') }, gcm), EncryptedDataInvalidError, 'C_Decrypt');

        const iv16 = crypto.randomBytes(16);
        const cbcPad = await key.encrypt({ name: 'AES-CBC', iv: iv16 }, pt);
        expect(cbcPad).toEqual(nodeCipher('aes-256-cbc', value, iv16, pt));
        expect(await key.decrypt({ name: 'AES-CBC', iv: iv16 }, nodeCipher('aes-256-cbc', value, iv16, pt))).toEqual(pt);
        const blocks = pt.subarray(0, 32);
        const cbc = await key.encrypt({ name: 'AES-CBC', iv: iv16, padding: false }, blocks);
        expect(cbc).toEqual(nodeCipher('aes-256-cbc', value, iv16, blocks, false));
        expect(await key.decrypt({ name: 'AES-CBC', iv: iv16, padding: false }, cbc)).toEqual(blocks);

        const counter = Buffer.concat([crypto.randomBytes(12), Buffer.from('fffffffe', 'hex')]); // the low word wraps inside the message
        const ctr = await key.encrypt({ name: 'AES-CTR', counter, length: 128 }, pt);
        expect(ctr).toEqual(nodeCipher('aes-256-ctr', value, counter, pt));
        expect(nodeDecipher('aes-256-ctr', value, counter, ctr)).toEqual(pt);
        expect(await key.decrypt({ name: 'AES-CTR', counter, length: 128 }, ctr)).toEqual(pt);
      },
    );

    test("generateKey AES-128/192/256 and generic: sensitive by default; with sensitive: false the value is readable and the token's ciphertexts match node", async () => {
      for (const length of [128, 192, 256] as const) {
        const hidden = await s.generateKey({ name: 'AES', length });
        expect(await hidden.getAttributes(['valueLen', 'sensitive', 'encrypt', 'decrypt'])).toEqual({ valueLen: length / 8, sensitive: true, encrypt: true, decrypt: true });
        expect((await hidden.getAttributes(['value'])).unreadable).toEqual({ value: 'sensitive' });
        const open = await s.generateKey({ name: 'AES', length }, { sensitive: false });
        const value = (await open.getAttribute('value')) as Buffer;
        expect(value.length).toBe(length / 8);
        const iv = crypto.randomBytes(16);
        expect(await open.encrypt({ name: 'AES-CBC', iv }, data)).toEqual(nodeCipher(`aes-${length}-cbc`, value, iv, data));
      }
      const generic = await s.generateKey({ name: 'generic', length: 48 }, { sensitive: false });
      const g = await generic.getAttributes(['keyType', 'valueLen', 'value', 'sign', 'verify']);
      expect(g).toMatchObject({ keyType: 'genericSecret', valueLen: 48, sign: true, verify: true });
      expect(await generic.sign({ name: 'HMAC', hash: 'SHA-384' }, data)).toEqual(
        crypto
          .createHmac('sha384', g.value as Buffer)
          .update(data)
          .digest(),
      );
      await rejectsWith(s.generateKey({ name: 'AES', length: 100 as 128 }), RangeError);
    });

    test('HMAC SHA-256 / SHA-512 with a generic secret of known bytes: MACs equal node and verify true', async () => {
      const value = crypto.randomBytes(32);
      const k = (await s.createObject({ class: 'secretKey', keyType: 'genericSecret', token: false, value, sign: true, verify: true })) as SecretKey;
      expect(k).toBeInstanceOf(SecretKey);
      for (const [hash, node] of [
        ['SHA-256', 'sha256'],
        ['SHA-512', 'sha512'],
      ] as const) {
        const mac = await k.sign({ name: 'HMAC', hash }, data);
        expect(mac).toEqual(crypto.createHmac(node, value).update(data).digest());
        expect(await k.verify({ name: 'HMAC', hash }, data, mac)).toBe(true);
      }
    });

    test(
      "NSS 3.87 quirk: a wrong HMAC is not CKR_SIGNATURE_INVALID but whatever the calling thread's last NSS error maps to, " + 'so verify() may reject instead of answering false',
      async () => {
        // Softoken 3.87's HMAC compare fails without setting an error, and C_Verify maps the thread's
        // stale NSS error code. Shown deterministically with sync raw calls (all on this thread):
        const value = crypto.randomBytes(32);
        const k = (await s.createObject({ class: 'secretKey', keyType: 'genericSecret', token: false, value, sign: true, verify: true })) as SecretKey;
        const { publicKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
        const bad = crypto.createHmac('sha256', value).update(data).digest();
        bad[0] ^= 1;
        const r = mod.raw;
        const h = s.handle;
        const wrongMac = () => {
          r.C_VerifyInit(h, { mechanism: CKM_SHA256_HMAC }, k.handle);
          return r.C_Verify(h, data, bad);
        };
        // 1. The last error is "input length" (an ECDSA signature of odd length is CKR_DATA_LEN_RANGE):
        r.C_VerifyInit(h, { mechanism: CKM_ECDSA_SHA256 }, publicKey.handle);
        expect(thrown(() => r.C_Verify(h, data, Buffer.alloc(63)))).toBeInstanceOf(DataLenRangeError);
        expect(thrown(wrongMac)).toBeInstanceOf(DataLenRangeError);
        expect(thrown(wrongMac)).toBeInstanceOf(DataLenRangeError);
        // 2. The last error is "bad signature" (a wrong ECDSA signature, false): the wrong MAC is false too.
        r.C_VerifyInit(h, { mechanism: CKM_ECDSA_SHA256 }, publicKey.handle);
        expect(r.C_Verify(h, data, Buffer.alloc(64, 1))).toBe(false);
        expect(wrongMac()).toBe(false);
        // The typed layer runs C_Verify on libuv pool threads whose last error is unknown: a wrong MAC
        // is never true, but false or a Pkcs11Error from C_Verify.
        for (let i = 0; i < 4; i++) {
          const typed = await k.verify({ name: 'HMAC', hash: 'SHA-256' }, data, bad).catch((e: unknown) => e);
          expect(typed === false || (typed instanceof Pkcs11Error && typed.function === 'C_Verify')).toBe(true);
        }
        expect(await k.verify({ name: 'HMAC', hash: 'SHA-256' }, data, crypto.createHmac('sha256', value).update(data).digest())).toBe(true);
      },
    );

    test('NSS quirk: HMAC accepts an EC private key and MACs with its private scalar (no CKR_KEY_TYPE_INCONSISTENT)', async () => {
      const { privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { sensitive: false } });
      const scalar = (await privateKey.getAttribute('value')) as Buffer;
      expect(scalar.length).toBe(32);
      expect(await privateKey.sign({ name: 'HMAC', hash: 'SHA-256' }, data)).toEqual(crypto.createHmac('sha256', scalar).update(data).digest());
    });

    test('digest(): SHA-1, SHA-224, SHA-256, SHA-384, SHA-512 equal node; empty input too', async () => {
      for (const [name, node] of [
        ['SHA-1', 'sha1'],
        ['SHA-224', 'sha224'],
        ['SHA-256', 'sha256'],
        ['SHA-384', 'sha384'],
        ['SHA-512', 'sha512'],
      ] as const) {
        expect(await s.digest({ name }, data)).toEqual(sha(node, data));
      }
      expect(await s.digest({ name: 'SHA-256' }, Buffer.alloc(0))).toEqual(sha('sha256'));
    });
  });

  describe('multi-part operations', () => {
    const parts = [Buffer.from('first part, '), crypto.randomBytes(1000), Buffer.from(', last part')];
    const whole = Buffer.concat(parts);

    test('digestInit / update / final equals node; the finished handle refuses more (OperationFinishedError)', async () => {
      const op = await s.digestInit({ name: 'SHA-384' });
      for (const p of parts) await op.update(p);
      expect(await op.final()).toEqual(sha('sha384', whole));
      expect(op.isFinished).toBe(true);
      await expect(op.update(parts[0])).rejects.toBeInstanceOf(OperationFinishedError);
      await expect(op.final()).rejects.toBeInstanceOf(OperationFinishedError);
    });

    test('ECDSA SHA-256 in parts (NSS has the combined mechanism, so no pre-hash refusal): signInit → node verifies; verifyInit → true, tampered → false', async () => {
      const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
      const sign = await s.signInit({ name: 'ECDSA', hash: 'SHA-256' }, privateKey);
      for (const p of parts) await sign.update(p);
      const sig = await sign.final();
      expect(crypto.verify('sha256', whole, { key: await ecNodeKey(publicKey, 'P-256'), dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
      const v = await s.verifyInit({ name: 'ECDSA', hash: 'SHA-256' }, publicKey);
      for (const p of parts) await v.update(p);
      expect(await v.final(sig)).toBe(true);
      const v2 = await s.verifyInit({ name: 'ECDSA', hash: 'SHA-256' }, publicKey);
      await v2.update(whole.subarray(1));
      expect(await v2.final(sig)).toBe(false);
    });

    test('RSA-PSS SHA-256 and HMAC SHA-256 in parts: node verifies / computes the same MAC', async () => {
      const rsa = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 });
      const op = await s.signInit({ name: 'RSA-PSS', hash: 'SHA-256' }, rsa.privateKey);
      for (const p of parts) await op.update(p);
      const pss = await op.final();
      expect(crypto.verify('sha256', whole, { key: await rsaNodeKey(rsa.publicKey), padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, pss)).toBe(true);

      const value = crypto.randomBytes(32);
      const hmac = (await s.createObject({ class: 'secretKey', keyType: 'genericSecret', token: false, value, sign: true, verify: true })) as SecretKey;
      const mac = await s.signInit({ name: 'HMAC', hash: 'SHA-256' }, hmac);
      for (const p of parts) await mac.update(p);
      expect(await mac.final()).toEqual(crypto.createHmac('sha256', value).update(whole).digest());
      const v = await s.verifyInit({ mechanism: CKM_SHA256_HMAC }, hmac);
      await v.update(whole);
      expect(await v.final(crypto.createHmac('sha256', value).update(whole).digest())).toBe(true);
    });

    test('encryptInit / decryptInit: AES-CTR and AES-CBC-PAD in parts equal node (NSS decrypts CBC-PAD in whole blocks only)', async () => {
      const value = crypto.randomBytes(16);
      const key = (await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value, encrypt: true, decrypt: true })) as SecretKey;
      const counter = crypto.randomBytes(16);
      const enc = await s.encryptInit({ name: 'AES-CTR', counter, length: 128 }, key);
      const out: Buffer[] = [];
      for (const p of parts) out.push(await enc.update(p));
      out.push(await enc.final());
      expect(Buffer.concat(out)).toEqual(nodeCipher('aes-128-ctr', value, counter, whole));

      const iv = crypto.randomBytes(16);
      const cbc = await s.encryptInit({ name: 'AES-CBC', iv }, key);
      const ct = Buffer.concat([await cbc.update(parts[0]), await cbc.update(parts[1]), await cbc.update(parts[2]), await cbc.final()]);
      expect(ct).toEqual(nodeCipher('aes-128-cbc', value, iv, whole));
      const dec = await s.decryptInit({ name: 'AES-CBC', iv }, key);
      const pt = Buffer.concat([await dec.update(ct.subarray(0, 48)), await dec.update(ct.subarray(48)), await dec.final()]);
      expect(pt).toEqual(whole);
    });

    test('the operation holds its session: another call on it waits until final()', async () => {
      const t = await slot.openSession();
      const op = await t.digestInit({ name: 'SHA-256' });
      const order: string[] = [];
      const other = t.random(8).then(() => order.push('random'));
      await new Promise((r) => setTimeout(r, 20));
      await op.update(parts[0]);
      order.push('update');
      await op.final();
      order.push('final');
      await other;
      expect(order).toEqual(['update', 'final', 'random']);
      await t.close();
    });

    test('abort() ends sign, verify, digest and AES-CBC encrypt operations in the module: a new operation of the same kind starts on the session', async () => {
      const t = await slot.openSession();
      const { publicKey, privateKey } = await t.generateKeyPair({ name: 'EC', curve: 'P-256' });
      const key = (await t.createObject({ class: 'secretKey', keyType: 'aes', token: false, value: crypto.randomBytes(16), encrypt: true, decrypt: true })) as SecretKey;
      // (NSS answers CKR_OPERATION_ACTIVE to an Init while an operation of the kind is still on.)
      const sign = await t.signInit({ name: 'ECDSA', hash: 'SHA-256' }, privateKey);
      await sign.update(parts[0]);
      await sign.abort();
      expect(sign.isFinished).toBe(true);
      const sign2 = await t.signInit({ name: 'ECDSA', hash: 'SHA-256' }, privateKey);
      await sign2.update(whole);
      expect(await publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, whole, await sign2.final())).toBe(true);

      const verify = await t.verifyInit({ name: 'ECDSA', hash: 'SHA-256' }, publicKey);
      await verify.update(parts[0]);
      await verify.abort();
      const digest = await t.digestInit({ name: 'SHA-256' });
      await digest.update(parts[0]);
      await digest.abort();
      await digest.abort(); // twice is a no-op
      const digest2 = await t.digestInit({ name: 'SHA-256' });
      expect(await digest2.final()).toEqual(sha('sha256'));

      const enc = await t.encryptInit({ name: 'AES-CBC', iv: Buffer.alloc(16) }, key);
      await enc.update(Buffer.alloc(5));
      await enc.abort();
      const enc2 = await t.encryptInit({ name: 'AES-CBC', iv: Buffer.alloc(16) }, key);
      expect((await enc2.final()).length).toBe(16); // the padding block of an empty message
      await t.close();
    });

    test(
      'NSS quirk: CBC-PAD C_DecryptUpdate wants whole blocks (EncryptedDataLenRangeError) and, against the spec, NSS keeps the operation on; ' +
        'the typed layer ends it, so the session is free again',
      async () => {
        const value = crypto.randomBytes(16);
        const key = (await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value, encrypt: true, decrypt: true })) as SecretKey;
        const iv = crypto.randomBytes(16);
        const mech = { mechanism: CKM_AES_CBC_PAD, parameter: iv };
        // NSS itself, through the raw layer: after the failed part the next C_DecryptInit is CKR_OPERATION_ACTIVE.
        const h = mod.raw.C_OpenSession(db.slot, CKF_SERIAL_SESSION);
        mod.raw.C_DecryptInit(h, mech, key.handle);
        expect(thrown(() => mod.raw.C_DecryptUpdate(h, Buffer.alloc(5)))).toBeInstanceOf(EncryptedDataLenRangeError);
        expect(thrown(() => mod.raw.C_DecryptInit(h, mech, key.handle))).toBeInstanceOf(OperationActiveError);
        mod.raw.C_CloseSession(h);
        // The typed handle ends the operation in the module when a part fails (C_SessionCancel / the final call).
        const t = await slot.openSession();
        const dec = await t.decryptInit({ name: 'AES-CBC', iv }, key);
        await rejectsWith(dec.update(Buffer.alloc(5)), EncryptedDataLenRangeError, 'C_DecryptUpdate');
        expect(dec.isFinished).toBe(true);
        const ct = nodeCipher('aes-128-cbc', value, iv, data);
        const dec2 = await t.decryptInit({ name: 'AES-CBC', iv }, key);
        expect(Buffer.concat([await dec2.update(ct.subarray(0, 16)), await dec2.update(ct.subarray(16)), await dec2.final()])).toEqual(data);
        await t.close();
      },
    );

    test(
      'NSS quirk: AES-GCM is single-part only (C_EncryptUpdate / C_EncryptFinal answer CKR_OPERATION_NOT_INITIALIZED while the operation stays on); ' +
        'the typed layer still ends it, with a one-shot C_Encrypt',
      async () => {
        const value = crypto.randomBytes(16);
        const key = (await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value, encrypt: true, decrypt: true })) as SecretKey;
        const iv = crypto.randomBytes(12);
        const t = await slot.openSession();
        const op = await t.encryptInit({ name: 'AES-GCM', iv }, key);
        await rejectsWith(op.update(data), OperationNotInitializedError, 'C_EncryptUpdate');
        expect(op.isFinished).toBe(true);
        // C_SessionCancel (NSS: CKR_OPERATION_CANCEL_FAILED for single-part operations), then
        // C_EncryptFinal (CKR_OPERATION_NOT_INITIALIZED), then C_Encrypt on empty input, which ends
        // it: a new operation starts on the same session.
        const names = ['C_EncryptInitAsync', 'C_SessionCancelAsync', 'C_EncryptFinalAsync', 'C_EncryptAsync'];
        const watched = names.map((n) => watchRaw(t.slot.module.raw, n));
        const op2 = await t.encryptInit({ name: 'AES-GCM', iv }, key);
        await op2.abort();
        expect(op2.isFinished).toBe(true);
        expect(watched.map((w) => w.calls.length)).toEqual([1, 1, 1, 1]);
        for (const w of watched) w.restore();
        const op3 = await t.encryptInit({ name: 'AES-GCM', iv }, key);
        await op3.abort();
        expect(await t.digest({ name: 'SHA-256' }, data)).toEqual(sha('sha256', data));
        await t.close();
        // The single-part form (key.encrypt: Init + C_Encrypt) is the way to encrypt with GCM.
        expect(await key.encrypt({ name: 'AES-GCM', iv }, data)).toEqual(nodeGcm(value, iv, Buffer.alloc(0), data));
      },
    );

    test(
      'NSS quirk: raw CKM_ECDSA is single-part only (C_SignUpdate is OperationNotInitializedError, NSS keeps the context); ' + 'the failed part ends it with a one-shot C_Sign',
      async () => {
        const t = await slot.openSession();
        const { privateKey } = await t.generateKeyPair({ name: 'EC', curve: 'P-256' });
        const op = await t.signInit({ mechanism: CKM_ECDSA }, privateKey);
        await rejectsWith(op.update(sha('sha256', data)), OperationNotInitializedError, 'C_SignUpdate');
        expect(op.isFinished).toBe(true);
        // The context is free again: signing and digesting work on the same session.
        const again = await t.signInit({ mechanism: CKM_ECDSA }, privateKey);
        await again.abort();
        expect(await t.digest({ name: 'SHA-256' }, data)).toEqual(sha('sha256', data));
        expect(await privateKey.sign({ mechanism: CKM_ECDSA }, sha('sha256', data))).toHaveLength(64);
        await t.close();
      },
    );
  });

  describe('errors from real failures', () => {
    test("a closed session: the typed layer's SessionNotOpenError (not a Pkcs11Error); the raw handle is SessionHandleInvalidError in the module", async () => {
      const t = await slot.openSession();
      const obj = await t.createObject({ class: 'data', token: false, label: 'closed' });
      await t.close();
      await t.close(); // twice is fine
      expect(t.isOpen).toBe(false);
      const e = await rejectsWith(t.random(4), SessionNotOpenError);
      expect(e).not.toBeInstanceOf(Pkcs11Error);
      expect(e.message).toBe('random: the session is closed');
      await rejectsWith(obj.getAttributes(['label']), SessionNotOpenError);
      await rejectsWith(t.digestInit({ name: 'SHA-256' }), SessionNotOpenError);
      // Not to be confused with CKR_SESSION_CLOSED's class (a module's answer), SessionClosedError.
      expect(e).not.toBeInstanceOf(SessionClosedError);
      expect(SessionClosedError.rv).toBe(0xb0);
      const raw = await rejectsWith(mod.raw.C_GetSessionInfoAsync(t.handle), SessionHandleInvalidError, 'C_GetSessionInfo');
      expect(raw).toBeInstanceOf(SessionError);
      expect(raw.rv).toBe(0xb3);
    });

    test('a session closed behind the typed layer (raw C_CloseSession): its calls are SessionHandleInvalidError; NSS quirk: C_GenerateRandom ignores the handle', async () => {
      const t = await slot.openSession();
      await mod.raw.C_CloseSessionAsync(t.handle);
      expect(t.isOpen).toBe(true); // the typed layer cannot know
      await rejectsWith(t.info(), SessionHandleInvalidError, 'C_GetSessionInfo');
      await rejectsWith(t.createObject({ class: 'data', token: false }), SessionHandleInvalidError, 'C_CreateObject');
      expect((await t.random(4)).length).toBe(4);
      // close() of a session the module no longer has: already closed, so close() resolves.
      await t.close();
      expect(t.isOpen).toBe(false);
      await rejectsWith(t.info(), SessionNotOpenError);
    });

    test('wrong mechanism for the key: NSS answers CKR_KEY_TYPE_INCONSISTENT → KeyTypeInconsistentError (a KeyError) at Init', async () => {
      const ec = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
      const aes = await s.generateKey({ name: 'AES', length: 128 });
      const generic = await s.generateKey({ name: 'generic', length: 32 });
      // Fresh objects for the same keys: generated keys are of known type, refused before the
      // call (test/key-type-checks.test.ts); these reach NSS.
      const fresh = async <K extends Pkcs11Object>(k: K): Promise<K> => (await s.object(k.handle)) as K;
      const [aesF, ecPrivF, ecPubF, genericF] = [await fresh(aes), await fresh(ec.privateKey), await fresh(ec.publicKey), await fresh(generic)];
      const cases: Array<[() => Promise<unknown>, string]> = [
        [() => aesF.sign({ name: 'ECDSA', hash: 'SHA-256' }, data), 'C_SignInit'],
        [() => ecPrivF.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data), 'C_SignInit'],
        [() => ecPubF.encrypt({ name: 'AES-GCM', iv: Buffer.alloc(12) }, data), 'C_EncryptInit'],
        [() => genericF.encrypt({ name: 'AES-CBC', iv: Buffer.alloc(16) }, data), 'C_EncryptInit'],
        [() => aes.sign({ name: 'HMAC', hash: 'SHA-256' }, data), 'C_SignInit'],
      ];
      for (const [call, fn] of cases) {
        // Where the typed layer knows which key types the mechanism takes (issue 17), NSS's
        // answer comes back as KeyMechanismMismatchError naming both, with NSS's error as cause.
        const thrownError = await rejection(call());
        // The error the caller gets carries the caller's stack.
        expect((thrownError as Error).stack).toContain('--- async call made at ---');
        let e = thrownError;
        if (e instanceof KeyMechanismMismatchError) {
          expect(e.message).toMatch(/takes an? .* key, and this is an? /);
          e = (e as Error & { cause: Error }).cause;
        }
        expect(e).toBeInstanceOf(KeyTypeInconsistentError);
        expect(e).toBeInstanceOf(KeyError);
        expect(e).toMatchObject({ rv: 0x63, rvName: 'CKR_KEY_TYPE_INCONSISTENT', function: fn });
      }
      // An EC key asked for RSA PKCS#1 v1.5 is such a case: told apart, before the call, from
      // then on (the key's type is known after the first failure).
      await expect(ec.privateKey.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, data)).rejects.toBeInstanceOf(KeyMechanismMismatchError);
      // The session is free after each failure.
      expect(await ec.publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, data, await ec.privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data))).toBe(true);
    });

    test('a destroyed key: KeyHandleInvalidError at Init; a destroyed object: ObjectHandleInvalidError', async () => {
      const { privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
      await privateKey.destroy();
      const e = await rejectsWith(privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data), KeyHandleInvalidError, 'C_SignInit');
      expect(e).toBeInstanceOf(KeyError);
      await rejectsWith(privateKey.getAttributes(['keyType']), ObjectHandleInvalidError, 'C_GetAttributeValue');
      await rejectsWith(privateKey.copy(), ObjectHandleInvalidError, 'C_CopyObject');
    });
  });

  test(
    'session pool without login: sessions opened lazily up to size (NSS\'s limits are "infinite"), one caller each; ' + 'a session key is usable from every pool session (NSS)',
    async () => {
      const pool = await slot.pool({ size: 3, waitTimeout: 5000 });
      expect(pool.size).toBe(3);
      expect(pool.opened).toBe(0);
      const label = `pool-${crypto.randomBytes(3).toString('hex')}`;
      const { publicKey } = await pool.use((t) => t.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { label } }));
      const node = await ecNodeKey(publicKey, 'P-256');
      const sessions = new Set<Session>();
      let maxInUse = 0;
      const msgs = Array.from({ length: 9 }, (_, i) => Buffer.from(`pool message ${i}`));
      const sigs = await Promise.all(
        msgs.map((m) =>
          pool.use(async (t) => {
            sessions.add(t);
            maxInUse = Math.max(maxInUse, pool.inUse);
            const [key] = await t.findAll({ class: 'privateKey', label });
            expect(key).toBeInstanceOf(PrivateKey);
            expect(key.session).toBe(t);
            return (key as PrivateKey).sign({ name: 'ECDSA', hash: 'SHA-256' }, m);
          }),
        ),
      );
      sigs.forEach((sig, i) => expect(crypto.verify('sha256', msgs[i], { key: node, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true));
      expect(sessions.size).toBeGreaterThan(1);
      expect(sessions.size).toBeLessThanOrEqual(3);
      expect(maxInUse).toBeLessThanOrEqual(3);
      await pool.close();
      expect(pool.opened).toBe(0);
      for (const t of sessions) expect(t.isOpen).toBe(false);
      await expect(pool.use(async () => 1)).rejects.toBeInstanceOf(PoolClosedError);
    },
  );

  test("Module.close(): idempotent; afterwards sessions reject with SessionNotOpenError and module calls fail (this block's last test)", async () => {
    const t = await slot.openSession();
    const first = mod.close();
    const second = mod.close();
    await Promise.all([first, second]);
    await mod.close();
    expect(mod.isClosed).toBe(true);
    expect(slot.loginState).toBeNull();
    await rejectsWith(t.random(4), SessionNotOpenError);
    await rejectsWith(s.digest({ name: 'SHA-256' }, data), SessionNotOpenError);
    // The module is unloaded: ModuleClosedError, not a module answer.
    const e = await rejection(mod.info());
    expect(e).toBeInstanceOf(ModuleClosedError);
    expect(e).not.toBeInstanceOf(Pkcs11Error);
    expect(e).toMatchObject({ code: 'ERR_P11_MODULE_CLOSED', message: 'the module is closed' });
  });
});

describe('NSS softoken through the typed layer: a password set with setPin, login state, PIN errors, pool', () => {
  const PIN = 'typed-nss-Pw1';
  const PIN2 = 'typed-nss-Pw2';
  let db: NssDb;
  let mod: Module;
  let slot: Slot;

  beforeAll(async () => {
    db = createNssDb(); // empty password; this block sets one
    mod = await openModule(db);
    slot = (await mod.findSlot(DB_TOKEN))!;
  });
  afterAll(async () => {
    try {
      await mod?.close();
    } finally {
      db?.cleanup();
    }
  });

  test('setPin("", PIN) gives the database a password (loginRequired now); NSS quirk: it also logs the user in, which the typed layer does not see', async () => {
    const a = await slot.openSession({ write: true });
    const b = await slot.openSession();
    expect((await slot.tokenInfo()).flags.loginRequired).toBe(false);
    await a.setPin('', PIN);
    expect((await slot.tokenInfo()).flags).toMatchObject({ loginRequired: true, userPinInitialized: true });
    expect((await a.info()).state).toBe('rwUser');
    expect((await b.info()).state).toBe('roUser');
    expect(slot.loginState).toBeNull();
    // login() now reaches C_Login, which answers CKR_USER_ALREADY_LOGGED_IN: handled as success.
    const login = watchRaw(mod.raw, 'C_LoginAsync');
    try {
      await b.login(PIN);
      expect(login.calls).toHaveLength(1);
      await expect(login.results[0]).rejects.toBeInstanceOf(UserAlreadyLoggedInError);
    } finally {
      login.restore();
    }
    expect(slot.loginState).toBe('user');
    await a.logout();
    expect(slot.loginState).toBeNull();
    expect((await a.info()).state).toBe('rwPublic');
    expect((await b.info()).state).toBe('roPublic');
    await a.close();
    await b.close();
  });

  test("a wrong PIN is PinIncorrectError (a PinError and Pkcs11Error: rv 0xA0, C_Login), the caller's stack and never the PIN", async () => {
    const a = await slot.openSession();
    const wrong = 'wrong-PIN-20240229';
    const e = await rejectsWith(a.login(wrong), PinIncorrectError, 'C_Login');
    expect(e).toBeInstanceOf(PinError);
    expect(e).toBeInstanceOf(Pkcs11Error);
    expect(e).toMatchObject({ rv: 0xa0, rvName: 'CKR_PIN_INCORRECT' });
    expect(e.stack).toContain('typed-nss.test.ts');
    expect(`${e.message} ${e.stack}`).not.toContain(wrong);
    expect(slot.loginState).toBeNull();
    expect((await a.info()).state).toBe('roPublic');
    await a.close();
  });

  test('login is per token: one login, every session sees it (rwUser / roUser); a second login() is a no-op; logout from any session', async () => {
    const a = await slot.openSession({ write: true });
    const b = await slot.openSession();
    await a.login(PIN);
    expect(slot.loginState).toBe('user');
    expect((await a.info()).state).toBe('rwUser');
    expect((await b.info()).state).toBe('roUser');
    const login = watchRaw(mod.raw, 'C_LoginAsync');
    try {
      await b.login(PIN);
      expect(login.calls).toEqual([]);
    } finally {
      login.restore();
    }
    await b.logout();
    expect((await a.info()).state).toBe('rwPublic');
    await a.close();
    await b.close();
  });

  test('logged out, private objects are out of reach: generating a private key is UserNotLoggedInError; a private token key is hidden from find()', async () => {
    const a = await slot.openSession({ write: true });
    const e = await rejectsWith(a.generateKeyPair({ name: 'EC', curve: 'P-256' }), UserNotLoggedInError, 'C_GenerateKeyPair');
    expect(e).toBeInstanceOf(SessionError);
    await a.login(PIN);
    const label = `tok-${crypto.randomBytes(3).toString('hex')}`;
    const pair = await a.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { token: true, label }, publicKey: { token: true, label } });
    expect(await pair.privateKey.getAttributes(['token', 'private', 'label'])).toEqual({ token: true, private: true, label });
    expect((await a.findAll({ label })).map((o) => o.constructor.name).sort()).toEqual(['PrivateKey', 'PublicKey']);
    await a.logout();
    const found = await a.findAll({ label });
    expect(found).toHaveLength(1);
    expect(found[0]).toBeInstanceOf(PublicKey);
    await a.close();
  });

  test('setPin(PIN, PIN2) as the logged-in user: the old PIN is PinIncorrectError afterwards, the new one logs in', async () => {
    const a = await slot.openSession({ write: true });
    await a.login(PIN);
    await a.setPin(PIN, PIN2);
    await a.logout();
    await rejectsWith(a.login(PIN), PinIncorrectError, 'C_Login');
    await a.login(PIN2);
    expect((await a.info()).state).toBe('rwUser');
    await a.logout();
    await a.close();
  });

  test('NSS quirk: the SO cannot log in once the user PIN exists (UserTypeInvalidError)', async () => {
    const a = await slot.openSession({ write: true });
    const e = await rejectsWith(a.login('', { user: 'so' }), UserTypeInvalidError, 'C_Login');
    expect(e).toBeInstanceOf(SessionError);
    expect(slot.loginState).toBeNull();
    await a.close();
  });

  test(
    'a login made outside the typed layer (raw C_Login) is absorbed: login() resolves on CKR_USER_ALREADY_LOGGED_IN — ' + 'then even with a wrong PIN, which NSS does not check',
    async () => {
      const a = await slot.openSession();
      const b = await slot.openSession();
      await mod.raw.C_LoginAsync(a.handle, CKU_USER, PIN2);
      expect(slot.loginState).toBeNull();
      await b.login('not-the-PIN');
      expect(slot.loginState).toBe('user');
      expect((await b.info()).state).toBe('roUser');
      await b.logout();
      await a.close();
      await b.close();
    },
  );

  test("closing the token's last session logs it out (NSS does), and the typed loginState follows", async () => {
    const a = await slot.openSession();
    await a.login(PIN2);
    expect(slot.loginState).toBe('user');
    await a.close();
    expect(slot.openSessionCount).toBe(0);
    expect(slot.loginState).toBeNull();
    const b = await slot.openSession();
    expect((await b.info()).state).toBe('roPublic');
    await b.close();
  });

  test(
    'pool({ size, login }): one login for the pool, every session rwUser; token-key signatures from many sessions verify in node; ' +
      'a wrong PIN fails use() with PinIncorrectError and leaks no session',
    async () => {
      const pool = await slot.pool({ size: 2, login: PIN2 });
      expect(pool.size).toBe(2);
      const label = `pool-tok-${crypto.randomBytes(3).toString('hex')}`;
      const { publicKey } = await pool.use((t) => t.generateKeyPair({ name: 'EC', curve: 'P-384' }, { privateKey: { token: true, label }, publicKey: { token: true, label } }));
      const node = await ecNodeKey(publicKey, 'P-384');
      const login = watchRaw(mod.raw, 'C_LoginAsync');
      let sigs: Buffer[];
      const msgs = Array.from({ length: 6 }, (_, i) => Buffer.from(`pooled ${i}`));
      try {
        sigs = await Promise.all(
          msgs.map((m) =>
            pool.use(async (t) => {
              expect((await t.info()).state).toBe('rwUser');
              const [key] = await t.findAll({ class: 'privateKey', label });
              return (key as PrivateKey).sign({ name: 'ECDSA', hash: 'SHA-384' }, m);
            }),
          ),
        );
        expect(login.calls).toEqual([]); // logged in once, when the first session opened
      } finally {
        login.restore();
      }
      sigs.forEach((sig, i) => expect(crypto.verify('sha384', msgs[i], { key: node, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true));
      expect(pool.opened).toBe(2);
      await pool.use(async (t) => {
        for (const o of await t.findAll({ label })) await o.destroy();
        expect(await t.findAll({ label })).toEqual([]);
      });
      await pool.close();
      expect(pool.opened).toBe(0);
      expect(slot.openSessionCount).toBe(0);

      const bad = await slot.pool({ size: 1, login: 'wrong-pool-PIN' });
      await expect(bad.use(async () => 1)).rejects.toBeInstanceOf(PinIncorrectError);
      expect(bad.opened).toBe(0);
      expect(slot.openSessionCount).toBe(0);
      await bad.close();
    },
  );
});

describe('NSS softoken through the typed layer: an uninitialized database, SO login and initPin, `await using` Module', () => {
  test(
    'a directory certutil never touched: tokenInitialized false; the user cannot log in; SO login (empty PIN) and initPin set the user PIN; ' +
      'the Module closes at the end of its block',
    async () => {
      const USER_PIN = 'typed-nss-user-1';
      const db = createUninitializedNssDb();
      let held: Module | undefined;
      try {
        {
          await using mod = await openModule(db);
          held = mod;
          expect((await mod.info()).functionCount).toBe(92);
          const slot = (await mod.slots()).find((x) => x.id === db.slot)!;
          const before = await slot.tokenInfo();
          // NSS gives the uninitialized database no label change, just the flags.
          expect(before.label).toBe(DB_TOKEN);
          expect(before.flags).toMatchObject({ tokenInitialized: false, userPinInitialized: false, loginRequired: true });
          expect(await mod.findSlot(DB_TOKEN)).toBe(slot);

          const so = await slot.openSession({ write: true });
          // NSS quirk: the user of an uninitialized database is CKR_USER_TYPE_INVALID, not CKR_USER_PIN_NOT_INITIALIZED.
          await rejectsWith(so.login(''), UserTypeInvalidError, 'C_Login');
          await rejectsWith(so.login('x', { user: 'so' }), PinIncorrectError, 'C_Login'); // the SO PIN is the empty one
          await so.login('', { user: 'so' });
          expect(slot.loginState).toBe('so');
          expect((await so.info()).state).toBe('rwSO');
          await so.initPin(USER_PIN);
          expect((await slot.tokenInfo()).flags).toMatchObject({ tokenInitialized: true, userPinInitialized: true, loginRequired: true });
          await so.logout();
          expect(slot.loginState).toBeNull();

          const user = await slot.openSession({ write: true });
          await rejectsWith(user.login('not-it'), PinIncorrectError, 'C_Login');
          await user.login(USER_PIN);
          expect((await user.info()).state).toBe('rwUser');
          expect((await so.info()).state).toBe('rwUser'); // login is per token
          // A private key can be made now, and it works.
          const { publicKey, privateKey } = await user.generateKeyPair({ name: 'EC', curve: 'P-256' });
          const sig = await privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, Buffer.from('after initPin'));
          expect(crypto.verify('sha256', Buffer.from('after initPin'), { key: await ecNodeKey(publicKey, 'P-256'), dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
          expect(mod.isClosed).toBe(false);
        }
        expect(held!.isClosed).toBe(true);
        await held!.close(); // idempotent after the dispose
      } finally {
        await held?.close();
        db.cleanup();
      }
    },
  );
});
