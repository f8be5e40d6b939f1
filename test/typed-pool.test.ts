// The session pool on SoftHSM: lazy sessions up to its size, one login, one caller per session,
// wait timeout, close that waits for sessions to come back.
import * as crypto from 'node:crypto';
import { fixture } from './helpers/softhsm';
import { Module, PoolTimeoutError, PoolClosedError, PinIncorrectError } from '../lib/index';

describe('SessionPool', () => {
  let mod: Module;
  beforeAll(async () => {
    mod = await Module.open(fixture().modulePath);
  });
  afterAll(async () => {
    await mod.close();
  });

  test('opens sessions lazily up to size, logs in once, and signs concurrently with correct results', async () => {
    const slot = (await mod.findSlot('p11bridge-a'))!;
    const pool = await slot.pool({ size: 3, login: '1234' });
    expect(pool.size).toBe(3); // SoftHSM's session limits are "infinite": the requested size stands
    expect(pool.opened).toBe(0);
    const seen = new Set<unknown>();
    let maxConcurrent = 0;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        pool.use(async (s) => {
          seen.add(s);
          maxConcurrent = Math.max(maxConcurrent, pool.inUse);
          expect((await s.info()).state).toBe('rwUser');
          return (await s.random(16 + i)).length;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => 16 + i));
    expect(seen.size).toBeLessThanOrEqual(3);
    expect(maxConcurrent).toBeLessThanOrEqual(3);
    expect(pool.opened).toBeLessThanOrEqual(3);
    await pool.close();
    expect(pool.opened).toBe(0);
  });

  test('sign on a token key from many pool sessions; node verifies every signature', async () => {
    // Its own token: token objects written here must not race other files' reads of p11bridge-a.
    const slot = (await mod.findSlot('p11bridge-pool'))!;
    const pool = await slot.pool({ size: 2, login: '4444' });
    const label = `pool-${crypto.randomBytes(3).toString('hex')}`;
    const { publicKey } = await pool.use((s) => s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { token: true, label }, publicKey: { token: true, label } }));
    const point = (await pool.use(async (s) => {
      const [pub] = await s.findAll({ class: 'publicKey', label });
      return pub.getAttribute('ecPoint');
    })) as Buffer;
    void publicKey;
    const q = point.subarray(2);
    const node = crypto.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: q.subarray(1, 33).toString('base64url'), y: q.subarray(33).toString('base64url') }, format: 'jwk' });
    const msgs = Array.from({ length: 8 }, (_, i) => Buffer.from(`message ${i}`));
    const sigs = await Promise.all(
      msgs.map((m) =>
        pool.use(async (s) => {
          const [priv] = await s.findAll({ class: 'privateKey', label });
          const { PrivateKey } = await import('../lib/index');
          return new PrivateKey(s, priv.handle).sign({ name: 'ECDSA', hash: 'SHA-256' }, m);
        }),
      ),
    );
    sigs.forEach((sig, i) => expect(crypto.verify('sha256', msgs[i], { key: node, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true));
    await pool.use(async (s) => {
      for (const o of await s.findAll({ label })) await o.destroy();
    });
    await pool.close();
  });

  test('use() waits for a free session and rejects with PoolTimeoutError after waitTimeout', async () => {
    const slot = (await mod.findSlot('p11bridge-a'))!;
    const pool = await slot.pool({ size: 1, waitTimeout: 50 });
    let release!: () => void;
    const held = pool.use(() => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 10));
    await expect(pool.use(async () => 1)).rejects.toBeInstanceOf(PoolTimeoutError);
    const waiting = pool.use(async () => 'second');
    release();
    await held;
    await expect(waiting).resolves.toBe('second');
    await pool.close();
  });

  test('close waits for sessions in use, rejects waiters and later use()', async () => {
    const slot = (await mod.findSlot('p11bridge-a'))!;
    const pool = await slot.pool({ size: 1, waitTimeout: 5000 });
    let release!: () => void;
    let finished = false;
    const held = pool.use(
      () =>
        new Promise<void>((r) => {
          release = () => {
            finished = true;
            r();
          };
        }),
    );
    await new Promise((r) => setTimeout(r, 10));
    const waiter = pool.use(async () => 'never');
    const closing = pool.close();
    await expect(waiter).rejects.toBeInstanceOf(PoolClosedError);
    setTimeout(() => release(), 20);
    await closing;
    expect(finished).toBe(true);
    await held;
    await expect(pool.use(async () => 1)).rejects.toBeInstanceOf(PoolClosedError);
    expect(pool.opened).toBe(0);
  });

  test('a wrong login PIN fails the use() that opened the session; the session is closed, not leaked', async () => {
    const slot = (await mod.findSlot('p11bridge-b'))!;
    const pool = await slot.pool({ size: 1, login: 'wrong-pin' });
    await expect(pool.use(async () => 1)).rejects.toBeInstanceOf(PinIncorrectError);
    expect(pool.opened).toBe(0);
    expect(slot.openSessionCount).toBe(0);
    await expect(pool.use(async () => 1)).rejects.toBeInstanceOf(PinIncorrectError); // tried again, not cached
    await pool.close();
    await expect(slot.pool({ size: 0 })).rejects.toThrow(RangeError);
  });
});
