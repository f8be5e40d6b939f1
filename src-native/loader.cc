#include "loader.h"

#include <cerrno>
#include <cstring>
#include <map>
#include <sys/stat.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <dirent.h>
#include <dlfcn.h>
#include <unistd.h>
#include <climits>
#include <cstdlib>
#endif

namespace p11 {

namespace {

std::mutex g_registryMutex;
std::map<std::string, std::weak_ptr<Library>> g_registry;

#ifdef _WIN32
std::wstring Widen(const std::string& s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s.c_str(), -1, nullptr, 0);
  std::wstring w(n > 0 ? n : 1, L'\0');
  if (n > 0) MultiByteToWideChar(CP_UTF8, 0, s.c_str(), -1, &w[0], n);
  return w;
}
std::string Narrow(const wchar_t* w) {
  int m = WideCharToMultiByte(CP_UTF8, 0, w, -1, nullptr, 0, nullptr, nullptr);
  std::string out(m > 0 ? m - 1 : 0, '\0');
  if (m > 1) WideCharToMultiByte(CP_UTF8, 0, w, -1, &out[0], m, nullptr, nullptr);
  return out;
}
// The system's text in UTF-8 (the ANSI variant would give the code page's bytes), without the
// trailing CR LF, and the number, which is what people search for (193: a DLL of another
// architecture, 126: a dependency missing).
std::string LastErrorText() {
  DWORD code = GetLastError();
  wchar_t buf[512] = {0};
  DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code, 0, buf,
                           sizeof(buf) / sizeof(buf[0]) - 1, nullptr);
  while (n > 0 && (buf[n - 1] == L'\r' || buf[n - 1] == L'\n' || buf[n - 1] == L' ')) buf[--n] = L'\0';
  std::string text = n ? Narrow(buf) : std::string("unknown error");
  // Messages with inserts ("%1 is not a valid Win32 application") come back with the "%1".
  for (size_t at; (at = text.find("%1")) != std::string::npos;) text.replace(at, 2, "the file");
  return text + " (error " + std::to_string(code) + ")";
}
void* OpenHandle(const std::string& path, const LoadOptions&, std::string* text) {
  // A full path with LOAD_WITH_ALTERED_SEARCH_PATH: the DLLs the module imports are searched for
  // in the module's own directory first (instead of node.exe's), which is where vendors install
  // them (a token's PKCS#11 DLL next to its runtime DLLs in Program Files). The path is UTF-16,
  // so a module under a non-ASCII directory loads whatever the system code page is.
  HMODULE h = LoadLibraryExW(Widen(path).c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
  if (!h) *text = LastErrorText();
  return reinterpret_cast<void*>(h);
}
void* Symbol(void* h, const char* name) {
  return reinterpret_cast<void*>(GetProcAddress(reinterpret_cast<HMODULE>(h), name));
}
void CloseHandle_(void* h) { FreeLibrary(reinterpret_cast<HMODULE>(h)); }
void PinHandle(void* h) {
  HMODULE pinned = nullptr;
  GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                     reinterpret_cast<LPCWSTR>(Symbol(h, "C_GetFunctionList")), &pinned);
}
std::string RealPath(const std::string& p) {
  wchar_t buf[32768];
  DWORD n = GetFullPathNameW(Widen(p).c_str(), 32768, buf, nullptr);
  if (n == 0 || n >= 32768) return p;
  return Narrow(buf);
}
#else
void* OpenHandle(const std::string& path, const LoadOptions& opts, std::string* text) {
  int flags = RTLD_NOW | RTLD_LOCAL;
#if defined(__linux__) && defined(RTLD_DEEPBIND) && !defined(P11_ASAN) && !defined(P11_TSAN)
  // SoftHSM and most Linux modules link the system libcrypto; without DEEPBIND their OpenSSL
  // calls can bind to the copy Node exports, with a different ABI (SoftHSM issue 625).
  if (opts.deepBind) flags |= RTLD_DEEPBIND;
#endif
  void* h = dlopen(path.c_str(), flags);
  if (!h) {
    const char* e = dlerror();
    *text = e ? e : "unknown dlopen error";
  }
  return h;
}
void* Symbol(void* h, const char* name) { return dlsym(h, name); }
void CloseHandle_(void* h) { dlclose(h); }
void PinHandle(void* h) {
  // Re-open the loaded library with RTLD_NODELETE: dlclose then never unmaps it.
  Dl_info info;
  void* sym = dlsym(h, "C_GetFunctionList");
  if (!sym) sym = dlsym(h, "C_GetInterface");
  if (!sym || !dladdr(sym, &info) || !info.dli_fname) return;
  if (void* again = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE)) dlclose(again);
}
std::string RealPath(const std::string& p) {
  char buf[PATH_MAX];
  return realpath(p.c_str(), buf) ? std::string(buf) : p;
}
#endif

