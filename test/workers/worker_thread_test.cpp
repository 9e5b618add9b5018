// The worker host with fake loops: the order of setup, step and drain, who ends how, the
// join in the destructor, and fault injection wrapped around a loop. No librdkafka.
#include "catch_compat.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pricepipe/workers/fault_loop.hpp"
#include "pricepipe/workers/worker_context.hpp"
#include "pricepipe/workers/worker_thread.hpp"
#include "test_support.hpp"

using namespace pricepipe;
using pricepipe::test::eventually;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// What a fake loop did, shared with the test (the loop itself dies on the worker thread).
struct Trace {
  std::mutex mutex;
  std::vector<std::string> calls;
  std::thread::id destroyed_on;
  bool stop_seen_by_drain = false;
  std::atomic<std::uint64_t> steps{0};

  void add(const std::string& call) {
    std::lock_guard<std::mutex> lock(mutex);
    calls.push_back(call);
  }
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return calls;
  }
};

const char* name_of(WorkerEnd end) {
  switch (end) {
    case WorkerEnd::kCompleted: return "drain completed";
    case WorkerEnd::kStopped: return "drain stopped";
    case WorkerEnd::kFailed: return "drain failed";
  }
  return "?";
}

// Steps `steps_to_complete` times (forever when 0), sleeping 5 ms per step; `throw_at` makes
// that step throw, `setup_result` and `setup_throws` shape the setup.
struct Script {
  std::uint64_t steps_to_complete = 0;
  std::uint64_t throw_at = 0;  // 0 = never
  bool setup_result = true;
  bool setup_throws = false;
};

class FakeLoop final : public WorkerLoop {
 public:
  FakeLoop(Trace& trace, Script script) : trace_(trace), script_(script) {}
  ~FakeLoop() override {
    std::lock_guard<std::mutex> lock(trace_.mutex);
    trace_.calls.push_back("destroyed");
    trace_.destroyed_on = std::this_thread::get_id();
  }
  bool setup(WorkerContext&) override {
    trace_.add("setup");
    if (script_.setup_throws) throw std::runtime_error("setup broke");
    return script_.setup_result;
  }
  bool step(WorkerContext& ctx) override {
    const std::uint64_t n = ++trace_.steps;
    if (n == script_.throw_at) throw std::runtime_error("step " + std::to_string(n) + " broke");
    ctx.heartbeat();
    ctx.sleep_for(5ms);
    return script_.steps_to_complete != 0 && n >= script_.steps_to_complete;
  }
  void drain(WorkerContext& ctx, WorkerEnd end) override {
    trace_.add(name_of(end));
    std::lock_guard<std::mutex> lock(trace_.mutex);
    trace_.stop_seen_by_drain = ctx.stop_requested();
  }
  std::uint64_t progress() const override { return trace_.steps.load(); }

 private:
  Trace& trace_;
  Script script_;
};

std::vector<std::string> calls(std::initializer_list<const char*> names) { return {names.begin(), names.end()}; }

// A worker whose endless fake loop gets `kind` after `after` steps.
std::unique_ptr<WorkerThread> faulty_worker(Trace& trace, FaultInjection::Kind kind, std::uint64_t after) {
  FaultInjection fault;
  fault.kind = kind;
  fault.after_events = after;
  auto worker =
      std::make_unique<WorkerThread>("fake", with_fault(std::make_unique<FakeLoop>(trace, Script{}), fault, "fake"));
  worker->start();
  return worker;
}

}  // namespace

TEST_CASE("a worker thread runs setup, steps to completion, drains once and destroys the loop on its thread",
          "[unit][worker]") {
  Trace trace;
  WorkerThread worker("fake", std::make_unique<FakeLoop>(trace, Script{3}));
  CHECK(worker.state() == WorkerState::kIdle);
  worker.start();
  REQUIRE(worker.wait_until(Clock::now() + 10s));
  CHECK(worker.state() == WorkerState::kCompleted);
  CHECK(worker.failure().empty());
  CHECK(trace.steps == 3);
  CHECK(trace.snapshot() == calls({"setup", "drain completed", "destroyed"}));
  CHECK(trace.destroyed_on != std::this_thread::get_id());
  CHECK(worker.releasing());  // its work ended before its handles went
}

TEST_CASE("a worker thread tells its owner when its work ends and again when its thread ends", "[unit][worker]") {
  Trace trace;
  std::atomic<int> told{0};
  std::atomic<bool> releasing_when_told{false};
  WorkerThread* host = nullptr;
  WorkerThread worker("fake", std::make_unique<FakeLoop>(trace, Script{3}), [&] {
    if (told.fetch_add(1) == 0) releasing_when_told = host->releasing() && host->state() == WorkerState::kRunning;
  });
  host = &worker;
  worker.start();
  REQUIRE(worker.wait_until(Clock::now() + 10s));
  CHECK(told == 2);
  CHECK(releasing_when_told);  // the first: drained, its handles not yet destroyed

  Trace failing_trace;
  Script script;
  script.throw_at = 2;
  std::atomic<int> failed_told{0};
  WorkerThread failing("fake", std::make_unique<FakeLoop>(failing_trace, script), [&] { ++failed_told; });
  failing.start();
  REQUIRE(failing.wait_until(Clock::now() + 10s));
  CHECK(failing.state() == WorkerState::kFailed);
  CHECK(failed_told == 1);  // its thread's end only
}

