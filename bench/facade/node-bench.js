#!/usr/bin/env node
// One measurement in one process, for bench/facade/run.js: node node-bench.js '<json options>'.
// The same code drives either pkcs11js itself or p11bridge/pkcs11js (the facade): both have
// pkcs11js's API, so the only difference is the `require`. The rows are bench/raw's, in
// pkcs11js's forms: C_GetSessionInfo; C_SignInit + C_Sign(h, digest, out72); the callback
// C_Sign(h, digest, out72, cb) over 4 sessions; SHA-256 over 64 MB in 1 MB C_DigestUpdate calls.
'use strict';
const crypto = require('node:crypto');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const opts = JSON.parse(process.argv[2]);
const root = path.join(__dirname, '..', '..');
// 'facade-deepbind': the facade with load(path, { deepBind: true }) (p11bridge's default elsewhere:
// the module keeps the system libcrypto instead of binding Node's OpenSSL, as pkcs11js makes it).
const pk = opts.impl === 'pkcs11js' ? require('pkcs11js') : require(path.join(root, 'dist', 'compat', 'pkcs11js', 'index.js'));

const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex');
const DIGEST = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 0xff));
const MECH = { mechanism: pk.CKM_ECDSA };
const CHUNK = 1024 * 1024;

// CPU µs this process used since `from` (every thread: the JS thread, the binding's threads, the
// module's work on them). On a shared machine it moves far less than wall time: a neighbour
// delays this process but does not make its operations cost more CPU.
function cpuUs(from) {
  const c = process.cpuUsage(from);
  return c.user + c.system;
}

function setup() {
  const mod = new pk.PKCS11();
  if (opts.impl === 'facade-deepbind') mod.load(opts.module, { deepBind: true });
  else mod.load(opts.module);
  // Same flags for both: pkcs11js's default (0) would differ from the facade's (OS locking).
  mod.C_Initialize({ flags: pk.CKF_OS_LOCKING_OK });
  const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label.trim() === opts.label);
  const sessions = [];
  for (let i = 0; i < (opts.sessions || 1); i++) sessions.push(mod.C_OpenSession(slot, pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION));
  mod.C_Login(sessions[0], pk.CKU_USER, opts.pin);
  const keys = mod.C_GenerateKeyPair(
    sessions[0],
    { mechanism: pk.CKM_EC_KEY_PAIR_GEN },
    [{ type: pk.CKA_TOKEN, value: false }, { type: pk.CKA_EC_PARAMS, value: P256_OID }, { type: pk.CKA_VERIFY, value: true }],
    [{ type: pk.CKA_TOKEN, value: false }, { type: pk.CKA_PRIVATE, value: true }, { type: pk.CKA_SENSITIVE, value: true }, { type: pk.CKA_SIGN, value: true }],
  );
  return { mod, sessions, privateKey: keys.privateKey };
}

function cheap({ mod, sessions }) {
  const s = sessions[0];
  let info;
  for (let i = 0; i < opts.warmup; i++) info = mod.C_GetSessionInfo(s);
  const ns = [];
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < opts.reps; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < opts.iters; i++) info = mod.C_GetSessionInfo(s);
    ns.push(Number(process.hrtime.bigint() - t0) / opts.iters);
  }
  if (info.state !== 3 /* CKS_RW_USER_FUNCTIONS */) throw new Error('unexpected session state ' + info.state);
  return { value: Math.min(...ns), unit: 'ns', cpuPerOp: cpuUs(cpu0) * 1000 / (opts.reps * opts.iters), all: ns };
}

function sign({ mod, sessions, privateKey }) {
  const s = sessions[0];
  const out = Buffer.alloc(72);
  const once = () => {
    mod.C_SignInit(s, MECH, privateKey);
    return mod.C_Sign(s, DIGEST, out);
  };
  for (let i = 0; i < opts.warmup; i++) once();
  const end = performance.now() + opts.seconds * 1000;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let ops = 0;
  let t1;
  for (;;) {
    for (let i = 0; i < 16; i++) once();
    ops += 16;
    t1 = performance.now();
    if (t1 >= end) break;
  }
  return { value: ops / ((t1 - t0) / 1000), unit: 'ops/s', cpuPerOp: cpuUs(cpu0) / ops };
}

function asyncSign({ mod, sessions, privateKey }) {
  return new Promise((resolve, reject) => {
    let phase = 'warmup';
    let ops = 0;
    let live = sessions.length;
    let t0 = 0;
    let t1 = 0;
    let cpu0 = null;
    let cpu = 0;
    for (const s of sessions) {
      const out = Buffer.alloc(72); // one per session, referenced for the whole run
      const step = () => {
        mod.C_SignInit(s, MECH, privateKey);
        mod.C_Sign(s, DIGEST, out, (err, sig) => {
          if (err) return reject(err);
          if (sig.length !== 64) return reject(new Error('signature length ' + sig.length));
          if (phase === 'measure') ops++;
          if (phase !== 'stop') step();
          else if (--live === 0) resolve({ value: ops / ((t1 - t0) / 1000), unit: 'ops/s', cpuPerOp: cpu / ops });
        });
      };
      step();
    }
    setTimeout(() => {
      phase = 'measure';
      t0 = performance.now();
      cpu0 = process.cpuUsage();
      setTimeout(() => {
        t1 = performance.now();
        cpu = cpuUs(cpu0);
        phase = 'stop';
      }, opts.seconds * 1000);
    }, opts.warmupSeconds * 1000);
  });
}

function sha({ mod, sessions }) {
  const s = sessions[0];
  const chunk = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i++) chunk[i] = (i * 7 + 3) & 0xff;
  const out = Buffer.alloc(32);
  const ms = [];
  let digest;
  let cpu0 = null;
  for (let r = 0; r < opts.reps + 1; r++) {
    if (r === 1) cpu0 = process.cpuUsage();
    const t0 = performance.now();
    mod.C_DigestInit(s, { mechanism: pk.CKM_SHA256 });
    for (let i = 0; i < opts.mb; i++) mod.C_DigestUpdate(s, chunk);
    digest = mod.C_DigestFinal(s, out);
    if (r > 0) ms.push(performance.now() - t0);
  }
  const cpuPerOp = cpuUs(cpu0) / (opts.reps * opts.mb); // CPU µs per MB
  const h = crypto.createHash('sha256');
  for (let i = 0; i < opts.mb; i++) h.update(chunk);
  if (!digest.equals(h.digest())) throw new Error('SHA-256 differs from node:crypto');
  return { value: opts.mb / (Math.min(...ms) / 1000), unit: 'MB/s', cpuPerOp };
}

(async () => {
  const ctx = setup();
  const run = { cheap, sign, async: asyncSign, sha }[opts.measure];
  const result = await run(ctx);
  for (const s of ctx.sessions) ctx.mod.C_CloseSession(s);
  ctx.mod.C_Finalize();
  process.stdout.write(JSON.stringify({ impl: opts.impl, measure: opts.measure, ...result }) + '\n');
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
