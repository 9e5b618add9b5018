#pragma once
// librdkafka plumbing: configuration objects built from the settings (config.hpp), and the
// event callback that routes librdkafka's logs into spdlog and flags fatal errors. Topic
// administration is in kafka_admin.hpp, the embedded mode's mock cluster in mock_cluster.hpp.

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "pricepipe/config/config.hpp"

namespace pricepipe {

// A librdkafka failure that stops a worker (bad client config, fatal error).
class KafkaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A librdkafka configuration for a producer: pricepipe's defaults (the delivery promise),
// then `properties` (the pass-through). `brokers` is the bootstrap list to use (the mock
// cluster's in embedded mode). Throws KafkaError.
std::unique_ptr<RdKafka::Conf> make_producer_conf(const std::string& brokers, const ClientProperties& properties);
// The same for a consumer of `consumer.group_id`: offsets stored only after printing.
std::unique_ptr<RdKafka::Conf> make_consumer_conf(const std::string& brokers, const ConsumerSettings& consumer,
                                                  const ClientProperties& properties);

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

}  // namespace pricepipe
