// Arbitraries for the raw-layer fuzzer (test/fuzz/raw-fuzz.js). fast-check generates *recipes*:
// plain data ({ h: 'NaN' }, { pool: 'session', i: 3 }, { b: 'rabU8', n: 16 }, { tpl: [...] } …)
// that build() turns into the hostile JS values of one call. Recipes print, replay and shrink;
// the values they describe (detached buffers, throwing getters, cycles) are made fresh for every
// call, so the sync and the async form of a case each get their own.
'use strict';
const fc = require('fast-check');
const raw = require('../../dist/raw.js');

// ---- constants -------------------------------------------------------------------------------

const CKM = {};
const CKA = {};
for (const [k, v] of Object.entries(raw)) {
  if (k.startsWith('CKM_') && (typeof v === 'number' || typeof v === 'bigint')) CKM[k] = v;
  if (k.startsWith('CKA_') && (typeof v === 'number' || typeof v === 'bigint')) CKA[k] = v;
}
const big = (v) => BigInt(v);
// Mechanisms whose parameter struct holds pointers or lengths the module trusts: given raw bytes
// or a hand-made struct with a lying length, the module reads wild memory (SoftHSM: exit(5) or
// SIGSEGV). The raw layer cannot know every struct, so this is the caller's contract; the fuzzer
// gives these only consistent structs (lengths computed from the buffers) or ones that fail
// argument validation.
const POINTER_RE =
  /GCM|CCM|OAEP|ECDH|ECMQV|ENCRYPT_DATA|EDDSA|HKDF|PBKD|PBE|CONCATENATE|XOR_BASE|X9_42|X3DH|X2RATCHET|TLS|SSL3|WTLS|KEY_WRAP_SET|GOST|SP800|KIP|CMS|CHACHA|SALSA|POLY1305|RSA_AES|TPM|KEA|SKIPJACK|BATON|JUNIPER|IKE|PRF|_DERIVE|SIGN_ADDITIONAL|ML_DSA|SLH_DSA|HASH_ML|HASH_SLH|ML_KEM|XEDDSA|BLAKE2B_.*_KEY_DERIVE|_MAC_GENERAL|OTP|SECURID|HOTP|ACTI|WRAP/;
const POINTER_MECHS = new Set(Object.entries(CKM).filter(([k]) => POINTER_RE.test(k)).map(([, v]) => big(v)));
// Domain-parameter generation takes seconds to minutes for the sizes a template may ask.
const SLOW_MECHS = new Set(Object.entries(CKM).filter(([k]) => /PARAMETER_GEN|_G_GEN/.test(k)).map(([, v]) => big(v)));
// Attributes whose value is a CK_ATTRIBUTE array (the module follows its pointers).
const TEMPLATE_TYPES = new Set([CKA.CKA_WRAP_TEMPLATE, CKA.CKA_UNWRAP_TEMPLATE, CKA.CKA_DERIVE_TEMPLATE].map(big));
// Attribute values that make key generation slow (bits, primes) or huge (CKA_VALUE_LEN up to 2^28).
const CLAMP = new Map([
  [CKA.CKA_MODULUS_BITS, 1024],
  [CKA.CKA_PRIME_BITS, 512],
  [CKA.CKA_SUB_PRIME_BITS ?? 0x134, 160],
  [CKA.CKA_VALUE_BITS, 256],
  [CKA.CKA_VALUE_LEN, 64],
].map(([k, v]) => [big(k), v]));
const BIGNUM_TYPES = new Set([CKA.CKA_PRIME, CKA.CKA_SUBPRIME, CKA.CKA_BASE].map(big));

// ---- sentinels, effects, traps ---------------------------------------------------------------

/** What hostile getters, Proxy traps and toPrimitive hooks throw: the call must pass it on. */
class FuzzSentinel extends Error {}
const sentinels = new WeakSet();
function sentinel(where) {
  const e = new FuzzSentinel('fuzz sentinel: ' + where);
  sentinels.add(e);
  return e;
}
const isSentinel = (e) => e instanceof FuzzSentinel && sentinels.has(e);

const SAFE_EFFECTS = ['throw', 'gc', 'reenterSync', 'reenterAsync', 'closeSession', 'detach', 'shrink', 'grow', 'mutate'];
const FINAL_EFFECTS = ['close', 'finalize', 'reload'];
const BUFFER_EFFECTS = new Set(['detach', 'shrink', 'grow']);

function detach(ab) {
  if (!(ab instanceof ArrayBuffer) || ab.byteLength === 0) return;
  try {
    structuredClone(ab, { transfer: [ab] });
  } catch {
    /* not transferable */
  }
}

/** Runs a getter's side effect; `container` is the array or object the getter sits on. */
function runEffect(effect, ctx, where, container) {
  switch (effect) {
    case 'throw':
      throw sentinel(where);
    case 'gc': // a scavenge moves young objects: raw pointers into the JS heap would dangle
      if (global.gc) global.gc(where === 'after' ? undefined : { type: 'minor' });
      return;
    case 'detach':
      for (const ab of ctx.buffers) detach(ab);
      return;
    case 'shrink':
    case 'grow':
      for (const ab of ctx.buffers) {
        try {
          if (ab.resizable) ab.resize(effect === 'grow' ? ab.maxByteLength : 0);
          else if (ab.growable && effect === 'grow') ab.grow(ab.maxByteLength);
        } catch {
          /* detached already */
        }
      }
      return;
    case 'mutate':
      if (Array.isArray(container)) container.length = 0;
      else if (container && typeof container === 'object') for (const k of Object.keys(container)) delete container[k];
      return;
    default:
      ctx.hook(effect, where);
  }
}

/** Turns property `key` of `obj` into a getter that runs `effect`, then answers the old value. */
function trap(obj, key, effect, ctx, where) {
  if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) return obj;
  const value = obj[key];
  if (ctx.noBufferEffects && BUFFER_EFFECTS.has(effect)) effect = 'gc';
  if (ctx.phase !== 'final' && FINAL_EFFECTS.includes(effect)) effect = 'reenterSync';
  try {
    Object.defineProperty(obj, key, {
      configurable: true,
      enumerable: true,
      get() {
        runEffect(effect, ctx, where, obj);
        return value;
      },
    });
  } catch {
    /* frozen or a non-configurable key (array length) */
  }
  return obj;
}

// ---- hostile values ------------------------------------------------------------------------

function throwingPrimitive() {
  const o = {};
  for (const k of ['toString', 'valueOf', 'toJSON', Symbol.toPrimitive]) {
    o[k] = () => {
      throw sentinel('toPrimitive');
    };
  }
  return o;
}

function throwingProxy(target) {
  const boom = (trapName) => () => {
    throw sentinel('Proxy ' + trapName);
  };
  const handler = {};
  for (const t of ['get', 'set', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'defineProperty', 'deleteProperty', 'isExtensible', 'preventExtensions']) {
    handler[t] = boom(t);
  }
  const p = new Proxy(target, handler);
  proxies.add(p);
  return p;
}

const GETTER_KEYS = ['type', 'value', 'mechanism', 'parameter', 'flags', 'libraryParameters', 'major', 'minor', 'deepBind', 'length', '0', '1', 'ulong', 'byte', 'bytes', 'fixed', 'struct', 'structs', 'inline', 'out', 'template'];
function allGetters() {
  const o = {};
  for (const k of GETTER_KEYS) {
    Object.defineProperty(o, k, {
      enumerable: true,
      get() {
        throw sentinel('getter ' + k);
      },
    });
  }
  return o;
}

const HOSTILE = {
  undefined: () => undefined,
  null: () => null,
  true: () => true,
  false: () => false,
  emptyString: () => '',
  string: () => 'p11',
  numericString: () => '42',
  longString: () => 'x'.repeat(70000),
  loneSurrogates: () => '\uD800a\uDFFF\u0000é',
  NaN: () => NaN,
  Infinity: () => Infinity,
  negInfinity: () => -Infinity,
  neg1: () => -1,
  negZero: () => -0,
  half: () => 0.5,
  two31: () => 2 ** 31,
  two32: () => 2 ** 32,
  two53: () => 2 ** 53,
  two53m1: () => 2 ** 53 - 1,
  two64: () => 2 ** 64,
  maxValue: () => Number.MAX_VALUE,
  minValue: () => Number.MIN_VALUE,
  negTwo63: () => -(2 ** 63),
  bigNeg1: () => -1n,
  big0: () => 0n,
  big53: () => 2n ** 53n,
  big64: () => 2n ** 64n,
  big64p1: () => 2n ** 64n + 1n,
  big64m1: () => 2n ** 64n - 1n,
  bigNeg64: () => -(2n ** 64n),
  big200: () => 2n ** 200n,
  symbol: () => Symbol('fuzz'),
  fn: () => function f() {},
  klass: () => class X {},
  object: () => ({}),
  array: () => [],
  holes: () => new Array(7),
  hugeSparse: () => {
    const a = [];
    a.length = 2 ** 32 - 1;
    return a;
  },
  date: () => new Date(0),
  invalidDate: () => new Date(NaN),
  map: () => new Map([[1, 2]]),
  set: () => new Set([1]),
  regexp: () => /x/g,
  promise: () => Promise.resolve(1),
  boxedNumber: () => new Number(5),
  boxedString: () => new String('x'),
  boxedBigInt: () => Object(5n),
  nullProto: () => Object.create(null),
  error: () => new Error('not a value'),
  throwingPrimitive,
  throwingProxy: () => throwingProxy({}),
  throwingArrayProxy: () => throwingProxy([]),
  revokedProxy: () => {
    const r = Proxy.revocable({}, {});
    r.revoke();
    proxies.add(r.proxy);
    return r.proxy;
  },
  allGetters,
  cyclicObject: () => {
    const o = { type: 3 };
    o.value = o;
    o.mechanism = o;
    return o;
  },
  sharedArrayBuffer: (ctx) => makeBytes('sab', 16, 1, ctx),
  detachedView: (ctx) => makeBytes('detachedU8', 16, 1, ctx),
  resizableView: (ctx) => makeBytes('rabU8', 16, 1, ctx),
  outOfBoundsView: (ctx) => makeBytes('oobU8', 16, 1, ctx),
};
const HOSTILE_NAMES = Object.keys(HOSTILE);
// Hostile values that still pass as a CK_ULONG (2^53-1, 0n, 2^64-1): the rest fail validation.
const ULONG_EDGE_NAMES = ['NaN', 'Infinity', 'negInfinity', 'neg1', 'negZero', 'half', 'two31', 'two32', 'two53', 'two53m1', 'two64', 'maxValue', 'minValue', 'negTwo63', 'bigNeg1', 'big0', 'big53', 'big64', 'big64p1', 'big64m1', 'bigNeg64', 'big200'];
// Hostile values every reader rejects: safe where a value that passed would mislead the module.
const FAILING_NAMES = HOSTILE_NAMES.filter((n) => !['undefined', 'null', 'two53m1', 'big0', 'big53', 'big64m1', 'negZero', 'two31', 'two32', 'true', 'false', 'emptyString', 'string', 'numericString', 'longString', 'loneSurrogates', 'array', 'date', 'sharedArrayBuffer', 'detachedView', 'resizableView', 'outOfBoundsView'].includes(n));

