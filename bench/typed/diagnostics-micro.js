#!/usr/bin/env node
// What the diagnostics_channel hooks (lib/core/diagnostics.ts) and the pool's call log cost on the
// typed hot paths, without a PKCS#11 module: the real dist/ classes over a fake raw object whose
// calls return settled promises, so only the JS the typed layer runs is timed (a lower bound for
// the share: with SoftHSM in the loop an ECDSA signature takes ~100 µs, this path well under 1).
//
//   node --expose-gc bench/typed/diagnostics-micro.js [--dist=path/to/dist] [--untraced] [--json]
//
// Rows: `privateKey.sign` (the fast one-shot path), `session.random` (Session.run), each with
// nobody subscribed and with a no-op subscriber on `tracing:p11bridge:call:*`. To compare two
// builds (before/after a change), run it once per dist/ and compare the "nobody subscribed" rows.
'use strict';
const path = require('node:path');
const dc = require('node:diagnostics_channel');

const arg = process.argv.find((a) => a.startsWith('--dist='));
const dist = arg ? path.resolve(arg.slice(7)) : path.join(__dirname, '..', '..', 'dist');
const load = (p) => require(path.join(dist, p));
const { Module } = load('core/module.js');
const { Slot } = load('core/slot.js');
const { Session } = load('session/index.js');
const { PrivateKey } = load('objects/keys.js');

const CKM_ECDSA = 0x1041;
const SIG = Buffer.alloc(64, 1);
const RND = Buffer.alloc(16, 3);
const DIGEST = Buffer.alloc(32, 2);
const fakeRaw = {
  signOnceAsync: () => Promise.resolve(SIG),
  C_SignInitAsync: () => Promise.resolve(undefined),
  C_SignAsync: () => Promise.resolve(SIG),
  C_GenerateRandomAsync: () => Promise.resolve(RND),
  C_GetMechanismListAsync: () => Promise.resolve([CKM_ECDSA]),
  C_CloseSession: () => undefined,
  has: () => true,
};
const mod = new Module(fakeRaw, 'fake', undefined);
const slot = new Slot(mod, 0);
const session = new Session(slot, 1, true);
const key = new PrivateKey(session, 2);
const ECDSA = { name: 'ECDSA' };

async function time(f, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await f();
  return Number(process.hrtime.bigint() - t0) / n;
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const noop = () => undefined;
const handlers = { start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop };
const tc = dc.tracingChannel('p11bridge:call');

const ROWS = [
  ['privateKey.sign, nobody subscribed', () => key.sign(ECDSA, DIGEST), false],
  ['session.random, nobody subscribed', () => session.random(16), false],
  ['privateKey.sign, traced (no-op subscriber)', () => key.sign(ECDSA, DIGEST), true],
  ['session.random, traced (no-op subscriber)', () => session.random(16), true],
].filter((r) => !process.argv.includes('--untraced') || !r[2]);

async function main() {
  await slot.mechanismSet(); // the fast path needs the mechanism list known
  const gc = typeof global.gc === 'function' ? global.gc : noop;
  const n = 100_000;
  const reps = 9;
  const ns = ROWS.map(() => []);
  const once = async ([, f, traced]) => {
    if (traced) tc.subscribe(handlers);
    try {
      return await time(f, n);
    } finally {
      if (traced) tc.unsubscribe(handlers);
    }
  };
  for (const row of ROWS) await once(row); // warm-up
  for (let r = 0; r < reps; r++) {
    for (let j = 0; j < ROWS.length; j++) {
      const i = (j + r) % ROWS.length;
      gc();
      ns[i].push(await once(ROWS[i]));
    }
  }
  const out = ROWS.map(([name], i) => ({ name, ns: median(ns[i]), min: Math.min(...ns[i]), max: Math.max(...ns[i]) }));
  if (process.argv.includes('--json')) return console.log(JSON.stringify({ dist, rows: out }));
  console.log(`dist: ${dist}; ${reps} rounds of ${n} sequential awaits, median (min–max) ns per call`);
  for (const r of out) console.log(`${r.name.padEnd(46)} ${r.ns.toFixed(0).padStart(6)}  (${r.min.toFixed(0)}–${r.max.toFixed(0)})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
