#include "pricepipe/workers/worker_context.hpp"

namespace pricepipe {

void WorkerContext::request_stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_release);
  }
  wake_.notify_all();
}

void WorkerContext::nudge() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    nudged_ = true;
  }
  wake_.notify_all();
}

WorkerContext::Clock::time_point WorkerContext::last_heartbeat() const {
  return Clock::time_point(Clock::duration(heartbeat_.load(std::memory_order_relaxed)));
}

void WorkerContext::heartbeat() {
  heartbeat_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

bool WorkerContext::sleep_for(Clock::duration d) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, d, [this] { return nudged_ || stop_.load(std::memory_order_acquire); });
  nudged_ = false;
  return !stop_.load(std::memory_order_acquire);
}

void WorkerContext::wait_for_stop() {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, [this] { return stop_.load(std::memory_order_acquire); });
}

}  // namespace pricepipe
