#!/usr/bin/env node
// SoftHSM fixture: finds (or apt-installs) SoftHSM2, makes a throw-away token directory with its
// own SOFTHSM2_CONF, and initializes tokens with known PINs. Used by the tests, the demo and CI.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const MODULE_PATHS = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

const DEFAULT_TOKENS = [
  { label: 'p11bridge-a', soPin: '12345678', userPin: '1234' },
  { label: 'p11bridge-b', soPin: '87654321', userPin: '5678' },
];

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/** Installs Debian packages when running as root on a machine with apt-get; otherwise explains. */
function aptInstall(packages) {
  if (!which('apt-get') || (process.getuid && process.getuid() !== 0)) {
    throw new Error(`missing ${packages.join(', ')}: install them with your package manager`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const opts = { stdio: ['ignore', 'ignore', 'inherit'], env };
  // Parallel test workers may install at once: wait for dpkg's lock instead of failing on it.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  execFileSync('apt-get', [...lock, 'update', '-qq'], opts);
  execFileSync('apt-get', [...lock, 'install', '-y', '-qq', ...packages], opts);
}

function findSoftHSM() {
  return MODULE_PATHS.find((p) => fs.existsSync(p)) || null;
}

/** Path of libsofthsm2.so, installing softhsm2 with apt when it is missing. */
function ensureSoftHSM() {
  let lib = findSoftHSM();
  if (!lib || !which('softhsm2-util')) {
    aptInstall(['softhsm2']);
    lib = findSoftHSM();
  }
  if (!lib) throw new Error('softhsm2 is installed but libsofthsm2.so was not found in ' + MODULE_PATHS.join(', '));
  return lib;
}

/**
 * Creates a token directory and config under a new temp dir, points SOFTHSM2_CONF at it (in
 * process.env and in the returned env), and initializes the tokens.
 */
function createSoftHSM({ tokens = DEFAULT_TOKENS, setEnv = true } = {}) {
  const modulePath = ensureSoftHSM();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-softhsm-'));
  const tokenDir = path.join(dir, 'tokens');
  fs.mkdirSync(tokenDir);
  const conf = path.join(dir, 'softhsm2.conf');
  fs.writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const made = tokens.map((t) => {
    const out = execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', t.label, '--so-pin', t.soPin, '--pin', t.userPin],
      { env, encoding: 'utf8' },
    );
    const m = /reassigned to slot (\d+)/.exec(out);
    return { ...t, slot: m ? Number(m[1]) : undefined };
  });
  if (setEnv) process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    conf,
    modulePath,
    tokens: made,
    env,
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Path of OpenSC's pkcs11-spy.so, installing opensc with apt when it is missing. */
function ensurePkcs11Spy() {
  const candidates = [
    '/usr/lib/x86_64-linux-gnu/pkcs11-spy.so',
    '/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so',
    '/usr/lib/aarch64-linux-gnu/pkcs11-spy.so',
    '/usr/lib/pkcs11-spy.so',
  ];
  let p = candidates.find((c) => fs.existsSync(c));
  if (!p) {
    aptInstall(['opensc', 'opensc-pkcs11']);
    p = candidates.find((c) => fs.existsSync(c));
  }
  if (!p) throw new Error('pkcs11-spy.so not found after installing opensc');
  return p;
}

module.exports = { createSoftHSM, ensureSoftHSM, findSoftHSM, ensurePkcs11Spy, aptInstall, DEFAULT_TOKENS };

if (require.main === module) {
  const f = createSoftHSM();
  process.stdout.write(`export SOFTHSM2_CONF=${f.conf}\n# module: ${f.modulePath}\n`);
  for (const t of f.tokens) process.stdout.write(`# token ${t.label}: slot ${t.slot}, user PIN ${t.userPin}, SO PIN ${t.soPin}\n`);
}
