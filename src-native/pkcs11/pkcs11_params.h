/*
 * p11bridge - PKCS#11 v3.2 mechanism parameter structures.
 *
 * Written for p11bridge from the PKCS#11 specification's definitions of the
 * mechanism parameters (member names, types and order as the spec gives
 * them; member order is ABI: do not reorder). Only the parameter blocks
 * p11bridge marshals are declared here. Valid as C99 and C++17.
 *
 * Include after pkcs11.h, which supplies every scalar type (CK_ULONG,
 * CK_MECHANISM_TYPE, CK_HEDGE_TYPE, ...) and constant (CKG_*, CKZ_*, CKD_*,
 * CKF_HKDF_SALT_*, CK_SP800_108_*, ...) used below.
 */
#ifndef P11BRIDGE_PKCS11_PARAMS_H
#define P11BRIDGE_PKCS11_PARAMS_H
#pragma once

#ifndef P11BRIDGE_PKCS11_H
#error "include pkcs11.h before pkcs11_params.h"
#endif

/* Windows Cryptoki modules use 1-byte packing for every struct, including
 * mechanism parameters; other platforms use the default layout. */
#if defined(_WIN32)
#pragma pack(push, p11bridge_params, 1)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The spec spells the PBKDF2 PRF selector type "PBKD2" (without the F) in
 * the PBKDF2 parameter structs; pkcs11_types.h has the "PBKDF2" spelling.
 * Both name the same CK_ULONG. */
typedef CK_PKCS5_PBKDF2_PSEUDO_RANDOM_FUNCTION_TYPE
    CK_PKCS5_PBKD2_PSEUDO_RANDOM_FUNCTION_TYPE;
typedef CK_PKCS5_PBKD2_PSEUDO_RANDOM_FUNCTION_TYPE CK_PTR
    CK_PKCS5_PBKD2_PSEUDO_RANDOM_FUNCTION_TYPE_PTR;

/* ========================================================================
 * Block ciphers: AES counter mode and AEAD modes
 * ======================================================================== */

/* CKM_AES_CTR. */
typedef struct CK_AES_CTR_PARAMS {
  CK_ULONG ulCounterBits; /* how many low-order bits of cb are the counter */
  CK_BYTE cb[16];         /* initial counter block */
} CK_AES_CTR_PARAMS;
typedef CK_AES_CTR_PARAMS CK_PTR CK_AES_CTR_PARAMS_PTR;

/* CKM_AES_GCM (single-part and multi-part C_Encrypt/C_Decrypt). This is
 * the layout with ulIvBits that the spec has had since 2.40 errata / 3.0. */
typedef struct CK_GCM_PARAMS {
  CK_BYTE_PTR pIv;
  CK_ULONG ulIvLen;  /* bytes */
  CK_ULONG ulIvBits; /* bits; modules generally take ulIvLen */
  CK_BYTE_PTR pAAD;
  CK_ULONG ulAADLen; /* bytes */
  CK_ULONG ulTagBits;
} CK_GCM_PARAMS;
typedef CK_GCM_PARAMS CK_PTR CK_GCM_PARAMS_PTR;

/* CKM_AES_CCM. */
typedef struct CK_CCM_PARAMS {
  CK_ULONG ulDataLen; /* length of the plaintext or ciphertext */
  CK_BYTE_PTR pNonce;
  CK_ULONG ulNonceLen;
  CK_BYTE_PTR pAAD;
  CK_ULONG ulAADLen;
  CK_ULONG ulMACLen; /* bytes */
} CK_CCM_PARAMS;
typedef CK_CCM_PARAMS CK_PTR CK_CCM_PARAMS_PTR;

/* CKM_AES_GCM with the 3.0 message-based functions (C_EncryptMessage...).
 * pIv and pTag are in/out depending on ivGenerator and direction. */
typedef struct CK_GCM_MESSAGE_PARAMS {
  CK_BYTE_PTR pIv;
  CK_ULONG ulIvLen;
  CK_ULONG ulIvFixedBits;
  CK_GENERATOR_FUNCTION ivGenerator; /* CKG_* */
  CK_BYTE_PTR pTag;
  CK_ULONG ulTagBits;
} CK_GCM_MESSAGE_PARAMS;
typedef CK_GCM_MESSAGE_PARAMS CK_PTR CK_GCM_MESSAGE_PARAMS_PTR;

