#include "pricepipe/ops/health.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "pricepipe/ops/http_connections.hpp"

namespace pricepipe {

// The handlers' way into the supervisor: open until the endpoint is destroyed, which waits for
// the calls inside (they never wait on a client) and lets none in afterwards, while a
// connection may still be ending on its own thread.
struct HealthServer::Gate {
  std::mutex mutex;
  std::condition_variable left;
  int inside = 0;
  bool open = true;

  template <typename Body>
  bool pass(Body&& body) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!open) return false;
      ++inside;
    }
    body();
    std::lock_guard<std::mutex> lock(mutex);
    --inside;
    left.notify_all();
    return true;
  }
  void close() {
    std::unique_lock<std::mutex> lock(mutex);
    open = false;
    left.wait(lock, [this] { return inside == 0; });
  }
};

namespace {

void closing(httplib::Response& res) {
  res.status = 503;
  res.set_content("stopping\n", "text/plain");
}

httplib::Server::Handler answer(std::shared_ptr<HealthServer::Gate> gate, HealthServer::StatusFn status) {
  return [gate = std::move(gate), status = std::move(status)](const httplib::Request&, httplib::Response& res) {
    if (!gate->pass([&] {
          const HealthStatus s = status();
          res.status = s.ok ? 200 : 503;
          res.set_content(s.reason + "\n", "text/plain");
        })) {
      closing(res);
    }
  };
}

// Requests are a line and a few headers: no body is read, whatever a client declares.
httplib::Server::HandlerResponse refuse_bodies(const httplib::Request& req, httplib::Response& res) {
  const std::string length = req.get_header_value("Content-Length");
  const bool body = (!length.empty() && length.find_first_not_of('0') != std::string::npos) ||
                    req.has_header("Transfer-Encoding");
  if (!body) return httplib::Server::HandlerResponse::Unhandled;
  res.status = 413;
  res.set_header("Connection", "close");
  res.set_content("request bodies are not accepted\n", "text/plain");
  return httplib::Server::HandlerResponse::Handled;
}

}  // namespace

HealthServer::HealthServer(const std::string& address, int port, StatusFn live, StatusFn ready, MetricsFn metrics)
    : port_(port), gate_(std::make_shared<Gate>()), server_(std::make_shared<httplib::Server>()) {
  server_->new_task_queue = [server = std::weak_ptr<httplib::Server>(server_), port] {
    return new HttpConnections(server.lock(), port);
  };
  server_->set_read_timeout(1, 0);   // per read: a client that stops sending is dropped
  server_->set_write_timeout(1, 0);  // and one that stops reading
  server_->set_keep_alive_timeout(2);
  server_->set_payload_max_length(1024);
  server_->set_pre_routing_handler(refuse_bodies);
  server_->Get("/livez", answer(gate_, live));
  server_->Get("/readyz", answer(gate_, ready));
  server_->Get("/healthz", answer(gate_, ready));
  server_->Get("/metrics", [gate = gate_, metrics](const httplib::Request&, httplib::Response& res) {
    if (!gate->pass([&] { res.set_content(metrics(), "text/plain; version=0.0.4"); })) closing(res);
  });
  if (!server_->bind_to_port(address.c_str(), port)) {
    throw std::runtime_error("cannot listen on port " + std::to_string(port) + " of " + address +
                             " (supervisor.http_port, supervisor.http_address): in use, not permitted, or not an "
                             "address of this host");
  }
  thread_ = std::thread([server = server_] { server->listen_after_bind(); });
  spdlog::info("health endpoint on http://{}:{}: /livez, /readyz (/healthz), /metrics", address, port);
}

HealthServer::~HealthServer() {
  gate_->close();
  server_->stop();  // the listener ends; open connections are shut down, not waited for
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
