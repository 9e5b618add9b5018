#pragma once
// The command line (options and `--section.key=value` overrides with the config file's dotted
// names) and the config file it leads to. `ConfigLoader` remembers the file and the
// command-line overrides so a reload re-reads the file and applies the same overrides on top.

#include <optional>
#include <string>

#include "pricepipe/config/config.hpp"

namespace pricepipe {

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
