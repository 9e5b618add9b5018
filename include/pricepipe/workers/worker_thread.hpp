#pragma once
// The host of one worker: owns its thread, its WorkerContext (stop flag, heartbeat) and its
// loop, and joins the thread in its own destructor. The supervisor starts it, asks it to stop,
// reads its state and heartbeat, and joins it; the thread runs the loop (worker_loop.hpp) and
// destroys it before it ends. An exception leaving the loop marks the worker failed with the
// exception's message (and a TerminalError's exit code). Signals are blocked in worker threads (they inherit the supervisor's
// mask), so only the supervisor sees them.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pricepipe/workers/worker_context.hpp"
#include "pricepipe/workers/worker_loop.hpp"
#include "pricepipe/workers/worker_state.hpp"

namespace pricepipe {

class WorkerThread {
 public:
  using Clock = std::chrono::steady_clock;

  // Called on the worker thread when the worker's work has ended (releasing() turned true) and
  // again when the thread ends, so that its owner need not poll for either.
  using OnChange = std::function<void()>;

  WorkerThread(std::string name, std::unique_ptr<WorkerLoop> loop, OnChange on_change = {});
  ~WorkerThread();  // requests a stop and joins
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  const std::string& name() const { return name_; }

  // Owner thread only.
  void start();
  void request_stop() { context_.request_stop(); }
  // Cuts the worker's sleep short without stopping (new settings to apply). Any thread.
  void nudge() { context_.nudge(); }
  // Waits for the thread to end, at most until `deadline`; true when it has ended (and was
  // joined).
  bool wait_until(Clock::time_point deadline);

  // Any thread.
  WorkerState state() const { return state_.load(std::memory_order_acquire); }
  std::string failure() const;
  // The exit code of a TerminalError that failed it (terminal_error.hpp); 0 for any other end.
  int terminal_exit() const;
  Clock::time_point last_heartbeat() const { return context_.last_heartbeat(); }
  // Whether the worker's client currently has a broker connection up (from librdkafka's
  // statistics); false until the first report.
  bool broker_reachable() const { return context_.broker_reachable(); }
  // Whether the worker can do its job right now, for /readyz: a broker connection is up and a
  // consumer has its assignment.
  bool ready() const { return context_.ready(); }
  bool output_blocked() const { return context_.output_blocked(); }
  std::chrono::milliseconds broker_silent() const { return context_.broker_silent(); }
  // Whether a broker answered this worker since it started.
  bool broker_answered() const { return context_.broker_answered(); }
  // The worker finished its work and only destroys its librdkafka handles now, which can take
  // a minute while the brokers are unreachable (the consumer group's last requests time out).
  // Nothing of the delivery promise waits on that, so a stop need not either.
  bool releasing() const { return context_.releasing(); }

 private:
  void thread_main();
  // Runs the loop; returns how it ended, or throws what setup(), step() or drain() threw.
  WorkerState run_loop();
  void fail_drain();

  std::string name_;
  WorkerContext context_;
  std::unique_ptr<WorkerLoop> loop_;  // the worker thread's from start() on
  OnChange on_change_;
  bool set_up_ = false;               // worker thread only
  bool drained_ = false;              // worker thread only
  std::thread thread_;
  std::atomic<WorkerState> state_{WorkerState::kIdle};
  mutable std::mutex mutex_;
  std::condition_variable done_cv_;  // thread end, for wait_until
  bool ended_ = false;
  std::string failure_;
  int terminal_exit_ = 0;
};

}  // namespace pricepipe
