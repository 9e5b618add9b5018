#include "catch_compat.hpp"

#include "pricepipe/producer/in_flight.hpp"

using namespace pricepipe;
using namespace std::chrono_literals;

TEST_CASE("the oldest event without a delivery report is the first not yet reported, in any order of reports",
          "[unit][producer]") {
  InFlight in_flight;
  const auto t0 = InFlight::Clock::time_point(100s);
  CHECK_FALSE(in_flight.oldest());
  for (int i = 0; i < 4; ++i) {
    CHECK(in_flight.next() == static_cast<std::uint64_t>(i));
    in_flight.sent(t0 + std::chrono::seconds(i));
  }
  CHECK(in_flight.oldest() == t0);
  in_flight.reported(2);  // another partition answered first
  in_flight.reported(1);
  CHECK(in_flight.oldest() == t0);
  CHECK(in_flight.outstanding() == 2);
  in_flight.reported(0);  // now 0, 1 and 2 are done: 3 is the oldest
  CHECK(in_flight.oldest() == t0 + 3s);
  CHECK(in_flight.outstanding() == 1);
  in_flight.reported(0);   // a repeat
  in_flight.reported(99);  // never sent
  CHECK(in_flight.outstanding() == 1);
  in_flight.reported(3);
  CHECK_FALSE(in_flight.oldest());
  CHECK(in_flight.next() == 4);
  const auto now = InFlight::coarse_now();
  CHECK(now <= InFlight::Clock::now());
  CHECK(InFlight::Clock::now() - now < 1s);  // the same clock, a few ms coarser
}
