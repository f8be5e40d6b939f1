/*
 * bench/soak/csoak.c - scripts/soak.js's raw call mixes from plain C, so that the module's own
 * memory growth is measured apart from the addon's (docs/soak.md). No p11bridge code in it.
 * Built by bench/soak/run.js with
 *
 *   cc -O2 -o <tmp>/csoak bench/soak/csoak.c -ldl -lpthread -I src-native/pkcs11
 *
 * Usage:
 *   csoak <module.so> <label> <pin> <login-label> <login-pin> <mix> <calls> <samples> <threads>
 *         <warmup> <seed>
 *
 * Same tokens, keys and operations as soak.js's raw lanes: <threads> lanes, each a pthread with
 * its own RW session on <label> (the first logs in as user), picking operations at random
 * (seeded) from the weighted table of <mix> (all, cheap, crypto, objects, sessions: the same
 * weights as soak.js). Login churn runs on <login-label>, one lane at a time. A "call" is counted
 * as soak.js counts a raw call, so "calls" mean the same thing in both programs (the errors
 * operation counts its wrong-typed JS argument too, which makes no C call here).
 *
 * stdout, one JSON object a line: {"sample":…} at the start of the counted calls and every
 * calls/samples calls after it (RSS, /proc/self/smaps_rollup Anonymous, mallinfo2 in use and
 * held, arena count); {"trim":…} after malloc_trim(0); {"finalized":…} after C_Finalize (what
 * the module kept until then); {"done":…} with the operation counts. Exit 2 on an unexpected rv.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arenas.h"
#include "pkcs11.h"

static CK_FUNCTION_LIST_PTR F;
static CK_SLOT_ID g_slot, g_login_slot;
static const char *g_pin, *g_login_pin;
static CK_OBJECT_HANDLE g_hmac, g_aes, g_data, g_ec_pub, g_ec_priv;
static pthread_mutex_t g_login_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_sample_lock = PTHREAD_MUTEX_INITIALIZER;

/* The phase's budget: every lane takes calls from it until it is gone, as soak.js's lanes do. */
static long g_budget_total;
static long g_budget; /* calls left (atomic) */
static long g_next_sample;
static long g_sample_step;
static int g_sampling;

