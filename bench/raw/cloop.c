/*
 * bench/raw/cloop.c - the C baseline for bench/raw/run.js.
 *
 * What a careful C programmer would write against the same PKCS#11 module: no argument
 * marshalling, no result objects, and for C_Sign a fixed 72-byte output buffer and exactly one
 * call (no length query first). Built by run.js with
 *
 *   cc -O2 -o <tmp>/cloop bench/raw/cloop.c -ldl -lpthread -I src-native/pkcs11
 *
 * against the project's own header (src-native/pkcs11/pkcs11.h).
 *
 * The module is opened with plain dlopen(RTLD_NOW | RTLD_LOCAL), NOT with RTLD_DEEPBIND as the
 * addon does: this process has no second OpenSSL in its global scope (Node exports its bundled
 * OpenSSL, which is why the addon deep-binds), so the module resolves its libcrypto normally.
 *
 * Usage:
 *   cloop <module.so> <token-label> <user-pin> <measure> [options]
 * measures (each prints one JSON object on stdout):
 *   cheap   <warmup> <iters> <reps>        ns per C_GetSessionInfo, one value per rep
 *   sign    <warmup> <seconds> <threads> <query>
 *                                           C_SignInit + C_Sign(CKM_ECDSA, 32-byte digest);
 *                                           each thread its own session; query=1 asks for the
 *                                           length first (two C_Sign calls, like a module-sized
 *                                           output), query=0 passes a 72-byte buffer (one call)
 *   handoff <warmup-s> <seconds> <threads> <sessions> [init-on-loop]
 *                                           the sign of `sign` handed from an event loop (this
 *                                           thread, epoll on an eventfd) to worker threads and
 *                                           back, one signature in flight per session (Linux)
 *   split   <warmup> <iters>                µs in C_SignInit and in C_Sign, timed apart (one thread)
 *   sha     <mb> <reps>                     C_DigestInit + C_DigestUpdate(1 MB) x mb + C_DigestFinal
 *
 * The key pair is generated here with the same template as bench/raw/node-bench.js: session
 * objects (CKA_TOKEN false), P-256 (CKA_EC_PARAMS = OID 1.2.840.10045.3.1.7), private key
 * CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN; public key CKA_VERIFY.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11.h"

static CK_FUNCTION_LIST_PTR F;
static CK_SLOT_ID g_slot;
static CK_OBJECT_HANDLE g_priv;
static volatile int g_stop;

/* CPU seconds (user + system, all threads) this process has used. */
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what, CK_RV rv) {
  fprintf(stderr, "cloop: %s failed: rv=0x%lx\n", what, (unsigned long)rv);
  exit(2);
}
#define CK(call)                       \
  do {                                 \
    CK_RV rv_ = (call);                \
    if (rv_ != CKR_OK) die(#call, rv_); \
  } while (0)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CLOOP_DEEPBIND=1 adds RTLD_DEEPBIND, as the addon does: inside a Node process (cloop-node.c)
 * that is what keeps the module on the system libcrypto instead of Node's bundled OpenSSL. */
static void load(const char *path) {
  const char *deep = getenv("CLOOP_DEEPBIND");
  int flags = RTLD_NOW | RTLD_LOCAL;
  if (deep && strcmp(deep, "1") == 0) flags |= RTLD_DEEPBIND;
  void *h = dlopen(path, flags);
  if (!h) {
    fprintf(stderr, "cloop: dlopen: %s\n", dlerror());
    exit(2);
  }
  CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
  if (!gfl) {
    fprintf(stderr, "cloop: no C_GetFunctionList in %s\n", path);
    exit(2);
  }
  CK(gfl(&F));
  CK_C_INITIALIZE_ARGS args;
  memset(&args, 0, sizeof args);
  args.flags = CKF_OS_LOCKING_OK;
  CK(F->C_Initialize(&args));
}

/* The slot whose token label (blank-padded to 32) is `label`. */
static CK_SLOT_ID find_slot(const char *label) {
  CK_SLOT_ID slots[64];
  CK_ULONG n = 64;
  CK(F->C_GetSlotList(CK_TRUE, slots, &n));
  char want[32];
  memset(want, ' ', sizeof want);
  memcpy(want, label, strlen(label) < 32 ? strlen(label) : 32);
  for (CK_ULONG i = 0; i < n; i++) {
    CK_TOKEN_INFO ti;
    if (F->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.label, want, 32) == 0) return slots[i];
  }
  fprintf(stderr, "cloop: no token labelled '%s'\n", label);
  exit(2);
}

