// The proposals of bench/README.md ("Where the typed time goes"), as switchable patches of the
// dist/ modules loaded in *this process only*: no file in lib/ or dist/ changes. Used by
// node-bench.js (scenario 'ecdsa-proposals') and micro.js. PATCHES.set(module, ['P1', …]) turns
// the named ones on and every other one off (the original functions back in place). They are
// measuring devices, not finished code: each keeps the current behaviour on the success path.
//
// P1 noEagerStack  Session.run / tracked() take the caller's stack with Error.captureStackTrace on
//                  every call (~0.4 µs per frame on this VM, 10 frames). Proposal: take it only on
//                  failure, in the catch of the one async wrapper (P2), where V8's async stack
//                  trace names the awaiting callers. Patched here as a no-op captureStackTrace for
//                  the window (no call fails inside a measured window), so the success path costs
//                  what it would; 'P1+P2' is checked to still name the awaiting caller.
// P2 oneWrapper    Module.call: one async function (await fn(); catch → vendor name + caller stack,
//                  taken lazily when none was given) instead of .catch() + withCallerStack().
// P3 mutexFastPath AsyncMutex.run without a signal takes an idle lock synchronously: no
//                  Promise.resolve(release) to await.
// P4 noAdmit       Module.admit (a Set add, a .then(done, done) and a delete per call, so close()
//                  can wait for calls issued before it) is skipped: the estimate of counting calls
//                  in the wrapper's finally instead.
// P5 lessAwaits    The once-fetched mechanism Set is handed out as is (no promise adoption) and
//                  contextLogin without a PIN is a plain function: what resolving the mechanism
//                  synchronously and `if (pin !== undefined) await contextLogin(…)` would save.
// P6 syncInit      C_SignInitAsync becomes C_SignInit on the JS thread (one pool trip per
//                  signature), as an opt-in would do.
// P7 fusedSign     PrivateKey.sign as one async function on its fast path (no signal, no context
//                  PIN, mechanism list already fetched, session idle): resolve the mechanism
//                  synchronously, take the lock synchronously, await C_SignInitAsync and
//                  C_SignAsync, end the operation on failure, vendor names + a lazily taken stack in
//                  the catch, release in finally; anything else takes the current path. Stands
//                  alone (it is P1-P5 folded into one function).
'use strict';
const path = require('node:path');

const dist = (p) => require(path.join(__dirname, '..', '..', 'dist', p));

const { AsyncMutex } = dist('util/mutex.js');
const { Module } = dist('module.js');
const { Slot } = dist('slot.js');
const { applyVendorErrors } = dist('errors/vendors.js');
const operationEnd = dist('operation-end.js');
const { PrivateKey } = dist('objects/keys.js');
const { resolveMechanism } = dist('mechanisms/index.js');

function need(cond, what) {
  if (!cond) throw new Error(`bench/typed/patches.js: ${what} — dist/ changed shape; update the patch`);
}
need(typeof Module.prototype.call === 'function', 'Module.prototype.call');
need(typeof Module.prototype.admit === 'function', 'Module.prototype.admit');
need(typeof AsyncMutex.prototype.run === 'function' && typeof AsyncMutex.prototype.releaser === 'function', 'AsyncMutex run/releaser');
need(typeof Slot.prototype.mechanismSet === 'function', 'Slot.prototype.mechanismSet');
need(typeof operationEnd.contextLogin === 'function' && typeof operationEnd.endOperation === 'function', 'operation-end contextLogin/endOperation');
need(typeof PrivateKey.prototype.sign === 'function', 'PrivateKey.prototype.sign');

const orig = {
  captureStackTrace: Error.captureStackTrace,
  call: Module.prototype.call,
  admit: Module.prototype.admit,
  run: AsyncMutex.prototype.run,
  mechanismSet: Slot.prototype.mechanismSet,
  contextLogin: operationEnd.contextLogin,
  sign: PrivateKey.prototype.sign,
};

// P1
function noCapture() {}

// P2
const addCaller = (e, stack) => {
  if (e instanceof Error && stack) e.stack = `${e.stack ?? String(e)}\n    --- async call made at ---\n${stack.split('\n').slice(1).join('\n')}`;
  return e;
};
function oneWrapperCall(fn, caller) {
  if (this.finalizing) return orig.call.call(this, fn, caller); // rejects as before
  return callOnce(this.vendorErrors, fn, caller);
}
async function callOnce(table, fn, caller) {
  try {
    return await fn();
  } catch (e) {
    let stack = caller && caller.stack;
    if (!stack) {
      const here = {};
      orig.captureStackTrace(here, callOnce);
      stack = here.stack;
    }
    throw addCaller(applyVendorErrors(e, table), stack);
  }
}

