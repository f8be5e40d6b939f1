#!/usr/bin/env node
// Soak test: a long mixed run of raw and typed calls on a throw-away SoftHSM token set, checking
// that memory settles and that no handle is left behind.
//
//   node scripts/soak.js                       1,000,000 calls (under a minute on SoftHSM)
//   node scripts/soak.js --calls 50000         any count; --warmup N (default calls/10, 10k..100k)
//   node scripts/soak.js --max-rss-growth-mb 10 --lanes 2 --seed 1 --keep --v8-default-heap
//   node scripts/soak.js --only raw.sessionChurn,typed.random   a subset of the operations, or
//                        --without raw.createDestroy,typed.createDestroy   all but some (to find
//                                              which one a growth comes from)
//   node scripts/soak.js --mix crypto --kinds raw --calls 10000000 --samples 40 --malloc-stats
//
// Finding where memory goes (docs/soak.md): --mix NAME runs one family of operations only:
//   all (default, the whole mix below), cheap (session/token info), crypto (digest, HMAC, ECDSA,
//   AES, multi-part), objects (create/destroy), sessions (open/close, login/logout);
// --kinds raw|typed|raw,typed picks the lanes (raw only is what bench/soak/csoak.c repeats in C);
// --samples N records memory N times during the counted calls (RSS, /proc/self/smaps_rollup,
// V8 heap, external, ArrayBuffers, the addon's call threads; with --malloc-stats also glibc's
// mallinfo2 and arena count from bench/soak/mallinfo.c, built with cc) and fits a line: the
// summary's memory.fit gives MB per 1M calls. --malloc-stats also reports RSS after malloc_trim(0)
// at the end (memory that was free but kept, not in use).
//
// Lanes run concurrently, each a sequence of operations picked at random (seeded) from weighted
// tables: raw lanes on token soak-raw (every raw operation picks its sync C_X or async C_XAsync form
// at random), typed lanes on soak-typed. Logins and wrong PINs churn on two tokens of their own
// (soak-login-raw, soak-login-typed), because PKCS#11 login state is per token and the typed layer
// tracks it. A "call" is one raw C_* call or one typed-layer method call (key.sign counts once
// although it makes two C calls); the setup and the checks are not counted.
//
// Measures RSS after a warm-up of the same mix and forced GCs (the script re-runs itself with
// --expose-gc and a fixed-size young generation, see V8_FLAGS), then again after the counted
// calls, and splits the growth into V8's heap and the rest (native memory). Checks:
//   - open sessions per token, before and after (C_GetTokenInfo's sessionCount/rwSessionCount
//     when the module reports them; SoftHSM 2.6 answers CK_UNAVAILABLE_INFORMATION, so sessions
//     are also counted by probing C_GetSessionInfo over every handle up to the highest the module
//     gave out, a few tens of thousands for a 1M run), and back to the starting value after
//     teardown;
//   - objects per token (every created object destroyed);
//   - find operations finalized: a new C_FindObjectsInit works on every session the lanes used;
//   - no unexpected error (every error the run provokes is checked against its expected code).
// Prints progress on stderr and a JSON summary as the last stdout line; exits 1 when a check
// fails or RSS grew more than --max-rss-growth-mb (default 10).
'use strict';
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const { createSoftHSM } = require('./softhsm.js');
const { fitSamples } = require('./soak-memory.js');
// The operations and the run's shared state (scripts/soak/operations.js), the measures and checks
// (scripts/soak/measure.js).
const { MIXES, TOKENS, RW, createRun, counting, mutex, pick, rawOps, typedOps } = require('./soak/operations.js');
const { sessionCounts, objectCount, findInitWorks, memory, sampleMemory, settle } = require('./soak/measure.js');

