#include "catch_compat.hpp"

#include "pricepipe/supervisor/restart_policy.hpp"

using namespace pricepipe;
using namespace std::chrono_literals;
using Clock = RestartPolicy::Clock;

namespace {
SupervisorSettings settings(RestartMode mode, int max_restarts = 10) {
  SupervisorSettings s;
  s.restart = mode;
  s.backoff_initial_ms = 500;
  s.backoff_max_ms = 30000;
  s.max_restarts = max_restarts;
  s.restart_window_s = 60;
  return s;
}
}  // namespace

TEST_CASE("backoff doubles with jitter up to the cap", "[unit][restart]") {
  RestartPolicy policy(settings(RestartMode::kOnFailure, 100), 1);
  Clock::time_point now{};
  double expected_ms = 500;
  for (int i = 0; i < 10; ++i) {
    const auto d = policy.on_exit(true, now);
    REQUIRE(d.restart);
    CHECK(d.attempt == i + 1);
    const double ms = std::chrono::duration<double, std::milli>(d.delay).count();
    CHECK(ms <= expected_ms);
    CHECK(ms >= expected_ms * 0.75);
    expected_ms = std::min(expected_ms * 2, 30000.0);
    now += 1s;
  }
}

TEST_CASE("past max_restarts within the window the budget is exhausted", "[unit][restart]") {
  RestartPolicy policy(settings(RestartMode::kOnFailure, 3), 1);
  Clock::time_point now{};
  for (int i = 0; i < 3; ++i) {
    CHECK(policy.on_exit(true, now).restart);
    now += 1s;
  }
  const auto fourth = policy.on_exit(true, now);
  CHECK_FALSE(fourth.restart);
  CHECK(fourth.budget_exhausted);
  CHECK(fourth.over_budget);
  CHECK(fourth.attempt == 4);
  // Once the window has passed, earlier restarts no longer count.
  RestartPolicy later(settings(RestartMode::kOnFailure, 3), 1);
  Clock::time_point t{};
  for (int i = 0; i < 3; ++i) CHECK(later.on_exit(true, t).restart);
  t += 61s;
  CHECK(later.on_exit(true, t).restart);
}

TEST_CASE("restart modes", "[unit][restart]") {
  Clock::time_point now{};
  RestartPolicy on_failure(settings(RestartMode::kOnFailure), 1);
  CHECK_FALSE(on_failure.on_exit(false, now).restart);  // completed its job: stays stopped
  CHECK_FALSE(on_failure.on_exit(false, now).budget_exhausted);
  CHECK(on_failure.on_exit(true, now).restart);

  // A worker that completed its job is never restarted, whatever the mode (the supervisor
  // does not even ask the policy then).
  RestartPolicy always(settings(RestartMode::kAlways), 1);
  CHECK_FALSE(always.on_exit(false, now).restart);
  CHECK_FALSE(always.on_exit(false, now).budget_exhausted);
  CHECK(always.on_exit(true, now).restart);

  RestartPolicy never(settings(RestartMode::kNever), 1);
  const auto d = never.on_exit(true, now);
  CHECK_FALSE(d.restart);
  CHECK(d.budget_exhausted);
  CHECK_FALSE(d.over_budget);  // not a matter of the budget
  CHECK_FALSE(never.on_exit(false, now).budget_exhausted);
}

TEST_CASE("restart=always never gives up: past the budget it restarts after backoff_max_ms", "[unit][restart]") {
  RestartPolicy policy(settings(RestartMode::kAlways, 3), 1);
  Clock::time_point now{};
  for (int i = 0; i < 3; ++i) {
    const auto d = policy.on_exit(true, now);
    REQUIRE(d.restart);
    CHECK_FALSE(d.over_budget);
    now += 1s;
  }
  // Past max_restarts within the window: still restarted, at the longest delay with jitter.
  for (int i = 0; i < 20; ++i) {
    const auto d = policy.on_exit(true, now);
    INFO("failure " << i + 4);
    REQUIRE(d.restart);
    CHECK(d.over_budget);
    CHECK_FALSE(d.budget_exhausted);
    CHECK(d.attempt == 4);  // max_restarts + 1
    const double ms = std::chrono::duration<double, std::milli>(d.delay).count();
    CHECK(ms >= 0.75 * 30000);
    CHECK(ms <= 30000);
    now += 1s;
  }
  // Once the window holds fewer than max_restarts restarts again, it is back within the budget.
  now += 61s;
  const auto d = policy.on_exit(true, now);
  CHECK(d.restart);
  CHECK_FALSE(d.over_budget);
  CHECK(d.attempt == 1);
}

TEST_CASE("a healthy stretch resets the backoff", "[unit][restart]") {
  RestartPolicy policy(settings(RestartMode::kOnFailure, 100), 1);
  Clock::time_point now{};
  for (int i = 0; i < 5; ++i) policy.on_exit(true, now);
  now += 120s;
  policy.on_healthy(now);
  const auto d = policy.on_exit(true, now);
  CHECK(std::chrono::duration<double, std::milli>(d.delay).count() <= 500);
}
