// The Catch2 main of every test executable, for Catch2 v2 and v3 (see catch_compat.hpp).
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace {

// catch_discover_tests gives a test one environment variable at most (its PROPERTIES flatten a
// list), so test/CMakeLists.txt passes more in one: PRICEPIPE_TEST_ENV holds space-separated
// NAME=VALUE pairs (the [outage] tests' own broker), set here before any test or thread starts.
bool apply_test_env() {
  const char* env = std::getenv("PRICEPIPE_TEST_ENV");
  std::istringstream words(env ? env : "");
  for (std::string word; words >> word;) {
    const auto eq = word.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "PRICEPIPE_TEST_ENV: '%s' is not NAME=VALUE\n", word.c_str());
      return false;
    }
    setenv(word.substr(0, eq).c_str(), word.substr(eq + 1).c_str(), 1);
  }
  return true;
}

}  // namespace

int main(int argc, char* argv[]) {
  if (!apply_test_env()) return 2;
  return Catch::Session().run(argc, argv);
}
