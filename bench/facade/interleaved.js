#!/usr/bin/env node
// The facade against pkcs11js in ONE process, in alternating slices, for a shared, busy machine:
// the two take turns every few milliseconds, so a neighbour's load falls on both alike and the
// per-slice ratios stay comparable where separate processes (run.js) see different moments.
// pkcs11js gets its own copy of the SoftHSM library file, so the two are separate module
// instances (dlopen of one path would hand both the same instance, initialized twice); both load
// it without RTLD_DEEPBIND, so SoftHSM binds Node's OpenSSL under either.
//
// Usage: node bench/facade/interleaved.js [--slices N] [--json]
// Rows (bench/raw's): cheap call C_GetSessionInfo; sync C_SignInit + C_Sign(h, digest, out72);
// async callback C_Sign over 4 sessions; SHA-256 of 64 MB in 1 MB C_DigestUpdate calls.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { createSoftHSM } = require('../../scripts/softhsm.js');
const { busySeconds, machineEnv } = require('../common.js');

const args = process.argv.slice(2);
const slices = Number(args[args.indexOf('--slices') + 1]) || 20;
const json = args.includes('--json');
const root = path.join(__dirname, '..', '..');
const log = (s) => process.stderr.write(s + '\n');

const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex');
const DIGEST = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 0xff));
const CHUNK = Buffer.alloc(1024 * 1024, 0x5a);

function open(pk, modulePath) {
  const mod = new pk.PKCS11(modulePath);
  mod.C_Initialize({ flags: pk.CKF_OS_LOCKING_OK });
  const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label.trim() === 'bench');
  const sessions = [0, 1, 2, 3].map(() => mod.C_OpenSession(slot, pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION));
  mod.C_Login(sessions[0], pk.CKU_USER, '1234');
  const { privateKey } = mod.C_GenerateKeyPair(
    sessions[0],
    { mechanism: pk.CKM_EC_KEY_PAIR_GEN },
    [{ type: pk.CKA_TOKEN, value: false }, { type: pk.CKA_EC_PARAMS, value: P256_OID }, { type: pk.CKA_VERIFY, value: true }],
    [{ type: pk.CKA_TOKEN, value: false }, { type: pk.CKA_SIGN, value: true }],
  );
  return { pk, mod, sessions, privateKey, out: sessions.map(() => Buffer.alloc(72)), digestOut: Buffer.alloc(32) };
}

// One slice of each row: returns [operations, wall ms, CPU µs].
function timed(f) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const n = f();
  const c = process.cpuUsage(c0);
  return [n, performance.now() - t0, c.user + c.system];
}

