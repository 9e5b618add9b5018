#pragma once
// Fault injection for tests: make a worker throw, hang or stop slowly on demand. Only
// reachable through the command-line option --unsafe-fault-injection (never from a config
// file), and the daemon logs a warning at start when it is on.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace pricepipe {

struct FaultInjection {
  // kThrow: throws. kHang: stops heartbeating until a stop is requested. kSlowStop: once a
  // stop is requested and the worker's work has ended, keeps running (and heartbeating) for
  // kSlowStopDelay more, like a worker whose graceful stop is slow but within its bound.
  enum class Kind { kNone, kThrow, kHang, kSlowStop };
  Kind kind = Kind::kNone;
  // Fires (kSlowStop: is armed) once this many events were produced (producer) or read
  // (consumer) by the worker.
  std::uint64_t after_events = 0;
};

// How much longer a worker with the slow-stop fault takes to stop.
inline constexpr std::chrono::milliseconds kSlowStopDelay{3000};

// One rule: WORKER:KIND:AFTER[:TIMES] with WORKER producer|consumer, KIND throw|hang|slow-stop,
// AFTER events, TIMES how many worker instances get it (default: every one). Several rules
// are separated by commas.
struct FaultRule {
  std::string worker;
  FaultInjection fault;
  int times = -1;  // -1 = every instance
};

// Throws ConfigError (exit 64) on a malformed spec.
std::vector<FaultRule> parse_fault_rules(const std::string& spec);

}  // namespace pricepipe
