// Typed-layer edge cases on SoftHSM: CKA_ALWAYS_AUTHENTICATE keys (context-specific login inside
// the operation's hold of the session), operations left open at session/pool close, argument
// errors as rejections naming the method and argument.
import * as crypto from 'node:crypto';
import { useLoggedInSession } from './helpers/typed-session';
import { Session, PinIncorrectError, UserNotLoggedInError, OperationActiveError, CKM_ECDSA, CKM_RSA_PKCS } from '../lib/index';

describe('typed layer edge cases', () => {
  let s: Session;
  useLoggedInSession('p11bridge-a', (_m, x) => (s = x));

  test('CKA_ALWAYS_AUTHENTICATE: sign needs contextPin; a wrong one is PinIncorrectError and leaves the session usable', async () => {
    const { privateKey, publicKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { alwaysAuthenticate: true } });
    const digest = crypto.createHash('sha256').update('always authenticate').digest();
    await expect(privateKey.sign({ name: 'ECDSA' }, digest)).rejects.toBeInstanceOf(UserNotLoggedInError);
    const sig = await privateKey.sign({ name: 'ECDSA' }, digest, { contextPin: '1234' });
    expect(await publicKey.verify({ name: 'ECDSA' }, digest, sig)).toBe(true);
    await expect(privateKey.sign({ name: 'ECDSA' }, digest, { contextPin: 'wrong' })).rejects.toBeInstanceOf(PinIncorrectError);
    // The failed login ended the operation (else the next Init is CKR_OPERATION_ACTIVE).
    expect(await privateKey.sign({ name: 'ECDSA' }, digest, { contextPin: '1234' })).toHaveLength(64);
    // A multi-part handle: Init, then abort without ever logging in: the session is free again.
    const op = await s.signInit({ mechanism: CKM_ECDSA }, privateKey);
    await op.abort();
    expect(await privateKey.sign({ name: 'ECDSA' }, digest, { contextPin: '1234' })).toHaveLength(64);
  });

  test('CKA_ALWAYS_AUTHENTICATE RSA: decrypt and decryptInit with contextPin; node:crypto encrypted the input', async () => {
    const { privateKey, publicKey } = await s.generateKeyPair({ name: 'RSA', modulusLength: 2048 }, { privateKey: { alwaysAuthenticate: true } });
    const a = await publicKey.getAttributes(['modulus', 'publicExponent']);
    const nodeKey = crypto.createPublicKey({
      key: { kty: 'RSA', n: (a.modulus as Buffer).toString('base64url'), e: (a.publicExponent as Buffer).toString('base64url') },
      format: 'jwk',
    });
    const secret = Buffer.from('context-specific secret');
    const ct = crypto.publicEncrypt({ key: nodeKey, padding: crypto.constants.RSA_PKCS1_PADDING }, secret);
    await expect(privateKey.decrypt({ mechanism: CKM_RSA_PKCS }, ct)).rejects.toBeInstanceOf(UserNotLoggedInError);
    expect(await privateKey.decrypt({ mechanism: CKM_RSA_PKCS }, ct, { contextPin: '1234' })).toEqual(secret);
    const sig = await privateKey.sign({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, secret, { contextPin: '1234' });
    expect(crypto.verify('sha256', secret, nodeKey, sig)).toBe(true);
  });

  test('session.close() with an operation left open ends it instead of waiting forever', async () => {
    const t = await s.slot.openSession();
    const op = await t.digestInit({ name: 'SHA-256' });
    await op.update(Buffer.from('abc'));
    await t.close();
    expect(op.isFinished).toBe(true);
    expect(t.isOpen).toBe(false);
  });

  test('pool.close() called twice while a session is in use: both resolve once it comes back', async () => {
    const pool = await s.slot.pool({ size: 1 });
    let release: (() => void) | undefined;
    const held = pool.use(() => new Promise<void>((r) => (release = r)));
    while (!release) await new Promise((r) => setTimeout(r, 5));
    const first = pool.close();
    const second = pool.close();
    release!();
    await held;
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
  });

  // Messages name the typed method (privateKey.sign, session.digest: issue 17), not the raw function.
  test('a missing or malformed mechanism is a TypeError naming the method and the argument, as a rejection', async () => {
    const key = await s.generateKey({ name: 'generic', length: 32 });
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [() => key.sign(null as never, Buffer.from('x')), /^secretKey\.sign: argument 'spec' must be a mechanism object/],
      [() => key.verify(undefined as never, Buffer.from('x'), Buffer.from('y')), /^secretKey\.verify: argument 'spec'/],
      [() => s.digest(undefined as never, Buffer.from('x')), /^session\.digest: argument 'spec'/],
      [() => s.signInit('ECDSA' as never, key), /^signInit: argument 'spec'/],
      [() => key.encrypt({ iv: Buffer.alloc(16) } as never, Buffer.from('x')), /^secretKey\.encrypt: argument 'spec' needs a 'name'/],
    ];
    for (const [call, message] of cases) {
      let p: Promise<unknown> | undefined;
      expect(() => (p = call())).not.toThrow();
      await expect(p).rejects.toThrow(message);
      await expect(p).rejects.toBeInstanceOf(TypeError);
    }
    let r: Promise<unknown> | undefined;
    expect(() => (r = s.random(-1))).not.toThrow();
    await expect(r).rejects.toThrow(new RangeError("random: argument 'length' must be a non-negative integer"));
    expect(() => (r = key.setAttributes({ bogus: 1 }))).not.toThrow();
    await expect(r).rejects.toThrow(RangeError);
    // The session works after all of these.
    expect(await s.random(2)).toHaveLength(2);
  });

  test('inside a find() loop: attribute calls work; an operation on the same session is OperationActiveError on SoftHSM', async () => {
    const label = `edges-find-${process.pid}`;
    for (let i = 0; i < 3; i++) await s.createObject({ class: 'data', token: false, label, value: Buffer.from([i]) });
    const key = await s.generateKey({ name: 'generic', length: 32 });
    const seen: number[] = [];
    for await (const o of s.find({ class: 'data', label }, { batchSize: 1 })) {
      seen.push(((await o.getAttributes(['value'])).value as Buffer)[0]);
      if (seen.length === 1) await expect(key.sign({ name: 'HMAC', hash: 'SHA-256' }, Buffer.from('x'))).rejects.toBeInstanceOf(OperationActiveError);
    }
    expect(seen.sort()).toEqual([0, 1, 2]);
    // After the loop (C_FindObjectsFinal ran) the same call works.
    expect(await key.sign({ name: 'HMAC', hash: 'SHA-256' }, Buffer.from('x'))).toHaveLength(32);
    for (const o of await s.findAll({ class: 'data', label })) await o.destroy();
  });

  test("size(): SoftHSM does not say (CK_UNAVAILABLE_INFORMATION) → 'unavailable'", async () => {
    const o = await s.createObject({ class: 'data', token: false, value: Buffer.from('x') });
    expect(await o.size()).toBe('unavailable');
    await o.destroy();
  });
});
