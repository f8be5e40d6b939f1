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
const crypto = require('node:crypto');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const { createSoftHSM } = require('./softhsm.js');
const { smapsRollup, fitSamples } = require('./soak-memory.js');

// Families of operations (--mix): the operations each runs, with their weight when it differs from
// the whole mix's. Login churn is a thousandth of the default mix; in `sessions` it is a fifth.
const MIXES = {
  all: null,
  cheap: { 'raw.sessionInfo': null, 'raw.tokenInfo': 10, 'typed.info': null },
  crypto: {
    'raw.digest': null,
    'raw.digestMultipart': null,
    'raw.hmac': null,
    'raw.ecdsa': null,
    'raw.aes': null,
    'typed.digest': null,
    'typed.hmac': null,
    'typed.ecdsa': null,
    'typed.aes': null,
    'typed.multipart': null,
  },
  objects: { 'raw.createDestroy': null, 'typed.createDestroy': null },
  sessions: { 'raw.sessionChurn': null, 'raw.loginChurn': 1, 'typed.sessionChurn': null, 'typed.loginChurn': 1 },
};

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
// Filled in by main(): the p11bridge entry point of --dist (dist/ of this checkout by default).
let p11;
let C; // the constants (CKA_*, CKM_* …) are exported by the entry point too

const TOKENS = {
  raw: { label: 'soak-raw', soPin: '12345678', userPin: '1234' },
  typed: { label: 'soak-typed', soPin: '12345678', userPin: '2345' },
  loginRaw: { label: 'soak-login-raw', soPin: '12345678', userPin: '3456' },
  loginTyped: { label: 'soak-login-typed', soPin: '12345678', userPin: '4567' },
};
const WRONG_PIN = '99999999';
const P256 = Buffer.from('06082a8648ce3d030107', 'hex');
const RW = 0x6; // CKF_SERIAL_SESSION | CKF_RW_SESSION
const BAD_HANDLE = 0x7ffffff0;

// ---- counting, randomness, expected errors -------------------------------------------------------

const stats = { raw: 0, typed: 0, sync: 0, async: 0, ops: {}, expectedErrors: 0, unexpected: [], unexpectedCount: 0 };
let budget = 0; // calls left in the current phase
let maxHandle = 0; // highest session handle the module gave out

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(opts.seed);

function noteHandle(h) {
  if (Number(h) > maxHandle) maxHandle = Number(h);
  return h;
}

/** A raw caller for one operation: sync C_X or async C_XAsync, picked once per operation. */
function rawCaller(mod) {
  const sync = rand() < 0.5;
  const call = (fn, ...args) => {
    stats.raw++;
    budget--;
    if (sync) {
      stats.sync++;
      return mod[fn](...args);
    }
    stats.async++;
    return mod[fn + 'Async'](...args);
  };
  call.sync = sync;
  return call;
}

/** Counts one typed call. */
function typed(p) {
  stats.typed++;
  budget--;
  return p;
}

/** Runs fn (sync throw or rejection) and requires an error with this rvName / class / predicate. */
async function expectError(what, fn, match) {
  try {
    await fn();
  } catch (e) {
    const ok = typeof match === 'string' ? e && e.rvName === match : typeof match === 'function' && match.prototype ? e instanceof match : match(e);
    if (ok) {
      stats.expectedErrors++;
      return;
    }
    throw new Error(`${what}: expected ${typeof match === 'string' ? match : match.name || 'a matching error'}, got ${e && (e.rvName || e.name)}: ${e && e.message}`);
  }
  throw new Error(`${what}: expected an error, got none`);
}

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

/** A promise-chain mutex: login churn on one token must not interleave (login state is per token). */
function mutex() {
  let tail = Promise.resolve();
  return (fn) => {
    const run = tail.then(fn);
    tail = run.catch(() => {});
    return run;
  };
}

function pick(table) {
  let r = rand() * table.total;
  for (const [name, w, fn] of table.entries) {
    r -= w;
    if (r <= 0) return [name, fn];
  }
  const last = table.entries[table.entries.length - 1];
  return [last[0], last[2]];
}

