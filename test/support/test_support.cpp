#include "test_support.hpp"

#include <unistd.h>

#include <fstream>

#include "catch_compat.hpp"

namespace pricepipe::test {

std::string temp_file(const std::string& prefix, const std::string& content) {
  std::string path = "/tmp/" + prefix + "-XXXXXX";
  const int fd = mkstemp(path.data());
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

}  // namespace pricepipe::test
