#!/usr/bin/env node
// Property-based fuzzing of the raw layer (dist/raw.js), run as a child process so a crash shows
// as a signal or exit code: every one of the 104 functions, sync and async, with the hostile
// argument recipes of ./arbitraries.js mixed into valid ones, against a throw-away SoftHSM token
// made here. Prints one JSON line:
//   { cases, sync, async, byOutcome, errorClasses, hangs, crashes: 0, violations, seed, ms, … }
// Exit 0: every failure was an allowed class and every promise settled; 1: violations or hangs;
// 2: the fuzzer itself failed (setup, repair).
//
//   node test/fuzz/raw-fuzz.js [--cases N] [--seed S] [--timeout MS] [--progress FILE]
//                              [--only I] [--recipe FILE] [--focus C_X,C_Y] [--shrink]
//                              [--exclude-known] [--verbose]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const A = require('./arbitraries.js');
const { createSoftHSM } = require('../../scripts/softhsm.js');

const { fc, raw, CKM, CKA } = A;

// ---- options -------------------------------------------------------------------------------

function parseArgs(argv) {
  const o = { cases: 2000, seed: 0x5eed, timeout: 10000, progress: null, only: null, recipe: null, focus: null, shrink: false, includeKnown: true, verbose: false, examples: 20 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--cases') o.cases = Number(next());
    else if (a === '--seed') o.seed = Number(next());
    else if (a === '--timeout') o.timeout = Number(next());
    else if (a === '--progress') o.progress = next();
    else if (a === '--only') o.only = Number(next());
    else if (a === '--examples') o.examples = Number(next());
    else if (a === '--recipe') o.recipe = next();
    else if (a === '--focus') o.focus = next().split(',');
    else if (a === '--shrink') o.shrink = true;
    else if (a === '--include-known') o.includeKnown = true;
    else if (a === '--exclude-known') o.includeKnown = false;
    else if (a === '--verbose') o.verbose = true;
    else throw new Error('unknown option ' + a);
  }
  if (!Number.isSafeInteger(o.cases) || o.cases < 1) throw new Error('--cases must be a positive integer');
  if (!Number.isSafeInteger(o.seed)) throw new Error('--seed must be an integer');
  o.seed = o.seed | 0; // fast-check seeds are 32-bit
  return o;
}
const opt = parseArgs(process.argv.slice(2));
const log = (...m) => opt.verbose && process.stderr.write(m.join(' ') + '\n');

// ---- progress (read by scripts/fuzz.js after a crash) ----------------------------------------

let progressFd = null;
if (opt.progress) progressFd = fs.openSync(opt.progress, 'w');
function progress(phase, index, recipe) {
  if (progressFd === null) return;
  const line = JSON.stringify({ phase, index, seed: opt.seed, recipe: A.encode(recipe) });
  fs.ftruncateSync(progressFd, 0);
  fs.writeSync(progressFd, line, 0);
}

// ---- the module and its state ----------------------------------------------------------------

const PIN_A = 'fuzz-user-a';
const PIN_B = 'fuzz-user-b';
const fixture = createSoftHSM({
  tokens: [
    // The SO PINs appear in no recipe, so C_InitToken/C_InitPIN cannot change these tokens.
    { label: 'fuzz-a', soPin: 'fuzz-so-a-7391', userPin: PIN_A },
    { label: 'fuzz-b', soPin: 'fuzz-so-b-1937', userPin: PIN_B },
  ],
  setEnv: true,
});
const fakeSo = path.join(fixture.dir, 'fake.so');
fs.writeFileSync(fakeSo, 'not an ELF file\n');
const linkSo = path.join(fixture.dir, 'link-softhsm2.so');
fs.symlinkSync(fixture.modulePath, linkSo);
const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6', '/lib64/libc.so.6'].find((p) => fs.existsSync(p)) || '/nonexistent/libc.so.6';
const PATHS = [fixture.modulePath, linkSo, fixture.modulePath, libc, '/nonexistent/libnope.so', os.tmpdir(), '/dev/null', fakeSo, 'libsofthsm2.so', 'x'.repeat(5000), 'a\u0000b', '', '/tmp/ü漢字/нет.so'];

const mod = new raw.PKCS11();
mod.load(fixture.modulePath);
mod.C_Initialize();

const RW = raw.CKF_SERIAL_SESSION | raw.CKF_RW_SESSION;
const SESSIONS = {
  // name: [token, flags]; the anchors keep the login; the rest are what cases get.
  anchorA: ['A', RW],
  rwA1: ['A', RW],
  rwA2: ['A', RW],
  roA: ['A', raw.CKF_SERIAL_SESSION],
  anchorB: ['B', RW],
  rwB: ['B', RW],
  roB: ['B', raw.CKF_SERIAL_SESSION],
};
const st = {
  slot: {},
  freeSlot: 0,
  otherSlots: [],
  s: {},
  obj: {},
  created: [],
  extraSessions: [],
  stale: [],
  dirty: new Set(),
  wrapped: Buffer.alloc(40),
  ecPoint: Buffer.alloc(65, 4),
  flow: 0,
  repairs: 0,
  touched: true,
};

