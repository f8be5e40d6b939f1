// Child process for test/v3-functions.test.ts: parameter-struct and template shapes that could
// crash or hang the process if the addon mishandled them are tried here first, on NSS softoken (a
// 3.0 module) through the raw binding, sync and async. The 3.2 functions are missing from NSS, but
// their arguments are read before that is reported, so their shapes are tried here too.
//   node v3-args-child.js shapes  → one JSON line { results: { <case>: { fn, sync, async } }, afterwards }
//   node v3-args-child.js dag     → one JSON line { dag: { ms, threw, name, code, message } }
// The errors here are plain (binding.configure is not called): TypeError / RangeError with `code`,
// and getter errors passed through as they were thrown.
'use strict';
const path = require('node:path');
const common = require('../fixtures/p11-child-common');
const { createNssDb } = require(path.join(common.repoRoot || path.join(__dirname, '..', '..'), 'scripts', 'nss.js'));

const CKM_AES_GCM = 0x1087;
const CKM_ML_KEM = 0x17;
const CKM_ML_DSA = 0x1d;
const CKA_LABEL = 0x3;
const CKA_WRAP_TEMPLATE = 0x40000211;
const CKF_SERIAL_SESSION = 0x4;

const mode = process.argv[2] || 'shapes';
const db = createNssDb();
const b = common.binding();
const mod = new b.PKCS11();
mod.load(db.modulePath);
mod.C_Initialize({ libraryParameters: db.libraryParameters });
const s = mod.C_OpenSession(db.slot, CKF_SERIAL_SESSION);

function describe(e) {
  if (!(e instanceof Error)) return { threw: true, nonError: String(e) };
  return { threw: true, name: e.name, code: e.code, message: e.message, rv: e.rv };
}

function throwing(obj, key, error) {
  Object.defineProperty(obj, key, {
    enumerable: true,
    get() {
      throw error;
    },
  });
  return obj;
}

function cyclic(kind) {
  const f = [];
  if (kind === 'struct') f.push({ struct: f });
  else if (kind === 'inline') f.push({ inline: f });
  else if (kind === 'structs') f.push({ structs: [f] });
  else if (kind === 'second') f.push({ ulong: 1 }, { struct: f });
  else if (kind === 'wide') for (let i = 0; i < 256; i++) f.push({ struct: f });
  return f;
}

function cyclicTemplate() {
  const t = [];
  t.push({ type: CKA_WRAP_TEMPLATE, value: t });
  return t;
}

