// One sample description per header struct of test/native/layout.c: the one list both struct
// layout checks use, test/layout.test.ts (Linux, ts-jest, lib/ sources) and the Windows run
// (scripts/wine-run.js, on the packed package's dist/ under Wine, without ts-jest), so it is plain
// JS. Each checks that this list and the layout program's output name the same structs, so the
// two cannot drift apart silently.
//   P: lib/mechanisms/params (or the package's dist/mechanisms/params.js); raw: p11bridge/raw.
'use strict';

module.exports = function described(P, raw) {
  const { CKM_SHA256, CKG_MGF1_SHA256, CKM_SHA256_HMAC, CKA_CLASS, CKO_SECRET_KEY, structLayout } = raw;
  const b = (n) => Buffer.alloc(n, 1);
  const size = (f) => structLayout(f).size;
  return {
    CK_AES_CTR_PARAMS: P.aesCtrParams({ counterBits: 32, counterBlock: b(16) }),
    CK_GCM_PARAMS: P.gcmParams({ iv: b(12), additionalData: b(3), tagBits: 128 }),
    CK_CCM_PARAMS: P.ccmParams({ dataLength: 10, nonce: b(12), additionalData: b(3), macLength: 16 }),
    CK_GCM_MESSAGE_PARAMS: P.gcmMessageParams({ iv: b(12), tag: b(16) }),
    CK_CCM_MESSAGE_PARAMS: P.ccmMessageParams({ dataLength: 10, nonce: b(12), mac: b(16) }),
    CK_RSA_PKCS_OAEP_PARAMS: P.oaepParams({ hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, label: b(4) }),
    CK_RSA_PKCS_PSS_PARAMS: P.pssParams({ hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, saltLength: 32 }),
    CK_ECDH1_DERIVE_PARAMS: P.ecdh1DeriveParams({ publicData: b(65) }),
    CK_ECDH2_DERIVE_PARAMS: P.ecdh2DeriveParams({ publicData: b(65), privateDataLength: 32, privateData: 5, publicData2: b(65) }),
    CK_ECMQV_DERIVE_PARAMS: P.ecdh2DeriveParams({ publicData: b(65), privateDataLength: 32, privateData: 5, publicData2: b(65), publicKey: 6 }),
    CK_EDDSA_PARAMS: P.eddsaParams({ preHash: true, context: b(3) }),
    CK_HKDF_PARAMS: P.hkdfParams({ extract: true, expand: true, prfHashMechanism: CKM_SHA256, salt: b(8), info: b(4) }),
    CK_PKCS5_PBKD2_PARAMS2: P.pbkdf2Params({ salt: b(8), iterations: 1000, prf: 2, password: b(6) }),
    CK_PKCS5_PBKD2_PARAMS: P.pbkdf2ParamsLegacy({ salt: b(8), iterations: 1000, prf: 2, password: b(6) }),
    CK_PRF_DATA_PARAM: [{ ulong: 1 }, { bytes: b(4) }, { ulong: 4 }],
    CK_SP800_108_COUNTER_FORMAT: P.sp800108CounterFormat({ widthInBits: 32 }),
    CK_SP800_108_DKM_LENGTH_FORMAT: P.sp800108DkmLengthFormat({ method: 1, widthInBits: 32 }),
    CK_DERIVED_KEY: P.derivedKey({ template: [{ type: CKA_CLASS, value: CKO_SECRET_KEY }], handle: b(8) }),
    CK_SP800_108_KDF_PARAMS: P.sp800108Params({ prfType: CKM_SHA256_HMAC, dataParams: [{ type: 1, value: P.sp800108CounterFormat({ widthInBits: 16 }) }] }, size),
    CK_SP800_108_FEEDBACK_KDF_PARAMS: P.sp800108FeedbackParams({ prfType: CKM_SHA256_HMAC, dataParams: [], iv: b(4) }, size),
    CK_CHACHA20_PARAMS: P.chacha20Params({ blockCounter: b(4), nonce: b(12) }),
    CK_SALSA20_CHACHA20_POLY1305_PARAMS: P.chacha20Poly1305Params({ nonce: b(12), additionalData: b(2) }),
    CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS: P.chacha20Poly1305MessageParams({ nonce: b(12), tag: b(16) }),
    CK_KEY_DERIVATION_STRING_DATA: P.keyDerivationStringData(b(5)),
    CK_AES_CBC_ENCRYPT_DATA_PARAMS: P.aesCbcEncryptDataParams({ iv: b(16), data: b(16) }),
    CK_SIGN_ADDITIONAL_CONTEXT: P.signAdditionalContext({ hedgeVariant: 0, context: b(3) }),
    CK_HASH_SIGN_ADDITIONAL_CONTEXT: P.hashSignAdditionalContext({ hedgeVariant: 0, hash: CKM_SHA256 }),
  };
};