// ---- byte sources --------------------------------------------------------------------------

const ELEM = { u16: 2, u32: 4, f32: 4, f64: 8, bu64: 8, bi64: 8 };
const BYTE_TYPES = ['buffer', 'pooled', 'u8', 'u8sub', 'i8', 'u8c', 'u16', 'u32', 'f32', 'f64', 'bu64', 'bi64', 'dv', 'dvsub', 'ab', 'sab', 'sabU8', 'sabDv', 'rabU8', 'rabFixed', 'rab', 'gsabU8', 'detachedU8', 'detachedAb', 'detachedDv', 'oobU8'];
const OUT_TYPES = ['buffer', 'u8', 'u8sub', 'sabU8', 'rabU8', 'rabFixed', 'gsabU8', 'detachedU8', 'oobU8', 'u16', 'dv', 'ab', 'i8', 'u8c'];

function makeBytes(t, n, fill, ctx) {
  const track = (ab) => (ctx.buffers.push(ab), ab);
  const filled = (u8) => (u8.fill(fill & 255), u8);
  const e = ELEM[t] || 1;
  const count = Math.ceil(n / e);
  switch (t) {
    case 'buffer':
      return filled(Buffer.alloc(n));
    case 'pooled': // a slice of Node's shared pool, at a non-zero offset
      return Buffer.from(Buffer.alloc(Math.min(n, 4000), fill & 255));
    case 'u8':
      return filled(new Uint8Array(track(new ArrayBuffer(n))));
    case 'u8sub':
      return filled(new Uint8Array(track(new ArrayBuffer(n + 7)), 3, n));
    case 'i8':
      return new Int8Array(n).fill(fill & 127);
    case 'u8c':
      return new Uint8ClampedArray(n).fill(fill & 255);
    case 'u16':
      return new Uint16Array(count).fill(fill);
    case 'u32':
      return new Uint32Array(count).fill(fill);
    case 'f32':
      return new Float32Array(count).fill(fill / 3);
    case 'f64':
      return new Float64Array(count).fill(NaN);
    case 'bu64':
      return new BigUint64Array(count).fill(2n ** 64n - 1n);
    case 'bi64':
      return new BigInt64Array(count).fill(-1n);
    case 'dv':
      return new DataView(track(new ArrayBuffer(n)));
    case 'dvsub':
      return new DataView(track(new ArrayBuffer(n + 5)), 5, n);
    case 'ab':
      return track(new ArrayBuffer(n));
    case 'sab':
      return new SharedArrayBuffer(n);
    case 'sabU8':
      return filled(new Uint8Array(new SharedArrayBuffer(n)));
    case 'sabDv':
      return new DataView(new SharedArrayBuffer(n));
    case 'rabU8': // length-tracking view of a resizable buffer
      return filled(new Uint8Array(track(new ArrayBuffer(n, { maxByteLength: n * 2 + 16 }))));
    case 'rabFixed':
      return filled(new Uint8Array(track(new ArrayBuffer(n + 8, { maxByteLength: n * 2 + 16 })), 4, n));
    case 'rab':
      return track(new ArrayBuffer(n, { maxByteLength: n + 64 }));
    case 'gsabU8':
      return filled(new Uint8Array(track(new SharedArrayBuffer(n, { maxByteLength: n * 2 + 16 }))));
    case 'detachedU8': {
      const ab = new ArrayBuffer(n);
      const v = new Uint8Array(ab);
      detach(ab);
      return v;
    }
    case 'detachedAb': {
      const ab = new ArrayBuffer(n);
      detach(ab);
      return ab;
    }
    case 'detachedDv': {
      const ab = new ArrayBuffer(n);
      const v = new DataView(ab);
      detach(ab);
      return v;
    }
    case 'oobU8': {
      // A fixed-length view left out of bounds by shrinking its resizable buffer.
      const ab = new ArrayBuffer(n + 8, { maxByteLength: n + 16 });
      const v = new Uint8Array(ab, 4, n);
      ab.resize(2);
      return v;
    }
  }
  throw new Error('unknown byte type ' + t);
}

// ---- build: recipe → value -----------------------------------------------------------------

const toBig = (v) => (typeof v === 'bigint' ? v : Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : null);
// Careful with hostile values: `instanceof` runs a Proxy's getPrototypeOf trap, and byteLength
// throws on a detached DataView.
function byteLen(v) {
  try {
    if (ArrayBuffer.isView(v)) return v.byteLength;
    return typeof v === 'object' && v !== null && !isProxyLike(v) && v instanceof ArrayBuffer ? v.byteLength : 0;
  } catch {
    return 0;
  }
}
const proxies = new WeakSet();
const isProxyLike = (v) => proxies.has(v);
const failingRecipe = (r) => r && 'h' in r && FAILING_NAMES.includes(r.h);
const nullish = (r) => r === null || r === undefined || (r && 'h' in r && (r.h === 'null' || r.h === 'undefined'));
const TPL_KEYS = ['tpl', 'deepTpl', 'cyclicTpl', 'wideTpl', 'dagTpl'];
const isTplRecipe = (r) => r && typeof r === 'object' && TPL_KEYS.some((k) => k in r);
// Byte types whose length JS and native code agree on even after a resize: the only ones put
// behind a pointer whose length the struct states separately.
const PLAIN_BYTES = new Set(['buffer', 'pooled', 'u8', 'u8sub', 'i8', 'u16', 'dv', 'dvsub', 'ab', 'sabU8', 'detachedU8', 'detachedAb']);

/** Builds one value; ctx carries the pools (real handles), the buffers made so far and hooks. */
function build(r, ctx) {
  if (r === null || r === undefined || typeof r !== 'object') return r;
  if ('lit' in r) return r.lit;
  if ('h' in r) return HOSTILE[r.h](ctx);
  if ('str' in r) return r.str;
  if ('pool' in r) {
    const v = ctx.pick(r.pool, r.i || 0);
    return r.big && typeof v === 'number' ? BigInt(v) : v;
  }
  if ('b' in r) return makeBytes(r.b, r.n, r.fill || 0, ctx);
  if ('date' in r) return new Date(r.date);
  if ('ulongs' in r) {
    const a = r.ulongs.map((x) => build(x, ctx));
    if (r.holes) a.length += r.holes;
    return a;
  }
  if (isTplRecipe(r)) return buildTemplate(r, ctx, 0);
  if ('mech' in r || 'mechObj' in r) return buildMechanism(r, ctx);
  if ('obj' in r) {
    const o = {};
    for (const [k, v] of Object.entries(r.obj)) o[k] = build(v, ctx);
    if (r.trap) trap(o, r.trap.key, r.trap.effect, ctx, 'object.' + r.trap.key);
    return o;
  }
  return buildParam(r, ctx);
}

function buildTemplate(r, ctx, depth) {
  const W = CKA.CKA_WRAP_TEMPLATE;
  if (r.deepTpl) {
    let t = [{ type: CKA.CKA_LABEL, value: 'leaf' }];
    for (let i = 0; i < r.deepTpl; i++) t = [{ type: W, value: t }];
    return t;
  }
  if (r.cyclicTpl === 'array') {
    const a = [];
    a.push({ type: W, value: a });
    return a;
  }
  if (r.cyclicTpl === 'object') {
    const at = { type: W };
    at.value = [at];
    return [at];
  }
  if (r.cyclicTpl) {
    const a = [];
    const b = [{ type: CKA.CKA_DERIVE_TEMPLATE, value: a }];
    a.push({ type: CKA.CKA_UNWRAP_TEMPLATE, value: b });
    return a;
  }
  if (r.wideTpl) return Array.from({ length: r.wideTpl }, () => ({ type: CKA.CKA_LABEL, value: 'x' }));
  if (r.dagTpl) {
    // Few objects, many paths: the shared rows are visited 64^3 times unless a budget stops it.
    let t = [{ type: CKA.CKA_LABEL, value: 'x' }];
    for (let i = 0; i < 3; i++) t = new Array(64).fill({ type: W, value: t });
    return t;
  }
  const arr = r.tpl.map((a) => buildAttr(a, ctx, depth));
  if (r.holes) arr.length += r.holes;
  if (r.trap) trap(arr, String(r.trap.at || 0), r.trap.effect, ctx, 'template[' + (r.trap.at || 0) + ']');
  return arr;
}

