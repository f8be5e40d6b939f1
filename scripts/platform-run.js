#!/usr/bin/env node
// Runs inside the root that scripts/platform-test.js makes (copied to /srv/app with the demo, the
// SoftHSM helper and the conformance run; p11bridge installed from the packed tarball in
// /srv/app/node_modules). Prints what it ran on, the demo's output, and a last JSON line:
// { inside: { glibc, node, arch, binding, bindingSha256, sumsMatch }, demo, conformance, ok }.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const app = __dirname;
const pkgDir = path.join(app, 'node_modules', 'p11bridge');

function child(script, args, extraEnv) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(app, script), ...args], {
    env: { ...process.env, ...extraEnv },
    encoding: 'utf8',
    timeout: 20 * 60 * 1000,
    maxBuffer: 64 << 20,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '', seconds: (Date.now() - t0) / 1000 };
}

function main() {
  const raw = require('p11bridge/raw');
  const binding = raw.BINDING_PATH;
  const sha = crypto.createHash('sha256').update(fs.readFileSync(binding)).digest('hex');
  const sums = fs.readFileSync(path.join(pkgDir, 'prebuilds', 'SHA256SUMS'), 'utf8');
  const rel = path.relative(path.join(pkgDir, 'prebuilds'), binding).split(path.sep).join('/');
  const inside = {
    glibc: process.report.getReport().header.glibcVersionRuntime,
    os: (fs.readFileSync('/etc/debian_version', 'utf8') || '').trim(),
    node: process.version,
    arch: process.arch,
    binding: path.relative(app, binding),
    bindingSha256: sha,
    sumsMatch: sums.includes(`${sha}  ${rel}\n`),
  };
  process.stdout.write(`inside: Debian ${inside.os}, glibc ${inside.glibc}, node ${inside.node} ${inside.arch}, ${inside.binding}\n`);

  // The README demo: its own throw-away token (scripts/softhsm.js), raw and typed layers.
  const demo = child('scripts/demo.js', [], {});
  process.stdout.write(demo.stdout);
  if (demo.status !== 0) process.stdout.write(`demo failed (exit ${demo.status} ${demo.signal || ''}):\n${demo.stderr}\n`);

  // The conformance run on a token of its own.
  const { createSoftHSM } = require(path.join(app, 'scripts', 'softhsm.js'));
  const fx = createSoftHSM({ tokens: [{ label: 'platform', soPin: '12345678', userPin: '1234' }], setEnv: false });
  let conformance;
  try {
    const c = child('test/matrix/conformance.js', [JSON.stringify({ modulePath: fx.modulePath, token: 'platform', userPin: '1234', soPin: '12345678' })], {
      SOFTHSM2_CONF: fx.conf,
    });
    let result = null;
    for (const line of c.stdout.trim().split('\n').reverse()) {
      try {
        result = JSON.parse(line);
        break;
      } catch {
        /* not the result line */
      }
    }
    const steps = result && Array.isArray(result.steps) ? result.steps : [];
    const count = (s) => steps.filter((x) => x.status === s).length;
    conformance = { exit: c.status, pass: count('pass'), fail: count('fail'), skip: count('skip'), failed: steps.filter((x) => x.status === 'fail'), seconds: c.seconds };
    if (c.status !== 0) process.stdout.write(`conformance failed (exit ${c.status}):\n${c.stderr}\n`);
  } finally {
    fx.cleanup();
  }
  const ok = demo.status === 0 && conformance.exit === 0 && conformance.fail === 0 && conformance.pass > 0 && inside.sumsMatch;
  process.stdout.write(JSON.stringify({ inside, demo: { exit: demo.status, seconds: demo.seconds }, conformance, ok }) + '\n');
  process.exit(ok ? 0 : 1);
}

main();