static void die(const char* what, CK_RV rv) {
  fprintf(stderr, "csoak: %s: rv=0x%lx\n", what, (unsigned long)rv);
  exit(2);
}
#define CK(call)                        \
  do {                                  \
    CK_RV rv_ = (call);                 \
    if (rv_ != CKR_OK) die(#call, rv_); \
  } while (0)
#define EXPECT(call, want)                                                         \
  do {                                                                             \
    CK_RV rv_ = (call);                                                            \
    if (rv_ != (want)) die(#call " (expected " #want ")", rv_ ? rv_ : 0xffffffff); \
  } while (0)

/* ---- memory figures ------------------------------------------------------------------------- */

static double rss_mb(void) {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static double anon_mb(void) {
  char line[256];
  double kb = -1;
  FILE* f = fopen("/proc/self/smaps_rollup", "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Anonymous: %lf kB", &kb) == 1) break;
  fclose(f);
  return kb < 0 ? -1 : kb / 1024.0;
}

static void print_memory(const char* kind, long calls) {
  struct mallinfo2 m = mallinfo2();
  printf(
      "{\"%s\":{\"calls\":%ld,\"rssMb\":%.3f,\"anonMb\":%.3f,\"mallocInUseMb\":%.3f,\"mallocFreeMb\":%.3f,"
      "\"mallocHeldMb\":%.3f,\"arenas\":%d}}\n",
      kind, calls, rss_mb(), anon_mb(), (double)(m.uordblks + m.hblkhd) / 1048576.0, (double)m.fordblks / 1048576.0,
      (double)(m.arena + m.hblkhd) / 1048576.0, malloc_arena_count());
  fflush(stdout);
}

/* ---- randomness (mulberry32, as soak.js) ----------------------------------------------------- */

static double next_rand(uint32_t* a) {
  *a += 0x6d2b79f5u;
  uint32_t t = *a;
  t = (t ^ (t >> 15)) * (t | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return (double)(t ^ (t >> 14)) / 4294967296.0;
}

/* ---- operations: each is soak.js's raw operation of the same name ----------------------------- */

static const CK_BYTE P256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static CK_BYTE g_msg[64];
#define BAD_HANDLE 0x7ffffff0UL
#define RW (CKF_SERIAL_SESSION | CKF_RW_SESSION)

typedef int (*op_fn)(CK_SESSION_HANDLE s, uint32_t* rng); /* returns the calls it counts */
/* An operation's definition: all have op_fn's parameters, not all use both. */
#define OP(name) static int name(__attribute__((unused)) CK_SESSION_HANDLE s, __attribute__((unused)) uint32_t* rng)

/* ---- steps several operations share (each CK()s its calls; the op returns the count) ---------- */

/* SHA-256 of g_msg: C_DigestInit, then C_Digest (split 0: 2 calls) or two C_DigestUpdate split
 * there and C_DigestFinal (4 calls). */
static int digest_msg(CK_SESSION_HANDLE s, CK_ULONG split) {
  CK_MECHANISM m = {CKM_SHA256, NULL, 0};
  CK_BYTE d[32];
  CK_ULONG n = sizeof d;
  CK(F->C_DigestInit(s, &m));
  if (!split) {
    CK(F->C_Digest(s, g_msg, sizeof g_msg, d, &n));
    return 2;
  }
  CK(F->C_DigestUpdate(s, g_msg, split));
  CK(F->C_DigestUpdate(s, g_msg + split, sizeof g_msg - split));
  CK(F->C_DigestFinal(s, d, &n));
  return 4;
}

/* C_SignInit + C_Sign over the first `len` bytes of g_msg; *n: sig's size in, the length out. */
static void sign_msg(CK_SESSION_HANDLE s, CK_MECHANISM* m, CK_OBJECT_HANDLE key, CK_ULONG len, CK_BYTE* sig,
                     CK_ULONG* n) {
  CK(F->C_SignInit(s, m, key));
  CK(F->C_Sign(s, g_msg, len, sig, n));
}

/* C_VerifyInit + C_Verify of sig over the same bytes; `want`: CKR_OK or CKR_SIGNATURE_INVALID. */
static void verify_msg(CK_SESSION_HANDLE s, CK_MECHANISM* m, CK_OBJECT_HANDLE key, CK_ULONG len, CK_BYTE* sig,
                       CK_ULONG n, CK_RV want) {
  CK(F->C_VerifyInit(s, m, key));
  EXPECT(F->C_Verify(s, g_msg, len, sig, n), want);
}

/* C_FindObjectsInit(t), one C_FindObjects of up to `max` handles, C_FindObjectsFinal (3 calls):
 * how many it found. */
static CK_ULONG find_once(CK_SESSION_HANDLE s, CK_ATTRIBUTE* t, CK_ULONG nt, CK_ULONG max) {
  CK_OBJECT_HANDLE found[100];
  CK_ULONG n = 0;
  CK(F->C_FindObjectsInit(s, t, nt));
  CK(F->C_FindObjects(s, found, max, &n));
  CK(F->C_FindObjectsFinal(s));
  return n;
}

/* C_GetSessionInfo: a session of the lanes' logged-in token must be a user session. */
static void expect_user_session(CK_SESSION_HANDLE h, const char* what) {
  CK_SESSION_INFO i;
  CK(F->C_GetSessionInfo(h, &i));
  if (i.state != CKS_RW_USER_FUNCTIONS) die(what, 0);
}

/* ---- operations: each is soak.js's raw operation of the same name ----------------------------- */

OP(op_random) {
  CK_BYTE out[32];
  CK(F->C_GenerateRandom(s, out, sizeof out));
  return 1;
}

OP(op_session_info) {
  CK_SESSION_INFO i;
  CK(F->C_GetSessionInfo(s, &i));
  if (i.slotID != g_slot) die("session slot", 0);
  return 1;
}

OP(op_digest) { return digest_msg(s, 0); }

OP(op_digest_multipart) { return digest_msg(s, 20); }

OP(op_hmac) {
  CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
  CK_BYTE mac[32];
  CK_ULONG n = sizeof mac;
  sign_msg(s, &m, g_hmac, sizeof g_msg, mac, &n);
  verify_msg(s, &m, g_hmac, sizeof g_msg, mac, n, CKR_OK);
  return 4;
}

OP(op_ecdsa) {
  CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
  CK_BYTE sig[72];
  CK_ULONG n = sizeof sig;
  sign_msg(s, &m, g_ec_priv, 32, sig, &n);
  verify_msg(s, &m, g_ec_pub, 32, sig, n, CKR_OK);
  sig[0] ^= 1; /* a bad signature: CKR_SIGNATURE_INVALID, as soak.js checks `false` */
  verify_msg(s, &m, g_ec_pub, 32, sig, n, CKR_SIGNATURE_INVALID);
  return 6;
}

OP(op_aes) {
  CK_BYTE iv[16], ct[96], pt[96];
  for (size_t i = 0; i < sizeof iv; i++) iv[i] = (CK_BYTE)(next_rand(rng) * 256);
  CK_MECHANISM m = {CKM_AES_CBC_PAD, iv, sizeof iv};
  CK_ULONG cn = sizeof ct, pn = sizeof pt;
  CK(F->C_EncryptInit(s, &m, g_aes));
  CK(F->C_Encrypt(s, g_msg, sizeof g_msg, ct, &cn));
  CK(F->C_DecryptInit(s, &m, g_aes));
  CK(F->C_Decrypt(s, ct, cn, pt, &pn));
  if (pn != sizeof g_msg || memcmp(pt, g_msg, pn) != 0) die("aes round trip", 0);
  return 4;
}

OP(op_find) {
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}};
  if (find_once(s, t, 1, 100) < 2) die("find secret keys", 0);
  return 3;
}

OP(op_find_partial) {
  find_once(s, NULL, 0, 1);
  return 3;
}

OP(op_get_attributes) {
  /* One call into buffers big enough (the other lane's setAttributes changes the label's length
   * between a length query and the read). */
  CK_BYTE buf[3][128];
  CK_ATTRIBUTE a[3] = {{CKA_LABEL, buf[0], 128}, {CKA_VALUE, buf[1], 128}, {CKA_CLASS, buf[2], 128}};
  CK(F->C_GetAttributeValue(s, g_data, a, 3));
  CK_BYTE v[64];
  CK_ULONG len = 0;
  CK_ATTRIBUTE k[2] = {{CKA_VALUE, v, sizeof v}, {CKA_VALUE_LEN, &len, sizeof len}};
  EXPECT(F->C_GetAttributeValue(s, g_aes, k, 2), CKR_ATTRIBUTE_SENSITIVE);
  return 2;
}

OP(op_set_attributes) {
  char label[32];
  int n = snprintf(label, sizeof label, "soak-%d", (int)(next_rand(rng) * 1000));
  CK_ATTRIBUTE a[] = {{CKA_LABEL, label, (CK_ULONG)n}};
  CK(F->C_SetAttributeValue(s, g_data, a, 1));
  return 1;
}

OP(op_create_destroy) {
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                      {CKA_TOKEN, &no, sizeof no},
                      {CKA_LABEL, "soak-tmp", 8},
                      {CKA_VALUE, g_msg, sizeof g_msg}};
  CK_OBJECT_HANDLE o;
  CK(F->C_CreateObject(s, t, 4, &o));
  CK(F->C_DestroyObject(s, o));
  return 2;
}

