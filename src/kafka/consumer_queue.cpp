#include "pricepipe/kafka/consumer_queue.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <stdexcept>

namespace pricepipe {

int ConsumedMessage::err() const { return message_->err; }

std::string ConsumedMessage::errstr() const { return rd_kafka_message_errstr(message_.get()); }

std::string ConsumedMessage::topic_name() const {
  return message_->rkt != nullptr ? rd_kafka_topic_name(message_->rkt) : std::string();
}

std::int32_t ConsumedMessage::partition() const { return message_->partition; }

std::int64_t ConsumedMessage::offset() const { return message_->offset; }

std::string_view ConsumedMessage::payload() const {
  return {static_cast<const char*>(message_->payload), message_->payload != nullptr ? message_->len : 0};
}

bool ConsumedMessage::has_key() const { return message_->key != nullptr; }

std::string_view ConsumedMessage::key() const {
  return {static_cast<const char*>(message_->key), message_->key != nullptr ? message_->key_len : 0};
}

std::int64_t ConsumedMessage::timestamp_ms() const {
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  return rd_kafka_message_timestamp(message_.get(), &type);  // -1 when not available
}

ConsumerQueue::ConsumerQueue(RdKafka::KafkaConsumer& consumer)
    : queue_(rd_kafka_queue_get_consumer(consumer.c_ptr())) {
  if (!queue_) throw std::logic_error("librdkafka: the consumer has no consumer queue");
}

std::size_t ConsumerQueue::read(int timeout_ms, std::size_t max, std::vector<ConsumedMessage>& out) {
  if (buffer_.size() < max) buffer_.resize(max);
  const ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), timeout_ms, buffer_.data(), max);
  if (n <= 0) return 0;  // -1 (an error on the queue itself) only for a queue that is not a consumer's
  out.reserve(out.size() + static_cast<std::size_t>(n));  // nothing can throw between here and owning them all
  for (ssize_t i = 0; i < n; ++i) out.emplace_back(buffer_[static_cast<std::size_t>(i)]);
  return static_cast<std::size_t>(n);
}

}  // namespace pricepipe
