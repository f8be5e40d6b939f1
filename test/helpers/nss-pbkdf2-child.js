// Child process for test/mechanisms-nss.test.ts: runs ONE C_GenerateKey(CKM_PKCS5_PBKD2) on NSS
// softoken with a parameter struct description handed over as JSON, so a module that crashes on it
// takes down this process only. Loads the addon the way lib/native.ts does (node-gyp-build).
//   argv: modulePath libraryParameters slot paramJson valueLen
// Prints "calling C_GenerateKey" before the call, then one JSON line { ok, value } or { ok:false, rv }.
'use strict';
const path = require('node:path');

const repoRoot = path.join(__dirname, '..', '..');
// eslint-disable-next-line import/no-dynamic-require
const binding = require('node-gyp-build')(repoRoot);

// PKCS#11 numbers (the parent test checks them against lib/constants/generated.ts).
const C = {
  CKA_CLASS: 0x0,
  CKA_TOKEN: 0x1,
  CKA_VALUE: 0x11,
  CKA_KEY_TYPE: 0x100,
  CKA_SENSITIVE: 0x103,
  CKA_VALUE_LEN: 0x161,
  CKA_EXTRACTABLE: 0x162,
  CKO_SECRET_KEY: 0x4,
  CKK_GENERIC_SECRET: 0x10,
  CKM_PKCS5_PBKD2: 0x3b0,
  CKF_RW_SESSION: 0x2,
  CKF_SERIAL_SESSION: 0x4,
};

/** Buffers went through JSON.stringify as { type: 'Buffer', data: [...] }. */
function revive(_key, v) {
  return v && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data) : v;
}

const [modulePath, libraryParameters, slot, paramJson, valueLen] = process.argv.slice(2);
const parameter = JSON.parse(paramJson, revive);
const mod = new binding.PKCS11();
mod.load(modulePath);
mod.C_Initialize({ libraryParameters });
const s = mod.C_OpenSession(Number(slot), C.CKF_SERIAL_SESSION | C.CKF_RW_SESSION);
process.stdout.write('calling C_GenerateKey\n');
try {
  const h = mod.C_GenerateKey(s, { mechanism: C.CKM_PKCS5_PBKD2, parameter }, [
    { type: C.CKA_CLASS, value: C.CKO_SECRET_KEY },
    { type: C.CKA_KEY_TYPE, value: C.CKK_GENERIC_SECRET },
    { type: C.CKA_TOKEN, value: false },
    { type: C.CKA_SENSITIVE, value: false },
    { type: C.CKA_EXTRACTABLE, value: true },
    { type: C.CKA_VALUE_LEN, value: Number(valueLen) },
  ]);
  const [v] = mod.C_GetAttributeValue(s, h, [C.CKA_VALUE]);
  process.stdout.write(JSON.stringify({ ok: true, value: v.value.toString('hex') }) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, rv: e.rv, message: e.message }) + '\n');
}
mod.close();
