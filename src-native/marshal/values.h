// Plain values between JS and C: CK_ULONG at its real width, fixed blank-padded strings, the info
// structs, and output bytes.
#pragma once
#include <napi.h>

#include <cstddef>

#include "pkcs11/pkcs11.h"

namespace p11 {

// Property names of the objects built on hot paths. Created once per environment and reused, so
// V8 sees the same internalized key (and the same hidden class) every call instead of decoding
// and looking up a UTF-8 name per property.
#define P11_KEYS(X)     \
  X(major)              \
  X(minor)              \
  X(cryptokiVersion)    \
  X(manufacturerID)     \
  X(flags)              \
  X(libraryDescription) \
  X(libraryVersion)     \
  X(slotDescription)    \
  X(hardwareVersion)    \
  X(firmwareVersion)    \
  X(label)              \
  X(model)              \
  X(serialNumber)       \
  X(maxSessionCount)    \
  X(sessionCount)       \
  X(maxRwSessionCount)  \
  X(rwSessionCount)     \
  X(maxPinLen)          \
  X(minPinLen)          \
  X(totalPublicMemory)  \
  X(freePublicMemory)   \
  X(totalPrivateMemory) \
  X(freePrivateMemory)  \
  X(utcTime)            \
  X(slotID)             \
  X(state)              \
  X(deviceError)        \
  X(minKeySize)         \
  X(maxKeySize)         \
  X(type)               \
  X(status)             \
  X(value)              \
  X(publicKey)          \
  X(privateKey)         \
  X(mechanism)          \
  X(parameter)

enum class Key {
#define P11_KEY_ENUM(k) k,
  P11_KEYS(P11_KEY_ENUM)
#undef P11_KEY_ENUM
      Count
};
napi_status GetProp(napi_env env, napi_value obj, Key k, napi_value* out);
void SetProp(napi_env env, napi_value obj, Key k, napi_value v);

// A CK_ULONG as a JS number when it is a safe integer (<= 2^53 - 1), otherwise a BigInt: no value
// is ever rounded, and CK_UNAVAILABLE_INFORMATION (~0) comes back as a BigInt on 64-bit platforms.
napi_value UlongToJs(napi_env env, CK_ULONG v);

enum class UlongParse { Ok, WrongType, OutOfRange };
// Accepts a non-negative integer number or a BigInt that fits CK_ULONG.
UlongParse JsToUlong(napi_env env, napi_value v, CK_ULONG* out);

// Blank- or NUL-padded fixed-width UTF-8 field (CK_INFO.manufacturerID …), trailing padding removed.
Napi::String PaddedString(Napi::Env env, const CK_UTF8CHAR* p, size_t n);

// Output bytes as a new Buffer (copied: no external memory, which some embedders forbid).
Napi::Value BytesToBuffer(Napi::Env env, const void* p, size_t n);

Napi::Object VersionToJs(Napi::Env env, const CK_VERSION& v);
Napi::Object InfoToJs(Napi::Env env, const CK_INFO& v);
Napi::Object SlotInfoToJs(Napi::Env env, const CK_SLOT_INFO& v);
Napi::Object TokenInfoToJs(Napi::Env env, const CK_TOKEN_INFO& v);
Napi::Object SessionInfoToJs(Napi::Env env, const CK_SESSION_INFO& v);
Napi::Object MechanismInfoToJs(Napi::Env env, const CK_MECHANISM_INFO& v);
Napi::Array UlongArrayToJs(Napi::Env env, const CK_ULONG* p, size_t n);

}  // namespace p11
