// P11BRIDGE_DEBUG=1: one stderr line per call into the module — function, CKR value, time — so a
// user can see what a token is asked and what it answers. Never an argument: PINs, keys and data
// stay out of the log by construction.
#pragma once
#include <atomic>

#include "pkcs11/pkcs11.h"

namespace p11 {

extern std::atomic<bool> g_traceCalls;

// Reads P11BRIDGE_DEBUG once (addon load).
void InitTrace();
void TraceCall(const char* function, CK_RV rv, double ms, bool async);

}  // namespace p11
