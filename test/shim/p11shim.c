/*
 * p11shim - the project's one allowed fake: a PKCS#11 2.40 module that forwards every call to a
 * real module (SoftHSM in the tests) and injects faults described by a rules file.
 *
 * Configuration, looked up once when C_GetFunctionList is first called:
 *  - sidecar mode (preferred, no environment needed): when the file `p11shim.target` exists next to
 *    this .so (found with dladdr), its first line is the real module's path and the rules are read
 *    from `p11shim.rules` in the same directory;
 *  - otherwise env mode: P11SHIM_MODULE = real module path, P11SHIM_RULES = rules file (optional).
 * The rules file is re-read whenever its inode, size, mtime or ctime change (one stat per call).
 *
 * The rules (one per line) are described in p11shim.h. This file holds the shim's state, the hooks
 * every wrapper runs and the wrappers with logic of their own; the plain wrappers (hook, forward,
 * hook) are in p11shim_wrap.c, configuration and rule parsing in p11shim_support.c.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "p11shim.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;

static void *g_handle;          /* the real module */
CK_FUNCTION_LIST_PTR shim_real; /* its function list (p11shim.h: CALL) */
static char g_rules_path[4096];
static shim_rules g_rules, g_next;
static int g_rules_read;
static struct stat g_stamp;
static int g_stamp_exists;
static int g_inited, g_owner, g_waiters;
static unsigned long g_generation; /* bumped by C_Initialize / C_Finalize: ends blocking waits */
static CK_FUNCTION_LIST g_list;

typedef struct {
  CK_SLOT_ID id;
  int removed;
  int event;
  unsigned long fails[2]; /* consecutive CKR_PIN_INCORRECT per user type (lockout rule) */
  int broken;             /* a device-error rule names it */
  int loggedout;          /* the logout rule fired on it and no C_Login succeeded since */
} slot_state;
static slot_state g_slots[SHIM_MAX_SLOTS];
static int g_nslots;

/* ---------------------------------------------------------------- state (callers hold g_mu) */

static slot_state *slot_get(CK_SLOT_ID id, int create) {
  int i;
  for (i = 0; i < g_nslots; i++)
    if (g_slots[i].id == id) return &g_slots[i];
  if (!create || g_nslots >= SHIM_MAX_SLOTS) return NULL;
  memset(&g_slots[g_nslots], 0, sizeof(slot_state));
  g_slots[g_nslots].id = id;
  return &g_slots[g_nslots++];
}

