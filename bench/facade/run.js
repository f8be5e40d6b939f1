#!/usr/bin/env node
// The facade against pkcs11js (issue 16): bench/raw's rows — cheap call, sync sign, async sign,
// SHA-256 — run with identical pkcs11js-API code through pkcs11js itself and through
// p11bridge/pkcs11js, on a throw-away SoftHSM token, each measurement in its own process. The two
// implementations alternate within every round (A B, then B A) so that a shift in the machine's
// load hits both; a row's result is the median of its per-round ratios.
//
// Usage: node bench/facade/run.js [--rounds N] [--json]
// Needs a built dist/ and the pkcs11js devDependency with its addon (bench/raw/run.js builds it).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { createSoftHSM } = require('../../scripts/softhsm.js');
const { busySeconds, machineEnv, runMain, cleanupRun } = require('../common.js');

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 3;
const json = args.includes('--json');
const log = (s) => process.stderr.write(s + '\n');

const ROWS = [
  { measure: 'cheap', title: 'cheap call C_GetSessionInfo (ns, lower is better)', lowerIsBetter: true, opts: { warmup: 20000, reps: 5, iters: 200000 } },
  { measure: 'sign', title: 'sync sign ECDSA P-256, C_Sign(h, digest, out72) (ops/s)', opts: { warmup: 300, seconds: 1 } },
  { measure: 'async', title: 'async sign, 4 sessions, callback C_Sign (ops/s)', opts: { sessions: 4, warmupSeconds: 0.3, seconds: 2 } },
  { measure: 'sha', title: 'SHA-256 over 64 MB, 1 MB C_DigestUpdate (MB/s)', opts: { mb: 64, reps: 5 } },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function measure(fx, impl, row) {
  const o = { impl, measure: row.measure, module: fx.modulePath, label: 'bench', pin: '1234', ...row.opts };
  const r = spawnSync(process.execPath, [path.join(__dirname, 'node-bench.js'), JSON.stringify(o)], {
    env: { ...process.env, SOFTHSM2_CONF: fx.conf },
    encoding: 'utf8',
    timeout: 120000,
    killSignal: 'SIGKILL',
  });
  if (r.status !== 0) throw new Error(`${impl} ${row.measure} failed: ${r.stderr}`);
  const { value, cpuPerOp } = JSON.parse(r.stdout.trim().split('\n').pop());
  return { value, cpuPerOp };
}

let fx = null;
function main() {
  fx = createSoftHSM({ tokens: [{ label: 'bench', soPin: '12345678', userPin: '1234' }], setEnv: false });
  const env = machineEnv(fx.modulePath);
  const results = [];
  const busy0 = busySeconds();
  const t0 = Date.now();
  for (const row of ROWS) {
    const ratios = [];
    const cpuRatios = [];
    const values = { pkcs11js: [], facade: [], 'facade-deepbind': [] };
    const cpu = { pkcs11js: [], facade: [], 'facade-deepbind': [] };
    for (let r = 0; r < rounds; r++) {
      // facade-deepbind (no target): what RTLD_DEEPBIND, the facade's opt-in, costs on this row.
      const order = r % 2 ? ['facade-deepbind', 'facade', 'pkcs11js'] : ['pkcs11js', 'facade', 'facade-deepbind'];
      for (const impl of order) {
        const m = measure(fx, impl, row);
        values[impl].push(m.value);
        cpu[impl].push(m.cpuPerOp);
      }
      const p = values.pkcs11js[r];
      const f = values.facade[r];
      // "facade speed / pkcs11js speed": above 1 the facade is faster (ns rows inverted). The CPU
      // ratio is pkcs11js's CPU time per operation over the facade's: above 1 the facade costs less.
      ratios.push(row.lowerIsBetter ? p / f : f / p);
      cpuRatios.push(cpu.pkcs11js[r] / cpu.facade[r]);
      log(`${row.measure} round ${r + 1}: pkcs11js ${p.toFixed(1)}, facade ${f.toFixed(1)}, ratio ${ratios[r].toFixed(3)}; CPU per op ${cpu.pkcs11js[r].toFixed(2)} vs ${cpu.facade[r].toFixed(2)} µs, ratio ${cpuRatios[r].toFixed(3)}`);
    }
    const deep = values['facade-deepbind'].map((d, i) => (row.lowerIsBetter ? values.pkcs11js[i] / d : d / values.pkcs11js[i]));
    results.push({
      row: row.title,
      pkcs11js: median(values.pkcs11js),
      facade: median(values.facade),
      facadeDeepBind: median(values['facade-deepbind']),
      ratios,
      ratio: median(ratios),
      notSlower: median(ratios) >= 1,
      cpuPerOp: { pkcs11js: median(cpu.pkcs11js), facade: median(cpu.facade) },
      cpuRatios,
      cpuRatio: median(cpuRatios),
      deepBindRatio: median(deep),
    });
  }
  const wall = (Date.now() - t0) / 1000;
  const busy = busy0 === null ? null : (busySeconds() - busy0) / wall;
  const report = { env: { ...env, rounds, machineBusyCores: busy }, results };
  if (json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  const out = [`node ${env.node}, ${env.cpus} × ${env.cpuModel}, ${env.softhsm ? 'SoftHSM ' + env.softhsm : ''}, ${rounds} rounds`, ''];
  out.push(
    '| row | pkcs11js | p11bridge/pkcs11js | speed ratio facade/pkcs11js (median; rounds) | CPU per op pkcs11js / facade (cheap: ns; sign: µs; SHA: µs per MB) | CPU ratio (median; rounds) | deepBind: true, speed /pkcs11js |',
    '|---|---|---|---|---|---|---|',
  );
  const f3 = (x) => x.toFixed(3);
  for (const r of results) {
    out.push(
      `| ${r.row} | ${r.pkcs11js.toFixed(1)} | ${r.facade.toFixed(1)} | ${f3(r.ratio)}${r.notSlower ? '' : ' **slower**'}; ${r.ratios.map(f3).join(' ')} | ` +
        `${r.cpuPerOp.pkcs11js.toFixed(2)} / ${r.cpuPerOp.facade.toFixed(2)} | ${f3(r.cpuRatio)}; ${r.cpuRatios.map(f3).join(' ')} | ${f3(r.deepBindRatio)} |`,
    );
  }
  out.push('', 'speed ratio > 1: the facade is faster; CPU ratio > 1: it uses less CPU per operation (every thread of the process).');
  if (busy !== null) out.push('', `whole machine busy during the run: ${busy.toFixed(2)} cores of ${env.cpus} (this bench's own processes included)`);
  process.stdout.write(out.join('\n') + '\n');
}

runMain(main, () => cleanupRun(fx, null));
