#include "pricepipe/supervisor/reload_plan.hpp"

namespace pricepipe {

ReloadPlan plan_reload(const Config& running, const Config& next) {
  ReloadPlan plan;
  const auto changed = changed_keys(running, next);
  if (changed.empty()) return plan;
  if (next.kafka.embedded() != running.kafka.embedded()) {
    plan.verdict = ReloadPlan::Verdict::kRefused;
    plan.refusal = "kafka.brokers cannot change to or from 'embedded' while running";
    return plan;
  }
  plan.verdict = ReloadPlan::Verdict::kApply;
  for (const auto& key : changed) {
    const auto it = next.values.find(key);
    const std::string value = it == next.values.end() ? "(removed)" : is_secret_key(key) ? "***" : it->second;
    plan.changes += " " + key + "=" + value;
    plan.restart_producer = plan.restart_producer || restarts_producer(effect_of(key));
    plan.restart_consumer = plan.restart_consumer || restarts_consumer(effect_of(key));
  }
  plan.http_port_changed = next.supervisor.http_port != running.supervisor.http_port ||
                           next.supervisor.http_address != running.supervisor.http_address;
  return plan;
}

}  // namespace pricepipe
