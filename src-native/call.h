// One PKCS#11 call, written once and run two ways. An op struct declares
//   bool Parse(Args&)                    — JS thread: read and copy the arguments
//   CK_RV Run(const FunctionTable&)      — any thread: the C call(s), no JS
//   Napi::Value Result(Napi::Env)        — JS thread: build the return value
// Sync<Op> runs the three in a row; Async<Op> runs Run on the libuv pool and settles a Promise.
// Order for async: parse → Enter (ticket) → queue → Run → Leave → Result/reject → delete.
#pragma once
#include <chrono>

#include "trace.h"
#include <napi.h>

#include <new>
#include <string>

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
  std::vector<WriteBack> writeBacks;     // async: output fields of parameter structs
  std::string detail;                    // extra text for the error, never argument values
  CK_SESSION_HANDLE session = 0;
  bool hasSession = false;
  bool waitExempt = false;  // C_WaitForSlotEvent: C_Finalize is what ends it, so it must not wait
  // Queue position of an async op; UINT64_MAX for sync ops, so a sync close/finalize waits for
  // all async work queued so far.
  uint64_t ticket = UINT64_MAX;
  uint64_t generation = 0;  // mod->generation() when the call was made

  // False when the object was closed (or reloaded) while this call ran: its result must not
  // touch the object's state then.
  bool Current() const { return mod && mod->generation() == generation; }

  static constexpr bool kNeedsInit = true;
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
  return Pkcs11Error(env, rv, name, op.detail).Value();
}

template <class Op>
struct AsyncWork {
  Op op;
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref self = nullptr;
  CK_RV rv = CKR_OK;
  bool oom = false;

  static void Execute(napi_env, void* data) {
    auto* w = static_cast<AsyncWork*>(data);
    w->op.flights->Start(w->op.ticket);
    w->rv = RunGuarded(w->op, &w->oom, true);
    w->op.flights->Leave(w->op.ticket);
  }

  static void Complete(napi_env env_, napi_status status, void* data) {
    auto* w = static_cast<AsyncWork*>(data);
    Napi::Env env(env_);
    {
      Napi::HandleScope scope(env);
      if (status == napi_cancelled) {
        w->op.flights->Leave(w->op.ticket);
        napi_reject_deferred(env, w->deferred,
                             StateError(env, FunctionTable::Name(Op::kFn), "cancelled").Value());
      } else if (status != napi_ok) {
        // The environment is going away; nothing can be settled.
      } else if (w->rv != CKR_OK) {
        napi_reject_deferred(env, w->deferred, Failure(env, w->op, w->rv, w->oom));
      } else {
        ApplyWriteBacks(env, w->op.writeBacks);
        Napi::Value result = w->op.Result(env);
        if (env.IsExceptionPending()) {
          napi_reject_deferred(env, w->deferred, env.GetAndClearPendingException().Value());
        } else {
          napi_resolve_deferred(env, w->deferred, result.IsEmpty() ? env.Undefined() : result);
        }
      }
      w->op.Cleanup(env);
      ReleaseWriteBacks(env, w->op.writeBacks);
    }
    if (w->self) napi_delete_reference(env, w->self);
    napi_delete_async_work(env, w->work);
    delete w;
  }
};

}  // namespace detail

template <class Op>
Napi::Value ModuleObject::Sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value error;
  if (!detail::Precheck<Op>(env, this, &error)) return detail::Throw(env, error);
  Op op;
  op.mod = this;
  op.lib = lib_.get();
  op.flights = flights_.get();
  op.generation = generation_;
  Args args(info, op.arena, FunctionTable::Name(Op::kFn), false);
  args.SetWriteBacks(&op.writeBacks);
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
  if (lib_.get() != op.lib) {  // a getter among the arguments closed or reloaded the module
    op.Cleanup(env);
    return detail::Throw(env, StateError(env, FunctionTable::Name(Op::kFn), "the module was closed while the arguments were read").Value());
  }
  if (!detail::Provided<Op>(env, op.lib, &error)) {
    op.Cleanup(env);
    return detail::Throw(env, error);
  }
  bool oom = false;
  CK_RV rv = detail::RunGuarded(op, &oom);
  Napi::Value result = rv == CKR_OK ? op.Result(env) : detail::Throw(env, detail::Failure(env, op, rv, oom));
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
  Args args(info, op.arena, FunctionTable::Name(Op::kFn), true);
  args.SetWriteBacks(&op.writeBacks);
  bool parsed;
  try {
    parsed = op.Parse(args) && args.Finish();
  } catch (const std::bad_alloc&) {
    parsed = false;
    args.Fail(ArgRangeError(env, FunctionTable::Name(Op::kFn), "arguments", "need more memory than is available"));
  }
  if (parsed && lib_.get() != op.lib) {  // a getter among the arguments closed or reloaded the module
    op.Cleanup(env);
    ReleaseWriteBacks(env, op.writeBacks);
    delete w;
    return detail::Rejected(
        env, StateError(env, FunctionTable::Name(Op::kFn), "the module was closed while the arguments were read").Value());
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
  napi_value promise, resource;
  napi_create_reference(env, info.This(), 1, &w->self);
  napi_create_string_utf8(env, FunctionTable::Name(Op::kFn), NAPI_AUTO_LENGTH, &resource);
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, nullptr, resource, detail::AsyncWork<Op>::Execute,
                             detail::AsyncWork<Op>::Complete, w, &w->work) != napi_ok) {
    op.Cleanup(env);
    ReleaseWriteBacks(env, op.writeBacks);
    if (w->self) napi_delete_reference(env, w->self);
    delete w;
    return Napi::Value();
  }
  op.ticket = flights_->Enter(op);
  if (napi_queue_async_work(env, w->work) != napi_ok) {
    flights_->Leave(op.ticket);
    napi_reject_deferred(env, w->deferred, StateError(env, FunctionTable::Name(Op::kFn), "could not queue work").Value());
    op.Cleanup(env);
    ReleaseWriteBacks(env, op.writeBacks);
    napi_delete_async_work(env, w->work);
    napi_delete_reference(env, w->self);
    delete w;
  }
  return Napi::Value(env, promise);
}

// Registers `C_X` and `C_XAsync` for op struct Op_C_X.
#define P11_METHODS(props, NAME)                                                             \
  props.push_back(ModuleObject::InstanceMethod<&ModuleObject::Sync<Op_##NAME>>(#NAME));      \
  props.push_back(ModuleObject::InstanceMethod<&ModuleObject::Async<Op_##NAME>>(#NAME "Async"))

using Props = std::vector<Napi::ClassPropertyDescriptor<ModuleObject>>;
void RegisterGeneral(Props& props);
void RegisterSlotToken(Props& props);
void RegisterSession(Props& props);
void RegisterObject(Props& props);
void RegisterCrypto(Props& props);
void RegisterKey(Props& props);
void RegisterMessage(Props& props);
void RegisterKemAsync(Props& props);

}  // namespace p11
