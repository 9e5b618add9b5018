#include "catch_compat.hpp"

#include <librdkafka/rdkafkacpp.h>

#include "pricepipe/config.hpp"
#include "pricepipe/kafka.hpp"

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

namespace {
std::string conf_value(const RdKafka::Conf& conf, const std::string& name) {
  std::string value;
  REQUIRE(conf.get(name, value) == RdKafka::Conf::CONF_OK);
  return value;
}
}  // namespace

TEST_CASE("the consumer refills its prefetch queue quickly unless librdkafka.* says otherwise",
          "[unit][kafka]") {
  Config config;
  auto consumer = make_client_conf(config, ClientRole::kConsumer, "127.0.0.1:9092");
  CHECK(conf_value(*consumer, "fetch.queue.backoff.ms") == "10");
  CHECK(conf_value(*consumer, "queued.min.messages") == "20000");
  CHECK(conf_value(*consumer, "enable.auto.offset.store") == "false");
  auto producer = make_client_conf(config, ClientRole::kProducer, "127.0.0.1:9092");
  CHECK(conf_value(*producer, "queued.min.messages") == "100000");  // librdkafka's default

  config.librdkafka.consumer["fetch.queue.backoff.ms"] = "1000";
  config.librdkafka.common["queued.min.messages"] = "500";
  consumer = make_client_conf(config, ClientRole::kConsumer, "127.0.0.1:9092");
  CHECK(conf_value(*consumer, "fetch.queue.backoff.ms") == "1000");
  CHECK(conf_value(*consumer, "queued.min.messages") == "500");
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
