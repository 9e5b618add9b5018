#pragma once
// Paces events to a target rate. Pure arithmetic on the time points it is given, so tests
// drive it with a made-up clock. Owned by one thread.

#include <chrono>

namespace pricepipe {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `rate` events per second; 0 means unlimited.
  RateLimiter(double rate, Clock::time_point now);

  // Reserves the next event's slot and returns how long to wait before sending it
  // (zero when it may go now). A caller that fell behind (a stall, a full queue) may catch
  // up by at most `kMaxBurst` worth of events, not by everything it missed.
  Clock::duration reserve(Clock::time_point now);

  // Changes the rate from `now` on, without a burst or a pause.
  void set_rate(double rate, Clock::time_point now);
  double rate() const { return rate_; }

  static constexpr Clock::duration kMaxBurst = std::chrono::milliseconds(100);
  // The longest gap between events: a lower rate is paced as one event per kMaxInterval.
  static constexpr Clock::duration kMaxInterval = std::chrono::seconds(10000);

 private:
  double rate_;
  Clock::duration interval_{};
  Clock::time_point next_;
};

}  // namespace pricepipe
