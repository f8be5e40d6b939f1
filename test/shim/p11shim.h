/*
 * p11shim - a PKCS#11 2.40 module for tests that wraps a real module (SoftHSM) and injects
 * faults described by a rules file. Shared declarations of p11shim.c (wrappers, state) and
 * p11shim_support.c (configuration, rules parser, session table). See p11shim.c for the rule syntax.
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

#endif /* P11SHIM_H */
