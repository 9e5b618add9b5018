// The supervisor against a real broker: restarts with backoff, the restart budget, stall
// detection, SIGHUP reloads, and /healthz following the broker. Faults are injected with
// --unsafe-fault-injection; kcat checks that nothing delivered is lost or repeated.
#include "catch_compat.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "http_probe.hpp"
#include "kafka_test_support.hpp"
#include "process.hpp"
#include "scenario.hpp"
#include "test_support.hpp"

using namespace pricepipe::test;
using namespace std::chrono_literals;

namespace {

// Printed exactly once each, and exactly what is in the topic.
void require_printed_once(const TopicComparison& c) {
  INFO(c.describe());
  CHECK(c.duplicates.empty());
  CHECK(c.missing.empty());  // the same set: nothing missing,
  CHECK(c.extra.empty());    // nothing extra
}

std::vector<long> restart_delays_ms(const std::string& err, const std::string& worker) {
  std::vector<long> delays;
  const std::regex line(worker + R"( worker failed \([^\n]*\); restarting in ([0-9]+) ms)");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), line); it != std::sregex_iterator(); ++it) {
    delays.push_back(std::stol((*it)[1]));
  }
  return delays;
}

// The shipped supervisor.conf with producer.rate set to `rate` and `extra` appended.
// pricepipe_consumer_lag samples of `topic` in Prometheus text: partition -> lag.
std::map<std::int32_t, std::int64_t> lag_of(const std::string& metrics, const std::string& topic) {
  std::map<std::int32_t, std::int64_t> lag;
  const std::regex line("pricepipe_consumer_lag\\{topic=\"" + topic + "\",partition=\"([0-9]+)\"\\} ([0-9]+)");
  for (auto it = std::sregex_iterator(metrics.begin(), metrics.end(), line); it != std::sregex_iterator(); ++it) {
    lag[std::stoi((*it)[1])] = std::stoll((*it)[2]);
  }
  return lag;
}

}  // namespace

TEST_CASE("a worker that throws is restarted with growing delays and nothing is lost", "[integration]") {
  const std::string topic = unique_name("throw");
  const auto [r, c] = run_and_compare(pipeline_args(topic, unique_name("g"),
                                                    {"--producer.rate=1000", "--producer.count=3000",
                                                     "--supervisor.backoff_initial_ms=300",
                                                     "--unsafe-fault-injection=producer:throw:200:3,consumer:throw:500:1"}),
                                      test_brokers(), topic, 180s);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto delays = restart_delays_ms(r.err, "producer");
  REQUIRE(delays.size() == 3);
  CHECK(delays[1] > delays[0]);
  CHECK(delays[2] > delays[1]);
  CHECK(restart_delays_ms(r.err, "consumer").size() == 1);
  CHECK_THAT(r.err, Catch::Contains("restart 3 of 10 in a row"));
  CHECK_THAT(r.err, Catch::Contains("producer_restarts=3 consumer_restarts=1"));
  require_printed_once(c);
  CHECK(c.in_topic.size() == 3000);
}

TEST_CASE("past the restart budget the daemon stops gracefully and exits 70", "[integration]") {
  const std::string topic = unique_name("budget");
  const auto r = run_process(pipeline_args(topic, unique_name("g"),
                                      {"--producer.rate=100", "--supervisor.backoff_initial_ms=100",
                                       "--supervisor.max_restarts=2", "--unsafe-fault-injection=producer:throw:5"}),
                             120s);
  INFO(r.err);
  CHECK(r.exit_code == 70);
  CHECK(restart_delays_ms(r.err, "producer").size() == 2);
  CHECK_THAT(r.err, Catch::Contains("out of restarts: 2 in a row, none running 60 s (supervisor.max_restarts, restart_window_s)"));
  CHECK_THAT(r.err, Catch::Contains("consumer stopped"));  // the other worker stopped gracefully
}

// [once]: the producer fails, the restart budget is the supervisor's (test/CMakeLists.txt).
TEST_CASE("a persistent failure runs out of restarts even when the delays outgrow restart_window_s",
          "[integration][once]") {
  // The budget (10 by default) counts restarts in a row: with delays that reach 2 s, a 5 s
  // window never held 10 restarts, and the daemon restarted its failing producer forever.
  const std::string topic = unique_name("budget-slow");
  const auto r = run_process(pipeline_args(topic, unique_name("g"),
                                           {"--producer.rate=100", "--supervisor.backoff_initial_ms=100",
                                            "--supervisor.backoff_max_ms=2000", "--supervisor.restart_window_s=5",
                                            "--unsafe-fault-injection=producer:throw:5"}),
                             120s);
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 70);
  CHECK(restart_delays_ms(r.err, "producer").size() == 10);
  CHECK_THAT(r.err, Catch::Contains("restart 10 of 10 in a row"));
  CHECK_THAT(r.err, Catch::Contains("out of restarts: 10 in a row, none running 5 s"));
}

