#pragma once
// What a worker thread and its owner share: the stop flag and its wake-up, the heartbeat, and
// what the worker says about itself (broker reachable, answered once, assigned, releasing).
// The owner's WorkerThread holds it; the worker's loop gets it by reference for its run.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace pricepipe {

class WorkerContext {
 public:
  using Clock = std::chrono::steady_clock;

  WorkerContext() { heartbeat(); }
  WorkerContext(const WorkerContext&) = delete;
  WorkerContext& operator=(const WorkerContext&) = delete;

  // Owner side, any thread.
  void request_stop();
  // Cuts a sleep_for() short without stopping (new settings to apply).
  void nudge();
  Clock::time_point last_heartbeat() const;
  bool broker_reachable() const { return broker_up_.load(std::memory_order_relaxed); }
  bool broker_answered() const { return broker_answered_.load(std::memory_order_relaxed); }
  // A broker connection is up and, for a worker in a consumer group, its assignment came.
  bool ready() const { return broker_reachable() && assigned_.load(std::memory_order_relaxed); }
  bool releasing() const { return releasing_.load(std::memory_order_acquire); }
  // How long a broker this worker waits on has sent nothing (ClientStats::silent_ms).
  std::chrono::milliseconds broker_silent() const {
    return std::chrono::milliseconds(broker_silent_ms_.load(std::memory_order_relaxed));
  }
  // The worker's output (the consumer's stdout) has taken nothing for a while.
  bool output_blocked() const { return output_blocked_.load(std::memory_order_relaxed); }

  // Worker side, the worker thread only.
  bool stop_requested() const { return stop_.load(std::memory_order_acquire); }
  void heartbeat();
  // Sleeps for `d`, until a stop is requested or until nudged; false when stopping.
  bool sleep_for(Clock::duration d);
  // Blocks without heartbeating until a stop is requested (the hang fault).
  void wait_for_stop();
  void set_broker_reachable(bool up) {
    broker_up_.store(up, std::memory_order_relaxed);
    if (up) set_broker_answered();
  }
  void set_broker_answered() { broker_answered_.store(true, std::memory_order_relaxed); }
  // For a worker in a consumer group: whether the group gave it its (possibly empty) share.
  // Workers that never call it count as assigned.
  void set_assigned(bool assigned) { assigned_.store(assigned, std::memory_order_relaxed); }
  void set_broker_silent(std::int64_t ms) { broker_silent_ms_.store(ms, std::memory_order_relaxed); }
  void set_output_blocked(bool blocked) { output_blocked_.store(blocked, std::memory_order_relaxed); }
  // Only destroying the librdkafka handles is left, which can take a minute while the brokers
  // are unreachable; nothing of the delivery promise waits on that. Set by WorkerThread.
  void set_releasing() { releasing_.store(true, std::memory_order_release); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<Clock::rep> heartbeat_{0};
  std::atomic<bool> broker_up_{false};
  std::atomic<bool> broker_answered_{false};
  std::atomic<bool> assigned_{true};
  std::atomic<bool> releasing_{false};
  std::atomic<bool> output_blocked_{false};
  std::atomic<std::int64_t> broker_silent_ms_{0};
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // stop requests and nudges, for sleep_for
  bool nudged_ = false;
};

}  // namespace pricepipe
