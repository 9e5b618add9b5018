#include "pricepipe/supervisor.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <ctime>

#include "pricepipe/consumer_worker.hpp"
#include "pricepipe/kafka.hpp"
#include "pricepipe/logging.hpp"
#include "pricepipe/producer_worker.hpp"

namespace pricepipe {
namespace {

using Clock = std::chrono::steady_clock;

// The mock reports every broker as a replica, so it gets as many brokers as replicas asked for.
constexpr int kMaxEmbeddedBrokers = 3;
// Exit code when a graceful stop overran its bound or a second signal cut it short.
constexpr int kForcedExit = 1;

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

bool is_live_key(const std::string& key) {
  return key == "producer.rate" || key == "producer.count" || key.rfind("producer.match_", 0) == 0 ||
         key.rfind("producer.price_", 0) == 0 || key == "producer.seed";
}

}  // namespace

void Supervisor::block_signals() {
  const sigset_t set = handled_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is an error from fwrite, not a kill
}

Supervisor::Supervisor(ConfigLoader loader, Config config, std::FILE* out)
    : loader_(std::move(loader)), config_(std::move(config)), out_(out) {}

Supervisor::~Supervisor() {
  // Workers first: they hold clients of the mock cluster.
  producer_.reset();
  consumer_.reset();
  mock_.reset();
}

void Supervisor::start_workers() {
  if (config_.producer.enabled) {
    producer_ = std::make_unique<ProducerWorker>(config_, brokers_, metrics_);
    producer_->start();
  }
  if (config_.consumer.enabled) {
    consumer_ = std::make_unique<ConsumerWorker>(config_, brokers_, metrics_, out_);
    consumer_->start();
  }
}

void Supervisor::reload() {
  const std::string file = loader_.path().empty() ? std::string("(no config file)") : loader_.path();
  Config next;
  try {
    next = loader_.load();
  } catch (const ConfigError& e) {
    spdlog::error("reload: {}; keeping the running configuration", e.what());
    return;
  }
  add(metrics_.reloads);
  const auto changed = changed_keys(config_, next);
  if (changed.empty()) {
    spdlog::info("reload: {} unchanged", file);
    return;
  }
  std::string live;
  std::string not_applied;
  for (const auto& key : changed) {
    const std::string shown = is_secret_key(key) ? key + "=***" : key + "=" + (next.values.count(key) ? next.values.at(key) : "(removed)");
    if (is_live_key(key)) live += " " + shown;
    else if (key.rfind("log.", 0) == 0) live += " " + shown;
    else not_applied += " " + shown;
  }
  setup_logging(next.log);
  if (producer_) producer_->update_live(next);
  if (!live.empty()) spdlog::info("reload: applied live:{}", live);
  if (!not_applied.empty()) {
    spdlog::warn("reload: these changes need a restart of pricepipe to take effect:{}", not_applied);
  }
  // Keep what runs as the reference, with the live part updated.
  const Config running = config_;
  config_ = next;
  for (const auto& key : changed) {
    if (!is_live_key(key) && key.rfind("log.", 0) != 0) {
      if (running.values.count(key)) config_.values[key] = running.values.at(key);
      else config_.values.erase(key);
    }
  }
}

bool Supervisor::stop_workers() {
  if (producer_) producer_->request_stop();
  if (consumer_) consumer_->request_stop();
  const auto deadline = Clock::now() + std::chrono::seconds(config_.supervisor.shutdown_timeout_s);
  for (Worker* worker : {static_cast<Worker*>(producer_.get()), static_cast<Worker*>(consumer_.get())}) {
    if (worker == nullptr) continue;
    while (!worker->wait_until(std::min(deadline, Clock::now() + std::chrono::milliseconds(50)))) {
      if (Clock::now() >= deadline) {
        spdlog::critical("graceful stop did not finish within {} s (supervisor.shutdown_timeout_s); "
                         "exiting now; {}",
                         config_.supervisor.shutdown_timeout_s, metrics_.summary());
        return false;
      }
      const int sig = wait_signal(0);
      if (sig == SIGTERM || sig == SIGINT) {
        spdlog::critical("second {} during the graceful stop: exiting now; {}",
                         sig == SIGTERM ? "SIGTERM" : "SIGINT", metrics_.summary());
        return false;
      }
    }
  }
  return true;
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
  spdlog::info("pricepipe starting: brokers {}, topic {}, producer {}, consumer {}",
               config_.kafka.brokers, config_.kafka.topic, config_.producer.enabled ? "on" : "off",
               config_.consumer.enabled ? "on" : "off");
  start_workers();

  auto next_stats = Clock::now() + std::chrono::seconds(config_.log.stats_interval_s);
  bool draining = false;
  int exit_code = exit_code::kOk;
  for (;;) {
    const int sig = wait_signal(100);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{} received: stopping gracefully", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP received: reloading {}", loader_.path().empty() ? "(defaults)" : loader_.path());
      reload();
    }
    const bool producer_failed = producer_ && producer_->state() == WorkerState::kFailed;
    const bool consumer_failed = consumer_ && consumer_->state() == WorkerState::kFailed;
    if (producer_failed || consumer_failed) {
      // The restart policy (backoff, budget) arrives with the supervisor issue; until then a
      // failed worker stops the daemon with the "out of restarts" code.
      spdlog::error("{} worker failed: {}; stopping", producer_failed ? "producer" : "consumer",
                    producer_failed ? producer_->failure() : consumer_->failure());
      exit_code = exit_code::kSoftware;
      break;
    }
    const bool producer_done = !producer_ || producer_->state() == WorkerState::kCompleted;
    const bool consumer_done = consumer_ && consumer_->state() == WorkerState::kCompleted;
    if (consumer_done) break;
    if (producer_ && producer_done) {
      if (!consumer_) {
        spdlog::info("producer finished producer.count events");
        break;
      }
      if (!draining) {
        spdlog::info("producer finished; the consumer exits once it has read everything");
        consumer_->drain(producer_->end_offsets());
        draining = true;
      }
    }
    if (config_.log.stats_interval_s > 0 && Clock::now() >= next_stats) {
      spdlog::info("stats: {}", metrics_.summary());
      next_stats = Clock::now() + std::chrono::seconds(config_.log.stats_interval_s);
    }
  }
  if (!stop_workers()) return kForcedExit;
  spdlog::info("pricepipe stopped: {}", metrics_.summary());
  return exit_code;
}

}  // namespace pricepipe
