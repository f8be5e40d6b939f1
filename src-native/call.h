// One PKCS#11 call, written once and run two ways. An op struct declares
//   bool Parse(Args&)                    — JS thread: read and copy the arguments
//   CK_RV Run(const FunctionTable&)      — any thread: the C call(s), no JS
//   Napi::Value Result(Napi::Env)        — JS thread: build the return value
// Sync<Op> runs the three in a row; Async<Op> runs Run on the addon's own call threads
// (engine/call_pool.h) and settles a Promise from the environment's completion queue
// (engine/completions.h).
// Order for async: parse → Enter (ticket) → submit → Start → Run → Leave → post → Result/reject → delete.
#pragma once
#include <chrono>

#include "trace.h"
#include <napi.h>

#include <new>
#include <string>

#include "engine/call_pool.h"
#include "engine/completions.h"
#include "env_data.h"
#include "errors.h"
#include "marshal/args.h"
#include "module.h"

namespace p11 {

struct OpBase {
  ModuleObject* mod = nullptr;  // valid on the JS thread only
  Library* lib = nullptr;
  FlightState* flights = nullptr;
  // Async ops own a share of both, so the module stays loaded and the accounting alive even if
  // the wrapper goes away first; sync ops borrow them from the wrapper for the call's duration.
  std::shared_ptr<Library> libHold;
  std::shared_ptr<FlightState> flightsHold;
  Arena arena;
  std::vector<WriteBack> writeBacks;  // async: output fields of parameter structs
  std::string detail;                 // extra text for the error, never argument values
  const char* failedFn = nullptr;     // the function that failed, when not kFn (fused calls)
  CK_SESSION_HANDLE session = 0;
  bool hasSession = false;
  bool waitExempt = false;  // C_WaitForSlotEvent: C_Finalize is what ends it, so it must not wait
  bool ownThread = false;   // async: run on a thread of its own, not the pool (blocking waits, lifecycle)
  // Queue position of an async op; UINT64_MAX for sync ops, so a sync close/finalize waits for
  // all async work queued so far.
  uint64_t ticket = UINT64_MAX;
  uint64_t generation = 0;  // mod->generation() when the call was made
  // The load and the initialization share the call runs under (FlightState): an async op whose
  // load or share has ended by the time it would start never calls into the module.
  uint64_t loadGen = 0;
  uint64_t share = 0;  // 0 for functions that need no initialization (C_Initialize, C_GetInterface …)

  // False when the object was closed (or reloaded) while this call ran: its result must not
  // touch the object's state then.
  bool Current() const { return mod && mod->generation() == generation; }

