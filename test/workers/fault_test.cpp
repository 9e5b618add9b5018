#include "catch_compat.hpp"

#include "pricepipe/config/config.hpp"
#include "pricepipe/workers/fault.hpp"

using namespace pricepipe;

TEST_CASE("fault injection rules: every kind, AFTER and TIMES", "[unit][fault]") {
  const auto rules = parse_fault_rules("producer:throw:200:3,consumer:hang:1000:1,consumer:slow-stop:0");
  REQUIRE(rules.size() == 3);
  CHECK(rules[0].worker == "producer");
  CHECK(rules[0].fault.kind == FaultInjection::Kind::kThrow);
  CHECK(rules[0].fault.after_events == 200);
  CHECK(rules[0].times == 3);
  CHECK(rules[1].worker == "consumer");
  CHECK(rules[1].fault.kind == FaultInjection::Kind::kHang);
  CHECK(rules[1].fault.after_events == 1000);
  CHECK(rules[1].times == 1);
  CHECK(rules[2].fault.kind == FaultInjection::Kind::kSlowStop);
  CHECK(rules[2].fault.after_events == 0);
  CHECK(rules[2].times == -1);  // every instance
  CHECK(parse_fault_rules("").empty());
}

TEST_CASE("malformed fault injection rules are usage errors", "[unit][fault]") {
  for (const char* spec : {"consumer:slow:0", "broker:throw:1", "consumer:throw", "consumer:throw:x",
                           "consumer:throw:1:0", "consumer:throw:1:2:3", "consumer:slow-stop:-1"}) {
    INFO(spec);
    try {
      parse_fault_rules(spec);
      FAIL("accepted");
    } catch (const ConfigError& e) {
      CHECK(e.exit_code() == exit_code::kUsage);
      CHECK_THAT(e.what(), Catch::Contains("throw|hang|slow-stop"));
    }
  }
}
