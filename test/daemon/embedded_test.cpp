// End-to-end tests of the pricepipe binary on librdkafka's in-process mock cluster
// (--kafka.brokers=embedded): no broker needed. The real-broker tests live in
// test/daemon/integration_test.cpp.
#include "catch_compat.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <tuple>

#include "pricepipe/event/event.hpp"
#include "process.hpp"
#include "test_support.hpp"

using namespace pricepipe;
using namespace pricepipe::test;
using namespace std::chrono_literals;

namespace {

const std::string kBinary = PRICEPIPE_BINARY;
const std::string kShippedConfig = std::string(PRICEPIPE_SOURCE_DIR) + "/supervisor.conf";
const std::regex kEventLine(R"(\{"match":[0-9]{3},"price":[0-9]+\.[0-9]{2}\})");

std::vector<std::string> pricepipe_args(std::vector<std::string> extra) {
  std::vector<std::string> args{kBinary, "--config", kShippedConfig, "--kafka.brokers=embedded"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

TEST_CASE("1000 events produced and exactly 1000 printed with logs only on stderr", "[embedded]") {
  const auto r = run_process(
      pricepipe_args({"--producer.count=1000", "--consumer.exit_after=1000", "--producer.rate=0"}), 120s);
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  const auto lines = split_lines(r.out);
  CHECK(lines.size() == 1000);
  CHECK(r.out.back() == '\n');
  for (const auto& line : lines) {
    INFO(line);
    REQUIRE(std::regex_match(line, kEventLine));
  }
  CHECK_THAT(r.err, Catch::Contains("embedded") && Catch::Contains("testing"));
  CHECK_THAT(r.err, Catch::Contains("pricepipe stopped"));
}

TEST_CASE("envelope output prints each partition and offset once", "[embedded]") {
  const auto r = run_process(pricepipe_args({"--producer.count=1000", "--consumer.exit_after=1000",
                                             "--producer.rate=0", "--consumer.output=envelope",
                                             "--producer.seed=77"}),
                             120s);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto lines = split_lines(r.out);
  REQUIRE(lines.size() == 1000);
  const std::regex envelope(
      R"re(\{"topic":"prices-topic","partition":([0-9]+),"offset":([0-9]+),"timestamp":([0-9]+),"key":"([0-9]{3})","event":(\{"match":([0-9]{3}),"price":[0-9]+\.[0-9]{2}\})\})re");
  std::set<std::pair<int, long long>> seen;
  std::set<int> partitions;
  for (const auto& line : lines) {
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, envelope));
    CHECK(m[4] == m[6]);  // Kafka key = match
    CHECK(seen.insert({std::stoi(m[1]), std::stoll(m[2])}).second);
    partitions.insert(std::stoi(m[1]));
    CHECK(EventCodec(2).decode(m[5].str()).ok);
  }
  CHECK(seen.size() == 1000);
  CHECK(partitions.size() == 3);  // keyed by match over the default 3 partitions
}

TEST_CASE("with producer.count alone the consumer drains everything and the daemon exits 0", "[embedded]") {
  const auto r = run_process(pricepipe_args({"--producer.count=500", "--producer.rate=0"}), 120s);
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  CHECK(split_lines(r.out).size() == 500);
}

TEST_CASE("the generator is reproducible from producer.seed", "[embedded]") {
  auto run = [](const char* seed) {
    const auto r = run_process(pricepipe_args({"--producer.count=200", "--consumer.enabled=false",
                                               "--producer.rate=0", seed, "--log.level=warn"}),
                               60s);
    REQUIRE(r.exit_code == 0);
    return r.err;
  };
  // Producer-only runs print nothing; what they produce is compared through the consumer
  // runs below.
  CHECK(run("--producer.seed=5").find("error") == std::string::npos);
  auto printed = [](const char* seed) {
    const auto r = run_process(pricepipe_args({"--producer.count=300", "--consumer.exit_after=300",
                                               "--producer.rate=0", "--kafka.partitions=1", seed}),
                               60s);
    REQUIRE(r.exit_code == 0);
    return r.out;
  };
  CHECK(printed("--producer.seed=5") == printed("--producer.seed=5"));
  CHECK(printed("--producer.seed=5") != printed("--producer.seed=6"));
}

TEST_CASE("SIGTERM stops gracefully with exit 0 and only whole lines", "[embedded]") {
  Process p(pricepipe_args({"--producer.rate=2000"}));
  REQUIRE(p.read_until([](const std::string& out, const std::string&) {
    return std::count(out.begin(), out.end(), '\n') >= 200;
  }, 60s));
  p.signal(SIGTERM);
  const auto r = p.wait(30s);
  INFO(r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.back() == '\n');
  for (const auto& line : split_lines(r.out)) REQUIRE(std::regex_match(line, kEventLine));
  CHECK_THAT(r.err, Catch::Contains("SIGTERM received"));
  CHECK_THAT(r.err, Catch::Contains("producer stopped") && Catch::Contains("consumer stopped"));
}

TEST_CASE("SIGINT stops gracefully too", "[embedded]") {
  Process p(pricepipe_args({"--producer.rate=500"}));
  REQUIRE(p.read_until([](const std::string& out, const std::string&) { return !out.empty(); }, 60s));
  p.signal(SIGINT);
  const auto r = p.wait(30s);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("SIGINT received"));
}

