#include "pricepipe/consumer/dead_letter.hpp"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

#include "pricepipe/kafka/kafka_admin.hpp"
#include "pricepipe/kafka/kafka_handles.hpp"

namespace pricepipe {
namespace {

// What the broker accepts decides: librdkafka's own default (1,000,000) would refuse, before
// any broker saw it, a message the consumer has just read from a topic with the broker's default
// limit (1,048,588) once the headers are added.
constexpr const char* kDeadLetterMaxBytes = "16777216";

std::string header_value(RdKafka::Message& message, const char* name) {
  const RdKafka::Headers* headers = message.headers();
  if (headers == nullptr) return "?";
  const RdKafka::Headers::Header h = headers->get_last(name);
  if (h.err() != RdKafka::ERR_NO_ERROR || h.value() == nullptr) return "?";
  return std::string(static_cast<const char*>(h.value()), h.value_size());
}

// The message's own headers, then where it came from and why it is a dead letter.
HeadersPtr dead_letter_headers(const ConsumedMessage& msg, std::string_view reason) {
  rd_kafka_headers_t* original = nullptr;
  HeadersPtr headers(rd_kafka_message_headers(msg.c_ptr(), &original) == RD_KAFKA_RESP_ERR_NO_ERROR
                         ? rd_kafka_headers_copy(original)
                         : rd_kafka_headers_new(4));
  const auto add = [&headers](const char* name, std::string_view value) {
    rd_kafka_header_add(headers.get(), name, -1, value.data(), static_cast<ssize_t>(value.size()));
  };
  add(kDeadLetterTopicHeader, msg.topic_name());
  add(kDeadLetterPartitionHeader, std::to_string(msg.partition()));
  add(kDeadLetterOffsetHeader, std::to_string(msg.offset()));
  add(kDeadLetterReasonHeader, reason);
  return headers;
}

}  // namespace

void DeadLetterQueue::Reports::dr_cb(RdKafka::Message& message) {
  ++queue_.acknowledged_;
  if (message.err() == RdKafka::ERR_NO_ERROR) {
    ++queue_.delivered_;
    return;
  }
  if (queue_.failure_.empty()) {
    queue_.failure_ = "cannot deliver the bad message from partition " +
                      header_value(message, kDeadLetterPartitionHeader) + " offset " +
                      header_value(message, kDeadLetterOffsetHeader) + " to the dead-letter topic " +
                      queue_.topic_ + ": " + message.errstr();
  }
}

DeadLetterQueue::DeadLetterQueue(std::string topic, const KafkaSettings& kafka, const ClientProperties& librdkafka,
                                 std::string brokers)
    : topic_(std::move(topic)),
      settings_(kafka),
      brokers_(std::move(brokers)),
      events_("dead-letter producer"),
      reports_(*this) {
  settings_.topic = topic_;
  auto conf = make_producer_conf(brokers_, librdkafka);
  std::string errstr;
  const bool size_chosen = std::any_of(librdkafka.begin(), librdkafka.end(),
                                       [](const auto& property) { return property.first == "message.max.bytes"; });
  // No statistics: nothing reads them here, and unserved they would pile up in its queue.
  if ((!size_chosen && conf->set("message.max.bytes", kDeadLetterMaxBytes, errstr) != RdKafka::Conf::CONF_OK) ||
      conf->set("statistics.interval.ms", "0", errstr) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", &events_, errstr) != RdKafka::Conf::CONF_OK ||
      conf->set("dr_cb", &reports_, errstr) != RdKafka::Conf::CONF_OK) {
    throw KafkaError("dead-letter producer: " + errstr);
  }
  producer_.reset(RdKafka::Producer::create(conf.get(), errstr));
  if (!producer_) throw KafkaError("cannot create the dead-letter producer: " + errstr);
}

DeadLetterQueue::~DeadLetterQueue() {
  if (!producer_) return;
  // What is still queued was not acknowledged, so its offsets were never stored: the next run
  // reads those bad messages again. Nothing to wait for.
  if (outstanding() > 0) {
    spdlog::warn("dead-letter producer: {} dead letters not acknowledged at the stop; their messages "
                 "will be read again",
                 outstanding());
  }
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  producer_->poll(0);
}

bool DeadLetterQueue::ensure_topic(const std::function<bool()>& keep_going, const std::function<void(int)>& idle) {
  return pricepipe::ensure_topic(*producer_, settings_, brokers_, keep_going, idle);
}

void DeadLetterQueue::send(const ConsumedMessage& msg, std::string_view reason, const std::function<void()>& idle) {
  HeadersPtr headers = dead_letter_headers(msg, reason);
  for (;;) {
    const rd_kafka_resp_err_t err = produce_copy(msg, headers.get());
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      headers.release();  // librdkafka owns and frees them now
      ++sent_;
      return;
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      throw DeadLetterError("cannot produce the bad message from partition " + std::to_string(msg.partition()) +
                            " offset " + std::to_string(msg.offset()) + " to the dead-letter topic " + topic_ +
                            ": " + rd_kafka_err2str(err));
    }
    poll(100);
    idle();
  }
}

// The message's value, key and timestamp (0, "now", when it has none), copied, with `headers`.
rd_kafka_resp_err_t DeadLetterQueue::produce_copy(const ConsumedMessage& msg, rd_kafka_headers_s* headers) {
  const std::string_view payload = msg.payload();
  const std::string_view key = msg.key();
  rd_kafka_vu_t values[7];
  values[0].vtype = RD_KAFKA_VTYPE_TOPIC;
  values[0].u.cstr = topic_.c_str();
  values[1].vtype = RD_KAFKA_VTYPE_PARTITION;
  values[1].u.i32 = RD_KAFKA_PARTITION_UA;
  values[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  values[2].u.i = RD_KAFKA_MSG_F_COPY;
  values[3].vtype = RD_KAFKA_VTYPE_VALUE;
  values[3].u.mem = {const_cast<char*>(payload.data()), payload.size()};  // copied (F_COPY), never written
  values[4].vtype = RD_KAFKA_VTYPE_KEY;
  values[4].u.mem = {msg.has_key() ? const_cast<char*>(key.data()) : nullptr, key.size()};
  values[5].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
  values[5].u.i64 = std::max<std::int64_t>(msg.timestamp_ms(), 0);
  values[6].vtype = RD_KAFKA_VTYPE_HEADERS;
  values[6].u.headers = headers;
  rd_kafka_error_t* error = rd_kafka_produceva(producer_->c_ptr(), values, 7);
  if (error == nullptr) return RD_KAFKA_RESP_ERR_NO_ERROR;
  const rd_kafka_resp_err_t err = rd_kafka_error_code(error);
  rd_kafka_error_destroy(error);
  return err;
}

void DeadLetterQueue::poll(int timeout_ms) {
  producer_->poll(timeout_ms);
  if (!failure_.empty()) throw DeadLetterError(failure_);
  if (events_.fatal()) throw DeadLetterError("dead-letter producer: fatal librdkafka error (see log)");
}

}  // namespace pricepipe