function weighted(entries, kind) {
  const mix = MIXES[opts.mix];
  if (!opts.kinds.includes(kind)) entries = [];
  if (mix) entries = entries.filter((e) => Object.hasOwn(mix, `${kind}.${e[0]}`)).map(([n, w, fn]) => [n, mix[`${kind}.${n}`] ?? w, fn]);
  if (opts.only) entries = entries.filter((e) => opts.only.includes(`${kind}.${e[0]}`));
  if (opts.without) entries = entries.filter((e) => !opts.without.includes(`${kind}.${e[0]}`));
  return { entries, total: entries.reduce((s, e) => s + e[1], 0) };
}

// ---- raw operations ------------------------------------------------------------------------------

function rawOps(ctx) {
  const { mod } = ctx;
  const data = crypto.randomBytes(64);
  const digest32 = crypto.createHash('sha256').update(data).digest();
  return weighted([
    ['random', 10, async (s) => {
      const c = rawCaller(mod);
      const r = await c('C_GenerateRandom', s, 32);
      check(r.length === 32, 'random length');
    }],
    ['sessionInfo', 10, async (s) => {
      const c = rawCaller(mod);
      const i = await c('C_GetSessionInfo', s);
      check(Number(i.slotID) === Number(ctx.slotRaw), 'session slot');
    }],
    ['digest', 8, async (s) => {
      const c = rawCaller(mod);
      await c('C_DigestInit', s, { mechanism: C.CKM_SHA256 });
      const d = await c('C_Digest', s, data);
      check(d.equals(digest32), 'digest value');
    }],
    ['digestMultipart', 3, async (s) => {
      const c = rawCaller(mod);
      await c('C_DigestInit', s, { mechanism: C.CKM_SHA256 });
      await c('C_DigestUpdate', s, data.subarray(0, 20));
      await c('C_DigestUpdate', s, data.subarray(20));
      const d = await c('C_DigestFinal', s);
      check(d.equals(digest32), 'multipart digest value');
    }],
    ['hmac', 8, async (s) => {
      const c = rawCaller(mod);
      await c('C_SignInit', s, { mechanism: C.CKM_SHA256_HMAC }, ctx.rawKeys.hmac);
      const mac = await c('C_Sign', s, data);
      await c('C_VerifyInit', s, { mechanism: C.CKM_SHA256_HMAC }, ctx.rawKeys.hmac);
      check((await c('C_Verify', s, data, mac)) === true, 'hmac verifies');
    }],
    ['ecdsa', 2, async (s) => {
      const c = rawCaller(mod);
      await c('C_SignInit', s, { mechanism: C.CKM_ECDSA }, ctx.rawKeys.ecPrivate);
      const sig = await c('C_Sign', s, digest32);
      await c('C_VerifyInit', s, { mechanism: C.CKM_ECDSA }, ctx.rawKeys.ecPublic);
      check((await c('C_Verify', s, digest32, sig)) === true, 'ecdsa verifies');
      // A bad signature: false, not an exception.
      sig[0] ^= 1;
      await c('C_VerifyInit', s, { mechanism: C.CKM_ECDSA }, ctx.rawKeys.ecPublic);
      check((await c('C_Verify', s, digest32, sig)) === false, 'bad ecdsa signature is false');
    }],
    ['aes', 8, async (s) => {
      const c = rawCaller(mod);
      const iv = crypto.randomBytes(16);
      const m = { mechanism: C.CKM_AES_CBC_PAD, parameter: iv };
      await c('C_EncryptInit', s, m, ctx.rawKeys.aes);
      const ct = await c('C_Encrypt', s, data);
      await c('C_DecryptInit', s, m, ctx.rawKeys.aes);
      const pt = await c('C_Decrypt', s, ct);
      check(pt.equals(data), 'aes round trip');
    }],
    ['find', 6, async (s) => {
      const c = rawCaller(mod);
      await c('C_FindObjectsInit', s, [{ type: C.CKA_CLASS, value: C.CKO_SECRET_KEY }]);
      const found = await c('C_FindObjects', s, 100);
      await c('C_FindObjectsFinal', s);
      check(found.length >= 2, 'find secret keys');
    }],
    ['findPartial', 3, async (s) => {
      // Reads one handle of many, then finalizes.
      const c = rawCaller(mod);
      await c('C_FindObjectsInit', s, []);
      const found = await c('C_FindObjects', s, 1);
      check(found.length === 1, 'partial find');
      await c('C_FindObjectsFinal', s);
    }],
    ['getAttributes', 8, async (s) => {
      const c = rawCaller(mod);
      const r = await c('C_GetAttributeValue', s, ctx.rawKeys.data, [C.CKA_LABEL, C.CKA_VALUE, C.CKA_CLASS]);
      check(r.length === 3 && r.every((a) => a.status === 'ok'), 'data attributes');
      const k = await c('C_GetAttributeValue', s, ctx.rawKeys.aes, [C.CKA_VALUE, C.CKA_VALUE_LEN]);
      check(k[0].status === 'sensitive' && k[1].status === 'ok', 'sensitive key value');
    }],
    ['setAttributes', 4, async (s) => {
      const c = rawCaller(mod);
      await c('C_SetAttributeValue', s, ctx.rawKeys.data, [{ type: C.CKA_LABEL, value: 'soak-' + (stats.raw % 1000) }]);
    }],
    ['createDestroy', 3, async (s) => {
      const c = rawCaller(mod);
      const h = await c('C_CreateObject', s, [
        { type: C.CKA_CLASS, value: C.CKO_DATA },
        { type: C.CKA_TOKEN, value: false },
        { type: C.CKA_LABEL, value: 'soak-tmp' },
        { type: C.CKA_VALUE, value: data },
      ]);
      await c('C_DestroyObject', s, h);
    }],
    ['sessionChurn', 4, async () => {
      const c = rawCaller(mod);
      const h = noteHandle(await c('C_OpenSession', ctx.slotRaw, RW));
      try {
        const i = await c('C_GetSessionInfo', h);
        check(Number(i.slotID) === Number(ctx.slotRaw), 'churn session slot');
        // The lanes' login is token-wide: a new session is a user session at once.
        check(Number(i.state) === Number(C.CKS_RW_USER_FUNCTIONS), 'churn session logged in');
      } finally {
        await c('C_CloseSession', h);
      }
    }],
    ['tokenInfo', 1, async () => {
      const c = rawCaller(mod);
      const t = await c('C_GetTokenInfo', ctx.slotRaw);
      check(t.label === TOKENS.raw.label, 'token label');
    }],
    ['errors', 4, async (s) => {
      const c = rawCaller(mod);
      await expectError('bad session handle', () => c('C_GetSessionInfo', BAD_HANDLE), 'CKR_SESSION_HANDLE_INVALID');
      await expectError('bad object handle', () => c('C_GetAttributeValue', s, BAD_HANDLE, [C.CKA_LABEL]), 'CKR_OBJECT_HANDLE_INVALID');
      await expectError('sign without init', () => c('C_Sign', s, data), 'CKR_OPERATION_NOT_INITIALIZED');
      await expectError('bad mechanism', () => c('C_DigestInit', s, { mechanism: 0x7ffffff0 }), 'CKR_MECHANISM_INVALID');
      await expectError('bad argument', () => c('C_GenerateRandom', s, 'ten'), (e) => e instanceof TypeError || e instanceof RangeError);
      // A find left open, then a second init on the same session, then its final.
      await c('C_FindObjectsInit', s, []);
      await expectError('find init twice', () => c('C_FindObjectsInit', s, []), 'CKR_OPERATION_ACTIVE');
      await c('C_FindObjectsFinal', s);
    }],
    ['loginChurn', 0.05, () =>
      ctx.loginLockRaw(async () => {
        const c = rawCaller(mod);
        const h = noteHandle(await c('C_OpenSession', ctx.slotLoginRaw, RW));
        try {
          await expectError('wrong PIN', () => c('C_Login', h, C.CKU_USER, WRONG_PIN), 'CKR_PIN_INCORRECT');
          await c('C_Login', h, C.CKU_USER, TOKENS.loginRaw.userPin);
          const i = await c('C_GetSessionInfo', h);
          check(Number(i.state) === Number(C.CKS_RW_USER_FUNCTIONS), 'logged in');
          await c('C_Logout', h);
        } finally {
          await c('C_CloseSession', h);
        }
      })],
  ], 'raw');
}

