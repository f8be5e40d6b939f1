#!/usr/bin/env node
// A real PKCS#11 module for Windows, built here from Debian's source package: OpenSC's
// opensc-pkcs11.dll (bookworm's opensc, Debian's patches applied by dpkg-source), cross-built
// with mingw-w64 without OpenSSL, zlib, readline or secure messaging. It talks to smart cards
// through winscard.dll; under Wine, with no reader, it shows zero slots, which still exercises
// the module's real C_Initialize / C_GetInfo / C_GetSlotList / C_Finalize and its DLL layout.
// It is two DLLs: opensc-pkcs11.dll imports libopensc-N.dll, which must be found next to it
// (LOAD_WITH_ALTERED_SEARCH_PATH, scripts/wine-run.js).
//
//   node scripts/wine-opensc.js     build if not cached; prints { dir, file, deps }
//
// Cached under $P11BRIDGE_CACHE/opensc-win64-<debian version>/. The first build, download
// included, took 4 min 11 s on the 2-core development machine at a load average of about 4 (2.5
// CPU-minutes user, 1.6 system) and about 30 min under a load average of 20; later runs only read
// the cache (under a second). Why OpenSC and not the others the
// brief lists: p11-kit's orig tarball is missing from the Debian mirror reachable here (404), and
// SoftHSM2 needs Botan or OpenSSL cross-built first. Needs deb-src for bookworm in apt's sources
// (ensureDebSrc adds one when missing), autoconf, automake, libtool and dpkg-dev.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const wb = require('./wine-build.js');

const cache = process.env.P11BRIDGE_CACHE || '/var/tmp/p11bridge-cache';
const log = (m) => process.stderr.write(`[opensc-win] ${m}\n`);
// The DLLs every Windows has: anything else a module imports must ship next to it.
const SYSTEM_DLLS = new Set([
  'kernel32.dll',
  'msvcrt.dll',
  'advapi32.dll',
  'user32.dll',
  'winscard.dll',
  'shlwapi.dll',
  'ws2_32.dll',
  'shell32.dll',
  'ole32.dll',
  'crypt32.dll',
  'bcrypt.dll',
  'gdi32.dll',
  'comctl32.dll',
  'comdlg32.dll',
  'version.dll',
]);

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20, timeout: 3600_000, ...opts });
}

function debianVersion() {
  const out = sh('apt-cache', ['showsrc', 'opensc']);
  const m = /^Version: (\S+)/m.exec(out);
  if (!m) throw new Error('apt-cache showsrc opensc: no source package (deb-src missing?)');
  return m[1];
}

// A deb-src entry for the release this machine runs, in a file of its own.
function ensureDebSrc() {
  if (spawnSync('apt-cache', ['showsrc', 'opensc'], { encoding: 'utf8' }).stdout.includes('Version:')) return;
  const codename = /VERSION_CODENAME=(\S+)/.exec(fs.readFileSync('/etc/os-release', 'utf8'))[1];
  const file = '/etc/apt/sources.list.d/p11bridge-deb-src.sources';
  log(`adding ${file} (deb-src ${codename})`);
  fs.writeFileSync(file, `Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: ${codename}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`);
  sh('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update', '-qq']);
}

function ensureBuildTools() {
  const need = { autoreconf: 'autoconf', automake: 'automake', libtoolize: 'libtool', 'dpkg-source': 'dpkg-dev', make: 'make' };
  const missing = Object.keys(need)
    .filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0)
    .map((b) => need[b]);
  missing.push(...wb.missingTools('x64'));
  if (missing.length) require('./softhsm.js').aptInstall([...new Set(missing)]);
}

/** The DLLs (besides system ones) a PE file imports. */
function privateImports(file) {
  return wb.importsOf(file).filter((d) => !SYSTEM_DLLS.has(d) && !d.startsWith('api-ms-'));
}

