#pragma once
// What a reload does, decided from the running and the new configuration alone: nothing (the
// file is unchanged), refuse it (a change that cannot be applied while running), or apply it,
// restarting the workers whose Kafka client a changed key configures (the key table's Effect)
// and moving the health endpoint when its port changed. Pure: the supervisor logs the plan and
// carries it out; tests compare plans.

#include <string>

#include "pricepipe/config/config.hpp"

namespace pricepipe {

struct ReloadPlan {
  enum class Verdict { kUnchanged, kRefused, kApply };
  Verdict verdict = Verdict::kUnchanged;
  std::string refusal;  // kRefused: why, for the log
  std::string changes;  // kApply: " key=value" per changed key, secrets as ***
  bool restart_producer = false;
  bool restart_consumer = false;
  bool http_port_changed = false;  // supervisor.http_port or http_address: the endpoint moves
};

ReloadPlan plan_reload(const Config& running, const Config& next);

}  // namespace pricepipe
