// Mechanism parameter structs described from TypeScript, laid out here with the platform's C ABI
// (natural alignment; 1-byte packing on Windows, as the PKCS#11 headers demand there). A field is
// one of:
//   { ulong: n }          CK_ULONG (handles, flags, enums, lengths)
//   { byte: n | bool }    CK_BYTE / CK_BBOOL
//   { bytes: B | null }   pointer to bytes (NULL for null or empty)
//   { fixed: B }          bytes embedded in the struct (CK_AES_CTR_PARAMS.cb[16])
//   { struct: F[] | null} pointer to a nested struct
//   { structs: F[][] }    pointer to an array of structs (CK_PRF_DATA_PARAM[])
//   { inline: F[] }       a struct embedded by value
//   { out: Uint8Array }   pointer to caller memory the module writes (IV / tag of message AEAD)
//   { template: A[] }     pointer to a CK_ATTRIBUTE array (CK_DERIVED_KEY.pTemplate)
// so a new or vendor struct needs no C++ change.
#include <cstring>

#include "marshal/args.h"

namespace p11 {

namespace {

#ifdef _WIN32
constexpr bool kPacked = true;  // #pragma pack(1) on Windows
#else
constexpr bool kPacked = false;
#endif
constexpr int kMaxStructDepth = 8;
constexpr uint32_t kMaxFields = 256;

size_t Align(size_t a) { return kPacked ? 1 : a; }
size_t RoundUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

const char* const kKinds[] = {"ulong", "byte", "bytes", "fixed", "struct", "structs", "inline", "out", "template"};
constexpr int kKindCount = 9;
enum Kind { kUlong, kByte, kBytes, kFixed, kStruct, kStructs, kInline, kOut, kTemplate };

}  // namespace

struct FieldVal {
  size_t size = 0;
  size_t align = 1;
  uint8_t scratch[sizeof(CK_ULONG) > sizeof(void*) ? sizeof(CK_ULONG) : sizeof(void*)] = {};
  const uint8_t* data = nullptr;  // the bytes placed in the struct
};

static void SetPointer(FieldVal* f, const void* p) {
  f->size = sizeof(void*);
  f->align = Align(alignof(void*));
  std::memcpy(f->scratch, &p, sizeof(void*));
  f->data = f->scratch;
}

bool ParseField(Args& a, napi_value e, const std::string& name, int depth, FieldVal* f) {
  napi_env env = a.env();
  if (!a.Spend(name)) return false;
  napi_valuetype t;
  napi_typeof(env, e, &t);
  if (t != napi_object) {
    a.FailType(name.c_str(), "a field object such as { ulong } or { bytes }", e);
    return false;
  }
  int kind = -1;
  for (int k = 0; k < kKindCount && kind < 0; k++) {
    bool has = false;
    if (napi_has_named_property(env, e, kKinds[k], &has) != napi_ok) return a.FailPending();
    if (has) kind = k;
  }
  if (kind < 0) {
    a.FailType(name.c_str(), "a field with one of ulong, byte, bytes, fixed, struct, structs, inline, out, template",
               e);
    return false;
  }
  napi_value v;
  if (napi_get_named_property(env, e, kKinds[kind], &v) != napi_ok) return a.FailPending();
  std::string vn = name + "." + kKinds[kind];
  napi_typeof(env, v, &t);
  const bool nullish = t == napi_null || t == napi_undefined;
  switch (kind) {
    case kUlong: {
      CK_ULONG u;
      if (!a.ValueUlong(v, vn.c_str(), &u)) return false;
      f->size = sizeof(CK_ULONG);
      f->align = Align(alignof(CK_ULONG));
      std::memcpy(f->scratch, &u, sizeof(u));
      f->data = f->scratch;
      return true;
    }
    case kByte: {
      if (t == napi_boolean) {
        bool b;
        napi_get_value_bool(env, v, &b);
        f->scratch[0] = b ? 1 : 0;
      } else {
        CK_ULONG u;
        if (!a.ValueUlong(v, vn.c_str(), &u)) return false;
        if (u > 255) {
          a.FailRange(vn.c_str(), "must be from 0 to 255");
          return false;
        }
        f->scratch[0] = static_cast<uint8_t>(u);
      }
      f->size = 1;
      f->data = f->scratch;
      return true;
    }
    case kBytes: {
      ByteSpan b;
      if (!nullish && !a.ValueBytes(v, vn.c_str(), &b, true)) return false;
      SetPointer(f, b.n ? b.p : nullptr);
      return true;
    }
    case kFixed: {
      ByteSpan b;
      if (!a.ValueBytes(v, vn.c_str(), &b, true)) return false;
      f->size = b.n;
      f->data = b.p;
      return true;
    }
    case kStruct: {
      if (nullish) {
        SetPointer(f, nullptr);
        return true;
      }
      StructBlob inner;
      if (!a.Struct(v, vn, depth + 1, &inner)) return false;
      SetPointer(f, inner.p);
      return true;
    }
    case kInline: {
      StructBlob inner;
      if (!a.Struct(v, vn, depth + 1, &inner)) return false;
      f->size = inner.size;
      f->align = inner.align;
      f->data = inner.p;
      return true;
    }
    case kStructs: {
      bool isArray = false;
      if (napi_is_array(env, v, &isArray) != napi_ok || !isArray) {
        a.FailType(vn.c_str(), "an array of field arrays", v);
        return false;
      }
      uint32_t n = 0;
      napi_get_array_length(env, v, &n);
      if (n > kMaxFields) {
        a.FailRange(vn.c_str(), "has too many elements");
        return false;
      }
      if (!a.Spend(vn, n)) return false;
      std::vector<StructBlob> items(n);
      for (uint32_t i = 0; i < n; i++) {
        napi_value item;
        if (napi_get_element(env, v, i, &item) != napi_ok) return a.FailPending();
        if (!a.Struct(item, vn + "[" + std::to_string(i) + "]", depth + 1, &items[i])) return false;
        if (items[i].size != items[0].size) {
          a.FailRange(vn.c_str(), "must hold structs of one layout");
          return false;
        }
      }
      uint8_t* arr = nullptr;
      if (n) {
        arr = static_cast<uint8_t*>(a.arena().Alloc(n * items[0].size, items[0].align));
        for (uint32_t i = 0; i < n; i++) std::memcpy(arr + i * items[0].size, items[i].p, items[0].size);
      }
      SetPointer(f, arr);
      return true;
    }
    case kTemplate: {
      CK_ATTRIBUTE_PTR attrs = nullptr;
      CK_ULONG count = 0;
      if (!a.TemplateValue(v, vn, &attrs, &count)) return false;
      SetPointer(f, attrs);
      return true;
    }
    case kOut: {
      bool is = false;
      napi_typedarray_type ty;
      size_t count = 0, off = 0;
      void* data = nullptr;
      napi_value ab;
      if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
          napi_get_typedarray_info(env, v, &ty, &count, &data, &ab, &off) != napi_ok || ty != napi_uint8_array) {
        a.FailType(vn.c_str(), "a Buffer or Uint8Array", v);
        return false;
      }
      if (!a.async()) {
        // Written in place during the sync call; re-checked before it like any borrowed buffer.
        a.Borrow(v, data, count, vn);
        SetPointer(f, data ? data : a.arena().Alloc(1));
        return true;
      }
      void* tmp = a.arena().Alloc(count ? count : 1);
      std::memset(tmp, 0, count);
      if (data && count) std::memcpy(tmp, data, count);  // in-out fields start from the caller's bytes
      napi_ref ref;
      if (napi_create_reference(env, v, 1, &ref) != napi_ok) return a.FailPending();
      if (!a.AddWriteBack(WriteBack{ref, tmp, count})) {
        napi_delete_reference(env, ref);
        a.FailType(vn.c_str(), "used only in a call's parameter", v);
        return false;
      }
      SetPointer(f, tmp);
      return true;
    }
  }
  return false;
}