function parseArgs(argv) {
  const o = { calls: 1_000_000, warmup: null, lanes: 2, seed: 1, maxRssGrowthMb: 10, keep: false, dist: path.join(root, 'dist') };
  Object.assign(o, { mix: 'all', kinds: ['raw', 'typed'], samples: 20, mallocStats: false });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a non-negative number`);
      return v;
    };
    if (a === '--calls') o.calls = Math.floor(num());
    else if (a === '--warmup') o.warmup = Math.floor(num());
    else if (a === '--lanes') o.lanes = Math.max(1, Math.floor(num()));
    else if (a === '--seed') o.seed = Math.floor(num());
    else if (a === '--max-rss-growth-mb') o.maxRssGrowthMb = num();
    else if (a === '--keep') o.keep = true;
    else if (a === '--v8-default-heap') o.v8DefaultHeap = true;
    else if (a === '--only') o.only = argv[++i].split(',');
    else if (a === '--without') o.without = argv[++i].split(',');
    else if (a === '--dist') o.dist = path.resolve(argv[++i]);
    else if (a === '--mix') {
      o.mix = argv[++i];
      if (!Object.hasOwn(MIXES, o.mix)) throw new Error(`--mix: one of ${Object.keys(MIXES).join(', ')}`);
    } else if (a === '--kinds') {
      o.kinds = argv[++i].split(',');
      if (!o.kinds.length || o.kinds.some((k) => k !== 'raw' && k !== 'typed')) throw new Error('--kinds: raw, typed or raw,typed');
    } else if (a === '--samples') o.samples = Math.max(2, Math.floor(num()));
    else if (a === '--malloc-stats') o.mallocStats = true;
    else if (a === '-h' || a === '--help') {
      const lines = require('node:fs').readFileSync(__filename, 'utf8').split('\n').slice(1);
      process.stdout.write(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else throw new Error('unknown option ' + a + ' (see --help)');
  }
  // The warm-up lets JIT code, caches and the old generation reach their working size first.
  if (o.warmup === null) o.warmup = Math.min(100_000, Math.max(10_000, Math.floor(o.calls / 10)));
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const P256 = Buffer.from('06082a8648ce3d030107', 'hex');

// ---- the run -------------------------------------------------------------------------------------

async function phase(ctx, calls, label, samples) {
  const { stats } = ctx;
  ctx.budget = calls;
  const t0 = process.hrtime.bigint();
  const step = Math.max(1, Math.floor(calls / 10));
  let nextReport = calls - step;
  const sampleStep = samples ? Math.max(1, Math.floor(calls / opts.samples)) : 0;
  let nextSample = calls - sampleStep;
  if (samples) samples.push(sampleMemory(ctx, 0));
  const lane = async (kind, session, table) => {
    let n = 0;
    while (ctx.budget > 0) {
      const [name, fn] = pick(ctx, table);
      stats.ops[`${kind}.${name}`] = (stats.ops[`${kind}.${name}`] || 0) + 1;
      try {
        await fn(session);
      } catch (e) {
        stats.unexpectedCount++;
        if (stats.unexpected.length < 20) stats.unexpected.push(`${kind}.${name}: ${e && (e.rvName || e.name)}: ${e && e.message}`);
      }
      // Sync operations never yield to the event loop on their own: let the async lanes' work
      // complete now and then.
      if (++n % 64 === 0) await new Promise((r) => setImmediate(r));
      if (samples && ctx.budget <= nextSample && ctx.budget > 0) {
        samples.push(sampleMemory(ctx, calls - ctx.budget));
        nextSample -= sampleStep;
      }
      if (label && ctx.budget <= nextReport) {
        const m = memory(ctx);
        process.stderr.write(`[soak] ${label}: ${calls - Math.max(ctx.budget, 0)} / ${calls} calls, rss ${m.rssMb} MB, V8 heap ${m.heapTotalMb} MB (used ${m.heapUsedMb})\n`);
        nextReport -= step;
      }
    }
  };
  const lanes = [];
  if (ctx.rawTable.entries.length) for (const s of ctx.rawSessions) lanes.push(lane('raw', s, ctx.rawTable));
  if (ctx.typedTable.entries.length) for (const s of ctx.typedSessions) lanes.push(lane('typed', s, ctx.typedTable));
  if (!lanes.length) throw new Error('--only left no operation to run');
  await Promise.all(lanes);
  if (samples) samples.push(sampleMemory(ctx, calls - ctx.budget));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main() {
  const p11 = require(path.join(opts.dist, 'index.js'));
  const C = p11; // the constants (CKA_*, CKM_* …) are exported by the entry point too
  const { Module, PKCS11 } = p11;
  const ctx = createRun(opts);
  ctx.p11 = p11;
  const { stats } = ctx;
  const { noteHandle } = counting(ctx);
  const started = Date.now();
  // Before the token set exists, so a missing compiler leaves nothing behind.
  ctx.mallinfo = opts.mallocStats ? require(path.join(root, 'bench', 'soak', 'mallinfo.js')).loadMallinfo() : null;
  const f = createSoftHSM({ tokens: Object.values(TOKENS), setEnv: true });
  let mod;
  let typedMod;
  const summary = { v8Flags: process.execArgv, calls: opts.calls, warmup: opts.warmup, lanes: { raw: opts.lanes, typed: opts.lanes }, seed: opts.seed, module: f.modulePath };
  Object.assign(summary, { mix: opts.mix, kinds: opts.kinds });
  try {
    mod = new PKCS11();
    mod.load(f.modulePath);
    mod.C_Initialize();
    ctx.mod = mod;
    summary.binding = p11.BINDING_PATH;
    const slots = {};
    for (const s of mod.C_GetSlotList(true)) {
      const label = mod.C_GetTokenInfo(s).label;
      for (const [k, t] of Object.entries(TOKENS)) if (t.label === label) slots[k] = s;
    }
    for (const k of Object.keys(TOKENS)) if (slots[k] === undefined) throw new Error('token not found: ' + TOKENS[k].label);
    ctx.slots = slots;
    ctx.slotRaw = slots.raw;
    ctx.slotLoginRaw = slots.loginRaw;
    const atStart = sessionCounts(ctx);

    // Raw lanes: their sessions stay open all run (session objects live as long as the session
    // that made them, and the login lasts while the token has a session).
    ctx.rawSessions = [];
    for (let i = 0; i < opts.lanes; i++) ctx.rawSessions.push(noteHandle(mod.C_OpenSession(slots.raw, RW)));
    const s0 = ctx.rawSessions[0];
    mod.C_Login(s0, C.CKU_USER, TOKENS.raw.userPin);
    const sessionObj = { type: C.CKA_TOKEN, value: false };
    ctx.rawKeys = {
      hmac: mod.C_GenerateKey(s0, { mechanism: C.CKM_GENERIC_SECRET_KEY_GEN }, [
        sessionObj, { type: C.CKA_VALUE_LEN, value: 32 }, { type: C.CKA_SIGN, value: true }, { type: C.CKA_VERIFY, value: true }, { type: C.CKA_SENSITIVE, value: true },
      ]),
      aes: mod.C_GenerateKey(s0, { mechanism: C.CKM_AES_KEY_GEN }, [
        sessionObj, { type: C.CKA_VALUE_LEN, value: 32 }, { type: C.CKA_ENCRYPT, value: true }, { type: C.CKA_DECRYPT, value: true }, { type: C.CKA_SENSITIVE, value: true },
      ]),
      data: mod.C_CreateObject(s0, [
        { type: C.CKA_CLASS, value: C.CKO_DATA }, sessionObj, { type: C.CKA_LABEL, value: 'soak' }, { type: C.CKA_VALUE, value: Buffer.from('soak data') },
      ]),
    };
    const ec = mod.C_GenerateKeyPair(
      s0,
      { mechanism: C.CKM_EC_KEY_PAIR_GEN },
      [sessionObj, { type: C.CKA_EC_PARAMS, value: P256 }, { type: C.CKA_VERIFY, value: true }],
      [sessionObj, { type: C.CKA_PRIVATE, value: true }, { type: C.CKA_SENSITIVE, value: true }, { type: C.CKA_SIGN, value: true }],
    );
    ctx.rawKeys.ecPublic = ec.publicKey;
    ctx.rawKeys.ecPrivate = ec.privateKey;
    ctx.loginLockRaw = mutex();
    ctx.rawTable = rawOps(ctx);

    // Typed lanes: a Module over the same file (one handle, one C_Initialize, shared).
    typedMod = await Module.open(f.modulePath);
    ctx.slotTyped = await typedMod.findSlot(TOKENS.typed.label);
    ctx.slotLoginTyped = await typedMod.findSlot(TOKENS.loginTyped.label);
    ctx.typedSessions = [];
    for (let i = 0; i < opts.lanes; i++) {
      const s = await ctx.slotTyped.openSession({ write: true });
      noteHandle(s.handle);
      ctx.typedSessions.push(s);
    }
    const t0 = ctx.typedSessions[0];
    await t0.login(TOKENS.typed.userPin);
    ctx.typedKeys = new Map();
    for (const s of ctx.typedSessions) {
      ctx.typedKeys.set(s, {
        hmac: await s.generateKey({ name: 'generic', length: 32 }),
        aes: await s.generateKey({ name: 'AES', length: 256 }),
        ec: await s.generateKeyPair({ name: 'EC', curve: 'P-256' }),
        data: await s.createObject({ class: 'data', token: false, label: 'soak', value: Buffer.from('typed soak data') }),
      });
    }
    ctx.loginLockTyped = mutex();
    ctx.typedTable = typedOps(ctx);

    const countObjects = () => ({
      raw: objectCount(mod, s0),
      typed: objectCount(mod, t0.handle),
    });
    const afterSetup = sessionCounts(ctx);
    const objectsBefore = countObjects();
    const typedOpenBefore = ctx.slotTyped.openSessionCount;

    // Warm-up: the same mix, not counted; then settle and measure.
    process.stderr.write(`[soak] warm-up: ${opts.warmup} calls\n`);
    const warmSeconds = await phase(ctx, opts.warmup, null);
    const warmStats = { raw: stats.raw, typed: stats.typed };
    stats.raw = 0;
    stats.typed = 0;
    stats.sync = 0;
    stats.async = 0;
    stats.ops = {};
    await settle();
    const before = memory(ctx);
    const maxRssBefore = process.resourceUsage().maxRSS;
    process.stderr.write(`[soak] measured run: ${opts.calls} calls (rss ${before.rssMb} MB after warm-up and gc)\n`);

    const samples = [];
    const seconds = await phase(ctx, opts.calls, 'run', samples);
    await settle();
    const after = memory(ctx);
    // With the malloc helper: what RSS was free memory malloc kept (given back by malloc_trim).
    let trimmed = null;
    if (ctx.mallinfo) {
      const s0 = sampleMemory(ctx, -1);
      ctx.mallinfo.trim();
      const s1 = sampleMemory(ctx, -1);
      trimmed = { before: s0, after: s1, rssReleasedMb: Math.round((s0.rssMb - s1.rssMb) * 100) / 100 };
    }

    // Token side: every lane session still takes a new find (nothing left mid-find), sessions and
    // objects are back where they were.
    const findInit = {};
    for (const s of ctx.rawSessions) findInit[`raw:${s}`] = await findInitWorks(mod, s);
    for (const s of ctx.typedSessions) findInit[`typed:${s.handle}`] = await s.run('soak-check', (raw, h) => findInitWorks(raw, h));
    const beforeTeardown = sessionCounts(ctx);
    const objectsAfter = countObjects();
    const typedOpenAfter = ctx.slotTyped.openSessionCount;

    // Teardown: the lanes' sessions and the typed Module close; counts go back to the start.
    for (const s of ctx.typedSessions) await s.close();
    for (const s of ctx.rawSessions) mod.C_CloseSession(s);
    const afterTeardown = sessionCounts(ctx);

    const growth = Math.round((after.rssMb - before.rssMb) * 100) / 100;
    const sameCounts = (a, b) => Object.keys(a).every((k) => a[k].probe === b[k].probe && a[k].tokenInfo.sessionCount === b[k].tokenInfo.sessionCount && a[k].tokenInfo.rwSessionCount === b[k].tokenInfo.rwSessionCount);
    const checks = {
      sessionsSteady: sameCounts(afterSetup, beforeTeardown),
      sessionsBackToStart: sameCounts(atStart, afterTeardown),
      objectsSteady: objectsBefore.raw === objectsAfter.raw && objectsBefore.typed === objectsAfter.typed,
      typedOpenSessionCountSteady: typedOpenBefore === typedOpenAfter,
      findsFinalized: Object.values(findInit).every((v) => v === true),
      noUnexpectedErrors: stats.unexpectedCount === 0,
      rssGrowthUnderLimit: growth < opts.maxRssGrowthMb,
    };
    Object.assign(summary, {
      ok: Object.values(checks).every(Boolean),
      checks,
      counted: { total: stats.raw + stats.typed, raw: stats.raw, typed: stats.typed, rawSync: stats.sync, rawAsync: stats.async },
      warmupCounted: warmStats,
      expectedErrors: stats.expectedErrors,
      unexpectedErrors: stats.unexpectedCount,
      unexpectedSamples: stats.unexpected,
      seconds: Math.round(seconds * 100) / 100,
      warmupSeconds: Math.round(warmSeconds * 100) / 100,
      callsPerSecond: Math.round((stats.raw + stats.typed) / seconds),
      memory: {
        before,
        after,
        rssGrowthMb: growth,
        // RSS outside V8's heap (native memory: the addon, the module, libuv, OpenSSL).
        nonV8GrowthMb: Math.round((after.rssMb - after.heapTotalMb - (before.rssMb - before.heapTotalMb)) * 100) / 100,
        v8HeapTotalGrowthMb: Math.round((after.heapTotalMb - before.heapTotalMb) * 100) / 100,
        mallocInUseGrowthMb: ctx.mallinfo ? Math.round((after.mallocInUseMb - before.mallocInUseMb) * 1000) / 1000 : null,
        maxRssGrowthMb: opts.maxRssGrowthMb,
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
        peakRssBeforeRunMb: Math.round(maxRssBefore / 1024),
        // Sampled during the counted calls (no forced GC there: heapUsed saws, RSS does not);
        // fit: MB per 1M calls by least squares, r² of the line, and over the second half alone.
        fit: fitSamples(samples),
        samples,
        trimmed,
      },
      sessions: { atStart, afterSetup, beforeTeardown, afterTeardown, typedOpenSessionCount: { before: typedOpenBefore, after: typedOpenAfter }, highestHandle: ctx.maxHandle },
      objects: {
        before: objectsBefore,
        after: objectsAfter,
        // Created and destroyed during the counted calls. SoftHSM 2.6.1 keeps about 234 bytes for
        // every session object ever created until C_Finalize (docs/reliability.md): part of the
        // RSS growth is this, not p11bridge.
        createdAndDestroyed: (stats.ops['raw.createDestroy'] || 0) + (stats.ops['typed.createDestroy'] || 0),
      },
      findInit,
      ops: stats.ops,
    });
  } finally {
    if (typedMod) await typedMod.close().catch(() => {});
    if (mod) {
      try {
        mod.C_Finalize();
      } catch {
        /* already finalized */
      }
      mod.close();
    }
    if (!opts.keep) f.cleanup();
    else summary.tokenDir = f.dir;
    summary.totalSeconds = Math.round((Date.now() - started) / 10) / 100;
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exitCode = summary.ok ? 0 : 1;
}

// Measuring needs forced GCs (--expose-gc) and a young generation of fixed size: V8 otherwise
// grows it from 1 to 16 MB semi-spaces under this allocation rate, at a moment of its choosing,
// and a full GC sometimes shrinks it back, which moves RSS by 15-25 MB with no leak anywhere.
// 16 MB is the size V8 grows to anyway. --v8-default-heap leaves V8's sizing alone.
const V8_FLAGS = opts.v8DefaultHeap ? ['--expose-gc'] : ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16'];
const missingFlags = V8_FLAGS.filter((f) => !process.execArgv.includes(f));
if (missingFlags.length) {
  // Run again with them (and leave by returning, so tools that check the process at exit, such
  // as LeakSanitizer, see a normal end).
  const r = spawnSync(process.execPath, [...process.execArgv, ...missingFlags, __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exitCode = r.status === null ? 1 : r.status;
} else {
  main().catch((e) => {
    process.stderr.write(`[soak] failed: ${e && e.stack}\n`);
    process.exitCode = 1;
  });
}
