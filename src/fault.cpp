#include "pricepipe/fault.hpp"

#include <sstream>

#include "pricepipe/config.hpp"

namespace pricepipe {

std::vector<FaultRule> parse_fault_rules(const std::string& spec) {
  std::vector<FaultRule> rules;
  std::istringstream all(spec);
  std::string item;
  while (std::getline(all, item, ',')) {
    std::vector<std::string> parts;
    std::istringstream fields(item);
    std::string field;
    while (std::getline(fields, field, ':')) parts.push_back(field);
    const auto bad = [&item] {
      return ConfigError("--unsafe-fault-injection: '" + item +
                             "' is not WORKER:KIND:AFTER[:TIMES] (producer|consumer, "
                             "throw|hang|slow-stop, events, instances)",
                         exit_code::kUsage);
    };
    if (parts.size() < 3 || parts.size() > 4) throw bad();
    FaultRule rule;
    rule.worker = parts[0];
    if (rule.worker != "producer" && rule.worker != "consumer") throw bad();
    if (parts[1] == "throw") rule.fault.kind = FaultInjection::Kind::kThrow;
    else if (parts[1] == "hang") rule.fault.kind = FaultInjection::Kind::kHang;
    else if (parts[1] == "slow-stop") rule.fault.kind = FaultInjection::Kind::kSlowStop;
    else throw bad();
    // Digits only: std::stoull would take "-1" as 2^64 - 1.
    if (parts[2].empty() || parts[2].find_first_not_of("0123456789") != std::string::npos) throw bad();
    try {
      std::size_t used = 0;
      rule.fault.after_events = std::stoull(parts[2], &used);
      if (used != parts[2].size()) throw bad();
      if (parts.size() == 4) {
        rule.times = std::stoi(parts[3], &used);
        if (used != parts[3].size() || rule.times < 1) throw bad();
      }
    } catch (const std::logic_error&) {
      throw bad();
    }
    rules.push_back(rule);
  }
  return rules;
}

}  // namespace pricepipe
