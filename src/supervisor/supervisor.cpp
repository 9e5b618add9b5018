#include "pricepipe/supervisor/supervisor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>
#include <signal.h>
#include <unistd.h>
#include <utility>

#include "pricepipe/consumer/consumer_loop.hpp"
#include "pricepipe/kafka/kafka.hpp"
#include "pricepipe/kafka/mock_cluster.hpp"
#include "pricepipe/ops/logging.hpp"
#include "pricepipe/ops/prometheus.hpp"
#include "pricepipe/producer/producer_loop.hpp"
#include "pricepipe/workers/fault_loop.hpp"
#include "pricepipe/workers/worker_settings.hpp"

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

// Sent by a worker thread to its own process when its work or its thread ended, to end the
// supervisor's wait at once instead of at the next 100 ms tick (a run with consumer.exit_after
// ended up to 100 ms late: BENCHMARKS.md, #24). Taken and dropped like any handled signal; one
// sent from outside only makes the supervisor look at its workers early.
int wake_signal() { return SIGRTMIN; }

void wake_supervisor() { kill(getpid(), wake_signal()); }

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, wake_signal());
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
  spdlog::default_logger()->flush();  // events are written to the descriptor directly: no stdio to flush
  std::_Exit(code);
}

// Ends a stop whose work is all done while librdkafka still tears down a handle: what is left
// is a consumer group's last requests timing out (a minute when the brokers are unreachable;
// also seen for a second or so right after a group join), which nothing waits on.
[[noreturn]] void exit_releasing(int code, const Metrics& metrics) {
  spdlog::info("a librdkafka client is still shutting down (its last requests to the brokers, which can take "
               "a minute when they are unreachable); not waiting for it");
  spdlog::info("pricepipe stopped: {}", metrics.summary());
  spdlog::default_logger()->flush();  // events are written to the descriptor directly: no stdio to flush
  std::_Exit(code);
}

// The policy's log lines, already formatted.
void log(const Action& action) {
  switch (action.level) {
    case LogLevel::kInfo: spdlog::info("{}", action.text); break;
    case LogLevel::kWarn: spdlog::warn("{}", action.text); break;
    case LogLevel::kError: spdlog::error("{}", action.text); break;
  }
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
  for (int sig : {SIGTERM, SIGINT, SIGHUP, wake_signal()}) sigaction(sig, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is an error from fwrite, not a kill
}

Supervisor::Supervisor(ConfigLoader loader, Config config, int out, std::vector<FaultRule> faults, BuildInfo build)
    : loader_(std::move(loader)), config_(std::move(config)), out_(out), faults_(std::move(faults)),
      build_(std::move(build)) {}

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
  std::unique_ptr<WorkerLoop> loop;
  if (slot.kind == Kind::kProducer) {
    live_settings_.clear();  // the new instance starts with config_ as it is
    loop = std::make_unique<ProducerLoop>(producer_worker_settings(config_), brokers_, metrics_,
                                          metrics_.generated.load(std::memory_order_relaxed), live_settings_,
                                          produced_ends_);
  } else {
    loop = std::make_unique<ConsumerLoop>(consumer_worker_settings(config_), brokers_, metrics_, out_,
                                          metrics_.printed.load(std::memory_order_relaxed), &produced_ends_);
  }
  slot.worker = std::make_unique<WorkerThread>(slot.name, with_fault(std::move(loop), next_fault(slot.name), slot.name),
                                               wake_supervisor);
  slot.worker->start();
}

bool Supervisor::stop(Slot& slot) {
  if (!slot.worker) return true;
  WorkerThread& worker = *slot.worker;
  worker.request_stop();
  const auto deadline = Clock::now() + std::chrono::seconds(config_.supervisor.shutdown_timeout_s);
  // In short slices, feeding the watchdog meanwhile: this thread may be busy stopping workers
  // for up to 2 x shutdown_timeout_s (a reload that restarts both), longer than systemd's
  // WatchdogSec allows. Within the bound the supervisor is making progress; past it the
  // caller ends the process. A worker that only destroys its handles is not waited for.
  bool ended = false;
  while (!(ended = worker.wait_until(std::min(deadline, Clock::now() + kStopSlice))) && !worker.releasing()) {
    watch_signals();
    const auto now = Clock::now();
    if (now >= deadline) return false;
    systemd_.feed_watchdog(now);
    health_.touch(now);  // busy, not hung
  }
  if (!ended) releasing_.push_back(std::move(slot.worker));
  return true;
}

void Supervisor::watch_signals() {
  const int sig = wait_signal(0);
  if (sig == SIGHUP) {
    reload_pending_ = true;  // after what is under way
    return;
  }
  if (sig != SIGTERM && sig != SIGINT) return;
  const char* name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
  if (stop_signal_at_) {
    spdlog::critical("second {} during the graceful stop", name);
    exit_now(kForcedExit, metrics_);
  }
  spdlog::info("{} received while a worker stops: stopping everything gracefully, within {} s", name,
               config_.supervisor.shutdown_timeout_s);
  stop_signal_at_ = Clock::now();
  for (Slot* slot : {&producer_, &consumer_}) {
    if (slot->worker) slot->worker->request_stop();
  }
}

