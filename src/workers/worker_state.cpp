#include "pricepipe/workers/worker_state.hpp"

namespace pricepipe {

const char* to_string(WorkerState state) {
  switch (state) {
    case WorkerState::kIdle: return "idle";
    case WorkerState::kRunning: return "running";
    case WorkerState::kCompleted: return "completed";
    case WorkerState::kStopped: return "stopped";
    case WorkerState::kFailed: return "failed";
  }
  return "unknown";
}

}  // namespace pricepipe
