// PKCS#11 3.2 additions: KEM (encapsulate/decapsulate), verification with the signature given up
// front, session validation flags, asynchronous-session calls and authenticated key wrapping.
#include <cstring>

#include "functions/shapes.h"
#include "marshal/values.h"

namespace p11 {

namespace {

// NUL-terminated UTF-8 copy of a string argument (function names for the C_Async* calls).
bool CString(Args& a, size_t i, const char* name, CK_UTF8CHAR_PTR* out) {
  napi_value v = a.At(i);
  napi_valuetype t = napi_undefined;
  if (v) napi_typeof(a.env(), v, &t);
  if (t != napi_string) {
    a.FailType(name, "a string", v);
    return false;
  }
  size_t len = 0;
  napi_get_value_string_utf8(a.env(), v, nullptr, 0, &len);
  char* s = static_cast<char*>(a.arena().Alloc(len + 1));
  napi_get_value_string_utf8(a.env(), v, s, len + 1, &len);
  *out = reinterpret_cast<CK_UTF8CHAR_PTR>(s);
  return true;
}

// → { ciphertext, key }
struct Op_C_EncapsulateKey : OpBase {
  static constexpr Fn kFn = Fn::C_EncapsulateKey;
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE pub = 0, key = 0;
  CK_ATTRIBUTE_PTR tpl = nullptr;
  CK_ULONG count = 0;
  OutBuf out;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Ulong(2, "hPublicKey", &pub) &&
           a.Template(3, "template", &tpl, &count) && a.Output(4, "out", &out);
  }
  CK_RV Run(const FunctionTable& f) {
    return FillOutput(out, detail, [&](CK_BYTE_PTR p, CK_ULONG_PTR n) {
      return f.C_EncapsulateKey(session, mech, pub, tpl, count, p, n, &key);
    });
  }
  Napi::Value Result(Napi::Env env) {
    Napi::Value ct = OutputToJs(env, out, "C_EncapsulateKey");
    if (ct.IsEmpty()) return ct;
    Napi::Object o = Napi::Object::New(env);
    o.Set("ciphertext", ct);
    o.Set("key", Napi::Value(env, UlongToJs(env, key)));
    return o;
  }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

struct Op_C_DecapsulateKey : OpBase {
  static constexpr Fn kFn = Fn::C_DecapsulateKey;
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE priv = 0, key = 0;
  CK_ATTRIBUTE_PTR tpl = nullptr;
  CK_ULONG count = 0;
  ByteSpan ct;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Ulong(2, "hPrivateKey", &priv) &&
           a.Template(3, "template", &tpl, &count) && a.Bytes(4, "ciphertext", &ct);
  }
  CK_RV Run(const FunctionTable& f) { return f.C_DecapsulateKey(session, mech, priv, tpl, count, ct.p, ct.n, &key); }
  Napi::Value Result(Napi::Env env) { return Napi::Value(env, UlongToJs(env, key)); }
};

struct Op_C_VerifySignatureInit : OpBase {
  static constexpr Fn kFn = Fn::C_VerifySignatureInit;
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE key = 0;
  ByteSpan sig;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Ulong(2, "hKey", &key) && a.Bytes(3, "signature", &sig);
  }
  CK_RV Run(const FunctionTable& f) { return f.C_VerifySignatureInit(session, mech, key, sig.p, sig.n); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

// C_VerifySignature(h, data) / C_VerifySignatureFinal(h): true, or false for CKR_SIGNATURE_INVALID.
struct Op_C_VerifySignature : OpBase {
  static constexpr Fn kFn = Fn::C_VerifySignature;
  ByteSpan data;
  bool valid = false;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Bytes(1, "data", &data); }
  CK_RV Run(const FunctionTable& f) { return Verdict(f.C_VerifySignature(session, data.p, data.n), &valid); }
  Napi::Value Result(Napi::Env env) { return Napi::Boolean::New(env, valid); }
};

struct Op_C_VerifySignatureUpdate : OpBase {
  static constexpr Fn kFn = Fn::C_VerifySignatureUpdate;
  ByteSpan data;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Bytes(1, "data", &data); }
  CK_RV Run(const FunctionTable& f) { return f.C_VerifySignatureUpdate(session, data.p, data.n); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_VerifySignatureFinal : OpBase {
  static constexpr Fn kFn = Fn::C_VerifySignatureFinal;
  bool valid = false;
  bool Parse(Args& a) { return SessionArg(a, 0); }
  CK_RV Run(const FunctionTable& f) { return Verdict(f.C_VerifySignatureFinal(session), &valid); }
  Napi::Value Result(Napi::Env env) { return Napi::Boolean::New(env, valid); }
};

struct Op_C_GetSessionValidationFlags : OpBase {
  static constexpr Fn kFn = Fn::C_GetSessionValidationFlags;
  CK_ULONG type = 0;
  CK_FLAGS flags = 0;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Ulong(1, "type", &type); }
  CK_RV Run(const FunctionTable& f) { return f.C_GetSessionValidationFlags(session, type, &flags); }
  Napi::Value Result(Napi::Env env) { return Napi::Value(env, UlongToJs(env, flags)); }
};

// → { version, value, object, additionalObject }; value is copied out of the module's buffer.
struct Op_C_AsyncComplete : OpBase {
  static constexpr Fn kFn = Fn::C_AsyncComplete;
  CK_UTF8CHAR_PTR name = nullptr;
  CK_ASYNC_DATA data{};
  std::vector<uint8_t> value;
  bool hasValue = false;
  bool Parse(Args& a) { return SessionArg(a, 0) && CString(a, 1, "functionName", &name); }
  CK_RV Run(const FunctionTable& f) {
    CK_RV rv = f.C_AsyncComplete(session, name, &data);
    if (rv == CKR_OK && data.pValue) {
      if (data.ulValue > kMaxOutput) {
        detail = "module reported an async result of " + std::to_string(data.ulValue) + " bytes";
        return CKR_GENERAL_ERROR;
      }
      value.assign(data.pValue, data.pValue + data.ulValue);
      hasValue = true;
    }
    return rv;
  }
  Napi::Value Result(Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("version", Napi::Value(env, UlongToJs(env, data.ulVersion)));
    o.Set("value", hasValue ? BytesToBuffer(env, value.data(), value.size()) : env.Null());
    o.Set("object", Napi::Value(env, UlongToJs(env, data.hObject)));
    o.Set("additionalObject", Napi::Value(env, UlongToJs(env, data.hAdditionalObject)));
    return o;
  }
};

struct Op_C_AsyncGetID : OpBase {
  static constexpr Fn kFn = Fn::C_AsyncGetID;
  CK_UTF8CHAR_PTR name = nullptr;
  CK_ULONG id = 0;
  bool Parse(Args& a) { return SessionArg(a, 0) && CString(a, 1, "functionName", &name); }
  CK_RV Run(const FunctionTable& f) { return f.C_AsyncGetID(session, name, &id); }
  Napi::Value Result(Napi::Env env) { return Napi::Value(env, UlongToJs(env, id)); }
};

// C_AsyncJoin(h, functionName, id, buffer): the module fills `buffer` with the operation's result.
struct Op_C_AsyncJoin : OpBase {
  static constexpr Fn kFn = Fn::C_AsyncJoin;
  CK_UTF8CHAR_PTR name = nullptr;
  CK_ULONG id = 0;
  OutBuf out;
  bool Parse(Args& a) {
    if (!SessionArg(a, 0) || !CString(a, 1, "functionName", &name) || !a.Ulong(2, "id", &id)) return false;
    if (!a.Output(3, "data", &out)) return false;
    if (!out.hasCaller) {
      a.FailType("data", "a Buffer or Uint8Array", a.At(3));
      return false;
    }
    return true;
  }
  CK_RV Run(const FunctionTable& f) {
    CK_BYTE_PTR target = out.callerPtr;
    if (!target) {
      out.own.reset(new uint8_t[out.callerCap ? out.callerCap : 1]());
      target = out.own.get();
    }
    out.data = target;
    out.len = static_cast<CK_ULONG>(out.callerCap);
    return f.C_AsyncJoin(session, name, id, target, static_cast<CK_ULONG>(out.callerCap));
  }
  Napi::Value Result(Napi::Env env) {
    Napi::Value v = OutputToJs(env, out, "C_AsyncJoin");
    return v.IsEmpty() ? v : env.Undefined();
  }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

struct Op_C_WrapKeyAuthenticated : OpBase {
  static constexpr Fn kFn = Fn::C_WrapKeyAuthenticated;
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE wrapping = 0, key = 0;
  ByteSpan aad;
  OutBuf out;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Ulong(2, "hWrappingKey", &wrapping) &&
           a.Ulong(3, "hKey", &key) && a.Bytes(4, "associatedData", &aad) && a.Output(5, "out", &out);
  }
  CK_RV Run(const FunctionTable& f) {
    return FillOutput(out, detail, [&](CK_BYTE_PTR p, CK_ULONG_PTR n) {
      return f.C_WrapKeyAuthenticated(session, mech, wrapping, key, aad.p, aad.n, p, n);
    });
  }
  Napi::Value Result(Napi::Env env) { return OutputToJs(env, out, "C_WrapKeyAuthenticated"); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

struct Op_C_UnwrapKeyAuthenticated : OpBase {
  static constexpr Fn kFn = Fn::C_UnwrapKeyAuthenticated;
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE unwrapping = 0, key = 0;
  ByteSpan wrapped, aad;
  CK_ATTRIBUTE_PTR tpl = nullptr;
  CK_ULONG count = 0;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Ulong(2, "hUnwrappingKey", &unwrapping) &&
           a.Bytes(3, "wrappedKey", &wrapped) && a.Template(4, "template", &tpl, &count) &&
           a.Bytes(5, "associatedData", &aad);
  }
  CK_RV Run(const FunctionTable& f) {
    return f.C_UnwrapKeyAuthenticated(session, mech, unwrapping, wrapped.p, wrapped.n, tpl, count, aad.p, aad.n, &key);
  }
  Napi::Value Result(Napi::Env env) { return Napi::Value(env, UlongToJs(env, key)); }
};

}  // namespace

void RegisterKemAsync(Props& props) {
  P11_METHODS(props, C_EncapsulateKey);
  P11_METHODS(props, C_DecapsulateKey);
  P11_METHODS(props, C_VerifySignatureInit);
  P11_METHODS(props, C_VerifySignature);
  P11_METHODS(props, C_VerifySignatureUpdate);
  P11_METHODS(props, C_VerifySignatureFinal);
  P11_METHODS(props, C_GetSessionValidationFlags);
  P11_METHODS(props, C_AsyncComplete);
  P11_METHODS(props, C_AsyncGetID);
  P11_METHODS(props, C_AsyncJoin);
  P11_METHODS(props, C_WrapKeyAuthenticated);
  P11_METHODS(props, C_UnwrapKeyAuthenticated);
}

}  // namespace p11
