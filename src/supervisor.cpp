#include "pricepipe/supervisor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>

#include "pricepipe/consumer_worker.hpp"
#include "pricepipe/kafka.hpp"
#include "pricepipe/logging.hpp"
#include "pricepipe/producer_worker.hpp"
#include "pricepipe/prometheus.hpp"

namespace pricepipe {
namespace {

using Clock = std::chrono::steady_clock;

// The mock reports every broker as a replica, so it gets as many brokers as replicas asked for.
constexpr int kMaxEmbeddedBrokers = 3;
// Exit code when a graceful stop overran its bound or a second signal cut it short.
constexpr int kForcedExit = 1;
// How long a stop waits for librdkafka handles once every worker finished its work.
constexpr auto kReleaseGrace = std::chrono::milliseconds(500);
// How long a wait for a stopping worker lasts before the supervisor looks around again.
constexpr auto kStopSlice = std::chrono::milliseconds(50);

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// Waits up to `ms` for one of the handled signals; 0 when none came.
int wait_signal(int ms) {
  const sigset_t set = handled_signals();
  timespec timeout{ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
  const int sig = sigtimedwait(&set, nullptr, &timeout);
  return sig > 0 ? sig : 0;
}

// Ends the process without joining the worker threads that still run.
[[noreturn]] void exit_now(int code, const Metrics& metrics) {
  spdlog::critical("exiting now with code {}; {}", code, metrics.summary());
  spdlog::default_logger()->flush();
  std::fflush(stdout);
  std::_Exit(code);
}

// Ends a stop whose work is all done while librdkafka still tears down a handle: what is left
// is a consumer group's last requests timing out (a minute when the brokers are unreachable;
// also seen for a second or so right after a group join), which nothing waits on.
[[noreturn]] void exit_releasing(int code, const Metrics& metrics) {
  spdlog::info("a librdkafka client is still shutting down (its last requests to the brokers, which can take "
               "a minute when they are unreachable); not waiting for it");
  spdlog::info("pricepipe stopped: {}", metrics.summary());
  spdlog::default_logger()->flush();
  std::fflush(stdout);
  std::_Exit(code);
}

}  // namespace

void Supervisor::block_signals() {
  const sigset_t set = handled_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A handler that is never run (the signals stay blocked and are taken with sigtimedwait):
  // as PID 1 in a container, a signal whose disposition is the default would be dropped.
  struct sigaction action {};
  action.sa_handler = [](int) {};
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is an error from fwrite, not a kill
}

Supervisor::Supervisor(ConfigLoader loader, Config config, std::FILE* out, std::vector<FaultRule> faults)
    : loader_(std::move(loader)), config_(std::move(config)), out_(out), faults_(std::move(faults)) {}

Supervisor::~Supervisor() {
  http_.reset();
  // Workers before the mock cluster: they hold its clients.
  producer_.worker.reset();
  consumer_.worker.reset();
  releasing_.clear();
  mock_.reset();
}

FaultInjection Supervisor::next_fault(const char* worker) {
  for (auto& rule : faults_) {
    if (rule.worker == worker && rule.times != 0) {
      if (rule.times > 0) --rule.times;
      return rule.fault;
    }
  }
  return {};
}

void Supervisor::start(Slot& slot) {
  const FaultInjection fault = next_fault(slot.name);
  if (slot.kind == Kind::kProducer) {
    slot.worker = std::make_unique<ProducerWorker>(config_, brokers_, metrics_,
                                                   metrics_.generated.load(std::memory_order_relaxed), fault);
  } else {
    auto consumer = std::make_unique<ConsumerWorker>(config_, brokers_, metrics_, out_,
                                                     metrics_.printed.load(std::memory_order_relaxed), fault);
    if (draining_) consumer->drain(produced_ends_);
    slot.worker = std::move(consumer);
  }
  slot.restart_at.reset();
  slot.completed = false;
  slot.worker->start();
}

bool Supervisor::stop(Slot& slot) {
  if (!slot.worker) return true;
  Worker& worker = *slot.worker;
  worker.request_stop();
  const auto deadline = Clock::now() + std::chrono::seconds(config_.supervisor.shutdown_timeout_s);
  // In short slices, feeding the watchdog meanwhile: this thread may be busy stopping workers
  // for up to 2 x shutdown_timeout_s (a reload that restarts both), longer than systemd's
  // WatchdogSec allows. Within the bound the supervisor is making progress; past it the
  // caller ends the process. A worker that only destroys its handles is not waited for.
  bool ended = false;
  while (!(ended = worker.wait_until(std::min(deadline, Clock::now() + kStopSlice))) && !worker.releasing()) {
    const auto now = Clock::now();
    if (now >= deadline) return false;
    systemd_.feed_watchdog(now);
    touch_health(now);  // busy, not hung
  }
  if (slot.kind == Kind::kProducer) note_end_offsets(static_cast<ProducerWorker&>(worker));
  if (!ended) releasing_.push_back(std::move(slot.worker));
  return true;
}

std::optional<int> Supervisor::job_done(Slot& slot) {
  // producer.count, consumer.exit_after or drained: never restarted; the consumer's end is
  // the daemon's.
  slot.completed = true;
  if (slot.kind == Kind::kConsumer) return exit_code::kOk;
  return std::nullopt;
}

void Supervisor::reap_released() {
  releasing_.erase(std::remove_if(releasing_.begin(), releasing_.end(),
                                  [](const auto& worker) { return worker->wait_until(Clock::now()); }),
                   releasing_.end());
}

void Supervisor::note_end_offsets(const ProducerWorker& producer) {
  for (const auto& [partition, end] : producer.end_offsets()) {
    auto& known = produced_ends_[partition];
    known = std::max(known, end);
  }
}

std::optional<int> Supervisor::supervise(Slot& slot, Clock::time_point now) {
  if (!slot.worker) return std::nullopt;
  Worker& worker = *slot.worker;
  const WorkerState state = worker.state();
  std::string reason;
  if (state == WorkerState::kRunning && worker.releasing()) {
    // Its job is done (the supervisor asked no stop) and only its librdkafka handle's destroy
    // is left, which can wait a minute for unreachable brokers: not waited for.
    if (slot.kind == Kind::kProducer) note_end_offsets(static_cast<ProducerWorker&>(worker));
    releasing_.push_back(std::move(slot.worker));
    return job_done(slot);
  }
  if (state == WorkerState::kRunning) {
    const auto silent = now - worker.last_heartbeat();
    if (silent < std::chrono::seconds(config_.supervisor.stall_timeout_s)) {
      slot.policy->on_healthy(now);
      return std::nullopt;
    }
    reason = fmt::format("stalled: no heartbeat for {} s (supervisor.stall_timeout_s)",
                         std::chrono::duration_cast<std::chrono::seconds>(silent).count());
    spdlog::error("{} worker {}; stopping it", slot.name, reason);
    if (!stop(slot)) {
      spdlog::critical("{} worker did not stop within {} s; it cannot be restarted in this process",
                       slot.name, config_.supervisor.shutdown_timeout_s);
      exit_now(exit_code::kSoftware, metrics_);
    }
  } else if (state == WorkerState::kFailed) {
    reason = worker.failure();
  } else if (state != WorkerState::kCompleted) {
    return std::nullopt;  // kIdle/kStopped: only while stopping
  }
  if (slot.worker) {  // not moved to releasing_ by stop()
    worker.wait_until(Clock::time_point::max());  // it has ended: join
    if (slot.kind == Kind::kProducer) note_end_offsets(static_cast<ProducerWorker&>(worker));
    slot.worker.reset();
  }
  if (state == WorkerState::kCompleted) return job_done(slot);
  const auto decision = slot.policy->on_exit(true, now);
  if (decision.restart) {
    add(slot.kind == Kind::kProducer ? metrics_.producer_restarts : metrics_.consumer_restarts);
    log_restart(slot, reason, decision);
    slot.restart_at = now + decision.delay;
    return std::nullopt;
  }
  if (config_.supervisor.restart == RestartMode::kNever) {
    spdlog::error("{} worker failed ({}); supervisor.restart=never: stopping", slot.name, reason);
  } else {
    spdlog::error("{} worker failed ({}); out of restarts: {} within {} s (supervisor.max_restarts): stopping",
                  slot.name, reason, config_.supervisor.max_restarts, config_.supervisor.restart_window_s);
  }
  return exit_code::kSoftware;
}

void Supervisor::log_restart(const Slot& slot, const std::string& reason, const RestartPolicy::Decision& decision) {
  const auto delay_ms = std::chrono::duration_cast<std::chrono::milliseconds>(decision.delay).count();
  if (decision.over_budget) {
    // restart=always past the budget: an error each time, as the worker keeps failing and
    // nothing will end the restarts.
    spdlog::error("{} worker failed ({}); past supervisor.max_restarts={} within {} s; supervisor.restart=always: "
                  "restarting in {} ms (supervisor.backoff_max_ms)",
                  slot.name, reason, config_.supervisor.max_restarts, config_.supervisor.restart_window_s, delay_ms);
    return;
  }
  spdlog::warn("{} worker failed ({}); restarting in {} ms (restart {} of {} within {} s)", slot.name, reason,
               delay_ms, decision.attempt, config_.supervisor.max_restarts, config_.supervisor.restart_window_s);
}

void Supervisor::start_http() {
  http_.reset();
  if (config_.supervisor.http_port == 0) return;
  http_ = std::make_unique<HealthServer>(config_.supervisor.http_port, [this] { return health(false); },
                                         [this] { return health(true); },
                                         [this] { return render_metrics(); });
}

void Supervisor::restart_for_reload(Slot& slot, bool enabled) {
  if (slot.worker) {
    spdlog::info("reload: stopping the {} worker gracefully to apply its new Kafka settings", slot.name);
    if (!stop(slot)) {
      spdlog::critical("{} worker did not stop within {} s during a reload", slot.name,
                       config_.supervisor.shutdown_timeout_s);
      exit_now(exit_code::kSoftware, metrics_);
    }
    slot.worker.reset();
  }
  slot.restart_at.reset();
  if (enabled && !slot.completed) start(slot);
}

void Supervisor::reload() {
  Config next;
  try {
    next = loader_.load();
  } catch (const ConfigError& e) {
    spdlog::error("reload: {}; keeping the running configuration", e.what());
    return;
  }
  for (const auto& warning : next.warnings) spdlog::warn("reload: {}", warning);
  const auto changed = changed_keys(config_, next);
  add(metrics_.reloads);
  if (changed.empty()) {
    spdlog::info("reload: {} unchanged", loader_.path().empty() ? "(defaults)" : loader_.path());
    return;
  }
  if (next.kafka.embedded() != config_.kafka.embedded()) {
    spdlog::error("reload: kafka.brokers cannot change to or from 'embedded' while running; "
                  "keeping the running configuration");
    return;
  }
  std::string listed;
  bool producer_restart = false;
  bool consumer_restart = false;
  for (const auto& key : changed) {
    const auto it = next.values.find(key);
    const std::string value = it == next.values.end() ? "(removed)" : is_secret_key(key) ? "***" : it->second;
    listed += " " + key + "=" + value;
    producer_restart = producer_restart || restarts_producer(effect_of(key));
    consumer_restart = consumer_restart || restarts_consumer(effect_of(key));
  }
  spdlog::info("reload: changed:{}", listed);
  const bool port_changed = next.supervisor.http_port != config_.supervisor.http_port;
  config_ = std::move(next);
  setup_logging(config_.log);
  producer_.policy->update(config_.supervisor);
  consumer_.policy->update(config_.supervisor);
  if (!config_.kafka.embedded()) brokers_ = config_.kafka.brokers;
  if (port_changed) {
    try {
      start_http();
    } catch (const std::exception& e) {
      spdlog::error("reload: health endpoint: {}", e.what());
    }
  }
  if (producer_restart) {
    restart_for_reload(producer_, config_.producer.enabled);
  } else if (producer_.worker) {
    static_cast<ProducerWorker&>(*producer_.worker).update_live(config_);
  }
  if (consumer_restart) restart_for_reload(consumer_, config_.consumer.enabled);
  // A worker the new configuration disables is stopped, not restarted: say which.
  const auto outcome = [](bool restarted, bool enabled, const char* name) {
    if (!restarted) return std::string();
    return fmt::format("; {} {}", name, enabled ? "restarted" : "stopped (disabled)");
  };
  spdlog::info("reload: applied{}{}", outcome(producer_restart, config_.producer.enabled, "producer"),
               outcome(consumer_restart, config_.consumer.enabled, "consumer"));
}

Supervisor::StopOutcome Supervisor::stop_all() {
  for (Slot* slot : {&producer_, &consumer_}) {
    if (slot->worker) slot->worker->request_stop();
  }
  auto deadline = Clock::now() + std::chrono::seconds(config_.supervisor.shutdown_timeout_s);
  bool grace = false;
  for (;;) {
    bool all_ended = true;
    bool all_done = true;  // ended, or only destroying handles
    for (Slot* slot : {&producer_, &consumer_}) {
      if (!slot->worker || slot->worker->wait_until(Clock::now())) continue;
      all_ended = false;
      all_done = all_done && slot->worker->releasing();
    }
    reap_released();
    if (all_ended && releasing_.empty()) return StopOutcome::kStopped;
    if (all_done && !grace) {
      // The work is done: handles usually go in milliseconds; a blocked one is not waited for.
      deadline = std::min(deadline, Clock::now() + kReleaseGrace);
      grace = true;
    }
    if (Clock::now() >= deadline) {
      if (all_done) return StopOutcome::kReleasing;
      spdlog::critical("graceful stop did not finish within {} s (supervisor.shutdown_timeout_s)",
                       config_.supervisor.shutdown_timeout_s);
      return StopOutcome::kOverran;
    }
    const int sig = wait_signal(50);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::critical("second {} during the graceful stop", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      return StopOutcome::kOverran;
    }
  }
}

bool Supervisor::connect_timed_out(Clock::time_point now) {
  if (broker_answered_ || config_.kafka.connect_timeout_s == 0) return false;
  for (const Slot* slot : {&producer_, &consumer_}) {
    if (slot->worker && slot->worker->broker_answered()) broker_answered_ = true;
  }
  if (broker_answered_ || now - started_ < std::chrono::seconds(config_.kafka.connect_timeout_s)) return false;
  spdlog::error("no Kafka broker answered within {} s (kafka.connect_timeout_s); tried {}: stopping with exit {}",
                config_.kafka.connect_timeout_s, config_.kafka.brokers, exit_code::kUnavailable);
  return true;
}

bool Supervisor::workers_alive(Clock::time_point now) const {
  for (const Slot* slot : {&producer_, &consumer_}) {
    const bool enabled = slot->kind == Kind::kProducer ? config_.producer.enabled : config_.consumer.enabled;
    if (!enabled || slot->completed) continue;
    if (!slot->worker || slot->worker->state() != WorkerState::kRunning) return false;
    if (now - slot->worker->last_heartbeat() >= std::chrono::seconds(config_.supervisor.stall_timeout_s)) return false;
  }
  return true;
}

// Liveness: the supervisor runs (this is called from its loop) and every enabled worker runs
// and heartbeats, or waits for a restart the supervisor scheduled. Readiness: also every
// enabled worker is running and ready() (a broker connection; the consumer's assignment).
void Supervisor::update_health(Clock::time_point now) {
  HealthStatus live{true, "ok"};
  HealthStatus ready{true, "ok"};
  const auto fail = [](HealthStatus& status, const std::string& problem) {
    status.reason = status.ok ? problem : status.reason + "; " + problem;
    status.ok = false;
  };
  const auto stall = std::chrono::seconds(config_.supervisor.stall_timeout_s);
  for (const Slot* slot : {&producer_, &consumer_}) {
    const bool enabled = slot->kind == Kind::kProducer ? config_.producer.enabled : config_.consumer.enabled;
    if (!enabled || slot->completed) continue;
    const std::string name = slot->name;
    const Worker* worker = slot->worker.get();
    if (!worker) {
      if (!slot->restart_at) fail(live, name + " worker is not running");
      fail(ready, name + " worker is not running (waiting to restart)");
    } else if (worker->state() != WorkerState::kRunning) {
      fail(live, name + " worker is " + to_string(worker->state()));
      fail(ready, name + " worker is " + to_string(worker->state()));
    } else if (now - worker->last_heartbeat() >= stall) {
      fail(live, name + " worker sent no heartbeat for " + std::to_string(config_.supervisor.stall_timeout_s) + " s");
      fail(ready, name + " worker sent no heartbeat");
    } else if (!worker->broker_reachable()) {
      fail(ready, name + " has no connection to a Kafka broker");
    } else if (!worker->ready()) {
      fail(ready, name + " has no partition assignment from its group yet");
    }
  }
  if (!live.ok) fail(ready, "not live");
  std::lock_guard<std::mutex> lock(health_mutex_);
  live_ = live;
  ready_ = ready;
  health_updated_ = now;
  health_stale_after_ = stall;  // config_ is the supervisor thread's; the endpoint reads this copy
}

void Supervisor::touch_health(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(health_mutex_);
  health_updated_ = now;
}

HealthStatus Supervisor::health(bool readiness) const {
  std::lock_guard<std::mutex> lock(health_mutex_);
  const auto silent = Clock::now() - health_updated_;
  if (silent >= health_stale_after_) {
    return {false, fmt::format("the supervisor has not checked the workers for {} s",
                               std::chrono::duration_cast<std::chrono::seconds>(silent).count())};
  }
  return readiness ? ready_ : live_;
}

std::string Supervisor::render_metrics() const {
  const bool ready = health(true).ok;
  const bool live = health(false).ok;
  return render_prometheus(metrics_, live, ready);
}

int Supervisor::run() {
  brokers_ = config_.kafka.brokers;
  if (config_.kafka.embedded()) {
    mock_ = std::make_unique<MockCluster>(std::min(kMaxEmbeddedBrokers, config_.kafka.replication_factor),
                                          config_.kafka);
    brokers_ = mock_->bootstrap_servers();
    spdlog::warn(
        "kafka.brokers=embedded: running on librdkafka's in-process mock cluster ({}); "
        "for trying and testing only, nothing is persisted or reachable by other processes",
        brokers_);
  }
  if (!faults_.empty()) {
    spdlog::warn("--unsafe-fault-injection is on: workers will be made to fail on purpose (tests only)");
  }
  std::random_device seed;
  producer_.policy.emplace(config_.supervisor, seed());
  consumer_.policy.emplace(config_.supervisor, seed());
  spdlog::info("pricepipe starting: brokers {}, topic {}, producer {}, consumer {}, restart {}",
               config_.kafka.brokers, config_.kafka.topic, config_.producer.enabled ? "on" : "off",
               config_.consumer.enabled ? "on" : "off", config_.values.at("supervisor.restart"));
  try {
    start_http();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return exit_code::kConfig;
  }
  started_ = Clock::now();
  if (config_.producer.enabled) start(producer_);
  if (config_.consumer.enabled) start(consumer_);

  systemd_.enable_watchdog();
  auto next_stats = Clock::now() + std::chrono::seconds(config_.log.stats_interval_s);
  int exit_code = exit_code::kOk;
  for (;;) {
    const int sig = wait_signal(100);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{} received: stopping gracefully", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP received: reloading {}", loader_.path().empty() ? "(defaults)" : loader_.path());
      systemd_.notify("RELOADING=1");
      reload();
      systemd_.notify("READY=1");
    }
    const auto now = Clock::now();
    reap_released();
    if (connect_timed_out(now)) {
      exit_code = exit_code::kUnavailable;
      break;
    }
    std::optional<int> done = supervise(producer_, now);
    if (!done) done = supervise(consumer_, now);
    if (done) {
      exit_code = *done;
      break;
    }
    for (Slot* slot : {&producer_, &consumer_}) {
      if (slot->restart_at && now >= *slot->restart_at) {
        spdlog::info("starting the {} worker again", slot->name);
        start(*slot);
      }
    }
    if (producer_.completed && !draining_) {
      if (!config_.consumer.enabled) {
        spdlog::info("producer finished producer.count events");
        break;
      }
      spdlog::info("producer finished; the consumer exits once it has read everything");
      draining_ = true;
      if (consumer_.worker) static_cast<ConsumerWorker&>(*consumer_.worker).drain(produced_ends_);
    }
    update_health(now);
    if (!ready_sent_ && workers_alive(now)) {
      systemd_.notify("READY=1");
      ready_sent_ = true;
    }
    // The watchdog is fed only while the workers are alive: a hung worker that the restart
    // policy cannot cure gets the whole service restarted by systemd. (And by stop(), while
    // a worker stops within its bound.)
    if (workers_alive(now)) systemd_.feed_watchdog(now);
    if (config_.log.stats_interval_s > 0 && now >= next_stats) {
      spdlog::info("stats: {}", metrics_.summary());
      next_stats = now + std::chrono::seconds(config_.log.stats_interval_s);
    }
  }
  systemd_.notify("STOPPING=1");
  switch (stop_all()) {
    case StopOutcome::kOverran: exit_now(kForcedExit, metrics_);
    case StopOutcome::kReleasing: exit_releasing(exit_code, metrics_);
    case StopOutcome::kStopped: break;
  }
  spdlog::info("pricepipe stopped: {}", metrics_.summary());
  return exit_code;
}

}  // namespace pricepipe
