#include "pricepipe/workers/fault_loop.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "pricepipe/workers/worker_context.hpp"

namespace pricepipe {
namespace {

using Clock = std::chrono::steady_clock;

class FaultyLoop final : public WorkerLoop {
 public:
  FaultyLoop(std::unique_ptr<WorkerLoop> inner, FaultInjection fault, std::string worker)
      : inner_(std::move(inner)), fault_(fault), worker_(std::move(worker)) {}

  bool setup(WorkerContext& ctx) override { return inner_->setup(ctx); }

  bool step(WorkerContext& ctx) override {
    if (fault_.kind != FaultInjection::Kind::kNone && inner_->progress() >= fault_.after_events) {
      const FaultInjection fault = fault_;
      fault_ = FaultInjection{};  // once per worker instance
      if (!fire(ctx, fault)) return false;
    }
    return inner_->step(ctx);
  }

  void drain(WorkerContext& ctx, WorkerEnd end) override {
    inner_->drain(ctx, end);
    if (slow_stop_ && end == WorkerEnd::kStopped) stop_slowly(ctx);
  }

  std::uint64_t progress() const override { return inner_->progress(); }

 private:
  // False when the step is not to be taken (the hang ended with a stop request).
  bool fire(WorkerContext& ctx, const FaultInjection& fault) {
    switch (fault.kind) {
      case FaultInjection::Kind::kThrow: throw std::runtime_error("injected fault (--unsafe-fault-injection)");
      case FaultInjection::Kind::kSlowStop: slow_stop_ = true; return true;
      case FaultInjection::Kind::kHang:
        spdlog::warn("{} worker: injected hang (--unsafe-fault-injection): no heartbeat until stopped", worker_);
        ctx.wait_for_stop();
        return false;
      case FaultInjection::Kind::kNone: break;
    }
    return true;
  }

  // Work still going on after the stop was asked for: heartbeats for kSlowStopDelay more.
  void stop_slowly(WorkerContext& ctx) {
    spdlog::warn("{} worker: injected slow stop (--unsafe-fault-injection): ending in {} ms", worker_,
                 kSlowStopDelay.count());
    const auto end = Clock::now() + kSlowStopDelay;
    while (Clock::now() < end) {
      ctx.heartbeat();
      std::this_thread::sleep_for(std::min<Clock::duration>(end - Clock::now(), std::chrono::milliseconds(100)));
    }
  }

  std::unique_ptr<WorkerLoop> inner_;
  FaultInjection fault_;
  std::string worker_;
  bool slow_stop_ = false;
};

}  // namespace

std::unique_ptr<WorkerLoop> with_fault(std::unique_ptr<WorkerLoop> loop, FaultInjection fault,
                                       const std::string& worker) {
  if (fault.kind == FaultInjection::Kind::kNone) return loop;
  return std::make_unique<FaultyLoop>(std::move(loop), fault, worker);
}

}  // namespace pricepipe