  static constexpr bool kNeedsInit = true;
  static constexpr bool kEndsInit = false;  // C_Finalize
  // Reads argument `i` as the session handle and remembers it for flight accounting.
  bool SessionArg(Args& a, size_t i) {
    hasSession = true;
    return a.Ulong(i, "hSession", &session);
  }
  void Cleanup(napi_env) {}
};

namespace detail {

inline Napi::Value Throw(Napi::Env env, Napi::Value error) {
  napi_throw(env, error);
  return Napi::Value();
}

inline Napi::Value Rejected(Napi::Env env, Napi::Value error) {
  napi_deferred d;
  napi_value promise;
  if (napi_create_promise(env, &d, &promise) != napi_ok) return Napi::Value();
  napi_reject_deferred(env, d, error);
  return Napi::Value(env, promise);
}

// Checks before any argument is read: a module is loaded and initialized.
template <class Op>
bool Precheck(Napi::Env env, ModuleObject* self, Napi::Value* error) {
  const char* name = FunctionTable::Name(Op::kFn);
  if (!self->library()) {
    *error = StateError(env, name, "no module is loaded (call load() first)").Value();
    return false;
  }
  if (Op::kNeedsInit && !self->initialized()) {
    *error = Pkcs11Error(env, CKR_CRYPTOKI_NOT_INITIALIZED, name).Value();
    return false;
  }
  return true;
}

// After the arguments are read (so bad arguments are reported even for a function the module
// lacks): the module provides the function.
template <class Op>
bool Provided(Napi::Env env, Library* lib, Napi::Value* error) {
  if (lib->fns().Has(Op::kFn)) return true;
  *error = Pkcs11Error(env, CKR_FUNCTION_NOT_SUPPORTED, FunctionTable::Name(Op::kFn),
                       "the module does not provide this function")
               .Value();
  return false;
}

// After the arguments are read, which may have run JS (getters that close, reload or finalize):
// the object still has the load and the initialization share the call began with, and, unless
// the call is C_Finalize itself (whose Parse marks the object finalized), is not being finalized.
template <class Op>
bool Admitted(Napi::Env env, ModuleObject* self, Op& op, Napi::Value* error) {
  const char* name = FunctionTable::Name(Op::kFn);
  if (self->generation() != op.generation || self->library().get() != op.lib) {
    *error = StateError(env, name, "the module was closed while the arguments were read").Value();
    return false;
  }
  if (Op::kNeedsInit && (self->flights()->CurrentShare() != op.share || (!Op::kEndsInit && !self->initialized()))) {
    *error = Pkcs11Error(env, CKR_CRYPTOKI_NOT_INITIALIZED, name, "finalized while the arguments were read").Value();
    return false;
  }
  return true;
}

template <class Op>
CK_RV RunGuarded(Op& op, bool* oom, bool async = false) {
  const bool trace = g_traceCalls.load(std::memory_order_relaxed);
  const auto t0 = trace ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  CK_RV rv;
  try {
    rv = op.Run(op.lib->fns());
  } catch (const std::bad_alloc&) {
    *oom = true;
    rv = CKR_HOST_MEMORY;
  }
  if (trace) {
    const std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - t0;
    TraceCall(FunctionTable::Name(Op::kFn), rv, ms.count(), async);
  }
  return rv;
}

template <class Op>
Napi::Value Failure(Napi::Env env, Op& op, CK_RV rv, bool oom) {
  const char* name = FunctionTable::Name(Op::kFn);
  if (oom) return ArgRangeError(env, name, "arguments", "need more memory than is available").Value();
  return Pkcs11Error(env, rv, op.failedFn ? op.failedFn : name, op.detail).Value();
}

// One async call: a Task on a call thread (Start, Run, Leave), then a Completion on its JS thread
// (settle, release). Owned by the engine from Submit on; it deletes itself.
template <class Op>
struct AsyncWork final : Task, Completion {
  Op op;
  napi_deferred deferred = nullptr;
  std::shared_ptr<Completions> sink;
  CK_RV rv = CKR_OK;
  bool oom = false;

  void Execute() override {
    // Blocking waits are not counted: process exit must not wait for an event that may never come.
    const bool counted = !op.waitExempt;
    if (counted && !ExitGuard::Enter()) {
      rv = CKR_CRYPTOKI_NOT_INITIALIZED;
      op.detail = "the process is exiting";
    } else {
      if (op.flights->Start(op.ticket, op.loadGen, op.share)) {
        rv = RunGuarded(op, &oom, true);
      } else {
        // Finalized or closed while queued: the module is not called.
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        op.detail = "the module was finalized or closed before the call started";
      }
      if (counted) ExitGuard::Leave();
    }
    op.flights->Leave(op.ticket);
    auto s = std::move(sink);  // Post may settle and delete this at once
    s->Post(this);
  }

  void Settle(napi_env env_) override {
    Napi::Env env(env_);
    if (rv != CKR_OK) {
      napi_reject_deferred(env, deferred, Failure(env, op, rv, oom));
    } else {
      ApplyWriteBacks(env, op.writeBacks);
      Napi::Value result = op.Result(env);
      if (env.IsExceptionPending()) {
        napi_reject_deferred(env, deferred, env.GetAndClearPendingException().Value());
      } else {
        napi_resolve_deferred(env, deferred, result.IsEmpty() ? env.Undefined() : result);
      }
    }
    op.Cleanup(env);
    ReleaseWriteBacks(env, op.writeBacks);
    op.mod->CallBack();
    delete this;
  }

