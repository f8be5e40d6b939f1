/*
 * bench/raw/cloop-node.c - the C loop of cloop.c, run inside a Node process.
 *
 * A plain N-API addon (no node-addon-api, no p11bridge code) whose one export, run(args), calls
 * cloop's main with `args` as argv on the JS thread; the JSON lines go to the process's stdout.
 * With CLOOP_DEEPBIND=1 the module is opened as the p11bridge addon opens it. What it separates:
 * the same C loop standalone and inside Node differ only in the process around it; the loop inside
 * Node and p11bridge's sync sign differ only in the binding. Built by bench/raw/run.js with
 *
 *   cc -O2 -shared -fPIC -DCLOOP_NO_MAIN -o <tmp>/cloop-node.node bench/raw/cloop-node.c \
 *      -I src-native/pkcs11 -I <node headers> -ldl -lpthread
 */
#include <node_api.h>

#include "cloop.c"

static napi_value run(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arr;
  if (napi_get_cb_info(env, info, &argc, &arr, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "run(args: string[])");
    return NULL;
  }
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok || n > 30) {
    napi_throw_type_error(env, NULL, "args must be an array of at most 30 strings");
    return NULL;
  }
  char buf[31][512];
  char *argv[32];
  strcpy(buf[0], "cloop-node");
  argv[0] = buf[0];
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len = 0;
    if (napi_get_element(env, arr, i, &v) != napi_ok ||
        napi_get_value_string_utf8(env, v, buf[i + 1], sizeof buf[i + 1], &len) != napi_ok) {
      napi_throw_type_error(env, NULL, "args must be strings");
      return NULL;
    }
    argv[i + 1] = buf[i + 1];
  }
  argv[n + 1] = NULL;
  int rc = cloop_main((int)n + 1, argv);
  fflush(stdout);
  napi_value out;
  if (napi_create_int32(env, rc, &out) != napi_ok) return NULL;
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "run", NAPI_AUTO_LENGTH, run, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "run", fn) != napi_ok) return NULL;
  return exports;
}
