#!/usr/bin/env node
// openCryptoki fixture: the soft token (swtok) of Debian's `opencryptoki` package, provisioned
// idempotently for the module matrix and CI. As root on a fresh Debian/Ubuntu machine it
//   1. apt-installs `opencryptoki` (pulls in libopencryptoki0) when the module or its tools are missing,
//   2. makes the data and lock directories systemd-tmpfiles would make (a container has no systemd),
//   3. makes sure /etc/opencryptoki/opencryptoki.conf has a slot with `stdll = libpkcs11_sw.so`
//      (Debian's default file has it as slot 3),
//   4. starts the slot daemon pkcsslotd when it is not running (the library cannot initialize
//      without it: C_Initialize answers CKR_HOST_MEMORY),
//   5. initializes the token with a known label and user PIN when it is not initialized yet, or is
//      ours but unusable (user PIN locked or different), and checks the user PIN by logging in once.
// When already provisioned it costs a few pkcsconf calls (tens of milliseconds).
//
// The SO PIN is left at openCryptoki's factory default 87654321 on purpose: in 3.8.1,
// C_InitToken with any other SO PIN leaves a token whose SO cannot log in again
// (CKR_FUNCTION_FAILED with the new PIN, CKR_PIN_INCORRECT with the default one), and the only
// way back is wiping the token store. PINs are 4 to 8 characters (ulMinPinLen/ulMaxPinLen).
//
// A token that is initialized under another label belongs to someone else: provisioning refuses
// to touch it unless `reset: true` (CLI: --reset), which stops the daemon and wipes the token
// store (/var/lib/opencryptoki/swtok) back to factory state first.
//
//   node scripts/opencryptoki.js            provision, print the result as JSON
//   node scripts/opencryptoki.js --reset    wipe the soft token store, then provision
//   node scripts/opencryptoki.js --stop     stop pkcsslotd
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync, execFileSync } = require('node:child_process');
const { aptInstall } = require('./softhsm');

const MODULE_PATHS = [
  '/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so', // Debian/Ubuntu: symlink into opencryptoki/
  '/usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so',
  '/usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so.0',
  '/usr/lib/aarch64-linux-gnu/pkcs11/libopencryptoki.so',
  '/usr/lib/aarch64-linux-gnu/opencryptoki/libopencryptoki.so.0',
  '/usr/lib/s390x-linux-gnu/pkcs11/libopencryptoki.so',
  '/usr/lib/powerpc64le-linux-gnu/pkcs11/libopencryptoki.so',
  '/usr/lib64/opencryptoki/libopencryptoki.so', // Fedora/RHEL
  '/usr/lib64/pkcs11/libopencryptoki.so',
  '/usr/lib/opencryptoki/libopencryptoki.so',
  '/usr/local/lib/opencryptoki/libopencryptoki.so',
];
const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin'];
const CONF = '/etc/opencryptoki/opencryptoki.conf';
const DATA_DIR = '/var/lib/opencryptoki';
const LOCK_DIR = '/var/lock/opencryptoki';
const SWTOK = 'swtok';
const SW_STDLL = 'libpkcs11_sw.so';
const PID_FILE = '/var/run/pkcsslotd.pid';
const SOCKET = '/var/run/pkcsslotd.socket';

/** openCryptoki's factory SO PIN; see the header for why it is never changed here. */
const FACTORY_SO_PIN = '87654321';
const DEFAULTS = { label: 'p11bridge-ock', userPin: '1234', soPin: FACTORY_SO_PIN };

// CK_TOKEN_INFO flags (pkcs11t.h)
const CKF = {
  TOKEN_INITIALIZED: 0x400,
  USER_PIN_INITIALIZED: 0x8,
  USER_PIN_COUNT_LOW: 0x10000,
  USER_PIN_FINAL_TRY: 0x20000,
  USER_PIN_LOCKED: 0x40000,
  USER_PIN_TO_BE_CHANGED: 0x80000,
  SO_PIN_LOCKED: 0x400000,
};

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function findTool(name) {
  for (const dir of [...SBIN, ...(process.env.PATH || '').split(path.delimiter)]) {
    const p = path.join(dir, name);
    if (dir && fs.existsSync(p)) return p;
  }
  return null;
}

function findModule() {
  return MODULE_PATHS.find((p) => fs.existsSync(p)) || null;
}

function found() {
  const modulePath = findModule();
  const pkcsslotd = findTool('pkcsslotd');
  const pkcsconf = findTool('pkcsconf');
  return modulePath && pkcsslotd && pkcsconf ? { modulePath, pkcsslotd, pkcsconf } : null;
}

