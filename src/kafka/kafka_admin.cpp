#include "pricepipe/kafka/kafka_admin.hpp"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "pricepipe/kafka/kafka.hpp"
#include "pricepipe/kafka/kafka_handles.hpp"

namespace pricepipe {

namespace {

struct MetadataDeleter {
  void operator()(RdKafka::Metadata* m) const { delete m; }
};
using MetadataPtr = std::unique_ptr<RdKafka::Metadata, MetadataDeleter>;

using Clock = std::chrono::steady_clock;

// How long a single librdkafka call in ensure_topic blocks: a metadata request (at first, see
// kLongestMetadataMs), a watermark query, one poll for the CreateTopics result. ensure_topic heartbeats right before
// each such call, so the worker's stall watchdog (supervisor.stall_timeout_s) never sees much
// more than this without a heartbeat, and a stop is noticed within about this long.
constexpr int kBlockingCallMs = 1000;
// A metadata request of every topic may take longer than that on a large cluster: after three
// timeouts in a row the wait doubles, up to this. Still well within the default stall timeout.
constexpr int kLongestMetadataMs = 4000;
// How long ensure_topic waits for the answer to one CreateTopics request before it retries.
constexpr auto kCreateTopicsGiveUp = std::chrono::seconds(30);

// ensure_topic's caller's hooks: keep_going() says whether to go on; idle(ms) heartbeats the
// worker and sleeps (a stop ends the sleep early).
struct WaitHooks {
  const std::function<bool()>& keep_going;
  const std::function<void(int)>& idle;

  // Call before a librdkafka call that blocks up to kBlockingCallMs: false when asked to stop,
  // otherwise true after a heartbeat (idle(0)).
  bool before_blocking_call() const {
    if (!keep_going()) return false;
    idle(0);
    return true;
  }
};

// Metadata of `topic` alone into `metadata`, waiting kBlockingCallMs for the broker, longer
// after repeated timeouts (kLongestMetadataMs). Not of every topic: on a broker with 2,000
// topics that took 75 ms of each start (BENCHMARKS.md, #24), and more on a large cluster. Asking
// for one topic does not create it, as every client pricepipe makes refuses
// allow.auto.create.topics (kafka.cpp): a missing topic is listed with an error.
RdKafka::ErrorCode fetch_metadata(RdKafka::Handle& handle, const RdKafka::Topic& topic, MetadataPtr& metadata,
                                  int timeouts_so_far) {
  const int wait_ms = std::min(kLongestMetadataMs, kBlockingCallMs << std::min(timeouts_so_far / 3, 2));
  RdKafka::Metadata* raw = nullptr;
  const RdKafka::ErrorCode err = handle.metadata(false, &topic, &raw, wait_ms);
  metadata.reset(raw);
  return err;
}

// Whether every partition's leader answers a ListOffsets request. A partition that was just
// created is listed with a leader before that broker has created its log; librdkafka 2.0.2's
// idempotent producer can then count a batch rejected with NOT_LEADER as delivered (it is
// "implicitly acked" by the next batch, which the broker accepts). Producing only once the
// leaders answer avoids that window. One partition at a time, each query waiting at most
// kBlockingCallMs after a heartbeat; false also when asked to stop.
bool leaders_serve(RdKafka::Handle& handle, const std::string& topic, std::size_t partitions,
                   const WaitHooks& hooks) {
  for (std::size_t p = 0; p < partitions; ++p) {
    if (!hooks.before_blocking_call()) return false;
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (handle.query_watermark_offsets(topic, static_cast<std::int32_t>(p), &low, &high, kBlockingCallMs) !=
        RdKafka::ERR_NO_ERROR) {
      return false;
    }
  }
  return true;
}

// What the broker said to a CreateTopics request.
struct CreateOutcome {
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string message;
};

// The outcome in a CreateTopics result event: the request's error, or else the topic's.
CreateOutcome outcome_of(rd_kafka_event_t* event) {
  CreateOutcome outcome;
  outcome.err = rd_kafka_event_error(event);
  const char* message = rd_kafka_event_error_string(event);
  outcome.message = message ? message : "";
  if (const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(event)) {
    size_t count = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &count);
    if (count > 0 && outcome.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      outcome.err = rd_kafka_topic_result_error(topics[0]);
      const char* m = rd_kafka_topic_result_error_string(topics[0]);
      outcome.message = m ? m : "";
    }
  }
  return outcome;
}

// Sends a CreateTopics request for the configured topic and waits up to kCreateTopicsGiveUp
// for its result, polling in kBlockingCallMs slices with a heartbeat before each. Returns
// nothing when asked to stop first: the request is abandoned, and librdkafka drops its result
// with the queue (every object here has one owner, so nothing is left behind).
std::optional<CreateOutcome> request_topic(rd_kafka_t* rk, const KafkaSettings& kafka,
                                           const WaitHooks& hooks) {
  char errstr[512];
  NewTopicPtr new_topic(rd_kafka_NewTopic_new(kafka.topic.c_str(), kafka.partitions, kafka.replication_factor,
                                              errstr, sizeof errstr));
  if (!new_topic) throw KafkaError(std::string("cannot describe topic to create: ") + errstr);
  QueuePtr queue(rd_kafka_queue_new(rk));
  AdminOptionsPtr options(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), 10000, errstr, sizeof errstr);
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(rk, topics, 1, options.get(), queue.get());  // copies topics and options