function buildAttr(a, ctx, depth) {
  if (!a || !('t' in a)) return build(a, ctx);
  const type = build(a.t, ctx);
  const tb = toBig(type);
  let vr = a.v;
  // KNOWN ISSUE (see docs/fuzzing.md): bytes or a number array given for CKA_WRAP/UNWRAP/
  // DERIVE_TEMPLATE reach the module as a CK_ATTRIBUTE array, whose pointers it follows.
  if (tb !== null && TEMPLATE_TYPES.has(tb) && !ctx.includeKnown && !(nullish(vr) || failingRecipe(vr) || isTplRecipe(vr))) {
    vr = { tpl: [{ t: { lit: CKA.CKA_LABEL }, v: { str: 'nested' } }] };
  }
  let value = isTplRecipe(vr) ? buildTemplate(vr, ctx, depth + 1) : build(vr, ctx);
  if (tb !== null) value = sanitize(tb, value);
  const o = 'v' in a ? { type, value } : { type };
  if (a.trap) trap(o, a.trap.key, a.trap.effect, ctx, 'attribute.' + a.trap.key);
  return o;
}

/** Keeps key generation fast: no 16384-bit RSA, no 256 MiB secrets, no huge DH primes. */
function sanitize(tb, value) {
  const limit = CLAMP.get(tb);
  if (limit !== undefined && (typeof value === 'number' || typeof value === 'bigint')) {
    const keep = value === 2 ** 53 - 1 || value === 2n ** 64n - 1n;
    if (!keep && value > limit) return typeof value === 'bigint' ? BigInt(limit) : limit;
  }
  if (BIGNUM_TYPES.has(tb) && byteLen(value) > 256) return Buffer.alloc(128, 0xab);
  if (tb === big(CKA.CKA_PUBLIC_EXPONENT) && !(typeof value === 'symbol' || typeof value === 'function')) return Buffer.from([1, 0, 1]);
  return value;
}

// Consistent parameter structs: every pointer/length pair is computed from the buffer built.
const MECH_BUILDER = [
  [/GCM/, 'gcm'],
  [/CCM/, 'ccm'],
  [/OAEP/, 'oaep'],
  [/ECDH1|ECDH_AES/, 'ecdh1'],
  [/ECB_ENCRYPT_DATA|CONCATENATE|XOR_BASE/, 'kdsd'],
  [/AES_CBC_ENCRYPT_DATA|ARIA_CBC_ENCRYPT_DATA|CAMELLIA_CBC_ENCRYPT_DATA/, 'cbcData16'],
  [/DES3?_CBC_ENCRYPT_DATA/, 'cbcData8'],
  [/EDDSA/, 'eddsa'],
  [/DH_PKCS_DERIVE|KEY_WRAP$|KEY_WRAP_PAD$/, 'bytes'],
];
const NAME_OF = new Map(Object.entries(CKM).map(([k, v]) => [big(v), k]));
function builderFor(mb) {
  const name = NAME_OF.get(mb) || '';
  for (const [re, b] of MECH_BUILDER) if (re.test(name)) return b;
  return null;
}

function plainBytes(r, ctx) {
  if (nullish(r)) return build(r, ctx);
  if (r && 'b' in r && !PLAIN_BYTES.has(r.b)) r = { ...r, b: 'buffer' };
  if (r && 'b' in r) return build(r, ctx);
  return failingRecipe(r) ? build(r, ctx) : Buffer.alloc(0);
}

function structFromBuilder(p, ctx) {
  const B = (r) => plainBytes(r, ctx);
  const U = (r, d) => (r === undefined ? d : build(r, ctx));
  switch (p.builder) {
    case 'gcm': {
      const iv = B(p.iv);
      const aad = B(p.aad);
      return [{ bytes: iv }, { ulong: byteLen(iv) }, { ulong: U(p.ivBits, byteLen(iv) * 8) }, { bytes: aad }, { ulong: byteLen(aad) }, { ulong: U(p.tagBits, 128) }];
    }
    case 'ccm': {
      const nonce = B(p.iv);
      const aad = B(p.aad);
      return [{ ulong: U(p.len, 16) }, { bytes: nonce }, { ulong: byteLen(nonce) }, { bytes: aad }, { ulong: byteLen(aad) }, { ulong: U(p.tagBits, 16) }];
    }
    case 'oaep': {
      const label = B(p.data);
      return [{ ulong: U(p.hash, CKM.CKM_SHA256) }, { ulong: U(p.mgf, 2) }, { ulong: U(p.source, 1) }, { bytes: label }, { ulong: byteLen(label) }];
    }
    case 'ecdh1': {
      const shared = B(p.aad);
      const pub = B(p.data);
      return [{ ulong: U(p.kdf, 1) }, { ulong: byteLen(shared) }, { bytes: shared }, { ulong: byteLen(pub) }, { bytes: pub }];
    }
    case 'kdsd': {
      const data = B(p.data);
      return [{ bytes: data }, { ulong: byteLen(data) }];
    }
    case 'cbcData16':
    case 'cbcData8': {
      const n = p.builder === 'cbcData16' ? 16 : 8;
      const data = B(p.data);
      return [{ fixed: Buffer.alloc(n, 7) }, { bytes: data }, { ulong: byteLen(data) }];
    }
    case 'eddsa': {
      const c = B(p.data);
      return [{ byte: U(p.byte, false) }, { ulong: byteLen(c) }, { bytes: c }];
    }
    case 'bytes':
      return B(p.data);
    case 'ctr':
      return [{ ulong: U(p.bits, 128) }, { fixed: B(p.iv) }];
    case 'pss':
      return [{ ulong: U(p.hash, CKM.CKM_SHA256) }, { ulong: U(p.mgf, 2) }, { ulong: U(p.len, 32) }];
    default:
      return null;
  }
}

function paramSafe(pr) {
  if (nullish(pr) || failingRecipe(pr)) return true;
  if (pr.fields) return !!pr.fail;
  return !!(pr.deepStruct || pr.cyclicStruct || pr.dagStruct || (pr.wideStruct && pr.wideStruct > 256));
}

function buildMechanism(r, ctx) {
  if (r.mechObj) {
    const M = CKM.CKM_SHA256;
    switch (r.mechObj) {
      case 'empty':
        return {};
      case 'inherited': // found through the prototype chain: a valid mechanism
        return Object.create({ mechanism: M, parameter: null });
      case 'frozen':
        return Object.freeze({ mechanism: M });
      case 'accessor':
        return new (class {
          get mechanism() {
            return M;
          }
        })();
      case 'function':
        return Object.assign(() => 0, { mechanism: M });
      default:
        return { mechanism: M, parameter: null, [r.mechObj]: throwingPrimitive() };
    }
  }
  let mech = build(r.mech, ctx);
  let mb = toBig(mech);
  if (mb !== null && SLOW_MECHS.has(mb)) {
    mech = CKM.CKM_AES_KEY_GEN;
    mb = big(mech);
  }
  const pointer = mb !== null && POINTER_MECHS.has(mb);
  let pr = r.param;
  if (pointer && !(paramSafe(pr) || (pr && pr.builder === builderFor(mb)))) pr = { ...(pr && pr.builder ? pr : {}), builder: builderFor(mb) };
  const saved = ctx.noBufferEffects;
  if (pointer) ctx.noBufferEffects = true;
  const o = { mechanism: mech };
  if (!r.omitParam) o.parameter = buildParam(pr, ctx);
  if (r.trap) trap(o, r.trap.key, r.trap.effect, ctx, 'mechanism.' + r.trap.key);
  ctx.noBufferEffects = saved;
  return o;
}

function buildParam(pr, ctx) {
  if (pr === null || pr === undefined) return pr;
  if ('h' in pr || 'b' in pr || 'lit' in pr) return build(pr, ctx);
  if ('builder' in pr) return pr.builder ? structFromBuilder(pr, ctx) : null;
  if (pr.deepStruct) {
    let f = [{ ulong: 1 }];
    for (let i = 0; i < pr.deepStruct; i++) f = [i % 2 ? { inline: f } : { struct: f }];
    return f;
  }
  if (pr.cyclicStruct) {
    const f = [{ ulong: 1 }];
    if (pr.cyclicStruct === 'inline') f.push({ inline: f });
    else if (pr.cyclicStruct === 'structs') f.push({ structs: [f, f] });
    else if (pr.cyclicStruct === 'template') {
      const t = [];
      t.push({ type: CKA.CKA_WRAP_TEMPLATE, value: t });
      f.push({ template: t });
    } else f.push({ struct: f });
    return f;
  }
  if (pr.wideStruct) return Array.from({ length: pr.wideStruct }, (_, i) => (i % 2 ? { byte: 1 } : { ulong: i }));
  if (pr.dagStruct) {
    let f = [{ ulong: 1 }];
    for (let i = 0; i < 3; i++) f = [{ structs: new Array(64).fill(f) }];
    return f;
  }
  const fields = pr.fields.map((x) => buildField(x, ctx));
  if (pr.fail) fields.push({ ulong: -1 });
  if (pr.holes) fields.length += pr.holes;
  return fields;
}

