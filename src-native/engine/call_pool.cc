#include "engine/call_pool.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <list>
#include <string>
#include <thread>
#include <vector>
#include <cstdio>
#include <cstring>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#define P11_THREAD_STATE 1
#include <pthread.h>
#endif

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

// A pool thread as the monitor sees it: whether it is inside a call, and its kernel thread id.
struct WorkerInfo {
  bool busy = false;
  long tid = 0;
};

// Whether a thread is asleep in the kernel (waiting on a device, a socket, a timer or a lock)
// rather than running or runnable: the state letter of /proc/self/task/<tid>/stat. 1 asleep,
// 0 running or runnable, -1 unknown (not Linux, no /proc).
int ThreadAsleep(long tid) {
#if P11_THREAD_STATE
  if (tid <= 0) return -1;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  // "tid (comm) S ...": comm may hold spaces and parentheses, so the state follows the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p || p[1] != ' ') return -1;
  const char st = p[2];
  return st == 'S' || st == 'D' ? 1 : 0;
#else
  (void)tid;
  return -1;
#endif
}

// Nanoseconds a thread has spent on a CPU or waiting for one (runnable), from
// /proc/self/task/<tid>/schedstat ("run_ns wait_ns slices"); -1 when that cannot be read (not
// Linux, or a kernel without scheduler statistics). A thread waiting on a token adds nothing; one
// computing adds about the elapsed time, also while it queues for a core behind others.
long long ThreadActiveNs(long tid) {
#if P11_THREAD_STATE
  if (tid <= 0) return -1;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", tid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  unsigned long long run = 0, wait = 0;
  if (std::sscanf(buf, "%llu %llu", &run, &wait) != 2) return -1;
  return static_cast<long long>(run + wait);
#else
  (void)tid;
  return -1;
#endif
}

// Names the calling thread as `top -H`, gdb and perf show it (at most 15 characters).
void NameThread(const char* name) {
#if defined(__linux__)
  pthread_setname_np(pthread_self(), name);
#else
  (void)name;
#endif
}

long CurrentTid() {
#if P11_THREAD_STATE
  return static_cast<long>(::syscall(SYS_gettid));
#else
  return 0;
#endif
}

}  // namespace

struct CallPool::State {
  std::mutex mu;
  std::condition_variable work;     // idle threads wait here
  std::condition_variable monitor;  // the monitor sleeps here while no call starves
  std::deque<Task*> queue;
  std::atomic<size_t> queued{0};  // queue.size(), readable without the lock (the spinner reads it)
  size_t threads = 0;             // pool threads alive (the monitor not counted)
  size_t idle = 0;                // of which waiting for work
  size_t spinning = 0;            // of which spinning before they wait (at most one)
  size_t starting = 0;            // started, not yet looking for work: they will take a queued call each
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
  std::list<WorkerInfo> workers;  // one per pool thread (stable addresses; guarded by mu)
  size_t heldBack = 0;            // times the monitor did not grow because the calls were on CPU

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

  int spinScore = 0;     // hits +1, misses −2: spin while it is not negative
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
    auto me = workers.emplace(workers.end());
    me->tid = CurrentTid();
    NameThread("p11-call");
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
      me->busy = true;
      lock.unlock();
      t->Execute();  // hands the task on; it is not ours any more
      lock.lock();
      me->busy = false;
    }
    workers.erase(me);
    threads--;
  }

  // A look at the busy threads (with mu held): each one's tid, whether it is asleep in the kernel
  // (ThreadAsleep) and its active time (ThreadActiveNs, -1 where unknown). `known` false: the
  // state cannot be read (not Linux).
  struct Seen {
    long tid;
    bool asleep;
    long long activeNs;
  };
  struct Look {
    bool known = true;
    std::vector<Seen> busy;
  };
  Look LookAtBusy() {
    Look l;
    for (const WorkerInfo& w : workers) {
      if (!w.busy) continue;
      const int a = ThreadAsleep(w.tid);
      if (a < 0) {
        l.known = false;
        return l;
      }
      l.busy.push_back(Seen{w.tid, a == 1, ThreadActiveNs(w.tid)});
    }
    return l;
  }

  // Whether a thread busy at both looks spent the time between them waiting in its module: asleep
  // at both looks, and (where the scheduler statistics can be read) running or runnable for less
  // than a tenth of the time between. The state alone is fooled by SoftHSM's threads, which sleep
  // on its internal locks often and briefly while they compute; the time alone by the kernel,
  // which brings a running thread's count up to date only at ticks and switches.
  static bool SomeoneSlept(const Look& a, const Look& b, Clock::duration between) {
    const long long tenth = std::chrono::duration_cast<std::chrono::nanoseconds>(between).count() / 10;
    for (const Seen& x : b.busy) {
      for (const Seen& y : a.busy) {
        if (x.tid != y.tid || !x.asleep || !y.asleep) continue;
        if (x.activeNs < 0 || y.activeNs < 0 || x.activeNs - y.activeNs < tenth) return true;
      }
    }
    return false;
  }

  void Monitor(const std::shared_ptr<State>& self) {
    NameThread("p11-monitor");
    std::unique_lock<std::mutex> lock(mu);
    // While the threads compute, the monitor looks less and less often (1, 2, 4 … 16 ms): a
    // CPU-bound load keeps calls waiting for as long as it lasts, and each look reads /proc.
    Clock::duration interval = starveAfter;
    while (!stopping) {
      if (queue.size() <= idle + starting) {
        interval = starveAfter;
        monitorAsleep = true;
        const bool woken = monitor.wait_for(lock, idleExit, [&] { return stopping || queue.size() > idle + starting; });
        monitorAsleep = false;
        if (!woken) break;  // nothing starved for a while: the monitor goes too
        continue;
      }
      const bool canGrow = threads < max;
      const Look look0 = canGrow ? LookAtBusy() : Look{};
      const Clock::time_point at0 = Clock::now();
      monitor.wait_for(lock, interval);
      if (queue.size() <= idle + starting || !canGrow) continue;
      // The oldest call waited a whole interval while every thread was busy. If busy threads spent
      // it asleep in their token (a smart card, a network HSM), more threads let the waiting calls
      // run side by side: one per waiting call, within the cap. If every busy thread was running
      // or runnable (a soft token computing on every core), more threads cannot run any sooner;
      // they only add context switches and lock contention (bench/raw, a 4-session pool on 2
      // cores: 10-30% more signatures/s held at 2 threads than grown to 4-7). "Asleep": see
      // SomeoneSlept(). Where the state cannot be read (not Linux), the pool grows as for a slow
      // token.
      if (look0.known) {
        const Look look1 = LookAtBusy();
        if (look1.known && !SomeoneSlept(look0, look1, Clock::now() - at0)) {
          heldBack++;
          interval = std::min<Clock::duration>(interval * 2, std::chrono::milliseconds(16));
          continue;
        }
      }
      interval = starveAfter;
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
    std::thread([t] {
      NameThread("p11-own");
      t->Execute();
    }).detach();
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
  return PoolStats{s_->threads, s_->idle, s_->queue.size(), s_->max, s_->core, s_->peak, s_->spawned, s_->heldBack};
}

void CallPool::Shutdown() {
  if (!s_) return;
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->stopping = true;
  s_->work.notify_all();
  s_->monitor.notify_all();
}

}  // namespace p11