void Supervisor::reap_released() {
  releasing_.erase(std::remove_if(releasing_.begin(), releasing_.end(),
                                  [](const auto& worker) { return worker->wait_until(Clock::now()); }),
                   releasing_.end());
}

Observation Supervisor::observe() const { return {observe(producer_), observe(consumer_)}; }

WorkerObservation Supervisor::observe(const Slot& slot) const {
  WorkerObservation seen;
  seen.enabled = enabled(slot.kind);
  if (!slot.worker) return seen;
  const WorkerThread& worker = *slot.worker;
  seen.present = true;
  seen.state = worker.state();
  seen.releasing = worker.releasing();
  seen.last_heartbeat = worker.last_heartbeat();
  seen.broker_reachable = worker.broker_reachable();
  seen.ready = worker.ready();
  seen.broker_answered = worker.broker_answered();
  seen.output_blocked = worker.output_blocked();
  seen.broker_silent = worker.broker_silent();
  if (seen.state == WorkerState::kFailed) {
    seen.failure = worker.failure();
    seen.terminal_exit = worker.terminal_exit();
  }
  return seen;
}

std::optional<int> Supervisor::carry_out(const Action& action) {
  Slot& target = slot(action.worker);
  switch (action.kind) {
    case Action::Kind::kLog: log(action); break;
    case Action::Kind::kStopStalled: stop_stalled(target); break;
    case Action::Kind::kJoin: join(target); break;
    case Action::Kind::kRelease: release(target); break;
    case Action::Kind::kCountRestart: count_restart(target); break;
    case Action::Kind::kStart:
      if (!stop_signal_at_) start(target);
      break;
    case Action::Kind::kBeginDrain: begin_drain(); break;
    case Action::Kind::kExit: return action.exit_code;
  }
  return std::nullopt;
}

void Supervisor::stop_stalled(Slot& slot) {
  if (stop(slot)) return;
  spdlog::critical("{} worker did not stop within {} s; it cannot be restarted in this process", slot.name,
                   config_.supervisor.shutdown_timeout_s);
  exit_now(exit_code::kSoftware, metrics_);
}

void Supervisor::join(Slot& slot) {
  if (!slot.worker) return;  // stop() moved it to releasing_
  slot.worker->wait_until(Clock::time_point::max());  // it has ended: join
  slot.worker.reset();
}

void Supervisor::release(Slot& slot) { releasing_.push_back(std::move(slot.worker)); }

// The producer completed: every consumer instance from now on finishes once it read what the
// producer instances got acknowledged (they noted it in produced_ends_ before they ended).
void Supervisor::begin_drain() { produced_ends_.seal(); }

void Supervisor::count_restart(const Slot& slot) {
  add(slot.kind == Kind::kProducer ? metrics_.producer_restarts : metrics_.consumer_restarts);
}