  const Clock::time_point give_up = Clock::now() + kCreateTopicsGiveUp;
  while (Clock::now() < give_up) {
    if (!hooks.before_blocking_call()) return std::nullopt;
    const EventPtr event(rd_kafka_queue_poll(queue.get(), kBlockingCallMs));
    if (event) return outcome_of(event.get());
  }
  return CreateOutcome{RD_KAFKA_RESP_ERR__TIMED_OUT, "no answer"};
}

// Errors of CreateTopics that retrying cannot fix.
bool permanent(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR || err == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS ||
         err == RD_KAFKA_RESP_ERR_POLICY_VIOLATION || err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
         err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED || err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION;
}

const RdKafka::TopicMetadata* find_topic(const RdKafka::Metadata& metadata, const std::string& name) {
  const RdKafka::TopicMetadata* found = nullptr;
  for (const RdKafka::TopicMetadata* topic : *metadata.topics()) {
    if (topic->topic() == name && topic->err() == RdKafka::ERR_NO_ERROR) found = topic;
  }
  return found;
}

// A topic object for `kafka.topic` on `handle`, to name it in a metadata request.
std::unique_ptr<RdKafka::Topic> topic_handle(RdKafka::Handle& handle, const KafkaSettings& kafka) {
  std::string errstr;
  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(&handle, kafka.topic, nullptr, errstr));
  if (!topic) throw KafkaError("cannot name topic " + kafka.topic + ": " + errstr);
  return topic;
}

// One ensure_topic run, as a retryable step: attempt() looks the topic up once and, when it is
// missing, asks for it once. Each blocking call in it is preceded by a heartbeat.
class TopicCheck {
 public:
  enum class Outcome { kReady, kAgain, kStopped };

  TopicCheck(RdKafka::Handle& handle, const KafkaSettings& kafka, const std::string& brokers_for_log,
             const WaitHooks& hooks)
      : handle_(handle), kafka_(kafka), brokers_(brokers_for_log), hooks_(hooks), topic_(topic_handle(handle, kafka)) {}

  Outcome attempt() {
    MetadataPtr metadata;
    const RdKafka::ErrorCode err = fetch_metadata(handle_, *topic_, metadata, metadata_timeouts_);
    metadata_timeouts_ = err == RdKafka::ERR__TIMED_OUT ? metadata_timeouts_ + 1 : 0;
    if (err != RdKafka::ERR_NO_ERROR) return unanswered(err);
    if (waited_) {
      spdlog::info("Kafka at {} answers", brokers_);
      waited_ = false;
    }
    const RdKafka::TopicMetadata* found = find_topic(*metadata, kafka_.topic);
    return found != nullptr ? check(*found) : create();
  }