function refreshSlots() {
  const all = mod.C_GetSlotList(false);
  st.otherSlots = [];
  for (const s of all) {
    const info = mod.C_GetTokenInfo(s);
    if (info.label === 'fuzz-a') st.slot.A = s;
    else if (info.label === 'fuzz-b') st.slot.B = s;
    else if (!(Number(info.flags) & raw.CKF_TOKEN_INITIALIZED)) st.freeSlot = s;
    else st.otherSlots.push(s);
  }
  st.otherSlots = st.otherSlots.slice(-8);
}

const T = (o) => Object.entries(o).map(([k, v]) => ({ type: raw[k], value: v }));
const P256 = Buffer.from('06082a8648ce3d030107', 'hex');
const ED25519 = Buffer.from('06032b6570', 'hex');
const COMMON = { CKA_TOKEN: true, CKA_EXTRACTABLE: true };
// Nested templates on the AES key, so C_GetAttributeValue reads them back (two-pass nested reads).
const NESTED = [
  { type: CKA.CKA_WRAP_TEMPLATE, value: T({ CKA_CLASS: raw.CKO_SECRET_KEY, CKA_EXTRACTABLE: true }) },
  { type: CKA.CKA_UNWRAP_TEMPLATE, value: T({ CKA_CLASS: raw.CKO_SECRET_KEY }) },
];
const MAKERS = {
  aes: (s) => mod.C_GenerateKey(s, { mechanism: CKM.CKM_AES_KEY_GEN }, T({ ...COMMON, CKA_VALUE_LEN: 32, CKA_PRIVATE: true, CKA_SENSITIVE: false, CKA_ENCRYPT: true, CKA_DECRYPT: true, CKA_WRAP: true, CKA_UNWRAP: true, CKA_DERIVE: true, CKA_SIGN: true, CKA_VERIFY: true, CKA_LABEL: 'fz-aes' }).concat(NESTED)),
  hmac: (s) => mod.C_CreateObject(s, T({ ...COMMON, CKA_CLASS: raw.CKO_SECRET_KEY, CKA_KEY_TYPE: raw.CKK_GENERIC_SECRET, CKA_VALUE: Buffer.alloc(32, 0x5a), CKA_PRIVATE: false, CKA_SIGN: true, CKA_VERIFY: true, CKA_DERIVE: true, CKA_LABEL: 'fz-hmac' })),
  des3: (s) => mod.C_GenerateKey(s, { mechanism: CKM.CKM_DES3_KEY_GEN }, T({ ...COMMON, CKA_ENCRYPT: true, CKA_DECRYPT: true, CKA_DERIVE: true, CKA_LABEL: 'fz-des3' })),
  ec: (s) => mod.C_GenerateKeyPair(s, { mechanism: CKM.CKM_EC_KEY_PAIR_GEN }, T({ CKA_TOKEN: true, CKA_EC_PARAMS: P256, CKA_VERIFY: true, CKA_LABEL: 'fz-ec' }), T({ ...COMMON, CKA_PRIVATE: true, CKA_SIGN: true, CKA_DERIVE: true, CKA_LABEL: 'fz-ec' })),
  rsa: (s) => mod.C_GenerateKeyPair(s, { mechanism: CKM.CKM_RSA_PKCS_KEY_PAIR_GEN }, T({ CKA_TOKEN: true, CKA_MODULUS_BITS: 1024, CKA_PUBLIC_EXPONENT: Buffer.from([1, 0, 1]), CKA_ENCRYPT: true, CKA_VERIFY: true, CKA_WRAP: true, CKA_LABEL: 'fz-rsa' }), T({ ...COMMON, CKA_PRIVATE: true, CKA_DECRYPT: true, CKA_SIGN: true, CKA_UNWRAP: true, CKA_LABEL: 'fz-rsa' })),
  ed: (s) => mod.C_GenerateKeyPair(s, { mechanism: CKM.CKM_EC_EDWARDS_KEY_PAIR_GEN }, T({ CKA_TOKEN: true, CKA_EC_PARAMS: ED25519, CKA_VERIFY: true, CKA_LABEL: 'fz-ed' }), T({ ...COMMON, CKA_PRIVATE: true, CKA_SIGN: true, CKA_LABEL: 'fz-ed' })),
  data: (s) => mod.C_CreateObject(s, T({ CKA_CLASS: raw.CKO_DATA, CKA_TOKEN: true, CKA_PRIVATE: true, CKA_LABEL: 'fz-data', CKA_VALUE: Buffer.from('data A') })),
  dataB: (s) => mod.C_CreateObject(s, T({ CKA_CLASS: raw.CKO_DATA, CKA_TOKEN: true, CKA_PRIVATE: false, CKA_LABEL: 'fz-data-b', CKA_VALUE: Buffer.from('data B') })),
  aesB: (s) => mod.C_GenerateKey(s, { mechanism: CKM.CKM_AES_KEY_GEN }, T({ ...COMMON, CKA_VALUE_LEN: 16, CKA_PRIVATE: false, CKA_ENCRYPT: true, CKA_DECRYPT: true, CKA_LABEL: 'fz-aes-b' })),
};
// Pool name → [maker, field of a key pair, token, label, class]. Base objects are token objects:
// after C_Logout or C_Finalize their handles change, and repair() finds them again by label.
const OBJECTS = {
  aes: ['aes', null, 'A', 'fz-aes', raw.CKO_SECRET_KEY],
  hmac: ['hmac', null, 'A', 'fz-hmac', raw.CKO_SECRET_KEY],
  des3: ['des3', null, 'A', 'fz-des3', raw.CKO_SECRET_KEY],
  ecPriv: ['ec', 'privateKey', 'A', 'fz-ec', raw.CKO_PRIVATE_KEY],
  ecPub: ['ec', 'publicKey', 'A', 'fz-ec', raw.CKO_PUBLIC_KEY],
  rsaPriv: ['rsa', 'privateKey', 'A', 'fz-rsa', raw.CKO_PRIVATE_KEY],
  rsaPub: ['rsa', 'publicKey', 'A', 'fz-rsa', raw.CKO_PUBLIC_KEY],
  edPriv: ['ed', 'privateKey', 'A', 'fz-ed', raw.CKO_PRIVATE_KEY],
  edPub: ['ed', 'publicKey', 'A', 'fz-ed', raw.CKO_PUBLIC_KEY],
  data: ['data', null, 'A', 'fz-data', raw.CKO_DATA],
  dataB: ['dataB', null, 'B', 'fz-data-b', raw.CKO_DATA],
  aesB: ['aesB', null, 'B', 'fz-aes-b', raw.CKO_SECRET_KEY],
};
const isP11 = (e) => e instanceof raw.Pkcs11Error;

