// The Promise forms under load and abuse: concurrency across sessions, inputs copied when the call
// starts (mutated, overwritten or transferred afterwards), caller output buffers, a responsive event
// loop during long work, and typed rejections.
import * as crypto from 'node:crypto';
import { openSoftHSM, userSession } from './helpers/softhsm';
import {
  Pkcs11Error,
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKA_CLASS,
  CKA_KEY_TYPE,
  CKA_TOKEN,
  CKA_VALUE,
  CKA_ENCRYPT,
  CKA_EXTRACTABLE,
  CKA_MODULUS_BITS,
  CKO_SECRET_KEY,
  CKK_AES,
  CKM_AES_CBC_PAD,
  CKM_ECDSA,
  CKM_SHA256,
  CKM_SHA256_RSA_PKCS,
  CKM_RSA_PKCS_KEY_PAIR_GEN,
  CKR_OPERATION_NOT_INITIALIZED,
  CKR_SESSION_HANDLE_INVALID,
  CKR_OBJECT_HANDLE_INVALID,
  OperationNotInitializedError,
  OperationError,
} from '../lib/raw';
import type { Ulong, KeyPair } from '../lib/raw';
import { attr, ulongAttr, createAesKey, generateRsa, generateEc, rsaPublicKey, ecPublicKey, rsaTemplates, expectPkcs11Reject, expectSameBytes } from './helpers/keys';

const sha256 = (b: Uint8Array): Buffer => crypto.createHash('sha256').update(b).digest();