  // The environment is gone: its references died with it, and op.mod may have too.
  void Abandon() override { delete this; }
};

}  // namespace detail

template <class Op, CallForm kForm>
Napi::Value ModuleObject::Sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value error;
  if (!detail::Precheck<Op>(env, this, &error)) return detail::Throw(env, error);
  Op op;
  op.mod = this;
  op.lib = lib_.get();
  op.flights = flights_.get();
  op.generation = generation_;
  op.loadGen = flights_->loadGen;  // written on this thread only (load/close/teardown)
  if (Op::kNeedsInit) op.share = flights_->CurrentShare();
  Args args(info, op.arena, FunctionTable::Name(Op::kFn), false);
  args.SetWriteBacks(&op.writeBacks);
  // Two arguments instead of one object: reading `mechanism` and `parameter` off an object costs
  // two property lookups here (about 2,400 instructions by callgrind) against a few in JIT code.
  if constexpr (kForm == CallForm::kFlatMechanism) args.SetFlatMechanism(1);
  bool parsed;
  try {
    parsed = op.Parse(args) && args.Finish();
  } catch (const std::bad_alloc&) {
    parsed = false;
    args.Fail(ArgRangeError(env, FunctionTable::Name(Op::kFn), "arguments", "need more memory than is available"));
  }
  if (!parsed) {
    op.Cleanup(env);
    return detail::Throw(env, args.failed() ? args.error() : env.Undefined());
  }
  if (!detail::Admitted(env, this, op, &error)) {
    op.Cleanup(env);
    return detail::Throw(env, error);
  }
  if (!detail::Provided<Op>(env, op.lib, &error)) {
    op.Cleanup(env);
    return detail::Throw(env, error);
  }
  bool oom = false;
  CK_RV rv = detail::RunGuarded(op, &oom);
  Napi::Value result;
  if (rv != CKR_OK) {
    result = detail::Throw(env, detail::Failure(env, op, rv, oom));
  } else if constexpr (kForm == CallForm::kWrittenLength) {
    // The byte count instead of a view of the caller's buffer: making the view here means a call
    // into JS (napi_call_function: about 2,000 instructions by callgrind, a third of what the
    // binding spends on a C_Sign), where the caller's own `out.subarray(0, n)` costs little.
    result = op.out.hasCaller ? Napi::Number::New(env, static_cast<double>(op.out.len)) : op.Result(env);
  } else {
    result = op.Result(env);
  }
  op.Cleanup(env);
  return result;
}

template <class Op>
Napi::Value ModuleObject::Async(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value error;
  if (!detail::Precheck<Op>(env, this, &error)) return detail::Rejected(env, error);
  auto* w = new (std::nothrow) detail::AsyncWork<Op>();
  if (!w) return detail::Rejected(env, Napi::Error::New(env, "out of memory").Value());
  Op& op = w->op;
  op.mod = this;
  op.libHold = lib_;
  op.flightsHold = flights_;
  op.lib = lib_.get();
  op.flights = flights_.get();
  op.generation = generation_;
  op.loadGen = flights_->loadGen;  // written on this thread only (load/close/teardown)
  if (Op::kNeedsInit) op.share = flights_->CurrentShare();
  Args args(info, op.arena, FunctionTable::Name(Op::kFn), true);
  args.SetWriteBacks(&op.writeBacks);
  bool parsed;
  try {
    parsed = op.Parse(args) && args.Finish();
  } catch (const std::bad_alloc&) {
    parsed = false;
    args.Fail(ArgRangeError(env, FunctionTable::Name(Op::kFn), "arguments", "need more memory than is available"));
  }
  if (parsed && !detail::Admitted(env, this, op, &error)) {
    op.Cleanup(env);
    ReleaseWriteBacks(env, op.writeBacks);
    delete w;
    return detail::Rejected(env, error);
  }
  if (parsed && !detail::Provided<Op>(env, op.lib, &error)) {
    op.Cleanup(env);
    ReleaseWriteBacks(env, op.writeBacks);
    delete w;
    return detail::Rejected(env, error);
  }
  if (!parsed) {
    Napi::Value err = args.failed() ? args.error() : env.Undefined();
    op.Cleanup(env);
    ReleaseWriteBacks(env, op.writeBacks);
    delete w;
    return detail::Rejected(env, err);
  }
  napi_value promise;
  if (!envData_ || !envData_->completions || napi_create_promise(env, &w->deferred, &promise) != napi_ok) {
    op.Cleanup(env);
    ReleaseWriteBacks(env, op.writeBacks);
    delete w;
    return detail::Rejected(env, StateError(env, FunctionTable::Name(Op::kFn), "could not start the call").Value());
  }
  w->sink = envData_->completions;
  op.ticket = flights_->Enter(op);
  envData_->completions->CallStarted(env);
  CallOut();
  // Blocking waits and the lifecycle calls get a thread of their own (engine/call_pool.h).
  if (op.ownThread) {
    if (!CallPool::Detached(w)) lib_->pool().Submit(w);
  } else {
    lib_->pool().Submit(w);
  }
  return Napi::Value(env, promise);
}

