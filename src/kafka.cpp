#include "pricepipe/kafka.hpp"

// rdkafka_mock.h must follow rdkafka.h.
// clang-format off
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
// clang-format on
#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pricepipe/worker_settings.hpp"

namespace pricepipe {

void RdKafkaDeleter::operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
void MockClusterDeleter::operator()(rd_kafka_mock_cluster_t* cluster) const {
  rd_kafka_mock_cluster_destroy(cluster);
}
void QueueDeleter::operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
void EventDeleter::operator()(rd_kafka_event_t* event) const { rd_kafka_event_destroy(event); }
void AdminOptionsDeleter::operator()(rd_kafka_AdminOptions_t* options) const {
  rd_kafka_AdminOptions_destroy(options);
}
void NewTopicDeleter::operator()(rd_kafka_NewTopic_t* topic) const { rd_kafka_NewTopic_destroy(topic); }

namespace {

void set_or_throw(RdKafka::Conf& conf, const std::string& name, const std::string& value) {
  std::string errstr;
  if (conf.set(name, value, errstr) != RdKafka::Conf::CONF_OK) {
    throw KafkaError("librdkafka setting " + name + ": " + errstr);
  }
}

spdlog::level::level_enum level_of_syslog(int severity) {
  switch (severity) {
    case RdKafka::Event::EVENT_SEVERITY_EMERG:
    case RdKafka::Event::EVENT_SEVERITY_ALERT:
    case RdKafka::Event::EVENT_SEVERITY_CRITICAL:
    case RdKafka::Event::EVENT_SEVERITY_ERROR: return spdlog::level::err;
    case RdKafka::Event::EVENT_SEVERITY_WARNING: return spdlog::level::warn;
    case RdKafka::Event::EVENT_SEVERITY_NOTICE:
    case RdKafka::Event::EVENT_SEVERITY_INFO: return spdlog::level::info;
    default: return spdlog::level::debug;
  }
}

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

// Metadata of every topic into `metadata`, waiting kBlockingCallMs for the broker, longer after
// repeated timeouts (kLongestMetadataMs).
RdKafka::ErrorCode fetch_metadata(RdKafka::Handle& handle, MetadataPtr& metadata, int timeouts_so_far) {
  const int wait_ms = std::min(kLongestMetadataMs, kBlockingCallMs << std::min(timeouts_so_far / 3, 2));
  RdKafka::Metadata* raw = nullptr;
  const RdKafka::ErrorCode err = handle.metadata(true, nullptr, &raw, wait_ms);
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

}  // namespace

namespace {

// What both clients get first: the brokers, a client.id, and statistics every second (broker
// reachability for /readyz, the consumer's lag for /metrics: a few kilobytes of JSON a second).
std::unique_ptr<RdKafka::Conf> base_conf(const std::string& brokers, const char* client_id) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set_or_throw(*conf, "bootstrap.servers", brokers);
  set_or_throw(*conf, "client.id", client_id);
  set_or_throw(*conf, "statistics.interval.ms", "1000");
  return conf;
}

void set_all(RdKafka::Conf& conf, const ClientProperties& properties) {
  for (const auto& [name, value] : properties) set_or_throw(conf, name, value);
}

}  // namespace

std::unique_ptr<RdKafka::Conf> make_producer_conf(const std::string& brokers, const ClientProperties& properties) {
  auto conf = base_conf(brokers, "pricepipe-producer");
  // The delivery promise: idempotent, acks=all, ordered, and no message given up on while the
  // daemon runs (a stop purges what is left, and says so).
  set_or_throw(*conf, "enable.idempotence", "true");
  set_or_throw(*conf, "acks", "all");
  set_or_throw(*conf, "message.timeout.ms", "0");
  set_all(*conf, properties);
  return conf;
}

std::unique_ptr<RdKafka::Conf> make_consumer_conf(const std::string& brokers, const ConsumerSettings& consumer,
                                                  const ClientProperties& properties) {
  auto conf = base_conf(brokers, "pricepipe-consumer");
  set_or_throw(*conf, "group.id", consumer.group_id);
  // Static membership: a member that comes back with the same id after a crash is given its
  // partitions at once, instead of after the broker expired the old member's session.
  if (!consumer.instance_id.empty()) set_or_throw(*conf, "group.instance.id", consumer.instance_id);
  set_or_throw(*conf, "enable.auto.offset.store", "false");  // stored after stdout is flushed
  set_or_throw(*conf, "enable.auto.commit", "true");
  // What a crash prints again is what was printed since the last commit: commit the stored
  // offsets every second instead of librdkafka's 5 s, at one small request per second.
  set_or_throw(*conf, "auto.commit.interval.ms", "1000");
  set_or_throw(*conf, "auto.offset.reset", "earliest");
  // Suited to a consumer that prints as fast as it reads: refetch a partition 10 ms after its
  // prefetch queue drained below queued.min.messages (librdkafka waits 1 s by default), and
  // keep 20,000 messages per partition ahead instead of 100,000 (BENCHMARKS.md: 1M events
  // read about 4x faster, in less memory). librdkafka.consumer.* overrides both.
  set_or_throw(*conf, "fetch.queue.backoff.ms", "10");
  set_or_throw(*conf, "queued.min.messages", "20000");
  set_all(*conf, properties);
  return conf;
}

std::unique_ptr<RdKafka::Conf> make_client_conf(const Config& config, ClientRole role,
                                                const std::string& brokers) {
  if (role == ClientRole::kProducer) return make_producer_conf(brokers, producer_worker_settings(config).librdkafka);
  const ConsumerWorkerSettings settings = consumer_worker_settings(config);
  return make_consumer_conf(brokers, settings.consumer, settings.librdkafka);
}

KafkaEventHandler::KafkaEventHandler(std::string client, std::function<void(const std::string&)> on_stats)
    : client_(std::move(client)), on_stats_(std::move(on_stats)) {}


void KafkaEventHandler::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR:
      if (event.fatal()) {
        fatal_.store(true, std::memory_order_release);
        spdlog::critical("{}: fatal librdkafka error: {}: {}", client_, RdKafka::err2str(event.err()), event.str());
      } else if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN) {
        if (!brokers_down_.exchange(true)) {
          spdlog::warn("{}: all brokers are down or unreachable; retrying", client_);
        }
      } else if (event.err() == RdKafka::ERR__TRANSPORT || event.err() == RdKafka::ERR__RESOLVE) {
        spdlog::debug("{}: {}: {}", client_, RdKafka::err2str(event.err()), event.str());
      } else {
        spdlog::warn("{}: {}: {}", client_, RdKafka::err2str(event.err()), event.str());
      }
      break;
    case RdKafka::Event::EVENT_STATS:
      if (on_stats_) on_stats_(event.str());
      break;
    case RdKafka::Event::EVENT_LOG:
      spdlog::log(level_of_syslog(event.severity()), "{}: librdkafka {}: {}", client_, event.fac(), event.str());
      break;
    default:
      spdlog::debug("{}: librdkafka event {}: {}", client_, static_cast<int>(event.type()), event.str());
      break;
  }
}

