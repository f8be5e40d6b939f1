// The 104 functions of PKCS#11 3.2 as one flat table. A module's 2.x/3.0/3.2 list is copied in up to
// its real length; entries it lacks stay NULL and are answered "not supported" before any call.
#pragma once
#include "pkcs11/pkcs11.h"
#include "pkcs11/pkcs11_function_names.h"

namespace p11 {

enum class Fn : int {
#define P11_ENUM(name) name,
  P11_ALL_FUNCTIONS(P11_ENUM)
#undef P11_ENUM
      Count
};

struct FunctionTable {
#define P11_MEMBER(name) CK_##name name = nullptr;
  P11_ALL_FUNCTIONS(P11_MEMBER)
#undef P11_MEMBER

  // The same pointers by index, for cheap presence checks on the hot path.
  void* byIndex[104] = {};

  // Number of entries copied from the module's list (68, 92 or 104).
  int length = 0;

  void FillFrom(const CK_FUNCTION_LIST_3_2* list, int count);
  bool Has(Fn f) const { return byIndex[static_cast<int>(f)] != nullptr; }
  static const char* Name(Fn f);
  static int Find(const char* name);  // -1 when not a PKCS#11 3.2 function name
};

}  // namespace p11
