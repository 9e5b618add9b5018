// The health endpoint against clients it does not control, on the real daemon: slow clients
// (slowloris), a declared huge body, and a stop or a move of the endpoint while they hold
// connections open. The clients come from the fault harness (SlowHttpClients); probes are curl.
#include "catch_compat.hpp"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "http_probe.hpp"
#include "kafka_test_support.hpp"
#include "process.hpp"
#include "scenario.hpp"
#include "slow_http_clients.hpp"
#include "test_support.hpp"

using namespace pricepipe::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Under a sanitizer every one of the 200 connection threads runs several times slower.
const std::string kProbeSeconds = "5";
#else
const std::string kProbeSeconds = "1";  // the bound
#endif
// A connection the full listen backlog left waiting is accepted at a SYN-ACK retry (1, 2, 4, 8,
// 16 s after the first) and lives 5 s from then: the bound says the server closes them all, not
// how fast. CI saw 199 of 200 closed three times, at 60 s and at 150 s: not the time but a bug,
// a connection accepted onto the descriptor of one whose task was still ending was never cut
// (fixed; test/ops/http_connections_test.cpp).
constexpr auto kAllClosedWithin = std::chrono::seconds(150);

// [once] here: the HTTP endpoint is the same under either group protocol (test/CMakeLists.txt).
TEST_CASE("the HTTP endpoint answers /livez within 1 s with 200 slow clients open, and refuses bodies",
          "[integration][once]") {
  const std::string topic = unique_name("http-slow");
  const int port = free_port();
  Daemon p(pipeline_args(topic, unique_name("g"),
                         {"--producer.rate=100", "--supervisor.http_port=" + std::to_string(port),
                          "--supervisor.http_address=127.0.0.1"}));
  REQUIRE(p.logged("health endpoint on http://127.0.0.1:" + std::to_string(port), 30s));
  REQUIRE(eventually([&] { return http_status(port, "/livez", "5") == 200; }, 30s));
  {
    SlowHttpClients slow(port, 200, 500ms);
    REQUIRE(slow.connected() == 200);
    // The burst of 200 connections may still wait in the listen backlog, and a probe queues
    // behind them: once one is answered, all 200 were accepted and are held open (CI once saw
    // a first 1 s probe time out on a loaded machine while the backlog drained).
    REQUIRE(http_status(port, "/livez", "10") == 200);
    for (int i = 0; i < 5; ++i) {
      CHECK(http_status(port, "/livez", kProbeSeconds) == 200);
      CHECK(http_status(port, "/metrics", kProbeSeconds) == 200);
    }
    // A POST declaring a 100 GB body is answered at once and none of it is read.
    const long before = rss_kib(p.pid());
    CHECK(http_status(port, "/livez", "5", {"-X", "POST", "-H", "Content-Length: 100000000000", "-d", "x"}) == 413);
    CHECK(rss_kib(p.pid()) - before < 20 * 1024);
    // Slow clients do not stay forever: each connection lives 5 s after it was accepted (a burst
    // of 200 first waits in the listen backlog: up to about 20 s more, by SYN-ACK retries).
    eventually([&] { return slow.closed_by_server() == 200; }, kAllClosedWithin, 100ms);
    CHECK(slow.closed_by_server() == 200u);  // the count shows when it fails
  }
  CHECK(http_status(port, "/livez", "1") == 200);
  const Run r = p.stop(SIGTERM, 30s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("a stop or a move of the HTTP endpoint waits for no client", "[integration][once]") {
  const std::string topic = unique_name("http-stop");
  const int port = free_port();
  const int moved = free_port({port});
  const std::string path = "/tmp/" + unique_name("pp") + ".conf";
  std::ofstream(path) << "[supervisor]\nhttp_port = " << port << "\nshutdown_timeout_s = 5\n";
  std::vector<std::string> args = pipeline_args(topic, unique_name("g"), {"--producer.rate=100"});
  args[2] = path;
  Daemon p(args);
  REQUIRE(eventually([&] { return http_status(port, "/livez", "5") == 200; }, 30s));
  SlowHttpClients slow(port, 50, 300ms);
  REQUIRE(slow.connected() == 50);
  std::ofstream(path) << "[supervisor]\nhttp_port = " << moved << "\nshutdown_timeout_s = 5\n";
  const auto hup = Clock::now();
  p.signal(SIGHUP);
  REQUIRE(p.logged("reload: applied", 10s));
  CHECK(Clock::now() - hup < 2s);  // the old endpoint's clients were not waited for
  CHECK(http_status(moved, "/livez", "1") == 200);
  SlowHttpClients more(moved, 50, 300ms);
  p.signal(SIGTERM);
  REQUIRE(p.logged("pricepipe stopped", 10s));
  // Nothing keeps it once stopped. A stop that waited for the clients would last until the
  // server cut them at the end of their 5 s lifetime (HttpConnections::kConnectionLifetime). The
  // bound is not 1 s: under ASan on a loaded machine, LeakSanitizer's check at exit (it stops
  // every thread of the process) took over 1 s in a CI run; 0.3 s by hand beside ten busy loops.
  CHECK(p.exited_within(2500ms));
  const Run r = p.wait(30s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  std::remove(path.c_str());
}

TEST_CASE("supervisor.http_address takes numeric addresses only", "[integration][once]") {
  auto r = run_process({pricepipe_binary(), "--supervisor.http_address=localhost", "--supervisor.http_port=1"}, 30s);
  CHECK(r.exit_code == 64);  // a bad command line
  CHECK_THAT(r.err, Catch::Contains("supervisor.http_address") && Catch::Contains("a numeric IPv4 or IPv6 address"));
  const std::string path = temp_file("pricepipe-http", "[supervisor]\nhttp_address = 10.0.0.300\n");
  r = run_process({pricepipe_binary(), "--config", path}, 30s);
  CHECK(r.exit_code == 78);  // a bad config file
  CHECK_THAT(r.err, Catch::Contains("supervisor.http_address") && Catch::Contains("10.0.0.300"));
  std::remove(path.c_str());
}
