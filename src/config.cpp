#include "pricepipe/config.hpp"

#include "pricepipe/price_ticks.hpp"
#include "pricepipe/variables.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <string_view>
#include <sys/stat.h>

namespace pricepipe {
namespace {

namespace po = boost::program_options;

constexpr const char* kLibrdkafkaPrefix = "librdkafka.";

// Raised by a value parser; the caller adds key and origin.
struct BadValue {
  std::string allowed;
};

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

// parse_ini trims a value and drops one pair of surrounding double quotes; render_config quotes
// the values that would otherwise change, so its output loads back to the same values.
// A value as it must be written in a config file to read back as itself: `$` doubled (values
// are expanded when read), quoted when it has outer blanks or quotes.
std::string ini_value(const std::string& v) {
  std::string escaped;
  for (const char c : v) {
    escaped += c;
    if (c == '$') escaped += '$';
  }
  const bool quoted = v.size() >= 2 && v.front() == '"' && v.back() == '"';
  return quoted || trim(v) != v ? '"' + escaped + '"' : escaped;
}

bool parse_bool(const std::string& v) {
  std::string lower = v;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return false;
  throw BadValue{"true or false"};
}

std::int64_t parse_int(const std::string& v, std::int64_t min, std::int64_t max) {
  const std::string allowed = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (v.empty() || v.find_first_not_of("+-0123456789") != std::string::npos) throw BadValue{allowed};
  errno = 0;
  char* end = nullptr;
  const long long parsed = std::strtoll(v.c_str(), &end, 10);
  if (errno != 0 || end != v.c_str() + v.size() || parsed < min || parsed > max) {
    throw BadValue{allowed};
  }
  return parsed;
}

std::uint64_t parse_uint(const std::string& v) {
  const std::string allowed = "an integer from 0 to 18446744073709551615";
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) throw BadValue{allowed};
  errno = 0;
  char* end = nullptr;
  const unsigned long long parsed = std::strtoull(v.c_str(), &end, 10);
  if (errno != 0 || end != v.c_str() + v.size()) throw BadValue{allowed};
  return parsed;
}

double parse_double(const std::string& v, double min, double max, const std::string& allowed) {
  // Plain decimal notation only: no hex floats, no inf/nan, no exponent surprises.
  if (v.empty() || v.find_first_not_of("+-.0123456789") != std::string::npos) throw BadValue{allowed};
  errno = 0;
  char* end = nullptr;
  const double parsed = std::strtod(v.c_str(), &end);
  if (errno != 0 || end != v.c_str() + v.size() || !std::isfinite(parsed) || parsed < min ||
      parsed > max) {
    throw BadValue{allowed};
  }
  return parsed;
}

std::string parse_choice(const std::string& v, const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), v) != choices.end()) return v;
  std::string allowed = "one of";
  for (const auto& c : choices) allowed += " " + c;
  throw BadValue{allowed};
}

