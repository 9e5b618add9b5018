#pragma once
// Fault injection from outside the workers: a WorkerLoop that wraps a worker's loop and, once
// the loop has handled FaultInjection::after_events events, throws, hangs (no heartbeat until
// a stop is requested) or arms a slow stop (the drain takes kSlowStopDelay longer, heartbeating).
// The supervisor wraps a loop only when --unsafe-fault-injection gave it a rule.

#include <memory>
#include <string>

#include "pricepipe/workers/fault.hpp"
#include "pricepipe/workers/worker_loop.hpp"

namespace pricepipe {

// `loop` itself when `fault` is kNone; otherwise `loop` wrapped. `worker` names it in logs.
std::unique_ptr<WorkerLoop> with_fault(std::unique_ptr<WorkerLoop> loop, FaultInjection fault,
                                       const std::string& worker);

}  // namespace pricepipe