// ---- typed operations ----------------------------------------------------------------------------

function typedOps(ctx) {
  const data = crypto.randomBytes(64);
  const digest32 = crypto.createHash('sha256').update(data).digest();
  const { Pkcs11Error } = p11;
  // Each lane's keys belong to its own session: a typed key runs its calls on the session that
  // made it, and a find iterator left open between batches holds the session's one active
  // operation on SoftHSM, so another lane's sign on that session would get CKR_OPERATION_ACTIVE.
  const keys = (s) => ctx.typedKeys.get(s);
  return weighted([
    ['random', 10, async (s) => check((await typed(s.random(32))).length === 32, 'typed random')],
    ['info', 8, async (s) => check((await typed(s.info())).state === 'rwUser', 'typed session state')],
    ['digest', 8, async (s) => check((await typed(s.digest({ name: 'SHA-256' }, data))).equals(digest32), 'typed digest')],
    ['hmac', 6, async (s) => {
      const k = keys(s).hmac;
      const mac = await typed(k.sign({ name: 'HMAC', hash: 'SHA-256' }, data));
      check((await typed(k.verify({ name: 'HMAC', hash: 'SHA-256' }, data, mac))) === true, 'typed hmac');
    }],
    ['ecdsa', 2, async (s) => {
      const { ec } = keys(s);
      const sig = await typed(ec.privateKey.sign({ name: 'ECDSA', hash: 'SHA-256' }, data));
      check((await typed(ec.publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, data, sig))) === true, 'typed ecdsa');
      sig[1] ^= 1;
      check((await typed(ec.publicKey.verify({ name: 'ECDSA', hash: 'SHA-256' }, data, sig))) === false, 'typed bad ecdsa');
    }],
    ['aes', 6, async (s) => {
      const { aes } = keys(s);
      const iv = crypto.randomBytes(12);
      const ct = await typed(aes.encrypt({ name: 'AES-GCM', iv, additionalData: digest32 }, data));
      const pt = await typed(aes.decrypt({ name: 'AES-GCM', iv, additionalData: digest32 }, ct));
      check(pt.equals(data), 'typed aes-gcm round trip');
      // A wrong tag: the module's error, typed.
      ct[ct.length - 1] ^= 1;
      await expectError('typed bad tag', () => typed(aes.decrypt({ name: 'AES-GCM', iv, additionalData: digest32 }, ct)), (e) => e instanceof Pkcs11Error);
    }],
    ['findAll', 3, async (s) => check((await typed(s.findAll({ class: 'secretKey' }))).length >= 2, 'typed findAll')],
    ['findBreak', 4, async (s) => {
      // Leaves the loop after the first object: the generator's return() must run C_FindObjectsFinal.
      stats.typed++;
      budget--;
      let n = 0;
      for await (const o of s.find({}, { batchSize: 2 })) {
        check(o.handle !== undefined, 'found object');
        n++;
        break;
      }
      check(n === 1, 'findBreak got one');
    }],
    ['findThrow', 1, async (s) => {
      // Leaves the loop by throwing: C_FindObjectsFinal must run too.
      stats.typed++;
      budget--;
      const marker = new Error('leave');
      try {
        for await (const o of s.find({ class: 'data' })) {
          void o;
          throw marker;
        }
      } catch (e) {
        if (e !== marker) throw e;
        stats.expectedErrors++;
      }
    }],
    ['getAttributes', 8, async (s) => {
      const a = await typed(keys(s).data.getAttributes(['label', 'value', 'class']));
      check(Buffer.isBuffer(a.value) && a.class === 'data', 'typed data attributes');
      const k = await typed(keys(s).aes.getAttributes(['value', 'valueLen']));
      check(k.unreadable && k.unreadable.value === 'sensitive', 'typed sensitive value');
    }],
    ['setAttributes', 3, async (s) => {
      await typed(keys(s).data.setAttributes({ label: 'typed-' + (stats.typed % 1000) }));
    }],
    ['createDestroy', 2, async (s) => {
      const o = await typed(s.createObject({ class: 'data', token: false, label: 'typed-tmp', value: data }));
      await typed(o.destroy());
    }],
    ['multipart', 3, async (s) => {
      const op = await typed(s.signInit({ name: 'HMAC', hash: 'SHA-256' }, keys(s).hmac));
      await typed(op.update(data.subarray(0, 10)));
      await typed(op.update(data.subarray(10)));
      const mac = await typed(op.final());
      check(mac.length === 32, 'typed multipart mac');
    }],
    ['multipartAbort', 1, async (s) => {
      const op = await typed(s.digestInit({ name: 'SHA-256' }));
      await typed(op.update(data));
      await typed(op.abort());
    }],
    ['objectWrap', 2, async (s) => {
      const o = await typed(s.object(keys(s).data.handle));
      check(o.constructor.name === 'Data', 'wrapped data object');
    }],
    ['sessionChurn', 3, async () => {
      const s = await typed(ctx.slotTyped.openSession({ write: true }));
      noteHandle(s.handle);
      try {
        check((await typed(s.random(8))).length === 8, 'churn random');
      } finally {
        await typed(s.close());
      }
      await expectError('closed session', () => typed(s.random(8)), (e) => e instanceof p11.SessionNotOpenError);
    }],
    ['errors', 3, async (s) => {
      await expectError('typed bad object', () => typed(s.object(BAD_HANDLE)), (e) => e && e.rvName === 'CKR_OBJECT_HANDLE_INVALID');
      await expectError('typed bad length', () => typed(s.random(-1)), RangeError);
      await expectError('typed bad mechanism', () => typed(s.digest({ name: 'NO-SUCH' }, data)), (e) => e instanceof TypeError || e instanceof RangeError || e instanceof Pkcs11Error);
    }],
    ['loginChurn', 0.05, () =>
      ctx.loginLockTyped(async () => {
        const s = await typed(ctx.slotLoginTyped.openSession({ write: true }));
        noteHandle(s.handle);
        try {
          await expectError('typed wrong PIN', () => typed(s.login(WRONG_PIN)), p11.PinIncorrectError);
          await typed(s.login(TOKENS.loginTyped.userPin));
          check((await typed(s.info())).state === 'rwUser', 'typed logged in');
          await typed(s.logout());
        } finally {
          await typed(s.close());
        }
      })],
  ], 'typed');
}