bool Args::Struct(napi_value fields, const std::string& name, int depth, StructBlob* out) {
  bool isArray = false;
  if (!fields || napi_is_array(env_, fields, &isArray) != napi_ok || !isArray) {
    FailType(name.c_str(), "an array of fields", fields);
    return false;
  }
  if (depth > kMaxStructDepth) {
    FailRange(name.c_str(), "nests structs too deeply (cyclic?)");
    return false;
  }
  uint32_t n = 0;
  napi_get_array_length(env_, fields, &n);
  if (n > kMaxFields) {
    FailRange(name.c_str(), "has more than 256 fields");
    return false;
  }
  std::vector<FieldVal> vals(n);
  size_t off = 0, align = 1;
  out->offsets.resize(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env_, fields, i, &e) != napi_ok) return FailPending();
    if (!ParseField(*this, e, name + "[" + std::to_string(i) + "]", depth, &vals[i])) return false;
    off = RoundUp(off, vals[i].align);
    out->offsets[i] = off;
    off += vals[i].size;
    if (vals[i].align > align) align = vals[i].align;
  }
  out->align = align;
  out->size = RoundUp(off, align);
  out->p = static_cast<uint8_t*>(arena_.Alloc(out->size ? out->size : 1, alignof(std::max_align_t)));
  std::memset(out->p, 0, out->size);
  for (uint32_t i = 0; i < n; i++)
    if (vals[i].size) std::memcpy(out->p + out->offsets[i], vals[i].data, vals[i].size);
  return true;
}

bool Args::ParamValue(napi_value v, const std::string& name, CK_VOID_PTR* p, CK_ULONG* len) {
  napi_valuetype t;
  napi_typeof(env_, v, &t);
  *p = nullptr;
  *len = 0;
  if (t == napi_undefined || t == napi_null) return true;
  bool isArray = false;
  napi_is_array(env_, v, &isArray);
  if (isArray) {
    StructBlob blob;
    if (!Struct(v, name, 0, &blob)) return false;
    *p = blob.p;
    *len = static_cast<CK_ULONG>(blob.size);
    return true;
  }
  ByteSpan b;
  if (!IsByteSource(env_, v)) {
    FailType(name.c_str(), "bytes, a struct description (array of fields) or null", v);
    return false;
  }
  if (!ValueBytes(v, name.c_str(), &b, true)) return false;
  *p = b.p;
  *len = b.n;
  return true;
}

bool Args::Param(size_t i, const char* name, CK_VOID_PTR* p, CK_ULONG* len) {
  return ParamValue(At(i) ? At(i) : env_.Undefined(), name, p, len);
}

void ApplyWriteBacks(napi_env env, const std::vector<WriteBack>& w) {
  for (const WriteBack& b : w) {
    napi_value v;
    void* data = nullptr;
    size_t count = 0, off = 0;
    napi_typedarray_type ty;
    napi_value ab;
    if (napi_get_reference_value(env, b.ref, &v) != napi_ok || !v) continue;
    if (napi_get_typedarray_info(env, v, &ty, &count, &data, &ab, &off) != napi_ok || !data) continue;
    std::memcpy(data, b.src, count < b.len ? count : b.len);  // a shrunk or detached buffer gets what fits
  }
}

void ReleaseWriteBacks(napi_env env, std::vector<WriteBack>& w) {
  for (WriteBack& b : w) napi_delete_reference(env, b.ref);
  w.clear();
}

}  // namespace p11
