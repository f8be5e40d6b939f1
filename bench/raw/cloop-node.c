/*
 * bench/raw/cloop-node.c - the C loop of cloop.c, run inside a Node process.
 *
 * A plain N-API addon (no node-addon-api, no p11bridge code) whose export run(args) calls cloop's
 * main with `args` as argv on the JS thread; the JSON lines go to the process's stdout. capture(args)
 * does the same but returns what the loop printed (stdout is pointed at a temporary file for the
 * call), for bench/raw/interleaved.js, which alternates the loop with p11bridge in one process.
 * With CLOOP_DEEPBIND=1 the module is opened as the p11bridge addon opens it. What it separates:
 * the same C loop standalone and inside Node differ only in the process around it; the loop inside
 * Node and p11bridge's sync sign differ only in the binding. Built by bench/raw/run.js with
 *
 *   cc -O2 -shared -fPIC -DCLOOP_NO_MAIN -o <tmp>/cloop-node.node bench/raw/cloop-node.c \
 *      -I src-native/pkcs11 -I <node headers> -ldl -lpthread
 */
#include <node_api.h>
#include <unistd.h>

#include "cloop.c"

// Reads args (an array of at most 30 strings) into argv; returns the count, or -1 (error thrown).
static int read_args(napi_env env, napi_callback_info info, char buf[31][512], char *argv[32]) {
  size_t argc = 1;
  napi_value arr;
  if (napi_get_cb_info(env, info, &argc, &arr, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "run(args: string[])");
    return -1;
  }
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok || n > 30) {
    napi_throw_type_error(env, NULL, "args must be an array of at most 30 strings");
    return -1;
  }
  strcpy(buf[0], "cloop-node");
  argv[0] = buf[0];
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len = 0;
    if (napi_get_element(env, arr, i, &v) != napi_ok ||
        napi_get_value_string_utf8(env, v, buf[i + 1], sizeof buf[i + 1], &len) != napi_ok) {
      napi_throw_type_error(env, NULL, "args must be strings");
      return -1;
    }
    argv[i + 1] = buf[i + 1];
  }
  argv[n + 1] = NULL;
  return (int)n + 1;
}

static napi_value run(napi_env env, napi_callback_info info) {
  char buf[31][512];
  char *argv[32];
  int argc = read_args(env, info, buf, argv);
  if (argc < 0) return NULL;
  int rc = cloop_main(argc, argv);
  fflush(stdout);
  napi_value out;
  if (napi_create_int32(env, rc, &out) != napi_ok) return NULL;
  return out;
}

static napi_value capture(napi_env env, napi_callback_info info) {
  char buf[31][512];
  char *argv[32];
  int argc = read_args(env, info, buf, argv);
  if (argc < 0) return NULL;
  FILE *tmp = tmpfile();
  fflush(stdout);
  int saved = dup(1);
  if (!tmp || saved < 0 || dup2(fileno(tmp), 1) < 0) {
    napi_throw_error(env, NULL, "capture: cannot redirect stdout");
    return NULL;
  }
  int rc = cloop_main(argc, argv);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  long size = (long)lseek(fileno(tmp), 0, SEEK_END);
  char *text = malloc(size > 0 ? (size_t)size + 1 : 1);
  size_t got = 0;
  if (text && size > 0) {
    rewind(tmp);
    got = fread(text, 1, (size_t)size, tmp);
  }
  fclose(tmp);
  if (!text) {
    napi_throw_error(env, NULL, "capture: out of memory");
    return NULL;
  }
  napi_value out, str, code;
  napi_status st = napi_create_object(env, &out);
  if (st == napi_ok) st = napi_create_string_utf8(env, text, got, &str);
  free(text);
  if (st == napi_ok) st = napi_create_int32(env, rc, &code);
  if (st == napi_ok) st = napi_set_named_property(env, out, "output", str);
  if (st == napi_ok) st = napi_set_named_property(env, out, "rc", code);
  return st == napi_ok ? out : NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "run", NAPI_AUTO_LENGTH, run, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "run", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "capture", NAPI_AUTO_LENGTH, capture, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "capture", fn) != napi_ok) return NULL;
  return exports;
}