static CK_SESSION_HANDLE open_session(void) {
  CK_SESSION_HANDLE s;
  CK(F->C_OpenSession(g_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
  return s;
}

static void generate_key(CK_SESSION_HANDLE s) {
  static CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE pub[] = {
      {CKA_TOKEN, &no, sizeof no},
      {CKA_EC_PARAMS, p256, sizeof p256},
      {CKA_VERIFY, &yes, sizeof yes},
  };
  CK_ATTRIBUTE priv[] = {
      {CKA_TOKEN, &no, sizeof no},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_SIGN, &yes, sizeof yes},
  };
  CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
  CK_OBJECT_HANDLE hpub;
  CK(F->C_GenerateKeyPair(s, &mech, pub, 3, priv, 4, &hpub, &g_priv));
}

/* ---- 1. cheap call ---------------------------------------------------------------------- */

static void run_cheap(CK_SESSION_HANDLE s, long warmup, long iters, int reps) {
  CK_SESSION_INFO info;
  for (long i = 0; i < warmup; i++) CK(F->C_GetSessionInfo(s, &info));
  printf("{\"measure\":\"cheap\",\"impl\":\"c\",\"iters\":%ld,\"ns\":[", iters);
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    for (long i = 0; i < iters; i++) {
      if (F->C_GetSessionInfo(s, &info) != CKR_OK) die("C_GetSessionInfo", 0);
    }
    double t1 = now_s();
    printf("%s%.2f", r ? "," : "", (t1 - t0) * 1e9 / (double)iters);
  }
  printf("],\"state\":%lu}\n", (unsigned long)info.state);
}

/* ---- 2/3. sign -------------------------------------------------------------------------- */

static CK_BYTE g_digest[32];
static int g_query;

/* The digest every measure signs: the same bytes as bench/raw/node-bench.js. */
static void fill_digest(void) {
  for (int i = 0; i < 32; i++) g_digest[i] = (CK_BYTE)(i * 7 + 1);
}

/* The two halves of a signature (the raw chain and `split` run them apart). */
static void sign_init(CK_SESSION_HANDLE s) {
  CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
  CK_RV rv = F->C_SignInit(s, &mech, g_priv);
  if (rv != CKR_OK) die("C_SignInit", rv);
}

/* C_Sign into a fixed 72-byte buffer (one call). */
static CK_ULONG sign_call(CK_SESSION_HANDLE s) {
  CK_BYTE sig[72];
  CK_ULONG len = sizeof sig;
  CK_RV rv = F->C_Sign(s, g_digest, sizeof g_digest, sig, &len);
  if (rv != CKR_OK) die("C_Sign", rv);
  return len;
}

/* One signature: C_SignInit, then C_Sign into a fixed 72-byte buffer (one call), or with
 * query=1 a NULL-buffer length query first (what a module-sized output needs). */
static CK_ULONG sign_once(CK_SESSION_HANDLE s) {
  sign_init(s);
  if (g_query) {
    CK_ULONG len = 0;
    CK_RV rv = F->C_Sign(s, g_digest, sizeof g_digest, NULL, &len);
    if (rv != CKR_OK) die("C_Sign (length)", rv);
  }
  return sign_call(s);
}

struct worker {
  pthread_t tid;
  CK_SESSION_HANDLE session;
  long warmup;
  long ops;
  CK_ULONG siglen;
};

static pthread_barrier_t g_ready;

static void *sign_thread(void *p) {
  struct worker *w = (struct worker *)p;
  for (long i = 0; i < w->warmup; i++) w->siglen = sign_once(w->session);
  pthread_barrier_wait(&g_ready); /* all warmed up */
  pthread_barrier_wait(&g_ready); /* main took t0 */
  long ops = 0;
  while (!g_stop) {
    w->siglen = sign_once(w->session);
    ops++;
  }
  w->ops = ops;
  return NULL;
}