/**
 * Paths of libopencryptoki.so, pkcsslotd and pkcsconf, apt-installing `opencryptoki` when any is
 * missing. Retries for a while when apt fails, since another provisioning script (a parallel jest
 * worker) may hold the dpkg lock.
 */
function ensureOpencryptoki() {
  let f = found();
  if (f) return f;
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      aptInstall(['opencryptoki']);
    } catch (e) {
      if (Date.now() > deadline || /install them with your package manager/.test(e.message)) throw e;
      sleep(5000);
      if ((f = found())) return f;
      continue;
    }
    break;
  }
  f = found();
  if (!f) {
    throw new Error(`opencryptoki is installed but not all of libopencryptoki.so (${MODULE_PATHS.join(', ')}), pkcsslotd, pkcsconf were found`);
  }
  return f;
}

function isRoot() {
  return !process.getuid || process.getuid() === 0;
}

function pkcs11Gid() {
  const line = fs.readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('pkcs11:'));
  return line ? Number(line.split(':')[2]) : null;
}

/** Non-root users need the pkcs11 group (the token store and the daemon's socket are 0770 root:pkcs11). */
function checkAccess() {
  if (isRoot()) return;
  const gid = pkcs11Gid();
  if (gid === null || !process.getgroups().includes(gid)) {
    throw new Error(`openCryptoki: ${process.env.USER || 'this user'} is not in the pkcs11 group: run 'sudo usermod -aG pkcs11 $USER' and log in again`);
  }
}

/** The directories Debian's tmpfiles.d/opencryptoki.conf declares for the soft token (as root). */
function ensureDirs() {
  if (!isRoot()) return;
  const gid = pkcs11Gid() ?? 0;
  for (const d of [DATA_DIR, path.join(DATA_DIR, SWTOK), path.join(DATA_DIR, SWTOK, 'TOK_OBJ'), LOCK_DIR, path.join(LOCK_DIR, SWTOK)]) {
    if (fs.existsSync(d)) continue;
    fs.mkdirSync(d, { mode: 0o770 });
    fs.chownSync(d, 0, gid);
    fs.chmodSync(d, 0o770);
  }
}

/** Slot blocks of opencryptoki.conf as { id, stdll }. */
function parseConf(text) {
  const body = text.replace(/#.*$/gm, '');
  const slots = [];
  const re = /\bslot\s+(\d+)\s*\{([^}]*)\}/g;
  let m;
  while ((m = re.exec(body))) {
    const stdll = /\bstdll\s*=\s*(\S+)/.exec(m[2]);
    slots.push({ id: Number(m[1]), stdll: stdll ? stdll[1] : null });
  }
  return slots;
}

/**
 * The slot number of the soft token in opencryptoki.conf, adding a slot for it (and writing the
 * file when it is missing) if there is none. `changed` tells whether the file was written, in
 * which case a running pkcsslotd must be restarted to see it.
 */
function ensureSwtokSlot() {
  const text = fs.existsSync(CONF) ? fs.readFileSync(CONF, 'utf8') : 'version opencryptoki-3.1\n';
  const slots = parseConf(text);
  const sw = slots.find((s) => s.stdll && path.basename(s.stdll) === SW_STDLL);
  if (sw && slots.length === 1) return { slot: sw.id, changed: false };
  if (sw && isRoot()) {
    // Debian's file also lists the TPM, ICA, CCA and EP11 tokens. C_Initialize loads every
    // listed token library, and the TPM one crashes the process in libitm (seen after other
    // modules ran in the same process) although no TPM is there: keep the soft token only.
    if (!fs.existsSync(`${CONF}.p11bridge-orig`)) fs.copyFileSync(CONF, `${CONF}.p11bridge-orig`);
    fs.writeFileSync(CONF, `version opencryptoki-3.1\n# written by p11bridge scripts/opencryptoki.js (the original is ${CONF}.p11bridge-orig)\nslot ${sw.id}\n{\nstdll = ${SW_STDLL}\n}\n`);
    return { slot: sw.id, changed: true };
  }
  if (sw) return { slot: sw.id, changed: false };
  if (!isRoot()) throw new Error(`${CONF} has no slot with stdll = ${SW_STDLL}: add one as root`);
  const used = new Set(slots.map((s) => s.id));
  let id = 3; // Debian's default numbering
  while (used.has(id)) id++;
  fs.mkdirSync(path.dirname(CONF), { recursive: true });
  fs.writeFileSync(CONF, `${text.replace(/\n*$/, '\n')}\n# added by p11bridge scripts/opencryptoki.js\nslot ${id}\n{\nstdll = ${SW_STDLL}\n}\n`);
  return { slot: id, changed: true };
}

