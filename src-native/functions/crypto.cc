// Encryption, decryption, digest, sign, verify, recover and the dual-function updates. They come
// in a few shapes (Init, data → output, update, final → output, verify), so each shape is one
// template over the FunctionTable member it calls.
#include "functions/shapes.h"
#include "marshal/values.h"

namespace p11 {

namespace {

// (hSession, pOut, pulOutLen)
template <Fn F, CK_C_EncryptFinal FunctionTable::*M>
struct FinalOutOp : OpBase {
  static constexpr Fn kFn = F;
  OutBuf out;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Output(1, "out", &out); }
  CK_RV Run(const FunctionTable& f) {
    return FillOutput(
        out, detail, [&](CK_BYTE_PTR p, CK_ULONG_PTR n) { return (f.*M)(session, p, n); }, 1024);
  }
  Napi::Value Result(Napi::Env env) { return OutputToJs(env, out, FunctionTable::Name(kFn)); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

// (hSession, pPart, ulPartLen)
template <Fn F, CK_C_DigestUpdate FunctionTable::*M>
struct UpdateOp : OpBase {
  static constexpr Fn kFn = F;
  ByteSpan in;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Bytes(1, "data", &in); }
  CK_RV Run(const FunctionTable& f) { return (f.*M)(session, in.p, in.n); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_DigestInit : OpBase {
  static constexpr Fn kFn = Fn::C_DigestInit;
  CK_MECHANISM_PTR mech = nullptr;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Mechanism(1, &mech); }
  CK_RV Run(const FunctionTable& f) { return f.C_DigestInit(session, mech); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_DigestKey : OpBase {
  static constexpr Fn kFn = Fn::C_DigestKey;
  CK_OBJECT_HANDLE key = 0;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Ulong(1, "hKey", &key); }
  CK_RV Run(const FunctionTable& f) { return f.C_DigestKey(session, key); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

// C_Verify (VerifyOp, functions/shapes.h) / C_VerifyFinal answer true, or false for
// CKR_SIGNATURE_INVALID; other failures throw.
using Op_C_Verify = VerifyOp;

struct Op_C_VerifyFinal : OpBase {
  static constexpr Fn kFn = Fn::C_VerifyFinal;
  ByteSpan sig;
  bool valid = false;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Bytes(1, "signature", &sig); }
  CK_RV Run(const FunctionTable& f) { return Verdict(f.C_VerifyFinal(session, sig.p, sig.n), &valid); }
  Napi::Value Result(Napi::Env env) { return Napi::Boolean::New(env, valid); }
};

#define P11_INIT(NAME) using Op_##NAME = InitOp<Fn::NAME, &FunctionTable::NAME>
#define P11_DATA_OUT(NAME) using Op_##NAME = DataOutOp<Fn::NAME, &FunctionTable::NAME>
#define P11_FINAL_OUT(NAME) using Op_##NAME = FinalOutOp<Fn::NAME, &FunctionTable::NAME>
#define P11_UPDATE(NAME) using Op_##NAME = UpdateOp<Fn::NAME, &FunctionTable::NAME>

P11_INIT(C_EncryptInit);
P11_DATA_OUT(C_Encrypt);
P11_DATA_OUT(C_EncryptUpdate);
P11_FINAL_OUT(C_EncryptFinal);
P11_INIT(C_DecryptInit);
P11_DATA_OUT(C_Decrypt);
P11_DATA_OUT(C_DecryptUpdate);
P11_FINAL_OUT(C_DecryptFinal);
P11_DATA_OUT(C_Digest);
P11_UPDATE(C_DigestUpdate);
P11_FINAL_OUT(C_DigestFinal);
P11_INIT(C_SignInit);
P11_DATA_OUT(C_Sign);
P11_UPDATE(C_SignUpdate);
P11_FINAL_OUT(C_SignFinal);
P11_INIT(C_SignRecoverInit);
P11_DATA_OUT(C_SignRecover);
P11_INIT(C_VerifyInit);
P11_UPDATE(C_VerifyUpdate);
P11_INIT(C_VerifyRecoverInit);
P11_DATA_OUT(C_VerifyRecover);
P11_DATA_OUT(C_DigestEncryptUpdate);
P11_DATA_OUT(C_DecryptDigestUpdate);
P11_DATA_OUT(C_SignEncryptUpdate);
P11_DATA_OUT(C_DecryptVerifyUpdate);

}  // namespace

void RegisterCrypto(Napi::Env env, Props& props) {
  P11_METHODS_FLAT(env, props, C_EncryptInit);
  P11_METHODS_WRITTEN(env, props, C_Encrypt);
  P11_METHODS_WRITTEN(env, props, C_EncryptUpdate);
  P11_METHODS_WRITTEN(env, props, C_EncryptFinal);
  P11_METHODS_FLAT(env, props, C_DecryptInit);
  P11_METHODS_WRITTEN(env, props, C_Decrypt);
  P11_METHODS_WRITTEN(env, props, C_DecryptUpdate);
  P11_METHODS_WRITTEN(env, props, C_DecryptFinal);
  P11_METHODS_FLAT(env, props, C_DigestInit);
  P11_METHODS_WRITTEN(env, props, C_Digest);
  P11_METHODS(props, C_DigestUpdate);
  P11_METHODS(props, C_DigestKey);
  P11_METHODS_WRITTEN(env, props, C_DigestFinal);
  P11_METHODS_FLAT(env, props, C_SignInit);
  P11_METHODS_WRITTEN(env, props, C_Sign);
  P11_METHODS(props, C_SignUpdate);
  P11_METHODS_WRITTEN(env, props, C_SignFinal);
  P11_METHODS_FLAT(env, props, C_SignRecoverInit);
  P11_METHODS_WRITTEN(env, props, C_SignRecover);
  P11_METHODS_FLAT(env, props, C_VerifyInit);
  P11_METHODS(props, C_Verify);
  P11_METHODS(props, C_VerifyUpdate);
  P11_METHODS(props, C_VerifyFinal);
  P11_METHODS_FLAT(env, props, C_VerifyRecoverInit);
  P11_METHODS_WRITTEN(env, props, C_VerifyRecover);
  P11_METHODS_WRITTEN(env, props, C_DigestEncryptUpdate);
  P11_METHODS_WRITTEN(env, props, C_DecryptDigestUpdate);
  P11_METHODS_WRITTEN(env, props, C_SignEncryptUpdate);
  P11_METHODS_WRITTEN(env, props, C_DecryptVerifyUpdate);
}

}  // namespace p11
