#include "pricepipe/workers/fault.hpp"

#include <sstream>
#include <string>
#include <vector>

#include "pricepipe/config/config.hpp"

namespace pricepipe {

namespace {

ConfigError bad_rule(const std::string& item) {
  return ConfigError("--unsafe-fault-injection: '" + item +
                         "' is not WORKER:KIND:AFTER[:TIMES] (producer|consumer, "
                         "throw|hang|slow-stop, events, instances)",
                     exit_code::kUsage);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::istringstream fields(text);
  std::string field;
  while (std::getline(fields, field, separator)) parts.push_back(field);
  return parts;
}

FaultInjection::Kind kind_of(const std::string& name, const std::string& item) {
  if (name == "throw") return FaultInjection::Kind::kThrow;
  if (name == "hang") return FaultInjection::Kind::kHang;
  if (name == "slow-stop") return FaultInjection::Kind::kSlowStop;
  throw bad_rule(item);
}

FaultRule parse_fault_rule(const std::string& item) {
  const std::vector<std::string> parts = split(item, ':');
  if (parts.size() < 3 || parts.size() > 4) throw bad_rule(item);
  FaultRule rule;
  rule.worker = parts[0];
  if (rule.worker != "producer" && rule.worker != "consumer") throw bad_rule(item);
  rule.fault.kind = kind_of(parts[1], item);
  // Digits only: std::stoull would take "-1" as 2^64 - 1.
  if (parts[2].empty() || parts[2].find_first_not_of("0123456789") != std::string::npos) throw bad_rule(item);
  try {
    std::size_t used = 0;
    rule.fault.after_events = std::stoull(parts[2], &used);
    if (used != parts[2].size()) throw bad_rule(item);
    if (parts.size() == 4) {
      rule.times = std::stoi(parts[3], &used);
      if (used != parts[3].size() || rule.times < 1) throw bad_rule(item);
    }
  } catch (const std::logic_error&) {
    throw bad_rule(item);
  }
  return rule;
}

}  // namespace

std::vector<FaultRule> parse_fault_rules(const std::string& spec) {
  std::vector<FaultRule> rules;
  for (const std::string& item : split(spec, ',')) rules.push_back(parse_fault_rule(item));
  return rules;
}

}  // namespace pricepipe