// ---- checks --------------------------------------------------------------------------------------

/** Open sessions per slot, by asking the module about every handle it can have given out. */
function probeSessions(mod) {
  const bySlot = {};
  for (let h = 1; h <= maxHandle + 32; h++) {
    try {
      const i = mod.C_GetSessionInfo(h);
      bySlot[String(i.slotID)] = (bySlot[String(i.slotID)] || 0) + 1;
    } catch (e) {
      if (e.rvName !== 'CKR_SESSION_HANDLE_INVALID') throw e;
    }
  }
  return bySlot;
}

function sessionCounts(ctx) {
  const probe = probeSessions(ctx.mod);
  const out = {};
  for (const [key, slot] of Object.entries(ctx.slots)) {
    const t = ctx.mod.C_GetTokenInfo(slot);
    const known = (v) => (typeof v === 'bigint' || Number(v) > Number.MAX_SAFE_INTEGER ? null : Number(v));
    out[key] = { probe: probe[String(slot)] || 0, tokenInfo: { sessionCount: known(t.sessionCount), rwSessionCount: known(t.rwSessionCount) } };
  }
  return out;
}

function objectCount(mod, session) {
  mod.C_FindObjectsInit(session, []);
  let n = 0;
  for (;;) {
    const batch = mod.C_FindObjects(session, 256);
    n += batch.length;
    if (batch.length === 0) break;
  }
  mod.C_FindObjectsFinal(session);
  return n;
}

