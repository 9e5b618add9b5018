#pragma once
// The pricepipe daemon as the real-broker tests drive it: start it with a command line
// (usually pipeline_args()), wait until it has printed or logged enough, do what the test is
// about (stop the broker, send SIGHUP, ...), stop it with a signal or let it finish, and read
// the records it printed, next to what kcat reads from the topic. The waits and stops return
// what they saw and assert nothing, so each test keeps its own REQUIREs and CHECKs.
//
//   Daemon p(pipeline_args(topic, group, {"--producer.rate=1000"}));
//   REQUIRE(p.printed(1500, 60s));
//   const Run r = p.stop(SIGTERM, 30s);
//   const auto c = compare_with_topic(r.records(), test_brokers(), topic);
//
// and for a run that ends by itself (producer.count, consumer.exit_after):
//
//   const auto [r, c] = run_and_compare(pipeline_args(topic, group, {...}), test_brokers(), topic, 180s);

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "kafka_test_support.hpp"
#include "process.hpp"

namespace pricepipe::test {

// A run of the daemon that has ended: how (exit code, signal, timed out) and what it printed.
struct Run : ProcessResult {
  // The envelope records it printed: every line when it exited, only the whole lines when a
  // signal ended it (a line cut by the kill is not an event). Fails the test on a malformed line.
  std::vector<Record> records() const;
};

// The daemon running as a child process; killed when this goes out of scope still running.
class Daemon {
 public:
  explicit Daemon(const std::vector<std::string>& args);

  pid_t pid() const { return process_.pid(); }
  void signal(int sig) { process_.signal(sig); }
  // What it printed (stdout) and logged (stderr) so far.
  std::string out() const { return process_.out(); }
  std::string err() const { return process_.err(); }

  // How fast its stdout is read (see Process::read_stdout_at).
  void read_stdout_at(std::size_t bytes_per_second) { process_.read_stdout_at(bytes_per_second); }
  bool exited_within(std::chrono::milliseconds timeout) const { return process_.exited_within(timeout); }
  // Whether it has printed at least `lines` whole lines within `timeout`.
  bool printed(std::size_t lines, std::chrono::milliseconds timeout);
  // Whether its log holds `text` within `timeout`.
  bool logged(const std::string& text, std::chrono::milliseconds timeout);
  // Whether `done(out, err)` turns true within `timeout`; false as well when it exits first.
  bool read_until(const std::function<bool(const std::string&, const std::string&)>& done,
                  std::chrono::milliseconds timeout);

  // Sends `sig`, then waits for the exit like wait().
  Run stop(int sig, std::chrono::milliseconds timeout);
  // Waits up to `timeout` for it to exit; after that kills it (SIGKILL, timed_out set).
  Run wait(std::chrono::milliseconds timeout);

 private:
  Process process_;
};

// Runs the daemon with `args` until it exits by itself (killed after `timeout`).
Run run_to_exit(const std::vector<std::string>& args, std::chrono::milliseconds timeout);

// Two members of one group: `leaving` stops (SIGTERM), then `staying` runs on to its own exit
// (killed after `timeout`); both must exit 0. The takeover of the group tests.
struct Takeover {
  Run left;
  Run stayed;
};
Takeover leave_then_finish(Daemon& leaving, Daemon& staying, std::chrono::milliseconds timeout);

// A run to exit and its records next to the topic.
struct ComparedRun {
  Run run;
  TopicComparison topic;
};
// Runs the daemon with `args` until it exits (killed after `timeout`), then compares what it
// printed, together with `earlier` (records printed by earlier runs on the same topic), with
// what kcat reads from `topic` on `brokers`.
ComparedRun run_and_compare(const std::vector<std::string>& args, const std::string& brokers,
                            const std::string& topic, std::chrono::milliseconds timeout,
                            std::vector<Record> earlier = {});

}  // namespace pricepipe::test