/** PIDs of running (not zombie) pkcsslotd processes. */
function daemonPids() {
  const pids = [];
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${ent}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) (\S)/.exec(stat);
      if (m && m[1] === 'pkcsslotd' && m[2] !== 'Z' && m[2] !== 'X') pids.push(Number(ent));
    } catch {
      /* gone */
    }
  }
  return pids;
}

function waitFor(cond, ms) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    sleep(20);
  }
  return true;
}

/** Starts pkcsslotd unless it runs; returns true when this call started it. */
function startDaemon() {
  if (daemonPids().length && fs.existsSync(SOCKET)) return false;
  if (!isRoot()) throw new Error('pkcsslotd is not running: start it as root (systemctl start pkcsslotd, or /usr/sbin/pkcsslotd)');
  const { pkcsslotd } = ensureOpencryptoki();
  // It daemonizes (the parent exits at once); stdio 'ignore' so no pipe is kept open by the child.
  execFileSync(pkcsslotd, [], { stdio: 'ignore' });
  if (!waitFor(() => daemonPids().length > 0 && fs.existsSync(SOCKET), 5000)) {
    throw new Error(`pkcsslotd did not come up (no process or no ${SOCKET}); see the system log`);
  }
  return true;
}

/** Stops every running pkcsslotd (SIGTERM, then SIGKILL after 5 s); returns whether one ran. */
function stopDaemon() {
  const pids = daemonPids();
  if (!pids.length) return false;
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  if (!waitFor(() => daemonPids().length === 0, 5000)) {
    for (const pid of daemonPids()) process.kill(pid, 'SIGKILL');
    waitFor(() => daemonPids().length === 0, 2000);
  }
  return true;
}

/** Runs pkcsconf; `ok` is false when it exits non-zero or reports an error (it exits 0 on some). */
function pkcsconf(args, input) {
  const { pkcsconf: bin } = ensureOpencryptoki();
  const r = spawnSync(bin, args, { input: input ?? '', encoding: 'utf8', timeout: 60_000 });
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  const rv = /\b0x([0-9A-Fa-f]+) \((CKR_\w+)\)/.exec(out);
  const incorrect = /Incorrect PIN/i.test(out);
  return {
    ok: r.status === 0 && !r.error && !/error|incorrect|failed/i.test(out),
    status: r.status,
    rvName: rv ? rv[2] : incorrect ? 'CKR_PIN_INCORRECT' : null,
    out,
    cmd: `pkcsconf ${args.map((a, i) => (args[i - 1] === '-S' || args[i - 1] === '-U' || args[i - 1] === '-n' ? '***' : a)).join(' ')}`,
  };
}

/** Label and flags of the token in `slot`, read with `pkcsconf -t -c slot`. */
function tokenInfo(slot) {
  const r = pkcsconf(['-t', '-c', String(slot)]);
  const label = /Label:\s?(.*)$/m.exec(r.out);
  const flags = /Flags:\s*0x([0-9A-Fa-f]+)/.exec(r.out);
  if (!label || !flags) throw new Error(`${r.cmd} failed (is pkcsslotd running, slot ${slot} configured?):\n${r.out}`);
  const f = parseInt(flags[1], 16);
  return {
    label: label[1].trim(),
    flags: f,
    initialized: (f & CKF.TOKEN_INITIALIZED) !== 0,
    userPinInitialized: (f & CKF.USER_PIN_INITIALIZED) !== 0 && (f & CKF.USER_PIN_TO_BE_CHANGED) === 0,
    userPinLocked: (f & CKF.USER_PIN_LOCKED) !== 0,
    soPinLocked: (f & CKF.SO_PIN_LOCKED) !== 0,
  };
}

/**
 * Whether `userPin` logs in. pkcsconf has no login-only command: `-p` with the same old and new
 * PIN logs in (which also resets the wrong-PIN counter) and then has C_SetPIN refuse the
 * unchanged PIN with CKR_PIN_INVALID, so nothing is written. A wrong PIN answers CKR_PIN_INCORRECT.
 */
function userPinWorks(slot, userPin) {
  const r = pkcsconf(['-p', '-c', String(slot), '-U', userPin, '-n', userPin]);
  return r.ok || r.rvName === 'CKR_PIN_INVALID';
}

/** C_InitToken (factory SO PIN) then C_InitPIN; throws with pkcsconf's output when one fails. */
function initToken(slot, { label, userPin, soPin }) {
  const init = pkcsconf(['-I', '-c', String(slot), '-S', soPin], `${label}\n`);
  if (!init.ok) return init;
  const pin = pkcsconf(['-u', '-c', String(slot), '-S', soPin, '-n', userPin]);
  if (!pin.ok) throw new Error(`${pin.cmd} failed after the token was initialized:\n${pin.out}`);
  return null;
}

