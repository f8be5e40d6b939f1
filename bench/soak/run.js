#!/usr/bin/env node
// Where a soak's memory growth goes (docs/soak.md): runs each call mix twice against SoftHSM,
// once from plain C (bench/soak/csoak.c) and once through p11bridge's raw layer
// (scripts/soak.js --kinds raw --mix NAME --malloc-stats), one after the other, and fits a line
// through each run's memory samples. The addon's share of the growth is node's slope minus C's,
// same module, same mix, same number of lanes.
//
//   node bench/soak/run.js                                  every mix, 1M calls each
//   node bench/soak/run.js --mix crypto,objects --calls 10000000 --samples 40
//   node bench/soak/run.js --only c            (or node) one side only
//   options: --threads N (C lanes = soak.js --lanes, default 2), --warmup N, --seed N,
//            --dist DIR (soak.js --dist), --nice N (default 10), --json, --help
//
// stdout: a table of slopes (MB per 1M calls) per mix and side, then the JSON of every run when
// --json. Progress on stderr.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..', '..');
const { createSoftHSM } = require(path.join(root, 'scripts', 'softhsm.js'));
const { linearFit } = require(path.join(root, 'scripts', 'soak-memory.js'));
const MIXES = ['all', 'cheap', 'crypto', 'objects', 'sessions'];

