// Key management and random numbers.
#include "call.h"
#include "marshal/values.h"

namespace p11 {

namespace {

struct Op_C_GenerateKey : OpBase {
  static constexpr Fn kFn = Fn::C_GenerateKey;
  CK_MECHANISM_PTR mech = nullptr;
  CK_ATTRIBUTE_PTR tpl = nullptr;
  CK_ULONG count = 0;
  CK_OBJECT_HANDLE key = 0;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Template(2, "template", &tpl, &count); }
  CK_RV Run(const FunctionTable& f) { return f.C_GenerateKey(session, mech, tpl, count, &key); }
  Napi::Value Result(Napi::Env env) { return Napi::Value(env, UlongToJs(env, key)); }
};

struct Op_C_GenerateKeyPair : OpBase {
  static constexpr Fn kFn = Fn::C_GenerateKeyPair;
  CK_MECHANISM_PTR mech = nullptr;
  CK_ATTRIBUTE_PTR pubTpl = nullptr, privTpl = nullptr;
  CK_ULONG pubCount = 0, privCount = 0;
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Template(2, "publicKeyTemplate", &pubTpl, &pubCount) &&
           a.Template(3, "privateKeyTemplate", &privTpl, &privCount);
  }
  CK_RV Run(const FunctionTable& f) {
    return f.C_GenerateKeyPair(session, mech, pubTpl, pubCount, privTpl, privCount, &pub, &priv);
  }
  Napi::Value Result(Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    SetProp(env, o, Key::publicKey, UlongToJs(env, pub));
    SetProp(env, o, Key::privateKey, UlongToJs(env, priv));
    return o;
  }
};

struct Op_C_WrapKey : OpBase {
  static constexpr Fn kFn = Fn::C_WrapKey;
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE wrapping = 0, key = 0;
  OutBuf out;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Ulong(2, "hWrappingKey", &wrapping) &&
           a.Ulong(3, "hKey", &key) && a.Output(4, "out", &out);
  }
  CK_RV Run(const FunctionTable& f) {
    return FillOutput(out, detail,
                      [&](CK_BYTE_PTR p, CK_ULONG_PTR n) { return f.C_WrapKey(session, mech, wrapping, key, p, n); });
  }
  Napi::Value Result(Napi::Env env) { return OutputToJs(env, out, "C_WrapKey"); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

struct Op_C_UnwrapKey : OpBase {
  static constexpr Fn kFn = Fn::C_UnwrapKey;
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE unwrapping = 0, key = 0;
  ByteSpan wrapped;
  CK_ATTRIBUTE_PTR tpl = nullptr;
  CK_ULONG count = 0;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Ulong(2, "hUnwrappingKey", &unwrapping) &&
           a.Bytes(3, "wrappedKey", &wrapped) && a.Template(4, "template", &tpl, &count);
  }
  CK_RV Run(const FunctionTable& f) {
    return f.C_UnwrapKey(session, mech, unwrapping, wrapped.p, wrapped.n, tpl, count, &key);
  }
  Napi::Value Result(Napi::Env env) { return Napi::Value(env, UlongToJs(env, key)); }
};

struct Op_C_DeriveKey : OpBase {
  static constexpr Fn kFn = Fn::C_DeriveKey;
  CK_MECHANISM_PTR mech = nullptr;
  CK_OBJECT_HANDLE base = 0, key = 0;
  CK_ATTRIBUTE_PTR tpl = nullptr;
  CK_ULONG count = 0;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Mechanism(1, &mech) && a.Ulong(2, "hBaseKey", &base) &&
           a.Template(3, "template", &tpl, &count);
  }
  CK_RV Run(const FunctionTable& f) { return f.C_DeriveKey(session, mech, base, tpl, count, &key); }
  Napi::Value Result(Napi::Env env) { return Napi::Value(env, UlongToJs(env, key)); }
};

struct Op_C_SeedRandom : OpBase {
  static constexpr Fn kFn = Fn::C_SeedRandom;
  ByteSpan seed;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Bytes(1, "seed", &seed); }
  CK_RV Run(const FunctionTable& f) { return f.C_SeedRandom(session, seed.p, seed.n); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

// C_GenerateRandom(h, length) → new Buffer, or C_GenerateRandom(h, buffer) → fills it.
struct Op_C_GenerateRandom : OpBase {
  static constexpr Fn kFn = Fn::C_GenerateRandom;
  OutBuf out;
  CK_ULONG length = 0;
  bool Parse(Args& a) {
    if (!SessionArg(a, 0)) return false;
    napi_valuetype t = napi_undefined;
    if (a.At(1)) napi_typeof(a.env(), a.At(1), &t);
    if (t == napi_number || t == napi_bigint) {
      if (!a.Ulong(1, "length", &length)) return false;
      if (length > kMaxOutput) {
        a.FailRange("length", "must be at most " + std::to_string(kMaxOutput));
        return false;
      }
      return true;
    }
    if (!a.Output(1, "out", &out)) return false;
    if (!out.hasCaller) {
      a.FailType("length", "a number or a Buffer to fill", a.At(1));
      return false;
    }
    length = static_cast<CK_ULONG>(out.callerCap);
    return true;
  }
  CK_RV Run(const FunctionTable& f) {
    CK_BYTE_PTR target = out.callerPtr ? out.callerPtr : out.Room(length);
    CK_RV rv = f.C_GenerateRandom(session, target, length);
    out.data = target;
    out.len = rv == CKR_OK ? length : 0;
    return rv;
  }
  Napi::Value Result(Napi::Env env) { return OutputToJs(env, out, "C_GenerateRandom"); }
  void Cleanup(napi_env env) { ReleaseOutput(env, out); }
};

}  // namespace

void RegisterKey(Props& props) {
  P11_METHODS(props, C_GenerateKey);
  P11_METHODS(props, C_GenerateKeyPair);
  P11_METHODS(props, C_WrapKey);
  P11_METHODS(props, C_UnwrapKey);
  P11_METHODS(props, C_DeriveKey);
  P11_METHODS(props, C_SeedRandom);
  P11_METHODS(props, C_GenerateRandom);
}

}  // namespace p11
