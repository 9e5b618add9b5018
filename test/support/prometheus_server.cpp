#include "prometheus_server.hpp"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "test_support.hpp"

namespace pricepipe::test {

namespace {

std::string make_dir() {
  std::string pattern = "/tmp/pricepipe-prometheus-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

std::string config_text(const std::vector<std::string>& targets, const std::string& rule_file) {
  std::ostringstream out;
  out << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n";
  if (!rule_file.empty()) out << "rule_files:\n  - " << rule_file << "\n";
  out << "scrape_configs:\n  - job_name: pricepipe\n    static_configs:\n      - targets:\n";
  for (const std::string& target : targets) out << "          - \"" << target << "\"\n";
  return out.str();
}

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  if (doc.HasParseError()) doc.SetNull();
  return doc;
}

}  // namespace

PrometheusServer::PrometheusServer(const std::vector<std::string>& targets, const std::string& rule_file)
    : dir_(make_dir()), port_(free_port()) {
  std::ofstream(dir_ + "/prometheus.yml") << config_text(targets, rule_file);
  process_ = std::make_unique<Process>(std::vector<std::string>{
      "prometheus", "--config.file=" + dir_ + "/prometheus.yml", "--storage.tsdb.path=" + dir_ + "/data",
      "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"});
}

PrometheusServer::~PrometheusServer() {
  process_.reset();  // kills and reaps it
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

bool PrometheusServer::ready(std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        const ProcessResult r = run_process(
            {"curl", "-sf", "--max-time", "2", "http://127.0.0.1:" + std::to_string(port_) + "/-/ready"},
            std::chrono::seconds(5));
        return r.exit_code == 0;
      },
      timeout);
}

rapidjson::Document PrometheusServer::get(const std::string& path) const {
  const ProcessResult r = run_process(
      {"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + std::to_string(port_) + path}, std::chrono::seconds(15));
  return parse(r.out);
}

rapidjson::Document PrometheusServer::query(const std::string& expr) const {
  const ProcessResult r =
      run_process({"curl", "-sS", "--max-time", "10", "--data-urlencode", "query=" + expr,
                   "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/query"},
                  std::chrono::seconds(15));
  return parse(r.out);
}

std::vector<std::pair<std::string, std::string>> PrometheusServer::active_alerts() const {
  std::vector<std::pair<std::string, std::string>> alerts;
  const rapidjson::Document doc = get("/api/v1/alerts");
  if (!doc.IsObject() || !doc.HasMember("data")) return alerts;
  for (const auto& alert : doc["data"]["alerts"].GetArray()) {
    alerts.emplace_back(alert["labels"]["alertname"].GetString(), alert["state"].GetString());
  }
  return alerts;
}

std::string PrometheusServer::alert_state(const std::string& name) const {
  std::string state;
  for (const auto& [alert, s] : active_alerts()) {
    if (alert == name && state != "firing") state = s;  // firing wins over pending across its series
  }
  return state;
}

std::vector<std::string> PrometheusServer::firing() const {
  std::vector<std::string> names;
  for (const auto& [alert, state] : active_alerts()) {
    if (state == "firing") names.push_back(alert);
  }
  return names;
}

std::string rules_with_for(const std::string& path, const std::string& for_) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  static const std::regex kFor(R"((\n\s+for:\s*)[0-9a-z]+)");
  return std::regex_replace(text.str(), kFor, "$01" + for_);  // $01: "$1" + "2s" would be group 12
}

}  // namespace pricepipe::test
