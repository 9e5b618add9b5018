#include "catch_compat.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "pricepipe/config/command_line.hpp"
#include "pricepipe/config/config.hpp"
#include "pricepipe/config/config_ini.hpp"
#include "pricepipe/config/config_render.hpp"
#include "test_support.hpp"

using namespace pricepipe;
using pricepipe::test::temp_file;

namespace {

RawSettings file_with(const std::string& key, const std::string& value) {
  return RawSettings{{key, RawSetting{value, "test.conf:7", false}}};
}

std::string error_of(const RawSettings& file, const RawSettings& overrides = {}) {
  try {
    build_config(file, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

int exit_code_of(const RawSettings& file, const RawSettings& overrides = {}) {
  try {
    build_config(file, overrides);
  } catch (const ConfigError& e) {
    return e.exit_code();
  }
  return 0;
}

CommandLine parse(std::vector<std::string> args) {
  args.insert(args.begin(), "pricepipe");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("defaults match DESIGN.md", "[unit][config]") {
  const Config c = build_config({}, {});
  CHECK(c.kafka.brokers == "localhost:9092");
  CHECK(c.kafka.topic == "prices-topic");
  CHECK(c.kafka.partitions == 3);
  CHECK(c.kafka.replication_factor == 1);
  CHECK(c.producer.enabled);
  CHECK(c.producer.rate == 10);
  CHECK(c.producer.count == 0);
  CHECK(c.producer.generator.match_min == 100);
  CHECK(c.producer.generator.match_max == 999);
  CHECK(c.producer.generator.price_min == Approx(1.01));
  CHECK(c.producer.generator.price_max == Approx(1000.0));
  CHECK(c.producer.generator.price_decimals == 2);
  CHECK(c.producer.generator.seed == 0);
  CHECK(c.consumer.enabled);
  CHECK(c.consumer.group_id == "pricepipe");
  CHECK(c.consumer.output == ConsumerOutput::kJson);
  CHECK(c.consumer.group_protocol == GroupProtocol::kClassic);
  CHECK(c.consumer.exit_after == 0);
  CHECK(c.consumer.dead_letter_topic.empty());
  CHECK(c.supervisor.restart == RestartMode::kOnFailure);
  CHECK(c.supervisor.backoff_initial_ms == 500);
  CHECK(c.supervisor.backoff_max_ms == 30000);
  CHECK(c.supervisor.max_restarts == 10);
  CHECK(c.supervisor.restart_window_s == 60);
  CHECK(c.supervisor.shutdown_timeout_s == 10);
  CHECK(c.supervisor.stall_timeout_s == 30);
  CHECK(c.supervisor.http_port == 0);
  CHECK(c.log.level == "info");
  CHECK(c.log.format == LogFormat::kText);
  CHECK(c.log.stats_interval_s == 60);
}

TEST_CASE("the shipped supervisor.conf lists every key with its default and a comment", "[unit][config]") {
  const std::string path = std::string(PRICEPIPE_SOURCE_DIR) + "/supervisor.conf";
  const RawSettings file = read_ini_file(path);
  for (const auto& info : known_keys()) {
    INFO(info.key);
    const auto it = file.find(info.key);
    REQUIRE(it != file.end());
    CHECK(it->second.value == info.default_value);
  }
  CHECK(file.size() == known_keys().size());  // nothing extra, no librdkafka.* set
  // Each key line is preceded by a comment line.
  const std::string text = read_file(path);
  std::istringstream lines(text);
  std::string line;
  std::string previous;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] != '#' && line[0] != '[') {
      INFO(line);
      CHECK(previous.rfind("#", 0) == 0);
    }
    previous = line;
  }
  // And it loads to exactly the built-in defaults.
  CHECK(changed_keys(build_config(file, {}), build_config({}, {})).empty());
}

TEST_CASE("every bad value is an error naming key and origin and value and what is allowed", "[unit][config]") {
  struct Case {
    const char* key;
    const char* value;
    const char* allowed;
  };
  const std::vector<Case> cases = {
      {"kafka.brokers", "", "host:port"},
      {"kafka.topic", "bad topic!", "a-z A-Z 0-9"},
      {"kafka.topic", "", "1 to 249"},
      {"kafka.partitions", "0", "from 1 to"},
      {"kafka.partitions", "three", "an integer"},
      {"kafka.replication_factor", "-1", "from 1 to"},
      {"producer.enabled", "maybe", "true or false"},
      {"producer.rate", "abc", "events per second"},
      {"producer.rate", "-5", "from 0"},
      {"producer.rate", "nan", "events per second"},
      {"producer.rate", "1e3", "events per second"},
      {"producer.rate", "0.0000000001", "from 0.0001"},
      {"producer.count", "-1", "from 0"},
      {"producer.count", "1.5", "an integer"},
      {"producer.match_min", "x", "an integer"},
      {"producer.match_max", "-3", "an integer from 0"},
      {"producer.price_min", "cheap", "a decimal number"},
      {"producer.price_max", "inf", "a decimal number"},
      {"producer.price_decimals", "7", "from 0 to 6"},
      {"producer.seed", "-1", "an integer from 0"},
      {"consumer.enabled", "2", "true or false"},
      {"consumer.group_id", "", "non-empty"},
      {"consumer.output", "xml", "one of json envelope"},
      {"consumer.instance_id", "host a", "a-z A-Z 0-9"},
      {"consumer.group_protocol", "kip848", "one of classic consumer"},
      {"kafka.connect_timeout_s", "-5", "from 0"},
      {"consumer.exit_after", "ten", "an integer"},
      {"consumer.dead_letter_topic", "a/b", "a-z A-Z"},
      {"consumer.prefetch_kbytes", "512", "from 1024 to 2097151"},
      {"consumer.prefetch_kbytes", "8M", "an integer"},
      {"supervisor.restart", "sometimes", "one of on-failure always never"},
      {"supervisor.backoff_initial_ms", "0", "from 1"},
      {"supervisor.backoff_max_ms", "99999999", "to 3600000"},
      {"supervisor.max_restarts", "-1", "from 0"},
      {"supervisor.restart_window_s", "0", "from 1"},
      {"supervisor.shutdown_timeout_s", "0", "from 1"},
      {"supervisor.stall_timeout_s", "x", "an integer"},
      {"supervisor.http_port", "70000", "to 65535"},
      {"supervisor.http_address", "localhost", "a numeric IPv4 or IPv6 address"},
      {"log.level", "loud", "one of trace debug info"},
      {"log.format", "xml", "one of text json"},
      {"log.stats_interval_s", "-1", "from 0"},
  };
  for (const auto& c : cases) {
    INFO(c.key << " = " << c.value);
    const std::string message = error_of(file_with(c.key, c.value));
    CHECK_THAT(message, Catch::Contains("test.conf:7"));
    CHECK_THAT(message, Catch::Contains(c.key));
    CHECK_THAT(message, Catch::Contains(std::string("'") + c.value + "'"));
    CHECK_THAT(message, Catch::Contains(c.allowed));
    CHECK(exit_code_of(file_with(c.key, c.value)) == exit_code::kConfig);
  }
  // Every known key has a bad-value case above.
  std::set<std::string> covered;
  for (const auto& c : cases) covered.insert(c.key);
  for (const auto& info : known_keys()) {
    INFO(info.key);
    CHECK(covered.count(info.key) == 1);
  }
}

TEST_CASE("a bad value on the command line is a usage error", "[unit][config]") {
  const RawSettings cli{{"producer.rate", RawSetting{"abc", "command line", true}}};
  CHECK(exit_code_of({}, cli) == exit_code::kUsage);
  CHECK_THAT(error_of({}, cli), Catch::Contains("command line") && Catch::Contains("producer.rate"));
}

TEST_CASE("unknown keys name the key and the place and the known keys", "[unit][config]") {
  const std::string message = error_of(file_with("producer.rat", "5"));
  CHECK_THAT(message, Catch::Contains("test.conf:7"));
  CHECK_THAT(message, Catch::Contains("'producer.rat'"));
  CHECK_THAT(message, Catch::Contains("producer.rate"));
  CHECK(exit_code_of(file_with("producer.rat", "5")) == exit_code::kConfig);
  CHECK_THAT(error_of(file_with("nosuch.key", "1")), Catch::Contains("sections are"));
}

TEST_CASE("cross-key checks", "[unit][config]") {
  auto two = [](const char* k1, const char* v1, const char* k2, const char* v2) {
    return RawSettings{{k1, RawSetting{v1, "test.conf:3", false}}, {k2, RawSetting{v2, "test.conf:4", false}}};
  };
  CHECK_THAT(error_of(two("producer.match_min", "500", "producer.match_max", "400")),
             Catch::Contains("producer.match_min") && Catch::Contains("producer.match_max") &&
                 Catch::Contains("test.conf:3"));
  CHECK_THAT(error_of(two("producer.price_min", "9", "producer.price_max", "8")),
             Catch::Contains("producer.price_min"));
  CHECK_THAT(error_of(two("producer.price_min", "1.001", "producer.price_max", "1.009")),
             Catch::Contains("producer.price_decimals"));
  // The same range is fine with enough decimals for a tick to fit.
  const RawSettings fine{{"producer.price_min", RawSetting{"1.001", "a:1", false}},
                         {"producer.price_max", RawSetting{"1.009", "a:2", false}},
                         {"producer.price_decimals", RawSetting{"3", "a:3", false}}};
  CHECK(error_of(fine).empty());
  CHECK_THAT(error_of(two("supervisor.backoff_initial_ms", "5000", "supervisor.backoff_max_ms", "100")),
             Catch::Contains("supervisor.backoff_initial_ms"));
  CHECK_THAT(error_of(two("producer.enabled", "false", "consumer.enabled", "false")),
             Catch::Contains("nothing to run"));
  CHECK_THAT(error_of(two("kafka.topic", "t", "consumer.dead_letter_topic", "t")),
             Catch::Contains("must differ"));
  CHECK_THAT(error_of(two("kafka.brokers", "embedded", "kafka.replication_factor", "4")),
             Catch::Contains("embedded"));
}

TEST_CASE("librdkafka keys pass through and are checked by librdkafka", "[unit][config]") {
  const Config c = build_config(RawSettings{{"librdkafka.linger.ms", RawSetting{"20", "f:1", false}},
                                            {"librdkafka.producer.batch.size", RawSetting{"100000", "f:2", false}},
                                            {"librdkafka.consumer.fetch.wait.max.ms", RawSetting{"50", "f:3", false}}},
                                {});
  CHECK(c.librdkafka.common.at("linger.ms") == "20");
  CHECK(c.librdkafka.producer.at("batch.size") == "100000");
  CHECK(c.librdkafka.consumer.at("fetch.wait.max.ms") == "50");
  CHECK(c.values.at("librdkafka.linger.ms") == "20");

  CHECK_THAT(error_of(file_with("librdkafka.no.such.property", "1")),
             Catch::Contains("test.conf:7") && Catch::Contains("librdkafka.no.such.property") &&
                 Catch::Contains("No such configuration property"));
  CHECK_THAT(error_of(file_with("librdkafka.linger.ms", "soon")), Catch::Contains("librdkafka.linger.ms"));
  CHECK_THAT(error_of(file_with("librdkafka.group.id", "g")), Catch::Contains("consumer.group_id"));
  CHECK_THAT(error_of(file_with("librdkafka.consumer.group.instance.id", "h")),
             Catch::Contains("consumer.instance_id"));
  CHECK_THAT(error_of(file_with("librdkafka.bootstrap.servers", "h:1")), Catch::Contains("kafka.brokers"));
  CHECK_THAT(error_of(file_with("librdkafka.", "x")), Catch::Contains("unknown key"));
  // A secret value is never echoed in an error.
  const std::string secret_error = error_of(file_with("librdkafka.sasl.password", std::string(100000, 'x')));
  CHECK(secret_error.find("xxxx") == std::string::npos);
}

TEST_CASE("consumer.group_protocol refuses the librdkafka settings that protocol does not allow", "[unit][config]") {
  const auto with = [](const std::string& protocol, const std::string& key, const std::string& value) {
    return RawSettings{{"consumer.group_protocol", RawSetting{protocol, "test.conf:3", false}},
                       {key, RawSetting{value, "test.conf:7", false}}};
  };
  const std::vector<std::string> broker_owned = {"session.timeout.ms", "heartbeat.interval.ms",
                                                 "partition.assignment.strategy", "group.protocol.type"};
  for (const std::string& name : broker_owned) {
    const std::string value = name == "partition.assignment.strategy" ? "range"
                              : name == "group.protocol.type"         ? "consumer"
                                                                      : "10000";
    for (const std::string& key : {"librdkafka." + name, "librdkafka.consumer." + name}) {
      INFO(key);
      const std::string message = error_of(with("consumer", key, value));
      CHECK_THAT(message, Catch::Contains("test.conf:7") && Catch::Contains(key) &&
                              Catch::Contains("consumer.group_protocol = consumer") &&
                              Catch::Contains("the broker owns"));
      CHECK(exit_code_of(with("consumer", key, value)) == exit_code::kConfig);
      CHECK(error_of(with("classic", key, value)).empty());  // the classic protocol's own settings
    }
    // The producer has no group: its settings are not the consumer's business.
    CHECK(error_of(with("consumer", "librdkafka.producer." + name, value)).empty());
  }
  // The server-side assignor is KIP-848's alone.
  CHECK(error_of(with("consumer", "librdkafka.consumer.group.remote.assignor", "uniform")).empty());
  CHECK_THAT(error_of(with("classic", "librdkafka.consumer.group.remote.assignor", "uniform")),
             Catch::Contains("test.conf:7") && Catch::Contains("applies only to consumer.group_protocol = consumer"));
  // On the command line too, whichever of the two keys comes from there.
  CHECK(exit_code_of(file_with("librdkafka.session.timeout.ms", "10000"),
                     RawSettings{{"consumer.group_protocol", RawSetting{"consumer", "command line", true}}}) ==
        exit_code::kConfig);
  CHECK_THAT(error_of(file_with("librdkafka.consumer.group.protocol", "consumer")),
             Catch::Contains("consumer.group_protocol"));
}

TEST_CASE("INI syntax errors name file and line", "[unit][config]") {
  auto ini_error = [](const std::string& text) {
    try {
      parse_ini(text, "f.conf");
    } catch (const ConfigError& e) {
      CHECK(e.exit_code() == exit_code::kConfig);
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK_THAT(ini_error("[kafka]\ntopic = a\n[producer\n"), Catch::Contains("f.conf:3") && Catch::Contains("section"));
  CHECK_THAT(ini_error("topic = a\n"), Catch::Contains("f.conf:1") && Catch::Contains("outside any [section]"));
  CHECK_THAT(ini_error("[kafka]\njust words\n"), Catch::Contains("f.conf:2") && Catch::Contains("key = value"));
  CHECK_THAT(ini_error("[kafka]\ntopic = a\ntopic = b\n"),
             Catch::Contains("f.conf:3") && Catch::Contains("set twice") && Catch::Contains("f.conf:2"));
  CHECK_THAT(ini_error("[kafka]\n = b\n"), Catch::Contains("f.conf:2"));

  const RawSettings ok = parse_ini("\xEF\xBB\xBF# comment\n; other\n\n[kafka]\n  topic =  \"quoted\"  \r\n[librdkafka]\nsasl.mechanism=PLAIN\n", "f.conf");
  CHECK(ok.at("kafka.topic").value == "quoted");
  CHECK(ok.at("kafka.topic").origin == "f.conf:5");
  CHECK(ok.at("librdkafka.sasl.mechanism").value == "PLAIN");
}

TEST_CASE("a missing config file is a config error", "[unit][config]") {
  CommandLine cl;
  cl.config_path = "/nonexistent/pricepipe.conf";
  ConfigLoader loader(cl);
  try {
    loader.load();
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.exit_code() == exit_code::kConfig);
    CHECK_THAT(e.what(), Catch::Contains("/nonexistent/pricepipe.conf"));
  }
}

TEST_CASE("the command line wins over the file and reload keeps it", "[unit][config]") {
  const std::string path = temp_file("pricepipe-config-test", "[producer]\nrate = 5\ncount = 7\n");
  const CommandLine cl = parse({"--config", path, "--producer.rate=100", "--librdkafka.linger.ms=3"});
  ConfigLoader loader(cl);
  Config c = loader.load();
  CHECK(c.producer.rate == 100);
  CHECK(c.producer.count == 7);
  CHECK(c.librdkafka.common.at("linger.ms") == "3");
  CHECK(c.file == path);
  {
    std::ofstream f(path);
    f << "[producer]\nrate = 6\ncount = 8\n";
  }
  const Config reloaded = loader.load();
  CHECK(reloaded.producer.rate == 100);
  CHECK(reloaded.producer.count == 8);
  CHECK(changed_keys(c, reloaded) == std::vector<std::string>{"producer.count"});
  std::remove(path.c_str());
}

TEST_CASE("command-line errors exit 64", "[unit][config]") {
  auto usage_error = [](std::vector<std::string> args) {
    try {
      parse(std::move(args));
    } catch (const ConfigError& e) {
      CHECK(e.exit_code() == exit_code::kUsage);
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK_THAT(usage_error({"--no-such-option"}), Catch::Contains("--no-such-option"));
  CHECK_THAT(usage_error({"positional"}), Catch::Contains("positional"));
  CHECK_THAT(usage_error({"--librdkafka.linger.ms"}), Catch::Contains("needs a value"));
  CHECK_THAT(usage_error({"--producer.rate=1", "--producer.rate=2"}), Catch::Contains("producer.rate"));
  CHECK_THAT(usage_error({"--producer.rate"}), Catch::Contains("producer.rate"));
  CHECK_THAT(usage_error({"--librdkafka.a=1", "--librdkafka.a=2"}), Catch::Contains("twice"));
  CHECK_THAT(usage_error({"--produce.rate=1"}), Catch::Contains("produce.rate"));  // no guessing

  const CommandLine ok = parse({"--check-config", "--producer.rate", "7", "--kafka.topic=t"});
  CHECK(ok.check_config);
  CHECK(ok.overrides.at("producer.rate").value == "7");
  CHECK(ok.overrides.at("producer.rate").from_command_line);
  CHECK(ok.overrides.at("kafka.topic").value == "t");
  CHECK_THAT(usage_text(), Catch::Contains("--producer.rate") && Catch::Contains("--librdkafka.NAME=VALUE"));

  // --health-check asks /readyz unless =live says /livez.
  CHECK(ok.health_check.empty());
  CHECK(parse({"--health-check"}).health_check == "ready");
  CHECK(parse({"--health-check=ready"}).health_check == "ready");
  CHECK(parse({"--health-check=live"}).health_check == "live");
  CHECK_THAT(usage_error({"--health-check=alive"}), Catch::Contains("live or ready"));
}

TEST_CASE("render_config masks secrets and lists every key", "[unit][config]") {
  const Config c = build_config(RawSettings{{"librdkafka.sasl.password", RawSetting{"hunter2", "f:1", false}},
                                            {"librdkafka.ssl.key.password", RawSetting{"k", "f:2", false}},
                                            {"librdkafka.sasl.username", RawSetting{"alice", "f:3", false}}},
                                {});
  const std::string text = render_config(c);
  CHECK(text.find("hunter2") == std::string::npos);
  CHECK_THAT(text, Catch::Contains("sasl.password = ***"));
  CHECK_THAT(text, Catch::Contains("sasl.username = alice"));
  for (const auto& info : known_keys()) {
    CHECK_THAT(text, Catch::Contains(info.key.substr(info.key.find('.') + 1) + " = "));
  }
  CHECK_THAT(render_config(c, true), Catch::Contains("hunter2"));
  CHECK(is_secret_key("librdkafka.sasl.password"));
  CHECK(is_secret_key("librdkafka.SASL.OAUTHBEARER.CLIENT.SECRET"));
  CHECK_FALSE(is_secret_key("producer.rate"));
  // Passwords and key material are masked, the paths to key files are not.
  for (const char* secret : {"librdkafka.ssl.key.password", "librdkafka.ssl.key.pem", "librdkafka.ssl_key",
                             "librdkafka.ssl.keystore.password", "librdkafka.sasl.oauthbearer.config",
                             "librdkafka.consumer.sasl.password"}) {
    CHECK(is_secret_key(secret));
  }
  for (const char* plain : {"librdkafka.ssl.key.location", "librdkafka.ssl.keystore.location",
                            "librdkafka.ssl.certificate.location", "librdkafka.ssl.ca.location",
                            "librdkafka.sasl.kerberos.keytab", "librdkafka.sasl.username"}) {
    CHECK_FALSE(is_secret_key(plain));
  }
  // The rendered text is itself a valid config file with the same values.
  const Config again = build_config(parse_ini(render_config(c, true), "rendered"), {});
  CHECK(changed_keys(c, again).empty());
}


TEST_CASE("a config file readable by others that holds a secret gets a warning", "[unit][config]") {
  const std::string path = temp_file("pricepipe-secrets",
                                     "[kafka]\nbrokers = b:9092\n[librdkafka]\nsasl.username = alice\n"
                                     "sasl.password = hunter2\n");
  const RawSettings file = read_ini_file(path);
  REQUIRE(chmod(path.c_str(), 0644) == 0);
  const std::string warning = exposed_secrets_warning(path, file);
  CHECK_THAT(warning, Catch::Contains(std::string("config file ") + path + " is readable by other users"));
  CHECK_THAT(warning, Catch::Contains("(librdkafka.sasl.password)"));
  CHECK_THAT(warning, Catch::Contains(std::string("chmod o-r ") + path));
  CHECK(warning.find("hunter2") == std::string::npos);
  // The loader reports it with the config.
  CommandLine command_line;
  command_line.config_path = path;
  const Config loaded = ConfigLoader(command_line).load();
  REQUIRE(loaded.warnings.size() == 1);
  CHECK(loaded.warnings[0] == warning);
  // Not readable by others, no secret, or an empty secret: no warning.
  CHECK(chmod(path.c_str(), 0640) == 0);
  CHECK(exposed_secrets_warning(path, file).empty());
  CHECK(ConfigLoader(command_line).load().warnings.empty());
  CHECK(chmod(path.c_str(), 0604) == 0);
  CHECK_FALSE(exposed_secrets_warning(path, file).empty());
  CHECK(exposed_secrets_warning(path, file_with("librdkafka.sasl.username", "alice")).empty());
  // A key file's path is not a secret: no warning for it (it used to match "key").
  CHECK(exposed_secrets_warning(path, file_with("librdkafka.ssl.key.location", "/etc/pricepipe/client.key")).empty());
  CHECK(exposed_secrets_warning(path, file_with("librdkafka.sasl.password", "")).empty());
  // A secret taken from the environment is not in the file; a default written there is.
  CHECK(exposed_secrets_warning(path, file_with("librdkafka.sasl.password", "${SASL_PASSWORD}")).empty());
  CHECK_FALSE(exposed_secrets_warning(path, file_with("librdkafka.sasl.password", "${SASL_PASSWORD:-hunter2}")).empty());
  CHECK(exposed_secrets_warning("", file).empty());
  CHECK(exposed_secrets_warning("/nonexistent/pricepipe.conf", file).empty());
  std::remove(path.c_str());
}

TEST_CASE("values take ${VAR} and ${VAR:-default} from the environment, $$ is a literal $", "[unit][config]") {
  ::setenv("PRICEPIPE_TEST_GROUP", "prices-eu", 1);
  ::setenv("PRICEPIPE_TEST_EMPTY", "", 1);
  ::setenv("PRICEPIPE_TEST_SECRET", "s3cret", 1);
  ::unsetenv("PRICEPIPE_TEST_UNSET");
  RawSettings file = parse_ini(
      "[consumer]\ngroup_id = ${PRICEPIPE_TEST_GROUP}\ninstance_id = pod-${PRICEPIPE_TEST_UNSET:-0}\n"
      "[kafka]\ntopic = ${PRICEPIPE_TEST_EMPTY:-prices}\n"
      "[librdkafka]\nsasl.password = ${PRICEPIPE_TEST_SECRET}\nsasl.username = a$$b$c\n",
      "vars.conf");
  const RawSettings cli{{"consumer.dead_letter_topic", {"dlq-${PRICEPIPE_TEST_GROUP}", "command line", true}}};
  const Config c = build_config(file, cli);
  CHECK(c.consumer.group_id == "prices-eu");
  CHECK(c.consumer.instance_id == "pod-0");  // unset: the default
  CHECK(c.kafka.topic == "prices");          // set but empty: the default too, as in sh
  CHECK(c.librdkafka.common.at("sasl.password") == "s3cret");
  CHECK(c.librdkafka.common.at("sasl.username") == "a$b$c");  // $$ is $, a lone $ stays
  CHECK(c.consumer.dead_letter_topic == "dlq-prices-eu");     // the command line too
  // The expanded secret stays masked.
  const std::string rendered = render_config(c);
  CHECK_THAT(rendered, Catch::Contains("sasl.password = ***"));
  CHECK(rendered.find("s3cret") == std::string::npos);
  // --check-config's output reads back as the same values: a $ is written as $$.
  CHECK_THAT(rendered, Catch::Contains("sasl.username = a$$b$$c"));
  CHECK(changed_keys(c, build_config(parse_ini(render_config(c, true), "rendered"), {})).empty());
}

TEST_CASE("an unset variable without a default is a config error naming it, the file and the line",
          "[unit][config]") {
  ::unsetenv("PRICEPIPE_TEST_UNSET");
  const RawSettings file = parse_ini("[kafka]\nbrokers = localhost:9092\ntopic = ${PRICEPIPE_TEST_UNSET}\n", "vars.conf");
  const std::string message = error_of(file);
  CHECK_THAT(message, Catch::Contains("vars.conf:3") && Catch::Contains("kafka.topic") &&
                          Catch::Contains("PRICEPIPE_TEST_UNSET is not set"));
  CHECK(exit_code_of(file) == exit_code::kConfig);
  const RawSettings cli{{"kafka.topic", {"${PRICEPIPE_TEST_UNSET}", "command line", true}}};
  CHECK(exit_code_of({}, cli) == exit_code::kUsage);
  CHECK_THAT(error_of(file_with("kafka.topic", "${PRICEPIPE TEST}")), Catch::Contains("not a variable reference"));
  CHECK_THAT(error_of(file_with("kafka.topic", "${PRICEPIPE_TEST_UNSET")), Catch::Contains("without a closing"));
  // A secret's value is never echoed in the error, only the variable's name.
  ::setenv("PRICEPIPE_TEST_SECRET", "s3cret", 1);
  CHECK(error_of(file_with("librdkafka.sasl.password", "${PRICEPIPE_TEST_SECRET}${NOPE_UNSET_X}")).find("s3cret") ==
        std::string::npos);
}

TEST_CASE("a reload reads the environment again", "[unit][config]") {
  const std::string path = temp_file("pricepipe-vars", "[consumer]\ngroup_id = ${PRICEPIPE_TEST_RELOAD}\n");
  CommandLine command_line;
  command_line.config_path = path;
  const ConfigLoader loader(command_line);
  ::setenv("PRICEPIPE_TEST_RELOAD", "one", 1);
  CHECK(loader.load().consumer.group_id == "one");
  ::setenv("PRICEPIPE_TEST_RELOAD", "two", 1);
  CHECK(loader.load().consumer.group_id == "two");
  ::unsetenv("PRICEPIPE_TEST_RELOAD");
  CHECK_THROWS_AS(loader.load(), ConfigError);
  std::remove(path.c_str());
}

TEST_CASE("the key table says which worker a changed key restarts", "[unit][config]") {
  // Kafka client settings restart the worker(s) whose client they configure ...
  CHECK(effect_of("kafka.brokers") == Effect::kRestartsBoth);
  CHECK(effect_of("kafka.topic") == Effect::kRestartsBoth);
  CHECK(effect_of("producer.enabled") == Effect::kRestartsProducer);
  CHECK(effect_of("consumer.group_id") == Effect::kRestartsConsumer);
  CHECK(effect_of("consumer.instance_id") == Effect::kRestartsConsumer);
  CHECK(effect_of("consumer.group_protocol") == Effect::kRestartsConsumer);
  CHECK(effect_of("consumer.prefetch_kbytes") == Effect::kRestartsConsumer);
  CHECK(effect_of("producer.price_decimals") == Effect::kRestartsConsumer);  // the consumer normalises with it
  CHECK(effect_of("librdkafka.linger.ms") == Effect::kRestartsBoth);
  CHECK(effect_of("librdkafka.producer.linger.ms") == Effect::kRestartsProducer);
  CHECK(effect_of("librdkafka.consumer.fetch.wait.max.ms") == Effect::kRestartsConsumer);
  // ... the rest applies live.
  for (const char* live : {"kafka.connect_timeout_s", "producer.rate", "producer.count", "producer.seed",
                           "supervisor.http_port", "supervisor.shutdown_timeout_s", "log.level", "log.stats_interval_s"}) {
    INFO(live);
    CHECK(effect_of(live) == Effect::kLive);
  }
  CHECK(restarts_producer(Effect::kRestartsBoth));
  CHECK(restarts_consumer(Effect::kRestartsBoth));
  CHECK_FALSE(restarts_producer(Effect::kRestartsConsumer));
  CHECK_FALSE(restarts_consumer(Effect::kLive));
  // Every key is in the table with one.
  for (const auto& info : known_keys()) CHECK(effect_of(info.key) == info.effect);
}