function buildField(fr, ctx) {
  if (!fr || !('f' in fr)) {
    if (fr && fr.noKind) return { junk: 1, Ulong: 2 };
    if (fr && fr.multi) return { bytes: Buffer.alloc(4), ulong: 7 };
    return build(fr, ctx);
  }
  let v;
  const list = Array.isArray(fr.v);
  if (list && (fr.f === 'struct' || fr.f === 'inline')) v = fr.v.map((x) => buildField(x, ctx));
  else if (list && fr.f === 'structs') v = fr.v.map((s) => s.map((x) => buildField(x, ctx)));
  else if (fr.f === 'template' && isTplRecipe(fr.v)) v = buildTemplate(fr.v, ctx, 1);
  else v = build(fr.v, ctx);
  const o = { [fr.f]: v };
  if (fr.trap) trap(o, fr.f, fr.trap.effect, ctx, 'field.' + fr.f);
  return o;
}

// ---- arbitraries: values ---------------------------------------------------------------------

const W = (weight, arbitrary) => ({ weight, arbitrary });
const lit = (v) => ({ lit: v });
const str = (s) => ({ str: s });

const arbHostile = fc.constantFrom(...HOSTILE_NAMES).map((h) => ({ h }));
const arbFailing = fc.constantFrom(...FAILING_NAMES).map((h) => ({ h }));
const arbUlongEdge = fc.constantFrom(...ULONG_EDGE_NAMES).map((h) => ({ h }));
const arbUlongRandom = fc.oneof(
  W(4, fc.nat(300).map(lit)),
  W(2, fc.constantFrom(0, 1, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 0x80000000, 0x80000001, 0xffffffff, 0x40000211).map(lit)),
  W(1, fc.bigUintN(64).map(lit)),
  W(1, fc.maxSafeNat().map(lit)),
);
/** A mostly-valid value with the usual hostile company. */
const mixed = (valid, w = 8) => fc.oneof(W(w, valid), W(1, arbUlongEdge), W(1, arbHostile), W(1, arbUlongRandom));
const handle = (name, max) => fc.record({ pool: fc.constant(name), i: fc.nat(max), big: fc.nat(9).map((n) => n === 0) });

const OBJECT_POOLS = ['aes', 'hmac', 'des3', 'ecPriv', 'ecPub', 'rsaPriv', 'rsaPub', 'edPriv', 'edPub', 'data', 'dataB', 'aesB'];
const arbSlot = mixed(fc.oneof(W(4, handle('slotReal', 1)), W(2, handle('slot', 8))));
const arbSession = mixed(fc.oneof(W(14, handle('session', 40)), W(4, handle('sessionA', 5)), W(3, handle('stale', 64)), W(1, handle('object', 40)), W(1, handle('slot', 4))), 12);
const arbObject = mixed(
  fc.oneof(W(10, fc.constantFrom(...OBJECT_POOLS).map((p) => ({ pool: p }))), W(3, handle('created', 64)), W(3, handle('stale', 64)), W(1, handle('session', 8))),
);
const MECH_NAMES = Object.keys(CKM);
const COMMON_MECHS = ['CKM_SHA256', 'CKM_AES_CBC_PAD', 'CKM_AES_ECB', 'CKM_AES_GCM', 'CKM_ECDSA', 'CKM_RSA_PKCS', 'CKM_SHA256_HMAC', 'CKM_AES_KEY_GEN', 'CKM_EC_KEY_PAIR_GEN', 'CKM_AES_KEY_WRAP', 'CKM_ECDH1_DERIVE', 'CKM_RSA_PKCS_OAEP', 'CKM_SHA256_RSA_PKCS_PSS', 'CKM_EDDSA', 'CKM_AES_CTR', 'CKM_DES3_CBC', 'CKM_AES_CMAC', 'CKM_AES_ECB_ENCRYPT_DATA', 'CKM_GENERIC_SECRET_KEY_GEN'].filter((n) => n in CKM);
const arbMechType = mixed(fc.oneof(W(3, fc.constantFrom(...COMMON_MECHS)), W(2, fc.constantFrom(...MECH_NAMES))).map((n) => lit(CKM[n])));

const arbSize = fc.oneof(
  W(10, fc.nat(64)),
  W(4, fc.constantFrom(0, 1, 8, 15, 16, 17, 24, 32, 48, 64, 128, 256, 1024)),
  W(2, fc.integer({ min: 4090, max: 70000 })),
  W(1, fc.integer({ min: 1 << 20, max: 4 << 20 })),
);
const arbByteRecipe = fc.record({ b: fc.oneof(W(6, fc.constantFrom('buffer', 'u8')), W(4, fc.constantFrom(...BYTE_TYPES))), n: arbSize, fill: fc.nat(255) });
const smallBytes = (n) => fc.record({ b: fc.oneof(W(4, fc.constant('buffer')), W(1, fc.constantFrom(...BYTE_TYPES))), n: n === undefined ? fc.nat(64) : fc.constant(n), fill: fc.nat(255) });
const arbBytes = fc.oneof(W(12, arbByteRecipe), W(2, arbHostile), W(1, fc.string({ maxLength: 8 }).map(str)), W(1, fc.array(fc.nat(255), { maxLength: 8 }).map((a) => ({ ulongs: a.map(lit) }))));
const arbOutSize = fc.oneof(W(6, fc.nat(300)), W(3, fc.constantFrom(0, 1, 16, 20, 32, 64, 128, 256, 1024)), W(1, fc.integer({ min: 4090, max: 70000 })));
const arbOut = fc.oneof(W(6, fc.constant(null)), W(1, fc.constant(undefined)), W(8, fc.record({ b: fc.oneof(W(3, fc.constant('buffer')), W(3, fc.constantFrom(...OUT_TYPES))), n: arbOutSize, fill: fc.constant(0) })), W(1, arbHostile));
const pinText = fc.oneof(W(4, fc.string({ maxLength: 20 })), W(1, fc.constantFrom('', 'x'.repeat(300), 'ÿ€漢字\u0000pin', '\uD800')));
const arbOldPin = fc.oneof(W(6, pinText.map(str)), W(2, smallBytes()), W(1, fc.constant(null)), W(2, arbHostile));
const arbPin = fc.oneof(W(4, handle('pin', 3)), W(6, arbOldPin));
const arbLabel = fc.oneof(W(5, fc.string({ maxLength: 40 }).map(str)), W(1, fc.constantFrom('é'.repeat(16), 'é'.repeat(17), 'x'.repeat(32), 'x'.repeat(33)).map(str)), W(2, arbHostile));
const arbEffect = fc.constantFrom(...SAFE_EFFECTS, ...FINAL_EFFECTS);
const arbTrap = (keys) => fc.record({ key: fc.constantFrom(...keys), effect: arbEffect });

// ---- arbitraries: templates ------------------------------------------------------------------

const EC_PARAMS = [Buffer.from('06082a8648ce3d030107', 'hex'), Buffer.from('06032b6570', 'hex'), Buffer.from('130c656477617264733235353139', 'hex'), Buffer.from('0605', 'hex')];
const ATTR_SPECS = [
  ['CKA_CLASS', 'class'], ['CKA_KEY_TYPE', 'keyType'], ['CKA_LABEL', 'str'], ['CKA_ID', 'bytes'], ['CKA_VALUE', 'bytes'], ['CKA_VALUE_LEN', 'len'],
  ['CKA_TOKEN', 'bool'], ['CKA_PRIVATE', 'bool'], ['CKA_SENSITIVE', 'bool'], ['CKA_EXTRACTABLE', 'bool'], ['CKA_ENCRYPT', 'bool'], ['CKA_DECRYPT', 'bool'],
  ['CKA_SIGN', 'bool'], ['CKA_VERIFY', 'bool'], ['CKA_WRAP', 'bool'], ['CKA_UNWRAP', 'bool'], ['CKA_DERIVE', 'bool'], ['CKA_MODIFIABLE', 'bool'],
  ['CKA_COPYABLE', 'bool'], ['CKA_DESTROYABLE', 'bool'], ['CKA_TRUSTED', 'bool'], ['CKA_WRAP_WITH_TRUSTED', 'bool'], ['CKA_EC_PARAMS', 'ecParams'],
  ['CKA_MODULUS_BITS', 'len'], ['CKA_PUBLIC_EXPONENT', 'bytes'], ['CKA_START_DATE', 'date'], ['CKA_END_DATE', 'date'], ['CKA_ALLOWED_MECHANISMS', 'ulongs'],
  ['CKA_WRAP_TEMPLATE', 'nested'], ['CKA_UNWRAP_TEMPLATE', 'nested'], ['CKA_DERIVE_TEMPLATE', 'nested'], ['CKA_APPLICATION', 'str'], ['CKA_OBJECT_ID', 'bytes'],
  ['CKA_SUBJECT', 'bytes'], ['CKA_PRIME', 'bytes'], ['CKA_BASE', 'bytes'], ['CKA_KEY_GEN_MECHANISM', 'mechType'], ['CKA_CERTIFICATE_TYPE', 'ulong'],
  ['CKA_MODULUS', 'bytes'], ['CKA_EC_POINT', 'bytes'], ['CKA_PRIME_BITS', 'len'],
].filter(([n]) => CKA[n] !== undefined);

