// A stdout reader that pauses or crawls, against the real broker: flow control, not a failure
// (no stall, no restart, the group membership kept, readiness names it, nothing lost), and a
// stop that stays within its bound whatever the reader does. The reader is the test's own end
// of the daemon's stdout pipe, paused or throttled (Process::read_stdout_at); kcat checks the
// topic.
#include "catch_compat.hpp"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "http_probe.hpp"
#include "kafka_test_support.hpp"
#include "process.hpp"
#include "scenario.hpp"
#include "test_support.hpp"

using namespace pricepipe::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Sanitizer runtimes add shadow memory and keep freed memory in quarantine.
constexpr long kRssLimitKib = 1024 * 1024;
#else
constexpr long kRssLimitKib = 64 * 1024;  // the bound for a 5-minute pause
#endif

// Stops reading the daemon's stdout and waits until the daemon has paused its partitions.
void pause_reader(Daemon& daemon) {
  daemon.read_stdout_at(0);
  REQUIRE(daemon.logged("partitions paused until the reader catches up", 30s));
}

// A daemon stopped while its reader is paused: whether it exited within `bound` (seen without
// reading its output), then the whole run once the reader reads again.
struct PausedExit {
  bool exited_in_time = false;
  Run run;
};
PausedExit exit_while_paused(Daemon& daemon, std::chrono::milliseconds bound) {
  PausedExit result;
  result.exited_in_time = daemon.exited_within(bound);
  daemon.read_stdout_at(Process::kUnlimited);
  result.run = daemon.wait(60s);
  return result;
}

// The records of two runs together.
std::vector<Record> both(const std::vector<Record>& first, const std::vector<Record>& second) {
  std::vector<Record> records = first;
  records.insert(records.end(), second.begin(), second.end());
  return records;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Events of the paused-reader test: 45 s at 1,000/s.
constexpr std::size_t kPausedEvents = 45000;

}  // namespace

TEST_CASE("a paused stdout reader is flow control: no stall, no restart, the group kept, nothing lost",
          "[integration]") {
  const std::string topic = unique_name("paused");
  const int port = free_port();
  // max.poll.interval.ms far shorter than the pause: a consumer that stopped serving librdkafka
  // while it waits for the reader would be put out of its group (a rebalance in the log). The
  // session timeout is not the point: 10 s with a heartbeat a second rides out a loaded machine
  // (the consumer protocol's are the broker's, 45 s and 5 s). The producer still runs when the
  // reader resumes (45 s of events, the pause ends about 30 s in): a daemon whose producer had
  // finished would print the rest and exit in well under a second, and CI once saw it gone
  // before /readyz was asked again.
  Daemon p(pipeline_args(topic, unique_name("g"),
                         plus_classic({"--producer.rate=1000", "--producer.count=" + std::to_string(kPausedEvents),
                                       "--supervisor.stall_timeout_s=5",
                                       "--supervisor.http_port=" + std::to_string(port),
                                       "--librdkafka.consumer.max.poll.interval.ms=10000"},
                                      {"--librdkafka.consumer.session.timeout.ms=10000",
                                       "--librdkafka.consumer.heartbeat.interval.ms=1000"})));
  REQUIRE(p.printed(2000, 60s));
  REQUIRE(eventually([&] { return http_status(port, "/readyz") == 200; }, 30s));
  p.read_stdout_at(0);
  const auto paused = Clock::now();
  // Readiness names the output within the stall timeout (5 s).
  std::string readyz;
  eventually(
      [&] {
        readyz = http_get(port, "/readyz");
        return readyz.find("output is blocked") != std::string::npos;
      },
      5s, 100ms);
  CHECK_THAT(readyz, Catch::Contains("output is blocked"));  // on failure, what it said instead
  // Five stall timeouts and two and a half max.poll.interval.ms: alive all along.
  int live_checks = 0;
  while (Clock::now() - paused < 25s) {
    INFO("log so far:\n" << p.err());  // a failure here shows what the daemon said
    CHECK(http_status(port, "/livez") == 200);
    CHECK(rss_kib(p.pid()) < kRssLimitKib);  // nothing piles up while the partitions are paused
    ++live_checks;
    std::this_thread::sleep_for(1s);
  }
  CHECK(live_checks >= 10);
  INFO("log so far:\n" << p.err());
  CHECK(http_status(port, "/readyz") == 503);
  CHECK(metric_value(http_get(port, "/metrics"), "pricepipe_output_blocked_seconds_total") >= 10);
  p.read_stdout_at(Process::kUnlimited);
  CHECK(eventually([&] { return http_status(port, "/readyz") == 200; }, 30s));
  const Run r = p.wait(120s);  // the producer finishes, the consumer drains and the daemon exits
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("partitions paused until the reader catches up"));
  CHECK_THAT(r.err, Catch::Contains("partitions resumed"));
  CHECK_THAT(r.err, !Catch::Contains("stalled"));
  CHECK_THAT(r.err, !Catch::Contains("restarting"));
  CHECK(count(r.err, "revoked") == 1);  // only the one of the final stop
  const auto c = compare_with_topic(r.records(), test_brokers(), topic);
  INFO(c.describe());
  CHECK(c.in_topic.size() == kPausedEvents);
  CHECK(c.missing.empty());
  CHECK(c.duplicates.empty());
  CHECK(c.extra.empty());
}

