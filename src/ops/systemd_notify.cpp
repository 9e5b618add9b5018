#include "pricepipe/ops/systemd_notify.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstring>

namespace pricepipe {

void SystemdNotifier::notify(const char* state) const {
  const int rc = sd_notify(0, state);
  if (rc < 0) spdlog::debug("sd_notify({}): {}", state, std::strerror(-rc));
}

void SystemdNotifier::enable_watchdog() {
  std::uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    // Half the interval, as sd_watchdog_enabled(3) advises: a late tick does not get us killed.
    watchdog_interval_ = std::chrono::microseconds(watchdog_usec / 2);
  }
}

void SystemdNotifier::feed_watchdog(Clock::time_point now) {
  if (!watchdog_interval_ || now < next_watchdog_) return;
  notify("WATCHDOG=1");
  next_watchdog_ = now + *watchdog_interval_;
}

}  // namespace pricepipe
