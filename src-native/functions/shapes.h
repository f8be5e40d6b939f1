// Op shapes shared by several function groups: the same C signature, written once.
#pragma once
#include "call.h"

namespace p11 {

// Verify calls answer a verdict: CKR_SIGNATURE_INVALID is `false`, not an error.
inline CK_RV Verdict(CK_RV rv, bool* valid) {
  *valid = rv == CKR_OK;
  return rv == CKR_SIGNATURE_INVALID ? CKR_OK : rv;
}

// (hSession, pMechanism, hKey): C_EncryptInit … C_VerifyRecoverInit and the 3.0 C_Message*Init.
template <Fn F, CK_C_EncryptInit FunctionTable::*M>
struct InitOp : OpBase {
  static constexpr Fn kFn = F;
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE key = 0;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Mechanism(1, "mechanism", &mech) && a.Ulong(2, "hKey", &key); }
  CK_RV Run(const FunctionTable& f) { return (f.*M)(session, mech, key); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

// (hSession): C_Message*Final, C_Logout, C_FindObjectsFinal …
template <Fn F, CK_C_Logout FunctionTable::*M>
struct SessionOnlyOp : OpBase {
  static constexpr Fn kFn = F;
  bool Parse(Args& a) { return SessionArg(a, 0); }
  CK_RV Run(const FunctionTable& f) { return (f.*M)(session); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

}  // namespace p11
