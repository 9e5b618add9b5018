#pragma once
// Fault injection for tests: make a worker throw or hang on demand. Only reachable through
// the command-line option --unsafe-fault-injection (never from a config file), and the
// daemon logs a warning at start when it is on.

#include <cstdint>
#include <string>
#include <vector>

namespace pricepipe {

struct FaultInjection {
  enum class Kind { kNone, kThrow, kHang };
  Kind kind = Kind::kNone;
  // Fires once this many events were produced (producer) or read (consumer) by the worker.
  std::uint64_t after_events = 0;
};

// One rule: WORKER:KIND:AFTER[:TIMES] with WORKER producer|consumer, KIND throw|hang, AFTER
// events, TIMES how many worker instances get it (default: every one). Several rules are
// separated by commas.
struct FaultRule {
  std::string worker;
  FaultInjection fault;
  int times = -1;  // -1 = every instance
};

// Throws ConfigError (exit 64) on a malformed spec.
std::vector<FaultRule> parse_fault_rules(const std::string& spec);

}  // namespace pricepipe
