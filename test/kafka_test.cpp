#include <catch2/catch.hpp>

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