function pushStale(h) {
  st.stale.push(h);
  if (st.stale.length > 256) st.stale.splice(0, 64);
}

function sessionAlive(h) {
  try {
    mod.C_GetSessionInfo(h);
    return true;
  } catch (e) {
    if (!isP11(e)) throw e;
    return false;
  }
}

function objectAlive(session, h) {
  try {
    const [r] = mod.C_GetAttributeValue(session, h, [CKA.CKA_CLASS]);
    return r.status === 'ok';
  } catch (e) {
    if (!isP11(e)) throw e;
    return false;
  }
}

/** A base object by label, through a session of its own (a case may have left a find active). */
function findObject(tok, label, cls) {
  const session = mod.C_OpenSession(st.slot[tok], raw.CKF_SERIAL_SESSION);
  try {
    mod.C_FindObjectsInit(session, [{ type: CKA.CKA_LABEL, value: label }, { type: CKA.CKA_CLASS, value: cls }]);
    return mod.C_FindObjects(session, 1)[0];
  } finally {
    mod.C_CloseSession(session);
  }
}

/**
 * Puts the fixed state back after a case: the named sessions open (sessions whose operation may
 * still be active are replaced), the user logged in on token A, the base objects present, and
 * the pools of created objects and extra sessions bounded. Old handles become "stale" handles,
 * the valid-but-wrong values the cases use.
 */
function repair(full = false) {
  st.repairs++;
  for (const [name, [tok, flags]] of Object.entries(SESSIONS)) {
    const h = st.s[name];
    const alive = h !== undefined && sessionAlive(h);
    if (alive && !st.dirty.has(h) && !full) continue;
    if (alive) mod.C_CloseSession(h);
    if (h !== undefined) pushStale(h);
    st.s[name] = mod.C_OpenSession(st.slot[tok], flags);
  }
  st.dirty.clear();
  // Token B is kept logged out, so a case's C_Login there can succeed.
  if (Number(mod.C_GetSessionInfo(st.s.anchorB).state) === raw.CKS_RW_USER_FUNCTIONS) mod.C_Logout(st.s.anchorB);
  if (Number(mod.C_GetSessionInfo(st.s.anchorA).state) !== raw.CKS_RW_USER_FUNCTIONS) {
    try {
      mod.C_Login(st.s.anchorA, raw.CKU_USER, PIN_A);
    } catch (e) {
      if (!isP11(e) || e.rvName !== 'CKR_USER_ALREADY_LOGGED_IN') throw e;
    }
  }
  const made = {};
  // Object handles change only through the calls in TOUCHING (or getters' hooks); every 100
  // repairs they are checked anyway.
  const check = full || st.touched || st.repairs % 100 === 0;
  st.touched = false;
  for (const [name, [maker, field, tok, label, cls]] of Object.entries(OBJECTS)) {
    const anchor = tok === 'A' ? st.s.anchorA : st.s.anchorB;
    if (!check && st.obj[name] !== undefined) continue;
    if (!full && st.obj[name] !== undefined && objectAlive(anchor, st.obj[name])) continue;
    if (st.obj[name] !== undefined) pushStale(st.obj[name]);
    const found = full || made[maker] ? undefined : findObject(tok, label, cls);
    if (found !== undefined) {
      st.obj[name] = found;
      continue;
    }
    if (!made[maker]) {
      try {
        made[maker] = MAKERS[maker](anchor);
      } catch (e) {
        if (maker !== 'ed') throw e;
        made.ed = made.ec || MAKERS.ec(anchor); // no EdDSA in this SoftHSM build
      }
    }
    st.obj[name] = field ? made[maker][field] : made[maker];
  }
  if (made.ec) st.ecPoint = mod.C_GetAttributeValue(st.s.anchorA, st.obj.ecPub, [CKA.CKA_EC_POINT])[0].value;
  if (made.aes || made.hmac) st.wrapped = mod.C_WrapKey(st.s.anchorA, { mechanism: CKM.CKM_AES_KEY_WRAP }, st.obj.aes, st.obj.hmac);
  if (st.created.length > 64) {
    for (const h of st.created.splice(0, 32)) {
      try {
        mod.C_DestroyObject(st.s.anchorA, h);
      } catch {
        /* a token-B object, non-destroyable, or gone */
      }
      pushStale(h);
    }
  }
  if (st.extraSessions.length > 24) {
    for (const h of st.extraSessions.splice(0, 12)) {
      try {
        mod.C_CloseSession(h);
      } catch {
        /* closed already */
      }
      pushStale(h);
    }
  }
}

