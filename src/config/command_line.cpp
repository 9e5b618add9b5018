#include "pricepipe/config/command_line.hpp"

#include <boost/program_options.hpp>
#include <sstream>
#include <sys/stat.h>
#include <utility>
#include <vector>

#include "pricepipe/config/config_ini.hpp"
#include "pricepipe/config/config_render.hpp"

namespace pricepipe {
namespace {

namespace po = boost::program_options;

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

// Stores the options `desc` knows in `vm` and returns the other arguments (the librdkafka
// pass-through). Throws ConfigError (64) on what Boost cannot parse.
std::vector<std::string> parse_known_options(int argc, const char* const* argv,
                                             const po::options_description& desc, po::variables_map& vm) {
  try {
    const auto style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    auto parsed = po::command_line_parser(argc, argv).options(desc).style(style).allow_unregistered().run();
    std::vector<std::string> unrecognized = po::collect_unrecognized(parsed.options, po::include_positional);
    po::store(parsed, vm);
    po::notify(vm);
    return unrecognized;
  } catch (const po::error& e) {
    throw ConfigError(std::string(e.what()) + " (see pricepipe --help)", exit_code::kUsage);
  }
}

// `--librdkafka.NAME=VALUE` as the override of librdkafka.NAME. Throws ConfigError (64) on any
// other argument, on one without a value and on a key given twice.
void add_librdkafka_override(const std::string& token, RawSettings& overrides) {
  const std::string prefix = std::string("--") + kLibrdkafkaPrefix;
  const auto eq = token.find('=');
  if (token.compare(0, prefix.size(), prefix) != 0) {
    throw ConfigError("unrecognised argument '" + token + "' (see pricepipe --help)", exit_code::kUsage);
  }
  if (eq == std::string::npos) {
    throw ConfigError("'" + token + "' needs a value: " + token + "=VALUE", exit_code::kUsage);
  }
  const std::string key = token.substr(2, eq - 2);
  if (overrides.count(key) != 0) {
    throw ConfigError("'" + key + "' is given twice on the command line", exit_code::kUsage);
  }
  overrides[key] = RawSetting{token.substr(eq + 1), "command line", true};
}

}  // namespace

std::string usage_text() {
  std::ostringstream out;
  out << "Usage: pricepipe [--config FILE] [--section.key=value ...]\n\n"
      << "Runs a price pipeline through Kafka: a producer thread publishes JSON price events,\n"
      << "a consumer thread prints them to stdout, one JSON object per line.\n\n"
      << option_descriptions(true)
      << "\nExit codes: 0 clean stop, 64 bad command line, 69 broker unreachable, "
         "70 restart budget exhausted, 74 stdout closed or failing, 78 bad config.\n";
  return out.str();
}

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine result;
  const auto desc = option_descriptions(true);
  po::variables_map vm;
  for (const auto& token : parse_known_options(argc, argv, desc, vm)) {
    add_librdkafka_override(token, result.overrides);
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