const rows = {
  cheap: (x) =>
    timed(() => {
      for (let i = 0; i < 20000; i++) x.mod.C_GetSessionInfo(x.sessions[0]);
      return 20000;
    }),
  sign: (x) =>
    timed(() => {
      const m = { mechanism: x.pk.CKM_ECDSA };
      for (let i = 0; i < 100; i++) {
        x.mod.C_SignInit(x.sessions[0], m, x.privateKey);
        x.mod.C_Sign(x.sessions[0], DIGEST, x.out[0]);
      }
      return 100;
    }),
  sha: (x) =>
    timed(() => {
      x.mod.C_DigestInit(x.sessions[0], { mechanism: x.pk.CKM_SHA256 });
      for (let i = 0; i < 64; i++) x.mod.C_DigestUpdate(x.sessions[0], CHUNK);
      const d = x.mod.C_DigestFinal(x.sessions[0], x.digestOut);
      if (!d.equals(x.expected)) throw new Error('SHA-256 differs from node:crypto');
      return 64;
    }),
  // 4 chains of callback C_Sign for 150 ms; the slice ends when every chain has stopped.
  async: (x) =>
    new Promise((resolve, reject) => {
      const m = { mechanism: x.pk.CKM_ECDSA };
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let n = 0;
      let live = x.sessions.length;
      const until = t0 + 150;
      x.sessions.forEach((s, i) => {
        const step = () => {
          x.mod.C_SignInit(s, m, x.privateKey);
          x.mod.C_Sign(s, DIGEST, x.out[i], (err, sig) => {
            if (err || sig.length !== 64) return reject(err || new Error('bad signature'));
            n++;
            if (performance.now() < until) return step();
            if (--live === 0) {
              const c = process.cpuUsage(c0);
              resolve([n, performance.now() - t0, c.user + c.system]);
            }
          });
        };
        step();
      });
    }),
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const fx = createSoftHSM({ tokens: [{ label: 'bench', soPin: '12345678', userPin: '1234' }] });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-facade-bench-'));
  try {
    const copy = path.join(tmp, 'libsofthsm2-for-pkcs11js.so');
    fs.copyFileSync(fx.modulePath, copy);
    const libs = {
      pkcs11js: open(require('pkcs11js'), copy),
      facade: open(require(path.join(root, 'dist', 'compat', 'pkcs11js', 'index.js')), fx.modulePath),
    };
    const h = crypto.createHash('sha256');
    for (let i = 0; i < 64; i++) h.update(CHUNK);
    libs.pkcs11js.expected = libs.facade.expected = h.digest();
    const env = machineEnv(fx.modulePath);
    const busy0 = busySeconds();
    const t0 = Date.now();
    const results = [];
    for (const [row, run] of Object.entries(rows)) {
      for (const x of Object.values(libs)) await run(x); // warm-up slice each
      const speed = [];
      const cpu = [];
      const sum = { pkcs11js: [0, 0, 0], facade: [0, 0, 0] };
      for (let i = 0; i < slices; i++) {
        const order = i % 2 ? ['facade', 'pkcs11js'] : ['pkcs11js', 'facade'];
        const got = {};
        for (const impl of order) got[impl] = await run(libs[impl]);
        for (const impl of order) sum[impl] = sum[impl].map((v, k) => v + got[impl][k]);
        // facade speed / pkcs11js speed, and pkcs11js CPU per op / facade CPU per op.
        speed.push((got.facade[0] / got.facade[1]) / (got.pkcs11js[0] / got.pkcs11js[1]));
        cpu.push((got.pkcs11js[2] / got.pkcs11js[0]) / (got.facade[2] / got.facade[0]));
      }
      const per = (impl) => ({ opsPerSec: (sum[impl][0] / sum[impl][1]) * 1000, cpuUsPerOp: sum[impl][2] / sum[impl][0] });
      const r = { row, slices, pkcs11js: per('pkcs11js'), facade: per('facade'), speedRatio: median(speed), cpuRatio: median(cpu), speedRange: [Math.min(...speed), Math.max(...speed)] };
      results.push(r);
      log(`${row}: speed ratio ${r.speedRatio.toFixed(3)} (${r.speedRange.map((v) => v.toFixed(2)).join('–')}), CPU ratio ${r.cpuRatio.toFixed(3)}`);
    }
    const busy = busy0 === null ? null : (busySeconds() - busy0) / ((Date.now() - t0) / 1000);
    if (json) {
      process.stdout.write(JSON.stringify({ env: { ...env, machineBusyCores: busy }, results }, null, 2) + '\n');
    } else {
      const out = [`node ${env.node}, ${env.cpus} × ${env.cpuModel}, SoftHSM ${env.softhsm}, ${slices} alternating slices per row, one process`, ''];
      out.push('| row | pkcs11js ops/s | facade ops/s | speed facade/pkcs11js (median of slices; min–max) | CPU µs/op pkcs11js | CPU µs/op facade | CPU ratio (median) |', '|---|---|---|---|---|---|---|');
      for (const r of results) {
        out.push(
          `| ${r.row} | ${r.pkcs11js.opsPerSec.toFixed(0)} | ${r.facade.opsPerSec.toFixed(0)} | ${r.speedRatio.toFixed(3)} (${r.speedRange.map((v) => v.toFixed(2)).join('–')}) | ` +
            `${r.pkcs11js.cpuUsPerOp.toFixed(2)} | ${r.facade.cpuUsPerOp.toFixed(2)} | ${r.cpuRatio.toFixed(3)} |`,
        );
      }
      out.push('', 'ratios > 1: the facade is faster / uses less CPU per operation. sha ops are MB.');
      if (busy !== null) out.push(`whole machine busy: ${busy.toFixed(2)} of ${env.cpus} cores (this process included)`);
      process.stdout.write(out.join('\n') + '\n');
    }
    for (const x of Object.values(libs)) x.mod.C_Finalize();
  } finally {
    fx.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  log(e && e.stack ? e.stack : String(e));
  process.exitCode = 1;
});