// Whether the path names anything (errno says why not), and whether that is a directory. On
// Linux without stat(): glibc 2.33 gave stat its own symbol, which binaries for the 2.28 floor
// cannot use (src-native/platform/glibc_floor.h); access() and opendir() are as old as glibc.
#if defined(__linux__)
bool Exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }
bool IsDirectory(const std::string& p) {
  DIR* d = opendir(p.c_str());
  if (!d) return false;
  closedir(d);
  return true;
}
#elif defined(_WIN32)
// Through the UTF-16 API: stat() takes the path in the ANSI code page, where a UTF-8 name with
// non-ASCII characters does not exist. errno as Open() expects it.
bool Exists(const std::string& p) {
  if (GetFileAttributesW(Widen(p).c_str()) != INVALID_FILE_ATTRIBUTES) return true;
  DWORD e = GetLastError();
  errno = e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND || e == ERROR_INVALID_NAME ? ENOENT : EACCES;
  return false;
}
bool IsDirectory(const std::string& p) {
  DWORD a = GetFileAttributesW(Widen(p).c_str());
  return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) != 0;
}
#else
bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}
bool IsDirectory(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR;
}
#endif

}  // namespace

// No C_Finalize here: every share of the initialization is held by someone who also holds this
// Library and gives the share back explicitly (C_Finalize, close(), teardown), so a Library that
// dies has none left. Finalizing here, late, could also hit a second Library the registry made for
// the same file after this one's last reference went.
Library::~Library() {
  if (handle_) CloseHandle_(handle_);
}

CK_RV Library::Initialize(CK_C_INITIALIZE_ARGS* args, bool* shared) {
  std::lock_guard<std::mutex> lock(initMutex_);
  *shared = initUsers_ > 0;
  if (initUsers_ > 0) {
    initUsers_++;
    return CKR_OK;
  }
  if (!fns_.C_Initialize) return CKR_FUNCTION_NOT_SUPPORTED;
  CK_RV rv = fns_.C_Initialize(args);
  if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    // Someone outside p11bridge (another addon in this process) owns the module's lifetime.
    ownsInit_ = false;
    *shared = true;
  } else if (rv == CKR_OK) {
    ownsInit_ = true;
    // Again after C_Initialize: modules set up libraries (OpenSSL) that register exit handlers
    // of their own on first use, and ours must run before those.
    ExitGuard::RegisterFor();
  } else {
    return rv;
  }
  initUsers_ = 1;
  return CKR_OK;
}

CK_RV Library::Finalize() {
  std::lock_guard<std::mutex> lock(initMutex_);
  if (initUsers_ == 0) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (--initUsers_ > 0 || !ownsInit_) return CKR_OK;
  ownsInit_ = false;
  return fns_.C_Finalize ? fns_.C_Finalize(nullptr) : CKR_OK;
}

