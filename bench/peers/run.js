#!/usr/bin/env node
// Peer bench (issue 18): other languages' PKCS#11 bindings against the C loop, p11bridge and
// pkcs11js, over the same throw-away SoftHSM token and ECDSA P-256 key template as bench/raw.
//
//   node bench/peers/run.js          tables (values, then ratios to C)
//   node bench/peers/run.js --json   the same numbers as JSON on stdout (progress goes to stderr)
//
// Peers: Java SunPKCS11 (bench/peers/Peer.java, javac at bench time), Go github.com/miekg/pkcs11
// (bench/peers/peer.go, GOPATH-mode build against Debian's source), Python PyKCS11
// (bench/peers/peer.py under /usr/bin/python3). Missing Debian packages are installed with apt
// (one `apt-get update`, then one `apt-get install`). Every measurement runs in its own child
// process, one at a time; the sign rows alternate implementations round by round. Every peer's
// signatures (the last one of each thread, every sample) are verified here with node:crypto, and
// every SHA-256 digest is checked against node:crypto. See bench/README.md.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync, execFileSync } = require('node:child_process');
const { buildShim, busySeconds, machineEnv, writeReport, cleanupRun, runMain } = require('../common');

const root = path.join(__dirname, '..', '..');
const JSON_OUT = process.argv.includes('--json');
const log = (msg) => process.stderr.write(msg + '\n');

const CFG = {
  cheap: { warmup: 20000, iters: 200000, reps: 5 },
  sign: { warmup: 300, seconds: 1, rounds: 3 },
  conc: { warmup: 300, warmupSeconds: 0.3, seconds: 2, rounds: 2, threads: 2, sessions: 4, callers: 8 },
  slow: { sessions: 32, signs: 640, delayMs: 20, rounds: 2 }, // Python: 1 round (~26 s each)
  sha: { mb: 64, reps: 5, pythonReps: 2 },
};
const TOKEN = { label: 'p11bridge-peers', soPin: '12345678', userPin: '1234' };
// Every signature is over DIGEST = SHA-256(MSG), so node:crypto verifies it as 'sha256' over MSG.
const MSG = Buffer.from('p11bridge bench/peers: the 32-byte digest every peer signs');
const DIGEST = crypto.createHash('sha256').update(MSG).digest();
const PY = '/usr/bin/python3'; // apt's python3-pykcs11 lives there, not in a pyenv/venv python

// ---- peers: Debian packages, versions, builds --------------------------------------------------

function ok(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return !r.error && r.status === 0 ? (r.stdout || '') + (r.stderr || '') || 'ok' : null;
}
const dpkgVersion = (pkg) => {
  const v = ok('dpkg-query', ['-W', '-f=${Version}', pkg]);
  return v ? v.trim() : null;
};
const GOSRC = '/usr/share/gocode/src/github.com/miekg/pkcs11';
const PEERS = {
  java: { pkgs: ['openjdk-17-jdk-headless'], present: () => ok('javac', ['-version']) && ok('java', ['-version']) },
  go: { pkgs: ['golang', 'golang-github-miekg-pkcs11-dev'], present: () => ok('go', ['version']) && fs.existsSync(path.join(GOSRC, 'pkcs11.go')) },
  python: { pkgs: ['python3-pykcs11'], present: () => ok(PY, ['-c', 'import PyKCS11']) },
};