void Supervisor::start_http() {
  http_.reset();
  if (config_.supervisor.http_port == 0) return;
  http_ = std::make_unique<HealthServer>(config_.supervisor.http_address, config_.supervisor.http_port, [this] { return health_.status(false, Clock::now()); },
                                         [this] { return health_.status(true, Clock::now()); },
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
  if (policy_->restart_on_reload(slot.kind, enabled) && !stop_signal_at_) start(slot);
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
  add(metrics_.reloads);
  const ReloadPlan plan = plan_reload(config_, next);
  if (plan.verdict == ReloadPlan::Verdict::kUnchanged) {
    spdlog::info("reload: {} unchanged", loader_.path().empty() ? "(defaults)" : loader_.path());
    return;
  }
  if (plan.verdict == ReloadPlan::Verdict::kRefused) {
    spdlog::error("reload: {}; keeping the running configuration", plan.refusal);
    return;
  }
  spdlog::info("reload: changed:{}", plan.changes);
  apply_config(std::move(next), plan.http_port_changed);
  apply_to_workers(plan);
}

void Supervisor::apply_config(Config next, bool port_changed) {
  config_ = std::move(next);
  setup_logging(config_.log);
  policy_->update(PolicySettings::from(config_));
  if (!config_.kafka.embedded()) brokers_ = config_.kafka.brokers;
  if (!port_changed) return;
  try {
    start_http();
  } catch (const std::exception& e) {
    spdlog::error("reload: health endpoint: {}", e.what());
  }
}

void Supervisor::apply_to_workers(const ReloadPlan& plan) {
  if (plan.restart_producer) {
    restart_for_reload(producer_, config_.producer.enabled);
  } else if (producer_.worker) {
    live_settings_.post(config_.producer);
    producer_.worker->nudge();  // a long pause at a low rate must not delay the new settings
  }
  if (plan.restart_consumer && !stop_signal_at_) restart_for_reload(consumer_, config_.consumer.enabled);
  // A worker the new configuration disables is stopped, not restarted: say which.
  const auto outcome = [](bool restarted, bool enabled, const char* name) {
    if (!restarted) return std::string();
    return fmt::format("; {} {}", name, enabled ? "restarted" : "stopped (disabled)");
  };
  spdlog::info("reload: applied{}{}", outcome(plan.restart_producer, config_.producer.enabled, "producer"),
               outcome(plan.restart_consumer, config_.consumer.enabled, "consumer"));
}

Supervisor::StoppingWorkers Supervisor::stopping_workers() {
  StoppingWorkers now;
  for (Slot* slot : {&producer_, &consumer_}) {
    if (!slot->worker || slot->worker->wait_until(Clock::now())) continue;
    now.all_ended = false;
    now.all_done = now.all_done && slot->worker->releasing();
  }
  reap_released();
  now.all_ended = now.all_ended && releasing_.empty();
  return now;
}

Supervisor::StopOutcome Supervisor::stop_all() {
  for (Slot* slot : {&producer_, &consumer_}) {
    if (slot->worker) slot->worker->request_stop();
  }
  // From the stop signal: one that came while a worker stopped for a reload or a restart
  // counts from then.
  auto deadline = stop_signal_at_.value_or(Clock::now()) + std::chrono::seconds(config_.supervisor.shutdown_timeout_s);
  bool grace = false;
  for (;;) {
    const auto [all_ended, all_done] = stopping_workers();
    if (all_ended) return StopOutcome::kStopped;
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

void Supervisor::update_health(Clock::time_point now) {
  const HealthAssessment health = policy_->assess(now, observe());
  // config_ is the supervisor thread's; the endpoint reads the board's copy of the bound.
  health_.publish(health.live, health.ready, now, std::chrono::seconds(config_.supervisor.stall_timeout_s));
  if (health.workers_alive && !ready_sent_) {
    systemd_.notify("READY=1");
    ready_sent_ = true;
  }
  // The watchdog follows liveness (/livez): fed while every worker heartbeats or waits for a
  // restart the supervisor scheduled, so a hung worker that the restart policy cannot cure
  // gets the whole service restarted by systemd. (Also fed by stop() and by a reload while a
  // worker stops within its bound.)
  if (ready_sent_ && health.live.ok) systemd_.feed_watchdog(now);
}

std::string Supervisor::render_metrics() const {
  const auto now = Clock::now();
  const bool ready = health_.status(true, now).ok;
  const bool live = health_.status(false, now).ok;
  return render_prometheus(metrics_, live, ready, build_);
}

void Supervisor::log_stats(Clock::time_point now) {
  if (config_.log.stats_interval_s <= 0 || now < next_stats_) return;
  spdlog::info("stats: {}", metrics_.summary());
  next_stats_ = now + std::chrono::seconds(config_.log.stats_interval_s);
}

std::optional<int> Supervisor::start_up() {
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
  spdlog::info("pricepipe starting: brokers {}, topic {}, producer {}, consumer {}, restart {}",
               config_.kafka.brokers, config_.kafka.topic, config_.producer.enabled ? "on" : "off",
               config_.consumer.enabled ? "on" : "off", config_.values.at("supervisor.restart"));
  try {
    start_http();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return exit_code::kConfig;
  }
  std::random_device seed;
  const auto producer_seed = seed();
  const auto consumer_seed = seed();
  policy_.emplace(PolicySettings::from(config_), producer_seed, consumer_seed, Clock::now());
  if (config_.producer.enabled) start(producer_);
  if (config_.consumer.enabled) start(consumer_);
  systemd_.enable_watchdog();
  return std::nullopt;
}

int Supervisor::supervise() {
  next_stats_ = Clock::now() + std::chrono::seconds(config_.log.stats_interval_s);
  for (;;) {
    const int sig = wait_signal(100);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{} received: stopping gracefully", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      stop_signal_at_ = Clock::now();
      return exit_code::kOk;
    }
    if (sig == SIGHUP || std::exchange(reload_pending_, false)) {
      spdlog::info("SIGHUP received: reloading {}", loader_.path().empty() ? "(defaults)" : loader_.path());
      systemd_.notify("RELOADING=1");
      reload();
      systemd_.notify("READY=1");
    }
    if (stop_signal_at_) return exit_code::kOk;  // it came during the reload
    if (const auto code = supervise_once(Clock::now())) return *code;
    if (stop_signal_at_) return exit_code::kOk;  // it came while a stalled worker stopped
  }
}

std::optional<int> Supervisor::supervise_once(Clock::time_point now) {
  reap_released();
  for (const Action& action : policy_->decide(now, observe())) {
    if (const auto code = carry_out(action)) return code;
  }
  update_health(now);
  log_stats(now);
  return std::nullopt;
}

int Supervisor::shut_down(int exit_code) {
  systemd_.notify("STOPPING=1");
  switch (stop_all()) {
    case StopOutcome::kOverran: exit_now(kForcedExit, metrics_);
    case StopOutcome::kReleasing: exit_releasing(exit_code, metrics_);
    case StopOutcome::kStopped: break;
  }
  spdlog::info("pricepipe stopped: {}", metrics_.summary());
  return exit_code;
}

int Supervisor::run() {
  if (const auto code = start_up()) return *code;
  return shut_down(supervise());
}

}  // namespace pricepipe
