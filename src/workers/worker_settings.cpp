#include "pricepipe/workers/worker_settings.hpp"

namespace pricepipe {
namespace {

// The shared pass-through first, so that the client's own values win where both set a key.
ClientProperties properties(const std::map<std::string, std::string>& common,
                            const std::map<std::string, std::string>& own) {
  ClientProperties all(common.begin(), common.end());
  all.insert(all.end(), own.begin(), own.end());
  return all;
}

}  // namespace

ProducerWorkerSettings producer_worker_settings(const Config& config) {
  ProducerWorkerSettings s;
  s.kafka = config.kafka;
  s.producer = config.producer;
  s.librdkafka = properties(config.librdkafka.common, config.librdkafka.producer);
  s.shutdown_timeout_s = config.supervisor.shutdown_timeout_s;
  return s;
}

ConsumerWorkerSettings consumer_worker_settings(const Config& config) {
  ConsumerWorkerSettings s;
  s.kafka = config.kafka;
  s.consumer = config.consumer;
  s.librdkafka = properties(config.librdkafka.common, config.librdkafka.consumer);
  s.dead_letter_librdkafka = properties(config.librdkafka.common, config.librdkafka.producer);
  s.shutdown_timeout_s = config.supervisor.shutdown_timeout_s;
  return s;
}

}  // namespace pricepipe
