/*
 * p11shim support: where the configuration is, the rules parser (syntax in p11shim.h), the
 * session -> slot table.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "p11shim.h"

static const char *const fn_names[FN_COUNT] = {
#define P11SHIM_X(name) #name,
    P11_FUNCTIONS_2_40(P11SHIM_X)
#undef P11SHIM_X
};

typedef struct {
  const char *name;
  CK_ULONG value;
} named;

#define N(x) {#x, x},
static const named ckr_names[] = {
    N(CKR_OK) N(CKR_CANCEL) N(CKR_HOST_MEMORY) N(CKR_SLOT_ID_INVALID) N(CKR_GENERAL_ERROR)
    N(CKR_FUNCTION_FAILED) N(CKR_ARGUMENTS_BAD) N(CKR_NO_EVENT) N(CKR_NEED_TO_CREATE_THREADS)
    N(CKR_CANT_LOCK) N(CKR_ATTRIBUTE_READ_ONLY) N(CKR_ATTRIBUTE_SENSITIVE) N(CKR_ATTRIBUTE_TYPE_INVALID)
    N(CKR_ATTRIBUTE_VALUE_INVALID) N(CKR_ACTION_PROHIBITED) N(CKR_DATA_INVALID) N(CKR_DATA_LEN_RANGE)
    N(CKR_DEVICE_ERROR) N(CKR_DEVICE_MEMORY) N(CKR_DEVICE_REMOVED) N(CKR_ENCRYPTED_DATA_INVALID)
    N(CKR_ENCRYPTED_DATA_LEN_RANGE) N(CKR_AEAD_DECRYPT_FAILED) N(CKR_FUNCTION_CANCELED)
    N(CKR_FUNCTION_NOT_PARALLEL) N(CKR_FUNCTION_NOT_SUPPORTED) N(CKR_KEY_HANDLE_INVALID)
    N(CKR_KEY_SIZE_RANGE) N(CKR_KEY_TYPE_INCONSISTENT) N(CKR_KEY_NOT_NEEDED) N(CKR_KEY_CHANGED)
    N(CKR_KEY_NEEDED) N(CKR_KEY_INDIGESTIBLE) N(CKR_KEY_FUNCTION_NOT_PERMITTED) N(CKR_KEY_NOT_WRAPPABLE)
    N(CKR_KEY_UNEXTRACTABLE) N(CKR_MECHANISM_INVALID) N(CKR_MECHANISM_PARAM_INVALID)
    N(CKR_OBJECT_HANDLE_INVALID) N(CKR_OPERATION_ACTIVE) N(CKR_OPERATION_NOT_INITIALIZED)
    N(CKR_PIN_INCORRECT) N(CKR_PIN_INVALID) N(CKR_PIN_LEN_RANGE) N(CKR_PIN_EXPIRED) N(CKR_PIN_LOCKED)
    N(CKR_SESSION_CLOSED) N(CKR_SESSION_COUNT) N(CKR_SESSION_HANDLE_INVALID)
    N(CKR_SESSION_PARALLEL_NOT_SUPPORTED) N(CKR_SESSION_READ_ONLY) N(CKR_SESSION_EXISTS)
    N(CKR_SESSION_READ_ONLY_EXISTS) N(CKR_SESSION_READ_WRITE_SO_EXISTS) N(CKR_SIGNATURE_INVALID)
    N(CKR_SIGNATURE_LEN_RANGE) N(CKR_TEMPLATE_INCOMPLETE) N(CKR_TEMPLATE_INCONSISTENT)
    N(CKR_TOKEN_NOT_PRESENT) N(CKR_TOKEN_NOT_RECOGNIZED) N(CKR_TOKEN_WRITE_PROTECTED)
    N(CKR_UNWRAPPING_KEY_HANDLE_INVALID) N(CKR_UNWRAPPING_KEY_SIZE_RANGE)
    N(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT) N(CKR_USER_ALREADY_LOGGED_IN) N(CKR_USER_NOT_LOGGED_IN)
    N(CKR_USER_PIN_NOT_INITIALIZED) N(CKR_USER_TYPE_INVALID) N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN)
    N(CKR_USER_TOO_MANY_TYPES) N(CKR_WRAPPED_KEY_INVALID) N(CKR_WRAPPED_KEY_LEN_RANGE)
    N(CKR_WRAPPING_KEY_HANDLE_INVALID) N(CKR_WRAPPING_KEY_SIZE_RANGE) N(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)
    N(CKR_RANDOM_SEED_NOT_SUPPORTED) N(CKR_RANDOM_NO_RNG) N(CKR_DOMAIN_PARAMS_INVALID)
    N(CKR_CURVE_NOT_SUPPORTED) N(CKR_BUFFER_TOO_SMALL) N(CKR_SAVED_STATE_INVALID)
    N(CKR_INFORMATION_SENSITIVE) N(CKR_STATE_UNSAVEABLE) N(CKR_CRYPTOKI_NOT_INITIALIZED)
    N(CKR_CRYPTOKI_ALREADY_INITIALIZED) N(CKR_MUTEX_BAD) N(CKR_MUTEX_NOT_LOCKED) N(CKR_NEW_PIN_MODE)
    N(CKR_NEXT_OTP) N(CKR_EXCEEDED_MAX_ITERATIONS) N(CKR_FIPS_SELF_TEST_FAILED) N(CKR_LIBRARY_LOAD_FAILED)
    N(CKR_PIN_TOO_WEAK) N(CKR_PUBLIC_KEY_INVALID) N(CKR_FUNCTION_REJECTED) N(CKR_TOKEN_RESOURCE_EXCEEDED)
    N(CKR_OPERATION_CANCEL_FAILED) N(CKR_KEY_EXHAUSTED) N(CKR_PENDING) N(CKR_SESSION_ASYNC_NOT_SUPPORTED)
    N(CKR_SEED_RANDOM_REQUIRED) N(CKR_OPERATION_NOT_VALIDATED) N(CKR_TOKEN_NOT_INITIALIZED)
    N(CKR_PARAMETER_SET_NOT_SUPPORTED) N(CKR_VENDOR_DEFINED)
    {NULL, 0}};

/* CK_TOKEN_INFO flags, for `tokenflags`. */
static const named ckf_token_names[] = {
    N(CKF_RNG) N(CKF_WRITE_PROTECTED) N(CKF_LOGIN_REQUIRED) N(CKF_USER_PIN_INITIALIZED)
    N(CKF_RESTORE_KEY_NOT_NEEDED) N(CKF_CLOCK_ON_TOKEN) N(CKF_PROTECTED_AUTHENTICATION_PATH)
    N(CKF_DUAL_CRYPTO_OPERATIONS) N(CKF_TOKEN_INITIALIZED) N(CKF_SECONDARY_AUTHENTICATION)
    N(CKF_USER_PIN_COUNT_LOW) N(CKF_USER_PIN_FINAL_TRY) N(CKF_USER_PIN_LOCKED) N(CKF_USER_PIN_TO_BE_CHANGED)
    N(CKF_SO_PIN_COUNT_LOW) N(CKF_SO_PIN_FINAL_TRY) N(CKF_SO_PIN_LOCKED) N(CKF_SO_PIN_TO_BE_CHANGED)
    N(CKF_ERROR_STATE) N(CKF_SEED_RANDOM_REQUIRED) N(CKF_ASYNC_SESSION_SUPPORTED)
    {NULL, 0}};
