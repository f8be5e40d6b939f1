#!/usr/bin/env node
// tpm2-pkcs11 fixture: a software TPM (swtpm) on loopback, reached through the tpm2-abrmd resource
// manager on a private D-Bus session bus, with a throw-away tpm2-pkcs11 store holding one token.
// Used by test/matrix-tpm2.test.ts and CI; on a fresh Debian 12 it apt-installs what is missing
// (as root; see PACKAGES). Everything it starts lives under one temp dir and is ended by stop().
//
//   swtpm socket  ── TCP 127.0.0.1:P (commands), :P+1 (control) ──►  tpm2-abrmd --session
//        ▲                                                                    │ D-Bus (unix socket DIR/bus)
//        └──────── state in DIR/tpm ◄──────────────────────────── libtpm2_pkcs11.so, tpm2_ptool, tpm2-tools
//                                                                  TCTI "tabrmd:bus_type=session"
//
// Why the resource manager: a TPM has room for only 3 loaded transient objects. tpm2-tools (which
// tpm2_ptool runs for every TPM step) and libtpm2_pkcs11 leave objects loaded when a process ends,
// so talking to swtpm directly ("swtpm:host=…,port=…") fails after a few steps with
// TPM_RC_OBJECT_MEMORY ("out of memory for object contexts"). tpm2-abrmd flushes a client's objects
// and sessions when it disconnects, as the kernel's /dev/tpmrm0 would.
//
//   node scripts/tpm2.js          provisions, prints `export …` lines and leaves the daemons running
//   node scripts/tpm2.js --smoke  provisions, lists the token with tpm2_ptool, stops, prints timings
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { aptInstall } = require('./softhsm');

/** Debian 12 packages this fixture needs (apt-installed when something is missing). */
const PACKAGES = [
  'swtpm', //                 the software TPM (libtpms); swtpm-tools (swtpm_setup) is not needed
  'tpm2-abrmd', //            resource manager, see the header
  'libtss2-tcti-tabrmd0', //  TCTI to reach tpm2-abrmd
  'libtss2-tcti-swtpm0', //   TCTI tpm2-abrmd uses to reach swtpm
  'dbus-daemon', //           private session bus for tpm2-abrmd
  'tpm2-tools', //            tpm2_getcap, tpm2_dictionarylockout; tpm2_ptool runs them too
  'libtpm2-pkcs11-1', //      the PKCS#11 module
  'libtpm2-pkcs11-tools', //  tpm2_ptool (Python), creates the store and tokens
];

const LIB_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib/arm-linux-gnueabihf',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/lib',
];
const MODULE_NAMES = ['pkcs11/libtpm2_pkcs11.so', 'libtpm2_pkcs11.so.1', 'libtpm2_pkcs11.so'];
const TOOLS = ['swtpm', 'tpm2-abrmd', 'dbus-daemon', 'tpm2_getcap', 'tpm2_dictionarylockout', 'tpm2_ptool'];
const TCTIS = ['libtss2-tcti-tabrmd.so.0', 'libtss2-tcti-swtpm.so.0'];

const DEFAULT_TOKEN = { label: 'p11bridge-tpm', soPin: '12345678', userPin: '1234' };
/** Keys tpm2_ptool adds to the token (tpm2-pkcs11 1.9 has no C_GenerateKey, so AES keys come from here). */
const DEFAULT_KEYS = [{ label: 'p11bridge-aes', algorithm: 'aes256' }];
const TABRMD_TCTI = 'tabrmd:bus_type=session';

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    if (dir && fs.existsSync(p)) return p;
  }
  // tpm2-abrmd lives in /usr/sbin, which a non-root PATH may lack.
  for (const dir of ['/usr/sbin', '/sbin']) if (fs.existsSync(path.join(dir, cmd))) return path.join(dir, cmd);
  return null;
}

function findLib(names) {
  for (const dir of LIB_DIRS) for (const n of names) if (fs.existsSync(path.join(dir, n))) return path.join(dir, n);
  return null;
}

function findTpm2Pkcs11() {
  return findLib(MODULE_NAMES);
}

function missing() {
  const out = TOOLS.filter((t) => !which(t));
  for (const t of TCTIS) if (!findLib([t])) out.push(t);
  if (!findTpm2Pkcs11()) out.push('libtpm2_pkcs11.so');
  return out;
}

