// pricepipe: wires the command line, config, logging and the supervisor together.
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "pricepipe/config/command_line.hpp"
#include "pricepipe/config/config.hpp"
#include "pricepipe/config/config_render.hpp"
#include "pricepipe/ops/health.hpp"
#include "pricepipe/ops/logging.hpp"
#include "pricepipe/supervisor/supervisor.hpp"
#include "pricepipe/version.hpp"
#include "pricepipe/workers/fault.hpp"

int main(int argc, char** argv) {
  using namespace pricepipe;
  // Before any thread exists, so every thread inherits the mask and only the supervisor
  // sees the signals.
  Supervisor::block_signals();
  setup_logging(LogSettings{"info", LogFormat::kText, 60});
  try {
    CommandLine command_line = parse_command_line(argc, argv);
    if (command_line.help) {
      std::cout << usage_text();
      return exit_code::kOk;
    }
    if (command_line.version) {
      std::cout << "pricepipe " << kVersion << " (librdkafka " << RdKafka::version_str() << ")\n";
      return exit_code::kOk;
    }
    const bool check_config = command_line.check_config;
    const std::string health_check = command_line.health_check;
    const auto faults = parse_fault_rules(command_line.fault_injection);
    ConfigLoader loader(std::move(command_line));
    Config config = loader.load();
    if (loader.path().empty()) spdlog::info("no config file found; using defaults and the command line");
    for (const auto& warning : config.warnings) spdlog::warn("{}", warning);
    if (check_config) {
      std::cout << render_config(config);
      return exit_code::kOk;
    }
    if (!health_check.empty()) {
      if (config.supervisor.http_port == 0) {
        spdlog::error("--health-check: supervisor.http_port is 0, so no endpoint to probe");
        return 1;
      }
      const std::string path = health_check == "live" ? "/livez" : "/readyz";
      std::string body;
      const int status = probe_health(config.supervisor.http_port, path, body);
      if (status == 200) return exit_code::kOk;
      spdlog::error("--health-check: http://127.0.0.1:{}{}: {}", config.supervisor.http_port, path,
                    status < 0 ? std::string("no answer") : std::to_string(status) + " " + body);
      return 1;
    }
    setup_logging(config.log);
    Supervisor supervisor(std::move(loader), std::move(config), STDOUT_FILENO, faults,
                          BuildInfo{kVersion, RdKafka::version_str()});
    return supervisor.run();
  } catch (const ConfigError& e) {
    spdlog::error("{}", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return exit_code::kSoftware;
  }
}