#undef N

int shim_fn_index(const char *name) {
  int i;
  for (i = 0; i < FN_COUNT; i++) {
    if (strcmp(fn_names[i], name) == 0 || strcmp(fn_names[i] + 2, name) == 0) return i;
  }
  return -1;
}

const char *shim_fn_name(int fn) { return fn >= 0 && fn < FN_COUNT ? fn_names[fn] : "?"; }

int shim_is_removed(const shim_rules *r, CK_SLOT_ID slot) {
  int i;
  for (i = 0; i < r->nremoved; i++)
    if (r->removed[i] == slot) return 1;
  return 0;
}

int shim_is_broken(const shim_rules *r, CK_SLOT_ID slot) {
  int i;
  for (i = 0; i < r->nbroken; i++)
    if (r->broken[i] == slot) return 1;
  return 0;
}

/* A number: decimal or 0x hex, the whole token, at CK_ULONG width. */
static int parse_ulong(const char *s, CK_ULONG *out) {
  char *end = NULL;
  unsigned long v;
  if (!s || !*s || *s == '-') return 0;
  errno = 0;
  v = strtoul(s, &end, 0);
  if (errno || !end || *end) return 0;
  *out = (CK_ULONG)v;
  return 1;
}

/* A name from a table (with or without its prefix, e.g. "CKR_PIN_LOCKED" or "PIN_LOCKED"), or a number. */
static int parse_named(const char *s, const named *table, const char *prefix, CK_ULONG *out) {
  size_t plen = strlen(prefix);
  const named *n;
  if (parse_ulong(s, out)) return 1;
  for (n = table; n->name; n++) {
    if (strcmp(n->name, s) == 0 || (strncmp(n->name, prefix, plen) == 0 && strcmp(n->name + plen, s) == 0)) {
      *out = n->value;
      return 1;
    }
  }
  return 0;
}

