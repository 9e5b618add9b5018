#pragma once
// Decides whether and when a failed worker is started again: supervisor.restart, exponential
// backoff with jitter between backoff_initial_ms and backoff_max_ms, and the budget of
// max_restarts restarts in a row: a worker that runs restart_window_s after a restart without
// failing starts a new streak (and its backoff from the first delay). Counting the streak and
// not the restarts inside a clock window keeps the budget reachable whatever the delays: with
// the defaults a persistent failure exits 70 after 10 restarts, about 2.5 minutes of backoff,
// where a 60 s window could never hold 10 restarts once the delays reach 30 s. Past the
// budget, on-failure gives up (the daemon exits 70) while always keeps restarting at
// backoff_max_ms. Pure arithmetic on the time points it is given, so tests drive it with a
// made-up clock. One per worker; supervisor thread only.

#include <chrono>
#include <cstdint>
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
    bool over_budget = false;          // past max_restarts restarts in a row
    Clock::duration delay{};           // wait this long before starting again
    int attempt = 0;                   // restarts in the streak, this one included
                                       // (max_restarts + 1 once past the budget)
  };

  RestartPolicy(const SupervisorSettings& settings, std::uint64_t seed);

  // The worker ended at `now`; `failed` when it threw, hit a fatal error or stalled. One that
  // completed its job (!failed) is never restarted, whatever the mode.
  Decision on_exit(bool failed, Clock::time_point now);
  // The worker still runs at `now`: once it has run restart_window_s since it was last started
  // again, its streak is over.
  void on_healthy(Clock::time_point now);
  void update(const SupervisorSettings& settings) { settings_ = settings; }

 private:
  // backoff_initial_ms doubling with each restart in the streak, up to backoff_max_ms.
  double backoff_ms() const;
  // `ms` shortened by up to 25% at random.
  Clock::duration with_jitter(double ms);

  SupervisorSettings settings_;
  std::mt19937_64 random_;
  int streak_ = 0;                    // restarts in a row
  Clock::time_point started_again_{};  // when the last restart's delay ends
};

}  // namespace pricepipe
