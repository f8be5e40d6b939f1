#!/usr/bin/env node
// bench/raw's ratios against C, measured in ONE process in alternating slices, for a machine whose
// speed changes from one process to the next (this VM: the standalone C loop itself moved by 40%
// between runs of bench/raw/run.js). Each slice runs the C loop (bench/raw/cloop.c as the N-API
// addon cloop-node.c, on its own copy of the SoftHSM file so it is a separate module instance,
// opened with RTLD_DEEPBIND as p11bridge opens its module) and then p11bridge (or the other way
// round, alternating), and a row's ratio is the median of the per-slice ratios.
//
// Rows: cheap call (C_GetSessionInfo); sync sign (C_SignInit + C_Sign(h, digest), one thread;
// and with a 72-byte out buffer; and the C loop itself run on the JS thread, no binding at all); async sign against C with 2 threads: the raw chain (sync
// C_SignInit + await C_SignAsync, 4 sessions), the typed privateKey.sign() from 8 callers over a
// 4-session pool, and the event-loop hand-off in plain C (cloop.c's `handoff`, both shapes).
//
// The one-thread rows (cheap call, sync sign) run in a child pinned to one CPU with taskset, so the
// C loop's thread and the JS thread cannot land on vCPUs of different speed (this VM's two differ
// by up to a third from minute to minute); the async rows use both CPUs, in a second child.
//
// Usage: node bench/raw/interleaved.js [--slices N] [--cpu N] [--json]
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { createSoftHSM } = require('../../scripts/softhsm.js');
const { busySeconds, compileCLoopAddon, machineEnv } = require('../common.js');

const argv = process.argv.slice(2);
const slices = Number(argv[argv.indexOf('--slices') + 1]) || 15;
const json = argv.includes('--json');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null; // sync | async (children)
const cpu = String(Number(argv[argv.indexOf('--cpu') + 1]) || 0);
const log = (s) => process.stderr.write(s + '\n');
const root = path.join(__dirname, '..', '..');
const TOKEN = { label: 'interleaved', soPin: '12345678', userPin: '1234' };
const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex');
const DIGEST = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 0xff));
const SLICE_S = 0.4;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// The C loop: its JSON lines, parsed (the last object that has `field`).
function cloop(addon, copy, args, field) {
  const { rc, output } = addon.capture([copy, TOKEN.label, TOKEN.userPin, ...args.map(String)]);
  if (rc !== 0) throw new Error(`C loop ${args.join(' ')} exited ${rc}: ${output}`);
  const lines = output
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const hit = lines.reverse().find((o) => o[field] !== undefined);
  if (!hit) throw new Error(`C loop ${args.join(' ')}: no ${field} in ${output}`);
  return Array.isArray(hit[field]) ? Math.min(...hit[field]) : hit[field];
}

function cloopSplit(addon, copy) {
  const { rc, output } = addon.capture([copy, TOKEN.label, TOKEN.userPin, 'split', '100', String(Math.round(SLICE_S * 20000))]);
  if (rc !== 0) throw new Error(`C loop split exited ${rc}: ${output}`);
  return JSON.parse(output.trim().split('\n')[0]);
}

function setupP11(raw, modulePath) {
  const mod = new raw.PKCS11();
  mod.load(modulePath); // RTLD_DEEPBIND, as the C loop here
  mod.C_Initialize();
  const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label.trim() === TOKEN.label);
  const sessions = [0, 1, 2, 3].map(() => mod.C_OpenSession(slot, raw.CKF_SERIAL_SESSION | raw.CKF_RW_SESSION));
  mod.C_Login(sessions[0], raw.CKU_USER, TOKEN.userPin);
  const { privateKey } = mod.C_GenerateKeyPair(
    sessions[0],
    { mechanism: raw.CKM_EC_KEY_PAIR_GEN },
    [
      { type: raw.CKA_TOKEN, value: false },
      { type: raw.CKA_EC_PARAMS, value: P256_OID },
      { type: raw.CKA_VERIFY, value: true },
    ],
    [
      { type: raw.CKA_TOKEN, value: false },
      { type: raw.CKA_PRIVATE, value: true },
      { type: raw.CKA_SENSITIVE, value: true },
      { type: raw.CKA_SIGN, value: true },
    ],
  );
  return { mod, sessions, privateKey, mech: { mechanism: raw.CKM_ECDSA }, out: Buffer.alloc(72) };
}

