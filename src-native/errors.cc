#include "errors.h"

#include <cstdio>

#include "env_data.h"
#include "marshal/values.h"

namespace p11 {

namespace {

Napi::Error WithCode(Napi::Error err, const char* code) {
  err.Value().Set("code", code);
  return err;
}

// kind: "TypeError" | "RangeError" | "Error".
Napi::Error MakePlain(Napi::Env env, const char* kind, const std::string& message) {
  EnvData* data = GetEnvData(env);
  if (data && !data->plainErrorFactory.IsEmpty()) {
    napi_value args[2] = {Napi::String::New(env, kind), Napi::String::New(env, message)};
    napi_value out;
    if (napi_call_function(env, env.Undefined(), data->plainErrorFactory.Value(), 2, args, &out) == napi_ok) {
      bool isError = false;
      if (napi_is_error(env, out, &isError) == napi_ok && isError) return Napi::Error(env, out);
    }
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
  }
  if (kind[0] == 'T') return Napi::TypeError::New(env, message);
  if (kind[0] == 'R') return Napi::RangeError::New(env, message);
  return Napi::Error::New(env, message);
}

std::string Hex(CK_RV rv) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llX", static_cast<unsigned long long>(rv));
  return buf;
}

}  // namespace

std::string DescribeType(Napi::Env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return "unknown";
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_function: return "function";
    case napi_bigint: return "bigint";
    case napi_external: return "external";
    case napi_object: {
      bool is = false;
      if (napi_is_array(env, v, &is) == napi_ok && is) return "Array";
      // constructor.name tells Buffer, Uint16Array, DataView … apart; only on the error path.
      napi_value ctor, name;
      napi_valuetype nt;
      if (napi_get_named_property(env, v, "constructor", &ctor) == napi_ok &&
          napi_get_named_property(env, ctor, "name", &name) == napi_ok && napi_typeof(env, name, &nt) == napi_ok &&
          nt == napi_string) {
        char buf[64];
        size_t len = 0;
        napi_get_value_string_utf8(env, name, buf, sizeof(buf), &len);
        if (len > 0) return std::string(buf, len) == "Object" ? "object" : std::string(buf, len);
      }
      bool pending = false;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
      return "object";
    }
  }
  return "unknown";
}

Napi::Error Pkcs11Error(Napi::Env env, CK_RV rv, const char* function, const std::string& detail) {
  EnvData* data = GetEnvData(env);
  if (data && !data->pkcs11ErrorFactory.IsEmpty()) {
    napi_value args[3] = {UlongToJs(env, rv), Napi::String::New(env, function),
                          detail.empty() ? env.Undefined() : Napi::String::New(env, detail)};
    napi_value out;
    if (napi_call_function(env, env.Undefined(), data->pkcs11ErrorFactory.Value(), 3, args, &out) == napi_ok) {
      bool isError = false;
      if (napi_is_error(env, out, &isError) == napi_ok && isError) return Napi::Error(env, out);
    }
    // A factory that throws or returns a non-error must not hide the module's answer.
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
  }
  std::string msg = std::string(function) + " failed: " + Hex(rv) + (detail.empty() ? "" : " (" + detail + ")");
  Napi::Error err = MakePlain(env, "Error", msg);
  err.Value().Set("rv", Napi::Value(env, UlongToJs(env, rv)));
  err.Value().Set("function", function);
  return err;
}

Napi::Error LoadFailure(Napi::Env env, const std::string& code, const std::string& message, const std::string& path,
                        CK_RV rv) {
  EnvData* data = GetEnvData(env);
  if (data && !data->loadErrorFactory.IsEmpty()) {
    napi_value args[4] = {Napi::String::New(env, code), Napi::String::New(env, message), Napi::String::New(env, path),
                          rv == CKR_OK ? env.Undefined() : UlongToJs(env, rv)};
    napi_value out;
    if (napi_call_function(env, env.Undefined(), data->loadErrorFactory.Value(), 4, args, &out) == napi_ok) {
      bool isError = false;
      if (napi_is_error(env, out, &isError) == napi_ok && isError) return Napi::Error(env, out);
    }
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
  }
  Napi::Error err = MakePlain(env, "Error", message);
  err.Value().Set("code", code);
  err.Value().Set("path", path);
  return err;
}

Napi::Error ArgTypeError(Napi::Env env, const char* function, const char* arg, const std::string& expected,
                         napi_value actual) {
  std::string got = actual ? DescribeType(env, actual) : "nothing";
  return WithCode(MakePlain(env, "TypeError",
                            std::string(function) + ": argument '" + arg + "' must be " + expected + ", got " + got),
                  "ERR_INVALID_ARG_TYPE");
}

Napi::Error ArgRangeError(Napi::Env env, const char* function, const char* arg, const std::string& what) {
  return WithCode(MakePlain(env, "RangeError", std::string(function) + ": argument '" + arg + "' " + what),
                  "ERR_OUT_OF_RANGE");
}

Napi::Error StateError(Napi::Env env, const char* function, const std::string& what) {
  return WithCode(MakePlain(env, "Error", std::string(function) + ": " + what), "ERR_P11_STATE");
}

}  // namespace p11
