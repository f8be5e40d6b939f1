#!/usr/bin/env node
// The win32-x64 addon, cross-built on Linux with mingw-w64 (Debian's g++-mingw-w64-x86-64), and
// the small Windows test binaries scripts/wine-test.js needs. scripts/prebuild.js calls
// buildAddon() for prebuilds/win32-x64/; nothing here touches build/.
//
//   node scripts/wine-build.js [--out FILE]    the addon only (default .tmp/win32-x64/p11bridge.node)
//
// Why mingw-w64 and not clang-cl + xwin (the MSVC headers and CRT fetched from Microsoft): the
// MSVC SDK is neither in Debian nor on npm and its licence forbids redistributing it, so CI could
// not install it from the places this project uses; mingw-w64 is a Debian package. The result
// differs from an MSVC build in ways that do not reach the ABI the addon shares with others:
// Node-API is plain C (cdecl, no C++ across the boundary), PKCS#11 modules are C with 1-byte
// packing (src-native/pkcs11, and test/native/layout.c checks it under Wine), and the C++ runtime
// (libstdc++, libgcc, winpthreads) is linked in statically, so the .dll needs only system DLLs and
// the host executable (checked by importsOf()).
//
// The sources, defines and warning flags come from binding.gyp, so both builds compile the same
// files the same way. The N-API functions are imported from "node.exe" through a delay-load import
// library made from node-api-headers' .def files, with src-native/platform/win_delay_load_hook.cc
// pointing it at the running executable, as node-gyp's hook does for MSVC builds.
//
// Reproducible: no timestamp in the PE header (--no-insert-timestamp), a fixed image base
// (--disable-auto-image-base), no build path in the binary (-ffile-prefix-map, relative include
// paths), stripped; scripts/repro-check.js compares two builds byte for byte.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawn, spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const TRIPLE = { x64: 'x86_64-w64-mingw32', ia32: 'i686-w64-mingw32' };
// The posix thread model: GCC 12's win32 model has no std::thread / std::mutex.
const tool = (arch, name) => `${TRIPLE[arch]}-${name}${name === 'g++' || name === 'gcc' ? '-posix' : ''}`;
const APT = { x64: ['g++-mingw-w64-x86-64-posix', 'binutils-mingw-w64-x86-64'], ia32: ['gcc-mingw-w64-i686-posix', 'binutils-mingw-w64-i686'] };

function has(bin) {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

/** The compilers and binutils for `arch`, or the apt packages that give them. */
function missingTools(arch = 'x64') {
  // The 32-bit compiler only builds a C test DLL (scripts/wine-test.js).
  const need = (arch === 'x64' ? ['g++', 'gcc', 'dlltool', 'strip', 'objdump'] : ['gcc', 'objdump']).map((n) => tool(arch, n));
  return need.some((b) => !has(b)) ? APT[arch] : [];
}

// binding.gyp is JSON with '#' comments (outside strings).
function readGyp() {
  const text = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8');
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else out += c;
  }
  const target = JSON.parse(out).targets[0];
  const win = (target.conditions || []).filter((c) => c[0] === "OS=='win'").map((c) => c[1]);
  const defines = [...target.defines, ...win.flatMap((w) => w.defines || [])];
  // The warning and language flags of the Linux build; the rest of cflags_cc is Linux-only.
  const flags = target.cflags_cc.filter((f) => /^-(std=|W|fexceptions)/.test(f));
  return { sources: target.sources, defines, flags };
}

function headersDir() {
  return path.dirname(require.resolve('node-api-headers/package.json'));
}

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts });
}

// At most `jobs` compilers at a time: the machines here have 2 cores shared with other work.
async function parallel(tasks, jobs) {
  const queue = tasks.slice();
  const worker = async () => {
    while (queue.length) await queue.shift()();
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
}

function compile(cxx, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cxx, args, { cwd: root, stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      if (err) process.stderr.write(err);
      if (code !== 0) reject(new Error(`${cxx} failed (exit ${code}) on ${args[args.length - 1]}`));
      else resolve(/warning:/.test(err) ? args[args.length - 1] : null);
    });
  });
}

// An object newer than every file its .d (gcc -MMD) lists and than binding.gyp (a flag changed
// here needs .tmp/win32-x64/obj removed; prebuild.js always builds in an empty directory).
function upToDate(obj) {
  const dep = obj.replace(/\.o$/, '.d');
  if (!fs.existsSync(obj) || !fs.existsSync(dep)) return false;
  const t = fs.statSync(obj).mtimeMs;
  const inputs = fs.readFileSync(dep, 'utf8').replace(/\\\n/g, ' ').split(':').slice(1).join(':').trim().split(/\s+/);
  inputs.push(path.join(root, 'binding.gyp'));
  return inputs.every((f) => f && fs.existsSync(path.resolve(root, f)) && fs.statSync(path.resolve(root, f)).mtimeMs <= t);
}

/** The delay-load import library of node.exe's N-API exports. */
function nodeImportLib(work) {
  const defs = ['js_native_api.def', 'node_api.def'].map((f) => fs.readFileSync(path.join(headersDir(), 'def', f), 'utf8'));
  const names = new Set();
  for (const d of defs) for (const line of d.split('\n').slice(2)) if (line.trim()) names.add(line.trim());
  const def = path.join(work, 'node.def');
  fs.writeFileSync(def, `LIBRARY node.exe\nEXPORTS\n${[...names].sort().join('\n')}\n`);
  const lib = path.join(work, 'libnode-delay.a');
  run(tool('x64', 'dlltool'), ['--input-def', def, '--output-delaylib', lib, '--dllname', 'node.exe', '--no-leading-underscore']);
  return lib;
}

