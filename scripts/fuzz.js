#!/usr/bin/env node
// The full fuzz run of the raw layer: test/fuzz/raw-fuzz.js in child-process batches (each with
// its own seed and its own SoftHSM token), so a crash ends one batch, is reported with the seed
// and case that caused it, and the run goes on.
//
//   node scripts/fuzz.js [--cases 100000] [--seed N|random] [--seeds N,N,…] [--batch 10000] [--jobs J]
//                        [--timeout MS] [--exclude-known] [--focus C_X,C_Y] [--minimize] [--json FILE]
//
// --seeds runs --cases for each seed listed (five seeds of 100,000 cases: the release run).
//
// Exit 0 only with no crash, no hang and no disallowed error in any batch.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const CHILD = path.join(__dirname, '..', 'test', 'fuzz', 'raw-fuzz.js');

function parseArgs(argv) {
  const o = { cases: 100000, seed: 0x5eed, batch: 10000, jobs: Math.max(1, Math.min(4, os.cpus().length)), timeout: 10000, includeKnown: true, minimize: false, json: null, focus: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--cases') o.cases = Number(next());
    else if (a === '--seed') {
      const v = next();
      // A new seed each run explores new ground; it is printed, so a failure can be replayed.
      o.seed = v === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(v);
    } else if (a === '--seeds') o.seeds = next().split(',').map(Number);
    else if (a === '--batch') o.batch = Number(next());
    else if (a === '--jobs') o.jobs = Number(next());
    else if (a === '--timeout') o.timeout = Number(next());
    else if (a === '--include-known') o.includeKnown = true;
    else if (a === '--exclude-known') o.includeKnown = false;
    else if (a === '--minimize') o.minimize = true;
    else if (a === '--focus') o.focus = next();
    else if (a === '--json') o.json = next();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 9).join('\n') + '\n');
      process.exit(0);
    } else throw new Error('unknown option ' + a);
  }
  for (const k of ['cases', 'batch', 'jobs', 'timeout']) if (!Number.isSafeInteger(o[k]) || o[k] < 1) throw new Error(`--${k} must be a positive integer`);
  if (!Number.isSafeInteger(o.seed)) throw new Error('--seed must be an integer or "random"');
  o.seeds = o.seeds || [o.seed];
  if (!o.seeds.length || !o.seeds.every(Number.isSafeInteger)) throw new Error('--seeds must be a comma-separated list of integers');
  return o;
}

const opt = parseArgs(process.argv.slice(2));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-fuzz-'));
const say = (s) => process.stderr.write(s + '\n');

/** Batch b of a base seed: distinct per batch, 32-bit like fast-check's. */
const seedOf = (base, b) => (base + b * 7919) | 0;

function childArgs(extra) {
  return ['--expose-gc', CHILD, '--timeout', String(opt.timeout), ...(opt.includeKnown ? ['--include-known'] : []), ...(opt.focus ? ['--focus', opt.focus] : []), ...extra];
}

function lastJson(text) {
  for (const line of text.trim().split('\n').reverse()) {
    try {
      return JSON.parse(line);
    } catch {
      /* not JSON */
    }
  }
  return undefined;
}

/** Runs one batch; resolves with { b, seed, cases, code, signal, json, stderr, progress, wallMs }. */
function runBatch(b, cases, seed) {
  const progressFile = path.join(tmp, `progress-${b}.json`);
  const started = Date.now();
  // A batch that stops making progress is a hang (a sync call that never returns, a deadlock).
  const wallLimit = Math.max(120000, cases * 30 + opt.timeout * 4);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, childArgs(['--cases', String(cases), '--seed', String(seed), '--progress', progressFile]), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-20000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, wallLimit);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let progress;
      try {
        progress = JSON.parse(fs.readFileSync(progressFile, 'utf8'));
      } catch {
        progress = undefined;
      }
      resolve({ b, seed, cases, code, signal, timedOut, json: lastJson(stdout), stderr, progress, progressFile, wallMs: Date.now() - started });
    });
  });
}

/** Does this recipe (progress-file format) still crash a fresh child? */
function crashes(record, file) {
  fs.writeFileSync(file, JSON.stringify(record));
  const r = spawnSync(process.execPath, childArgs(['--recipe', file]), { encoding: 'utf8', timeout: 120000, killSignal: 'SIGKILL' });
  return r.signal !== null || ![0, 1, 2].includes(r.status);
}

