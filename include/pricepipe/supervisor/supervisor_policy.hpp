#pragma once
// The supervisor's decisions as a pure function: given a snapshot of the workers and the time,
// which worker to stop as stalled, join, restart (under RestartPolicy) or start again, when the
// consumer drains, when and with which exit code the daemon ends, and what /livez and /readyz
// say. No threads, no broker, no clock of its own: the supervisor observes the workers, asks
// decide() and carries the actions out in order, so tests drive it with made-up time points.
// Supervisor thread only.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pricepipe/config/config.hpp"
#include "pricepipe/ops/health.hpp"
#include "pricepipe/supervisor/restart_policy.hpp"
#include "pricepipe/workers/worker_state.hpp"

namespace pricepipe {

enum class WorkerKind { kProducer, kConsumer };
inline constexpr std::array<WorkerKind, 2> kWorkerKinds = {WorkerKind::kProducer, WorkerKind::kConsumer};
const char* to_string(WorkerKind kind);  // "producer", "consumer"

// One worker's slot as the supervisor saw it, copied from the worker's atomics.
struct WorkerObservation {
  bool enabled = false;  // producer.enabled / consumer.enabled
  bool present = false;  // the slot holds a worker (the rest is meaningless without one)
  WorkerState state = WorkerState::kIdle;
  std::chrono::steady_clock::time_point last_heartbeat{};
  bool releasing = false;  // finished; only its librdkafka handle destroy is left
  bool broker_reachable = false;
  bool ready = false;
  bool broker_answered = false;  // a broker answered this worker since it started
  bool output_blocked = false;   // its stdout has taken nothing for a while
  std::chrono::milliseconds broker_silent{0};  // a broker it waits on has sent nothing for this long
  std::string failure;           // why it failed, when state is kFailed
  int terminal_exit = 0;         // a failure no restart cures: the daemon's exit code
};

struct Observation {
  WorkerObservation producer;
  WorkerObservation consumer;
  const WorkerObservation& of(WorkerKind kind) const { return kind == WorkerKind::kProducer ? producer : consumer; }
};

enum class LogLevel { kInfo, kWarn, kError };

// One step for the supervisor to carry out. Plain values, so tests compare them.
struct Action {
  enum class Kind {
    kLog,              // log `text` at `level`
    kStopStalled,      // stop `worker` within supervisor.shutdown_timeout_s (the process ends if it does not)
    kJoin,             // `worker` has ended: join it and empty its slot (unless a stop released it)
    kRelease,          // move `worker` to the releasing ones: its handle destroy is not waited for
    kCountRestart,     // count a restart of `worker`; a kStart follows once `at` has come
    kStart,            // start `worker` again
    kBeginDrain,       // the producer completed: the consumer ends once it has read what was produced
    kExit,             // stop everything gracefully and end with `exit_code`
  };
  Kind kind = Kind::kLog;
  WorkerKind worker = WorkerKind::kProducer;
  LogLevel level = LogLevel::kInfo;
  std::string text;
  std::chrono::steady_clock::time_point at{};
  int exit_code = 0;

  static Action log(LogLevel level, std::string text);
  static Action on(Kind kind, WorkerKind worker);
  static Action count_restart(WorkerKind worker, std::chrono::steady_clock::time_point at);
  static Action exit(int code);
};

// What the supervisor publishes after a round of decisions.
struct HealthAssessment {
  HealthStatus live;
  HealthStatus ready;
  // Every enabled worker runs (or finished its job) and heartbeats: for READY=1. WATCHDOG=1
  // follows `live`.
  bool workers_alive = false;
};

// The configuration the decisions depend on; rebuilt on every reload.
struct PolicySettings {
  SupervisorSettings supervisor;
  int connect_timeout_s = 0;  // kafka.connect_timeout_s, 0 = wait forever
  std::string brokers;        // kafka.brokers as configured, for the log

  static PolicySettings from(const Config& config);
};

class SupervisorPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  // `started` is when the workers were first started (kafka.connect_timeout_s counts from it).
  SupervisorPolicy(const PolicySettings& settings, std::uint64_t producer_seed, std::uint64_t consumer_seed,
                   Clock::time_point started);

  // One round: what to do about the workers as `seen` at `now`. A kExit, when there is one,
  // is the last action.
  std::vector<Action> decide(Clock::time_point now, const Observation& seen);
  // Liveness and readiness of the workers as `seen` at `now`.
  HealthAssessment assess(Clock::time_point now, const Observation& seen) const;

  void update(const PolicySettings& settings);
  // A reload stopped `kind` to apply new settings: forgets a pending restart; true when it
  // is to be started again (enabled and its job not done).
  bool restart_on_reload(WorkerKind kind, bool enabled);

  bool completed(WorkerKind kind) const { return slot(kind).completed; }
  std::optional<Clock::time_point> restart_at(WorkerKind kind) const { return slot(kind).restart_at; }

 private:
  struct Slot {
    RestartPolicy restarts;
    std::optional<Clock::time_point> restart_at;
    bool completed = false;  // finished its job (producer.count, consumer.exit_after, drained)
  };

  // kafka.connect_timeout_s passed with no broker ever answering: the log line and exit 69.
  bool connect_timed_out(Clock::time_point now, const Observation& seen, std::vector<Action>& actions);
  // A worker that ended, stalled or is releasing; true when the daemon ends.
  bool supervise(WorkerKind kind, Clock::time_point now, const WorkerObservation& worker,
                 std::vector<Action>& actions);
  // A worker that ended (or was stopped as stalled) and was joined; true when the daemon ends.
  bool on_ended(WorkerKind kind, Clock::time_point now, const std::string& reason, std::vector<Action>& actions);
  // A worker failed in a way no restart cures (TerminalError): the daemon ends with its code.
  bool on_terminal(WorkerKind kind, const WorkerObservation& worker, std::vector<Action>& actions);
  // The worker finished its job; true when that ends the daemon (the consumer's end is its end).
  bool job_done(WorkerKind kind, std::vector<Action>& actions);
  std::string restart_message(WorkerKind kind, const std::string& reason,
                              const RestartPolicy::Decision& decision) const;
  std::string give_up_message(WorkerKind kind, const std::string& reason) const;
  void start_due(Clock::time_point now, std::vector<Action>& actions);
  // The producer completed: the consumer drains, or without one the daemon ends.
  void producer_done(const Observation& seen, std::vector<Action>& actions);
  void assess_worker(WorkerKind kind, Clock::time_point now, const WorkerObservation& worker,
                     HealthAssessment& health) const;
  Slot& slot(WorkerKind kind) { return kind == WorkerKind::kProducer ? producer_ : consumer_; }
  const Slot& slot(WorkerKind kind) const { return kind == WorkerKind::kProducer ? producer_ : consumer_; }

  PolicySettings settings_;
  Clock::time_point started_;
  Slot producer_;
  Slot consumer_;
  bool broker_answered_ = false;  // a worker reached a broker since the start
  bool draining_ = false;
};

}  // namespace pricepipe
