#include "values.h"

#include <cmath>
#include <limits>

namespace p11 {

static constexpr double kMaxSafe = 9007199254740991.0;  // 2^53 - 1

napi_value UlongToJs(napi_env env, CK_ULONG v) {
  napi_value out = nullptr;
  if (static_cast<unsigned long long>(v) <= 9007199254740991ULL) {
    napi_create_double(env, static_cast<double>(v), &out);
  } else {
    napi_create_bigint_uint64(env, static_cast<uint64_t>(v), &out);
  }
  return out;
}

UlongParse JsToUlong(napi_env env, napi_value v, CK_ULONG* out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return UlongParse::WrongType;
  if (t == napi_number) {
    double d;
    if (napi_get_value_double(env, v, &d) != napi_ok) return UlongParse::WrongType;
    if (!std::isfinite(d) || d < 0 || d != std::floor(d)) return UlongParse::OutOfRange;
    // Above 2^53 a number is already rounded; demand a BigInt so nothing is silently changed.
    if (d > kMaxSafe) return UlongParse::OutOfRange;
    if (d > static_cast<double>(std::numeric_limits<CK_ULONG>::max())) return UlongParse::OutOfRange;
    *out = static_cast<CK_ULONG>(d);
    return UlongParse::Ok;
  }
  if (t == napi_bigint) {
    uint64_t u;
    bool lossless = false;
    if (napi_get_value_bigint_uint64(env, v, &u, &lossless) != napi_ok) return UlongParse::WrongType;
    if (!lossless || u > static_cast<uint64_t>(std::numeric_limits<CK_ULONG>::max())) return UlongParse::OutOfRange;
    *out = static_cast<CK_ULONG>(u);
    return UlongParse::Ok;
  }
  return UlongParse::WrongType;
}

Napi::String PaddedString(Napi::Env env, const CK_UTF8CHAR* p, size_t n) {
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0')) n--;
  return Napi::String::New(env, reinterpret_cast<const char*>(p), n);
}

Napi::Value BytesToBuffer(Napi::Env env, const void* p, size_t n) {
  return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(p), n);
}

static void SetUlong(Napi::Object& o, const char* key, CK_ULONG v) {
  o.Set(key, Napi::Value(o.Env(), UlongToJs(o.Env(), v)));
}

Napi::Object VersionToJs(Napi::Env env, const CK_VERSION& v) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("major", Napi::Number::New(env, v.major));
  o.Set("minor", Napi::Number::New(env, v.minor));
  return o;
}

Napi::Object InfoToJs(Napi::Env env, const CK_INFO& v) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("cryptokiVersion", VersionToJs(env, v.cryptokiVersion));
  o.Set("manufacturerID", PaddedString(env, v.manufacturerID, sizeof(v.manufacturerID)));
  SetUlong(o, "flags", v.flags);
  o.Set("libraryDescription", PaddedString(env, v.libraryDescription, sizeof(v.libraryDescription)));
  o.Set("libraryVersion", VersionToJs(env, v.libraryVersion));
  return o;
}

Napi::Object SlotInfoToJs(Napi::Env env, const CK_SLOT_INFO& v) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("slotDescription", PaddedString(env, v.slotDescription, sizeof(v.slotDescription)));
  o.Set("manufacturerID", PaddedString(env, v.manufacturerID, sizeof(v.manufacturerID)));
  SetUlong(o, "flags", v.flags);
  o.Set("hardwareVersion", VersionToJs(env, v.hardwareVersion));
  o.Set("firmwareVersion", VersionToJs(env, v.firmwareVersion));
  return o;
}

Napi::Object TokenInfoToJs(Napi::Env env, const CK_TOKEN_INFO& v) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("label", PaddedString(env, v.label, sizeof(v.label)));
  o.Set("manufacturerID", PaddedString(env, v.manufacturerID, sizeof(v.manufacturerID)));
  o.Set("model", PaddedString(env, v.model, sizeof(v.model)));
  o.Set("serialNumber", PaddedString(env, v.serialNumber, sizeof(v.serialNumber)));
  SetUlong(o, "flags", v.flags);
  SetUlong(o, "maxSessionCount", v.ulMaxSessionCount);
  SetUlong(o, "sessionCount", v.ulSessionCount);
  SetUlong(o, "maxRwSessionCount", v.ulMaxRwSessionCount);
  SetUlong(o, "rwSessionCount", v.ulRwSessionCount);
  SetUlong(o, "maxPinLen", v.ulMaxPinLen);
  SetUlong(o, "minPinLen", v.ulMinPinLen);
  SetUlong(o, "totalPublicMemory", v.ulTotalPublicMemory);
  SetUlong(o, "freePublicMemory", v.ulFreePublicMemory);
  SetUlong(o, "totalPrivateMemory", v.ulTotalPrivateMemory);
  SetUlong(o, "freePrivateMemory", v.ulFreePrivateMemory);
  o.Set("hardwareVersion", VersionToJs(env, v.hardwareVersion));
  o.Set("firmwareVersion", VersionToJs(env, v.firmwareVersion));
  o.Set("utcTime", PaddedString(env, v.utcTime, sizeof(v.utcTime)));
  return o;
}

Napi::Object SessionInfoToJs(Napi::Env env, const CK_SESSION_INFO& v) {
  Napi::Object o = Napi::Object::New(env);
  SetUlong(o, "slotID", v.slotID);
  SetUlong(o, "state", v.state);
  SetUlong(o, "flags", v.flags);
  SetUlong(o, "deviceError", v.ulDeviceError);
  return o;
}

Napi::Object MechanismInfoToJs(Napi::Env env, const CK_MECHANISM_INFO& v) {
  Napi::Object o = Napi::Object::New(env);
  SetUlong(o, "minKeySize", v.ulMinKeySize);
  SetUlong(o, "maxKeySize", v.ulMaxKeySize);
  SetUlong(o, "flags", v.flags);
  return o;
}

Napi::Array UlongArrayToJs(Napi::Env env, const CK_ULONG* p, size_t n) {
  Napi::Array a = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) a.Set(static_cast<uint32_t>(i), Napi::Value(env, UlongToJs(env, p[i])));
  return a;
}

}  // namespace p11
