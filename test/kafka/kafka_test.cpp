#include "catch_compat.hpp"

#include <arpa/inet.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

// rdkafka_mock.h must follow rdkafka.h.
// clang-format off
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
// clang-format on

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "mock_cluster_support.hpp"
#include "pricepipe/config/config.hpp"
#include "pricepipe/kafka/kafka.hpp"
#include "pricepipe/kafka/kafka_admin.hpp"
#include "pricepipe/kafka/kafka_handles.hpp"
#include "pricepipe/kafka/kafka_stats.hpp"
#include "pricepipe/kafka/mock_cluster.hpp"
#include "pricepipe/workers/worker_settings.hpp"

using namespace pricepipe;

TEST_CASE("broker reachability is read from librdkafka statistics", "[unit][kafka]") {
  // Shaped like librdkafka's statistics JSON (STATISTICS.md), trimmed to what is read.
  const std::string up = R"({"name":"p#producer-1","brokers":{
      "127.0.0.1:9092/bootstrap":{"name":"127.0.0.1:9092/bootstrap","nodeid":-1,"state":"UP"},
      "127.0.0.1:9092/1":{"name":"127.0.0.1:9092/1","nodeid":1,"state":"UP"}}})";
  const std::string down = R"({"brokers":{
      "127.0.0.1:9092/bootstrap":{"nodeid":-1,"state":"UP"},
      "127.0.0.1:9092/1":{"nodeid":1,"state":"CONNECT"},
      "127.0.0.1:9093/2":{"nodeid":2,"state":"DOWN"}}})";
  CHECK(stats_show_broker_up(up));
  CHECK_FALSE(stats_show_broker_up(down));  // a bootstrap placeholder does not count
  CHECK_FALSE(stats_show_broker_up(R"({"brokers":{}})"));
  CHECK_FALSE(stats_show_broker_up("not json"));
  CHECK_FALSE(stats_show_broker_up(R"({"brokers":[1,2]})"));
}

TEST_CASE("statistics with only logical and internal brokers are read as knowing no broker", "[unit][kafka]") {
  // librdkafka #5301's state, shaped like 2.14's statistics: the coordinator and the internal
  // broker are left, every real one is gone.
  const std::string none = R"({"brokers":{
      ":0/internal":{"nodeid":-1,"source":"internal","state":"INIT"},
      "GroupCoordinator":{"nodeid":-1,"source":"logical","state":"INIT"}}})";
  CHECK(read_stats(none, "").no_broker);
  CHECK(read_stats(R"({"brokers":{}})", "").no_broker);
  // A bootstrap entry, even one that cannot connect, or a learned broker is a broker.
  CHECK_FALSE(read_stats(R"({"brokers":{":0/internal":{"source":"internal"},
      "127.0.0.1:1/bootstrap":{"nodeid":-1,"source":"configured","state":"CONNECT"}}})", "").no_broker);
  CHECK_FALSE(read_stats(R"({"brokers":{"b/1":{"nodeid":1,"source":"learned","state":"DOWN"}}})", "").no_broker);
  // What cannot be read is not taken for an empty list.
  CHECK_FALSE(read_stats(R"({"brokers":{"b/1":{"nodeid":1,"state":"UP"}}})", "").no_broker);
  CHECK_FALSE(read_stats(R"({"brokers":{"b/1":7}})", "").no_broker);
  CHECK_FALSE(read_stats(R"({"brokers":[]})", "").no_broker);
  CHECK_FALSE(read_stats(R"({"name":"p"})", "").no_broker);
  CHECK_FALSE(read_stats("garbage", "").no_broker);
}

namespace {
// What the daemon's consumer and producer get from `config`.
std::unique_ptr<RdKafka::Conf> consumer_conf(const Config& config) {
  const ConsumerWorkerSettings settings = consumer_worker_settings(config);
  return make_consumer_conf("127.0.0.1:9092", settings.consumer, settings.librdkafka);
}
std::unique_ptr<RdKafka::Conf> producer_conf(const Config& config) {
  return make_producer_conf("127.0.0.1:9092", producer_worker_settings(config).librdkafka);
}

std::string conf_value(const RdKafka::Conf& conf, const std::string& name) {
  std::string value;
  REQUIRE(conf.get(name, value) == RdKafka::Conf::CONF_OK);
  return value;
}

// `conf` holds each of `expected` (name to value).
void check_values(const RdKafka::Conf& conf, const std::map<std::string, std::string>& expected) {
  for (const auto& [name, value] : expected) {
    INFO(name);
    CHECK(conf_value(conf, name) == value);
  }
}
}  // namespace

