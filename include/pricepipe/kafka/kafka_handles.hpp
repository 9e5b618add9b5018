#pragma once
// Owners for the librdkafka C objects pricepipe uses directly (the mock cluster, the topic
// administration, the consumer queue read in batches, its messages and the dead letters'
// headers): one std::unique_ptr alias per C type, whose deleter calls that type's destroy
// function. The types are named by their struct tags (rd_kafka_t is
// struct rd_kafka_s, and so on), so this header does not pull in rdkafka.h; the deleters are
// defined in kafka_handles.cpp. Nothing else calls a rd_kafka_*_destroy.

#include <memory>

struct rd_kafka_s;               // rd_kafka_t
struct rd_kafka_conf_s;          // rd_kafka_conf_t
struct rd_kafka_mock_cluster_s;  // rd_kafka_mock_cluster_t
struct rd_kafka_queue_s;         // rd_kafka_queue_t
struct rd_kafka_op_s;            // rd_kafka_event_t
struct rd_kafka_AdminOptions_s;  // rd_kafka_AdminOptions_t
struct rd_kafka_NewTopic_s;      // rd_kafka_NewTopic_t
struct rd_kafka_message_s;       // rd_kafka_message_t
struct rd_kafka_headers_s;       // rd_kafka_headers_t

namespace pricepipe {

struct RdKafkaDeleter {
  void operator()(rd_kafka_s* rk) const;  // rd_kafka_destroy
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_s* conf) const;  // rd_kafka_conf_destroy
};
struct MockClusterDeleter {
  void operator()(rd_kafka_mock_cluster_s* cluster) const;  // rd_kafka_mock_cluster_destroy
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_s* queue) const;  // rd_kafka_queue_destroy
};
struct EventDeleter {
  void operator()(rd_kafka_op_s* event) const;  // rd_kafka_event_destroy
};
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_s* options) const;  // rd_kafka_AdminOptions_destroy
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_s* topic) const;  // rd_kafka_NewTopic_destroy
};
struct MessageDeleter {
  void operator()(rd_kafka_message_s* message) const;  // rd_kafka_message_destroy
};
struct HeadersDeleter {
  void operator()(rd_kafka_headers_s* headers) const;  // rd_kafka_headers_destroy
};

using RdKafkaPtr = std::unique_ptr<rd_kafka_s, RdKafkaDeleter>;
// A configuration until rd_kafka_new succeeds, which takes it over: release() it then.
using ConfPtr = std::unique_ptr<rd_kafka_conf_s, ConfDeleter>;
// A mock cluster must be destroyed before the handle it was created on.
using MockClusterPtr = std::unique_ptr<rd_kafka_mock_cluster_s, MockClusterDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_s, QueueDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_op_s, EventDeleter>;
using AdminOptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_s, AdminOptionsDeleter>;
using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_s, NewTopicDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_s, MessageDeleter>;
// Headers until a produce call succeeds, which takes them over: release() them then.
using HeadersPtr = std::unique_ptr<rd_kafka_headers_s, HeadersDeleter>;

}  // namespace pricepipe
