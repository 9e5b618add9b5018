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

TEST_CASE("past max_restarts in a row the budget is exhausted", "[unit][restart]") {
  RestartPolicy policy(settings(RestartMode::kOnFailure, 3), 1);
  Clock::time_point now{};
  for (int i = 0; i < 3; ++i) {
    const auto d = policy.on_exit(true, now);
    CHECK(d.restart);
    now += d.delay + 1s;  // started again after the delay, failed a second later
  }
  const auto fourth = policy.on_exit(true, now);
  CHECK_FALSE(fourth.restart);
  CHECK(fourth.budget_exhausted);
  CHECK(fourth.over_budget);
  CHECK(fourth.attempt == 4);
  // A worker that runs a whole window after a restart ends the streak: the next failure is
  // the first restart of a new one.
  RestartPolicy later(settings(RestartMode::kOnFailure, 3), 1);
  Clock::time_point t{};
  for (int i = 0; i < 3; ++i) {
    const auto d = later.on_exit(true, t);
    CHECK(d.restart);
    t += d.delay + (i < 2 ? 1s : 61s);
  }
  const auto after_a_window = later.on_exit(true, t);
  CHECK(after_a_window.restart);
  CHECK(after_a_window.attempt == 1);
}

TEST_CASE("with the defaults a persistent failure runs out of restarts within 2.5 minutes", "[unit][restart]") {
  // The delays reach backoff_max_ms (30 s) after six restarts; ten restarts take about 150 s of
  // backoff, which no 60 s window can hold: the budget counts them in a row instead.
  const SupervisorSettings defaults;
  REQUIRE(defaults.max_restarts == 10);
  REQUIRE(defaults.restart_window_s == 60);
  REQUIRE(defaults.backoff_max_ms == 30000);
  RestartPolicy policy(defaults, 7);
  Clock::time_point now{};
  const Clock::time_point first_failure = now;
  int restarts = 0;
  for (;;) {
    const auto d = policy.on_exit(true, now);
    if (!d.restart) {
      CHECK(d.budget_exhausted);
      break;
    }
    ++restarts;
    REQUIRE(restarts <= defaults.max_restarts);
    now += d.delay + 1s;  // each try fails a second after it starts
  }
  CHECK(restarts == defaults.max_restarts);
  // 0.5 + 1 + 2 + 4 + 8 + 16 + 4 x 30 s of backoff at most, plus the tries' seconds.
  CHECK(now - first_failure <= 151500ms + 10s);
  CHECK(now - first_failure >= 0.75 * 151500ms);
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
  // Once a restarted worker runs a window, it is back within the budget.
  now += 30s + 61s;
  policy.on_healthy(now);
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
