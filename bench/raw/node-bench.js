#!/usr/bin/env node
// One measurement in one process, for bench/raw/run.js: node node-bench.js '<json options>'.
// Loads either p11bridge's raw layer or pkcs11js, logs in to the token, generates a P-256 key pair
// (session objects, the same template as cloop.c), runs the requested loop and prints one JSON
// line with the result, then one with the process's CPU time.
//
// impl:    'p11bridge'     C_Sign(h, digest) — module-sized output (a length query, then the call)
//          'p11bridge-out' C_Sign(h, digest, out72) — a caller buffer, one C call
//          'p11bridge-initasync'  async only: C_SignInitAsync too, so the JS thread makes no C call
//          'p11bridge-nodeep'     load(path, { deepBind: false }), like pkcs11js's plain dlopen
//          'p11bridge-typed'      async only: typed privateKey.sign() from `callers` (8) loops over a
//                                 slot.pool() of `sessions` sessions
//          'pkcs11js'      C_Sign(h, digest, out72) (its only form), callbacks for async
// measure: cheap | sign | async | sha
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');

// PKCS#11 constants (spec values), so both libraries get the very same numbers.
const CKF_SERIAL_SESSION = 0x4;
const CKF_RW_SESSION = 0x2;
const CKF_OS_LOCKING_OK = 0x2;
const CKU_USER = 1;
const CKA_TOKEN = 0x1;
const CKA_PRIVATE = 0x2;
const CKA_SENSITIVE = 0x103;
const CKA_SIGN = 0x108;
const CKA_VERIFY = 0x10a;
const CKA_EC_PARAMS = 0x180;
const CKM_EC_KEY_PAIR_GEN = 0x1040;
const CKM_ECDSA = 0x1041;
const CKM_SHA256 = 0x250;

const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex');
const CHUNK = 1024 * 1024;

const opts = JSON.parse(process.argv[2]);
const root = path.join(__dirname, '..', '..');

function openLib() {
  if (opts.impl === 'pkcs11js') {
    const pkcs11js = require('pkcs11js');
    const mod = new pkcs11js.PKCS11();
    mod.load(opts.module);
    mod.C_Initialize({ flags: CKF_OS_LOCKING_OK });
    return { mod, name: 'pkcs11js', version: require('pkcs11js/package.json').version };
  }
  const raw = require(path.join(root, 'dist', 'raw.js'));
  const mod = new raw.PKCS11();
  // RTLD_DEEPBIND on Linux by default; 'p11bridge-nodeep' turns it off, so the module's OpenSSL
  // calls bind to the copy Node exports, as they do under pkcs11js.
  mod.load(opts.module, opts.impl === 'p11bridge-nodeep' ? { deepBind: false } : undefined);
  mod.C_Initialize(); // CKF_OS_LOCKING_OK by default
  return { mod, name: 'p11bridge', binding: path.relative(root, raw.BINDING_PATH) };
}

function findSlot(mod) {
  for (const slot of mod.C_GetSlotList(true)) {
    if (mod.C_GetTokenInfo(slot).label.trim() === opts.label) return slot;
  }
  throw new Error(`no token labelled ${opts.label}`);
}

function setup() {
  const lib = openLib();
  const { mod } = lib;
  const slot = findSlot(mod);
  const sessions = [];
  const n = Math.max(1, opts.sessions || 1);
  for (let i = 0; i < n; i++) sessions.push(mod.C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION));
  mod.C_Login(sessions[0], CKU_USER, opts.pin);
  let privateKey = null;
  if (opts.measure === 'sign' || opts.measure === 'async') {
    const keys = mod.C_GenerateKeyPair(
      sessions[0],
      { mechanism: CKM_EC_KEY_PAIR_GEN },
      [
        { type: CKA_TOKEN, value: false },
        { type: CKA_EC_PARAMS, value: P256_OID },
        { type: CKA_VERIFY, value: true },
      ],
      [
        { type: CKA_TOKEN, value: false },
        { type: CKA_PRIVATE, value: true },
        { type: CKA_SENSITIVE, value: true },
        { type: CKA_SIGN, value: true },
      ],
    );
    privateKey = keys.privateKey;
  }
  return { ...lib, sessions, privateKey };
}

// ---- 1. ns per cheap call ------------------------------------------------------------------

function cheap({ mod, sessions }) {
  const s = sessions[0];
  let info;
  for (let i = 0; i < opts.warmup; i++) info = mod.C_GetSessionInfo(s);
  const ns = [];
  for (let r = 0; r < opts.reps; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < opts.iters; i++) info = mod.C_GetSessionInfo(s);
    const t1 = process.hrtime.bigint();
    ns.push(Number(t1 - t0) / opts.iters);
  }
  return { ns, state: Number(info.state) };
}

