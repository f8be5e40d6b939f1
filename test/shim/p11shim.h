/*
 * p11shim - a PKCS#11 2.40 module for tests that wraps a real module (SoftHSM) and injects
 * faults described by a rules file. Shared declarations of p11shim.c (state, hooks, wrappers with
 * logic of their own, the function list), p11shim_wrap.c (the plain wrappers) and
 * p11shim_support.c (configuration, rules parser, session table, rule helpers).
 *
 * Rules, one per line, '#' starts a comment; numbers are decimal or 0x hex; function names may drop
 * the "C_" prefix, CKR and CKF names their prefix:
 *   rv <C_Function> <CKR_NAME|number> [skip N] [times N]  answer rv instead of calling the module,
 *                                       after letting N calls through, for N calls (default forever)
 *   delay <C_Function> <ms>             sleep before the call
 *   lie <C_Function> <extra>            after a successful call with an output buffer, report
 *                                       (buffer size + extra) as the output length
 *   lie-query <C_Function> <len>        after a successful length query (NULL buffer), report len
 *   missing <C_Function>...             NULL in the function list (read at C_GetFunctionList) and
 *                                       CKR_FUNCTION_NOT_SUPPORTED when reached anyway
 *   nolocking                           C_Initialize with CKF_OS_LOCKING_OK or mutex callbacks ->
 *                                       CKR_CANT_LOCK
 *   removed <slotID>...                 token pulled: no CKF_TOKEN_PRESENT, left out of
 *                                       C_GetSlotList(TRUE), CKR_TOKEN_NOT_PRESENT on slot calls,
 *                                       CKR_DEVICE_REMOVED on its sessions; when the rule goes away the
 *                                       real C_CloseAllSessions(slot) runs (old handles die)
 *   noevents                            C_WaitForSlotEvent -> CKR_FUNCTION_NOT_SUPPORTED
 *   events dontblock-only               only the CKF_DONT_BLOCK form of C_WaitForSlotEvent works
 *   tokenflags +NAME|-NAME...           add / remove CK_TOKEN_INFO flags
 *   protected-pin <user|so> <pin>       C_Login with a NULL PIN logs in with this PIN (a PIN pad)
 *   lockout <user|so> <N>               after N consecutive CKR_PIN_INCORRECT, CKR_PIN_LOCKED and
 *                                       CKF_*_PIN_LOCKED (COUNT_LOW / FINAL_TRY on the way)
 *   logout [skip N]                     a silent logout (an HSM dropping an idle login): after N
 *                                       session calls the next one logs the token out in the real
 *                                       module (C_Logout) and answers CKR_USER_NOT_LOGGED_IN, as do
 *                                       later calls on the token's sessions until a C_Login
 *                                       succeeds; once per (re)load of the rules. Not counted nor
 *                                       refused: C_Login, C_Logout, C_CloseSession, C_GetSessionInfo
 *                                       and the calls that continue or end an operation (C_Sign,
 *                                       C_FindObjects, *Update, *Final…), which reach the real,
 *                                       logged-out module
 *   storm <CKR_NAME|number> [skip N] [times N] [ms N]
 *                                       after N calls, every call (but C_Initialize / C_Finalize)
 *                                       answers the code: for N calls, for N ms from the first
 *                                       stormy answer, or (neither given) until C_Finalize and a
 *                                       C_Initialize that succeeds (a module needing re-initialization)
 *   device-error <slotID>...            CKR_DEVICE_ERROR on the slot's calls and its sessions' while
 *                                       the token stays present; when the rule goes away the real
 *                                       C_CloseAllSessions(slot) runs (the device lost its sessions)
 *   hang <C_Function>...                the call blocks (a network HSM that stopped answering) until
 *                                       the rule goes away, then reaches the module
 * C_WaitForSlotEvent is the shim's own: an event is recorded whenever a slot's removed state changes.
 */
#ifndef P11SHIM_H
#define P11SHIM_H

#include "pkcs11.h"

/* FN_C_Initialize ... FN_C_WaitForSlotEvent: index of each function of the 2.40 list. */
enum {
#define P11SHIM_X(name) FN_##name,
  P11_FUNCTIONS_2_40(P11SHIM_X)
#undef P11SHIM_X
  FN_COUNT
};

#define SHIM_MAX_RV 64
#define SHIM_MAX_SLOTS 64
#define SHIM_MAX_PIN 128

typedef struct {
  int fn;
  CK_RV rv;
  unsigned long skip;  /* calls let through first */
  unsigned long times; /* calls answered with rv after the skipped ones; 0 = forever */
  unsigned long calls; /* calls seen since the rules were (re)loaded */
} shim_rv_rule;