bool valid_topic_name(const std::string& t) {
  // Kafka's own rule: 1..249 characters of [a-zA-Z0-9._-], and not "." or "..".
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

using Apply = std::function<void(Config&, const std::string&)>;

struct KeySpec {
  KeyInfo info;
  Apply apply;
};

const std::vector<KeySpec>& key_specs() {
  static const std::vector<KeySpec> specs = [] {
    const std::vector<std::string> log_levels = {"trace", "debug", "info",    "warn",
                                                 "error", "critical", "off"};
    std::vector<KeySpec> s = {
        {{"kafka.brokers", "localhost:9092",
          "bootstrap servers (host:port,...), or 'embedded' for the in-process test cluster", Effect::kRestartsBoth},
         [](Config& c, const std::string& v) {
           if (trim(v).empty()) throw BadValue{"a non-empty host:port list, or embedded"};
           c.kafka.brokers = trim(v);
         }},
        {{"kafka.topic", "prices-topic", "topic the events go through", Effect::kRestartsBoth},
         [](Config& c, const std::string& v) {
           if (!valid_topic_name(v)) throw BadValue{"1 to 249 characters of a-z A-Z 0-9 . _ -"};
           c.kafka.topic = v;
         }},
        {{"kafka.partitions", "3", "partitions of the topic when pricepipe creates it", Effect::kRestartsBoth},
         [](Config& c, const std::string& v) {
           c.kafka.partitions = static_cast<int>(parse_int(v, 1, 100000));
         }},
        {{"kafka.replication_factor", "1", "replication factor of the topic when pricepipe creates it", Effect::kRestartsBoth},
         [](Config& c, const std::string& v) {
           c.kafka.replication_factor = static_cast<int>(parse_int(v, 1, 32767));
         }},
        {{"kafka.connect_timeout_s", "0",
          "give up with exit 69 when no broker connection was ever made within this many seconds "
          "of the start; 0 = wait forever", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.kafka.connect_timeout_s = static_cast<int>(parse_int(v, 0, 86400));
         }},
        {{"producer.enabled", "true", "run the producer worker", Effect::kRestartsProducer},
         [](Config& c, const std::string& v) { c.producer.enabled = parse_bool(v); }},
        {{"producer.rate", "10", "events per second; 0 = as fast as possible", Effect::kLive},
         [](Config& c, const std::string& v) {
           // The rate limiter paces at most one event per 10,000 s (RateLimiter::kMaxInterval):
           // a lower rate is refused rather than silently raised.
           const std::string allowed =
               "0 (as fast as possible), or a number of events per second from 0.0001 to 1000000000";
           c.producer.rate = parse_double(v, 0, 1e9, allowed);
           if (c.producer.rate > 0 && c.producer.rate < 0.0001) throw BadValue{allowed};
         }},
        {{"producer.count", "0", "stop producing after this many events; 0 = forever", Effect::kLive},
         [](Config& c, const std::string& v) { c.producer.count = parse_uint(v); }},
        {{"producer.match_min", "100", "smallest match number", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.producer.generator.match_min = parse_int(v, 0, 999999999999LL);
         }},
        {{"producer.match_max", "999", "largest match number", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.producer.generator.match_max = parse_int(v, 0, 999999999999LL);
         }},
        {{"producer.price_min", "1.01", "smallest price", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.producer.generator.price_min = parse_double(v, 0, 1e9, "a decimal number from 0 to 1000000000");
         }},
        {{"producer.price_max", "1000.00", "largest price", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.producer.generator.price_max = parse_double(v, 0, 1e9, "a decimal number from 0 to 1000000000");
         }},
        {{"producer.price_decimals", "2", "digits after the decimal point of every price (0 to 6)", Effect::kRestartsConsumer},
         [](Config& c, const std::string& v) {
           // One key for the event format both sides share: the consumer prints prices with it.
           c.producer.generator.price_decimals = static_cast<int>(parse_int(v, 0, 6));
           c.consumer.price_decimals = c.producer.generator.price_decimals;
         }},
        {{"producer.seed", "0", "random seed of the generator; 0 = a different sequence each run", Effect::kLive},
         [](Config& c, const std::string& v) { c.producer.generator.seed = parse_uint(v); }},
        {{"consumer.enabled", "true", "run the consumer worker", Effect::kRestartsConsumer},
         [](Config& c, const std::string& v) { c.consumer.enabled = parse_bool(v); }},
        {{"consumer.group_id", "pricepipe", "consumer group of the consumer worker", Effect::kRestartsConsumer},
         [](Config& c, const std::string& v) {
           if (v.empty()) throw BadValue{"a non-empty group name"};
           c.consumer.group_id = v;
         }},
        {{"consumer.instance_id", "",
          "static group membership (group.instance.id): a restarted instance takes its partitions "
          "back at once; unique per instance; empty = dynamic membership", Effect::kRestartsConsumer},
         [](Config& c, const std::string& v) {
           if (v.size() > 249 || !std::all_of(v.begin(), v.end(), [](unsigned char ch) {
                 return std::isalnum(ch) || ch == '.' || ch == '_' || ch == '-';
               })) {
             throw BadValue{"empty, or up to 249 characters of a-z A-Z 0-9 . _ -"};
           }
           c.consumer.instance_id = v;
         }},
        {{"consumer.output", "json", "json (the event) or envelope (event plus topic, partition, offset, timestamp)", Effect::kRestartsConsumer},
         [](Config& c, const std::string& v) {
           c.consumer.output = parse_choice(v, {"json", "envelope"}) == "json"
                                   ? ConsumerOutput::kJson
                                   : ConsumerOutput::kEnvelope;
         }},
        {{"consumer.exit_after", "0", "exit cleanly after printing this many events; 0 = never", Effect::kRestartsConsumer},
         [](Config& c, const std::string& v) { c.consumer.exit_after = parse_uint(v); }},
        {{"consumer.dead_letter_topic", "", "topic that receives a copy of each bad message; empty = none", Effect::kRestartsConsumer},
         [](Config& c, const std::string& v) {
           if (!v.empty() && !valid_topic_name(v)) {
             throw BadValue{"empty, or 1 to 249 characters of a-z A-Z 0-9 . _ -"};
           }
           c.consumer.dead_letter_topic = v;
         }},
        {{"supervisor.restart", "on-failure",
          "restart a failed worker: on-failure (past max_restarts the daemon exits 70), always (never give "
          "up: past max_restarts, every backoff_max_ms) or never (the first failure exits 70)", Effect::kLive},
         [](Config& c, const std::string& v) {
           const auto mode = parse_choice(v, {"on-failure", "always", "never"});
           c.supervisor.restart = mode == "on-failure" ? RestartMode::kOnFailure
                                  : mode == "always"   ? RestartMode::kAlways
                                                       : RestartMode::kNever;
         }},
        {{"supervisor.backoff_initial_ms", "500", "first restart delay; doubles with jitter", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.supervisor.backoff_initial_ms = static_cast<int>(parse_int(v, 1, 3600000));
         }},
        {{"supervisor.backoff_max_ms", "30000", "longest restart delay", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.supervisor.backoff_max_ms = static_cast<int>(parse_int(v, 1, 3600000));
         }},
        {{"supervisor.max_restarts", "10",
          "restarts allowed within restart_window_s; past it the daemon exits 70 (restart=on-failure)", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.supervisor.max_restarts = static_cast<int>(parse_int(v, 0, 1000000));
         }},
        {{"supervisor.restart_window_s", "60", "window of the restart budget, in seconds", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.supervisor.restart_window_s = static_cast<int>(parse_int(v, 1, 86400));
         }},
        {{"supervisor.shutdown_timeout_s", "10", "bound on a graceful stop, in seconds", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.supervisor.shutdown_timeout_s = static_cast<int>(parse_int(v, 1, 3600));
         }},
        {{"supervisor.stall_timeout_s", "30", "a worker without a heartbeat for this long counts as failed", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.supervisor.stall_timeout_s = static_cast<int>(parse_int(v, 1, 3600));
         }},
        {{"supervisor.http_port", "0", "port of the HTTP endpoint (/livez, /readyz, /metrics); 0 = off", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.supervisor.http_port = static_cast<int>(parse_int(v, 0, 65535));
         }},
        {{"log.level", "info", "trace, debug, info, warn, error, critical or off", Effect::kLive},
         [log_levels](Config& c, const std::string& v) { c.log.level = parse_choice(v, log_levels); }},
        {{"log.format", "text", "text or json (one JSON object per line)", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.log.format = parse_choice(v, {"text", "json"}) == "text" ? LogFormat::kText : LogFormat::kJson;
         }},
        {{"log.stats_interval_s", "60", "seconds between counter summaries in the log; 0 = only at exit", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.log.stats_interval_s = static_cast<int>(parse_int(v, 0, 86400));
         }},
    };
    return s;
  }();
  return specs;
}

const KeySpec* find_spec(const std::string& key) {
  for (const auto& spec : key_specs()) {
    if (spec.info.key == key) return &spec;
  }
  return nullptr;
}

int exit_code_for(const RawSetting& raw) {
  return raw.from_command_line ? exit_code::kUsage : exit_code::kConfig;
}

std::string where(const RawSetting& raw) {
  return raw.from_command_line ? std::string("command line") : raw.origin;
}

[[noreturn]] void unknown_key(const std::string& key, const RawSetting& raw) {
  const auto dot = key.find('.');
  const std::string section = dot == std::string::npos ? key : key.substr(0, dot);
  std::string known;
  for (const auto& spec : key_specs()) {
    if (spec.info.key.compare(0, section.size() + 1, section + ".") == 0) {
      known += (known.empty() ? "" : ", ") + spec.info.key;
    }
  }
  std::string message = where(raw) + ": unknown key '" + key + "'";
  if (!known.empty()) {
    message += "; keys of [" + section + "] are: " + known;
  } else {
    message += "; sections are [kafka], [producer], [consumer], [supervisor], [log], [librdkafka]";
  }
  throw ConfigError(message, exit_code_for(raw));
}

// Checks librdkafka keys by setting them on a real librdkafka configuration object, so the
// error is librdkafka's own ("No such configuration property", "Invalid value ...").
void check_librdkafka_key(const std::string& key, const std::string& name, const RawSetting& raw) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  if (conf->set(name, raw.value, errstr) != RdKafka::Conf::CONF_OK) {
    throw ConfigError(where(raw) + ": " + key + " = '" + (is_secret_key(key) ? "***" : raw.value) +
                          "': " + errstr,
                      exit_code_for(raw));
  }
}

