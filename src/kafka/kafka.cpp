#include "pricepipe/kafka/kafka.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

namespace pricepipe {

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

}  // namespace

namespace {

// What both clients get first: the brokers, a client.id, and statistics every second (broker
// reachability for /readyz, the consumer's lag for /metrics: a few kilobytes of JSON a second).
// Reviewed against librdkafka 2.14 and left to its defaults: socket.nagle.disable (true since
// 2.10, so small produce requests are not held back), metadata.recovery.strategy (rebootstrap
// since 2.10/2.11: a client that lost every broker it knew goes back to kafka.brokers, which
// a replaced cluster needs; the one case it misses, librdkafka #5301, is BrokerRescue's), and
// the deprecated api.version.request, api.version.fallback.ms and broker.version.fallback,
// which were never set: they matter only to brokers before 0.10.
std::unique_ptr<RdKafka::Conf> base_conf(const std::string& brokers, const char* client_id) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set_or_throw(*conf, "bootstrap.servers", brokers);
  set_or_throw(*conf, "client.id", client_id);
  set_or_throw(*conf, "statistics.interval.ms", "1000");
  // A topic is created by ensure_topic (kafka_admin.cpp) with the configured partitions and
  // replication factor, never by the broker with its defaults because a client asked for its
  // metadata (librdkafka's producers allow that by default).
  set_or_throw(*conf, "allow.auto.create.topics", "false");
  return conf;
}

// One memory budget for the consumer's read-ahead, not one per partition. The high-level
// consumer's queue limit (queued.max.messages.kbytes) already counts all partitions together,
// but a single fetch response could hold up to 1 MiB per partition (fetch.message.max.bytes),
// up to 50 MiB (fetch.max.bytes), and stays in memory while any of its messages waits: peak RSS
// grew from 48 MB on 3 partitions to 355 MB on 96 (1M events, librdkafka's defaults). With a
// response at most a quarter of the budget it stays about flat (32 to 41 MB at 8 MiB) and 96
// partitions read as fast as 3 (BENCHMARKS.md, #24). librdkafka raises fetch.max.bytes to
// message.max.bytes and a partition's fetch size to a larger message by itself, but refuses an
// explicit fetch.max.bytes below message.max.bytes (`properties` may raise the latter).
void set_prefetch_budget(RdKafka::Conf& conf, int kbytes, const ClientProperties& properties) {
  long long message_max = 1000000;  // librdkafka's default message.max.bytes
  for (const auto& [name, value] : properties) {
    if (name == "message.max.bytes") message_max = std::atoll(value.c_str());
  }
  const long long fetch_max = std::max(static_cast<long long>(kbytes) * 1024 / 4, message_max);
  set_or_throw(conf, "queued.max.messages.kbytes", std::to_string(kbytes));
  set_or_throw(conf, "fetch.max.bytes", std::to_string(fetch_max));
  set_or_throw(conf, "fetch.message.max.bytes", std::to_string(std::min<long long>(fetch_max / 8, 1 << 20)));
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
  // Latency without giving up batching: each event is sent at once (no linger), but only one
  // produce request is in flight per broker, so what arrives meanwhile queues and goes as the
  // next request's batch. Batches so grow with the rate and the round trip by themselves: at
  // 1,000/s nearly every event goes alone, at full speed a request carries thousands. librdkafka's
  // linger.ms=5 held every event 5 ms at low rates; linger 0 with five requests in flight sent
  // tiny requests at 10,000/s that loaded the broker into tails of 100 ms. BENCHMARKS.md (#24)
  // has the measurements; full-speed throughput did not fall.
  set_or_throw(*conf, "linger.ms", "0");
  set_or_throw(*conf, "max.in.flight.requests.per.connection", "1");
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
  // KIP-848 (Kafka >= 4.0): the broker assigns, incrementally, with no group-wide stop; the
  // session timeout, heartbeat interval and assignor are then the broker's (config.cpp refuses
  // them). classic, librdkafka's default, works with any broker.
  if (consumer.group_protocol == GroupProtocol::kConsumer) set_or_throw(*conf, "group.protocol", "consumer");
  set_or_throw(*conf, "enable.auto.offset.store", "false");  // stored after stdout is flushed
  set_or_throw(*conf, "enable.auto.commit", "true");
  // What a crash prints again is what was printed since the last commit: commit the stored
  // offsets every second instead of librdkafka's 5 s, at one small request per second.
  set_or_throw(*conf, "auto.commit.interval.ms", "1000");
  set_or_throw(*conf, "auto.offset.reset", "earliest");
  // Suited to a consumer that prints as fast as it reads: when a partition's fetch is held back
  // because the prefetch queue is over its thresholds (queued.min.messages, or the budget
  // below), look again after 1 ms instead of librdkafka's 1 s, and keep 20,000 messages per
  // partition ahead instead of 100,000. 10 ms read 1M events about 4x faster than 1 s; 1 ms
  // another 20% faster (the 8 MiB budget holds about 15 ms of reading), and costs nothing
  // measurable while stdout is blocked (BENCHMARKS.md, #24). librdkafka.consumer.* overrides both.
  set_or_throw(*conf, "fetch.queue.backoff.ms", "1");
  set_or_throw(*conf, "queued.min.messages", "20000");
  set_prefetch_budget(*conf, consumer.prefetch_kbytes, properties);
  set_all(*conf, properties);
  return conf;
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

}  // namespace pricepipe