/** Values for { pool, i } recipes; fresh copies of buffers. */
function pick(name, i) {
  const at = (arr, fallback) => (arr.length ? arr[i % arr.length] : fallback);
  switch (name) {
    case 'slotReal':
      return i % 2 ? st.slot.B : st.slot.A;
    case 'slot':
      return at([st.slot.A, st.slot.B, st.freeSlot, 987654321, ...st.otherSlots], st.slot.A);
    case 'session':
      return at([st.s.rwA1, st.s.rwA2, st.s.roA, st.s.rwB, st.s.roB, st.s.rwA1, ...st.extraSessions], st.s.rwA1);
    case 'sessionB':
      return i % 2 ? st.s.roB : st.s.rwB;
    case 'sessionA':
      return at([st.s.rwA1, st.s.rwA2, st.s.roA, st.s.anchorA], st.s.rwA1);
    case 'flow':
      return st.flow || st.s.rwA1;
    case 'stale':
      return at(st.stale, 0);
    case 'object':
      return at([...Object.values(st.obj), ...st.created], st.obj.aes);
    case 'created':
      return at(st.created, st.obj.aes);
    case 'pin':
      return [PIN_A, PIN_B, Buffer.from(PIN_A), Buffer.from(PIN_B)][i % 4];
    case 'wrapped':
      return Buffer.from(st.wrapped);
    case 'ecPoint':
      return Buffer.from(st.ecPoint);
    case 'path':
      return PATHS[i % PATHS.length];
    default:
      if (name in st.obj) return st.obj[name];
      throw new Error('unknown pool ' + name);
  }
}


// ---- outcomes --------------------------------------------------------------------------------

const stats = { cases: 0, sync: 0, async: 0, byOutcome: {}, errorClasses: {}, engineErrors: {}, firstSeen: {}, byFunction: {}, knownIssues: {}, shrunk: [], hangs: 0, violations: 0, examples: [], called: {}, reachedModule: 0, phases: {} };
let current = { phase: 'setup', index: -1, recipe: null };
let caseViolations = 0;
const bump = (o, k) => (o[k] = (o[k] || 0) + 1);

function violation(kind, detail) {
  stats.violations++;
  caseViolations++;
  if (stats.examples.length < opt.examples) {
    stats.examples.push({ kind, ...detail, phase: current.phase, index: current.index, recipe: A.describe(current.recipe).slice(0, 4000) });
  }
  log('VIOLATION', kind, JSON.stringify(detail));
}

function describeError(e) {
  if (!(e instanceof Error)) return { thrown: typeof e === 'symbol' ? e.toString() : String(e) };
  return { name: e.name, class: e.constructor && e.constructor.name, code: e.code, rvName: e.rvName, function: e.function, message: String(e.message).slice(0, 300) };
}

/**
 * Classifies one result. `fn` is the function called ('load', 'has' … for the methods), `how`
 * 'sync' or 'async', `stateOk` whether ERR_P11_STATE is expected here (final phase, a fresh
 * object), `loading` whether ModuleLoadError is.
 */
