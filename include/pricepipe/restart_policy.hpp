#pragma once
// Decides whether and when a stopped worker is started again: supervisor.restart, exponential
// backoff with jitter between backoff_initial_ms and backoff_max_ms, and the budget of
// max_restarts within restart_window_s. Pure arithmetic on the time points it is given, so
// tests drive it with a made-up clock. One per worker; supervisor thread only.

#include <chrono>
#include <cstdint>
#include <deque>
#include <random>

#include "pricepipe/config.hpp"

namespace pricepipe {

class RestartPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  struct Decision {
    bool restart = false;
    bool budget_exhausted = false;     // failed, and past max_restarts within the window
    Clock::duration delay{};           // wait this long before starting again
    int attempt = 0;                   // restarts within the window, this one included
  };

  RestartPolicy(const SupervisorSettings& settings, std::uint64_t seed);

  // The worker ended at `now`; `failed` when it threw, hit a fatal error or stalled (as
  // opposed to completing its job).
  Decision on_exit(bool failed, Clock::time_point now);
  // The worker ran healthily long enough (one restart window) to forget earlier backoff.
  void on_healthy(Clock::time_point now);
  void update(const SupervisorSettings& settings) { settings_ = settings; }

 private:
  SupervisorSettings settings_;
  std::mt19937_64 random_;
  std::deque<Clock::time_point> restarts_;  // within the window
  int consecutive_ = 0;                     // for the backoff exponent
  Clock::time_point last_restart_{};
};

}  // namespace pricepipe
