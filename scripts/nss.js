#!/usr/bin/env node
// NSS softoken fixture: finds libsoftokn3.so (apt-installing libnss3-tools for certutil when it is
// missing), makes a throw-away NSS database with certutil, and builds the library parameter string
// that C_Initialize passes to softoken through pReserved. Used by the tests and CI.
//
// Slot layout of softoken opened this way (C_GetSlotList(true)):
//   slot 1  "NSS Internal Cryptographic Services" / token "NSS Generic Crypto Services":
//           session objects only, no login.
//   slot 2  "NSS User Private Key and Certificate Services" / token "NSS Certificate DB":
//           the database; token objects live here. With an empty password the token does not
//           set CKF_LOGIN_REQUIRED and sessions act as logged in already.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { aptInstall } = require('./softhsm');

const MODULE_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libsoftokn3.so',
  '/usr/lib/x86_64-linux-gnu/nss/libsoftokn3.so',
  '/usr/lib/aarch64-linux-gnu/libsoftokn3.so',
  '/usr/lib/aarch64-linux-gnu/nss/libsoftokn3.so',
  '/usr/lib64/libsoftokn3.so',
  '/usr/lib/libsoftokn3.so',
  '/usr/lib/nss/libsoftokn3.so',
  '/opt/homebrew/lib/libsoftokn3.dylib',
  '/usr/local/lib/libsoftokn3.dylib',
];

/** Slot IDs softoken gives its two tokens (see the header comment). */
const NSS_CRYPTO_SLOT = 1;
const NSS_DB_SLOT = 2;

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

function findNss() {
  return MODULE_PATHS.find((p) => fs.existsSync(p)) || null;
}

/**
 * Path of libsoftokn3.so, installing libnss3-tools (certutil; it pulls in libnss3) with apt when
 * either is missing. Softoken loads libfreeblpriv3.so from its own directory; no other setup.
 */
function ensureNss() {
  let modulePath = findNss();
  if (!modulePath || !which('certutil')) {
    aptInstall(['libnss3-tools']);
    modulePath = findNss();
  }
  if (!modulePath) throw new Error('NSS is installed but libsoftokn3 was not found in ' + MODULE_PATHS.join(', '));
  if (!which('certutil')) throw new Error('libnss3-tools is installed but certutil is not on PATH');
  return { modulePath };
}

/**
 * Softoken's init string for an sql: database in `dir`. An empty flags= opens it read-write
 * (flags=readOnly would open it read-only; noCertDB / noModDB skip those parts).
 */
function libraryParametersFor(dir, { flags = '' } = {}) {
  if (dir.includes("'")) throw new Error(`NSS config dir must not contain a quote: ${dir}`);
  return `configdir='sql:${dir}' certPrefix='' keyPrefix='' secmod='secmod.db' flags=${flags}`;
}

/**
 * Creates a new NSS database (cert9.db, key4.db, pkcs11.txt) in a new temp dir. Without a
 * password it has an empty one, so no C_Login is needed; with one, log in to slot 2 as CKU_USER.
 */
function createNssDb({ password } = {}) {
  const { modulePath } = ensureNss();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-nss-'));
  try {
    const args = ['-N', '-d', `sql:${dir}`];
    if (password == null || password === '') {
      args.push('--empty-password');
    } else {
      const pwFile = path.join(dir, 'password.txt');
      fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
      args.push('-f', pwFile);
    }
    execFileSync('certutil', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    fs.rmSync(path.join(dir, 'password.txt'), { force: true });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    dir,
    modulePath,
    libraryParameters: libraryParametersFor(dir),
    password: password || '',
    slot: NSS_DB_SLOT,
    cryptoSlot: NSS_CRYPTO_SLOT,
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { ensureNss, findNss, createNssDb, libraryParametersFor, NSS_CRYPTO_SLOT, NSS_DB_SLOT };

if (require.main === module) {
  const f = createNssDb({ password: process.argv[2] });
  process.stdout.write(`# module: ${f.modulePath}\n# db: ${f.dir} (user slot ${f.slot})\n`);
  process.stdout.write(`# libraryParameters: ${f.libraryParameters}\n`);
}
