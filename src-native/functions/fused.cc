// One-shot operations in one trip to a call thread: C_XInit then C_X, for the typed layer's
// sign/verify/encrypt/decrypt/digest. Two trips per signature (C_SignInitAsync, then C_SignAsync)
// cost a fast token about half its throughput (bench/raw's "C_SignInitAsync too" row), and a sync
// C_SignInit on the JS thread would let a slow token stall the event loop. Not part of the raw
// layer's PKCS#11 surface: the typed layer reaches them through lib/binding/fused.ts.
//
//   signOnceAsync(hSession, mechanism, hKey, data[, out])         → Buffer
//   verifyOnceAsync(hSession, mechanism, hKey, data, signature)   → boolean
//   encryptOnceAsync / decryptOnceAsync(hSession, mechanism, hKey, data[, out]) → Buffer
//   digestOnceAsync(hSession, mechanism, data[, out])             → Buffer
//
// A failure names the function that failed (C_SignInit or C_Sign), as the two calls would.
#include "functions/shapes.h"
#include "marshal/values.h"

namespace p11 {

namespace {

template <Fn InitF, CK_C_EncryptInit FunctionTable::*Init, Fn CallF, CK_C_Encrypt FunctionTable::*Call>
struct InitDataOutOp : OpBase {
  static constexpr Fn kFn = CallF;
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE key = 0;
  ByteSpan in;
  OutBuf out;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, "mechanism", &mech) && a.Ulong(2, "hKey", &key) && a.Bytes(3, "data", &in) &&
           a.Output(4, "out", &out);
  }
  CK_RV Run(const FunctionTable& f) {
    CK_RV rv = f.Has(InitF) ? (f.*Init)(session, mech, key) : CKR_FUNCTION_NOT_SUPPORTED;
    if (rv != CKR_OK) {
      failedFn = FunctionTable::Name(InitF);
      return rv;
    }
    return FillOutput(
        out, detail, [&](CK_BYTE_PTR p, CK_ULONG_PTR n) { return (f.*Call)(session, in.p, in.n, p, n); }, OutputGuess(in.n));
  }
  Napi::Value Result(Napi::Env env) { return OutputToJs(env, out, FunctionTable::Name(kFn)); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

struct Op_VerifyOnce : OpBase {
  static constexpr Fn kFn = Fn::C_Verify;
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE key = 0;
  ByteSpan data, sig;
  bool valid = false;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, "mechanism", &mech) && a.Ulong(2, "hKey", &key) && a.Bytes(3, "data", &data) &&
           a.Bytes(4, "signature", &sig);
  }
  CK_RV Run(const FunctionTable& f) {
    CK_RV rv = f.Has(Fn::C_VerifyInit) ? f.C_VerifyInit(session, mech, key) : CKR_FUNCTION_NOT_SUPPORTED;
    if (rv != CKR_OK) {
      failedFn = FunctionTable::Name(Fn::C_VerifyInit);
      return rv;
    }
    return Verdict(f.C_Verify(session, data.p, data.n, sig.p, sig.n), &valid);
  }
  Napi::Value Result(Napi::Env env) { return Napi::Boolean::New(env, valid); }
};

struct Op_DigestOnce : OpBase {
  static constexpr Fn kFn = Fn::C_Digest;
  CK_MECHANISM_PTR mech = nullptr;
  ByteSpan in;
  OutBuf out;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, "mechanism", &mech) && a.Bytes(2, "data", &in) && a.Output(3, "out", &out);
  }
  CK_RV Run(const FunctionTable& f) {
    CK_RV rv = f.Has(Fn::C_DigestInit) ? f.C_DigestInit(session, mech) : CKR_FUNCTION_NOT_SUPPORTED;
    if (rv != CKR_OK) {
      failedFn = FunctionTable::Name(Fn::C_DigestInit);
      return rv;
    }
    return FillOutput(out, detail, [&](CK_BYTE_PTR p, CK_ULONG_PTR n) { return f.C_Digest(session, in.p, in.n, p, n); }, 1024);
  }
  Napi::Value Result(Napi::Env env) { return OutputToJs(env, out, "C_Digest"); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

using Op_SignOnce = InitDataOutOp<Fn::C_SignInit, &FunctionTable::C_SignInit, Fn::C_Sign, &FunctionTable::C_Sign>;
using Op_EncryptOnce = InitDataOutOp<Fn::C_EncryptInit, &FunctionTable::C_EncryptInit, Fn::C_Encrypt, &FunctionTable::C_Encrypt>;
using Op_DecryptOnce = InitDataOutOp<Fn::C_DecryptInit, &FunctionTable::C_DecryptInit, Fn::C_Decrypt, &FunctionTable::C_Decrypt>;

}  // namespace

void RegisterFused(Props& props) {
  props.push_back(ModuleObject::InstanceMethod<&ModuleObject::Async<Op_SignOnce>>("signOnceAsync"));
  props.push_back(ModuleObject::InstanceMethod<&ModuleObject::Async<Op_VerifyOnce>>("verifyOnceAsync"));
  props.push_back(ModuleObject::InstanceMethod<&ModuleObject::Async<Op_EncryptOnce>>("encryptOnceAsync"));
  props.push_back(ModuleObject::InstanceMethod<&ModuleObject::Async<Op_DecryptOnce>>("decryptOnceAsync"));
  props.push_back(ModuleObject::InstanceMethod<&ModuleObject::Async<Op_DigestOnce>>("digestOnceAsync"));
}

}  // namespace p11