async function findInitWorks(raw, session) {
  try {
    await raw.C_FindObjectsInitAsync(session, []);
    await raw.C_FindObjectsFinalAsync(session);
    return true;
  } catch (e) {
    return `${e.rvName || e.message}`;
  }
}

let mallinfo = null; // bench/soak/mallinfo.c, with --malloc-stats

function memory() {
  const m = process.memoryUsage();
  const mb = (x) => Math.round((x / 1048576) * 100) / 100;
  const out = { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers) };
  // With --malloc-stats: malloc memory in use. Read after settle()'s GCs it has no garbage-bound
  // buffers in it (between GCs it saws by 1-2 MB), so it is the figure that shows a native leak.
  if (mallinfo) {
    const i = mallinfo.stats();
    out.mallocInUseMb = Math.round(((i.uordblks + i.hblkhd) / 1048576) * 1000) / 1000;
  }
  return out;
}

/** One memory sample during a phase: what RSS is made of, as far as the process can tell. */
function sampleMemory(ctx, calls) {
  const m = process.memoryUsage();
  const mb = (x) => Math.round((x / 1048576) * 1000) / 1000;
  const sm = smapsRollup();
  const s = {
    calls,
    rssMb: mb(m.rss),
    anonMb: sm ? sm.Anonymous : null,
    privateDirtyMb: sm ? sm.Private_Dirty : null,
    heapUsedMb: mb(m.heapUsed),
    heapTotalMb: mb(m.heapTotal),
    externalMb: mb(m.external),
    arrayBuffersMb: mb(m.arrayBuffers),
  };
  // Anonymous memory outside V8's heap: V8 grows and shrinks its old generation by tens of MB at
  // moments of its choosing (a leak-free run has seen heapTotal go 40 -> 23 MB), which swamps a
  // native slope in RSS; this figure does not move with it.
  s.anonNonV8Mb = sm ? Math.round((sm.Anonymous - s.heapTotalMb) * 1000) / 1000 : null;
  if (mallinfo) {
    const i = mallinfo.stats();
    Object.assign(s, { mallocInUseMb: mb(i.uordblks + i.hblkhd), mallocFreeMb: mb(i.fordblks), mallocHeldMb: mb(i.arena + i.hblkhd), arenas: i.arenas });
  }
  const t = ctx.mod.moduleInfo().threads;
  s.threadsAlive = t.alive;
  s.threadsStarted = t.started;
  return s;
}