void apply_librdkafka(Config& config, const std::string& key, const RawSetting& raw) {
  std::string name = key.substr(std::char_traits<char>::length(kLibrdkafkaPrefix));
  if (name.empty()) unknown_key(key, raw);
  std::map<std::string, std::string>* target = &config.librdkafka.common;
  for (const char* scope : {"producer.", "consumer."}) {
    const std::string prefix(scope);
    if (name.compare(0, prefix.size(), prefix) == 0) {
      target = prefix == "producer." ? &config.librdkafka.producer : &config.librdkafka.consumer;
      name = name.substr(prefix.size());
    }
  }
  if (name.empty()) unknown_key(key, raw);
  // Callbacks and opaque pointers cannot come from text, and these are pricepipe's own.
  static const std::set<std::string> owned = {"group.id", "group.instance.id", "bootstrap.servers",
                                              "metadata.broker.list", "enable.auto.offset.store", "dr_cb",
                                              "event_cb", "rebalance_cb", "offset_commit_cb"};
  if (owned.count(name) != 0) {
    throw ConfigError(where(raw) + ": " + key + " cannot be set through librdkafka.*; use " +
                          (name == "group.id"            ? "consumer.group_id"
                           : name == "group.instance.id" ? "consumer.instance_id"
                           : name == "bootstrap.servers" || name == "metadata.broker.list"
                               ? "kafka.brokers"
                               : "pricepipe's own keys (it is managed by pricepipe)"),
                      exit_code_for(raw));
  }
  check_librdkafka_key(key, name, raw);
  (*target)[name] = raw.value;
}