/** Path of libtpm2_pkcs11.so; installs PACKAGES with apt when any tool, TCTI or the module is missing. */
function ensureTpm2() {
  const before = missing();
  if (before.length) {
    try {
      aptInstall(PACKAGES);
    } catch (e) {
      // Most often another apt-get holding the dpkg lock (a parallel fixture): once more, later.
      execFileSync('sleep', ['15']);
      aptInstall(PACKAGES);
    }
    const after = missing();
    if (after.length) throw new Error(`installed ${PACKAGES.join(' ')} but still missing: ${after.join(', ')}`);
  }
  return findTpm2Pkcs11();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Like sleep, but does not keep the process alive (for races against a child's exit). */
const grace = (ms) => new Promise((r) => setTimeout(r, ms).unref());

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function canConnect(opts) {
  return new Promise((resolve) => {
    const c = net.connect(opts);
    const done = (ok) => {
      c.destroy();
      resolve(ok);
    };
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
    c.setTimeout(1000, () => done(false));
  });
}

function tail(file, n = 2000) {
  try {
    const t = fs.readFileSync(file, 'utf8');
    return t.length > n ? '…' + t.slice(-n) : t;
  } catch {
    return '';
  }
}

/**
 * Starts the software TPM, the resource manager and a tpm2-pkcs11 store with one token.
 * Resolves to { dir, modulePath, env, token: { label, soPin, userPin }, keys, swtpm: { host, port,
 * ctrlPort }, pids, timings, stop() }. `env` is what a process using the module needs
 * (TPM2_PKCS11_STORE, TPM2_PKCS11_TCTI, TPM2TOOLS_TCTI, DBUS_SESSION_BUS_ADDRESS); it is not put
 * into process.env. stop() (async, idempotent) ends the three daemons and removes the dir.
 * `detached` leaves the daemons running after this process exits (the CLI's default).
 */
async function createTpm2({ token = DEFAULT_TOKEN, keys = DEFAULT_KEYS, detached = false, timeoutMs = 20000 } = {}) {
  const timings = {};
  let t = Date.now();
  const lap = (name) => {
    const now = Date.now();
    timings[name] = now - t;
    t = now;
  };
  const modulePath = ensureTpm2();
  lap('install');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-tpm2-'));
  const stateDir = path.join(dir, 'tpm');
  const store = path.join(dir, 'store');
  const busPath = path.join(dir, 'bus');
  fs.mkdirSync(stateDir);
  fs.mkdirSync(store);

  const children = [];
  let stopped = false;
  const killAll = (signal) => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) try { c.kill(signal); } catch { /* gone */ }
  };
  const onExit = () => killAll('SIGKILL');
  if (!detached) process.once('exit', onExit);

  async function stop() {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    // Reverse order: clients of swtpm first, so it sees no half-finished command.
    for (const c of [...children].reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const gone = new Promise((r) => c.once('exit', r));
      c.ref(); // keep this process alive until the child has gone
      c.kill('SIGTERM');
      if (await Promise.race([gone.then(() => true), grace(3000).then(() => false)])) continue;
      c.kill('SIGKILL');
      await Promise.race([gone, grace(2000)]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }

  function start(name, cmd, args, env = process.env) {
    const log = path.join(dir, `${name}.log`);
    const fd = fs.openSync(log, 'a');
    const c = spawn(cmd, args, { env, stdio: ['ignore', fd, fd], detached });
    fs.closeSync(fd);
    c.unref();
    c.on('error', () => { /* reported through exitCode / the wait below */ });
    c.logFile = log;
    c.procName = name;
    children.push(c);
    return c;
  }

  const deadline = Date.now() + timeoutMs;
  async function waitFor(what, child, probe) {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${child.procName} exited (${child.exitCode ?? child.signalCode}) before ${what}:\n${tail(child.logFile)}`);
      }
      if (await probe()) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${tail(child.logFile)}`);
      await sleep(50);
    }
  }

  try {
    // 1. swtpm on two free loopback ports (P for commands, P+1 for control). A port taken between
    //    the check and swtpm's bind makes swtpm exit: try another pair.
    const swtpm = await (async () => {
      for (let attempt = 0; ; attempt++) {
        if (attempt >= 50) throw new Error('found no two free loopback ports');
        const port = 20000 + 2 * Math.floor(Math.random() * 20000);
        if (!(await portFree(port)) || !(await portFree(port + 1))) continue;
        const c = start('swtpm', which('swtpm'), [
          'socket', '--tpm2',
          '--tpmstate', `dir=${stateDir}`,
          '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`,
          '--ctrl', `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
          '--flags', 'not-need-init,startup-clear',
        ]);
        try {
          await waitFor('swtpm listening', c, () => canConnect({ host: '127.0.0.1', port }));
          return { child: c, host: '127.0.0.1', port, ctrlPort: port + 1 };
        } catch (e) {
          if (attempt >= 45 || c.exitCode === null) throw e; // bind failed: next pair
        }
      }
    })();
    lap('swtpm');

    // 2. A private D-Bus session bus on a unix socket in the dir (nothing on the system bus).
    const busAddress = `unix:path=${busPath}`;
    const dbus = start('dbus', which('dbus-daemon'), ['--session', '--nofork', '--nopidfile', `--address=${busAddress}`]);
    await waitFor('the D-Bus socket', dbus, () => fs.existsSync(busPath) && canConnect({ path: busPath }));
    lap('dbus');

    // 3. tpm2-abrmd on that bus, talking to swtpm. Ready when a tpm2-tools command gets through.
    const env = {
      TPM2_PKCS11_STORE: store,
      TPM2_PKCS11_TCTI: TABRMD_TCTI,
      TPM2TOOLS_TCTI: TABRMD_TCTI,
      DBUS_SESSION_BUS_ADDRESS: busAddress,
    };
    const toolEnv = { ...process.env, ...env };
    const abrmdArgs = ['--session', '--flush-all', `--tcti=swtpm:host=127.0.0.1,port=${swtpm.port}`];
    if (process.getuid && process.getuid() === 0) abrmdArgs.push('--allow-root');
    const abrmd = start('tpm2-abrmd', which('tpm2-abrmd'), abrmdArgs, toolEnv);
    const run = (cmd, args) => execFileSync(which(cmd), args, { env: toolEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: Math.max(1000, deadline - Date.now()) });
    await waitFor('tpm2-abrmd on the bus', abrmd, () => {
      try {
        run('tpm2_getcap', ['properties-fixed']);
        return true;
      } catch {
        return false;
      }
    });
    lap('tpm2-abrmd');

    // 4. Dictionary-attack lockout: each wrong user PIN is a failed unseal the TPM counts, and
    //    swtpm's defaults (3 failures, then 1000 s locked) would lock the token after a few
    //    wrong-PIN tests; allow 1000, recover in a second.
    run('tpm2_dictionarylockout', ['--setup-parameters', '--max-tries=1000', '--recovery-time=1', '--lockout-recovery-time=1']);

    // 5. The store: a persistent primary key (tpm2_ptool init), a token, and the extra keys.
    const initOut = run('tpm2_ptool', ['init', '--path', store]);
    const pid = (/id:\s*(\d+)/.exec(initOut) || [])[1];
    if (!pid) throw new Error(`tpm2_ptool init printed no primary id: ${initOut}`);
    lap('ptool init');
    run('tpm2_ptool', ['addtoken', '--path', store, '--pid', pid, '--label', token.label, '--sopin', token.soPin, '--userpin', token.userPin]);
    lap('ptool addtoken');
    for (const k of keys) {
      run('tpm2_ptool', ['addkey', '--path', store, '--label', token.label, '--key-label', k.label, '--userpin', token.userPin, '--algorithm', k.algorithm]);
    }
    lap('ptool addkey');
    timings.total = Object.values(timings).reduce((a, b) => a + b, 0);

    return {
      dir,
      modulePath,
      env,
      token: { ...token },
      keys: keys.map((k) => ({ ...k })),
      swtpm: { host: swtpm.host, port: swtpm.port, ctrlPort: swtpm.ctrlPort, tcti: `swtpm:host=${swtpm.host},port=${swtpm.port}` },
      pids: Object.fromEntries(children.map((c) => [c.procName, c.pid])),
      timings,
      stop,
    };
  } catch (e) {
    const logs = children.map((c) => `--- ${c.procName}\n${tail(c.logFile)}`).join('\n');
    await stop();
    const err = String(e && e.message); // execFileSync puts the command's stderr in the message
    throw new Error(`tpm2 fixture: ${err}\n${logs}`);
  }
}

module.exports = { createTpm2, ensureTpm2, findTpm2Pkcs11, PACKAGES, DEFAULT_TOKEN, DEFAULT_KEYS };

if (require.main === module) {
  const smoke = process.argv.includes('--smoke');
  createTpm2({ detached: !smoke }).then(
    async (f) => {
      if (smoke) {
        const list = execFileSync(which('tpm2_ptool'), ['listtokens', '--pid', '1'], { env: { ...process.env, ...f.env }, encoding: 'utf8' });
        await f.stop();
        process.stdout.write(`${list.trim()}\n# module: ${f.modulePath}\n# timings (ms): ${JSON.stringify(f.timings)}\n`);
        return;
      }
      for (const [k, v] of Object.entries(f.env)) process.stdout.write(`export ${k}='${v}'\n`);
      process.stdout.write(`# module: ${f.modulePath}\n# token ${f.token.label}: user PIN ${f.token.userPin}, SO PIN ${f.token.soPin}\n`);
      process.stdout.write(`# timings (ms): ${JSON.stringify(f.timings)}\n# stop: kill ${Object.values(f.pids).join(' ')}; rm -rf ${f.dir}\n`);
    },
    (e) => {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 1;
    },
  );
}