/**
 * Builds the addon. Objects go to `work` (default .tmp/win32-x64), the stripped .dll to `out`.
 * Returns { out, seconds }.
 */
async function buildAddon({
  out = path.join(root, '.tmp', 'win32-x64', 'p11bridge.node'),
  work = path.join(root, '.tmp', 'win32-x64', 'obj'),
  jobs = Number(process.env.JOBS) || 2,
} = {}) {
  const missing = missingTools('x64');
  if (missing.length) throw new Error(`win32-x64: mingw-w64 not found (apt-get install ${missing.join(' ')})`);
  const t0 = Date.now();
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const gyp = readGyp();
  const cxx = tool('x64', 'g++');
  // Relative include paths and -ffile-prefix-map: no build path reaches __FILE__ or the binary.
  const napiInclude = path.relative(root, path.join(headersDir(), 'include'));
  const addonApi = path.relative(root, require('node-addon-api').include_dir);
  const common = [
    ...gyp.flags,
    '-O3',
    '-fvisibility=hidden',
    `-ffile-prefix-map=${root}=.`,
    ...gyp.defines.map((d) => `-D${d}`),
    '-DBUILDING_NODE_EXTENSION',
    // Windows 10 APIs (GetModuleHandleExW & co. are older; this only sets the SDK's view).
    '-D_WIN32_WINNT=0x0A00',
    `-I${addonApi}`,
    `-I${napiInclude}`,
    '-Isrc-native',
  ];
  const sources = [...gyp.sources, 'src-native/platform/win_delay_load_hook.cc'];
  const objects = sources.map((s) => path.join(work, s.replace(/[\\/]/g, '_').replace(/\.cc$/, '.o')));
  const warned = [];
  await parallel(
    sources.map((s, i) => async () => {
      if (upToDate(objects[i])) return;
      const w = await compile(cxx, [...common, '-MMD', '-c', '-o', objects[i], s]);
      if (w) warned.push(w);
    }),
    jobs,
  );
  if (warned.length) throw new Error(`warnings in ${warned.join(', ')}: the Windows build must compile cleanly`);
  const lib = nodeImportLib(work);
  run(cxx, [
    '-shared',
    '-o',
    out,
    ...objects,
    lib,
    // The C++ runtime inside the .dll: no libstdc++-6.dll / libgcc_s_seh-1.dll / libwinpthread-1.dll next to it.
    '-static',
    '-static-libstdc++',
    '-static-libgcc',
    '-Wl,--no-insert-timestamp',
    // Not ld's default for mingw DLLs (--enable-auto-image-base), which derives the preferred base
    // from a hash of the output's file name: two builds to different paths then differ in every
    // absolute pointer (found by scripts/repro-check.js). The fixed base is MSVC's default for
    // 64-bit DLLs; the DLL is relocatable (dynamicbase) either way.
    '-Wl,--disable-auto-image-base',
    '-Wl,--exclude-all-symbols',
    '-s',
  ]);
  return { out, seconds: (Date.now() - t0) / 1000 };
}

/** The DLLs a PE file imports (objdump -p), lower-cased. */
function importsOf(file, arch = 'x64') {
  const text = run(tool(arch, 'objdump'), ['-p', file]);
  const names = new Set();
  for (const m of text.matchAll(/DLL Name: (\S+)/g)) names.add(m[1].toLowerCase());
  return [...names].sort();
}

/** The functions a PE DLL exports (objdump -p's export table). */
function exportsOf(file, arch = 'x64') {
  const text = run(tool(arch, 'objdump'), ['-p', file]);
  const start = text.indexOf('[Ordinal/Name Pointer] Table');
  if (start < 0) return [];
  const out = [];
  for (const line of text.slice(start).split('\n').slice(1)) {
    const m = /^\s+\[\s*\d+\]\s+(\S+)/.exec(line);
    if (!m) break;
    out.push(m[1]);
  }
  return out;
}

/** A C file (or several) into a Windows .exe or .dll with mingw: `kind` 'exe' | 'dll'. */
function buildC({ sources, out, kind = 'exe', arch = 'x64', flags = [], libs = [] }) {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const args = [
    '-std=c11',
    '-O2',
    '-Wall',
    '-Wno-unused-parameter',
    `-ffile-prefix-map=${root}=.`,
    ...flags,
    '-o',
    out,
    ...sources,
    ...libs,
    '-static',
    '-static-libgcc',
    '-Wl,--no-insert-timestamp',
    '-Wl,--disable-auto-image-base',
    '-s',
  ];
  if (kind === 'dll') args.unshift('-shared');
  const r = spawnSync(tool(arch, 'gcc'), args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool(arch, 'gcc')} failed on ${sources.join(' ')}:\n${r.stderr}`);
  return out;
}

module.exports = { buildAddon, buildC, importsOf, exportsOf, missingTools, readGyp, tool, TRIPLE, APT };

if (require.main === module) {
  const i = process.argv.indexOf('--out');
  buildAddon(i > 0 ? { out: path.resolve(process.argv[i + 1]) } : {})
    .then((r) => {
      process.stderr.write(`[wine-build] ${path.relative(root, r.out)} in ${r.seconds.toFixed(1)} s; imports: ${importsOf(r.out).join(', ')}\n`);
    })
    .catch((e) => {
      process.stderr.write(`[wine-build] ${e.message}\n`);
      process.exit(1);
    });
}
