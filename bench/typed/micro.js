#!/usr/bin/env node
// Where the typed layer's time goes, without a PKCS#11 module: the real dist/ classes (Module,
// Slot, Session, PrivateKey) over a fake raw object whose C_SignInitAsync / C_SignAsync return
// already-settled promises. What is left per signature is the JS the typed layer adds, free of the
// thread-pool noise that dominates a real signature. Used by bench/typed/run.js --profile; alone:
//
//   taskset -c 1 node --expose-gc bench/typed/micro.js [--json]
//
// Two tables:
//  - "path": ns per signature of the raw closure, of the current typed path, and of the typed path
//    with the proposals of bench/typed/patches.js: P1, then P1 plus each of P2 … P5, then P1-P5
//    together (P6 saves a pool trip, which a fake raw does not have);
//  - "pieces": single pieces timed alone (captureStackTrace, an await, the mutex …).
'use strict';
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const dist = (p) => require(path.join(root, 'dist', p));
const { Module } = dist('module.js');
const { Slot } = dist('slot.js');
const { Session } = dist('session.js');
const { PrivateKey } = dist('objects/keys.js');
const { AsyncMutex } = dist('util/mutex.js');
const { resolveMechanism } = dist('mechanisms/index.js');
const PATCHES = require('./patches.js');

const JSON_OUT = process.argv.includes('--json');
const CKM_ECDSA = 0x1041;
const SIG = Buffer.alloc(64, 1);
const DIGEST = Buffer.alloc(32, 2);
const ECDSA_RAW = { mechanism: CKM_ECDSA };
const ECDSA_TYPED = { name: 'ECDSA' };

// The raw surface the typed sign path touches, answering at once (settled promises).
const fakeRaw = {
  C_SignInitAsync: () => Promise.resolve(undefined),
  C_SignAsync: () => Promise.resolve(SIG),
  C_SignInit: () => undefined,
  C_GetMechanismListAsync: () => Promise.resolve([CKM_ECDSA]),
  C_CloseSession: () => undefined,
  has: () => true,
};
const mod = new Module(fakeRaw, 'fake', undefined);
const slot = new Slot(mod, 0);
const session = new Session(slot, 1, true);
const key = new PrivateKey(session, 2);

const rawClosure = async () => {
  await fakeRaw.C_SignInitAsync(1, ECDSA_RAW, 2);
  return fakeRaw.C_SignAsync(1, DIGEST);
};
const typedSign = () => key.sign(ECDSA_TYPED, DIGEST);

const PATH = [
  ['raw: async closure { await C_SignInitAsync; return C_SignAsync }', rawClosure, 'async'],
  ['typed: PrivateKey.sign (current dist/)', typedSign, 'async', []],
  ['typed with P1 (no eager captureStackTrace)', typedSign, 'async', ['P1']],
  ['typed with P1 + P2 (one Module.call wrapper)', typedSign, 'async', ['P1', 'P2']],
  ['typed with P1 + P3 (mutex fast path)', typedSign, 'async', ['P1', 'P3']],
  ['typed with P1 + P4 (no admit() promise tracking)', typedSign, 'async', ['P1', 'P4']],
  ['typed with P1 + P5 (mechanism Set, contextLogin without await)', typedSign, 'async', ['P1', 'P5']],
  ['typed with P1-P5', typedSign, 'async', ['P1', 'P2', 'P3', 'P4', 'P5']],
  ['typed with P7 (fused one-shot sign)', typedSign, 'async', ['P7']],
];

