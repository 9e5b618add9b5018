// libFuzzer target for the config file parser and validator: any bytes a supervisor.conf
// may hold.
//
// parse_ini and build_config may only fail with ConfigError; anything else thrown is a bug,
// and so is a crash. An accepted config must render, and its rendering (secrets revealed,
// which is what --check-config output becomes when someone saves it) must load back to the
// same effective values. Built with -fsanitize=fuzzer by PRICEPIPE_FUZZ=ON, and run over the
// corpus by replay_main.cpp in the ordinary test builds.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pricepipe/config/config.hpp"
#include "pricepipe/config/config_ini.hpp"
#include "pricepipe/config/config_render.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& input, const std::string& detail) {
  std::fprintf(stderr, "config_fuzz: %s\n--- input (%zu bytes)\n%s\n--- detail\n%s\n", what,
               input.size(), input.substr(0, 2048).c_str(), detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  pricepipe::Config config;
  try {
    config = pricepipe::build_config(pricepipe::parse_ini(text, "fuzz.conf"), {});
  } catch (const pricepipe::ConfigError& e) {
    if (e.exit_code() != pricepipe::exit_code::kConfig) fail("wrong exit code", text, e.what());
    if (std::string(e.what()).empty()) fail("ConfigError without a message", text, "");
    return 0;
  }
  (void)pricepipe::render_config(config);
  const std::string rendered = pricepipe::render_config(config, true);
  pricepipe::Config reloaded;
  try {
    reloaded = pricepipe::build_config(pricepipe::parse_ini(rendered, "rendered.conf"), {});
  } catch (const pricepipe::ConfigError& e) {
    fail("rendered config does not load", text, rendered + "\n" + e.what());
  }
  if (!pricepipe::changed_keys(config, reloaded).empty()) {
    fail("rendered config loads with other values", text,
         rendered + "\nchanged: " + pricepipe::changed_keys(config, reloaded).front());
  }
  return 0;
}