/* CKM_AES_CCM with the message-based functions. */
typedef struct CK_CCM_MESSAGE_PARAMS {
  CK_ULONG ulDataLen;
  CK_BYTE_PTR pNonce;
  CK_ULONG ulNonceLen;
  CK_ULONG ulNonceFixedBits;
  CK_GENERATOR_FUNCTION nonceGenerator; /* CKG_* */
  CK_BYTE_PTR pMAC;
  CK_ULONG ulMACLen;
} CK_CCM_MESSAGE_PARAMS;
typedef CK_CCM_MESSAGE_PARAMS CK_PTR CK_CCM_MESSAGE_PARAMS_PTR;

/* ========================================================================
 * ChaCha20 / Salsa20 (+ Poly1305)
 * ======================================================================== */

/* CKM_CHACHA20. */
typedef struct CK_CHACHA20_PARAMS {
  CK_BYTE_PTR pBlockCounter;
  CK_ULONG blockCounterBits; /* 32 or 64; the spec omits the ul prefix */
  CK_BYTE_PTR pNonce;
  CK_ULONG ulNonceBits; /* 64, 96 or 192 */
} CK_CHACHA20_PARAMS;
typedef CK_CHACHA20_PARAMS CK_PTR CK_CHACHA20_PARAMS_PTR;

/* CKM_SALSA20. */
typedef struct CK_SALSA20_PARAMS {
  CK_BYTE_PTR pBlockCounter; /* 64-bit counter */
  CK_BYTE_PTR pNonce;
  CK_ULONG ulNonceBits; /* 64 or 192 */
} CK_SALSA20_PARAMS;
typedef CK_SALSA20_PARAMS CK_PTR CK_SALSA20_PARAMS_PTR;

/* CKM_CHACHA20_POLY1305 / CKM_SALSA20_POLY1305 with C_Encrypt/C_Decrypt. */
typedef struct CK_SALSA20_CHACHA20_POLY1305_PARAMS {
  CK_BYTE_PTR pNonce;
  CK_ULONG ulNonceLen; /* the spec describes this length in bits */
  CK_BYTE_PTR pAAD;
  CK_ULONG ulAADLen; /* bytes */
} CK_SALSA20_CHACHA20_POLY1305_PARAMS;
typedef CK_SALSA20_CHACHA20_POLY1305_PARAMS CK_PTR
    CK_SALSA20_CHACHA20_POLY1305_PARAMS_PTR;

/* The same mechanisms with the message-based functions; pTag must have
 * room for 16 bytes. */
typedef struct CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS {
  CK_BYTE_PTR pNonce;
  CK_ULONG ulNonceLen;
  CK_BYTE_PTR pTag;
} CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS;
typedef CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS CK_PTR
    CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS_PTR;

/* ========================================================================
 * RSA
 * ======================================================================== */

/* CKM_RSA_PKCS_OAEP. */
typedef struct CK_RSA_PKCS_OAEP_PARAMS {
  CK_MECHANISM_TYPE hashAlg;
  CK_RSA_PKCS_MGF_TYPE mgf;            /* CKG_MGF1_* */
  CK_RSA_PKCS_OAEP_SOURCE_TYPE source; /* 0 or CKZ_DATA_SPECIFIED */
  CK_VOID_PTR pSourceData;             /* the label */
  CK_ULONG ulSourceDataLen;
} CK_RSA_PKCS_OAEP_PARAMS;
typedef CK_RSA_PKCS_OAEP_PARAMS CK_PTR CK_RSA_PKCS_OAEP_PARAMS_PTR;

/* CKM_RSA_PKCS_PSS and CKM_SHA*_RSA_PKCS_PSS. */
typedef struct CK_RSA_PKCS_PSS_PARAMS {
  CK_MECHANISM_TYPE hashAlg;
  CK_RSA_PKCS_MGF_TYPE mgf;
  CK_ULONG sLen; /* salt length in bytes */
} CK_RSA_PKCS_PSS_PARAMS;
typedef CK_RSA_PKCS_PSS_PARAMS CK_PTR CK_RSA_PKCS_PSS_PARAMS_PTR;

