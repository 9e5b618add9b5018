#pragma once
// Configuration: the INI file, the command line with the same dotted names, validation of
// every key, and the effective settings the workers are built from.
//
// Loading is pure (no global state); `ConfigLoader` remembers the file and the command-line
// overrides so a reload re-reads the file and applies the same overrides on top.

#include <cstdint>
#include <map>
#include <optional>
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
inline constexpr int kConfig = 78;
}  // namespace exit_code

enum class ConsumerOutput { kJson, kEnvelope };
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
  ConsumerOutput output = ConsumerOutput::kJson;
  std::uint64_t exit_after = 0;
  std::string dead_letter_topic;
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

// Reads an INI file into dotted keys. Throws ConfigError (78) on unreadable files and syntax
// errors, naming file and line. Keys are not validated here.
RawSettings read_ini_file(const std::string& path);
RawSettings parse_ini(const std::string& text, const std::string& file_name);

// Validates and merges: defaults, then `file`, then `overrides`. Throws ConfigError naming
// the key, its origin, the bad value and what is allowed.
Config build_config(const RawSettings& file, const RawSettings& overrides);

// The effective configuration as INI text. Values of keys whose name contains "password",
// "secret" or "key" are shown as *** unless `reveal_secrets`.
std::string render_config(const Config& config, bool reveal_secrets = false);
bool is_secret_key(const std::string& key);

// A warning naming `path` and the keys when the file is readable by other users (S_IROTH) and
// `file`, the settings read from it, gives a secret key (is_secret_key) a non-empty value;
// empty otherwise (also when `path` cannot be stat'ed).
std::string exposed_secrets_warning(const std::string& path, const RawSettings& file);

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

struct CommandLine {
  std::optional<std::string> config_path;
  RawSettings overrides;
  bool check_config = false;
  std::string health_check;  // "live" or "ready" (--health-check alone); empty: not asked
  bool help = false;
  bool version = false;
  // --unsafe-fault-injection=SPEC (tests only; never read from a file).
  std::string fault_injection;
};

// Throws ConfigError with exit code 64 on anything it cannot parse.
CommandLine parse_command_line(int argc, const char* const* argv);
std::string usage_text();

// Resolves the config file (--config, else ./supervisor.conf, else
// /etc/pricepipe/supervisor.conf, else none) and loads it with the command-line overrides.
// `load()` may be called again to reload. Not thread-safe; the supervisor thread owns it.
class ConfigLoader {
 public:
  explicit ConfigLoader(CommandLine command_line);
  Config load() const;
  // The file that `load()` reads; empty when running on defaults and the command line.
  const std::string& path() const { return path_; }

 private:
  CommandLine command_line_;
  std::string path_;
};

}  // namespace pricepipe
