// A network that drops packets without a reset, on the outage broker's port only
// (scripts/net-fault.sh: iptables on loopback, removed when the script ends): readiness tells
// the truth within 10 s, the oldest undelivered event's age shows it, nothing is lost, and
// readiness comes back after the heal. [outage]: the tests take turns on their own broker.
#include "catch_compat.hpp"

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "http_probe.hpp"
#include "kafka_test_support.hpp"
#include "process.hpp"
#include "scenario.hpp"
#include "test_support.hpp"

using namespace pricepipe::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// The port of the first "host:port" in a broker list.
int broker_port(const std::string& brokers) {
  const auto colon = brokers.find(':');
  return std::stoi(brokers.substr(colon + 1, brokers.find(',') - colon - 1));
}

// scripts/net-fault.sh running for the test; stopped (its trap removes the rules) when this
// goes out of scope, and `clear` run after it in case the script was killed.
class NetFault {
 public:
  explicit NetFault(std::vector<std::string> args) : port_(args.at(1)) {
    args.insert(args.begin(), {"bash", source_dir() + "/scripts/net-fault.sh"});
    process_ = std::make_unique<Process>(args);
    on_ = process_->read_until([](const std::string& out, const std::string&) {
      return out.find("fault on") != std::string::npos;
    }, 30s);
  }
  ~NetFault() { end(); }
  bool on() const { return on_; }
  void end() {
    if (!process_) return;
    process_->signal(SIGTERM);
    process_->wait(30s);
    process_.reset();
    run_process({"bash", source_dir() + "/scripts/net-fault.sh", "clear", port_}, 30s);
  }

 private:
  std::string port_;
  std::unique_ptr<Process> process_;
  bool on_ = false;
};

}  // namespace

TEST_CASE("a blackholed broker makes readyz 503 within 10 s, naming it, and ready again after the heal",
          "[integration][outage]") {
  BrokerGuard guard;
  const std::string topic = unique_name("blackhole");
  const int http = free_port();
  Daemon p(pipeline_args(topic, unique_name("g"),
                         {"--producer.rate=50", "--producer.count=2500",
                          "--supervisor.http_port=" + std::to_string(http)}));
  REQUIRE(p.printed(100, 60s));
  REQUIRE(eventually([&] { return http_get(http, "/readyz") == "ok\n"; }, 30s));
  auto fault = std::make_unique<NetFault>(
      std::vector<std::string>{"blackhole", std::to_string(broker_port(test_brokers()))});
  REQUIRE(fault->on());
  const auto dropped = Clock::now();
  const bool not_ready = eventually([&] {
    return http_get(http, "/readyz").find("gets no answer from a Kafka broker") != std::string::npos;
  }, 10s, 200ms);
  const auto noticed = Clock::now() - dropped;
  CHECK(not_ready);
  CHECK(http_get(http, "/livez") == "ok\n");  // nothing a restart would cure
  std::this_thread::sleep_for(5s);
  CHECK(metric_value(http_get(http, "/metrics"), "pricepipe_oldest_undelivered_seconds") >= 5);
  const std::size_t printed_before_heal = complete_lines(p.out());
  fault->end();
  const auto healed = Clock::now();
  CHECK(eventually([&] { return http_get(http, "/readyz") == "ok\n"; }, 60s, 200ms));
  const auto ready_again = Clock::now() - healed;
  CHECK(p.printed(printed_before_heal + 100, 60s));  // printing goes on
  const auto resumed = Clock::now() - healed;
  // The times go to the log for RELIABILITY.md (TCP's retransmission backoff after the heal).
  WARN("blackhole: readyz 503 after " << std::chrono::duration_cast<std::chrono::milliseconds>(noticed).count()
       << " ms; after the heal, ready in " << std::chrono::duration_cast<std::chrono::milliseconds>(ready_again).count()
       << " ms, 100 more lines printed in "
       << std::chrono::duration_cast<std::chrono::milliseconds>(resumed).count() << " ms");
  const Run r = p.wait(120s);  // the producer finishes (50 s of events), the consumer drains
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  const auto c = compare_with_topic(r.records(), test_brokers(), topic);
  INFO(c.describe());
  CHECK(c.in_topic.size() == 2500);
  CHECK(c.missing.empty());
  CHECK(c.extra.empty());
}