 private:
  Outcome unanswered(RdKafka::ErrorCode err) {
    if (Clock::now() >= next_wait_log_) {
      spdlog::warn("waiting for Kafka at {}: {}", brokers_, RdKafka::err2str(err));
      next_wait_log_ = Clock::now() + std::chrono::seconds(10);
    }
    waited_ = true;
    hooks_.idle(1000);
    return Outcome::kAgain;
  }

  // The topic exists: ready once every partition has a leader that answers.
  Outcome check(const RdKafka::TopicMetadata& topic) {
    const auto& partitions = *topic.partitions();
    const bool led = std::all_of(partitions.begin(), partitions.end(),
                                 [](const RdKafka::PartitionMetadata* p) { return p->leader() >= 0; });
    if (partitions.empty() || !led || !leaders_serve(handle_, kafka_.topic, partitions.size(), hooks_)) {
      hooks_.idle(200);  // just created, or metadata names leaders before their logs are ready
      return Outcome::kAgain;
    }
    if (!created_) log_existing(partitions.size(), static_cast<int>(partitions.front()->replicas()->size()));
    return Outcome::kReady;
  }

  void log_existing(std::size_t partitions, int replicas) const {
    if (static_cast<int>(partitions) != kafka_.partitions || replicas != kafka_.replication_factor) {
      spdlog::info(
          "topic {} exists with {} partitions and replication factor {} (configured {} and {}); leaving it alone",
          kafka_.topic, partitions, replicas, kafka_.partitions, kafka_.replication_factor);
    } else {
      spdlog::info("topic {} exists with {} partitions", kafka_.topic, partitions);
    }
  }

  // Missing: create it. Another instance may race us; "already exists" is success.
  Outcome create() {
    const std::optional<CreateOutcome> outcome = request_topic(handle_.c_ptr(), kafka_, hooks_);
    if (!outcome) return Outcome::kStopped;  // asked to stop while waiting for the answer
    const rd_kafka_resp_err_t result = outcome->err;
    const std::string detail = outcome->message.empty() ? "" : ": " + outcome->message;
    if (result == RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::info("created topic {} with {} partitions and replication factor {}", kafka_.topic, kafka_.partitions,
                   kafka_.replication_factor);
      created_ = true;
    } else if (result == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      spdlog::debug("topic {} was created by someone else meanwhile", kafka_.topic);
    } else if (permanent(result)) {
      // Retrying cannot fix these; the worker fails with the broker's reason.
      throw KafkaError("cannot create topic " + kafka_.topic + ": " + rd_kafka_err2str(result) + detail);
    } else {
      spdlog::warn("creating topic {} failed, retrying: {}{}", kafka_.topic, rd_kafka_err2str(result), detail);
      hooks_.idle(1000);
    }
    return Outcome::kAgain;
  }

  RdKafka::Handle& handle_;
  const KafkaSettings& kafka_;
  const std::string& brokers_;
  const WaitHooks& hooks_;
  std::unique_ptr<RdKafka::Topic> topic_;  // for the metadata request; released before the handle
  Clock::time_point next_wait_log_ = Clock::now();
  bool waited_ = false;
  bool created_ = false;
  int metadata_timeouts_ = 0;  // in a row
};

}  // namespace

bool ensure_topic(RdKafka::Handle& handle, const KafkaSettings& kafka, const std::string& brokers_for_log,
                  const std::function<bool()>& keep_going, const std::function<void(int)>& idle) {
  const WaitHooks hooks{keep_going, idle};
  TopicCheck check(handle, kafka, brokers_for_log, hooks);
  while (hooks.before_blocking_call()) {
    const TopicCheck::Outcome outcome = check.attempt();
    if (outcome != TopicCheck::Outcome::kAgain) return outcome == TopicCheck::Outcome::kReady;
  }
  return false;
}

}  // namespace pricepipe