TEST_CASE("the consumer refills its prefetch queue quickly unless librdkafka.* says otherwise",
          "[unit][kafka]") {
  Config config;
  check_values(*consumer_conf(config),
               {{"fetch.queue.backoff.ms", "1"}, {"queued.min.messages", "20000"}, {"enable.auto.offset.store", "false"}});
  check_values(*producer_conf(config), {{"queued.min.messages", "100000"}});  // librdkafka's default

  config.librdkafka.consumer["fetch.queue.backoff.ms"] = "1000";
  config.librdkafka.common["queued.min.messages"] = "500";
  check_values(*consumer_conf(config), {{"fetch.queue.backoff.ms", "1000"}, {"queued.min.messages", "500"}});
}

TEST_CASE("the producer sends each event at once with one request in flight unless librdkafka.* says otherwise",
          "[unit][kafka]") {
  Config config;
  auto producer = producer_conf(config);
  check_values(*producer,
               {{"linger.ms", "0"}, {"max.in.flight.requests.per.connection", "1"}, {"enable.idempotence", "true"}});
  std::string errstr;
  // librdkafka accepts the combination with idempotence when it creates the producer.
  CHECK(std::unique_ptr<RdKafka::Producer>(RdKafka::Producer::create(producer.get(), errstr)) != nullptr);
  INFO(errstr);
  CHECK(errstr.empty());

  config.librdkafka.producer["linger.ms"] = "5";
  config.librdkafka.common["max.in.flight.requests.per.connection"] = "5";
  check_values(*producer_conf(config), {{"linger.ms", "5"}, {"max.in.flight.requests.per.connection", "5"}});
}

TEST_CASE("consumer.instance_id becomes group.instance.id and offsets are committed every second",
          "[unit][kafka]") {
  Config config;
  config.consumer.group_id = "g";
  auto consumer = consumer_conf(config);
  std::string unset;
  CHECK(consumer->get("group.instance.id", unset) != RdKafka::Conf::CONF_OK);  // dynamic by default
  CHECK(conf_value(*consumer, "auto.commit.interval.ms") == "1000");
  config.consumer.instance_id = "host-a";
  consumer = consumer_conf(config);
  CHECK(conf_value(*consumer, "group.instance.id") == "host-a");
  config.librdkafka.consumer["auto.commit.interval.ms"] = "5000";  // still the user's to change
  consumer = consumer_conf(config);
  CHECK(conf_value(*consumer, "auto.commit.interval.ms") == "5000");
}

namespace {
// librdkafka's own verdict on a consumer configuration: the error of creating the consumer
// (its checks of the combined settings run then), or "" when it was created. Nothing is
// reachable at the bootstrap address, so nothing is joined.
std::string creation_error(RdKafka::Conf& conf) {
  std::string errstr;
  REQUIRE(conf.set("bootstrap.servers", "127.0.0.1:1", errstr) == RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(&conf, errstr));
  if (!consumer) return errstr.empty() ? "failed" : errstr;
  consumer->close();
  return "";
}
}  // namespace

TEST_CASE("consumer.group_protocol=consumer selects KIP-848, and librdkafka refuses what the config refuses",
          "[unit][kafka]") {
  Config config;
  config.consumer.group_id = "g";
  CHECK(conf_value(*consumer_conf(config), "group.protocol") == "classic");
  config.consumer.group_protocol = GroupProtocol::kConsumer;
  config.consumer.instance_id = "host-a";  // static membership works with both protocols
  CHECK(conf_value(*consumer_conf(config), "group.protocol") == "consumer");
  CHECK(creation_error(*consumer_conf(config)).empty());
  // Each setting config.cpp refuses under consumer.group_protocol=consumer is one librdkafka
  // itself refuses then, so the check up front only moves the error to where the key is read.
  for (const auto& [name, value] : std::map<std::string, std::string>{{"session.timeout.ms", "10000"},
                                                                      {"heartbeat.interval.ms", "1000"},
                                                                      {"partition.assignment.strategy", "range"},
                                                                      {"group.protocol.type", "consumer"}}) {
    INFO(name);
    Config with = config;
    with.librdkafka.consumer[name] = value;
    CHECK_THAT(creation_error(*consumer_conf(with)), Catch::Contains(name));
    const RawSettings file{{"consumer.group_protocol", RawSetting{"consumer", "f:1", false}},
                           {"librdkafka.consumer." + name, RawSetting{value, "f:2", false}}};
    CHECK_THROWS_AS(build_config(file, {}), ConfigError);
    with.consumer.group_protocol = GroupProtocol::kClassic;
    CHECK(creation_error(*consumer_conf(with)).empty());
  }
  Config allowed = config;  // what KIP-848 leaves to the client
  allowed.librdkafka.consumer["max.poll.interval.ms"] = "60000";
  allowed.librdkafka.consumer["group.remote.assignor"] = "uniform";
  CHECK(creation_error(*consumer_conf(allowed)).empty());
}

