#include "pricepipe/health.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace pricepipe {

HealthServer::HealthServer(int port, StatusFn status, MetricsFn metrics)
    : port_(port), server_(std::make_unique<httplib::Server>()) {
  server_->Get("/healthz", [status](const httplib::Request&, httplib::Response& res) {
    const HealthStatus s = status();
    res.status = s.ok ? 200 : 503;
    res.set_content(s.reason + "\n", "text/plain");
  });
  server_->Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics(), "text/plain; version=0.0.4");
  });
  if (!server_->bind_to_port("0.0.0.0", port)) {
    throw std::runtime_error("cannot listen on port " + std::to_string(port) +
                             " (supervisor.http_port): in use or not permitted");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("health endpoint on http://0.0.0.0:{}/healthz and /metrics", port);
}

HealthServer::~HealthServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

int probe_health(int port, std::string& body) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(3);
  client.set_read_timeout(3);
  const auto res = client.Get("/healthz");
  if (!res) return -1;
  body = res->body;
  return res->status;
}

}  // namespace pricepipe
