// node:diagnostics_channel publishing (lib/core/diagnostics.ts): the `p11bridge:call` TracingChannel
// for typed calls and the `p11bridge:pool` channel of pool events, subscribed to the way APM tools
// do. What is published is checked field by field, and every message is scanned for the PIN, the
// data signed and the bytes returned: none may appear.
import { AsyncLocalStorage } from 'node:async_hooks';
import * as dc from 'node:diagnostics_channel';
import { CALL_CHANNEL, Module, PinIncorrectError, POOL_CHANNEL } from '../lib/index';
import type { CallTraceContext, PoolEvent } from '../lib/index';
import { shimModule, ShimModule } from './helpers/shim';

const TOKEN = 'p11bridge-pool';
const PIN = '4444';
const WRONG_PIN = 'wrong-Pin-d1agn0st1cs';
const SECRET = Buffer.from('secret payload 5f1e0c9a never published');
const ALLOWED_KEYS = new Set(['function', 'slot', 'session', 'rv', 'durationNs', 'error']);

type Kind = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';

let shim: ShimModule;
let mod: Module;

beforeAll(async () => {
  shim = shimModule();
  mod = await Module.open(shim.path);
});

afterAll(async () => {
  await mod.close();
  shim.cleanup();
});

/** Every string and byte array reachable from `v` (an error's own properties and stack included; numbers are IDs and durations). */
function leaves(v: unknown, out: Array<string | Uint8Array> = [], seen = new Set<unknown>()): Array<string | Uint8Array> {
  if (typeof v === 'string') out.push(v);
  else if (v instanceof Uint8Array) out.push(v);
  else if (v && typeof v === 'object' && !seen.has(v)) {
    seen.add(v);
    for (const k of Object.getOwnPropertyNames(v)) leaves((v as Record<string, unknown>)[k], out, seen);
    if (v instanceof Error) leaves(v.stack, out, seen);
  }
  return out;
}

function contains(leaf: string | Uint8Array, needle: string | Buffer): boolean {
  if (typeof leaf === 'string') return leaf.includes(needle.toString());
  return Buffer.from(leaf.buffer, leaf.byteOffset, leaf.byteLength).includes(Buffer.from(needle));
}