static void run_sign(long warmup, double seconds, int threads) {
  struct worker *ws = calloc((size_t)threads, sizeof *ws);
  g_stop = 0; /* the in-node addon runs this more than once per process */
  fill_digest();
  pthread_barrier_init(&g_ready, NULL, (unsigned)threads + 1);
  for (int i = 0; i < threads; i++) {
    ws[i].session = open_session();
    ws[i].warmup = warmup;
    if (pthread_create(&ws[i].tid, NULL, sign_thread, &ws[i]) != 0) die("pthread_create", 0);
  }
  pthread_barrier_wait(&g_ready);
  double t0 = now_s(), c0 = cpu_s();
  pthread_barrier_wait(&g_ready);
  struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
  nanosleep(&ts, NULL);
  g_stop = 1;
  long total = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ws[i].tid, NULL);
    total += ws[i].ops;
  }
  double t1 = now_s(), c1 = cpu_s();
  printf("{\"measure\":\"sign\",\"impl\":\"c\",\"threads\":%d,\"query\":%d,\"ops\":%ld,\"seconds\":%.4f,"
         "\"opsPerSec\":%.1f,\"sigLen\":%lu,\"cpuCores\":%.3f}\n",
         threads, g_query, total, t1 - t0, (double)total / (t1 - t0), (unsigned long)ws[0].siglen,
         (c1 - c0) / (t1 - t0));
  for (int i = 0; i < threads; i++) F->C_CloseSession(ws[i].session);
  free(ws);
}

/* ---- 3b. the event-loop hand-off, in C --------------------------------------------------- */

/* What any binding for a single-threaded event loop (Node's) must do per call, with no binding
 * code at all: the loop thread hands each call to a worker thread and gets the result back. Here
 * the loop thread is this program's main thread, sleeping in epoll_wait on an eventfd as libuv's
 * loop does; `threads` workers wait on a condition variable for calls; `sessions` sessions each
 * have one signature (C_SignInit + C_Sign) in flight, and the loop hands the next one out as soon
 * as it sees the last one finished. A worker appends what finished to a list and writes the
 * eventfd only when the list was empty (one wake-up takes every call finished meanwhile), as
 * p11bridge's engine does. No JS, no argument marshalling, no promises: what is left is the
 * hand-off itself, the ceiling for a Node binding of a fast token on this machine. */
#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/eventfd.h>

static struct {
  pthread_mutex_t mu;
  pthread_cond_t work;
  int *queue, qhead, qlen, cap; /* ring of session indexes waiting for a worker */
  int *done, ndone;             /* finished, not yet seen by the loop */
  int efd;
  CK_SESSION_HANDLE *sessions;
  double spin;
  int initOnLoop; /* the raw chain's shape: C_SignInit on the loop thread, C_Sign on a worker */
} H = {.mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER};

