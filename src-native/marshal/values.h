// Plain values between JS and C: CK_ULONG at its real width, fixed blank-padded strings, the info
// structs, and output bytes.
#pragma once
#include <napi.h>

#include <cstddef>

#include "pkcs11/pkcs11.h"

namespace p11 {

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