std::shared_ptr<Library> Library::Open(const std::string& path, const LoadOptions& opts, LoadError* err) {
  if (!Exists(path)) {
    err->code = errno == ENOENT ? "MODULE_NOT_FOUND" : "MODULE_LOAD_FAILED";
    err->message = "cannot open PKCS#11 module '" + path + "': " + std::strerror(errno);
    return nullptr;
  }
  if (IsDirectory(path)) {
    err->code = "MODULE_IS_DIRECTORY";
    err->message = "PKCS#11 module path '" + path + "' is a directory, not a library";
    return nullptr;
  }
  const std::string key = RealPath(path);

  std::lock_guard<std::mutex> lock(g_registryMutex);
  auto it = g_registry.find(key);
  if (it != g_registry.end()) {
    if (auto existing = it->second.lock()) {
      if (opts.maxThreads) existing->pool().SetMax(opts.maxThreads);  // the last value given applies
      return existing;
    }
  }

  std::string text;
  void* handle = OpenHandle(key, opts, &text);
  if (!handle) {
    err->code = "MODULE_LOAD_FAILED";
    err->message = "cannot load PKCS#11 module '" + path + "': " + text;
    return nullptr;
  }
  std::shared_ptr<Library> lib(new Library());
  lib->path_ = key;
  lib->handle_ = handle;

  auto getInterface = reinterpret_cast<CK_C_GetInterface>(Symbol(handle, "C_GetInterface"));
  auto getFunctionList = reinterpret_cast<CK_C_GetFunctionList>(Symbol(handle, "C_GetFunctionList"));
  if (!getInterface && !getFunctionList) {
    err->code = "NOT_A_PKCS11_MODULE";
    err->message = "'" + path + "' is not a PKCS#11 module: it exports neither C_GetInterface nor C_GetFunctionList";
    return nullptr;  // lib's destructor closes the handle
  }

  // Probe 3.2 then 3.0 through C_GetInterface; the list's own version field is not trusted to
  // tell the layout (SoftHSM 2.7 reports 3.2 in a 2.40-shaped list).
  if (getInterface) {
    static const CK_VERSION wanted[] = {{3, 2}, {3, 0}};
    for (const CK_VERSION& v : wanted) {
      CK_VERSION ask = v;
      CK_INTERFACE_PTR iface = nullptr;
      CK_RV rv = getInterface(reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>("PKCS 11")), &ask, &iface, 0);
      if (rv != CKR_OK || !iface || !iface->pFunctionList) continue;
      auto* list = static_cast<const CK_FUNCTION_LIST_3_2*>(iface->pFunctionList);
      if (list->version.major != 3) continue;
      const bool is32 = v.minor == 2 && list->version.minor >= 2;
      if (v.minor == 2 && !is32) continue;
      lib->fns_.FillFrom(list, is32 ? 104 : 92);
      lib->listVersion_ = list->version;
      lib->interfaceName_ = "PKCS 11";
      lib->interfaceFlags_ = iface->flags;
      break;
    }
  }
  if (lib->fns_.length == 0) {
    if (!getFunctionList) {
      err->code = "NOT_A_PKCS11_MODULE";
      err->message = "'" + path + "' offers no usable \"PKCS 11\" interface and no C_GetFunctionList";
      return nullptr;
    }
    CK_FUNCTION_LIST_PTR list = nullptr;
    CK_RV rv = getFunctionList(&list);
    if (rv != CKR_OK || !list) {
      err->code = "FUNCTION_LIST_FAILED";
      err->rv = rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
      err->message = "C_GetFunctionList of '" + path + "' failed";
      return nullptr;
    }
    lib->fns_.FillFrom(reinterpret_cast<const CK_FUNCTION_LIST_3_2*>(list), 68);
    lib->listVersion_ = list->version;
  }
  if (opts.maxThreads) lib->pool().SetMax(opts.maxThreads);
  g_registry[key] = lib;
  // After the module's own constructors registered their exit handlers, so this one runs first.
  ExitGuard::RegisterFor();
  // Modules stay mapped after the last close unless asked otherwise: unloading a vendor library
  // that left threads, TLS destructors or atexit handlers behind crashes the process later
  // (openCryptoki 3.8's token libraries take libitm down with them on a reload). Pinned only
  // once it proved to be a PKCS#11 module, so a wrong path is still unloaded.
  if (!opts.unload) PinHandle(handle);
  return lib;
}

}  // namespace p11
