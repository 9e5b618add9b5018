// A minute without the broker while the producer runs at full speed: memory stays bounded
// (the producer waits on librdkafka's full queue instead of growing), nothing acknowledged is
// lost, and events flow again when the broker returns. The bound is checked with the daemon's
// own RSS from /proc; kcat counts what is in the topic.
#include "catch_compat.hpp"

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <thread>

#include "kafka_test_support.hpp"
#include "scenario.hpp"

using namespace pricepipe::test;
using namespace std::chrono_literals;

namespace {

// The last value of `name=` in the daemon's stats lines; -1 before the first one.
long long last_stat(const std::string& err, const std::string& name) {
  const std::regex re(name + "=([0-9]+)");
  long long value = -1;
  for (auto it = std::sregex_iterator(err.begin(), err.end(), re); it != std::sregex_iterator(); ++it) {
    value = std::stoll((*it)[1]);
  }
  return value;
}

// Messages in `topic`, read with kcat from the beginning to the end.
std::size_t kcat_count(const std::string& topic) { return complete_lines(kcat_consume(test_brokers(), topic, "%o\n")); }

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Sanitizer runtimes add shadow memory and keep freed memory in quarantine.
constexpr long kRssLimitKib = 1024 * 1024;
#else
constexpr long kRssLimitKib = 128 * 1024;
#endif

}  // namespace

// [producer]: no consumer, so no group protocol to run it under twice (test/CMakeLists.txt).
TEST_CASE("a minute without the broker at full speed: bounded memory and nothing acknowledged lost",
          "[integration][outage][producer]") {
  BrokerGuard guard;
  const std::string topic = unique_name("outage");
  Daemon p(pipeline_args(topic, unique_name("g"), {"--producer.rate=0", "--consumer.enabled=false"}));
  // Running at full speed: acknowledged events are counted.
  REQUIRE(p.read_until([](const std::string&, const std::string& err) { return last_stat(err, "delivered") > 0; },
                       120s));

  kafka_sh({"stop"});
  const auto outage_start = std::chrono::steady_clock::now();
  std::vector<long> samples;  // RSS every half second while the broker is gone
  while (std::chrono::steady_clock::now() - outage_start < 60s) {
    samples.push_back(rss_kib(p.pid()));
    std::this_thread::sleep_for(500ms);
  }
  const std::string during = p.err();
  kafka_sh({"start"});
  REQUIRE(samples.size() > 100);
  REQUIRE(samples.back() > 0);  // still alive

  // It waited on the full queue instead of growing.
  CHECK_THAT(during, Catch::Contains("queue has been full"));
  const long peak = *std::max_element(samples.begin(), samples.end());
  // Flat once the queue is full: the last 40 s add next to nothing to the first 20 s.
  const long first_part = *std::max_element(samples.begin(), samples.begin() + 40);
  INFO("RSS KiB: peak " << peak << ", peak of the first 20 s " << first_part << ", last " << samples.back());
  CHECK(peak < kRssLimitKib);
  CHECK(peak - first_part < 16 * 1024);

  // Flows again: more acknowledged than was ever generated before the broker came back.
  const long long generated_before = last_stat(during, "generated");
  REQUIRE(p.read_until([&](const std::string&, const std::string& err) {
    return err.find("queue drains again") != std::string::npos && last_stat(err, "delivered") > generated_before;
  }, 180s));

  const auto r = p.stop(SIGTERM, 120s);
  INFO(r.err.substr(r.err.size() > 20000 ? r.err.size() - 20000 : 0));
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  const long long delivered = last_stat(r.err, "delivered");
  const long long generated = last_stat(r.err, "generated");
  REQUIRE(delivered > generated_before);
  // Every acknowledged event is in the topic; nothing is there that was not generated (the
  // idempotent producer writes no duplicates).
  const auto in_topic = static_cast<long long>(kcat_count(topic));
  CHECK(in_topic >= delivered);
  CHECK(in_topic <= generated);
}