function note(fn, how, res, { stateOk = false, loading = false } = {}) {
  bump(stats, how);
  bump(stats.called, fn + ':' + how);
  const f = stats.byFunction[fn] || (stats.byFunction[fn] = { ok: 0, pkcs11: 0, argument: 0, thrown: 0, state: 0, load: 0, other: 0 });
  const e = res.err;
  if (res.hang) f.other++;
  else if (!('err' in res)) f.ok++;
  else if (e instanceof raw.Pkcs11Error) f.pkcs11++;
  else if (A.isSentinel(e)) f.thrown++;
  else if (e instanceof TypeError || e instanceof RangeError) f.argument++;
  else if (e && e.code === 'ERR_P11_STATE') f.state++;
  else if (e instanceof raw.ModuleLoadError) f.load++;
  else f.other++;
  if (res.hang) {
    stats.hangs++;
    bump(stats.byOutcome, 'hang');
    violation('hang', { fn, how });
    return;
  }
  if (!('err' in res)) {
    stats.reachedModule++;
    bump(stats.byOutcome, 'ok');
    return;
  }
  let key;
  let cls;
  let ok = true;
  let reported = false;
  if (A.isSentinel(e)) {
    key = 'sentinel';
    cls = 'FuzzSentinel';
  } else if (e instanceof raw.Pkcs11Error) {
    key = 'Pkcs11Error:' + e.rvName;
    cls = e.constructor.name;
    stats.reachedModule++;
    if (e.function !== fn) {
      reported = true;
      violation('wrongFunction', { fn, how, error: describeError(e) });
    }
  } else if (e instanceof raw.ModuleLoadError) {
    key = 'ModuleLoadError:' + e.code;
    cls = 'ModuleLoadError';
    ok = loading;
  } else if (e instanceof TypeError || e instanceof RangeError) {
    const want = e instanceof TypeError ? 'ERR_INVALID_ARG_TYPE' : 'ERR_OUT_OF_RANGE';
    cls = e.constructor.name;
    if (e.code === want) {
      key = cls + ':' + e.code;
      if (!String(e.message).startsWith(fn + ': ')) {
        reported = true;
        violation('messageWithoutFunction', { fn, how, error: describeError(e) });
      }
    } else {
      // A TypeError V8 itself raised while native code read the value (a revoked Proxy).
      key = cls + ':engine';
      bump(stats.engineErrors, String(e.message).slice(0, 80));
    }
  } else if (e instanceof Error && e.code === 'ERR_P11_STATE') {
    key = 'StateError:ERR_P11_STATE';
    cls = 'StateError';
    ok = stateOk;
  } else {
    key = 'disallowed';
    cls = e && e.constructor ? e.constructor.name : typeof e;
    ok = false;
  }
  bump(stats.byOutcome, key);
  bump(stats.errorClasses, cls);
  if (!stats.firstSeen[key] && Object.keys(stats.firstSeen).length < 200) stats.firstSeen[key] = `${fn} [${how}]: ${String(e && e.message).slice(0, 160)}`;
  if (!ok && !reported) violation('disallowedError', { fn, how, error: describeError(e) });
}

// Every promise a call returned, until it settles: revive() waits for them (a C_InitializeAsync
// still under way makes the next C_Initialize answer CKR_CRYPTOKI_ALREADY_INITIALIZED).
const inflight = new Set();
function withTimeout(p) {
  if (p instanceof Promise) {
    inflight.add(p);
    const done = () => inflight.delete(p);
    p.then(done, done);
  }
  let timer;
  const t = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ hang: true }), opt.timeout);
  });
  const settled = Promise.resolve(p).then(
    (v) => ({ ok: v }),
    (err) => ({ err }),
  );
  return Promise.race([settled, t]).finally(() => clearTimeout(timer));
}

// ---- one call --------------------------------------------------------------------------------

const SESSION_FIRST = new Set(A.FUNCTIONS.filter((f) => A.SIGNATURES[f].params[0] === 'session'));
const CREATES = new Set(['C_CreateObject', 'C_CopyObject', 'C_GenerateKey', 'C_UnwrapKey', 'C_DeriveKey', 'C_DecapsulateKey', 'C_UnwrapKeyAuthenticated']);

/** Values for one form of a call: fresh buffers, fresh getters, the module the hooks act on. */
function newCtx(target, phase) {
  return {
    buffers: [],
    phase,
    target,
    includeKnown: opt.includeKnown,
    noBufferEffects: false,
    promises: [],
    pick,
    hook: (effect, where) => hook(effect, where, target, phase),
  };
}

function buildArgs(c, ctx) {
  let args = c.args.map((r) => A.build(r, ctx));
  if (c.arity && c.arity.fewer) args = args.slice(0, Math.max(0, args.length - c.arity.fewer));
  if (c.arity && c.arity.extra) args.push(...c.arity.extra.map((r) => A.build(r, ctx)));
  return args;
}

const TOUCHING = new Set(['C_DestroyObject', 'C_Logout', 'C_CloseSession', 'C_CloseAllSessions', 'C_SetAttributeValue', 'C_InitToken', 'C_Login', 'C_Finalize', 'C_Initialize', 'C_SessionCancel']);

/** Side effects of a call that succeeded: handles to use later, sessions to replace. */
function afterSuccess(fn, args, result) {
  if (TOUCHING.has(fn)) st.touched = true;
  if (CREATES.has(fn) && result !== undefined) st.created.push(result);
  if (fn === 'C_GenerateKeyPair' && result) st.created.push(result.publicKey, result.privateKey);
  if (fn === 'C_EncapsulateKey' && result) st.created.push(result.key);
  if (fn === 'C_OpenSession') st.extraSessions.push(result);
  if (fn === 'C_InitToken') refreshSlots();
  if (SESSION_FIRST.has(fn) && /Init$|Begin$/.test(fn)) st.dirty.add(typeof args[0] === 'bigint' ? Number(args[0]) : args[0]);
}

