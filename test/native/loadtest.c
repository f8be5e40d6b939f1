/* loadtest.exe PATH: LoadLibraryExW of PATH with no flags, then with
 * LOAD_WITH_ALTERED_SEARCH_PATH, printing one JSON line {"plain":err,"altered":err} (0: loaded).
 * scripts/wine-test.js runs it on a module whose dependency DLL sits next to it, from another
 * directory: the plain load must fail with 126 (a dependency not found) and the altered one
 * succeed, which shows that the flag in src-native/loader.cc is what makes such modules load. */
#include <stdio.h>
#include <windows.h>

static DWORD try_load(const wchar_t* path, DWORD flags) {
  HMODULE h = LoadLibraryExW(path, NULL, flags);
  if (!h) return GetLastError();
  FreeLibrary(h);
  return 0;
}

/* wmain (built with -municode): the path arrives as UTF-16, whatever the ANSI code page. */
int wmain(int argc, wchar_t** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: loadtest PATH\n");
    return 2;
  }
  printf("{\"plain\":%lu,\"altered\":%lu}\n", (unsigned long)try_load(argv[1], 0),
         (unsigned long)try_load(argv[1], LOAD_WITH_ALTERED_SEARCH_PATH));
  return 0;
}
