#include "function_table.h"

#include <cstring>

namespace p11 {

static const char* const kNames[] = {
#define P11_NAME(name) #name,
    P11_ALL_FUNCTIONS(P11_NAME)
#undef P11_NAME
};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == 104, "PKCS#11 3.2 has 104 functions");

void FunctionTable::FillFrom(const CK_FUNCTION_LIST_3_2* list, int count) {
  // Reads only the first `count` members: a 2.40 list is shorter than the 3.2 struct.
  int i = 0;
#define P11_FILL(name)                                \
  if (i < count) {                                    \
    name = list->name;                                \
    byIndex[i] = reinterpret_cast<void*>(list->name); \
  }                                                   \
  i++;
  P11_ALL_FUNCTIONS(P11_FILL)
#undef P11_FILL
  length = count;
}

const char* FunctionTable::Name(Fn f) {
  int i = static_cast<int>(f);
  return (i >= 0 && i < 104) ? kNames[i] : "C_?";
}

int FunctionTable::Find(const char* name) {
  for (int i = 0; i < 104; i++)
    if (std::strcmp(kNames[i], name) == 0) return i;
  return -1;
}

}  // namespace p11