/** A getter's side effect that needs the module (see arbitraries.js runEffect). */
const stateOk = (phase) => phase === 'final' || phase === 'load';

function hook(effect, where, target, phase) {
  const s = pick('session', where.length);
  st.touched = true;
  const guard = (fn, how, f) => {
    try {
      const r = f();
      note(fn, how, { ok: r }, { stateOk: stateOk(phase) });
      afterSuccess(fn, [], r);
    } catch (e) {
      note(fn, how, { err: e }, { stateOk: stateOk(phase) });
    }
    return undefined;
  };
  switch (effect) {
    case 'reenterSync':
      guard('C_GetSessionInfo', 'sync', () => target.C_GetSessionInfo(s));
      guard('C_GenerateRandom', 'sync', () => target.C_GenerateRandom(s, 8));
      return;
    case 'reenterAsync':
      try {
        reentrant.push(['C_GenerateRandom', withTimeout(target.C_GenerateRandomAsync(s, 8))]);
      } catch (e) {
        violation('asyncThrewSynchronously', { fn: 'C_GenerateRandom', error: describeError(e) });
      }
      return;
    case 'closeSession':
      guard('C_CloseSession', 'sync', () => target.C_CloseSession(s));
      return;
    case 'close':
      guard('close', 'sync', () => target.close());
      return;
    case 'finalize':
      guard('C_Finalize', 'sync', () => target.C_Finalize());
      return;
    case 'reload':
      guard('close', 'sync', () => target.close());
      guard('load', 'sync', () => target.load(fixture.modulePath));
      guard('C_Initialize', 'sync', () => target.C_Initialize());
      return;
  }
}
let reentrant = [];
async function settleReentrant(phase) {
  while (reentrant.length) {
    const batch = reentrant;
    reentrant = [];
    for (const [fn, w] of batch) note(fn, 'async', await w, { stateOk: stateOk(phase) });
  }
}

function runAfter(effect, ctx) {
  if (!effect) return;
  if (effect === 'closeSession') ctx.hook('closeSession', 'after');
  else A.runEffect(effect, ctx, 'after', null);
}

/** Calls c.fn sync (when how includes it), then async, each with freshly built arguments. */
async function runCall(c, target, { phase = current.phase, forms = 'both' } = {}) {
  const fn = c.fn;
  const flags = { stateOk: stateOk(phase) };
  if (forms !== 'async') {
    const ctx = newCtx(target, phase);
    const args = buildArgs(c, ctx);
    let res;
    try {
      res = { ok: target[fn](...args) };
    } catch (e) {
      res = { err: e };
    }
    note(fn, 'sync', res, flags);
    if (!('err' in res)) afterSuccess(fn, args, res.ok);
    await settleReentrant(phase);
  }
  if (forms !== 'sync') {
    const ctx = newCtx(target, phase);
    const args = buildArgs(c, ctx);
    const res = await settleAsync(fn, target, args, ctx, c.after, flags);
    if (res && !('err' in res) && !res.hang) afterSuccess(fn, args, res.ok);
    await settleReentrant(phase);
  }
}

/** Starts `fn + 'Async'`, applies the after-call effect, awaits it with the time limit. */
function startAsync(fn, target, args, ctx, after) {
  let p;
  try {
    p = target[fn + 'Async'](...args);
  } catch (e) {
    violation('asyncThrewSynchronously', { fn, error: describeError(e) });
    return null;
  }
  if (!(p instanceof Promise)) {
    violation('asyncReturnedNoPromise', { fn, got: typeof p });
    return null;
  }
  runAfter(after, ctx);
  return withTimeout(p);
}
async function settleAsync(fn, target, args, ctx, after, flags) {
  const w = startAsync(fn, target, args, ctx, after);
  if (!w) return null;
  const res = await w;
  note(fn, 'async', res, flags);
  return res;
}

// ---- cases -----------------------------------------------------------------------------------

const STATE_OK = { stateOk: true };

async function runFlow(f) {
  st.flow = mod.C_OpenSession(st.slot.A, RW);
  try {
    await runCall(f.init, mod, { forms: f.steps.length % 2 ? 'sync' : 'async' });
    for (const step of f.steps) await runCall(step.call, mod, { forms: step.async ? 'async' : 'sync' });
  } finally {
    const h = st.flow;
    st.flow = 0;
    if (sessionAlive(h)) mod.C_CloseSession(h);
    pushStale(h);
  }
}

/** Starts every call's async form at once; returns [fn, args, settled-with-timeout]. */
function startAll(calls, target, phase) {
  const started = [];
  for (const c of calls) {
    const ctx = newCtx(target, phase);
    const args = buildArgs(c, ctx);
    const w = startAsync(c.fn, target, args, ctx, c.after);
    if (w) started.push([c.fn, args, w]);
  }
  return started;
}
async function finishAll(started, flags) {
  for (const [fn, args, w] of started) {
    const res = await w;
    note(fn, 'async', res, flags);
    if (!('err' in res) && !res.hang) afterSuccess(fn, args, res.ok);
  }
  await settleReentrant(current.phase);
}

