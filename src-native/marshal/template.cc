#include "template.h"

#include <cmath>
#include <cstring>

#include "env_data.h"
#include "marshal/args.h"
#include "marshal/values.h"

namespace p11 {

namespace {

constexpr uint32_t kMaxAttributes = 4096;
constexpr int kMaxDepth = 4;  // nested templates are one level deep in practice; cycles stop here

// Days since 1970-01-01 to a civil date (proleptic Gregorian), without gmtime's shared state.
void CivilFromDays(long long z, int* y, unsigned* m, unsigned* d) {
  z += 719468;
  const long long era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long long yy = static_cast<long long>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int>(yy + (*m <= 2));
}

void WriteDigits(CK_CHAR* out, unsigned v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    out[i] = static_cast<CK_CHAR>('0' + v % 10);
    v /= 10;
  }
}

bool ParseTemplateValue(Args& a, napi_value arr, const std::string& name, int depth, CK_ATTRIBUTE_PTR* out,
                        CK_ULONG* count);

// A value that is neither null nor an array of objects, given for an attribute whose value the
// module follows as CK_ATTRIBUTE pointers, would have it dereference bytes the caller chose.
bool CheckTemplateShape(Args& a, napi_value v, napi_valuetype t, const std::string& name) {
  if (t == napi_undefined || t == napi_null) return true;
  bool isArray = false;
  if (t == napi_object && napi_is_array(a.env(), v, &isArray) == napi_ok && isArray) {
    uint32_t n = 0;
    napi_get_array_length(a.env(), v, &n);
    if (n == 0) return true;
    napi_value first;
    napi_valuetype ft = napi_undefined;
    if (napi_get_element(a.env(), v, 0, &first) != napi_ok) return a.FailPending();
    napi_typeof(a.env(), first, &ft);
    if (ft == napi_object) return true;
  }
  a.FailType(name.c_str(), "a template (an array of { type, value }) for this attribute", v);
  return false;
}

bool ParseValue(Args& a, napi_value v, const std::string& name, int depth, CK_ATTRIBUTE& attr) {
  napi_env env = a.env();
  Arena& arena = a.arena();
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return a.FailPending();
  if (IsTemplateAttribute(attr.type) && !CheckTemplateShape(a, v, t, name)) return false;
  switch (t) {
    case napi_undefined:
    case napi_null:
      attr.pValue = nullptr;
      attr.ulValueLen = 0;
      return true;
    case napi_boolean: {
      bool b = false;
      napi_get_value_bool(env, v, &b);
      CK_BBOOL* p = arena.New<CK_BBOOL>();
      *p = b ? CK_TRUE : CK_FALSE;
      attr.pValue = p;
      attr.ulValueLen = sizeof(CK_BBOOL);
      return true;
    }
    case napi_number:
    case napi_bigint: {
      CK_ULONG* p = arena.New<CK_ULONG>();
      if (!a.ValueUlong(v, name.c_str(), p)) return false;
      attr.pValue = p;
      attr.ulValueLen = sizeof(CK_ULONG);
      return true;
    }
    case napi_string: {
      size_t len = 0;
      if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return a.FailPending();
      char* buf = static_cast<char*>(arena.Alloc(len + 1));
      napi_get_value_string_utf8(env, v, buf, len + 1, &len);
      attr.pValue = buf;
      attr.ulValueLen = static_cast<CK_ULONG>(len);
      return true;
    }
    case napi_object: {
      bool is = false;
      if (napi_is_date(env, v, &is) == napi_ok && is) {
        double ms = 0;
        napi_get_date_value(env, v, &ms);
        if (!std::isfinite(ms)) {
          a.FailRange(name.c_str(), "is an invalid Date");
          return false;
        }
        int y;
        unsigned m, d;
        CivilFromDays(static_cast<long long>(std::floor(ms / 86400000.0)), &y, &m, &d);
        if (y < 0 || y > 9999) {
          a.FailRange(name.c_str(), "must be a Date between years 0 and 9999");
          return false;
        }
        CK_DATE* date = arena.New<CK_DATE>();
        WriteDigits(date->year, static_cast<unsigned>(y), 4);
        WriteDigits(date->month, m, 2);
        WriteDigits(date->day, d, 2);
        attr.pValue = date;
        attr.ulValueLen = sizeof(CK_DATE);
        return true;
      }
      if (napi_is_array(env, v, &is) == napi_ok && is) {
        uint32_t n = 0;
        napi_get_array_length(env, v, &n);
        if (n > kMaxAttributes) {
          a.FailRange(name.c_str(), "has too many elements");
          return false;
        }
        napi_value first = nullptr;
        napi_valuetype ft = napi_undefined;
        if (n > 0) {
          if (napi_get_element(env, v, 0, &first) != napi_ok) return a.FailPending();
          napi_typeof(env, first, &ft);
        }
        if (n == 0 || ft == napi_number || ft == napi_bigint) {
          // CK_ULONG array, e.g. CKA_ALLOWED_MECHANISMS.
          if (!a.Spend(name, n)) return false;
          CK_ULONG* p = arena.New<CK_ULONG>(n ? n : 1);
          for (uint32_t i = 0; i < n; i++) {
            napi_value e;
            if (napi_get_element(env, v, i, &e) != napi_ok) return a.FailPending();
            std::string en = name + "[" + std::to_string(i) + "]";
            if (!a.ValueUlong(e, en.c_str(), &p[i])) return false;
          }
          attr.pValue = p;
          attr.ulValueLen = static_cast<CK_ULONG>(n * sizeof(CK_ULONG));
          return true;
        }
        if (!IsTemplateAttribute(attr.type) && !(attr.type & CKF_ARRAY_ATTRIBUTE)) {
          // Only template attributes (and vendor ones marked CKF_ARRAY_ATTRIBUTE) hold nested
          // templates; elsewhere the module would store our pointers as the value's bytes.
          a.FailType(name.c_str(),
                     "bytes or a value of this attribute's type (nested templates go in template attributes)", v);
          return false;
        }
        CK_ATTRIBUTE_PTR inner = nullptr;
        CK_ULONG count = 0;
        if (!ParseTemplateValue(a, v, name, depth + 1, &inner, &count)) return false;
        attr.pValue = inner;
        attr.ulValueLen = static_cast<CK_ULONG>(count * sizeof(CK_ATTRIBUTE));
        return true;
      }
      ByteSpan bytes;
      if (!a.ValueBytes(v, name.c_str(), &bytes, true)) {
        return false;
      }
      attr.pValue = bytes.p;
      attr.ulValueLen = bytes.n;
      return true;
    }
    default:
      a.FailType(name.c_str(), "a boolean, number, bigint, string, Buffer, Date, number[] or nested template", v);
      return false;
  }
}

bool ParseTemplateValue(Args& a, napi_value arr, const std::string& name, int depth, CK_ATTRIBUTE_PTR* out,
                        CK_ULONG* count) {
  napi_env env = a.env();
  bool isArray = false;
  if (!arr || napi_is_array(env, arr, &isArray) != napi_ok || !isArray) {
    a.FailType(name.c_str(), "an array of { type, value }", arr);
    return false;
  }
  if (depth > kMaxDepth) {
    a.FailRange(name.c_str(), "nests templates too deeply (cyclic?)");
    return false;
  }
  uint32_t n = 0;
  napi_get_array_length(env, arr, &n);
  if (n > kMaxAttributes) {
    a.FailRange(name.c_str(), "has more than " + std::to_string(kMaxAttributes) + " attributes");
    return false;
  }
  CK_ATTRIBUTE_PTR attrs = a.arena().New<CK_ATTRIBUTE>(n ? n : 1);
  for (uint32_t i = 0; i < n; i++) {
    std::string en = name + "[" + std::to_string(i) + "]";
    if (!a.Spend(en)) return false;
    napi_value e;
    if (napi_get_element(env, arr, i, &e) != napi_ok) return a.FailPending();
    napi_valuetype et;
    napi_typeof(env, e, &et);
    if (et != napi_object) {
      a.FailType(en.c_str(), "an object { type, value }", e);
      return false;
    }
    napi_value type, value;
    if (GetProp(env, e, Key::type, &type) != napi_ok) return a.FailPending();
    std::string tn = en + ".type";
    if (!a.ValueUlong(type, tn.c_str(), &attrs[i].type)) return false;
    if (GetProp(env, e, Key::value, &value) != napi_ok) return a.FailPending();
    if (!ParseValue(a, value, en + ".value", depth, attrs[i])) return false;
  }
  *out = attrs;
  *count = n;
  return true;
}

Napi::Value AttrToJs(Napi::Env env, const AttrRead& r) {
  static const char* const kStatus[] = {"ok", "sensitive", "typeInvalid", "unavailable"};
  EnvData* data = GetEnvData(env);
  if (data && !data->makeAttribute.IsEmpty()) {
    napi_value args[3] = {UlongToJs(env, r.type), Napi::String::New(env, kStatus[r.status]), env.Undefined()};
    if (r.status == AttrRead::Ok)
      args[2] = r.nested ? static_cast<napi_value>(AttrReadsToJs(env, r.children))
                         : static_cast<napi_value>(BytesToBuffer(env, r.value.data(), r.value.size()));
    napi_value out;
    if (napi_call_function(env, env.Undefined(), data->makeAttribute.Value(), 3, args, &out) == napi_ok)
      return Napi::Value(env, out);
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
  }
  Napi::Object o = Napi::Object::New(env);
  SetProp(env, o, Key::type, UlongToJs(env, r.type));
  SetProp(env, o, Key::status, Napi::String::New(env, kStatus[r.status]));
  if (r.status == AttrRead::Ok) {
    if (r.nested)
      SetProp(env, o, Key::value, AttrReadsToJs(env, r.children));
    else
      SetProp(env, o, Key::value, BytesToBuffer(env, r.value.data(), r.value.size()));
  }
  return o;
}

AttrRead::Status StatusOf(CK_RV rv) {
  if (rv == CKR_ATTRIBUTE_SENSITIVE) return AttrRead::Sensitive;
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID) return AttrRead::TypeInvalid;
  return AttrRead::Unavailable;
}