static int parse_user(const char *s) {
  if (!s) return -1;
  if (strcmp(s, "user") == 0 || strcmp(s, "CKU_USER") == 0) return (int)CKU_USER;
  if (strcmp(s, "so") == 0 || strcmp(s, "CKU_SO") == 0) return (int)CKU_SO;
  return -1;
}

#define MAX_TOKENS 32

/* One line, already split into tokens; returns NULL or an error text. */
static const char *parse_line(char **tok, int n, shim_rules *r) {
  const char *op = tok[0];
  CK_ULONG v;
  int fn = n > 1 ? shim_fn_index(tok[1]) : -1;
  int i;

  if (strcmp(op, "rv") == 0) {
    shim_rv_rule *rule;
    if (n < 3 || fn < 0) return "expected: rv <C_Function> <CKR_NAME|number> [skip N] [times N]";
    if (r->nrv >= SHIM_MAX_RV) return "too many rv rules";
    rule = &r->rv[r->nrv];
    memset(rule, 0, sizeof(*rule));
    rule->fn = fn;
    if (!parse_named(tok[2], ckr_names, "CKR_", &rule->rv)) return "unknown return value";
    for (i = 3; i + 1 < n; i += 2) {
      if (!parse_ulong(tok[i + 1], &v)) return "expected a number after skip/times";
      if (strcmp(tok[i], "skip") == 0) rule->skip = v;
      else if (strcmp(tok[i], "times") == 0 && v > 0) rule->times = v;
      else return "expected skip N or times N (N >= 1)";
    }
    if (i != n) return "expected a number after skip/times";
    r->nrv++;
    return NULL;
  }
  if (strcmp(op, "delay") == 0) {
    if (n != 3 || fn < 0 || !parse_ulong(tok[2], &v)) return "expected: delay <C_Function> <ms>";
    r->delay_ms[fn] = v;
    return NULL;
  }
  if (strcmp(op, "lie") == 0 || strcmp(op, "lie-query") == 0) {
    if (n != 3 || fn < 0 || !parse_ulong(tok[2], &v)) return "expected: lie|lie-query <C_Function> <number>";
    if (op[3] == '-') {
      r->lie_query[fn] = 1;
      r->lie_query_len[fn] = v;
    } else {
      r->lie[fn] = 1;
      r->lie_extra[fn] = v;
    }
    return NULL;
  }
  if (strcmp(op, "missing") == 0) {
    if (n < 2) return "expected: missing <C_Function>...";
    for (i = 1; i < n; i++) {
      fn = shim_fn_index(tok[i]);
      if (fn < 0 || fn == FN_C_GetFunctionList) return "unknown or unremovable function";
      r->missing[fn] = 1;
    }
    return NULL;
  }
  if (strcmp(op, "nolocking") == 0 && n == 1) {
    r->nolocking = 1;
    return NULL;
  }
  if (strcmp(op, "noevents") == 0 && n == 1) {
    r->noevents = 1;
    return NULL;
  }
  if (strcmp(op, "events") == 0) {
    if (n != 2 || strcmp(tok[1], "dontblock-only") != 0) return "expected: events dontblock-only";
    r->dontblock_only = 1;
    return NULL;
  }
  if (strcmp(op, "removed") == 0) {
    if (n < 2) return "expected: removed <slotID>...";
    for (i = 1; i < n; i++) {
      if (!parse_ulong(tok[i], &v)) return "expected a slot ID";
      if (shim_is_removed(r, v)) continue;
      if (r->nremoved >= SHIM_MAX_SLOTS) return "too many removed slots";
      r->removed[r->nremoved++] = v;
    }
    return NULL;
  }
  if (strcmp(op, "device-error") == 0) {
    if (n < 2) return "expected: device-error <slotID>...";
    for (i = 1; i < n; i++) {
      if (!parse_ulong(tok[i], &v)) return "expected a slot ID";
      if (shim_is_broken(r, v)) continue;
      if (r->nbroken >= SHIM_MAX_SLOTS) return "too many broken slots";
      r->broken[r->nbroken++] = v;
    }
    return NULL;
  }
  if (strcmp(op, "hang") == 0) {
    if (n < 2) return "expected: hang <C_Function>...";
    for (i = 1; i < n; i++) {
      fn = shim_fn_index(tok[i]);
      /* C_Finalize and C_Initialize are what ends other rules; hanging them would hang teardown. */
      if (fn < 0 || fn == FN_C_GetFunctionList || fn == FN_C_Finalize || fn == FN_C_Initialize)
        return "unknown function, or one that cannot hang";
      r->hang[fn] = 1;
    }
    return NULL;
  }
  if (strcmp(op, "logout") == 0) {
    if (n == 3 && strcmp(tok[1], "skip") == 0 && parse_ulong(tok[2], &v)) r->logout_skip = v;
    else if (n != 1) return "expected: logout [skip N]";
    r->logout_set = 1;
    return NULL;
  }
  if (strcmp(op, "storm") == 0) {
    if (n < 2 || !parse_named(tok[1], ckr_names, "CKR_", &r->storm_rv)) return "expected: storm <CKR_NAME|number> [skip N] [times N] [ms N]";
    for (i = 2; i + 1 < n; i += 2) {
      if (!parse_ulong(tok[i + 1], &v)) return "expected a number after skip/times/ms";
      if (strcmp(tok[i], "skip") == 0) r->storm_skip = v;
      else if (strcmp(tok[i], "times") == 0 && v > 0) r->storm_times = v;
      else if (strcmp(tok[i], "ms") == 0 && v > 0) r->storm_ms = v;
      else return "expected skip N, times N or ms N (N >= 1)";
    }
    if (i != n) return "expected a number after skip/times/ms";
    r->storm_set = 1;
    return NULL;
  }
  if (strcmp(op, "tokenflags") == 0) {
    if (n < 2) return "expected: tokenflags +NAME|-NAME...";
    for (i = 1; i < n; i++) {
      if ((tok[i][0] != '+' && tok[i][0] != '-') || !parse_named(tok[i] + 1, ckf_token_names, "CKF_", &v))
        return "expected +CKF_NAME or -CKF_NAME (or a number)";
      if (tok[i][0] == '+') {
        r->tokenflags_add |= v;
        r->tokenflags_del &= ~v;
      } else {
        r->tokenflags_del |= v;
        r->tokenflags_add &= ~v;
      }
    }
    return NULL;
  }
  if (strcmp(op, "protected-pin") == 0) {
    int u = parse_user(n > 1 ? tok[1] : NULL);
    if (n != 3 || u < 0) return "expected: protected-pin <user|so> <pin>";
    if (strlen(tok[2]) >= SHIM_MAX_PIN) return "PIN too long";
    r->ppin_set[u] = 1;
    strcpy(r->ppin[u], tok[2]);
    return NULL;
  }
  if (strcmp(op, "lockout") == 0) {
    int u = parse_user(n > 1 ? tok[1] : NULL);
    if (n != 3 || u < 0 || !parse_ulong(tok[2], &v) || v == 0) return "expected: lockout <user|so> <N >= 1>";
    r->lockout[u] = v;
    return NULL;
  }
  return "unknown rule";
}

