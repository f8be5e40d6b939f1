#!/usr/bin/env node
// Checks that Linux binaries load on the oldest systems p11bridge supports: glibc 2.28 (Debian 10,
// RHEL 8, Ubuntu 20.04 has 2.31), with no libstdc++ of the build machine needed.
//
//   node scripts/check-glibc.js               every .node under prebuilds/linux-*
//   node scripts/check-glibc.js FILE...       those files
//   --json                                    the findings as JSON on stdout
//
// For each binary, from readelf (binutils; it reads ELF of any architecture):
// - the highest GLIBC_ version it requires is at most 2.28 (src-native/platform/glibc_floor.cc);
// - it requires no GLIBCXX_ or CXXABI_ version (libstdc++ is linked in, binding.gyp);
// - it needs only libraries every glibc system has (NEEDED);
// - its machine matches the directory's architecture, and its file name carries the libc tag, so
//   node-gyp-build on musl never picks it.
// Exit 1 when a binary breaks a rule, 2 when there is nothing to check.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const FLOOR = [2, 28];
const ALLOWED_NEEDED = [/^libc\.so\.6$/, /^libm\.so\.6$/, /^libdl\.so\.2$/, /^libpthread\.so\.0$/, /^libgcc_s\.so\.1$/, /^ld-linux[-\w.]*\.so\.\d+$/];
const MACHINE = { x64: 'Advanced Micro Devices X86-64', arm64: 'AArch64' };

function readelf(args, file) {
  return execFileSync('readelf', [...args, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

const cmp = (a, b) => a[0] - b[0] || (a[1] || 0) - (b[1] || 0) || (a[2] || 0) - (b[2] || 0);

function check(file) {
  const problems = [];
  const versions = [...new Set(readelf(['-V', '-W'], file).match(/\b(GLIBC|GLIBCXX|CXXABI|GCC)_[0-9][0-9.]*/g) || [])];
  const glibc = versions.filter((v) => v.startsWith('GLIBC_')).map((v) => v.slice(6).split('.').map(Number));
  const maxGlibc = glibc.sort(cmp).pop() || null;
  if (maxGlibc && cmp(maxGlibc, FLOOR) > 0) problems.push(`requires GLIBC_${maxGlibc.join('.')} (> ${FLOOR.join('.')})`);
  const cxx = versions.filter((v) => /^(GLIBCXX|CXXABI)_/.test(v));
  if (cxx.length) problems.push(`requires the system libstdc++: ${cxx.sort().join(', ')}`);
  const needed = [...readelf(['-d', '-W'], file).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  for (const n of needed) if (!ALLOWED_NEEDED.some((re) => re.test(n))) problems.push(`needs ${n}`);
  const machine = (/Machine:\s+(.+)/.exec(readelf(['-h', '-W'], file)) || [])[1] || '?';
  const dir = path.basename(path.dirname(file)); // linux-x64, linux-arm64 (prebuilds layout)
  const arch = /^linux-(\w+)$/.exec(dir);
  if (arch && MACHINE[arch[1]] && MACHINE[arch[1]] !== machine.trim()) problems.push(`is ${machine.trim()}, in ${dir}/`);
  if (arch && !/\.glibc\.node$/.test(file)) problems.push('has no libc tag in its name (prebuildify --tag-libc)');
  return { file, machine: machine.trim(), maxGlibc: maxGlibc ? maxGlibc.join('.') : null, versions: versions.sort(), needed, problems };
}

function prebuiltLinux(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((d) => d.startsWith('linux-'))
    .flatMap((d) => fs.readdirSync(path.join(dir, d)).filter((f) => f.endsWith('.node')).map((f) => path.join(dir, d, f)));
}

function main() {
  const args = process.argv.slice(2).filter((a) => a !== '--json');
  const files = args.length ? args : prebuiltLinux(path.join(__dirname, '..', 'prebuilds'));
  if (!files.length) {
    process.stderr.write('check-glibc: no Linux binary to check (run npm run prebuild)\n');
    process.exit(2);
  }
  const results = files.map(check);
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  else {
    for (const r of results) {
      process.stdout.write(`${r.problems.length ? 'FAIL' : 'ok  '} ${path.relative(process.cwd(), r.file)}: ${r.machine}, GLIBC <= ${r.maxGlibc}, needs ${r.needed.join(' ')}\n`);
      for (const p of r.problems) process.stdout.write(`       ${p}\n`);
    }
  }
  process.exit(results.some((r) => r.problems.length) ? 1 : 0);
}

if (require.main === module) main();
module.exports = { check, FLOOR };
