#!/usr/bin/env node
// One scenario for bench/engine/run.js: node child.js '<json>'. Prints one JSON line.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const opts = JSON.parse(process.argv[2]);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const P256 = Buffer.from('06082a8648ce3d030107', 'hex');
const DIGEST = Buffer.alloc(32, 7);

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] : null;
}

// fs.promises.stat every 2 ms while `running()`; latencies in ms.
function statProbe(running) {
  const lat = [];
  const done = (async () => {
    while (running()) {
      const t0 = now();
      await fs.promises.stat(__dirname);
      lat.push(now() - t0);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return async () => {
    await done;
    lat.sort((a, b) => a - b);
    return { n: lat.length, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] };
  };
}

async function slowTyped() {
  const p11 = require(path.join(root, 'dist', 'index.js'));
  const m = await p11.Module.open({ path: opts.module });
  const slot = await m.findSlot(opts.label);
  const s0 = await slot.openSession({ write: true });
  await s0.login(opts.pin);
  const { publicKey, privateKey } = await s0.generateKeyPair({ name: 'EC', curve: 'P-256' });
  const pool = await slot.pool({ size: opts.sessions });
  const keys = new Map();
  const keyFor = async (s) => {
    let k = keys.get(s);
    if (!k) keys.set(s, (k = await s.object(privateKey.handle)));
    return k;
  };
  // Warm the pool: every session open, its key object made.
  await Promise.all(Array.from({ length: opts.sessions }, () => pool.use(async (s) => keyFor(s))));
  let running = true;
  const t0 = now();
  const all = Promise.all(Array.from({ length: opts.signs }, () => pool.use(async (s) => (await keyFor(s)).sign({ name: 'ECDSA' }, DIGEST))));
  // The probe starts once the calls are issued: issuing 640 of them is this script's own
  // synchronous JS (several ms on this machine), not something the token does.
  const probe = statProbe(() => running);
  const sigs = await all;
  const ms = now() - t0;
  running = false;
  const stat = await probe();
  const ok = await publicKey.verify({ name: 'ECDSA' }, DIGEST, sigs[0]);
  const threads = m.raw.moduleInfo().threads;
  await pool.close();
  await m.close();
  return { opsPerSec: (opts.signs / ms) * 1000, ms, stat, verified: ok, threads };
}

async function slowPkcs11js() {
  const pkcs11js = require('pkcs11js');
  const mod = new pkcs11js.PKCS11();
  mod.load(opts.module);
  mod.C_Initialize({ flags: 2 });
  const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label.trim() === opts.label);
  const sessions = Array.from({ length: opts.sessions }, () => mod.C_OpenSession(slot, 6));
  mod.C_Login(sessions[0], 1, opts.pin);
  const keys = mod.C_GenerateKeyPair(
    sessions[0],
    { mechanism: 0x1040 },
    [{ type: 0x1, value: false }, { type: 0x180, value: P256 }, { type: 0x10a, value: true }],
    [{ type: 0x1, value: false }, { type: 0x108, value: true }],
  );
  const free = [...sessions];
  const waiters = [];
  const take = () => (free.length ? Promise.resolve(free.pop()) : new Promise((r) => waiters.push(r)));
  const give = (s) => (waiters.length ? waiters.shift()(s) : free.push(s));
  const signOn = (s) =>
    new Promise((resolve, reject) => {
      mod.C_SignInit(s, { mechanism: 0x1041 }, keys.privateKey);
      mod.C_Sign(s, DIGEST, Buffer.alloc(72), (err, sig) => (err ? reject(err) : resolve(Buffer.from(sig))));
    });
  let running = true;
  const t0 = now();
  const all = Promise.all(
    Array.from({ length: opts.signs }, async () => {
      const s = await take();
      try {
        return await signOn(s);
      } finally {
        give(s);
      }
    }),
  );
  const probe = statProbe(() => running); // after the issuing, as for the typed row
  await all;
  const ms = now() - t0;
  running = false;
  const stat = await probe();
  for (const s of sessions) mod.C_CloseSession(s);
  mod.C_Finalize();
  return { opsPerSec: (opts.signs / ms) * 1000, ms, stat };
}

// JS-thread CPU per async call: utime + stime of the main thread (task id = pid) in clock ticks.
function mainThreadCpuMs() {
  const f = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10; // USER_HZ is 100 on Linux
}

async function jsThread() {
  const raw = require(path.join(root, 'dist', 'raw.js'));
  const native = require(path.join(root, 'dist', 'binding', 'native.js')).default;
  const m = new raw.PKCS11();
  m.load(opts.module);
  m.C_Initialize();
  const slot = m.C_GetSlotList(true).find((s) => m.C_GetTokenInfo(s).label.trim() === opts.label);
  const s = m.C_OpenSession(slot, raw.CKF_SERIAL_SESSION);
  for (let i = 0; i < 20000; i++) await m.C_GetSessionInfoAsync(s);
  const st0 = native.engineStats();
  const cpu0 = mainThreadCpuMs();
  const t0 = now();
  let calls = 0;
  const end = t0 + opts.seconds * 1000;
  while (now() < end) {
    for (let i = 0; i < 100; i++) await m.C_GetSessionInfoAsync(s);
    calls += 100;
  }
  const wall = now() - t0;
  const cpu = mainThreadCpuMs() - cpu0;
  const st = native.engineStats();
  m.C_CloseSession(s);
  m.C_Finalize();
  m.close();
  return {
    calls,
    jsUsPerCall: (cpu * 1000) / calls,
    wallUsPerCall: (wall * 1000) / calls,
    callsPerWakeup: (st.settled - st0.settled) / Math.max(1, st.wakeups - st0.wakeups),
  };
}

const scenarios = {
  slow: () => (opts.impl === 'pkcs11js' ? slowPkcs11js() : slowTyped()),
  'js-thread': jsThread,
};
scenarios[opts.scenario]()
  .then((r) => process.stdout.write(JSON.stringify({ scenario: opts.scenario, impl: opts.impl, ...r }) + '\n'))
  .catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