/** load() on a fresh object: TypeError, RangeError or ModuleLoadError, then calls before C_Initialize. */
async function runLoad(l, m = new raw.PKCS11(), phase = 'load') {
  const ctx = newCtx(m, phase);
  const args = l.opts === undefined ? [A.build(l.load, ctx)] : [A.build(l.load, ctx), A.build(l.opts, ctx)];
  try {
    note('load', 'sync', { ok: m.load(...args) }, STATE_OK);
  } catch (e) {
    note('load', 'sync', { err: e }, { stateOk: true, loading: true });
  }
  for (const fn of l.before || []) {
    try {
      note(fn, 'sync', { ok: m[fn]() }, STATE_OK);
    } catch (e) {
      note(fn, 'sync', { err: e }, STATE_OK);
    }
    const w = startAsync(fn, m, [], ctx, null);
    if (w) note(fn, 'async', await w, STATE_OK);
  }
  await settleReentrant(phase);
  if (phase === 'load') m.close();
}

function runMethod(c) {
  const ctx = newCtx(mod, current.phase);
  const args = c.args.map((r) => A.build(r, ctx));
  try {
    note(c.method, 'sync', { ok: mod[c.method](...args) });
  } catch (e) {
    note(c.method, 'sync', { err: e });
  }
}

async function runLifecycle(c) {
  switch (c.lifecycle) {
    case 'finalizeInFlight':
    case 'finalizeAsyncInFlight':
    case 'closeInFlight': {
      const started = startAll(c.calls, mod, 'final');
      if (c.lifecycle === 'finalizeAsyncInFlight') {
        const w = startAsync('C_Finalize', mod, [], newCtx(mod, 'final'), null);
        if (w) note('C_Finalize', 'async', await w, STATE_OK);
      } else {
        const fn = c.lifecycle === 'closeInFlight' ? 'close' : 'C_Finalize';
        try {
          note(fn, 'sync', { ok: fn === 'close' ? mod.close() : mod.C_Finalize() }, STATE_OK);
        } catch (e) {
          note(fn, 'sync', { err: e }, STATE_OK);
        }
      }
      await finishAll(started, STATE_OK);
      break;
    }
    case 'closedCalls':
      mod.close();
      for (const cc of c.calls) await runCall(cc, mod, { phase: 'final' });
      mod.load(fixture.modulePath);
      for (const cc of c.calls) await runCall(cc, mod, { phase: 'final' });
      break;
    case 'reload': {
      mod.close();
      await runLoad(c.load, mod, 'final');
      const ctx = newCtx(mod, 'final');
      const init = A.build(c.init, ctx);
      try {
        note('C_Initialize', 'sync', { ok: mod.C_Initialize(init) }, STATE_OK);
      } catch (e) {
        note('C_Initialize', 'sync', { err: e }, STATE_OK);
      }
      break;
    }
  }
}

async function runCase(c) {
  caseViolations = 0;
  stats.cases++;
  bump(stats.phases, current.phase);
  if ('lifecycle' in c) await runLifecycle(c);
  else if ('fn' in c) await runCall(c, mod);
  else if ('flow' in c) await runFlow(c);
  else if ('burst' in c) await finishAll(startAll(c.burst, mod, current.phase), {});
  else if ('load' in c) await runLoad(c);
  else if ('method' in c) runMethod(c);
  else throw new Error('unknown case ' + A.describe(c));
}

/** After close()/C_Finalize: loaded, initialized, sessions and objects back. */
async function revive() {
  if (inflight.size) {
    let timer;
    await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => (timer = setTimeout(r, Math.max(30000, opt.timeout))))]);
    clearTimeout(timer);
  }
  if (!mod.moduleInfo()) mod.load(fixture.modulePath);
  if (!mod.moduleInfo().initialized) mod.C_Initialize();
  try {
    mod.C_GetSlotList(false);
  } catch (e) {
    if (!isP11(e) || e.rvName !== 'CKR_CRYPTOKI_NOT_INITIALIZED') throw e;
    // The object says it is initialized and the module (or the binding) says it is not: a share
    // of the initialization was lost or kept by a late result (issue 19; docs/fuzzing.md,
    // findings 2 and 5). A violation, no longer a counted known issue.
    violation('initializedButNot', { error: describeError(e) });
    mod.close();
    mod.load(fixture.modulePath);
    mod.C_Initialize();
  }
  refreshSlots();
  st.touched = true;
  repair();
}

// ---- phases ----------------------------------------------------------------------------------

let fatal = null;
async function guarded(phase, index, c, after) {
  if (fatal) return true;
  current = { phase, index, recipe: c };
  progress(phase, index, c);
  try {
    await runCase(c);
    await after();
  } catch (e) {
    fatal = { phase, index, recipe: A.describe(c).slice(0, 4000), error: e && e.stack ? e.stack : String(e) };
    return true;
  }
  return !(opt.shrink && caseViolations > 0);
}

