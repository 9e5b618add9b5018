#include "pricepipe/consumer/dead_letter.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

#include "pricepipe/kafka/kafka_admin.hpp"

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

void DeadLetterQueue::send(RdKafka::Message& msg, std::string_view reason, const std::function<void()>& idle) {
  const RdKafka::Headers* original = msg.headers();
  std::unique_ptr<RdKafka::Headers> headers(original ? RdKafka::Headers::create(original->get_all())
                                                     : RdKafka::Headers::create());
  headers->add(kDeadLetterTopicHeader, msg.topic_name());
  headers->add(kDeadLetterPartitionHeader, std::to_string(msg.partition()));
  headers->add(kDeadLetterOffsetHeader, std::to_string(msg.offset()));
  headers->add(kDeadLetterReasonHeader, std::string(reason));
  const auto ts = msg.timestamp();
  const std::int64_t timestamp = ts.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE ? 0 : ts.timestamp;
  for (;;) {
    const RdKafka::ErrorCode err =
        producer_->produce(topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, msg.payload(),
                           msg.len(), msg.key_pointer(), msg.key_len(), timestamp, headers.get(), nullptr);
    if (err == RdKafka::ERR_NO_ERROR) {
      headers.release();  // librdkafka owns and frees them now
      ++sent_;
      return;
    }
    if (err != RdKafka::ERR__QUEUE_FULL) {
      throw DeadLetterError("cannot produce the bad message from partition " + std::to_string(msg.partition()) +
                            " offset " + std::to_string(msg.offset()) + " to the dead-letter topic " + topic_ +
                            ": " + RdKafka::err2str(err));
    }
    poll(100);
    idle();
  }
}

void DeadLetterQueue::poll(int timeout_ms) {
  producer_->poll(timeout_ms);
  if (!failure_.empty()) throw DeadLetterError(failure_);
  if (events_.fatal()) throw DeadLetterError("dead-letter producer: fatal librdkafka error (see log)");
}

}  // namespace pricepipe
