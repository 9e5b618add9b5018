#include "pricepipe/ops/http_connections.hpp"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

namespace pricepipe {
namespace {

using Clock = std::chrono::steady_clock;

// The inode of the socket behind descriptor `fd`, read from /proc/self/fd: no call touches the
// descriptor itself, which may belong to another thread (librdkafka's connections, stdout).
std::optional<unsigned long> socket_inode(int fd) {
  char target[64];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
  if (n <= 0) return std::nullopt;
  target[n] = '\0';
  unsigned long inode = 0;
  if (std::sscanf(target, "socket:[%lu]", &inode) != 1) return std::nullopt;
  return inode;
}

// The inodes of the TCP connections (not listeners) whose local port is `port`, from the
// kernel's tables (/proc/self/net/tcp and tcp6: "sl local rem st ... inode", ports in hex).
std::set<unsigned long> connections_on(int port) {
  std::set<unsigned long> inodes;
  for (const char* table : {"/proc/self/net/tcp", "/proc/self/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, skip;
      unsigned long inode = 0;
      fields >> slot >> local >> remote >> state >> skip >> skip >> skip >> skip >> skip >> inode;
      const auto colon = local.rfind(':');
      if (!fields || colon == std::string::npos || state == "0A") continue;  // 0A: LISTEN
      if (std::stoi(local.substr(colon + 1), nullptr, 16) == port) inodes.insert(inode);
    }
  }
  return inodes;
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
  int tasks = 0;                   // running, found or not
  std::condition_variable ended;
  bool stopping = false;
  Clock::time_point next_refusal_log{};

  // Shuts `fd` down if it still is the connection noted (and not a later socket that got its
  // descriptor after the task closed it).
  static void cut(int fd, const Connection& c) {
    if (socket_inode(fd) == c.inode) ::shutdown(fd, SHUT_RDWR);
  }

  // A task ended: its entry goes (only its own: by now the descriptor may have been given to
  // the next connection), and it is counted out.
  void finish(int fd, unsigned long inode) {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = open.find(fd);
    if (it != open.end() && it->second.inode == inode) open.erase(it);
    --tasks;
    ended.notify_all();
  }

  // Logs a refusal at most every 10 s. Called with `mutex` held.
  void log_refusal(Clock::time_point now, const std::string& why) {
    if (now < next_refusal_log) return;
    spdlog::warn("health endpoint: {}; refusing connections for now", why);
    next_refusal_log = now + std::chrono::seconds(10);
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
  wait_for_tasks();
}

void HttpConnections::wait_for_tasks() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  if (state_->ended.wait_for(lock, kTaskEndWait, [this] { return state_->tasks == 0; })) {
    state_->server.reset();  // no task uses it any more: it goes with the endpoint
    return;
  }
  spdlog::warn("health endpoint: {} connection(s) still open {} s after it stopped; left to end on their own",
               state_->tasks, std::chrono::duration_cast<std::chrono::seconds>(kTaskEndWait).count());
}

// A descriptor noted under another inode was closed by its task, which has not yet taken it off
// the list, and then given by the kernel to this connection: it is this one.
std::pair<int, unsigned long> HttpConnections::newest_socket() const {
  const std::set<unsigned long> ours = connections_on(state_->port);
  for (const int fd : open_descriptors()) {
    const auto inode = socket_inode(fd);
    if (!inode || ours.count(*inode) == 0) continue;
    const auto known = state_->open.find(fd);
    if (known == state_->open.end() || known->second.inode != *inode) return {fd, *inode};
  }
  return {-1, 0};
}

bool HttpConnections::admit(std::function<void()> fn) {
  int fd = -1;
  unsigned long inode = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    std::tie(fd, inode) = newest_socket();
    const auto now = Clock::now();
    const bool full = static_cast<int>(state_->open.size()) >= kMaxConnections;
    if (fd >= 0) state_->open[fd] = Connection{now + kConnectionLifetime, inode};
    ++state_->tasks;
    if (fd >= 0 && (full || state_->stopping)) {
      ::shutdown(fd, SHUT_RDWR);  // its task reads end of file and closes it at once
      if (full) state_->log_refusal(now, std::to_string(kMaxConnections) + " connections open");
    }
  }
  try {
    std::thread([state = state_, fn, fd, inode]() mutable {
      fn();          // reads the requests, answers them, closes the socket
      fn = nullptr;  // nothing of httplib's is left here once the task is counted out
      state->finish(fd, inode);
    }).detach();
  } catch (const std::system_error& e) {
    refuse_here(fn, fd, inode, e.what());
  }
  return true;
}

// No thread to be had (a limit on tasks, say): the connection is refused and its task run on the
// listener's thread, where it ends at once, its socket shut down (one whose socket was not found
// holds the listener until its client stops sending or its read times out).
void HttpConnections::refuse_here(const std::function<void()>& fn, int fd, unsigned long inode, const char* why) {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->log_refusal(Clock::now(), std::string("cannot start a thread for a connection (") + why + ")");
  }
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  fn();
  state_->finish(fd, inode);
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
