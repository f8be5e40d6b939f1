/*
 * p11bridge - PKCS#11 v3.2 interface: the single header to include.
 *
 * Written for p11bridge from the PKCS#11 specification's definitions.
 * Pulls in the constants (pkcs11_constants.h), the types (pkcs11_types.h)
 * and the function-name X-macros (pkcs11_function_names.h), then declares
 * one CK_C_<Name> pointer type per function and the three function list
 * structs. Valid as C99 and C++17.
 */
#ifndef P11BRIDGE_PKCS11_H
#define P11BRIDGE_PKCS11_H
#pragma once

/* Types first, so the generated constants may use them in casts. */
#include "pkcs11_types.h"
#include "pkcs11_constants.h"
#include "pkcs11_function_names.h"

#if defined(_WIN32)
#pragma pack(push, p11bridge_functions, 1)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Forward declarations: C_GetFunctionList takes CK_FUNCTION_LIST_PTR_PTR. */
typedef struct CK_FUNCTION_LIST CK_FUNCTION_LIST;
typedef CK_FUNCTION_LIST CK_PTR CK_FUNCTION_LIST_PTR;
typedef CK_FUNCTION_LIST_PTR CK_PTR CK_FUNCTION_LIST_PTR_PTR;

typedef struct CK_FUNCTION_LIST_3_0 CK_FUNCTION_LIST_3_0;
typedef CK_FUNCTION_LIST_3_0 CK_PTR CK_FUNCTION_LIST_3_0_PTR;
typedef CK_FUNCTION_LIST_3_0_PTR CK_PTR CK_FUNCTION_LIST_3_0_PTR_PTR;

typedef struct CK_FUNCTION_LIST_3_2 CK_FUNCTION_LIST_3_2;
typedef CK_FUNCTION_LIST_3_2 CK_PTR CK_FUNCTION_LIST_3_2_PTR;
typedef CK_FUNCTION_LIST_3_2_PTR CK_PTR CK_FUNCTION_LIST_3_2_PTR_PTR;

/* ========================================================================
 * Function pointer types, 2.40 (68)
 * ======================================================================== */

/* General purpose */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_Initialize)(
    CK_VOID_PTR pInitArgs);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_Finalize)(
    CK_VOID_PTR pReserved);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetInfo)(
    CK_INFO_PTR pInfo);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetFunctionList)(
    CK_FUNCTION_LIST_PTR_PTR ppFunctionList);

/* Slot and token management */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetSlotList)(
    CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetSlotInfo)(
    CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetTokenInfo)(
    CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetMechanismList)(
    CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
    CK_ULONG_PTR pulCount);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetMechanismInfo)(
    CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_InitToken)(
    CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
    CK_UTF8CHAR_PTR pLabel);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_InitPIN)(
    CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SetPIN)(
    CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
    CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen);

/* Session management */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_OpenSession)(
    CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
    CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_CloseSession)(
    CK_SESSION_HANDLE hSession);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_CloseAllSessions)(
    CK_SLOT_ID slotID);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetSessionInfo)(
    CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetOperationState)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
    CK_ULONG_PTR pulOperationStateLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SetOperationState)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
    CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
    CK_OBJECT_HANDLE hAuthenticationKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_Login)(
    CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
    CK_ULONG ulPinLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_Logout)(
    CK_SESSION_HANDLE hSession);

/* Object management */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_CreateObject)(
    CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
    CK_OBJECT_HANDLE_PTR phObject);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_CopyObject)(
    CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
    CK_OBJECT_HANDLE_PTR phNewObject);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DestroyObject)(
    CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetObjectSize)(
    CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ULONG_PTR pulSize);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetAttributeValue)(
    CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SetAttributeValue)(
    CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_FindObjectsInit)(
    CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_FindObjects)(
    CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
    CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_FindObjectsFinal)(
    CK_SESSION_HANDLE hSession);

/* Encryption */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_EncryptInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_Encrypt)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_EncryptUpdate)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_EncryptFinal)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
    CK_ULONG_PTR pulLastEncryptedPartLen);

/* Decryption */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DecryptInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_Decrypt)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
    CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DecryptUpdate)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DecryptFinal)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
    CK_ULONG_PTR pulLastPartLen);

/* Message digesting */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DigestInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_Digest)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DigestUpdate)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DigestKey)(
    CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DigestFinal)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
    CK_ULONG_PTR pulDigestLen);

