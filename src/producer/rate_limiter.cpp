#include "pricepipe/producer/rate_limiter.hpp"

#include <algorithm>

namespace pricepipe {

RateLimiter::RateLimiter(double rate, Clock::time_point now) : rate_(0), next_(now) {
  set_rate(rate, now);
}

void RateLimiter::set_rate(double rate, Clock::time_point now) {
  rate_ = rate;
  interval_ = Clock::duration::zero();
  if (rate > 0) {
    // Bounded, so that a tiny rate cannot overflow the clock's 64-bit nanoseconds (1e-10/s
    // would be 1e19 ns); config validation keeps rates at 0.0001/s and above anyway.
    const double seconds = std::min(1.0 / rate, std::chrono::duration<double>(kMaxInterval).count());
    interval_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }
  next_ = now;
}

RateLimiter::Clock::duration RateLimiter::reserve(Clock::time_point now) {
  if (rate_ <= 0) return Clock::duration::zero();
  next_ = std::max(next_, now - kMaxBurst);
  const Clock::duration wait = std::max(next_ - now, Clock::duration::zero());
  next_ += interval_;
  return wait;
}

}  // namespace pricepipe
