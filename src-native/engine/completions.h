// Finished calls back to their JS thread. One per environment (the main thread, each worker):
// call threads append what finished to a list; the first append wakes the JS thread through the
// environment's one thread-safe function, and that one wake-up settles every call that finished
// meanwhile. Nothing is created per call: no uv handle, no thread-safe function, no persistent
// reference.
//
// While calls keep finishing, the queue is drained once per event-loop turn from a setImmediate,
// and the thread-safe function is only used to wake an idle loop. Node dispatches a thread-safe
// function's queue in a loop of up to 1,000 items without returning to the event loop, so with
// calls finishing as fast as they are made (a fast soft token) timers waited 240 ms.
//
// When the environment goes away (a worker terminated, the process exiting), the queue is closed
// first (a cleanup hook registered after the thread-safe function, so it runs before Node tears
// that down): calls finishing later are freed on their own thread without touching JS.
#pragma once
#include <node_api.h>

#include <memory>
#include <mutex>
#include <vector>

namespace p11 {

// A finished call, seen from its JS thread.
class Completion {
 public:
  virtual ~Completion() = default;
  // JS thread, inside a handle scope: settle the promise, release JS references, delete this.
  virtual void Settle(napi_env env) = 0;
  // Any thread, the environment gone: free native memory only, then delete this.
  virtual void Abandon() = 0;
};

class Completions {
 public:
  // Makes the queue for `env` (once, at addon init). Null when the thread-safe function could
  // not be made; async calls then fail to start.
  static std::shared_ptr<Completions> Create(napi_env env);
  ~Completions();

  // Any thread: `c` has finished. Settled on the JS thread, or abandoned when the env is gone.
  void Post(Completion* c);

  // JS thread: calls in flight in this environment keep the event loop alive, like libuv work.
  void CallStarted(napi_env env);

  struct Stats {
    unsigned long long wakeups, settled, maxBatch;
  };
  Stats stats();

 private:
  Completions() = default;
  static void Wake(napi_env env, napi_value js, void* context, void* data);  // thread-safe function
  static napi_value Pump(napi_env env, napi_callback_info info);             // setImmediate
  // Settles what is queued; true when there was something (then the next turn looks again).
  bool DrainOnce(napi_env env);
  void Rearm(napi_env env);
  static void Closed(void* arg);  // environment cleanup hook

  std::mutex mu_;
  std::vector<Completion*> done_;
  bool signalled_ = false;
  bool open_ = true;
  napi_threadsafe_function tsfn_ = nullptr;
  napi_ref setImmediate_ = nullptr;
  napi_ref pump_ = nullptr;
  size_t inFlight_ = 0;  // JS thread only
  Stats stats_{0, 0, 0};
  std::shared_ptr<Completions>* hookArg_ = nullptr;  // keeps this alive until the hook ran
};

}  // namespace p11
