#!/usr/bin/env node
// Builds what is missing or older than its sources: the addon (node-gyp), the prebuild and its
// SHA256SUMS, dist/ (tsc) and the ES module wrappers over it (esm/).
// `npm test` and `npm run demo` call it so a fresh clone needs only `npm ci` first.
//
// The addon is compiled once, by make: `node-gyp build` recompiles only the sources newer than their
// objects (touch one .cc, one file is compiled), and this machine's prebuild is that binary,
// stripped (what prebuildify makes from the same build: the same bytes), not a second full
// rebuild. `npm run prebuild` (scripts/prebuild.js) still makes every target from scratch.
// node-gyp's `gyp info` lines are shown only with P11BRIDGE_VERBOSE_BUILD=1 or --verbose.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.join(__dirname, '..');

function newest(dir, exts) {
  let t = 0;
  if (!fs.existsSync(dir)) return t;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, exts));
    else if (exts.some((x) => e.name.endsWith(x))) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

function mtime(p) {
  return fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0;
}

const VERBOSE = !!process.env.P11BRIDGE_VERBOSE_BUILD || process.argv.includes('--verbose');

function run(cmd, args) {
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
}

// The name prebuildify --napi --tag-libc gives this platform's binary (scripts/prebuild.js).
function prebuildName() {
  return process.platform === 'linux' ? 'p11bridge.glibc.node' : 'p11bridge.node';
}

// This machine's prebuild from build/Release, stripped as prebuildify --strip does.
function copyPrebuild(addon, dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const dest = path.join(dir, prebuildName());
  fs.copyFileSync(addon, dest);
  if (process.platform === 'linux') execFileSync('strip', [dest, '--strip-all']);
  else if (process.platform === 'darwin') execFileSync('strip', [dest, '-Sx']);
  process.stderr.write(`[ensure-built] ${path.relative(root, dest)} from ${path.relative(root, addon)}\n`);
}

// The headers of the running Node when it ships them (no download needed), or undefined.
function nodedir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function nodedirArgs() {
  if (process.env.npm_config_nodedir || !nodedir()) return [];
  return ['--nodedir=' + nodedir()];
}

function main() {
  const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
  const addon = path.join(root, 'build', 'Release', 'p11bridge.node');
  const prebuilds = path.join(root, 'prebuilds');
  const prebuildDir = path.join(prebuilds, `${process.platform}-${process.arch}`);
  const nativeSrc = Math.max(newest(path.join(root, 'src-native'), ['.cc', '.h']), mtime(path.join(root, 'binding.gyp')));

  // prebuildify moves its output away from build/Release; tests and tools load build/Release.
  if (mtime(addon) < nativeSrc) {
    const configured = mtime(path.join(root, 'build', 'config.gypi')) >= mtime(path.join(root, 'binding.gyp')) && fs.existsSync(path.join(root, 'build', 'Makefile'));
    const args = configured ? ['build', '-j', '2'] : ['rebuild', '-j', '2'];
    run(process.execPath, [nodeGyp, ...args, ...nodedirArgs(), ...(VERBOSE ? [] : ['--loglevel=warn'])]);
  }
  // The package test installs the packed tarball, which carries prebuilds/: this machine's own
  // target follows build/Release (`npm run prebuild` makes every target).
  if (newest(prebuildDir, ['.node']) < Math.max(nativeSrc, mtime(addon)) && !process.argv.includes('--no-prebuild')) {
    copyPrebuild(addon, prebuildDir);
  }
  // As `npm run prebuild` does: the shipped SHA256SUMS must describe the shipped binaries.
  if (fs.existsSync(prebuilds) && mtime(path.join(prebuilds, 'SHA256SUMS')) < newest(prebuilds, ['.node'])) {
    require('./prebuild-sums.js').write();
  }

  const dist = path.join(root, 'dist', 'index.js');
  if (mtime(dist) < newest(path.join(root, 'lib'), ['.ts'])) {
    require('./prune-dist.js').prune();
    run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
  }
  // The wrappers list dist/'s export names, so they follow every compile (and their generator).
  const esm = require('./gen-esm.js');
  const esmTime = Math.min(...esm.ENTRIES.map((e) => mtime(path.join(root, 'esm', `${e}.mjs`))));
  if (esmTime < Math.max(mtime(dist), mtime(path.join(__dirname, 'gen-esm.js')))) esm.write();
}

if (require.main === module) main();
module.exports = { nodedir, prebuildName };
