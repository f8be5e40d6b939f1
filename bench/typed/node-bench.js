#!/usr/bin/env node
// One scenario in one process, for bench/typed/run.js: node node-bench.js '<json options>'.
//
// Opens the module through the typed layer (dist/index.js: Module.open, the same RTLD_DEEPBIND
// load as the raw bench), logs in, makes the scenario's keys with the typed API, and then measures
// every variant of the scenario in alternating rounds on the same sessions and key handles: the
// raw variants call `module.raw` (the very PKCS11 object the typed layer drives) with the session
// handles the typed Session objects own, so typed and raw differ only in the JS on top.
//
// Prints one JSON line: { scenario, variants: { name: { samples: [ops/s…], cpuUsPerOp: […],
// backgroundCores: […] } }, rounds: [{ name: ops/s }…], notes }, then one with the process's CPU
// time. With cpuProfileDir: { scenario, profiles: { name: [{ file, ops, opsPerSec }…] } } instead.
//
// options: scenario (see SCENARIOS), module, label, pin, clkTck, rounds, sampleMs, warmupMs,
//          sessions, mode + size (aes), only: [variant names], cpuProfileDir, profileRounds,
//          profileIntervalUs. Run it with --expose-gc (run.js does).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { performance, PerformanceObserver } = require('node:perf_hooks');

const root = path.join(__dirname, '..', '..');
const dist = (p) => require(path.join(root, 'dist', p));
const p11 = dist('index.js');

const opts = JSON.parse(process.argv[2]);
const now = () => performance.now();

// PKCS#11 spec values, so the raw variants do not depend on the typed layer's tables.
const CKM_ECDSA = 0x1041;
const CKM_SHA256_RSA_PKCS = 0x40;
const CKM_AES_GCM = 0x1087;
const CKM_AES_CBC_PAD = 0x1085;

const DIGEST = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 0xff)); // same bytes as bench/raw
const ECDSA_RAW = { mechanism: CKM_ECDSA };
const ECDSA_TYPED = { name: 'ECDSA' };

// ---- timing ---------------------------------------------------------------------------------

/** `chains` async loops (one per session) for `ms`; ops/s over the time until the last one ends. */
async function timeChains(ops, ms) {
  let count = 0;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const end = t0 + ms;
  await Promise.all(
    ops.map(async (op) => {
      while (now() < end) {
        await op();
        count++;
      }
    }),
  );
  const t1 = now();
  const cpu = process.cpuUsage(cpu0);
  return { ops: count, opsPerSec: count / ((t1 - t0) / 1000), cpuUsPerOp: (cpu.user + cpu.system) / count };
}

/** A synchronous loop for `ms` (the clock is read every 8 ops). */
function timeSync(op, ms) {
  let count = 0;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const end = t0 + ms;
  let t1;
  for (;;) {
    for (let i = 0; i < 8; i++) op();
    count += 8;
    t1 = now();
    if (t1 >= end) break;
  }
  const cpu = process.cpuUsage(cpu0);
  return { ops: count, opsPerSec: count / ((t1 - t0) / 1000), cpuUsPerOp: (cpu.user + cpu.system) / count };
}

/**
 * CPU seconds used so far (from /proc/stat) by the whole machine, or by CPU opts.cpu when this
 * process is pinned to it; null where there is no /proc/stat.
 */
function machineBusySeconds() {
  try {
    const name = typeof opts.cpu === 'number' ? `cpu${opts.cpu}` : 'cpu';
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(name + ' '));
    const cpu = line.trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0); // guest time is already in user
    return (total - cpu[3] - cpu[4]) / (opts.clkTck || 100); // minus idle and iowait
  } catch {
    return null;
  }
}

// GC pauses (perf_hooks 'gc' entries: start, duration), for gcUsPerOp: those that start inside a
// window count for it (the forced gc() between windows does not).
const gcEntries = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcEntries.push([e.startTime, e.duration]);
}).observe({ entryTypes: ['gc'] });

/**
 * One window of variant `v`. `backgroundCores`: CPU that other processes used meanwhile (busy
 * time of the machine, or of the CPU this process is pinned to, minus this process's), per second
 * of wall time. `gcUsPerOp`: GC pauses that started in the window, per operation.
 */
