#!/usr/bin/env node
// p11-kit and friends for the module matrix: finds (or apt-installs) p11-kit's client and trust
// modules, OpenSC's opensc-pkcs11.so and pkcs11-tool, Yubico's ykcs11; starts and stops a
// `p11-kit server` that exports one provider's token(s) over a unix socket in a private temp dir.
//
//   const { startP11KitServer, ensureP11KitClient } = require('./scripts/p11kit.js');
//   const server = await startP11KitServer({ provider: softhsm, tokens: ['remote-a'], env: { SOFTHSM2_CONF } });
//   // child processes: env P11_KIT_SERVER_ADDRESS = server.address, module ensureP11KitClient()
//   await server.stop();
//
//   node scripts/p11kit.js paths      # prints the module paths (installing what is missing)
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { aptInstall } = require('./softhsm.js');

const TRIPLETS = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf', ia32: 'i386-linux-gnu' };

/** Directories PKCS#11 modules live in on Debian/Ubuntu (multiarch) and Fedora-like systems. */
function moduleDirs() {
  const t = TRIPLETS[process.arch];
  const dirs = [];
  if (t) dirs.push(`/usr/lib/${t}/pkcs11`, `/usr/lib/${t}`);
  dirs.push('/usr/lib64/pkcs11', '/usr/lib64', '/usr/lib/pkcs11', '/usr/lib', '/usr/local/lib/pkcs11', '/usr/local/lib');
  return dirs;
}

/** The first existing file among `names` in the module directories, or null. */
function findModule(...names) {
  for (const dir of moduleDirs()) {
    for (const n of names) {
      const p = path.join(dir, n);
      if (fs.existsSync(p) && fs.statSync(p).isFile()) return p;
    }
  }
  return null;
}

function which(cmd) {
  for (const dir of (process.env.PATH || '/usr/bin:/bin').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    if (fs.existsSync(p)) return p;
  }
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    const p = path.join(dir, cmd);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/**
 * Runs `find`; when it answers null, installs `packages` with apt and asks again. Test files run
 * in parallel, so another one may hold the dpkg lock: a failed install is retried (3 tries, 5 s
 * apart), and one that another process finished meanwhile counts.
 */
function ensure(what, find, packages) {
  let p = find();
  for (let attempt = 1; !p && attempt <= 3; attempt++) {
    try {
      aptInstall(packages);
    } catch (e) {
      if (attempt === 3) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);
    }
    p = find();
  }
  if (!p) throw new Error(`${what} not found after installing ${packages.join(', ')} (looked in ${moduleDirs().join(', ')})`);
  return p;
}

/** The `p11-kit` command (package p11-kit). */
function ensureP11KitCommand() {
  return ensure('p11-kit', () => which('p11-kit'), ['p11-kit']);
}

/** p11-kit-client.so (package p11-kit-modules): the RPC client of `p11-kit server`. */
function ensureP11KitClient() {
  ensureP11KitCommand();
  return ensure('p11-kit-client.so', () => findModule('p11-kit-client.so'), ['p11-kit-modules']);
}

const CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

/** p11-kit-trust.so (package p11-kit-modules) over the system CA store (package ca-certificates). */
function ensureP11KitTrust() {
  const lib = ensure('p11-kit-trust.so', () => findModule('p11-kit-trust.so'), ['p11-kit-modules']);
  const bundle = () => CA_BUNDLES.find((b) => fs.existsSync(b) && fs.statSync(b).size > 0) || null;
  ensure('the system CA bundle', bundle, ['ca-certificates']);
  return lib;
}

/** OpenSC's PKCS#11 module (package opensc-pkcs11). */
function ensureOpenscPkcs11() {
  return ensure('opensc-pkcs11.so', () => findModule('opensc-pkcs11.so'), ['opensc-pkcs11']);
}

/** OpenSC's pkcs11-tool (package opensc). */
function ensurePkcs11Tool() {
  return ensure('pkcs11-tool', () => which('pkcs11-tool'), ['opensc']);
}

/** Yubico's PIV module (package ykcs11). */
function ensureYkcs11() {
  return ensure('libykcs11.so', () => findModule('libykcs11.so', 'libykcs11.so.2', 'ykcs11.so'), ['ykcs11']);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Whether a unix socket accepts a connection (closed at once), within 1 s. */
function accepts(socketPath) {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    const done = (ok) => {
      c.destroy();
      resolve(ok);
    };
    c.setTimeout(1000, () => done(false));
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
  });
}

