#!/usr/bin/env node
// Removes dist/ files whose lib/ source is gone. tsc never deletes outputs, and a stale
// dist/x.js shadows a new dist/x/index.js (require resolves the file first), as happened when
// lib/interop/webcrypto.ts became a directory.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function prune(dir = path.join(root, 'dist')) {
  if (!fs.existsSync(dir)) return 0;
  let removed = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      removed += prune(p);
      if (fs.readdirSync(p).length === 0) fs.rmdirSync(p);
      continue;
    }
    const m = /^(.*?)(\.d\.ts\.map|\.d\.ts|\.js\.map|\.js)$/.exec(e.name);
    if (!m) continue;
    const source = path.join(root, 'lib', path.relative(path.join(root, 'dist'), dir), `${m[1]}.ts`);
    if (!fs.existsSync(source)) {
      fs.rmSync(p);
      removed++;
    }
  }
  return removed;
}

if (require.main === module) prune();
module.exports = { prune };