TEST_CASE("a low producer.rate is not a stall, and its deliveries are counted as they come", "[integration]") {
  // One event every 4 s against a 2 s stall timeout: the producer waits in slices, serving
  // librdkafka and heartbeating, so the supervisor sees it alive and /metrics sees each
  // delivery (delivery reports used to be served every 64 events).
  const std::string topic = unique_name("slow-rate");
  const int port = free_port();
  Daemon p(pipeline_args(topic, unique_name("g"), {"--producer.rate=0.25", "--supervisor.stall_timeout_s=2",
                                                   "--supervisor.http_port=" + std::to_string(port)}));
  REQUIRE(p.printed(3, 60s));
  const auto delivered = [&] {
    const std::string metrics = http_get(port, "/metrics");
    std::smatch m;
    const std::regex sample("\npricepipe_events_delivered_total ([0-9]+)\n");
    return std::regex_search(metrics, m, sample) ? std::stol(m[1]) : -1L;
  };
  CHECK(eventually([&] { return delivered() >= 3; }, 5s));
  const auto r = p.stop(SIGTERM, 60s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("stalled") == std::string::npos);
  CHECK_THAT(r.err, Catch::Contains("producer_restarts=0 consumer_restarts=0"));
}

TEST_CASE("a closed stdout ends the daemon with exit 74, without restarts", "[integration]") {
  // `pricepipe | head -n 5`: once head has gone, every write fails with EPIPE, and no restart
  // brings the reader back.
  std::vector<std::string> argv{"bash", "-c", "\"$0\" \"$@\" | head -n 5; exit \"${PIPESTATUS[0]}\""};
  const auto args = pipeline_args(unique_name("head"), unique_name("g"), {"--producer.rate=100"});
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run_process(argv, 60s);
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 74);
  CHECK(complete_lines(r.out) == 5);
  CHECK_THAT(r.err, Catch::Contains("the reader is gone"));
  CHECK_THAT(r.err, Catch::Contains("a restart cannot cure that: stopping with exit 74"));
  CHECK(restart_delays_ms(r.err, "consumer").empty());
  CHECK_THAT(r.err, Catch::Contains("producer stopped"));  // the producer still stopped gracefully
}

TEST_CASE("a hung worker is detected by its missing heartbeat and restarted", "[integration]") {
  const std::string topic = unique_name("hang");
  const auto [r, c] = run_and_compare(pipeline_args(topic, unique_name("g"),
                                                    {"--producer.rate=1000", "--producer.count=4000",
                                                     "--supervisor.stall_timeout_s=2", "--supervisor.backoff_initial_ms=100",
                                                     "--unsafe-fault-injection=consumer:hang:1000:1,producer:hang:2000:1"}),
                                      test_brokers(), topic, 180s);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("consumer worker stalled: no heartbeat for"));
  CHECK_THAT(r.err, Catch::Contains("producer worker stalled: no heartbeat for"));
  CHECK(restart_delays_ms(r.err, "consumer").size() == 1);
  CHECK(restart_delays_ms(r.err, "producer").size() == 1);
  require_printed_once(c);
  CHECK(c.in_topic.size() == 4000);
}

TEST_CASE("SIGHUP with a new rate applies it live without restarting a worker", "[integration]") {
  const std::string topic = unique_name("hup-rate");
  // The rate comes from the file this time, so that the reload can change it.
  const std::string path = write_config("/tmp/" + unique_name("pp") + ".conf", "", 5);
  std::vector<std::string> args = pipeline_args(topic, unique_name("g"), {});
  args[2] = path;
  Daemon p(args);
  REQUIRE(p.printed(5, 60s));
  write_config(path, "", 2000);
  p.signal(SIGHUP);
  REQUIRE(p.logged("reload: applied", 30s));
  const std::size_t before = complete_lines(p.out());
  // At 5/s, 3,000 more lines would take ten minutes; at the new rate they come in seconds.
  CHECK(p.printed(before + 3000, 60s));
  const auto r = p.stop(SIGTERM, 60s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("reload: changed: producer.rate=2000"));
  CHECK_THAT(r.err, Catch::Contains("producer: applied new generator and rate settings (rate 2000/s)"));
  CHECK(r.err.find("restarted") == std::string::npos);
  CHECK_THAT(r.err, Catch::Contains("producer_restarts=0 consumer_restarts=0 reloads=1"));
  std::remove(path.c_str());
}

