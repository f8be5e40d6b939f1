#include "marshal/args.h"
#include "marshal/values.h"

namespace p11 {

// `{ mechanism, parameter? }`; parameter is bytes (an IV, a struct already laid out), a struct
// description (marshal/params.cc) or absent.
bool Args::Mechanism(size_t i, const char* name, CK_MECHANISM_PTR* out) {
  napi_value v = At(i);
  napi_valuetype t = napi_undefined;
  if (v) napi_typeof(env_, v, &t);
  if (t != napi_object) {
    FailType(name, "an object { mechanism, parameter? }", v);
    return false;
  }
  CK_MECHANISM_PTR m = arena_.New<CK_MECHANISM>();
  napi_value type, param;
  if (napi_get_property(env_, v, KeyName(env_, Key::mechanism), &type) != napi_ok) return FailPending();
  std::string tn = std::string(name) + ".mechanism";
  if (!ValueUlong(type, tn.c_str(), &m->mechanism)) return false;
  if (napi_get_property(env_, v, KeyName(env_, Key::parameter), &param) != napi_ok) return FailPending();
  if (!ParamValue(param, std::string(name) + ".parameter", &m->pParameter, &m->ulParameterLen)) return false;
  *out = m;
  return true;
}

}  // namespace p11
