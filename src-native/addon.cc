// Entry point. Context-aware: each environment (main thread, every worker) gets its own EnvData;
// when one is torn down, the modules it still holds are released.
#include "trace.h"
#include <napi.h>

#include "engine/call_pool.h"
#include "env_data.h"
#include "module.h"
#include "marshal/args.h"
#include "marshal/values.h"

namespace p11 {

namespace {

void FinalizeEnvData(Napi::Env env, EnvData* data) {
  data->tearingDown = true;
  for (ModuleObject* m : data->modules) {
    m->Release(true);
    m->DetachFromEnv();
  }
  data->modules.clear();
  for (EnvData::ThisEntry& e : data->thisCache)
    if (e.ref) napi_delete_reference(env, e.ref);
  delete data;
}

// configure({ pkcs11Error, loadError, plainError, make* }): the TS layer hands over its error
// factories and result makers once.
Napi::Value Configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData* data = GetEnvData(env);
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "configure: argument 'options' must be an object").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value p = o.Get("pkcs11Error");
  if (p.IsFunction()) data->pkcs11ErrorFactory = Napi::Persistent(p.As<Napi::Function>());
  Napi::Value l = o.Get("loadError");
  if (l.IsFunction()) data->loadErrorFactory = Napi::Persistent(l.As<Napi::Function>());
  const std::pair<const char*, Napi::FunctionReference*> makers[] = {
      {"makeSessionInfo", &data->makeSessionInfo},
      {"makeAttribute", &data->makeAttribute},
      {"makeView", &data->makeView},
  };
  for (auto& m : makers) {
    Napi::Value f = o.Get(m.first);
    if (f.IsFunction()) *m.second = Napi::Persistent(f.As<Napi::Function>());
  }
  Napi::Value e = o.Get("plainError");
  if (e.IsFunction()) data->plainErrorFactory = Napi::Persistent(e.As<Napi::Function>());
  return env.Undefined();
}

// structLayout(fields) → { size, align, offsets }: the layout native code gives a parameter struct
// description, for the test that compares it with the header's offsetof/sizeof.
Napi::Value StructLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arena arena;
  Args args(info, arena, "structLayout", false);
  StructBlob blob;
  if (!args.Struct(args.At(0), "fields", 0, &blob)) {
    napi_throw(env, args.error());
    return Napi::Value();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, static_cast<double>(blob.size)));
  o.Set("align", Napi::Number::New(env, static_cast<double>(blob.align)));
  Napi::Array offs = Napi::Array::New(env, blob.offsets.size());
  for (size_t i = 0; i < blob.offsets.size(); i++)
    offs.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(blob.offsets[i])));
  o.Set("offsets", offs);
  return o;
}

// prepareExit(): process.exit() on the main thread (see lib/native.ts and ExitGuard).
Napi::Value PrepareExit(const Napi::CallbackInfo& info) {
  ExitGuard::BeginExit();
  return info.Env().Undefined();
}

// engineStats() → { wakeups, settled, maxBatch } of this environment's completion queue.
Napi::Value EngineStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData* data = GetEnvData(env);
  Napi::Object o = Napi::Object::New(env);
  Completions::Stats s = data && data->completions ? data->completions->stats() : Completions::Stats{0, 0, 0};
  o.Set("wakeups", Napi::Number::New(env, static_cast<double>(s.wakeups)));
  o.Set("settled", Napi::Number::New(env, static_cast<double>(s.settled)));
  o.Set("maxBatch", Napi::Number::New(env, static_cast<double>(s.maxBatch)));
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitTrace();
  EnvData* data = new EnvData();
  env.SetInstanceData<EnvData, FinalizeEnvData>(data);
  data->completions = Completions::Create(env);
  Napi::Function ctor = ModuleObject::Init(env);
  data->moduleConstructor = Napi::Persistent(ctor);
  exports.Set("PKCS11", ctor);
  if (!data->writtenLength.IsEmpty()) exports.Set("writtenLength", data->writtenLength.Value());
  if (!data->flatMechanism.IsEmpty()) exports.Set("flatMechanism", data->flatMechanism.Value());
  exports.Set("configure", Napi::Function::New(env, Configure, "configure"));
  exports.Set("structLayout", Napi::Function::New(env, StructLayout, "structLayout"));
  exports.Set("ulongSize", Napi::Number::New(env, sizeof(CK_ULONG)));
  exports.Set("prepareExit", Napi::Function::New(env, PrepareExit, "prepareExit"));
  exports.Set("engineStats", Napi::Function::New(env, EngineStats, "engineStats"));
  exports.Set("CK_UNAVAILABLE_INFORMATION", Napi::Value(env, UlongToJs(env, CK_UNAVAILABLE_INFORMATION)));
  return exports;
}

}  // namespace

}  // namespace p11

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return p11::Init(env, exports); }

NODE_API_MODULE(p11bridge, InitAddon)
