// Hostile input on the topic: thousands of bad messages that other programs might write,
// interleaved with good ones, written with kcat. pricepipe prints exactly the good ones,
// counts the bad ones, logs them rate-limited, keeps running, and copies each bad one to the
// dead-letter topic with headers naming where it came from.
#include "catch_compat.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "kafka_test_support.hpp"
#include "process.hpp"
#include "scenario.hpp"
#include "test_support.hpp"

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

struct RawRecord {
  std::string headers;  // kcat's %h: name=value,...
  std::int64_t offset = 0;
  std::string value;
};

// Every record of `topic` with its headers, read with kcat. Fields are split by bytes no test
// message contains, as values hold newlines, tabs and invalid UTF-8.
std::vector<RawRecord> kcat_read_raw(const std::string& topic) {
  const std::string out =
      kcat_consume(test_brokers(), topic, "%h\x1f%o\x1f%s\x1e", {"-X", "fetch.message.max.bytes=4000000"});
  std::vector<RawRecord> records;
  std::size_t start = 0;
  for (std::size_t end; (end = out.find(kDelimiter, start)) != std::string::npos; start = end + 1) {
    const std::string rec = out.substr(start, end - start);
    const auto f1 = rec.find('\x1f');
    const auto f2 = rec.find('\x1f', f1 + 1);
    REQUIRE(f2 != std::string::npos);
    records.push_back({rec.substr(0, f1), std::stoll(rec.substr(f1 + 1, f2 - f1 - 1)), rec.substr(f2 + 1)});
  }
  REQUIRE(start == out.size());
  return records;
}

std::string header(const std::string& headers, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(headers, m, std::regex("(^|,)" + name + "=([^,]*)"))) return "";
  return m[2];
}

}  // namespace

TEST_CASE("thousands of hostile messages between good ones: exactly the good ones are printed", "[integration]") {
  const std::string topic = unique_name("hostile");
  // pricepipe creates the one-partition topic and writes one known event first.
  auto r = run_process({pricepipe_binary(), "--config", source_dir() + "/supervisor.conf",
                        "--kafka.brokers=" + test_brokers(), "--kafka.topic=" + topic, group_protocol_arg(), "--kafka.partitions=1",
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
  const std::string path = temp_file("pricepipe-hostile", input);
  const auto produced = run_process({"kcat", "-P", "-b", test_brokers(), "-t", topic, "-D", std::string(1, kDelimiter),
                                     "-X", "message.max.bytes=2000000", "-l", path},
                                    120s);
  std::remove(path.c_str());
  INFO(produced.err);
  REQUIRE(produced.exit_code == 0);

  const std::string dead_letters = unique_name("hostile-dlq");
  r = run_process({pricepipe_binary(), "--config", source_dir() + "/supervisor.conf",
                   "--kafka.brokers=" + test_brokers(), "--kafka.topic=" + topic, group_protocol_arg(), "--producer.enabled=false",
                   "--consumer.group_id=" + unique_name("g"), "--consumer.exit_after=" + std::to_string(rounds + 1),
                   "--consumer.dead_letter_topic=" + dead_letters},
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
  CHECK_THAT(r.err, Catch::Contains("dead_lettered=" + std::to_string(bad_count) + " "));

  // The dead-letter topic holds each bad message once, unchanged, naming its source.
  std::map<std::int64_t, std::string> source;
  for (auto& rec : kcat_read_raw(topic)) source[rec.offset] = std::move(rec.value);
  REQUIRE(source.size() == bad_count + rounds + 1);
  const auto letters = kcat_read_raw(dead_letters);
  CHECK(letters.size() == bad_count);
  std::set<std::int64_t> offsets;
  std::size_t unchanged = 0;
  for (const auto& letter : letters) {
    INFO(letter.headers);
    REQUIRE(header(letter.headers, "pricepipe.source.topic") == topic);
    REQUIRE(header(letter.headers, "pricepipe.source.partition") == "0");
    CHECK_FALSE(header(letter.headers, "pricepipe.reason").empty());
    const std::int64_t offset = std::stoll(header(letter.headers, "pricepipe.source.offset"));
    offsets.insert(offset);
    if (source.count(offset) != 0 && source[offset] == letter.value) ++unchanged;
  }
  CHECK(offsets.size() == bad_count);
  CHECK(unchanged == bad_count);
}

TEST_CASE("a bad message the dead-letter topic refuses is not skipped: the consumer fails and reads it again", "[integration]") {
  const std::string topic = unique_name("dlq-src");
  const std::string small = unique_name("dlq-small");
  // A dead-letter topic that refuses anything over 1,000 bytes.
  kafka_sh({"topics", "--create", "--topic", topic, "--partitions", "1"});
  kafka_sh({"topics", "--create", "--topic", small, "--partitions", "1", "--config", "max.message.bytes=1000"});
  const std::string too_big = "{\"match\":\"" + std::string(5000, 'x') + "\"}";
  const std::string good = "{\"match\":7,\"price\":1.5}";
  kcat_produce(test_brokers(), topic, {too_big, good});

  const std::string group = unique_name("g");
  auto consume = [&](const std::string& dead_letter_topic, const std::string& max_restarts) {
    return run_process({pricepipe_binary(), "--config", source_dir() + "/supervisor.conf",
                        "--kafka.brokers=" + test_brokers(), "--kafka.topic=" + topic, group_protocol_arg(), "--producer.enabled=false",
                        "--consumer.group_id=" + group, "--consumer.exit_after=1",
                        "--consumer.dead_letter_topic=" + dead_letter_topic,
                        "--supervisor.max_restarts=" + max_restarts, "--supervisor.backoff_initial_ms=100"},
                       180s);
  };
  auto r = consume(small, "1");
  INFO(r.err);
  CHECK(r.exit_code == 70);  // failed, restarted once, failed again: out of restarts
  CHECK(r.out.empty());      // the good event after it is not printed either: its batch did not complete
  CHECK_THAT(r.err, Catch::Contains("to the dead-letter topic " + small));
  CHECK_THAT(r.err, Catch::Contains("partition 0 offset 0"));
  CHECK(kcat_read_raw(small).empty());

  // The same group with a dead-letter topic that takes it: the bad message was never committed.
  const std::string roomy = unique_name("dlq-roomy");
  r = consume(roomy, "10");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "{\"match\":7,\"price\":1.50}\n");
  const auto letters = kcat_read_raw(roomy);
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].value == too_big);
  CHECK(header(letters[0].headers, "pricepipe.source.offset") == "0");
}