const mutex = new AsyncMutex();
const PIECES = [
  ['empty await of a settled promise', async () => { await undefined; }, 'async'],
  ['await slot.mechanismSet() (cached)', async () => { await slot.mechanismSet(); }, 'async'],
  ['AsyncMutex.run(() => undefined), uncontended', () => mutex.run(() => undefined), 'async'],
  ['mod.admit(Promise.resolve())', () => mod.admit(Promise.resolve()), 'async'],
  ['Error.captureStackTrace(obj, fn), stackTraceLimit 10', () => { const o = {}; Error.captureStackTrace(o, PIECES); return o; }, 'sync'],
  ['the same at stackTraceLimit 0', () => { const l = Error.stackTraceLimit; Error.stackTraceLimit = 0; const o = {}; Error.captureStackTrace(o, PIECES); Error.stackTraceLimit = l; return o; }, 'sync'],
  ['resolveMechanism({ name: "ECDSA" })', () => resolveMechanism(ECDSA_TYPED, () => true), 'sync'],
  ['resolveMechanism(AES-GCM, gcmParams)', () => resolveMechanism({ name: 'AES-GCM', iv: DIGEST.subarray(0, 12), tagLength: 128 }, () => true), 'sync'],
];

async function timeAsync(f, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await f();
  return Number(process.hrtime.bigint() - t0) / n;
}

function timeSync(f, n) {
  const t0 = process.hrtime.bigint();
  let x;
  for (let i = 0; i < n; i++) x = f();
  const ns = Number(process.hrtime.bigint() - t0) / n;
  if (x === 42) console.log(x); // keep x alive
  return ns;
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function series(list, n, reps) {
  const gc = typeof global.gc === 'function' ? global.gc : () => {};
  const ns = list.map(() => []);
  const once = async ([, f, kind, patches]) => {
    PATCHES.set(mod, patches || []);
    try {
      return kind === 'sync' ? timeSync(f, n) : await timeAsync(f, n);
    } finally {
      PATCHES.set(mod, []);
    }
  };
  for (const item of list) await once(item); // warm-up
  for (let r = 0; r < reps; r++) {
    for (let j = 0; j < list.length; j++) {
      const i = (j + r) % list.length; // rotate the order
      gc();
      ns[i].push(await once(list[i]));
    }
  }
  return list.map(([name, , , patches], i) => ({ name, patches: patches || null, ns: median(ns[i]), min: Math.min(...ns[i]), max: Math.max(...ns[i]) }));
}

async function run() {
  const sig = await key.sign(ECDSA_TYPED, DIGEST);
  if (sig !== SIG) throw new Error('fake raw not reached');
  const pathRows = await series(PATH, 100000, 9);
  const pieces = await series(PIECES, 200000, 7);
  return { path: pathRows, pieces };
}

function format({ path: rows, pieces }) {
  const out = [];
  out.push('  ECDSA sign over a fake raw (settled promises), ns per signature, median of 9 × 100k (min–max)');
  // P1 against the current path; P2 … P5 each against P1 alone (P1 removes the one large and noisy
  // term, so the small ones can be seen); P1-P5 against the current path.
  const typed = rows.find((r) => r.patches && r.patches.length === 0).ns;
  const p1 = rows.find((r) => r.patches && r.patches.join() === 'P1').ns;
  for (const r of rows) {
    const n = r.patches ? r.patches.length : -1;
    const vs = n === 1 || n === 5 || (n === 1 && r.patches[0] === 'P7') ? `${(r.ns - typed).toFixed(0).padStart(6)} vs typed` : n === 2 ? `${(r.ns - p1).toFixed(0).padStart(6)} vs P1` : '';
    out.push(`    ${r.name.padEnd(66)} ${r.ns.toFixed(0).padStart(6)} ns  ${vs.padEnd(15)} (${r.min.toFixed(0)}–${r.max.toFixed(0)})`);
  }
  out.push('');
  out.push('  pieces alone, ns per call, median of 7 × 200k (min–max)');
  for (const r of pieces) out.push(`    ${r.name.padEnd(66)} ${r.ns.toFixed(0).padStart(6)} ns                  (${r.min.toFixed(0)}–${r.max.toFixed(0)})`);
  return out.join('\n');
}

// --json: one JSON line first (for run.js), then the table.
run()
  .then((r) => process.stdout.write((JSON_OUT ? JSON.stringify(r) + '\n' : '') + format(r) + '\n'))
  .catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