/** Deletes the soft token's store (token objects, PIN hashes, master keys): factory state. Stops the daemon first. */
function wipeStore() {
  if (!isRoot()) throw new Error('wiping the openCryptoki token store needs root');
  stopDaemon();
  const dir = path.join(DATA_DIR, SWTOK);
  for (const f of ['NVTOK.DAT', 'MK_SO', 'MK_USER']) fs.rmSync(path.join(dir, f), { force: true });
  const objs = path.join(dir, 'TOK_OBJ');
  if (fs.existsSync(objs)) for (const f of fs.readdirSync(objs)) fs.rmSync(path.join(objs, f), { recursive: true, force: true });
}

function validatePin(name, pin) {
  if (typeof pin !== 'string' || pin.length < 4 || pin.length > 8) throw new Error(`openCryptoki ${name} must be 4 to 8 characters`);
}

/**
 * Provisions the soft token and returns what a test needs:
 * { modulePath, slot, label, soPin, userPin, startedDaemon, initialized, ms }.
 * `initialized` tells whether this call (re)initialized the token; `startedDaemon` whether it
 * started pkcsslotd (a caller that wants to leave the machine as it found it stops it then).
 */
function provisionOpencryptoki(options = {}) {
  const t0 = Date.now();
  const label = options.label ?? DEFAULTS.label;
  const userPin = options.userPin ?? DEFAULTS.userPin;
  const soPin = FACTORY_SO_PIN;
  validatePin('user PIN', userPin);
  if (!label || Buffer.byteLength(label) > 32) throw new Error('openCryptoki token label must be 1 to 32 bytes');

  const { modulePath } = ensureOpencryptoki();
  const wasRunning = daemonPids().length > 0;
  checkAccess();
  ensureDirs();
  const { slot, changed } = ensureSwtokSlot();
  if (changed || options.reset) stopDaemon();
  if (options.reset) wipeStore();
  startDaemon();

  let info = tokenInfo(slot);
  const usable = (i) => i.initialized && i.label === label && i.userPinInitialized && !i.userPinLocked && !i.soPinLocked;
  let initialized = false;
  if (!(usable(info) && userPinWorks(slot, userPin))) {
    if (info.initialized && info.label !== label) {
      throw new Error(
        `openCryptoki soft token (slot ${slot}) is initialized as '${info.label}', not '${label}': ` +
          `re-initializing destroys its objects, so run 'node scripts/opencryptoki.js --reset' (or pass { reset: true }) if it is disposable`,
      );
    }
    let failed = info.soPinLocked ? { cmd: 'SO login', out: 'SO PIN locked', rvName: 'CKR_PIN_LOCKED' } : initToken(slot, { label, userPin, soPin });
    if (failed && !['CKR_PIN_INCORRECT', 'CKR_PIN_LOCKED', 'CKR_FUNCTION_FAILED'].includes(failed.rvName ?? '')) {
      // e.g. CKR_SESSION_EXISTS: another process has the token open; wiping under it is no fix.
      throw new Error(`${failed.cmd} failed:\n${failed.out}`);
    }
    if (failed) {
      // Ours (or never initialized) but the factory SO PIN no longer works: back to factory state.
      wipeStore();
      startDaemon();
      failed = initToken(slot, { label, userPin, soPin });
      if (failed) throw new Error(`${failed.cmd} failed on a wiped token store:\n${failed.out}`);
    }
    initialized = true;
    info = tokenInfo(slot);
    if (!usable(info) || !userPinWorks(slot, userPin)) {
      throw new Error(`openCryptoki token in slot ${slot} is not usable after initialization (label '${info.label}', flags 0x${info.flags.toString(16)})`);
    }
  }
  const startedDaemon = !wasRunning && daemonPids().length > 0;
  return { modulePath, slot, label, soPin, userPin, startedDaemon, initialized, ms: Date.now() - t0 };
}

module.exports = {
  provisionOpencryptoki,
  ensureOpencryptoki,
  findModule,
  startDaemon,
  stopDaemon,
  daemonPids,
  tokenInfo,
  wipeStore,
  parseConf,
  FACTORY_SO_PIN,
  DEFAULTS,
};

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.includes('--stop')) {
    process.stdout.write(stopDaemon() ? 'pkcsslotd stopped\n' : 'pkcsslotd was not running\n');
  } else {
    process.stdout.write(JSON.stringify(provisionOpencryptoki({ reset: args.includes('--reset') })) + '\n');
  }
}
