#!/usr/bin/env node
// Raw-layer benchmark: p11bridge vs pkcs11js vs a C loop, against a throw-away SoftHSM token.
//
//   node bench/raw/run.js          table with ratios and PASS/MISS per target
//   node bench/raw/run.js --json   the same numbers as JSON on stdout (progress goes to stderr)
//
// Every measurement runs in its own child process, one at a time (bench/raw/node-bench.js for the
// two Node libraries, bench/raw/cloop.c compiled here for C), so they never share CPU or a
// PKCS#11 module instance. See bench/README.md for what is measured and how.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync, execFileSync } = require('node:child_process');
const { busySeconds, machineEnv, writeReport, cleanupRun, runMain, ensurePkcs11js, compileCLoopAddon } = require('../common');

const root = path.join(__dirname, '..', '..');
const JSON_OUT = process.argv.includes('--json');

const CFG = {
  cheap: { warmup: 20000, iters: 200000, reps: 5 },
  sign: { warmup: 300, seconds: 1, rounds: 3 },
  async: { warmupSeconds: 0.3, seconds: 2, rounds: 2, sessions: 4, cThreads: 2 },
  sha: { mb: 64, reps: 5 },
};
const TOKEN = { label: 'p11bridge-bench', soPin: '12345678', userPin: '1234' };

const log = (msg) => process.stderr.write(msg + '\n');

// ---- the C loop ---------------------------------------------------------------------------------

function compileCLoop(tmp) {
  const out = path.join(tmp, 'cloop');
  const args = ['-O2', '-o', out, 'bench/raw/cloop.c', '-ldl', '-lpthread', '-I', 'src-native/pkcs11'];
  const r = spawnSync('cc', args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.error || r.status !== 0) throw new Error(`cc ${args.join(' ')} failed: ${r.error ? r.error.message : 'exit ' + r.status}`);
  return out;
}

// ---- CPU used by everything else on the machine while a child ran ------------------------------

// busySeconds() (bench/common.js): the machine's busy CPU time, read around each child.

// ---- children -----------------------------------------------------------------------------------

const childEnv = { ...process.env };
delete childEnv.UV_THREADPOOL_SIZE; // the libuv default (4 threads)

// One-thread measurements run pinned to one CPU (taskset), C and Node alike: on this VM the two
// vCPUs differ in speed by up to a third from one minute to the next (the same C loop: 21,000
// signatures/s on one, 14,000 on the other, taskset -c 0 vs -c 1), so an unpinned child's result
// depended on where the scheduler put it. --cpu N picks the CPU; --no-pin turns it off. The async
// rows use both CPUs and are not pinned.
const PIN_CPU = process.argv.includes('--no-pin') ? null : String(Number(process.argv[process.argv.indexOf('--cpu') + 1]) || 0);
const HAVE_TASKSET = spawnSync('taskset', ['--version']).status === 0;
// cloop.c's `handoff` measure uses epoll and eventfd.
const HANDOFF = process.platform === 'linux';
const pinned = (measure) => PIN_CPU !== null && HAVE_TASKSET && measure !== 'async' && measure !== 'handoff';

function runChild(label, cmd, args, env = childEnv, timeoutMs = 60000, pin = false) {
  if (pin) {
    args = ['-c', PIN_CPU, cmd, ...args];
    cmd = 'taskset';
  }
  const b0 = busySeconds();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 20 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const b1 = busySeconds();
  if (r.error || r.status !== 0) {
    throw new Error(`${label}: ${r.error ? r.error.message : 'exit ' + r.status}\n${(r.stderr || '').trim()}`);
  }
  const out = {};
  for (const line of r.stdout.split('\n')) if (line.trim().startsWith('{')) Object.assign(out, JSON.parse(line));
  if (b0 !== null && b1 !== null && typeof out.cpuSec === 'number') {
    // Cores kept busy by other processes during the child's life (other builds, tests, …).
    out.backgroundCores = Math.max(0, (b1 - b0 - out.cpuSec) / wall);
  }
  return out;
}

