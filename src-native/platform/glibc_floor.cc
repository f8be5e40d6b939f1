// The glibc floor of the Linux binaries: glibc 2.28 (Debian 10, Ubuntu 18.10+, RHEL 8), the
// oldest glibc Node 20+ runs on. Built into glibc builds only (binding.gyp, p11_glibc); a no-op
// elsewhere (musl, sanitizer builds).
//
// The prebuilds are made on a newer Debian, whose glibc gave new version tags to symbols that old
// glibcs already had (2.34 moved dlopen & co. and the pthread functions into libc) and added a few
// that libstdc++ then prefers. A binary linked there asks for GLIBC_2.34+ and does not load on an
// older system. So the link (binding.gyp) sends every reference to such a symbol, ours and those
// of the statically linked libstdc++, to a __wrap_ function here (ld --wrap), which calls the
// symbol's oldest version (.symver): every glibc since keeps that version for compatibility, and
// old ones have it in libdl.so.2 / libpthread.so.0, which the binary also lists. Functions with no
// version at or below the floor are written here in terms of older ones.
// scripts/check-glibc.js verifies every shipped binary: no GLIBC_ version above 2.28 and no
// GLIBCXX_/CXXABI_ version at all (libstdc++ is linked in, its symbols kept inside).
// features.h is glibc's (and musl's): neither Windows nor macOS has it.
#if defined(__linux__)
#include <features.h>  // __GLIBC__
#endif

#if defined(__linux__) && defined(__GLIBC__) && !defined(P11_ASAN) && !defined(P11_TSAN)
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

#if defined(__x86_64__)
#define P11_BASE "GLIBC_2.2.5"
#define P11_SETNAME "GLIBC_2.12"
#define P11_CONDWAIT "GLIBC_2.3.2"
#elif defined(__aarch64__)
#define P11_BASE "GLIBC_2.17"  // glibc's first aarch64 release: every symbol starts there
#define P11_SETNAME "GLIBC_2.17"
#define P11_CONDWAIT "GLIBC_2.17"
#else
#error "glibc_floor.cc: add this architecture's base glibc version"
#endif

#define P11_HIDDEN __attribute__((visibility("hidden")))

// OLD(ret, name, version, (params), (args)): __wrap_name calls name@version.
#define OLD(ret, name, version, params, args)              \
  extern "C" ret p11_old_##name params;                    \
  __asm__(".symver p11_old_" #name "," #name "@" version); \
  extern "C" P11_HIDDEN ret __wrap_##name params { return p11_old_##name args; }

OLD(void*, dlopen, P11_BASE, (const char* f, int m), (f, m))
OLD(void*, dlsym, P11_BASE, (void* h, const char* s), (h, s))
OLD(int, dlclose, P11_BASE, (void* h), (h))
OLD(char*, dlerror, P11_BASE, (void), ())
OLD(int, dladdr, P11_BASE, (const void* a, Dl_info* i), (a, i))
OLD(int, pthread_create, P11_BASE, (pthread_t * t, const pthread_attr_t* a, void* (*f)(void*), void* p), (t, a, f, p))
OLD(int, pthread_join, P11_BASE, (pthread_t t, void** r), (t, r))
OLD(int, pthread_detach, P11_BASE, (pthread_t t), (t))
OLD(int, pthread_once, P11_BASE, (pthread_once_t * o, void (*f)(void)), (o, f))
OLD(int, pthread_key_create, P11_BASE, (pthread_key_t * k, void (*d)(void*)), (k, d))
OLD(int, __pthread_key_create, P11_BASE, (pthread_key_t * k, void (*d)(void*)), (k, d))
OLD(int, pthread_key_delete, P11_BASE, (pthread_key_t k), (k))
OLD(void*, pthread_getspecific, P11_BASE, (pthread_key_t k), (k))
OLD(int, pthread_setspecific, P11_BASE, (pthread_key_t k, const void* v), (k, v))
OLD(int, pthread_setname_np, P11_SETNAME, (pthread_t t, const char* n), (t, n))
OLD(int, pthread_cond_timedwait, P11_CONDWAIT, (pthread_cond_t * c, pthread_mutex_t* m, const struct timespec* t),
    (c, m, t))

// pthread_cond_clockwait (glibc 2.30; libstdc++ uses it for steady_clock waits): the same wait
// on the condition's own clock (CLOCK_REALTIME, the default), the deadline moved to that clock.
extern "C" P11_HIDDEN int __wrap_pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock,
                                                        const struct timespec* abstime) {
  if (clock == CLOCK_REALTIME) return p11_old_pthread_cond_timedwait(c, m, abstime);
  if (clock != CLOCK_MONOTONIC) return EINVAL;
  struct timespec mono, real;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  int64_t left = (int64_t(abstime->tv_sec) - mono.tv_sec) * 1000000000 + (abstime->tv_nsec - mono.tv_nsec);
  if (left < 0) left = 0;
  int64_t ns = real.tv_nsec + left % 1000000000;
  struct timespec at;
  at.tv_sec = real.tv_sec + time_t(left / 1000000000) + time_t(ns / 1000000000);
  at.tv_nsec = long(ns % 1000000000);
  return p11_old_pthread_cond_timedwait(c, m, &at);
}

// arc4random (glibc 2.36): reached only through std::random_device, which the static libstdc++
// links in (its COW strings refer to it); p11bridge never calls it. getrandom is glibc 2.25.
extern "C" P11_HIDDEN uint32_t __wrap_arc4random(void) {
  uint32_t v = 0;
  size_t got = 0;
  while (got < sizeof v) {
    const ssize_t n = getrandom(reinterpret_cast<char*>(&v) + got, sizeof v - got, 0);
    if (n > 0)
      got += size_t(n);
    else if (errno != EINTR)
      break;
  }
  return v;
}

// libstdc++'s headers (GCC 11+) read __libc_single_threaded (glibc 2.32) to skip atomic
// reference counts while a process has one thread. A Node process never has one thread: this
// hidden definition answers "not single-threaded" for good, and every count stays atomic.
extern "C" {
P11_HIDDEN char __libc_single_threaded = 0;
}
#endif
