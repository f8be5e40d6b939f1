#!/usr/bin/env node
// What each binding executes per call, counted by valgrind's callgrind instead of timed: the
// facade (p11bridge/pkcs11js) and pkcs11js 2.1.7 run the same pkcs11js-API loop (bench/raw's sync
// rows) under callgrind, and the instructions inside native calls from JS (V8's
// FunctionCallbackWrapper::Invoke, inclusive) minus those inside SoftHSM's C_* functions are the
// binding's native share per operation. Instruction counts do not move with a busy neighbour, which
// is what sinks the timed rows on a shared 2-core machine; they leave out each side's JS (the
// facade's argument checks, pkcs11js's wrappers), which the timed rows include.
//
// p11bridge/raw (bench/raw's p11bridge rows: number handles, module-sized output) is counted too,
// for issue 10's sync rows: its binding's share of a signature, against SoftHSM's own work.
//
// Usage: node bench/facade/callgrind.js [--json]    (needs valgrind: apt-get install valgrind;
// about 4 minutes)
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createSoftHSM } = require('../../scripts/softhsm.js');

const json = process.argv.includes('--json');
const log = (s) => process.stderr.write(s + '\n');
const ROWS = {
  cheap: { n: 20000, module: ['C_GetSessionInfo'], title: 'cheap call C_GetSessionInfo' },
  sign: { n: 1000, module: ['C_SignInit', 'C_Sign'], title: 'sync sign: C_SignInit + C_Sign(h, digest, out72)' },
  digest: { n: 8000, module: ['C_DigestInit', 'C_Digest'], title: 'sign-shaped, cheap module work: C_DigestInit + C_Digest(h, 32 B, out72)' },
  sha: { n: 40, module: ['C_DigestInit', 'C_DigestUpdate', 'C_DigestFinal'], title: 'SHA-256: C_DigestInit + 16 × C_DigestUpdate(64 KiB) + C_DigestFinal' },
};

// Inclusive instruction counts by function name from callgrind_annotate's output.
function inclusive(file) {
  const r = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`callgrind_annotate failed: ${r.stderr}`);
  const out = new Map();
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*([\d,]+)\s+\([\s\d.]+%\)\s+\S*?:(.*?) \[(.*)\]$/.exec(line);
    if (!m) continue;
    const name = m[2].trim();
    const key = `${name} [${path.basename(m[3])}]`;
    out.set(key, (out.get(key) || 0) + Number(m[1].replace(/,/g, '')));
  }
  return out;
}

function run(fx, impl, row, n, tmp) {
  const file = path.join(tmp, `${impl}-${row}-${n}.cg`);
  const args = ['--tool=callgrind', `--callgrind-out-file=${file}`, '--smc-check=all-non-file', process.execPath, path.join(__dirname, 'callgrind-child.js'), impl, row, String(n), fx.modulePath];
  const r = spawnSync('valgrind', args, { env: { ...process.env, SOFTHSM2_CONF: fx.conf }, encoding: 'utf8', timeout: 900000, killSignal: 'SIGKILL' });
  if (r.status !== 0) throw new Error(`${impl} ${row}: valgrind exited ${r.status}: ${(r.stderr || '').slice(-1500)}`);
  let invoke = 0;
  let module = 0;
  for (const [k, v] of inclusive(file)) {
    if (/^v8impl::\(anonymous namespace\)::FunctionCallbackWrapper::Invoke\(/.test(k)) invoke += v;
    for (const fn of ROWS[row].module) if (k === `${fn} [libsofthsm2.so]`) module += v;
  }
  return { invoke, module };
}

// Per operation: the loop of n operations minus a run without it (the same set-up: load, login,
// key generation), so set-up's native calls cancel out exactly.
function measure(fx, impl, row, tmp) {
  const n = ROWS[row].n;
  const full = run(fx, impl, row, n, tmp);
  const base = run(fx, impl, row, 0, tmp);
  const native = (full.invoke - base.invoke) / n;
  const module = (full.module - base.module) / n;
  return { nativePerOp: native, modulePerOp: module, bindingPerOp: native - module };
}

function main() {
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind is not installed (apt-get install valgrind)');
  const fx = createSoftHSM({ tokens: [{ label: 'bench', soPin: '12345678', userPin: '1234' }], setEnv: false });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-callgrind-'));
  const results = [];
  try {
    for (const row of Object.keys(ROWS)) {
      const r = { row, title: ROWS[row].title, n: ROWS[row].n };
      for (const impl of ['pkcs11js', 'facade', 'raw']) {
        log(`${row}: ${impl}`);
        r[impl] = measure(fx, impl, row, tmp);
      }
      results.push(r);
    }
  } finally {
    fx.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (json) {
    process.stdout.write(JSON.stringify({ node: process.version, results }, null, 2) + '\n');
    return;
  }
  const f = (x) => Math.round(x).toLocaleString('en-US');
  const out = [`node ${process.version}; instructions per operation by callgrind (deterministic); binding = native calls from JS minus SoftHSM's C_* functions`, ''];
  out.push('| row | SoftHSM | pkcs11js binding | facade binding | facade / pkcs11js | p11bridge/raw binding | raw binding / SoftHSM |', '|---|---|---|---|---|---|---|');
  for (const r of results) {
    out.push(
      `| ${r.title} | ${f(r.facade.modulePerOp)} | ${f(r.pkcs11js.bindingPerOp)} | ${f(r.facade.bindingPerOp)} | ${(r.facade.bindingPerOp / r.pkcs11js.bindingPerOp).toFixed(2)} | ` +
        `${f(r.raw.bindingPerOp)} | ${((100 * r.raw.bindingPerOp) / r.raw.modulePerOp).toFixed(1)}% |`,
    );
  }
  process.stdout.write(out.join('\n') + '\n');
}

try {
  main();
} catch (e) {
  log(e && e.stack ? e.stack : String(e));
  process.exitCode = 1;
}