TEST_CASE("bad command lines exit 64 and bad config files exit 78 naming the key", "[embedded]") {
  auto r = run_process({kBinary, "--producer.rate=abc"}, 10s);
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.err, Catch::Contains("producer.rate") && Catch::Contains("abc"));
  CHECK(r.out.empty());

  r = run_process({kBinary, "--no-such-flag"}, 10s);
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.err, Catch::Contains("no-such-flag"));

  const std::string bad = temp_file("pricepipe-test", "[producer]\nrate = 5\nspeed = 9\n");
  r = run_process({kBinary, "--config", bad}, 10s);
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err, Catch::Contains("producer.speed") && Catch::Contains(bad + ":3"));
  CHECK(r.out.empty());

  const std::string bad_value = temp_file("pricepipe-test", "[kafka]\npartitions = many\n");
  r = run_process({kBinary, "--config", bad_value, "--check-config"}, 10s);
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err, Catch::Contains("kafka.partitions") && Catch::Contains(bad_value + ":2"));

  r = run_process({kBinary, "--config", "/nonexistent.conf"}, 10s);
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err, Catch::Contains("/nonexistent.conf"));
  std::remove(bad.c_str());
  std::remove(bad_value.c_str());
}

TEST_CASE("check-config and help and version options", "[embedded]") {
  const std::string secret = temp_file("pricepipe-test", "[producer]\nrate = 42\n[librdkafka]\nsasl.password = hunter2\n");
  auto r = run_process({kBinary, "--config", secret, "--check-config", "--producer.count=9"}, 10s);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("rate = 42") && Catch::Contains("count = 9") &&
                        Catch::Contains("sasl.password = ***"));
  CHECK(r.out.find("hunter2") == std::string::npos);
  CHECK(r.err.find("hunter2") == std::string::npos);
  std::remove(secret.c_str());

  r = run_process({kBinary, "--help"}, 10s);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("--producer.rate") && Catch::Contains("--config"));

  r = run_process({kBinary, "--version"}, 10s);
  CHECK(r.exit_code == 0);
  // pricepipe's version and the librdkafka it runs on (the one this test is linked with).
  CHECK_THAT(r.out, Catch::StartsWith("pricepipe ") &&
                        Catch::Contains("(librdkafka " + RdKafka::version_str() + ")"));
}

