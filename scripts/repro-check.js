#!/usr/bin/env node
// Reproducible prebuilds: builds the prebuilds twice from one snapshot of the sources, in two
// temporary directories whose paths differ in name and depth (as a CI runner's and a developer's
// checkout do), with the same scripts/prebuild.js that `npm run prebuild` runs (every target this
// machine builds: linux-x64, and linux-arm64 with the cross compiler), and compares the .node
// files byte for byte. On a difference it prints where (cmp -l), the .comment section and any
// build path found in the binaries, and exits 1.
//
// Usage: node scripts/repro-check.js [--keep]   (--keep leaves the temporary trees for a look)
//        node scripts/repro-check.js --against-repo
//            one build only, compared with the repository's own prebuilds/ (made just before by
//            `npm run prebuild`, as CI does): half the time, and the checkout's path differs too.
//        --only TARGET   one target of scripts/prebuild.js (x64, arm64, win32-x64), with either form.
// The win32-x64 binary (mingw-w64, scripts/wine-build.js) is checked like the Linux ones.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { nodedir } = require('./ensure-built.js');

const root = path.join(__dirname, '..');
// Not copied: node_modules is linked instead (its contents are inputs, never outputs), and the
// rest are outputs or history that the build neither reads nor may be influenced by.
const SKIP = new Set(['node_modules', 'build', 'prebuilds', '.git', '.tmp', 'coverage', 'dist']);

function copyTree(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    fs.cpSync(path.join(from, e.name), path.join(to, e.name), { recursive: true, dereference: false });
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(to, 'node_modules'));
}

// The build environment: the one `npm run prebuild` has, with no flag added, so that what passes
// here is what CI ships. It is reproducible as it stands because nothing puts the build path into
// the binary: Release builds have no debug info (no DW_AT_comp_dir), gyp compiles sources and
// node-addon-api through relative paths (so __FILE__ is relative), src-native uses no __DATE__ or
// __TIME__, and the linker's build ID is a SHA-1 of the (identical) output. If a change breaks
// that (say, -g, whose comp_dir would change the build ID even after --strip), explain() shows the
// path, and binding.gyp needs -ffile-prefix-map=<(module_root_dir)=. in cflags and cflags_cc.
function buildEnv() {
  const env = {
    ...process.env,
    JOBS: process.env.JOBS || String(Math.max(1, os.availableParallelism())),
    // node-addon-api's include_dir is a path relative to the real location of the package; with
    // node_modules linked, keeping symlinks makes it node_modules/node-addon-api, as in a checkout.
    NODE_OPTIONS: [process.env.NODE_OPTIONS, '--preserve-symlinks'].filter(Boolean).join(' '),
  };
  const headers = nodedir();
  if (headers && !env.npm_config_nodedir) env.npm_config_nodedir = headers;
  return env;
}

// Every .node under dir/prebuilds, keyed by its path there (linux-x64/p11bridge.glibc.node).
function binaries(dir) {
  const out = new Map();
  const top = path.join(dir, 'prebuilds');
  for (const t of fs.existsSync(top) ? fs.readdirSync(top) : []) {
    if (!fs.statSync(path.join(top, t)).isDirectory() || (onlyDir && t !== onlyDir)) continue;
    for (const f of fs.readdirSync(path.join(top, t))) if (f.endsWith('.node')) out.set(`${t}/${f}`, path.join(top, t, f));
  }
  return out;
}

const onlyArg = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
// The prebuilds/ directory a --only target writes (x64 → linux-x64 here, win32-x64 as it is).
const onlyDir = onlyArg && (onlyArg.includes('-') ? onlyArg : `${process.platform}-${onlyArg}`);

