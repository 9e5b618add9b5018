#pragma once
// A librdkafka mock cluster that tests can inject faults into (rdkafka_mock.h: delayed or
// failed requests), which pricepipe::MockCluster keeps to itself.

// rdkafka_mock.h must follow rdkafka.h.
// clang-format off
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
// clang-format on
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

namespace pricepipe::test {

// A producer handle with a mock cluster of its own (test.mock.num.brokers = `brokers`),
// quiet (log_level 2) and with the `extra` librdkafka settings. The cluster lives as long as
// the handle. Fails the test (REQUIRE) when librdkafka refuses.
class MockClusterClient {
 public:
  explicit MockClusterClient(int brokers = 1, const std::map<std::string, std::string>& extra = {});

  // The handle that owns the cluster; a client of it like any other.
  RdKafka::Producer& producer() const { return *producer_; }
  rd_kafka_mock_cluster_t* mock() const { return mock_; }
  const std::string& bootstraps() const { return bootstraps_; }
  // Creates `topic` in the cluster; REQUIREs that the mock accepted it.
  void create_topic(const std::string& topic, int partitions, int replication_factor = 1) const;

 private:
  std::unique_ptr<RdKafka::Producer> producer_;
  rd_kafka_mock_cluster_t* mock_ = nullptr;  // owned by producer_
  std::string bootstraps_;
};

}  // namespace pricepipe::test
