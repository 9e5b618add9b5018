#pragma once
// The health results the supervisor publishes and the HTTP endpoint reads: liveness and
// readiness with the time they were computed. A result older than the stall timeout is not
// believed: a supervisor that stopped checking its workers is neither live nor ready. The
// supervisor writes, any thread reads (a mutex).

#include <chrono>
#include <mutex>

#include "pricepipe/ops/health.hpp"

namespace pricepipe {

class HealthBoard {
 public:
  using Clock = std::chrono::steady_clock;

  // Supervisor thread: the latest results, computed at `now`; they go stale after `stale_after`.
  void publish(const HealthStatus& live, const HealthStatus& ready, Clock::time_point now,
               Clock::duration stale_after);
  // Supervisor thread: still checking (busy stopping a worker within its bound), nothing new.
  void touch(Clock::time_point now);
  // Any thread: /readyz when `readiness`, else /livez, as of `now`.
  HealthStatus status(bool readiness, Clock::time_point now) const;

 private:
  mutable std::mutex mutex_;
  HealthStatus live_;
  HealthStatus ready_;
  Clock::time_point updated_ = Clock::now();
  Clock::duration stale_after_ = std::chrono::seconds(30);  // supervisor.stall_timeout_s
};

}  // namespace pricepipe
