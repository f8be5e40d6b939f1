'use strict';
// Memory figures for scripts/soak.js and bench/soak/run.js (docs/soak.md): what /proc says RSS is
// made of, and a least-squares line through samples taken during a run.
const fs = require('node:fs');

/** kB fields of /proc/self/smaps_rollup (Linux), in MB: Rss, Anonymous, Private_Dirty. */
function smapsRollup() {
  let text;
  try {
    text = fs.readFileSync('/proc/self/smaps_rollup', 'utf8');
  } catch {
    return null;
  }
  const out = {};
  for (const [, k, v] of text.matchAll(/^(Rss|Anonymous|Private_Dirty):\s+(\d+) kB/gm)) out[k] = Math.round((Number(v) / 1024) * 100) / 100;
  return out;
}

/** Least-squares line through (x, y): slope, and r² (how well a steady growth explains the data). */
function linearFit(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxx ? sxy / sxx : 0;
  return { slope, r2: sxx && syy ? (sxy * sxy) / (sxx * syy) : 0 };
}

/** Slopes in MB per 1M calls of every sampled figure, over all samples and over the second half. */
function fitSamples(samples) {
  const keys = Object.keys(samples[0]).filter((k) => k.endsWith('Mb') || k === 'arenas' || k === 'threadsStarted');
  const fit = {};
  const half = samples.filter((s) => s.calls >= samples[samples.length - 1].calls / 2);
  for (const k of keys) {
    const pts = samples.filter((s) => typeof s[k] === 'number');
    if (pts.length < 2) continue;
    const all = linearFit(
      pts.map((s) => s.calls / 1e6),
      pts.map((s) => s[k]),
    );
    const h = half.filter((s) => typeof s[k] === 'number');
    const second =
      h.length >= 2
        ? linearFit(
            h.map((s) => s.calls / 1e6),
            h.map((s) => s[k]),
          )
        : null;
    const r3 = (x) => Math.round(x * 1000) / 1000;
    fit[k] = { perMillion: r3(all.slope), r2: r3(all.r2), secondHalfPerMillion: second ? r3(second.slope) : null };
  }
  return fit;
}

module.exports = { smapsRollup, linearFit, fitSamples };
