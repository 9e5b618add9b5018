#include "pricepipe/config/config.hpp"

#include "config_text.hpp"
#include "pricepipe/config/variables.hpp"
#include "pricepipe/event/price_ticks.hpp"

#include <arpa/inet.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string_view>

namespace pricepipe {
namespace {

using detail::trim;

// Raised by a value parser; the caller adds key and origin.
struct BadValue {
  std::string allowed;
};

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

// A numeric IPv4 or IPv6 address (no host names: the endpoint must not depend on DNS at start).
std::string parse_ip_address(const std::string& v) {
  unsigned char buffer[sizeof(in6_addr)];
  if (inet_pton(AF_INET, v.c_str(), buffer) == 1 || inet_pton(AF_INET6, v.c_str(), buffer) == 1) return v;
  throw BadValue{"a numeric IPv4 or IPv6 address, such as 0.0.0.0, 127.0.0.1 or ::"};
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
        {{"consumer.group_protocol", "classic",
          "consumer group protocol: classic (any broker) or consumer (KIP-848, Kafka 4.0 or newer: the "
          "broker assigns the partitions and owns the session timeout, heartbeat interval and assignor)",
          Effect::kRestartsConsumer},
         [](Config& c, const std::string& v) {
           c.consumer.group_protocol = parse_choice(v, {"classic", "consumer"}) == "classic"
                                           ? GroupProtocol::kClassic
                                           : GroupProtocol::kConsumer;
         }},
        {{"consumer.output", "json", "json (the event) or envelope (event plus topic, partition, offset, timestamp)", Effect::kRestartsConsumer},
         [](Config& c, const std::string& v) {
           c.consumer.output = parse_choice(v, {"json", "envelope"}) == "json"
                                   ? ConsumerOutput::kJson
                                   : ConsumerOutput::kEnvelope;
         }},
        {{"consumer.exit_after", "0", "exit cleanly after printing this many events; 0 = never", Effect::kRestartsConsumer},
         [](Config& c, const std::string& v) { c.consumer.exit_after = parse_uint(v); }},
        {{"consumer.prefetch_kbytes", "8192",
          "memory the consumer reads ahead into, in KiB, for all its partitions together (librdkafka's "
          "queued.max.messages.kbytes, with fetch.max.bytes a quarter of it and fetch.message.max.bytes an "
          "eighth of that, at most 1 MiB); librdkafka.consumer.* settings of those win",
          Effect::kRestartsConsumer},
         [](Config& c, const std::string& v) { c.consumer.prefetch_kbytes = static_cast<int>(parse_int(v, 1024, 2097151)); }},
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
          "restarts allowed in a row (none of them running restart_window_s); past it the daemon exits 70 "
          "(restart=on-failure)", Effect::kLive},
         [](Config& c, const std::string& v) {
           c.supervisor.max_restarts = static_cast<int>(parse_int(v, 0, 1000000));
         }},
        {{"supervisor.restart_window_s", "60", "seconds a restarted worker must run to end its streak of restarts (and its backoff)", Effect::kLive},
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
        {{"supervisor.http_address", "0.0.0.0",
          "address the HTTP endpoint listens on: 0.0.0.0 (all IPv4), :: (all), 127.0.0.1 (local probes only)",
          Effect::kLive},
         [](Config& c, const std::string& v) { c.supervisor.http_address = parse_ip_address(v); }},
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
  static const std::set<std::string> owned = {"group.id", "group.instance.id", "group.protocol", "bootstrap.servers",
                                              "metadata.broker.list", "enable.auto.offset.store", "dr_cb",
                                              "event_cb", "rebalance_cb", "offset_commit_cb"};
  if (owned.count(name) != 0) {
    throw ConfigError(where(raw) + ": " + key + " cannot be set through librdkafka.*; use " +
                          (name == "group.id"            ? "consumer.group_id"
                           : name == "group.instance.id" ? "consumer.instance_id"
                           : name == "group.protocol"    ? "consumer.group_protocol"
                           : name == "bootstrap.servers" || name == "metadata.broker.list"
                               ? "kafka.brokers"
                               : "pricepipe's own keys (it is managed by pricepipe)"),
                      exit_code_for(raw));
  }
  check_librdkafka_key(key, name, raw);
  (*target)[name] = raw.value;
}

// librdkafka settings the consumer's group protocol does not allow: under KIP-848 the broker
// owns the session timeout, the heartbeat interval and the assignment (librdkafka refuses the
// first four when the consumer is created), and the server-side assignor means nothing to the
// classic protocol (librdkafka would ignore it). Refused when the config is read, naming the key.
void check_group_protocol(const Config& c, const RawSettings& merged) {
  static const std::set<std::string> broker_owned = {"session.timeout.ms", "heartbeat.interval.ms",
                                                     "partition.assignment.strategy", "group.protocol.type"};
  const bool kip848 = c.consumer.group_protocol == GroupProtocol::kConsumer;
  const std::string common(kLibrdkafkaPrefix);
  const std::string consumer = common + "consumer.";
  const auto starts = [](const std::string& key, const std::string& prefix) { return key.rfind(prefix, 0) == 0; };
  for (const auto& [key, raw] : merged) {
    if (!starts(key, common) || starts(key, common + "producer.")) continue;
    const std::string name = key.substr(starts(key, consumer) ? consumer.size() : common.size());
    const std::string setting = where(raw) + ": " + key + " = '" + raw.value + "'";
    if (kip848 && broker_owned.count(name) != 0) {
      throw ConfigError(setting + ": not allowed with consumer.group_protocol = consumer, where the broker owns " +
                            name + " (its group.consumer.* settings); remove it, or use consumer.group_protocol = classic",
                        exit_code_for(raw));
    }
    if (!kip848 && name == "group.remote.assignor") {
      throw ConfigError(setting + ": applies only to consumer.group_protocol = consumer (the classic protocol uses "
                            "partition.assignment.strategy)",
                        exit_code_for(raw));
    }
  }
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
  check_group_protocol(config, merged);
  return config;
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

}  // namespace pricepipe