TEST_CASE("a stop request ends the steps and the loop drains as stopped", "[unit][worker]") {
  Trace trace;
  WorkerThread worker("fake", std::make_unique<FakeLoop>(trace, Script{}));
  worker.start();
  REQUIRE(eventually([&] { return trace.steps >= 5; }, 10s, 5ms));
  CHECK(worker.state() == WorkerState::kRunning);
  worker.request_stop();
  REQUIRE(worker.wait_until(Clock::now() + 10s));
  CHECK(worker.state() == WorkerState::kStopped);
  CHECK(trace.snapshot() == calls({"setup", "drain stopped", "destroyed"}));
  CHECK(trace.stop_seen_by_drain);
}

TEST_CASE("a step that throws fails the worker with its message, after the loop drained as failed",
          "[unit][worker]") {
  Trace trace;
  Script script;
  script.throw_at = 4;
  WorkerThread worker("fake", std::make_unique<FakeLoop>(trace, script));
  worker.start();
  REQUIRE(worker.wait_until(Clock::now() + 10s));
  CHECK(worker.state() == WorkerState::kFailed);
  CHECK(worker.failure() == "step 4 broke");
  CHECK(trace.snapshot() == calls({"setup", "drain failed", "destroyed"}));
  CHECK_FALSE(worker.releasing());
}

TEST_CASE("a setup that throws, or gives up on a stop, is not drained", "[unit][worker]") {
  SECTION("throws") {
    Trace trace;
    Script script;
    script.setup_throws = true;
    WorkerThread worker("fake", std::make_unique<FakeLoop>(trace, script));
    worker.start();
    REQUIRE(worker.wait_until(Clock::now() + 10s));
    CHECK(worker.state() == WorkerState::kFailed);
    CHECK(worker.failure() == "setup broke");
    CHECK(trace.snapshot() == calls({"setup", "destroyed"}));
  }
  SECTION("gives up") {
    Trace trace;
    Script script;
    script.setup_result = false;
    WorkerThread worker("fake", std::make_unique<FakeLoop>(trace, script));
    worker.request_stop();
    worker.start();
    REQUIRE(worker.wait_until(Clock::now() + 10s));
    CHECK(worker.state() == WorkerState::kStopped);
    CHECK(trace.snapshot() == calls({"setup", "destroyed"}));
    CHECK(trace.steps == 0);
    CHECK_FALSE(worker.releasing());
  }
}

TEST_CASE("destroying a running worker stops it, drains and joins before it returns", "[unit][worker]") {
  Trace trace;
  {
    WorkerThread worker("fake", std::make_unique<FakeLoop>(trace, Script{}));
    worker.start();
    REQUIRE(eventually([&] { return trace.steps >= 2; }, 10s, 5ms));
  }
  CHECK(trace.snapshot() == calls({"setup", "drain stopped", "destroyed"}));
}

TEST_CASE("an injected throw fires once the loop handled the given number of events", "[unit][worker][fault]") {
  Trace trace;
  const auto owned = faulty_worker(trace, FaultInjection::Kind::kThrow, 7);
  WorkerThread& worker = *owned;
  REQUIRE(worker.wait_until(Clock::now() + 10s));
  CHECK(worker.state() == WorkerState::kFailed);
  CHECK(worker.failure() == "injected fault (--unsafe-fault-injection)");
  CHECK(trace.steps == 7);
  CHECK(trace.snapshot() == calls({"setup", "drain failed", "destroyed"}));
}

TEST_CASE("an injected hang stops the steps and the heartbeat until a stop is requested", "[unit][worker][fault]") {
  Trace trace;
  const auto owned = faulty_worker(trace, FaultInjection::Kind::kHang, 3);
  WorkerThread& worker = *owned;
  REQUIRE(eventually([&] { return trace.steps == 3; }, 10s, 5ms));
  const auto beat = worker.last_heartbeat();
  std::this_thread::sleep_for(100ms);
  CHECK(trace.steps == 3);
  CHECK(worker.last_heartbeat() == beat);
  CHECK(worker.state() == WorkerState::kRunning);
  worker.request_stop();
  REQUIRE(worker.wait_until(Clock::now() + 10s));
  CHECK(worker.state() == WorkerState::kStopped);
  CHECK(trace.snapshot() == calls({"setup", "drain stopped", "destroyed"}));
}

TEST_CASE("an injected slow stop keeps the worker running and heartbeating after its drain", "[unit][worker][fault]") {
  Trace trace;
  const auto owned = faulty_worker(trace, FaultInjection::Kind::kSlowStop, 2);
  WorkerThread& worker = *owned;
  REQUIRE(eventually([&] { return trace.steps >= 4; }, 10s, 5ms));
  worker.request_stop();
  REQUIRE(eventually([&] { return trace.snapshot().size() == 2; }, 10s, 5ms));  // setup, drain stopped
  // kSlowStopDelay (3 s) more: still at work, so neither ended nor merely releasing.
  const auto beat = worker.last_heartbeat();
  CHECK_FALSE(worker.wait_until(Clock::now() + 500ms));
  CHECK_FALSE(worker.releasing());
  CHECK(worker.last_heartbeat() > beat);
  REQUIRE(worker.wait_until(Clock::now() + 10s));
  CHECK(worker.state() == WorkerState::kStopped);
  CHECK(trace.snapshot() == calls({"setup", "drain stopped", "destroyed"}));
}

TEST_CASE("no fault leaves the loop unwrapped", "[unit][worker][fault]") {
  Trace trace;
  auto loop = std::make_unique<FakeLoop>(trace, Script{});
  WorkerLoop* raw = loop.get();
  CHECK(with_fault(std::move(loop), FaultInjection{}, "fake").get() == raw);
}
