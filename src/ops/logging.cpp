#include "pricepipe/ops/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <memory>

namespace pricepipe {
namespace {

// {"time":"2026-11-25T14:21:34.123Z","level":"info","thread":123,"msg":"..."}
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line;
    line.reserve(msg.payload.size() + 96);
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
    const std::time_t t = static_cast<std::time_t>(seconds.count());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[40];
    const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    line += "{\"time\":\"";
    line.append(stamp, n);
    line += fmt::format(".{:03}Z\",\"level\":\"", millis.count());
    const auto level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += fmt::format("\",\"thread\":{},\"msg\":\"", msg.thread_id);
    append_json_escaped(std::string_view(msg.payload.data(), msg.payload.size()), line);
    line += "\"}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

void append_json_escaped(std::string_view text, std::string& out) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out.push_back(ch);
    }
  }
}

void setup_logging(const LogSettings& settings) {
  auto logger = spdlog::get("pricepipe");
  if (!logger) {
    logger = spdlog::stderr_color_mt("pricepipe");
    spdlog::set_default_logger(logger);
  }
  if (settings.format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%t] %v"));
  }
  logger->set_level(spdlog::level::from_str(settings.level.empty() ? "info" : settings.level));
  logger->flush_on(spdlog::level::trace);
}

}  // namespace pricepipe
