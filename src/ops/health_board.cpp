#include "pricepipe/ops/health_board.hpp"

#include <fmt/format.h>

namespace pricepipe {

void HealthBoard::publish(const HealthStatus& live, const HealthStatus& ready, Clock::time_point now,
                          Clock::duration stale_after) {
  std::lock_guard<std::mutex> lock(mutex_);
  live_ = live;
  ready_ = ready;
  updated_ = now;
  stale_after_ = stale_after;
}

void HealthBoard::touch(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  updated_ = now;
}

HealthStatus HealthBoard::status(bool readiness, Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto silent = now - updated_;
  if (silent >= stale_after_) {
    return {false, fmt::format("the supervisor has not checked the workers for {} s",
                               std::chrono::duration_cast<std::chrono::seconds>(silent).count())};
  }
  return readiness ? ready_ : live_;
}

}  // namespace pricepipe