/**
 * Starts `p11-kit server -f` exporting `tokens` (labels or full pkcs11: URIs) of `provider`, on a
 * unix socket in a new 0700 temp dir. Output goes to a log file in that dir (never a pipe that
 * could fill while the caller's event loop is blocked by spawnSync). Resolves once the server has
 * printed its address and the socket exists; rejects after `timeoutMs` or if the server exits.
 */
async function startP11KitServer({ provider, tokens, env = {}, timeoutMs = 10_000 } = {}) {
  if (!provider) throw new TypeError('startP11KitServer: provider (a module path) is required');
  const list = (Array.isArray(tokens) ? tokens : [tokens]).filter(Boolean);
  if (list.length === 0) throw new TypeError('startP11KitServer: at least one token (label or pkcs11: URI) is required');
  const uris = list.map((t) => (t.startsWith('pkcs11:') ? t : `pkcs11:token=${encodeURIComponent(t)}`));
  const bin = ensureP11KitCommand();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11kit-server-'));
  fs.chmodSync(dir, 0o700);
  const socket = path.join(dir, 'pkcs11.sock');
  const logFile = path.join(dir, 'server.log');
  const fd = fs.openSync(logFile, 'w');
  const args = ['server', '-f', '-n', socket, '--provider', provider, ...uris];
  const t0 = Date.now();
  let child;
  try {
    // Its own process group: the server forks one p11-kit-remote per connection, and stop() ends
    // those too (a SIGTERM to the server alone leaves connected clients served).
    child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd], detached: true });
  } finally {
    fs.closeSync(fd);
  }
  const proc = track(child, { group: true });
  const readLog = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const cleanupDir = () => fs.rmSync(dir, { recursive: true, force: true });

  // Ready when it has printed its address and the socket exists. A p11-kit that prints nothing in
  // foreground mode is taken as ready once the socket accepts a connection.
  let address = null;
  let socketSince = 0;
  while (Date.now() - t0 < timeoutMs && !proc.exited) {
    const m = /P11_KIT_SERVER_ADDRESS=([^;\s]+)/.exec(readLog());
    const exists = fs.existsSync(socket);
    if (m && exists) {
      address = m[1];
      break;
    }
    if (exists && !socketSince) socketSince = Date.now();
    if (socketSince && Date.now() - socketSince > 1000 && (await accepts(socket))) {
      address = `unix:path=${socket}`;
      break;
    }
    await sleep(20);
  }
  if (!address) {
    const log = readLog();
    const exited = proc.exited;
    await proc.stop(1000);
    cleanupDir();
    const why = exited ? `exited (${exited.error ? exited.error.message : `code ${exited.code}, signal ${exited.signal}`})` : `gave no address within ${timeoutMs} ms`;
    throw new Error(`p11-kit server ${why}: ${bin} ${args.join(' ')}\n${log}`);
  }

  let stopping = null;
  return {
    address,
    socket,
    dir,
    /** The server's pid, also its process group id (connections are served by its children). */
    pid: child.pid,
    command: [bin, ...args],
    startupMs: Date.now() - t0,
    /** Environment a client process needs. */
    env: { P11_KIT_SERVER_ADDRESS: address },
    /** What the server has printed so far. */
    log: readLog,
    get exited() {
      return proc.exited;
    },
    /**
     * SIGTERM to the server's process group (the server and its per-connection p11-kit-remote
     * children), SIGKILL after `graceMs`; removes the socket dir. Safe to call twice.
     */
    stop({ graceMs = 5000 } = {}) {
      if (!stopping) {
        stopping = proc.stop(graceMs).then((r) => {
          const log = readLog();
          cleanupDir();
          return { ...r, log };
        });
      }
      return stopping;
    },
  };
}

/** pcscd (package pcscd). */
function ensurePcscd() {
  return ensure('pcscd', () => which('pcscd'), ['pcscd']);
}