/* Signing and MACing */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SignInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_Sign)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SignUpdate)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SignFinal)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG_PTR pulSignatureLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SignRecoverInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SignRecover)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen);

/* Verifying signatures and MACs */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifyInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_Verify)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifyUpdate)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifyFinal)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifyRecoverInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifyRecover)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen);

/* Dual-function cryptographic operations */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DigestEncryptUpdate)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DecryptDigestUpdate)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SignEncryptUpdate)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DecryptVerifyUpdate)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen);

/* Key management */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GenerateKey)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GenerateKeyPair)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
    CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
    CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_WrapKey)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
    CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_UnwrapKey)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
    CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
    CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DeriveKey)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
    CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey);

/* Random number generation */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SeedRandom)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GenerateRandom)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData, CK_ULONG ulRandomLen);

/* Parallel function management (legacy) and slot events */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetFunctionStatus)(
    CK_SESSION_HANDLE hSession);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_CancelFunction)(
    CK_SESSION_HANDLE hSession);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_WaitForSlotEvent)(
    CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved);

/* ========================================================================
 * Function pointer types added in 3.0 (24)
 * ======================================================================== */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetInterfaceList)(
    CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetInterface)(
    CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
    CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_LoginUser)(
    CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
    CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SessionCancel)(
    CK_SESSION_HANDLE hSession, CK_FLAGS flags);

/* Message-based encryption */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_MessageEncryptInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_EncryptMessage)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
    CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,
    CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
    CK_ULONG_PTR pulCiphertextLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_EncryptMessageBegin)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
    CK_ULONG ulAssociatedDataLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_EncryptMessageNext)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart,
    CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart,
    CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_MessageEncryptFinal)(
    CK_SESSION_HANDLE hSession);

/* Message-based decryption */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_MessageDecryptInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DecryptMessage)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
    CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,
    CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
    CK_ULONG_PTR pulPlaintextLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DecryptMessageBegin)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
    CK_ULONG ulAssociatedDataLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DecryptMessageNext)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart,
    CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart,
    CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_MessageDecryptFinal)(
    CK_SESSION_HANDLE hSession);

/* Message-based signing and MACing */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_MessageSignInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SignMessage)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SignMessageBegin)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_SignMessageNext)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_MessageSignFinal)(
    CK_SESSION_HANDLE hSession);

/* Message-based verification */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_MessageVerifyInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifyMessage)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifyMessageBegin)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifyMessageNext)(
    CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_MessageVerifyFinal)(
    CK_SESSION_HANDLE hSession);

/* ========================================================================
 * Function pointer types added in 3.2 (12)
 * ======================================================================== */

/* KEM: note the ciphertext comes after the template and before phKey. */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_EncapsulateKey)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hPublicKey, CK_ATTRIBUTE_PTR pTemplate,
    CK_ULONG ulAttributeCount, CK_BYTE_PTR pCiphertext,
    CK_ULONG_PTR pulCiphertextLen, CK_OBJECT_HANDLE_PTR phKey);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_DecapsulateKey)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hPrivateKey, CK_ATTRIBUTE_PTR pTemplate,
    CK_ULONG ulAttributeCount, CK_BYTE_PTR pCiphertext,
    CK_ULONG ulCiphertextLen, CK_OBJECT_HANDLE_PTR phKey);

/* Verification with the signature supplied up front. */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifySignatureInit)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifySignature)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifySignatureUpdate)(
    CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_VerifySignatureFinal)(
    CK_SESSION_HANDLE hSession);

typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_GetSessionValidationFlags)(
    CK_SESSION_HANDLE hSession, CK_SESSION_VALIDATION_FLAGS_TYPE type,
    CK_FLAGS_PTR pFlags);

/* Asynchronous sessions */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_AsyncComplete)(
    CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pFunctionName,
    CK_ASYNC_DATA_PTR pResult);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_AsyncGetID)(
    CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pFunctionName,
    CK_ULONG_PTR pulID);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_AsyncJoin)(
    CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pFunctionName, CK_ULONG ulID,
    CK_BYTE_PTR pData, CK_ULONG ulData);

/* Authenticated key wrapping (AAD bound to the wrapped key) */
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_WrapKeyAuthenticated)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
    CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
    CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen);
typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_C_UnwrapKeyAuthenticated)(
    CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
    CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
    CK_ULONG ulAttributeCount, CK_BYTE_PTR pAssociatedData,
    CK_ULONG ulAssociatedDataLen, CK_OBJECT_HANDLE_PTR phKey);

/* ========================================================================
 * Function lists. Member order is ABI and must match
 * pkcs11_function_names.h (checked below in C++). Each newer list starts
 * with the whole previous list, so a 3.2 list can be read as a 3.0 or 2.40
 * one.
 * ======================================================================== */

/* Members shared by all three lists, kept in one place so the prefixes
 * cannot drift apart. */
#define P11_LIST_MEMBERS_2_40                             \
  CK_C_Initialize C_Initialize;                           \
  CK_C_Finalize C_Finalize;                               \
  CK_C_GetInfo C_GetInfo;                                 \
  CK_C_GetFunctionList C_GetFunctionList;                 \
  CK_C_GetSlotList C_GetSlotList;                         \
  CK_C_GetSlotInfo C_GetSlotInfo;                         \
  CK_C_GetTokenInfo C_GetTokenInfo;                       \
  CK_C_GetMechanismList C_GetMechanismList;               \
  CK_C_GetMechanismInfo C_GetMechanismInfo;               \
  CK_C_InitToken C_InitToken;                             \
  CK_C_InitPIN C_InitPIN;                                 \
  CK_C_SetPIN C_SetPIN;                                   \
  CK_C_OpenSession C_OpenSession;                         \
  CK_C_CloseSession C_CloseSession;                       \
  CK_C_CloseAllSessions C_CloseAllSessions;               \
  CK_C_GetSessionInfo C_GetSessionInfo;                   \
  CK_C_GetOperationState C_GetOperationState;             \
  CK_C_SetOperationState C_SetOperationState;             \
  CK_C_Login C_Login;                                     \
  CK_C_Logout C_Logout;                                   \
  CK_C_CreateObject C_CreateObject;                       \
  CK_C_CopyObject C_CopyObject;                           \
  CK_C_DestroyObject C_DestroyObject;                     \
  CK_C_GetObjectSize C_GetObjectSize;                     \
  CK_C_GetAttributeValue C_GetAttributeValue;             \
  CK_C_SetAttributeValue C_SetAttributeValue;             \
  CK_C_FindObjectsInit C_FindObjectsInit;                 \
  CK_C_FindObjects C_FindObjects;                         \
  CK_C_FindObjectsFinal C_FindObjectsFinal;               \
  CK_C_EncryptInit C_EncryptInit;                         \
  CK_C_Encrypt C_Encrypt;                                 \
  CK_C_EncryptUpdate C_EncryptUpdate;                     \
  CK_C_EncryptFinal C_EncryptFinal;                       \
  CK_C_DecryptInit C_DecryptInit;                         \
  CK_C_Decrypt C_Decrypt;                                 \
  CK_C_DecryptUpdate C_DecryptUpdate;                     \
  CK_C_DecryptFinal C_DecryptFinal;                       \
  CK_C_DigestInit C_DigestInit;                           \
  CK_C_Digest C_Digest;                                   \
  CK_C_DigestUpdate C_DigestUpdate;                       \
  CK_C_DigestKey C_DigestKey;                             \
  CK_C_DigestFinal C_DigestFinal;                         \
  CK_C_SignInit C_SignInit;                               \
  CK_C_Sign C_Sign;                                       \
  CK_C_SignUpdate C_SignUpdate;                           \
  CK_C_SignFinal C_SignFinal;                             \
  CK_C_SignRecoverInit C_SignRecoverInit;                 \
  CK_C_SignRecover C_SignRecover;                         \
  CK_C_VerifyInit C_VerifyInit;                           \
  CK_C_Verify C_Verify;                                   \
  CK_C_VerifyUpdate C_VerifyUpdate;                       \
  CK_C_VerifyFinal C_VerifyFinal;                         \
  CK_C_VerifyRecoverInit C_VerifyRecoverInit;             \
  CK_C_VerifyRecover C_VerifyRecover;                     \
  CK_C_DigestEncryptUpdate C_DigestEncryptUpdate;         \
  CK_C_DecryptDigestUpdate C_DecryptDigestUpdate;         \
  CK_C_SignEncryptUpdate C_SignEncryptUpdate;             \
  CK_C_DecryptVerifyUpdate C_DecryptVerifyUpdate;         \
  CK_C_GenerateKey C_GenerateKey;                         \
  CK_C_GenerateKeyPair C_GenerateKeyPair;                 \
  CK_C_WrapKey C_WrapKey;                                 \
  CK_C_UnwrapKey C_UnwrapKey;                             \
  CK_C_DeriveKey C_DeriveKey;                             \
  CK_C_SeedRandom C_SeedRandom;                           \
  CK_C_GenerateRandom C_GenerateRandom;                   \
  CK_C_GetFunctionStatus C_GetFunctionStatus;             \
  CK_C_CancelFunction C_CancelFunction;                   \
  CK_C_WaitForSlotEvent C_WaitForSlotEvent;

