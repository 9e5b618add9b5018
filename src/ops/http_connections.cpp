#include "http_connections.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <vector>

namespace pricepipe {
namespace {

using Clock = std::chrono::steady_clock;

// The port of a socket's address (local or peer); 0 when it has none.
std::uint16_t port_of(int fd, bool peer) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  if ((peer ? getpeername(fd, raw, &size) : getsockname(fd, raw, &size)) != 0) return 0;
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  return 0;
}

bool is_listening(int fd) {
  int listening = 0;
  socklen_t size = sizeof listening;
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0 && listening != 0;
}

std::vector<int> open_descriptors() {
  std::vector<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return fds;
  const int own = dirfd(dir);
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd != own) fds.push_back(fd);
  }
  closedir(dir);
  return fds;
}

}  // namespace

struct HttpConnections::State {
  std::shared_ptr<void> server;
  int port;
  std::mutex mutex;
  std::condition_variable wake;
  std::map<int, Connection> open;  // by descriptor; refused ones too, until their task ends
  bool stopping = false;
  Clock::time_point next_refusal_log{};

  // Shuts `fd` down if it still is the connection noted (and not a later socket that got its
  // descriptor after the task closed it).
  void cut(int fd, const Connection& c) const {
    if (port_of(fd, false) == port && port_of(fd, true) == c.peer_port) ::shutdown(fd, SHUT_RDWR);
  }
};

HttpConnections::HttpConnections(std::shared_ptr<void> server, int port) : state_(std::make_shared<State>()) {
  state_->server = std::move(server);
  state_->port = port;
  reaper_ = std::thread([this] { reap_slow(); });
}

HttpConnections::~HttpConnections() {
  shutdown();
  if (reaper_.joinable()) reaper_.join();
}

int HttpConnections::newest_socket() const {
  for (const int fd : open_descriptors()) {
    if (state_->open.count(fd) != 0) continue;
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    if (port_of(fd, false) == state_->port && !is_listening(fd) && port_of(fd, true) != 0) return fd;
  }
  return -1;
}

bool HttpConnections::admit(std::function<void()> fn) {
  int fd = -1;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    fd = newest_socket();
    const auto now = Clock::now();
    const bool full = static_cast<int>(state_->open.size()) >= kMaxConnections;
    if (fd >= 0) state_->open[fd] = Connection{now + kConnectionLifetime, port_of(fd, true)};
    if (fd >= 0 && (full || state_->stopping)) {
      ::shutdown(fd, SHUT_RDWR);  // its task reads end of file and closes it at once
      if (full && now >= state_->next_refusal_log) {
        spdlog::warn("health endpoint: {} connections open; refusing more for now", kMaxConnections);
        state_->next_refusal_log = now + std::chrono::seconds(10);
      }
    }
  }
  std::thread([state = state_, fn = std::move(fn), fd] {
    fn();  // reads the requests, answers them, closes the socket
    std::lock_guard<std::mutex> lock(state->mutex);
    if (fd >= 0) state->open.erase(fd);
  }).detach();
  return true;
}

void HttpConnections::shutdown() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (state_->stopping) return;
  state_->stopping = true;
  for (const auto& [fd, connection] : state_->open) state_->cut(fd, connection);
  state_->wake.notify_all();
}

void HttpConnections::reap_slow() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  while (!state_->stopping) {
    state_->wake.wait_for(lock, std::chrono::milliseconds(200));
    const auto now = Clock::now();
    for (auto& [fd, connection] : state_->open) {
      if (now < connection.deadline) continue;
      state_->cut(fd, connection);
      connection.deadline = Clock::time_point::max();
    }
  }
}

}  // namespace pricepipe
