#pragma once
// The consumer's messages as librdkafka's C API hands them over, in batches: one
// rd_kafka_consume_batch_queue() takes up to a thousand messages under one queue lock and one
// wake-up, where KafkaConsumer::consume() takes a lock, a clock read, a wake-up and a C++
// wrapper per message (BENCHMARKS.md, #24: half the CPU librdkafka's side of reading costs).
//
//   ConsumerQueue queue(*consumer);               // after the consumer, destroyed before it
//   std::vector<ConsumedMessage> batch;
//   queue.read(100, 1000, batch);                 // rebalance and commit callbacks run inside

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pricepipe/kafka/kafka_handles.hpp"

namespace RdKafka {
class KafkaConsumer;
}

namespace pricepipe {

// One message (or error event) read from the consumer queue; destroyed with it.
class ConsumedMessage {
 public:
  explicit ConsumedMessage(rd_kafka_message_s* message) : message_(message) {}

  // An RdKafka::ErrorCode: ERR_NO_ERROR for a message, else an error or event
  // (ERR__PARTITION_EOF, ERR__FATAL, ...).
  int err() const;
  std::string errstr() const;
  std::string topic_name() const;
  std::int32_t partition() const;
  std::int64_t offset() const;
  std::string_view payload() const;
  bool has_key() const;
  std::string_view key() const;
  // Milliseconds since the epoch (CreateTime or LogAppendTime); -1 when it has none.
  std::int64_t timestamp_ms() const;
  rd_kafka_message_s* c_ptr() const { return message_.get(); }

 private:
  MessagePtr message_;
};

// The consumer queue of a KafkaConsumer (librdkafka's high-level consumer), read in batches.
// Reading serves the consumer's callbacks (rebalance, offset commit, events) on the calling
// thread, as consume() does. The consumer must outlive it.
class ConsumerQueue {
 public:
  explicit ConsumerQueue(RdKafka::KafkaConsumer& consumer);

  // Waits up to `timeout_ms` for the first message, then appends what is queued, up to `max`
  // in all, to `out`; returns how many it appended (fewer than `max`: the queue is empty now).
  std::size_t read(int timeout_ms, std::size_t max, std::vector<ConsumedMessage>& out);

 private:
  QueuePtr queue_;
  std::vector<rd_kafka_message_s*> buffer_;
};

}  // namespace pricepipe
