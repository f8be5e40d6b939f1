// General-purpose functions: C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, and
// C_WaitForSlotEvent (blocking: its async form is what scripts waiting for a token want).
#include <cstring>
#include <vector>

#include "call.h"
#include "marshal/values.h"

namespace p11 {

namespace {

// NSS reads its library parameters from the pReserved slot and then one more pointer, which
// must be NULL; the spare field keeps that read inside our allocation.
struct InitArgs {
  CK_C_INITIALIZE_ARGS args;
  CK_VOID_PTR tail;
};

struct Op_C_Initialize : OpBase {
  static constexpr Fn kFn = Fn::C_Initialize;
  static constexpr bool kNeedsInit = false;
  InitArgs init{};
  bool already = false;
  bool shared = false;
  bool adopted = false;

  bool Parse(Args& a) {
    ownThread = true;  // a module may take its time to start (a network HSM connects)
    init.args.flags = CKF_OS_LOCKING_OK;
    if (!a.IsNullish(0)) {
      napi_value o = a.At(0);
      napi_valuetype t;
      napi_typeof(a.env(), o, &t);
      if (t != napi_object) {
        a.FailType("options", "an object { flags?, libraryParameters? }", o);
        return false;
      }
      napi_value flags, params;
      if (napi_get_named_property(a.env(), o, "flags", &flags) != napi_ok) return a.FailPending();
      napi_typeof(a.env(), flags, &t);
      if (t != napi_undefined && !a.ValueUlong(flags, "options.flags", &init.args.flags)) return false;
      if (napi_get_named_property(a.env(), o, "libraryParameters", &params) != napi_ok) return a.FailPending();
      napi_typeof(a.env(), params, &t);
      if (t == napi_string) {
        size_t len = 0;
        napi_get_value_string_utf8(a.env(), params, nullptr, 0, &len);
        char* s = static_cast<char*>(a.arena().Alloc(len + 1));
        napi_get_value_string_utf8(a.env(), params, s, len + 1, &len);
        init.args.pReserved = s;
      } else if (t != napi_undefined && t != napi_null) {
        a.FailType("options.libraryParameters", "a string", params);
        return false;
      }
    }
    already = mod->initialized() || mod->initPending;
    if (!already) mod->initPending = true;
    return true;
  }
  CK_RV Run(const FunctionTable&) {
    if (already) return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    // After a C_Finalize queued before this call: the order the caller made the calls in.
    flights->WaitForEarlier(ticket, false, 0);
    CK_RV rv = lib->Initialize(&init.args, &shared);
    if (rv != CKR_OK) return rv;
    // The share belongs to the object from here on, on this thread, so a close() that races the
    // result still finds it and gives it back. A load that ended meanwhile (teardown) refuses it.
    adopted = flights->Adopt(loadGen) != 0;
    if (!adopted) lib->Finalize();
    return CKR_OK;
  }
  Napi::Value Result(Napi::Env env) {
    if (Current() && adopted) mod->SetInitialized(true);
    return env.Undefined();
  }
  void Cleanup(napi_env) {
    if (!already && Current()) mod->initPending = false;
  }
};

struct Op_C_Finalize : OpBase {
  static constexpr Fn kFn = Fn::C_Finalize;
  static constexpr bool kEndsInit = true;
  bool Parse(Args&) {
    ownThread = true;                         // never queued behind calls that hold the pool's threads
    if (!lib->fns().C_Finalize) return true;  // "not supported" follows; change nothing
    // From here on this object is finalized: later calls get CKR_CRYPTOKI_NOT_INITIALIZED from us
    // instead of racing the module's teardown.
    mod->SetInitialized(false);
    return true;
  }
  CK_RV Run(const FunctionTable& f) {
    flights->WaitForEarlier(ticket, false, 0);
    // Everything queued before has run; later calls were refused, so the share is ours to end.
    // Our sessions end with it even when another user keeps the module initialized.
    std::vector<CK_SESSION_HANDLE> open;
    if (!flights->TakeShare(&open)) return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (f.C_CloseSession)
      for (CK_SESSION_HANDLE h : open) f.C_CloseSession(h);
    return lib->Finalize();
  }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_GetInfo : OpBase {
  static constexpr Fn kFn = Fn::C_GetInfo;
  CK_INFO info{};
  bool Parse(Args&) { return true; }
  CK_RV Run(const FunctionTable& f) { return f.C_GetInfo(&info); }
  Napi::Value Result(Napi::Env env) { return InfoToJs(env, info); }
};

struct Op_C_GetFunctionList : OpBase {
  static constexpr Fn kFn = Fn::C_GetFunctionList;
  static constexpr bool kNeedsInit = false;
  CK_VERSION version{};
  bool Parse(Args&) { return true; }
  CK_RV Run(const FunctionTable& f) {
    CK_FUNCTION_LIST_PTR list = nullptr;
    CK_RV rv = f.C_GetFunctionList(&list);
    if (rv == CKR_OK && !list) {
      detail = "module returned a NULL function list";
      return CKR_GENERAL_ERROR;
    }
    if (rv == CKR_OK) version = list->version;
    return rv;
  }
  Napi::Value Result(Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("version", VersionToJs(env, version));
    Napi::Array names = Napi::Array::New(env);
    uint32_t k = 0;
    for (int i = 0; i < 104; i++)
      if (lib->fns().Has(static_cast<Fn>(i))) names.Set(k++, FunctionTable::Name(static_cast<Fn>(i)));
    o.Set("functions", names);
    return o;
  }
};

Napi::Object InterfaceToJs(Napi::Env env, const CK_INTERFACE& i) {
  Napi::Object o = Napi::Object::New(env);
  const char* name = reinterpret_cast<const char*>(i.pInterfaceName);
  o.Set("name", name ? Napi::Value(Napi::String::New(env, name, strnlen(name, 256))) : env.Null());
  CK_VERSION v{0, 0};
  if (i.pFunctionList) v = static_cast<const CK_VERSION*>(i.pFunctionList)[0];  // every list starts with it
  o.Set("version", VersionToJs(env, v));
  o.Set("flags", Napi::Value(env, UlongToJs(env, i.flags)));
  return o;
}

// 3.0: the interfaces the module offers → [{ name, version, flags }].
struct Op_C_GetInterfaceList : OpBase {
  static constexpr Fn kFn = Fn::C_GetInterfaceList;
  static constexpr bool kNeedsInit = false;
  std::vector<CK_INTERFACE> list;
  bool Parse(Args&) { return true; }
  CK_RV Run(const FunctionTable& f) {
    CK_ULONG n = 0;
    CK_RV rv = f.C_GetInterfaceList(nullptr, &n);
    for (int attempt = 0; rv == CKR_OK && attempt < 4; attempt++) {
      if (n > 1024) {
        detail = "module reported " + std::to_string(n) + " interfaces";
        return CKR_GENERAL_ERROR;
      }
      list.assign(n ? n : 1, CK_INTERFACE{});
      CK_ULONG got = n;
      rv = f.C_GetInterfaceList(list.data(), &got);
      if (rv == CKR_BUFFER_TOO_SMALL) {
        n = got > n ? got : n + 4;
        rv = CKR_OK;
        continue;
      }
      if (rv == CKR_OK && got > n) {
        detail = "module reported more interfaces than the buffer holds";
        return CKR_GENERAL_ERROR;
      }
      if (rv == CKR_OK) list.resize(got);
      return rv;
    }
    return rv;
  }
  Napi::Value Result(Napi::Env env) {
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) a.Set(static_cast<uint32_t>(i), InterfaceToJs(env, list[i]));
    return a;
  }
};

// 3.0: C_GetInterface(name?, version?, flags?) → { name, version, flags } of the match.
struct Op_C_GetInterface : OpBase {
  static constexpr Fn kFn = Fn::C_GetInterface;
  static constexpr bool kNeedsInit = false;
  CK_UTF8CHAR_PTR name = nullptr;
  CK_VERSION version{0, 0};
  bool hasVersion = false;
  CK_FLAGS flags = 0;
  CK_INTERFACE_PTR found = nullptr;
  bool Parse(Args& a) {
    if (!a.IsNullish(0)) {
      ByteSpan s;
      napi_valuetype t;
      napi_typeof(a.env(), a.At(0), &t);
      if (t != napi_string) {
        a.FailType("name", "a string or null", a.At(0));
        return false;
      }
      if (!a.Secret(0, "name", &s, false)) return false;  // NUL-terminated copy
      name = s.p;
    }
    if (!a.IsNullish(1)) {
      napi_value v = a.At(1), maj, min;
      napi_valuetype t;
      napi_typeof(a.env(), v, &t);
      CK_ULONG M = 0, m = 0;
      if (t != napi_object) {
        a.FailType("version", "an object { major, minor } or null", v);
        return false;
      }
      if (napi_get_named_property(a.env(), v, "major", &maj) != napi_ok ||
          napi_get_named_property(a.env(), v, "minor", &min) != napi_ok)
        return a.FailPending();
      if (!a.ValueUlong(maj, "version.major", &M) || !a.ValueUlong(min, "version.minor", &m)) return false;
      if (M > 255 || m > 255) {
        a.FailRange("version", "fields must be from 0 to 255");
        return false;
      }
      version = CK_VERSION{static_cast<CK_BYTE>(M), static_cast<CK_BYTE>(m)};
      hasVersion = true;
    }
    return a.OptUlong(2, "flags", &flags, 0);
  }
  CK_RV Run(const FunctionTable& f) {
    CK_RV rv = f.C_GetInterface(name, hasVersion ? &version : nullptr, &found, flags);
    if (rv == CKR_OK && !found) {
      detail = "module returned no interface";
      return CKR_GENERAL_ERROR;
    }
    return rv;
  }
  Napi::Value Result(Napi::Env env) { return InterfaceToJs(env, *found); }
};

struct Op_C_WaitForSlotEvent : OpBase {
  static constexpr Fn kFn = Fn::C_WaitForSlotEvent;
  CK_FLAGS flags = 0;
  CK_SLOT_ID slot = 0;
  bool noEvent = false;
  bool Parse(Args& a) {
    waitExempt = true;
    if (!a.OptUlong(0, "flags", &flags, 0)) return false;
    // A blocking wait holds its thread until an event or C_Finalize: a thread of its own, so no
    // number of watchers can take the pool's threads (engine/call_pool.h).
    ownThread = !(flags & CKF_DONT_BLOCK);
    return true;
  }
  CK_RV Run(const FunctionTable& f) {
    CK_RV rv = f.C_WaitForSlotEvent(flags, &slot, nullptr);
    noEvent = rv == CKR_NO_EVENT;
    return noEvent ? CKR_OK : rv;
  }
  // null when CKF_DONT_BLOCK found no event.
  Napi::Value Result(Napi::Env env) { return noEvent ? env.Null() : Napi::Value(env, UlongToJs(env, slot)); }
};

}  // namespace

void RegisterGeneral(Props& props) {
  P11_METHODS(props, C_Initialize);
  P11_METHODS(props, C_Finalize);
  P11_METHODS(props, C_GetInfo);
  P11_METHODS(props, C_GetFunctionList);
  P11_METHODS(props, C_WaitForSlotEvent);
  P11_METHODS(props, C_GetInterfaceList);
  P11_METHODS(props, C_GetInterface);
}

}  // namespace p11
