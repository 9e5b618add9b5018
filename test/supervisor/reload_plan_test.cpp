// Reload planning from two configurations alone: no supervisor, no workers, no broker.
#include <map>
#include <string>

#include "catch_compat.hpp"
#include "pricepipe/supervisor/reload_plan.hpp"

using namespace pricepipe;
using Verdict = ReloadPlan::Verdict;

namespace {

Config config_with(const std::map<std::string, std::string>& values) {
  RawSettings overrides;
  for (const auto& [key, value] : values) overrides[key] = RawSetting{value, "test", true};
  return build_config({}, overrides);
}

const std::map<std::string, std::string> kBase{{"kafka.brokers", "b1:9092"}, {"supervisor.http_port", "8080"}};

Config base_with(const std::string& key, const std::string& value) {
  auto values = kBase;
  values[key] = value;
  return config_with(values);
}

}  // namespace

TEST_CASE("a reload of the same configuration does nothing", "[unit][supervisor]") {
  const ReloadPlan plan = plan_reload(config_with(kBase), config_with(kBase));
  CHECK(plan.verdict == Verdict::kUnchanged);
  CHECK(plan.changes.empty());
  CHECK_FALSE(plan.restart_producer);
  CHECK_FALSE(plan.restart_consumer);
}

TEST_CASE("a reload cannot switch to or from the embedded cluster", "[unit][supervisor]") {
  const ReloadPlan to = plan_reload(config_with(kBase), base_with("kafka.brokers", "embedded"));
  CHECK(to.verdict == Verdict::kRefused);
  CHECK_THAT(to.refusal, Catch::Contains("embedded"));
  const ReloadPlan from = plan_reload(base_with("kafka.brokers", "embedded"), config_with(kBase));
  CHECK(from.verdict == Verdict::kRefused);
}

TEST_CASE("a reload restarts exactly the workers whose client a changed key configures", "[unit][supervisor]") {
  const Config running = config_with(kBase);
  SECTION("generator and rate settings apply live") {
    const ReloadPlan plan = plan_reload(running, base_with("producer.rate", "250"));
    CHECK(plan.verdict == Verdict::kApply);
    CHECK(plan.changes == " producer.rate=250");
    CHECK_FALSE(plan.restart_producer);
    CHECK_FALSE(plan.restart_consumer);
  }
  SECTION("the consumer's group restarts the consumer only") {
    const ReloadPlan plan = plan_reload(running, base_with("consumer.group_id", "other"));
    CHECK_FALSE(plan.restart_producer);
    CHECK(plan.restart_consumer);
  }
  SECTION("the producer's librdkafka pass-through restarts the producer only") {
    const ReloadPlan plan = plan_reload(running, base_with("librdkafka.producer.linger.ms", "1"));
    CHECK(plan.restart_producer);
    CHECK_FALSE(plan.restart_consumer);
  }
  SECTION("the topic restarts both") {
    const ReloadPlan plan = plan_reload(running, base_with("kafka.topic", "elsewhere"));
    CHECK(plan.restart_producer);
    CHECK(plan.restart_consumer);
  }
}

TEST_CASE("a reload moves or closes the health endpoint without restarting a worker", "[unit][supervisor]") {
  const Config running = config_with(kBase);
  for (const char* port : {"8081", "0"}) {
    const ReloadPlan plan = plan_reload(running, base_with("supervisor.http_port", port));
    CHECK(plan.verdict == Verdict::kApply);
    CHECK(plan.http_port_changed);
    CHECK_FALSE(plan.restart_producer);
    CHECK_FALSE(plan.restart_consumer);
  }
  CHECK_FALSE(plan_reload(running, base_with("producer.rate", "3")).http_port_changed);
}

TEST_CASE("a reload's list of changes masks secrets", "[unit][supervisor]") {
  const ReloadPlan plan = plan_reload(config_with(kBase), base_with("librdkafka.sasl.password", "hunter2"));
  CHECK(plan.verdict == Verdict::kApply);
  CHECK(plan.changes == " librdkafka.sasl.password=***");
}
