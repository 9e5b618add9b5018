#include "slow_http_clients.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace pricepipe::test {

SlowHttpClients::SlowHttpClients(int port, int count, std::chrono::milliseconds pace) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  for (int i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      close(fd);
      continue;
    }
    const std::string line = "GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    send(fd, line.data(), line.size(), MSG_NOSIGNAL);
    fds_.push_back(fd);
  }
  connected_ = fds_.size();
  thread_ = std::thread([this, pace] { dribble(pace); });
}

SlowHttpClients::~SlowHttpClients() {
  stop_ = true;
  thread_.join();
  for (const int fd : fds_) {
    if (fd >= 0) close(fd);
  }
}

void SlowHttpClients::dribble(std::chrono::milliseconds pace) {
  int n = 0;
  while (!stop_) {
    const std::string header = "X-Slow-" + std::to_string(n++) + ": 1\r\n";
    for (int& fd : fds_) {
      if (fd < 0) continue;
      char ignored[256];
      const bool gone = recv(fd, ignored, sizeof ignored, MSG_DONTWAIT) == 0 ||
                        send(fd, header.data(), header.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0;
      if (gone) {
        close(fd);
        fd = -1;
        ++closed_;
      }
    }
    std::this_thread::sleep_for(pace);
  }
}

}  // namespace pricepipe::test