static void *handoff_worker(void *p) {
  (void)p;
  for (;;) {
    if (H.spin > 0) { /* CLOOP_SPIN_US: look for the next call a while before sleeping */
      double until = now_s() + H.spin;
      while (!*(volatile int *)&H.qlen && !g_stop && now_s() < until) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
    pthread_mutex_lock(&H.mu);
    while (H.qlen == 0 && !g_stop) pthread_cond_wait(&H.work, &H.mu);
    if (g_stop) {
      pthread_mutex_unlock(&H.mu);
      return NULL;
    }
    int i = H.queue[H.qhead];
    H.qhead = (H.qhead + 1) % H.cap;
    H.qlen--;
    pthread_mutex_unlock(&H.mu);
    if (H.initOnLoop) {
      sign_call(H.sessions[i]);
    } else {
      sign_once(H.sessions[i]);
    }
    pthread_mutex_lock(&H.mu);
    int wake = H.ndone == 0;
    H.done[H.ndone++] = i;
    pthread_mutex_unlock(&H.mu);
    if (wake) {
      uint64_t one = 1;
      if (write(H.efd, &one, sizeof one) != sizeof one) die("write(eventfd)", 0);
    }
  }
}

static void handoff_submit(const int *idx, int n) {
  if (H.initOnLoop) {
    for (int k = 0; k < n; k++) sign_init(H.sessions[idx[k]]);
  }
  pthread_mutex_lock(&H.mu);
  for (int k = 0; k < n; k++) {
    H.queue[(H.qhead + H.qlen) % H.cap] = idx[k];
    H.qlen++;
    pthread_cond_signal(&H.work);
  }
  pthread_mutex_unlock(&H.mu);
}

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_handoff(double warmup_s, double seconds, int threads, int sessions, int initOnLoop) {
  H.initOnLoop = initOnLoop;
  fill_digest();
  g_stop = 0;
  H.spin = getenv("CLOOP_SPIN_US") ? atof(getenv("CLOOP_SPIN_US")) / 1e6 : 0;
  H.qhead = H.qlen = H.ndone = 0; /* the in-node addon may run this more than once */
  H.cap = sessions;
  H.queue = calloc((size_t)sessions, sizeof(int));
  H.done = calloc((size_t)sessions, sizeof(int));
  int *batch = calloc((size_t)sessions, sizeof(int));
  H.sessions = calloc((size_t)sessions, sizeof(CK_SESSION_HANDLE));
  for (int i = 0; i < sessions; i++) H.sessions[i] = open_session();
  H.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  if (H.efd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, H.efd, &ev) != 0) die("eventfd/epoll", 0);
  pthread_t *ts = calloc((size_t)threads, sizeof(pthread_t));
  for (int i = 0; i < threads; i++)
    if (pthread_create(&ts[i], NULL, handoff_worker, NULL) != 0) die("pthread_create", 0);
  for (int i = 0; i < sessions; i++) batch[i] = i;
  handoff_submit(batch, sessions);
  double start = now_s(), t0 = 0, c0 = 0, l0 = 0, t1 = 0, c1 = 0, l1 = 0;
  long ops = 0;
  int phase = 0; /* 0 warm-up, 1 measuring */
  for (;;) {
    struct epoll_event out;
    if (epoll_wait(ep, &out, 1, -1) < 0) continue;
    uint64_t n;
    if (read(H.efd, &n, sizeof n) < 0) continue;
    pthread_mutex_lock(&H.mu);
    int got = H.ndone;
    memcpy(batch, H.done, (size_t)got * sizeof(int));
    H.ndone = 0;
    pthread_mutex_unlock(&H.mu);
    double t = now_s();
    if (phase == 0 && t - start >= warmup_s) {
      phase = 1;
      t0 = t, c0 = cpu_s(), l0 = thread_cpu_s();
    } else if (phase == 1) {
      ops += got;
      if (t - t0 >= seconds) {
        t1 = t, c1 = cpu_s(), l1 = thread_cpu_s();
        break;
      }
    }
    handoff_submit(batch, got);
  }
  pthread_mutex_lock(&H.mu);
  g_stop = 1;
  pthread_cond_broadcast(&H.work);
  pthread_mutex_unlock(&H.mu);
  for (int i = 0; i < threads; i++) pthread_join(ts[i], NULL);
  const double loop = (l1 - l0) * 1e6 / (double)ops, all = (c1 - c0) * 1e6 / (double)ops;
  printf("{\"measure\":\"handoff\",\"impl\":\"c\",\"threads\":%d,\"sessions\":%d,\"ops\":%ld,\"seconds\":%.4f,"
         "\"opsPerSec\":%.1f,\"cpuCores\":%.3f,\"jsCpuUsPerOp\":%.2f,\"otherCpuUsPerOp\":%.2f,\"initOnLoop\":%d}\n",
         threads, sessions, ops, t1 - t0, (double)ops / (t1 - t0), (c1 - c0) / (t1 - t0), loop, all - loop, H.initOnLoop);
  for (int i = 0; i < sessions; i++) F->C_CloseSession(H.sessions[i]);
  close(ep);
  close(H.efd);
  free(ts), free(batch), free(H.queue), free(H.done), free(H.sessions);
}
#endif

/* Where a signature's time goes in the module: C_SignInit and C_Sign timed apart, one thread.
 * (The raw async chain runs C_SignInit on the JS thread; this is that share of the work.) */
static void run_split(long warmup, long iters) {
  CK_SESSION_HANDLE s = open_session();
  fill_digest();
  for (long i = 0; i < warmup; i++) sign_once(s);
  double init = 0, sign = 0;
  for (long i = 0; i < iters; i++) {
    double t0 = now_s();
    sign_init(s);
    double t1 = now_s();
    sign_call(s);
    double t2 = now_s();
    init += t1 - t0;
    sign += t2 - t1;
  }
  printf("{\"measure\":\"split\",\"impl\":\"c\",\"iters\":%ld,\"signInitUs\":%.3f,\"signUs\":%.3f}\n", iters,
         init * 1e6 / (double)iters, sign * 1e6 / (double)iters);
  F->C_CloseSession(s);
}

