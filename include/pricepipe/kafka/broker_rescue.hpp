#pragma once
// A way out of librdkafka #5301 (open; seen with 2.13 and 2.14): a Metadata response that lists
// the topic but no broker, which a broker in controlled shutdown can send, makes librdkafka
// forget every broker it knew, bootstrap entries included, and nothing brings one back: its own
// re-bootstrap waits for a connection to go down or a metadata request to time out, and with no
// broker there is neither. The client then sits without a connection for good (RELIABILITY.md).
//
// BrokerRescue reads the client's statistics: once they have shown no broker `after` times in
// a row (seconds, at pricepipe's statistics.interval.ms of 1000), it hands librdkafka the
// bootstrap servers again (rd_kafka_brokers_add), as librdkafka's re-bootstrap would, and
// counts down again. A name librdkafka still knows as a bootstrap entry is not added twice.

#include <librdkafka/rdkafkacpp.h>

#include <string>

#include "pricepipe/kafka/kafka_stats.hpp"

namespace pricepipe {

class BrokerRescue {
 public:
  // `client` names the client in the log; `bootstrap_servers` is its bootstrap.servers.
  BrokerRescue(std::string client, std::string bootstrap_servers, int after = 3);

  // With each statistics snapshot of `handle`, on the thread that polls it. Returns whether it
  // added the bootstrap servers again this time.
  bool check(const ClientStats& stats, RdKafka::Handle& handle);

  int rescues() const { return rescues_; }

 private:
  std::string client_;
  std::string bootstrap_servers_;
  int after_;
  int without_broker_ = 0;  // snapshots in a row that showed no broker
  int rescues_ = 0;
};

}  // namespace pricepipe
