#pragma once
// Test helper: Debian's prometheus as an operator runs it, from the command line with a config
// of the test's own (no service): it scrapes the given targets every second in the job
// "pricepipe", evaluates the given rule file every second, and answers its HTTP API on a free
// port of 127.0.0.1. Its database lives in a temporary folder, removed with it.

#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "process.hpp"

namespace pricepipe::test {

class PrometheusServer {
 public:
  // `targets` as host:port; `rule_file` a path ("" for none).
  PrometheusServer(const std::vector<std::string>& targets, const std::string& rule_file);
  ~PrometheusServer();  // stops it and removes its folder
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  int port() const { return port_; }
  // Whether it answers /-/ready within the timeout.
  bool ready(std::chrono::milliseconds timeout);
  // The parsed answer of GET `path` (e.g. "/api/v1/rules"); a null document when nothing or
  // no JSON came back.
  rapidjson::Document get(const std::string& path) const;
  // The parsed answer of an instant query of `expr` (/api/v1/query, form-encoded).
  rapidjson::Document query(const std::string& expr) const;
  // The state of alert `name` right now: "firing", "pending", or "" when it is not active.
  std::string alert_state(const std::string& name) const;
  // The names of the alerts firing right now.
  std::vector<std::string> firing() const;
  // Every series of an active alert: its name and state ("pending" or "firing").
  std::vector<std::pair<std::string, std::string>> active_alerts() const;
  // What it logged, for a failing test's message.
  std::string log() const { return process_ ? process_->err() : ""; }

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

// The text of the rule file `path` with every `for:` duration replaced by `for_`: the test's
// override, so an alert fires within seconds of its condition (thresholds and windows stay).
std::string rules_with_for(const std::string& path, const std::string& for_);

}  // namespace pricepipe::test