TEST_CASE("SIGHUP with a broken file keeps the daemon running on the old config", "[integration]") {
  const std::string topic = unique_name("hup-bad");
  const std::string path = write_config("/tmp/" + unique_name("pp") + ".conf", "");
  std::vector<std::string> args = pipeline_args(topic, unique_name("g"), {"--producer.rate=200"});
  args[2] = path;
  Daemon p(args);
  REQUIRE(p.printed(10, 60s));
  { std::ofstream(path, std::ios::app) << "\n[producer]\nspeed = fast\n"; }
  p.signal(SIGHUP);
  REQUIRE(p.logged("keeping the running configuration", 30s));
  const std::size_t before = complete_lines(p.out());
  CHECK(p.printed(before + 100, 60s));
  const auto r = p.stop(SIGTERM, 60s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains(path) && Catch::Contains("producer.speed"));
  std::remove(path.c_str());
}

TEST_CASE("50 SIGHUPs that restart both workers while events flow lose and repeat nothing", "[integration]") {
  const std::string topic = unique_name("hup-storm");
  const std::string path = "/tmp/" + unique_name("pp") + ".conf";
  const std::string variant_a = "[librdkafka]\nproducer.linger.ms = 5\nconsumer.fetch.wait.max.ms = 100\n";
  const std::string variant_b = "[librdkafka]\nproducer.linger.ms = 6\nconsumer.fetch.wait.max.ms = 101\n";
  write_config(path, variant_a);
  std::vector<std::string> args = pipeline_args(topic, unique_name("g"), {"--producer.rate=2000", "--producer.count=30000"});
  args[2] = path;
  Daemon p(args);
  REQUIRE(p.printed(1000, 60s));
  for (int i = 0; i < 50; ++i) {
    write_config(path, i % 2 == 0 ? variant_b : variant_a);
    p.signal(SIGHUP);
    std::this_thread::sleep_for(100ms);  // the storm's pace, not a wait for a condition
  }
  const auto r = p.wait(300s);
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);  // ran to the end of producer.count through every reload
  CHECK_THAT(r.err, Catch::Contains("producer restarted; consumer restarted"));
  const auto c = compare_with_topic(r.records(), test_brokers(), topic);
  require_printed_once(c);
  CHECK(c.in_topic.size() == 30000);
  std::remove(path.c_str());
}

TEST_CASE("SIGHUP with producer.enabled=false stops the producer and the consumer prints the rest", "[integration]") {
  const std::string topic = unique_name("hup-off");
  const std::string path = "/tmp/" + unique_name("pp") + ".conf";
  std::ofstream(path) << "[producer]\nrate = 500\n";
  std::vector<std::string> args = pipeline_args(topic, unique_name("g"), {});
  args[2] = path;
  Daemon p(args);
  REQUIRE(p.printed(200, 60s));
  std::ofstream(path) << "[producer]\nrate = 500\nenabled = false\n";
  p.signal(SIGHUP);
  REQUIRE(p.logged("reload: applied; producer stopped (disabled)", 60s));
  // The consumer goes on and prints everything the producer wrote.
  const auto in_topic = [&] { return kcat_read(test_brokers(), topic).size(); };
  const std::size_t written = in_topic();
  REQUIRE(p.printed(written, 60s));
  CHECK(in_topic() == written);  // nothing produced after the reload
  const auto r = p.stop(SIGTERM, 60s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, !Catch::Contains("producer restarted"));
  require_printed_once(compare_with_topic(r.records(), test_brokers(), topic));
  std::remove(path.c_str());
}

