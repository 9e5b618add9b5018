#pragma once
// Test helper: runs a program as a child process with its stdout and stderr captured, so
// tests drive the real pricepipe binary (and kcat) the way a user does.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace pricepipe::test {

struct ProcessResult {
  int exit_code = -1;     // -1 when killed by a signal
  int term_signal = 0;    // the signal that ended it, if any
  bool timed_out = false; // killed by the helper after the timeout
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
  // Reads output until `done(out, err)` is true or the timeout passes; false on timeout or
  // when the process ended first.
  bool read_until(const std::function<bool(const std::string&, const std::string&)>& done,
                  std::chrono::milliseconds timeout);
  // Waits for exit (killing it after `timeout`) and returns everything it printed.
  ProcessResult wait(std::chrono::milliseconds timeout);

 private:
  bool pump(int timeout_ms);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  bool reaped_ = false;
  int status_ = 0;
};

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& stdin_data = "");

std::vector<std::string> split_lines(const std::string& text);

}  // namespace pricepipe::test
