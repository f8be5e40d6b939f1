#!/usr/bin/env node
// Lints the package as published: packs it once (`npm pack`, the same files a user installs) and
// runs publint and Are The Types Wrong (attw) on that tarball. Exits 1 if either reports a problem.
// Needs dist/ and esm/ built first (npm run compile:ts, or scripts/ensure-built.js).
//
// attw runs with its default, strictest profile: node16 from CommonJS and from ES modules and
// bundler (every way the package is loaded at run time: engines node >= 20), and also TypeScript's
// old node10 resolution, still the default of a tsconfig with "module": "commonjs". The "node16"
// profile would skip node10; it is kept because package.json's typesVersions makes
// "p11bridge/raw" resolve there, and this check keeps it doing so. No rule is ignored.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-lint-'));
try {
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  const tarball = path.join(dir, packed[0].filename);
  const checks = [
    // --strict: warnings fail too; suggestions are printed but do not fail.
    ['publint', ['run', tarball, '--strict']],
    ['attw', [tarball, '--profile', 'strict', '--no-color']],
  ];
  let failed = 0;
  for (const [tool, args] of checks) {
    console.log(`\n== ${tool} ${args.join(' ')}`);
    const r = spawnSync(bin(tool), args, { stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`${tool} failed (exit ${r.status ?? r.signal})`);
      failed++;
    }
  }
  process.exitCode = failed ? 1 : 0;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
