#include "pricepipe/producer/in_flight.hpp"

#include <time.h>

namespace pricepipe {

void InFlight::sent(Clock::time_point at) {
  sent_at_.push_back(at);
  reported_.push_back(false);
}

void InFlight::reported(std::uint64_t sequence) {
  if (sequence < first_ || sequence >= next()) return;  // not one of ours (or already gone)
  const auto index = static_cast<std::size_t>(sequence - first_);
  if (reported_[index]) return;
  reported_[index] = true;
  ++reported_ahead_;
  while (!reported_.empty() && reported_.front()) {
    reported_.pop_front();
    sent_at_.pop_front();
    ++first_;
    --reported_ahead_;
  }
}

std::optional<InFlight::Clock::time_point> InFlight::oldest() const {
  if (sent_at_.empty()) return std::nullopt;
  return sent_at_.front();
}

InFlight::Clock::time_point InFlight::coarse_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  // steady_clock is CLOCK_MONOTONIC on Linux: the coarse one counts from the same origin.
  return Clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

}  // namespace pricepipe
