// Shared by functions that return a CK_ULONG list sized by the module (slots, mechanisms).
#pragma once
#include <string>
#include <vector>

#include "pkcs11/pkcs11.h"

namespace p11 {

template <class F>
CK_RV FillUlongs(std::vector<CK_ULONG>& out, std::string& detail, F&& call) {
  CK_ULONG n = 0;
  CK_RV rv = call(nullptr, &n);
  for (int attempt = 0; rv == CKR_OK && attempt < 4; attempt++) {
    if (n > (1u << 24)) {
      detail = "module reported a list of " + std::to_string(n) + " entries";
      return CKR_GENERAL_ERROR;
    }
    // One spare element the module is not told about: p11-kit-client 0.24 reads one entry past
    // the mechanism list it fills (seen under ASan); the spare keeps that read in our memory.
    out.assign(n + 1, 0);
    CK_ULONG got = n;
    rv = call(out.data(), &got);
    if (rv == CKR_BUFFER_TOO_SMALL) {  // the list grew between the two calls (a reader plugged in)
      n = got > n ? got : n + 8;
      rv = CKR_OK;
      continue;
    }
    if (rv != CKR_OK) return rv;
    if (got > n) {
      detail = "module reported more list entries than the buffer holds";
      return CKR_GENERAL_ERROR;
    }
    out.resize(got);
    return CKR_OK;
  }
  return rv == CKR_OK ? CKR_BUFFER_TOO_SMALL : rv;
}

}  // namespace p11