function nodeChild(impl, measure, extra, env = {}) {
  const opts = { impl, measure, module: fx.modulePath, label: TOKEN.label, pin: TOKEN.userPin, ...extra };
  const note = Object.entries(env).map(([k, v]) => ` ${k}=${v}`).join('');
  log(`  ${measure.padEnd(6)} ${impl}${note}`);
  const args = [path.join(__dirname, 'node-bench.js'), JSON.stringify(opts)];
  return runChild(`${impl} ${measure}${note}`, process.execPath, args, { ...childEnv, ...env }, 60000, pinned(measure));
}

function cChild(measure, args, name) {
  log(`  ${measure.padEnd(6)} ${name}`);
  const threads = measure === 'sign' ? Number(args[2]) : 1;
  return runChild(`C ${measure}`, cloop, [fx.modulePath, TOKEN.label, TOKEN.userPin, measure, ...args.map(String)], childEnv, 60000, threads === 1 && pinned(measure));
}

// The C loop inside `node`, the module opened with RTLD_DEEPBIND (as p11bridge does) or without.
function cInNodeChild(measure, args, deepBind) {
  if (!cloopAddon) return null;
  log(`  ${measure.padEnd(6)} C loop inside node${deepBind ? ', RTLD_DEEPBIND' : ''}`);
  const argv = [fx.modulePath, TOKEN.label, TOKEN.userPin, measure, ...args.map(String)];
  const code = `process.exitCode = require(${JSON.stringify(cloopAddon)}).run(${JSON.stringify(argv)})`;
  return runChild('C-in-node', process.execPath, ['-e', code], { ...childEnv, CLOOP_DEEPBIND: deepBind ? '1' : '0' }, 60000, pinned(measure));
}

// ---- main ---------------------------------------------------------------------------------------

const min = (a) => Math.min(...a);
const max = (a) => Math.max(...a);

let fx;
let cloop;
let cloopAddon;
let tmp;