bool IsPerAttributeRv(CK_RV rv) {
  return rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
         rv == CKR_BUFFER_TOO_SMALL;
}

// One nested template attribute: types and lengths first, then the values.
CK_RV ReadNested(const FunctionTable& f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, AttrRead& r, CK_ULONG len,
                 std::string& detail) {
  size_t m = len / sizeof(CK_ATTRIBUTE);
  std::vector<CK_ATTRIBUTE> inner(m ? m : 1);
  for (auto& a : inner) a = CK_ATTRIBUTE{0, nullptr, 0};
  CK_ATTRIBUTE outer{r.type, inner.data(), static_cast<CK_ULONG>(m * sizeof(CK_ATTRIBUTE))};
  CK_RV rv = f.C_GetAttributeValue(s, o, &outer, 1);
  if (!IsPerAttributeRv(rv)) return rv;
  if (outer.ulValueLen > m * sizeof(CK_ATTRIBUTE)) {
    detail = "module reported a nested template larger than its own length answer";
    return CKR_GENERAL_ERROR;
  }
  m = outer.ulValueLen / sizeof(CK_ATTRIBUTE);
  r.children.resize(m);
  for (size_t i = 0; i < m; i++) {
    r.children[i].type = inner[i].type;
    if (inner[i].ulValueLen == CK_UNAVAILABLE_INFORMATION || inner[i].ulValueLen > kMaxOutput) {
      r.children[i].status = AttrRead::Unavailable;
      inner[i].ulValueLen = 0;
    } else {
      r.children[i].status = AttrRead::Ok;
      r.children[i].value.resize(inner[i].ulValueLen);
    }
    inner[i].pValue = r.children[i].value.empty() ? nullptr : r.children[i].value.data();
  }
  if (m == 0) return CKR_OK;
  outer.ulValueLen = static_cast<CK_ULONG>(m * sizeof(CK_ATTRIBUTE));
  rv = f.C_GetAttributeValue(s, o, &outer, 1);
  if (rv != CKR_OK) return rv;
  for (size_t i = 0; i < m; i++) {
    if (r.children[i].status != AttrRead::Ok) continue;
    if (inner[i].ulValueLen > r.children[i].value.size()) {
      detail = "module wrote past a nested attribute's length";
      return CKR_GENERAL_ERROR;
    }
    r.children[i].value.resize(inner[i].ulValueLen);
  }
  return CKR_OK;
}

}  // namespace