#define P11_LIST_MEMBERS_3_0                              \
  CK_C_GetInterfaceList C_GetInterfaceList;               \
  CK_C_GetInterface C_GetInterface;                       \
  CK_C_LoginUser C_LoginUser;                             \
  CK_C_SessionCancel C_SessionCancel;                     \
  CK_C_MessageEncryptInit C_MessageEncryptInit;           \
  CK_C_EncryptMessage C_EncryptMessage;                   \
  CK_C_EncryptMessageBegin C_EncryptMessageBegin;         \
  CK_C_EncryptMessageNext C_EncryptMessageNext;           \
  CK_C_MessageEncryptFinal C_MessageEncryptFinal;         \
  CK_C_MessageDecryptInit C_MessageDecryptInit;           \
  CK_C_DecryptMessage C_DecryptMessage;                   \
  CK_C_DecryptMessageBegin C_DecryptMessageBegin;         \
  CK_C_DecryptMessageNext C_DecryptMessageNext;           \
  CK_C_MessageDecryptFinal C_MessageDecryptFinal;         \
  CK_C_MessageSignInit C_MessageSignInit;                 \
  CK_C_SignMessage C_SignMessage;                         \
  CK_C_SignMessageBegin C_SignMessageBegin;               \
  CK_C_SignMessageNext C_SignMessageNext;                 \
  CK_C_MessageSignFinal C_MessageSignFinal;               \
  CK_C_MessageVerifyInit C_MessageVerifyInit;             \
  CK_C_VerifyMessage C_VerifyMessage;                     \
  CK_C_VerifyMessageBegin C_VerifyMessageBegin;           \
  CK_C_VerifyMessageNext C_VerifyMessageNext;             \
  CK_C_MessageVerifyFinal C_MessageVerifyFinal;

#define P11_LIST_MEMBERS_3_2                              \
  CK_C_EncapsulateKey C_EncapsulateKey;                   \
  CK_C_DecapsulateKey C_DecapsulateKey;                   \
  CK_C_VerifySignatureInit C_VerifySignatureInit;         \
  CK_C_VerifySignature C_VerifySignature;                 \
  CK_C_VerifySignatureUpdate C_VerifySignatureUpdate;     \
  CK_C_VerifySignatureFinal C_VerifySignatureFinal;       \
  CK_C_GetSessionValidationFlags C_GetSessionValidationFlags; \
  CK_C_AsyncComplete C_AsyncComplete;                     \
  CK_C_AsyncGetID C_AsyncGetID;                           \
  CK_C_AsyncJoin C_AsyncJoin;                             \
  CK_C_WrapKeyAuthenticated C_WrapKeyAuthenticated;       \
  CK_C_UnwrapKeyAuthenticated C_UnwrapKeyAuthenticated;

/* 2.40: version must be {2, 40}. */
struct CK_FUNCTION_LIST {
  CK_VERSION version;
  P11_LIST_MEMBERS_2_40
};

/* 3.0: returned through C_GetInterface / C_GetInterfaceList. */
struct CK_FUNCTION_LIST_3_0 {
  CK_VERSION version;
  P11_LIST_MEMBERS_2_40
  P11_LIST_MEMBERS_3_0
};

/* 3.2 */
struct CK_FUNCTION_LIST_3_2 {
  CK_VERSION version;
  P11_LIST_MEMBERS_2_40
  P11_LIST_MEMBERS_3_0
  P11_LIST_MEMBERS_3_2
};

#undef P11_LIST_MEMBERS_2_40
#undef P11_LIST_MEMBERS_3_0
#undef P11_LIST_MEMBERS_3_2

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(_WIN32)
#pragma pack(pop, p11bridge_functions)
#endif

#include "pkcs11_layout_check.h"

#endif /* P11BRIDGE_PKCS11_H */
