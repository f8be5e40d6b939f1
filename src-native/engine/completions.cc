#include "engine/completions.h"

#include <algorithm>

namespace p11 {

std::shared_ptr<Completions> Completions::Create(napi_env env) {
  std::shared_ptr<Completions> c(new Completions());
  napi_value name;
  if (napi_create_string_utf8(env, "p11bridge completions", NAPI_AUTO_LENGTH, &name) != napi_ok) return nullptr;
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, c.get(), Drain, &c->tsfn_) !=
      napi_ok)
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

void Completions::Drain(napi_env env, napi_value, void* context, void*) {
  auto* self = static_cast<Completions*>(context);
  if (!env) return;  // torn down; Closed() frees what is left
  std::vector<Completion*> batch;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    batch.swap(self->done_);
    self->signalled_ = false;
    self->stats_.wakeups++;
    self->stats_.settled += batch.size();
    self->stats_.maxBatch = std::max<unsigned long long>(self->stats_.maxBatch, batch.size());
  }
  for (Completion* c : batch) {
    napi_handle_scope scope;
    const bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
    c->Settle(env);
    if (scoped) napi_close_handle_scope(env, scope);
  }
  self->inFlight_ -= std::min(self->inFlight_, batch.size());
  if (self->inFlight_ == 0) napi_unref_threadsafe_function(env, self->tsfn_);
}

Completions::Stats Completions::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace p11