static int same_stamp(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Re-reads the rules when the file changed; records slot events and re-inserts tokens. */
static void reload_rules(void) {
  struct stat st;
  int exists = g_rules_path[0] && stat(g_rules_path, &st) == 0;
  int first = !g_rules_read, i;
  if (!first && exists == g_stamp_exists && (!exists || same_stamp(&st, &g_stamp))) return;
  g_stamp_exists = exists;
  if (exists) g_stamp = st;
  memset(&g_next, 0, sizeof(g_next));
  if (exists) {
    char *text = shim_read_file(g_rules_path, 256 * 1024);
    if (text) {
      shim_parse_rules(text, &g_next, g_rules_path);
      free(text);
    }
  }
  for (i = 0; i < g_next.nremoved; i++) slot_get(g_next.removed[i], 1);
  for (i = 0; i < g_next.nbroken; i++) slot_get(g_next.broken[i], 1);
  for (i = 0; i < g_nslots; i++) {
    slot_state *s = &g_slots[i];
    int now = shim_is_broken(&g_next, s->id);
    s->loggedout = 0; /* the logout rule's own state starts afresh with the rules */
    if (now != s->broken) {
      s->broken = now;
      if (!now && g_inited) {
        /* Repaired: the device lost the sessions it had. */
        CALL(C_CloseAllSessions, (s->id));
        shim_sess_del_slot(s->id);
      }
    }
    now = shim_is_removed(&g_next, s->id);
    if (now == s->removed) continue;
    s->removed = now;
    if (!first) s->event = 1;
    if (!now && g_inited) {
      /* Re-inserted: the sessions of the old insertion are gone. */
      CALL(C_CloseAllSessions, (s->id));
      shim_sess_del_slot(s->id);
    }
  }
  g_rules = g_next;
  g_rules_read = 1;
  pthread_cond_broadcast(&g_cv);
}

/* Reads the configuration and loads the real module, once. */
static CK_RV load_real(void) {
  char target[4096];
  CK_C_GetFunctionList get = NULL;
  CK_RV rv;
  int flags = RTLD_NOW | RTLD_LOCAL;
  if (shim_real) return CKR_OK;
  if (!shim_find_config((void *)&g_mu, target, sizeof(target), g_rules_path, sizeof(g_rules_path)))
    return CKR_GENERAL_ERROR;
#if defined(__linux__) && defined(RTLD_DEEPBIND) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  /* Like the addon: keep the real module's libcrypto apart from the one Node exports. */
  flags |= RTLD_DEEPBIND;
#endif
  g_handle = dlopen(target, flags);
  if (!g_handle) {
    fprintf(stderr, "p11shim: cannot load %s: %s\n", target, dlerror());
    return CKR_GENERAL_ERROR;
  }
  *(void **)(&get) = dlsym(g_handle, "C_GetFunctionList");
  rv = get ? get(&shim_real) : CKR_GENERAL_ERROR;
  if (rv != CKR_OK || !shim_real) {
    fprintf(stderr, "p11shim: C_GetFunctionList of %s failed (0x%lx)\n", target, rv);
    shim_real = NULL;
    dlclose(g_handle);
    g_handle = NULL;
    return rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
  }
  return CKR_OK;
}

__attribute__((destructor)) static void shim_unload(void) {
  if (g_handle) dlclose(g_handle);
  g_handle = NULL;
  shim_real = NULL;
  shim_sess_clear(1);
}

/* The first matching rv rule that fires for this call; every rule on fn counts the call. */
static int rv_rule_fires(int fn, CK_RV *out) {
  int i, hit = 0;
  for (i = 0; i < g_rules.nrv; i++) {
    shim_rv_rule *r = &g_rules.rv[i];
    unsigned long n;
    if (r->fn != fn) continue;
    n = r->calls++;
    if (!hit && n >= r->skip && (r->times == 0 || n - r->skip < r->times)) {
      hit = 1;
      *out = r->rv;
    }
  }
  return hit;
}

/* The logout rule on a session call: fires once after logout_skip calls, then the token's sessions
 * answer CKR_USER_NOT_LOGGED_IN until a C_Login. The real module is logged out too, so what it
 * reports (C_GetSessionInfo's state, private objects) matches. */
static int logout_fires(int fn, CK_SESSION_HANDLE h, CK_RV *out) {
  CK_SLOT_ID slot;
  slot_state *s;
  if (shim_login_free(fn) || !shim_sess_slot(h, &slot) || !(s = slot_get(slot, 1))) return 0;
  if (!s->loggedout && g_rules.logout_set && g_rules.logout_calls++ >= g_rules.logout_skip) {
    g_rules.logout_set = 0;
    s->loggedout = 1;
    CALL(C_Logout, (h));
  }
  if (!s->loggedout) return 0;
  *out = CKR_USER_NOT_LOGGED_IN;
  return 1;
}

static void sleep_ms(unsigned long ms) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ms / 1000);
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---------------------------------------------------------------- hooks */

/* Before every call (p11shim.h): rules reload, missing, rv, removed token; then the delay
 * (outside the lock). */
