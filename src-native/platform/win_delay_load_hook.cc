// The mingw-w64 build's delay-load hook (scripts/wine-build.js; not in binding.gyp, whose MSVC
// builds get node-gyp's own hook). The addon imports the N-API functions from "node.exe" through
// a delay-load import library, and this hook answers that import with the module of the running
// executable instead of a file named node.exe: a renamed Node (node22.exe), Electron or any other
// host that exports N-API then works too. Without it the Windows loader would search the disk for
// a node.exe, and could even map a second, different one.
#ifdef _WIN32
#include <windows.h>
// windows.h first: delayimp.h uses its types.
#include <delayimp.h>
#include <string.h>

namespace {

FARPROC WINAPI LoadExeHook(unsigned event, PDelayLoadInfo info) {
  if (event != dliNotePreLoadLibrary || _stricmp(info->szDll, "node.exe") != 0) return nullptr;
  // A Node built as a DLL ('vcbuild.bat dll') exports N-API from libnode.dll.
  HMODULE m = GetModuleHandleA("libnode.dll");
  if (!m) m = GetModuleHandleA(nullptr);
  return reinterpret_cast<FARPROC>(m);
}

}  // namespace

// Defining the hook here keeps mingw-w64's own (null) definition, a separate object of
// libmingwex, out of the link; __delayLoadHelper2 reads this one. (delayimp.h declared it
// extern "C", so this definition has C linkage.)
PfnDliHook __pfnDliNotifyHook2 = LoadExeHook;
#endif