// ---- 2. sync sign ---------------------------------------------------------------------------

const DIGEST = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 0xff));
const MECH = { mechanism: CKM_ECDSA };

function syncSigner({ mod, sessions, privateKey }) {
  const s = sessions[0];
  if (opts.impl !== 'pkcs11js' && opts.impl !== 'p11bridge-out') {
    return () => {
      mod.C_SignInit(s, MECH, privateKey);
      return mod.C_Sign(s, DIGEST);
    };
  }
  const out = Buffer.alloc(72);
  return () => {
    mod.C_SignInit(s, MECH, privateKey);
    return mod.C_Sign(s, DIGEST, out);
  };
}

function sign(ctx) {
  const once = syncSigner(ctx);
  let sig;
  for (let i = 0; i < opts.warmup; i++) sig = once();
  const end = performance.now() + opts.seconds * 1000;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let ops = 0;
  let t1;
  // Check the clock every 16 signatures (a few hundred µs) to keep timing out of the loop.
  for (;;) {
    for (let i = 0; i < 16; i++) sig = once();
    ops += 16;
    t1 = performance.now();
    if (t1 >= end) break;
  }
  const cpu = process.cpuUsage(cpu0);
  const seconds = (t1 - t0) / 1000;
  return { ops, seconds, opsPerSec: ops / seconds, sigLen: sig.length, cpuCores: (cpu.user + cpu.system) / 1e6 / seconds };
}

// ---- 3 and 5. async sign over several sessions, event-loop lag ------------------------------