// The napi callback of a C_* method: ObjectWrap's own (TemplatedInstanceCallback), but finding the
// wrapper through ModuleObject::FromThis.
template <Napi::Value (ModuleObject::*M)(const Napi::CallbackInfo&)>
napi_value CallMethod(napi_env env, napi_callback_info info) {
  Napi::CallbackInfo ci(env, info);
  ModuleObject* self = ModuleObject::FromThis(ci.Env(), ci.This());
  if (!self) return nullptr;  // its TypeError is pending
  Napi::Value v = (self->*M)(ci);
  return v;
}

template <Napi::Value (ModuleObject::*M)(const Napi::CallbackInfo&)>
Napi::ClassPropertyDescriptor<ModuleObject> Method(const char* utf8name, napi_value name = nullptr,
                                                   napi_property_attributes attributes = napi_default) {
  napi_property_descriptor d = {};
  d.utf8name = name ? nullptr : utf8name;
  d.name = name;
  d.method = CallMethod<M>;
  d.attributes = attributes;
  return d;
}

// Registers `C_X` and `C_XAsync` for op struct Op_C_X.
#define P11_METHODS(props, NAME)                                  \
  props.push_back(Method<&ModuleObject::Sync<Op_##NAME>>(#NAME)); \
  props.push_back(Method<&ModuleObject::Async<Op_##NAME>>(#NAME "Async"))

// The symbol under which the class keeps a CallForm of `name`: exported as
// binding.writtenLength[name] and binding.flatMechanism[name], for the pkcs11js facade (which
// slices the caller's buffer itself, as pkcs11js does, and has the mechanism's fields in hand).
// They are not part of the raw API.
Napi::Symbol FormSymbol(Napi::Env env, CallForm form, const char* name);

// C_X and C_XAsync as P11_METHODS, plus a second sync form of C_X. With the written-length form
// C_X is configurable: the raw layer (lib/binding/sync-forms.ts) redefines it once, as a JS
// function that uses the form, and fixes it again.
#define P11_METHODS_FORM(env, props, NAME, FORM, ATTRIBUTES)                           \
  props.push_back(Method<&ModuleObject::Sync<Op_##NAME>>(#NAME, nullptr, ATTRIBUTES)); \
  props.push_back(Method<&ModuleObject::Async<Op_##NAME>>(#NAME "Async"));             \
  props.push_back(Method<&ModuleObject::Sync<Op_##NAME, FORM>>(nullptr, FormSymbol(env, FORM, #NAME)))
#define P11_METHODS_WRITTEN(env, props, NAME) \
  P11_METHODS_FORM(env, props, NAME, CallForm::kWrittenLength, napi_configurable)
#define P11_METHODS_FLAT(env, props, NAME) P11_METHODS_FORM(env, props, NAME, CallForm::kFlatMechanism, napi_default)

using Props = std::vector<Napi::ClassPropertyDescriptor<ModuleObject>>;
void RegisterGeneral(Props& props);
void RegisterSlotToken(Props& props);
void RegisterSession(Props& props);
void RegisterObject(Props& props);
void RegisterCrypto(Napi::Env env, Props& props);
void RegisterKey(Props& props);
void RegisterMessage(Props& props);
void RegisterKemAsync(Props& props);
void RegisterFused(Props& props);

}  // namespace p11
