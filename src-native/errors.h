// JS errors built by native code. PKCS#11 failures go through a factory the TS layer registers, so
// the raw and typed layers throw the same classes; argument errors are TypeError / RangeError that
// name the function and the argument (never its value: it may be a PIN).
#pragma once
#include <napi.h>

#include <string>

#include "pkcs11/pkcs11.h"

namespace p11 {

Napi::Error Pkcs11Error(Napi::Env env, CK_RV rv, const char* function, const std::string& detail = "");
Napi::Error LoadFailure(Napi::Env env, const std::string& code, const std::string& message, const std::string& path,
                        CK_RV rv);
Napi::Error ArgTypeError(Napi::Env env, const char* function, const char* arg, const std::string& expected,
                         napi_value actual);
Napi::Error ArgRangeError(Napi::Env env, const char* function, const char* arg, const std::string& what);
Napi::Error StateError(Napi::Env env, const char* function, const std::string& what);

// JS typeof-like name of a value for messages ("number", "bigint", "Buffer", "null" …).
std::string DescribeType(Napi::Env env, napi_value v);

}  // namespace p11
