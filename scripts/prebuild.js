#!/usr/bin/env node
// Makes the shipped binaries (`npm run prebuild`): prebuilds/<platform>-<arch>/p11bridge.<libc>.node
// for every target this machine can build, then prebuilds/SHA256SUMS.
//
//   node scripts/prebuild.js                  every target buildable here (see TARGETS)
//   node scripts/prebuild.js --only x64       one architecture
//   node scripts/prebuild.js --require-all    fail instead of skipping a target whose compiler is missing (CI)
//
//   node scripts/prebuild.js --only win32-x64 the Windows binary alone
//
// On linux-x64 that is linux-x64 (native), linux-arm64 (Debian's aarch64-linux-gnu cross
// compiler, `apt-get install g++-aarch64-linux-gnu`) and win32-x64 (mingw-w64,
// `apt-get install g++-mingw-w64-x86-64-posix`; scripts/wine-build.js says why mingw, and
// scripts/wine-test.js tests the result under Wine). The Linux two are built for glibc 2.28 and later
// (src-native/platform/glibc_floor.cc) and tagged with their libc (prebuildify --tag-libc), so
// node-gyp-build on a musl system (Alpine) never picks them and falls back to a source build.
// scripts/check-glibc.js verifies the result. Elsewhere (macOS, Windows) the native target only.
//
// prebuildify builds in build/ and copies from build/Release; the native target is built last
// so that build/Release (which node-gyp-build loads first in a checkout) is a native binary.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const prebuilds = path.join(root, 'prebuilds');

// Cross targets buildable from linux-x64, with the tools they need.
const CROSS = {
  arm64: { cc: 'aarch64-linux-gnu-gcc', cxx: 'aarch64-linux-gnu-g++', strip: 'aarch64-linux-gnu-strip', apt: 'g++-aarch64-linux-gnu' },
};

function has(bin) {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

// The headers of the running Node when it ships them (no download needed).
function nodedir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function prebuildify(arch, extraEnv) {
  const env = { ...process.env, ...extraEnv };
  if (nodedir()) env.npm_config_nodedir = nodedir();
  const args = [require.resolve('prebuildify/bin.js'), '--napi', '--strip', '--arch', arch];
  if (process.platform === 'linux') args.push('--tag-libc');
  process.stderr.write(`[prebuild] ${process.platform}-${arch}\n`);
  execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
}

// win32-x64 from linux-x64: mingw-w64 in a fresh object directory (never build/, which other
// work in this checkout loads), then the stripped .dll into prebuilds/win32-x64/p11bridge.node
// (untagged: node-gyp-build on Windows has no libc tag to match).
async function buildWindows(requireAll) {
  const wb = require('./wine-build.js');
  const missing = wb.missingTools('x64');
  if (missing.length) {
    const msg = `win32-x64: mingw-w64 not found (apt-get install ${missing.join(' ')})`;
    if (requireAll) throw new Error(msg);
    process.stderr.write(`[prebuild] skipped ${msg}\n`);
    return;
  }
  process.stderr.write('[prebuild] win32-x64 (mingw-w64)\n');
  const work = path.join(root, '.tmp', `win32-x64-prebuild-${process.pid}`);
  fs.rmSync(work, { recursive: true, force: true });
  try {
    const out = path.join(prebuilds, 'win32-x64', 'p11bridge.node');
    const r = await wb.buildAddon({ out, work, jobs: Number(process.env.JOBS) || 2 });
    const imports = wb.importsOf(out);
    // Only system DLLs: the C++ runtime is linked in, node.exe is a delay-load import.
    const foreign = imports.filter((d) => !['kernel32.dll', 'msvcrt.dll', 'advapi32.dll', 'user32.dll'].includes(d));
    if (foreign.length) throw new Error(`win32-x64: the binary imports ${foreign.join(', ')}`);
    process.stderr.write(`[prebuild] win32-x64 in ${r.seconds.toFixed(1)} s, imports ${imports.join(', ')}\n`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  const argv = process.argv.slice(2);
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
  const requireAll = argv.includes('--require-all');
  const native = process.arch;
  const fromLinuxX64 = process.platform === 'linux' && native === 'x64';
  const cross = fromLinuxX64 ? Object.keys(CROSS) : [];
  const windows = fromLinuxX64 ? ['win32-x64'] : [];
  const wanted = [...cross, native].filter((a) => !only || a === only);
  const wantWindows = windows.filter((t) => !only || t === only);
  if (!wanted.length && !wantWindows.length) throw new Error(`--only ${only}: not a target of this machine (${[...cross, native, ...windows].join(', ')})`);

  // A clean directory (with --only: that target's), so a binary left from an older naming
  // (untagged) or a dropped target never ships.
  if (only) fs.rmSync(path.join(prebuilds, only.includes('-') ? only : `${process.platform}-${only}`), { recursive: true, force: true });
  else fs.rmSync(prebuilds, { recursive: true, force: true });
  if (wantWindows.length) await buildWindows(requireAll);
  for (const arch of wanted) {
    if (arch === native) {
      prebuildify(arch, {});
      continue;
    }
    const t = CROSS[arch];
    const missing = [t.cc, t.cxx, t.strip].filter((b) => !has(b));
    if (missing.length) {
      const msg = `linux-${arch}: ${missing.join(', ')} not found (apt-get install ${t.apt})`;
      if (requireAll) throw new Error(msg);
      process.stderr.write(`[prebuild] skipped ${msg}\n`);
      continue;
    }
    prebuildify(arch, { CC: t.cc, CXX: t.cxx, LINK: t.cxx, PREBUILD_STRIP_BIN: t.strip });
  }
  require('./prebuild-sums.js').write();
  for (const line of fs.readFileSync(path.join(prebuilds, 'SHA256SUMS'), 'utf8').trim().split('\n')) {
    process.stderr.write(`[prebuild] ${line}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`[prebuild] ${e.stack || e.message}\n`);
  process.exit(1);
});
