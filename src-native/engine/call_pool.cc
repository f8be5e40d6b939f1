#include "engine/call_pool.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

namespace p11 {

namespace {

using Clock = std::chrono::steady_clock;

// How long the spinning thread waits for the next call before it sleeps (P11BRIDGE_SPIN_US).

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#else
  std::this_thread::yield();
#endif
}

size_t EnvSize(const char* name, size_t dflt, size_t lo, size_t hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  char* end = nullptr;
  unsigned long long n = std::strtoull(v, &end, 10);
  if (!end || *end || n < lo || n > hi) return dflt;
  return static_cast<size_t>(n);
}

// Threads started as soon as calls need them: one per CPU (at least 2), within the cap.
size_t CoreFor(size_t max) {
  const unsigned cpus = std::thread::hardware_concurrency();
  return std::min(max, static_cast<size_t>(cpus > 2 ? cpus : 2));
}

}  // namespace

struct CallPool::State {
  std::mutex mu;
  std::condition_variable work;     // idle threads wait here
  std::condition_variable monitor;  // the monitor sleeps here while no call starves
  std::deque<Task*> queue;
  std::atomic<size_t> queued{0};  // queue.size(), readable without the lock (the spinner reads it)
  size_t threads = 0;   // pool threads alive (the monitor not counted)
  size_t idle = 0;      // of which waiting for work
  size_t spinning = 0;  // of which spinning before they wait (at most one)
  size_t starting = 0;  // started, not yet looking for work: they will take a queued call each
  size_t max = 64;
  size_t core = 2;
  size_t peak = 0;
  size_t spawned = 0;
  bool monitorRunning = false;
  bool monitorAsleep = false;
  bool stopping = false;
  Clock::duration idleExit = std::chrono::seconds(5);
  Clock::duration starveAfter = std::chrono::milliseconds(1);
  Clock::duration spin = std::chrono::microseconds(50);

  // With mu held. Returns false when no thread could be made (the caller runs with what exists).
  bool SpawnLocked(const std::shared_ptr<State>& self) {
    try {
      std::thread([self] { self->Worker(); }).detach();
    } catch (...) {
      return false;
    }
    threads++;
    starting++;
    spawned++;
    peak = std::max(peak, threads);
    return true;
  }

  int spinScore = 0;   // hits +1, misses −2: spin while it is not negative
  unsigned skipped = 0;  // spins left out since the score went negative
  bool SpinWorthIt() {
    if (spinScore >= 0) return true;
    if (++skipped < 64) return false;
    skipped = 0;
    spinScore = 0;  // try again
    return true;
  }

  void Worker() {
    std::unique_lock<std::mutex> lock(mu);
    starting--;
    for (;;) {
      if (queue.empty() && !stopping && spinning == 0 && spin.count() > 0 && SpinWorthIt()) {
        // One thread at a time spins a little before it sleeps: when the next call comes within
        // microseconds (a fast token, a JS thread busy issuing calls), sleeping then waking costs
        // two system calls and a context switch each time, most of the engine's overhead measured
        // on SoftHSM. Spinning only while it pays: after misses it stops, and tries again later.
        spinning++;
        lock.unlock();
        const auto until = Clock::now() + spin;
        while (queued.load(std::memory_order_acquire) == 0 && Clock::now() < until) CpuRelax();
        lock.lock();
        spinning--;
        const bool hit = !queue.empty();
        spinScore = hit ? std::min(spinScore + 1, 8) : spinScore - 2;
        if (hit) continue;
      }
      if (queue.empty()) {
        if (stopping) break;
        idle++;
        const bool timedOut = !work.wait_for(lock, idleExit, [&] { return stopping || !queue.empty(); });
        idle--;
        if (queue.empty()) {
          if (timedOut || stopping) break;
          continue;
        }
      }
      Task* t = queue.front();
      queue.pop_front();
      queued.store(queue.size(), std::memory_order_release);
      lock.unlock();
      t->Execute();  // hands the task on; it is not ours any more
      lock.lock();
    }
    threads--;
  }

