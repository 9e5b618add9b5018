// The consumer's output on real descriptors: a pipe whose reader is gone, paused or slow, a
// full disk, a socket, a file.
#include "catch_compat.hpp"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <thread>

#include "pricepipe/consumer/line_output.hpp"

using namespace pricepipe;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Holds `count` lines, partition = offset % partitions, each line naming both.
void hold_lines(LineOutput& out, int count, int partitions = 1) {
  for (int i = 0; i < count; ++i) {
    out.text() += "{\"partition\":" + std::to_string(i % partitions) + ",\"offset\":" + std::to_string(i) +
                  ",\"padding\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n";
    out.mark(i % partitions, i, true);
  }
}

// Everything the read end holds now (it must be non-blocking).
std::string read_available(int fd) {
  std::string text;
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

// Reads `fd` until end of file, on a thread of its own.
struct Drain {
  explicit Drain(int fd) : thread([this, fd] {
    char buffer[65536];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
  }) {}
  std::string text;
  std::thread thread;
};

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() {
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    REQUIRE(fcntl(fds[1], F_SETPIPE_SZ, 4096) >= 0);  // one page: full after a few lines
  }
  ~Pipe() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  void close_write() {
    close(fds[1]);
    fds[1] = -1;
  }
};

}  // namespace

TEST_CASE("a reader that is gone is a terminal failure (exit 74) and a full disk is not", "[unit][consumer]") {
  const auto previous = std::signal(SIGPIPE, SIG_IGN);  // as the daemon does
  {
    Pipe pipe;
    close(pipe.fds[0]);  // `pricepipe | head -n 5` once head has exited
    pipe.fds[0] = -1;
    LineOutput closed(pipe.fds[1]);
    hold_lines(closed, 1);
    try {
      closed.write_until(Clock::now() + 1s);
      FAIL("the write to a pipe without a reader succeeded");
    } catch (const OutputClosed& e) {
      CHECK(e.exit_code() == 74);
      CHECK_THAT(e.what(), Catch::Contains("the reader is gone"));
    }
    CHECK(closed.failed());
    CHECK_FALSE(closed.write_until(Clock::now() + 1s));  // nothing is written after a failure
    CHECK(closed.take_written().lines == 0);
  }
  std::signal(SIGPIPE, previous);

  const int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(full >= 0);
  LineOutput no_space(full);
  hold_lines(no_space, 1);
  bool terminal = false;
  bool failed = false;
  try {
    no_space.write_until(Clock::now() + 1s);
  } catch (const OutputClosed&) {
    terminal = true;
  } catch (const OutputError& e) {
    failed = true;
    CHECK_THAT(e.what(), Catch::Contains("No space left on device"));
  }
  CHECK(failed);
  CHECK_FALSE(terminal);  // ENOSPC may pass: the consumer is restarted
  close(full);
}

TEST_CASE("a paused pipe reader is waited for without blocking, and only whole lines go out", "[unit][consumer]") {
  Pipe pipe;
  LineOutput out(pipe.fds[1]);
  CHECK(out.writer().whole_write_limit() == PIPE_BUF);
  hold_lines(out, 500);  // ~45 KB, far more than the pipe holds
  const auto started = Clock::now();
  CHECK_FALSE(out.write_until(started + 300ms));  // returns at the deadline, not when the reader reads
  CHECK(Clock::now() - started < 2s);
  REQUIRE(out.waiting_since().has_value());
  CHECK(out.waited() > 0ms);
  const LineOutput::Written written = out.take_written();
  REQUIRE(written.lines > 0);
  REQUIRE(written.lines < 500);
  CHECK(written.next_offsets.at(0) == static_cast<std::int64_t>(written.lines));
  CHECK(out.lines() == 500 - written.lines);
  // A stop gives up: the reader got exactly the lines taken, none of them torn.
  CHECK_FALSE(out.discard());
  REQUIRE(fcntl(pipe.fds[0], F_SETFL, O_NONBLOCK) == 0);
  const std::string seen = read_available(pipe.fds[0]);
  CHECK(count_lines(seen) == written.lines);
  CHECK(seen.back() == '\n');
}

TEST_CASE("when the reader drains, printing goes on where it stopped, nothing missing", "[unit][consumer]") {
  Pipe pipe;
  auto out = std::make_unique<LineOutput>(pipe.fds[1]);
  hold_lines(*out, 500);
  const std::string expected = out->text();
  CHECK_FALSE(out->write_until(Clock::now() + 200ms));
  const std::uint64_t early = out->take_written().lines;
  Drain reader(pipe.fds[0]);
  CHECK(out->write_until(Clock::now() + 30s));
  CHECK_FALSE(out->waiting_since().has_value());
  const LineOutput::Written rest = out->take_written();
  CHECK(early + rest.lines == 500);
  CHECK(rest.next_offsets.at(0) == 500);
  CHECK_FALSE(out->holding());
  CHECK(out->text().empty());  // all out: the buffer starts afresh
  out.reset();  // closes the descriptor it reopened
  pipe.close_write();
  reader.thread.join();
  CHECK(reader.text == expected);
}

TEST_CASE("a cut forgets the unwritten lines of revoked partitions and keeps the others in order",
          "[unit][consumer]") {
  Pipe pipe;
  auto out = std::make_unique<LineOutput>(pipe.fds[1]);
  hold_lines(*out, 400, 2);
  const std::string all = out->text();
  CHECK_FALSE(out->write_until(Clock::now() + 200ms));
  const LineOutput::Written early = out->take_written();
  out->cut({1});
  // What is out stays out; of partition 1 nothing more; partition 0 complete.
  Drain reader(pipe.fds[0]);
  CHECK(out->write_until(Clock::now() + 30s));
  const LineOutput::Written rest = out->take_written();
  CHECK(rest.next_offsets.count(1) == 0);
  CHECK(rest.next_offsets.at(0) == 399);  // the offset after partition 0's last line (398)
  out.reset();
  pipe.close_write();
  reader.thread.join();
  std::string expected;
  std::size_t start = 0;
  for (int i = 0; i < 400; ++i) {
    const std::size_t end = all.find('\n', start) + 1;
    if (static_cast<std::uint64_t>(i) < early.lines || i % 2 == 0) expected += all.substr(start, end - start);
    start = end;
  }
  CHECK(reader.text == expected);
}

TEST_CASE("a socket (journald's stdout) and a regular file take every line", "[unit][consumer]") {
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  {
    LineOutput out(pair[0]);
    CHECK(out.writer().kind() == "socket");
    hold_lines(out, 5000);  // more than the socket buffer holds
    const std::string expected = out.text();
    Drain reader(pair[1]);
    CHECK(out.write_until(Clock::now() + 30s));
    CHECK(out.take_written().lines == 5000);
    shutdown(pair[0], SHUT_WR);
    reader.thread.join();
    CHECK(reader.text == expected);
  }
  close(pair[0]);
  close(pair[1]);

  char path[] = "/tmp/pricepipe-line-output-XXXXXX";
  const int file = mkstemp(path);
  REQUIRE(file >= 0);
  LineOutput out(file);
  CHECK(out.writer().kind() == "file");
  hold_lines(out, 100);
  const std::string expected = out.text();
  CHECK(out.write_until(Clock::now() + 10s));
  CHECK(out.take_written().lines == 100);
  lseek(file, 0, SEEK_SET);
  CHECK(read_available(file) == expected);
  close(file);
  unlink(path);
}
