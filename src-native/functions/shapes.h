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
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Ulong(2, "hKey", &key); }
  CK_RV Run(const FunctionTable& f) { return (f.*M)(session, mech, key); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

// (hSession, pIn, ulInLen, pOut, pulOutLen): module-sized output or the caller's `out` buffer.
// The arguments after the session are read from index `first` (1; 3 in the fused calls of
// functions/fused.cc, where a mechanism and a key come first).
template <Fn F, CK_C_Encrypt FunctionTable::*M>
struct DataOutOp : OpBase {
  static constexpr Fn kFn = F;
  ByteSpan in;
  OutBuf out;
  static constexpr const char* kIn = F == Fn::C_VerifyRecover ? "signature" : "data";
  bool Parse(Args& a) { return SessionArg(a, 0) && ParseFrom(a, 1); }
  bool ParseFrom(Args& a, size_t first) { return a.Bytes(first, kIn, &in) && a.Output(first + 1, "out", &out); }
  CK_RV Run(const FunctionTable& f) {
    return FillOutput(
        out, detail, [&](CK_BYTE_PTR p, CK_ULONG_PTR n) { return (f.*M)(session, in.p, in.n, p, n); },
        OutputGuess(in.n));
  }
  Napi::Value Result(Napi::Env env) { return OutputToJs(env, out, FunctionTable::Name(kFn)); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

// C_Verify: true, or false for CKR_SIGNATURE_INVALID; other failures throw.
struct VerifyOp : OpBase {
  static constexpr Fn kFn = Fn::C_Verify;
  ByteSpan data, sig;
  bool valid = false;
  bool Parse(Args& a) { return SessionArg(a, 0) && ParseFrom(a, 1); }
  bool ParseFrom(Args& a, size_t first) {
    return a.Bytes(first, "data", &data) && a.Bytes(first + 1, "signature", &sig);
  }
  CK_RV Run(const FunctionTable& f) { return Verdict(f.C_Verify(session, data.p, data.n, sig.p, sig.n), &valid); }
  Napi::Value Result(Napi::Env env) { return Napi::Boolean::New(env, valid); }
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
