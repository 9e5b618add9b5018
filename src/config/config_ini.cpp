#include "pricepipe/config/config_ini.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "config_text.hpp"

namespace pricepipe {
namespace {

using detail::trim;

// The name inside a `[name]` line `t` (trimmed), which starts with '['.
std::string section_name(const std::string& t, const std::string& origin) {
  if (t.back() != ']' || t.size() < 3) {
    throw ConfigError(origin + ": malformed section header '" + t + "'; expected [name]",
                      exit_code::kConfig);
  }
  return trim(t.substr(1, t.size() - 2));
}

// The name and value of a `name = value` line `t` (trimmed), both trimmed, the value without
// one pair of surrounding double quotes.
std::pair<std::string, std::string> name_and_value(const std::string& t, const std::string& origin) {
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
  return {name, value};
}

}  // namespace

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
      section = section_name(t, origin);
      continue;
    }
    const auto [name, value] = name_and_value(t, origin);
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

}  // namespace pricepipe
