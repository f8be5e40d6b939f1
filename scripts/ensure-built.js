#!/usr/bin/env node
// Builds what is missing or older than its sources: the addon (node-gyp) and dist/ (tsc).
// `npm test` and `npm run demo` call it so a fresh clone needs only `npm ci` first.
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

function run(cmd, args) {
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
}

// Build against the headers of the running Node when it ships them (no download needed).
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? ['--nodedir=' + prefix] : [];
}

const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
const addon = path.join(root, 'build', 'Release', 'p11bridge.node');
const prebuild = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'p11bridge.node');
const nativeSrc = Math.max(newest(path.join(root, 'src-native'), ['.cc', '.h']), mtime(path.join(root, 'binding.gyp')));

// The package test installs the packed tarball, which carries prebuilds/ (made by prebuildify).
if (mtime(prebuild) < nativeSrc && !process.argv.includes('--no-prebuild')) {
  const env = { ...process.env };
  if (!env.npm_config_nodedir && nodedirArgs().length) env.npm_config_nodedir = nodedirArgs()[0].slice('--nodedir='.length);
  execFileSync(process.execPath, [require.resolve('prebuildify/bin.js'), '--napi', '--strip'], {
    cwd: root,
    stdio: 'inherit',
    env,
  });
}
// prebuildify moves its output away from build/Release; tests and tools load build/Release.
if (mtime(addon) < nativeSrc) {
  const configured = mtime(path.join(root, 'build', 'config.gypi')) >= mtime(path.join(root, 'binding.gyp'));
  const args = configured ? ['build', '-j', '2'] : ['rebuild', '-j', '2'];
  run(process.execPath, [nodeGyp, ...args, ...nodedirArgs()]);
}

const dist = path.join(root, 'dist', 'index.js');
if (mtime(dist) < newest(path.join(root, 'lib'), ['.ts'])) {
  require('./prune-dist.js').prune();
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
}
