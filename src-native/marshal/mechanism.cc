#include "marshal/args.h"
#include "marshal/values.h"

namespace p11 {

// `{ mechanism, parameter? }`; parameter is bytes (an IV, a struct already laid out), a struct
// description (marshal/params.cc) or absent.
bool Args::Mechanism(size_t i, CK_MECHANISM_PTR* out) {
  // The names errors give; fixed, so the hot path (every *Init) builds no strings.
  static const std::string kParameter = "mechanism.parameter";
  if (i == flatAt_) {
    CK_MECHANISM_PTR m = arena_.New<CK_MECHANISM>();
    napi_value param = i + 1 < info_.Length() ? static_cast<napi_value>(info_[i + 1]) : env_.Undefined();
    if (!ValueUlong(At(i), "mechanism.mechanism", &m->mechanism)) return false;
    if (!ParamValue(param, kParameter, &m->pParameter, &m->ulParameterLen)) return false;
    *out = m;
    return true;
  }
  napi_value v = At(i);
  napi_valuetype t = napi_undefined;
  if (v && napi_typeof(env_, v, &t) != napi_ok) return FailPending();
  if (t != napi_object) {
    FailType("mechanism", "an object { mechanism, parameter? }", v);
    return false;
  }
  CK_MECHANISM_PTR m = arena_.New<CK_MECHANISM>();
  napi_value type, param;
  if (GetProp(env_, v, Key::mechanism, &type) != napi_ok) return FailPending();
  if (!ValueUlong(type, "mechanism.mechanism", &m->mechanism)) return false;
  if (GetProp(env_, v, Key::parameter, &param) != napi_ok) return FailPending();
  if (!ParamValue(param, kParameter, &m->pParameter, &m->ulParameterLen)) return false;
  *out = m;
  return true;
}

}  // namespace p11
