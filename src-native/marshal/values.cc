#include "values.h"

#include <cmath>
#include <limits>

#include "env_data.h"

namespace p11 {

static const char* const kKeyNames[] = {
#define P11_KEY_NAME(k) #k,
    P11_KEYS(P11_KEY_NAME)
#undef P11_KEY_NAME
};

// By name, not through cached key strings: N-API (version 8) can keep a reference to an object but
// not to a string, and fetching a cached key from an array costs more (callgrind: about 660
// instructions) than napi_*_named_property's internalizing lookup of a short name (about 420).
napi_status GetProp(napi_env env, napi_value obj, Key k, napi_value* out) {
  return napi_get_named_property(env, obj, kKeyNames[static_cast<int>(k)], out);
}

void SetProp(napi_env env, napi_value obj, Key k, napi_value v) {
  napi_set_named_property(env, obj, kKeyNames[static_cast<int>(k)], v);
}

static constexpr double kMaxSafe = 9007199254740991.0;  // 2^53 - 1

// Taking a uint64_t: with a 32-bit CK_ULONG (Windows) the test is always true, which the compiler
// would warn about if it saw the narrow type.
static bool IsSafeInteger(uint64_t v) { return v <= 9007199254740991ULL; }

napi_value UlongToJs(napi_env env, CK_ULONG v) {
  napi_value out = nullptr;
  if (IsSafeInteger(v)) {
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

static void SetUlong(Napi::Object& o, Key key, CK_ULONG v) { SetProp(o.Env(), o, key, UlongToJs(o.Env(), v)); }

Napi::Object VersionToJs(Napi::Env env, const CK_VERSION& v) {
  Napi::Object o = Napi::Object::New(env);
  SetProp(env, o, Key::major, Napi::Number::New(env, v.major));
  SetProp(env, o, Key::minor, Napi::Number::New(env, v.minor));
  return o;
}

Napi::Object InfoToJs(Napi::Env env, const CK_INFO& v) {
  Napi::Object o = Napi::Object::New(env);
  SetProp(env, o, Key::cryptokiVersion, VersionToJs(env, v.cryptokiVersion));
  SetProp(env, o, Key::manufacturerID, PaddedString(env, v.manufacturerID, sizeof(v.manufacturerID)));
  SetUlong(o, Key::flags, v.flags);
  SetProp(env, o, Key::libraryDescription, PaddedString(env, v.libraryDescription, sizeof(v.libraryDescription)));
  SetProp(env, o, Key::libraryVersion, VersionToJs(env, v.libraryVersion));
  return o;
}

Napi::Object SlotInfoToJs(Napi::Env env, const CK_SLOT_INFO& v) {
  Napi::Object o = Napi::Object::New(env);
  SetProp(env, o, Key::slotDescription, PaddedString(env, v.slotDescription, sizeof(v.slotDescription)));
  SetProp(env, o, Key::manufacturerID, PaddedString(env, v.manufacturerID, sizeof(v.manufacturerID)));
  SetUlong(o, Key::flags, v.flags);
  SetProp(env, o, Key::hardwareVersion, VersionToJs(env, v.hardwareVersion));
  SetProp(env, o, Key::firmwareVersion, VersionToJs(env, v.firmwareVersion));
  return o;
}

Napi::Object TokenInfoToJs(Napi::Env env, const CK_TOKEN_INFO& v) {
  Napi::Object o = Napi::Object::New(env);
  SetProp(env, o, Key::label, PaddedString(env, v.label, sizeof(v.label)));
  SetProp(env, o, Key::manufacturerID, PaddedString(env, v.manufacturerID, sizeof(v.manufacturerID)));
  SetProp(env, o, Key::model, PaddedString(env, v.model, sizeof(v.model)));
  SetProp(env, o, Key::serialNumber, PaddedString(env, v.serialNumber, sizeof(v.serialNumber)));
  SetUlong(o, Key::flags, v.flags);
  SetUlong(o, Key::maxSessionCount, v.ulMaxSessionCount);
  SetUlong(o, Key::sessionCount, v.ulSessionCount);
  SetUlong(o, Key::maxRwSessionCount, v.ulMaxRwSessionCount);
  SetUlong(o, Key::rwSessionCount, v.ulRwSessionCount);
  SetUlong(o, Key::maxPinLen, v.ulMaxPinLen);
  SetUlong(o, Key::minPinLen, v.ulMinPinLen);
  SetUlong(o, Key::totalPublicMemory, v.ulTotalPublicMemory);
  SetUlong(o, Key::freePublicMemory, v.ulFreePublicMemory);
  SetUlong(o, Key::totalPrivateMemory, v.ulTotalPrivateMemory);
  SetUlong(o, Key::freePrivateMemory, v.ulFreePrivateMemory);
  SetProp(env, o, Key::hardwareVersion, VersionToJs(env, v.hardwareVersion));
  SetProp(env, o, Key::firmwareVersion, VersionToJs(env, v.firmwareVersion));
  SetProp(env, o, Key::utcTime, PaddedString(env, v.utcTime, sizeof(v.utcTime)));
  return o;
}

Napi::Object SessionInfoToJs(Napi::Env env, const CK_SESSION_INFO& v) {
  EnvData* data = GetEnvData(env);
  if (data && !data->makeSessionInfo.IsEmpty()) {
    napi_value args[4] = {UlongToJs(env, v.slotID), UlongToJs(env, v.state), UlongToJs(env, v.flags),
                          UlongToJs(env, v.ulDeviceError)};
    napi_value out;
    if (napi_call_function(env, env.Undefined(), data->makeSessionInfo.Value(), 4, args, &out) == napi_ok)
      return Napi::Object(env, out);
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
  }
  Napi::Object o = Napi::Object::New(env);
  SetUlong(o, Key::slotID, v.slotID);
  SetUlong(o, Key::state, v.state);
  SetUlong(o, Key::flags, v.flags);
  SetUlong(o, Key::deviceError, v.ulDeviceError);
  return o;
}

Napi::Object MechanismInfoToJs(Napi::Env env, const CK_MECHANISM_INFO& v) {
  Napi::Object o = Napi::Object::New(env);
  SetUlong(o, Key::minKeySize, v.ulMinKeySize);
  SetUlong(o, Key::maxKeySize, v.ulMaxKeySize);
  SetUlong(o, Key::flags, v.flags);
  return o;
}

Napi::Array UlongArrayToJs(Napi::Env env, const CK_ULONG* p, size_t n) {
  Napi::Array a = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) a.Set(static_cast<uint32_t>(i), Napi::Value(env, UlongToJs(env, p[i])));
  return a;
}

}  // namespace p11
