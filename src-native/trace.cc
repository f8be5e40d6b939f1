#include "trace.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace p11 {

std::atomic<bool> g_traceCalls{false};

void InitTrace() {
  const char* v = std::getenv("P11BRIDGE_DEBUG");
  g_traceCalls.store(v && *v && std::strcmp(v, "0") != 0, std::memory_order_relaxed);
}

void TraceCall(const char* function, CK_RV rv, double ms, bool async) {
  // One fprintf per line: lines from pool threads do not interleave mid-line.
  std::fprintf(stderr, "p11bridge: %s%s rv=0x%lx %.3f ms\n", function, async ? " (async)" : "",
               static_cast<unsigned long>(rv), ms);
}

}  // namespace p11
