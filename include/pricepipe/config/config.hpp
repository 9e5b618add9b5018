#pragma once
// Configuration: the effective settings the workers are built from, and the key table that
// validates every key (its default, parser and reload effect). Pure (no global state).
// The INI file is read by config_ini.hpp, rendered by config_render.hpp, and the command line
// and config-file discovery are command_line.hpp.

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace pricepipe {

// sysexits.h values, as promised in DESIGN.md.
namespace exit_code {
inline constexpr int kOk = 0;
inline constexpr int kUsage = 64;
inline constexpr int kUnavailable = 69;
inline constexpr int kSoftware = 70;
inline constexpr int kIoError = 74;  // stdout closed or failing for good
inline constexpr int kConfig = 78;
}  // namespace exit_code

enum class ConsumerOutput { kJson, kEnvelope };
// librdkafka's group.protocol: classic (JoinGroup/SyncGroup, the client assigns) or consumer
// (KIP-848, Kafka 4.0 or newer: the broker assigns, incrementally).
enum class GroupProtocol { kClassic, kConsumer };
enum class RestartMode { kOnFailure, kAlways, kNever };
enum class LogFormat { kText, kJson };

struct KafkaSettings {
  std::string brokers;
  std::string topic;
  int partitions = 3;
  int replication_factor = 1;
  int connect_timeout_s = 0;  // 0 = wait forever for a first broker connection
  bool embedded() const { return brokers == "embedded"; }
};

struct GeneratorSettings {
  std::int64_t match_min = 100;
  std::int64_t match_max = 999;
  double price_min = 1.01;
  double price_max = 1000.00;
  int price_decimals = 2;
  std::uint64_t seed = 0;
};

struct ProducerSettings {
  bool enabled = true;
  double rate = 10;
  std::uint64_t count = 0;
  GeneratorSettings generator;
};

struct ConsumerSettings {
  bool enabled = true;
  std::string group_id;
  std::string instance_id;  // group.instance.id; empty = dynamic membership
  GroupProtocol group_protocol = GroupProtocol::kClassic;
  ConsumerOutput output = ConsumerOutput::kJson;
  std::uint64_t exit_after = 0;
  std::string dead_letter_topic;
  // The whole consumer's prefetch, in KiB, whatever the partition count: librdkafka's queue
  // limit and its fetch sizes are derived from it (kafka.cpp).
  int prefetch_kbytes = 8192;
  int price_decimals = 2;  // from producer.price_decimals: printed prices have as many digits
};

struct SupervisorSettings {
  RestartMode restart = RestartMode::kOnFailure;
  int backoff_initial_ms = 500;
  int backoff_max_ms = 30000;
  int max_restarts = 10;
  int restart_window_s = 60;
  int shutdown_timeout_s = 10;
  int stall_timeout_s = 30;
  int http_port = 0;
  std::string http_address = "0.0.0.0";
};

struct LogSettings {
  std::string level;
  LogFormat format = LogFormat::kText;
  int stats_interval_s = 60;
};

// librdkafka pass-through: `librdkafka.X` applies to both clients, `librdkafka.producer.X`
// and `librdkafka.consumer.X` to one of them only (and win over the shared value).
// One client's librdkafka properties, in the order they are set (a later value wins).
using ClientProperties = std::vector<std::pair<std::string, std::string>>;

struct LibrdkafkaSettings {
  std::map<std::string, std::string> common;
  std::map<std::string, std::string> producer;
  std::map<std::string, std::string> consumer;
};

struct Config {
  KafkaSettings kafka;
  ProducerSettings producer;
  ConsumerSettings consumer;
  SupervisorSettings supervisor;
  LogSettings log;
  LibrdkafkaSettings librdkafka;

  // Every effective key with its value as text (defaults included), for --check-config,
  // logging and reload diffs.
  std::map<std::string, std::string> values;
  // The config file these came from, empty when only defaults and the command line apply.
  std::string file;
  // Problems worth a warning in the log that do not stop loading (see exposed_secrets_warning).
  std::vector<std::string> warnings;
};

// A configuration problem a user can act on. `exit_code` is 64 for a bad command line and 78
// for a bad config file or value from one.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& message, int exit_code)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// One raw `key = value` with where it came from ("supervisor.conf:12", "command line").
struct RawSetting {
  std::string value;
  std::string origin;
  bool from_command_line = false;
};
using RawSettings = std::map<std::string, RawSetting>;

// Keys passed through to librdkafka start with this (librdkafka.NAME, librdkafka.producer.NAME,
// librdkafka.consumer.NAME).
inline constexpr const char* kLibrdkafkaPrefix = "librdkafka.";

// Validates and merges: defaults, then `file`, then `overrides`. Throws ConfigError naming
// the key, its origin, the bad value and what is allowed.
Config build_config(const RawSettings& file, const RawSettings& overrides);

// Whether a key's value is a secret (a password, passphrase, secret or key material, not a path
// to one), masked as *** wherever values are shown: render_config, librdkafka's errors, reloads.
bool is_secret_key(const std::string& key);

// Keys whose effective value differs, sorted.
std::vector<std::string> changed_keys(const Config& before, const Config& after);

// What a new value of a key takes on a reload: applied live, or a graceful restart of the
// worker(s) whose Kafka client it configures. A bit set: kRestartsBoth is both restarts.
enum class Effect : unsigned { kLive = 0, kRestartsProducer = 1, kRestartsConsumer = 2, kRestartsBoth = 3 };
inline bool restarts_producer(Effect e) { return (static_cast<unsigned>(e) & 1U) != 0; }
inline bool restarts_consumer(Effect e) { return (static_cast<unsigned>(e) & 2U) != 0; }

// Every known key with its default, a one-line description and its effect, in file order.
struct KeyInfo {
  std::string key;
  std::string default_value;
  std::string help;
  Effect effect = Effect::kLive;
};
const std::vector<KeyInfo>& known_keys();
// The effect of a change of `key`: from the key table, and for librdkafka.* from its scope
// (librdkafka.producer.* the producer, librdkafka.consumer.* the consumer, others both).
Effect effect_of(const std::string& key);

}  // namespace pricepipe
