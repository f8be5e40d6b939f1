/*
 * p11bridge - PKCS#11 v3.2 basic types and general structures.
 *
 * Written for p11bridge from the PKCS#11 specification's definitions.
 * Valid as C99 and C++17. Numeric constants (CKR_*, CKA_*, CKF_*, ...)
 * live in pkcs11_constants.h; include pkcs11.h rather than this file.
 */
#ifndef P11BRIDGE_PKCS11_TYPES_H
#define P11BRIDGE_PKCS11_TYPES_H
#pragma once

/* ------------------------------------------------------------------------
 * Platform conventions.
 * Windows Cryptoki modules are built with 1-byte struct packing and cdecl
 * entry points; every other platform uses the compiler's default layout.
 * ------------------------------------------------------------------------ */
#if defined(_WIN32)
#define CK_CALL_SPEC __cdecl
#else
#define CK_CALL_SPEC
#endif

#define CK_PTR *

/* Declares a Cryptoki function (only needed by code implementing a module). */
#define CK_DECLARE_FUNCTION(returnType, name) returnType CK_CALL_SPEC name
#define CK_DEFINE_FUNCTION(returnType, name) returnType CK_CALL_SPEC name
/* Declares a pointer to a Cryptoki function: use as
 * typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_Foo)(args...); */
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) \
  returnType (CK_CALL_SPEC CK_PTR name)
/* Application-supplied callbacks (CK_NOTIFY, mutex functions). */
#define CK_CALLBACK_FUNCTION(returnType, name) \
  returnType (CK_CALL_SPEC CK_PTR name)

#if defined(_WIN32)
#pragma pack(push, p11bridge_types, 1)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Scalar types.
 * CK_ULONG is deliberately plain 'unsigned long': 8 bytes on LP64
 * (Linux/macOS), 4 bytes on LLP64 (Windows), matching what modules use.
 * ------------------------------------------------------------------------ */
typedef unsigned char CK_BYTE;
typedef CK_BYTE CK_CHAR;
typedef CK_BYTE CK_UTF8CHAR;
typedef CK_BYTE CK_BBOOL;
typedef unsigned long int CK_ULONG;
typedef long int CK_LONG;
typedef CK_ULONG CK_FLAGS;

typedef CK_BYTE CK_PTR CK_BYTE_PTR;
typedef CK_CHAR CK_PTR CK_CHAR_PTR;
typedef CK_UTF8CHAR CK_PTR CK_UTF8CHAR_PTR;
typedef CK_BBOOL CK_PTR CK_BBOOL_PTR;
typedef CK_ULONG CK_PTR CK_ULONG_PTR;
typedef CK_LONG CK_PTR CK_LONG_PTR;
typedef CK_FLAGS CK_PTR CK_FLAGS_PTR;
typedef void CK_PTR CK_VOID_PTR;
typedef CK_VOID_PTR CK_PTR CK_VOID_PTR_PTR;

/* General, slot, session and object identifiers. */
typedef CK_ULONG CK_NOTIFICATION;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_SLOT_ID CK_PTR CK_SLOT_ID_PTR;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_SESSION_HANDLE CK_PTR CK_SESSION_HANDLE_PTR;
typedef CK_ULONG CK_USER_TYPE;
typedef CK_USER_TYPE CK_PTR CK_USER_TYPE_PTR;
typedef CK_ULONG CK_STATE;
typedef CK_STATE CK_PTR CK_STATE_PTR;
typedef CK_ULONG CK_OBJECT_HANDLE;
typedef CK_OBJECT_HANDLE CK_PTR CK_OBJECT_HANDLE_PTR;
typedef CK_ULONG CK_OBJECT_CLASS;
typedef CK_OBJECT_CLASS CK_PTR CK_OBJECT_CLASS_PTR;
typedef CK_ULONG CK_HW_FEATURE_TYPE;
typedef CK_HW_FEATURE_TYPE CK_PTR CK_HW_FEATURE_TYPE_PTR;
typedef CK_ULONG CK_KEY_TYPE;
typedef CK_KEY_TYPE CK_PTR CK_KEY_TYPE_PTR;
typedef CK_ULONG CK_CERTIFICATE_TYPE;
typedef CK_CERTIFICATE_TYPE CK_PTR CK_CERTIFICATE_TYPE_PTR;
typedef CK_ULONG CK_CERTIFICATE_CATEGORY;
typedef CK_CERTIFICATE_CATEGORY CK_PTR CK_CERTIFICATE_CATEGORY_PTR;
typedef CK_ULONG CK_JAVA_MIDP_SECURITY_DOMAIN;
typedef CK_JAVA_MIDP_SECURITY_DOMAIN CK_PTR CK_JAVA_MIDP_SECURITY_DOMAIN_PTR;
typedef CK_ULONG CK_ATTRIBUTE_TYPE;
typedef CK_ATTRIBUTE_TYPE CK_PTR CK_ATTRIBUTE_TYPE_PTR;
typedef CK_ULONG CK_MECHANISM_TYPE;
typedef CK_MECHANISM_TYPE CK_PTR CK_MECHANISM_TYPE_PTR;
typedef CK_ULONG CK_RV;
typedef CK_RV CK_PTR CK_RV_PTR;
typedef CK_ULONG CK_PROFILE_ID;
typedef CK_PROFILE_ID CK_PTR CK_PROFILE_ID_PTR;
typedef CK_ULONG CK_TRUST;
typedef CK_TRUST CK_PTR CK_TRUST_PTR;

