#pragma once
// sd_notify(3) for the supervisor: READY=1, RELOADING=1, STOPPING=1, and WATCHDOG=1 paced at
// half the interval systemd asked for (WATCHDOG_USEC). A no-op when not started by systemd
// (no NOTIFY_SOCKET). Supervisor thread only.

#include <chrono>
#include <optional>

namespace pricepipe {

class SystemdNotifier {
 public:
  using Clock = std::chrono::steady_clock;

  // Sends `state` ("READY=1", ...); failures are only logged at debug level.
  void notify(const char* state) const;
  // Reads whether systemd asked for a watchdog (WatchdogSec=); until then, and without one,
  // feed_watchdog() sends nothing.
  void enable_watchdog();
  // WATCHDOG=1 when a watchdog was asked for and half its interval has passed since the last
  // one. The callers decide whether the daemon deserves it.
  void feed_watchdog(Clock::time_point now);

 private:
  std::optional<Clock::duration> watchdog_interval_;  // none: no watchdog asked for
  Clock::time_point next_watchdog_{};
};

}  // namespace pricepipe