function main() {
  const started = Date.now();
  const pk = ensurePkcs11js();
  if (!pk.ok) log(`pkcs11js unavailable, its rows are n/a: ${pk.why}`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-bench-'));
  cloop = compileCLoop(tmp);
  cloopAddon = compileCLoopAddon(tmp);
  if (!cloopAddon) log('no node_api.h found: the "C loop inside node" rows are n/a');
  const { createSoftHSM } = require('../../scripts/softhsm.js');
  fx = createSoftHSM({ tokens: [TOKEN] }); // sets process.env.SOFTHSM2_CONF
  childEnv.SOFTHSM2_CONF = process.env.SOFTHSM2_CONF;

  const nodeImpls = pk.ok ? ['p11bridge', 'pkcs11js'] : ['p11bridge'];
  const samples = { cheap: {}, sign: {}, split: {}, async: {}, sha: {} };
  const push = (m, impl, r) => (samples[m][impl] = samples[m][impl] || []).push(r);

  log('1. cheap call (C_GetSessionInfo)');
  const ch = CFG.cheap;
  push('cheap', 'c', cChild('cheap', [ch.warmup, ch.iters, ch.reps], 'C'));
  for (const impl of nodeImpls) push('cheap', impl, nodeChild(impl, 'cheap', ch));

  log('2. sync sign (C_SignInit + C_Sign, CKM_ECDSA, 32-byte digest)');
  const sg = CFG.sign;
  for (let round = 0; round < sg.rounds; round++) {
    push('sign', 'c', cChild('sign', [sg.warmup, sg.seconds, 1, 0], 'C (72-byte buffer, 1 call)'));
    for (const impl of nodeImpls) push('sign', impl, nodeChild(impl, 'sign', { ...sg, sessions: 1 }));
    // Extra rows for the analysis: a caller buffer (one C_Sign call), no RTLD_DEEPBIND (the module's
    // OpenSSL calls then bind to Node's copy, as under pkcs11js), C with a length query first.
    push('sign', 'p11bridge-out', nodeChild('p11bridge-out', 'sign', { ...sg, sessions: 1 }));
    push('sign', 'p11bridge-nodeep', nodeChild('p11bridge-nodeep', 'sign', { ...sg, sessions: 1 }));
    push('sign', 'c-query', cChild('sign', [sg.warmup, sg.seconds, 1, 1], 'C (length query + call)'));
    // The like-for-like check: the C loop inside a Node process, binding the module as p11bridge
    // does (RTLD_DEEPBIND: the system libcrypto) and as pkcs11js does (Node's OpenSSL).
    if (cloopAddon) {
      push('sign', 'c-in-node-deep', cInNodeChild('sign', [sg.warmup, sg.seconds, 1, 0], true));
      push('sign', 'c-in-node', cInNodeChild('sign', [sg.warmup, sg.seconds, 1, 0], false));
    }
  }
  push('split', 'c', cChild('split', [sg.warmup, 20000], 'C (C_SignInit and C_Sign timed apart)'));

  log(`3/5. async sign (${CFG.async.sessions} sessions in Node, ${CFG.async.cThreads} threads in C) and event-loop lag`);
  const as = CFG.async;
  for (let round = 0; round < as.rounds; round++) {
    push('async', 'c', cChild('sign', [sg.warmup, as.seconds, as.cThreads, 0], `C (${as.cThreads} threads)`));
    // The event-loop hand-off in C, no binding (cloop.c `handoff`): what any Node binding's async
    // path is bounded by on this machine. Same sessions and threads as the Node rows; the second
    // does C_SignInit on the loop thread, the raw chain's shape.
    if (HANDOFF) {
      const ho = [as.warmupSeconds, as.seconds, as.cThreads, as.sessions];
      push('async', 'c-handoff', cChild('handoff', [...ho, 0], 'C event-loop hand-off (C_SignInit + C_Sign on a worker)'));
      push('async', 'c-handoff-init', cChild('handoff', [...ho, 1], 'C event-loop hand-off (C_SignInit on the loop)'));
    }
    for (const impl of nodeImpls) push('async', impl, nodeChild(impl, 'async', as));
    // The typed layer as a server uses it: 8 callers over a 4-session slot.pool(), sign() (one
    // trip per signature: C_SignInit + C_Sign together on a call thread).
    push('async', 'p11bridge-typed', nodeChild('p11bridge-typed', 'async', { ...as, callers: 8 }));
    // Extra rows: C_SignInitAsync as well (two trips per signature), and a 1-thread libuv pool
    // (no effect since the addon has its own call threads: kept to show it).
    push('async', 'p11bridge-initasync', nodeChild('p11bridge-initasync', 'async', as));
    push('async', 'p11bridge-pool1', nodeChild('p11bridge', 'async', as, { UV_THREADPOOL_SIZE: '1' }));
  }

  log('4. SHA-256 over 64 MB in 1 MB updates');
  const sh = CFG.sha;
  push('sha', 'c', cChild('sha', [sh.mb, sh.reps], 'C'));
  for (const impl of nodeImpls) push('sha', impl, nodeChild(impl, 'sha', sh));

  const digests = new Set(Object.values(samples.sha).map((s) => s[0].digest));
  if (digests.size !== 1) throw new Error('SHA-256 digests differ between implementations');

  // Best of the samples: least ns, most ops/s, least ms. Lag: the worst window.
  const pick = (m, impl, f) => (samples[m][impl] ? f(samples[m][impl]) : null);
  const res = {
    cheapNs: {}, signOps: {}, asyncOps: {}, shaMBps: {}, shaMs: {}, lagMaxMs: {}, lagP99Ms: {}, asyncCpuCores: {},
  };
  for (const impl of ['c', 'p11bridge', 'pkcs11js']) {
    res.cheapNs[impl] = pick('cheap', impl, (s) => min(s.flatMap((x) => x.ns)));
    res.shaMs[impl] = pick('sha', impl, (s) => min(s.flatMap((x) => x.ms)));
    res.shaMBps[impl] = res.shaMs[impl] === null ? null : (CFG.sha.mb / res.shaMs[impl]) * 1000;
  }
  for (const impl of ['c', 'p11bridge', 'pkcs11js', 'p11bridge-out', 'p11bridge-nodeep', 'c-query', 'c-in-node-deep', 'c-in-node']) {
    res.signOps[impl] = pick('sign', impl, (s) => max(s.map((x) => x.opsPerSec)));
  }
  res.signSplitUs = pick('split', 'c', (s) => ({ signInit: min(s.map((x) => x.signInitUs)), sign: min(s.map((x) => x.signUs)) }));
  res.asyncJsCpuUs = {};
  res.asyncOtherCpuUs = {};
  for (const impl of ['c', 'p11bridge', 'pkcs11js', 'p11bridge-typed', 'p11bridge-initasync', 'p11bridge-pool1', 'c-handoff', 'c-handoff-init']) {
    res.asyncOps[impl] = pick('async', impl, (s) => max(s.map((x) => x.opsPerSec)));
    res.asyncCpuCores[impl] = pick('async', impl, (s) => max(s.map((x) => x.cpuCores)));
    // CPU µs per signature on the JS thread and on every other thread, from the best window.
    const best = pick('async', impl, (s) => s.reduce((a, b) => (b.opsPerSec > a.opsPerSec ? b : a)));
    res.asyncJsCpuUs[impl] = best && typeof best.jsCpuUsPerOp === 'number' ? best.jsCpuUsPerOp : null;
    res.asyncOtherCpuUs[impl] = best && typeof best.otherCpuUsPerOp === 'number' ? best.otherCpuUsPerOp : null;
  }
  // C's CPU per signature with 2 threads on the 2 cores (what one signature costs when both are
  // busy), and the bounds it sets on the Node rows, which also need their JS thread:
  // - any layout: ops/s <= cores / (C's CPU per signature + the JS thread's CPU per signature);
  // - the raw chain runs C_SignInit on the JS thread, one at a time: ops/s <= 1 / (JS CPU per op).
  const cCpuUs = res.asyncOps.c && res.asyncCpuCores.c ? (res.asyncCpuCores.c / res.asyncOps.c) * 1e6 : null;
  res.asyncBound = { cCpuUsPerSign: cCpuUs };
  for (const impl of ['p11bridge', 'pkcs11js', 'p11bridge-typed']) {
    const js = res.asyncJsCpuUs[impl];
    res.asyncBound[impl] =
      cCpuUs && js
        ? { cores: (os.cpus().length * 1e6) / (cCpuUs + js), jsThread: impl === 'p11bridge-typed' ? null : 1e6 / js }
        : null;
  }
  for (const impl of ['p11bridge', 'pkcs11js', 'p11bridge-typed', 'p11bridge-initasync', 'p11bridge-pool1']) {
    res.lagMaxMs[impl] = pick('async', impl, (s) => max(s.map((x) => x.lagMaxMs)));
    res.lagP99Ms[impl] = pick('async', impl, (s) => max(s.map((x) => x.lagP99Ms)));
  }

  // Time per signature beyond C's (µs): 1/ops − 1/ops_C.
  res.signOverheadUs = {};
  for (const impl of ['p11bridge', 'pkcs11js', 'p11bridge-out', 'p11bridge-nodeep', 'c-query']) {
    const o = res.signOps[impl];
    res.signOverheadUs[impl] = o && res.signOps.c ? (1 / o - 1 / res.signOps.c) * 1e6 : null;
  }
  const ratio = (a, b) => (a === null || b === null ? null : a / b);
  const ratios = [
    { name: 'cheap call p11bridge / C (ns)', value: ratio(res.cheapNs.p11bridge, res.cheapNs.c), target: '<= 2', ok: (v) => v <= 2 },
    { name: 'cheap call pkcs11js / C (ns)', value: ratio(res.cheapNs.pkcs11js, res.cheapNs.c) },
    { name: 'sync sign p11bridge / C (ops/s)', value: ratio(res.signOps.p11bridge, res.signOps.c), target: '>= 0.97', ok: (v) => v >= 0.97 },
    { name: 'sync sign p11bridge+out / C (ops/s)', value: ratio(res.signOps['p11bridge-out'], res.signOps.c) },
    { name: 'sync sign p11bridge no-deepbind / C', value: ratio(res.signOps['p11bridge-nodeep'], res.signOps.c) },
    { name: 'sync sign pkcs11js / C (ops/s)', value: ratio(res.signOps.pkcs11js, res.signOps.c) },
    { name: 'sync: C loop in node, DEEPBIND / C', value: ratio(res.signOps['c-in-node-deep'], res.signOps.c) },
    { name: 'sync: p11bridge / C loop in node, DEEPBIND', value: ratio(res.signOps.p11bridge, res.signOps['c-in-node-deep']) },
    { name: 'sync: p11bridge+out / C loop in node, DEEPB.', value: ratio(res.signOps['p11bridge-out'], res.signOps['c-in-node-deep']) },
    { name: 'sync: no-deepbind / C loop in node, no DEEPB.', value: ratio(res.signOps['p11bridge-nodeep'], res.signOps['c-in-node']) },
    { name: 'typed sign() 8 callers / C 2 threads', value: ratio(res.asyncOps['p11bridge-typed'], res.asyncOps.c), target: '>= 0.9', ok: (v) => v >= 0.9 },
    { name: 'async sign p11bridge / C 2 threads', value: ratio(res.asyncOps.p11bridge, res.asyncOps.c), target: '>= 0.8', ok: (v) => v >= 0.8 },
    { name: 'async sign p11bridge / pkcs11js', value: ratio(res.asyncOps.p11bridge, res.asyncOps.pkcs11js), target: '>= 1', ok: (v) => v >= 1 },
    { name: 'bound typed: cores / (C CPU + JS CPU) / C', value: ratio(res.asyncBound['p11bridge-typed'] && res.asyncBound['p11bridge-typed'].cores, res.asyncOps.c) },
    { name: 'bound raw chain: 1 / JS CPU per op / C', value: ratio(res.asyncBound.p11bridge && res.asyncBound.p11bridge.jsThread, res.asyncOps.c) },
    { name: 'bound: C hand-off / C 2 threads', value: ratio(res.asyncOps['c-handoff'], res.asyncOps.c) },
    { name: 'typed sign() / C hand-off', value: ratio(res.asyncOps['p11bridge-typed'], res.asyncOps['c-handoff']) },
    { name: 'C hand-off, Init on loop / C 2 threads', value: ratio(res.asyncOps['c-handoff-init'], res.asyncOps.c) },
    { name: 'raw chain / C hand-off, Init on loop', value: ratio(res.asyncOps.p11bridge, res.asyncOps['c-handoff-init']) },
    { name: 'async sign p11bridge InitAsync / C 2 thr', value: ratio(res.asyncOps['p11bridge-initasync'], res.asyncOps.c) },
    { name: 'async sign p11bridge pool=1 / C 2 thr', value: ratio(res.asyncOps['p11bridge-pool1'], res.asyncOps.c) },
    { name: 'async sign pkcs11js / C 2 threads', value: ratio(res.asyncOps.pkcs11js, res.asyncOps.c) },
    { name: 'SHA-256 p11bridge / C (MB/s)', value: ratio(res.shaMBps.p11bridge, res.shaMBps.c), target: '>= 0.95', ok: (v) => v >= 0.95 },
    { name: 'SHA-256 pkcs11js / C (MB/s)', value: ratio(res.shaMBps.pkcs11js, res.shaMBps.c) },
    { name: 'event-loop max lag p11bridge (ms)', value: res.lagMaxMs.p11bridge, target: '<= 5', ok: (v) => v <= 5, unit: 'ms' },
    { name: 'event-loop max lag typed sign() (ms)', value: res.lagMaxMs['p11bridge-typed'], target: '<= 5', ok: (v) => v <= 5, unit: 'ms' },
    { name: 'event-loop max lag pkcs11js (ms)', value: res.lagMaxMs.pkcs11js, unit: 'ms' },
  ].map((r) => ({
    name: r.name,
    value: r.value,
    target: r.target || null,
    result: !r.target ? 'info' : r.value === null ? 'n/a' : r.ok(r.value) ? 'PASS' : 'MISS',
    unit: r.unit || 'x',
  }));

  const bg = Object.values(samples).flatMap((m) => Object.values(m).flat()).map((s) => s.backgroundCores).filter((v) => typeof v === 'number');
  const binding = samples.cheap.p11bridge[0].binding;
  const report = {
    env: {
      ...machineEnv(fx.modulePath),
      p11bridgeBinding: binding,
      p11bridgeBindingStale: bindingStale(binding),
      pkcs11js: pk.ok ? pk.version : null,
      threadpool: 'default (4)',
      backgroundCoresMax: bg.length ? max(bg) : null,
      backgroundCoresMean: bg.length ? bg.reduce((a, b) => a + b, 0) / bg.length : null,
      seconds: (Date.now() - started) / 1000,
    },
    config: CFG,
    results: res,
    ratios,
    samples,
  };
  if (JSON_OUT) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else printTable(report);
}

function bindingStale(rel) {
  if (!rel) return null;
  const newest = (dir) =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((t, e) => {
      const p = path.join(dir, e.name);
      return Math.max(t, e.isDirectory() ? newest(p) : /\.(cc|h)$/.test(e.name) ? fs.statSync(p).mtimeMs : 0);
    }, 0);
  try {
    return fs.statSync(path.join(root, rel)).mtimeMs < newest(path.join(root, 'src-native'));
  } catch {
    return null;
  }
}

function fmt(v, digits = 0) {
  if (v === null || v === undefined) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function printTable({ env, results: r, ratios }) {
  const out = [];
  const row = (cells, widths) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  out.push(`p11bridge raw bench — ${env.softhsm ? 'SoftHSM ' + env.softhsm : ''} ${env.module}`);
  out.push(`node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), libuv pool ${env.threadpool}`);
  out.push(`p11bridge addon: ${env.p11bridgeBinding}${env.p11bridgeBindingStale ? ' (OLDER than src-native/: not rebuilt by this bench)' : ''}`);
  out.push(`pkcs11js: ${env.pkcs11js || 'n/a'}; C loop: cc -O2, dlopen(RTLD_NOW) without RTLD_DEEPBIND`);
  out.push('');
  const w = [44, 12, 12, 12];
  out.push(row(['measurement', 'p11bridge', 'pkcs11js', 'C'], w));
  out.push(row(['-'.repeat(44), '-'.repeat(12), '-'.repeat(12), '-'.repeat(12)], w));
  out.push(row(['1 cheap call C_GetSessionInfo (ns/call)', fmt(r.cheapNs.p11bridge), fmt(r.cheapNs.pkcs11js), fmt(r.cheapNs.c)], w));
  out.push(row(['2 sync sign ECDSA P-256 (ops/s)', fmt(r.signOps.p11bridge), fmt(r.signOps.pkcs11js), fmt(r.signOps.c)], w));
  out.push(row(['    µs per sign beyond C', fmt(r.signOverheadUs.p11bridge, 2), fmt(r.signOverheadUs.pkcs11js, 2), ''], w));
  out.push(row(['    p11bridge 72-byte out / C length query', fmt(r.signOps['p11bridge-out']), '', fmt(r.signOps['c-query'])], w));
  out.push(row(['    p11bridge deepBind:false', fmt(r.signOps['p11bridge-nodeep']), '', ''], w));
  out.push(row(['    C loop inside node: DEEPBIND / plain', '', '', `${fmt(r.signOps['c-in-node-deep'])} / ${fmt(r.signOps['c-in-node'])}`], w));
  out.push(row(['    C: µs in C_SignInit / in C_Sign', '', '', r.signSplitUs ? `${fmt(r.signSplitUs.signInit, 1)} / ${fmt(r.signSplitUs.sign, 1)}` : 'n/a'], w));
  out.push(row([`3 async sign (ops/s) ${CFG.async.sessions} sessions / C ${CFG.async.cThreads} thr`, fmt(r.asyncOps.p11bridge), fmt(r.asyncOps.pkcs11js), fmt(r.asyncOps.c)], w));
  out.push(row(['    typed sign(), 8 callers, 4-session pool', fmt(r.asyncOps['p11bridge-typed']), '', ''], w));
  out.push(row(['    C event-loop hand-off: sign / Init on loop', '', '', `${fmt(r.asyncOps['c-handoff'])} / ${fmt(r.asyncOps['c-handoff-init'])}`], w));
  out.push(row(['    hand-off CPU µs: loop / others (Init on loop)', '', '', `${fmt(r.asyncJsCpuUs['c-handoff'], 1)} / ${fmt(r.asyncOtherCpuUs['c-handoff'], 1)} (${fmt(r.asyncJsCpuUs['c-handoff-init'], 1)} / ${fmt(r.asyncOtherCpuUs['c-handoff-init'], 1)})`], w));
  out.push(row(['    p11bridge C_SignInitAsync too', fmt(r.asyncOps['p11bridge-initasync']), '', ''], w));
  out.push(row(['    p11bridge UV_THREADPOOL_SIZE=1', fmt(r.asyncOps['p11bridge-pool1']), '', ''], w));
  out.push(row(['    CPU cores busy during async window', fmt(r.asyncCpuCores.p11bridge, 2), fmt(r.asyncCpuCores.pkcs11js, 2), fmt(r.asyncCpuCores.c, 2)], w));
  out.push(row(['    CPU µs per sign: JS thread / others', `${fmt(r.asyncJsCpuUs.p11bridge, 1)} / ${fmt(r.asyncOtherCpuUs.p11bridge, 1)}`, `${fmt(r.asyncJsCpuUs.pkcs11js, 1)} / ${fmt(r.asyncOtherCpuUs.pkcs11js, 1)}`, fmt(r.asyncBound.cCpuUsPerSign, 1)], w));
  out.push(row(['      typed sign(): JS thread / others', `${fmt(r.asyncJsCpuUs['p11bridge-typed'], 1)} / ${fmt(r.asyncOtherCpuUs['p11bridge-typed'], 1)}`, '', ''], w));
  out.push(row([`4 SHA-256 ${CFG.sha.mb} MB, 1 MB updates (MB/s)`, fmt(r.shaMBps.p11bridge), fmt(r.shaMBps.pkcs11js), fmt(r.shaMBps.c)], w));
  out.push(row(['5 event-loop max lag, async sign (ms)', fmt(r.lagMaxMs.p11bridge, 2), fmt(r.lagMaxMs.pkcs11js, 2), ''], w));
  out.push(row(['    p99 lag (ms)', fmt(r.lagP99Ms.p11bridge, 2), fmt(r.lagP99Ms.pkcs11js, 2), ''], w));
  out.push(row(['    max lag, typed / InitAsync / pool=1 (ms)', `${fmt(r.lagMaxMs['p11bridge-typed'], 2)} / ${fmt(r.lagMaxMs['p11bridge-initasync'], 2)} / ${fmt(r.lagMaxMs['p11bridge-pool1'], 2)}`, '', ''], w));
  out.push('');
  const w2 = [42, 9, 9, 6];
  out.push(row(['ratio', 'value', 'target', ''], w2));
  out.push(row(['-'.repeat(42), '-'.repeat(9), '-'.repeat(9), '-'.repeat(6)], w2));
  for (const x of ratios) {
    const v = x.value === null ? 'n/a' : x.unit === 'ms' ? fmt(x.value, 2) + ' ms' : fmt(x.value, 2) + 'x';
    out.push(row([x.name, v, x.target || '', x.result === 'info' ? '' : x.result], w2));
  }
  out.push('');
  out.push(
    `best of ${CFG.cheap.reps} reps (cheap, SHA), ${CFG.sign.rounds} rounds (sync sign), ${CFG.async.rounds} rounds (async); ` +
      `lag is the worst window. ` +
      `took ${fmt(env.seconds, 0)} s`,
  );
  out.push(
    PIN_CPU !== null && HAVE_TASKSET
      ? `one-thread rows (cheap, sync sign, split, SHA) ran pinned to CPU ${PIN_CPU} (taskset), C and Node alike; async rows unpinned`
      : 'no CPU pinning (--no-pin, or no taskset): one-thread rows may land on CPUs of different speed',
  );
  writeReport(out, env, fmt);
}

runMain(main, () => cleanupRun(fx, tmp));
