#pragma once
// Decides whether and when a failed worker is started again: supervisor.restart, exponential
// backoff with jitter between backoff_initial_ms and backoff_max_ms, and the budget of
// max_restarts within restart_window_s. Past the budget, on-failure gives up (the daemon
// exits 70) while always keeps restarting at backoff_max_ms. Pure arithmetic on the time
// points it is given, so tests drive it with a made-up clock. One per worker; supervisor
// thread only.

#include <chrono>
#include <cstdint>
#include <deque>
#include <random>

#include "pricepipe/config/config.hpp"

namespace pricepipe {

class RestartPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  struct Decision {
    bool restart = false;
    bool budget_exhausted = false;     // failed and not restarted (on-failure past the
                                       // budget, or never): the daemon must end
    bool over_budget = false;          // past max_restarts within the window
    Clock::duration delay{};           // wait this long before starting again
    int attempt = 0;                   // restarts within the window, this one included
                                       // (max_restarts + 1 once past the budget)
  };

  RestartPolicy(const SupervisorSettings& settings, std::uint64_t seed);

  // The worker ended at `now`; `failed` when it threw, hit a fatal error or stalled. One that
  // completed its job (!failed) is never restarted, whatever the mode.
  Decision on_exit(bool failed, Clock::time_point now);
  // The worker ran healthily long enough (one restart window) to forget earlier backoff.
  void on_healthy(Clock::time_point now);
  void update(const SupervisorSettings& settings) { settings_ = settings; }

 private:
  // backoff_initial_ms doubling with each consecutive restart, up to backoff_max_ms.
  double next_backoff_ms();
  // `ms` shortened by up to 25% at random.
  Clock::duration with_jitter(double ms);

  SupervisorSettings settings_;
  std::mt19937_64 random_;
  std::deque<Clock::time_point> restarts_;  // within the window, at most max_restarts
  int consecutive_ = 0;                     // for the backoff exponent
  Clock::time_point last_restart_{};
};

}  // namespace pricepipe
