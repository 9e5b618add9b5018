// pricepipe through a broker that only speaks SASL_SSL (TLS with a CA made by
// scripts/kafka.sh, a SCRAM-SHA-512 user), configured with plain `librdkafka.*` settings; kcat
// with the same settings judges what is in the topic. Secrets never reach the log, and a
// config file that holds one and is readable by others gets a warning.
#include "catch_compat.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "kafka_test_support.hpp"
#include "process.hpp"
#include "scenario.hpp"

using namespace pricepipe::test;
using namespace std::chrono_literals;

namespace {

// `--librdkafka.NAME=VALUE` for each client setting, with sasl.password replaced by `password`.
std::vector<std::string> librdkafka_args(std::map<std::string, std::string> settings, const std::string& password) {
  settings["sasl.password"] = password;
  std::vector<std::string> args;
  for (const auto& [name, value] : settings) args.push_back("--librdkafka." + name + "=" + value);
  return args;
}

// Everything in `topic`, read with kcat through the secure listener (the same settings as -X).
std::vector<Record> kcat_read_secure(const std::string& topic, const std::map<std::string, std::string>& settings) {
  std::vector<std::string> argv{"kcat", "-C", "-b", test_secure_brokers(), "-t", topic, "-e", "-o", "beginning",
                                "-q", "-f", "%p\t%o\t%T\t%s\n"};
  for (const auto& [name, value] : settings) {
    argv.push_back("-X");
    argv.push_back(name + "=" + value);
  }
  const auto r = run_process(argv, 120s);
  INFO("kcat stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  static const std::regex line_format("([0-9]+)\t([0-9]+)\t(-?[0-9]+)\t(.*)");
  std::vector<Record> records;
  for (const auto& line : split_lines(r.out)) {
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, line_format));
    records.push_back({std::stoi(m[1]), std::stoll(m[2]), std::stoll(m[3]), m[4]});
  }
  return records;
}

// A config file holding the secure client settings in its [librdkafka] section.
std::string write_secure_config(const std::map<std::string, std::string>& settings, mode_t mode) {
  const std::string path = "/tmp/" + unique_name("pp-secure") + ".conf";
  {
    std::ofstream f(path);
    f << "[librdkafka]\n";
    for (const auto& [name, value] : settings) f << name << " = " << value << "\n";
  }
  REQUIRE(chmod(path.c_str(), mode) == 0);
  return path;
}

bool mentions(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

}  // namespace

TEST_CASE("events go through a SASL_SSL listener with SCRAM-SHA-512 and kcat sees what was printed",
          "[integration]") {
  const auto settings = secure_client_settings();
  const std::string topic = unique_name("secure");
  constexpr int kEvents = 500;
  auto extra = librdkafka_args(settings, settings.at("sasl.password"));
  for (const char* option : {"--producer.rate=0", "--producer.count=500", "--consumer.exit_after=500"}) {
    extra.push_back(option);
  }
  const auto r = run_to_exit(pipeline_args(test_secure_brokers(), topic, unique_name("g"), extra), 180s);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto c = compare_with_topic(r.records(), kcat_read_secure(topic, settings));
  INFO(c.describe());
  CHECK(c.printed_count == kEvents);
  // What was printed equals what is in the topic, record for record.
  CHECK(c.duplicates.empty());
  CHECK(c.missing.empty());
  CHECK(c.extra.empty());
  CHECK_FALSE(mentions(r.err, settings.at("sasl.password")));
}