namespace {

// A datagram socket standing in for systemd's NOTIFY_SOCKET.
class NotifySocket {
 public:
  NotifySocket() : path_("/tmp/pricepipe-notify-" + std::to_string(getpid())) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    unlink(path_.c_str());
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // Collects messages until one contains `wanted` or the timeout passes.
  bool wait_for(const std::string& wanted, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buffer[4096];
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) continue;
      const std::string message(buffer, static_cast<std::size_t>(n));
      messages.push_back(message);
      arrivals.push_back(std::chrono::steady_clock::now());
      if (message.find(wanted) != std::string::npos) return true;
    }
    return false;
  }
  std::vector<std::string> messages;
  std::vector<std::chrono::steady_clock::time_point> arrivals;  // when each message was read

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE("sd_notify: READY, WATCHDOG while healthy, RELOADING then READY on SIGHUP, STOPPING on SIGTERM", "[embedded]") {
  NotifySocket notify;
  std::vector<std::string> args{"env", "NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=1000000"};
  for (const auto& a : pricepipe_args({"--producer.rate=100"})) args.push_back(a);
  Process p(args);
  REQUIRE(notify.wait_for("READY=1", 60s));
  REQUIRE(notify.wait_for("WATCHDOG=1", 10s));
  REQUIRE(notify.wait_for("WATCHDOG=1", 10s));  // repeatedly, every WATCHDOG_USEC / 2
  p.signal(SIGHUP);
  REQUIRE(notify.wait_for("RELOADING=1", 10s));
  REQUIRE(notify.wait_for("READY=1", 10s));
  p.signal(SIGTERM);
  REQUIRE(notify.wait_for("STOPPING=1", 10s));
  const auto r = p.wait(30s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  // Nothing but the documented states was sent.
  for (const auto& m : notify.messages) {
    INFO(m);
    CHECK((m == "READY=1" || m == "WATCHDOG=1" || m == "RELOADING=1" || m == "STOPPING=1"));
  }
}

namespace {

// The shipped supervisor.conf with consumer.output set to `output`, at `path`.
void write_config(const std::string& path, const std::string& output) {
  std::ifstream shipped(kShippedConfig);
  const std::string text((std::istreambuf_iterator<char>(shipped)), std::istreambuf_iterator<char>());
  REQUIRE(text.find("\noutput = json\n") != std::string::npos);
  std::ofstream(path) << std::regex_replace(text, std::regex("\noutput = json\n"), "\noutput = " + output + "\n");
}

}  // namespace

TEST_CASE("sd_notify: WATCHDOG keeps coming while a reload waits for a slow worker stop", "[embedded]") {
  // A change of consumer.output restarts the consumer on SIGHUP; its first instance takes 3 s
  // more to stop (slow-stop), well within supervisor.shutdown_timeout_s.
  const std::string path = temp_file("pricepipe-test", "");
  write_config(path, "json");
  NotifySocket notify;
  std::vector<std::string> args{"env", "NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=1000000"};
  for (const auto& a : pricepipe_args({"--producer.rate=100", "--unsafe-fault-injection=consumer:slow-stop:0:1"})) {
    args.push_back(a);
  }
  std::replace(args.begin(), args.end(), kShippedConfig, path);
  Process p(args);
  REQUIRE(notify.wait_for("READY=1", 60s));
  // An event printed: the consumer ran its loop, which armed the fault.
  REQUIRE(p.read_until([](const std::string& out, const std::string&) { return out.find('\n') != std::string::npos; }, 60s));
  write_config(path, "envelope");
  p.signal(SIGHUP);
  REQUIRE(notify.wait_for("RELOADING=1", 10s));
  const std::size_t reloading = notify.messages.size() - 1;
  REQUIRE(notify.wait_for("READY=1", 30s));
  const std::size_t ready = notify.messages.size() - 1;
  p.signal(SIGTERM);
  const auto r = p.wait(30s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("injected slow stop") && Catch::Contains("reload: applied; consumer restarted"));
  // The reload did wait for the slow stop, and WATCHDOG=1 (every 0.5 s) kept coming meanwhile.
  const auto seconds = [](std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); };
  CHECK(seconds(notify.arrivals[ready] - notify.arrivals[reloading]) >= 2.5);
  double longest_gap = 0;
  for (std::size_t i = reloading + 1; i <= ready; ++i) {
    INFO(notify.messages[i]);
    if (i < ready) CHECK(notify.messages[i] == "WATCHDOG=1");
    longest_gap = std::max(longest_gap, seconds(notify.arrivals[i] - notify.arrivals[i - 1]));
  }
  CHECK(longest_gap <= 1.5);
  std::remove(path.c_str());
}