void shim_parse_rules(const char *text, shim_rules *out, const char *origin) {
  const char *p = text;
  int lineno = 0;
  memset(out, 0, sizeof(*out));
  while (p && *p) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    char line[1024];
    char *tok[MAX_TOKENS];
    int n = 0;
    char *s, *hash;
    lineno++;
    if (len >= sizeof(line)) len = sizeof(line) - 1;
    memcpy(line, p, len);
    line[len] = 0;
    p = eol ? eol + 1 : NULL;
    hash = strchr(line, '#');
    if (hash) *hash = 0;
    s = line;
    while (*s && n < MAX_TOKENS) {
      while (*s && isspace((unsigned char)*s)) s++;
      if (!*s) break;
      tok[n++] = s;
      while (*s && !isspace((unsigned char)*s)) s++;
      if (*s) *s++ = 0;
    }
    if (n > 0) {
      const char *err = parse_line(tok, n, out);
      if (err) fprintf(stderr, "p11shim: %s:%d: %s (line ignored)\n", origin, lineno, err);
    }
  }
}

/* ---------------------------------------------------------------- configuration */

char *shim_read_file(const char *path, size_t max) {
  FILE *f = fopen(path, "rb");
  char *buf;
  size_t n;
  if (!f) return NULL;
  buf = malloc(max + 1);
  if (!buf) {
    fclose(f);
    return NULL;
  }
  n = fread(buf, 1, max, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

int shim_find_config(const void *self, char *target, size_t tcap, char *rules, size_t rcap) {
  Dl_info info;
  char dir[4096] = {0};
  char path[4200];
  char *slash, *text = NULL;
  target[0] = rules[0] = 0;
  if (dladdr(self, &info) && info.dli_fname && strlen(info.dli_fname) < sizeof(dir)) {
    strcpy(dir, info.dli_fname);
    slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else strcpy(dir, ".");
    snprintf(path, sizeof(path), "%s/p11shim.target", dir);
    text = shim_read_file(path, 4095);
  }
  if (text) {
    text[strcspn(text, "\r\n")] = 0;
    if (strlen(text) < tcap) strcpy(target, text);
    free(text);
    snprintf(rules, rcap, "%s/p11shim.rules", dir);
  } else {
    const char *m = getenv("P11SHIM_MODULE"), *r = getenv("P11SHIM_RULES");
    if (m && strlen(m) < tcap) strcpy(target, m);
    if (r && strlen(r) < rcap) strcpy(rules, r);
  }
  if (!target[0]) {
    fprintf(stderr, "p11shim: no real module: write %s/p11shim.target or set P11SHIM_MODULE\n", dir);
    return 0;
  }
  return 1;
}

/* ---------------------------------------------------------------- session -> slot table */

typedef struct {
  CK_SESSION_HANDLE h;
  CK_SLOT_ID slot;
} sess_entry;
static sess_entry *g_sess;
static size_t g_nsess, g_capsess;

void shim_sess_add(CK_SESSION_HANDLE h, CK_SLOT_ID slot) {
  size_t i;
  for (i = 0; i < g_nsess; i++) {
    if (g_sess[i].h == h) {
      g_sess[i].slot = slot;
      return;
    }
  }
  if (g_nsess == g_capsess) {
    size_t cap = g_capsess ? g_capsess * 2 : 64;
    sess_entry *p = realloc(g_sess, cap * sizeof(sess_entry));
    if (!p) return;
    g_sess = p;
    g_capsess = cap;
  }
  g_sess[g_nsess].h = h;
  g_sess[g_nsess].slot = slot;
  g_nsess++;
}

int shim_sess_slot(CK_SESSION_HANDLE h, CK_SLOT_ID *slot) {
  size_t i;
  for (i = 0; i < g_nsess; i++) {
    if (g_sess[i].h == h) {
      *slot = g_sess[i].slot;
      return 1;
    }
  }
  return 0;
}

void shim_sess_del(CK_SESSION_HANDLE h) {
  size_t i;
  for (i = 0; i < g_nsess; i++) {
    if (g_sess[i].h == h) {
      g_sess[i] = g_sess[--g_nsess];
      return;
    }
  }
}

void shim_sess_del_slot(CK_SLOT_ID slot) {
  size_t i = 0;
  while (i < g_nsess) {
    if (g_sess[i].slot == slot) g_sess[i] = g_sess[--g_nsess];
    else i++;
  }
}

void shim_sess_clear(int release) {
  g_nsess = 0;
  if (release) {
    free(g_sess);
    g_sess = NULL;
    g_capsess = 0;
  }
}

/* ---------------------------------------------------------------- rule helpers */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The storm rule: 1 with *out set when this call is one of the storm's. */
int shim_storm_fires(shim_rules *r, int fn, CK_RV *out) {
  unsigned long n;
  double t;
  if (!r->storm_set || r->storm_over || fn == FN_C_Initialize || fn == FN_C_Finalize) return 0;
  n = r->storm_calls++;
  if (n < r->storm_skip) return 0;
  t = now_ms();
  if (r->storm_start == 0) r->storm_start = t;
  if ((r->storm_ms && t - r->storm_start >= (double)r->storm_ms) || (r->storm_times && n - r->storm_skip >= r->storm_times)) {
    r->storm_over = 1;
    return 0;
  }
  *out = r->storm_rv;
  return 1;
}

/* Calls a logged-out token still answers: the ones that get a login back or end a session, and
 * those that continue or end an operation begun before (they reach the real module, logged out
 * too), so that no operation is left active in the real module behind the shim's back. */
int shim_login_free(int fn) {
  switch (fn) {
    case FN_C_Login: case FN_C_Logout: case FN_C_CloseSession: case FN_C_GetSessionInfo:
    case FN_C_FindObjects: case FN_C_FindObjectsFinal:
    case FN_C_Encrypt: case FN_C_EncryptUpdate: case FN_C_EncryptFinal:
    case FN_C_Decrypt: case FN_C_DecryptUpdate: case FN_C_DecryptFinal:
    case FN_C_Digest: case FN_C_DigestUpdate: case FN_C_DigestKey: case FN_C_DigestFinal:
    case FN_C_Sign: case FN_C_SignUpdate: case FN_C_SignFinal: case FN_C_SignRecover:
    case FN_C_Verify: case FN_C_VerifyUpdate: case FN_C_VerifyFinal: case FN_C_VerifyRecover:
    case FN_C_DigestEncryptUpdate: case FN_C_DecryptDigestUpdate:
    case FN_C_SignEncryptUpdate: case FN_C_DecryptVerifyUpdate:
    case FN_C_GetFunctionStatus: case FN_C_CancelFunction:
      return 1;
    default:
      return 0;
  }
}
