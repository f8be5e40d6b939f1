// Per-environment state: the main thread and every worker_thread get their own, so the addon is
// context-aware and a terminated worker only tears down what it owned.
#pragma once
#include <napi.h>

#include <memory>
#include <unordered_set>

#include "engine/completions.h"

#include "marshal/values.h"

namespace p11 {

class ModuleObject;

struct EnvData {
  Napi::FunctionReference pkcs11ErrorFactory;  // (rv, fn, detail) => Error
  Napi::FunctionReference loadErrorFactory;    // (code, message, path, rv) => Error
  // (kind, message) => Error: argument errors are made in the realm that configured the addon
  // (jest and vm contexts compare classes per realm).
  Napi::FunctionReference plainErrorFactory;
  // (slotID, state, flags, deviceError) => SessionInfo: an object literal in JS gets one fixed
  // shape and costs one call, where setting four properties from C++ costs four.
  Napi::FunctionReference makeSessionInfo;
  Napi::FunctionReference makeAttribute;  // (type, status, value?) => AttributeResult
  Napi::FunctionReference makeView;       // (buffer, length) => buffer.subarray(0, length)
  Napi::FunctionReference moduleConstructor;
  Napi::ObjectReference writtenLength;  // function name → symbol of its written-length form (call.h)
  Napi::ObjectReference flatMechanism;  // function name → symbol of its flat-mechanism form
  // ModuleObject::FromThis's cache: the `this` objects of the last C_* calls (weak references)
  // and their wrappers, so that a call skips napi_unwrap.
  struct ThisEntry {
    napi_ref ref = nullptr;
    ModuleObject* self = nullptr;
  };
  static constexpr unsigned kThisCache = 4;
  ThisEntry thisCache[kThisCache];
  unsigned thisNext = 0;
  std::unordered_set<ModuleObject*> modules;  // live wrappers, released at env teardown
  std::shared_ptr<Completions> completions;   // finished async calls back to this thread
  bool tearingDown = false;
};

inline EnvData* GetEnvData(Napi::Env env) { return env.GetInstanceData<EnvData>(); }

}  // namespace p11
