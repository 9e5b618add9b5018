#include "test_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

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

namespace {

int kernel_chosen_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                     getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  REQUIRE(bound);
  return ntohs(addr.sin_port);
}

}  // namespace

int free_port(std::initializer_list<int> not_these) {
  for (;;) {
    const int port = kernel_chosen_port();
    if (std::find(not_these.begin(), not_these.end(), port) == not_these.end()) return port;
  }
}

}  // namespace pricepipe::test
