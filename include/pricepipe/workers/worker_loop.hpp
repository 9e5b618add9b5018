#pragma once
// A worker's job as the steps a WorkerThread runs: setup(), then step() until the job is
// complete or a stop is requested, then drain(), the worker's one shutdown sequence. The loop
// owns the worker's librdkafka handles. It is made on the owner's thread, then runs and is
// destroyed on the worker thread, so its handles never cross threads.

#include <cstdint>

namespace pricepipe {

class WorkerContext;

// How a run ends, for drain().
enum class WorkerEnd {
  kCompleted,  // step() said the job is done
  kStopped,    // a stop was requested
  kFailed,     // step() threw; the exception is on its way to the owner
};

class WorkerLoop {
 public:
  WorkerLoop() = default;
  virtual ~WorkerLoop() = default;
  WorkerLoop(const WorkerLoop&) = delete;
  WorkerLoop& operator=(const WorkerLoop&) = delete;

  // Creates the clients and readies the topic. False when a stop came first; drain() is then
  // not called. A throw fails the worker without drain().
  virtual bool setup(WorkerContext& ctx) = 0;
  // One unit of work (an event, a batch); true once the job is complete. Heartbeats as often
  // as it needs to: the thread does not do it per step.
  virtual bool step(WorkerContext& ctx) = 0;
  // Ends the run within the stop bound: flush, commit, leave. Called once after a successful
  // setup(). With kFailed, a throw from it is logged and the first failure kept.
  virtual void drain(WorkerContext& ctx, WorkerEnd end) = 0;
  // Events handled so far (produced, or read), for fault injection.
  virtual std::uint64_t progress() const = 0;
};

}  // namespace pricepipe