TEST_CASE("a stop while a dead letter waits for its acknowledgement stays within the bound and exits 0",
          "[integration]") {
  // The dead-letter producer shares the producer's librdkafka settings: a 60 s linger.ms keeps
  // the bad message's copy waiting in its queue. SIGTERM then must not wait for it beyond the
  // stop bound, nor fail: the batch is neither printed nor committed, and the next run reads
  // it again.
  const std::string topic = unique_name("dlq-wait");
  const std::string dead = unique_name("dlq-wait-dead");
  kafka_sh({"topics", "--create", "--topic", topic, "--partitions", "1"});
  const std::string bad = "not json";
  const std::string good = "{\"match\":7,\"price\":1.5}";
  kcat_produce(test_brokers(), topic, {bad, good});
  const std::string group = unique_name("g");
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{pricepipe_binary(), "--config", source_dir() + "/supervisor.conf",
                               "--kafka.brokers=" + test_brokers(), "--kafka.topic=" + topic, group_protocol_arg(),
                               "--producer.enabled=false", "--consumer.group_id=" + group,
                               "--consumer.dead_letter_topic=" + dead, "--supervisor.shutdown_timeout_s=4"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  Daemon p(args({"--librdkafka.producer.linger.ms=60000"}));
  REQUIRE(p.logged("skipped bad message at partition 0 offset 0", 60s));
  std::this_thread::sleep_for(1s);  // waiting on the dead letter now
  const auto sent = std::chrono::steady_clock::now();
  const auto r = p.stop(SIGTERM, 30s);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(took < 5.0);  // the 4 s bound, plus the time this test takes to notice the exit
  CHECK(r.out.empty());
  CHECK_THAT(r.err, Catch::Contains("not acknowledged by the dead-letter topic within the stop bound"));

  // The next run, without the linger: the bad message is read again and copied, the good one printed.
  const auto again = run_process(args({"--consumer.exit_after=1"}), 120s);
  INFO(again.err);
  CHECK(again.exit_code == 0);
  CHECK(again.out == "{\"match\":7,\"price\":1.50}\n");
  const auto letters = kcat_read_raw(dead);
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].value == bad);
}