TEST_CASE("consumer.prefetch_kbytes bounds the read-ahead and the fetch sizes for all partitions together",
          "[unit][kafka]") {
  Config config;
  config.consumer.group_id = "g";
  auto consumer = consumer_conf(config);
  CHECK(conf_value(*consumer, "queued.max.messages.kbytes") == "8192");
  CHECK(conf_value(*consumer, "fetch.max.bytes") == std::to_string(8192 * 1024 / 4));
  CHECK(conf_value(*consumer, "fetch.message.max.bytes") == std::to_string(8192 * 1024 / 4 / 8));
  CHECK(creation_error(*consumer).empty());

  // The smallest budget: a fetch still takes the largest message (message.max.bytes), which
  // librdkafka requires of an explicit fetch.max.bytes.
  config.consumer.prefetch_kbytes = 1024;
  CHECK(conf_value(*consumer_conf(config), "fetch.max.bytes") == "1000000");
  CHECK(creation_error(*consumer_conf(config)).empty());
  config.librdkafka.common["message.max.bytes"] = "4000000";
  CHECK(conf_value(*consumer_conf(config), "fetch.max.bytes") == "4000000");
  CHECK(creation_error(*consumer_conf(config)).empty());

  // A large budget: a partition's first fetch stays at librdkafka's 1 MiB.
  config = Config{};
  config.consumer.group_id = "g";
  config.consumer.prefetch_kbytes = 262144;
  CHECK(conf_value(*consumer_conf(config), "fetch.message.max.bytes") == "1048576");

  // librdkafka.consumer.* still wins.
  config.librdkafka.consumer["fetch.max.bytes"] = "52428800";
  config.librdkafka.consumer["queued.max.messages.kbytes"] = "65536";
  consumer = consumer_conf(config);
  CHECK(conf_value(*consumer, "fetch.max.bytes") == "52428800");
  CHECK(conf_value(*consumer, "queued.max.messages.kbytes") == "65536");
}

TEST_CASE("a MockCluster whose topic cannot be created throws and keeps nothing", "[unit][kafka]") {
  // librdkafka's mock accepts a topic without partitions and crashes the process on a
  // replication factor of 0 (a division by zero), so create_topic refuses both itself. The
  // throw comes from the constructor after the handle and the cluster exist: under
  // AddressSanitizer (detect_leaks=1) this test also fails if they are not freed.
  KafkaSettings kafka;
  kafka.topic = "never-created";
  kafka.partitions = 0;
  CHECK_THROWS_AS(MockCluster(1, kafka), KafkaError);
  kafka.partitions = 1;
  kafka.replication_factor = 0;
  CHECK_THROWS_AS(MockCluster(1, kafka), KafkaError);
}