// Each case: (error) => [method, args]; `error` is what a getter throws.
const cases = {
  cyclicStruct: () => ['C_EncryptMessage', [s, cyclic('struct'), Buffer.alloc(0), Buffer.alloc(1)]],
  cyclicInline: () => ['C_EncryptMessage', [s, cyclic('inline'), Buffer.alloc(0), Buffer.alloc(1)]],
  cyclicStructs: () => ['C_DecryptMessage', [s, cyclic('structs'), Buffer.alloc(0), Buffer.alloc(1)]],
  cyclicSecondField: () => ['C_SignMessageBegin', [s, cyclic('second')]],
  cyclicWide: () => ['C_VerifyMessageBegin', [s, cyclic('wide')]],
  cyclicInMechanism: () => ['C_MessageEncryptInit', [s, { mechanism: CKM_AES_GCM, parameter: cyclic('struct') }, 1]],
  getterUlong: (e) => ['C_EncryptMessage', [s, [throwing({}, 'ulong', e)], Buffer.alloc(0), Buffer.alloc(1)]],
  getterOut: (e) => ['C_EncryptMessage', [s, [{ ulong: 1 }, throwing({}, 'out', e)], Buffer.alloc(0), Buffer.alloc(1)]],
  getterFieldElement: (e) => ['C_SignMessage', [s, throwing([], '0', e), Buffer.alloc(1)]],
  getterNested: (e) => ['C_VerifyMessage', [s, [{ struct: [throwing({}, 'bytes', e)] }], Buffer.alloc(1), Buffer.alloc(1)]],
  getterStructsElement: (e) => ['C_EncryptMessageBegin', [s, [{ structs: throwing([], '0', e) }], Buffer.alloc(0)]],
  getterTemplateValue: (e) => ['C_DecryptMessageBegin', [s, [{ template: [throwing({ type: 3 }, 'value', e)] }], Buffer.alloc(0)]],
  proxyHasTrap: (e) => [
    'C_SignMessageNext',
    [
      s,
      [
        new Proxy(
          {},
          {
            has() {
              throw e;
            },
          },
        ),
      ],
      Buffer.alloc(1),
    ],
  ],
  getterMechanismParameterField: (e) => ['C_MessageDecryptInit', [s, { mechanism: CKM_AES_GCM, parameter: [throwing({}, 'ulong', e)] }, 1]],
  getterVersionMajor: (e) => ['C_GetInterface', ['PKCS 11', throwing({ minor: 0 }, 'major', e)]],
  // PKCS#11 3.2 (not provided by NSS: only argument reading is exercised).
  cyclicInEncapsulateMechanism: () => ['C_EncapsulateKey', [s, { mechanism: CKM_ML_KEM, parameter: cyclic('struct') }, 1, [], null]],
  cyclicInWrapKeyAuthenticated: () => ['C_WrapKeyAuthenticated', [s, { mechanism: CKM_AES_GCM, parameter: cyclic('structs') }, 1, 2, Buffer.alloc(0)]],
  cyclicTemplateDecapsulate: () => ['C_DecapsulateKey', [s, { mechanism: CKM_ML_KEM }, 1, cyclicTemplate(), Buffer.alloc(1)]],
  cyclicTemplateUnwrapAuthenticated: () => [
    'C_UnwrapKeyAuthenticated',
    [s, { mechanism: CKM_AES_GCM }, 1, Buffer.alloc(1), cyclicTemplate(), Buffer.alloc(0)],
  ],
  cyclicTemplateInStruct: () => ['C_VerifySignatureInit', [s, { mechanism: CKM_ML_DSA, parameter: [{ template: cyclicTemplate() }] }, 1, Buffer.alloc(1)]],
  getterEncapsulateTemplateValue: (e) => ['C_EncapsulateKey', [s, { mechanism: CKM_ML_KEM }, 1, [throwing({ type: CKA_LABEL }, 'value', e)], null]],
  getterVerifySignatureInitParameterField: (e) => [
    'C_VerifySignatureInit',
    [s, { mechanism: CKM_ML_DSA, parameter: [{ ulong: 0 }, throwing({}, 'bytes', e)] }, 1, Buffer.alloc(1)],
  ],
  getterUnwrapAuthenticatedMechanism: (e) => ['C_UnwrapKeyAuthenticated', [s, throwing({}, 'mechanism', e), 1, Buffer.alloc(1), [], Buffer.alloc(0)]],
};

async function runShapes() {
  const results = {};
  for (const [name, make] of Object.entries(cases)) {
    const e1 = new Error('boom-' + name);
    const [fn, args] = make(e1);
    const r = { fn };
    try {
      mod[fn](...args);
      r.sync = { threw: false };
    } catch (e) {
      r.sync = { ...describe(e), same: e === e1 };
    }
    const e2 = new Error('boom-' + name);
    const [fn2, args2] = make(e2);
    let p;
    try {
      p = mod[fn2 + 'Async'](...args2);
      r.async = { threwSynchronously: false };
    } catch (e) {
      r.async = { threwSynchronously: true, ...describe(e) };
    }
    if (p) {
      try {
        await p;
        r.async.threw = false;
      } catch (e) {
        Object.assign(r.async, describe(e), { same: e === e2 });
      }
    }
    results[name] = r;
  }
  // The module still answers.
  const info = mod.C_GetInfo();
  mod.C_DigestInit(s, { mechanism: 0x250 });
  const digest = mod.C_Digest(s, Buffer.from('abc')).toString('hex');
  return { results, afterwards: { manufacturerID: info.manufacturerID, digest } };
}

// A description that is small as a JS value but enormous when walked as a tree: three arrays of
// 256 fields, each field pointing at the next array (no cycle). Walking it visits 256^3 structs.
function runDag() {
  let level = [{ ulong: 1 }];
  for (let i = 0; i < 3; i++) level = new Array(256).fill({ struct: level });
  const t0 = Date.now();
  let out;
  try {
    mod.C_SignMessageBegin(s, level);
    out = { threw: false };
  } catch (e) {
    out = describe(e);
  }
  out.ms = Date.now() - t0;
  return { dag: out };
}

(async () => {
  let result;
  try {
    result = mode === 'dag' ? runDag() : await runShapes();
  } finally {
    mod.close();
    db.cleanup();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
})().catch((e) => {
  process.stderr.write(String((e && e.stack) || e) + '\n');
  process.exit(1);
});
