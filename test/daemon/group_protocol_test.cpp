// Scaling out under the configured consumer group protocol (consumer.group_protocol; the
// kip848 label runs this file again on the consumer protocol): the broker runs the group on
// that protocol, two instances share a six-partition topic, a reload that changes no consumer
// setting leaves the group alone, and the survivor takes over when the other stops, with kcat
// showing nothing missing and nothing printed twice. A member the group gives no partition is
// ready all the same.
#include "catch_compat.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

#include "http_probe.hpp"
#include "kafka_test_support.hpp"
#include "scenario.hpp"
#include "test_support.hpp"

using namespace pricepipe::test;
using namespace std::chrono_literals;

namespace {

constexpr int kPartitions = 6;

// Each holds a non-empty share, the shares are disjoint, and together they are the topic.
bool shared(const std::set<int>& a, const std::set<int>& b) {
  std::set<int> all = a;
  all.insert(b.begin(), b.end());
  return !a.empty() && !b.empty() && all.size() == a.size() + b.size() && all.size() == kPartitions;
}

// The group's type as the broker reports it (Kafka's GroupsCommand: GROUP TYPE PROTOCOL).
std::string group_type(const std::string& group) {
  const auto r = run_process({"bash", source_dir() + "/scripts/kafka.sh", "tool", "org.apache.kafka.tools.GroupsCommand",
                              "--bootstrap-server", test_brokers(), "--list"},
                             120s);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::stringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    std::stringstream words(line);
    std::string name, type;
    words >> name >> type;
    if (name == group) return type;
  }
  return "";
}

}  // namespace

TEST_CASE("two instances share a six-partition topic on the configured group protocol, a reload leaves the group "
          "alone, and one takes over when the other stops",
          "[integration]") {
  const bool classic = test_group_protocol() == "classic";
  const std::string topic = unique_name("scale6");
  const std::string group = unique_name("g");
  const std::string path = write_config("/tmp/" + unique_name("pp") + ".conf", "", 1000);
  // A produces (from its file, so that a reload can change the rate) and consumes; B only consumes.
  std::vector<std::string> a_args =
      pipeline_args(topic, group, {"--kafka.partitions=" + std::to_string(kPartitions), "--producer.count=30000"});
  a_args[2] = path;
  Daemon a(a_args);
  REQUIRE(a.printed(500, 90s));
  Daemon b(pipeline_args(topic, group, {"--kafka.partitions=" + std::to_string(kPartitions), "--producer.enabled=false"}));
  const bool split = eventually([&] { return shared(holding(a.err()), holding(b.err())); }, 90s, 100ms);
  INFO("A so far: " << a.err());
  INFO("B so far: " << b.err());
  REQUIRE(split);
  REQUIRE(b.printed(100, 60s));
  CHECK(group_type(group) == (classic ? "Classic" : "Consumer"));

  // A reload that changes only the generator: the consumer stays as it is, in its group.
  const std::size_t before_reload = a.err().size();
  write_config(path, "", 1500);
  a.signal(SIGHUP);
  REQUIRE(a.logged("reload: applied", 30s));
  REQUIRE(a.printed(complete_lines(a.out()) + 1500, 60s));
  const std::string after_reload = a.err().substr(before_reload);
  CHECK(after_reload.find("revoked") == std::string::npos);
  CHECK(after_reload.find("assigned partitions") == std::string::npos);
  CHECK(after_reload.find("consumer started") == std::string::npos);

  const auto [rb, ra] = leave_then_finish(b, a, 300s);
  INFO("B: " << rb.err);
  INFO("A: " << ra.err);
  // A held the whole topic alone, then its share beside B, then the whole topic again once B
  // had left, and gave it up at its exit.
  auto held = holdings(ra.err);
  REQUIRE(held.size() >= 4);
  CHECK(held.back().empty());
  held.pop_back();
  CHECK(std::count_if(held.begin(), held.end(), [](const std::set<int>& p) { return p.size() == kPartitions; }) >= 2);
  CHECK(held.back().size() == kPartitions);
  if (!classic) {
    // The consumer protocol moves only the partitions that change owner: A never held nothing
    // while it ran (the classic eager protocol revokes everything at each rebalance).
    CHECK(std::none_of(held.begin(), held.end(), [](const std::set<int>& p) { return p.empty(); }));
  }
  CHECK_THAT(ra.err, Catch::Contains("producer_restarts=0 consumer_restarts=0 reloads=1"));

  std::vector<Record> all = ra.records();
  const auto printed_b = rb.records();
  all.insert(all.end(), printed_b.begin(), printed_b.end());
  const auto c = compare_with_topic(all, test_brokers(), topic);
  INFO(c.describe());
  CHECK(c.in_topic.size() == 30000);
  CHECK(c.missing.empty());
  CHECK(c.extra.empty());
  // Partitions change owner after a commit: nothing twice, unless a commit before a revoke
  // was not confirmed in time, which the log then reports.
  const bool reported = (ra.err + rb.err).find("their next owner prints them again") != std::string::npos;
  CHECK((c.duplicates.empty() || reported));
  std::remove(path.c_str());
}

TEST_CASE("a member the group gives no partition is in its group and ready", "[integration]") {
  const std::string topic = unique_name("spare");
  const std::string group = unique_name("g");
  const int port_a = free_port();
  const int port_b = free_port({port_a});
  Daemon a(pipeline_args(topic, group, {"--kafka.partitions=1", "--producer.rate=100",
                                        "--supervisor.http_port=" + std::to_string(port_a)}));
  REQUIRE(a.printed(50, 90s));
  Daemon b(pipeline_args(topic, group, {"--kafka.partitions=1", "--producer.enabled=false",
                                        "--supervisor.http_port=" + std::to_string(port_b)}));
  // One of them holds the one partition, the other nothing: the classic protocol assigns that
  // one an empty list; the consumer protocol calls nothing, and pricepipe reads the member
  // epoch instead. Both are ready.
  const bool split = eventually([&] {
    return holding(a.err()).size() + holding(b.err()).size() == 1 &&
           (holding(a.err()).empty() || holding(b.err()).empty()) && http_status(port_a, "/readyz") == 200 &&
           http_status(port_b, "/readyz") == 200;
  }, 60s, 200ms);
  INFO("A: " << a.err());
  INFO("B: " << b.err());
  CHECK(split);
  const auto rb = b.stop(SIGTERM, 60s);
  CHECK(rb.exit_code == 0);
  const auto ra = a.stop(SIGTERM, 60s);
  CHECK(ra.exit_code == 0);
}