test('typed calls are traced with function, slot, session, rv and duration; never a PIN, an argument or a result', async () => {
  const got: Array<{ kind: Kind; ctx: CallTraceContext; snapshot: CallTraceContext; store?: { span: string } }> = [];
  // As an APM agent does: a store bound to `start` is the current one until the call settles.
  const als = new AsyncLocalStorage<{ span: string }>();
  const poolEvents: PoolEvent[] = [];
  const on = (kind: Kind) => (m: unknown) => {
    got.push({ kind, ctx: m as CallTraceContext, snapshot: { ...(m as CallTraceContext) }, store: als.getStore() });
  };
  const handlers = { start: on('start'), end: on('end'), asyncStart: on('asyncStart'), asyncEnd: on('asyncEnd'), error: on('error') };
  const tc = dc.tracingChannel(CALL_CHANNEL);
  const onPool = (m: unknown) => poolEvents.push(m as PoolEvent);
  tc.subscribe(handlers);
  tc.start.bindStore(als, (m) => ({ span: (m as CallTraceContext).function }));
  dc.subscribe(POOL_CHANNEL, onPool);
  const outputs: Buffer[] = [];
  try {
    const slot = (await mod.findSlot(TOKEN))!;
    const pool = await slot.pool({ size: 1, login: PIN });
    const sig = await pool.use(async (s) => {
      const { privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' }, { privateKey: { token: false }, publicKey: { token: false } });
      // Twice: the second sign takes the fast one-shot path (mechanisms known, session idle).
      await privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, SECRET);
      return privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, SECRET);
    });
    shim.setRules(['delay C_GenerateRandom 60']);
    const random = await pool.use((s) => s.random(32));
    // A silent logout: the pool logs in again (a pool event) and runs the random call again.
    shim.setRules(['logout']);
    const again = await pool.use((s) => s.random(32));
    shim.setRules([]);
    outputs.push(sig, random, again);
    await pool.close();

    const outside = await slot.openSession();
    await expect(outside.login(WRONG_PIN)).rejects.toBeInstanceOf(PinIncorrectError);
    // A multi-part operation: its Init, each part and the final call are traced by name.
    const op = await outside.digestInit({ name: 'SHA-256' });
    await op.update(SECRET);
    outputs.push(await op.final());
    await outside.close();

    const starts = got.filter((g) => g.kind === 'start');
    const fns = starts.map((g) => g.snapshot.function);
    expect(fns).toEqual(expect.arrayContaining(['login', 'generateKeyPair', 'sign', 'random']));
    expect(fns.filter((f) => f === 'sign')).toHaveLength(2);
    expect(fns.filter((f) => f === 'login').length).toBeGreaterThanOrEqual(3); // pool login, login again, wrong PIN
    // Module-wide calls carry neither slot nor session, slot calls the slot, the rest both.
    expect(fns).toEqual(expect.arrayContaining(['module.slots', 'slot.tokenInfo', 'slot.openSession', 'digestInit', 'update', 'final', 'close']));
    for (const g of got) {
      expect(Object.keys(g.snapshot).every((k) => ALLOWED_KEYS.has(k))).toBe(true);
      const f = g.snapshot.function;
      if (f.startsWith('module.')) {
        expect([g.snapshot.slot, g.snapshot.session]).toEqual([undefined, undefined]);
        continue;
      }
      if (f.startsWith('slot.')) {
        // findSlot() reads every slot's token: other slots' IDs appear too.
        expect(typeof g.snapshot.slot === 'number' || typeof g.snapshot.slot === 'bigint').toBe(true);
        expect(g.snapshot.session).toBeUndefined();
        continue;
      }
      expect(g.snapshot.slot).toBe(slot.id);
      expect(typeof g.snapshot.session === 'number' || typeof g.snapshot.session === 'bigint').toBe(true);
    }
    // Each call: start, end, then (settled) asyncStart and asyncEnd on the same context object.
    for (const s of starts) {
      const mine = got.filter((g) => g.ctx === s.ctx).map((g) => g.kind);
      expect(mine.filter((k) => k !== 'error')).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    }
    for (const g of got.filter((x) => x.kind === 'asyncEnd')) expect(g.store).toEqual({ span: g.snapshot.function });
    const ends = got.filter((g) => g.kind === 'asyncEnd').map((g) => g.snapshot);
    for (const e of ends) expect(e.durationNs).toBeGreaterThan(0);
    expect(ends.filter((e) => e.rv === 0).length).toBeGreaterThanOrEqual(6);
    const slow = ends.find((e) => e.function === 'random' && e.rv === 0)!;
    expect(slow.durationNs).toBeGreaterThanOrEqual(55e6);
    const failures = got.filter((g) => g.kind === 'error').map((g) => g.snapshot);
    expect(failures.map((f) => [f.function, f.rv])).toEqual(
      expect.arrayContaining([
        ['random', 0x101], // CKR_USER_NOT_LOGGED_IN, before the pool logged in again
        ['login', 0xa0], // CKR_PIN_INCORRECT
      ]),
    );
    expect(failures.find((f) => f.rv === 0xa0)!.error).toBeInstanceOf(PinIncorrectError);
    expect(poolEvents).toContainEqual(expect.objectContaining({ event: 'recovered', slot: slot.id, reason: 'relogin', retried: true }));

    // Nothing secret anywhere: not the PINs, not the data signed, not what the calls returned.
    const published = [...got.map((g) => g.ctx), ...poolEvents];
    const all = published.flatMap((m) => leaves(m));
    expect(all.length).toBeGreaterThan(published.length);
    for (const needle of [PIN, WRONG_PIN, SECRET, ...outputs]) {
      const hex = Buffer.from(needle).toString('hex');
      expect({ hex, found: all.some((l) => contains(l, needle)) }).toEqual({ hex, found: false });
    }
  } finally {
    tc.unsubscribe(handlers);
    tc.start.unbindStore(als);
    dc.unsubscribe(POOL_CHANNEL, onPool);
  }
  // Unsubscribed: nothing more is published, calls still work.
  const before = got.length;
  const slot = (await mod.findSlot(TOKEN))!;
  const s = await slot.openSession();
  expect((await s.random(8)).length).toBe(8);
  await s.close();
  expect(got.length).toBe(before);
  expect(tc.hasSubscribers).toBe(false);
});
