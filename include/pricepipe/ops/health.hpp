#pragma once
// The HTTP endpoint on supervisor.http_port (cpp-httplib): /livez answers 200 "ok" while the
// supervisor runs and every enabled worker heartbeats; /readyz (and /healthz, its alias) while
// in addition every enabled client has a broker connection and the consumer its assignment;
// 503 with the reason otherwise. /metrics answers Prometheus text. Owns its listener thread;
// created and destroyed by the supervisor.

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

  // Listens on 0.0.0.0:`port` (Prometheus scrapes from other hosts). Throws
  // std::runtime_error when the port cannot be bound. The callbacks run on the listener's
  // threads and must be thread-safe.
  HealthServer(int port, StatusFn live, StatusFn ready, MetricsFn metrics);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  int port() const { return port_; }

 private:
  int port_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// GET http://127.0.0.1:`port``path` (/livez or /readyz). Returns the HTTP status (-1 when
// nothing answered) and the body in `body`.
int probe_health(int port, const std::string& path, std::string& body);

}  // namespace pricepipe
