#!/usr/bin/env node
// The call engine's rows (issue: "module calls on the addon's own threads"): a slow token through
// the fault shim (`delay C_Sign 20` over SoftHSM), and what one async call costs the JS thread.
//
//   node bench/engine/run.js [--json]
//
// Rows, each child its own process:
//   slow typed     640 typed privateKey.sign() over a 32-session slot.pool(); ops/s against the
//                  32 / 20 ms = 1,600/s the sessions allow; fs.promises.stat latency meanwhile
//   slow pkcs11js  the same load through pkcs11js (its async C_Sign runs on libuv's pool)
//   js-thread      µs of JS-thread CPU per async call (C_GetSessionInfoAsync in one chain), read
//                  from /proc/self/task/<pid>/stat, and completions settled per wake-up
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { buildShim } = require('../common');

const root = path.join(__dirname, '..', '..');
const JSON_OUT = process.argv.includes('--json');
const log = (s) => process.stderr.write(s + '\n');

const { createSoftHSM } = require(path.join(root, 'scripts', 'softhsm.js'));

function child(opts, env) {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'child.js'), JSON.stringify(opts)], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`${opts.scenario} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function main() {
  const t0 = Date.now();
  const token = { label: 'engine-bench', soPin: '12345678', userPin: '1234' };
  const fx = createSoftHSM({ tokens: [token], setEnv: false });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-engine-bench-'));
  const env = { SOFTHSM2_CONF: fx.conf };
  delete process.env.UV_THREADPOOL_SIZE;
  try {
    const shim = buildShim(tmp, ['delay C_Sign 20'], fx.modulePath);
    const base = { label: token.label, pin: token.userPin, sessions: 32, signs: 640, delayMs: 20 };
    const res = { slow: {}, jsThread: null };
    for (let round = 0; round < 2; round++) {
      for (const impl of ['typed', 'pkcs11js']) {
        log(`slow token, ${impl}, round ${round + 1}`);
        try {
          const r = child({ ...base, scenario: 'slow', impl, module: shim }, env);
          if (!res.slow[impl] || r.opsPerSec > res.slow[impl].opsPerSec) res.slow[impl] = r;
        } catch (e) {
          res.slow[impl] = { error: String(e.message).slice(0, 300) };
        }
      }
    }
    log('JS-thread cost of one async call');
    res.jsThread = child({ scenario: 'js-thread', module: fx.modulePath, label: token.label, pin: token.userPin, seconds: 3 }, env);
    res.seconds = (Date.now() - t0) / 1000;
    if (JSON_OUT) {
      process.stdout.write(JSON.stringify(res, null, 2) + '\n');
      return;
    }
    const ideal = base.sessions / (base.delayMs / 1000);
    const fmt = (x, d = 0) => (typeof x === 'number' ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
    console.log(`p11bridge engine bench — node ${process.version}, ${os.cpus().length} CPUs; fault shim: delay C_Sign ${base.delayMs} ms over SoftHSM`);
    console.log('');
    console.log('row                                              ops/s   / ideal   fs.stat p50 / p99 / max (ms)');
    for (const impl of ['typed', 'pkcs11js']) {
      const r = res.slow[impl];
      if (r.error) {
        console.log(`slow token, ${impl.padEnd(9)}: ${r.error}`);
        continue;
      }
      const name = impl === 'typed' ? 'typed sign(), 32-session pool, 640 calls' : 'pkcs11js async C_Sign, 32 sessions, 640';
      console.log(
        `${name.padEnd(44)} ${fmt(r.opsPerSec).padStart(8)}   ${fmt(r.opsPerSec / ideal, 2).padStart(6)}x   ${fmt(r.stat.p50, 2)} / ${fmt(r.stat.p99, 2)} / ${fmt(r.stat.max, 2)}`,
      );
    }
    console.log(`(ideal: ${base.sessions} sessions / ${base.delayMs} ms = ${fmt(ideal)} signatures/s; target >= 0.9x and fs.stat p99 <= 5 ms)`);
    const j = res.jsThread;
    console.log('');
    console.log(`one async call (C_GetSessionInfoAsync, one chain): ${fmt(j.jsUsPerCall, 2)} µs of JS-thread CPU, ${fmt(j.wallUsPerCall, 2)} µs wall per call; ` +
      `${fmt(j.callsPerWakeup, 2)} completions per wake-up`);
    console.log(`took ${fmt(res.seconds)} s`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    fx.cleanup();
  }
}

main();