const arbDate = fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.constantFrom(0, -62198755200000, 253402300799999, 253402300800000, -1)).map((d) => ({ date: d }));
const arbUlongs = fc.oneof(
  W(6, fc.record({ ulongs: fc.array(mixed(arbMechType, 6), { maxLength: 6 }), holes: fc.nat(2) })),
  W(1, fc.constantFrom(4096, 4097).map((n) => ({ ulongs: new Array(n).fill(lit(CKM.CKM_SHA256)) }))),
);
const tplArbs = [];
function valueArb(kind, depth) {
  switch (kind) {
    case 'class':
      return mixed(fc.nat(9).map(lit));
    case 'keyType':
      return mixed(fc.constantFrom(0, 1, 2, 3, 0x10, 0x15, 0x1f, 0x40, 0x41, 0x42).map(lit));
    case 'str':
      return fc.oneof(W(4, fc.string({ maxLength: 24 }).map(str)), W(1, fc.fullUnicodeString({ maxLength: 8 }).map(str)));
    case 'bytes':
      return arbBytes;
    case 'len':
      return mixed(fc.constantFrom(0, 1, 16, 24, 32, 64, 512, 1024, 2048, 4097).map(lit));
    case 'bool':
      return fc.oneof(W(6, fc.boolean().map(lit)), W(1, fc.constantFrom(0, 1, 'true').map(lit)));
    case 'ecParams':
      return fc.oneof(W(3, fc.constantFrom(...EC_PARAMS).map((b) => lit(Buffer.from(b)))), W(1, arbBytes));
    case 'date':
      return arbDate;
    case 'ulongs':
      return arbUlongs;
    case 'nested':
      // Bytes and number arrays here are the known issue (a CK_ATTRIBUTE array the module follows):
      // generated always, built only with --include-known (buildAttr swaps them otherwise).
      return fc.oneof(
        W(8, depth < 2 ? templateArb(depth + 1) : fc.constant({ tpl: [] })),
        W(1, fc.constantFrom(24, 48).chain((n) => smallBytes(n))),
        W(1, fc.tuple(fc.nat(300), fc.nat(0xffff), fc.nat(64)).map((a) => ({ ulongs: a.map(lit) }))),
      );
    case 'mechType':
      return arbMechType;
    default:
      return mixed(arbUlongRandom);
  }
}
const genericValues = [];
function genericValue(depth) {
  if (genericValues[depth]) return genericValues[depth];
  const parts = [
    W(3, fc.boolean().map(lit)),
    W(3, arbUlongRandom),
    W(2, arbUlongEdge),
    W(3, fc.string({ maxLength: 16 }).map(str)),
    W(4, arbBytes),
    W(1, arbDate),
    W(1, arbUlongs),
    W(1, fc.constantFrom(null, undefined)),
    W(2, arbHostile),
  ];
  if (depth < 2) parts.push(W(1, fc.constant(null).chain(() => templateArb(depth + 1))));
  return (genericValues[depth] = fc.oneof(...parts));
}
const attrArbs = [];
function attrArb(depth) {
  if (attrArbs[depth]) return attrArbs[depth];
  const specs = ATTR_SPECS.map(([n, kind]) => fc.oneof(W(6, valueArb(kind, depth)), W(1, genericValue(depth))).map((v) => ({ t: lit(CKA[n]), v })));
  return (attrArbs[depth] = fc.oneof(
    W(12, fc.oneof(...specs)),
    W(2, fc.record({ t: mixed(arbUlongRandom, 3), v: genericValue(depth) }, { requiredKeys: ['t'] })),
    W(1, fc.record({ t: fc.constantFrom(...ATTR_SPECS).map(([n]) => lit(CKA[n])), v: genericValue(depth), trap: arbTrap(['type', 'value']) })),
    W(1, arbHostile),
  ));
}
function templateArb(depth) {
  if (tplArbs[depth]) return tplArbs[depth];
  tplArbs[depth] = fc.oneof(
    W(14, fc.record({ tpl: fc.array(attrArb(depth), { maxLength: depth ? 3 : 8 }), holes: fc.nat(2).map((n) => (n === 2 ? 1 : 0)), trap: fc.option(arbTrap(['0', '1']).map((t) => ({ at: Number(t.key), effect: t.effect })), { freq: 8 }) })),
    W(1, fc.constantFrom(5, 10, 100, 10000).map((n) => ({ deepTpl: n }))),
    W(1, fc.constantFrom('array', 'object', 'mutual').map((k) => ({ cyclicTpl: k }))),
    W(1, fc.constantFrom(4096, 4097).map((n) => ({ wideTpl: n }))),
    W(1, fc.constant({ dagTpl: true })),
    W(2, arbHostile),
  );
  return tplArbs[depth];
}
/** A template of the given attributes (type name → recipe or arbitrary), sometimes plus random ones. */
function tplOf(base) {
  const entries = Object.entries(base).map(([n, v]) => (v instanceof fc.Arbitrary ? v : fc.constant(v)).map((vv) => ({ t: lit(CKA[n]), v: vv })));
  return fc.tuple(fc.tuple(...entries), fc.array(attrArb(0), { maxLength: 3 }), fc.nat(9)).map(([attrs, extra, k]) => ({ tpl: [...attrs, ...(k < 6 ? [] : extra)] }));
}

// ---- arbitraries: mechanisms and parameter structs --------------------------------------------

const HASHES = ['CKM_SHA256', 'CKM_SHA_1', 'CKM_SHA512', 'CKM_SHA384', 'CKM_SHA224', 'CKM_MD5'].filter((n) => n in CKM);
/** The value a module accepts most of the time, other values and hostile ones the rest. */
const usually = (good, others) => mixed(fc.oneof(W(5, fc.constant(lit(good))), W(2, others.map(lit))), 6);
const plainByteRecipe = (n) => fc.record({ b: fc.constantFrom(...PLAIN_BYTES), n: n === undefined ? fc.nat(64) : fc.constant(n), fill: fc.nat(255) });
const builderArb = (name, data = plainByteRecipe()) =>
  fc.record(
    {
      builder: fc.constant(name),
      iv: fc.oneof(W(4, plainByteRecipe(name === 'ctr' ? 16 : 12)), W(1, plainByteRecipe()), W(1, arbFailing)),
      aad: fc.oneof(W(2, fc.constant(null)), W(2, plainByteRecipe())),
      data: fc.oneof(W(6, data), W(1, arbFailing)),
      tagBits: usually(128, fc.constantFrom(0, 32, 64, 96, 104, 112, 120, 129)),
      ivBits: usually(96, fc.nat(256)),
      len: usually(16, fc.nat(64)),
      hash: usually(CKM.CKM_SHA256, fc.constantFrom(...HASHES).map((n) => CKM[n])),
      mgf: usually(2, fc.nat(6)),
      source: usually(1, fc.nat(2)),
      kdf: usually(1, fc.nat(10)),
      bits: usually(128, fc.constantFrom(0, 1, 32, 64, 129)),
      byte: fc.oneof(fc.boolean().map(lit), fc.nat(300).map(lit), arbHostile),
    },
    { requiredKeys: ['builder', 'iv', 'data'] },
  );
const BUILDERS = ['gcm', 'ccm', 'oaep', 'ecdh1', 'kdsd', 'cbcData16', 'cbcData8', 'eddsa', 'bytes', 'ctr', 'pss'];

const fieldArbs = [];
function fieldArb(depth) {
  if (fieldArbs[depth]) return fieldArbs[depth];
  const deeper = depth < 2;
  const list = deeper ? fc.constant(null).chain(() => fc.array(fieldArb(depth + 1), { maxLength: 4 })) : fc.constant([{ f: 'ulong', v: lit(1) }]);
  const F = (f, v) => fc.record({ f: fc.constant(f), v, trap: fc.option(arbTrap([f]), { freq: 12 }) });
  return (fieldArbs[depth] = fc.oneof(
    W(6, F('ulong', mixed(arbUlongRandom))),
    W(3, F('byte', fc.oneof(fc.boolean().map(lit), fc.nat(300).map(lit), arbUlongEdge, arbHostile))),
    W(4, F('bytes', fc.oneof(W(1, fc.constant(null)), W(5, arbBytes)))),
    W(2, F('fixed', fc.oneof(W(5, smallBytes()), W(1, arbHostile)))),
    W(2, F('out', fc.oneof(W(5, fc.record({ b: fc.constantFrom(...OUT_TYPES), n: fc.nat(64), fill: fc.constant(0) })), W(1, arbHostile)))),
    W(2, F('struct', fc.oneof(fc.constant(null), list, arbHostile))),
    W(2, F('inline', fc.oneof(list, arbHostile))),
    W(1, F('structs', fc.oneof(fc.array(list, { maxLength: 3 }), arbHostile))),
    W(1, F('template', templateArb(1))),
    W(1, fc.constantFrom({ noKind: true }, { multi: true })),
    W(1, arbHostile),
  ));
}
const arbFields = fc.record({ fields: fc.array(fieldArb(0), { maxLength: 8 }), fail: fc.boolean(), holes: fc.nat(4).map((n) => (n === 4 ? 1 : 0)) });
const arbParam = fc.oneof(
  W(4, fc.constantFrom(null, undefined)),
  W(3, smallBytes()),
  W(5, arbFields),
  W(1, fc.constantFrom(8, 9, 10000).map((n) => ({ deepStruct: n }))),
  W(1, fc.constantFrom('struct', 'inline', 'structs', 'template').map((k) => ({ cyclicStruct: k }))),
  W(1, fc.constantFrom(256, 257).map((n) => ({ wideStruct: n }))),
  W(1, fc.constant({ dagStruct: true })),
  W(3, fc.constantFrom(...BUILDERS).chain((b) => builderArb(b))),
  W(2, arbHostile),
);
const mechTrap = fc.option(arbTrap(['mechanism', 'parameter']), { freq: 8 });
const arbMechanism = fc.oneof(
  W(8, fc.record({ mech: arbMechType, param: arbParam, omitParam: fc.nat(5).map((n) => n === 0), trap: mechTrap })),
  W(1, fc.constantFrom('empty', 'inherited', 'frozen', 'accessor', 'function', 'toJSON').map((m) => ({ mechObj: m }))),
  W(2, arbHostile),
);