/**
 * Greedy minimization of a crashing recipe: drop array elements, null out traps, after-effects,
 * parameters and arity changes, halve buffer sizes, as long as a fresh child still crashes.
 */
function minimize(record) {
  const { encode, decode } = require('../test/fuzz/arbitraries.js');
  const file = path.join(tmp, 'minimize.json');
  let best = decode(record.recipe);
  let attempts = 0;
  const tryCandidate = (cand) => {
    attempts++;
    const rec = { ...record, recipe: encode(cand) };
    if (crashes(rec, file)) {
      best = cand;
      return true;
    }
    return false;
  };
  if (!tryCandidate(best)) return { reproduced: false, attempts };
  let changed = true;
  while (changed && attempts < 300) {
    changed = false;
    const paths = [];
    (function walk(v, p) {
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) paths.push({ p, i, kind: 'remove' });
        v.forEach((x, i) => walk(x, [...p, i]));
      } else if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
        for (const [k, x] of Object.entries(v)) {
          if (['trap', 'after', 'arity', 'param', 'holes'].includes(k) && x) paths.push({ p, k, kind: 'null' });
          if (k === 'n' && typeof x === 'number' && x > 1) paths.push({ p, k, kind: 'halve' });
          walk(x, [...p, k]);
        }
      }
    })(best, []);
    for (const step of paths) {
      if (attempts >= 300) break;
      const cand = decode(encode(best));
      const parent = step.p.reduce((o, k) => o[k], cand);
      if (step.kind === 'remove') parent.splice(step.i, 1);
      else if (step.kind === 'null') parent[step.k] = null;
      else parent[step.k] = Math.floor(parent[step.k] / 2);
      if (tryCandidate(cand)) {
        changed = true;
        break;
      }
    }
  }
  fs.writeFileSync(file, JSON.stringify({ ...record, recipe: encode(best) }));
  return { reproduced: true, attempts, recipe: encode(best) };
}

function merge(into, from) {
  for (const [k, v] of Object.entries(from || {})) into[k] = (into[k] || 0) + v;
}