/** Every function once or twice with sampled arguments, so even a short run covers all 104. */
async function sweep() {
  let i = 0;
  for (const fn of A.MAIN_FUNCTIONS) {
    const samples = fc.sample(A.callArb(fn), { seed: opt.seed + i, numRuns: 1 });
    if (A.SIGNATURES[fn].pair) samples.push(...fc.sample(A.callArb(fn, true), { seed: opt.seed + i, numRuns: 1 }));
    for (const c of samples) await guarded('sweep', i++, c, () => repair());
  }
}

async function property(phase, arb, numRuns, seed, after) {
  let index = opt.only !== null ? opt.only : 0;
  const params = { seed, numRuns, endOnFailure: !opt.shrink };
  if (opt.only !== null) Object.assign(params, { path: String(opt.only), numRuns: 1 });
  const r = await fc.check(fc.asyncProperty(arb, (c) => guarded(phase, index++, c, after)), params);
  if (r.failed && opt.shrink) stats.shrunk.push({ phase, seed, path: r.counterexamplePath, recipe: A.describe(r.counterexample && r.counterexample[0]) });
}

/** Every function on a closed module (ERR_P11_STATE) and on a loaded, uninitialized one. */
async function closedSweep() {
  let i = 0;
  const cases = A.FUNCTIONS.map((fn) => fc.sample(A.callArb(fn), { seed: opt.seed + 7 * i++, numRuns: 1 })[0]);
  await guarded('final', -1, { lifecycle: 'closedCalls', calls: cases }, () => revive());
}

// --focus: only calls of the functions named (both coherent and free arguments).
const mainArb = opt.focus ? fc.oneof(...opt.focus.flatMap((f) => [A.callArb(f), A.callArb(f, !!A.SIGNATURES[f].pair)])) : A.caseArb;

async function main() {
  const t0 = Date.now();
  refreshSlots();
  repair(true);
  const bound = Object.getOwnPropertyNames(raw.PKCS11.prototype).filter((n) => /^C_/.test(n) && !n.endsWith('Async'));
  const missing = bound.filter((n) => !A.FUNCTIONS.includes(n)).concat(A.FUNCTIONS.filter((n) => !bound.includes(n)));
  if (missing.length || bound.length !== 104) violation('signatureTable', { missing, bound: bound.length });

  let budget = opt.cases;
  if (opt.recipe) {
    const r = JSON.parse(fs.readFileSync(opt.recipe, 'utf8'));
    const c = A.decode(r.recipe);
    const phase = r.phase === 'final' ? 'final' : 'main';
    await guarded(phase, r.index, c, phase === 'final' ? () => revive() : () => repair());
  } else if (opt.only !== null) {
    await property('main', mainArb, 1, opt.seed, () => repair());
  } else {
    const finalRuns = Math.min(Math.max(20, Math.round(budget * 0.01)), Math.max(1, budget - 1));
    if (budget >= 1000) {
      await sweep();
      budget -= stats.cases;
    }
    const mainRuns = Math.max(1, budget - finalRuns - 1);
    let n = 0;
    await property('main', mainArb, mainRuns, opt.seed, () => repair(++n % 2000 === 0));
    current.phase = 'final';
    await closedSweep();
    await property('final', A.finalCaseArb, finalRuns, opt.seed ^ 0x5a5a5a, () => revive());
  }
  try {
    mod.close();
  } catch (e) {
    violation('closeThrew', { error: describeError(e) });
  }
  const called = Object.keys(stats.called);
  const coverage = {
    functions: A.FUNCTIONS.length,
    notCalledSync: A.FUNCTIONS.filter((f) => !called.includes(f + ':sync')),
    notCalledAsync: A.FUNCTIONS.filter((f) => !called.includes(f + ':async')),
  };
  const out = {
    cases: stats.cases,
    sync: stats.sync,
    async: stats.async,
    byOutcome: stats.byOutcome,
    errorClasses: stats.errorClasses,
    engineErrors: stats.engineErrors,
    knownIssues: stats.knownIssues,
    hangs: stats.hangs,
    crashes: 0,
    violations: stats.violations,
    reachedModule: stats.reachedModule,
    phases: stats.phases,
    coverage,
    byFunction: stats.byFunction,
    repairs: st.repairs,
    seed: opt.seed,
    includeKnown: opt.includeKnown,
    ms: Date.now() - t0,
    examples: stats.examples,
    firstSeen: stats.firstSeen,
    shrunk: stats.shrunk,
    fatal,
  };
  if (progressFd !== null) fs.closeSync(progressFd);
  fixture.cleanup();
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(fatal ? 2 : stats.violations || stats.hangs ? 1 : 0);
}

process.on('unhandledRejection', (e) => violation('unhandledRejection', { error: describeError(e) }));
main().catch((e) => {
  process.stderr.write('fuzzer failed: ' + (e && e.stack ? e.stack : e) + '\n');
  process.exit(2);
});