TEST_CASE("a rebalance while the reader is paused leaves nothing unprinted", "[integration]") {
  const std::string topic = unique_name("paused-rebalance");
  const std::string group = unique_name("g");
  Daemon a(pipeline_args(topic, group, {"--producer.rate=500", "--producer.count=15000"}));
  REQUIRE(a.printed(500, 60s));
  pause_reader(a);
  // A second member takes some partitions, then leaves: the paused member loses and regains them.
  Daemon b(pipeline_args(topic, group, {"--producer.enabled=false"}));
  REQUIRE(b.printed(100, 60s));
  const Run second = b.stop(SIGTERM, 60s);
  REQUIRE(second.exit_code == 0);
  REQUIRE(a.read_until([](const std::string&, const std::string& err) {
    return count(err, "consumer: holding partitions [0,1,2]") >= 2;  // its first assignment, and this one
  }, 60s));
  a.read_stdout_at(Process::kUnlimited);
  const Run first = a.wait(120s);  // drains everything once the producer is done
  INFO(first.err);
  REQUIRE_FALSE(first.timed_out);
  CHECK(first.exit_code == 0);
  const auto c = compare_with_topic(both(first.records(), second.records()), test_brokers(), topic);
  INFO(c.describe());
  CHECK(c.in_topic.size() == 15000);
  CHECK(c.missing.empty());
  CHECK(c.extra.empty());
}

TEST_CASE("a slow steady reader gets everything, with no stall and no restart", "[integration]") {
  const std::string topic = unique_name("slow-reader");
  // ~500 KB of envelopes at 40 KiB/s: a batch of 256 KiB takes twice the stall timeout to write.
  Daemon p(pipeline_args(topic, unique_name("g"),
                         {"--producer.rate=2000", "--producer.count=3000", "--supervisor.stall_timeout_s=3"}));
  p.read_stdout_at(40 * 1024);
  const Run r = p.wait(120s);
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, !Catch::Contains("stalled"));
  CHECK_THAT(r.err, !Catch::Contains("restarting"));
  const auto c = compare_with_topic(r.records(), test_brokers(), topic);
  INFO(c.describe());
  CHECK(c.in_topic.size() == 3000);
  CHECK(c.missing.empty());
  CHECK(c.duplicates.empty());
}

TEST_CASE("SIGTERM with the reader paused exits 0 within the bound, and the next run prints the rest",
          "[integration]") {
  const std::string topic = unique_name("paused-stop");
  const std::string group = unique_name("g");
  Daemon p(pipeline_args(topic, group,
                         {"--producer.rate=1000", "--producer.count=6000", "--supervisor.shutdown_timeout_s=4"}));
  REQUIRE(p.printed(1000, 60s));
  pause_reader(p);
  REQUIRE(p.logged("producer finished", 30s));
  p.signal(SIGTERM);
  // supervisor.shutdown_timeout_s, plus under a second.
  const PausedExit stopped = exit_while_paused(p, 5s);
  const Run& first = stopped.run;  // a name the lambda below can capture
  INFO(first.err);
  REQUIRE(stopped.exited_in_time);
  CHECK(first.exit_code == 0);
  CHECK_THAT(first.err, Catch::Contains("lines not printed (not committed: the next run prints them)"));
  // The next run of the group prints what the first did not (at least once), then drains.
  const auto in_topic = kcat_read(test_brokers(), topic);
  REQUIRE(in_topic.size() == 6000);  // the producer finished before the stop
  Daemon next(pipeline_args(topic, group, {"--producer.enabled=false"}));
  const auto printed_all = [&] {
    return compare_with_topic(both(first.records(), parse_whole_envelopes(next.out())), in_topic).missing.empty();
  };
  CHECK(eventually(printed_all, 60s, 200ms));
  const Run second = next.stop(SIGTERM, 60s);
  const auto c = compare_with_topic(both(first.records(), second.records()), in_topic);
  INFO(c.describe());
  CHECK(c.missing.empty());
  CHECK(c.extra.empty());
}

TEST_CASE("a second SIGTERM while the reader is paused ends the daemon at once", "[integration]") {
  const std::string topic = unique_name("paused-twice");
  Daemon p(pipeline_args(topic, unique_name("g"), {"--producer.rate=1000", "--supervisor.shutdown_timeout_s=60"}));
  REQUIRE(p.printed(1000, 60s));
  pause_reader(p);
  p.signal(SIGTERM);
  REQUIRE(p.logged("stopping gracefully", 10s));
  p.signal(SIGTERM);
  const auto [exited, r] = exit_while_paused(p, 5s);  // not the 15 s the consumer would give the reader
  INFO(r.err);
  CHECK(exited);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("second SIGTERM during the graceful stop"));
}

TEST_CASE("SIGTERM during a reload that stops the consumer is honoured within the bound", "[integration]") {
  const std::string topic = unique_name("paused-reload");
  const std::string path = "/tmp/" + unique_name("pp") + ".conf";
  std::ofstream(path) << "[librdkafka]\nconsumer.fetch.wait.max.ms = 100\n";
  std::vector<std::string> args =
      pipeline_args(topic, unique_name("g"), {"--producer.rate=1000", "--supervisor.shutdown_timeout_s=20"});
  args[2] = path;
  Daemon p(args);
  REQUIRE(p.printed(1000, 60s));
  pause_reader(p);
  // The consumer's stop for the reload waits for the reader (a quarter of the bound, 5 s).
  std::ofstream(path) << "[librdkafka]\nconsumer.fetch.wait.max.ms = 101\n";
  p.signal(SIGHUP);
  REQUIRE(p.logged("reload: stopping the consumer worker", 10s));
  p.signal(SIGTERM);
  const auto [exited, r] = exit_while_paused(p, 21s);
  INFO(r.err);
  CHECK(exited);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("SIGTERM received while a worker stops"));
  CHECK(count(r.err, "consumer started") == 1);  // not started again for the reload
  std::remove(path.c_str());
}
