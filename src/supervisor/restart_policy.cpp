#include "pricepipe/supervisor/restart_policy.hpp"

#include <algorithm>
#include <cmath>

namespace pricepipe {

RestartPolicy::RestartPolicy(const SupervisorSettings& settings, std::uint64_t seed)
    : settings_(settings), random_(seed) {}

void RestartPolicy::on_healthy(Clock::time_point now) {
  if (streak_ > 0 && now - started_again_ >= std::chrono::seconds(settings_.restart_window_s)) streak_ = 0;
}

RestartPolicy::Decision RestartPolicy::on_exit(bool failed, Clock::time_point now) {
  Decision decision;
  if (!failed) return decision;  // completed its job: stays stopped
  if (settings_.restart == RestartMode::kNever) {
    decision.budget_exhausted = true;  // restart=never: a failure ends the daemon
    return decision;
  }
  on_healthy(now);  // it may have run a window before failing
  decision.over_budget = streak_ >= settings_.max_restarts;
  decision.attempt = std::min(streak_, settings_.max_restarts) + 1;
  if (decision.over_budget && settings_.restart == RestartMode::kOnFailure) {
    decision.budget_exhausted = true;
    return decision;
  }
  // Within the budget; or past it with restart=always, which never gives up but waits the
  // longest delay.
  decision.restart = true;
  decision.delay = with_jitter(decision.over_budget ? settings_.backoff_max_ms : backoff_ms());
  streak_ = std::min(streak_ + 1, settings_.max_restarts);  // always: no growth past the budget
  started_again_ = now + decision.delay;
  return decision;
}

double RestartPolicy::backoff_ms() const {
  // initial * 2^(n-1) for the n-th restart in the streak, capped.
  return std::min<double>(settings_.backoff_max_ms,
                          settings_.backoff_initial_ms * std::pow(2.0, std::min(streak_, 30)));
}

RestartPolicy::Clock::duration RestartPolicy::with_jitter(double ms) {
  // Up to -25% at random, so that the restarts of many daemons spread.
  std::uniform_real_distribution<double> jitter(0.75, 1.0);
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms * jitter(random_)));
}

}  // namespace pricepipe
