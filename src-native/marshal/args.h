// Reading one call's JS arguments into C values. Every reader checks its input, names the function
// and argument in the error, and never lets a later getter invalidate an earlier pointer: async
// calls copy their inputs into the call's arena, sync calls borrow large buffers and re-check them
// just before the C call.
#pragma once
#include <napi.h>

#include <vector>

#include "arena.h"
#include "pkcs11/pkcs11.h"

namespace p11 {

struct ByteSpan {
  CK_BYTE_PTR p = nullptr;
  CK_ULONG n = 0;
};

// A variable-length output: module-sized by default, or written into a caller's buffer.
struct OutBuf {
  OutBuf() = default;
  OutBuf(const OutBuf&) = delete;  // `data` may point into `small`: never copied or moved
  OutBuf& operator=(const OutBuf&) = delete;
  bool hasCaller = false;
  napi_ref callerRef = nullptr;      // async: the caller's buffer, written back on the JS thread
  CK_BYTE_PTR callerPtr = nullptr;   // sync: written in place
  napi_value callerValue = nullptr;  // sync: the caller's buffer, valid for the call's scope
  size_t callerCap = 0;
  CK_BYTE_PTR data = nullptr;
  CK_ULONG len = 0;
  CK_ULONG needed = 0;  // set with CKR_BUFFER_TOO_SMALL for a caller buffer
  std::unique_ptr<uint8_t[]> own;
  // Outputs up to 1 KiB (signatures, digests, MACs, small ciphertexts: the first offer of
  // OutputGuess) go here instead of the heap. An async call fills it on a call thread and the JS
  // thread copies it out; a heap block would be allocated on one thread and freed on the other,
  // which makes glibc's malloc lock the call thread's arena from the JS thread (measured on the
  // server path as lock waits between the two).
  uint8_t small[1024];
  // Room for n output bytes: the inline block when it fits, else a heap block of our own.
  CK_BYTE_PTR Room(CK_ULONG n) {
    if (n <= sizeof small) return small;
    own.reset(new uint8_t[n]);
    return own.get();
  }
};

// An output field inside a parameter struct (the IV and tag of CK_GCM_MESSAGE_PARAMS): async calls
// let the module write into the arena, and the bytes are copied to the caller's buffer on the JS
// thread when the call succeeds.
struct WriteBack {
  napi_ref ref;
  const void* src;
  size_t len;
};
void ApplyWriteBacks(napi_env env, const std::vector<WriteBack>& w);
void ReleaseWriteBacks(napi_env env, std::vector<WriteBack>& w);

// A parameter struct laid out from its JS description (see marshal/params.cc).
struct StructBlob {
  uint8_t* p = nullptr;
  size_t size = 0;
  size_t align = 1;
  std::vector<size_t> offsets;  // of the top-level fields, for the layout test
};

class Args {
 public:
  Args(const Napi::CallbackInfo& info, Arena& arena, const char* fn, bool async)
      : info_(info), env_(info.Env()), arena_(arena), fn_(fn), async_(async) {}

  Napi::Env env() const { return env_; }
  const char* fn() const { return fn_; }
  bool async() const { return async_; }
  Arena& arena() { return arena_; }
  // The flat-mechanism form (call.h): the mechanism at argument `at` comes as two arguments, its
  // type and its parameter; the arguments after it are numbered as in the one-object form.
  void SetFlatMechanism(size_t at) { flatAt_ = at; }
  napi_value At(size_t i) const {
    const size_t j = flatAt_ != kNotFlat && i > flatAt_ ? i + 1 : i;
    return j < info_.Length() ? static_cast<napi_value>(info_[j]) : nullptr;
  }
  bool IsNullish(size_t i) const;

  bool Ulong(size_t i, const char* name, CK_ULONG* out);
  bool OptUlong(size_t i, const char* name, CK_ULONG* out, CK_ULONG def);
  bool Bool(size_t i, const char* name, bool* out);
  bool OptBool(size_t i, const char* name, bool* out, bool def);
  // Buffer, any TypedArray, DataView or ArrayBuffer.
  bool Bytes(size_t i, const char* name, ByteSpan* out);
  // string (UTF-8) or bytes, always copied and wiped after the call; null gives a NULL pointer
  // when allowNull (protected authentication path).
  bool Secret(size_t i, const char* name, ByteSpan* out, bool allowNull);
  // A string padded with blanks to a fixed width (C_InitToken's label).
  bool PaddedUtf8(size_t i, const char* name, CK_UTF8CHAR* out, size_t width);
  bool Template(size_t i, const char* name, CK_ATTRIBUTE_PTR* out, CK_ULONG* count);
  bool TemplateValue(napi_value v, const std::string& name, CK_ATTRIBUTE_PTR* out, CK_ULONG* count);
  bool Mechanism(size_t i, CK_MECHANISM_PTR* out);  // argument i, named "mechanism" in errors
  // A mechanism-style parameter: bytes, a struct description (array of fields), or null.
  bool Param(size_t i, const char* name, CK_VOID_PTR* p, CK_ULONG* len);
  bool ParamValue(napi_value v, const std::string& name, CK_VOID_PTR* p, CK_ULONG* len);
  bool Struct(napi_value fields, const std::string& name, int depth, StructBlob* out);
  void SetWriteBacks(std::vector<WriteBack>* w) { writeBacks_ = w; }
  bool AddWriteBack(const WriteBack& w) {
    if (!writeBacks_) return false;
    writeBacks_->push_back(w);
    return true;
  }
  void Borrow(napi_value v, void* data, size_t length, const std::string& name) { Borrow({v, data, length, name}); }
  // Every template attribute and struct field read in one call spends from one budget, so a
  // description that shares sub-arrays cannot make the walk exponential.
  bool Spend(const std::string& name, size_t n = 1) {
    visited_ += n;
    if (visited_ <= kMaxElements) return true;
    FailRange(name.c_str(), "makes the call's templates/structs too large (over " + std::to_string(kMaxElements) +
                                " elements in all)");
    return false;
  }
  static constexpr size_t kMaxElements = 65536;
  // Optional caller buffer for an output.
  bool Output(size_t i, const char* name, OutBuf* out);