/* ========================================================================
 * Elliptic curves
 * ======================================================================== */

/* CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE. */
typedef struct CK_ECDH1_DERIVE_PARAMS {
  CK_EC_KDF_TYPE kdf; /* CKD_* */
  CK_ULONG ulSharedDataLen;
  CK_BYTE_PTR pSharedData;
  CK_ULONG ulPublicDataLen;
  CK_BYTE_PTR pPublicData; /* the other party's public key (point) */
} CK_ECDH1_DERIVE_PARAMS;
typedef CK_ECDH1_DERIVE_PARAMS CK_PTR CK_ECDH1_DERIVE_PARAMS_PTR;

/* Each party contributes two key pairs. */
typedef struct CK_ECDH2_DERIVE_PARAMS {
  CK_EC_KDF_TYPE kdf;
  CK_ULONG ulSharedDataLen;
  CK_BYTE_PTR pSharedData;
  CK_ULONG ulPublicDataLen;
  CK_BYTE_PTR pPublicData;
  CK_ULONG ulPrivateDataLen;
  CK_OBJECT_HANDLE hPrivateData;
  CK_ULONG ulPublicDataLen2;
  CK_BYTE_PTR pPublicData2;
} CK_ECDH2_DERIVE_PARAMS;
typedef CK_ECDH2_DERIVE_PARAMS CK_PTR CK_ECDH2_DERIVE_PARAMS_PTR;

/* CKM_ECMQV_DERIVE: the ECDH2 fields plus the handle of the first party's
 * EC public key. */
typedef struct CK_ECMQV_DERIVE_PARAMS {
  CK_EC_KDF_TYPE kdf;
  CK_ULONG ulSharedDataLen;
  CK_BYTE_PTR pSharedData;
  CK_ULONG ulPublicDataLen;
  CK_BYTE_PTR pPublicData;
  CK_ULONG ulPrivateDataLen;
  CK_OBJECT_HANDLE hPrivateData;
  CK_ULONG ulPublicDataLen2;
  CK_BYTE_PTR pPublicData2;
  CK_OBJECT_HANDLE publicKey;
} CK_ECMQV_DERIVE_PARAMS;
typedef CK_ECMQV_DERIVE_PARAMS CK_PTR CK_ECMQV_DERIVE_PARAMS_PTR;

/* CKM_EDDSA (optional: absent means pure Ed25519/Ed448 without context). */
typedef struct CK_EDDSA_PARAMS {
  CK_BBOOL phFlag; /* CK_TRUE selects the pre-hashed variant */
  CK_ULONG ulContextDataLen;
  CK_BYTE_PTR pContextData;
} CK_EDDSA_PARAMS;
typedef CK_EDDSA_PARAMS CK_PTR CK_EDDSA_PARAMS_PTR;

/* ========================================================================
 * ML-DSA / SLH-DSA (3.2)
 * ======================================================================== */

/* CKM_ML_DSA, CKM_SLH_DSA and their pre-hash-with-named-hash forms
 * (CKM_HASH_ML_DSA_SHA256, ...). */
typedef struct CK_SIGN_ADDITIONAL_CONTEXT {
  CK_HEDGE_TYPE hedgeVariant; /* CKH_HEDGE_PREFERRED / _REQUIRED / CKH_DETERMINISTIC_REQUIRED */
  CK_BYTE_PTR pContext;
  CK_ULONG ulContextLen; /* at most 255 */
} CK_SIGN_ADDITIONAL_CONTEXT;
typedef CK_SIGN_ADDITIONAL_CONTEXT CK_PTR CK_SIGN_ADDITIONAL_CONTEXT_PTR;

/* CKM_HASH_ML_DSA / CKM_HASH_SLH_DSA: the caller passes the digest and
 * names the hash that produced it. */
typedef struct CK_HASH_SIGN_ADDITIONAL_CONTEXT {
  CK_HEDGE_TYPE hedgeVariant;
  CK_BYTE_PTR pContext;
  CK_ULONG ulContextLen;
  CK_MECHANISM_TYPE hash;
} CK_HASH_SIGN_ADDITIONAL_CONTEXT;
typedef CK_HASH_SIGN_ADDITIONAL_CONTEXT CK_PTR
    CK_HASH_SIGN_ADDITIONAL_CONTEXT_PTR;

