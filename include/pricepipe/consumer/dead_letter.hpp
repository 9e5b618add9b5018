#pragma once
// The dead-letter topic (consumer.dead_letter_topic): the consumer hands each bad message to it
// unchanged (value, key, timestamp and headers) with headers naming where it came from and why
// it was rejected. Its own idempotent acks=all producer; the consumer stores the offset of a
// batch only after every bad message in it was acknowledged here, so a bad message is never
// skipped without its copy being in the dead-letter topic.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "pricepipe/config/config.hpp"
#include "pricepipe/kafka/consumer_queue.hpp"
#include "pricepipe/kafka/kafka.hpp"

namespace pricepipe {

// Header names added to each dead letter.
inline constexpr const char* kDeadLetterTopicHeader = "pricepipe.source.topic";
inline constexpr const char* kDeadLetterPartitionHeader = "pricepipe.source.partition";
inline constexpr const char* kDeadLetterOffsetHeader = "pricepipe.source.offset";
inline constexpr const char* kDeadLetterReasonHeader = "pricepipe.reason";

// A dead letter Kafka refused for good (e.g. larger than the topic accepts): the consumer fails
// instead of skipping the message, and the restarted consumer reads it again.
class DeadLetterError : public KafkaError {
 public:
  using KafkaError::KafkaError;
};

class DeadLetterQueue {
 public:
  // Creates the producer for `topic`, created like `kafka.topic` if needed, with the
  // producer's pass-through `librdkafka`. Throws KafkaError on a bad client configuration.
  DeadLetterQueue(std::string topic, const KafkaSettings& kafka, const ClientProperties& librdkafka,
                  std::string brokers);
  ~DeadLetterQueue();
  DeadLetterQueue(const DeadLetterQueue&) = delete;
  DeadLetterQueue& operator=(const DeadLetterQueue&) = delete;

  // Creates the topic if needed (consumer settings' partitions and replication factor), like
  // ensure_topic. Returns false if `keep_going()` turned false first.
  bool ensure_topic(const std::function<bool()>& keep_going, const std::function<void(int)>& idle);

  // Hands a copy of `msg` to librdkafka. Waits while librdkafka's queue is full, calling
  // `idle()` between tries; throws DeadLetterError when the message cannot be produced at all.
  void send(const ConsumedMessage& msg, std::string_view reason, const std::function<void()>& idle);

  // Serves delivery reports for up to `timeout_ms`. Throws DeadLetterError on a failed delivery.
  void poll(int timeout_ms);
  // Dead letters handed over and not yet acknowledged.
  std::uint64_t outstanding() const { return sent_ - acknowledged_; }
  std::uint64_t delivered() const { return delivered_; }
  bool fatal() const { return events_.fatal(); }

 private:
  class Reports : public RdKafka::DeliveryReportCb {
   public:
    explicit Reports(DeadLetterQueue& queue) : queue_(queue) {}
    void dr_cb(RdKafka::Message& message) override;

   private:
    DeadLetterQueue& queue_;
  };

  // One produce attempt of a copy of `msg` with `headers` (librdkafka's error code; on success
  // librdkafka owns the headers).
  rd_kafka_resp_err_t produce_copy(const ConsumedMessage& msg, rd_kafka_headers_s* headers);

  const std::string topic_;
  KafkaSettings settings_;
  std::string brokers_;
  KafkaEventHandler events_;
  Reports reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  // Touched by the consumer thread only (delivery reports are served inside poll()).
  std::uint64_t sent_ = 0;
  std::uint64_t acknowledged_ = 0;
  std::uint64_t delivered_ = 0;
  std::string failure_;
};

}  // namespace pricepipe