// [once]: a reload that touches no worker (test/CMakeLists.txt).
TEST_CASE("SIGHUP that moves the health endpoint to another port or turns it off restarts no worker",
          "[integration][once]") {
  const std::string topic = unique_name("hup-port");
  const std::string path = "/tmp/" + unique_name("pp") + ".conf";
  const int first = free_port();
  const int second = free_port({first});
  // The shipped file with its http_port line changed (a second [supervisor] http_port would be
  // a duplicate key) and, with `producer_on` false, its first `enabled` line: the producer's.
  const auto write_with_port = [&path](int port, bool producer_on = true) {
    write_config(path, "", 200);
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text = std::regex_replace(text, std::regex("\nhttp_port = 0\n"), "\nhttp_port = " + std::to_string(port) + "\n");
    if (!producer_on) {
      text = std::regex_replace(text, std::regex("\nenabled = true\n"), "\nenabled = false\n",
                                std::regex_constants::format_first_only);
    }
    std::ofstream(path) << text;
  };
  const auto healthz = [](int port) {
    return run_process({"curl", "-s", "http://127.0.0.1:" + std::to_string(port) + "/healthz"}, 10s).out;
  };
  const auto applied = [](const std::string& err) {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);) {
      if (line.find("reload: applied") != std::string::npos) lines.push_back(line);
    }
    return lines;
  };
  write_with_port(first);
  std::vector<std::string> args = pipeline_args(topic, unique_name("g"), {});
  args[2] = path;
  Daemon p(args);
  REQUIRE(eventually([&] { return healthz(first) == "ok\n"; }, 60s));

  write_with_port(second);
  p.signal(SIGHUP);
  REQUIRE(p.read_until([&](const std::string&, const std::string& err) { return applied(err).size() == 1; }, 30s));
  CHECK(eventually([&] { return healthz(second) == "ok\n"; }, 30s));
  CHECK_THAT(applied(p.err())[0], !Catch::Contains("restarted"));  // the clients do not depend on it

  write_with_port(0);
  p.signal(SIGHUP);
  REQUIRE(p.read_until([&](const std::string&, const std::string& err) { return applied(err).size() == 2; }, 60s));
  CHECK_THAT(applied(p.err())[1], !Catch::Contains("restarted"));  // statistics stay on without it
  CHECK(healthz(second).empty());                                   // the endpoint is gone

  // Nothing lost or repeated across the restarts: stop producing, let the consumer catch up.
  write_with_port(0, false);
  p.signal(SIGHUP);
  REQUIRE(p.read_until([&](const std::string&, const std::string& err) { return applied(err).size() == 3; }, 60s));
  const std::size_t written = kcat_read(test_brokers(), topic).size();
  REQUIRE(p.printed(written, 60s));
  const auto r = p.stop(SIGTERM, 60s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  require_printed_once(compare_with_topic(r.records(), test_brokers(), topic));
  std::remove(path.c_str());
}