function build(version, out) {
  ensureBuildTools();
  const work = path.join(cache, 'win-src', `opensc-${version}`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const t0 = Date.now();
  log(`apt-get source opensc=${version}`);
  sh('apt-get', ['source', '--download-only', `opensc=${version}`], { cwd: work });
  const dsc = fs.readdirSync(work).find((f) => f.endsWith('.dsc'));
  sh('dpkg-source', ['--no-check', '-x', dsc, 'src'], { cwd: work });
  const src = path.join(work, 'src');
  log('autoreconf + configure (mingw-w64, no OpenSSL)');
  sh('autoreconf', ['-fi'], { cwd: src });
  sh(
    './configure',
    [
      '--host=x86_64-w64-mingw32',
      `CC=${wb.tool('x64', 'gcc')}`,
      'CFLAGS=-O2',
      '--disable-openssl',
      '--disable-zlib',
      '--disable-readline',
      '--disable-notify',
      '--disable-man',
      '--disable-doc',
      '--disable-cmocka',
      '--disable-sm',
      '--disable-openpace',
      '--disable-static',
      '--enable-shared',
      '--disable-strict',
      '--disable-dependency-tracking',
    ],
    { cwd: src },
  );
  // Only what opensc-pkcs11.dll needs, in src/Makefile.am's order; not the tools, and in
  // src/pkcs11 only that library (its Makefile compiles the same sources again for three others).
  for (const d of ['common', 'scconf', 'ui', 'pkcs15init', 'sm', 'libopensc', 'pkcs11']) {
    log(`make -C src/${d}`);
    sh('make', ['-C', `src/${d}`, `-j${process.env.JOBS || 2}`, ...(d === 'pkcs11' ? ['opensc-pkcs11.la'] : [])], { cwd: src });
  }
  const info = collect(src, out, version, (Date.now() - t0) / 1000);
  fs.rmSync(work, { recursive: true, force: true });
  return info;
}

// The module and its private DLLs from a built source tree into `out` (the cache), stripped.
function collect(src, out, version, buildSeconds) {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const module = path.join(src, 'src', 'pkcs11', '.libs', 'opensc-pkcs11.dll');
  fs.copyFileSync(module, path.join(out, 'opensc-pkcs11.dll'));
  // Its private DLLs, from the build or from mingw-w64's runtime, and theirs in turn.
  const searched = [
    path.join(src, 'src', 'libopensc', '.libs'),
    path.join(src, 'src', 'common', '.libs'),
    `/usr/lib/gcc/x86_64-w64-mingw32/12-posix`,
    '/usr/x86_64-w64-mingw32/lib',
  ];
  const queue = privateImports(module);
  const deps = [];
  while (queue.length) {
    const name = queue.shift();
    if (deps.includes(name)) continue;
    const dir = searched.find((d) => fs.existsSync(path.join(d, name)));
    const found = dir && fs.readdirSync(dir).find((f) => f.toLowerCase() === name);
    if (!found) throw new Error(`opensc-pkcs11.dll needs ${name}, not found in ${searched.join(', ')}`);
    fs.copyFileSync(path.join(dir, found), path.join(out, name));
    deps.push(name);
    queue.push(...privateImports(path.join(out, name)));
  }
  for (const f of ['opensc-pkcs11.dll', ...deps]) sh(wb.tool('x64', 'strip'), ['--strip-unneeded', path.join(out, f)]);
  const info = { version, file: 'opensc-pkcs11.dll', deps, buildSeconds };
  fs.writeFileSync(path.join(out, 'module.json'), JSON.stringify(info) + '\n');
  return info;
}

/**
 * The cached module: { dir, file, deps, version, cached, conformance }. Builds it when missing and
 * `build` is true; otherwise throws saying why there is none.
 */
function ensure({ build: mayBuild = true } = {}) {
  // The newest cached build first, so that a run without deb-src or network still finds one.
  const cached = fs.existsSync(cache) ? fs.readdirSync(cache).filter((d) => d.startsWith('opensc-win64-') && fs.existsSync(path.join(cache, d, 'module.json'))) : [];
  let dir = null;
  let info = null;
  try {
    ensureDebSrc();
    const version = debianVersion();
    dir = path.join(cache, `opensc-win64-${version}`);
    if (fs.existsSync(path.join(dir, 'module.json'))) info = JSON.parse(fs.readFileSync(path.join(dir, 'module.json'), 'utf8'));
    else if (mayBuild) info = build(version, dir);
  } catch (e) {
    if (!cached.length) throw e;
    log(`using the cached build (${e.message.split('\n')[0]})`);
  }
  if (!info) {
    if (!cached.length) throw new Error('OpenSC for Windows is not cached and building was not allowed (--no-module)');
    dir = path.join(cache, cached.sort().pop());
    info = JSON.parse(fs.readFileSync(path.join(dir, 'module.json'), 'utf8'));
  }
  // No reader under Wine: no token, so the conformance run checks that and does what needs none
  // (open with CKF_OS_LOCKING_OK, module info, slot lists and slot info, close).
  return { dir, ...info, conformance: { expectNoSlots: true, readOnly: true } };
}

module.exports = { ensure, collect };

if (require.main === module) {
  try {
    process.stdout.write(JSON.stringify(ensure()) + '\n');
  } catch (e) {
    process.stderr.write(`[opensc-win] ${e.stack || e.message}\n`);
    process.exit(1);
  }
}
