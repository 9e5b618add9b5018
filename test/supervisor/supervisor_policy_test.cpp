// The supervisor's decisions with a made-up clock: no threads, no broker. Each test builds
// snapshots of the workers, asks SupervisorPolicy and compares the actions it returns.
#include <string>
#include <vector>

#include "catch_compat.hpp"
#include "pricepipe/supervisor/supervisor_policy.hpp"

using namespace pricepipe;
using namespace std::chrono_literals;
using Clock = SupervisorPolicy::Clock;
using K = Action::Kind;

namespace {

const Clock::time_point t0 = Clock::time_point{} + 1000s;

PolicySettings settings(RestartMode mode = RestartMode::kOnFailure, int max_restarts = 10, int connect_timeout_s = 0) {
  PolicySettings s;
  s.supervisor.restart = mode;
  s.supervisor.backoff_initial_ms = 500;
  s.supervisor.backoff_max_ms = 30000;
  s.supervisor.max_restarts = max_restarts;
  s.supervisor.restart_window_s = 60;
  s.supervisor.stall_timeout_s = 30;
  s.connect_timeout_s = connect_timeout_s;
  s.brokers = "b1:9092,b2:9092";
  return s;
}

SupervisorPolicy policy(const PolicySettings& s = settings()) { return SupervisorPolicy(s, 1, 2, t0); }

// A worker that runs, heartbeat at `heartbeat`, connected and ready.
WorkerObservation running(Clock::time_point heartbeat) {
  WorkerObservation w;
  w.enabled = true;
  w.present = true;
  w.state = WorkerState::kRunning;
  w.last_heartbeat = heartbeat;
  w.broker_reachable = true;
  w.ready = true;
  w.broker_answered = true;
  return w;
}

WorkerObservation ended(WorkerState state, std::string failure = {}) {
  WorkerObservation w = running(t0);
  w.state = state;
  w.failure = std::move(failure);
  return w;
}

WorkerObservation absent(bool enabled = true) {
  WorkerObservation w;
  w.enabled = enabled;
  return w;
}

const char* name(K kind) {
  switch (kind) {
    case K::kLog: return "log";
    case K::kStopStalled: return "stop-stalled";
    case K::kJoin: return "join";
    case K::kRelease: return "release";
    case K::kCountRestart: return "count-restart";
    case K::kStart: return "start";
    case K::kBeginDrain: return "begin-drain";
    case K::kExit: return "exit";
  }
  return "?";
}

const char* name(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "?";
}

// One line per action, so that a failed comparison shows what the policy decided.
std::vector<std::string> describe(const std::vector<Action>& actions) {
  std::vector<std::string> lines;
  for (const Action& a : actions) {
    if (a.kind == K::kLog) {
      lines.push_back(std::string("log ") + name(a.level) + ": " + a.text);
    } else if (a.kind == K::kExit) {
      lines.push_back("exit " + std::to_string(a.exit_code));
    } else {
      lines.push_back(std::string(name(a.kind)) + " " + to_string(a.worker));
    }
  }
  return lines;
}

using Lines = std::vector<std::string>;

long long ms(Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

// The restart delay a decision chose: its kCountRestart's time minus `now`.
Clock::duration delay_of(const std::vector<Action>& actions, Clock::time_point now) {
  for (const Action& a : actions) {
    if (a.kind == K::kCountRestart) return a.at - now;
  }
  FAIL("no restart scheduled");
  return {};
}

}  // namespace

TEST_CASE("policy: a failed worker is restarted after the backoff delay, which doubles", "[unit][supervisor]") {
  auto p = policy();
  const auto first = p.decide(t0, {ended(WorkerState::kFailed, "boom"), running(t0)});
  const auto d1 = delay_of(first, t0);
  CHECK(d1 >= 375ms);  // 500 ms less up to 25% jitter
  CHECK(d1 <= 500ms);
  CHECK(describe(first) == Lines{"join producer", "count-restart producer",
                                 "log warn: producer worker failed (boom); restarting in " + std::to_string(ms(d1)) +
                                     " ms (restart 1 of 10 in a row)"});
  REQUIRE(p.restart_at(WorkerKind::kProducer) == t0 + d1);

  // Not before its time.
  CHECK(p.decide(t0 + d1 - 1ms, {absent(), running(t0)}).empty());
  CHECK(describe(p.decide(t0 + d1, {absent(), running(t0)})) ==
        Lines{"log info: starting the producer worker again", "start producer"});
  CHECK_FALSE(p.restart_at(WorkerKind::kProducer));

  const auto t1 = t0 + 2s;
  const auto second = p.decide(t1, {ended(WorkerState::kFailed, "boom"), running(t1)});
  const auto d2 = delay_of(second, t1);
  CHECK(d2 >= 750ms);
  CHECK(d2 <= 1000ms);
  CHECK(describe(second).back() == "log warn: producer worker failed (boom); restarting in " +
                                       std::to_string(ms(d2)) + " ms (restart 2 of 10 in a row)");
}

TEST_CASE("policy: past max_restarts with restart=on-failure the daemon exits 70", "[unit][supervisor]") {
  auto p = policy(settings(RestartMode::kOnFailure, 2));
  auto now = t0;
  for (int i = 0; i < 2; ++i) {
    const auto actions = p.decide(now, {running(now), ended(WorkerState::kFailed, "decode")});
    CHECK(describe(actions).at(1) == "count-restart consumer");
    now += 1s;
  }
  const auto third = p.decide(now, {running(now), ended(WorkerState::kFailed, "decode")});
  CHECK(describe(third) == Lines{"join consumer",
                                 "log error: consumer worker failed (decode); out of restarts: 2 in a row, none running "
                                 "60 s (supervisor.max_restarts, restart_window_s): stopping",
                                 "exit 70"});
}

TEST_CASE("policy: a failure no restart cures ends the daemon with its exit code, whatever the mode",
          "[unit][supervisor]") {
  for (const auto mode : {RestartMode::kOnFailure, RestartMode::kAlways}) {
    auto p = policy(settings(mode));
    auto closed = ended(WorkerState::kFailed, "cannot write events to the output: Broken pipe");
    closed.terminal_exit = 74;
    const auto actions = p.decide(t0, {running(t0), closed});
    CHECK(describe(actions) == Lines{"join consumer",
                                     "log error: consumer worker failed (cannot write events to the output: Broken "
                                     "pipe); a restart cannot cure that: stopping with exit 74",
                                     "exit 74"});
  }
}

TEST_CASE("policy: restart=always never gives up, past the budget it restarts after backoff_max_ms",
          "[unit][supervisor]") {
  auto p = policy(settings(RestartMode::kAlways, 2));
  auto now = t0;
  for (int i = 0; i < 20; ++i) {
    INFO("failure " << i + 1);
    const auto actions = p.decide(now, {ended(WorkerState::kFailed, "boom"), absent(false)});
    const auto lines = describe(actions);
    REQUIRE(lines.size() == 3);
    CHECK(lines[1] == "count-restart producer");
    if (i >= 2) {
      const auto delay = delay_of(actions, now);
      CHECK(delay >= 22500ms);
      CHECK(lines[2] == "log error: producer worker failed (boom); past supervisor.max_restarts=2 in a row; "
                        "supervisor.restart=always: restarting in " +
                            std::to_string(ms(delay)) + " ms (supervisor.backoff_max_ms)");
    }
    now += 1s;
  }
}

TEST_CASE("policy: restart=never gives up at the first failure", "[unit][supervisor]") {
  auto p = policy(settings(RestartMode::kNever));
  CHECK(describe(p.decide(t0, {ended(WorkerState::kFailed, "fatal"), running(t0)})) ==
        Lines{"join producer", "log error: producer worker failed (fatal); supervisor.restart=never: stopping",
              "exit 70"});
}

TEST_CASE("policy: a worker without a heartbeat for stall_timeout_s is stopped and restarted", "[unit][supervisor]") {
  auto p = policy();
  // Just under the timeout: healthy, nothing to do.
  CHECK(p.decide(t0 + 30s - 1ms, {running(t0), running(t0 + 30s)}).empty());
  const auto now = t0 + 31s;
  const auto actions = p.decide(now, {running(now), running(t0)});
  const auto delay = delay_of(actions, now);
  CHECK(describe(actions) ==
        Lines{"log error: consumer worker stalled: no heartbeat for 31 s (supervisor.stall_timeout_s); stopping it",
              "stop-stalled consumer", "join consumer", "count-restart consumer",
              "log warn: consumer worker failed (stalled: no heartbeat for 31 s (supervisor.stall_timeout_s)); "
              "restarting in " +
                  std::to_string(ms(delay)) + " ms (restart 1 of 10 in a row)"});
}

TEST_CASE("policy: a completed producer makes the consumer drain, once", "[unit][supervisor]") {
  auto p = policy();
  CHECK(describe(p.decide(t0, {ended(WorkerState::kCompleted), running(t0)})) ==
        Lines{"join producer", "log info: producer finished; the consumer exits once it has read everything",
              "begin-drain consumer"});
  CHECK(p.completed(WorkerKind::kProducer));
  CHECK(p.decide(t0 + 1s, {absent(), running(t0 + 1s)}).empty());
  // Its job is done: it is not restarted on a reload, and no longer counts for health.
  CHECK_FALSE(p.restart_on_reload(WorkerKind::kProducer, true));
  const auto health = p.assess(t0 + 1s, {absent(), running(t0 + 1s)});
  CHECK(health.live.reason == "ok");
  CHECK(health.ready.reason == "ok");
  CHECK(health.workers_alive);
}

TEST_CASE("policy: a releasing producer is not waited for and the consumer drains", "[unit][supervisor]") {
  auto p = policy();
  auto producer = running(t0);
  producer.releasing = true;
  CHECK(describe(p.decide(t0, {producer, running(t0)})) ==
        Lines{"release producer", "log info: producer finished; the consumer exits once it has read everything",
              "begin-drain consumer"});
}

TEST_CASE("policy: a completed or releasing consumer ends the daemon with exit 0", "[unit][supervisor]") {
  auto p = policy();
  CHECK(describe(p.decide(t0, {absent(false), ended(WorkerState::kCompleted)})) ==
        Lines{"join consumer", "exit 0"});
  auto q = policy();
  auto consumer = running(t0);
  consumer.releasing = true;
  CHECK(describe(q.decide(t0, {running(t0), consumer})) == Lines{"release consumer", "exit 0"});
}

TEST_CASE("policy: with the consumer disabled the daemon exits 0 once the producer completed", "[unit][supervisor]") {
  auto p = policy();
  CHECK(describe(p.decide(t0, {ended(WorkerState::kCompleted), absent(false)})) ==
        Lines{"join producer", "log info: producer finished producer.count events", "exit 0"});
}

TEST_CASE("policy: kafka.connect_timeout_s exits 69 only when no broker ever answered", "[unit][supervisor]") {
  auto silent = running(t0);
  silent.broker_answered = false;
  silent.broker_reachable = false;

  auto p = policy(settings(RestartMode::kOnFailure, 10, 5));
  CHECK(p.decide(t0 + 5s - 1ms, {silent, silent}).empty());
  CHECK(describe(p.decide(t0 + 5s, {silent, silent})) ==
        Lines{"log error: no Kafka broker answered within 5 s (kafka.connect_timeout_s); tried b1:9092,b2:9092: "
              "stopping with exit 69",
              "exit 69"});

  // One answer, even from a worker since replaced, is enough for good.
  auto q = policy(settings(RestartMode::kOnFailure, 10, 5));
  auto answered = silent;
  answered.broker_answered = true;
  CHECK(q.decide(t0 + 1s, {answered, silent}).empty());
  silent.last_heartbeat = t0 + 60s;
  CHECK(q.decide(t0 + 60s, {silent, silent}).empty());

  // 0: waits forever.
  auto r = policy(settings(RestartMode::kOnFailure, 10, 0));
  silent.last_heartbeat = t0 + 3600s;
  CHECK(r.decide(t0 + 3600s, {silent, silent}).empty());
}

TEST_CASE("policy: liveness and readiness say which worker is not fine and why", "[unit][supervisor]") {
  auto p = policy();
  const auto now = t0 + 10s;

  SECTION("all fine") {
    const auto h = p.assess(now, {running(now), running(now)});
    CHECK(h.live.ok);
    CHECK(h.ready.ok);
    CHECK(h.ready.reason == "ok");
    CHECK(h.workers_alive);
  }
  SECTION("a worker that is not running and not waiting for a restart") {
    const auto h = p.assess(now, {running(now), absent()});
    CHECK_FALSE(h.live.ok);
    CHECK(h.live.reason == "consumer worker is not running");
    CHECK(h.ready.reason == "consumer worker is not running (waiting to restart); not live");
    CHECK_FALSE(h.workers_alive);
  }
  SECTION("a worker waiting for its restart is live, not ready") {
    p.decide(now, {ended(WorkerState::kFailed, "boom"), running(now)});
    const auto h = p.assess(now, {absent(), running(now)});
    CHECK(h.live.ok);
    CHECK_FALSE(h.ready.ok);
    CHECK(h.ready.reason == "producer worker is not running (waiting to restart)");
    CHECK_FALSE(h.workers_alive);
  }
  SECTION("a worker in another state than running") {
    const auto h = p.assess(now, {ended(WorkerState::kFailed, "boom"), running(now)});
    CHECK(h.live.reason == "producer worker is failed");
    CHECK(h.ready.reason == "producer worker is failed; not live");
  }
  SECTION("no heartbeat for stall_timeout_s") {
    const auto h = p.assess(now, {running(now - 30s), running(now)});
    CHECK(h.live.reason == "producer worker sent no heartbeat for 30 s");
    CHECK(h.ready.reason == "producer worker sent no heartbeat; not live");
    CHECK_FALSE(h.workers_alive);
  }
  SECTION("no broker connection: live, not ready") {
    auto producer = running(now);
    producer.broker_reachable = false;
    const auto h = p.assess(now, {producer, running(now)});
    CHECK(h.live.ok);
    CHECK(h.ready.reason == "producer has no connection to a Kafka broker");
    CHECK(h.workers_alive);
  }
  SECTION("no partition assignment yet, along with another reason") {
    auto producer = running(now);
    producer.broker_reachable = false;
    auto consumer = running(now);
    consumer.ready = false;
    const auto h = p.assess(now, {producer, consumer});
    CHECK(h.live.ok);
    CHECK(h.ready.reason ==
          "producer has no connection to a Kafka broker; consumer has no partition assignment from its group yet");
  }
  SECTION("a blocked output or a silent broker: live, not ready, and says which") {
    auto consumer = running(now);
    consumer.output_blocked = true;
    auto producer = running(now);
    producer.broker_silent = 4900ms;  // not yet: a slow answer is not a silent network
    auto h = p.assess(now, {producer, consumer});
    CHECK(h.live.ok);
    CHECK(h.ready.reason == "consumer output is blocked: stdout takes no lines (a paused or slow reader)");
    producer.broker_silent = 7s;
    consumer.output_blocked = false;
    h = p.assess(now, {producer, consumer});
    CHECK(h.live.ok);
    CHECK(h.ready.reason == "producer gets no answer from a Kafka broker: requests outstanding and nothing received "
                            "for 7 s (a network that drops packets, or a stuck broker)");
  }
  SECTION("a disabled worker does not count") {
    const auto h = p.assess(now, {absent(false), running(now)});
    CHECK(h.ready.ok);
    CHECK(h.workers_alive);
  }
}

TEST_CASE("policy: a reload's restart drops a pending one", "[unit][supervisor]") {
  auto p = policy();
  p.decide(t0, {ended(WorkerState::kFailed, "boom"), running(t0)});
  REQUIRE(p.restart_at(WorkerKind::kProducer));
  CHECK(p.restart_on_reload(WorkerKind::kProducer, true));
  CHECK_FALSE(p.restart_at(WorkerKind::kProducer));
  CHECK(p.decide(t0 + 60s, {running(t0 + 60s), running(t0 + 60s)}).empty());
  CHECK_FALSE(p.restart_on_reload(WorkerKind::kConsumer, false));  // disabled: stays stopped
}

TEST_CASE("policy: a worker that ran healthily for a restart window starts again from the first delay",
          "[unit][supervisor]") {
  auto p = policy();
  auto now = t0;
  for (int i = 0; i < 5; ++i) {
    p.decide(now, {ended(WorkerState::kFailed, "boom"), absent(false)});
    now += 1s;
  }
  const auto failing = p.decide(now, {ended(WorkerState::kFailed, "boom"), absent(false)});
  CHECK(delay_of(failing, now) >= 12000ms);  // 500 ms doubled 5 times, less the jitter
  now += 61s;
  CHECK(describe(p.decide(now, {absent(), absent(false)})).back() == "start producer");
  now += 61s;  // runs a whole window after its start
  CHECK(p.decide(now, {running(now), absent(false)}).empty());  // heartbeats: healthy
  now += 1s;
  const auto again = p.decide(now, {ended(WorkerState::kFailed, "boom"), absent(false)});
  CHECK(delay_of(again, now) <= 500ms);
}
