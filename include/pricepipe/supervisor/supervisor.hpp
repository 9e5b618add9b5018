#pragma once
// The supervisor owns the workers (and the embedded mock cluster and the health endpoint),
// and is the only thread that handles signals: SIGTERM/SIGINT stop everything gracefully,
// SIGHUP reloads the config. It carries out what SupervisorPolicy decides (restarts of failed
// or stalled workers, the drain, the end of the daemon and its exit code).

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pricepipe/config/command_line.hpp"
#include "pricepipe/config/config.hpp"
#include "pricepipe/metrics/metrics.hpp"
#include "pricepipe/ops/health.hpp"
#include "pricepipe/ops/health_board.hpp"
#include "pricepipe/ops/prometheus.hpp"
#include "pricepipe/ops/systemd_notify.hpp"
#include "pricepipe/supervisor/reload_plan.hpp"
#include "pricepipe/supervisor/supervisor_policy.hpp"
#include "pricepipe/workers/fault.hpp"
#include "pricepipe/workers/handoff.hpp"
#include "pricepipe/workers/worker_thread.hpp"

namespace pricepipe {

class MockCluster;

class Supervisor {
 public:
  // Events go to the file descriptor `out` (stdout in the daemon). `faults` come from --unsafe-fault-injection.
  // `build` is what /metrics names as pricepipe_build_info.
  Supervisor(ConfigLoader loader, Config config, int out, std::vector<FaultRule> faults = {}, BuildInfo build = {});
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Runs until a signal, the work is done, or a worker is out of restarts (never with
  // supervisor.restart=always). Returns the exit code. Call from the main thread after block_signals().
  int run();

  // Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and every thread it starts
  // afterwards) and ignores SIGPIPE. Call first thing in main, before any thread exists.
  static void block_signals();

 private:
  using Clock = std::chrono::steady_clock;
  using Kind = WorkerKind;

  // One worker's place: the running instance. Its restarts and job are the policy's.
  struct Slot {
    Kind kind;
    const char* name;
    std::unique_ptr<WorkerThread> worker;
  };

  // How a stop of every worker ended.
  enum class StopOutcome {
    kStopped,    // every worker thread ended
    kReleasing,  // every worker finished its work; some still destroy librdkafka handles
    kOverran,    // the bound passed with a worker still at work, or a second signal came
  };

  // run()'s start: the embedded cluster, the policy, the health endpoint, the workers. An
  // exit code when the daemon cannot start.
  std::optional<int> start_up();
  // The supervisor's loop until a signal or a decision ends it; returns the exit code.
  int supervise();
  // One round of the loop at `now`: the policy's decisions carried out, the health published.
  // An exit code when the daemon is to stop.
  std::optional<int> supervise_once(Clock::time_point now);
  // Stops every worker gracefully and ends the process with `exit_code` (or 1 past the bound).
  int shut_down(int exit_code);

  void start(Slot& slot);
  // Stops a worker gracefully within supervisor.shutdown_timeout_s; false if it did not end.
  // A worker that finished and only destroys its handles is moved to releasing_ (true).
  // Feeds the watchdog while it waits.
  bool stop(Slot& slot);
  // While a worker stops (a reload, a stalled worker): a SIGTERM or SIGINT asks every worker
  // to stop and ends the daemon once this stop is over, within the bound from the signal; a
  // second one exits at once; a SIGHUP is kept for afterwards.
  void watch_signals();
  // Joins the workers of releasing_ that have ended.
  void reap_released();
  // The workers as the policy sees them.
  Observation observe() const;
  WorkerObservation observe(const Slot& slot) const;
  // Carries out one of the policy's actions; an exit code when the daemon is to stop.
  std::optional<int> carry_out(const Action& action);
  void stop_stalled(Slot& slot);
  // The slot's worker has ended: joined, its end offsets noted, the slot emptied.
  void join(Slot& slot);
  // The slot's worker only destroys its handles: moved to releasing_, not waited for.
  void release(Slot& slot);
  void begin_drain();
  void count_restart(const Slot& slot);

  void reload();
  // Makes `next` the running configuration (logging, policy, brokers; the health endpoint
  // when `port_changed`).
  void apply_config(Config next, bool port_changed);
  // (Re)starts the health endpoint on supervisor.http_port; none when 0. Throws when the port
  // cannot be bound.
  void start_http();
  void restart_for_reload(Slot& slot, bool enabled);
  // Restarts what the plan says (or updates the producer live) and logs the outcome.
  void apply_to_workers(const ReloadPlan& plan);
  // Asks every worker to stop and waits for them within supervisor.shutdown_timeout_s.
  StopOutcome stop_all();
  // Where a stop of every worker is: joins those that ended and the released ones that did.
  struct StoppingWorkers {
    bool all_ended = true;  // every worker thread ended, released ones included
    bool all_done = true;   // every worker ended, or only destroys its librdkafka handles
  };
  StoppingWorkers stopping_workers();
  // Publishes the policy's health assessment for the endpoint and systemd.
  void update_health(Clock::time_point now);
  std::string render_metrics() const;
  void log_stats(Clock::time_point now);
  FaultInjection next_fault(const char* worker);
  Slot& slot(Kind kind) { return kind == Kind::kProducer ? producer_ : consumer_; }
  bool enabled(Kind kind) const {
    return kind == Kind::kProducer ? config_.producer.enabled : config_.consumer.enabled;
  }

  ConfigLoader loader_;
  Config config_;
  int out_;
  std::vector<FaultRule> faults_;
  BuildInfo build_;
  Metrics metrics_;
  std::string brokers_;
  std::unique_ptr<MockCluster> mock_;
  Slot producer_{Kind::kProducer, "producer", nullptr};
  Slot consumer_{Kind::kConsumer, "consumer", nullptr};
  std::optional<SupervisorPolicy> policy_;  // from start_up() on
  // Shared with every worker instance; outlive them. produced_ends_ is sealed when the policy
  // says the producer completed: the consumer then drains.
  LiveSettings live_settings_;
  ProducedEnds produced_ends_;
  // Workers that finished and are still destroying their librdkafka handles (see
  // WorkerThread::releasing()); their threads are joined once they end, or abandoned at exit.
  std::vector<std::unique_ptr<WorkerThread>> releasing_;
  std::unique_ptr<HealthServer> http_;
  SystemdNotifier systemd_;
  bool ready_sent_ = false;
  std::optional<Clock::time_point> stop_signal_at_;  // SIGTERM or SIGINT received
  bool reload_pending_ = false;                      // SIGHUP received while a worker stopped
  Clock::time_point next_stats_{};
  HealthBoard health_;  // read by the HTTP endpoint's threads
};

}  // namespace pricepipe
