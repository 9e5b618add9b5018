// The operations kit (deploy/prometheus/, deploy/grafana/) against a real Prometheus: Debian's
// prometheus scrapes a running pricepipe on the real broker every second and evaluates the
// shipped rules, with every `for:` shortened to 2 s (the test's override; thresholds and
// windows are the shipped ones). Every rule loads and evaluates healthy, none fires while all
// is well, every query of the Grafana dashboard returns data, and three alerts fire on real
// faults and resolve when they end: a paused stdout reader (PricepipeOutputBlocked), the
// broker stopped (PricepipeNotReady), the daemon gone (PricepipeDown).
#include "catch_compat.hpp"

#include <signal.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "kafka_test_support.hpp"
#include "prometheus_server.hpp"
#include "scenario.hpp"
#include "test_support.hpp"

using namespace pricepipe::test;
using namespace std::chrono_literals;

namespace {

const std::string kRules = source_dir() + "/deploy/prometheus/pricepipe-rules.yml";

// The alert names of the rule file.
std::vector<std::string> alert_names() {
  std::ifstream in(kRules);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  static const std::regex kAlert(R"(\n\s*- alert:\s*(\S+))");
  std::vector<std::string> names;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), kAlert); it != std::sregex_iterator(); ++it) {
    names.push_back((*it)[1]);
  }
  return names;
}

// Rules Prometheus has loaded that are not yet evaluated healthy (their name, health and
// error); every rule of the file must be among those loaded.
std::vector<std::string> unhealthy_rules(const PrometheusServer& prom, std::size_t expected) {
  const rapidjson::Document doc = prom.get("/api/v1/rules");
  if (!doc.IsObject() || !doc.HasMember("data")) return {"no answer from /api/v1/rules"};
  std::vector<std::string> bad;
  std::size_t loaded = 0;
  for (const auto& group : doc["data"]["groups"].GetArray()) {
    for (const auto& rule : group["rules"].GetArray()) {
      ++loaded;
      const std::string health = rule["health"].GetString();
      if (health != "ok") {
        bad.push_back(std::string(rule["name"].GetString()) + ": " + health +
                      (rule.HasMember("lastError") ? std::string(" ") + rule["lastError"].GetString() : ""));
      }
    }
  }
  if (loaded != expected) bad.push_back("loaded " + std::to_string(loaded) + " rules");
  return bad;
}

struct PanelQuery {
  std::string panel;
  std::string expr;
};

// Every query of the dashboard with its variables filled in (scripts/dashboard-queries.py).
std::vector<PanelQuery> dashboard_queries() {
  const ProcessResult r = run_process({"python3", source_dir() + "/scripts/dashboard-queries.py",
                                       source_dir() + "/deploy/grafana/pricepipe.json", "--print", "--json",
                                       "--rate-interval", "10s", "--range", "5m"},
                                      30s);
  REQUIRE(r.exit_code == 0);
  std::vector<PanelQuery> queries;
  for (const std::string& line : split_lines(r.out)) {
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    queries.push_back({doc["panel"].GetString(), doc["expr"].GetString()});
  }
  return queries;
}

// The queries that fail ("error: ...") or return no series ("no data") right now.
std::vector<std::string> queries_without_data(const PrometheusServer& prom, const std::vector<PanelQuery>& queries) {
  std::vector<std::string> bad;
  for (const PanelQuery& q : queries) {
    const rapidjson::Document doc = prom.query(q.expr);
    if (!doc.IsObject() || std::string(doc["status"].GetString()) != "success") {
      bad.push_back(q.panel + ": error: " + (doc.IsObject() && doc.HasMember("error") ? doc["error"].GetString() : "?") +
                    ": " + q.expr);
    } else if (doc["data"]["result"].Empty()) {
      bad.push_back(q.panel + ": no data: " + q.expr);
    }
  }
  return bad;
}

bool fires(const PrometheusServer& prom, const std::string& alert, std::chrono::seconds timeout) {
  return eventually([&] { return prom.alert_state(alert) == "firing"; }, timeout, 500ms);
}

bool resolves(const PrometheusServer& prom, const std::string& alert, std::chrono::seconds timeout) {
  return eventually([&] { return prom.alert_state(alert).empty(); }, timeout, 500ms);
}

}  // namespace

TEST_CASE("a real Prometheus on pricepipe: rules healthy, dashboard queries answered, alerts fire on faults and resolve",
          "[ops][outage]") {
  BrokerGuard guard;
  const std::vector<std::string> alerts = alert_names();
  REQUIRE(alerts.size() >= 9);
  const std::string rules = temp_file("pricepipe-rules", rules_with_for(kRules, "2s"));
  const int http_port = free_port();
  Daemon d(pipeline_args(unique_name("prometheus"), unique_name("g"),
                         {"--producer.rate=200", "--supervisor.http_port=" + std::to_string(http_port)}));
  REQUIRE(d.printed(200, 60s));
  PrometheusServer prom({"127.0.0.1:" + std::to_string(http_port)}, rules);
  if (!prom.ready(60s)) FAIL("prometheus did not answer /-/ready; its log: " << prom.log());
  std::remove(rules.c_str());  // read at its start

  // Loaded and evaluated without an error, all of them; quiet while all is well.
  std::vector<std::string> unhealthy;
  CHECK(eventually([&] { return (unhealthy = unhealthy_rules(prom, alerts.size())).empty(); }, 30s, 1s));
  CHECK(unhealthy == std::vector<std::string>{});
  // The rates need two samples inside their 10 s window.
  const std::vector<PanelQuery> queries = dashboard_queries();
  REQUIRE(queries.size() >= 10);
  std::vector<std::string> without_data;
  CHECK(eventually([&] { return (without_data = queries_without_data(prom, queries)).empty(); }, 60s, 2s));
  CHECK(without_data == std::vector<std::string>{});
  CHECK(prom.firing() == std::vector<std::string>{});

  // A paused reader of stdout: the consumer waits on it nearly all the time.
  d.read_stdout_at(0);
  REQUIRE(d.logged("partitions paused until the reader catches up", 30s));
  CHECK(fires(prom, "PricepipeOutputBlocked", 90s));
  d.read_stdout_at(Process::kUnlimited);
  CHECK(resolves(prom, "PricepipeOutputBlocked", 120s));

  // The broker stopped: /readyz answers 503, pricepipe_healthy is 0.
  kafka_sh({"stop"});
  CHECK(fires(prom, "PricepipeNotReady", 90s));
  kafka_sh({"start"});
  CHECK(resolves(prom, "PricepipeNotReady", 120s));

  // The daemon gone: the scrape fails.
  const Run r = d.stop(SIGTERM, 30s);
  CHECK(r.exit_code == 0);
  CHECK(fires(prom, "PricepipeDown", 30s));
}