/** Can this process make a private mount namespace (root, or CAP_SYS_ADMIN)? */
function canUnshareMount() {
  const bin = which('unshare');
  if (!bin) return { ok: false, reason: 'no unshare command (util-linux)' };
  const r = spawnSync(bin, ['-m', 'sh', '-c', 'mount -t tmpfs tmpfs /run'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0) return { ok: true, bin };
  return { ok: false, reason: `unshare -m failed (exit ${r.status}): ${(r.stderr || r.error?.message || '').trim()}` };
}

/**
 * Starts a private pcscd with no reader: pcscd 1.9 has /run/pcscd built in, so it runs in its
 * own mount namespace (`unshare -m`, a tmpfs over /run, a temp dir bound on /run/pcscd) and the
 * system's /run/pcscd is never touched. Clients reach it with env PCSCLITE_CSOCK_NAME (libpcsclite
 * reads it), which `env` holds. Resolves once the socket exists; rejects after `timeoutMs`.
 */
async function startPcscd({ timeoutMs = 10_000 } = {}) {
  const pcscd = ensurePcscd();
  const unshare = which('unshare');
  if (!unshare) throw new Error('startPcscd: no unshare command (util-linux)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-pcscd-'));
  const socket = path.join(dir, 'pcscd.comm');
  const logFile = path.join(dir, 'pcscd.log');
  const script = 'mount -t tmpfs tmpfs /run && mkdir /run/pcscd && mount --bind "$0" /run/pcscd && exec "$1" --foreground';
  const fd = fs.openSync(logFile, 'w');
  const t0 = Date.now();
  let child;
  try {
    child = spawn(unshare, ['-m', 'sh', '-c', script, dir, pcscd], { stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  const proc = track(child);
  const readLog = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  while (Date.now() - t0 < timeoutMs && !proc.exited && !fs.existsSync(socket)) await sleep(20);
  if (!fs.existsSync(socket)) {
    const log = readLog();
    await proc.stop(1000);
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`pcscd ${proc.exited ? 'exited' : `made no socket within ${timeoutMs} ms`}: ${unshare} -m sh -c '${script}' ${dir} ${pcscd}\n${log}`);
  }
  let stopping = null;
  return {
    socket,
    dir,
    pid: child.pid,
    startupMs: Date.now() - t0,
    env: { PCSCLITE_CSOCK_NAME: socket },
    log: readLog,
    stop({ graceMs = 5000 } = {}) {
      if (!stopping) {
        stopping = proc.stop(graceMs).then((r) => {
          const log = readLog();
          fs.rmSync(dir, { recursive: true, force: true });
          return { ...r, log };
        });
      }
      return stopping;
    },
  };
}

/**
 * Exit tracking and a bounded SIGTERM-then-SIGKILL stop for a child we spawned (its process group
 * when `group`: it was spawned detached); killed if this process exits first.
 */
function track(child, { group = false } = {}) {
  const state = { exited: null };
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve((state.exited = { code, signal })));
    child.once('error', (error) => resolve((state.exited = { code: null, signal: null, error })));
  });
  const send = (sig) => {
    try {
      if (group && child.pid) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      /* already gone */
    }
  };
  const killOnExit = () => send('SIGKILL');
  process.once('exit', killOnExit);
  const timer = (ms) => new Promise((r) => setTimeout(r, ms).unref());
  return {
    get exited() {
      return state.exited;
    },
    exitPromise,
    async stop(graceMs) {
      const t = Date.now();
      // The group may outlive its leader (connection children), so signal it even after an exit.
      if (!state.exited || group) send('SIGTERM');
      let r = await Promise.race([exitPromise, timer(graceMs).then(() => null)]);
      let forced = false;
      if (!r) {
        forced = true;
        send('SIGKILL');
        r = await Promise.race([exitPromise, timer(2000).then(() => null)]);
      }
      process.removeListener('exit', killOnExit);
      return { code: r ? r.code : null, signal: r ? r.signal : null, forced, stopMs: Date.now() - t };
    },
  };
}

module.exports = {
  moduleDirs,
  findModule,
  ensureP11KitCommand,
  ensureP11KitClient,
  ensureP11KitTrust,
  ensureOpenscPkcs11,
  ensurePkcs11Tool,
  ensureYkcs11,
  ensurePcscd,
  canUnshareMount,
  startP11KitServer,
  startPcscd,
  CA_BUNDLES,
};

if (require.main === module) {
  const cmd = process.argv[2] || 'paths';
  if (cmd === 'paths') {
    const out = {
      p11KitClient: ensureP11KitClient(),
      p11KitTrust: ensureP11KitTrust(),
      openscPkcs11: ensureOpenscPkcs11(),
      pkcs11Tool: ensurePkcs11Tool(),
      ykcs11: ensureYkcs11(),
      pcscd: ensurePcscd(),
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } else {
    process.stderr.write('usage: node scripts/p11kit.js paths\n');
    process.exitCode = 2;
  }
}
