#include "module.h"

#include "call.h"
#include "env_data.h"
#include "errors.h"
#include "marshal/values.h"

namespace p11 {

uint64_t FlightState::Enter(const OpBase& op) {
  std::lock_guard<std::mutex> lock(mutex);
  uint64_t t = nextTicket++;
  flights[t] = Flight{op.session, op.hasSession, op.waitExempt, false};
  return t;
}

bool FlightState::Start(uint64_t ticket, uint64_t opLoadGen, uint64_t opShare) {
  std::lock_guard<std::mutex> lock(mutex);
  if (opLoadGen != loadGen || (opShare != 0 && opShare != share)) return false;
  auto it = flights.find(ticket);
  if (it != flights.end()) it->second.running = true;
  return true;
}

uint64_t FlightState::Adopt(uint64_t opLoadGen) {
  std::lock_guard<std::mutex> lock(mutex);
  if (opLoadGen != loadGen || share != 0) return 0;
  share = nextShare++;
  sessions.clear();
  return share;
}

bool FlightState::TakeShare(std::vector<CK_SESSION_HANDLE>* open) {
  std::lock_guard<std::mutex> lock(mutex);
  const bool held = share != 0;
  for (auto& s : sessions) open->push_back(s.first);
  sessions.clear();
  share = 0;
  return held;
}

void FlightState::EndLoad() {
  std::lock_guard<std::mutex> lock(mutex);
  loadGen++;
}

void FlightState::TrackSession(CK_SESSION_HANDLE h, CK_SLOT_ID slot) {
  std::lock_guard<std::mutex> lock(mutex);
  sessions[h] = slot;
}

void FlightState::UntrackSession(CK_SESSION_HANDLE h) {
  std::lock_guard<std::mutex> lock(mutex);
  sessions.erase(h);
}

void FlightState::UntrackSlot(CK_SLOT_ID slot) {
  std::lock_guard<std::mutex> lock(mutex);
  for (auto it = sessions.begin(); it != sessions.end();) it = it->second == slot ? sessions.erase(it) : ++it;
}

void FlightState::Leave(uint64_t ticket) {
  if (ticket == UINT64_MAX) return;
  {
    std::lock_guard<std::mutex> lock(mutex);
    flights.erase(ticket);
  }
  cv.notify_all();
}

void FlightState::WaitForEarlier(uint64_t ticket, bool sessionOnly, CK_SESSION_HANDLE session, bool runningOnly) {
  std::unique_lock<std::mutex> lock(mutex);
  // Only ops queued earlier: the pool takes work in order, so those are running or done, and
  // waiting for them can never starve the pool the way waiting for later work could.
  cv.wait(lock, [&] {
    for (auto it = flights.begin(); it != flights.end() && it->first < ticket; ++it) {
      const Flight& f = it->second;
      if (f.waitExempt || (runningOnly && !f.running)) continue;
      if (!sessionOnly || (f.hasSession && f.session == session)) return false;
    }
    return true;
  });
}

Napi::Symbol FormSymbol(Napi::Env env, CallForm form, const char* name) {
  EnvData* data = GetEnvData(env);
  const bool written = form == CallForm::kWrittenLength;
  Napi::Symbol sym =
      Napi::Symbol::New(env, std::string(written ? "p11bridge written length: " : "p11bridge flat mechanism: ") + name);
  if (data) {
    Napi::ObjectReference& table = written ? data->writtenLength : data->flatMechanism;
    if (table.IsEmpty()) table = Napi::Persistent(Napi::Object::New(env));
    table.Value().Set(name, sym);
  }
  return sym;
}

Napi::Function ModuleObject::Init(Napi::Env env) {
  Props props;
  props.push_back(InstanceMethod<&ModuleObject::Load>("load"));
  props.push_back(InstanceMethod<&ModuleObject::Close>("close"));
  props.push_back(InstanceMethod<&ModuleObject::Has>("has"));
  props.push_back(InstanceMethod<&ModuleObject::GetModuleInfo>("moduleInfo"));
  RegisterGeneral(props);
  RegisterSlotToken(props);
  RegisterSession(props);
  RegisterObject(props);
  RegisterCrypto(env, props);
  RegisterKey(props);
  RegisterMessage(props);
  RegisterKemAsync(props);
  RegisterFused(props);
  return DefineClass(env, "PKCS11", props);
}

ModuleObject::ModuleObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModuleObject>(info) {
  envData_ = GetEnvData(info.Env());
  if (envData_) envData_->modules.insert(this);
}

ModuleObject* ModuleObject::FromThis(Napi::Env env, napi_value thisv) {
  EnvData* data = GetEnvData(env);
  if (data) {
    for (EnvData::ThisEntry& e : data->thisCache) {
      napi_value cached = nullptr;
      bool same = false;
      if (e.ref && napi_get_reference_value(env, e.ref, &cached) == napi_ok && cached &&
          napi_strict_equals(env, cached, thisv, &same) == napi_ok && same)
        return e.self;
    }
  }
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env, thisv, &t) != napi_ok || (t != napi_object && t != napi_function)) {
    Napi::TypeError::New(env, "Illegal invocation: not a PKCS11 object").ThrowAsJavaScriptException();
    return nullptr;
  }
  ModuleObject* self = Unwrap(Napi::Object(env, thisv));
  if (!self || !data) return self;
  // Weak (count 0): the cache never keeps an object alive; a collected one reads as empty, and
  // the wrapper's destructor clears its entries before it goes.
  napi_ref ref = nullptr;
  if (napi_create_reference(env, thisv, 0, &ref) != napi_ok) return self;
  EnvData::ThisEntry& slot = data->thisCache[data->thisNext++ % EnvData::kThisCache];
  if (slot.ref) napi_delete_reference(env, slot.ref);
  slot.ref = ref;
  slot.self = self;
  return self;
}

