#pragma once
// The HTTP endpoint on supervisor.http_port (cpp-httplib): /livez answers 200 "ok" while the
// supervisor runs and every enabled worker heartbeats; /readyz (and /healthz, its alias) while
// in addition every enabled client has a broker connection and the consumer its assignment;
// 503 with the reason otherwise. /metrics answers Prometheus text. Hardened for a network it
// does not control: GET only, no request bodies (413), a 1 s read and write timeout, each
// connection on a thread of its own and at most 256 of them, none older than 5 s; a slow
// client delays nobody else, and destroying the endpoint waits for no client. Owns its
// listener thread; created and destroyed by the supervisor.

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace pricepipe {

struct HealthStatus {
  bool ok = false;
  std::string reason;  // "ok", or why not
};

class HealthServer {
 public:
  using StatusFn = std::function<HealthStatus()>;
  using MetricsFn = std::function<std::string()>;

  // Listens on `address`:`port` (supervisor.http_address, 0.0.0.0 by default so that a
  // Prometheus on another host can scrape). Throws std::runtime_error when it cannot be bound.
  // The callbacks run on the connections' threads and must be thread-safe; none runs once the
  // destructor has returned.
  HealthServer(const std::string& address, int port, StatusFn live, StatusFn ready, MetricsFn metrics);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  int port() const { return port_; }

  struct Gate;

 private:
  int port_;
  std::shared_ptr<Gate> gate_;
  std::shared_ptr<httplib::Server> server_;  // shared with connections still ending
  std::thread thread_;
};

// GET http://127.0.0.1:`port``path` (/livez or /readyz). Returns the HTTP status (-1 when
// nothing answered) and the body in `body`.
int probe_health(int port, const std::string& path, std::string& body);

}  // namespace pricepipe
