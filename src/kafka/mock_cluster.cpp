#include "pricepipe/kafka/mock_cluster.hpp"

// rdkafka_mock.h must follow rdkafka.h.
// clang-format off
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
// clang-format on

#include <string>

#include "pricepipe/kafka/kafka.hpp"

namespace pricepipe {

MockCluster::MockCluster(int brokers, const KafkaSettings& kafka) {
  char errstr[512];
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set(conf.get(), "log_level", "3", errstr, sizeof errstr);
  rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr));
  if (!rk_) throw KafkaError(std::string("embedded cluster: ") + errstr);  // conf is freed here
  conf.release();  // the handle owns it now
  cluster_.reset(rd_kafka_mock_cluster_new(rk_.get(), brokers));
  if (!cluster_) throw KafkaError("embedded cluster: librdkafka could not create the mock cluster");
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_.get());
  create_topic(kafka.topic, kafka.partitions, kafka.replication_factor);
}

void MockCluster::create_topic(const std::string& topic, int partitions, int replication_factor) {
  if (partitions < 1 || replication_factor < 1) {
    throw KafkaError("embedded cluster: cannot create topic " + topic + " with " +
                     std::to_string(partitions) + " partitions and replication factor " +
                     std::to_string(replication_factor));
  }
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(cluster_.get(), topic.c_str(), partitions, replication_factor);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw KafkaError("embedded cluster: cannot create topic " + topic + ": " + rd_kafka_err2str(err));
  }
}

}  // namespace pricepipe