namespace {

using Clock = std::chrono::steady_clock;

// What a worker's stall watchdog sees of one ensure_topic call.
struct EnsureRun {
  bool ready = true;
  Clock::duration took{};
  // Longest stretch without a call to `idle` (the worker heartbeats there): from the start to
  // the first call, between calls, and from the last call to the return.
  Clock::duration longest_silence{};
  int idle_calls = 0;
};

// Calls ensure_topic the way a worker does, with keep_going() turning false `stop_after`
// into the call (a stop request). `idle(ms)` sleeps like the worker's, which a stop ends early.
EnsureRun run_ensure_topic(RdKafka::Handle& handle, const KafkaSettings& kafka, Clock::duration stop_after) {
  EnsureRun run;
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop_at = start + stop_after;
  Clock::time_point last_beat = start;
  auto beat = [&] {
    const Clock::time_point now = Clock::now();
    run.longest_silence = std::max(run.longest_silence, now - last_beat);
    last_beat = now;
  };
  run.ready = ensure_topic(
      handle, kafka, "the test's broker", [&] { return Clock::now() < stop_at; },
      [&](int ms) {
        beat();
        ++run.idle_calls;
        const Clock::time_point now = Clock::now();
        std::this_thread::sleep_until(std::min(now + std::chrono::milliseconds(ms), std::max(stop_at, now)));
      });
  beat();
  run.took = Clock::now() - start;
  return run;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ensure_topic was stopped 0.5 s in: it returned within a few seconds, without the topic, and
// heartbeated (idle()) at least every 2 s meanwhile.
void check_interrupted(const EnsureRun& run) {
  INFO("took " << seconds(run.took) << " s, longest stretch without idle() " << seconds(run.longest_silence)
               << " s, idle() calls " << run.idle_calls);
  CHECK_FALSE(run.ready);
  CHECK(seconds(run.took) < 4);
  CHECK(run.idle_calls >= 1);
  CHECK(seconds(run.longest_silence) < 2);
}

// A producer handle bootstrapped at `brokers` that never creates topics by itself, with
// `extra` librdkafka settings.
std::unique_ptr<RdKafka::Producer> test_producer(const std::string& brokers,
                                                 const std::map<std::string, std::string>& extra = {}) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  REQUIRE(conf->set("bootstrap.servers", brokers, errstr) == RdKafka::Conf::CONF_OK);
  REQUIRE(conf->set("allow.auto.create.topics", "false", errstr) == RdKafka::Conf::CONF_OK);
  REQUIRE(conf->set("log_level", "2", errstr) == RdKafka::Conf::CONF_OK);  // no connection noise
  for (const auto& [name, value] : extra) REQUIRE(conf->set(name, value, errstr) == RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), errstr));
  REQUIRE(producer);
  return producer;
}

// A TCP port on 127.0.0.1 that takes connections (the kernel completes the handshake) and
// never reads or answers: a broker that hangs.
class SilentListener {
 public:
  SilentListener() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(listen(fd_, 16) == 0);
    REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_;
  unsigned port_ = 0;
};

// Whether a CreateTopics request for `topic` gets any answer within `timeout_ms`.
bool create_topics_answered(RdKafka::Handle& handle, const std::string& topic, int timeout_ms) {
  char errstr[512];
  rd_kafka_t* rk = handle.c_ptr();
  NewTopicPtr new_topic(rd_kafka_NewTopic_new(topic.c_str(), 1, 1, errstr, sizeof errstr));
  REQUIRE(new_topic);
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(rk, topics, 1, nullptr, queue.get());
  const EventPtr event(rd_kafka_queue_poll(queue.get(), timeout_ms));
  return event != nullptr;
}

constexpr int16_t kListOffsetsApiKey = 2;

}  // namespace

TEST_CASE("ensure_topic heartbeats and stops while CreateTopics goes unanswered", "[unit][kafka]") {
  KafkaSettings existing;
  existing.topic = "some-other-topic";
  existing.partitions = 1;
  MockCluster cluster(1, existing);
  auto producer = test_producer(cluster.bootstrap_servers());
  // librdkafka's mock cluster does not implement CreateTopics and names no controller
  // (ControllerId 0, its brokers are 1..n), so librdkafka holds a CreateTopics request until
  // its request timeout (socket.timeout.ms, 60 s): a broker that does not answer. (Injected
  // delays, rd_kafka_mock_broker_push_request_error_rtts, cannot do this: the request never
  // reaches a mock broker.) Checked here, so the test cannot pass for the wrong reason.
  REQUIRE_FALSE(create_topics_answered(*producer, "probe-topic", 1500));

  KafkaSettings kafka;
  kafka.topic = "unknown-topic";
  kafka.partitions = 1;
  const EnsureRun run = run_ensure_topic(*producer, kafka, std::chrono::milliseconds(500));
  check_interrupted(run);  // was 30 s: one 30 s poll of the CreateTopics result
}

TEST_CASE("ensure_topic heartbeats and stops while the broker does not answer metadata", "[unit][kafka]") {
  SilentListener broker;
  auto producer = test_producer(broker.address());
  KafkaSettings kafka;
  kafka.topic = "unknown-topic";
  const EnsureRun run = run_ensure_topic(*producer, kafka, std::chrono::milliseconds(500));
  check_interrupted(run);  // was 5 s: one 5 s metadata request
}