  void Monitor(const std::shared_ptr<State>& self) {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      if (queue.size() <= idle + starting) {
        monitorAsleep = true;
        const bool woken = monitor.wait_for(lock, idleExit, [&] { return stopping || queue.size() > idle + starting; });
        monitorAsleep = false;
        if (!woken) break;  // nothing starved for a while: the monitor goes too
        continue;
      }
      monitor.wait_for(lock, starveAfter);
      if (queue.size() <= idle + starting) continue;
      // The oldest call waited a whole interval while every thread was busy: the threads are held
      // by slow calls, not by the CPU. One thread per waiting call, within the cap.
      if (Clock::now() - queue.front()->queuedAt >= starveAfter) {
        size_t want = std::min(queue.size() - idle - starting, max > threads ? max - threads : 0);
        while (want-- > 0 && SpawnLocked(self)) {
        }
      }
    }
    monitorRunning = false;
  }
};

namespace {
// Calls inside a module, counted without a lock on the hot path; the lock is for the exit wait.
std::atomic<size_t> g_inModule{0};
std::atomic<bool> g_exiting{false};
std::mutex g_exitMu;
std::condition_variable g_exitCv;
}  // namespace

bool ExitGuard::Enter() {
  g_inModule.fetch_add(1, std::memory_order_seq_cst);
  if (!g_exiting.load(std::memory_order_seq_cst)) return true;
  Leave();
  return false;
}

void ExitGuard::Leave() {
  if (g_inModule.fetch_sub(1, std::memory_order_seq_cst) == 1 && g_exiting.load(std::memory_order_seq_cst)) {
    std::lock_guard<std::mutex> lock(g_exitMu);
    g_exitCv.notify_all();
  }
}

void ExitGuard::BeginExit() {
  std::unique_lock<std::mutex> lock(g_exitMu);
  g_exiting.store(true, std::memory_order_seq_cst);
  g_exitCv.wait_for(lock, std::chrono::milliseconds(kExitWaitMs), [] { return g_inModule.load() == 0; });
}

void ExitGuard::RegisterFor() { std::atexit(BeginExit); }

std::shared_ptr<CallPool> CallPool::Create() {
  auto s = std::make_shared<State>();
  s->max = EnvSize("P11BRIDGE_MAX_THREADS", 64, 1, 4096);
  s->core = CoreFor(s->max);
  s->idleExit = std::chrono::milliseconds(EnvSize("P11BRIDGE_THREAD_IDLE_MS", 5000, 1, 3600000));
  s->spin = std::chrono::microseconds(EnvSize("P11BRIDGE_SPIN_US", 50, 0, 10000));
  return std::make_shared<CallPool>(std::move(s));
}

void CallPool::Submit(Task* t) {
  State& s = *s_;
  t->queuedAt = Clock::now();
  std::lock_guard<std::mutex> lock(s.mu);
  s.queue.push_back(t);
  s.queued.store(s.queue.size(), std::memory_order_release);
  if (s.queue.size() <= s.spinning) return;  // the spinning thread takes it
  if (s.queue.size() <= s.idle + s.spinning) {
    s.work.notify_one();
    return;
  }
  if (s.queue.size() <= s.idle + s.spinning + s.starting) return;  // a thread on its way takes it
  // No idle thread for this call. Up to `core` threads, start one now; past that, leave it to the
  // monitor, which adds threads only if the calls really starve.
  if (s.threads < s.core && s.threads < s.max && s.SpawnLocked(s_)) return;
  if (s.threads == 0) {
    // Not even one thread could be made (the system refuses threads): the call would wait for
    // ever. Run it here instead; slow, but it completes.
    s.queue.pop_back();
    s.queued.store(s.queue.size(), std::memory_order_release);
    t->Execute();
    return;
  }
  if (s.threads >= s.max) return;
  if (!s.monitorRunning) {
    try {
      auto self = s_;
      std::thread([self] { self->Monitor(self); }).detach();
      s.monitorRunning = true;
    } catch (...) {
      // No monitor: the calls still run, on the threads there are.
    }
  } else if (s.monitorAsleep) {
    s.monitor.notify_one();
  }
}

bool CallPool::Detached(Task* t) {
  try {
    std::thread([t] { t->Execute(); }).detach();
    return true;
  } catch (...) {
    return false;
  }
}

void CallPool::SetMax(size_t max) {
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->max = max < 1 ? 1 : max;
  s_->core = CoreFor(s_->max);
}

PoolStats CallPool::Stats() {
  std::lock_guard<std::mutex> lock(s_->mu);
  return PoolStats{s_->threads, s_->idle, s_->queue.size(), s_->max, s_->core, s_->peak, s_->spawned};
}

void CallPool::Shutdown() {
  if (!s_) return;
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->stopping = true;
  s_->work.notify_all();
  s_->monitor.notify_all();
}

}  // namespace p11