OP(op_session_churn) {
  CK_SESSION_HANDLE h;
  CK(F->C_OpenSession(g_slot, RW, NULL, NULL, &h));
  expect_user_session(h, "churn session logged in");
  CK(F->C_CloseSession(h));
  return 3;
}

OP(op_token_info) {
  CK_TOKEN_INFO t;
  CK(F->C_GetTokenInfo(g_slot, &t));
  return 1;
}

OP(op_errors) {
  CK_SESSION_INFO i;
  CK_BYTE label[64], out[64];
  CK_ULONG n = sizeof out;
  CK_ATTRIBUTE a[] = {{CKA_LABEL, label, sizeof label}};
  CK_MECHANISM bad = {0x7ffffff0UL, NULL, 0};
  EXPECT(F->C_GetSessionInfo(BAD_HANDLE, &i), CKR_SESSION_HANDLE_INVALID);
  EXPECT(F->C_GetAttributeValue(s, BAD_HANDLE, a, 1), CKR_OBJECT_HANDLE_INVALID);
  EXPECT(F->C_Sign(s, g_msg, sizeof g_msg, out, &n), CKR_OPERATION_NOT_INITIALIZED);
  EXPECT(F->C_DigestInit(s, &bad), CKR_MECHANISM_INVALID);
  /* soak.js's wrong-typed argument never reaches the module: counted, not made. */
  CK(F->C_FindObjectsInit(s, NULL, 0));
  EXPECT(F->C_FindObjectsInit(s, NULL, 0), CKR_OPERATION_ACTIVE);
  CK(F->C_FindObjectsFinal(s));
  return 8;
}

