// The operations of the soak (scripts/soak.js): the weighted tables its lanes pick from, raw and
// typed, the families --mix selects from them, and the counting every call of a lane goes through.
// The run's shared state (counters, the phase's call budget, the seeded randomness) is one object,
// createRun()'s, which scripts/soak.js fills in with the module, sessions and keys.
'use strict';
const crypto = require('node:crypto');

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

const TOKENS = {
  raw: { label: 'soak-raw', soPin: '12345678', userPin: '1234' },
  typed: { label: 'soak-typed', soPin: '12345678', userPin: '2345' },
  loginRaw: { label: 'soak-login-raw', soPin: '12345678', userPin: '3456' },
  loginTyped: { label: 'soak-login-typed', soPin: '12345678', userPin: '4567' },
};
const WRONG_PIN = '99999999';
const RW = 0x6; // CKF_SERIAL_SESSION | CKF_RW_SESSION
const BAD_HANDLE = 0x7ffffff0;

// ---- the run's state, counting, randomness, expected errors --------------------------------------

/** The state the lanes share; main() adds mod, slots, sessions, keys and tables to it. */
function createRun(opts) {
  return {
    opts,
    p11: null, // the p11bridge entry point of --dist (its constants too: CKA_*, CKM_* …)
    stats: { raw: 0, typed: 0, sync: 0, async: 0, ops: {}, expectedErrors: 0, unexpected: [], unexpectedCount: 0 },
    budget: 0, // calls left in the current phase
    maxHandle: 0, // highest session handle the module gave out
    rand: mulberry32(opts.seed),
  };
}

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
/** The helpers every operation counts its calls with, on the run `ctx`. */
function counting(ctx) {
  const { stats } = ctx;
  return {
    noteHandle(h) {
      if (Number(h) > ctx.maxHandle) ctx.maxHandle = Number(h);
      return h;
    },

    /** A raw caller for one operation: sync C_X or async C_XAsync, picked once per operation. */
    rawCaller(mod) {
      const sync = ctx.rand() < 0.5;
      const call = (fn, ...args) => {
        stats.raw++;
        ctx.budget--;
        if (sync) {
          stats.sync++;
          return mod[fn](...args);
        }
        stats.async++;
        return mod[fn + 'Async'](...args);
      };
      call.sync = sync;
      return call;
    },

    /** Counts one typed call. */
    typed(p) {
      stats.typed++;
      ctx.budget--;
      return p;
    },

    /** Runs fn (sync throw or rejection) and requires an error with this rvName / class / predicate. */
    async expectError(what, fn, match) {
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
    },
  };
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

function pick(ctx, table) {
  let r = ctx.rand() * table.total;
  for (const [name, w, fn] of table.entries) {
    r -= w;
    if (r <= 0) return [name, fn];
  }
  const last = table.entries[table.entries.length - 1];
  return [last[0], last[2]];
}

function weighted(opts, entries, kind) {
  const mix = MIXES[opts.mix];
  if (!opts.kinds.includes(kind)) entries = [];
  if (mix) entries = entries.filter((e) => Object.hasOwn(mix, `${kind}.${e[0]}`)).map(([n, w, fn]) => [n, mix[`${kind}.${n}`] ?? w, fn]);
  if (opts.only) entries = entries.filter((e) => opts.only.includes(`${kind}.${e[0]}`));
  if (opts.without) entries = entries.filter((e) => !opts.without.includes(`${kind}.${e[0]}`));
  return { entries, total: entries.reduce((s, e) => s + e[1], 0) };
}

// ---- raw operations ------------------------------------------------------------------------------

function rawOps(ctx) {
  const { mod, stats, p11: C } = ctx;
  const { rawCaller, expectError, noteHandle } = counting(ctx);
  const data = crypto.randomBytes(64);
  const digest32 = crypto.createHash('sha256').update(data).digest();
  // C_SignInit + C_Sign, then C_VerifyInit + C_Verify of that signature (must be true): the signature.
  const signVerify = async (c, s, mechanism, signKey, verifyKey, bytes, what) => {
    await c('C_SignInit', s, { mechanism }, signKey);
    const sig = await c('C_Sign', s, bytes);
    await c('C_VerifyInit', s, { mechanism }, verifyKey);
    check((await c('C_Verify', s, bytes, sig)) === true, what);
    return sig;
  };
  return weighted(ctx.opts, [
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
      await signVerify(rawCaller(mod), s, C.CKM_SHA256_HMAC, ctx.rawKeys.hmac, ctx.rawKeys.hmac, data, 'hmac verifies');
    }],
    ['ecdsa', 2, async (s) => {
      const c = rawCaller(mod);
      const sig = await signVerify(c, s, C.CKM_ECDSA, ctx.rawKeys.ecPrivate, ctx.rawKeys.ecPublic, digest32, 'ecdsa verifies');
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
  const { stats, p11 } = ctx;
  const { Pkcs11Error } = p11;
  const { typed, expectError, noteHandle } = counting(ctx);
  // Each lane's keys belong to its own session: a typed key runs its calls on the session that
  // made it, and a find iterator left open between batches holds the session's one active
  // operation on SoftHSM, so another lane's sign on that session would get CKR_OPERATION_ACTIVE.
  const keys = (s) => ctx.typedKeys.get(s);
  return weighted(ctx.opts, [
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
      ctx.budget--;
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
      ctx.budget--;
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

module.exports = { MIXES, TOKENS, RW, createRun, counting, mutex, pick, rawOps, typedOps };
