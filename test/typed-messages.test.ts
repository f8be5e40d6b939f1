// PKCS#11 3.0 message-based AEAD and signing, and 3.2 KEM, through the typed layer.
// - NSS softokn 3.87 (a 3.0 module): AES-GCM messages with module-generated (random, counter) and
//   caller IVs, ChaCha20-Poly1305 messages, several per Init, decrypted/encrypted by node:crypto;
//   a tampered message → EncryptedDataInvalidError and the operation goes on. NSS stubs the
//   multi-part message functions and message signing (CKR_FUNCTION_NOT_SUPPORTED).
// - SoftHSM 2.6.1 (a 2.40 module): every message Init is FunctionNotSupportedError, the raw
//   layer's answer for a function the module does not provide.
// - KEM: no module here implements PKCS#11 3.2 C_EncapsulateKey / C_DecapsulateKey. Tested: the
//   raw mechanism and template the typed layer builds (planKem, and the arguments that reach the
//   raw layer), FunctionNotSupportedError on SoftHSM and NSS, and argument errors.
import * as crypto from 'node:crypto';
import { fixture } from './helpers/softhsm';
import { createNssDb, NssDb } from './helpers/nss';
import {
  Module,
  Session,
  SecretKey,
  PrivateKey,
  PublicKey,
  Pkcs11Error,
  FunctionNotSupportedError,
  EncryptedDataInvalidError,
  ArgumentsBadError,
  OperationFinishedError,
  params,
  CKA_CLASS,
  CKA_KEY_TYPE,
  CKA_TOKEN,
  CKA_VALUE_LEN,
  CKA_LABEL,
  CKA_DECRYPT,
  CKK_AES,
  CKM_AES_GCM,
  CKM_ML_KEM,
  CKM_RSA_PKCS_OAEP,
  CKO_SECRET_KEY,
  CKG_NO_GENERATE,
} from '../lib/index';
import { MessageDecryptOperation, MessageEncryptOperation, planMessageCipher } from '../lib/session/messages';
import { planKem } from '../lib/session/kem';

function nodeGcmDecrypt(key: Buffer, iv: Buffer, aad: Buffer, ct: Buffer, tag: Buffer): Buffer {
  const d = crypto.createDecipheriv(`aes-${key.length * 8}-gcm` as crypto.CipherGCMTypes, key, iv, { authTagLength: tag.length });
  d.setAAD(aad);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]);
}

function nodeGcmEncrypt(key: Buffer, iv: Buffer, aad: Buffer, pt: Buffer): { ct: Buffer; tag: Buffer } {
  const c = crypto.createCipheriv(`aes-${key.length * 8}-gcm` as crypto.CipherGCMTypes, key, iv);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { ct, tag: c.getAuthTag() };
}

function nodeChacha(key: Buffer, nonce: Buffer, aad: Buffer, pt: Buffer): { ct: Buffer; tag: Buffer } {
  const c = crypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: pt.length });
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { ct, tag: c.getAuthTag() };
}

function nodeChachaDecrypt(key: Buffer, nonce: Buffer, aad: Buffer, ct: Buffer, tag: Buffer): Buffer {
  const d = crypto.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: ct.length });
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]);
}

/** Session free, no operation left: an unrelated call answers at once. */
async function expectFree(s: Session): Promise<void> {
  expect((await s.random(8)).length).toBe(8);
}

