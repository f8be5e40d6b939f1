// PKCS#11 3.0 message-based functions: AEAD encryption/decryption and signing per message. The
// per-message parameter (CK_GCM_MESSAGE_PARAMS …) is bytes or a struct description whose `out`
// fields receive what the module generates (IV, tag).
#include "functions/shapes.h"
#include "marshal/values.h"

namespace p11 {

namespace {

// (h, param, aad, in, out?) → Buffer: C_EncryptMessage / C_DecryptMessage.
template <Fn F, CK_C_EncryptMessage FunctionTable::*M>
struct CryptMessageOp : OpBase {
  static constexpr Fn kFn = F;
  static constexpr const char* kIn = F == Fn::C_EncryptMessage ? "plaintext" : "ciphertext";
  CK_VOID_PTR param = nullptr;
  CK_ULONG paramLen = 0;
  ByteSpan aad, in;
  OutBuf out;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Param(1, "parameter", &param, &paramLen) && a.Bytes(2, "associatedData", &aad) &&
           a.Bytes(3, kIn, &in) && a.Output(4, "out", &out);
  }
  CK_RV Run(const FunctionTable& f) {
    return FillOutput(
        out, detail,
        [&](CK_BYTE_PTR p, CK_ULONG_PTR n) { return (f.*M)(session, param, paramLen, aad.p, aad.n, in.p, in.n, p, n); },
        OutputGuess(in.n));
  }
  Napi::Value Result(Napi::Env env) { return OutputToJs(env, out, FunctionTable::Name(kFn)); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

// (h, param, aad): C_EncryptMessageBegin / C_DecryptMessageBegin.
template <Fn F, CK_C_EncryptMessageBegin FunctionTable::*M>
struct CryptBeginOp : OpBase {
  static constexpr Fn kFn = F;
  CK_VOID_PTR param = nullptr;
  CK_ULONG paramLen = 0;
  ByteSpan aad;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Param(1, "parameter", &param, &paramLen) && a.Bytes(2, "associatedData", &aad);
  }
  CK_RV Run(const FunctionTable& f) { return (f.*M)(session, param, paramLen, aad.p, aad.n); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

// (h, param, part, flags, out?) → Buffer: C_EncryptMessageNext / C_DecryptMessageNext;
// flags CKF_END_OF_MESSAGE on the last part.
template <Fn F, CK_C_EncryptMessageNext FunctionTable::*M>
struct CryptNextOp : OpBase {
  static constexpr Fn kFn = F;
  static constexpr const char* kIn = F == Fn::C_EncryptMessageNext ? "plaintextPart" : "ciphertextPart";
  CK_VOID_PTR param = nullptr;
  CK_ULONG paramLen = 0;
  ByteSpan in;
  CK_FLAGS flags = 0;
  OutBuf out;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Param(1, "parameter", &param, &paramLen) && a.Bytes(2, kIn, &in) &&
           a.OptUlong(3, "flags", &flags, 0) && a.Output(4, "out", &out);
  }
  CK_RV Run(const FunctionTable& f) {
    return FillOutput(
        out, detail,
        [&](CK_BYTE_PTR p, CK_ULONG_PTR n) { return (f.*M)(session, param, paramLen, in.p, in.n, p, n, flags); },
        OutputGuess(in.n));
  }
  Napi::Value Result(Napi::Env env) { return OutputToJs(env, out, FunctionTable::Name(kFn)); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

struct Op_C_SignMessage : OpBase {
  static constexpr Fn kFn = Fn::C_SignMessage;
  CK_VOID_PTR param = nullptr;
  CK_ULONG paramLen = 0;
  ByteSpan data;
  OutBuf out;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Param(1, "parameter", &param, &paramLen) && a.Bytes(2, "data", &data) &&
           a.Output(3, "out", &out);
  }
  CK_RV Run(const FunctionTable& f) {
    return FillOutput(out, detail, [&](CK_BYTE_PTR p, CK_ULONG_PTR n) {
      return f.C_SignMessage(session, param, paramLen, data.p, data.n, p, n);
    });
  }
  Napi::Value Result(Napi::Env env) { return OutputToJs(env, out, "C_SignMessage"); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

// (h, param): C_SignMessageBegin / C_VerifyMessageBegin.
template <Fn F, CK_C_SignMessageBegin FunctionTable::*M>
struct ParamOnlyOp : OpBase {
  static constexpr Fn kFn = F;
  CK_VOID_PTR param = nullptr;
  CK_ULONG paramLen = 0;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Param(1, "parameter", &param, &paramLen); }
  CK_RV Run(const FunctionTable& f) { return (f.*M)(session, param, paramLen); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

// C_SignMessageNext(h, param, data, final?, out?): intermediate parts pass no signature pointer
// (undefined result); the final part returns the signature.
struct Op_C_SignMessageNext : OpBase {
  static constexpr Fn kFn = Fn::C_SignMessageNext;
  CK_VOID_PTR param = nullptr;
  CK_ULONG paramLen = 0;
  ByteSpan data;
  bool last = false;
  OutBuf out;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Param(1, "parameter", &param, &paramLen) && a.Bytes(2, "data", &data) &&
           a.OptBool(3, "final", &last, false) && a.Output(4, "out", &out);
  }
  CK_RV Run(const FunctionTable& f) {
    if (!last) return f.C_SignMessageNext(session, param, paramLen, data.p, data.n, nullptr, nullptr);
    return FillOutput(out, detail, [&](CK_BYTE_PTR p, CK_ULONG_PTR n) {
      return f.C_SignMessageNext(session, param, paramLen, data.p, data.n, p, n);
    });
  }
  Napi::Value Result(Napi::Env env) { return last ? OutputToJs(env, out, "C_SignMessageNext") : env.Undefined(); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

// C_VerifyMessage / C_VerifyMessageNext: true, or false for CKR_SIGNATURE_INVALID. For Next, a
// null signature marks an intermediate part.
template <Fn F, CK_C_VerifyMessage FunctionTable::*M, bool kOptionalSig>
struct VerifyMessageOp : OpBase {
  static constexpr Fn kFn = F;
  CK_VOID_PTR param = nullptr;
  CK_ULONG paramLen = 0;
  ByteSpan data, sig;
  bool valid = false;
  bool Parse(Args& a) {
    if (!SessionArg(a, 0) || !a.Param(1, "parameter", &param, &paramLen) || !a.Bytes(2, "data", &data)) return false;
    if (kOptionalSig && a.IsNullish(3)) return true;
    return a.Bytes(3, "signature", &sig);
  }
  CK_RV Run(const FunctionTable& f) {
    return Verdict((f.*M)(session, param, paramLen, data.p, data.n, sig.p, sig.n), &valid);
  }
  Napi::Value Result(Napi::Env env) { return Napi::Boolean::New(env, valid); }
};

using Op_C_MessageEncryptInit = InitOp<Fn::C_MessageEncryptInit, &FunctionTable::C_MessageEncryptInit>;
using Op_C_EncryptMessage = CryptMessageOp<Fn::C_EncryptMessage, &FunctionTable::C_EncryptMessage>;
using Op_C_EncryptMessageBegin = CryptBeginOp<Fn::C_EncryptMessageBegin, &FunctionTable::C_EncryptMessageBegin>;
using Op_C_EncryptMessageNext = CryptNextOp<Fn::C_EncryptMessageNext, &FunctionTable::C_EncryptMessageNext>;
using Op_C_MessageEncryptFinal = SessionOnlyOp<Fn::C_MessageEncryptFinal, &FunctionTable::C_MessageEncryptFinal>;
using Op_C_MessageDecryptInit = InitOp<Fn::C_MessageDecryptInit, &FunctionTable::C_MessageDecryptInit>;
using Op_C_DecryptMessage = CryptMessageOp<Fn::C_DecryptMessage, &FunctionTable::C_DecryptMessage>;
using Op_C_DecryptMessageBegin = CryptBeginOp<Fn::C_DecryptMessageBegin, &FunctionTable::C_DecryptMessageBegin>;
using Op_C_DecryptMessageNext = CryptNextOp<Fn::C_DecryptMessageNext, &FunctionTable::C_DecryptMessageNext>;
using Op_C_MessageDecryptFinal = SessionOnlyOp<Fn::C_MessageDecryptFinal, &FunctionTable::C_MessageDecryptFinal>;
using Op_C_MessageSignInit = InitOp<Fn::C_MessageSignInit, &FunctionTable::C_MessageSignInit>;
using Op_C_SignMessageBegin = ParamOnlyOp<Fn::C_SignMessageBegin, &FunctionTable::C_SignMessageBegin>;
using Op_C_MessageSignFinal = SessionOnlyOp<Fn::C_MessageSignFinal, &FunctionTable::C_MessageSignFinal>;
using Op_C_MessageVerifyInit = InitOp<Fn::C_MessageVerifyInit, &FunctionTable::C_MessageVerifyInit>;
using Op_C_VerifyMessage = VerifyMessageOp<Fn::C_VerifyMessage, &FunctionTable::C_VerifyMessage, false>;
using Op_C_VerifyMessageBegin = ParamOnlyOp<Fn::C_VerifyMessageBegin, &FunctionTable::C_VerifyMessageBegin>;
using Op_C_VerifyMessageNext = VerifyMessageOp<Fn::C_VerifyMessageNext, &FunctionTable::C_VerifyMessageNext, true>;
using Op_C_MessageVerifyFinal = SessionOnlyOp<Fn::C_MessageVerifyFinal, &FunctionTable::C_MessageVerifyFinal>;

}  // namespace

void RegisterMessage(Props& props) {
  P11_METHODS(props, C_MessageEncryptInit);
  P11_METHODS(props, C_EncryptMessage);
  P11_METHODS(props, C_EncryptMessageBegin);
  P11_METHODS(props, C_EncryptMessageNext);
  P11_METHODS(props, C_MessageEncryptFinal);
  P11_METHODS(props, C_MessageDecryptInit);
  P11_METHODS(props, C_DecryptMessage);
  P11_METHODS(props, C_DecryptMessageBegin);
  P11_METHODS(props, C_DecryptMessageNext);
  P11_METHODS(props, C_MessageDecryptFinal);
  P11_METHODS(props, C_MessageSignInit);
  P11_METHODS(props, C_SignMessage);
  P11_METHODS(props, C_SignMessageBegin);
  P11_METHODS(props, C_SignMessageNext);
  P11_METHODS(props, C_MessageSignFinal);
  P11_METHODS(props, C_MessageVerifyInit);
  P11_METHODS(props, C_VerifyMessage);
  P11_METHODS(props, C_VerifyMessageBegin);
  P11_METHODS(props, C_VerifyMessageNext);
  P11_METHODS(props, C_MessageVerifyFinal);
}

}  // namespace p11
