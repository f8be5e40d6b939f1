'use strict';
// Builds (once per source change: mallinfo.c or the arenas.h it includes) and loads
// bench/soak/mallinfo.c, the glibc malloc statistics helper of scripts/soak.js --malloc-stats.
// Needs cc and Node's headers; throws saying which is missing.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

function nodeInclude() {
  const prefix = path.dirname(path.dirname(process.execPath));
  for (const d of [path.join(prefix, 'include', 'node'), '/usr/include/node', '/usr/local/include/node']) {
    if (fs.existsSync(path.join(d, 'node_api.h'))) return d;
  }
  throw new Error('node_api.h not found (looked in <node prefix>/include/node, /usr/include/node, /usr/local/include/node)');
}

function loadMallinfo() {
  const src = path.join(__dirname, 'mallinfo.c');
  const out = path.join(os.tmpdir(), `p11bridge-soak-mallinfo-${process.versions.modules}.node`);
  const newest = Math.max(...[src, path.join(__dirname, 'arenas.h')].map((f) => fs.statSync(f).mtimeMs));
  const stale = !fs.existsSync(out) || fs.statSync(out).mtimeMs < newest;
  if (stale) {
    const tmp = `${out}.${process.pid}`;
    const r = spawnSync('cc', ['-O2', '-shared', '-fPIC', '-o', tmp, src, '-I', nodeInclude()], { encoding: 'utf8' });
    if (r.error) throw new Error(`cc: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
    fs.renameSync(tmp, out); // atomic: a concurrent run never loads half a file
  }
  return require(out);
}

module.exports = { loadMallinfo };