bool ensure_topic(RdKafka::Handle& handle, const KafkaSettings& kafka,
                  const std::string& brokers_for_log, const std::function<bool()>& keep_going,
                  const std::function<void(int)>& idle) {
  const WaitHooks hooks{keep_going, idle};
  auto next_wait_log = Clock::now();
  bool waited = false;
  bool created = false;
  int metadata_timeouts = 0;  // in a row
  while (hooks.before_blocking_call()) {
    MetadataPtr metadata;
    const RdKafka::ErrorCode err = fetch_metadata(handle, metadata, metadata_timeouts);
    metadata_timeouts = err == RdKafka::ERR__TIMED_OUT ? metadata_timeouts + 1 : 0;
    if (err != RdKafka::ERR_NO_ERROR) {
      if (Clock::now() >= next_wait_log) {
        spdlog::warn("waiting for Kafka at {}: {}", brokers_for_log, RdKafka::err2str(err));
        next_wait_log = Clock::now() + std::chrono::seconds(10);
      }
      waited = true;
      idle(1000);
      continue;
    }
    if (waited) {
      spdlog::info("Kafka at {} answers", brokers_for_log);
      waited = false;
    }
    const RdKafka::TopicMetadata* found = nullptr;
    for (const RdKafka::TopicMetadata* topic : *metadata->topics()) {
      if (topic->topic() == kafka.topic && topic->err() == RdKafka::ERR_NO_ERROR) found = topic;
    }
    if (found != nullptr) {
      const auto& partitions = *found->partitions();
      const bool led = std::all_of(partitions.begin(), partitions.end(),
                                   [](const RdKafka::PartitionMetadata* p) { return p->leader() >= 0; });
      if (!partitions.empty() && led && !leaders_serve(handle, kafka.topic, partitions.size(), hooks)) {
        idle(200);  // metadata names leaders before their logs are ready
        continue;
      }
      if (!partitions.empty() && led) {
        const int replicas = static_cast<int>(partitions.front()->replicas()->size());
        if (!created && (static_cast<int>(partitions.size()) != kafka.partitions ||
                         replicas != kafka.replication_factor)) {
          spdlog::info(
              "topic {} exists with {} partitions and replication factor {} (configured {} and {}); "
              "leaving it alone",
              kafka.topic, partitions.size(), replicas, kafka.partitions, kafka.replication_factor);
        } else if (!created) {
          spdlog::info("topic {} exists with {} partitions", kafka.topic, partitions.size());
        }
        return true;
      }
      idle(200);  // just created: wait for leaders
      continue;
    }

    // Missing: create it. Another instance may race us; "already exists" is success.
    const std::optional<CreateOutcome> outcome = request_topic(handle.c_ptr(), kafka, hooks);
    if (!outcome) return false;  // asked to stop while waiting for the answer
    const rd_kafka_resp_err_t result = outcome->err;
    const std::string& message = outcome->message;
    if (result == RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::info("created topic {} with {} partitions and replication factor {}", kafka.topic,
                   kafka.partitions, kafka.replication_factor);
      created = true;
    } else if (result == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      spdlog::debug("topic {} was created by someone else meanwhile", kafka.topic);
    } else if (result == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR ||
               result == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS ||
               result == RD_KAFKA_RESP_ERR_POLICY_VIOLATION ||
               result == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
               result == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
               result == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION) {
      // Retrying cannot fix these; the worker fails with the broker's reason.
      throw KafkaError("cannot create topic " + kafka.topic + ": " + rd_kafka_err2str(result) +
                       (message.empty() ? "" : ": " + message));
    } else {
      spdlog::warn("creating topic {} failed, retrying: {}{}", kafka.topic, rd_kafka_err2str(result),
                   message.empty() ? "" : ": " + message);
      idle(1000);
    }
  }
  return false;
}

MockCluster::MockCluster(int brokers, const KafkaSettings& kafka) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr));  // owns conf on success
  if (!rk_) {
    rd_kafka_conf_destroy(conf);
    throw KafkaError(std::string("embedded cluster: ") + errstr);
  }
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