/* 3.2 validation objects / FIPS indicators. */
typedef CK_ULONG CK_VALIDATION_TYPE;
typedef CK_VALIDATION_TYPE CK_PTR CK_VALIDATION_TYPE_PTR;
typedef CK_ULONG CK_VALIDATION_AUTHORITY_TYPE;
typedef CK_VALIDATION_AUTHORITY_TYPE CK_PTR CK_VALIDATION_AUTHORITY_TYPE_PTR;
typedef CK_ULONG CK_SESSION_VALIDATION_FLAGS_TYPE;
typedef CK_SESSION_VALIDATION_FLAGS_TYPE CK_PTR CK_SESSION_VALIDATION_FLAGS_TYPE_PTR;

/* Enumerations used inside mechanism parameters (the parameter structs
 * themselves are defined elsewhere). */
typedef CK_ULONG CK_RSA_PKCS_MGF_TYPE;
typedef CK_RSA_PKCS_MGF_TYPE CK_PTR CK_RSA_PKCS_MGF_TYPE_PTR;
typedef CK_ULONG CK_RSA_PKCS_OAEP_SOURCE_TYPE;
typedef CK_RSA_PKCS_OAEP_SOURCE_TYPE CK_PTR CK_RSA_PKCS_OAEP_SOURCE_TYPE_PTR;
typedef CK_ULONG CK_EC_KDF_TYPE;
typedef CK_EC_KDF_TYPE CK_PTR CK_EC_KDF_TYPE_PTR;
typedef CK_ULONG CK_X9_42_DH_KDF_TYPE;
typedef CK_X9_42_DH_KDF_TYPE CK_PTR CK_X9_42_DH_KDF_TYPE_PTR;
typedef CK_ULONG CK_X3DH_KDF_TYPE;
typedef CK_X3DH_KDF_TYPE CK_PTR CK_X3DH_KDF_TYPE_PTR;
typedef CK_ULONG CK_X2RATCHET_KDF_TYPE;
typedef CK_X2RATCHET_KDF_TYPE CK_PTR CK_X2RATCHET_KDF_TYPE_PTR;
typedef CK_ULONG CK_XEDDSA_HASH_TYPE;
typedef CK_XEDDSA_HASH_TYPE CK_PTR CK_XEDDSA_HASH_TYPE_PTR;
typedef CK_ULONG CK_PKCS5_PBKDF2_PSEUDO_RANDOM_FUNCTION_TYPE;
typedef CK_PKCS5_PBKDF2_PSEUDO_RANDOM_FUNCTION_TYPE CK_PTR
    CK_PKCS5_PBKDF2_PSEUDO_RANDOM_FUNCTION_TYPE_PTR;
