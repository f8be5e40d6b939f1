// AbortSignal on typed calls, login without a PIN on a token with no protected path, and the
// slot watcher's fallbacks on SoftHSM (which has only CKF_DONT_BLOCK slot events, and never any).
// Real slot events, a protected path and a locked PIN are tested through the fault shim
// (test/typed-events.test.ts).
import { useLoggedInSession } from './helpers/typed-session';
import { Module, Session } from '../lib/index';

const abortError = expect.objectContaining({ name: 'AbortError' });

describe('AbortSignal, login arguments, slot watcher fallbacks', () => {
  let mod: Module;
  let s: Session;
  useLoggedInSession('p11bridge-a', (m, x) => ((mod = m), (s = x)));

  test('an already-aborted signal rejects with its reason and never calls the module', async () => {
    const label = `abort-pre-${process.pid}`;
    await expect(s.generateKey({ name: 'AES', length: 128 }, { label }, { signal: AbortSignal.abort() })).rejects.toEqual(abortError);
    const reason = new Error('caller gave up');
    await expect(s.random(8, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(await s.findAll({ label })).toHaveLength(0);
    expect(await s.random(8)).toHaveLength(8);
    // Key operations take the same option.
    const { privateKey, publicKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
    const digest = Buffer.alloc(32, 1);
    await expect(privateKey.sign({ name: 'ECDSA' }, digest, { signal: AbortSignal.abort() })).rejects.toEqual(abortError);
    const sig = await privateKey.sign({ name: 'ECDSA' }, digest, { signal: new AbortController().signal });
    expect(await publicKey.verify({ name: 'ECDSA' }, digest, sig, { signal: new AbortController().signal })).toBe(true);
    await expect(publicKey.verify({ name: 'ECDSA' }, digest, sig, { signal: AbortSignal.abort() })).rejects.toEqual(abortError);
  });

  test('aborted while waiting for the session: leaves the queue, never runs; the holder is unaffected', async () => {
    const label = `abort-queued-${process.pid}`;
    const op = await s.digestInit({ name: 'SHA-256' });
    const ac = new AbortController();
    const queued = s.generateKey({ name: 'AES', length: 128 }, { label }, { signal: ac.signal });
    const after = s.random(4);
    ac.abort();
    await expect(queued).rejects.toEqual(abortError);
    await op.update(Buffer.from('abc'));
    expect((await op.final()).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(await after).toHaveLength(4);
    expect(await s.findAll({ label })).toHaveLength(0);
  });

  test('aborted while the module works: rejects at once; the call finishes on its own and the session waits for it', async () => {
    const label = `abort-inflight-${process.pid}`;
    const ac = new AbortController();
    const order: string[] = [];
    const gen = s.generateKeyPair({ name: 'RSA', modulusLength: 3072 }, { privateKey: { label }, publicKey: { label } }, { signal: ac.signal });
    gen.catch(() => order.push('aborted'));
    // RSA-3072 generation takes SoftHSM far longer than one timer tick.
    await new Promise((r) => setTimeout(r, 20));
    const next = s.info().then(() => order.push('next call'));
    ac.abort();
    await expect(gen).rejects.toEqual(abortError);
    await next;
    expect(order).toEqual(['aborted', 'next call']);
    // The generation ran to its end in the module: both keys exist (its result was dropped).
    const keys = await s.findAll({ label });
    expect(keys.map((k) => k.constructor.name).sort()).toEqual(['PrivateKey', 'PublicKey']);
    for (const k of keys) await k.destroy();
  });

  test('a signal on a multi-part operation: aborting ends it in the module (2.x: the final call) and frees the session', async () => {
    const key = await s.generateKey({ name: 'generic', length: 32 });
    const ac = new AbortController();
    const op = await s.signInit({ name: 'HMAC', hash: 'SHA-256' }, key, { signal: ac.signal });
    await op.update(Buffer.from('part one'));
    const waiting = s.random(4);
    ac.abort();
    await expect(op.update(Buffer.from('part two'))).rejects.toEqual(abortError);
    await expect(op.final()).rejects.toEqual(abortError);
    expect(op.isFinished).toBe(true);
    expect(await waiting).toHaveLength(4);
    // The module's operation ended too: a new one starts on the same session (else CKR_OPERATION_ACTIVE).
    const again = await s.signInit({ name: 'HMAC', hash: 'SHA-256' }, key);
    await again.update(Buffer.from('x'));
    expect(await again.final()).toHaveLength(32);
    // A signal that fires after final() does nothing.
    const late = new AbortController();
    const done = await s.digestInit({ name: 'SHA-256' }, { signal: late.signal });
    await done.update(Buffer.from('abc'));
    expect(await done.final()).toHaveLength(32);
    late.abort();
    expect(await s.random(2)).toHaveLength(2);
    await key.destroy();
  });

  test('an already-aborted signal on an Init never starts the operation', async () => {
    await expect(s.digestInit({ name: 'SHA-256' }, { signal: AbortSignal.abort() })).rejects.toEqual(abortError);
    const d = await s.digestInit({ name: 'SHA-256' });
    expect(await d.final()).toHaveLength(32);
  });

  test('login without a PIN needs a protected authentication path; bad user types are TypeErrors', async () => {
    const other = await (await mod.findSlot('p11bridge-b'))!.openSession();
    await expect(other.login()).rejects.toThrow(new TypeError("login: argument 'pin' is required (the token has no protected authentication path)"));
    await expect(other.login(null)).rejects.toThrow(TypeError);
    await expect(other.login('5678', { user: 'root' as never })).rejects.toThrow(/option 'user'/);
    expect((await other.info()).state).toBe('roPublic');
    await other.close();
  });

  test("watchSlots on SoftHSM: 'auto' falls back from blocking to CKF_DONT_BLOCK polling, reports no events, stops", async () => {
    const w = mod.watchSlots({ interval: 20 });
    await w.ready();
    const events: unknown[] = [];
    w.on('event', (e) => events.push(e));
    // SoftHSM answers the blocking form with CKR_FUNCTION_NOT_SUPPORTED; the watcher switches.
    for (let i = 0; i < 50 && w.source !== 'poll'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(w.source).toBe('poll');
    const iterated: unknown[] = [];
    const loop = (async () => {
      for await (const e of w) iterated.push(e);
    })();
    await new Promise((r) => setTimeout(r, 100));
    w.stop();
    await loop;
    expect(events).toEqual([]);
    expect(iterated).toEqual([]);
    expect(w.isStopped).toBe(true);
    expect(() => mod.watchSlots({ interval: 0 })).toThrow(RangeError);
    expect(() => mod.watchSlots({ mode: 'push' as never })).toThrow(RangeError);
  });
});