describe('message-based AEAD on NSS softokn 3.87', () => {
  let db: NssDb;
  let mod: Module;
  let s: Session;
  const aesValue = crypto.randomBytes(32);
  const chachaValue = crypto.randomBytes(32);
  let aes: SecretKey;
  let chacha: SecretKey;

  beforeAll(async () => {
    db = createNssDb();
    mod = await Module.open(db.modulePath, { initialize: { libraryParameters: db.libraryParameters } });
    s = await mod.slot(db.slot).openSession({ write: true });
    // Known key values (session objects; NSS shows them to their own session only), so node can check.
    aes = (await s.createObject({ class: 'secretKey', keyType: 'aes', token: false, value: aesValue, encrypt: true, decrypt: true })) as SecretKey;
    chacha = (await s.createObject({ class: 'secretKey', keyType: 'chacha20', token: false, value: chachaValue, encrypt: true, decrypt: true })) as SecretKey;
  });
  afterAll(async () => {
    await s?.close();
    await mod?.close();
    db?.cleanup();
  });

  test('AES-GCM, module-generated random IVs: three messages under one Init, each decrypted by node with the returned iv and tag', async () => {
    const op = await s.messageEncryptInit({ name: 'AES-GCM' }, aes);
    expect(op).toBeInstanceOf(MessageEncryptOperation);
    const ivs = new Set<string>();
    for (const n of [0, 17, 100000]) {
      const pt = crypto.randomBytes(n);
      const aad = crypto.randomBytes(n % 13);
      const m = await op.encrypt(pt, { additionalData: aad });
      expect(m.iv.length).toBe(12);
      expect(m.tag.length).toBe(16);
      expect(m.iv.equals(Buffer.alloc(12))).toBe(false);
      ivs.add(m.iv.toString('hex'));
      expect(nodeGcmDecrypt(aesValue, m.iv, aad, m.ciphertext, m.tag).equals(pt)).toBe(true);
    }
    expect(ivs.size).toBe(3);
    await op.final();
    expect(op.isFinished).toBe(true);
    await expect(op.encrypt(Buffer.from('late'))).rejects.toBeInstanceOf(OperationFinishedError);
    await expectFree(s);
  });

  test('AES-GCM, counter IVs with a fixed part: the prefix is kept, the counter goes up by one, node decrypts; 96-bit tags', async () => {
    const fixed = Buffer.from('p11b');
    const op = await s.messageEncryptInit({ name: 'AES-GCM', ivGenerator: 'counter', ivFixed: fixed, tagLength: 96 }, aes);
    const aad = Buffer.from('counter aad');
    const seen: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const pt = crypto.randomBytes(50 + i);
      const m = await op.encrypt(pt, { additionalData: aad });
      expect(m.iv.subarray(0, 4)).toEqual(fixed);
      expect(m.tag.length).toBe(12);
      seen.push(m.iv.readBigUInt64BE(4));
      expect(nodeGcmDecrypt(aesValue, m.iv, aad, m.ciphertext, m.tag).equals(pt)).toBe(true);
    }
    expect(seen).toEqual([seen[0], seen[0] + 1n, seen[0] + 2n, seen[0] + 3n]);
    await op.final();
    await expectFree(s);
  });

  test('AES-GCM, caller IVs: ciphertext and tag equal node exactly; no additional data', async () => {
    const op = await s.messageEncryptInit({ name: 'AES-GCM' }, aes);
    for (let i = 0; i < 3; i++) {
      const iv = crypto.randomBytes(12);
      const pt = crypto.randomBytes(1000 + i);
      const m = await op.encrypt(pt, { iv });
      const expected = nodeGcmEncrypt(aesValue, iv, Buffer.alloc(0), pt);
      expect({ ct: m.ciphertext, tag: m.tag, iv: m.iv }).toEqual({ ct: expected.ct, tag: expected.tag, iv });
    }
    await op.final();
  });

  test('NSS quirk: one IV source per operation; a caller IV after generated ones → ArgumentsBadError and the operation goes on', async () => {
    const op = await s.messageEncryptInit({ name: 'AES-GCM' }, aes);
    await op.encrypt(Buffer.from('generated iv'));
    const err = await op.encrypt(Buffer.from('caller iv'), { iv: crypto.randomBytes(12) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArgumentsBadError);
    expect(err).toMatchObject({ function: 'C_EncryptMessage' });
    expect(op.isFinished).toBe(false);
    const m = await op.encrypt(Buffer.from('generated again'));
    expect(nodeGcmDecrypt(aesValue, m.iv, Buffer.alloc(0), m.ciphertext, m.tag).toString()).toBe('generated again');
    await op.final();
  });

  test('AES-GCM decrypt: node messages decrypt under one Init; a changed tag, ciphertext or AAD → EncryptedDataInvalidError and the operation goes on', async () => {
    const aad = Buffer.from('decrypt aad');
    const msgs = [0, 33, 4096].map((n) => {
      const iv = crypto.randomBytes(12);
      const pt = crypto.randomBytes(n);
      return { iv, pt, ...nodeGcmEncrypt(aesValue, iv, aad, pt) };
    });
    const op = await s.messageDecryptInit({ name: 'AES-GCM' }, aes);
    expect(op).toBeInstanceOf(MessageDecryptOperation);
    for (const m of msgs) expect((await op.decrypt(m.ct, { iv: m.iv, tag: m.tag, additionalData: aad })).equals(m.pt)).toBe(true);
    const m = msgs[1];
    const badTag = Buffer.from(m.tag);
    badTag[0] ^= 1;
    const badCt = Buffer.from(m.ct);
    badCt[5] ^= 1;
    for (const [ct, tag, ad] of [
      [m.ct, badTag, aad],
      [badCt, m.tag, aad],
      [m.ct, m.tag, Buffer.from('decrypt aaD')],
    ]) {
      const err = await op.decrypt(ct, { iv: m.iv, tag, additionalData: ad }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EncryptedDataInvalidError);
      expect(err).toMatchObject({ rvName: 'CKR_ENCRYPTED_DATA_INVALID', function: 'C_DecryptMessage' });
      expect(op.isFinished).toBe(false);
    }
    expect((await op.decrypt(m.ct, { iv: m.iv, tag: m.tag, additionalData: aad })).equals(m.pt)).toBe(true);
    await op.final();
    await expectFree(s);
  });

  test('round trip: typed encrypt with random IVs → typed decrypt', async () => {
    const enc = await s.messageEncryptInit({ name: 'AES-GCM' }, aes);
    const pts = [crypto.randomBytes(10), crypto.randomBytes(70000)];
    const sealed = [];
    for (const pt of pts) sealed.push(await enc.encrypt(pt, { additionalData: Buffer.from('rt') }));
    await enc.final();
    const dec = await s.messageDecryptInit({ name: 'AES-GCM' }, aes);
    for (let i = 0; i < pts.length; i++) {
      expect((await dec.decrypt(sealed[i].ciphertext, { iv: sealed[i].iv, tag: sealed[i].tag, additionalData: Buffer.from('rt') })).equals(pts[i])).toBe(true);
    }
    await dec.final();
  });

  test('ChaCha20-Poly1305 messages: caller nonces equal node exactly; without a nonce one is made in Node; node messages decrypt; tamper → EncryptedDataInvalidError', async () => {
    const op = await s.messageEncryptInit({ name: 'ChaCha20-Poly1305' }, chacha);
    const aad = Buffer.from('chacha aad');
    const nonce = crypto.randomBytes(12);
    const pt = crypto.randomBytes(777);
    const m1 = await op.encrypt(pt, { iv: nonce, additionalData: aad });
    const expected = nodeChacha(chachaValue, nonce, aad, pt);
    expect({ ct: m1.ciphertext, tag: m1.tag, iv: m1.iv }).toEqual({ ct: expected.ct, tag: expected.tag, iv: nonce });
    const m2 = await op.encrypt(pt, { additionalData: aad });
    expect(m2.iv.length).toBe(12);
    expect(m2.iv.equals(nonce)).toBe(false);
    expect(nodeChachaDecrypt(chachaValue, m2.iv, aad, m2.ciphertext, m2.tag).equals(pt)).toBe(true);
    await op.final();

    const dec = await s.messageDecryptInit({ name: 'ChaCha20-Poly1305' }, chacha);
    const n2 = crypto.randomBytes(12);
    const fromNode = nodeChacha(chachaValue, n2, aad, pt);
    expect((await dec.decrypt(fromNode.ct, { iv: n2, tag: fromNode.tag, additionalData: aad })).equals(pt)).toBe(true);
    expect((await dec.decrypt(m1.ciphertext, { iv: m1.iv, tag: m1.tag, additionalData: aad })).equals(pt)).toBe(true);
    const bad = Buffer.from(fromNode.tag);
    bad[15] ^= 0x40;
    await expect(dec.decrypt(fromNode.ct, { iv: n2, tag: bad, additionalData: aad })).rejects.toBeInstanceOf(EncryptedDataInvalidError);
    expect((await dec.decrypt(fromNode.ct, { iv: n2, tag: fromNode.tag, additionalData: aad })).equals(pt)).toBe(true);
    await dec.final();
    await expectFree(s);
  });

  test('the handle holds the session from Init to final(): another call waits; abort() releases it', async () => {
    const op = await s.messageEncryptInit({ name: 'AES-GCM' }, aes);
    const order: string[] = [];
    const other = s.random(4).then(() => order.push('random'));
    await new Promise((r) => setTimeout(r, 20));
    await op.encrypt(Buffer.from('x'));
    order.push('encrypt');
    await op.abort();
    order.push('abort');
    await other;
    expect(order).toEqual(['encrypt', 'abort', 'random']);
    // The module's operation really ended: a new Init works.
    const op2 = await s.messageEncryptInit({ name: 'AES-GCM' }, aes);
    await op2.final();
  });

  test('messages in parts: NSS 3.87 stubs C_EncryptMessageBegin / C_DecryptMessageBegin → FunctionNotSupportedError; the operation goes on', async () => {
    const op = await s.messageEncryptInit({ name: 'AES-GCM' }, aes);
    const { ciphertext, result } = op.encryptParts([Buffer.from('part 1'), Buffer.from('part 2')], { additionalData: Buffer.from('ad') });
    const err = await (async () => {
      for await (const c of ciphertext) void c;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FunctionNotSupportedError);
    expect(err).toMatchObject({ function: 'C_EncryptMessageBegin' });
    await expect(result).rejects.toBe(err);
    expect(op.isFinished).toBe(false);
    const m = await op.encrypt(Buffer.from('single'));
    expect(nodeGcmDecrypt(aesValue, m.iv, Buffer.alloc(0), m.ciphertext, m.tag).toString()).toBe('single');
    await op.final();

    const dec = await s.messageDecryptInit({ name: 'AES-GCM' }, aes);
    const gen = dec.decryptParts([m.ciphertext], { iv: m.iv, tag: m.tag });
    await expect(gen.next()).rejects.toMatchObject({ constructor: FunctionNotSupportedError, function: 'C_DecryptMessageBegin' });
    expect((await dec.decrypt(m.ciphertext, { iv: m.iv, tag: m.tag })).toString()).toBe('single');
    await dec.final();
  });

  test('message signing: NSS 3.87 answers C_MessageSignInit / C_MessageVerifyInit with FunctionNotSupportedError; the session is free', async () => {
    const hmac = (await s.createObject({ class: 'secretKey', keyType: 'genericSecret', token: false, value: crypto.randomBytes(32), sign: true, verify: true })) as SecretKey;
    await expect(s.messageSignInit({ name: 'HMAC', hash: 'SHA-256' }, hmac)).rejects.toMatchObject({ constructor: FunctionNotSupportedError, function: 'C_MessageSignInit' });
    await expect(s.messageVerifyInit({ name: 'HMAC', hash: 'SHA-256' }, hmac)).rejects.toMatchObject({ constructor: FunctionNotSupportedError, function: 'C_MessageVerifyInit' });
    await expectFree(s);
  });

  test('raw escape hatch: { mechanism } with encryptWith / decryptWith and params builders; encrypt() then asks for them', async () => {
    const op = await s.messageEncryptInit({ mechanism: CKM_AES_GCM }, aes);
    await expect(op.encrypt(Buffer.from('x'))).rejects.toThrow(/^encrypt: the operation was started with a raw mechanism; use encryptWith\(\)/);
    const iv = crypto.randomBytes(12);
    const tag = Buffer.alloc(16);
    const ct = await op.encryptWith(params.gcmMessageParams({ iv: Buffer.from(iv), tag, ivGenerator: CKG_NO_GENERATE }), Buffer.from('ad'), Buffer.from('raw'));
    expect(ct).toEqual(nodeGcmEncrypt(aesValue, iv, Buffer.from('ad'), Buffer.from('raw')).ct);
    await op.final();
    const dec = await s.messageDecryptInit({ mechanism: CKM_AES_GCM }, aes);
    expect((await dec.decryptWith(params.gcmMessageParams({ iv, tag }), Buffer.from('ad'), ct)).toString()).toBe('raw');
    await dec.final();
  });

  test('argument errors name the argument or option and start nothing', async () => {
    await expect(s.messageEncryptInit({ name: 'AES-GCM', tagLength: 130 }, aes)).rejects.toThrow(
      new RangeError('messageEncryptInit: spec.tagLength must be a multiple of 8 from 32 to 128'),
    );
    await expect(s.messageEncryptInit({ name: 'AES-XTS' } as never, aes)).rejects.toThrow(RangeError);
    await expect(s.messageEncryptInit({ name: 'AES-GCM', ivGenerator: 'sometimes' } as never, aes)).rejects.toThrow(
      /spec.ivGenerator must be one of random, counter, counterXor, any/,
    );
    await expect(s.messageEncryptInit({ name: 'AES-GCM' }, {} as never)).rejects.toThrow(/^messageEncryptInit: argument 'key' must be a Key/);
    await expect(s.messageDecryptInit(null as never, aes)).rejects.toThrow(TypeError);
    await expectFree(s);
    const op = await s.messageEncryptInit({ name: 'AES-GCM' }, aes);
    await expect(op.encrypt('text' as never)).rejects.toThrow(/^encrypt: argument 'plaintext' must be a Buffer/);
    await expect(op.encrypt(Buffer.from('x'), { additionalData: 'ad' as never })).rejects.toThrow(/^encrypt: option 'additionalData' must be a Buffer/);
    await expect(op.encrypt(Buffer.from('x'), { iv: Buffer.alloc(0) })).rejects.toThrow(new RangeError("encrypt: option 'iv' must not be empty"));
    expect(op.isFinished).toBe(false);
    await op.final();
    const dec = await s.messageDecryptInit({ name: 'AES-GCM' }, aes);
    await expect(dec.decrypt(Buffer.from('x'), { iv: Buffer.alloc(12) } as never)).rejects.toThrow(/^decrypt: option 'tag' must be a Buffer/);
    await expect(dec.decrypt(Buffer.from('x'), { iv: Buffer.alloc(12), tag: Buffer.alloc(2) })).rejects.toThrow(new RangeError("decrypt: option 'tag' must be 4 to 16 bytes"));
    await dec.abort();
    await expectFree(s);
  });

  test('KEM on NSS (a 3.0 module): encapsulate / decapsulate → FunctionNotSupportedError', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
    const e1 = await s.encapsulate({ name: 'ML-KEM' }, publicKey, { keyType: 'aes', valueLen: 32 }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(FunctionNotSupportedError);
    expect(e1).toMatchObject({ rvName: 'CKR_FUNCTION_NOT_SUPPORTED', function: 'C_EncapsulateKey' });
    const e2 = await s.decapsulate({ name: 'ML-KEM' }, privateKey, Buffer.alloc(1088), { keyType: 'aes' }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(FunctionNotSupportedError);
    expect(e2).toMatchObject({ function: 'C_DecapsulateKey' });
    await expectFree(s);
  });
});

describe('SoftHSM 2.6.1 (a 2.40 module): message functions and KEM are FunctionNotSupportedError', () => {
  let mod: Module;
  let s: Session;
  let aes: SecretKey;

  beforeAll(async () => {
    mod = await Module.open(fixture().modulePath);
    s = await (await mod.findSlot('p11bridge-a'))!.openSession({ write: true });
    await s.login('1234');
    aes = await s.generateKey({ name: 'AES', length: 256 });
  });
  afterAll(async () => {
    await s.close();
    await mod.close();
  });

  test('messageEncryptInit / messageDecryptInit / messageSignInit / messageVerifyInit reject with FunctionNotSupportedError; the session is free', async () => {
    const hmac = await s.generateKey({ name: 'generic', length: 32 });
    const cases: Array<[string, () => Promise<unknown>]> = [
      ['C_MessageEncryptInit', () => s.messageEncryptInit({ name: 'AES-GCM' }, aes)],
      ['C_MessageEncryptInit', () => s.messageEncryptInit({ name: 'ChaCha20-Poly1305' }, aes)],
      ['C_MessageDecryptInit', () => s.messageDecryptInit({ name: 'AES-GCM' }, aes)],
      ['C_MessageSignInit', () => s.messageSignInit({ name: 'HMAC', hash: 'SHA-256' }, hmac)],
      ['C_MessageVerifyInit', () => s.messageVerifyInit({ name: 'HMAC', hash: 'SHA-256' }, hmac)],
    ];
    for (const [fn, call] of cases) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FunctionNotSupportedError);
      expect(err).toBeInstanceOf(Pkcs11Error);
      expect(err).toMatchObject({ rvName: 'CKR_FUNCTION_NOT_SUPPORTED', function: fn });
      await expectFree(s);
    }
    // The session still runs real operations.
    const op = await s.encryptInit({ name: 'AES-CBC', iv: Buffer.alloc(16) }, aes);
    expect((await op.update(Buffer.alloc(32))).length).toBe(32);
    await op.abort();
  });

  test('encapsulate / decapsulate reach C_EncapsulateKey / C_DecapsulateKey with the planned arguments and reject with FunctionNotSupportedError', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
    // The binding's methods are read-only, so record the calls through a pass-through Proxy of
    // mod.raw (every call still goes to the real SoftHSM), restored afterwards.
    const real = mod.raw;
    const calls: Record<string, unknown[][]> = { C_EncapsulateKeyAsync: [], C_DecapsulateKeyAsync: [] };
    const recording = new Proxy(real, {
      get(target, prop) {
        const v = Reflect.get(target, prop) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (typeof prop === 'string' && prop in calls) calls[prop].push(args);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    Object.defineProperty(mod, 'raw', { value: recording, configurable: true, writable: true });
    const enc = { mock: { calls: calls.C_EncapsulateKeyAsync } };
    const dec = { mock: { calls: calls.C_DecapsulateKeyAsync } };
    try {
      const template = { keyType: 'aes', valueLen: 32, label: 'kem' };
      const e1 = await s.encapsulate({ name: 'ML-KEM' }, publicKey, template).catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(FunctionNotSupportedError);
      expect(e1).toMatchObject({ function: 'C_EncapsulateKey' });
      const planned = planKem({ name: 'ML-KEM' }, template);
      expect(enc.mock.calls.length).toBe(1);
      expect(enc.mock.calls[0]).toEqual([s.handle, planned.mechanism, publicKey.handle, planned.template]);

      const ct = crypto.randomBytes(1088);
      const e2 = await s.decapsulate({ name: 'ML-KEM' }, privateKey, ct, { keyType: 'aes', decrypt: true }).catch((e: unknown) => e);
      expect(e2).toBeInstanceOf(FunctionNotSupportedError);
      expect(e2).toMatchObject({ function: 'C_DecapsulateKey' });
      expect(dec.mock.calls[0]).toEqual([
        s.handle,
        { mechanism: CKM_ML_KEM },
        privateKey.handle,
        [
          { type: CKA_CLASS, value: CKO_SECRET_KEY },
          { type: CKA_TOKEN, value: false },
          { type: CKA_KEY_TYPE, value: CKK_AES },
          { type: CKA_DECRYPT, value: true },
        ],
        ct,
      ]);
    } finally {
      Object.defineProperty(mod, 'raw', { value: real, configurable: true, writable: true });
    }
    await expectFree(s);
  });

  test('KEM argument errors: TypeError / RangeError naming the argument, before any call', async () => {
    const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
    await expect(s.encapsulate({ name: 'ML-KEM' }, privateKey as unknown as PublicKey)).rejects.toThrow(
      new TypeError("encapsulate: argument 'publicKey' must be a PublicKey, got an object (PrivateKey)"),
    );
    await expect(s.encapsulate({ name: 'ML-KEM' }, 7 as never)).rejects.toThrow(new TypeError("encapsulate: argument 'publicKey' must be a PublicKey, got number"));
    await expect(s.encapsulate(null as never, publicKey)).rejects.toThrow(new TypeError("encapsulate: argument 'spec' must be a KEM spec object, got null"));
    await expect(s.encapsulate({ name: 'ML-KEMX' } as never, publicKey)).rejects.toThrow(/^encapsulate: argument 'spec' is invalid: unknown mechanism 'ML-KEMX'/);
    await expect(s.encapsulate({ name: 'ML-KEM' }, publicKey, 'aes' as never)).rejects.toThrow(
      new TypeError("encapsulate: argument 'template' must be an object of attribute values, got string"),
    );
    await expect(s.encapsulate({ name: 'ML-KEM' }, publicKey, { nope: 1 })).rejects.toThrow(/^encapsulate: argument 'template' is invalid: template: unknown attribute 'nope'/);
    await expect(s.encapsulate({ name: 'ML-KEM' }, publicKey, { label: 5 })).rejects.toThrow(TypeError);
    await expect(s.encapsulate({ name: 'ML-KEM' }, publicKey, { class: 'privateKey' })).rejects.toThrow(RangeError);
    await expect(s.decapsulate({ name: 'ML-KEM' }, publicKey as unknown as PrivateKey, Buffer.alloc(8))).rejects.toThrow(
      /^decapsulate: argument 'privateKey' must be a PrivateKey/,
    );
    await expect(s.decapsulate({ name: 'ML-KEM' }, privateKey, 'ct' as never)).rejects.toThrow(/^decapsulate: argument 'ciphertext' must be a Buffer/);
    await expect(s.decapsulate({ name: 'ML-KEM' }, privateKey, Buffer.alloc(0))).rejects.toThrow(new RangeError("decapsulate: argument 'ciphertext' must not be empty"));
    await expectFree(s);
  });
});

describe('planKem and planMessageCipher: the raw encoding (no module)', () => {
  test('ML-KEM → CKM_ML_KEM without a parameter; the template gets class secretKey and token false unless given', () => {
    expect(planKem({ name: 'ML-KEM' })).toEqual({
      mechanism: { mechanism: CKM_ML_KEM },
      template: [
        { type: CKA_CLASS, value: CKO_SECRET_KEY },
        { type: CKA_TOKEN, value: false },
      ],
    });
    expect(planKem({ name: 'ML-KEM' }, { token: true, keyType: 'aes', valueLen: 32, label: 'shared' }).template).toEqual([
      { type: CKA_CLASS, value: CKO_SECRET_KEY },
      { type: CKA_TOKEN, value: true },
      { type: CKA_KEY_TYPE, value: CKK_AES },
      { type: CKA_VALUE_LEN, value: 32 },
      { type: CKA_LABEL, value: 'shared' },
    ]);
  });

  test('other specs go through resolveMechanism (RSA-OAEP as a KEM) or pass raw', () => {
    const oaep = planKem({ name: 'RSA-OAEP', hash: 'SHA-256' }).mechanism;
    expect(oaep.mechanism).toBe(CKM_RSA_PKCS_OAEP);
    expect(Array.isArray(oaep.parameter)).toBe(true);
    const raw = { mechanism: 0x1234, parameter: Buffer.from('p') };
    expect(planKem(raw).mechanism).toBe(raw);
  });

  test('AES-GCM message parameters: CK_GCM_MESSAGE_PARAMS with the generator, fixed bits and tag bits', () => {
    const plan = planMessageCipher({ name: 'AES-GCM', ivGenerator: 'counter', ivFixed: Buffer.from('abcd'), tagLength: 112 }, 't');
    if (!('encrypt' in plan)) throw new Error('typed plan expected');
    expect(plan.mechanism).toEqual({ mechanism: CKM_AES_GCM });
    const p = plan.encrypt({}, 't');
    expect(p.iv).toEqual(Buffer.concat([Buffer.from('abcd'), Buffer.alloc(8)]));
    expect(p.tag.length).toBe(14);
    expect(p.parameter).toEqual(params.gcmMessageParams({ iv: p.iv, tag: p.tag, ivFixedBits: 32, ivGenerator: 2 }));
    const given = crypto.randomBytes(12);
    const q = plan.encrypt({ iv: given }, 't');
    expect(q.iv).toEqual(given);
    expect(q.iv).not.toBe(given); // a copy: the module writes into it
    expect(q.parameter[3]).toEqual({ ulong: CKG_NO_GENERATE });
  });
});
