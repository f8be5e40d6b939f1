#include "args.h"

#include <cstring>

#include "env_data.h"
#include "errors.h"
#include "marshal/values.h"

namespace p11 {

namespace {

// Byte view of any ArrayBufferView or ArrayBuffer; false when v is neither.
bool ViewBytes(napi_env env, napi_value v, void** data, size_t* length) {
  bool is = false;
  napi_typedarray_type type;
  size_t count, offset;
  napi_value ab;
  // No napi_is_typedarray first: the info call answers napi_invalid_arg for anything else, and
  // typed arrays (Buffers) are what nearly every call passes.
  if (napi_get_typedarray_info(env, v, &type, &count, data, &ab, &offset) == napi_ok) {
    size_t elem = 1;
    switch (type) {
      case napi_int16_array:
      case napi_uint16_array: elem = 2; break;
      case napi_int32_array:
      case napi_uint32_array:
      case napi_float32_array: elem = 4; break;
      case napi_float64_array:
      case napi_bigint64_array:
      case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    *length = count * elem;
    return true;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    return napi_get_dataview_info(env, v, length, data, &ab, &offset) == napi_ok;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    return napi_get_arraybuffer_info(env, v, data, length) == napi_ok;
  }
  return false;
}

// Sync calls borrow inputs at least this large instead of copying them.
constexpr size_t kBorrowThreshold = 4096;

}  // namespace

bool IsByteSource(napi_env env, napi_value v) {
  void* data;
  size_t length;
  return ViewBytes(env, v, &data, &length);
}

bool Args::IsNullish(size_t i) const {
  napi_value v = At(i);
  if (!v) return true;
  napi_valuetype t;
  if (napi_typeof(env_, v, &t) != napi_ok) return true;
  return t == napi_undefined || t == napi_null;
}

void Args::Fail(const Napi::Error& e) {
  if (failed_) return;
  failed_ = true;
  error_ = e.Value();
}

void Args::FailType(const char* name, const char* expected, napi_value actual) {
  Fail(ArgTypeError(env_, fn_, name, expected, actual));
}

void Args::FailRange(const char* name, const std::string& what) { Fail(ArgRangeError(env_, fn_, name, what)); }

bool Args::FailPending() {
  if (env_.IsExceptionPending()) {
    Napi::Error e = env_.GetAndClearPendingException();
    failed_ = true;
    error_ = e.Value();
  } else {
    Fail(ArgTypeError(env_, fn_, "arguments", "readable", nullptr));
  }
  return false;
}

bool Args::ValueUlong(napi_value v, const char* name, CK_ULONG* out) {
  switch (JsToUlong(env_, v, out)) {
    case UlongParse::Ok: return true;
    case UlongParse::WrongType: FailType(name, "a number or bigint", v); return false;
    case UlongParse::OutOfRange:
      FailRange(name, sizeof(CK_ULONG) == 8 ? "must be an integer from 0 to 2^53-1 (or a bigint up to 2^64-1)"
                                            : "must be an integer from 0 to 2^32-1");
      return false;
  }
  return false;
}

bool Args::Ulong(size_t i, const char* name, CK_ULONG* out) {
  napi_value v = At(i);
  if (!v) {
    FailType(name, "a number or bigint", nullptr);
    return false;
  }
  return ValueUlong(v, name, out);
}

bool Args::OptUlong(size_t i, const char* name, CK_ULONG* out, CK_ULONG def) {
  if (IsNullish(i)) {
    *out = def;
    return true;
  }
  return Ulong(i, name, out);
}

bool Args::Bool(size_t i, const char* name, bool* out) {
  napi_value v = At(i);
  napi_valuetype t = napi_undefined;
  if (v) napi_typeof(env_, v, &t);
  if (t != napi_boolean) {
    FailType(name, "a boolean", v);
    return false;
  }
  return napi_get_value_bool(env_, v, out) == napi_ok;
}

bool Args::OptBool(size_t i, const char* name, bool* out, bool def) {
  if (IsNullish(i)) {
    *out = def;
    return true;
  }
  return Bool(i, name, out);
}

bool Args::ValueBytes(napi_value v, const char* name, ByteSpan* out, bool copy) {
  void* data = nullptr;
  size_t length = 0;
  if (!v || !ViewBytes(env_, v, &data, &length)) {
    FailType(name, "a Buffer, TypedArray, DataView or ArrayBuffer", v);
    return false;
  }
  if (static_cast<unsigned long long>(length) > static_cast<unsigned long long>(static_cast<CK_ULONG>(-1))) {
    FailRange(name, "is too large for CK_ULONG");
    return false;
  }
  if (!copy && length >= kBorrowThreshold && data) {
    Borrow({v, data, length, name});
    out->p = static_cast<CK_BYTE_PTR>(data);
  } else {
    // A detached buffer reports no data: pass a valid empty pointer.
    out->p = arena_.Copy(data, data ? length : 0);
    if (!data) length = 0;
  }
  out->n = static_cast<CK_ULONG>(length);
  return true;
}

bool Args::Bytes(size_t i, const char* name, ByteSpan* out) { return ValueBytes(At(i), name, out, async_); }

bool Args::Secret(size_t i, const char* name, ByteSpan* out, bool allowNull) {
  napi_value v = At(i);
  if (allowNull && IsNullish(i)) {
    out->p = nullptr;
    out->n = 0;
    return true;
  }
  napi_valuetype t = napi_undefined;
  if (v) napi_typeof(env_, v, &t);
  if (t == napi_string) {
    size_t len = 0;
    if (napi_get_value_string_utf8(env_, v, nullptr, 0, &len) != napi_ok) return FailPending();
    char* buf = static_cast<char*>(arena_.Alloc(len + 1));
    arena_.MarkSecret(buf, len + 1);
    napi_get_value_string_utf8(env_, v, buf, len + 1, &len);
    out->p = reinterpret_cast<CK_BYTE_PTR>(buf);
    out->n = static_cast<CK_ULONG>(len);
    return true;
  }
  void* data = nullptr;
  size_t length = 0;
  if (!v || !ViewBytes(env_, v, &data, &length)) {
    FailType(name, allowNull ? "a string, a Buffer or null" : "a string or a Buffer", v);
    return false;
  }
  out->p = arena_.Copy(data, data ? length : 0, true);
  out->n = static_cast<CK_ULONG>(data ? length : 0);
  return true;
}

bool Args::PaddedUtf8(size_t i, const char* name, CK_UTF8CHAR* out, size_t width) {
  napi_value v = At(i);
  napi_valuetype t = napi_undefined;
  if (v) napi_typeof(env_, v, &t);
  std::memset(out, ' ', width);
  if (t == napi_undefined || t == napi_null) return true;
  if (t != napi_string) {
    FailType(name, "a string", v);
    return false;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env_, v, nullptr, 0, &len) != napi_ok) return FailPending();
  if (len > width) {
    FailRange(name, "must be at most " + std::to_string(width) + " bytes in UTF-8");
    return false;
  }
  char* tmp = static_cast<char*>(arena_.Alloc(len + 1));
  napi_get_value_string_utf8(env_, v, tmp, len + 1, &len);
  std::memcpy(out, tmp, len);
  return true;
}

bool Args::Output(size_t i, const char* name, OutBuf* out) {
  if (IsNullish(i)) return true;
  napi_value v = At(i);
  napi_typedarray_type type = napi_int8_array;
  size_t count = 0, offset = 0;
  void* data = nullptr;
  napi_value ab;
  if (napi_get_typedarray_info(env_, v, &type, &count, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    FailType(name, "a Buffer or Uint8Array", v);
    return false;
  }
  out->hasCaller = true;
  out->callerCap = data ? count : 0;
  if (async_) {
    if (napi_create_reference(env_, v, 1, &out->callerRef) != napi_ok) return FailPending();
  } else {
    out->callerValue = v;
    out->callerPtr = static_cast<CK_BYTE_PTR>(data);
    if (!data) out->callerPtr = arena_.New<CK_BYTE>();  // detached: a valid zero-length target
    Borrow({v, data, count, name});
  }
  return true;
}

bool Args::Finish() {
  if (failed_) return false;
  for (size_t i = 0; i < borrowedCount_ + borrowedMore_.size(); i++) {
    const Borrowed& b = i < kInlineBorrowed ? borrowedInline_[i] : borrowedMore_[i - kInlineBorrowed];
    void* data = nullptr;
    size_t length = 0;
    if (!ViewBytes(env_, b.value, &data, &length) || data != b.data || length != b.length) {
      FailType(b.name.c_str(), "a buffer that stays attached while the call's arguments are read", b.value);
      return false;
    }
  }
  return true;
}

Napi::Value OutputToJs(Napi::Env env, OutBuf& o, const char* fn) {
  if (!o.hasCaller) return BytesToBuffer(env, o.data, o.len);
  napi_value target = nullptr;
  if (o.callerRef) {
    if (napi_get_reference_value(env, o.callerRef, &target) != napi_ok || !target) return Napi::Value();
    void* data = nullptr;
    size_t length = 0;
    // Shorter than what was written, or emptied (detached) though it had room at call time.
    if (!ViewBytes(env, target, &data, &length) || length < o.len || (o.callerCap > 0 && length == 0)) {
      ArgTypeError(env, fn, "out", "a buffer that stays attached until the call completes", target)
          .ThrowAsJavaScriptException();
      return Napi::Value();
    }
    if (o.len) std::memcpy(data, o.data, o.len);
  } else {
    target = o.callerValue;  // sync: the module wrote in place
  }
  if (o.len == o.callerCap) return Napi::Value(env, target);  // filled exactly: the caller's own object
  EnvData* data = GetEnvData(env);
  if (data && !data->makeView.IsEmpty()) {
    napi_value args[2] = {target, Napi::Number::New(env, static_cast<double>(o.len))};
    napi_value out;
    if (napi_call_function(env, env.Undefined(), data->makeView.Value(), 2, args, &out) == napi_ok)
      return Napi::Value(env, out);
    return Napi::Value();
  }
  Napi::Object obj(env, target);
  Napi::Value sub = obj.Get("subarray");
  if (!sub.IsFunction()) return Napi::Value();
  return sub.As<Napi::Function>().Call(target,
                                       {Napi::Number::New(env, 0), Napi::Number::New(env, static_cast<double>(o.len))});
}

void ReleaseOutput(napi_env env, OutBuf& o) {
  if (o.callerRef) {
    napi_delete_reference(env, o.callerRef);
    o.callerRef = nullptr;
  }
}

}  // namespace p11
