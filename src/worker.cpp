#include "pricepipe/worker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace pricepipe {

const char* to_string(WorkerState state) {
  switch (state) {
    case WorkerState::kIdle: return "idle";
    case WorkerState::kRunning: return "running";
    case WorkerState::kCompleted: return "completed";
    case WorkerState::kStopped: return "stopped";
    case WorkerState::kFailed: return "failed";
  }
  return "unknown";
}

Worker::Worker(std::string name, FaultInjection fault) : name_(std::move(name)), fault_(fault) {}

void Worker::fire_fault() {
  const FaultInjection fault = fault_;
  fault_ = FaultInjection{};  // once per worker instance
  if (fault.kind == FaultInjection::Kind::kSlowStop) {
    slow_stop_ = true;  // takes effect when the worker stops: thread_main
    return;
  }
  if (fault.kind == FaultInjection::Kind::kThrow) {
    throw std::runtime_error("injected fault (--unsafe-fault-injection)");
  }
  spdlog::warn("{} worker: injected hang (--unsafe-fault-injection): no heartbeat until stopped", name_);
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, [this] { return stop_.load(std::memory_order_acquire); });
}

void Worker::stop_slowly() {
  spdlog::warn("{} worker: injected slow stop (--unsafe-fault-injection): ending in {} ms", name_,
               kSlowStopDelay.count());
  const auto end = Clock::now() + kSlowStopDelay;
  while (Clock::now() < end) {
    heartbeat();
    std::this_thread::sleep_for(std::min<Clock::duration>(end - Clock::now(), std::chrono::milliseconds(100)));
  }
}

Worker::~Worker() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void Worker::start() {
  heartbeat();
  state_.store(WorkerState::kRunning, std::memory_order_release);
  thread_ = std::thread(&Worker::thread_main, this);
}

void Worker::request_stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_release);
  }
  wake_.notify_all();
}

void Worker::nudge() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    nudged_ = true;
  }
  wake_.notify_all();
}

bool Worker::wait_until(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!done_cv_.wait_until(lock, deadline, [this] { return ended_; })) return false;
  lock.unlock();
  if (thread_.joinable()) thread_.join();
  return true;
}

std::string Worker::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

Worker::Clock::time_point Worker::last_heartbeat() const {
  return Clock::time_point(Clock::duration(heartbeat_.load(std::memory_order_relaxed)));
}

void Worker::heartbeat() {
  heartbeat_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

bool Worker::sleep_for(Clock::duration d) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, d, [this] { return nudged_ || stop_.load(std::memory_order_acquire); });
  nudged_ = false;
  return !stop_.load(std::memory_order_acquire);
}

void Worker::thread_main() {
  WorkerState end_state = WorkerState::kCompleted;
  std::string failure;
  try {
    run();
    if (stop_requested()) {
      end_state = WorkerState::kStopped;
      if (slow_stop_) stop_slowly();
    }
  } catch (const std::exception& e) {
    end_state = WorkerState::kFailed;
    failure = e.what();
  } catch (...) {
    end_state = WorkerState::kFailed;
    failure = "unknown exception";
  }
  if (end_state == WorkerState::kFailed) spdlog::error("{} worker failed: {}", name_, failure);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failure_ = failure;
    ended_ = true;
    state_.store(end_state, std::memory_order_release);
  }
  done_cv_.notify_all();
}

}  // namespace pricepipe