typedef CK_ULONG CK_PKCS5_PBKDF2_SALT_SOURCE_TYPE;
typedef CK_PKCS5_PBKDF2_SALT_SOURCE_TYPE CK_PTR CK_PKCS5_PBKDF2_SALT_SOURCE_TYPE_PTR;
typedef CK_ULONG CK_OTP_PARAM_TYPE;
typedef CK_OTP_PARAM_TYPE CK_PARAM_TYPE; /* older spelling kept by the spec */
typedef CK_OTP_PARAM_TYPE CK_PTR CK_OTP_PARAM_TYPE_PTR;
typedef CK_MECHANISM_TYPE CK_SP800_108_PRF_TYPE;
typedef CK_SP800_108_PRF_TYPE CK_PTR CK_SP800_108_PRF_TYPE_PTR;
typedef CK_ULONG CK_PRF_DATA_TYPE;
typedef CK_PRF_DATA_TYPE CK_PTR CK_PRF_DATA_TYPE_PTR;
typedef CK_ULONG CK_SP800_108_DKM_LENGTH_METHOD;
typedef CK_SP800_108_DKM_LENGTH_METHOD CK_PTR CK_SP800_108_DKM_LENGTH_METHOD_PTR;
typedef CK_ULONG CK_GENERATOR_FUNCTION;
typedef CK_GENERATOR_FUNCTION CK_PTR CK_GENERATOR_FUNCTION_PTR;
typedef CK_ULONG CK_HSS_LEVELS;
typedef CK_HSS_LEVELS CK_PTR CK_HSS_LEVELS_PTR;
typedef CK_ULONG CK_LMS_TYPE;
typedef CK_LMS_TYPE CK_PTR CK_LMS_TYPE_PTR;
typedef CK_ULONG CK_LMOTS_TYPE;
typedef CK_LMOTS_TYPE CK_PTR CK_LMOTS_TYPE_PTR;
typedef CK_ULONG CK_HEDGE_TYPE;
typedef CK_HEDGE_TYPE CK_PTR CK_HEDGE_TYPE_PTR;
typedef CK_ULONG CK_ML_DSA_PARAMETER_SET_TYPE;
typedef CK_ML_DSA_PARAMETER_SET_TYPE CK_PTR CK_ML_DSA_PARAMETER_SET_TYPE_PTR;
typedef CK_ULONG CK_ML_KEM_PARAMETER_SET_TYPE;
typedef CK_ML_KEM_PARAMETER_SET_TYPE CK_PTR CK_ML_KEM_PARAMETER_SET_TYPE_PTR;
typedef CK_ULONG CK_SLH_DSA_PARAMETER_SET_TYPE;
typedef CK_SLH_DSA_PARAMETER_SET_TYPE CK_PTR CK_SLH_DSA_PARAMETER_SET_TYPE_PTR;
typedef CK_ULONG CK_XMSS_PARAMETER_SET_TYPE;
typedef CK_XMSS_PARAMETER_SET_TYPE CK_PTR CK_XMSS_PARAMETER_SET_TYPE_PTR;
typedef CK_ULONG CK_XMSSMT_PARAMETER_SET_TYPE;
typedef CK_XMSSMT_PARAMETER_SET_TYPE CK_PTR CK_XMSSMT_PARAMETER_SET_TYPE_PTR;

/* ------------------------------------------------------------------------
 * General structures (member order is ABI: do not reorder).
 * ------------------------------------------------------------------------ */
typedef struct CK_VERSION {
  CK_BYTE major;
  CK_BYTE minor; /* hundredths: 2.40 is {2, 40} */
} CK_VERSION;
typedef CK_VERSION CK_PTR CK_VERSION_PTR;

typedef struct CK_INFO {
  CK_VERSION cryptokiVersion;
  CK_UTF8CHAR manufacturerID[32]; /* blank padded, not NUL terminated */
  CK_FLAGS flags;
  CK_UTF8CHAR libraryDescription[32];
  CK_VERSION libraryVersion;
} CK_INFO;
typedef CK_INFO CK_PTR CK_INFO_PTR;

typedef struct CK_SLOT_INFO {
  CK_UTF8CHAR slotDescription[64];
  CK_UTF8CHAR manufacturerID[32];
  CK_FLAGS flags;
  CK_VERSION hardwareVersion;
  CK_VERSION firmwareVersion;
} CK_SLOT_INFO;
typedef CK_SLOT_INFO CK_PTR CK_SLOT_INFO_PTR;

typedef struct CK_TOKEN_INFO {
  CK_UTF8CHAR label[32];
  CK_UTF8CHAR manufacturerID[32];
  CK_UTF8CHAR model[16];
  CK_CHAR serialNumber[16];
  CK_FLAGS flags;
  CK_ULONG ulMaxSessionCount;
  CK_ULONG ulSessionCount;
  CK_ULONG ulMaxRwSessionCount;
  CK_ULONG ulRwSessionCount;
  CK_ULONG ulMaxPinLen;
  CK_ULONG ulMinPinLen;
  CK_ULONG ulTotalPublicMemory;
  CK_ULONG ulFreePublicMemory;
  CK_ULONG ulTotalPrivateMemory;
  CK_ULONG ulFreePrivateMemory;
  CK_VERSION hardwareVersion;
  CK_VERSION firmwareVersion;
  CK_CHAR utcTime[16]; /* YYYYMMDDhhmmss00 */
} CK_TOKEN_INFO;
typedef CK_TOKEN_INFO CK_PTR CK_TOKEN_INFO_PTR;