/* ========================================================================
 * Key derivation
 * ======================================================================== */

/* CKM_HKDF_DERIVE, CKM_HKDF_DATA. */
typedef struct CK_HKDF_PARAMS {
  CK_BBOOL bExtract;
  CK_BBOOL bExpand;
  CK_MECHANISM_TYPE prfHashMechanism;
  CK_ULONG ulSaltType; /* CKF_HKDF_SALT_NULL / _DATA / _KEY */
  CK_BYTE_PTR pSalt;
  CK_ULONG ulSaltLen;
  CK_OBJECT_HANDLE hSaltKey;
  CK_BYTE_PTR pInfo;
  CK_ULONG ulInfoLen;
} CK_HKDF_PARAMS;
typedef CK_HKDF_PARAMS CK_PTR CK_HKDF_PARAMS_PTR;

/* CKM_PKCS5_PBKD2, original form: ulPasswordLen is a *pointer* to the
 * length (a spec mistake kept for compatibility; the spec keeps the field
 * name ulPasswordLen despite the pointer type). Prefer PARAMS2. */
typedef struct CK_PKCS5_PBKD2_PARAMS {
  CK_PKCS5_PBKDF2_SALT_SOURCE_TYPE saltSource; /* CKZ_SALT_SPECIFIED */
  CK_VOID_PTR pSaltSourceData;
  CK_ULONG ulSaltSourceDataLen;
  CK_ULONG iterations;
  CK_PKCS5_PBKD2_PSEUDO_RANDOM_FUNCTION_TYPE prf; /* CKP_PKCS5_PBKD2_HMAC_* */
  CK_VOID_PTR pPrfData;
  CK_ULONG ulPrfDataLen;
  CK_UTF8CHAR_PTR pPassword;
  CK_ULONG_PTR ulPasswordLen;
} CK_PKCS5_PBKD2_PARAMS;
typedef CK_PKCS5_PBKD2_PARAMS CK_PTR CK_PKCS5_PBKD2_PARAMS_PTR;

/* CKM_PKCS5_PBKD2, corrected form (2.40 onwards): same layout size, but
 * ulPasswordLen holds the length itself. */
typedef struct CK_PKCS5_PBKD2_PARAMS2 {
  CK_PKCS5_PBKDF2_SALT_SOURCE_TYPE saltSource;
  CK_VOID_PTR pSaltSourceData;
  CK_ULONG ulSaltSourceDataLen;
  CK_ULONG iterations;
  CK_PKCS5_PBKD2_PSEUDO_RANDOM_FUNCTION_TYPE prf;
  CK_VOID_PTR pPrfData;
  CK_ULONG ulPrfDataLen;
  CK_UTF8CHAR_PTR pPassword;
  CK_ULONG ulPasswordLen;
} CK_PKCS5_PBKD2_PARAMS2;
typedef CK_PKCS5_PBKD2_PARAMS2 CK_PTR CK_PKCS5_PBKD2_PARAMS2_PTR;

/* SP 800-108 KDFs: one data parameter of the PRF input. type is one of
 * CK_SP800_108_ITERATION_VARIABLE, _COUNTER, _DKM_LENGTH, _BYTE_ARRAY,
 * _KEY_HANDLE; pValue points at a CK_SP800_108_COUNTER_FORMAT,
 * CK_SP800_108_DKM_LENGTH_FORMAT, bytes or a CK_OBJECT_HANDLE. */
typedef struct CK_PRF_DATA_PARAM {
  CK_PRF_DATA_TYPE type;
  CK_VOID_PTR pValue;
  CK_ULONG ulValueLen;
} CK_PRF_DATA_PARAM;
typedef CK_PRF_DATA_PARAM CK_PTR CK_PRF_DATA_PARAM_PTR;

typedef struct CK_SP800_108_COUNTER_FORMAT {
  CK_BBOOL bLittleEndian;
  CK_ULONG ulWidthInBits;
} CK_SP800_108_COUNTER_FORMAT;
typedef CK_SP800_108_COUNTER_FORMAT CK_PTR CK_SP800_108_COUNTER_FORMAT_PTR;

