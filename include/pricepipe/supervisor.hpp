#pragma once
// The supervisor owns the workers (and the embedded mock cluster and the health endpoint),
// and is the only thread that handles signals: SIGTERM/SIGINT stop everything gracefully,
// SIGHUP reloads the config. It restarts failed or stalled workers under the restart
// policy, and decides when the daemon is done and with which exit code.

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "pricepipe/config.hpp"
#include "pricepipe/fault.hpp"
#include "pricepipe/health.hpp"
#include "pricepipe/metrics.hpp"
#include "pricepipe/restart_policy.hpp"
#include "pricepipe/systemd_notify.hpp"
#include "pricepipe/worker.hpp"

namespace pricepipe {

class ConsumerWorker;
class MockCluster;
class ProducerWorker;

class Supervisor {
 public:
  // Events go to `out` (stdout in the daemon). `faults` come from --unsafe-fault-injection.
  Supervisor(ConfigLoader loader, Config config, std::FILE* out, std::vector<FaultRule> faults = {});
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
  enum class Kind { kProducer, kConsumer };

  // One worker's place: the running instance, its restart policy and a pending restart.
  struct Slot {
    Kind kind;
    const char* name;
    std::unique_ptr<Worker> worker;
    std::optional<RestartPolicy> policy;
    std::optional<Clock::time_point> restart_at;
    bool completed = false;  // finished its job (producer.count, consumer.exit_after)
  };

  // How a stop of every worker ended.
  enum class StopOutcome {
    kStopped,    // every worker thread ended
    kReleasing,  // every worker finished its work; some still destroy librdkafka handles
    kOverran,    // the bound passed with a worker still at work, or a second signal came
  };

  void start(Slot& slot);
  // Stops a worker gracefully within supervisor.shutdown_timeout_s; false if it did not end.
  // A worker that finished and only destroys its handles is moved to releasing_ (true).
  // Feeds the watchdog while it waits.
  bool stop(Slot& slot);
  // Joins the workers of releasing_ that have ended.
  void reap_released();
  // Handles a worker that ended or stalled; returns an exit code when the daemon must end.
  std::optional<int> supervise(Slot& slot, Clock::time_point now);
  // The slot's worker finished its job; returns the exit code when that ends the daemon.
  std::optional<int> job_done(Slot& slot);
  // Logs a failed worker's restart: a warning within the budget, an error past it (always).
  void log_restart(const Slot& slot, const std::string& reason, const RestartPolicy::Decision& decision);
  void reload();
  // (Re)starts the health endpoint on supervisor.http_port; none when 0. Throws when the port
  // cannot be bound.
  void start_http();
  void restart_for_reload(Slot& slot, bool enabled);
  // Asks every worker to stop and waits for them within supervisor.shutdown_timeout_s.
  StopOutcome stop_all();
  // kafka.connect_timeout_s: true (logged) when it passed with no broker ever answering.
  bool connect_timed_out(Clock::time_point now);
  void update_health(Clock::time_point now);
  // The supervisor is busy stopping a worker within its bound: still live.
  void touch_health(Clock::time_point now);
  // All enabled workers run (or finished their job) and heartbeat: for READY=1 and WATCHDOG=1.
  bool workers_alive(Clock::time_point now) const;
  // /readyz when `readiness`, else /livez; any thread. Neither is 200 once the supervisor has
  // not updated them for supervisor.stall_timeout_s.
  HealthStatus health(bool readiness) const;
  std::string render_metrics() const;
  void note_end_offsets(const ProducerWorker& producer);
  FaultInjection next_fault(const char* worker);
  Slot& slot(Kind kind) { return kind == Kind::kProducer ? producer_ : consumer_; }

  ConfigLoader loader_;
  Config config_;
  std::FILE* out_;
  std::vector<FaultRule> faults_;
  Metrics metrics_;
  std::string brokers_;
  std::unique_ptr<MockCluster> mock_;
  Slot producer_{Kind::kProducer, "producer", nullptr, std::nullopt, std::nullopt, false};
  Slot consumer_{Kind::kConsumer, "consumer", nullptr, std::nullopt, std::nullopt, false};
  bool draining_ = false;
  PartitionEndOffsets produced_ends_;
  // Workers that finished and are still destroying their librdkafka handles (see
  // Worker::releasing()); their threads are joined once they end, or abandoned at exit.
  std::vector<std::unique_ptr<Worker>> releasing_;
  Clock::time_point started_{};
  bool broker_answered_ = false;  // a worker reached a broker since the start
  std::unique_ptr<HealthServer> http_;
  SystemdNotifier systemd_;
  bool ready_sent_ = false;
  mutable std::mutex health_mutex_;
  HealthStatus live_;
  HealthStatus ready_;
  Clock::time_point health_updated_ = Clock::now();
  Clock::duration health_stale_after_ = std::chrono::seconds(30);  // supervisor.stall_timeout_s
};

}  // namespace pricepipe
