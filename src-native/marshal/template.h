// Templates in both directions. In: JS `{ type, value }` arrays whose value's JS type picks the
// encoding (boolean → CK_BBOOL, number/bigint → CK_ULONG, string → UTF-8, bytes, Date → CK_DATE,
// number[] → CK_ULONG array, object[] → nested template). Out: C_GetAttributeValue read in passes
// (lengths, then values, nested templates one level deeper) with a status per attribute.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "function_table.h"

namespace p11 {

struct AttrRead {
  enum Status { Ok, Sensitive, TypeInvalid, Unavailable };
  CK_ATTRIBUTE_TYPE type = 0;
  Status status = Unavailable;
  bool nested = false;
  std::vector<uint8_t> value;
  std::vector<AttrRead> children;
};

// Reads every attribute; fails only for errors that are not about a single attribute.
CK_RV ReadAttributes(const FunctionTable& f, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                     std::vector<AttrRead>& attrs, std::string& detail);

Napi::Array AttrReadsToJs(Napi::Env env, const std::vector<AttrRead>& attrs);

bool IsTemplateAttribute(CK_ATTRIBUTE_TYPE type);

}  // namespace p11
