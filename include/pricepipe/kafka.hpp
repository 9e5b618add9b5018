#pragma once
// librdkafka plumbing: configuration objects built from Config, the event callback that routes
// librdkafka's logs into spdlog and flags fatal errors, topic administration, and the
// in-process mock cluster of the embedded mode. Each librdkafka handle has one RAII owner.

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "pricepipe/config.hpp"
#include "pricepipe/kafka_handles.hpp"

namespace pricepipe {

// A librdkafka failure that stops a worker (bad client config, fatal error).
class KafkaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ClientRole { kProducer, kConsumer };


// A librdkafka configuration for a producer: pricepipe's defaults (the delivery promise),
// then `properties` (the pass-through). `brokers` is the bootstrap list to use (the mock
// cluster's in embedded mode). Throws KafkaError.
std::unique_ptr<RdKafka::Conf> make_producer_conf(const std::string& brokers, const ClientProperties& properties);
// The same for a consumer of `consumer.group_id`: offsets stored only after printing.
std::unique_ptr<RdKafka::Conf> make_consumer_conf(const std::string& brokers, const ConsumerSettings& consumer,
                                                  const ClientProperties& properties);
// What the worker of `role` gets from `config` (worker_settings.hpp, then one of the above).
std::unique_ptr<RdKafka::Conf> make_client_conf(const Config& config, ClientRole role,
                                                const std::string& brokers);

// Receives librdkafka's events on its threads: logs go to spdlog, errors are logged
// (transport errors once per state change), and fatal errors are remembered for the owning
// worker to act on. Must outlive the handle it is registered with.
class KafkaEventHandler : public RdKafka::EventCb {
 public:
  // `on_stats(json)` gets librdkafka's statistics (statistics.interval.ms), on the thread that
  // polls the client: kafka_stats.hpp reads them.
  explicit KafkaEventHandler(std::string client, std::function<void(const std::string&)> on_stats = {});
  void event_cb(RdKafka::Event& event) override;

  bool fatal() const { return fatal_.load(std::memory_order_acquire); }
  // Call when a request succeeds so the next outage is logged again.
  void brokers_up() { brokers_down_.store(false, std::memory_order_relaxed); }

 private:
  std::string client_;
  std::function<void(const std::string&)> on_stats_;
  std::atomic<bool> fatal_{false};
  std::atomic<bool> brokers_down_{false};
};

// Creates the topic with the configured partitions and replication factor if it does not
// exist, and leaves an existing one alone (logging when its settings differ). Waits for the
// broker while `keep_going()` is true, calling `idle(ms)` between attempts (the worker
// sleeps and heartbeats there). No librdkafka call in it blocks for more than about a second,
// and each is preceded by `keep_going()` and `idle(0)`, so a worker heartbeats at least that
// often and a stop is noticed within about a second, even while the broker does not answer.
// Returns false if `keep_going()` turned false first.
bool ensure_topic(RdKafka::Handle& handle, const KafkaSettings& kafka,
                  const std::string& brokers_for_log, const std::function<bool()>& keep_going,
                  const std::function<void(int)>& idle);

// librdkafka's in-process mock cluster (rdkafka_mock.h) for `--kafka.brokers=embedded`.
// Test and try-out only: no persistence, no real network peers. Owned by the supervisor and
// destroyed after every client that uses it. Throws KafkaError, having freed what it made.
class MockCluster {
 public:
  MockCluster(int brokers, const KafkaSettings& kafka);

  const std::string& bootstrap_servers() const { return bootstraps_; }
  // Throws KafkaError if the topic exists or `partitions` or `replication_factor` is below 1
  // (the mock itself would accept no partitions and crash on a replication factor of 0).
  void create_topic(const std::string& topic, int partitions, int replication_factor);

 private:
  // Members are destroyed in reverse order: the cluster before the handle it was created on.
  RdKafkaPtr rk_;
  MockClusterPtr cluster_;
  std::string bootstraps_;
};

}  // namespace pricepipe