  // Value-level readers shared by the template and mechanism marshalers.
  bool ValueUlong(napi_value v, const char* name, CK_ULONG* out);
  bool ValueBytes(napi_value v, const char* name, ByteSpan* out, bool copy);

  // Re-checks borrowed buffers; call after all parsing, right before the C call.
  bool Finish();

  void Fail(const Napi::Error& e);
  void FailType(const char* name, const char* expected, napi_value actual);
  void FailRange(const char* name, const std::string& what);
  // A getter threw while reading an argument: that exception becomes the call's error.
  bool FailPending();
  bool failed() const { return failed_; }
  Napi::Value error() const { return error_; }

 private:
  struct Borrowed {
    napi_value value;
    void* data;
    size_t length;
    std::string name;  // a copy: field paths are built on the fly
  };
  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  Arena& arena_;
  const char* fn_;
  bool async_;
  static constexpr size_t kNotFlat = static_cast<size_t>(-1);
  size_t flatAt_ = kNotFlat;
  bool failed_ = false;
  Napi::Value error_;
  // The buffers this call borrows: the usual one or two inline, so a call allocates nothing here.
  static constexpr size_t kInlineBorrowed = 2;
  Borrowed borrowedInline_[kInlineBorrowed];
  size_t borrowedCount_ = 0;  // used entries of borrowedInline_
  std::vector<Borrowed> borrowedMore_;
  void Borrow(Borrowed b) {
    if (borrowedCount_ < kInlineBorrowed) {
      borrowedInline_[borrowedCount_++] = std::move(b);
    } else {
      borrowedMore_.push_back(std::move(b));
    }
  }
  std::vector<WriteBack>* writeBacks_ = nullptr;
  size_t visited_ = 0;
};

// Output sizing: asks the module for the length, allocates, calls, and retries when the module
// says CKR_BUFFER_TOO_SMALL; a module that claims more bytes than the buffer holds is an error,
// never a read past its end. `call(ptr, &len)` performs the C call.
static constexpr CK_ULONG kMaxOutput = 0x7FFFFFFF;

// `guess`: when non-zero, skip the length query and offer this many bytes first (one C call
// instead of two, as a careful C caller does); CKR_BUFFER_TOO_SMALL then tells the real length.
// One-shot and update calls guess input length + 64 (at least 1 KiB), which also covers modules
// that answer the length query short and end the operation on CKR_BUFFER_TOO_SMALL (NSS softokn
// leaves the AES-GCM tag out of its answer).
template <class F>
CK_RV FillOutput(OutBuf& o, std::string& detail, F&& call, CK_ULONG guess = 0) {
  if (o.hasCaller) {
    CK_BYTE_PTR target = o.callerPtr;
    if (!target) target = o.Room(static_cast<CK_ULONG>(o.callerCap));  // async: copied to the caller's buffer later
    CK_ULONG n = static_cast<CK_ULONG>(o.callerCap);
    CK_RV rv = call(target, &n);
    if (rv == CKR_BUFFER_TOO_SMALL) o.needed = n;
    if (rv != CKR_OK) return rv;
    if (n > o.callerCap) {
      detail = "module reported " + std::to_string(n) + " bytes written into a " + std::to_string(o.callerCap) +
               "-byte buffer";
      return CKR_GENERAL_ERROR;
    }
    o.data = target;
    o.len = n;
    return CKR_OK;
  }
  CK_ULONG n = 0;
  CK_RV rv = CKR_OK;
  if (guess > 0 && guess <= kMaxOutput) {
    n = guess;
  } else {
    rv = call(nullptr, &n);
    if (rv != CKR_OK) return rv;
  }
  for (int attempt = 0; attempt < 4; attempt++) {
    if (n > kMaxOutput) {
      detail = "module asked for an output buffer of " + std::to_string(n) + " bytes";
      return CKR_GENERAL_ERROR;
    }
    CK_BYTE_PTR room = o.Room(n);
    CK_ULONG got = n;
    rv = call(room, &got);
    if (rv == CKR_BUFFER_TOO_SMALL) {
      n = got > n ? got : n * 2 + 64;
      continue;
    }
    if (rv != CKR_OK) return rv;
    if (got > n) {
      detail = "module reported " + std::to_string(got) + " bytes written into a " + std::to_string(n) + "-byte buffer";
      return CKR_GENERAL_ERROR;
    }
    o.data = room;
    o.len = got;
    return CKR_OK;
  }
  detail = "module kept answering CKR_BUFFER_TOO_SMALL";
  return CKR_BUFFER_TOO_SMALL;
}

bool IsByteSource(napi_env env, napi_value v);

// The first offer for an output computed from an input of `inLen` bytes.
inline CK_ULONG OutputGuess(CK_ULONG inLen) { return inLen + 64 < 1024 ? 1024 : inLen + 64; }

// The JS value of a filled output: a new Buffer, or the caller's buffer trimmed to the length.
Napi::Value OutputToJs(Napi::Env env, OutBuf& o, const char* fn);
void ReleaseOutput(napi_env env, OutBuf& o);

}  // namespace p11