// P3
function fastRun(fn, signal) {
  if (signal || this.held) return orig.run.call(this, fn, signal);
  this.held = true;
  return runHeld(fn, this.releaser());
}
async function runHeld(fn, release) {
  try {
    return await fn();
  } finally {
    release();
  }
}

// P4
function admitNothing(p) {
  return p;
}

// P5
const sets = new WeakMap();
function mechanismSetDirect() {
  const s = sets.get(this);
  if (s) return s;
  const p = orig.mechanismSet.call(this);
  p.then((set) => sets.set(this, set), () => undefined);
  return p;
}
function contextLoginDirect(raw, h, pin, kind) {
  return pin === undefined ? undefined : orig.contextLogin(raw, h, pin, kind);
}

// P7
const fusedSets = new WeakMap(); // Slot → the Set once slot.mechanismSet() has resolved
function fusedSign(spec, data, options = {}) {
  const s = this.session;
  const set = fusedSets.get(s.slot);
  const m = s.slot.module;
  if (options.signal || options.contextPin !== undefined || !set || s.mutex.held || !s.open || m.isClosed) {
    if (!set) s.slot.mechanismSet().then((x) => fusedSets.set(s.slot, x), () => undefined);
    return orig.sign.call(this, spec, data, options);
  }
  let r;
  try {
    r = resolveMechanism(spec, (t) => set.has(String(t)), 'sign');
  } catch (e) {
    return Promise.reject(e);
  }
  s.mutex.held = true;
  return fusedRun(m, s.handle, this.handle, r, data, s.mutex.releaser());
}
async function fusedRun(m, h, keyHandle, r, data, release) {
  const raw = m.raw;
  try {
    await raw.C_SignInitAsync(h, r.mechanism, keyHandle);
    const input = r.prehash ? require('node:crypto').createHash(r.prehash).update(data).digest() : data;
    try {
      return await raw.C_SignAsync(h, input);
    } catch (e) {
      await operationEnd.endOperation(raw, h, 'sign');
      throw e;
    }
  } catch (e) {
    const here = {};
    orig.captureStackTrace(here, fusedRun);
    throw addCaller(applyVendorErrors(e, m.vendorErrors), here.stack);
  } finally {
    release();
  }
}

let rawOrig = null;

const PATCHES = {
  names: ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7'],
  originalCaptureStackTrace: orig.captureStackTrace,
  /** Turns on exactly `names` ('P1' … 'P6'). */
  set(mod, names) {
    const on = new Set(names);
    for (const n of on) if (!PATCHES.names.includes(n)) throw new Error(`unknown patch ${n}`);
    Error.captureStackTrace = on.has('P1') ? noCapture : orig.captureStackTrace;
    Module.prototype.call = on.has('P2') ? oneWrapperCall : orig.call;
    AsyncMutex.prototype.run = on.has('P3') ? fastRun : orig.run;
    Module.prototype.admit = on.has('P4') ? admitNothing : orig.admit;
    Slot.prototype.mechanismSet = on.has('P5') ? mechanismSetDirect : orig.mechanismSet;
    operationEnd.contextLogin = on.has('P5') ? contextLoginDirect : orig.contextLogin;
    PrivateKey.prototype.sign = on.has('P7') ? fusedSign : orig.sign;
    if (!rawOrig) rawOrig = mod.raw;
    if (on.has('P6')) {
      // Native methods need the real object as `this`: a proxy hands out bound ones (cached).
      // C_SignInitAsync runs C_SignInit and returns undefined, so the `await` in keys.ts costs one
      // tick, which is what an `if (sync) … else await …` in lib would cost at most.
      const bound = new Map([['C_SignInitAsync', (h, m, k) => rawOrig.C_SignInit(h, m, k)]]);
      mod.raw = new Proxy(rawOrig, {
        get(t, p) {
          let f = bound.get(p);
          if (f) return f;
          const v = t[p];
          if (typeof v !== 'function') return v;
          bound.set(p, (f = v.bind(t)));
          return f;
        },
      });
    } else {
      mod.raw = rawOrig;
    }
  },
};

module.exports = PATCHES;
