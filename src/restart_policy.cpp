#include "pricepipe/restart_policy.hpp"

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
  const bool wanted = settings_.restart == RestartMode::kAlways ||
                      (failed && settings_.restart == RestartMode::kOnFailure);
  if (!wanted) {
    decision.budget_exhausted = failed;  // restart=never: a failure ends the daemon
    return decision;
  }
  const auto window = std::chrono::seconds(settings_.restart_window_s);
  while (!restarts_.empty() && now - restarts_.front() >= window) restarts_.pop_front();
  if (static_cast<int>(restarts_.size()) >= settings_.max_restarts) {
    decision.budget_exhausted = true;
    decision.attempt = static_cast<int>(restarts_.size()) + 1;
    return decision;
  }
  restarts_.push_back(now);
  last_restart_ = now;
  // initial * 2^(n-1), capped, then jitter of up to -25% so restarts of many daemons spread.
  const double base_ms = std::min<double>(settings_.backoff_max_ms,
                                          settings_.backoff_initial_ms * std::pow(2.0, std::min(consecutive_, 30)));
  ++consecutive_;
  std::uniform_real_distribution<double> jitter(0.75, 1.0);
  decision.restart = true;
  decision.attempt = static_cast<int>(restarts_.size());
  decision.delay = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(base_ms * jitter(random_)));
  return decision;
}

}  // namespace pricepipe
