// The JS `PKCS11` object: one loaded module as seen from one JS environment. It holds a share of
// the process-wide Library, this object's share of C_Initialize, the sessions it opened (closed if
// its environment is torn down, e.g. a terminated worker) and the async work in flight.
#pragma once
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "loader.h"

namespace p11 {

struct OpBase;
struct EnvData;

// What one module object shares with its calls on other threads: the async work in flight, and
// its hold on the module's initialization (its "share") with the sessions opened under it. Work
// items keep it alive, so a late worker thread never touches a freed wrapper.
//
// The invariant (docs/reliability.md, "Lifecycle"): the addon calls into a module only under an
// initialized share that the caller holds. Async ops are admitted by Start(), which refuses an op
// whose share or load has ended; sessions are tracked here the moment the module returns them (in
// Run, not in a later Result on the JS thread), so whoever ends the share (C_Finalize, close(),
// environment teardown) closes them, and nothing is ever cleaned up late into a finalized module.
struct FlightState {
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t nextTicket = 1;
  struct Flight {
    CK_SESSION_HANDLE session;
    bool hasSession;
    bool waitExempt;
    bool running;
  };
  std::map<uint64_t, Flight> flights;  // ticket → op; ordered, so "queued earlier" is a range

  uint64_t loadGen = 1;  // bumped by load() and close(): ops of an earlier load never start
  // Id of the share this object holds (0: none). Written under `mutex`; read without it by the
  // JS thread's admission of each call (CurrentShare), which Start re-checks under the lock.
  std::atomic<uint64_t> share{0};
  uint64_t nextShare = 1;
  std::map<CK_SESSION_HANDLE, CK_SLOT_ID> sessions;  // opened under `share`

  uint64_t Enter(const OpBase& op);
  // On the call's thread, before the C call: false when the op must not call into the module
  // (its load or its share ended while it was queued); the op then fails without calling.
  bool Start(uint64_t ticket, uint64_t opLoadGen, uint64_t opShare);
  void Leave(uint64_t ticket);
  // Blocks until every op queued before `ticket` (on `session` when sessionOnly) has run.
  // runningOnly: wait just for ops already inside a C call (environment teardown, where queued
  // work is refused by Start and never calls the module).
  void WaitForEarlier(uint64_t ticket, bool sessionOnly, CK_SESSION_HANDLE session, bool runningOnly = false);

  uint64_t CurrentShare() const { return share.load(std::memory_order_acquire); }
  // A C_Initialize of load `opLoadGen` took a share of the module: the object adopts it, unless
  // that load is gone or the object already holds one (then the caller gives it back). Returns
  // the new share id, or 0.
  uint64_t Adopt(uint64_t opLoadGen);
  // Ends the object's share: returns whether it held one and the sessions opened under it, which
  // the caller closes before it releases the share.
  bool TakeShare(std::vector<CK_SESSION_HANDLE>* open);
  // Ends the load: ops of it that have not started are refused from now on.
  void EndLoad();
  void TrackSession(CK_SESSION_HANDLE h, CK_SLOT_ID slot);
  void UntrackSession(CK_SESSION_HANDLE h);
  void UntrackSlot(CK_SLOT_ID slot);
};

// The sync forms of a C_* function (call.h): the raw API's, and two for callers that pass and slice
// buffers themselves (the pkcs11js facade), under symbols rather than names.
enum class CallForm {
  kPlain,
  kWrittenLength,  // answers the byte count written into the caller's `out` instead of a view
  kFlatMechanism,  // takes the mechanism as (type, parameter) arguments instead of one object
};

class ModuleObject : public Napi::ObjectWrap<ModuleObject> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit ModuleObject(const Napi::CallbackInfo& info);
  ~ModuleObject() override;

  // kForm: the plain C_X, or a form under a symbol of binding.writtenLength / flatMechanism (call.h).
  template <class Op, CallForm kForm = CallForm::kPlain>
  Napi::Value Sync(const Napi::CallbackInfo& info);
  template <class Op>
  Napi::Value Async(const Napi::CallbackInfo& info);

  const std::shared_ptr<Library>& library() const { return lib_; }
  bool initialized() const { return initialized_; }
  void SetInitialized(bool v) { initialized_ = v; }
  bool initPending = false;  // a C_InitializeAsync is under way
  // Bumped by every load and close: an async result from an earlier generation must not change
  // this object's state (it belongs to a load that is gone).
  uint64_t generation() const { return generation_; }

  const std::shared_ptr<FlightState>& flights() const { return flights_; }

  // Called by the environment's cleanup: close sessions, drop this object's init share, unload.
  // teardown: the environment is going away, so only work already inside the module is waited for.
  void Release(bool teardown = false);
  void DetachFromEnv() { envData_ = nullptr; }

  // The wrapper of `thisv`, as ObjectWrap::Unwrap (which leaves its error pending when there is
  // none), through a small per-environment cache of recent `this` objects: napi_unwrap is a
  // private-symbol lookup in V8's runtime, about 800 instructions by callgrind, on every C_* call;
  // a hit costs a reference read and an identity test.
  static ModuleObject* FromThis(Napi::Env env, napi_value thisv);

  // Async calls out: the wrapper stays alive while any is in flight (their results read it), with
  // one reference for all of them rather than one per call.
  void CallOut() {
    if (inFlight_++ == 0) Ref();
  }
  void CallBack() {
    if (inFlight_ > 0 && --inFlight_ == 0) Unref();
  }

 private:
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Has(const Napi::CallbackInfo& info);
  Napi::Value GetModuleInfo(const Napi::CallbackInfo& info);

  std::shared_ptr<Library> lib_;
  bool initialized_ = false;
  uint64_t generation_ = 0;

  std::shared_ptr<FlightState> flights_ = std::make_shared<FlightState>();
  EnvData* envData_ = nullptr;
  friend struct EnvData;
  size_t inFlight_ = 0;
};

}  // namespace p11
