#!/usr/bin/env node
// Writes prebuilds/SHA256SUMS for every .node under prebuilds/, in sha256sum's own format
// ("<hex>  <path>", paths relative to prebuilds/, sorted), so that `cd prebuilds && sha256sum -c
// SHA256SUMS` checks the binaries a user installed or downloaded against the ones CI built.
// `npm run prebuild` runs it after prebuildify; scripts/ensure-built.js runs it when the list is
// older than a binary.
//
// Usage: node scripts/prebuild-sums.js           write prebuilds/SHA256SUMS
//        node scripts/prebuild-sums.js --check   exit 1 if it does not match the binaries
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const defaultDir = path.join(__dirname, '..', 'prebuilds');

function binaries(dir, rel = '') {
  const out = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name; // '/' on every platform: the file is shipped
    if (e.isDirectory()) out.push(...binaries(dir, r));
    else if (e.name.endsWith('.node')) out.push(r);
  }
  return out;
}

function render(dir = defaultDir) {
  // Byte order (not locale order), so the file is the same wherever it is made.
  const files = binaries(dir).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (files.length === 0) throw new Error(`no .node file under ${dir}`);
  const hash = (f) => crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex');
  return files.map((f) => `${hash(f)}  ${f}\n`).join('');
}

function write(dir = defaultDir) {
  fs.writeFileSync(path.join(dir, 'SHA256SUMS'), render(dir));
}

if (require.main === module) {
  if (process.argv.includes('--check')) {
    const file = path.join(defaultDir, 'SHA256SUMS');
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (current !== render()) {
      console.error('prebuilds/SHA256SUMS is missing or stale: run node scripts/prebuild-sums.js');
      process.exitCode = 1;
    }
  } else {
    write();
    process.stdout.write(fs.readFileSync(path.join(defaultDir, 'SHA256SUMS'), 'utf8'));
  }
}
module.exports = { render, write, binaries };
