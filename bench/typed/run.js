#!/usr/bin/env node
// Typed-layer overhead benchmark: the typed API (dist/index.js) against the raw layer doing the
// same PKCS#11 work, in the same process, on a throw-away SoftHSM token.
//
//   node bench/typed/run.js              the comparison table, ratios typed/raw, PASS/MISS
//   node bench/typed/run.js --profile    and where the typed time goes (micro-timings without a
//                                        module, the proposals patched in, a CPU profile)
//   node bench/typed/run.js --profile-only   only that second part
//   node bench/typed/run.js --json       the same as JSON on stdout (progress goes to stderr)
//   --quick                              5 rounds of 150 ms per variant instead of 15 of 200 ms
//   --only=ecdsa,aes-gcm-1k              run only these scenario ids (see SCENARIOS)
//   --from=report.json                   print the table of a saved --json report (runs nothing)
//
// Every scenario runs in its own child process (bench/typed/node-bench.js), one at a time; inside
// it the variants alternate round by round. See bench/README.md for what is measured and how.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync, execFileSync } = require('node:child_process');

const root = path.join(__dirname, '..', '..');
const argv = process.argv.slice(2);
const JSON_OUT = argv.includes('--json');
const PROFILE_ONLY = argv.includes('--profile-only');
const PROFILE = PROFILE_ONLY || argv.includes('--profile');
const QUICK = argv.includes('--quick');
const ONLY = (argv.find((a) => a.startsWith('--only=')) || '').slice(7).split(',').filter(Boolean);

const CFG = {
  rounds: QUICK ? 5 : 15,
  sampleMs: QUICK ? 150 : 200,
  warmupMs: 300,
  // A round whose windows saw other processes use more than this many cores is left out of the
  // medians (when at least MIN_CLEAN rounds are clean; otherwise all count and the row is flagged).
  backgroundLimit: 0.25,
  minClean: 3,
  quick: QUICK,
};
const TOKEN = { label: 'p11bridge-typed-bench', soPin: '12345678', userPin: '1234' };
const TARGET = 0.95; // typed / raw ops/s, ECDSA sign

// cpus: 1 = the child is pinned to one CPU (taskset), 'all' = not pinned.
const SCENARIOS = [
  { id: 'ecdsa-1cpu', title: 'ECDSA P-256 sign, 1 session, 1 CPU', scenario: 'ecdsa', sessions: 1, cpus: 1, target: true },
  { id: 'ecdsa', title: 'ECDSA P-256 sign, 1 session', scenario: 'ecdsa', sessions: 1, cpus: 'all', target: true },
  { id: 'ecdsa-x4', title: 'ECDSA P-256 sign, 4 sessions in parallel', scenario: 'ecdsa', sessions: 4, cpus: 'all', target: true },
  { id: 'aes-gcm-1k-1cpu', title: 'AES-256-GCM encrypt 1 KiB, 1 CPU', scenario: 'aes', mode: 'gcm', size: 1024, cpus: 1 },
  { id: 'aes-gcm-1k', title: 'AES-256-GCM encrypt 1 KiB', scenario: 'aes', mode: 'gcm', size: 1024, cpus: 'all' },
  { id: 'aes-gcm-64k', title: 'AES-256-GCM encrypt 64 KiB', scenario: 'aes', mode: 'gcm', size: 65536, cpus: 'all' },
  { id: 'aes-cbc-1k', title: 'AES-256-CBC-PAD encrypt 1 KiB', scenario: 'aes', mode: 'cbc', size: 1024, cpus: 'all' },
  { id: 'aes-cbc-64k', title: 'AES-256-CBC-PAD encrypt 64 KiB', scenario: 'aes', mode: 'cbc', size: 65536, cpus: 'all' },
  { id: 'rsa', title: 'RSA-2048 PKCS#1 v1.5 SHA-256 sign', scenario: 'rsa', sessions: 1, cpus: 'all', sampleMs: 500, rounds: 7 },
];

const log = (msg) => process.stderr.write(msg + '\n');

// ---- environment -----------------------------------------------------------------------------

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}

const ncpu = os.cpus().length;
const pinCpu = String(ncpu - 1);
const hasTaskset = spawnSync('taskset', ['-c', pinCpu, 'true']).status === 0;

