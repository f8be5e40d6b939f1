/*
 * bench/soak/mallinfo.c - glibc malloc statistics for scripts/soak.js (--malloc-stats), as a
 * plain N-API addon with no p11bridge code in it. Built on demand by bench/soak/mallinfo.js with
 *
 *   cc -O2 -shared -fPIC -o <tmp>/soak-mallinfo.node bench/soak/mallinfo.c -I <node include dir>
 *
 * stats()  -> { arena, hblkhd, uordblks, fordblks, keepcost, arenas }: mallinfo2() summed over
 *             every arena (bytes), and the number of arenas (arenas.h, shared with csoak.c:
 *             counted in malloc_info()'s XML, mallinfo2 has no field for it).
 * trim()   -> malloc_trim(0): gives free pages of every arena back. RSS that drops here was
 *             free-but-kept memory (fragmentation, arena tops), not memory in use.
 */
#include <malloc.h>
#include <node_api.h>

#include "arenas.h"

static napi_status set_num(napi_env env, napi_value obj, const char* name, double v) {
  napi_value n;
  napi_status s = napi_create_double(env, v, &n);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, obj, name, n);
}

static napi_value fail(napi_env env, const char* what) {
  napi_throw_error(env, NULL, what);
  return NULL;
}

static napi_value Stats(napi_env env, napi_callback_info info) {
  (void)info;
  struct mallinfo2 m = mallinfo2();
  napi_value o;
  if (napi_create_object(env, &o) != napi_ok) return fail(env, "napi_create_object failed");
  if (set_num(env, o, "arena", (double)m.arena) != napi_ok || set_num(env, o, "hblkhd", (double)m.hblkhd) != napi_ok ||
      set_num(env, o, "uordblks", (double)m.uordblks) != napi_ok ||
      set_num(env, o, "fordblks", (double)m.fordblks) != napi_ok ||
      set_num(env, o, "keepcost", (double)m.keepcost) != napi_ok ||
      set_num(env, o, "arenas", (double)malloc_arena_count()) != napi_ok)
    return fail(env, "setting a property failed");
  return o;
}

static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  if (napi_get_boolean(env, malloc_trim(0) != 0, &r) != napi_ok) return fail(env, "napi_get_boolean failed");
  return r;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"stats", NULL, Stats, NULL, NULL, NULL, napi_default, NULL},
      {"trim", NULL, Trim, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, 2, props) != napi_ok) return fail(env, "napi_define_properties failed");
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