// p11bridge's side of each row: operations per second over about SLICE_S seconds.
function timedSync(fn) {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < SLICE_S * 1000) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function chain(p) {
  const t0 = performance.now();
  const until = t0 + SLICE_S * 1000;
  let n = 0;
  await Promise.all(
    p.sessions.map(async (h) => {
      while (performance.now() < until) {
        p.mod.C_SignInit(h, p.mech, p.privateKey);
        const sig = await p.mod.C_SignAsync(h, DIGEST);
        if (sig.length !== 64) throw new Error('bad signature');
        n++;
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function typed(t) {
  const t0 = performance.now();
  const until = t0 + SLICE_S * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() < until) {
        const sig = await t.pool.use(async (s) => (await t.keyFor(s)).sign({ name: 'ECDSA' }, DIGEST));
        if (sig.length !== 64) throw new Error('bad signature');
        n++;
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function openTyped(modulePath, privateKey) {
  const p11 = require(path.join(root, 'dist', 'index.js'));
  const m = await p11.Module.open({ path: modulePath });
  const slot = await m.findSlot(TOKEN.label);
  const pool = await slot.pool({ size: 4 });
  const keys = new Map();
  const keyFor = async (s) => {
    let k = keys.get(s);
    if (!k) keys.set(s, (k = await s.object(privateKey)));
    return k;
  };
  return { m, pool, keyFor };
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-interleaved-'));
  const fx = createSoftHSM({ tokens: [TOKEN] });
  try {
    const addonPath = compileCLoopAddon(tmp);
    if (!addonPath) throw new Error("cannot build the C loop addon (cc and Node's headers are needed)");
    const addon = require(addonPath);
    process.env.CLOOP_DEEPBIND = '1';
    const copy = path.join(tmp, 'libsofthsm2-for-c.so');
    fs.copyFileSync(fx.modulePath, copy);
    const raw = require(path.join(root, 'dist', 'raw.js'));
    const p = setupP11(raw, fx.modulePath);
    const t = await openTyped(fx.modulePath, p.privateKey);
    const h = p.sessions[0];

    // Each row: the C side and p11bridge's variants, each () => value (ns, or ops/s).
    const rows = [
      {
        row: 'cheap call C_GetSessionInfo (ns)',
        lower: true,
        c: () => cloop(addon, copy, ['cheap', 20000, 200000, 1], 'ns'),
        p: {
          p11bridge: () => {
            const n = 200000;
            const t0 = process.hrtime.bigint();
            for (let i = 0; i < n; i++) p.mod.C_GetSessionInfo(h);
            return Number(process.hrtime.bigint() - t0) / n;
          },
        },
      },
      {
        row: 'sync sign ECDSA P-256 (ops/s), 1 thread',
        c: () => cloop(addon, copy, ['sign', 100, SLICE_S, 1, 0], 'opsPerSec'),
        p: {
          'p11bridge C_Sign(h, digest)': () =>
            timedSync(() => {
              p.mod.C_SignInit(h, p.mech, p.privateKey);
              p.mod.C_Sign(h, DIGEST);
            }),
          'p11bridge C_Sign(h, digest, out72)': () =>
            timedSync(() => {
              p.mod.C_SignInit(h, p.mech, p.privateKey);
              p.mod.C_Sign(h, DIGEST, p.out);
            }),
          // The C loop again, but on the JS thread (cloop's split measure runs on the calling
          // thread; the sign measure starts its own thread): what the thread costs the module,
          // apart from the binding. Its two clock readings per signature cost well under 1%.
          'C loop on the JS thread (no binding)': () => {
            const o = cloopSplit(addon, copy);
            return 1e6 / (o.signInitUs + o.signUs);
          },
        },
      },
      {
        row: 'async sign (ops/s) vs C with 2 threads',
        async: true,
        c: () => cloop(addon, copy, ['sign', 100, SLICE_S, 2, 0], 'opsPerSec'),
        p: {
          'raw chain: C_SignInit + await C_SignAsync, 4 sessions': () => chain(p),
          'typed sign(), 8 callers, 4-session pool': () => typed(t),
          // The event-loop hand-off in plain C (cloop.c's `handoff`, this thread as the loop, 2
          // workers, 4 sessions): the bound for any binding of one JS thread. README "The async gap".
          'C event-loop hand-off, no binding': () => cloop(addon, copy, ['handoff', 0.1, SLICE_S, 2, 4, 0], 'opsPerSec'),
          'C event-loop hand-off, C_SignInit on the loop': () => cloop(addon, copy, ['handoff', 0.1, SLICE_S, 2, 4, 1], 'opsPerSec'),
        },
      },
    ];

    const busy0 = busySeconds();
    const t0 = Date.now();
    const results = [];
    for (const r of rows.filter((x) => (only === 'sync' ? !x.async : x.async))) {
      const names = Object.keys(r.p);
      const ratios = Object.fromEntries(names.map((k) => [k, []]));
      const values = { C: [], ...Object.fromEntries(names.map((k) => [k, []])) };
      // one warm-up of each side
      r.c();
      for (const k of names) await r.p[k]();
      for (let i = 0; i < slices; i++) {
        const pFirst = i % 2 === 1;
        const got = {};
        if (!pFirst) got.C = r.c();
        for (const k of names) got[k] = await r.p[k]();
        if (pFirst) got.C = r.c();
        values.C.push(got.C);
        for (const k of names) {
          values[k].push(got[k]);
          ratios[k].push(got[k] / got.C);
        }
      }
      const res = { row: r.row, lowerIsBetter: !!r.lower, c: median(values.C), variants: {} };
      for (const k of names) res.variants[k] = { value: median(values[k]), ratio: median(ratios[k]), range: [Math.min(...ratios[k]), Math.max(...ratios[k])] };
      results.push(res);
      log(`${r.row}: C ${res.c.toFixed(0)}; ` + names.map((k) => `${k} ${res.variants[k].ratio.toFixed(3)}`).join(', '));
    }
    const busy = busy0 === null ? null : (busySeconds() - busy0) / ((Date.now() - t0) / 1000);
    await t.pool.close();
    await t.m.close();
    p.mod.C_Finalize();
    const env = machineEnv(fx.modulePath);
    process.stdout.write(JSON.stringify({ env: { ...env, machineBusyCores: busy }, results }) + '\n');
  } finally {
    fx.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// The parent: both children, then one table.
function parent() {
  const haveTaskset = spawnSync('taskset', ['--version']).status === 0;
  const part = (which, pin) => {
    const args = [__filename, '--only', which, '--slices', String(slices)];
    const cmd = pin && haveTaskset ? 'taskset' : process.execPath;
    const full = pin && haveTaskset ? ['-c', cpu, process.execPath, ...args] : args;
    const r = spawnSync(cmd, full, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900000 });
    if (r.status !== 0) throw new Error(`${which} part failed (exit ${r.status})`);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  const sync = part('sync', true);
  const asyncPart = part('async', false);
  const results = [...sync.results, ...asyncPart.results];
  const env = sync.env;
  if (json) {
    process.stdout.write(JSON.stringify({ env, pinnedCpu: haveTaskset ? cpu : null, slices, sliceSeconds: SLICE_S, results, busy: { sync: sync.env.machineBusyCores, async: asyncPart.env.machineBusyCores } }, null, 2) + '\n');
    return;
  }
  const out = [`node ${env.node}, ${env.cpus} × ${env.cpuModel}, SoftHSM ${env.softhsm}; ${slices} alternating slices per row in one process, medians`, ''];
  out.push('| row | C | p11bridge | value | ratio to C (median; min–max) |', '|---|---|---|---|---|');
  for (const r of results) {
    for (const [k, v] of Object.entries(r.variants)) {
      out.push(`| ${r.row} | ${r.c.toFixed(0)} | ${k} | ${v.value.toFixed(0)} | ${v.ratio.toFixed(3)} (${v.range.map((x) => x.toFixed(2)).join('–')}) |`);
    }
  }
  out.push('', 'ratios: p11bridge / C (for ns, lower is better; for ops/s, higher is better).');
  out.push(haveTaskset ? `one-thread rows pinned to CPU ${cpu} (taskset); async rows on both CPUs` : 'no taskset: one-thread rows not pinned');
  const f = (b) => (b === null || b === undefined ? 'n/a' : b.toFixed(2));
  out.push(`whole machine busy: ${f(sync.env.machineBusyCores)} (one-thread rows), ${f(asyncPart.env.machineBusyCores)} (async rows) of ${env.cpus} cores, this process included`);
  process.stdout.write(out.join('\n') + '\n');
}

(only ? main() : Promise.resolve().then(parent)).catch((e) => {
  log(e && e.stack ? e.stack : String(e));
  process.exitCode = 1;
});
