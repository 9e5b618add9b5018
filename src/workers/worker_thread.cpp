#include "pricepipe/workers/worker_thread.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "pricepipe/workers/terminal_error.hpp"

namespace pricepipe {

WorkerThread::WorkerThread(std::string name, std::unique_ptr<WorkerLoop> loop, OnChange on_change)
    : name_(std::move(name)), loop_(std::move(loop)), on_change_(std::move(on_change)) {}

WorkerThread::~WorkerThread() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void WorkerThread::start() {
  context_.heartbeat();
  state_.store(WorkerState::kRunning, std::memory_order_release);
  thread_ = std::thread(&WorkerThread::thread_main, this);
}

bool WorkerThread::wait_until(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!done_cv_.wait_until(lock, deadline, [this] { return ended_; })) return false;
  lock.unlock();
  if (thread_.joinable()) thread_.join();
  return true;
}

std::string WorkerThread::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

int WorkerThread::terminal_exit() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return terminal_exit_;
}

WorkerState WorkerThread::run_loop() {
  set_up_ = loop_->setup(context_);
  if (!set_up_) return context_.stop_requested() ? WorkerState::kStopped : WorkerState::kCompleted;
  bool complete = false;
  while (!complete && !context_.stop_requested()) complete = loop_->step(context_);
  const bool stopping = context_.stop_requested();
  drained_ = true;
  loop_->drain(context_, stopping ? WorkerEnd::kStopped : WorkerEnd::kCompleted);
  context_.set_releasing();
  if (on_change_) on_change_();
  return stopping ? WorkerState::kStopped : WorkerState::kCompleted;
}

// After a failure in step(): the loop's shutdown sequence still runs, so what can be
// delivered or committed is, and the first failure is the one reported.
void WorkerThread::fail_drain() {
  if (!set_up_ || drained_) return;
  drained_ = true;
  try {
    loop_->drain(context_, WorkerEnd::kFailed);
  } catch (const std::exception& e) {
    spdlog::warn("{} worker: ending after the failure: {}", name_, e.what());
  }
}

void WorkerThread::thread_main() {
  WorkerState end_state = WorkerState::kFailed;
  std::string failure;
  int terminal_exit = 0;
  try {
    end_state = run_loop();
  } catch (const TerminalError& e) {
    failure = e.what();
    terminal_exit = e.exit_code();
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (end_state == WorkerState::kFailed) {
    fail_drain();
    spdlog::error("{} worker failed: {}", name_, failure);
  }
  loop_.reset();  // the librdkafka handles go on the thread that used them
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failure_ = failure;
    terminal_exit_ = terminal_exit;
    ended_ = true;
    state_.store(end_state, std::memory_order_release);
  }
  done_cv_.notify_all();
  if (on_change_) on_change_();
}

}  // namespace pricepipe
