#pragma once
// Text helpers shared by the config sources (config.cpp, config_ini.cpp, config_render.cpp);
// private to src/.

#include <string>

namespace pricepipe::detail {

// `s` without leading and trailing blanks (space, tab, CR, LF).
inline std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

}  // namespace pricepipe::detail