ModuleObject::~ModuleObject() {
  if (envData_) {
    for (EnvData::ThisEntry& e : envData_->thisCache) {
      if (e.self != this) continue;
      if (e.ref) napi_delete_reference(Env(), e.ref);
      e = EnvData::ThisEntry();
    }
  }
  if (envData_) envData_->modules.erase(this);
  Release(true);
}

void ModuleObject::Release(bool teardown) {
  if (!lib_) return;
  generation_++;
  initPending = false;
  // Teardown: work that has not started never will (its environment is going away), so the load
  // ends first and Start refuses it; only calls already inside the module are waited for.
  // Otherwise close() waits for everything queued before it, which runs as usual.
  if (teardown) flights_->EndLoad();
  flights_->WaitForEarlier(UINT64_MAX, false, 0, teardown);
  if (!teardown) flights_->EndLoad();
  // Nothing of this load can start now, so the share and its sessions are ours to end.
  std::vector<CK_SESSION_HANDLE> open;
  if (flights_->TakeShare(&open)) {
    const FunctionTable& f = lib_->fns();
    if (f.C_CloseSession)
      for (CK_SESSION_HANDLE h : open) f.C_CloseSession(h);
    lib_->Finalize();
  }
  initialized_ = false;
  lib_.reset();
}

Napi::Value ModuleObject::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    return detail::Throw(
        env, ArgTypeError(env, "load", "path", "a string", info.Length() ? static_cast<napi_value>(info[0]) : nullptr)
                 .Value());
  if (lib_)
    return detail::Throw(env, StateError(env, "load", "a module is already loaded; call close() first").Value());
  LoadOptions opts;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    if (!info[1].IsObject())
      return detail::Throw(env, ArgTypeError(env, "load", "options", "an object", info[1]).Value());
    Napi::Value deep = info[1].As<Napi::Object>().Get("deepBind");
    if (env.IsExceptionPending()) return Napi::Value();
    if (!deep.IsUndefined()) {
      if (!deep.IsBoolean())
        return detail::Throw(env, ArgTypeError(env, "load", "options.deepBind", "a boolean", deep).Value());
      opts.deepBind = deep.As<Napi::Boolean>().Value();
    }
    Napi::Value unload = info[1].As<Napi::Object>().Get("unload");
    if (env.IsExceptionPending()) return Napi::Value();
    if (!unload.IsUndefined()) {
      if (!unload.IsBoolean())
        return detail::Throw(env, ArgTypeError(env, "load", "options.unload", "a boolean", unload).Value());
      opts.unload = unload.As<Napi::Boolean>().Value();
    }
    Napi::Value threads = info[1].As<Napi::Object>().Get("maxThreads");
    if (env.IsExceptionPending()) return Napi::Value();
    if (!threads.IsUndefined()) {
      if (!threads.IsNumber())
        return detail::Throw(env, ArgTypeError(env, "load", "options.maxThreads", "a number", threads).Value());
      const double n = threads.As<Napi::Number>().DoubleValue();
      if (!(n >= 1 && n <= 4096) || n != static_cast<double>(static_cast<size_t>(n)))
        return detail::Throw(
            env, ArgRangeError(env, "load", "options.maxThreads", "must be an integer from 1 to 4096").Value());
      opts.maxThreads = static_cast<size_t>(n);
    }
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos)
    return detail::Throw(env, ArgRangeError(env, "load", "path", "must be a non-empty path").Value());
  LoadError err;
  lib_ = Library::Open(path, opts, &err);
  generation_++;
  // A C_Initialize of an earlier load may still be settling; it is not this load's.
  initPending = false;
  if (!lib_) return detail::Throw(env, LoadFailure(env, err.code, err.message, path, err.rv).Value());
  return env.Undefined();
}