TEST_CASE("readyz turns 503 within 15 s while the broker is down, livez stays 200, both 200 when it is back",
          "[integration][outage]") {
  BrokerGuard guard;
  const std::string topic = unique_name("health");
  const int port = free_port();
  const std::string port_arg = "--supervisor.http_port=" + std::to_string(port);
  Daemon p(pipeline_args(topic, unique_name("g"), {"--producer.rate=50", port_arg}));
  const auto probe = [&port_arg](const char* which) {
    return run_process({pricepipe_binary(), std::string("--health-check=") + which, port_arg}, 10s).exit_code;
  };
  const auto ready = [&] { return run_process({pricepipe_binary(), "--health-check", port_arg}, 10s).exit_code; };
  REQUIRE(eventually([&] { return ready() == 0; }, 60s));
  CHECK(probe("live") == 0);
  CHECK(http_get(port, "/readyz") == "ok\n");
  CHECK(http_get(port, "/livez") == "ok\n");
  CHECK(http_get(port, "/healthz") == "ok\n");  // the readiness alias
  kafka_sh({"stop"});
  const auto stopped = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return probe("ready") == 1; }, 30s));
  CHECK(std::chrono::steady_clock::now() - stopped < 15s);
  CHECK_THAT(http_get(port, "/readyz"), Catch::Contains("no connection to a Kafka broker"));
  CHECK_THAT(http_get(port, "/healthz"), Catch::Contains("no connection to a Kafka broker"));
  // The workers still run and heartbeat: not a reason to restart the process.
  for (int i = 0; i < 5; ++i) {
    CHECK(probe("live") == 0);
    std::this_thread::sleep_for(1s);
  }
  const std::string metrics = http_get(port, "/metrics");
  CHECK_THAT(metrics, Catch::Contains("pricepipe_healthy 0"));
  CHECK_THAT(metrics, Catch::Contains("pricepipe_live 1"));
  CHECK_THAT(metrics, Catch::Contains("pricepipe_produce_to_print_latency_seconds_count"));
  CHECK_THAT(metrics, Catch::Contains("pricepipe_worker_restarts_total{worker=\"producer\"} 0"));
  kafka_sh({"start"});
  CHECK(eventually([&] { return ready() == 0; }, 90s));
  CHECK(probe("live") == 0);
  const auto r = p.stop(SIGTERM, 60s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("consumer lag in /metrics: the kcat backlog while nothing is committed, 0 on every partition once drained",
          "[integration]") {
  const std::string topic = unique_name("lag");
  const std::string group = unique_name("g");
  // The topic (3 partitions) with 1,500 events from pricepipe (keyed, so on every partition),
  // then 1,500 more from kcat.
  const auto created =
      run_process(pipeline_args(topic, group, {"--consumer.enabled=false", "--producer.count=1500", "--producer.rate=0"}), 60s);
  REQUIRE(created.exit_code == 0);
  std::vector<std::string> backlog;
  for (int i = 0; i < 1500; ++i) backlog.push_back("{\"match\": " + std::to_string(100 + i % 900) + ", \"price\": 2.50}");
  kcat_produce(test_brokers(), topic, backlog);
  std::map<std::int32_t, std::int64_t> ends;  // per partition, the offset after the last record kcat reads
  for (const auto& rec : kcat_read(test_brokers(), topic)) ends[rec.partition] = std::max(ends[rec.partition], rec.offset + 1);
  REQUIRE(ends.size() == 3);

  // The lag counts from the group's committed offsets, so with commits held off it stays the
  // whole backlog although everything is printed.
  const int port = free_port();
  const std::string path = "/tmp/" + unique_name("pp") + ".conf";
  write_config(path, "[librdkafka]\nconsumer.auto.commit.interval.ms = 600000\n");
  std::vector<std::string> args =
      pipeline_args(topic, group, {"--producer.enabled=false", "--supervisor.http_port=" + std::to_string(port)});
  args[2] = path;
  Daemon p(args);
  REQUIRE(p.printed(3000, 60s));
  std::map<std::int32_t, std::int64_t> before;
  CHECK(eventually([&] {
    before = lag_of(http_get(port, "/metrics"), topic);
    return before == ends;
  }, 30s));
  INFO("lag " << before.size() << " partitions");
  // The reload restarts the consumer with commits every second: its graceful stop commits.
  write_config(path, "");
  p.signal(SIGHUP);
  std::map<std::int32_t, std::int64_t> after;
  CHECK(eventually([&] {
    after = lag_of(http_get(port, "/metrics"), topic);
    return after == std::map<std::int32_t, std::int64_t>{{0, 0}, {1, 0}, {2, 0}};
  }, 60s));
  CHECK(p.logged(" lag=0", 30s));          // the stats line carries the total
  CHECK(complete_lines(p.out()) == 3000);  // nothing printed twice by the restart
  const auto r = p.stop(SIGTERM, 60s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  std::remove(path.c_str());
}

TEST_CASE("with more consumers than partitions the idle one is ready and reports no lag", "[integration]") {
  const std::string topic = unique_name("idle");
  const std::string group = unique_name("g");
  const int port_a = free_port();
  const int port_b = free_port({port_a});
  const auto args = [&](int port, bool produce) {
    return pipeline_args(topic, group, {"--kafka.partitions=1", "--producer.rate=20",
                                        produce ? "--producer.enabled=true" : "--producer.enabled=false",
                                        "--supervisor.http_port=" + std::to_string(port)});
  };
  Daemon a(args(port_a, true));
  REQUIRE(eventually([&] { return lag_of(http_get(port_a, "/metrics"), topic).size() == 1; }, 60s));
  Daemon b(args(port_b, false));
  // After the rebalance exactly one of them holds partition 0; both are ready.
  CHECK(eventually([&] {
    return http_get(port_a, "/readyz") == "ok\n" && http_get(port_b, "/readyz") == "ok\n" &&
           lag_of(http_get(port_a, "/metrics"), topic).size() + lag_of(http_get(port_b, "/metrics"), topic).size() == 1;
  }, 60s));
  CHECK(a.stop(SIGTERM, 60s).exit_code == 0);
  CHECK(b.stop(SIGTERM, 60s).exit_code == 0);
}

TEST_CASE("a second SIGTERM during a slow graceful stop exits at once", "[integration][outage]") {
  // With the broker gone mid-stream, the graceful stop takes most of its bound: the producer
  // flushes until 1.5 s before it, the consumer's final commit waits half of it and its close
  // until 1.5 s before it (a stop that is left alone ends with exit 0: resilience_test.cpp).
  BrokerGuard guard;
  const std::string topic = unique_name("stop-twice");
  Daemon p(pipeline_args(topic, unique_name("g"), {"--producer.rate=500", "--supervisor.shutdown_timeout_s=60"}));
  REQUIRE(p.printed(50, 60s));
  kafka_sh({"stop"});
  REQUIRE(p.logged("all brokers are down", 60s));
  p.signal(SIGTERM);
  REQUIRE(p.logged("SIGTERM received", 30s));
  const auto r = p.stop(SIGTERM, 20s);  // far below the 60 s bound
  INFO(r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("second SIGTERM during the graceful stop"));
}
