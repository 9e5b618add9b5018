#pragma once
// The config file's syntax: `[section]` headers and `key = value` lines read into dotted keys
// (`kafka.topic`) with the file and line each came from. Pure; no key is validated here
// (build_config does that).

#include <string>

#include "pricepipe/config/config.hpp"

namespace pricepipe {

// Reads an INI file into dotted keys. Throws ConfigError (78) on unreadable files and syntax
// errors, naming file and line. Keys are not validated here.
RawSettings read_ini_file(const std::string& path);
RawSettings parse_ini(const std::string& text, const std::string& file_name);

}  // namespace pricepipe
