#include "catch_compat.hpp"

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "pricepipe/consumer/line_output.hpp"

using namespace pricepipe;

namespace {

void hold_line(LineOutput& out, const char* line) {
  out.text() += line;
  out.line_added();
}

}  // namespace

TEST_CASE("a reader that is gone is a terminal failure (exit 74) and a full disk is not", "[unit][consumer]") {
  const auto previous = std::signal(SIGPIPE, SIG_IGN);  // as the daemon does
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  close(fds[0]);  // `pricepipe | head -n 5` once head has exited
  std::FILE* pipe_out = fdopen(fds[1], "w");
  REQUIRE(pipe_out != nullptr);
  LineOutput closed(pipe_out);
  hold_line(closed, "{\"match\":1,\"price\":1.00}\n");
  try {
    closed.flush();
    FAIL("the write to a pipe without a reader succeeded");
  } catch (const OutputClosed& e) {
    CHECK(e.exit_code() == 74);
    CHECK_THAT(e.what(), Catch::Contains("the reader is gone"));
  }
  CHECK(closed.failed());
  CHECK(closed.flush() == 0);  // nothing is written after a failure
  std::fclose(pipe_out);
  std::signal(SIGPIPE, previous);

  std::FILE* full = std::fopen("/dev/full", "w");
  REQUIRE(full != nullptr);
  LineOutput no_space(full);
  hold_line(no_space, "{\"match\":2,\"price\":2.00}\n");
  bool terminal = false;
  bool failed = false;
  try {
    no_space.flush();
  } catch (const OutputClosed&) {
    terminal = true;
  } catch (const OutputError& e) {
    failed = true;
    CHECK_THAT(e.what(), Catch::Contains("No space left on device"));
  }
  CHECK(failed);
  CHECK_FALSE(terminal);  // ENOSPC may pass: the consumer is restarted
  std::fclose(full);
}
