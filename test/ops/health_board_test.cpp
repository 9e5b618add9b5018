// The published health results with made-up time points: fresh, touched, stale.
#include "catch_compat.hpp"
#include "pricepipe/ops/health_board.hpp"

using namespace pricepipe;
using namespace std::chrono_literals;
using Clock = HealthBoard::Clock;

TEST_CASE("the health board answers what was published until it goes stale", "[unit][health]") {
  const Clock::time_point t0 = Clock::now();
  HealthBoard board;
  board.publish({true, "ok"}, {false, "consumer has no partition assignment from its group yet"}, t0, 30s);
  CHECK(board.status(false, t0 + 1s).ok);
  const HealthStatus ready = board.status(true, t0 + 1s);
  CHECK_FALSE(ready.ok);
  CHECK(ready.reason == "consumer has no partition assignment from its group yet");

  // Busy stopping a worker: touched, so still believed past the bound from the publication.
  board.touch(t0 + 20s);
  CHECK(board.status(false, t0 + 40s).ok);

  const HealthStatus stale = board.status(false, t0 + 51s);
  CHECK_FALSE(stale.ok);
  CHECK(stale.reason == "the supervisor has not checked the workers for 31 s");
  CHECK_FALSE(board.status(true, t0 + 51s).ok);
}