function parseArgs(argv) {
  const o = { mixes: MIXES, calls: 1_000_000, samples: 20, threads: 2, warmup: null, seed: 1, dist: null, nice: 10, only: null, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a non-negative number`);
      return Math.floor(v);
    };
    if (a === '--mix') {
      o.mixes = argv[++i].split(',');
      for (const m of o.mixes) if (!MIXES.includes(m)) throw new Error(`--mix: ${m} is not one of ${MIXES.join(', ')}`);
    } else if (a === '--calls') o.calls = num();
    else if (a === '--samples') o.samples = Math.max(2, num());
    else if (a === '--threads') o.threads = Math.max(1, num());
    else if (a === '--warmup') o.warmup = num();
    else if (a === '--seed') o.seed = num();
    else if (a === '--nice') o.nice = num();
    else if (a === '--dist') o.dist = path.resolve(argv[++i]);
    else if (a === '--only') {
      o.only = argv[++i];
      if (o.only !== 'c' && o.only !== 'node') throw new Error('--only: c or node');
    } else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') {
      // The header comment above is the help.
      const lines = fs.readFileSync(__filename, 'utf8').split('\n').slice(1);
      process.stdout.write(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else throw new Error('unknown option ' + a + ' (see --help)');
  }
  // soak.js's own default, so both sides warm up alike.
  if (o.warmup === null) o.warmup = Math.min(100_000, Math.max(10_000, Math.floor(o.calls / 10)));
  return o;
}

const KEYS = ['rssMb', 'anonMb', 'anonNonV8Mb', 'mallocInUseMb', 'mallocHeldMb'];
function fit(samples) {
  const out = {};
  // Anonymous memory outside V8's heap (soak.js samples it; C has no V8 heap: all of it).
  for (const s of samples) if (s.anonNonV8Mb === undefined) s.anonNonV8Mb = s.heapTotalMb === undefined ? s.anonMb : Math.round((s.anonMb - s.heapTotalMb) * 1000) / 1000;
  for (const k of KEYS) {
    const f = linearFit(
      samples.map((s) => s.calls / 1e6),
      samples.map((s) => s[k]),
    );
    out[k] = { perMillion: Math.round(f.slope * 1000) / 1000, r2: Math.round(f.r2 * 1000) / 1000 };
  }
  return out;
}

function buildC() {
  const out = path.join(os.tmpdir(), `p11bridge-csoak-${process.pid}`);
  const r = spawnSync('cc', ['-O2', '-o', out, path.join(__dirname, 'csoak.c'), '-ldl', '-lpthread', '-I', path.join(root, 'src-native', 'pkcs11')], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`cc failed: ${r.error ? r.error.message : r.stderr}`);
  return out;
}

function runC(exe, mix, o) {
  const f = createSoftHSM({
    tokens: [
      { label: 'soak-raw', soPin: '12345678', userPin: '1234' },
      { label: 'soak-login-raw', soPin: '12345678', userPin: '3456' },
    ],
    setEnv: false,
  });
  try {
    const args = [f.modulePath, 'soak-raw', '1234', 'soak-login-raw', '3456', mix, o.calls, o.samples, o.threads, o.warmup, o.seed].map(String);
    const t0 = Date.now();
    const r = spawnSync('nice', ['-n', String(o.nice), exe, ...args], { env: f.env, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`csoak ${mix} failed (${r.status ?? r.signal}): ${r.stderr}`);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const samples = lines.filter((l) => l.sample).map((l) => l.sample);
    return {
      side: 'c',
      mix,
      seconds: (Date.now() - t0) / 1000,
      samples,
      fit: fit(samples),
      trim: lines.find((l) => l.trim).trim,
      finalized: lines.find((l) => l.finalized).finalized,
      ops: lines.find((l) => l.done).done.ops,
    };
  } finally {
    f.cleanup();
  }
}

function runNode(mix, o) {
  const args = [
    path.join(root, 'scripts', 'soak.js'),
    '--kinds',
    'raw',
    '--mix',
    mix,
    '--calls',
    o.calls,
    '--samples',
    o.samples,
    '--lanes',
    o.threads,
    '--warmup',
    o.warmup,
    '--seed',
    o.seed,
    '--malloc-stats',
    '--max-rss-growth-mb',
    1e6,
  ];
  if (o.dist) args.push('--dist', o.dist);
  const t0 = Date.now();
  const r = spawnSync('nice', ['-n', String(o.nice), process.execPath, ...args.map(String)], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  const last = r.stdout.trim().split('\n').pop();
  let s;
  try {
    s = JSON.parse(last);
  } catch {
    throw new Error(`soak.js ${mix} printed no summary (${r.status ?? r.signal})`);
  }
  if (!s.ok) throw new Error(`soak.js ${mix} failed its checks: ${JSON.stringify(s.checks)} ${JSON.stringify(s.unexpectedSamples)}`);
  return { side: 'node', mix, seconds: (Date.now() - t0) / 1000, samples: s.memory.samples, fit: fit(s.memory.samples), trimmed: s.memory.trimmed, ops: s.ops };
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const exe = o.only === 'node' ? null : buildC();
  const results = [];
  try {
    for (const mix of o.mixes) {
      if (o.only !== 'node') {
        process.stderr.write(`[soak-run] C ${mix}: ${o.calls} calls, ${o.threads} threads\n`);
        results.push(runC(exe, mix, o));
      }
      if (o.only !== 'c') {
        process.stderr.write(`[soak-run] node ${mix}: ${o.calls} calls, ${o.threads} raw lanes\n`);
        results.push(runNode(mix, o));
      }
    }
  } finally {
    if (exe) fs.rmSync(exe, { force: true });
  }
  const pad = (s, n) => String(s).padEnd(n);
  const f3 = (x) => (x === undefined ? 'n/a' : x.toFixed(3));
  const lines = [`MB per 1M calls after warm-up (${o.calls.toLocaleString('en-US')} calls, ${o.threads} lanes, ${o.samples} samples; least squares)`, ''];
  lines.push(['mix', 'side', ...KEYS, 'seconds'].map((h, i) => pad(h, i < 2 ? 9 : 20)).join(''));
  for (const mix of o.mixes) {
    const c = results.find((r) => r.mix === mix && r.side === 'c');
    const n = results.find((r) => r.mix === mix && r.side === 'node');
    for (const r of [c, n])
      if (r) lines.push([pad(mix, 9), pad(r.side, 9), ...KEYS.map((k) => pad(`${f3(r.fit[k].perMillion)} (r² ${r.fit[k].r2.toFixed(2)})`, 20)), r.seconds.toFixed(0)].join(''));
    if (c && n) lines.push([pad(mix, 9), pad('addon', 9), ...KEYS.map((k) => pad(f3(n.fit[k].perMillion - c.fit[k].perMillion), 20))].join(''));
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (o.json) process.stdout.write(JSON.stringify({ options: o, results }) + '\n');
}

main();