void check_consistency(const Config& c, const RawSettings& merged) {
  auto fail = [&](const std::string& key, const std::string& message) {
    const auto it = merged.find(key);
    RawSetting raw = it != merged.end() ? it->second : RawSetting{"", "defaults", false};
    throw ConfigError(where(raw) + ": " + key + " = '" + c.values.at(key) + "': " + message,
                      exit_code_for(raw));
  };
  const auto& g = c.producer.generator;
  if (g.match_min > g.match_max) fail("producer.match_min", "must not be above producer.match_max (" + c.values.at("producer.match_max") + ")");
  if (g.price_min > g.price_max) fail("producer.price_min", "must not be above producer.price_max (" + c.values.at("producer.price_max") + ")");
  // Prices are drawn as whole ticks of 10^-decimals; at least one tick must fit the range.
  if (ticks_at_least(g.price_min, g.price_decimals) > ticks_at_most(g.price_max, g.price_decimals)) {
    fail("producer.price_decimals",
         "no price with that many decimals lies between producer.price_min and producer.price_max");
  }
  if (c.supervisor.backoff_initial_ms > c.supervisor.backoff_max_ms) {
    fail("supervisor.backoff_initial_ms", "must not be above supervisor.backoff_max_ms (" +
                                              c.values.at("supervisor.backoff_max_ms") + ")");
  }
  if (!c.producer.enabled && !c.consumer.enabled) {
    fail("consumer.enabled", "producer.enabled and consumer.enabled are both false; nothing to run");
  }
  if (c.kafka.embedded() && c.kafka.replication_factor > 3) {
    fail("kafka.replication_factor", "the embedded cluster has 3 brokers; use 1 to 3");
  }
  if (!c.consumer.dead_letter_topic.empty() && c.consumer.dead_letter_topic == c.kafka.topic) {
    fail("consumer.dead_letter_topic", "must differ from kafka.topic");
  }
}

}  // namespace