// ---- coherent argument sets: a mechanism with a key it fits, templates a module accepts ------

const M = (name, param = fc.constant(null)) => fc.record({ mech: fc.constant(lit(CKM[name])), param, trap: fc.option(arbTrap(['mechanism', 'parameter']), { freq: 12 }) });
const K = (...names) => fc.constantFrom(...names).map((p) => ({ pool: p }));
const iv = (n) => fc.oneof(W(6, smallBytes(n)), W(1, smallBytes()), W(1, arbHostile));
const T = (base) => tplOf(Object.fromEntries(Object.entries(base).map(([k, v]) => [k, lit(v)])));
const sym = (fam, pub) => {
  const k = pub ? 'rsaPub' : 'rsaPriv';
  return fc.oneof(
    fc.record({ 1: M('CKM_AES_CBC_PAD', iv(16)), 2: K('aes', 'aesB') }),
    fc.record({ 1: M('CKM_AES_CBC', iv(16)), 2: K('aes') }),
    fc.record({ 1: M('CKM_AES_ECB'), 2: K('aes') }),
    fc.record({ 1: M('CKM_AES_CTR', builderArb('ctr')), 2: K('aes') }),
    fc.record({ 1: M('CKM_AES_GCM', builderArb('gcm')), 2: K('aes') }),
    fc.record({ 1: M('CKM_DES3_CBC_PAD', iv(8)), 2: K('des3') }),
    fc.record({ 1: M('CKM_RSA_PKCS'), 2: K(k) }),
    fc.record({ 1: M('CKM_RSA_PKCS_OAEP', builderArb('oaep')), 2: K(k) }),
  );
};
const signing = (pub) => {
  const k = (priv, p) => K(pub ? p : priv);
  return fc.oneof(
    fc.record({ 1: M('CKM_ECDSA'), 2: k('ecPriv', 'ecPub') }),
    fc.record({ 1: M('CKM_SHA256_HMAC'), 2: K('hmac') }),
    fc.record({ 1: M('CKM_SHA_1_HMAC'), 2: K('hmac') }),
    fc.record({ 1: M('CKM_SHA256_RSA_PKCS'), 2: k('rsaPriv', 'rsaPub') }),
    fc.record({ 1: M('CKM_SHA256_RSA_PKCS_PSS', builderArb('pss')), 2: k('rsaPriv', 'rsaPub') }),
    fc.record({ 1: M('CKM_EDDSA', fc.oneof(fc.constant(null), builderArb('eddsa'))), 2: k('edPriv', 'edPub') }),
    fc.record({ 1: M('CKM_AES_CMAC'), 2: K('aes') }),
  );
};
const SECRET = { CKA_CLASS: 4, CKA_KEY_TYPE: 0x10 };
const COHERENT = {
  enc: sym('enc', true),
  dec: sym('dec', false),
  sign: signing(false),
  verify: signing(true),
  digest: fc.record({ 1: fc.constantFrom(...HASHES).chain((h) => M(h)) }),
  wrap: fc.record({
    1: fc.oneof(M('CKM_AES_KEY_WRAP'), M('CKM_AES_KEY_WRAP_PAD'), M('CKM_AES_CBC_PAD', iv(16)), M('CKM_RSA_PKCS')),
    2: K('aes', 'rsaPub'),
    3: fc.oneof(K('hmac', 'aes', 'des3', 'aesB'), handle('created', 64)),
  }),
  unwrap: fc.oneof(
    W(3, fc.record({ 1: M('CKM_AES_KEY_WRAP'), 2: K('aes'), 3: fc.oneof(W(3, handle('wrapped', 0)), W(1, smallBytes(40))), 4: T({ ...SECRET, CKA_SIGN: true }) })),
    W(1, fc.record({ 1: M('CKM_AES_KEY_WRAP_PAD'), 2: K('aes'), 3: smallBytes(40), 4: T({ ...SECRET, CKA_KEY_TYPE: 0x1f }) })),
    W(1, fc.record({ 1: M('CKM_AES_CBC_PAD', iv(16)), 2: K('aes'), 3: smallBytes(48), 4: T({ ...SECRET, CKA_VALUE_LEN: 16 }) })),
    W(1, fc.record({ 1: M('CKM_RSA_PKCS'), 2: K('rsaPriv'), 3: smallBytes(128), 4: T(SECRET) })),
  ),
  derive: fc.oneof(
    fc.record({ 1: M('CKM_ECDH1_DERIVE', builderArb('ecdh1', fc.oneof(handle('ecPoint', 0), plainByteRecipe(65)))), 2: K('ecPriv'), 3: T({ ...SECRET, CKA_VALUE_LEN: 32 }) }),
    fc.record({ 1: M('CKM_AES_ECB_ENCRYPT_DATA', builderArb('kdsd', plainByteRecipe(32))), 2: K('aes'), 3: T({ ...SECRET, CKA_VALUE_LEN: 32 }) }),
    fc.record({ 1: M('CKM_AES_CBC_ENCRYPT_DATA', builderArb('cbcData16', plainByteRecipe(32))), 2: K('aes'), 3: T({ ...SECRET, CKA_VALUE_LEN: 16 }) }),
    fc.record({ 1: M('CKM_DES3_ECB_ENCRYPT_DATA', builderArb('kdsd', plainByteRecipe(24))), 2: K('des3'), 3: T({ ...SECRET, CKA_VALUE_LEN: 24 }) }),
  ),
  setattr: fc.record({ 1: K(...OBJECT_POOLS), 2: fc.oneof(tplOf({ CKA_LABEL: fc.string({ maxLength: 12 }).map(str) }), tplOf({ CKA_ID: smallBytes() }), T({ CKA_SIGN: false })) }),
  gen: fc.oneof(
    fc.record({ 1: M('CKM_AES_KEY_GEN'), 2: fc.constantFrom(16, 24, 32).chain((n) => T({ CKA_VALUE_LEN: n, CKA_ENCRYPT: true })) }),
    fc.record({ 1: M('CKM_GENERIC_SECRET_KEY_GEN'), 2: T({ CKA_VALUE_LEN: 32, CKA_SIGN: true }) }),
    fc.record({ 1: M('CKM_DES3_KEY_GEN'), 2: T({}) }),
  ),
  genpair: fc.oneof(
    fc.record({ 1: M('CKM_EC_KEY_PAIR_GEN'), 2: T({ CKA_EC_PARAMS: EC_PARAMS[0], CKA_VERIFY: true }), 3: T({ CKA_SIGN: true }) }),
    fc.record({ 1: M('CKM_EC_EDWARDS_KEY_PAIR_GEN'), 2: T({ CKA_EC_PARAMS: EC_PARAMS[1] }), 3: T({ CKA_SIGN: true }) }),
    fc.record({ 1: M('CKM_RSA_PKCS_KEY_PAIR_GEN'), 2: fc.constantFrom(512, 1024).chain((n) => T({ CKA_MODULUS_BITS: n })), 3: T({}) }),
  ),
  create: fc.record({
    1: fc.oneof(
      tplOf({ CKA_CLASS: lit(0), CKA_LABEL: fc.string({ maxLength: 8 }).map(str), CKA_VALUE: smallBytes() }),
      tplOf({ CKA_CLASS: lit(4), CKA_KEY_TYPE: lit(0x10), CKA_VALUE: lit(Buffer.alloc(32, 5)) }),
      tplOf({ CKA_CLASS: lit(4), CKA_KEY_TYPE: lit(0x1f), CKA_VALUE: fc.constantFrom(16, 17, 32).map((n) => lit(Buffer.alloc(n, 1))) }),
    ),
  }),
  find: fc.record({ 1: fc.oneof(T({}), fc.nat(4).chain((c) => T({ CKA_CLASS: c })), T({ CKA_TOKEN: true })) }),
  // Token B is logged out after every case: its user PIN on one of its sessions logs in.
  login: fc.oneof(
    W(3, fc.record({ 0: handle('sessionB', 1), 1: fc.constant(lit(1)), 2: fc.constantFrom(1, 3).map((i) => ({ pool: 'pin', i })) })),
    W(1, fc.record({ 1: fc.constantFrom(0, 1, 2).map(lit), 2: handle('pin', 3) })),
  ),
  attrs: fc.record({ 1: K(...OBJECT_POOLS), 2: fc.array(fc.constantFrom(...ATTR_SPECS).map(([n]) => lit(CKA[n])), { maxLength: 12 }).map((a) => ({ ulongs: a })) }),
  open: fc.record({ 0: handle('slotReal', 1), 1: fc.constantFrom(6, 4).map(lit) }),
  object: fc.record({ 1: K(...OBJECT_POOLS) }),
};

// ---- the 104 functions ---------------------------------------------------------------------

