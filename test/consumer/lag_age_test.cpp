// LagAge: the consumer's lag in seconds per partition, from what it printed and its lag.
#include "catch_compat.hpp"

#include "pricepipe/consumer/lag_age.hpp"

using namespace pricepipe;

TEST_CASE("lag in seconds: 0 without lag, else the age of the newest printed message", "[unit][consumer]") {
  LagAge age;
  age.printed(0, 10'000);
  age.printed(0, 9'000);  // an older timestamp (another producer's clock) does not move it back
  age.printed(1, 10'500);
  const auto s = age.seconds({{0, 40}, {1, 0}}, 12'500);
  REQUIRE(s.size() == 2);
  CHECK(s.at(0) == Approx(2.5));
  CHECK(s.at(1) == 0.0);
  // Nothing printed any more: the age grows with the clock.
  CHECK(age.seconds({{0, 40}, {1, 0}}, 20'000).at(0) == Approx(10.0));
  // Printing catches up, and with the lag gone it is 0.
  age.printed(0, 19'990);
  CHECK(age.seconds({{0, 5}}, 20'000).at(0) == Approx(0.01));
  CHECK(age.seconds({{0, 0}}, 21'000).at(0) == 0.0);
}

TEST_CASE("lag in seconds before anything is printed counts from when the lag was first seen", "[unit][consumer]") {
  LagAge age;
  CHECK(age.seconds({{3, 100}}, 5'000).at(3) == 0.0);
  CHECK(age.seconds({{3, 100}}, 8'000).at(3) == Approx(3.0));
  CHECK(age.seconds({{3, 0}}, 9'000).at(3) == 0.0);  // caught up: the next lag counts afresh
  CHECK(age.seconds({{3, 7}}, 10'000).at(3) == 0.0);
  CHECK(age.seconds({{3, 7}}, 10'400).at(3) == Approx(0.4));
}

TEST_CASE("lag in seconds forgets a partition revoked or no longer in the statistics", "[unit][consumer]") {
  LagAge age;
  age.printed(0, 1'000);
  age.printed(1, 1'000);
  age.forget(0);
  const auto s = age.seconds({{0, 10}, {1, 10}}, 4'000);
  CHECK(s.at(0) == 0.0);  // reassigned: nothing printed of it since, its lag counts from now
  CHECK(s.at(1) == Approx(3.0));
  CHECK(age.seconds({{0, 10}}, 5'000).size() == 1);  // partition 1 gone from the statistics
  CHECK(age.seconds({{0, 10}, {1, 10}}, 6'000).at(1) == 0.0);  // and back: afresh
}