bool is_secret_key(const std::string& key) {
  std::string lower = key;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Passwords, secrets and key material (librdkafka's CONFIGURATION.md), but not the paths to
  // them: ssl.key.location names a file and is no secret.
  for (const char* word : {"password", "passphrase", "secret"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  for (const std::string_view material : {"ssl.key.pem", "ssl_key", "private.key.pem", "sasl.oauthbearer.config"}) {
    if (lower.size() >= material.size() && lower.compare(lower.size() - material.size(), material.size(), material) == 0) {
      return true;
    }
  }
  return false;
}

std::string exposed_secrets_warning(const std::string& path, const RawSettings& file) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0 || (st.st_mode & S_IROTH) == 0) return "";
  std::string keys;
  for (const auto& [key, raw] : file) {
    if (is_secret_key(key) && has_literal_text(raw.value)) keys += (keys.empty() ? "" : ", ") + key;
  }
  if (keys.empty()) return "";
  return "config file " + path + " is readable by other users and holds secrets (" + keys +
         "); chmod o-r " + path;
}

Effect effect_of(const std::string& key) {
  if (const KeySpec* spec = find_spec(key)) return spec->info.effect;
  const std::string scoped = key.substr(std::min(key.size(), std::char_traits<char>::length(kLibrdkafkaPrefix)));
  if (scoped.rfind("producer.", 0) == 0) return Effect::kRestartsProducer;
  if (scoped.rfind("consumer.", 0) == 0) return Effect::kRestartsConsumer;
  return Effect::kRestartsBoth;  // librdkafka.* for both clients (unknown keys never load)
}

const std::vector<KeyInfo>& known_keys() {
  static const std::vector<KeyInfo> keys = [] {
    std::vector<KeyInfo> k;
    for (const auto& spec : key_specs()) k.push_back(spec.info);
    return k;
  }();
  return keys;
}

RawSettings parse_ini(const std::string& text, const std::string& file_name) {
  RawSettings settings;
  std::istringstream in(text);
  std::string line;
  std::string section;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string origin = file_name + ":" + std::to_string(number);
    if (number == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line = line.substr(3);  // BOM
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t[0] == '[') {
      if (t.back() != ']' || t.size() < 3) {
        throw ConfigError(origin + ": malformed section header '" + t + "'; expected [name]",
                          exit_code::kConfig);
      }
      section = trim(t.substr(1, t.size() - 2));
      continue;
    }
    const auto eq = t.find('=');
    if (eq == std::string::npos) {
      throw ConfigError(origin + ": expected 'key = value', got '" + t + "'", exit_code::kConfig);
    }
    const std::string name = trim(t.substr(0, eq));
    std::string value = trim(t.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (name.empty()) throw ConfigError(origin + ": missing key before '='", exit_code::kConfig);
    if (section.empty()) {
      throw ConfigError(origin + ": key '" + name + "' is outside any [section]", exit_code::kConfig);
    }
    const std::string key = section + "." + name;
    const auto existing = settings.find(key);
    if (existing != settings.end()) {
      throw ConfigError(origin + ": key '" + key + "' is set twice (first at " +
                            existing->second.origin + ")",
                        exit_code::kConfig);
    }
    settings[key] = RawSetting{value, origin, false};
  }
  return settings;
}

RawSettings read_ini_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read config file '" + path + "': " + std::strerror(errno),
                      exit_code::kConfig);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw ConfigError("cannot read config file '" + path + "'", exit_code::kConfig);
  }
  return parse_ini(text.str(), path);
}

