{
  # N-API addon; prebuildify builds it into prebuilds/<platform>-<arch>/, node-gyp-build loads it.
  "variables": {
    "p11_asan%": 0,
    "p11_tsan%": 0,
    # 1 on glibc Linux (not musl): the binary is built for the glibc floor (src-native/platform/glibc_floor.h).
    "p11_glibc%": "<!(node -p \"process.platform === 'linux' && process.report.getReport().header.glibcVersionRuntime ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "p11bridge",
      "sources": [
        "src-native/addon.cc",
        "src-native/loader.cc",
        "src-native/module.cc",
        "src-native/function_table.cc",
        "src-native/errors.cc",
        "src-native/trace.cc",
        "src-native/engine/call_pool.cc",
        "src-native/engine/completions.cc",
        "src-native/marshal/args.cc",
        "src-native/marshal/values.cc",
        "src-native/marshal/template.cc",
        "src-native/marshal/mechanism.cc",
        "src-native/marshal/params.cc",
        "src-native/functions/general.cc",
        "src-native/functions/slot_token.cc",
        "src-native/functions/session.cc",
        "src-native/functions/object.cc",
        "src-native/functions/crypto.cc",
        "src-native/functions/key.cc",
        "src-native/functions/message.cc",
        "src-native/functions/kem_async.cc",
        "src-native/functions/fused.cc",
        "src-native/platform/glibc_floor.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "src-native"
      ],
      # Exceptions are off at the boundary: every napi status is checked by hand.
      # An environment being torn down (a terminated worker) cannot run JS: node-addon-api must
      # drop such an exception instead of aborting the process.
      "defines": [ "NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED",
                   "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS" ],
      "cflags!": [ "-fno-exceptions" ],
      "cflags_cc!": [ "-fno-exceptions", "-std=gnu++1y", "-std=gnu++17" ],
      "cflags_cc": [ "-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers" ],
      "conditions": [
        [ "OS=='linux'", {
          "libraries": [ "-ldl" ],
          "cflags_cc": [ "-fvisibility=hidden" ]
        } ],
        # Linux binaries that load on glibc 2.28 and later (src-native/platform/glibc_floor.cc):
        # libstdc++ linked in with its symbols kept inside (--exclude-libs), and every reference
        # to a glibc symbol newer than the floor sent to a wrapper. Not for the sanitizer builds,
        # whose runtimes must see every allocation and every libc call.
        [ "OS=='linux' and p11_glibc==1 and p11_asan==0 and p11_tsan==0", {
          "ldflags": [
            "-static-libstdc++", "-Wl,--exclude-libs,ALL",
            "-Wl,--no-as-needed", "-l:libpthread.so.0", "-l:libdl.so.2", "-Wl,--as-needed",
            "-Wl,--wrap=dlopen", "-Wl,--wrap=dlsym", "-Wl,--wrap=dlclose", "-Wl,--wrap=dlerror", "-Wl,--wrap=dladdr",
            "-Wl,--wrap=pthread_create", "-Wl,--wrap=pthread_join", "-Wl,--wrap=pthread_detach", "-Wl,--wrap=pthread_once",
            "-Wl,--wrap=pthread_key_create", "-Wl,--wrap=__pthread_key_create", "-Wl,--wrap=pthread_key_delete",
            "-Wl,--wrap=pthread_getspecific", "-Wl,--wrap=pthread_setspecific", "-Wl,--wrap=pthread_setname_np",
            "-Wl,--wrap=pthread_cond_clockwait", "-Wl,--wrap=arc4random"
          ]
        } ],
        [ "OS=='linux' and p11_asan==1", {
          "cflags_cc": [ "-fsanitize=address", "-fno-omit-frame-pointer" ],
          "ldflags": [ "-fsanitize=address" ],
          "defines": [ "P11_ASAN=1" ]
        } ],
        [ "OS=='linux' and p11_tsan==1", {
          "cflags_cc": [ "-fsanitize=thread", "-fno-omit-frame-pointer" ],
          "ldflags": [ "-fsanitize=thread", "-Wl,-Bsymbolic" ],
          "defines": [ "P11_TSAN=1" ]
        } ],
        [ "OS=='mac'", {
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "GCC_SYMBOLS_PRIVATE_EXTERN": "YES"
          }
        } ],
        # Windows with MSVC: a source build through node-gyp (which adds its own delay-load hook
        # for node.exe). The shipped win32-x64 prebuild is cross-built with mingw-w64 by
        # scripts/wine-build.js, which reads this file's sources, defines and these defines.
        [ "OS=='win'", {
          "defines": [ "WIN32_LEAN_AND_MEAN", "NOMINMAX", "UNICODE", "_UNICODE" ],
          "msvs_settings": {
            "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": [ "/std:c++17" ] }
          }
        } ]
      ]
    }
  ]
}
