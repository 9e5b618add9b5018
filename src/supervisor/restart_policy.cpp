#include "pricepipe/supervisor/restart_policy.hpp"

#include <algorithm>
#include <cmath>

namespace pricepipe {

RestartPolicy::RestartPolicy(const SupervisorSettings& settings, std::uint64_t seed)
    : settings_(settings), random_(seed) {}

void RestartPolicy::on_healthy(Clock::time_point now) {
  if (consecutive_ > 0 && now - last_restart_ >= std::chrono::seconds(settings_.restart_window_s)) {
    consecutive_ = 0;
  }
}

RestartPolicy::Decision RestartPolicy::on_exit(bool failed, Clock::time_point now) {
  Decision decision;
  if (!failed) return decision;  // completed its job: stays stopped
  if (settings_.restart == RestartMode::kNever) {
    decision.budget_exhausted = true;  // restart=never: a failure ends the daemon
    return decision;
  }
  const auto window = std::chrono::seconds(settings_.restart_window_s);
  while (!restarts_.empty() && now - restarts_.front() >= window) restarts_.pop_front();
  decision.over_budget = static_cast<int>(restarts_.size()) >= settings_.max_restarts;
  if (decision.over_budget && settings_.restart == RestartMode::kOnFailure) {
    decision.budget_exhausted = true;
    decision.attempt = static_cast<int>(restarts_.size()) + 1;
    return decision;
  }
  // Within the budget; or past it with restart=always, which never gives up but waits the
  // longest delay.
  restarts_.push_back(now);
  last_restart_ = now;
  decision.restart = true;
  decision.attempt = static_cast<int>(restarts_.size());
  // The budget needs only the latest max_restarts restarts: a daemon that keeps restarting
  // (always) does not pile up time points.
  while (static_cast<int>(restarts_.size()) > settings_.max_restarts) restarts_.pop_front();
  const double backoff_ms = next_backoff_ms();
  decision.delay = with_jitter(decision.over_budget ? settings_.backoff_max_ms : backoff_ms);
  return decision;
}

double RestartPolicy::next_backoff_ms() {
  // initial * 2^(n-1) for the n-th consecutive restart, capped.
  const double ms = std::min<double>(settings_.backoff_max_ms,
                                     settings_.backoff_initial_ms * std::pow(2.0, std::min(consecutive_, 30)));
  ++consecutive_;
  return ms;
}

RestartPolicy::Clock::duration RestartPolicy::with_jitter(double ms) {
  // Up to -25% at random, so that the restarts of many daemons spread.
  std::uniform_real_distribution<double> jitter(0.75, 1.0);
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms * jitter(random_)));
}

}  // namespace pricepipe
