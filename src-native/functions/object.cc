// Object management: create, copy, destroy, size, attributes (partial reads), search.
#include <vector>

#include "functions/shapes.h"
#include "marshal/template.h"
#include "marshal/values.h"

namespace p11 {

namespace {

struct Op_C_CreateObject : OpBase {
  static constexpr Fn kFn = Fn::C_CreateObject;
  CK_ATTRIBUTE_PTR tpl = nullptr;
  CK_ULONG count = 0;
  CK_OBJECT_HANDLE handle = 0;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Template(1, "template", &tpl, &count); }
  CK_RV Run(const FunctionTable& f) { return f.C_CreateObject(session, tpl, count, &handle); }
  Napi::Value Result(Napi::Env env) { return Napi::Value(env, UlongToJs(env, handle)); }
};

struct Op_C_CopyObject : OpBase {
  static constexpr Fn kFn = Fn::C_CopyObject;
  CK_OBJECT_HANDLE object = 0, handle = 0;
  CK_ATTRIBUTE_PTR tpl = nullptr;
  CK_ULONG count = 0;
  bool Parse(Args& a) {
    if (!SessionArg(a, 0) || !a.Ulong(1, "hObject", &object)) return false;
    if (!a.IsNullish(2)) return a.Template(2, "template", &tpl, &count);
    tpl = a.arena().New<CK_ATTRIBUTE>();  // some modules refuse a NULL template even with count 0
    return true;
  }
  CK_RV Run(const FunctionTable& f) { return f.C_CopyObject(session, object, tpl, count, &handle); }
  Napi::Value Result(Napi::Env env) { return Napi::Value(env, UlongToJs(env, handle)); }
};

struct Op_C_DestroyObject : OpBase {
  static constexpr Fn kFn = Fn::C_DestroyObject;
  CK_OBJECT_HANDLE object = 0;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Ulong(1, "hObject", &object); }
  CK_RV Run(const FunctionTable& f) { return f.C_DestroyObject(session, object); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_GetObjectSize : OpBase {
  static constexpr Fn kFn = Fn::C_GetObjectSize;
  CK_OBJECT_HANDLE object = 0;
  CK_ULONG size = 0;
  bool Parse(Args& a) { return SessionArg(a, 0) && a.Ulong(1, "hObject", &object); }
  CK_RV Run(const FunctionTable& f) { return f.C_GetObjectSize(session, object, &size); }
  Napi::Value Result(Napi::Env env) { return Napi::Value(env, UlongToJs(env, size)); }
};

// C_GetAttributeValue(h, obj, types) — types are numbers/bigints or { type } objects. Returns
// [{ type, status, value? }] with status 'ok' | 'sensitive' | 'typeInvalid' | 'unavailable'.
struct Op_C_GetAttributeValue : OpBase {
  static constexpr Fn kFn = Fn::C_GetAttributeValue;
  CK_OBJECT_HANDLE object = 0;
  std::vector<AttrRead> attrs;
  bool Parse(Args& a) {
    if (!SessionArg(a, 0) || !a.Ulong(1, "hObject", &object)) return false;
    napi_value arr = a.At(2);
    bool isArray = false;
    if (!arr || napi_is_array(a.env(), arr, &isArray) != napi_ok || !isArray) {
      a.FailType("types", "an array of attribute types", arr);
      return false;
    }
    uint32_t n = 0;
    napi_get_array_length(a.env(), arr, &n);
    if (n > 4096) {
      a.FailRange("types", "has more than 4096 entries");
      return false;
    }
    attrs.resize(n);
    for (uint32_t i = 0; i < n; i++) {
      napi_value e;
      if (napi_get_element(a.env(), arr, i, &e) != napi_ok) return a.FailPending();
      napi_valuetype t;
      napi_typeof(a.env(), e, &t);
      if (t == napi_object) {
        napi_value type;
        if (napi_get_named_property(a.env(), e, "type", &type) != napi_ok) return a.FailPending();
        e = type;
      }
      std::string name = "types[" + std::to_string(i) + "]";
      if (!a.ValueUlong(e, name.c_str(), &attrs[i].type)) return false;
    }
    return true;
  }
  CK_RV Run(const FunctionTable& f) { return ReadAttributes(f, session, object, attrs, detail); }
  Napi::Value Result(Napi::Env env) { return AttrReadsToJs(env, attrs); }
};

struct Op_C_SetAttributeValue : OpBase {
  static constexpr Fn kFn = Fn::C_SetAttributeValue;
  CK_OBJECT_HANDLE object = 0;
  CK_ATTRIBUTE_PTR tpl = nullptr;
  CK_ULONG count = 0;
  bool Parse(Args& a) {
    return SessionArg(a, 0) && a.Ulong(1, "hObject", &object) && a.Template(2, "template", &tpl, &count);
  }
  CK_RV Run(const FunctionTable& f) { return f.C_SetAttributeValue(session, object, tpl, count); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_FindObjectsInit : OpBase {
  static constexpr Fn kFn = Fn::C_FindObjectsInit;
  CK_ATTRIBUTE_PTR tpl = nullptr;
  CK_ULONG count = 0;
  bool Parse(Args& a) {
    if (!SessionArg(a, 0)) return false;
    if (!a.IsNullish(1)) return a.Template(1, "template", &tpl, &count);
    tpl = a.arena().New<CK_ATTRIBUTE>();  // "find everything": a valid empty template
    return true;
  }
  CK_RV Run(const FunctionTable& f) { return f.C_FindObjectsInit(session, tpl, count); }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct Op_C_FindObjects : OpBase {
  static constexpr Fn kFn = Fn::C_FindObjects;
  CK_ULONG max = 64;
  std::vector<CK_OBJECT_HANDLE> found;
  bool Parse(Args& a) {
    if (!SessionArg(a, 0) || !a.OptUlong(1, "maxObjectCount", &max, 64)) return false;
    if (max == 0 || max > 65536) {
      a.FailRange("maxObjectCount", "must be from 1 to 65536");
      return false;
    }
    return true;
  }
  CK_RV Run(const FunctionTable& f) {
    found.assign(max, 0);
    CK_ULONG n = 0;
    CK_RV rv = f.C_FindObjects(session, found.data(), max, &n);
    if (rv == CKR_OK && n > max) {
      detail = "module reported more handles than asked for";
      return CKR_GENERAL_ERROR;
    }
    found.resize(rv == CKR_OK ? n : 0);
    return rv;
  }
  Napi::Value Result(Napi::Env env) { return UlongArrayToJs(env, found.data(), found.size()); }
};

using Op_C_FindObjectsFinal = SessionOnlyOp<Fn::C_FindObjectsFinal, &FunctionTable::C_FindObjectsFinal>;

}  // namespace

void RegisterObject(Props& props) {
  P11_METHODS(props, C_CreateObject);
  P11_METHODS(props, C_CopyObject);
  P11_METHODS(props, C_DestroyObject);
  P11_METHODS(props, C_GetObjectSize);
  P11_METHODS(props, C_GetAttributeValue);
  P11_METHODS(props, C_SetAttributeValue);
  P11_METHODS(props, C_FindObjectsInit);
  P11_METHODS(props, C_FindObjects);
  P11_METHODS(props, C_FindObjectsFinal);
}

}  // namespace p11