Config build_config(const RawSettings& file, const RawSettings& overrides) {
  RawSettings merged = file;
  for (const auto& [key, raw] : overrides) merged[key] = raw;
  for (auto& [key, raw] : merged) {
    try {
      raw.value = expand_variables(raw.value);
    } catch (const VariableError& e) {
      throw ConfigError(where(raw) + ": " + key + ": " + e.what(), exit_code_for(raw));
    }
  }

  Config config;
  for (const auto& spec : key_specs()) {
    const auto it = merged.find(spec.info.key);
    const std::string& value = it != merged.end() ? it->second.value : spec.info.default_value;
    try {
      spec.apply(config, value);
    } catch (const BadValue& bad) {
      const RawSetting raw =
          it != merged.end() ? it->second : RawSetting{value, "built-in default", false};
      throw ConfigError(where(raw) + ": " + spec.info.key + " = '" + value +
                            "' is not valid; allowed: " + bad.allowed,
                        exit_code_for(raw));
    }
    config.values[spec.info.key] = value;
  }
  for (const auto& [key, raw] : merged) {
    if (key.compare(0, std::char_traits<char>::length(kLibrdkafkaPrefix), kLibrdkafkaPrefix) == 0) {
      apply_librdkafka(config, key, raw);
      config.values[key] = raw.value;
    } else if (find_spec(key) == nullptr) {
      unknown_key(key, raw);
    }
  }
  check_consistency(config, merged);
  return config;
}

std::string render_config(const Config& config, bool reveal_secrets) {
  std::ostringstream out;
  if (!config.file.empty()) out << "# effective configuration from " << config.file << " and the command line\n";
  else out << "# effective configuration from built-in defaults and the command line\n";
  std::string section;
  // Known keys in documentation order, then librdkafka pass-through keys.
  std::vector<std::string> order;
  for (const auto& info : known_keys()) order.push_back(info.key);
  for (const auto& [key, value] : config.values) {
    if (find_spec(key) == nullptr) order.push_back(key);
  }
  for (const auto& key : order) {
    const auto dot = key.find('.');
    const std::string key_section = key.substr(0, dot);
    if (key_section != section) {
      out << (section.empty() ? "" : "\n") << "[" << key_section << "]\n";
      section = key_section;
    }
    const std::string& value = config.values.at(key);
    out << key.substr(dot + 1) << " = "
        << (!reveal_secrets && is_secret_key(key) && !value.empty() ? "***" : ini_value(value)) << "\n";
  }
  return out.str();
}

std::vector<std::string> changed_keys(const Config& before, const Config& after) {
  std::vector<std::string> changed;
  for (const auto& [key, value] : after.values) {
    const auto it = before.values.find(key);
    if (it == before.values.end() || it->second != value) changed.push_back(key);
  }
  for (const auto& [key, value] : before.values) {
    if (after.values.count(key) == 0) changed.push_back(key);
  }
  std::sort(changed.begin(), changed.end());
  return changed;
}

namespace {

po::options_description option_descriptions(bool with_keys) {
  po::options_description general("Options");
  general.add_options()
      ("config", po::value<std::string>()->value_name("FILE"),
       "config file (default: ./supervisor.conf, then /etc/pricepipe/supervisor.conf)")
      ("check-config", "validate the configuration, print the effective settings and exit (0 or 78)")
      ("health-check", po::value<std::string>()->implicit_value("ready")->value_name("live|ready"),
       "probe a running instance on supervisor.http_port: --health-check=live asks /livez, "
       "--health-check or =ready asks /readyz; exit 0 or 1")
      ("help,h", "print this help and exit")
      ("unsafe-fault-injection", po::value<std::string>()->value_name("SPEC"),
       "TESTS ONLY: make workers fail on purpose, WORKER:throw|hang:AFTER_EVENTS[:TIMES],...")
      ("version", "print the version and exit");
  if (!with_keys) return general;
  po::options_description keys(
      "Settings (each key of supervisor.conf; the command line wins over the file).\n"
      "librdkafka properties pass through as --librdkafka.NAME=VALUE\n"
      "(--librdkafka.producer.NAME / --librdkafka.consumer.NAME for one client only)");
  for (const auto& info : known_keys()) {
    keys.add_options()(info.key.c_str(), po::value<std::string>()->value_name("V"),
                       (info.help + " [" + info.default_value + "]").c_str());
  }
  general.add(keys);
  return general;
}

}  // namespace