/* ---- 4. SHA-256 ------------------------------------------------------------------------- */

#define CHUNK (1024 * 1024)

static void run_sha(CK_SESSION_HANDLE s, int mb, int reps) {
  CK_BYTE *chunk = malloc(CHUNK);
  /* Same bytes as node-bench.js: byte i of every 1 MB chunk is (i * 7 + 3) & 0xff. */
  for (size_t i = 0; i < CHUNK; i++) chunk[i] = (CK_BYTE)((i * 7 + 3) & 0xff);
  CK_MECHANISM mech = {CKM_SHA256, NULL, 0};
  CK_BYTE out[32];
  CK_ULONG outLen = 0;
  printf("{\"measure\":\"sha\",\"impl\":\"c\",\"mb\":%d,\"ms\":[", mb);
  for (int r = 0; r < reps + 1; r++) { /* the first run is a warm-up */
    double t0 = now_s();
    CK(F->C_DigestInit(s, &mech));
    for (int i = 0; i < mb; i++) CK(F->C_DigestUpdate(s, chunk, CHUNK));
    outLen = sizeof out;
    CK(F->C_DigestFinal(s, out, &outLen));
    double t1 = now_s();
    if (r) printf("%s%.3f", r > 1 ? "," : "", (t1 - t0) * 1e3);
  }
  printf("],\"digest\":\"");
  for (CK_ULONG i = 0; i < outLen; i++) printf("%02x", out[i]);
  printf("\"}\n");
  free(chunk);
}

/* CLOOP_IDLE_THREAD=1 starts one thread that only sleeps, before the module is loaded: the
 * process is then multi-threaded, as every Node process is (glibc's malloc and stdio take their
 * single-thread fast paths only while a process has one thread). */
static void *idle_thread(void *p) {
  (void)p;
  for (;;) pause();
  return NULL;
}

static int cloop_main(int argc, char **argv) {
  const char *idle = getenv("CLOOP_IDLE_THREAD");
  if (idle && strcmp(idle, "1") == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle_thread, NULL) != 0) die("pthread_create", 0);
    pthread_detach(t);
  }
  if (argc < 5) {
    fprintf(stderr, "usage: cloop <module> <token-label> <pin> cheap|sign|sha [options]\n");
    return 2;
  }
  const char *measure = argv[4];
  load(argv[1]);
  g_slot = find_slot(argv[2]);
  CK_SESSION_HANDLE s = open_session();
  CK(F->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)argv[3], (CK_ULONG)strlen(argv[3])));
  if (strcmp(measure, "cheap") == 0 && argc >= 8) {
    run_cheap(s, atol(argv[5]), atol(argv[6]), atoi(argv[7]));
  } else if (strcmp(measure, "sign") == 0 && argc >= 9) {
    generate_key(s);
    g_query = atoi(argv[8]);
    run_sign(atol(argv[5]), atof(argv[6]), atoi(argv[7]));
#if defined(__linux__)
  } else if (strcmp(measure, "handoff") == 0 && argc >= 9) {
    generate_key(s);
    run_handoff(atof(argv[5]), atof(argv[6]), atoi(argv[7]), atoi(argv[8]), argc >= 10 && atoi(argv[9]));
#endif
  } else if (strcmp(measure, "split") == 0 && argc >= 7) {
    generate_key(s);
    run_split(atol(argv[5]), atol(argv[6]));
  } else if (strcmp(measure, "sha") == 0 && argc >= 7) {
    run_sha(s, atoi(argv[5]), atoi(argv[6]));
  } else {
    fprintf(stderr, "cloop: bad arguments for '%s'\n", measure);
    return 2;
  }
  fflush(stdout);
  F->C_Logout(s);
  F->C_CloseSession(s);
  F->C_Finalize(NULL);
  printf("{\"cpuSec\":%.4f}\n", cpu_s());
  return 0;
}

#ifndef CLOOP_NO_MAIN
int main(int argc, char **argv) { return cloop_main(argc, argv); }
#endif