OP(op_login_churn) {
  CK_SESSION_HANDLE h;
  pthread_mutex_lock(&g_login_lock);
  CK(F->C_OpenSession(g_login_slot, RW, NULL, NULL, &h));
  EXPECT(F->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR) "99999999", 8), CKR_PIN_INCORRECT);
  CK(F->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)g_login_pin, (CK_ULONG)strlen(g_login_pin)));
  expect_user_session(h, "login churn logged in");
  CK(F->C_Logout(h));
  CK(F->C_CloseSession(h));
  pthread_mutex_unlock(&g_login_lock);
  return 6;
}

struct op {
  const char* name;
  double weight;
  op_fn fn;
  long count; /* atomic */
};

/* soak.js's raw table, in its order and with its weights (rawOps). */
static struct op OPS[] = {
    {"random", 10, op_random, 0},
    {"sessionInfo", 10, op_session_info, 0},
    {"digest", 8, op_digest, 0},
    {"digestMultipart", 3, op_digest_multipart, 0},
    {"hmac", 8, op_hmac, 0},
    {"ecdsa", 2, op_ecdsa, 0},
    {"aes", 8, op_aes, 0},
    {"find", 6, op_find, 0},
    {"findPartial", 3, op_find_partial, 0},
    {"getAttributes", 8, op_get_attributes, 0},
    {"setAttributes", 4, op_set_attributes, 0},
    {"createDestroy", 3, op_create_destroy, 0},
    {"sessionChurn", 4, op_session_churn, 0},
    {"tokenInfo", 1, op_token_info, 0},
    {"errors", 4, op_errors, 0},
    {"loginChurn", 0.05, op_login_churn, 0},
};
#define NOPS (sizeof OPS / sizeof OPS[0])

/* soak.js's MIXES, raw side: the operations in each family, with a weight of their own (< 0: keep
 * the table's); "all" lists none and keeps the whole table. */
struct mix_entry {
  const char* name;
  double weight;
};
static const struct mix {
  const char* name;
  struct mix_entry ops[6]; /* up to the first {NULL} */
} MIXES[] = {
    {"all", {{NULL, 0}}},
    {"cheap", {{"sessionInfo", -1}, {"tokenInfo", 10}, {NULL, 0}}},
    {"crypto", {{"digest", -1}, {"digestMultipart", -1}, {"hmac", -1}, {"ecdsa", -1}, {"aes", -1}, {NULL, 0}}},
    {"objects", {{"createDestroy", -1}, {NULL, 0}}},
    {"sessions", {{"sessionChurn", -1}, {"loginChurn", 1}, {NULL, 0}}},
};

/* Sets OPS' weights for the mix named `name` (an operation not in it: 0); 0 when there is none. */
static int apply_mix(const char* name) {
  const struct mix* m = NULL;
  for (size_t i = 0; i < sizeof MIXES / sizeof MIXES[0]; i++)
    if (strcmp(MIXES[i].name, name) == 0) m = &MIXES[i];
  if (!m) return 0;
  if (!m->ops[0].name) return 1;
  for (size_t i = 0; i < NOPS; i++) {
    double w = 0;
    for (const struct mix_entry* e = m->ops; e->name; e++)
      if (strcmp(e->name, OPS[i].name) == 0) w = e->weight < 0 ? OPS[i].weight : e->weight;
    OPS[i].weight = w;
  }
  return 1;
}

