// The addon's own call threads. Async PKCS#11 calls never run on libuv's pool, which serves fs,
// dns.lookup, zlib and crypto for the whole process: a slow token there stalls everything else.
//
// Each loaded module (Library) has a CallPool. It starts no thread until a call comes, grows on
// demand and lets idle threads go after a few seconds:
// - up to `core` threads (the number of CPUs) start as soon as a call finds no idle thread, which
//   is what a CPU-bound soft token wants: about one runnable thread per core;
// - beyond that a thread is added only when calls starve: a monitor thread, awake only while calls
//   wait for a thread, adds threads (up to the queue's length) once the oldest waiting call has
//   waited `starveAfter`. A slow token (a smart card, a network HSM) so ends up with about one
//   thread per busy session, and a fast one never pays for threads it cannot run;
// - never more than `max` threads (default 64; P11BRIDGE_MAX_THREADS, or load(path, { maxThreads })).
// Calls that block by design (a blocking C_WaitForSlotEvent) and the lifecycle calls
// (C_Initialize, C_Finalize) each get a thread of their own instead, so no number of watchers or
// slow calls can hold up a finalize, a close or a process exit.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

namespace p11 {

// One unit of work for a call thread: Execute runs there and then hands the task on (to its
// environment's completion queue), so the pool never touches it again.
class Task {
 public:
  virtual ~Task() = default;
  virtual void Execute() = 0;
  std::chrono::steady_clock::time_point queuedAt;
};

// Process exit. On the main thread process.exit() runs the C exit() at once: no environment
// cleanup, so nothing waits for calls in flight, and exit handlers (the modules' static
// destructors, OpenSSL's cleanup) would run under them. libuv's pool was joined by
// uv_library_shutdown; our threads are not. So before exit: the JS 'exit' event (lib/native.ts)
// calls BeginExit, and an atexit() handler registered when each module is loaded does the same
// for a C-level exit. From then on no async call starts, and calls inside a module are waited for
// (blocking slot-event waits excepted, and never longer than kExitWaitMs).
class ExitGuard {
 public:
  static bool Enter();  // false once the process is exiting: do not call the module
  static void Leave();
  static void RegisterFor();  // after a module is loaded
  static void BeginExit();
  static constexpr int kExitWaitMs = 10000;
};

struct PoolStats {
  size_t threads, idle, queued, max, core, peak, spawned, heldBack;
};

class CallPool {
 public:
  // Defaults from the environment (P11BRIDGE_MAX_THREADS) and the machine (CPUs).
  static std::shared_ptr<CallPool> Create();

  // From a JS thread: runs the task on a pool thread.
  void Submit(Task* t);
  // Runs the task on a new thread of its own (blocking waits, C_Initialize/C_Finalize).
  static bool Detached(Task* t);

  void SetMax(size_t max);
  PoolStats Stats();

  // Ends idle threads and the monitor; busy threads finish their task and exit.
  void Shutdown();

  struct State;  // shared with the threads, which outlive nothing but may outlive the pool object
  explicit CallPool(std::shared_ptr<State> s) : s_(std::move(s)) {}
  ~CallPool() { Shutdown(); }

 private:
  std::shared_ptr<State> s_;
};

}  // namespace p11