typedef struct CK_SESSION_INFO {
  CK_SLOT_ID slotID;
  CK_STATE state;
  CK_FLAGS flags;
  CK_ULONG ulDeviceError;
} CK_SESSION_INFO;
typedef CK_SESSION_INFO CK_PTR CK_SESSION_INFO_PTR;

typedef struct CK_ATTRIBUTE {
  CK_ATTRIBUTE_TYPE type;
  CK_VOID_PTR pValue;
  CK_ULONG ulValueLen; /* CK_UNAVAILABLE_INFORMATION when not readable */
} CK_ATTRIBUTE;
typedef CK_ATTRIBUTE CK_PTR CK_ATTRIBUTE_PTR;

typedef struct CK_DATE {
  CK_CHAR year[4];  /* "1900".."9999" as characters */
  CK_CHAR month[2]; /* "01".."12" */
  CK_CHAR day[2];   /* "01".."31" */
} CK_DATE;
typedef CK_DATE CK_PTR CK_DATE_PTR;

typedef struct CK_MECHANISM {
  CK_MECHANISM_TYPE mechanism;
  CK_VOID_PTR pParameter;
  CK_ULONG ulParameterLen;
} CK_MECHANISM;
typedef CK_MECHANISM CK_PTR CK_MECHANISM_PTR;

typedef struct CK_MECHANISM_INFO {
  CK_ULONG ulMinKeySize;
  CK_ULONG ulMaxKeySize;
  CK_FLAGS flags;
} CK_MECHANISM_INFO;
typedef CK_MECHANISM_INFO CK_PTR CK_MECHANISM_INFO_PTR;

/* 3.0: an interface returned by C_GetInterfaceList / C_GetInterface.
 * pFunctionList points at a CK_FUNCTION_LIST* struct whose first member is
 * a CK_VERSION telling which layout it is. */
typedef struct CK_INTERFACE {
  CK_UTF8CHAR_PTR pInterfaceName;
  CK_VOID_PTR pFunctionList;
  CK_FLAGS flags;
} CK_INTERFACE;
typedef CK_INTERFACE CK_PTR CK_INTERFACE_PTR;
typedef CK_INTERFACE_PTR CK_PTR CK_INTERFACE_PTR_PTR;

/* 3.2: result of an asynchronous operation, filled by C_AsyncComplete. */
typedef struct CK_ASYNC_DATA {
  CK_ULONG ulVersion; /* 0 for this version of the spec */
  CK_BYTE_PTR pValue;
  CK_ULONG ulValue;
  CK_OBJECT_HANDLE hObject;
  CK_OBJECT_HANDLE hAdditionalObject;
} CK_ASYNC_DATA;
typedef CK_ASYNC_DATA CK_PTR CK_ASYNC_DATA_PTR;

/* ------------------------------------------------------------------------
 * Application callbacks.
 * ------------------------------------------------------------------------ */
typedef CK_CALLBACK_FUNCTION(CK_RV, CK_NOTIFY)(CK_SESSION_HANDLE hSession,
                                               CK_NOTIFICATION event,
                                               CK_VOID_PTR pApplication);

typedef CK_CALLBACK_FUNCTION(CK_RV, CK_CREATEMUTEX)(CK_VOID_PTR_PTR ppMutex);
typedef CK_CALLBACK_FUNCTION(CK_RV, CK_DESTROYMUTEX)(CK_VOID_PTR pMutex);
typedef CK_CALLBACK_FUNCTION(CK_RV, CK_LOCKMUTEX)(CK_VOID_PTR pMutex);
typedef CK_CALLBACK_FUNCTION(CK_RV, CK_UNLOCKMUTEX)(CK_VOID_PTR pMutex);

/* Argument of C_Initialize (passed as CK_VOID_PTR). Note: <windows.h>
 * #defines CreateMutex; include it after this header or #undef it. */
typedef struct CK_C_INITIALIZE_ARGS {
  CK_CREATEMUTEX CreateMutex;
  CK_DESTROYMUTEX DestroyMutex;
  CK_LOCKMUTEX LockMutex;
  CK_UNLOCKMUTEX UnlockMutex;
  CK_FLAGS flags;
  CK_VOID_PTR pReserved;
} CK_C_INITIALIZE_ARGS;
typedef CK_C_INITIALIZE_ARGS CK_PTR CK_C_INITIALIZE_ARGS_PTR;

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(_WIN32)
#pragma pack(pop, p11bridge_types)
#endif

#endif /* P11BRIDGE_PKCS11_TYPES_H */