function cbc(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const c = crypto.createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Detaches b's ArrayBuffer (its contents move to a new ArrayBuffer); b reads as empty afterwards. */
function transfer(b: Buffer): ArrayBuffer {
  const ab = b.buffer as ArrayBuffer;
  return structuredClone(ab, { transfer: [ab] });
}

/** A Buffer that owns its whole ArrayBuffer (not a slice of the small-Buffer pool), filled with random bytes. */
function ownedRandom(n: number): Buffer {
  const b = Buffer.alloc(n);
  crypto.randomFillSync(b);
  expect(b.byteOffset).toBe(0);
  expect(b.buffer.byteLength).toBe(n);
  return b;
}

describe('async calls: concurrency, input pinning, responsiveness, rejections', () => {
  const env = openSoftHSM();
  const mod = env.mod;
  let owner: Ulong;
  const opened: Ulong[] = [];
  const aesValue = crypto.randomBytes(32);
  let aes: Ulong;
  let rsa: KeyPair;
  let rsaPub: crypto.KeyObject;
  let ec: KeyPair;
  let ecPub: crypto.KeyObject;

  function session(): Ulong {
    const h = mod.C_OpenSession(env.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    opened.push(h);
    return h;
  }

  beforeAll(() => {
    owner = userSession(env);
    aes = createAesKey(mod, owner, aesValue);
    rsa = generateRsa(mod, owner, 2048);
    rsaPub = rsaPublicKey(mod, owner, rsa.publicKey);
    ec = generateEc(mod, owner);
    ecPub = ecPublicKey(mod, owner, ec.publicKey);
  });
  afterAll(() => {
    for (const h of opened) {
      try {
        mod.C_CloseSession(h);
      } catch (e) {
        // a test may have closed it already
        if ((e as Pkcs11Error).rvName !== 'CKR_SESSION_HANDLE_INVALID') throw e;
      }
    }
    mod.C_CloseSession(owner);
    env.close();
  });

  describe('concurrency', () => {
    test('16 C_SignAsync on 4 sessions (4 concurrent chains of C_SignInitAsync → C_SignAsync) all verify with node', async () => {
      const sessions = [session(), session(), session(), session()];
      const jobs = sessions.map(async (h, i) => {
        const out: Array<{ msg: Buffer; sig: Buffer; kind: 'rsa' | 'ec' }> = [];
        for (let k = 0; k < 4; k++) {
          const msg = Buffer.from(`session ${i} message ${k} ${crypto.randomBytes(8).toString('hex')}`);
          if ((i + k) % 2 === 0) {
            await mod.C_SignInitAsync(h, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.privateKey);
            out.push({ msg, sig: await mod.C_SignAsync(h, msg), kind: 'rsa' });
          } else {
            await mod.C_SignInitAsync(h, { mechanism: CKM_ECDSA }, ec.privateKey);
            out.push({ msg, sig: await mod.C_SignAsync(h, sha256(msg)), kind: 'ec' });
          }
        }
        return out;
      });
      const results = (await Promise.all(jobs)).flat();
      expect(results).toHaveLength(16);
      for (const r of results) {
        const ok = r.kind === 'rsa' ? crypto.verify('sha256', r.msg, rsaPub, r.sig) : crypto.verify('sha256', r.msg, { key: ecPub, dsaEncoding: 'ieee-p1363' }, r.sig);
        expect(ok).toBe(true);
      }
    });

    test('16 C_SignAsync in flight at once on 16 sessions: each signature belongs to its own message', async () => {
      const items = Array.from({ length: 16 }, (_, i) => {
        const h = session();
        const msg = crypto.randomBytes(100 + i);
        mod.C_SignInit(h, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.privateKey);
        return { h, msg };
      });
      const promises = items.map((it) => mod.C_SignAsync(it.h, it.msg));
      const sigs = await Promise.all(promises);
      sigs.forEach((sig, i) => {
        expect(crypto.verify('sha256', items[i].msg, rsaPub, sig)).toBe(true);
        expect(crypto.verify('sha256', items[(i + 1) % 16].msg, rsaPub, sig)).toBe(false);
      });
    });

    test('concurrent digests of different data on different sessions do not mix', async () => {
      const work = Array.from({ length: 12 }, (_, i) => {
        const h = session();
        const data = crypto.randomBytes(50000 + i * 1000);
        mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
        return { data, p: mod.C_DigestAsync(h, data) };
      });
      for (const w of work) expect(await w.p).toEqual(sha256(w.data));
    });
  });

  describe('inputs are copied when the call starts', () => {
    test('C_DigestAsync: zero-filling the input right after the call does not change the digest (small and 1 MB)', async () => {
      const h = session();
      for (const n of [100, 4096, 1 << 20]) {
        const buf = ownedRandom(n);
        const expected = sha256(Buffer.from(buf));
        mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
        const p = mod.C_DigestAsync(h, buf);
        buf.fill(0);
        expect(await p).toEqual(expected);
        expect(expected).not.toEqual(sha256(buf));
      }
    });

    test('C_EncryptAsync: zero-filling the plaintext right after the call does not change the ciphertext', async () => {
      const h = session();
      for (const n of [33, 1 << 20]) {
        const iv = crypto.randomBytes(16);
        const buf = ownedRandom(n);
        const expected = cbc(aesValue, iv, Buffer.from(buf));
        mod.C_EncryptInit(h, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
        const p = mod.C_EncryptAsync(h, buf);
        buf.fill(0);
        expectSameBytes(await p, expected);
      }
    });

    test('a fresh 1 MB input overwritten (and its reference dropped) right after the call', async () => {
      const h = session();
      let big: Buffer | null = ownedRandom(1 << 20);
      const expected = sha256(Buffer.from(big));
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      const p = mod.C_DigestAsync(h, big);
      crypto.randomFillSync(big);
      // Drops the test's last reference on purpose, so only the pending call can keep the buffer alive.
      // eslint-disable-next-line no-useless-assignment
      big = null;
      // Churn the heap a little so a freed buffer would likely be reused.
      const junk = Array.from({ length: 32 }, () => Buffer.alloc(1 << 20, 0xcc));
      expect(await p).toEqual(expected);
      expect(junk).toHaveLength(32);
    });

    test('the mechanism parameter (IV) is copied by C_EncryptInitAsync', async () => {
      const h = session();
      const iv = crypto.randomBytes(16);
      const ivCopy = Buffer.from(iv);
      const pt = crypto.randomBytes(40);
      const p = mod.C_EncryptInitAsync(h, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      iv.fill(0);
      await p;
      expect(await mod.C_EncryptAsync(h, pt)).toEqual(cbc(aesValue, ivCopy, pt));
    });

    test('template values are copied by C_CreateObjectAsync', async () => {
      const h = session();
      const value = crypto.randomBytes(32);
      const copy = Buffer.from(value);
      const p = mod.C_CreateObjectAsync(h, [
        { type: CKA_CLASS, value: CKO_SECRET_KEY },
        { type: CKA_KEY_TYPE, value: CKK_AES },
        { type: CKA_TOKEN, value: false },
        { type: CKA_ENCRYPT, value: true },
        { type: CKA_EXTRACTABLE, value: true },
        { type: CKA_VALUE, value },
      ]);
      value.fill(0);
      const key = await p;
      expect(attr(mod, h, key, CKA_VALUE)).toEqual(copy);
    });

    test('C_VerifyAsync: mutating data and signature after the call does not change the answer', async () => {
      const h = session();
      const data = ownedRandom(5000);
      mod.C_SignInit(h, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.privateKey);
      const sig = mod.C_Sign(h, data);
      mod.C_VerifyInit(h, { mechanism: CKM_SHA256_RSA_PKCS }, rsa.publicKey);
      const p = mod.C_VerifyAsync(h, data, sig);
      data.fill(1);
      sig.fill(2);
      await expect(p).resolves.toBe(true);
    });

    test('transferring the input ArrayBuffer right after C_DigestAsync starts: no crash, correct digest', async () => {
      const h = session();
      for (const n of [64, 1 << 20]) {
        const buf = ownedRandom(n);
        const expected = sha256(Buffer.from(buf));
        mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
        const p = mod.C_DigestAsync(h, buf);
        const moved = transfer(buf);
        expect(buf.buffer.byteLength).toBe(0); // detached
        expect(moved.byteLength).toBe(n);
        new Uint8Array(moved).fill(0);
        expect(await p).toEqual(expected);
      }
    });

    test('transferring the input ArrayBuffer right after C_EncryptAsync starts: no crash, correct ciphertext', async () => {
      const h = session();
      const iv = crypto.randomBytes(16);
      const buf = ownedRandom(1 << 20);
      const expected = cbc(aesValue, iv, Buffer.from(buf));
      mod.C_EncryptInit(h, { mechanism: CKM_AES_CBC_PAD, parameter: iv }, aes);
      const p = mod.C_EncryptAsync(h, buf);
      transfer(buf);
      expectSameBytes(await p, expected);
    });

    test('a caller output buffer transferred away before an async call settles: a TypeError rejection, not a crash', async () => {
      const h = session();
      const out = Buffer.alloc(64);
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      const p = mod.C_DigestAsync(h, Buffer.from('x'), out);
      const moved = transfer(out);
      let err: unknown;
      try {
        await p;
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/out/);
      expect(new Uint8Array(moved).every((b) => b === 0)).toBe(true); // nothing written into the moved memory
      // The module finished the digest; the session is free for the next operation.
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      expect(await mod.C_DigestAsync(h, Buffer.from('y'))).toEqual(sha256(Buffer.from('y')));
    });

    test('a detached (already transferred) input is read as empty bytes', async () => {
      const h = session();
      const buf = ownedRandom(32);
      transfer(buf);
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      expect(await mod.C_DigestAsync(h, buf)).toEqual(sha256(Buffer.alloc(0)));
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      expect(mod.C_Digest(h, buf)).toEqual(sha256(Buffer.alloc(0)));
    });
  });

  describe('responsiveness', () => {
    test('the event loop keeps ticking during C_GenerateKeyPairAsync (RSA 4096)', async () => {
      const h = session();
      let ticks = 0;
      let settled = false;
      const timer = setInterval(() => {
        if (!settled) ticks++;
      }, 1);
      try {
        const [pub, priv] = rsaTemplates(4096);
        const p = mod.C_GenerateKeyPairAsync(h, { mechanism: CKM_RSA_PKCS_KEY_PAIR_GEN }, pub, priv);
        expect(ticks).toBe(0); // the call returned before any timer could run
        const kp = await p;
        settled = true;
        expect(ticks).toBeGreaterThan(0);
        expect(ulongAttr(mod, h, kp.publicKey, CKA_MODULUS_BITS)).toBe(4096);
        const key = rsaPublicKey(mod, h, kp.publicKey);
        const msg = Buffer.from('4096');
        await mod.C_SignInitAsync(h, { mechanism: CKM_SHA256_RSA_PKCS }, kp.privateKey);
        expect(crypto.verify('sha256', msg, key, await mod.C_SignAsync(h, msg))).toBe(true);
      } finally {
        clearInterval(timer);
      }
    });
  });

  describe('rejections', () => {
    test('C_SignAsync without C_SignInit rejects with Pkcs11Error CKR_OPERATION_NOT_INITIALIZED from C_Sign', async () => {
      const h = session();
      const p = mod.C_SignAsync(h, Buffer.from('data'));
      expect(typeof p.then).toBe('function');
      const e = await expectPkcs11Reject(p, 'CKR_OPERATION_NOT_INITIALIZED', CKR_OPERATION_NOT_INITIALIZED, 'C_Sign');
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe('OperationNotInitializedError');
      expect(e).toBeInstanceOf(OperationNotInitializedError);
      expect(e).toBeInstanceOf(OperationError);
      expect(e.message).toBe('C_Sign failed: CKR_OPERATION_NOT_INITIALIZED (0x91)');
      expect(e.rv).toBe(0x91);
    });

    test('a closed session handle rejects with CKR_SESSION_HANDLE_INVALID; a bad key handle with CKR_OBJECT_HANDLE_INVALID (SoftHSM)', async () => {
      const h = session();
      mod.C_CloseSession(h);
      await expectPkcs11Reject(mod.C_DigestInitAsync(h, { mechanism: CKM_SHA256 }), 'CKR_SESSION_HANDLE_INVALID', CKR_SESSION_HANDLE_INVALID, 'C_DigestInit');
      await expectPkcs11Reject(mod.C_GenerateRandomAsync(h, 16), 'CKR_SESSION_HANDLE_INVALID', CKR_SESSION_HANDLE_INVALID, 'C_GenerateRandom');
      const h2 = session();
      await expectPkcs11Reject(mod.C_SignInitAsync(h2, { mechanism: CKM_SHA256_RSA_PKCS }, 0xfffff), 'CKR_OBJECT_HANDLE_INVALID', CKR_OBJECT_HANDLE_INVALID, 'C_SignInit');
    });

    test('bad arguments reject the promise (TypeError) instead of throwing synchronously', async () => {
      const h = session();
      let p: Promise<unknown> | undefined;
      expect(() => {
        p = mod.C_DigestAsync(h, 'not bytes' as unknown as Buffer);
      }).not.toThrow();
      await expect(p).rejects.toThrow(TypeError);
      await expect(p).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      await expect(p).rejects.toThrow(/C_Digest/);
      const r = mod.C_EncryptInitAsync(h, { mechanism: -1 }, aes);
      await expect(r).rejects.toThrow(RangeError);
      await expect(r).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      // The session saw no operation start.
      mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
      expect(mod.C_Digest(h, Buffer.from('z'))).toEqual(sha256(Buffer.from('z')));
    });

    test('many rejected and resolved calls interleaved settle independently', async () => {
      const good = session();
      const calls: Array<Promise<unknown>> = [];
      for (let i = 0; i < 20; i++) {
        calls.push(mod.C_GenerateRandomAsync(good, 16));
        calls.push(mod.C_SignFinalAsync(good)); // no operation
      }
      const settled = await Promise.allSettled(calls);
      settled.forEach((r, i) => {
        if (i % 2 === 0) {
          expect(r.status).toBe('fulfilled');
          expect((r as PromiseFulfilledResult<Buffer>).value).toHaveLength(16);
        } else {
          expect(r.status).toBe('rejected');
          expect((r as PromiseRejectedResult).reason).toMatchObject({ rvName: 'CKR_OPERATION_NOT_INITIALIZED', function: 'C_SignFinal' });
        }
      });
    });
  });
});
