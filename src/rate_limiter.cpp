#include "pricepipe/rate_limiter.hpp"

#include <algorithm>

namespace pricepipe {

RateLimiter::RateLimiter(double rate, Clock::time_point now) : rate_(0), next_(now) {
  set_rate(rate, now);
}

void RateLimiter::set_rate(double rate, Clock::time_point now) {
  rate_ = rate;
  interval_ = rate > 0 ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate))
                       : Clock::duration::zero();
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
