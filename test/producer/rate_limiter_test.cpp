#include "catch_compat.hpp"

#include "pricepipe/producer/rate_limiter.hpp"

using namespace pricepipe;
using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

namespace {
// Simulates a sender that sleeps exactly as told; returns events sent within `span`.
int simulate(RateLimiter& limiter, Clock::time_point& now, Clock::duration span) {
  const auto end = now + span;
  int sent = 0;
  for (;;) {
    const auto wait = limiter.reserve(now);
    if (now + wait >= end) break;
    now += wait;
    ++sent;
  }
  now = end;
  return sent;
}
}  // namespace

TEST_CASE("rate 0 never waits", "[unit][rate]") {
  const Clock::time_point t0{};
  RateLimiter limiter(0, t0);
  for (int i = 0; i < 1000; ++i) CHECK(limiter.reserve(t0) == Clock::duration::zero());
}

TEST_CASE("events are spaced by 1/rate", "[unit][rate]") {
  const Clock::time_point t0 = Clock::time_point{} + 1h;
  RateLimiter limiter(10, t0);
  CHECK(limiter.reserve(t0) == 0ms);
  CHECK(limiter.reserve(t0) == 100ms);
  CHECK(limiter.reserve(t0) == 200ms);
  CHECK(limiter.reserve(t0 + 250ms) == 50ms);
}

TEST_CASE("the simulated rate matches the configured one", "[unit][rate]") {
  for (double rate : {1.0, 3.0, 10.0, 1000.0, 100000.0}) {
    Clock::time_point now = Clock::time_point{} + 1h;
    RateLimiter limiter(rate, now);
    const int sent = simulate(limiter, now, 10s);
    INFO("rate " << rate);
    CHECK(sent >= static_cast<int>(rate * 10) - 1);
    CHECK(sent <= static_cast<int>(rate * 10) + 1);
  }
}

TEST_CASE("catching up after a stall is bounded", "[unit][rate]") {
  Clock::time_point now = Clock::time_point{} + 1h;
  RateLimiter limiter(1000, now);
  limiter.reserve(now);
  now += 10s;  // the sender was blocked (full queue) for 10 s
  int immediate = 0;
  while (limiter.reserve(now) == Clock::duration::zero()) ++immediate;
  // At most kMaxBurst worth of events (100 ms at 1000/s) go out at once, not 10,000.
  CHECK(immediate <= 101);
  CHECK(immediate >= 99);
}

TEST_CASE("a rate change applies from then on", "[unit][rate]") {
  Clock::time_point now = Clock::time_point{} + 1h;
  RateLimiter limiter(10, now);
  CHECK(simulate(limiter, now, 10s) == 100);
  limiter.set_rate(100, now);
  CHECK(limiter.rate() == 100);
  const int sent = simulate(limiter, now, 10s);
  CHECK(sent >= 999);
  CHECK(sent <= 1001);
  limiter.set_rate(0, now);
  CHECK(limiter.reserve(now) == Clock::duration::zero());
}

TEST_CASE("a tiny rate is paced at the longest interval, without overflowing the clock", "[unit][rate]") {
  // 1/1e-10 s is 1e19 ns, past the clock's int64 nanoseconds: the interval is bounded instead.
  const Clock::time_point t0 = Clock::time_point{} + 1h;
  for (const double rate : {1e-10, 1e-300, 0.0001}) {
    INFO("rate " << rate);
    RateLimiter limiter(rate, t0);
    CHECK(limiter.reserve(t0) == 0ms);
    CHECK(limiter.reserve(t0) == RateLimiter::kMaxInterval);
    limiter.set_rate(rate, t0);
    CHECK(limiter.reserve(t0) == 0ms);
    CHECK(limiter.reserve(t0) == RateLimiter::kMaxInterval);
  }
}
