#include "engine/completions.h"

#include <algorithm>

namespace p11 {

std::shared_ptr<Completions> Completions::Create(napi_env env) {
  std::shared_ptr<Completions> c(new Completions());
  napi_value name;
  if (napi_create_string_utf8(env, "p11bridge completions", NAPI_AUTO_LENGTH, &name) != napi_ok) return nullptr;
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, c.get(), Wake, &c->tsfn_) !=
      napi_ok)
    return nullptr;
  napi_value global, setImmediate, pump;
  if (napi_get_global(env, &global) != napi_ok ||
      napi_get_named_property(env, global, "setImmediate", &setImmediate) != napi_ok ||
      napi_create_function(env, "p11bridgePump", NAPI_AUTO_LENGTH, Pump, c.get(), &pump) != napi_ok ||
      napi_create_reference(env, setImmediate, 1, &c->setImmediate_) != napi_ok ||
      napi_create_reference(env, pump, 1, &c->pump_) != napi_ok)
    return nullptr;
  // Idle, the addon must not keep the process alive; CallStarted refs it while calls are out.
  if (napi_unref_threadsafe_function(env, c->tsfn_) != napi_ok) return nullptr;
  // Registered after the thread-safe function, so it runs before Node closes that one (cleanup
  // hooks run in reverse order): from then on no call thread touches it.
  c->hookArg_ = new std::shared_ptr<Completions>(c);
  if (napi_add_env_cleanup_hook(env, Closed, c->hookArg_) != napi_ok) {
    delete c->hookArg_;
    c->hookArg_ = nullptr;
    return nullptr;
  }
  return c;
}

Completions::~Completions() {
  for (Completion* c : done_) c->Abandon();
}

void Completions::Closed(void* arg) {
  auto* self = static_cast<std::shared_ptr<Completions>*>(arg);
  std::vector<Completion*> left;
  {
    std::lock_guard<std::mutex> lock((*self)->mu_);
    (*self)->open_ = false;
    left.swap((*self)->done_);
  }
  for (Completion* c : left) c->Abandon();
  delete self;
}

void Completions::Post(Completion* c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (open_) {
      done_.push_back(c);
      if (signalled_) return;  // a wake-up is on its way and will take this one too
      if (napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking) == napi_ok) {
        signalled_ = true;
        return;
      }
      // The function is closing: the environment is going away.
      done_.pop_back();
      open_ = false;
    }
  }
  c->Abandon();
}

void Completions::CallStarted(napi_env env) {
  if (inFlight_++ == 0) napi_ref_threadsafe_function(env, tsfn_);
}

void Completions::Wake(napi_env env, napi_value, void* context, void*) {
  if (!env) return;  // torn down; Closed() frees what is left
  static_cast<Completions*>(context)->Rearm(env);
}

napi_value Completions::Pump(napi_env env, napi_callback_info info) {
  void* context = nullptr;
  if (napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &context) == napi_ok && context)
    static_cast<Completions*>(context)->Rearm(env);
  return nullptr;
}

// Drains, then looks again on the next event-loop turn (after timers and I/O had theirs); when a
// turn finds nothing, the thread-safe function wakes the loop for the next completion.
void Completions::Rearm(napi_env env) {
  if (DrainOnce(env)) {
    napi_value global, fn, pump;
    if (napi_get_global(env, &global) == napi_ok && napi_get_reference_value(env, setImmediate_, &fn) == napi_ok &&
        napi_get_reference_value(env, pump_, &pump) == napi_ok && fn && pump &&
        napi_call_function(env, global, fn, 1, &pump, nullptr) == napi_ok)
      return;
    // No setImmediate (the environment is stopping): fall back to the thread-safe function.
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (done_.empty() || !open_) {
    signalled_ = false;
  } else if (napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking) != napi_ok) {
    signalled_ = false;
  }
}

bool Completions::DrainOnce(napi_env env) {
  std::vector<Completion*> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_.empty()) return false;
    batch.swap(done_);
    stats_.wakeups++;
    stats_.settled += batch.size();
    stats_.maxBatch = std::max<unsigned long long>(stats_.maxBatch, batch.size());
  }
  for (Completion* c : batch) {
    napi_handle_scope scope;
    const bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
    c->Settle(env);
    if (scoped) napi_close_handle_scope(env, scope);
  }
  inFlight_ -= std::min(inFlight_, batch.size());
  if (inFlight_ == 0) napi_unref_threadsafe_function(env, tsfn_);
  return true;
}

Completions::Stats Completions::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace p11