async function main() {
  const t0 = Date.now();
  const batches = [];
  for (const base of opt.seeds)
    for (let k = 0, left = opt.cases; left > 0; k++, left -= opt.batch) batches.push([batches.length, Math.min(opt.batch, left), seedOf(base, k)]);
  say(`fuzzing ${opt.cases * opt.seeds.length} cases in ${batches.length} batches of up to ${opt.batch}, ${opt.jobs} at a time, seed${opt.seeds.length > 1 ? 's' : ''} ${opt.seeds.join(', ')}`);
  const results = [];
  let next = 0;
  async function worker() {
    while (next < batches.length) {
      const [b, n, seed] = batches[next++];
      const r = await runBatch(b, n, seed);
      const j = r.json;
      const status = r.signal || r.timedOut ? `CRASH (${r.timedOut ? 'killed after the wall-clock limit' : r.signal})` : `exit ${r.code}`;
      say(`batch ${b} seed ${r.seed}: ${status}, ${j ? `${j.cases} cases, ${j.sync} sync + ${j.async} async calls, ${j.violations} violations, ${j.hangs} hangs` : 'no summary'} in ${(r.wallMs / 1000).toFixed(1)} s`);
      results.push(r);
    }
  }
  await Promise.all(Array.from({ length: Math.min(opt.jobs, batches.length) }, worker));
  results.sort((x, y) => x.b - y.b);

  const total = { cases: 0, sync: 0, async: 0, byOutcome: {}, errorClasses: {}, engineErrors: {}, knownIssues: {}, hangs: 0, crashes: 0, violations: 0, reachedModule: 0 };
  const crashReports = [];
  const examples = [];
  const notCalled = { sync: null, async: null };
  for (const r of results) {
    const j = r.json;
    const crashed = r.signal !== null || r.timedOut || !j || (r.code !== 0 && r.code !== 1);
    if (j) {
      for (const k of ['cases', 'sync', 'async', 'hangs', 'violations', 'reachedModule']) total[k] += j[k] || 0;
      merge(total.byOutcome, j.byOutcome);
      merge(total.errorClasses, j.errorClasses);
      merge(total.engineErrors, j.engineErrors);
      merge(total.knownIssues, j.knownIssues);
      examples.push(...(j.examples || []).map((e) => ({ batch: r.b, seed: r.seed, ...e })));
      if (j.fatal) crashReports.push({ batch: r.b, seed: r.seed, kind: 'fuzzer failure', ...j.fatal });
      for (const how of ['sync', 'async']) {
        const miss = j.coverage[how === 'sync' ? 'notCalledSync' : 'notCalledAsync'];
        notCalled[how] = notCalled[how] === null ? miss : notCalled[how].filter((f) => miss.includes(f));
      }
    }
    if (crashed && !(j && j.fatal)) {
      total.crashes++;
      const p = r.progress || {};
      // Cases before the crash completed; count them (the summary died with the child).
      if (!j && typeof p.index === 'number') total.cases += p.phase === 'main' ? p.index : 0;
      const report = {
        batch: r.b,
        seed: r.seed,
        signal: r.signal,
        exitCode: r.code,
        killedAfterWallLimit: r.timedOut,
        phase: p.phase,
        index: p.index,
        recipe: p.recipe,
        stderrTail: r.stderr.slice(-3000),
        reproduce: [
          `node --expose-gc test/fuzz/raw-fuzz.js --seed ${r.seed} --cases ${r.cases}${opt.includeKnown ? ' --include-known' : ''}   # the whole batch`,
          p.phase === 'main' ? `node --expose-gc test/fuzz/raw-fuzz.js --seed ${r.seed} --only ${p.index}${opt.includeKnown ? ' --include-known' : ''}   # that case alone` : null,
          `node --expose-gc test/fuzz/raw-fuzz.js --recipe ${r.progressFile}${opt.includeKnown ? ' --include-known' : ''}   # that recipe alone`,
        ].filter(Boolean),
      };
      if (opt.minimize && p.recipe) {
        say(`minimizing the crash of batch ${r.b} …`);
        report.minimized = minimize(p);
      }
      crashReports.push(report);
    }
  }
  const ms = Date.now() - t0;
  const out = {
    ...total,
    batches: results.length,
    seed: opt.seeds[0],
    seeds: opt.seeds,
    includeKnown: opt.includeKnown,
    ms,
    casesPerSecond: Math.round(total.cases / (ms / 1000)),
    notCalled,
    crashReports,
    examples: examples.slice(0, 50),
  };
  say('');
  say(`cases ${total.cases}  (sync calls ${total.sync}, async calls ${total.async}, ${total.reachedModule} answered by the module)`);
  say(`crashes ${total.crashes}  hangs ${total.hangs}  disallowed/violations ${total.violations}  time ${(ms / 1000).toFixed(1)} s`);
  if (Object.keys(total.knownIssues).length) say('known (reported) binding issues seen: ' + JSON.stringify(total.knownIssues));
  say('outcomes: ' + Object.entries(total.byOutcome).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', '));
  for (const c of crashReports) {
    if (c.kind === 'fuzzer failure') {
      say(`\nFUZZER FAILURE in batch ${c.batch} (seed ${c.seed}) ${c.phase} case ${c.index}: ${String(c.error).slice(0, 800)}`);
      continue;
    }
    say(`\nCRASH in batch ${c.batch} (seed ${c.seed}) ${c.phase} case ${c.index}: signal ${c.signal} exit ${c.exitCode}`);
    say('  recipe: ' + String(c.recipe || c.error).slice(0, 1500));
    for (const line of c.reproduce || []) say('  ' + line);
    if (c.minimized && c.minimized.recipe) say('  minimized: ' + c.minimized.recipe.slice(0, 1500));
  }
  for (const e of examples.slice(0, 10)) say(`\nVIOLATION ${e.kind} (batch ${e.batch}, seed ${e.seed}, ${e.phase} ${e.index}): ${JSON.stringify(e.error || e).slice(0, 600)}`);
  if (opt.json) fs.writeFileSync(opt.json, JSON.stringify(out, null, 2));
  process.stdout.write(JSON.stringify(out) + '\n');
  if (!crashReports.length) fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(total.crashes || total.hangs || total.violations || crashReports.length ? 1 : 0);
}

main().catch((e) => {
  say('fuzz run failed: ' + (e && e.stack ? e.stack : e));
  process.exit(2);
});