typedef struct {
  shim_rv_rule rv[SHIM_MAX_RV];
  int nrv;
  unsigned long delay_ms[FN_COUNT];
  unsigned char missing[FN_COUNT];
  unsigned char lie[FN_COUNT];       /* report (buffer size + lie_extra) after a call with a buffer */
  CK_ULONG lie_extra[FN_COUNT];
  unsigned char lie_query[FN_COUNT]; /* report lie_query_len after a length query (NULL buffer) */
  CK_ULONG lie_query_len[FN_COUNT];
  int nolocking;
  int noevents;
  int dontblock_only;
  CK_SLOT_ID removed[SHIM_MAX_SLOTS];
  int nremoved;
  CK_FLAGS tokenflags_add;
  CK_FLAGS tokenflags_del;
  int ppin_set[2]; /* index: CKU_SO (0), CKU_USER (1) */
  char ppin[2][SHIM_MAX_PIN];
  unsigned long lockout[2]; /* wrong logins before the PIN locks; 0 = never */
  CK_SLOT_ID broken[SHIM_MAX_SLOTS]; /* device-error: the token answers CKR_DEVICE_ERROR */
  int nbroken;
  unsigned char hang[FN_COUNT]; /* the call blocks until the rule goes away */
  int logout_set;               /* logout: a silent logout after logout_skip session calls */
  unsigned long logout_skip;
  unsigned long logout_calls;
  int storm_set; /* storm: every call answers storm_rv, for a while or until C_Initialize */
  CK_RV storm_rv;
  unsigned long storm_skip, storm_times, storm_ms;
  unsigned long storm_calls;
  double storm_start;  /* monotonic ms of the first stormy answer; 0 = not started */
  int storm_over;      /* ended by C_Initialize (after a C_Finalize) */
} shim_rules;

/* p11shim_support.c; callers of the shim_sess_* functions hold the shim's mutex. */
#include <stddef.h>
char *shim_read_file(const char *path, size_t max); /* NUL-terminated, malloc'd; NULL if unreadable */
/* Sidecar files next to the .so containing `self`, else P11SHIM_MODULE / P11SHIM_RULES. 0: no target. */
int shim_find_config(const void *self, char *target, size_t tcap, char *rules, size_t rcap);
void shim_sess_add(CK_SESSION_HANDLE h, CK_SLOT_ID slot);
int shim_sess_slot(CK_SESSION_HANDLE h, CK_SLOT_ID *slot);
void shim_sess_del(CK_SESSION_HANDLE h);
void shim_sess_del_slot(CK_SLOT_ID slot);
void shim_sess_clear(int release); /* release: free the memory too (unload) */
int shim_fn_index(const char *name); /* -1 when unknown; "C_Sign" or "Sign" */
const char *shim_fn_name(int fn);
/* Parses the whole rules text into *out (zeroed first); bad lines are reported on stderr and skipped. */
void shim_parse_rules(const char *text, shim_rules *out, const char *origin);
int shim_is_removed(const shim_rules *r, CK_SLOT_ID slot);
int shim_is_broken(const shim_rules *r, CK_SLOT_ID slot);
/* The storm rule (counts the call): 1 with *out set when this call is one of the storm's. */
int shim_storm_fires(shim_rules *r, int fn, CK_RV *out);
/* Calls the logout rule lets through: login, session end, and the calls continuing an operation. */
int shim_login_free(int fn);

/* p11shim.c: the shim's hooks and the real module, for the wrappers of p11shim_wrap.c. */
enum { K_NONE, K_SLOT, K_SESS }; /* what a call's id is: nothing, a slot, a session */
extern CK_FUNCTION_LIST_PTR shim_real; /* the real module's function list; NULL until loaded */
#define CALL(name, args) (shim_real && shim_real->name ? shim_real->name args : CKR_FUNCTION_NOT_SUPPORTED)
#define CAP(p) ((p) ? *(p) : 0)
/* Before every call: 1 with *out set when the call must not reach the real module. */
int shim_pre(int fn, int kind, CK_ULONG id, CK_RV *out);
/* After a call with an output length; cap: the buffer size the caller offered. */
CK_RV shim_post_len(int fn, CK_RV rv, int has_buf, CK_ULONG cap, CK_ULONG_PTR plen);
/* w_C_Initialize ... : the wrappers (p11shim.c, p11shim_wrap.c), typed as the 2.40 list's members.
 * Hidden like everything but C_GetFunctionList (-fvisibility=hidden). */
#define P11SHIM_X(name) extern __typeof__(*(CK_##name)0) w_##name;
P11_FUNCTIONS_2_40(P11SHIM_X)
#undef P11SHIM_X

#endif /* P11SHIM_H */
