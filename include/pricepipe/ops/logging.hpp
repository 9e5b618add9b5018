#pragma once
// Logging set-up: one spdlog logger on stderr (stdout carries events only), text or JSON
// lines. Call `setup_logging` from the main thread before any worker starts; later calls
// (a reload) only change the level and format.

#include "pricepipe/config/config.hpp"

namespace pricepipe {

void setup_logging(const LogSettings& settings);
// Appends `text` to `out` as the inside of a JSON string.
void append_json_escaped(std::string_view text, std::string& out);

}  // namespace pricepipe
