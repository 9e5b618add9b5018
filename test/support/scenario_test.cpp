// The scenario helper's own rules, on a shell child and made-up output: no daemon, no broker.
#include "catch_compat.hpp"

#include <signal.h>

#include "scenario.hpp"

using namespace pricepipe::test;
using namespace std::chrono_literals;

TEST_CASE("a run's records are every line when it exited and only the whole lines when a signal ended it",
          "[unit]") {
  const std::string line =
      R"({"topic":"t","partition":1,"offset":0,"timestamp":1002,"key":"3","event":{"match":3,"price":3.00}})";
  const Record record{1, 0, 1002, R"({"match":3,"price":3.00})"};
  Run exited;
  exited.exit_code = 0;
  exited.out = line + "\n" + line + "\n";
  CHECK(exited.records() == std::vector<Record>{record, record});

  Run killed;
  killed.term_signal = SIGKILL;
  killed.out = line + "\n" + line.substr(0, 20);
  CHECK(killed.records() == std::vector<Record>{record});
}

TEST_CASE("a daemon is waited for until it printed and logged enough, then stopped with a signal", "[unit]") {
  Daemon child({"sh", "-c", "echo one; echo two; echo ready >&2; exec sleep 30"});
  CHECK(child.printed(2, 10s));
  CHECK(child.logged("ready", 10s));
  CHECK_FALSE(child.printed(3, 100ms));
  const Run r = child.stop(SIGTERM, 10s);
  CHECK_FALSE(r.timed_out);
  CHECK(r.term_signal == SIGTERM);
  CHECK(r.out == "one\ntwo\n");
}
