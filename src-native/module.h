// The JS `PKCS11` object: one loaded module as seen from one JS environment. It holds a share of
// the process-wide Library, this object's share of C_Initialize, the sessions it opened (closed if
// its environment is torn down, e.g. a terminated worker) and the async work in flight.
#pragma once
#include <napi.h>

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

// Async work in flight on one module object, shared with the work items so a late worker thread
// never touches a freed wrapper.
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

  uint64_t Enter(const OpBase& op);
  void Start(uint64_t ticket);  // on the pool thread, before the C call
  void Leave(uint64_t ticket);
  // Blocks until every op queued before `ticket` (on `session` when sessionOnly) has run.
  // runningOnly: wait just for ops already inside a C call (environment teardown, where queued
  // work may be cancelled and never report back).
  void WaitForEarlier(uint64_t ticket, bool sessionOnly, CK_SESSION_HANDLE session, bool runningOnly = false);
};

class ModuleObject : public Napi::ObjectWrap<ModuleObject> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit ModuleObject(const Napi::CallbackInfo& info);
  ~ModuleObject() override;

  template <class Op>
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

  // Sessions this object opened, to close them when its environment goes away.
  void TrackSession(CK_SESSION_HANDLE h, CK_SLOT_ID slot);
  void UntrackSession(CK_SESSION_HANDLE h);
  void UntrackSlot(CK_SLOT_ID slot);
  void UntrackAll() { sessions_.clear(); }
  std::vector<CK_SESSION_HANDLE> TrackedSessions() const {
    std::vector<CK_SESSION_HANDLE> v;
    for (auto& s : sessions_) v.push_back(s.first);
    return v;
  }

  // Called by the environment's cleanup: close sessions, drop this object's init share, unload.
  // teardown: the environment is going away, so only work already inside the module is waited for.
  void Release(bool teardown = false);
  void DetachFromEnv() { envData_ = nullptr; }

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

  std::map<CK_SESSION_HANDLE, CK_SLOT_ID> sessions_;
};

}  // namespace p11