int shim_pre(int fn, int kind, CK_ULONG id, CK_RV *out) {
  unsigned long ms;
  int hit = 0;
  CK_RV rv = CKR_OK;
  CK_SLOT_ID slot;
  pthread_mutex_lock(&g_mu);
  reload_rules();
  while (g_rules.hang[fn]) {
    /* Polled: the rules file changing is what ends the hang. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 20 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&g_cv, &g_mu, &until);
    reload_rules();
  }
  ms = g_rules.delay_ms[fn];
  if (g_rules.missing[fn]) {
    hit = 1;
    rv = CKR_FUNCTION_NOT_SUPPORTED;
  }
  if (rv_rule_fires(fn, &rv)) hit = 1;
  if (!hit && shim_storm_fires(&g_rules, fn, &rv)) hit = 1;
  if (!hit && kind == K_SLOT && shim_is_broken(&g_rules, id)) {
    hit = 1;
    rv = CKR_DEVICE_ERROR;
  }
  if (!hit && kind == K_SESS && shim_sess_slot(id, &slot) && shim_is_broken(&g_rules, slot)) {
    hit = 1;
    rv = CKR_DEVICE_ERROR;
  }
  if (!hit && kind == K_SLOT && shim_is_removed(&g_rules, id)) {
    hit = 1;
    rv = CKR_TOKEN_NOT_PRESENT;
  }
  if (!hit && kind == K_SESS && shim_sess_slot(id, &slot) && shim_is_removed(&g_rules, slot)) {
    hit = 1;
    rv = CKR_DEVICE_REMOVED;
  }
  if (!hit && kind == K_SESS && logout_fires(fn, id, &rv)) hit = 1;
  pthread_mutex_unlock(&g_mu);
  if (ms) sleep_ms(ms);
  *out = rv;
  return hit;
}

/* After a call returning a length (p11shim.h): the `lie` / `lie-query` rules. */
CK_RV shim_post_len(int fn, CK_RV rv, int has_buf, CK_ULONG cap, CK_ULONG_PTR plen) {
  if (rv != CKR_OK || !plen) return rv;
  pthread_mutex_lock(&g_mu);
  if (has_buf && g_rules.lie[fn]) *plen = cap + g_rules.lie_extra[fn];
  else if (!has_buf && g_rules.lie_query[fn]) *plen = g_rules.lie_query_len[fn];
  pthread_mutex_unlock(&g_mu);
  return rv;
}

/* ---------------------------------------------------------------- wrappers with their own logic */

CK_RV w_C_Initialize(CK_VOID_PTR pInitArgs) {
  CK_C_INITIALIZE_ARGS_PTR a = (CK_C_INITIALIZE_ARGS_PTR)pInitArgs;
  CK_RV rv;
  int i;
  if (shim_pre(FN_C_Initialize, K_NONE, 0, &rv)) return rv;
  pthread_mutex_lock(&g_mu);
  if (g_inited) {
    rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
  } else if (g_rules.nolocking && a && ((a->flags & CKF_OS_LOCKING_OK) || a->CreateMutex)) {
    rv = CKR_CANT_LOCK;
  } else {
    rv = CALL(C_Initialize, (pInitArgs));
    /* Already initialized by someone else in this process (another shim copy): share it. */
    if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      g_owner = rv == CKR_OK;
      g_inited = 1;
      if (g_rules.storm_start != 0) g_rules.storm_over = 1; /* re-initialized: the storm is over */
      g_generation++;
      shim_sess_clear(0);
      for (i = 0; i < g_nslots; i++) g_slots[i].event = 0;
      rv = CKR_OK;
    }
  }
  pthread_mutex_unlock(&g_mu);
  return rv;
}

CK_RV w_C_Finalize(CK_VOID_PTR pReserved) {
  CK_RV rv;
  if (shim_pre(FN_C_Finalize, K_NONE, 0, &rv)) return rv;
  pthread_mutex_lock(&g_mu);
  if (!g_inited) {
    pthread_mutex_unlock(&g_mu);
    return CKR_CRYPTOKI_NOT_INITIALIZED;
  }
  g_inited = 0;
  g_generation++;
  pthread_cond_broadcast(&g_cv);
  while (g_waiters > 0) pthread_cond_wait(&g_cv, &g_mu); /* blocked C_WaitForSlotEvent calls return */
  rv = g_owner ? CALL(C_Finalize, (pReserved)) : CKR_OK;
  g_owner = 0;
  shim_sess_clear(0);
  pthread_mutex_unlock(&g_mu);
  return rv;
}

CK_RV w_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR pcount) {
  CK_RV rv;
  CK_ULONG n = 0, m = 0, i, cap;
  CK_SLOT_ID *tmp = NULL;
  int attempt;
  if (shim_pre(FN_C_GetSlotList, K_NONE, 0, &rv)) return rv;
  if (!pcount) return CKR_ARGUMENTS_BAD;
  cap = list ? *pcount : 0;
  for (attempt = 0; attempt < 4; attempt++) {
    rv = CALL(C_GetSlotList, (present, NULL, &n));
    if (rv != CKR_OK) return rv;
    tmp = malloc((n + 1) * sizeof(CK_SLOT_ID));
    if (!tmp) return CKR_HOST_MEMORY;
    rv = CALL(C_GetSlotList, (present, tmp, &n));
    if (rv != CKR_BUFFER_TOO_SMALL) break;
    free(tmp);
    tmp = NULL;
  }
  if (rv != CKR_OK) {
    free(tmp);
    return rv;
  }
  pthread_mutex_lock(&g_mu);
  for (i = 0; i < n; i++)
    if (!present || !shim_is_removed(&g_rules, tmp[i])) tmp[m++] = tmp[i];
  pthread_mutex_unlock(&g_mu);
  if (list && cap < m) {
    rv = CKR_BUFFER_TOO_SMALL;
  } else if (list) {
    memcpy(list, tmp, m * sizeof(CK_SLOT_ID));
  }
  *pcount = m;
  free(tmp);
  return shim_post_len(FN_C_GetSlotList, rv, list != NULL, cap, pcount);
}