// The typed layer as a server uses it: `callers` concurrent loops of pool.use(s => key.sign()) over
// a slot.pool() of `sessions` sessions. The Module shares the raw object's module, login and
// session key (session objects belong to the process), so only the JS on top differs.
function startTypedCallers({ privateKey }, onOp, onDone) {
  const p11 = require(path.join(root, 'dist', 'index.js'));
  (async () => {
    const m = await p11.Module.open({ path: opts.module });
    const slot = await m.findSlot(opts.label);
    const pool = await slot.pool({ size: opts.sessions });
    const keys = new Map();
    const keyFor = async (s) => {
      let k = keys.get(s);
      if (!k) keys.set(s, (k = await s.object(privateKey)));
      return k;
    };
    const spec = { name: 'ECDSA' };
    await Promise.all(
      Array.from({ length: opts.callers || 8 }, async () => {
        for (;;) {
          const sig = await pool.use(async (s) => (await keyFor(s)).sign(spec, DIGEST));
          if (!onOp(sig)) break;
        }
      }),
    );
    await pool.close();
    await m.close();
    onDone();
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

// Starts one chain per session: C_SignInit (sync) then the async C_Sign, again on completion.
// `onOp` is called after every signature; the chain stops when it returns false.
function startChains({ mod, sessions, privateKey }, onOp, onDone) {
  if (opts.impl === 'p11bridge-typed') return startTypedCallers({ privateKey }, onOp, onDone);
  let live = sessions.length;
  const finish = () => {
    if (--live === 0) onDone();
  };
  for (const s of sessions) {
    if (opts.impl === 'pkcs11js') {
      const out = Buffer.alloc(72); // one per session: each chain has one signature in flight
      const step = () => {
        mod.C_SignInit(s, MECH, privateKey);
        mod.C_Sign(s, DIGEST, out, (err, sig) => {
          if (err) throw err;
          if (onOp(sig)) step();
          else finish();
        });
      };
      step();
    } else {
      const useOut = opts.impl === 'p11bridge-out';
      const initAsync = opts.impl === 'p11bridge-initasync';
      const out = Buffer.alloc(72);
      (async () => {
        for (;;) {
          if (initAsync) await mod.C_SignInitAsync(s, MECH, privateKey);
          else mod.C_SignInit(s, MECH, privateKey);
          const sig = await (useOut ? mod.C_SignAsync(s, DIGEST, out) : mod.C_SignAsync(s, DIGEST));
          if (!onOp(sig)) break;
        }
        finish();
      })().catch((e) => {
        console.error(e);
        process.exit(1);
      });
    }
  }
}

// CPU µs the main (JS) thread has used: utime + stime of /proc/self/task/<pid>/stat.
const CLK_TCK = 100;
function mainThreadCpuUs() {
  try {
    const st = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) / CLK_TCK) * 1e6; // fields 14 and 15 of stat(5)
  } catch {
    return NaN;
  }
}

function asyncSign(ctx) {
  return new Promise((resolve) => {
    const resolution = 1; // ms
    const hist = monitorEventLoopDelay({ resolution });
    let ops = 0;
    let phase = 'warmup';
    let t0 = 0;
    let t1 = 0;
    let counted = 0;
    let sigLen = 0;
    let cpu0;
    let cpuCores = 0;
    let jsCpu0 = 0;
    let jsCpuUsPerOp = null;
    let otherCpuUsPerOp = null;
    const onOp = (sig) => {
      sigLen = sig.length;
      if (phase === 'measure') ops++;
      return phase !== 'stop';
    };
    startChains(ctx, onOp, () => {
      const lagMaxMs = Math.max(0, hist.max / 1e6 - resolution);
      resolve({
        ops: counted,
        seconds: (t1 - t0) / 1000,
        opsPerSec: counted / ((t1 - t0) / 1000),
        sigLen,
        sessions: ctx.sessions.length,
        // monitorEventLoopDelay records the time between its 1 ms timer's runs; lag = that − 1 ms.
        lagMaxMs,
        lagP99Ms: Math.max(0, hist.percentile(99) / 1e6 - resolution),
        lagMeanMs: Math.max(0, hist.mean / 1e6 - resolution),
        cpuCores, // process CPU time / wall time during the window: how many cores it kept busy
        jsCpuUsPerOp, // the JS (main) thread's CPU µs per signature
        otherCpuUsPerOp, // every other thread's (call threads, libuv pool, V8's) CPU µs per signature
        // p11bridge's call threads for this module (peak, started, heldBack …)
        threads: typeof ctx.mod.moduleInfo === 'function' ? ctx.mod.moduleInfo().threads : undefined,
      });
    });
    setTimeout(() => {
      phase = 'measure';
      t0 = performance.now();
      cpu0 = process.cpuUsage();
      jsCpu0 = mainThreadCpuUs();
      hist.enable();
      setTimeout(() => {
        t1 = performance.now();
        counted = ops;
        hist.disable();
        const cpu = process.cpuUsage(cpu0);
        cpuCores = (cpu.user + cpu.system) / 1000 / (t1 - t0);
        // The JS thread's share: what it spends per signature bounds what the other threads get.
        const js = mainThreadCpuUs() - jsCpu0;
        jsCpuUsPerOp = js / counted;
        otherCpuUsPerOp = (cpu.user + cpu.system - js) / counted;
        phase = 'stop';
      }, opts.seconds * 1000);
    }, opts.warmupSeconds * 1000);
  });
}

// ---- 4. SHA-256 over 64 MB -----------------------------------------------------------------

function sha({ mod, sessions }) {
  const s = sessions[0];
  const chunk = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i++) chunk[i] = (i * 7 + 3) & 0xff; // same bytes as cloop.c
  const out = Buffer.alloc(32);
  const ms = [];
  let digest;
  for (let r = 0; r < opts.reps + 1; r++) {
    const t0 = performance.now();
    mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
    for (let i = 0; i < opts.mb; i++) mod.C_DigestUpdate(s, chunk);
    digest = opts.impl === 'pkcs11js' ? mod.C_DigestFinal(s, out) : mod.C_DigestFinal(s);
    const t1 = performance.now();
    if (r > 0) ms.push(t1 - t0); // the first run is a warm-up
  }
  const h = crypto.createHash('sha256');
  for (let i = 0; i < opts.mb; i++) h.update(chunk);
  const expected = h.digest('hex');
  if (digest.toString('hex') !== expected) throw new Error(`SHA-256 mismatch: ${digest.toString('hex')} != ${expected}`);
  return { mb: opts.mb, ms, digest: digest.toString('hex') };
}

async function main() {
  const ctx = setup();
  let result;
  switch (opts.measure) {
    case 'cheap': result = cheap(ctx); break;
    case 'sign': result = sign(ctx); break;
    case 'async': result = await asyncSign(ctx); break;
    case 'sha': result = sha(ctx); break;
    default: throw new Error(`unknown measure ${opts.measure}`);
  }
  const info = { measure: opts.measure, impl: opts.impl, lib: ctx.name };
  if (ctx.binding) info.binding = ctx.binding;
  if (ctx.version) info.version = ctx.version;
  if (opts.measure === 'async') info.threadpool = process.env.UV_THREADPOOL_SIZE || 'default (4)';
  process.stdout.write(JSON.stringify({ ...info, ...result }) + '\n');
  for (const s of ctx.sessions) ctx.mod.C_CloseSession(s);
  ctx.mod.C_Finalize();
  const cpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({ cpuSec: (cpu.user + cpu.system) / 1e6 }) + '\n');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
