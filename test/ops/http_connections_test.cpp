// HttpConnections, the health endpoint's task queue, on real sockets in this process.
#include "catch_compat.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "pricepipe/ops/http_connections.hpp"
#include "test_support.hpp"

using namespace pricepipe;
using pricepipe::test::eventually;
using namespace std::chrono_literals;

namespace {

// A listening socket on 127.0.0.1 and a port the kernel picked.
struct Listener {
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), size) == 0);
    REQUIRE(::listen(fd, 8) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    port = ntohs(address.sin_port);
  }
  ~Listener() { ::close(fd); }

  // A client connected to it (it waits in the backlog until accept()).
  int connect() const {
    const int client = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    return client;
  }
  int accept() const {
    const int accepted = ::accept(fd, nullptr, nullptr);
    REQUIRE(accepted >= 0);
    return accepted;
  }

  int fd = -1;
  int port = 0;
};

}  // namespace

// CI saw 199 of 200 slow clients closed, three times: a connection accepted onto the descriptor
// a just-closed one had, before that one's task had ended, was never found and so never cut.
TEST_CASE("a connection given the descriptor of one whose task is still ending is cut after its lifetime",
          "[unit][ops]") {
  Listener listener;
  HttpConnections queue(std::make_shared<int>(0), listener.port);
  const int first_client = listener.connect();
  const int second_client = listener.connect();
  const int first = listener.accept();
  std::promise<void> closed, release;
  auto released = release.get_future().share();
  queue.enqueue([first, &closed, released] {
    ::close(first);
    closed.set_value();
    released.wait();  // ends only when the test says
  });
  closed.get_future().wait();

  // The next connection on that descriptor, as the kernel gives the lowest free one.
  const int second = listener.accept();
  if (second != first) {
    REQUIRE(::dup2(second, first) == first);
    ::close(second);
  }
  auto ended = std::make_shared<std::atomic<bool>>(false);
  queue.enqueue([first, ended] {
    char byte;
    while (::read(first, &byte, 1) > 0) {
    }
    ended->store(true);
    ::close(first);
  });
  release.set_value();

  // Its client sends nothing: the queue cuts it once its 5 s are over.
  const bool cut = eventually([&] { return ended->load(); }, 30s, 100ms);
  CHECK(cut);
  if (!cut) ::shutdown(first, SHUT_RDWR);  // let the task end before the test does
  REQUIRE(eventually([&] { return ended->load(); }, 10s, 100ms));
  ::close(first_client);
  ::close(second_client);
}

// CI's ThreadSanitizer run saw a task still parsing a request line while the process exited and
// freed httplib's statics: the endpoint had shut its connections down but not waited for their
// tasks. The tasks here go on for a while after their socket is cut, as httplib's do with what
// they had read; their clients stay connected and send nothing.
TEST_CASE("the queue ends only once every task has, their sockets cut, and then lets go of the server",
          "[unit][ops]") {
  Listener listener;
  auto server = std::make_shared<int>(0);
  const std::weak_ptr<int> watch = server;
  auto queue = std::make_unique<HttpConnections>(std::move(server), listener.port);
  auto ended = std::make_shared<std::atomic<int>>(0);
  std::vector<int> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(listener.connect());
    const int accepted = listener.accept();
    queue->enqueue([accepted, ended] {
      char byte;
      while (::read(accepted, &byte, 1) > 0) {
      }
      std::this_thread::sleep_for(500ms);  // the task's own work after its socket was cut
      ::close(accepted);
      ended->fetch_add(1);
    });
  }
  queue.reset();
  CHECK(ended->load() == 3);
  CHECK(watch.expired());
  for (const int client : clients) ::close(client);
}

// A task on no socket of the port (as one whose socket was not found) cannot be cut: the queue
// waits kTaskEndWait for it, then leaves it running with what it uses kept alive.
TEST_CASE("a task the queue cannot cut is left running, the server kept alive until it ends", "[unit][ops]") {
  Listener listener;
  auto server = std::make_shared<int>(0);
  const std::weak_ptr<int> watch = server;
  auto queue = std::make_unique<HttpConnections>(std::move(server), listener.port);
  std::promise<void> release;
  auto released = release.get_future().share();
  auto ended = std::make_shared<std::atomic<bool>>(false);
  queue->enqueue([released, ended] {
    released.wait();
    ended->store(true);
  });
  queue.reset();  // returns after kTaskEndWait, the task still waiting
  CHECK_FALSE(ended->load());
  CHECK_FALSE(watch.expired());
  release.set_value();
  CHECK(eventually([&] { return ended->load() && watch.expired(); }, 10s, 20ms));
}