/** lib/ files newer than their dist/ output: dist is stale (npx tsc -p . refreshes it). */
function staleDist() {
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const js = path.join(root, 'dist', path.relative(path.join(root, 'lib'), p)).replace(/\.ts$/, '.js');
        if (!fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(p).mtimeMs) out.push(path.relative(root, p));
      }
    }
  };
  walk(path.join(root, 'lib'));
  return out;
}

function gitDescribe() {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

// ---- children --------------------------------------------------------------------------------

const childEnv = { ...process.env };
delete childEnv.UV_THREADPOOL_SIZE; // the libuv default (4 threads)

/** Busy CPU seconds of the machine (or of one CPU) so far, from /proc/stat; null without it. */
function busySeconds(cpu) {
  try {
    const name = cpu === undefined ? 'cpu' : `cpu${cpu}`;
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(name + ' '));
    const v = f.trim().split(/\s+/).slice(1).map(Number);
    return (v.slice(0, 8).reduce((a, b) => a + b, 0) - v[3] - v[4]) / clkTck;
  } catch {
    return null;
  }
}

/** CPU seconds of this process's waited-for children (cutime + cstime of /proc/self/stat). */
function childrenCpuSeconds() {
  try {
    const f = fs.readFileSync('/proc/self/stat', 'utf8');
    const v = f.slice(f.lastIndexOf(')') + 2).split(' ').map(Number); // v[0] is field 3 (state)
    return (v[13] + v[14]) / clkTck; // fields 16 and 17
  } catch {
    return null;
  }
}

const childLoads = [];

/** Runs a node child (pinned with cpus 1); notes the other processes' load over its life. */
function runNode(script, args, { cpus = 'all', timeoutMs = 300000 } = {}) {
  const nodeArgs = ['--expose-gc', path.join(__dirname, script), ...args];
  const pinned = cpus === 1 && hasTaskset;
  const cmd = pinned ? 'taskset' : process.execPath;
  const full = pinned ? ['-c', pinCpu, process.execPath, ...nodeArgs] : nodeArgs;
  const cpu = pinned ? pinCpu : undefined;
  const b0 = busySeconds(cpu);
  const c0 = childrenCpuSeconds();
  const t0 = Date.now();
  const r = spawnSync(cmd, full, { cwd: root, env: childEnv, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 });
  const wall = (Date.now() - t0) / 1000;
  if (r.error || r.status !== 0) throw new Error(`${script} ${args.join(' ')}: ${r.error ? r.error.message : 'exit ' + r.status}\n${(r.stderr || '').trim()}`);
  const b1 = busySeconds(cpu);
  const c1 = childrenCpuSeconds();
  if (b0 !== null && b1 !== null && c0 !== null && c1 !== null) {
    childLoads.push({ script, args: args.join(' ').slice(0, 80), pinned, backgroundCores: Math.max(0, (b1 - b0 - (c1 - c0)) / wall) });
  }
  return r.stdout;
}

function benchChild(opts, cpus) {
  const full = {
    module: fx.modulePath,
    label: TOKEN.label,
    pin: TOKEN.userPin,
    clkTck,
    rounds: CFG.rounds,
    sampleMs: CFG.sampleMs,
    warmupMs: CFG.warmupMs,
    ...opts,
  };
  if (cpus === 1 && hasTaskset) full.cpu = Number(pinCpu); // background load counted on that CPU only
  const out = runNode('node-bench.js', [JSON.stringify(full)], { cpus });
  return JSON.parse(out.split('\n').find((l) => l.startsWith('{')));
}

// ---- statistics ------------------------------------------------------------------------------