static struct op* pick(uint32_t* rng) {
  double total = 0;
  for (size_t i = 0; i < NOPS; i++) total += OPS[i].weight;
  double r = next_rand(rng) * total;
  struct op* last = NULL;
  for (size_t i = 0; i < NOPS; i++) {
    if (OPS[i].weight <= 0) continue;
    last = &OPS[i];
    r -= OPS[i].weight;
    if (r <= 0) return &OPS[i];
  }
  return last;
}

struct lane {
  pthread_t thread;
  CK_SESSION_HANDLE session;
  uint32_t rng;
};

static void* run_lane(void* arg) {
  struct lane* l = arg;
  while (__atomic_load_n(&g_budget, __ATOMIC_RELAXED) > 0) {
    struct op* o = pick(&l->rng);
    long n = o->fn(l->session, &l->rng);
    __atomic_add_fetch(&o->count, 1, __ATOMIC_RELAXED);
    long left = __atomic_sub_fetch(&g_budget, n, __ATOMIC_RELAXED);
    if (g_sampling && left > 0 && left <= __atomic_load_n(&g_next_sample, __ATOMIC_RELAXED)) {
      pthread_mutex_lock(&g_sample_lock);
      if (left <= g_next_sample) {
        print_memory("sample", g_budget_total - left);
        g_next_sample -= g_sample_step;
      }
      pthread_mutex_unlock(&g_sample_lock);
    }
  }
  return NULL;
}

static void run_phase(struct lane* lanes, int threads, long calls, int samples) {
  g_budget_total = calls;
  g_budget = calls;
  g_sampling = samples > 0;
  g_sample_step = samples > 0 ? (calls / samples > 0 ? calls / samples : 1) : 0;
  g_next_sample = calls - g_sample_step;
  if (g_sampling) print_memory("sample", 0);
  for (int i = 0; i < threads; i++)
    if (pthread_create(&lanes[i].thread, NULL, run_lane, &lanes[i]) != 0) die("pthread_create", 0);
  for (int i = 0; i < threads; i++) pthread_join(lanes[i].thread, NULL);
  if (g_sampling) print_memory("sample", calls - g_budget);
}

static CK_SLOT_ID find_slot(const char* label) {
  CK_SLOT_ID slots[64];
  CK_ULONG n = 64;
  CK(F->C_GetSlotList(CK_TRUE, slots, &n));
  for (CK_ULONG i = 0; i < n; i++) {
    CK_TOKEN_INFO t;
    CK(F->C_GetTokenInfo(slots[i], &t));
    size_t len = strlen(label);
    if (len <= 32 && memcmp(t.label, label, len) == 0) {
      int pad = 1;
      for (size_t k = len; k < 32; k++) pad &= t.label[k] == ' ';
      if (pad) return slots[i];
    }
  }
  fprintf(stderr, "csoak: no token labelled %s\n", label);
  exit(2);
}

/* A sensitive 32-byte session secret key for two usages, with soak.js's raw-lane template. */
static CK_OBJECT_HANDLE secret_key(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE gen, CK_ATTRIBUTE_TYPE use1,
                                   CK_ATTRIBUTE_TYPE use2) {
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG len32 = 32;
  CK_MECHANISM m = {gen, NULL, 0};
  CK_ATTRIBUTE t[] = {{CKA_TOKEN, &no, sizeof no},
                      {CKA_VALUE_LEN, &len32, sizeof len32},
                      {use1, &yes, sizeof yes},
                      {use2, &yes, sizeof yes},
                      {CKA_SENSITIVE, &yes, sizeof yes}};
  CK_OBJECT_HANDLE k;
  CK(F->C_GenerateKey(s, &m, t, 5, &k));
  return k;
}

