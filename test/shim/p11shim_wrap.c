/*
 * p11shim's plain wrappers: every function of the 2.40 list that has no logic of its own runs
 * p11shim.c's hook before the call (the rules: rv, delay, missing, removed, storm …), forwards it
 * to the real module, and for an output length runs the `lie` / `lie-query` hook after it. The
 * wrappers with logic of their own (initialize, slots, tokens, sessions, login, attributes, slot
 * events) and the function list are in p11shim.c.
 */
#include "p11shim.h"

/* Hook, then the real call. */
#define WRAP(name, kind, id, params, args)                                \
  CK_RV w_##name params {                                                 \
    CK_RV rv_;                                                            \
    if (shim_pre(FN_##name, kind, (CK_ULONG)(id), &rv_)) return rv_;      \
    return CALL(name, args);                                              \
  }

/* With an output length: `cap` (the buffer size offered) is evaluated before the call. */
#define WRAPL(name, kind, id, params, args, buf, plen, cap)               \
  CK_RV w_##name params {                                                 \
    CK_RV rv_;                                                            \
    CK_ULONG cap_;                                                        \
    if (shim_pre(FN_##name, kind, (CK_ULONG)(id), &rv_)) return rv_;      \
    cap_ = (cap);                                                         \
    rv_ = CALL(name, args);                                               \
    return shim_post_len(FN_##name, rv_, (buf) != NULL, cap_, plen);      \
  }

typedef CK_SESSION_HANDLE SH;
typedef CK_OBJECT_HANDLE OH;
typedef CK_MECHANISM_PTR MP;
typedef CK_BYTE_PTR BP;
typedef CK_ULONG UL;
typedef CK_ULONG_PTR ULP;
typedef CK_ATTRIBUTE_PTR AP;

WRAP(C_GetInfo, K_NONE, 0, (CK_INFO_PTR p), (p))
WRAPL(C_GetMechanismList, K_SLOT, s, (CK_SLOT_ID s, CK_MECHANISM_TYPE_PTR l, ULP n), (s, l, n), l, n, CAP(n))
WRAP(C_GetMechanismInfo, K_SLOT, s, (CK_SLOT_ID s, CK_MECHANISM_TYPE t, CK_MECHANISM_INFO_PTR p), (s, t, p))
WRAP(C_InitToken, K_SLOT, s, (CK_SLOT_ID s, CK_UTF8CHAR_PTR p, UL n, CK_UTF8CHAR_PTR l), (s, p, n, l))
WRAP(C_InitPIN, K_SESS, h, (SH h, CK_UTF8CHAR_PTR p, UL n), (h, p, n))
WRAP(C_SetPIN, K_SESS, h, (SH h, CK_UTF8CHAR_PTR o, UL on, CK_UTF8CHAR_PTR p, UL n), (h, o, on, p, n))
WRAP(C_GetSessionInfo, K_SESS, h, (SH h, CK_SESSION_INFO_PTR p), (h, p))
WRAPL(C_GetOperationState, K_SESS, h, (SH h, BP b, ULP n), (h, b, n), b, n, CAP(n))
WRAP(C_SetOperationState, K_SESS, h, (SH h, BP b, UL n, OH e, OH a), (h, b, n, e, a))
WRAP(C_Logout, K_SESS, h, (SH h), (h))
WRAP(C_CreateObject, K_SESS, h, (SH h, AP t, UL n, CK_OBJECT_HANDLE_PTR o), (h, t, n, o))
WRAP(C_CopyObject, K_SESS, h, (SH h, OH o, AP t, UL n, CK_OBJECT_HANDLE_PTR r), (h, o, t, n, r))
WRAP(C_DestroyObject, K_SESS, h, (SH h, OH o), (h, o))
WRAP(C_GetObjectSize, K_SESS, h, (SH h, OH o, ULP n), (h, o, n))
WRAP(C_SetAttributeValue, K_SESS, h, (SH h, OH o, AP t, UL n), (h, o, t, n))
WRAP(C_FindObjectsInit, K_SESS, h, (SH h, AP t, UL n), (h, t, n))
WRAPL(C_FindObjects, K_SESS, h, (SH h, CK_OBJECT_HANDLE_PTR o, UL max, ULP n), (h, o, max, n), o, n, max)
WRAP(C_FindObjectsFinal, K_SESS, h, (SH h), (h))
WRAP(C_EncryptInit, K_SESS, h, (SH h, MP m, OH k), (h, m, k))
WRAPL(C_Encrypt, K_SESS, h, (SH h, BP d, UL dn, BP o, ULP on), (h, d, dn, o, on), o, on, CAP(on))
WRAPL(C_EncryptUpdate, K_SESS, h, (SH h, BP d, UL dn, BP o, ULP on), (h, d, dn, o, on), o, on, CAP(on))
WRAPL(C_EncryptFinal, K_SESS, h, (SH h, BP o, ULP on), (h, o, on), o, on, CAP(on))
WRAP(C_DecryptInit, K_SESS, h, (SH h, MP m, OH k), (h, m, k))
WRAPL(C_Decrypt, K_SESS, h, (SH h, BP d, UL dn, BP o, ULP on), (h, d, dn, o, on), o, on, CAP(on))
WRAPL(C_DecryptUpdate, K_SESS, h, (SH h, BP d, UL dn, BP o, ULP on), (h, d, dn, o, on), o, on, CAP(on))
WRAPL(C_DecryptFinal, K_SESS, h, (SH h, BP o, ULP on), (h, o, on), o, on, CAP(on))
WRAP(C_DigestInit, K_SESS, h, (SH h, MP m), (h, m))
WRAPL(C_Digest, K_SESS, h, (SH h, BP d, UL dn, BP o, ULP on), (h, d, dn, o, on), o, on, CAP(on))
WRAP(C_DigestUpdate, K_SESS, h, (SH h, BP d, UL dn), (h, d, dn))
WRAP(C_DigestKey, K_SESS, h, (SH h, OH k), (h, k))
WRAPL(C_DigestFinal, K_SESS, h, (SH h, BP o, ULP on), (h, o, on), o, on, CAP(on))
WRAP(C_SignInit, K_SESS, h, (SH h, MP m, OH k), (h, m, k))
WRAPL(C_Sign, K_SESS, h, (SH h, BP d, UL dn, BP o, ULP on), (h, d, dn, o, on), o, on, CAP(on))
WRAP(C_SignUpdate, K_SESS, h, (SH h, BP d, UL dn), (h, d, dn))
WRAPL(C_SignFinal, K_SESS, h, (SH h, BP o, ULP on), (h, o, on), o, on, CAP(on))
WRAP(C_SignRecoverInit, K_SESS, h, (SH h, MP m, OH k), (h, m, k))
WRAPL(C_SignRecover, K_SESS, h, (SH h, BP d, UL dn, BP o, ULP on), (h, d, dn, o, on), o, on, CAP(on))
WRAP(C_VerifyInit, K_SESS, h, (SH h, MP m, OH k), (h, m, k))
WRAP(C_Verify, K_SESS, h, (SH h, BP d, UL dn, BP s, UL sn), (h, d, dn, s, sn))
WRAP(C_VerifyUpdate, K_SESS, h, (SH h, BP d, UL dn), (h, d, dn))
WRAP(C_VerifyFinal, K_SESS, h, (SH h, BP s, UL sn), (h, s, sn))
WRAP(C_VerifyRecoverInit, K_SESS, h, (SH h, MP m, OH k), (h, m, k))
WRAPL(C_VerifyRecover, K_SESS, h, (SH h, BP s, UL sn, BP o, ULP on), (h, s, sn, o, on), o, on, CAP(on))
WRAPL(C_DigestEncryptUpdate, K_SESS, h, (SH h, BP d, UL dn, BP o, ULP on), (h, d, dn, o, on), o, on, CAP(on))
WRAPL(C_DecryptDigestUpdate, K_SESS, h, (SH h, BP d, UL dn, BP o, ULP on), (h, d, dn, o, on), o, on, CAP(on))
WRAPL(C_SignEncryptUpdate, K_SESS, h, (SH h, BP d, UL dn, BP o, ULP on), (h, d, dn, o, on), o, on, CAP(on))
WRAPL(C_DecryptVerifyUpdate, K_SESS, h, (SH h, BP d, UL dn, BP o, ULP on), (h, d, dn, o, on), o, on, CAP(on))
WRAP(C_GenerateKey, K_SESS, h, (SH h, MP m, AP t, UL n, CK_OBJECT_HANDLE_PTR k), (h, m, t, n, k))
WRAP(C_GenerateKeyPair, K_SESS, h,
     (SH h, MP m, AP pt, UL pn, AP st, UL sn, CK_OBJECT_HANDLE_PTR pk, CK_OBJECT_HANDLE_PTR sk),
     (h, m, pt, pn, st, sn, pk, sk))
WRAPL(C_WrapKey, K_SESS, h, (SH h, MP m, OH w, OH k, BP o, ULP on), (h, m, w, k, o, on), o, on, CAP(on))
WRAP(C_UnwrapKey, K_SESS, h, (SH h, MP m, OH u, BP w, UL wn, AP t, UL n, CK_OBJECT_HANDLE_PTR k),
     (h, m, u, w, wn, t, n, k))
WRAP(C_DeriveKey, K_SESS, h, (SH h, MP m, OH b, AP t, UL n, CK_OBJECT_HANDLE_PTR k), (h, m, b, t, n, k))
WRAP(C_SeedRandom, K_SESS, h, (SH h, BP d, UL dn), (h, d, dn))
WRAP(C_GenerateRandom, K_SESS, h, (SH h, BP d, UL dn), (h, d, dn))
WRAP(C_GetFunctionStatus, K_SESS, h, (SH h), (h))
WRAP(C_CancelFunction, K_SESS, h, (SH h), (h))