const median = (a) => {
  const s = a.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((x, y) => x - y);
  if (!s.length) return null;
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Medians over the clean rounds (or all, flagged, when too few are clean). */
function analyse(sc, res) {
  const names = Object.keys(res.variants);
  const nRounds = res.rounds.length;
  const bgOfRound = Array.from({ length: nRounds }, (_, r) => Math.max(...names.map((n) => res.variants[n].backgroundCores[r] ?? 0)));
  let use = bgOfRound.map((bg, r) => (bg <= CFG.backgroundLimit ? r : -1)).filter((r) => r >= 0);
  const clean = use.length;
  const noisy = clean < CFG.minClean;
  if (noisy) use = bgOfRound.map((_, r) => r);
  const variants = {};
  for (const n of names) {
    const v = res.variants[n];
    variants[n] = {
      opsPerSec: median(use.map((r) => v.samples[r])),
      cpuUsPerOp: median(use.map((r) => v.cpuUsPerOp[r])),
      gcUsPerOp: median(use.map((r) => v.gcUsPerOp[r])),
      samples: v.samples,
    };
  }
  const paired = (a, b) => {
    if (!res.variants[a] || !res.variants[b]) return null;
    const rs = use.map((r) => res.variants[a].samples[r] / res.variants[b].samples[r]);
    return { median: median(rs), min: Math.min(...rs), max: Math.max(...rs), perRound: rs };
  };
  const t = variants.typed && variants.typed.opsPerSec;
  const ra = variants['raw-async'] && variants['raw-async'].opsPerSec;
  return {
    id: sc.id,
    title: sc.title,
    cpus: sc.cpus === 1 && hasTaskset ? 1 : ncpu,
    sessions: res.sessions,
    roundsUsed: use.length,
    roundsClean: clean,
    rounds: nRounds,
    noisy,
    backgroundCoresByRound: bgOfRound,
    variants,
    typedOverRawAsync: paired('typed', 'raw-async'),
    typedOverRawSync: paired('typed', 'raw-sync'),
    rawAsync1OverRawAsync: paired('raw-async1', 'raw-async'),
    ratioOfMedians: t && ra ? t / ra : null,
    // Time per op the typed layer adds (per op of throughput: with N sessions, 1/ops is not latency).
    typedExtraUs: t && ra ? 1e6 / t - 1e6 / ra : null,
    target: sc.target ? TARGET : null,
    result: !sc.target ? 'info' : paired('typed', 'raw-async').median >= TARGET ? 'PASS' : 'MISS',
  };
}

// ---- the profile part -------------------------------------------------------------------------

function profilePart() {
  const part = {};
  log('profile 1/3: micro-timings over a fake raw (no module), pinned to one CPU');
  const microOut = runNode('micro.js', ['--json'], { cpus: 1 });
  const [first, ...rest] = microOut.split('\n');
  part.micro = JSON.parse(first);
  part.micro.backgroundCores = childLoads[childLoads.length - 1]?.backgroundCores ?? null;
  part.microText = rest.join('\n').trimEnd();

  part.proposals = [];
  for (const cpus of [1, 'all']) {
    log(`profile 2/3: the proposals patched into the typed path (${cpus === 1 ? '1 CPU' : 'all CPUs'})`);
    const sc = { id: `proposals-${cpus === 1 ? '1cpu' : 'all'}`, title: `ECDSA sign with the proposals, ${cpus === 1 ? '1 CPU' : 'all CPUs'}` };
    const res = benchChild({ scenario: 'ecdsa-proposals', sessions: 1 }, cpus);
    part.proposals.push({ ...analyse(sc, res), notes: res.notes });
  }

  log('profile 3/3: V8 CPU profiles of typed and raw-async ECDSA sign (6 alternating windows of 600 ms each, 500 µs sampling)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-typed-prof-'));
  try {
    const res = benchChild(
      { scenario: 'ecdsa', sessions: 1, only: ['typed', 'raw-async'], cpuProfileDir: dir, sampleMs: 600, profileRounds: 6, profileIntervalUs: 500 },
      'all',
    );
    const { compare } = require('./cpuprofile.js');
    const p = res.profiles;
    const sum = (l, k) => l.reduce((a, x) => a + x[k], 0);
    const rate = (l) => median(l.map((x) => x.opsPerSec));
    const c = compare(p.typed.map((x) => x.file), sum(p.typed, 'ops'), p['raw-async'].map((x) => x.file), sum(p['raw-async'], 'ops'));
    part.cpuProfile = { opsPerSec: { typed: rate(p.typed), rawAsync: rate(p['raw-async']) }, windows: p, ...c.json };
    part.cpuProfileText = c.lines.join('\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return part;
}

// ---- output ----------------------------------------------------------------------------------

function fmt(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function printReport(report) {
  const out = [];
  const { env } = report;
  out.push(`p11bridge typed-layer bench — SoftHSM ${env.softhsm} ${env.module}`);
  out.push(`node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), libuv pool default (4); "1 CPU" rows: taskset -c ${pinCpu}${hasTaskset ? '' : ' (taskset missing: NOT pinned)'}`);
  out.push(`addon: ${env.binding} (${env.bindingMtime}${env.bindingChanged ? ', REBUILT during the run' : ''}); tree ${env.git}; typed layer: dist/${env.staleDist.length ? `  WARNING: older than ${env.staleDist.join(', ')} (npx tsc -p .)` : ''}`);
  out.push('');
  const cfg = report.config;
  if (report.scenarios.length) {
    const w = [52, 9, 9, 9, 9, 22, 8, 6];
    const row = (c) => c.map((x, i) => (i === 0 ? String(x).padEnd(w[i]) : String(x).padStart(w[i]))).join(' ');
    out.push(row(['ops/s, median of clean rounds [clean/all]', 'typed', 'raw-async', 'raw-1trip', 'raw-sync', 'typed/raw-async', '+µs/op', '']));
    out.push(row(w.map((n) => '-'.repeat(n))));
    for (const s of report.scenarios) {
      const v = s.variants;
      const p = s.typedOverRawAsync;
      const ratio = p ? `${fmt(p.median, 3)} (${fmt(p.min, 2)}–${fmt(p.max, 2)})` : 'n/a';
      const res = s.result === 'info' ? '' : s.result;
      out.push(
        row([
          `${s.title} [${s.roundsClean ?? s.roundsUsed}/${s.rounds}]${s.noisy ? ' *' : ''}`,
          fmt(v.typed?.opsPerSec),
          fmt(v['raw-async']?.opsPerSec),
          v['raw-async1'] ? fmt(v['raw-async1'].opsPerSec) : '',
          v['raw-sync'] ? fmt(v['raw-sync'].opsPerSec) : '',
          ratio,
          fmt(s.typedExtraUs, 1),
          res,
        ]),
      );
    }
    out.push('');
    out.push(`typed/raw-async: median over the clean rounds of the same-round ratio (min–max); target >= ${TARGET} for the ECDSA rows.`);
    out.push('raw-async: C_XInitAsync + C_XAsync awaited (the same two pool trips as typed); raw-1trip: sync C_XInit + await C_XAsync;');
    out.push('raw-sync: C_XInit + C_X on the JS thread. +µs/op = 1e6/typed − 1e6/raw-async.');
    const noisy = report.scenarios.filter((s) => s.noisy);
    const dropped = report.scenarios.map((s) => s.rounds - s.roundsUsed).reduce((a, b) => a + b, 0);
    out.push(
      `${cfg.rounds} rounds × ${cfg.sampleMs} ms per variant (RSA: ${cfg.quick ? 5 : 7} × ${cfg.quick ? 300 : 500} ms), order rotated each round; ` +
        `${dropped} round(s) left out for other processes' load > ${cfg.backgroundLimit} cores` +
        (noisy.length ? `; * = fewer than ${cfg.minClean} clean rounds, all counted: NOISY` : '') +
        `. took ${fmt(env.seconds)} s`,
    );
  }
  if (report.profile) {
    const pr = report.profile;
    out.push('');
    out.push('=== where the typed time goes ===');
    out.push('');
    const bg = pr.micro.backgroundCores;
    out.push(`1. micro-timings, no module (bench/typed/micro.js, 1 CPU${bg === null ? '' : `; other processes used ${fmt(bg, 2)} of that CPU${bg > cfg.backgroundLimit ? ': NOISY' : ''}`})`);
    out.push(pr.microText);
    out.push('');
    out.push('2. the proposals patched into the real typed path (bench/typed/patches.js), ECDSA sign, ops/s and ratio to raw-async');
    for (const s of pr.proposals) {
      const base = s.variants['raw-async'].opsPerSec;
      out.push(`  ${s.title}, ${s.roundsClean ?? s.roundsUsed}/${s.rounds} rounds clean${s.noisy ? ' (too few: all counted, NOISY)' : ''}`);
      for (const [n, v] of Object.entries(s.variants)) {
        out.push(
          `    ${n.padEnd(18)} ${fmt(v.opsPerSec).padStart(8)} ops/s  ${fmt(v.opsPerSec / base, 3)}x  ${fmt(1e6 / v.opsPerSec - 1e6 / base, 1).padStart(6)} µs/op vs raw-async` +
            `   process CPU ${fmt(v.cpuUsPerOp, 1).padStart(5)} µs/op, GC ${fmt(v.gcUsPerOp, 2).padStart(5)} µs/op`,
        );
      }
    }
    const notes = pr.proposals[0] && pr.proposals[0].notes;
    if (notes && notes.stackHasCaller) {
      const h = notes.stackHasCaller;
      out.push(`  a failing key.sign() names its awaiting caller after "--- async call made at ---": ${Object.entries(h).map(([k, v]) => `${k} ${v ? 'yes' : 'NO'}`).join(', ')}`);
    }
    out.push('');
    out.push(`3. V8 CPU profile, ECDSA sign, 1 session, all CPUs (median while profiled: typed ${fmt(pr.cpuProfile.opsPerSec.typed)} ops/s, raw-async ${fmt(pr.cpuProfile.opsPerSec.rawAsync)} ops/s)`);
    out.push(pr.cpuProfileText);
  }
  process.stdout.write(out.join('\n') + '\n');
}

// ---- main ------------------------------------------------------------------------------------

let fx;

function main() {
  const started = Date.now();
  const stale = staleDist();
  if (stale.length) log(`WARNING: dist/ is older than ${stale.join(', ')}: run npx tsc -p . to measure the working tree`);
  const bindingPath = require(path.join(root, 'dist', 'raw.js')).BINDING_PATH;
  const bindingMtime0 = fs.statSync(bindingPath).mtimeMs;
  const { createSoftHSM } = require('../../scripts/softhsm.js');
  fx = createSoftHSM({ tokens: [TOKEN] }); // sets process.env.SOFTHSM2_CONF
  childEnv.SOFTHSM2_CONF = process.env.SOFTHSM2_CONF;

  const scenarios = [];
  const raw = {};
  for (const sc of SCENARIOS) {
    if (PROFILE_ONLY || (ONLY.length && !ONLY.includes(sc.id))) continue;
    log(`${sc.id}: ${sc.title}`);
    const opts = { scenario: sc.scenario, sessions: sc.sessions || 1, mode: sc.mode, size: sc.size, tag: sc.id };
    if (sc.sampleMs) opts.sampleMs = QUICK ? Math.round(sc.sampleMs * 0.6) : sc.sampleMs;
    if (sc.rounds && !QUICK) opts.rounds = sc.rounds;
    const res = benchChild(opts, sc.cpus);
    raw[sc.id] = res;
    scenarios.push(analyse(sc, res));
  }
  const profile = PROFILE ? profilePart() : null;

  let softhsm = 'unknown';
  try {
    softhsm = execFileSync('softhsm2-util', ['--version'], { encoding: 'utf8' }).trim();
  } catch {}
  const report = {
    env: {
      node: process.version,
      cpus: ncpu,
      cpuModel: os.cpus()[0] && os.cpus()[0].model,
      softhsm,
      module: fx.modulePath,
      binding: path.relative(root, bindingPath),
      bindingMtime: fs.statSync(bindingPath).mtime.toISOString(),
      // Someone rebuilt the addon while this ran: children loaded different binaries.
      bindingChanged: fs.statSync(bindingPath).mtimeMs !== bindingMtime0,
      staleDist: stale,
      git: gitDescribe(),
      pinnedTo: hasTaskset ? pinCpu : null,
      seconds: (Date.now() - started) / 1000,
    },
    config: CFG,
    scenarios,
    profile,
    samples: raw,
    childLoads,
  };
  if (JSON_OUT) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else printReport(report);
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => log(`${sig}: stopping`));

const FROM = (argv.find((a) => a.startsWith('--from=')) || '').slice(7);

try {
  if (FROM) printReport(JSON.parse(fs.readFileSync(FROM, 'utf8')));
  else main();
} catch (e) {
  log(e && e.stack ? e.stack : String(e));
  process.exitCode = 1;
} finally {
  if (fx) fx.cleanup();
}
