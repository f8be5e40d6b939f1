// The loop bench/facade/callgrind.js counts: node callgrind-child.js IMPL ROW N MODULE, IMPL
// pkcs11js, facade or raw (p11bridge/raw, numbers for handles, C_Sign's output sized by the
// module as bench/raw's default row), with N operations of ROW after the same set-up (N = 0:
// set-up only).
'use strict';
const path = require('node:path');

const [impl, row, nText, modulePath] = process.argv.slice(2);
const n = Number(nText);
const dist = path.join(__dirname, '..', '..', 'dist');
const pk = impl === 'pkcs11js' ? require('pkcs11js') : require(path.join(dist, impl === 'raw' ? 'raw.js' : path.join('compat', 'pkcs11js', 'index.js')));
const raw = impl === 'raw';
const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex');
const DIGEST = Buffer.alloc(32, 7);
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

const mod = raw ? new pk.PKCS11() : new pk.PKCS11(modulePath);
if (raw) mod.load(modulePath, { deepBind: false }); // as the other two: SoftHSM binds Node's OpenSSL
mod.C_Initialize({ flags: pk.CKF_OS_LOCKING_OK });
const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label.trim() === 'bench');
const h = mod.C_OpenSession(slot, pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION);
mod.C_Login(h, pk.CKU_USER, '1234');
const { privateKey } = mod.C_GenerateKeyPair(
  h,
  { mechanism: pk.CKM_EC_KEY_PAIR_GEN },
  [{ type: pk.CKA_TOKEN, value: false }, { type: pk.CKA_EC_PARAMS, value: P256_OID }, { type: pk.CKA_VERIFY, value: true }],
  [{ type: pk.CKA_TOKEN, value: false }, { type: pk.CKA_SIGN, value: true }],
);
const out = Buffer.alloc(72);
const ecdsa = { mechanism: pk.CKM_ECDSA };
const sha256 = { mechanism: pk.CKM_SHA256 };
for (let i = 0; i < n; i++) {
  if (row === 'cheap') {
    mod.C_GetSessionInfo(h);
  } else if (row === 'sign') {
    mod.C_SignInit(h, ecdsa, privateKey);
    if ((raw ? mod.C_Sign(h, DIGEST) : mod.C_Sign(h, DIGEST, out)).length !== 64) throw new Error('bad signature length');
  } else if (row === 'digest') {
    mod.C_DigestInit(h, sha256);
    if (raw) mod.C_Digest(h, DIGEST);
    else mod.C_Digest(h, DIGEST, out);
  } else if (row === 'sha') {
    mod.C_DigestInit(h, sha256);
    for (let k = 0; k < 16; k++) mod.C_DigestUpdate(h, CHUNK);
    if (raw) mod.C_DigestFinal(h);
    else mod.C_DigestFinal(h, out);
  } else {
    throw new Error(`unknown row ${row}`);
  }
}
mod.C_Logout(h);
mod.C_CloseSession(h);
mod.C_Finalize();
