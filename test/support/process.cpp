#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <stdexcept>

namespace pricepipe::test {

Process::Process(const std::vector<std::string>& argv, const std::string& stdin_data) {
  int out_pipe[2];
  int err_pipe[2];
  int in_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 || pipe2(in_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // The test runner may have signals blocked; the child starts from a clean mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(in_pipe[0]);
  if (!stdin_data.empty()) {
    // Small inputs only: the pipe buffer takes them without blocking.
    const ssize_t ignored = write(in_pipe[1], stdin_data.data(), stdin_data.size());
    (void)ignored;
  }
  close(in_pipe[1]);
  reader_ = std::thread(&Process::read_loop, this, out_pipe[0], err_pipe[0]);
}

Process::~Process() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
  if (reader_.joinable()) reader_.join();
}

void Process::read_loop(int out_fd, int err_fd) {
  using Clock = std::chrono::steady_clock;
  int fds[2] = {out_fd, err_fd};
  char buffer[65536];
  double allowance = 0;  // bytes of stdout the rate allows to read now
  auto last = Clock::now();
  while (fds[0] >= 0 || fds[1] >= 0) {
    const std::size_t rate = stdout_rate_.load();
    const auto now = Clock::now();
    allowance = std::min(allowance + std::chrono::duration<double>(now - last).count() * static_cast<double>(rate),
                         std::max(static_cast<double>(rate) / 10, 1.0));
    if (rate == 0) allowance = 0;  // paused: not even the byte the cap would leave from before
    last = now;
    const std::size_t out_limit =
        rate == kUnlimited ? sizeof buffer : std::min(sizeof buffer, static_cast<std::size_t>(allowance));
    // A paused or throttled stdout is not polled: its data waits in the pipe.
    pollfd polled[2] = {{out_limit > 0 ? fds[0] : -1, POLLIN, 0}, {fds[1], POLLIN, 0}};
    if (poll(polled, 2, rate == kUnlimited ? 1000 : 20) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || (polled[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t got = read(fds[i], buffer, i == 0 ? out_limit : sizeof buffer);
      if (i == 0 && got > 0 && rate != kUnlimited) allowance -= static_cast<double>(got);
      if (got > 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        (i == 0 ? out_ : err_).append(buffer, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i]);
        fds[i] = -1;
      }
    }
    changed_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

bool Process::exited_within(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

void Process::signal(int sig) {
  if (!reaped_) kill(pid_, sig);
}

std::string Process::out() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return out_;
}

std::string Process::err() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return err_;
}

bool Process::read_until(const std::function<bool(const std::string&, const std::string&)>& done,
                         std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return done(out_, err_) || closed_; });
  return done(out_, err_);
}

ProcessResult Process::wait(std::chrono::milliseconds timeout) {
  ProcessResult result;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return closed_; })) {
      result.timed_out = true;
      kill(pid_, SIGKILL);  // its pipes close, and the reader ends
    }
  }
  if (reader_.joinable()) reader_.join();
  rusage usage{};
  wait4(pid_, &status_, 0, &usage);
  result.peak_rss_kib = usage.ru_maxrss;
  reaped_ = true;
  if (WIFEXITED(status_)) result.exit_code = WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) result.term_signal = WTERMSIG(status_);
  std::lock_guard<std::mutex> lock(mutex_);
  result.out = out_;
  result.err = err_;
  return result;
}

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& stdin_data) {
  Process process(argv, stdin_data);
  return process.wait(timeout);
}

long rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace pricepipe::test
