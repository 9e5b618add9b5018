#include "pricepipe/kafka/kafka_handles.hpp"

// rdkafka_mock.h must follow rdkafka.h.
// clang-format off
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
// clang-format on

namespace pricepipe {

void RdKafkaDeleter::operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
void ConfDeleter::operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
void MockClusterDeleter::operator()(rd_kafka_mock_cluster_t* cluster) const {
  rd_kafka_mock_cluster_destroy(cluster);
}
void QueueDeleter::operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
void EventDeleter::operator()(rd_kafka_event_t* event) const { rd_kafka_event_destroy(event); }
void AdminOptionsDeleter::operator()(rd_kafka_AdminOptions_t* options) const {
  rd_kafka_AdminOptions_destroy(options);
}
void NewTopicDeleter::operator()(rd_kafka_NewTopic_t* topic) const { rd_kafka_NewTopic_destroy(topic); }
void MessageDeleter::operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
void HeadersDeleter::operator()(rd_kafka_headers_t* headers) const { rd_kafka_headers_destroy(headers); }

}  // namespace pricepipe