typedef struct CK_SP800_108_DKM_LENGTH_FORMAT {
  CK_SP800_108_DKM_LENGTH_METHOD dkmLengthMethod; /* CK_SP800_108_DKM_LENGTH_SUM_OF_* */
  CK_BBOOL bLittleEndian;
  CK_ULONG ulWidthInBits;
} CK_SP800_108_DKM_LENGTH_FORMAT;
typedef CK_SP800_108_DKM_LENGTH_FORMAT CK_PTR
    CK_SP800_108_DKM_LENGTH_FORMAT_PTR;

/* An extra key to derive in the same KDF invocation; the module writes its
 * handle to *phKey. */
typedef struct CK_DERIVED_KEY {
  CK_ATTRIBUTE_PTR pTemplate;
  CK_ULONG ulAttributeCount;
  CK_OBJECT_HANDLE_PTR phKey;
} CK_DERIVED_KEY;
typedef CK_DERIVED_KEY CK_PTR CK_DERIVED_KEY_PTR;

/* CKM_SP800_108_COUNTER_KDF and CKM_SP800_108_DOUBLE_PIPELINE_KDF. */
typedef struct CK_SP800_108_KDF_PARAMS {
  CK_SP800_108_PRF_TYPE prfType;
  CK_ULONG ulNumberOfDataParams;
  CK_PRF_DATA_PARAM_PTR pDataParams;
  CK_ULONG ulAdditionalDerivedKeys;
  CK_DERIVED_KEY_PTR pAdditionalDerivedKeys;
} CK_SP800_108_KDF_PARAMS;
typedef CK_SP800_108_KDF_PARAMS CK_PTR CK_SP800_108_KDF_PARAMS_PTR;

/* CKM_SP800_108_FEEDBACK_KDF: adds the IV between the data parameters and
 * the additional keys. */
typedef struct CK_SP800_108_FEEDBACK_KDF_PARAMS {
  CK_SP800_108_PRF_TYPE prfType;
  CK_ULONG ulNumberOfDataParams;
  CK_PRF_DATA_PARAM_PTR pDataParams;
  CK_ULONG ulIVLen;
  CK_BYTE_PTR pIV;
  CK_ULONG ulAdditionalDerivedKeys;
  CK_DERIVED_KEY_PTR pAdditionalDerivedKeys;
} CK_SP800_108_FEEDBACK_KDF_PARAMS;
typedef CK_SP800_108_FEEDBACK_KDF_PARAMS CK_PTR
    CK_SP800_108_FEEDBACK_KDF_PARAMS_PTR;

/* CKM_CONCATENATE_BASE_AND_DATA, CKM_XOR_BASE_AND_DATA,
 * CKM_AES_ECB_ENCRYPT_DATA, ... */
typedef struct CK_KEY_DERIVATION_STRING_DATA {
  CK_BYTE_PTR pData;
  CK_ULONG ulLen;
} CK_KEY_DERIVATION_STRING_DATA;
typedef CK_KEY_DERIVATION_STRING_DATA CK_PTR CK_KEY_DERIVATION_STRING_DATA_PTR;

/* CKM_AES_CBC_ENCRYPT_DATA. */
typedef struct CK_AES_CBC_ENCRYPT_DATA_PARAMS {
  CK_BYTE iv[16];
  CK_BYTE_PTR pData;
  CK_ULONG length; /* the spec's name, without the ul prefix */
} CK_AES_CBC_ENCRYPT_DATA_PARAMS;
typedef CK_AES_CBC_ENCRYPT_DATA_PARAMS CK_PTR
    CK_AES_CBC_ENCRYPT_DATA_PARAMS_PTR;

/* ========================================================================
 * Key wrapping
 * ======================================================================== */

/* CKM_KEY_WRAP_SET_OAEP (historical SET mechanism). */
typedef struct CK_KEY_WRAP_SET_OAEP_PARAMS {
  CK_BYTE bBC; /* block contents byte */
  CK_BYTE_PTR pX;
  CK_ULONG ulXLen;
} CK_KEY_WRAP_SET_OAEP_PARAMS;
typedef CK_KEY_WRAP_SET_OAEP_PARAMS CK_PTR CK_KEY_WRAP_SET_OAEP_PARAMS_PTR;

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(_WIN32)
#pragma pack(pop, p11bridge_params)
#endif

#endif /* P11BRIDGE_PKCS11_PARAMS_H */