const opt = (a) => fc.oneof(W(2, fc.constantFrom(undefined, null)), W(6, a));
const outLike = fc.record({ b: fc.constantFrom(...OUT_TYPES), n: arbOutSize, fill: fc.constant(0) });
const ARG = {
  slot: arbSlot,
  session: arbSession,
  object: arbObject,
  optKey: opt(arbObject),
  ulong: mixed(arbUlongRandom),
  optUlong: opt(mixed(arbUlongRandom)),
  userType: mixed(fc.constantFrom(0, 1, 2, 3).map(lit)),
  sessFlags: opt(mixed(fc.constantFrom(6, 4, 2, 0, 0xffff).map(lit))),
  waitFlags: opt(mixed(fc.constantFrom(1, 0, 3).map(lit))),
  count: opt(mixed(fc.oneof(fc.nat(100), fc.constantFrom(0, 1, 65536, 65537)).map(lit))),
  mechType: arbMechType,
  bool: fc.oneof(W(2, fc.constantFrom(undefined, null)), W(4, fc.boolean().map(lit)), W(2, arbHostile)),
  bytes: arbBytes,
  optBytes: opt(arbBytes),
  pin: arbPin,
  oldPin: arbOldPin,
  label: arbLabel,
  template: templateArb(0),
  optTemplate: opt(templateArb(0)),
  mech: arbMechanism,
  out: arbOut,
  param: arbParam,
  types: fc.oneof(
    W(8, fc.array(fc.oneof(W(4, fc.constantFrom(...ATTR_SPECS).map(([n]) => lit(CKA[n]))), W(2, mixed(arbUlongRandom)), W(1, fc.record({ obj: fc.record({ type: mixed(fc.constantFrom(...ATTR_SPECS).map(([n]) => lit(CKA[n]))) }), trap: fc.option(arbTrap(['type']), { freq: 3 }) }))), { maxLength: 10 }).map((a) => ({ ulongs: a }))),
    W(1, fc.constantFrom(4096, 4097).map((n) => ({ ulongs: new Array(n).fill(lit(CKA.CKA_LABEL)) }))),
    W(2, arbHostile),
  ),
  init: fc.oneof(
    W(2, fc.constantFrom(undefined, null)),
    W(5, fc.record({ obj: fc.record({ flags: mixed(fc.constantFrom(0, 1, 2, 3).map(lit)), libraryParameters: fc.oneof(fc.string({ maxLength: 12 }).map(str), fc.constant(null), arbHostile) }, { requiredKeys: [] }), trap: fc.option(arbTrap(['flags', 'libraryParameters']), { freq: 4 }) })),
    W(2, arbHostile),
  ),
  lenOrOut: fc.oneof(W(5, fc.nat(1024).map(lit)), W(1, fc.constantFrom(0, 4096, 65536, 1 << 20).map(lit)), W(3, outLike), W(2, arbUlongEdge), W(1, arbHostile)),
  fname: fc.oneof(W(3, fc.constantFrom('C_Encrypt', 'C_Sign', 'C_GenerateKeyPair', '', 'C_Nope').map(str)), W(1, fc.string({ maxLength: 12 }).map(str)), W(1, arbHostile)),
  username: fc.oneof(W(3, fc.string({ maxLength: 12 }).map(str)), W(2, smallBytes()), W(1, arbHostile)),
  ifname: fc.oneof(W(2, fc.constantFrom(undefined, null)), W(2, fc.constantFrom('PKCS 11', 'Vendor', '').map(str)), W(1, fc.string().map(str)), W(1, arbHostile)),
  version: fc.oneof(W(2, fc.constantFrom(undefined, null)), W(4, fc.record({ obj: fc.record({ major: mixed(fc.nat(300).map(lit)), minor: mixed(fc.nat(300).map(lit)) }, { requiredKeys: [] }), trap: fc.option(arbTrap(['major', 'minor']), { freq: 4 }) })), W(1, arbHostile)),
  joinData: fc.oneof(W(4, outLike), W(1, fc.constant(null)), W(1, arbHostile)),
};

const S = (params, pair) => ({ params, pair });
const DATA_OUT = S(['session', 'bytes', 'out']);
const SIGNATURES = {
  C_Initialize: S(['init']),
  C_Finalize: S([]),
  C_GetInfo: S([]),
  C_GetFunctionList: S([]),
  C_GetSlotList: S(['bool']),
  C_GetSlotInfo: S(['slot']),
  C_GetTokenInfo: S(['slot']),
  C_GetMechanismList: S(['slot']),
  C_GetMechanismInfo: S(['slot', 'mechType']),
  // The SO PINs of the fuzz tokens are in no pool, and C_SetPIN's old PIN is never right, so these
  // reach the module without changing the PINs later cases log in with.
  C_InitToken: S(['slot', 'oldPin', 'label']),
  C_InitPIN: S(['session', 'pin']),
  C_SetPIN: S(['session', 'oldPin', 'pin']),
  C_OpenSession: S(['slot', 'sessFlags'], 'open'),
  C_CloseSession: S(['session']),
  C_CloseAllSessions: S(['slot']),
  C_GetSessionInfo: S(['session']),
  C_GetOperationState: S(['session', 'out']),
  C_SetOperationState: S(['session', 'bytes', 'optKey', 'optKey']),
  C_Login: S(['session', 'userType', 'pin'], 'login'),
  C_Logout: S(['session']),
  C_CreateObject: S(['session', 'template'], 'create'),
  C_CopyObject: S(['session', 'object', 'optTemplate'], 'object'),
  C_DestroyObject: S(['session', 'object']),
  C_GetObjectSize: S(['session', 'object'], 'object'),
  C_GetAttributeValue: S(['session', 'object', 'types'], 'attrs'),
  C_SetAttributeValue: S(['session', 'object', 'template'], 'setattr'),
  C_FindObjectsInit: S(['session', 'optTemplate'], 'find'),
  C_FindObjects: S(['session', 'count']),
  C_FindObjectsFinal: S(['session']),
  C_EncryptInit: S(['session', 'mech', 'object'], 'enc'),
  C_Encrypt: DATA_OUT,
  C_EncryptUpdate: DATA_OUT,
  C_EncryptFinal: S(['session', 'out']),
  C_DecryptInit: S(['session', 'mech', 'object'], 'dec'),
  C_Decrypt: DATA_OUT,
  C_DecryptUpdate: DATA_OUT,
  C_DecryptFinal: S(['session', 'out']),
  C_DigestInit: S(['session', 'mech'], 'digest'),
  C_Digest: DATA_OUT,
  C_DigestUpdate: S(['session', 'bytes']),
  C_DigestKey: S(['session', 'object'], 'object'),
  C_DigestFinal: S(['session', 'out']),
  C_SignInit: S(['session', 'mech', 'object'], 'sign'),
  C_Sign: DATA_OUT,
  C_SignUpdate: S(['session', 'bytes']),
  C_SignFinal: S(['session', 'out']),
  C_SignRecoverInit: S(['session', 'mech', 'object'], 'sign'),
  C_SignRecover: DATA_OUT,
  C_VerifyInit: S(['session', 'mech', 'object'], 'verify'),
  C_Verify: S(['session', 'bytes', 'bytes']),
  C_VerifyUpdate: S(['session', 'bytes']),
  C_VerifyFinal: S(['session', 'bytes']),
  C_VerifyRecoverInit: S(['session', 'mech', 'object'], 'verify'),
  C_VerifyRecover: DATA_OUT,
  C_DigestEncryptUpdate: DATA_OUT,
  C_DecryptDigestUpdate: DATA_OUT,
  C_SignEncryptUpdate: DATA_OUT,
  C_DecryptVerifyUpdate: DATA_OUT,
  C_GenerateKey: S(['session', 'mech', 'template'], 'gen'),
  C_GenerateKeyPair: S(['session', 'mech', 'template', 'template'], 'genpair'),
  C_WrapKey: S(['session', 'mech', 'object', 'object', 'out'], 'wrap'),
  C_UnwrapKey: S(['session', 'mech', 'object', 'bytes', 'template'], 'unwrap'),
  C_DeriveKey: S(['session', 'mech', 'object', 'template'], 'derive'),
  C_SeedRandom: S(['session', 'bytes']),
  C_GenerateRandom: S(['session', 'lenOrOut']),
  C_GetFunctionStatus: S(['session']),
  C_CancelFunction: S(['session']),
  C_WaitForSlotEvent: S(['waitFlags']),
  C_GetInterfaceList: S([]),
  C_GetInterface: S(['ifname', 'version', 'optUlong']),
  C_LoginUser: S(['session', 'userType', 'pin', 'username'], 'login'),
  C_SessionCancel: S(['session', 'ulong']),
  C_MessageEncryptInit: S(['session', 'mech', 'object'], 'enc'),
  C_EncryptMessage: S(['session', 'param', 'bytes', 'bytes', 'out']),
  C_EncryptMessageBegin: S(['session', 'param', 'bytes']),
  C_EncryptMessageNext: S(['session', 'param', 'bytes', 'optUlong', 'out']),
  C_MessageEncryptFinal: S(['session']),
  C_MessageDecryptInit: S(['session', 'mech', 'object'], 'dec'),
  C_DecryptMessage: S(['session', 'param', 'bytes', 'bytes', 'out']),
  C_DecryptMessageBegin: S(['session', 'param', 'bytes']),
  C_DecryptMessageNext: S(['session', 'param', 'bytes', 'optUlong', 'out']),
  C_MessageDecryptFinal: S(['session']),
  C_MessageSignInit: S(['session', 'mech', 'object'], 'sign'),
  C_SignMessage: S(['session', 'param', 'bytes', 'out']),
  C_SignMessageBegin: S(['session', 'param']),
  C_SignMessageNext: S(['session', 'param', 'bytes', 'bool', 'out']),
  C_MessageSignFinal: S(['session']),
  C_MessageVerifyInit: S(['session', 'mech', 'object'], 'verify'),
  C_VerifyMessage: S(['session', 'param', 'bytes', 'bytes']),
  C_VerifyMessageBegin: S(['session', 'param']),
  C_VerifyMessageNext: S(['session', 'param', 'bytes', 'optBytes']),
  C_MessageVerifyFinal: S(['session']),
  C_EncapsulateKey: S(['session', 'mech', 'object', 'template', 'out']),
  C_DecapsulateKey: S(['session', 'mech', 'object', 'template', 'bytes']),
  C_VerifySignatureInit: S(['session', 'mech', 'object', 'bytes'], 'verify'),
  C_VerifySignature: S(['session', 'bytes']),
  C_VerifySignatureUpdate: S(['session', 'bytes']),
  C_VerifySignatureFinal: S(['session']),
  C_GetSessionValidationFlags: S(['session', 'ulong']),
  C_AsyncComplete: S(['session', 'fname']),
  C_AsyncGetID: S(['session', 'fname']),
  C_AsyncJoin: S(['session', 'fname', 'ulong', 'joinData']),
  C_WrapKeyAuthenticated: S(['session', 'mech', 'object', 'object', 'bytes', 'out'], 'wrap'),
  C_UnwrapKeyAuthenticated: S(['session', 'mech', 'object', 'bytes', 'template', 'bytes'], 'unwrap'),
};
const FUNCTIONS = Object.keys(SIGNATURES);
// C_Finalize ends every later call's chance of reaching the module: it runs in the final phase.
const MAIN_FUNCTIONS = FUNCTIONS.filter((f) => f !== 'C_Finalize');