CK_RV w_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR p) {
  CK_RV rv;
  if (shim_pre(FN_C_GetSlotInfo, K_NONE, 0, &rv)) return rv;
  rv = CALL(C_GetSlotInfo, (slot, p));
  if (rv == CKR_OK && p) {
    pthread_mutex_lock(&g_mu);
    if (shim_is_removed(&g_rules, slot)) p->flags &= ~CKF_TOKEN_PRESENT;
    pthread_mutex_unlock(&g_mu);
  }
  return rv;
}

/* Lockout flags of one user type: COUNT_LOW after a failure, FINAL_TRY with one left, LOCKED. */
static CK_FLAGS lockout_flags(CK_FLAGS flags, unsigned long limit, unsigned long fails, CK_FLAGS low,
                              CK_FLAGS final_try, CK_FLAGS locked) {
  if (!limit) return flags;
  flags &= ~(low | final_try | locked);
  if (fails >= limit) flags |= locked;
  else if (fails > 0 && limit - fails == 1) flags |= final_try;
  else if (fails > 0) flags |= low;
  return flags;
}

CK_RV w_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR p) {
  CK_RV rv;
  if (shim_pre(FN_C_GetTokenInfo, K_SLOT, slot, &rv)) return rv;
  rv = CALL(C_GetTokenInfo, (slot, p));
  if (rv == CKR_OK && p) {
    slot_state *s;
    pthread_mutex_lock(&g_mu);
    p->flags = (p->flags | g_rules.tokenflags_add) & ~g_rules.tokenflags_del;
    s = slot_get(slot, 1);
    p->flags = lockout_flags(p->flags, g_rules.lockout[CKU_USER], s ? s->fails[CKU_USER] : 0, CKF_USER_PIN_COUNT_LOW,
                             CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
    p->flags = lockout_flags(p->flags, g_rules.lockout[CKU_SO], s ? s->fails[CKU_SO] : 0, CKF_SO_PIN_COUNT_LOW,
                             CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
    pthread_mutex_unlock(&g_mu);
  }
  return rv;
}

CK_RV w_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                             CK_SESSION_HANDLE_PTR ph) {
  CK_RV rv;
  if (shim_pre(FN_C_OpenSession, K_SLOT, slot, &rv)) return rv;
  rv = CALL(C_OpenSession, (slot, flags, app, notify, ph));
  if (rv == CKR_OK && ph) {
    pthread_mutex_lock(&g_mu);
    shim_sess_add(*ph, slot);
    pthread_mutex_unlock(&g_mu);
  }
  return rv;
}

/* Closing goes through even on a pulled token, so the real session is released. */
CK_RV w_C_CloseSession(CK_SESSION_HANDLE h) {
  CK_RV rv;
  if (shim_pre(FN_C_CloseSession, K_NONE, 0, &rv)) return rv;
  rv = CALL(C_CloseSession, (h));
  pthread_mutex_lock(&g_mu);
  shim_sess_del(h);
  pthread_mutex_unlock(&g_mu);
  return rv;
}

CK_RV w_C_CloseAllSessions(CK_SLOT_ID slot) {
  CK_RV rv;
  if (shim_pre(FN_C_CloseAllSessions, K_NONE, 0, &rv)) return rv;
  rv = CALL(C_CloseAllSessions, (slot));
  pthread_mutex_lock(&g_mu);
  shim_sess_del_slot(slot);
  pthread_mutex_unlock(&g_mu);
  return rv;
}

CK_RV w_C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  CK_RV rv;
  CK_SLOT_ID slot = 0;
  slot_state *s = NULL;
  unsigned long limit = 0;
  char ppin[SHIM_MAX_PIN];
  int use_ppin = 0, u = user == CKU_USER ? (int)CKU_USER : user == CKU_SO ? (int)CKU_SO : -1;
  if (shim_pre(FN_C_Login, K_SESS, h, &rv)) return rv;
  pthread_mutex_lock(&g_mu);
  if (u >= 0) {
    if (shim_sess_slot(h, &slot)) s = slot_get(slot, 1);
    limit = g_rules.lockout[u];
    if (limit && s && s->fails[u] >= limit) {
      pthread_mutex_unlock(&g_mu);
      return CKR_PIN_LOCKED;
    }
    if (!pin && g_rules.ppin_set[u]) {
      strcpy(ppin, g_rules.ppin[u]);
      use_ppin = 1;
    }
  }
  pthread_mutex_unlock(&g_mu);
  if (use_ppin) {
    rv = CALL(C_Login, (h, user, (CK_UTF8CHAR_PTR)ppin, (CK_ULONG)strlen(ppin)));
    memset(ppin, 0, sizeof(ppin));
  } else {
    rv = CALL(C_Login, (h, user, pin, len));
  }
  if (limit && s && (rv == CKR_OK || rv == CKR_PIN_INCORRECT)) {
    pthread_mutex_lock(&g_mu);
    s->fails[u] = rv == CKR_OK ? 0 : s->fails[u] + 1; /* slot entries never move */
    pthread_mutex_unlock(&g_mu);
  }
  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
    CK_SLOT_ID ls;
    slot_state *st;
    pthread_mutex_lock(&g_mu);
    if (shim_sess_slot(h, &ls) && (st = slot_get(ls, 0)) != NULL) st->loggedout = 0;
    pthread_mutex_unlock(&g_mu);
  }
  return rv;
}