TEST_CASE("sd_notify: WATCHDOG keeps coming while a failed worker waits for its scheduled restart", "[embedded]") {
  // The consumer throws after its first event, once; its restart comes 3-4 s later (backoff
  // with jitter), longer than the watchdog's 1 s. Waiting for a scheduled restart is live
  // (/livez), and the watchdog follows liveness.
  NotifySocket notify;
  std::vector<std::string> args{"env", "NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=1000000"};
  for (const auto& a : pricepipe_args({"--producer.rate=100", "--unsafe-fault-injection=consumer:throw:1:1",
                                       "--supervisor.backoff_initial_ms=4000", "--supervisor.backoff_max_ms=4000"})) {
    args.push_back(a);
  }
  Process p(args);
  REQUIRE(notify.wait_for("READY=1", 60s));
  const auto restart_scheduled = [](const std::string&, const std::string& err) {
    return err.find("restarting in") != std::string::npos;
  };
  REQUIRE(p.read_until(restart_scheduled, 60s));
  notify.wait_for("no such message", 50ms);  // takes what was sent before
  const std::size_t failed = notify.messages.size();
  notify.wait_for("no such message", 2500ms);  // what comes in the next 2.5 s; the restart is later
  std::size_t watchdogs = 0;
  for (std::size_t i = failed; i < notify.messages.size(); ++i) watchdogs += notify.messages[i] == "WATCHDOG=1";
  CHECK(watchdogs >= 3);  // every 0.5 s
  p.signal(SIGTERM);
  const auto r = p.wait(30s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("injected") && Catch::Contains("restarting in"));
}

TEST_CASE("a supervisor.http_port that cannot be bound is a config error (78)", "[embedded]") {
  // Take a port first, then ask pricepipe for the same one.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 1) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const int port = ntohs(addr.sin_port);
  const auto r = run_process(pricepipe_args({"--supervisor.http_port=" + std::to_string(port)}), 30s);
  close(fd);
  INFO(r.err);
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err, Catch::Contains("cannot listen on port " + std::to_string(port)) &&
                        Catch::Contains("supervisor.http_port"));
}

namespace {

// How many times the log says the worker failed and is restarted.
std::size_t restarts_logged(const std::string& err, const std::string& worker) {
  const std::regex line(worker + R"( worker failed \([^\n]*restarting in [0-9]+ ms)");
  return static_cast<std::size_t>(
      std::distance(std::sregex_iterator(err.begin(), err.end(), line), std::sregex_iterator()));
}

// A consumer that throws as soon as it starts, every instance, under a budget of one restart.
std::vector<std::string> failing_consumer_args(const std::string& mode) {
  return pricepipe_args({"--supervisor.restart=" + mode, "--supervisor.max_restarts=1",
                         "--supervisor.backoff_initial_ms=50", "--supervisor.backoff_max_ms=200",
                         "--unsafe-fault-injection=consumer:throw:0"});
}

}  // namespace

TEST_CASE("supervisor.restart=always keeps restarting past the budget until SIGTERM", "[embedded]") {
  Process p(failing_consumer_args("always"));
  // Three restarts with a budget of one: the daemon is still there, restarting.
  const bool restarting = p.read_until([](const std::string&, const std::string& err) {
    return restarts_logged(err, "consumer") >= 3;
  }, 60s);
  INFO(p.err());
  REQUIRE(restarting);
  p.signal(SIGTERM);
  const auto r = p.wait(30s);
  INFO(r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("SIGTERM received"));
  CHECK_THAT(r.err, Catch::Contains("past supervisor.max_restarts=1 in a row; supervisor.restart=always"));
  CHECK(r.err.find("out of restarts") == std::string::npos);
}

TEST_CASE("supervisor.restart=on-failure exits 70 past the budget", "[embedded]") {
  const auto r = run_process(failing_consumer_args("on-failure"), 60s);
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 70);
  CHECK(restarts_logged(r.err, "consumer") == 1);
  CHECK_THAT(r.err, Catch::Contains("out of restarts: 1 in a row, none running 60 s (supervisor.max_restarts, restart_window_s)"));
}