// ---- cases -----------------------------------------------------------------------------------

const callArbs = new Map();
/** { fn, args: [recipe…], arity, after }: one call, mostly-valid arguments with hostile ones mixed in. */
function callArb(fn, coherent = false) {
  const key = fn + (coherent ? '!' : '');
  if (callArbs.has(key)) return callArbs.get(key);
  const sig = SIGNATURES[fn];
  const n = sig.params.length;
  const overlay = sig.pair ? (coherent ? COHERENT[sig.pair] : fc.option(COHERENT[sig.pair], { freq: 2 })) : fc.constant(null);
  const arity = fc.oneof(
    W(24, fc.constant(null)),
    W(n ? 1 : 0, fc.integer({ min: 1, max: Math.max(1, n) }).map((k) => ({ fewer: k }))),
    W(1, fc.array(arbHostile, { minLength: 1, maxLength: 3 }).map((extra) => ({ extra }))),
  );
  const after = fc.oneof(W(10, fc.constant(null)), W(1, fc.constantFrom('detach', 'shrink', 'grow', 'gc', 'closeSession')));
  // With a coherent overlay, half the time a read-write session of token A, where the keys are.
  const onA = sig.params[0] === 'session' && sig.pair !== 'login' ? fc.option(handle('sessionA', 1), { freq: 2 }) : fc.constant(null);
  const arb = fc.record({ fn: fc.constant(fn), args: fc.tuple(...sig.params.map((k) => ARG[k])), overlay, onA, arity, after }).map(({ overlay: o, onA: a, ...c }) => {
    if (o) for (const [i, r] of Object.entries(o)) c.args[Number(i)] = r;
    if (o && a) c.args[0] = a;
    return c;
  });
  callArbs.set(key, arb);
  return arb;
}

const FLOWS = {
  encrypt: { init: 'C_EncryptInit', steps: ['C_Encrypt', 'C_EncryptUpdate', 'C_EncryptFinal'] },
  decrypt: { init: 'C_DecryptInit', steps: ['C_Decrypt', 'C_DecryptUpdate', 'C_DecryptFinal'] },
  digest: { init: 'C_DigestInit', steps: ['C_Digest', 'C_DigestUpdate', 'C_DigestKey', 'C_DigestFinal'] },
  sign: { init: 'C_SignInit', steps: ['C_Sign', 'C_SignUpdate', 'C_SignFinal'] },
  verify: { init: 'C_VerifyInit', steps: ['C_Verify', 'C_VerifyUpdate', 'C_VerifyFinal'] },
  find: { init: 'C_FindObjectsInit', steps: ['C_FindObjects', 'C_FindObjectsFinal'] },
};
const onFlow = (c, p) => (p < 85 ? { ...c, args: [{ pool: 'flow' }, ...c.args.slice(1)] } : c);
const arbCall = fc.oneof(...MAIN_FUNCTIONS.map((f) => callArb(f)));
/** An operation on a fresh session: a coherent Init, then 1–5 hostile steps, each sync or async. */
const arbFlow = fc.constantFrom(...Object.keys(FLOWS)).chain((name) =>
  fc.record({
    flow: fc.constant(name),
    init: fc.tuple(callArb(FLOWS[name].init, true), fc.nat(99)).map(([c, p]) => onFlow(c, p)),
    steps: fc.array(
      fc.record({ call: fc.tuple(fc.oneof(...FLOWS[name].steps.map((f) => callArb(f))), fc.nat(99)).map(([c, p]) => onFlow(c, p)), async: fc.boolean() }),
      { minLength: 1, maxLength: 5 },
    ),
  }),
);
const arbBurst = fc.record({ burst: fc.array(arbCall, { minLength: 2, maxLength: 8 }) });
const arbLoad = fc.record({
  load: fc.oneof(W(5, handle('path', 12)), W(1, arbHostile)),
  opts: fc.oneof(
    W(3, fc.constant(undefined)),
    W(2, fc.record({ obj: fc.record({ deepBind: fc.oneof(fc.boolean().map(lit), arbHostile) }, { requiredKeys: [] }), trap: fc.option(arbTrap(['deepBind']), { freq: 4 }) })),
    W(1, arbHostile),
  ),
  before: fc.array(fc.constantFrom('C_GetInfo', 'C_GetSlotList', 'C_OpenSession', 'C_GetFunctionList', 'C_Initialize', 'C_Finalize', 'C_GetInterfaceList'), { maxLength: 4 }),
});
const arbMethod = fc.oneof(
  fc.record({ method: fc.constant('has'), args: fc.array(fc.oneof(W(4, fc.constantFrom(...FUNCTIONS, 'C_Nope', '', 'C_EncryptAsync', 'load').map(str)), W(1, arbHostile)), { maxLength: 2 }) }),
  fc.record({ method: fc.constantFrom('moduleInfo', 'interfaces'), args: fc.array(arbHostile, { maxLength: 2 }) }),
);
/** One case of the main phase. */
const caseArb = fc.oneof(W(70, arbCall), W(15, arbFlow), W(5, arbBurst), W(3, arbLoad), W(2, arbMethod));

/** One case of the final phase: C_Finalize, close() and reload, with work in flight and in getters. */
const arbAnyCall = fc.oneof(...FUNCTIONS.map((f) => callArb(f)));
const finalCaseArb = fc.oneof(
  W(6, arbAnyCall),
  W(3, fc.record({ lifecycle: fc.constantFrom('finalizeInFlight', 'finalizeAsyncInFlight', 'closeInFlight'), calls: fc.array(arbCall, { minLength: 1, maxLength: 6 }) })),
  W(1, fc.record({ lifecycle: fc.constant('reload'), load: arbLoad, init: ARG.init })),
  W(2, fc.record({ lifecycle: fc.constant('closedCalls'), calls: fc.array(arbAnyCall, { minLength: 1, maxLength: 4 }) })),
);

/** JSON of a recipe for reports (bigints as "123n", buffers summarised). */
function describe(recipe) {
  return JSON.stringify(recipe, (k, v) => {
    if (typeof v === 'bigint') return v.toString() + 'n';
    if (v && v.type === 'Buffer' && Array.isArray(v.data)) return `<Buffer ${v.data.length}>`;
    if (Array.isArray(v) && v.length > 32) return [...v.slice(0, 4), `… ${v.length} elements`];
    return v;
  });
}

// Lossless JSON for replaying a recipe (--recipe): bigints, Buffers and undefined survive.
const UNDEF = '$undefined';
function encode(recipe) {
  return JSON.stringify(recipe, function (k, v) {
    if (typeof v === 'bigint') return { $bigint: v.toString() };
    if (v === undefined) return { [UNDEF]: 1 };
    if (v && v.type === 'Buffer' && Array.isArray(v.data)) return { $buffer: Buffer.from(v.data).toString('hex') };
    return v;
  });
}
function decode(text) {
  const marker = {};
  const fix = (v) => {
    if (v === marker) return undefined;
    if (v && typeof v === 'object' && !Buffer.isBuffer(v)) for (const k of Object.keys(v)) v[k] = fix(v[k]);
    return v;
  };
  return fix(
    JSON.parse(text, (k, v) => {
      if (v && typeof v === 'object' && '$bigint' in v) return BigInt(v.$bigint);
      if (v && typeof v === 'object' && '$buffer' in v) return Buffer.from(v.$buffer, 'hex');
      if (v && typeof v === 'object' && UNDEF in v) return marker;
      return v;
    }),
  );
}

module.exports = {
  encode,
  decode,
  fc,
  raw,
  CKM,
  CKA,
  FuzzSentinel,
  isSentinel,
  runEffect,
  build,
  SIGNATURES,
  FUNCTIONS,
  MAIN_FUNCTIONS,
  FLOWS,
  callArb,
  caseArb,
  finalCaseArb,
  describe,
  HOSTILE_NAMES,
  POINTER_MECHS,
  TEMPLATE_TYPES,
};