async function settle() {
  for (let i = 0; i < 4; i++) {
    global.gc();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- the run -------------------------------------------------------------------------------------

async function phase(ctx, calls, label, samples) {
  budget = calls;
  const t0 = process.hrtime.bigint();
  const step = Math.max(1, Math.floor(calls / 10));
  let nextReport = calls - step;
  const sampleStep = samples ? Math.max(1, Math.floor(calls / opts.samples)) : 0;
  let nextSample = calls - sampleStep;
  if (samples) samples.push(sampleMemory(ctx, 0));
  const lane = async (kind, session, table) => {
    let n = 0;
    while (budget > 0) {
      const [name, fn] = pick(table);
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
      if (samples && budget <= nextSample && budget > 0) {
        samples.push(sampleMemory(ctx, calls - budget));
        nextSample -= sampleStep;
      }
      if (label && budget <= nextReport) {
        const m = memory();
        process.stderr.write(`[soak] ${label}: ${calls - Math.max(budget, 0)} / ${calls} calls, rss ${m.rssMb} MB, V8 heap ${m.heapTotalMb} MB (used ${m.heapUsedMb})\n`);
        nextReport -= step;
      }
    }
  };
  const lanes = [];
  if (ctx.rawTable.entries.length) for (const s of ctx.rawSessions) lanes.push(lane('raw', s, ctx.rawTable));
  if (ctx.typedTable.entries.length) for (const s of ctx.typedSessions) lanes.push(lane('typed', s, ctx.typedTable));
  if (!lanes.length) throw new Error('--only left no operation to run');
  await Promise.all(lanes);
  if (samples) samples.push(sampleMemory(ctx, calls - budget));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main() {
  p11 = require(path.join(opts.dist, 'index.js'));
  C = p11;
  const { Module, PKCS11 } = p11;
  const started = Date.now();
  // Before the token set exists, so a missing compiler leaves nothing behind.
  if (opts.mallocStats) mallinfo = require(path.join(root, 'bench', 'soak', 'mallinfo.js')).loadMallinfo();
  const f = createSoftHSM({ tokens: Object.values(TOKENS), setEnv: true });
  const ctx = {};
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
    const before = memory();
    const maxRssBefore = process.resourceUsage().maxRSS;
    process.stderr.write(`[soak] measured run: ${opts.calls} calls (rss ${before.rssMb} MB after warm-up and gc)\n`);

    const samples = [];
    const seconds = await phase(ctx, opts.calls, 'run', samples);
    await settle();
    const after = memory();
    // With the malloc helper: what RSS was free memory malloc kept (given back by malloc_trim).
    let trimmed = null;
    if (mallinfo) {
      const s0 = sampleMemory(ctx, -1);
      mallinfo.trim();
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
        mallocInUseGrowthMb: mallinfo ? Math.round((after.mallocInUseMb - before.mallocInUseMb) * 1000) / 1000 : null,
        maxRssGrowthMb: opts.maxRssGrowthMb,
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
        peakRssBeforeRunMb: Math.round(maxRssBefore / 1024),
        // Sampled during the counted calls (no forced GC there: heapUsed saws, RSS does not);
        // fit: MB per 1M calls by least squares, r² of the line, and over the second half alone.
        fit: fitSamples(samples),
        samples,
        trimmed,
      },
      sessions: { atStart, afterSetup, beforeTeardown, afterTeardown, typedOpenSessionCount: { before: typedOpenBefore, after: typedOpenAfter }, highestHandle: maxHandle },
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
