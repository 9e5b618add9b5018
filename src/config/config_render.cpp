#include "pricepipe/config/config_render.hpp"

#include <set>
#include <sstream>
#include <sys/stat.h>
#include <vector>

#include "config_text.hpp"
#include "pricepipe/config/variables.hpp"

namespace pricepipe {
namespace {

using detail::trim;

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

}  // namespace

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

std::string render_config(const Config& config, bool reveal_secrets) {
  std::ostringstream out;
  if (!config.file.empty()) out << "# effective configuration from " << config.file << " and the command line\n";
  else out << "# effective configuration from built-in defaults and the command line\n";
  std::string section;
  // Known keys in documentation order, then librdkafka pass-through keys.
  std::vector<std::string> order;
  std::set<std::string> known;
  for (const auto& info : known_keys()) {
    order.push_back(info.key);
    known.insert(info.key);
  }
  for (const auto& [key, value] : config.values) {
    if (known.count(key) == 0) order.push_back(key);
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

}  // namespace pricepipe
