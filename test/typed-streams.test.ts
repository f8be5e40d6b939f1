// Large data through the typed layer on SoftHSM: Node streams (encryptStream / decryptStream
// Transforms, sign/verify/digest Writables with a result promise) and the async-iterable helpers
// on the operation handles (updateAll, process). Results cross-checked with node:crypto; errors
// keep their typed Pkcs11Error class; after an error, an abort or a destroyed pipeline the session
// is free and a new operation can start (the module's operation really ended).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fixture } from './helpers/softhsm';
import { ecPublicKey, rsaPublicKey } from './helpers/keys';
import { Module, Session, SecretKey, Pkcs11Error, KeyTypeInconsistentError, KeyMechanismMismatchError, OperationFinishedError, CKM_ECDSA, type PublicKey } from '../lib/index';
import { CipherStream, OperationWritable } from '../lib/session/streams';

const MB = 1024 * 1024;

/** Chunks of `data`, `size` bytes each (the last one shorter). */
function* chunked(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Collects a readable into one Buffer (a Writable end for pipeline). */
function collector(): { sink: Writable; data: () => Buffer } {
  const parts: Buffer[] = [];
  return {
    sink: new Writable({
      write(chunk: Buffer, _e, cb) {
        parts.push(chunk);
        cb();
      },
    }),
    data: () => Buffer.concat(parts),
  };
}

describe('typed streams and async iterables on SoftHSM', () => {
  let mod: Module;
  let s: Session;
  let dir: string;
  let bigFile: string;
  let big: Buffer;
  let aes: SecretKey;
  let aesValue: Buffer;

  beforeAll(async () => {
    mod = await Module.open(fixture().modulePath);
    s = await (await mod.findSlot('p11bridge-a'))!.openSession({ write: true });
    await s.login('1234');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-streams-'));
    big = crypto.randomBytes(5 * MB + 123); // not a multiple of the block size
    bigFile = path.join(dir, 'big.bin');
    fs.writeFileSync(bigFile, big);
    aes = await s.generateKey({ name: 'AES', length: 256 }, { sensitive: false, extractable: true });
    aesValue = (await aes.getAttribute('value')) as Buffer;
  });
  afterAll(async () => {
    await s.close();
    await mod.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The session is free and has no operation left active: a fresh digest works at once. */
  async function expectSessionFree(): Promise<void> {
    expect((await s.random(4)).length).toBe(4);
    expect(await s.digest({ name: 'SHA-256' }, Buffer.from('abc'))).toEqual(crypto.createHash('sha256').update('abc').digest());
    const op = await s.encryptInit({ name: 'AES-CBC', iv: Buffer.alloc(16) }, aes);
    await op.abort();
  }

  describe('encryptStream / decryptStream (Transforms)', () => {
    test('a 5 MB file piped through encryptStream (AES-CBC-PAD) to a file decrypts with node; node ciphertext piped through decryptStream gives the file back', async () => {
      const iv = crypto.randomBytes(16);
      const encFile = path.join(dir, 'big.enc');
      const enc = s.encryptStream({ name: 'AES-CBC', iv }, aes);
      expect(enc).toBeInstanceOf(CipherStream);
      await pipeline(fs.createReadStream(bigFile), enc, fs.createWriteStream(encFile));
      const ct = fs.readFileSync(encFile);
      expect(ct.length).toBe(Math.ceil((big.length + 1) / 16) * 16);
      const d = crypto.createDecipheriv('aes-256-cbc', aesValue, iv);
      expect(Buffer.concat([d.update(ct), d.final()]).equals(big)).toBe(true);

      const iv2 = crypto.randomBytes(16);
      const c = crypto.createCipheriv('aes-256-cbc', aesValue, iv2);
      const nodeCt = Buffer.concat([c.update(big), c.final()]);
      const out = collector();
      // Odd chunk sizes: blocks split across writes.
      await pipeline(Readable.from(chunked(nodeCt, 65521)), s.decryptStream({ name: 'AES-CBC', iv: iv2 }, aes), out.sink);
      expect(out.data().equals(big)).toBe(true);
      await expectSessionFree();
    });

    test('AES-CTR from an async generator source; AES-GCM decrypt stream of node output (tag checked at flush)', async () => {
      const counter = crypto.randomBytes(16);
      const data = crypto.randomBytes(300001);
      async function* source() {
        for (const c of chunked(data, 7777)) yield c;
      }
      const out = collector();
      await pipeline(source, s.encryptStream({ name: 'AES-CTR', counter, length: 128 }, aes), out.sink);
      const c = crypto.createCipheriv('aes-256-ctr', aesValue, counter);
      expect(out.data().equals(Buffer.concat([c.update(data), c.final()]))).toBe(true);

      const iv = crypto.randomBytes(12);
      const aad = Buffer.from('stream aad');
      const g = crypto.createCipheriv('aes-256-gcm', aesValue, iv);
      g.setAAD(aad);
      const gcmCt = Buffer.concat([g.update(data), g.final(), g.getAuthTag()]);
      const plain = collector();
      await pipeline(Readable.from(chunked(gcmCt, 50000)), s.decryptStream({ name: 'AES-GCM', iv, additionalData: aad }, aes), plain.sink);
      expect(plain.data().equals(data)).toBe(true);
      await expectSessionFree();
    });

    test('a wrong key type fails in construct(): the pipeline rejects with KeyMechanismMismatchError (KeyTypeInconsistentError as cause), the session is free', async () => {
      const generated = await s.generateKeyPair({ name: 'RSA', modulusLength: 1024 });
      // A fresh object (type not known yet, unlike a generated key's), so the module is asked.
      const publicKey = (await s.object(generated.publicKey.handle)) as PublicKey;
      const out = collector();
      const err = await pipeline(Readable.from(chunked(big, 65536)), s.encryptStream({ name: 'AES-CBC', iv: Buffer.alloc(16) }, publicKey), out.sink).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyMechanismMismatchError);
      const cause = (err as { cause?: unknown }).cause;
      expect(cause).toBeInstanceOf(KeyTypeInconsistentError);
      expect(cause).toBeInstanceOf(Pkcs11Error);
      expect(cause).toMatchObject({ rvName: 'CKR_KEY_TYPE_INCONSISTENT', function: 'C_EncryptInit' });
      expect(out.data().length).toBe(0);
      await expectSessionFree();
    });

    test('an error at flush (decrypting with the wrong key: bad padding) is the stream error, typed; the session is free', async () => {
      const other = await s.generateKey({ name: 'AES', length: 256 });
      const iv = crypto.randomBytes(16);
      const c = crypto.createCipheriv('aes-256-cbc', aesValue, iv);
      const ct = Buffer.concat([c.update(big.subarray(0, 100000)), c.final()]);
      const err = await pipeline(Readable.from(chunked(ct, 4096)), s.decryptStream({ name: 'AES-CBC', iv }, other), collector().sink).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Pkcs11Error);
      expect(err).toMatchObject({ function: 'C_DecryptFinal' });
      // SoftHSM 2.6.1 answers a bad CBC pad with CKR_GENERAL_ERROR (a conformant module: CKR_ENCRYPTED_DATA_INVALID).
      expect((err as Pkcs11Error).rvName).toMatch(/^CKR_(ENCRYPTED_DATA_INVALID|ENCRYPTED_DATA_LEN_RANGE|GENERAL_ERROR)$/);
      await expectSessionFree();
    });

    test('an error mid-stream (unpadded CBC given data that is not whole blocks) surfaces from update or final, typed', async () => {
      const err = await pipeline(
        Readable.from([Buffer.alloc(32), Buffer.alloc(5)]),
        s.encryptStream({ name: 'AES-CBC', iv: Buffer.alloc(16), padding: false }, aes),
        collector().sink,
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Pkcs11Error);
      expect((err as Pkcs11Error).rvName).toBe('CKR_DATA_LEN_RANGE');
      await expectSessionFree();
    });

    test('a pipeline aborted by its AbortSignal half-way destroys the Transform, which aborts the operation and frees the session', async () => {
      const ac = new AbortController();
      let chunks = 0;
      async function* slow() {
        for (const c of chunked(big, 65536)) {
          if (++chunks === 10) ac.abort();
          yield c;
        }
      }
      const enc = s.encryptStream({ name: 'AES-CBC', iv: Buffer.alloc(16) }, aes);
      const err = await pipeline(slow, enc, collector().sink, { signal: ac.signal }).catch((e: unknown) => e);
      expect((err as Error).name).toBe('AbortError');
      expect(enc.destroyed).toBe(true);
      await expectSessionFree();
    });

    test('a source that throws half-way: the pipeline rejects with that error, the operation is aborted', async () => {
      const boom = new Error('source failed');
      async function* failing() {
        yield big.subarray(0, 100000);
        throw boom;
      }
      const err = await pipeline(failing, s.encryptStream({ name: 'AES-CBC', iv: Buffer.alloc(16) }, aes), collector().sink).catch((e: unknown) => e);
      expect(err).toBe(boom);
      await expectSessionFree();
    });

    test('destroy() while a part is in flight waits for it, then aborts; the session is held until then', async () => {
      const enc = s.encryptStream({ name: 'AES-CBC', iv: Buffer.alloc(16) }, aes);
      enc.on('error', () => undefined);
      enc.resume();
      enc.write(big.subarray(0, MB));
      enc.write(big.subarray(MB, 2 * MB));
      await new Promise((r) => setImmediate(r));
      const closed = new Promise((r) => enc.on('close', r));
      enc.destroy();
      await closed;
      await expectSessionFree();
    });

    test('argument checks name the argument', () => {
      expect(() => s.encryptStream(null as never, aes)).toThrow(new TypeError("encryptStream: argument 'spec' must be a mechanism spec object, got null"));
      expect(() => s.decryptStream({ name: 'AES-CBC', iv: Buffer.alloc(16) }, 5 as never)).toThrow(/^decryptStream: argument 'key' must be a Key/);
      expect(() => s.verifyStream({ name: 'SHA-256' }, aes, 'sig' as never)).toThrow(/^verifyStream: argument 'signature' must be a Buffer/);
    });
  });

  describe('digestStream / signStream / verifyStream (Writables with a result promise)', () => {
    test('digestStream of the 5 MB file equals crypto.createHash (SHA-256 and SHA-512); an async iterable source works too', async () => {
      for (const [name, node] of [
        ['SHA-256', 'sha256'],
        ['SHA-512', 'sha512'],
      ] as const) {
        const ds = s.digestStream({ name });
        expect(ds).toBeInstanceOf(OperationWritable);
        await pipeline(fs.createReadStream(bigFile, { highWaterMark: 100000 }), ds);
        expect(await ds.result).toEqual(crypto.createHash(node).update(big).digest());
      }
      async function* gen() {
        yield Buffer.from('hello ');
        yield new Uint8Array([119, 111, 114, 108, 100]); // 'world' as a plain Uint8Array
      }
      const ds = s.digestStream({ name: 'SHA-256' });
      await pipeline(gen, ds);
      expect(await ds.result).toEqual(crypto.createHash('sha256').update('hello world').digest());
      // An empty stream: the digest of nothing.
      const empty = s.digestStream({ name: 'SHA-256' });
      await pipeline(Readable.from([]), empty);
      expect(await empty.result).toEqual(crypto.createHash('sha256').digest());
    });

    test('signStream RSASSA-PKCS1-v1_5 SHA-256 over the file verifies with crypto.verify; verifyStream says true, false for other data or a changed signature', async () => {
      const { publicKey, privateKey } = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 });
      const spec = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
      const ss = s.signStream(spec, privateKey);
      await pipeline(fs.createReadStream(bigFile), ss);
      const sig = await ss.result;
      const nodeKey = rsaPublicKey(mod.raw, s.handle, publicKey.handle);
      expect(crypto.verify('sha256', big, nodeKey, sig)).toBe(true);

      const vs = s.verifyStream(spec, publicKey, sig);
      await pipeline(fs.createReadStream(bigFile), vs);
      expect(await vs.result).toBe(true);

      const changed = Buffer.from(big.subarray(0, 200000));
      changed[12345] ^= 1;
      const vs2 = s.verifyStream(spec, publicKey, sig);
      await pipeline(Readable.from(chunked(changed, 30000)), vs2);
      expect(await vs2.result).toBe(false);

      const bad = Buffer.from(sig);
      bad[0] ^= 0x80;
      const vs3 = s.verifyStream(spec, publicKey, bad);
      await pipeline(fs.createReadStream(bigFile), vs3);
      expect(await vs3.result).toBe(false);
      // A signature of the wrong length is false as well, not an error.
      const vs4 = s.verifyStream(spec, publicKey, sig.subarray(1));
      await pipeline(Readable.from([Buffer.from('x')]), vs4);
      expect(await vs4.result).toBe(false);
      await expectSessionFree();
    });

    test('ECDSA SHA-256 (SoftHSM has no CKM_ECDSA_SHA256): the stream hashes in Node, the token signs the digest; node verifies; verifyStream agrees', async () => {
      const { publicKey, privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
      const spec = { name: 'ECDSA', hash: 'SHA-256' } as const;
      const ss = s.signStream(spec, privateKey);
      await pipeline(fs.createReadStream(bigFile), ss);
      const sig = await ss.result;
      expect(crypto.verify('sha256', big, { key: ecPublicKey(mod.raw, s.handle, publicKey.handle), dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
      const vs = s.verifyStream(spec, publicKey, sig);
      await pipeline(fs.createReadStream(bigFile), vs);
      expect(await vs.result).toBe(true);
      const vs2 = s.verifyStream(spec, publicKey, sig);
      await pipeline(Readable.from([Buffer.from('other data')]), vs2);
      expect(await vs2.result).toBe(false);
    });

    test('HMAC signStream equals crypto.createHmac', async () => {
      const key = await s.generateKey({ name: 'generic', length: 32 }, { sensitive: false, extractable: true });
      const value = (await key.getAttribute('value')) as Buffer;
      const ss = s.signStream({ name: 'HMAC', hash: 'SHA-256' }, key);
      await pipeline(fs.createReadStream(bigFile), ss);
      expect(await ss.result).toEqual(crypto.createHmac('sha256', value).update(big).digest());
    });

    test('an error mid-stream (raw CKM_ECDSA has no multi-part form): the pipeline and result reject with the typed class from C_SignUpdate; the session works after', async () => {
      const { privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
      const ss = s.signStream({ mechanism: CKM_ECDSA }, privateKey);
      const err = await pipeline(fs.createReadStream(bigFile), ss).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Pkcs11Error);
      expect(err).toMatchObject({ function: 'C_SignUpdate' });
      // The class is the generated one for its code, not a bare Pkcs11Error.
      expect((err as Error).constructor.name).toBe(
        (err as Pkcs11Error).rvName
          .replace(/^CKR_/, '')
          .toLowerCase()
          .replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase()) + 'Error',
      );
      await expect(ss.result).rejects.toBe(err);
      await expectSessionFree();
    });

    test('a wrong key type at init rejects the result with the typed class (nobody awaiting result does not crash)', async () => {
      const { publicKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
      // ECDSA fits the key's family, so the module is asked (and refuses a public key for signing).
      const ss = s.signStream({ name: 'ECDSA' }, publicKey);
      const err = await pipeline(Readable.from([Buffer.from('data')]), ss).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Pkcs11Error);
      expect(err).toMatchObject({ function: 'C_SignInit' });
      await expect(ss.result).rejects.toBe(err);
      // Unread result of a failing stream: no unhandled rejection.
      await pipeline(Readable.from([Buffer.from('data')]), s.signStream({ name: 'ECDSA' }, publicKey)).catch(() => undefined);
      await expectSessionFree();
    });

    test('a destroyed Writable aborts the operation: result rejects with ERR_STREAM_PREMATURE_CLOSE, the session is free', async () => {
      const ds = s.digestStream({ name: 'SHA-256' });
      ds.write(big.subarray(0, MB));
      await new Promise((r) => setImmediate(r));
      ds.destroy();
      await expect(ds.result).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
      await new Promise((r) => ds.on('close', r));
      await expectSessionFree();
      // Destroyed with an error: result rejects with that error.
      const ds2 = s.digestStream({ name: 'SHA-256' });
      ds2.on('error', () => undefined);
      const boom = new Error('caller gave up');
      ds2.destroy(boom);
      await expect(ds2.result).rejects.toBe(boom);
      await new Promise((r) => ds2.on('close', r));
      await expectSessionFree();
    });

    test('the signal option: aborting destroys the stream, result rejects with the AbortError, the session is free', async () => {
      const ac = new AbortController();
      const ds = s.digestStream({ name: 'SHA-256' }, { signal: ac.signal });
      ds.on('error', () => undefined);
      ds.write(big.subarray(0, MB));
      await new Promise((r) => setImmediate(r));
      ac.abort();
      await expect(ds.result).rejects.toMatchObject({ name: 'AbortError' });
      await new Promise((r) => (ds.closed ? r(undefined) : ds.on('close', r)));
      await expectSessionFree();
    });

    test('while a stream holds the session, other calls wait for it', async () => {
      const ds = s.digestStream({ name: 'SHA-256' });
      ds.write(Buffer.from('abc'));
      await new Promise((r) => setTimeout(r, 20));
      const order: string[] = [];
      const other = s.random(4).then(() => order.push('random'));
      await new Promise((r) => setTimeout(r, 20));
      order.push('end');
      ds.end();
      await ds.result.then(() => order.push('digest'));
      await other;
      expect(order).toEqual(['end', 'digest', 'random']);
    });
  });

  describe('async iterables on the operation handles: updateAll and process', () => {
    test('DigestOperation.updateAll over an array, a generator and a Node Readable equals node', async () => {
      const parts = [...chunked(big.subarray(0, 1000000), 99999)];
      const expected = crypto.createHash('sha256').update(big.subarray(0, 1000000)).digest();
      let op = await s.digestInit({ name: 'SHA-256' });
      await op.updateAll(parts);
      expect(await op.final()).toEqual(expected);
      op = await s.digestInit({ name: 'SHA-256' });
      await op.updateAll(
        (async function* () {
          yield* parts;
        })(),
      );
      expect(await op.final()).toEqual(expected);
      op = await s.digestInit({ name: 'SHA-256' });
      await op.updateAll(fs.createReadStream(bigFile));
      expect(await op.final()).toEqual(crypto.createHash('sha256').update(big).digest());
    });

    test('SignOperation / VerifyOperation.updateAll (HMAC) match node', async () => {
      // SoftHSM wants an HMAC-SHA512 key of at least 64 bytes (CKR_KEY_SIZE_RANGE below).
      const key = await s.generateKey({ name: 'generic', length: 64 }, { sensitive: false, extractable: true });
      const value = (await key.getAttribute('value')) as Buffer;
      const sign = await s.signInit({ name: 'HMAC', hash: 'SHA-512' }, key);
      await sign.updateAll(fs.createReadStream(bigFile));
      const mac = await sign.final();
      expect(mac).toEqual(crypto.createHmac('sha512', value).update(big).digest());
      const verify = await s.verifyInit({ name: 'HMAC', hash: 'SHA-512' }, key);
      await verify.updateAll(chunked(big, MB));
      expect(await verify.final(mac)).toBe(true);
    });

    test('CipherOperation.process yields the output (AES-CBC-PAD) that node decrypts; decrypt process gives the data back', async () => {
      const iv = crypto.randomBytes(16);
      const enc = await s.encryptInit({ name: 'AES-CBC', iv }, aes);
      const out: Buffer[] = [];
      for await (const c of enc.process(fs.createReadStream(bigFile))) out.push(c);
      expect(enc.isFinished).toBe(true);
      const ct = Buffer.concat(out);
      const d = crypto.createDecipheriv('aes-256-cbc', aesValue, iv);
      expect(Buffer.concat([d.update(ct), d.final()]).equals(big)).toBe(true);
      const dec = await s.decryptInit({ name: 'AES-CBC', iv }, aes);
      const back: Buffer[] = [];
      for await (const c of dec.process(chunked(ct, 12345))) back.push(c);
      expect(Buffer.concat(back).equals(big)).toBe(true);
      // Readable.from(process()) is a stream of the output.
      const enc2 = await s.encryptInit({ name: 'AES-CBC', iv }, aes);
      const col = collector();
      await pipeline(Readable.from(enc2.process([Buffer.from('short')])), col.sink);
      const c = crypto.createCipheriv('aes-256-cbc', aesValue, iv);
      expect(col.data()).toEqual(Buffer.concat([c.update('short'), c.final()]));
    });

    test('breaking out of process() aborts the operation; the session is free', async () => {
      const enc = await s.encryptInit({ name: 'AES-CBC', iv: Buffer.alloc(16) }, aes);
      for await (const c of enc.process(chunked(big, 65536))) {
        expect(c.length).toBeGreaterThan(0);
        break;
      }
      expect(enc.isFinished).toBe(true);
      await expect(enc.update(Buffer.alloc(16))).rejects.toBeInstanceOf(OperationFinishedError);
      await expectSessionFree();
    });

    test('a bad source or chunk: TypeError naming the argument; the operation is aborted and the session free', async () => {
      const op = await s.digestInit({ name: 'SHA-256' });
      await expect(op.updateAll(42 as never)).rejects.toThrow(new TypeError("updateAll: argument 'source' must be bytes or an (async) iterable of bytes chunks, got number"));
      expect(op.isFinished).toBe(true);
      await expectSessionFree();
      const op2 = await s.digestInit({ name: 'SHA-256' });
      await expect(op2.updateAll([Buffer.from('a'), 'b' as never])).rejects.toThrow(/^updateAll: chunk 1 of argument 'source' must be a Buffer/);
      expect(op2.isFinished).toBe(true);
      await expectSessionFree();
      const op3 = await s.encryptInit({ name: 'AES-CBC', iv: Buffer.alloc(16) }, aes);
      const it = op3.process('text' as never);
      await expect(it.next()).rejects.toThrow(/^process: argument 'source' must be bytes or an \(async\) iterable/);
      expect(op3.isFinished).toBe(true);
      await expectSessionFree();
    });

    test('a part the raw layer refuses (a TypeError, the module never saw it) still ends the module operation', async () => {
      const op = await s.digestInit({ name: 'SHA-256' });
      await op.update(Buffer.from('abc'));
      await expect(op.update('not bytes' as never)).rejects.toBeInstanceOf(TypeError);
      expect(op.isFinished).toBe(true);
      // No CKR_OPERATION_ACTIVE: the module's digest was ended by the cleanup C_DigestFinal.
      const again = await s.digestInit({ name: 'SHA-256' });
      expect(await again.final()).toEqual(crypto.createHash('sha256').digest());
    });

    test('abort() while update() is in flight waits for it instead of racing it on the session', async () => {
      const op = await s.digestInit({ name: 'SHA-256' });
      const upd = op.update(big);
      const ab = op.abort();
      await upd;
      await ab;
      expect(op.isFinished).toBe(true);
      await expectSessionFree();
    });
  });
});