function build(dir) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(dir, 'scripts', 'prebuild.js'), ...(onlyArg ? ['--only', onlyArg] : [])], {
    cwd: dir,
    env: buildEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`scripts/prebuild.js failed in ${dir} (exit ${r.status})`);
  }
  console.log(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${dir}`);
  return binaries(dir);
}

function tool(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return r.error ? `(${cmd} unavailable: ${r.error.message})` : r.stdout + r.stderr;
}

function buildId(f) {
  const m = /Build ID: ([0-9a-f]+)/.exec(tool('readelf', ['-n', f]));
  return m ? m[1] : undefined;
}

// What a reader needs to find the cause: the first differing bytes, the compiler identification,
// the build ID, and strings that look like one of the two build paths. When the build ID is all
// that differs, the cause is gone from the shipped file: --strip removed what differed (debug
// info naming the build directory, typically), but the linker had hashed it into the ID first.
function explain(a, b, dirs) {
  console.log(`\n${path.basename(a)} differs:`);
  console.log(tool('sh', ['-c', 'cmp -l "$1" "$2" | head -20', 'sh', a, b]).trimEnd());
  const [bufA, bufB] = [fs.readFileSync(a), fs.readFileSync(b)];
  const diffs = [];
  for (let i = 0; i < Math.max(bufA.length, bufB.length); i++) if (bufA[i] !== bufB[i]) diffs.push(i);
  console.log(`${diffs.length} bytes differ (sizes ${bufA.length} and ${bufB.length})`);
  for (const f of [a, b]) {
    console.log(`-- ${f}`);
    console.log(tool('readelf', ['-p', '.comment', f]).trim());
    console.log(`Build ID: ${buildId(f)}`);
    const strings = tool('strings', ['-a', f]).split('\n');
    const paths = strings.filter((s) => dirs.some((d) => s.includes(d)) || s.includes(os.tmpdir() + '/'));
    console.log(paths.length ? `build paths in strings:\n  ${paths.slice(0, 20).join('\n  ')}` : 'no build path in strings');
  }
  const id = buildId(a) ? Buffer.from(buildId(a), 'hex') : undefined;
  const at = id ? bufA.indexOf(id) : -1;
  if (bufA.length === bufB.length && at >= 0 && diffs.every((i) => i >= at && i < at + id.length)) {
    console.log(
      'Only the build ID differs: the unstripped link outputs differed. Rerun with --keep and look for\n' +
        'the build path in the objects (readelf --debug-dump=info <tree>/build/Release/obj.target/p11bridge/src-native/*.o | grep comp_dir);\n' +
        'binding.gyp\'s cflags and cflags_cc need "-ffile-prefix-map=<(module_root_dir)=." for -g builds.',
    );
  }
}

function main() {
  const t0 = Date.now();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-repro-'));
  // Different names and depths, so neither an absolute nor a relative path can come out equal.
  const againstRepo = process.argv.includes('--against-repo');
  const dirs = againstRepo ? [root, path.join(base, 'second', 'checkout-b')] : [path.join(base, 'a'), path.join(base, 'second', 'checkout-b')];
  try {
    // One snapshot: the second tree is copied from the first, so an edit made in the working tree
    // while this runs cannot make the two builds differ (with --against-repo: do not edit).
    if (!againstRepo) copyTree(root, dirs[0]);
    copyTree(dirs[0], dirs[1]);

    const first = againstRepo ? binaries(root) : build(dirs[0]);
    if (againstRepo && !first.size) throw new Error('--against-repo: the repository has no prebuilds/ (npm run prebuild)');
    const second = build(dirs[1]);
    let same = first.size > 0 && first.size === second.size;
    for (const [name, a] of first) {
      const b = second.get(name);
      if (!b) {
        console.log(`${name} was built only in ${dirs[0]}`);
        same = false;
      } else if (!fs.readFileSync(a).equals(fs.readFileSync(b))) {
        explain(a, b, dirs);
        same = false;
      } else {
        const sum = execFileSync('sha256sum', [a], { encoding: 'utf8' }).split(' ')[0];
        console.log(`${name}: identical (${fs.statSync(a).size} bytes, sha256 ${sum})`);
      }
    }
    console.log(`repro check ${same ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return same ? 0 : 1;
  } finally {
    if (process.argv.includes('--keep')) console.log(`kept: ${base}`);
    else fs.rmSync(base, { recursive: true, force: true });
  }
}

if (require.main === module) process.exitCode = main();
module.exports = { explain };
