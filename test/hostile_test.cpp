// Hostile input on the topic: thousands of bad messages that other programs might write,
// interleaved with good ones, written with kcat. pricepipe prints exactly the good ones,
// counts the bad ones, logs them rate-limited, and keeps running.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>
#include <regex>

#include "kafka_test_support.hpp"
#include "process.hpp"

using namespace pricepipe::test;
using namespace std::chrono_literals;

namespace {

// kcat -D splits its input on this byte; none of the messages below contains it.
constexpr char kDelimiter = '\x1e';

std::vector<std::string> bad_messages() {
  std::vector<std::string> bad = {
      "not json at all",
      "\xff\xfe\xfd",
      "{\"match\":123,\"price\":4.56,\"note\":\"\xc3\x28\"}",
      "{\"match\":123,\"price\":",
      "{\"match\":123",
      "[{\"match\":123,\"price\":4.56}]",
      "\"a string\"",
      "42",
      "null",
      "{\"match\":\"123\",\"price\":4.56}",
      "{\"match\":123.5,\"price\":4.56}",
      "{\"match\":-5,\"price\":4.56}",
      "{\"match\":100000000000000000000,\"price\":4.56}",
      "{\"match\":123,\"price\":\"4.56\"}",
      "{\"match\":123,\"price\":NaN}",
      "{\"match\":123,\"price\":Infinity}",
      "{\"match\":123,\"price\":1e400}",
      "{\"match\":123,\"price\":1e300}",
      "{\"match\":123,\"price\":-1}",
      "{\"match\":123,\"match\":124,\"price\":4.56}",
      "{\"match\":123,\"price\":4.56,\"price\":4.57}",
      "{\"price\":4.56}",
      "{\"match\":123}",
      "{}",
      std::string(200000, '[') + std::string(200000, ']'),
      // The event fields buried deep inside: no top-level match.
      "{\"deep\":" + std::string(30000, '[') + "{\"match\":1,\"price\":2}" + std::string(30000, ']') + "}",
      std::string(1000000, 'x'),
  };
  return bad;
}

}  // namespace

TEST_CASE("thousands of hostile messages between good ones: exactly the good ones are printed", "[integration]") {
  const std::string topic = unique_name("hostile");
  // pricepipe creates the one-partition topic and writes one known event first.
  auto r = run_process({pricepipe_binary(), "--config", source_dir() + "/supervisor.conf",
                        "--kafka.brokers=" + test_brokers(), "--kafka.topic=" + topic, "--kafka.partitions=1",
                        "--consumer.enabled=false", "--producer.count=1", "--producer.match_min=100",
                        "--producer.match_max=100", "--producer.price_min=2", "--producer.price_max=2"},
                       120s);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);

  const auto bad = bad_messages();
  std::string input;
  std::string expected = "{\"match\":100,\"price\":2.00}\n";
  std::size_t bad_count = 0;
  const int rounds = 120;
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t i = 0; i < bad.size(); ++i) {
      // The 1 MB and deeply nested ones once each; the small ones every round.
      if (bad[i].size() > 1000 && round != 0) continue;
      input += bad[i] + kDelimiter;
      ++bad_count;
    }
    const int match = 100 + round;
    input += "{\"price\": " + std::to_string(round) + ".5, \"match\": " + std::to_string(match) + "}" + kDelimiter;
    expected += "{\"match\":" + std::to_string(match) + ",\"price\":" + std::to_string(round) + ".50}\n";
  }
  REQUIRE(bad_count > 2500);
  char path[] = "/tmp/pricepipe-hostile-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path, std::ios::binary) << input;
  const auto produced = run_process({"kcat", "-P", "-b", test_brokers(), "-t", topic, "-D", std::string(1, kDelimiter),
                                     "-X", "message.max.bytes=2000000", "-l", path},
                                    120s);
  std::remove(path);
  INFO(produced.err);
  REQUIRE(produced.exit_code == 0);

  r = run_process({pricepipe_binary(), "--config", source_dir() + "/supervisor.conf",
                   "--kafka.brokers=" + test_brokers(), "--kafka.topic=" + topic, "--producer.enabled=false",
                   "--consumer.group_id=" + unique_name("g"), "--consumer.exit_after=" + std::to_string(rounds + 1)},
                  180s);
  INFO(r.err.substr(0, 20000));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == expected);
  CHECK_THAT(r.err, Catch::Contains("skipped=" + std::to_string(bad_count) + " "));
  // Logged, but rate-limited: far fewer lines than bad messages.
  const std::regex skipped_line("skipped bad message");
  const auto logged = std::distance(std::sregex_iterator(r.err.begin(), r.err.end(), skipped_line),
                                    std::sregex_iterator());
  CHECK(logged >= 1);
  CHECK(static_cast<std::size_t>(logged) < bad_count / 10);
  CHECK_THAT(r.err, Catch::Contains("since the last report"));  // the suppressed ones are reported too
}
