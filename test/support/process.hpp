#pragma once
// Test helper: runs a program as a child process with its stdout and stderr captured, so
// tests drive the real pricepipe binary (and kcat) the way a user does. A reader thread per
// process drains both pipes all the time, so a child never blocks on a full pipe while the
// test waits on another one.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <limits>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pricepipe::test {

struct ProcessResult {
  int exit_code = -1;      // -1 when killed by a signal
  int term_signal = 0;     // the signal that ended it, if any
  bool timed_out = false;  // killed by the helper after the timeout
  long peak_rss_kib = 0;   // its peak resident set (ru_maxrss of wait4)
  std::string out;
  std::string err;
};

class Process {
 public:
  explicit Process(const std::vector<std::string>& argv, const std::string& stdin_data = "");
  ~Process();  // kills and reaps a child that is still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // What it printed so far.
  std::string out() const;
  std::string err() const;
  // Waits until `done(out, err)` is true; false when the timeout passed or the process closed
  // its output first.
  bool read_until(const std::function<bool(const std::string&, const std::string&)>& done,
                  std::chrono::milliseconds timeout);
  // How fast its stdout is read, in bytes per second: 0 pauses the reader (a paused `| less`),
  // a small number makes a slow one; kUnlimited (the default) reads as it comes. Its stderr is
  // always read.
  static constexpr std::size_t kUnlimited = std::numeric_limits<std::size_t>::max();
  void read_stdout_at(std::size_t bytes_per_second) { stdout_rate_ = bytes_per_second; }
  // Whether it has exited within `timeout`, without reaping it or reading its output (which a
  // paused reader leaves unread).
  bool exited_within(std::chrono::milliseconds timeout) const;
  // Waits for exit (killing it after `timeout`) and returns everything it printed.
  ProcessResult wait(std::chrono::milliseconds timeout);

 private:
  void read_loop(int out_fd, int err_fd);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_;
  std::string err_;
  bool closed_ = false;  // both pipes reached end of file
  std::atomic<std::size_t> stdout_rate_{kUnlimited};
  std::thread reader_;
};

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& stdin_data = "");

std::vector<std::string> split_lines(const std::string& text);

// VmRSS of process `pid` in KiB, from /proc; 0 when it is gone.
long rss_kib(pid_t pid);

}  // namespace pricepipe::test