int main(int argc, char** argv) {
  if (argc != 12) {
    fprintf(stderr,
            "usage: csoak <module.so> <label> <pin> <login-label> <login-pin> <mix> <calls> <samples> <threads> "
            "<warmup> <seed>\n");
    return 2;
  }
  const char* mix = argv[6];
  long calls = atol(argv[7]), warmup = atol(argv[10]);
  int samples = atoi(argv[8]), threads = atoi(argv[9]);
  uint32_t seed = (uint32_t)atol(argv[11]);
  if (!apply_mix(mix)) {
    fprintf(stderr, "csoak: mix must be all, cheap, crypto, objects or sessions\n");
    return 2;
  }
  if (threads < 1 || threads > 64 || calls < 1 || samples < 2) {
    fprintf(stderr, "csoak: threads 1..64, calls >= 1, samples >= 2\n");
    return 2;
  }
  g_pin = argv[3];
  g_login_pin = argv[5];

  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "csoak: dlopen: %s\n", dlerror());
    return 2;
  }
  CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
  if (!gfl) die("dlsym C_GetFunctionList", 0);
  CK(gfl(&F));
  CK_C_INITIALIZE_ARGS init = {NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL};
  CK(F->C_Initialize(&init));
  g_slot = find_slot(argv[2]);
  g_login_slot = find_slot(argv[4]);
  for (size_t i = 0; i < sizeof g_msg; i++) g_msg[i] = (CK_BYTE)(i * 7 + 1);

  struct lane* lanes = calloc((size_t)threads, sizeof *lanes);
  if (!lanes) die("calloc", 0);
  for (int i = 0; i < threads; i++) {
    CK(F->C_OpenSession(g_slot, RW, NULL, NULL, &lanes[i].session));
    lanes[i].rng = seed + (uint32_t)i * 7919u;
  }
  CK_SESSION_HANDLE s0 = lanes[0].session;
  CK(F->C_Login(s0, CKU_USER, (CK_UTF8CHAR_PTR)g_pin, (CK_ULONG)strlen(g_pin)));

  /* The keys of soak.js's raw lanes: session objects, same templates. */
  g_hmac = secret_key(s0, CKM_GENERIC_SECRET_KEY_GEN, CKA_SIGN, CKA_VERIFY);
  g_aes = secret_key(s0, CKM_AES_KEY_GEN, CKA_ENCRYPT, CKA_DECRYPT);
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_OBJECT_CLASS dcls = CKO_DATA;
  CK_ATTRIBUTE td[] = {{CKA_CLASS, &dcls, sizeof dcls},
                       {CKA_TOKEN, &no, sizeof no},
                       {CKA_LABEL, "soak", 4},
                       {CKA_VALUE, "soak data", 9}};
  CK(F->C_CreateObject(s0, td, 4, &g_data));
  CK_MECHANISM ecgen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
  CK_ATTRIBUTE pub[] = {
      {CKA_TOKEN, &no, sizeof no}, {CKA_EC_PARAMS, (void*)P256, sizeof P256}, {CKA_VERIFY, &yes, sizeof yes}};
  CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, sizeof no},
                         {CKA_PRIVATE, &yes, sizeof yes},
                         {CKA_SENSITIVE, &yes, sizeof yes},
                         {CKA_SIGN, &yes, sizeof yes}};
  CK(F->C_GenerateKeyPair(s0, &ecgen, pub, 3, priv, 4, &g_ec_pub, &g_ec_priv));

  if (warmup > 0) run_phase(lanes, threads, warmup, 0);
  for (size_t i = 0; i < NOPS; i++) OPS[i].count = 0;
  run_phase(lanes, threads, calls, samples);

  malloc_trim(0);
  print_memory("trim", calls);
  for (int i = 0; i < threads; i++) CK(F->C_CloseSession(lanes[i].session));
  CK(F->C_Finalize(NULL));
  malloc_trim(0);
  print_memory("finalized", calls);

  printf("{\"done\":{\"mix\":\"%s\",\"calls\":%ld,\"threads\":%d,\"ops\":{", mix, calls - g_budget, threads);
  int first = 1;
  for (size_t i = 0; i < NOPS; i++) {
    if (!OPS[i].count) continue;
    printf("%s\"raw.%s\":%ld", first ? "" : ",", OPS[i].name, OPS[i].count);
    first = 0;
  }
  printf("}}}\n");
  free(lanes);
  dlclose(h);
  return 0;
}
