#pragma once
// What each worker is built from: its own section, the Kafka connection, its librdkafka
// pass-through and the stop bound, and nothing of the other worker's section. Cut from a
// Config each time a worker starts, so a worker runs with the settings of its start (live
// changes reach the producer through LiveSettings).

#include "pricepipe/config/config.hpp"

namespace pricepipe {

struct ProducerWorkerSettings {
  KafkaSettings kafka;
  ProducerSettings producer;
  ClientProperties librdkafka;  // librdkafka.*, then librdkafka.producer.*
  int shutdown_timeout_s = 10;
};

struct ConsumerWorkerSettings {
  KafkaSettings kafka;
  ConsumerSettings consumer;
  ClientProperties librdkafka;              // librdkafka.*, then librdkafka.consumer.*
  ClientProperties dead_letter_librdkafka;  // the dead-letter producer's: as the producer's
  int shutdown_timeout_s = 10;
};

ProducerWorkerSettings producer_worker_settings(const Config& config);
ConsumerWorkerSettings consumer_worker_settings(const Config& config);

}  // namespace pricepipe