TEST_CASE("ensure_topic heartbeats and stops while a partition leader does not answer", "[unit][kafka]") {
  // The handle's own mock cluster, reachable for error injection; like test_producer's, the
  // handle never creates topics by itself.
  const test::MockClusterClient cluster(1, {{"allow.auto.create.topics", "false"}});
  rd_kafka_mock_cluster_t* mock = cluster.mock();
  KafkaSettings kafka;
  kafka.topic = "slow-leader";
  kafka.partitions = 2;
  cluster.create_topic(kafka.topic, kafka.partitions);
  // Broker 1 leads both partitions and answers its next ListOffsets requests (the watermark
  // queries) only after 30 s.
  for (int i = 0; i < 20; ++i) {
    REQUIRE(rd_kafka_mock_broker_push_request_error_rtts(mock, 1, kListOffsetsApiKey, 1,
                                                          RD_KAFKA_RESP_ERR_NO_ERROR, 30000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  const EnsureRun run = run_ensure_topic(cluster.producer(), kafka, std::chrono::milliseconds(500));
  check_interrupted(run);  // was 5 s: one 5 s watermark query
}

TEST_CASE("consumer lag is read from librdkafka statistics: committed offsets, never -1", "[unit][kafka]") {
  // Shaped like librdkafka 2.8.0's statistics, trimmed to what is read; -1001 is "not known".
  const std::string stats = R"({"brokers":{},"topics":{
      "t":{"topic":"t","partitions":{
        "0":{"partition":0,"lo_offset":0,"hi_offset":700,"ls_offset":700,"committed_offset":650},
        "1":{"partition":1,"lo_offset":20,"hi_offset":500,"ls_offset":480,"committed_offset":-1001},
        "2":{"partition":2,"lo_offset":-1001,"hi_offset":-1001,"ls_offset":-1001,"committed_offset":-1001},
        "3":{"partition":3,"lo_offset":0,"hi_offset":90,"ls_offset":-1001,"committed_offset":95},
        "-1":{"partition":-1,"lo_offset":0,"hi_offset":10,"ls_offset":10,"committed_offset":-1001}}},
      "other":{"topic":"other","partitions":{
        "0":{"partition":0,"lo_offset":0,"hi_offset":5,"ls_offset":5,"committed_offset":0}}}}})";
  const auto lag = read_stats(stats, "t").lag;
  // 0: last stable offset - committed; 1: nothing committed, from the low watermark to the last
  // stable offset; 2: watermarks unknown (no fetch answered yet), left out; 3: the high
  // watermark without a stable offset, never negative; -1: librdkafka's internal partition.
  CHECK(lag == std::map<std::int32_t, std::int64_t>{{0, 50}, {1, 460}, {3, 0}});
  CHECK(read_stats(stats, "missing").lag.empty());
  CHECK(read_stats("{\"topics\":{\"t\":{\"partitions\":[1]}}}", "t").lag.empty());
  CHECK(read_stats("garbage", "t").lag.empty());
}

TEST_CASE("a broker that answers nothing while requests wait is read as silent, the coordinator left out",
          "[unit][kafka]") {
  // Shaped like librdkafka 2.8.0's statistics during an iptables DROP on the broker's port.
  const std::string silent = R"({"brokers":{
      "127.0.0.1:39092/1":{"name":"127.0.0.1:39092/1","nodeid":1,"source":"learned","state":"UP",
                          "waitresp_cnt":2,"rxidle":7250000},
      "GroupCoordinator":{"name":"GroupCoordinator","nodeid":1,"source":"logical","state":"UP",
                          "waitresp_cnt":1,"rxidle":30000000}}})";
  const ClientStats stats = read_stats(silent, "");
  CHECK(stats.broker_up);
  CHECK(stats.silent_ms == 7250);
  // Nothing waiting: a quiet connection is not a silent one.
  CHECK(read_stats(R"({"brokers":{"b/1":{"nodeid":1,"source":"learned","state":"UP","waitresp_cnt":0,
                       "rxidle":90000000}}})", "").silent_ms == 0);
  // A connection that is down is reported as down, not as silent.
  CHECK(read_stats(R"({"brokers":{"b/1":{"nodeid":1,"source":"learned","state":"CONNECT","waitresp_cnt":3,
                       "rxidle":90000000}}})", "").silent_ms == 0);
  CHECK(read_stats("garbage", "").silent_ms == 0);
}
