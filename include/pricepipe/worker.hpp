#pragma once
// A worker owns one thread. The supervisor starts it, asks it to stop, reads its state and
// heartbeat, and joins it; the thread only runs `run()`. An exception leaving `run()` marks
// the worker failed with the exception's message. Signals are blocked in worker threads
// (they inherit the supervisor's mask), so only the supervisor sees them.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "pricepipe/fault.hpp"

namespace pricepipe {

enum class WorkerState {
  kIdle,       // not started
  kRunning,
  kCompleted,  // finished its job (producer.count, consumer.exit_after, drained)
  kStopped,    // stopped on request
  kFailed,     // threw, or hit a fatal librdkafka error
};

const char* to_string(WorkerState state);

class Worker {
 public:
  using Clock = std::chrono::steady_clock;

  Worker(std::string name, FaultInjection fault);
  virtual ~Worker();  // requests a stop and joins
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  const std::string& name() const { return name_; }

  // Supervisor thread only.
  void start();
  void request_stop();
  // Cuts a sleep_for() short without stopping (new settings to apply). Any thread.
  void nudge();
  // Waits for the thread to end, at most until `deadline`; true when it has ended (and was
  // joined).
  bool wait_until(Clock::time_point deadline);

  // Any thread.
  WorkerState state() const { return state_.load(std::memory_order_acquire); }
  std::string failure() const;
  Clock::time_point last_heartbeat() const;
  // Whether the worker's client currently has a broker connection up (from librdkafka's
  // statistics); false until the first report.
  bool broker_reachable() const { return broker_up_.load(std::memory_order_relaxed); }
  // Whether the worker can do its job right now, for /readyz: by default, a broker connection
  // is up.
  virtual bool ready() const { return broker_reachable(); }
  // Whether a broker answered this worker since it started.
  bool broker_answered() const { return broker_answered_.load(std::memory_order_relaxed); }
  // The worker finished its work and only destroys its librdkafka handles now, which can take
  // a minute while the brokers are unreachable (the consumer group's last requests time out).
  // Nothing of the delivery promise waits on that, so a stop need not either.
  bool releasing() const { return releasing_.load(std::memory_order_acquire); }

 protected:
  virtual void run() = 0;

  // Worker thread only.
  bool stop_requested() const { return stop_.load(std::memory_order_acquire); }
  void heartbeat();
  // Sleeps for `d`, until a stop is requested or until nudged; returns false when stopping.
  bool sleep_for(Clock::duration d);
  void set_broker_reachable(bool up) {
    broker_up_.store(up, std::memory_order_relaxed);
    if (up) broker_answered_.store(true, std::memory_order_relaxed);
  }
  void set_broker_answered() { broker_answered_.store(true, std::memory_order_relaxed); }
  // Call when only destroying the librdkafka handles is left (see releasing()). An armed
  // slow-stop fault stands for work still going on, so it keeps the mark off.
  void set_releasing() {
    if (!slow_stop_) releasing_.store(true, std::memory_order_release);
  }
  // Test fault injection: throws, stops heartbeating until a stop is requested, or arms a
  // slow stop, once `events` reaches the configured count. A no-op unless
  // --unsafe-fault-injection set it.
  void inject_fault(std::uint64_t events) {
    if (fault_.kind != FaultInjection::Kind::kNone && events >= fault_.after_events) fire_fault();
  }

 private:
  void thread_main();
  void fire_fault();
  // The slow-stop fault: kSlowStopDelay more of heartbeating before the thread ends.
  void stop_slowly();

  std::string name_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<WorkerState> state_{WorkerState::kIdle};
  std::atomic<Clock::rep> heartbeat_{0};
  std::atomic<bool> broker_up_{false};
  std::atomic<bool> broker_answered_{false};
  std::atomic<bool> releasing_{false};
  FaultInjection fault_;
  bool slow_stop_ = false;  // the slow-stop fault fired; worker thread only
  mutable std::mutex mutex_;
  std::condition_variable wake_;     // stop requests, for sleep_for
  std::condition_variable done_cv_;  // thread end, for wait_until
  bool ended_ = false;
  bool nudged_ = false;
  std::string failure_;
};

}  // namespace pricepipe
