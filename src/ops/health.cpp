#include "pricepipe/ops/health.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace pricepipe {

namespace {

httplib::Server::Handler answer(HealthServer::StatusFn status) {
  return [status = std::move(status)](const httplib::Request&, httplib::Response& res) {
    const HealthStatus s = status();
    res.status = s.ok ? 200 : 503;
    res.set_content(s.reason + "\n", "text/plain");
  };
}

}  // namespace

HealthServer::HealthServer(int port, StatusFn live, StatusFn ready, MetricsFn metrics)
    : port_(port), server_(std::make_unique<httplib::Server>()) {
  server_->Get("/livez", answer(live));
  server_->Get("/readyz", answer(ready));
  server_->Get("/healthz", answer(ready));
  server_->Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics(), "text/plain; version=0.0.4");
  });
  if (!server_->bind_to_port("0.0.0.0", port)) {
    throw std::runtime_error("cannot listen on port " + std::to_string(port) +
                             " (supervisor.http_port): in use or not permitted");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("health endpoint on http://0.0.0.0:{}: /livez, /readyz (/healthz), /metrics", port);
}

HealthServer::~HealthServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

int probe_health(int port, const std::string& path, std::string& body) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(3);
  client.set_read_timeout(3);
  const auto res = client.Get(path);
  if (!res) return -1;
  body = res->body;
  return res->status;
}

}  // namespace pricepipe