TEST_CASE("a wrong SASL password is logged clearly and retried until SIGTERM stops the daemon",
          "[integration]") {
  const auto settings = secure_client_settings();
  const std::string wrong = "wrong-" + unique_name("pw");
  Daemon p(pipeline_args(test_secure_brokers(), unique_name("secure-badpw"), unique_name("g"),
                         librdkafka_args(settings, wrong)));
  // librdkafka's own words: "SASL authentication error: Authentication failed during
  // authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512".
  static const std::regex auth_error("SASL authentication error: .*invalid credentials");
  CHECK(p.read_until([](const std::string&, const std::string& err) { return std::regex_search(err, auth_error); },
                     60s));
  // Still trying after several seconds: the start-up wait for the broker keeps going.
  CHECK(p.logged("waiting for Kafka at", 60s));
  std::this_thread::sleep_for(3s);
  const auto r = p.stop(SIGTERM, 60s);
  INFO(r.err);
  CHECK_THAT(r.err, Catch::Contains("SIGTERM received: stopping gracefully"));  // it was alive
  CHECK_FALSE(r.timed_out);
  CHECK(r.term_signal == 0);
  CHECK(r.exit_code == 0);  // DESIGN.md: SIGTERM stops gracefully with exit 0
  CHECK(r.out.empty());
  CHECK_FALSE(mentions(r.err, wrong));
  CHECK_FALSE(mentions(r.err, settings.at("sasl.password")));
}

TEST_CASE("secrets in a config file are masked and a file readable by others gets a warning",
          "[integration]") {
  const auto settings = secure_client_settings();
  const std::string password = settings.at("sasl.password");
  const std::string path = write_secure_config(settings, 0600);
  const std::string warning = "config file " + path + " is readable by other users and holds secrets "
                              "(librdkafka.sasl.password); chmod o-r " + path;

  // --check-config shows the secret as *** and, for a 0600 file, warns about nothing.
  auto check = run_process({pricepipe_binary(), "--config", path, "--check-config"}, 30s);
  INFO(check.err);
  CHECK(check.exit_code == 0);
  CHECK_THAT(check.out, Catch::Contains("sasl.password = ***"));
  CHECK_THAT(check.out, Catch::Contains("sasl.username = " + settings.at("sasl.username")));
  CHECK_FALSE(mentions(check.out + check.err, password));
  CHECK_FALSE(mentions(check.err, "readable by other users"));

  REQUIRE(chmod(path.c_str(), 0644) == 0);
  check = run_process({pricepipe_binary(), "--config", path, "--check-config"}, 30s);
  CHECK(check.exit_code == 0);
  CHECK_THAT(check.err, Catch::Contains(warning));
  CHECK_FALSE(mentions(check.out + check.err, password));

  // The daemon runs on the file's settings; it warns at start (0644), not on a reload once the
  // file is private again (0600), and again on a reload once others can read it.
  const std::string topic = unique_name("secure-file");
  std::vector<std::string> args = pipeline_args(test_secure_brokers(), topic, unique_name("g"), {"--producer.rate=100"});
  args[2] = path;
  Daemon p(args);
  REQUIRE(p.printed(20, 120s));
  CHECK_THAT(p.err(), Catch::Contains(warning));
  REQUIRE(chmod(path.c_str(), 0600) == 0);
  p.signal(SIGHUP);
  REQUIRE(p.logged("reload: ", 30s));
  REQUIRE(chmod(path.c_str(), 0644) == 0);
  p.signal(SIGHUP);
  REQUIRE(p.logged("reload: " + warning, 30s));
  const auto r = p.stop(SIGTERM, 60s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  // One warning at start, none on the first reload (0600), one on the second (0644).
  std::size_t warnings = 0;
  for (std::size_t at = r.err.find(warning); at != std::string::npos; at = r.err.find(warning, at + 1)) ++warnings;
  CHECK(warnings == 2);
  CHECK_FALSE(mentions(r.err, password));
  const auto c = compare_with_topic(r.records(), kcat_read_secure(topic, settings));
  INFO(c.describe());
  CHECK(c.printed_count >= 20);
  // What was printed is in the topic, each once (the producer may have sent more before it stopped).
  CHECK(c.duplicates.empty());
  CHECK(c.extra.empty());
  std::remove(path.c_str());
}
