// Pieces the bench runners share (bench/raw, bench/engine, bench/peers).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { execFileSync, spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const log = (s) => process.stderr.write(s + '\n');

/**
 * The test fault shim (test/shim/*.c) built into `dir`, wrapping `target`, with `rules` in its
 * sidecar files (p11shim.target / p11shim.rules): the slow token of the benches.
 */
function buildShim(dir, rules, target) {
  fs.mkdirSync(dir, { recursive: true });
  const so = path.join(dir, 'p11shim.so');
  const src = path.join(root, 'test', 'shim');
  const sources = fs.readdirSync(src).filter((n) => n.endsWith('.c')).map((n) => path.join(src, n));
  execFileSync('gcc', ['-std=c99', '-O2', '-fPIC', '-shared', '-fvisibility=hidden', '-I', path.join(root, 'src-native', 'pkcs11'), '-o', so, ...sources, '-ldl', '-lpthread']);
  fs.writeFileSync(path.join(dir, 'p11shim.target'), target + '\n');
  fs.writeFileSync(path.join(dir, 'p11shim.rules'), rules.join('\n') + '\n');
  return so;
}

/** The closing line about other processes' CPU during the run, with a warning above 0.25 cores. */
function backgroundLine(env, fmt) {
  if (env.backgroundCoresMax === null || env.backgroundCoresMax === undefined) return null;
  const note = env.backgroundCoresMax > 0.25 ? '  WARNING: other processes were busy; numbers are noisy' : '';
  return `other processes' CPU during the measurements: mean ${fmt(env.backgroundCoresMean, 2)}, max ${fmt(env.backgroundCoresMax, 2)} cores${note}`;
}

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}

/**
 * CPU seconds the whole machine has been busy (/proc/stat, minus idle and iowait; guest time is
 * already in user). Around a child: this difference minus the child's own CPU is what other
 * processes used meanwhile (the benches' "background load"). null where /proc/stat is missing.
 */
function busySeconds() {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - cpu[3] - cpu[4]) / clkTck;
  } catch {
    return null;
  }
}

/** What every report says about where it ran: Node, CPUs, SoftHSM's version, the module path. */
function machineEnv(modulePath) {
  let softhsm = null;
  try {
    softhsm = execFileSync('softhsm2-util', ['--version'], { encoding: 'utf8' }).trim();
  } catch {}
  const cpus = require('node:os').cpus();
  return { node: process.version, cpus: cpus.length, cpuModel: cpus[0] && cpus[0].model, softhsm, module: modulePath };
}

/** Writes a report's lines to stdout, closed by the background-load line. */
function writeReport(out, env, fmt) {
  const bg = backgroundLine(env, fmt);
  if (bg) out.push(bg);
  process.stdout.write(out.join('\n') + '\n');
}

/** Removes a bench's throw-away token (createSoftHSM) and temporary directory. */
function cleanupRun(fx, tmp) {
  if (fx) fx.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}

/**
 * Runs a bench's main(); Ctrl-C reaches the running child too (same process group), so a signal
 * only lets it end, and cleanup() runs in every case.
 */
function runMain(main, cleanup) {
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => log(`${sig}: stopping`));
  try {
    main();
  } catch (e) {
    log(e && e.stack ? e.stack : String(e));
    process.exitCode = 1;
  } finally {
    cleanup();
  }
}

// ---- pkcs11js: installed by npm, but npm 11 may skip its install script (node-gyp rebuild) ----

function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) return ['--nodedir=' + prefix];
  if (fs.existsSync('/usr/include/node')) return ['--nodedir=/usr'];
  return [];
}

function canRequire(id) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(id)})`], { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr || '').split('\n').find((l) => /Error/.test(l)) || `exit ${r.status}`;
}

/** Builds pkcs11js's addon when npm skipped its install script; { ok, version?, why? }. */
function ensurePkcs11js(log = (msg) => process.stderr.write(msg + '\n')) {
  let dir;
  try {
    dir = path.dirname(require.resolve('pkcs11js/package.json', { paths: [root] }));
  } catch {
    return { ok: false, why: 'pkcs11js is not installed (npm install --save-dev pkcs11js)' };
  }
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  let err = canRequire('pkcs11js');
  if (err) {
    log(`pkcs11js ${version}: native addon missing (${err.trim()}); building it with node-gyp in ${path.relative(root, dir)}`);
    const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
    const r = spawnSync(process.execPath, [nodeGyp, 'rebuild', '-j', String(os.cpus().length), ...nodedirArgs()], {
      cwd: dir,
      stdio: ['ignore', 2, 2],
    });
    if (r.status !== 0) return { ok: false, version, why: `node-gyp rebuild failed in ${dir} (exit ${r.status})` };
    err = canRequire('pkcs11js');
    if (err) return { ok: false, version, why: `pkcs11js still fails to load after the build: ${err}` };
  }
  return { ok: true, version };
}

// bench/raw/cloop.c as a plain N-API addon (bench/raw/cloop-node.c), to run the C loop inside a
// Node process: it separates what the process around the loop costs from what the binding costs.
// Needs Node's headers (node_api.h); returns the .node path in `tmp`, or null without them.
function nodeIncludeDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  for (const d of [path.join(prefix, 'include', 'node'), '/usr/include/node', '/usr/local/include/node']) {
    if (fs.existsSync(path.join(d, 'node_api.h'))) return d;
  }
  return null;
}

function compileCLoopAddon(tmp) {
  const inc = nodeIncludeDir();
  if (!inc) return null;
  const out = path.join(tmp, 'cloop-node.node');
  const args = ['-O2', '-shared', '-fPIC', '-DCLOOP_NO_MAIN', '-o', out, 'bench/raw/cloop-node.c', '-I', 'src-native/pkcs11', '-I', inc, '-ldl', '-lpthread'];
  const r = spawnSync('cc', args, { cwd: path.join(__dirname, '..'), stdio: ['ignore', 2, 2] });
  return r.error || r.status !== 0 ? null : out;
}

module.exports = { compileCLoopAddon, ensurePkcs11js, buildShim, busySeconds, machineEnv, backgroundLine, writeReport, cleanupRun, runMain };