std::string usage_text() {
  std::ostringstream out;
  out << "Usage: pricepipe [--config FILE] [--section.key=value ...]\n\n"
      << "Runs a price pipeline through Kafka: a producer thread publishes JSON price events,\n"
      << "a consumer thread prints them to stdout, one JSON object per line.\n\n"
      << option_descriptions(true)
      << "\nExit codes: 0 clean stop, 64 bad command line, 69 broker unreachable, "
         "70 restart budget exhausted, 78 bad config.\n";
  return out.str();
}

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine result;
  const auto desc = option_descriptions(true);
  po::variables_map vm;
  std::vector<std::string> unrecognized;
  try {
    const auto style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    auto parsed = po::command_line_parser(argc, argv).options(desc).style(style).allow_unregistered().run();
    unrecognized = po::collect_unrecognized(parsed.options, po::include_positional);
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(std::string(e.what()) + " (see pricepipe --help)", exit_code::kUsage);
  }
  for (const auto& token : unrecognized) {
    const std::string prefix = std::string("--") + kLibrdkafkaPrefix;
    const auto eq = token.find('=');
    if (token.compare(0, prefix.size(), prefix) != 0) {
      throw ConfigError("unrecognised argument '" + token + "' (see pricepipe --help)", exit_code::kUsage);
    }
    if (eq == std::string::npos) {
      throw ConfigError("'" + token + "' needs a value: " + token + "=VALUE", exit_code::kUsage);
    }
    const std::string key = token.substr(2, eq - 2);
    if (result.overrides.count(key) != 0) {
      throw ConfigError("'" + key + "' is given twice on the command line", exit_code::kUsage);
    }
    result.overrides[key] = RawSetting{token.substr(eq + 1), "command line", true};
  }
  for (const auto& info : known_keys()) {
    if (vm.count(info.key) != 0) {
      result.overrides[info.key] = RawSetting{vm[info.key].as<std::string>(), "command line", true};
    }
  }
  if (vm.count("config") != 0) result.config_path = vm["config"].as<std::string>();
  result.check_config = vm.count("check-config") != 0;
  if (vm.count("health-check") != 0) {
    result.health_check = vm["health-check"].as<std::string>();
    if (result.health_check != "live" && result.health_check != "ready") {
      throw ConfigError("--health-check=" + result.health_check + ": allowed: live or ready", exit_code::kUsage);
    }
  }
  result.help = vm.count("help") != 0;
  result.version = vm.count("version") != 0;
  if (vm.count("unsafe-fault-injection") != 0) {
    result.fault_injection = vm["unsafe-fault-injection"].as<std::string>();
  }
  return result;
}

ConfigLoader::ConfigLoader(CommandLine command_line) : command_line_(std::move(command_line)) {
  if (command_line_.config_path) {
    path_ = *command_line_.config_path;
    return;
  }
  for (const char* candidate : {"supervisor.conf", "/etc/pricepipe/supervisor.conf"}) {
    struct stat st {};
    if (::stat(candidate, &st) == 0) {
      path_ = candidate;
      return;
    }
  }
}

Config ConfigLoader::load() const {
  const RawSettings file = path_.empty() ? RawSettings{} : read_ini_file(path_);
  Config config = build_config(file, command_line_.overrides);
  config.file = path_;
  const std::string exposed = exposed_secrets_warning(path_, file);
  if (!exposed.empty()) config.warnings.push_back(exposed);
  return config;
}

}  // namespace pricepipe