function ensurePackages() {
  const missing = Object.entries(PEERS).filter(([, p]) => !p.present());
  if (!missing.length) return {};
  const pkgs = missing.flatMap(([, p]) => p.pkgs);
  log(`installing missing Debian packages: ${pkgs.join(' ')} (apt-get update once, then install)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const sudo = process.getuid && process.getuid() === 0 ? [] : ['sudo'];
  const run = (args) => spawnSync(sudo.length ? 'sudo' : args[0], sudo.length ? args : args.slice(1), { env, stdio: ['ignore', 2, 2] });
  run(['apt-get', 'update']);
  run(['apt-get', 'install', '-y', '--no-install-recommends', ...pkgs]);
  const why = {};
  for (const [name, p] of missing) if (!p.present()) why[name] = `not available after apt-get install ${p.pkgs.join(' ')}`;
  return why;
}

function versions() {
  const first = (s) => (s ? s.trim().split('\n')[0] : null);
  return {
    java: { javac: first(ok('javac', ['-version'])), java: first(ok('java', ['-version'])), provider: 'SunPKCS11 (jdk.crypto.cryptoki)' },
    go: { go: first(ok('go', ['version'])), miekgPkcs11: dpkgVersion('golang-github-miekg-pkcs11-dev') },
    python: {
      python: first(ok(PY, ['--version'])),
      PyKCS11: first(ok(PY, ['-c', 'import importlib.metadata as m; print(m.version("PyKCS11"))'])),
      deb: dpkgVersion('python3-pykcs11'),
    },
  };
}

function build(tmp, unavailable) {
  const bin = {};
  if (!unavailable.java) {
    const dir = path.join(tmp, 'java');
    fs.mkdirSync(dir);
    const r = spawnSync('javac', ['-d', dir, path.join(__dirname, 'Peer.java')], { stdio: ['ignore', 2, 2] });
    if (r.status === 0) bin.java = ['java', ['-cp', dir, 'Peer']];
    else unavailable.java = 'javac failed';
  }
  if (!unavailable.go) {
    const gopath = path.join(tmp, 'gopath');
    const out = path.join(tmp, 'peer-go');
    fs.mkdirSync(gopath);
    // GOPATH mode: Debian ships the package's source, nothing is fetched.
    const env = { ...process.env, GO111MODULE: 'off', GOPATH: `/usr/share/gocode:${gopath}`, GOCACHE: path.join(tmp, 'gocache'), GOPROXY: 'off', GOFLAGS: '' };
    const r = spawnSync('go', ['build', '-o', out, path.join(__dirname, 'peer.go')], { env, stdio: ['ignore', 2, 2] });
    if (r.status === 0) bin.go = [out, []];
    else unavailable.go = 'go build failed';
  }
  if (!unavailable.python) bin.python = [PY, [path.join(__dirname, 'peer.py')]];
  return bin;
}

// The same C loop as bench/raw (bench/raw/run.js exports nothing, so this is its compile line).
function compileCLoop(tmp) {
  const out = path.join(tmp, 'cloop');
  const args = ['-O2', '-o', out, 'bench/raw/cloop.c', '-ldl', '-lpthread', '-I', 'src-native/pkcs11'];
  const r = spawnSync('cc', args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.error || r.status !== 0) throw new Error(`cc ${args.join(' ')} failed`);
  return out;
}

function pkcs11jsLoads() {
  const r = spawnSync(process.execPath, ['-e', 'require("pkcs11js")'], { cwd: root });
  return r.status === 0;
}

// ---- children (as bench/raw/run.js: background load from /proc/stat minus the child's CPU) ----


const childEnv = { ...process.env };
delete childEnv.UV_THREADPOOL_SIZE;

function runChild(label, cmd, args, timeoutMs = 120000) {
  const b0 = busySeconds();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: root, env: childEnv, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 8 << 20 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const b1 = busySeconds();
  if (r.error || r.status !== 0) throw new Error(`${label}: ${r.error ? r.error.message : 'exit ' + r.status}\n${(r.stderr || '').trim().slice(0, 2000)}`);
  const out = { wallSec: wall };
  for (const line of r.stdout.split('\n')) if (line.trim().startsWith('{')) Object.assign(out, JSON.parse(line));
  if (b0 !== null && b1 !== null && typeof out.cpuSec === 'number') out.backgroundCores = Math.max(0, (b1 - b0 - out.cpuSec) / wall);
  return out;
}

let fx, cloop, shim, bins;

function peerChild(impl, measure, args, module = fx.modulePath) {
  log(`  ${measure.padEnd(6)} ${impl} ${args.join(' ')}`);
  const [cmd, pre] = bins[impl];
  const r = runChild(`${impl} ${measure}`, cmd, [...pre, module, String(fx.tokens[0].slot), TOKEN.userPin, DIGEST.toString('hex'), measure, ...args.map(String)], 180000);
  if (r.sigs) verifySigs(impl, r);
  return r;
}

function cChild(measure, args, name, module = fx.modulePath) {
  log(`  ${measure.padEnd(6)} ${name}`);
  return runChild(`C ${measure}`, cloop, [module, TOKEN.label, TOKEN.userPin, measure, ...args.map(String)]);
}

function nodeChild(impl, measure, extra) {
  log(`  ${measure.padEnd(6)} ${impl}`);
  const opts = { impl, measure, module: fx.modulePath, label: TOKEN.label, pin: TOKEN.userPin, ...extra };
  return runChild(`${impl} ${measure}`, process.execPath, [path.join(root, 'bench', 'raw', 'node-bench.js'), JSON.stringify(opts)]);
}

function engineChild(impl) {
  log(`  slow   ${impl} (bench/engine/child.js)`);
  const { sessions, signs, delayMs } = CFG.slow;
  const opts = { scenario: 'slow', impl, module: shim, label: TOKEN.label, pin: TOKEN.userPin, sessions, signs, delayMs };
  return runChild(`engine ${impl}`, process.execPath, [path.join(root, 'bench', 'engine', 'child.js'), JSON.stringify(opts)], 180000);
}

// ---- verification with node:crypto ----------------------------------------------------------

let verified = {};
function publicKey(r) {
  if (r.pubSpki) return crypto.createPublicKey({ key: Buffer.from(r.pubSpki, 'hex'), format: 'der', type: 'spki' });
  let p = Buffer.from(r.ecPoint, 'hex');
  if (p[0] === 0x04 && p[1] === 0x41 && p.length === 67) p = p.subarray(2); // DER OCTET STRING around 04||X||Y
  if (p.length !== 65 || p[0] !== 0x04) throw new Error(`unexpected CKA_EC_POINT ${r.ecPoint}`);
  const b64 = (b) => b.toString('base64url');
  return crypto.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64(p.subarray(1, 33)), y: b64(p.subarray(33)) }, format: 'jwk' });
}
function verifySigs(impl, r) {
  const key = publicKey(r);
  const enc = r.sigFormat === 'der' ? 'der' : 'ieee-p1363';
  if (!r.sigs.length && r.ops > 0) throw new Error(`${impl}: no signature to verify`);
  for (const s of r.sigs) {
    if (!crypto.verify('sha256', MSG, { key, dsaEncoding: enc }, Buffer.from(s, 'hex'))) throw new Error(`${impl} ${r.measure}: signature does not verify with node:crypto`);
  }
  verified[impl] = (verified[impl] || 0) + r.sigs.length;
}

// ---- main -------------------------------------------------------------------------------------

const min = (a) => Math.min(...a);
const max = (a) => Math.max(...a);
let tmp;

function main() {
  const started = Date.now();
  const unavailable = ensurePackages();
  const ver = versions();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-peers-'));
  bins = build(tmp, unavailable);
  const peers = Object.keys(bins);
  for (const [k, v] of Object.entries(unavailable)) log(`peer ${k} unavailable: ${v}`);
  log(`peers: ${peers.join(', ')}`);
  log(`versions: ${JSON.stringify(ver)}`);
  cloop = compileCLoop(tmp);
  const pk = pkcs11jsLoads();
  if (!pk) log('pkcs11js does not load (run bench/raw/run.js once, it builds it): its columns are n/a');
  const { createSoftHSM } = require(path.join(root, 'scripts', 'softhsm.js'));
  fx = createSoftHSM({ tokens: [TOKEN] }); // sets process.env.SOFTHSM2_CONF
  childEnv.SOFTHSM2_CONF = process.env.SOFTHSM2_CONF;
  shim = buildShim(path.join(tmp, 'shim'), [`delay C_Sign ${CFG.slow.delayMs}`], fx.modulePath);

  const samples = { cheap: {}, sign: {}, conc: {}, slow: {}, sha: {} };
  const push = (m, impl, f) => {
    let r;
    try {
      r = f();
    } catch (e) {
      log(`  ${impl} ${m} FAILED: ${e.message}`);
      r = { error: String(e.message).slice(0, 500) };
    }
    (samples[m][impl] = samples[m][impl] || []).push(r);
  };
  const nodeImpls = pk ? ['p11bridge', 'pkcs11js'] : ['p11bridge'];

  log('1. cheap call (C_GetSessionInfo; Java: n/a)');
  const ch = CFG.cheap;
  push('cheap', 'c', () => cChild('cheap', [ch.warmup, ch.iters, ch.reps], 'C'));
  for (const impl of nodeImpls) push('cheap', impl, () => nodeChild(impl, 'cheap', ch));
  for (const impl of peers.filter((p) => p !== 'java')) push('cheap', impl, () => peerChild(impl, 'cheap', [ch.warmup, ch.iters, ch.reps]));

  log('2. sync sign, one session/thread (CKM_ECDSA over a 32-byte digest)');
  const sg = CFG.sign;
  for (let round = 0; round < sg.rounds; round++) {
    push('sign', 'c', () => cChild('sign', [sg.warmup, sg.seconds, 1, 0], 'C'));
    for (const impl of nodeImpls) push('sign', impl, () => nodeChild(impl, 'sign', { ...sg, sessions: 1 }));
    for (const impl of peers) push('sign', impl, () => peerChild(impl, 'sign', [sg.warmup, sg.seconds, 1]));
  }

  log(`3. concurrent sign: C/Java/Go/Python ${CFG.conc.threads} threads, p11bridge typed ${CFG.conc.callers} callers over ${CFG.conc.sessions} sessions, pkcs11js async ${CFG.conc.sessions} sessions`);
  const cc = CFG.conc;
  const nodeAsync = { warmupSeconds: cc.warmupSeconds, seconds: cc.seconds, sessions: cc.sessions };
  for (let round = 0; round < cc.rounds; round++) {
    push('conc', 'c', () => cChild('sign', [cc.warmup, cc.seconds, cc.threads, 0], `C (${cc.threads} threads)`));
    push('conc', 'p11bridge', () => nodeChild('p11bridge-typed', 'async', { ...nodeAsync, callers: cc.callers }));
    if (pk) push('conc', 'pkcs11js', () => nodeChild('pkcs11js', 'async', nodeAsync));
    for (const impl of peers) push('conc', impl, () => peerChild(impl, 'sign', [cc.warmup, cc.seconds, cc.threads]));
  }

  const sl = CFG.slow;
  log(`4. slow token: fault shim 'delay C_Sign ${sl.delayMs}', ${sl.sessions} sessions, ${sl.signs} signatures`);
  // C: the C loop with 32 threads over the shim for 2 s (cloop has no fixed-count mode).
  for (let round = 0; round < sl.rounds; round++) {
    push('slow', 'c', () => cChild('sign', [0, 2, sl.sessions, 0], `C (${sl.sessions} threads, 2 s)`, shim));
    push('slow', 'p11bridge', () => engineChild('typed'));
    if (pk) push('slow', 'pkcs11js', () => engineChild('pkcs11js'));
    for (const impl of peers) if (round === 0 || impl !== 'python') push('slow', impl, () => peerChild(impl, 'slow', [sl.sessions, sl.signs], shim));
  }

  log('5. SHA-256 over 64 MB in 1 MB updates');
  const sh = CFG.sha;
  push('sha', 'c', () => cChild('sha', [sh.mb, sh.reps], 'C'));
  for (const impl of nodeImpls) push('sha', impl, () => nodeChild(impl, 'sha', sh));
  // PyKCS11 copies every 1 MB update into a ckbytelist byte by byte (~6 s per pass): fewer reps.
  for (const impl of peers) push('sha', impl, () => peerChild(impl, 'sha', [sh.mb, impl === 'python' ? sh.pythonReps : sh.reps]));
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7 + 3) & 0xff;
  const h = crypto.createHash('sha256');
  for (let i = 0; i < sh.mb; i++) h.update(chunk);
  const want = h.digest('hex');
  for (const [impl, s] of Object.entries(samples.sha)) for (const x of s) if (x.digest && x.digest !== want) throw new Error(`${impl}: SHA-256 digest differs from node:crypto`);

  const impls = ['c', 'p11bridge', 'pkcs11js', ...peers];
  const good = (m, impl) => (samples[m][impl] || []).filter((x) => !x.error);
  const pick = (m, impl, f) => (good(m, impl).length ? f(good(m, impl)) : null);
  const res = { cheapNs: {}, signOps: {}, concOps: {}, concCpuCores: {}, concCpuUsPerSign: {}, concBackgroundCores: {}, slowOps: {}, shaMBps: {}, errors: {} };
  for (const impl of impls) {
    res.cheapNs[impl] = pick('cheap', impl, (s) => min(s.flatMap((x) => x.ns)));
    res.signOps[impl] = pick('sign', impl, (s) => max(s.map((x) => x.opsPerSec)));
    res.concOps[impl] = pick('conc', impl, (s) => max(s.map((x) => x.opsPerSec)));
    // CPU of the best round (the one whose ops/s is shown) and CPU time per signature in it.
    const best = pick('conc', impl, (s) => s.reduce((a, b) => (b.opsPerSec > a.opsPerSec ? b : a)));
    res.concCpuCores[impl] = best && typeof best.cpuCores === 'number' ? best.cpuCores : null;
    res.concCpuUsPerSign[impl] = best && typeof best.cpuCores === 'number' ? (best.cpuCores / best.opsPerSec) * 1e6 : null;
    res.concBackgroundCores[impl] = best && typeof best.backgroundCores === 'number' ? best.backgroundCores : null;
    res.slowOps[impl] = pick('slow', impl, (s) => max(s.map((x) => x.opsPerSec)));
    res.shaMBps[impl] = pick('sha', impl, (s) => (CFG.sha.mb / min(s.flatMap((x) => x.ms))) * 1000);
    for (const m of Object.keys(samples)) for (const x of samples[m][impl] || []) if (x.error) (res.errors[impl] = res.errors[impl] || []).push(`${m}: ${x.error}`);
  }
  const ideal = sl.sessions / (sl.delayMs / 1000);
  const ratio = (a, b) => (a === null || b === null || a === undefined || b === undefined ? null : a / b);
  res.ratios = {};
  for (const impl of impls) {
    res.ratios[impl] = {
      cheap: ratio(res.cheapNs[impl], res.cheapNs.c), // ns: lower is better
      sign: ratio(res.signOps[impl], res.signOps.c),
      conc: ratio(res.concOps[impl], res.concOps.c),
      slow: ratio(res.slowOps[impl], ideal), // against the ideal, not C
      slowVsC: ratio(res.slowOps[impl], res.slowOps.c),
      sha: ratio(res.shaMBps[impl], res.shaMBps.c),
    };
  }
  const bg = Object.values(samples).flatMap((m) => Object.values(m).flat()).map((s) => s.backgroundCores).filter((v) => typeof v === 'number');
  const report = {
    env: {
      date: new Date().toISOString(),
      ...machineEnv(fx.modulePath),
      pkcs11js: pk,
      versions: ver,
      unavailable,
      verifiedSignatures: verified,
      backgroundCoresMax: bg.length ? max(bg) : null,
      backgroundCoresMean: bg.length ? bg.reduce((a, b) => a + b, 0) / bg.length : null,
      seconds: (Date.now() - started) / 1000,
    },
    config: CFG,
    impls,
    results: res,
    samples,
  };
  if (JSON_OUT) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else printTable(report, ideal);
}

function fmt(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function printTable({ env, impls, results: r }, ideal) {
  const out = [];
  const names = { c: 'C', p11bridge: 'p11bridge', pkcs11js: 'pkcs11js', java: 'Java', go: 'Go', python: 'Python' };
  const w = [46, ...impls.map(() => 10)];
  const row = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join(' ');
  const v = env.versions;
  out.push(`p11bridge peer bench — ${env.date}, node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), SoftHSM ${env.softhsm || '?'}`);
  out.push(`Java: ${v.java.javac || 'n/a'} / ${v.java.java || ''}, ${v.java.provider}`);
  out.push(`Go: ${v.go.go || 'n/a'}, github.com/miekg/pkcs11 ${v.go.miekgPkcs11 || 'n/a'} (Debian)`);
  out.push(`Python: ${v.python.python || 'n/a'}, PyKCS11 ${v.python.PyKCS11 || 'n/a'} (Debian ${v.python.deb || 'n/a'})`);
  for (const [k, why] of Object.entries(env.unavailable)) out.push(`${names[k]}: unavailable (${why})`);
  out.push('');
  out.push(row(['measurement', ...impls.map((i) => names[i])]));
  out.push(row(['-'.repeat(46), ...impls.map(() => '-'.repeat(10))]));
  out.push(row(['1 cheap call C_GetSessionInfo (ns/call)', ...impls.map((i) => fmt(r.cheapNs[i]))]));
  out.push(row(['2 sync sign, 1 session/thread (ops/s)', ...impls.map((i) => fmt(r.signOps[i]))]));
  out.push(row(['3 concurrent sign (ops/s) [a]', ...impls.map((i) => fmt(r.concOps[i]))]));
  out.push(row(['    CPU cores busy (best round)', ...impls.map((i) => fmt(r.concCpuCores[i], 2))]));
  out.push(row(['    CPU µs per signature (best round)', ...impls.map((i) => fmt(r.concCpuUsPerSign[i], 1))]));
  out.push(row(['    other processes\' cores (best round)', ...impls.map((i) => fmt(r.concBackgroundCores[i], 2))]));
  out.push(row([`4 slow token, ${CFG.slow.sessions} sess., ${CFG.slow.signs} signs (ops/s) [b]`, ...impls.map((i) => fmt(r.slowOps[i]))]));
  out.push(row([`5 SHA-256 ${CFG.sha.mb} MB, 1 MB updates (MB/s)`, ...impls.map((i) => fmt(r.shaMBps[i]))]));
  out.push('');
  out.push(row(['ratio to C (slow token: to the ideal)', ...impls.map((i) => names[i])]));
  out.push(row(['-'.repeat(46), ...impls.map(() => '-'.repeat(10))]));
  const x = (val) => (val === null || val === undefined ? 'n/a' : fmt(val, 2) + 'x');
  out.push(row(['1 cheap call, ns / C ns (lower is better)', ...impls.map((i) => x(r.ratios[i].cheap))]));
  out.push(row(['2 sync sign / C', ...impls.map((i) => x(r.ratios[i].sign))]));
  out.push(row(['3 concurrent sign / C 2 threads', ...impls.map((i) => x(r.ratios[i].conc))]));
  out.push(row([`4 slow token / ideal ${fmt(ideal)}/s`, ...impls.map((i) => x(r.ratios[i].slow))]));
  out.push(row(['5 SHA-256 / C', ...impls.map((i) => x(r.ratios[i].sha))]));
  out.push('');
  out.push(`[a] C, Java, Go, Python: ${CFG.conc.threads} threads/goroutines, each its own session (Java: its own Signature; the provider`);
  out.push(`    picks the sessions); p11bridge: typed sign(), ${CFG.conc.callers} callers over a ${CFG.conc.sessions}-session pool; pkcs11js: async C_Sign, ${CFG.conc.sessions} sessions.`);
  out.push(`[b] fault shim 'delay C_Sign ${CFG.slow.delayMs}' over SoftHSM; C: ${CFG.slow.sessions} threads for 2 s; p11bridge/pkcs11js: bench/engine/child.js.`);
  out.push(`Java has no C_GetSessionInfo through SunPKCS11: row 1 is n/a.`);
  out.push(`Go (miekg/pkcs11) and Python (PyKCS11) call C_Sign twice per signature (a NULL-buffer length query, then the`);
  out.push(`    call), so over the shim each signature waits 2 x ${CFG.slow.delayMs} ms: their ideal in row 4 is half, ${fmt(ideal / 2)}/s.`);
  if (r.slowOps.python) {
    const perSign = 1000 / r.slowOps.python;
    out.push(`Python threads: ${fmt(perSign, 1)} ms per signature with ${CFG.slow.sessions} threads in row 4 (one thread alone: ${2 * CFG.slow.delayMs} ms):` +
      ` ${perSign > 1.5 * CFG.slow.delayMs ? 'PyKCS11 holds the GIL in C_Sign, threads do not scale past one' : 'the GIL is released in C_Sign'}.`);
  }
  out.push(`signatures verified with node:crypto: ${Object.entries(env.verifiedSignatures).map(([k, n]) => `${names[k]} ${n}`).join(', ') || 'none'}; SHA-256 digests all equal node:crypto's`);
  for (const [k, errs] of Object.entries(r.errors)) out.push(`${names[k]} errors: ${errs.join(' | ').slice(0, 300)}`);
  out.push(`best of ${CFG.sign.rounds} rounds (sync sign), ${CFG.conc.rounds} rounds (concurrent), ${CFG.slow.rounds} (slow token; Python 1), best rep (cheap, SHA); took ${fmt(env.seconds)} s`);
  writeReport(out, env, fmt);
}

runMain(main, () => cleanupRun(fx, tmp));
