#include "pricepipe/supervisor/supervisor_policy.hpp"

#include <fmt/format.h>

namespace pricepipe {
namespace {

using Clock = SupervisorPolicy::Clock;

// A broker that has sent nothing this long while requests wait for it makes the worker not
// ready: with statistics every second, /readyz turns 503 within about 6 s of a silent network,
// far sooner than librdkafka's own request timeout (socket.timeout.ms, 60 s).
constexpr auto kBrokerSilentAfter = std::chrono::seconds(5);

// Adds `problem` to a status: the first one replaces "ok", later ones are appended.
void fail(HealthStatus& status, const std::string& problem) {
  status.reason = status.ok ? problem : status.reason + "; " + problem;
  status.ok = false;
}

}  // namespace

const char* to_string(WorkerKind kind) { return kind == WorkerKind::kProducer ? "producer" : "consumer"; }

Action Action::log(LogLevel level, std::string text) {
  Action action;
  action.level = level;
  action.text = std::move(text);
  return action;
}

Action Action::on(Kind kind, WorkerKind worker) {
  Action action;
  action.kind = kind;
  action.worker = worker;
  return action;
}

Action Action::count_restart(WorkerKind worker, Clock::time_point at) {
  Action action = on(Kind::kCountRestart, worker);
  action.at = at;
  return action;
}

Action Action::exit(int code) {
  Action action;
  action.kind = Kind::kExit;
  action.exit_code = code;
  return action;
}

PolicySettings PolicySettings::from(const Config& config) {
  return {config.supervisor, config.kafka.connect_timeout_s, config.kafka.brokers};
}

SupervisorPolicy::SupervisorPolicy(const PolicySettings& settings, std::uint64_t producer_seed,
                                   std::uint64_t consumer_seed, Clock::time_point started)
    : settings_(settings),
      started_(started),
      producer_{RestartPolicy(settings.supervisor, producer_seed), std::nullopt, false},
      consumer_{RestartPolicy(settings.supervisor, consumer_seed), std::nullopt, false} {}

void SupervisorPolicy::update(const PolicySettings& settings) {
  settings_ = settings;
  producer_.restarts.update(settings.supervisor);
  consumer_.restarts.update(settings.supervisor);
}

bool SupervisorPolicy::restart_on_reload(WorkerKind kind, bool enabled) {
  Slot& s = slot(kind);
  s.restart_at.reset();
  return enabled && !s.completed;
}

std::vector<Action> SupervisorPolicy::decide(Clock::time_point now, const Observation& seen) {
  std::vector<Action> actions;
  if (connect_timed_out(now, seen, actions)) return actions;
  for (WorkerKind kind : kWorkerKinds) {
    if (supervise(kind, now, seen.of(kind), actions)) return actions;
  }
  start_due(now, actions);
  producer_done(seen, actions);
  return actions;
}

bool SupervisorPolicy::connect_timed_out(Clock::time_point now, const Observation& seen,
                                         std::vector<Action>& actions) {
  if (broker_answered_ || settings_.connect_timeout_s == 0) return false;
  for (WorkerKind kind : kWorkerKinds) {
    if (seen.of(kind).present && seen.of(kind).broker_answered) broker_answered_ = true;
  }
  if (broker_answered_ || now - started_ < std::chrono::seconds(settings_.connect_timeout_s)) return false;
  actions.push_back(Action::log(
      LogLevel::kError,
      fmt::format("no Kafka broker answered within {} s (kafka.connect_timeout_s); tried {}: stopping with exit {}",
                  settings_.connect_timeout_s, settings_.brokers, exit_code::kUnavailable)));
  actions.push_back(Action::exit(exit_code::kUnavailable));
  return true;
}

bool SupervisorPolicy::supervise(WorkerKind kind, Clock::time_point now, const WorkerObservation& worker,
                                 std::vector<Action>& actions) {
  if (!worker.present) return false;
  if (worker.state == WorkerState::kRunning && worker.releasing) {
    // Its job is done (the supervisor asked no stop) and only its librdkafka handle's destroy
    // is left, which can wait a minute for unreachable brokers: not waited for.
    actions.push_back(Action::on(Action::Kind::kRelease, kind));
    return job_done(kind, actions);
  }
  if (worker.state == WorkerState::kRunning) {
    const auto silent = now - worker.last_heartbeat;
    if (silent < std::chrono::seconds(settings_.supervisor.stall_timeout_s)) {
      slot(kind).restarts.on_healthy(now);
      return false;
    }
    const std::string reason = fmt::format("stalled: no heartbeat for {} s (supervisor.stall_timeout_s)",
                                           std::chrono::duration_cast<std::chrono::seconds>(silent).count());
    actions.push_back(Action::log(LogLevel::kError, fmt::format("{} worker {}; stopping it", to_string(kind), reason)));
    actions.push_back(Action::on(Action::Kind::kStopStalled, kind));
    return on_ended(kind, now, reason, actions);
  }
  if (worker.state == WorkerState::kCompleted) {
    actions.push_back(Action::on(Action::Kind::kJoin, kind));
    return job_done(kind, actions);
  }
  if (worker.state == WorkerState::kFailed && worker.terminal_exit != 0) {
    return on_terminal(kind, worker, actions);
  }
  if (worker.state == WorkerState::kFailed) return on_ended(kind, now, worker.failure, actions);
  return false;  // kIdle/kStopped: only while stopping
}

bool SupervisorPolicy::on_ended(WorkerKind kind, Clock::time_point now, const std::string& reason,
                                std::vector<Action>& actions) {
  actions.push_back(Action::on(Action::Kind::kJoin, kind));
  const auto decision = slot(kind).restarts.on_exit(true, now);
  if (decision.restart) {
    actions.push_back(Action::count_restart(kind, now + decision.delay));
    const LogLevel level = decision.over_budget ? LogLevel::kError : LogLevel::kWarn;
    actions.push_back(Action::log(level, restart_message(kind, reason, decision)));
    slot(kind).restart_at = now + decision.delay;
    return false;
  }
  actions.push_back(Action::log(LogLevel::kError, give_up_message(kind, reason)));
  actions.push_back(Action::exit(exit_code::kSoftware));
  return true;
}

bool SupervisorPolicy::on_terminal(WorkerKind kind, const WorkerObservation& worker, std::vector<Action>& actions) {
  actions.push_back(Action::on(Action::Kind::kJoin, kind));
  actions.push_back(Action::log(LogLevel::kError, fmt::format("{} worker failed ({}); a restart cannot cure that: "
                                                              "stopping with exit {}",
                                                              to_string(kind), worker.failure, worker.terminal_exit)));
  actions.push_back(Action::exit(worker.terminal_exit));
  return true;
}

bool SupervisorPolicy::job_done(WorkerKind kind, std::vector<Action>& actions) {
  // producer.count, consumer.exit_after or drained: never restarted; the consumer's end is
  // the daemon's.
  slot(kind).completed = true;
  if (kind == WorkerKind::kProducer) return false;
  actions.push_back(Action::exit(exit_code::kOk));
  return true;
}

std::string SupervisorPolicy::restart_message(WorkerKind kind, const std::string& reason,
                                              const RestartPolicy::Decision& decision) const {
  const auto& s = settings_.supervisor;
  const auto delay_ms = std::chrono::duration_cast<std::chrono::milliseconds>(decision.delay).count();
  if (decision.over_budget) {
    // restart=always past the budget: an error each time, as the worker keeps failing and
    // nothing will end the restarts.
    return fmt::format("{} worker failed ({}); past supervisor.max_restarts={} in a row; supervisor.restart=always: "
                       "restarting in {} ms (supervisor.backoff_max_ms)",
                       to_string(kind), reason, s.max_restarts, delay_ms);
  }
  return fmt::format("{} worker failed ({}); restarting in {} ms (restart {} of {} in a row)", to_string(kind), reason,
                     delay_ms, decision.attempt, s.max_restarts);
}

std::string SupervisorPolicy::give_up_message(WorkerKind kind, const std::string& reason) const {
  const auto& s = settings_.supervisor;
  if (s.restart == RestartMode::kNever) {
    return fmt::format("{} worker failed ({}); supervisor.restart=never: stopping", to_string(kind), reason);
  }
  return fmt::format("{} worker failed ({}); out of restarts: {} in a row, none running {} s "
                     "(supervisor.max_restarts, restart_window_s): stopping",
                     to_string(kind), reason, s.max_restarts, s.restart_window_s);
}

void SupervisorPolicy::start_due(Clock::time_point now, std::vector<Action>& actions) {
  for (WorkerKind kind : kWorkerKinds) {
    Slot& s = slot(kind);
    if (!s.restart_at || now < *s.restart_at) continue;
    actions.push_back(Action::log(LogLevel::kInfo, fmt::format("starting the {} worker again", to_string(kind))));
    actions.push_back(Action::on(Action::Kind::kStart, kind));
    s.restart_at.reset();
    s.completed = false;
  }
}

void SupervisorPolicy::producer_done(const Observation& seen, std::vector<Action>& actions) {
  if (!producer_.completed || draining_) return;
  if (!seen.consumer.enabled) {
    actions.push_back(Action::log(LogLevel::kInfo, "producer finished producer.count events"));
    actions.push_back(Action::exit(exit_code::kOk));
    return;
  }
  actions.push_back(Action::log(LogLevel::kInfo, "producer finished; the consumer exits once it has read everything"));
  actions.push_back(Action::on(Action::Kind::kBeginDrain, WorkerKind::kConsumer));
  draining_ = true;
}

// Liveness: the supervisor runs (it asks this from its loop) and every enabled worker runs
// and heartbeats, or waits for a restart the supervisor scheduled. Readiness: also every
// enabled worker is running and ready (a broker connection; the consumer's assignment).
HealthAssessment SupervisorPolicy::assess(Clock::time_point now, const Observation& seen) const {
  HealthAssessment health{{true, "ok"}, {true, "ok"}, true};
  for (WorkerKind kind : kWorkerKinds) {
    if (!seen.of(kind).enabled || slot(kind).completed) continue;
    assess_worker(kind, now, seen.of(kind), health);
  }
  if (!health.live.ok) fail(health.ready, "not live");
  return health;
}

void SupervisorPolicy::assess_worker(WorkerKind kind, Clock::time_point now, const WorkerObservation& worker,
                                     HealthAssessment& health) const {
  const std::string name = to_string(kind);
  const int stall_s = settings_.supervisor.stall_timeout_s;
  if (!worker.present) {
    if (!slot(kind).restart_at) fail(health.live, name + " worker is not running");
    fail(health.ready, name + " worker is not running (waiting to restart)");
    health.workers_alive = false;
  } else if (worker.state != WorkerState::kRunning) {
    fail(health.live, name + " worker is " + to_string(worker.state));
    fail(health.ready, name + " worker is " + to_string(worker.state));
    health.workers_alive = false;
  } else if (now - worker.last_heartbeat >= std::chrono::seconds(stall_s)) {
    fail(health.live, name + " worker sent no heartbeat for " + std::to_string(stall_s) + " s");
    fail(health.ready, name + " worker sent no heartbeat");
    health.workers_alive = false;
  } else if (worker.output_blocked) {
    fail(health.ready, name + " output is blocked: stdout takes no lines (a paused or slow reader)");
  } else if (!worker.broker_reachable) {
    fail(health.ready, name + " has no connection to a Kafka broker");
  } else if (worker.broker_silent >= kBrokerSilentAfter) {
    fail(health.ready, fmt::format("{} gets no answer from a Kafka broker: requests outstanding and nothing received "
                                   "for {} s (a network that drops packets, or a stuck broker)",
                                   name, std::chrono::duration_cast<std::chrono::seconds>(worker.broker_silent).count()));
  } else if (!worker.ready) {
    fail(health.ready, name + " has no partition assignment from its group yet");
  }
}

}  // namespace pricepipe