bool IsTemplateAttribute(CK_ATTRIBUTE_TYPE type) {
  return type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE || type == CKA_DERIVE_TEMPLATE ||
         type == CKA_ENCAPSULATE_TEMPLATE || type == CKA_DECAPSULATE_TEMPLATE;
}

bool Args::Template(size_t i, const char* name, CK_ATTRIBUTE_PTR* out, CK_ULONG* count) {
  return ParseTemplateValue(*this, At(i), name, 0, out, count);
}

bool Args::TemplateValue(napi_value v, const std::string& name, CK_ATTRIBUTE_PTR* out, CK_ULONG* count) {
  return ParseTemplateValue(*this, v, name, 1, out, count);
}

CK_RV ReadAttributes(const FunctionTable& f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, std::vector<AttrRead>& attrs,
                     std::string& detail) {
  const size_t n = attrs.size();
  if (n == 0) return CKR_OK;
  std::vector<CK_ATTRIBUTE> t(n);
  for (int attempt = 0; attempt < 3; attempt++) {
    // Pass 1: lengths.
    for (size_t i = 0; i < n; i++) t[i] = CK_ATTRIBUTE{attrs[i].type, nullptr, 0};
    CK_RV rv = f.C_GetAttributeValue(s, o, t.data(), static_cast<CK_ULONG>(n));
    if (!IsPerAttributeRv(rv)) return rv;
    std::vector<size_t> failed;
    for (size_t i = 0; i < n; i++) {
      if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION) {
        failed.push_back(i);
      } else if (t[i].ulValueLen > kMaxOutput) {
        detail = "module reported an attribute length of " + std::to_string(t[i].ulValueLen) + " bytes";
        return CKR_GENERAL_ERROR;
      }
    }
    // The call's rv names one reason for all failures; ask one by one when several failed.
    for (size_t i : failed) {
      if (failed.size() == 1 && rv != CKR_OK) {
        attrs[i].status = StatusOf(rv);
      } else {
        CK_ATTRIBUTE one{attrs[i].type, nullptr, 0};
        attrs[i].status = StatusOf(f.C_GetAttributeValue(s, o, &one, 1));
      }
    }
    // Pass 2: values of the readable plain attributes in one call.
    std::vector<CK_ATTRIBUTE> read;
    std::vector<size_t> index;
    bool retry = false;
    for (size_t i = 0; i < n; i++) {
      if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION) continue;
      AttrRead& r = attrs[i];
      r.status = AttrRead::Ok;
      r.nested = IsTemplateAttribute(r.type) && t[i].ulValueLen % sizeof(CK_ATTRIBUTE) == 0;
      if (r.nested) {
        CK_RV nrv = ReadNested(f, s, o, r, t[i].ulValueLen, detail);
        if (nrv == CKR_BUFFER_TOO_SMALL)
          retry = true;
        else if (nrv != CKR_OK && !IsPerAttributeRv(nrv))
          return nrv;
        else if (nrv != CKR_OK)
          r.status = StatusOf(nrv);
        continue;
      }
      r.value.resize(t[i].ulValueLen);
      read.push_back(CK_ATTRIBUTE{r.type, r.value.empty() ? nullptr : r.value.data(), t[i].ulValueLen});
      index.push_back(i);
    }
    if (!read.empty()) {
      rv = f.C_GetAttributeValue(s, o, read.data(), static_cast<CK_ULONG>(read.size()));
      if (rv == CKR_BUFFER_TOO_SMALL)
        retry = true;  // a value grew between the passes
      else if (!IsPerAttributeRv(rv))
        return rv;
      for (size_t k = 0; k < read.size() && !retry; k++) {
        AttrRead& r = attrs[index[k]];
        if (read[k].ulValueLen == CK_UNAVAILABLE_INFORMATION) {
          r.status = StatusOf(rv);
          r.value.clear();
        } else if (read[k].ulValueLen > r.value.size()) {
          detail = "module reported " + std::to_string(read[k].ulValueLen) + " bytes for a " +
                   std::to_string(r.value.size()) + "-byte attribute buffer";
          return CKR_GENERAL_ERROR;
        } else {
          r.value.resize(read[k].ulValueLen);
        }
      }
    }
    if (!retry) return CKR_OK;
  }
  detail = "attribute lengths kept changing between reads";
  return CKR_BUFFER_TOO_SMALL;
}

Napi::Array AttrReadsToJs(Napi::Env env, const std::vector<AttrRead>& attrs) {
  Napi::Array arr = Napi::Array::New(env, attrs.size());
  for (size_t i = 0; i < attrs.size(); i++) arr.Set(static_cast<uint32_t>(i), AttrToJs(env, attrs[i]));
  return arr;
}

}  // namespace p11
