// Loading a PKCS#11 module: one handle per real path in the whole process (every worker thread
// included), one C_Initialize shared by every user, C_Finalize when the last user finalizes.
#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "engine/call_pool.h"
#include "function_table.h"

namespace p11 {

struct LoadOptions {
  bool deepBind = true;   // Linux: keep the module's own libcrypto apart from Node's OpenSSL.
  bool unload = false;    // unmap the library when its last user closes (default: keep it mapped)
  size_t maxThreads = 0;  // cap of the module's call threads; 0: keep (default 64 or P11BRIDGE_MAX_THREADS)
};

struct LoadError {
  std::string
      code;  // MODULE_NOT_FOUND, MODULE_IS_DIRECTORY, MODULE_LOAD_FAILED, NOT_A_PKCS11_MODULE, FUNCTION_LIST_FAILED
  std::string message;  // includes the system loader's own text where there is one
  CK_RV rv = CKR_OK;    // for FUNCTION_LIST_FAILED
};

class Library {
 public:
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  const std::string& path() const { return path_; }
  const FunctionTable& fns() const { return fns_; }
  CK_VERSION listVersion() const { return listVersion_; }
  const std::string& interfaceName() const { return interfaceName_; }  // empty when C_GetFunctionList was used
  CK_FLAGS interfaceFlags() const { return interfaceFlags_; }
  // The module's call threads (engine/call_pool.h), shared by every object that loads it.
  CallPool& pool() { return *pool_; }

  // Process-wide C_Initialize: the first user really initializes, later users share it.
  // `shared` tells a caller that its arguments were not used because the module was already up.
  CK_RV Initialize(CK_C_INITIALIZE_ARGS* args, bool* shared);
  // Drops one user; the last one calls C_Finalize (unless another library in the process
  // initialized the module before us, which CKR_CRYPTOKI_ALREADY_INITIALIZED told us).
  CK_RV Finalize();

  static std::shared_ptr<Library> Open(const std::string& path, const LoadOptions& opts, LoadError* err);

 private:
  Library() = default;
  std::string path_;
  void* handle_ = nullptr;
  FunctionTable fns_;
  CK_VERSION listVersion_{0, 0};
  std::string interfaceName_;
  CK_FLAGS interfaceFlags_ = 0;
  std::shared_ptr<CallPool> pool_ = CallPool::Create();

  std::mutex initMutex_;
  int initUsers_ = 0;
  bool ownsInit_ = false;
};

}  // namespace p11
