#pragma once
// The health endpoint's connections (used by health.cpp only; a header here so its test can
// reach it): cpp-httplib hands each accepted connection to a task queue; this one runs each on a
// thread of its own, so a slow client never delays another one (a liveness probe answers while
// hundreds of clients dribble bytes), and bounds them:
// - at most kMaxConnections at once; one more is shut down as it arrives, and so is one for
//   which no thread can be started (a limit on tasks), its task run on the listener's thread;
// - each connection lives at most kConnectionLifetime (its requests read and answered within
//   it); past it, its socket is shut down and the blocked read returns at once;
// - shutdown() shuts every open connection down and returns without waiting for them;
// - the destructor then waits for their tasks to end, which they do at once with their sockets
//   shut down (no client is waited for), up to kTaskEndWait for one it could not find: no task
//   still runs httplib's code when the process exits and destroys httplib's statics (CI's
//   ThreadSanitizer run saw a task parse a request line against the set of methods the main
//   thread's exit was freeing).
// httplib gives a task only as a function; the queue finds the socket it was accepted on (the
// one connection on the endpoint's port it does not know yet: httplib accepts on one thread
// and enqueues right after) to be able to do that, from /proc alone (the descriptor table and
// the kernel's TCP table), never calling on a descriptor another thread owns. A connection is
// known by descriptor and socket inode together: a task that has closed its socket but not yet
// ended leaves its descriptor free for the next connection. A task still running past
// kTaskEndWait keeps `server` alive, so it touches nothing freed once the endpoint is gone.

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>

namespace pricepipe {

class HttpConnections : public httplib::TaskQueue {
 public:
  static constexpr int kMaxConnections = 256;
  static constexpr auto kConnectionLifetime = std::chrono::seconds(5);
  static constexpr auto kTaskEndWait = std::chrono::seconds(2);

  HttpConnections(std::shared_ptr<void> server, int port);
  ~HttpConnections() override;

  // httplib's enqueue returns void up to 0.14 and bool (accepted) since.
  using EnqueueResult = decltype(std::declval<httplib::TaskQueue&>().enqueue(std::function<void()>()));
  EnqueueResult enqueue(std::function<void()> fn) override { return static_cast<EnqueueResult>(admit(std::move(fn))); }
  void shutdown() override;

 private:
  struct Connection {
    std::chrono::steady_clock::time_point deadline;
    unsigned long inode = 0;  // its socket's, to tell it from a later one with the same descriptor
  };
  struct State;

  bool admit(std::function<void()> fn);
  void refuse_here(const std::function<void()>& fn, int fd, unsigned long inode, const char* why);
  // The socket httplib accepted last and its inode: a connection on the endpoint's port not yet
  // known; {-1, 0} if none is found.
  std::pair<int, unsigned long> newest_socket() const;
  void reap_slow();
  // Waits up to kTaskEndWait for every task to end; when they all have, lets go of `server`.
  void wait_for_tasks();

  std::shared_ptr<State> state_;
  std::thread reaper_;
};

}  // namespace pricepipe
