// Summarizes a V8 .cpuprofile (from node-bench.js's cpuProfileDir option) as JS-thread time per
// operation, by frame: (idle) is the JS thread waiting (here: for the libuv pool), native frames
// with no URL are C++ functions called from JS (the addon's C_* bindings; V8 may name them all after
// one of the addon's functions), (program) is V8/libuv work outside JS, (garbage collector) GC.
'use strict';
const fs = require('node:fs');

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function frameKey(cf) {
  if (SPECIAL.has(cf.functionName)) return cf.functionName;
  if (!cf.url) return `[native] ${cf.functionName || '(anonymous)'}`;
  const url = cf.url.replace(/^.*\/(dist|bench)\//, '$1/').replace(/^file:\/\//, '');
  return `${cf.functionName || '(anonymous)'} ${url}:${cf.lineNumber + 1}`;
}

function category(key) {
  if (SPECIAL.has(key)) return key;
  if (key.startsWith('[native]')) return 'native calls (addon C_* bindings)';
  if (/ dist\//.test(key)) return 'typed layer JS (dist/)';
  if (/ bench\//.test(key)) return 'benchmark loop JS';
  return 'other JS (node internals)';
}

/** { totalUs, byFrame: Map<key, µs>, byCategory: Map<cat, µs> } of one or more profiles. */
function summarize(files) {
  const byFrame = new Map();
  let totalUs = 0;
  for (const file of [].concat(files)) {
    const p = JSON.parse(fs.readFileSync(file, 'utf8'));
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    // timeDeltas[i] is the time from sample i-1 to sample i: sample i is charged the next delta.
    for (let i = 0; i < p.samples.length; i++) {
      const dt = i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1] : 0;
      const key = frameKey(byId.get(p.samples[i]).callFrame);
      byFrame.set(key, (byFrame.get(key) || 0) + dt);
      totalUs += dt;
    }
  }
  const byCategory = new Map();
  for (const [k, v] of byFrame) byCategory.set(category(k), (byCategory.get(category(k)) || 0) + v);
  return { totalUs, byFrame, byCategory };
}

/** Lines comparing profiles per operation (µs/op): files `a` (typed, opsA ops in all) against `b` (raw). */
function compare(a, opsA, b, opsB, { top = 14, minUs = 0.05 } = {}) {
  const sa = summarize(a);
  const sb = summarize(b);
  const per = (m, ops) => new Map([...m].map(([k, v]) => [k, v / ops]));
  const out = [];
  const row = (name, x, y) =>
    `  ${name.padEnd(58)} ${x.toFixed(2).padStart(8)} ${y.toFixed(2).padStart(8)} ${(x - y >= 0 ? '+' : '') + (x - y).toFixed(2).padStart(7)}`;
  out.push(`  ${'µs per operation on the JS thread'.padEnd(58)} ${'typed'.padStart(8)} ${'raw'.padStart(8)} ${'diff'.padStart(8)}`);
  const ca = per(sa.byCategory, opsA);
  const cb = per(sb.byCategory, opsB);
  const cats = [...new Set([...ca.keys(), ...cb.keys()])].sort((x, y) => (ca.get(y) || 0) - (ca.get(x) || 0));
  for (const c of cats) out.push(row(c, ca.get(c) || 0, cb.get(c) || 0));
  out.push(row('wall time per operation', sa.totalUs / opsA, sb.totalUs / opsB));
  out.push(row('busy (wall − idle)', (sa.totalUs - (sa.byCategory.get('(idle)') || 0)) / opsA, (sb.totalUs - (sb.byCategory.get('(idle)') || 0)) / opsB));
  out.push('');
  out.push(`  frames, by self time in the typed run (top ${top}, ≥ ${minUs} µs/op in either):`);
  const fa = per(sa.byFrame, opsA);
  const fb = per(sb.byFrame, opsB);
  const frames = [...new Set([...fa.keys(), ...fb.keys()])]
    .filter((k) => k !== '(idle)' && ((fa.get(k) || 0) >= minUs || (fb.get(k) || 0) >= minUs))
    .sort((x, y) => (fa.get(y) || 0) - (fa.get(x) || 0))
    .slice(0, top);
  for (const k of frames) out.push(row(k.length > 58 ? k.slice(0, 57) + '…' : k, fa.get(k) || 0, fb.get(k) || 0));
  return {
    lines: out,
    json: {
      typed: { ops: opsA, byCategoryUsPerOp: Object.fromEntries(ca), byFrameUsPerOp: Object.fromEntries(fa) },
      raw: { ops: opsB, byCategoryUsPerOp: Object.fromEntries(cb), byFrameUsPerOp: Object.fromEntries(fb) },
    },
  };
}

module.exports = { summarize, compare };