CK_RV w_C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
  CK_RV rv;
  CK_ULONG i, *caps = NULL, extra = 0, qlen = 0;
  int lie, lieq;
  if (shim_pre(FN_C_GetAttributeValue, K_SESS, h, &rv)) return rv;
  pthread_mutex_lock(&g_mu);
  lie = g_rules.lie[FN_C_GetAttributeValue];
  extra = g_rules.lie_extra[FN_C_GetAttributeValue];
  lieq = g_rules.lie_query[FN_C_GetAttributeValue];
  qlen = g_rules.lie_query_len[FN_C_GetAttributeValue];
  pthread_mutex_unlock(&g_mu);
  if (lie && t && n) {
    caps = malloc(n * sizeof(CK_ULONG));
    if (!caps) return CKR_HOST_MEMORY;
    for (i = 0; i < n; i++) caps[i] = t[i].ulValueLen;
  }
  rv = CALL(C_GetAttributeValue, (h, o, t, n));
  if (rv == CKR_OK && t && (lie || lieq)) {
    for (i = 0; i < n; i++) {
      if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION) continue;
      if (t[i].pValue && lie) t[i].ulValueLen = caps[i] + extra;
      else if (!t[i].pValue && lieq) t[i].ulValueLen = qlen;
    }
  }
  free(caps);
  return rv;
}

/* The shim's own slot events: changes of the `removed` rules, polled every 20 ms while blocking. */
CK_RV w_C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved) {
  CK_RV rv;
  unsigned long gen;
  int i;
  (void)pReserved;
  if (shim_pre(FN_C_WaitForSlotEvent, K_NONE, 0, &rv)) return rv;
  if (!pSlot) return CKR_ARGUMENTS_BAD;
  pthread_mutex_lock(&g_mu);
  if (!g_inited) {
    pthread_mutex_unlock(&g_mu);
    return CKR_CRYPTOKI_NOT_INITIALIZED;
  }
  gen = g_generation;
  g_waiters++;
  for (;;) {
    struct timespec until;
    if (!g_inited || g_generation != gen) {
      rv = CKR_CRYPTOKI_NOT_INITIALIZED;
      break;
    }
    reload_rules();
    if (g_rules.noevents) {
      rv = CKR_FUNCTION_NOT_SUPPORTED;
      break;
    }
    for (i = 0; i < g_nslots && !g_slots[i].event; i++) {
    }
    if (i < g_nslots) {
      g_slots[i].event = 0;
      *pSlot = g_slots[i].id;
      rv = CKR_OK;
      break;
    }
    if (flags & CKF_DONT_BLOCK) {
      rv = CKR_NO_EVENT;
      break;
    }
    if (g_rules.dontblock_only) {
      rv = CKR_FUNCTION_NOT_SUPPORTED;
      break;
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 20 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&g_cv, &g_mu, &until);
  }
  g_waiters--;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  return rv;
}

/* ---------------------------------------------------------------- the only export */

SHIM_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList) {
  CK_RV rv;
  if (!ppFunctionList) return CKR_ARGUMENTS_BAD;
  pthread_mutex_lock(&g_mu);
  rv = load_real();
  if (rv == CKR_OK) {
    reload_rules();
    if (!rv_rule_fires(FN_C_GetFunctionList, &rv)) rv = CKR_OK;
  }
  if (rv == CKR_OK) {
    g_list.version.major = 2;
    g_list.version.minor = 40;
#define P11SHIM_X(name) g_list.name = shim_real->name && !g_rules.missing[FN_##name] ? w_##name : NULL;
#define w_C_GetFunctionList C_GetFunctionList
    P11_FUNCTIONS_2_40(P11SHIM_X)
#undef w_C_GetFunctionList
#undef P11SHIM_X
    *ppFunctionList = &g_list;
  }
  pthread_mutex_unlock(&g_mu);
  return rv;
}
