#pragma once
// The embedded mode's broker: librdkafka's mock cluster, owned by the supervisor.

#include <string>

#include "pricepipe/config/config.hpp"
#include "pricepipe/kafka/kafka.hpp"  // KafkaError
#include "pricepipe/kafka/kafka_handles.hpp"

namespace pricepipe {

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