async function measure(v, ms) {
  if (v.before) v.before();
  const b0 = machineBusySeconds();
  const c0 = process.cpuUsage();
  const t0 = now();
  const res = v.sync ? timeSync(v.sync, ms) : await timeChains(v.chains, ms);
  const wall = (now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const b1 = machineBusySeconds();
  await new Promise((r) => setTimeout(r, 5)); // the observer reports asynchronously
  const t1 = t0 + wall * 1000;
  const inWindow = gcEntries.filter(([start]) => start >= t0 && start < t1);
  res.gcUsPerOp = (inWindow.reduce((a, [, d]) => a + d, 0) * 1000) / res.ops;
  gcEntries.length = 0;
  res.backgroundCores = b0 === null || b1 === null ? null : Math.max(0, (b1 - b0 - (c.user + c.system) / 1e6) / wall);
  return res;
}

// ---- setup ----------------------------------------------------------------------------------

async function setup() {
  const mod = await p11.Module.open(opts.module);
  const slot = await mod.findSlot(opts.label);
  if (!slot) throw new Error(`no token labelled ${opts.label}`);
  const sessions = [];
  for (let i = 0; i < Math.max(1, opts.sessions || 1); i++) sessions.push(await slot.openSession({ write: true }));
  await sessions[0].login(opts.pin);
  return { mod, slot, raw: mod.raw, sessions };
}

/** One key (pair) per session, made with the typed API (its default templates: session objects). */
async function ecKeys(ctx) {
  return Promise.all(ctx.sessions.map((s) => s.generateKeyPair({ name: 'EC', curve: 'P-256' }).then((kp) => kp.privateKey)));
}

// ---- scenarios ------------------------------------------------------------------------------
//
// Each returns { variants: [{ name, chains?: [() => Promise], sync?: () => void }], check() }.
// `typed` and `raw-async` are the pair the headline ratio compares; the rest explain it.

/** A raw chain doing what the typed one-shot does: C_XInitAsync, then C_XAsync, both awaited. */
function rawAsync2(raw, h, init, call) {
  return async () => {
    await init(raw, h);
    return call(raw, h);
  };
}

const SCENARIOS = {
  // ECDSA P-256 over a 32-byte digest, one session or several in parallel (opts.sessions).
  async ecdsa(ctx) {
    const { raw, sessions } = ctx;
    const keys = await ecKeys(ctx);
    const hs = sessions.map((s) => s.handle);
    const kh = keys.map((k) => k.handle);
    const variants = [
      { name: 'typed', chains: keys.map((k) => () => k.sign(ECDSA_TYPED, DIGEST)) },
      {
        name: 'raw-async',
        chains: hs.map((h, i) => async () => {
          await raw.C_SignInitAsync(h, ECDSA_RAW, kh[i]);
          return raw.C_SignAsync(h, DIGEST);
        }),
      },
      {
        // One pool trip: C_SignInit on the JS thread (what bench/raw's async row does).
        name: 'raw-async1',
        chains: hs.map((h, i) => () => {
          raw.C_SignInit(h, ECDSA_RAW, kh[i]);
          return raw.C_SignAsync(h, DIGEST);
        }),
      },
    ];
    if (hs.length === 1) {
      variants.push({
        name: 'raw-sync',
        sync: () => {
          raw.C_SignInit(hs[0], ECDSA_RAW, kh[0]);
          return raw.C_Sign(hs[0], DIGEST);
        },
      });
    }
    return { variants, check: () => checkEcdsa(keys[0]) };
  },

  // The proposals in bench/README.md ("Where the typed time goes"), tried on the real typed path:
  // bench/typed/patches.js swaps functions in the dist/ modules loaded by this process (nothing on
  // disk changes), each variant switching its patches on for its own window. Cumulative.
  async 'ecdsa-proposals'(ctx) {
    const PATCHES = require('./patches.js');
    const { mod, raw, sessions } = ctx;
    const [key] = await ecKeys(ctx);
    const h = sessions[0].handle;
    const k = key.handle;
    const typed = [() => key.sign(ECDSA_TYPED, DIGEST)];
    const off = () => PATCHES.set(mod, []);
    const upTo = (n) => PATCHES.names.slice(0, n);
    const variants = [
      { name: 'raw-async', chains: [async () => { await raw.C_SignInitAsync(h, ECDSA_RAW, k); return raw.C_SignAsync(h, DIGEST); }], before: off },
      { name: 'typed', chains: typed, before: off },
    ];
    for (let n = 1; n <= 6; n++) {
      const names = upTo(n);
      variants.push({ name: `typed ${n === 1 ? 'P1' : 'P1-P' + n}`, chains: typed, before: () => PATCHES.set(mod, names) });
    }
    variants.push({ name: 'typed P7', chains: typed, before: () => PATCHES.set(mod, ['P7']) });
    variants.push({ name: 'typed P7+P6', chains: typed, before: () => PATCHES.set(mod, ['P7', 'P6']) });
    variants.push({ name: 'raw-async1', chains: [() => { raw.C_SignInit(h, ECDSA_RAW, k); return raw.C_SignAsync(h, DIGEST); }], before: off });

    // Does a failing sign() name its awaiting caller (a function in this file) in the stack?
    // Recorded for the current code, required of the lazy capture (P1+P2: the proposal's shape).
    const stackHasCaller = {};
    const check = async () => {
      for (const on of [[], ['P1', 'P2'], upTo(5), ['P7']]) {
        PATCHES.set(mod, on);
        await checkEcdsa(key);
        // The failure happens outside a measured window, so P1's no-op capture is lifted for it;
        // P2 then takes the stack lazily in its catch.
        if (on.includes('P1')) Error.captureStackTrace = PATCHES.originalCaptureStackTrace;
        if (on.includes('P7')) await key.sign(ECDSA_TYPED, DIGEST); // P7 needs the Set fetched once
        const bad = new p11.PrivateKey(sessions[0], 0x7fffffff);
        const e = await (async function awaitingCallerInBenchFile() {
          try {
            await bad.sign(ECDSA_TYPED, DIGEST);
            return null;
          } catch (err) {
            return err;
          }
        })();
        if (!e || !e.rvName) throw new Error(`patches [${on}]: sign with a bad handle did not fail with a PKCS#11 error: ${e && e.stack}`);
        const tail = String(e.stack).split('--- async call made at ---')[1] || '';
        const ok = /awaitingCallerInBenchFile/.test(tail);
        stackHasCaller[on.join('+') || 'current'] = ok;
        if (on.length && !ok) throw new Error(`patches [${on}]: the error stack lacks the awaiting caller:\n${e.stack}`);
      }
      PATCHES.set(mod, []);
    };
    return { variants, check, notes: { stackHasCaller } };
  },

  // AES encrypt of opts.size bytes; opts.mode 'gcm' (fresh 12-byte IV per call, 128-bit tag) or
  // 'cbc' (CKM_AES_CBC_PAD, fresh IV per call). Both sides build the mechanism per call.
  async aes(ctx) {
    const { raw, sessions } = ctx;
    const keys = await Promise.all(sessions.map((s) => s.generateKey({ name: 'AES', length: 256 })));
    const h = sessions[0].handle;
    const k = keys[0].handle;
    const msg = Buffer.alloc(opts.size, 0x5a);
    let n = 0;
    const nextIv = (len) => {
      const iv = Buffer.alloc(len);
      iv.writeUInt32BE(++n >>> 0, len - 4);
      return iv;
    };
    const gcm = opts.mode === 'gcm';
    const typedSpec = gcm
      ? () => ({ name: 'AES-GCM', iv: nextIv(12), tagLength: 128 })
      : () => ({ name: 'AES-CBC', iv: nextIv(16) });
    const rawMech = gcm
      ? () => ({ mechanism: CKM_AES_GCM, parameter: p11.params.gcmParams({ iv: nextIv(12), tagBits: 128 }) })
      : () => ({ mechanism: CKM_AES_CBC_PAD, parameter: nextIv(16) });
    const variants = [
      { name: 'typed', chains: [() => keys[0].encrypt(typedSpec(), msg)] },
      {
        name: 'raw-async',
        chains: [
          async () => {
            await raw.C_EncryptInitAsync(h, rawMech(), k);
            return raw.C_EncryptAsync(h, msg);
          },
        ],
      },
      {
        name: 'raw-async1',
        chains: [
          () => {
            raw.C_EncryptInit(h, rawMech(), k);
            return raw.C_EncryptAsync(h, msg);
          },
        ],
      },
      {
        name: 'raw-sync',
        sync: () => {
          raw.C_EncryptInit(h, rawMech(), k);
          return raw.C_Encrypt(h, msg);
        },
      },
    ];
    const check = async () => {
      const spec = typedSpec();
      const ct = await keys[0].encrypt(spec, msg);
      const pt = await keys[0].decrypt(spec, ct);
      if (!pt.equals(msg)) throw new Error('AES round trip failed');
      const expect = gcm ? msg.length + 16 : (Math.floor(msg.length / 16) + 1) * 16;
      if (ct.length !== expect) throw new Error(`AES ciphertext length ${ct.length}, expected ${expect}`);
    };
    return { variants, check };
  },

  // RSA-2048 PKCS#1 v1.5 with SHA-256 hashed by the module (CKM_SHA256_RSA_PKCS) over 32 bytes.
  async rsa(ctx) {
    const { raw, sessions } = ctx;
    const kp = await sessions[0].generateKeyPair({ name: 'RSA', modulusLength: 2048 });
    const key = kp.privateKey;
    const h = sessions[0].handle;
    const k = key.handle;
    const spec = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const mech = { mechanism: CKM_SHA256_RSA_PKCS };
    const variants = [
      { name: 'typed', chains: [() => key.sign(spec, DIGEST)] },
      {
        name: 'raw-async',
        chains: [
          async () => {
            await raw.C_SignInitAsync(h, mech, k);
            return raw.C_SignAsync(h, DIGEST);
          },
        ],
      },
      {
        name: 'raw-sync',
        sync: () => {
          raw.C_SignInit(h, mech, k);
          return raw.C_Sign(h, DIGEST);
        },
      },
    ];
    const check = async () => {
      const sig = await key.sign(spec, DIGEST);
      if (sig.length !== 256) throw new Error(`RSA signature length ${sig.length}`);
      if (!(await kp.publicKey.verify(spec, DIGEST, sig))) throw new Error('RSA signature does not verify');
    };
    return { variants, check };
  },
};

async function checkEcdsa(key, sig) {
  sig = sig || (await key.sign(ECDSA_TYPED, DIGEST));
  if (sig.length !== 64) throw new Error(`ECDSA signature length ${sig.length}`);
}

// ---- CPU profiles (bench/typed/profile.js) --------------------------------------------------

/**
 * V8 CPU profiles of each variant: opts.profileRounds windows of opts.sampleMs per variant,
 * alternating variants window by window (after the warm-up), one file per window.
 */
async function profileVariants(ctx, variants) {
  const inspector = require('node:inspector');
  const session = new inspector.Session();
  session.connect();
  const post = (method, params) => new Promise((res, rej) => session.post(method, params, (e, r) => (e ? rej(e) : res(r))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: opts.profileIntervalUs || 500 });
  const files = {};
  for (const v of variants) files[v.name] = [];
  for (let r = 0; r < (opts.profileRounds || 1); r++) {
    for (const v of variants) {
      if (typeof global.gc === 'function') global.gc();
      await post('Profiler.start');
      const res = await measure(v, opts.sampleMs);
      const { profile } = await post('Profiler.stop');
      const file = path.join(opts.cpuProfileDir, `${v.name}-${r}.cpuprofile`);
      fs.writeFileSync(file, JSON.stringify(profile));
      files[v.name].push({ file, ops: res.ops, opsPerSec: res.opsPerSec, backgroundCores: res.backgroundCores });
    }
  }
  session.disconnect();
  process.stdout.write(JSON.stringify({ scenario: opts.scenario, profiles: files }) + '\n');
  for (const s of ctx.sessions) await s.close();
  await ctx.mod.close();
}

// ---- main -----------------------------------------------------------------------------------

async function main() {
  const scenario = SCENARIOS[opts.scenario];
  if (!scenario) throw new Error(`unknown scenario ${opts.scenario}`);
  const ctx = await setup();
  const made = await scenario(ctx);
  const check = made.check;
  const variants = opts.only && !opts.cpuProfileDir ? made.variants.filter((v) => opts.only.includes(v.name)) : made.variants;
  await check();
  const gc = typeof global.gc === 'function' ? global.gc : () => {};

  // Warm-up: every variant, so each is JIT-compiled before the first counted round.
  for (const v of variants) await measure(v, opts.warmupMs);

  if (opts.cpuProfileDir) return profileVariants(ctx, opts.only ? variants.filter((v) => opts.only.includes(v.name)) : variants);

  const out = {};
  for (const v of variants) out[v.name] = { samples: [], cpuUsPerOp: [], gcUsPerOp: [], backgroundCores: [] };
  const rounds = [];
  for (let r = 0; r < opts.rounds; r++) {
    // Rotate the order each round so no variant always follows the same one (or goes first).
    const order = variants.map((_, i) => variants[(i + r) % variants.length]);
    const round = {};
    for (const v of order) {
      gc(); // the previous variant's garbage is collected outside this one's window
      const res = await measure(v, opts.sampleMs);
      out[v.name].samples.push(res.opsPerSec);
      out[v.name].cpuUsPerOp.push(res.cpuUsPerOp);
      out[v.name].backgroundCores.push(res.backgroundCores);
      out[v.name].gcUsPerOp.push(res.gcUsPerOp);
      round[v.name] = res.opsPerSec;
    }
    rounds.push(round);
  }
  await check();

  process.stdout.write(
    JSON.stringify({ scenario: opts.scenario, tag: opts.tag, sessions: ctx.sessions.length, size: opts.size, variants: out, rounds, notes: made.notes }) + '\n',
  );
  for (const s of ctx.sessions) await s.close();
  await ctx.mod.close();
  const cpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({ cpuSec: (cpu.user + cpu.system) / 1e6 }) + '\n');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
