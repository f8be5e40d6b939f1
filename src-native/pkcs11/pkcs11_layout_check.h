/* Compile-time checks that the three function lists have the spec's layout; included by pkcs11.h. */
#ifndef P11BRIDGE_PKCS11_LAYOUT_CHECK_H
#define P11BRIDGE_PKCS11_LAYOUT_CHECK_H

/* ========================================================================
 * Compile-time layout checks (C++ only; C99 has no static_assert).
 * ======================================================================== */
#ifdef __cplusplus
#include <cstddef>
#include <type_traits>

namespace p11bridge_layout_check {

/* Index of each function in P11_ALL_FUNCTIONS order. */
enum FunctionIndex {
#define P11_X_INDEX(name) idx_##name,
  P11_ALL_FUNCTIONS(P11_X_INDEX)
#undef P11_X_INDEX
  idx_count
};

/* Where the first pointer lands: right after CK_VERSION with 1-byte
 * packing on Windows, else CK_VERSION rounded up to pointer alignment. */
#if defined(_WIN32)
constexpr std::size_t kHeader = sizeof(CK_VERSION);
#else
constexpr std::size_t kHeader =
    (sizeof(CK_VERSION) + alignof(CK_VOID_PTR) - 1) / alignof(CK_VOID_PTR) *
    alignof(CK_VOID_PTR);
#endif
constexpr std::size_t kPtr = sizeof(CK_VOID_PTR);

}  // namespace p11bridge_layout_check

static_assert(p11bridge_layout_check::idx_count == P11_FUNCTION_COUNT_3_2,
              "P11_ALL_FUNCTIONS must list 104 functions");
static_assert(sizeof(CK_C_Initialize) == sizeof(CK_VOID_PTR),
              "function pointers must be pointer-sized");
static_assert(sizeof(CK_VERSION) == 2, "CK_VERSION is two bytes");

static_assert(offsetof(CK_FUNCTION_LIST, C_Initialize) ==
                  p11bridge_layout_check::kHeader,
              "CK_FUNCTION_LIST header padding");
static_assert(sizeof(CK_FUNCTION_LIST) ==
                  p11bridge_layout_check::kHeader +
                      P11_FUNCTION_COUNT_2_40 * p11bridge_layout_check::kPtr,
              "CK_FUNCTION_LIST must hold exactly 68 pointers");
static_assert(sizeof(CK_FUNCTION_LIST_3_0) ==
                  p11bridge_layout_check::kHeader +
                      P11_FUNCTION_COUNT_3_0 * p11bridge_layout_check::kPtr,
              "CK_FUNCTION_LIST_3_0 must hold exactly 92 pointers");
static_assert(sizeof(CK_FUNCTION_LIST_3_2) ==
                  p11bridge_layout_check::kHeader +
                      P11_FUNCTION_COUNT_3_2 * p11bridge_layout_check::kPtr,
              "CK_FUNCTION_LIST_3_2 must hold exactly 104 pointers");

/* Newer lists extend older ones without moving anything. */
static_assert(offsetof(CK_FUNCTION_LIST_3_0, C_WaitForSlotEvent) ==
                  offsetof(CK_FUNCTION_LIST, C_WaitForSlotEvent),
              "3.0 list must start with the 2.40 list");
static_assert(offsetof(CK_FUNCTION_LIST_3_2, C_MessageVerifyFinal) ==
                  offsetof(CK_FUNCTION_LIST_3_0, C_MessageVerifyFinal),
              "3.2 list must start with the 3.0 list");

/* Every X-macro entry sits at its list position, with its own CK_C_ type. */
#define P11_X_CHECK(list, name)                                              \
  static_assert(offsetof(list, name) ==                                      \
                    p11bridge_layout_check::kHeader +                        \
                        p11bridge_layout_check::idx_##name *                 \
                            p11bridge_layout_check::kPtr,                    \
                "member order differs from pkcs11_function_names.h: " #list \
                "::" #name);                                                 \
  static_assert(std::is_same<decltype(list::name), CK_##name>::value,        \
                #list "::" #name " has the wrong type");
#define P11_X_CHECK_2_40(name) P11_X_CHECK(CK_FUNCTION_LIST, name)
#define P11_X_CHECK_3_0(name) P11_X_CHECK(CK_FUNCTION_LIST_3_0, name)
#define P11_X_CHECK_3_2(name) P11_X_CHECK(CK_FUNCTION_LIST_3_2, name)
P11_FUNCTIONS_2_40(P11_X_CHECK_2_40)
P11_FUNCTIONS_2_40(P11_X_CHECK_3_0)
P11_FUNCTIONS_3_0(P11_X_CHECK_3_0)
P11_ALL_FUNCTIONS(P11_X_CHECK_3_2)
#undef P11_X_CHECK_2_40
#undef P11_X_CHECK_3_0
#undef P11_X_CHECK_3_2
#undef P11_X_CHECK

#endif /* __cplusplus */

#endif /* P11BRIDGE_PKCS11_LAYOUT_CHECK_H */