Napi::Value ModuleObject::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value ModuleObject::Has(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    return detail::Throw(
        env, ArgTypeError(env, "has", "name", "a string", info.Length() ? static_cast<napi_value>(info[0]) : nullptr)
                 .Value());
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int idx = FunctionTable::Find(name.c_str());
  if (idx < 0)
    return detail::Throw(env, ArgRangeError(env, "has", "name", "is not a PKCS#11 3.2 function name").Value());
  return Napi::Boolean::New(env, lib_ && lib_->fns().Has(static_cast<Fn>(idx)));
}

Napi::Value ModuleObject::GetModuleInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!lib_) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", lib_->path());
  o.Set("interface", lib_->interfaceName().empty() ? env.Null() : Napi::String::New(env, lib_->interfaceName()));
  o.Set("interfaceFlags", Napi::Value(env, UlongToJs(env, lib_->interfaceFlags())));
  o.Set("functionListVersion", VersionToJs(env, lib_->listVersion()));
  o.Set("functionCount", Napi::Number::New(env, lib_->fns().length));
  Napi::Array names = Napi::Array::New(env);
  uint32_t k = 0;
  for (int i = 0; i < 104; i++)
    if (lib_->fns().Has(static_cast<Fn>(i))) names.Set(k++, FunctionTable::Name(static_cast<Fn>(i)));
  o.Set("functions", names);
  o.Set("initialized", Napi::Boolean::New(env, initialized_));
  // The module's call threads (engine/call_pool.h), shared by every object that loaded it.
  PoolStats ps = lib_->pool().Stats();
  Napi::Object t = Napi::Object::New(env);
  t.Set("alive", Napi::Number::New(env, static_cast<double>(ps.threads)));
  t.Set("idle", Napi::Number::New(env, static_cast<double>(ps.idle)));
  t.Set("queued", Napi::Number::New(env, static_cast<double>(ps.queued)));
  t.Set("peak", Napi::Number::New(env, static_cast<double>(ps.peak)));
  t.Set("started", Napi::Number::New(env, static_cast<double>(ps.spawned)));
  t.Set("heldBack", Napi::Number::New(env, static_cast<double>(ps.heldBack)));
  t.Set("core", Napi::Number::New(env, static_cast<double>(ps.core)));
  t.Set("max", Napi::Number::New(env, static_cast<double>(ps.max)));
  o.Set("threads", t);
  return o;
}

}  // namespace p11
