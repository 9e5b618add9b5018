#include "scenario.hpp"

#include "catch_compat.hpp"
#include <signal.h>

namespace pricepipe::test {

std::vector<Record> Run::records() const {
  return term_signal != 0 ? parse_whole_envelopes(out) : parse_envelopes(out);
}

Daemon::Daemon(const std::vector<std::string>& args) : process_(args) {}

bool Daemon::printed(std::size_t lines, std::chrono::milliseconds timeout) {
  return process_.read_until(
      [lines](const std::string& out, const std::string&) { return complete_lines(out) >= lines; }, timeout);
}

bool Daemon::logged(const std::string& text, std::chrono::milliseconds timeout) {
  return process_.read_until(
      [&text](const std::string&, const std::string& err) { return err.find(text) != std::string::npos; }, timeout);
}

bool Daemon::read_until(const std::function<bool(const std::string&, const std::string&)>& done,
                        std::chrono::milliseconds timeout) {
  return process_.read_until(done, timeout);
}

Run Daemon::stop(int sig, std::chrono::milliseconds timeout) {
  process_.signal(sig);
  return wait(timeout);
}

Run Daemon::wait(std::chrono::milliseconds timeout) { return Run{process_.wait(timeout)}; }

Run run_to_exit(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  return Daemon(args).wait(timeout);
}

Takeover leave_then_finish(Daemon& leaving, Daemon& staying, std::chrono::milliseconds timeout) {
  Takeover t{leaving.stop(SIGTERM, std::chrono::seconds(60)), {}};
  INFO("the leaving member: " << t.left.err);
  REQUIRE(t.left.exit_code == 0);
  t.stayed = staying.wait(timeout);
  INFO("the staying member: " << t.stayed.err);
  REQUIRE_FALSE(t.stayed.timed_out);
  REQUIRE(t.stayed.exit_code == 0);
  return t;
}

ComparedRun run_and_compare(const std::vector<std::string>& args, const std::string& brokers,
                            const std::string& topic, std::chrono::milliseconds timeout,
                            std::vector<Record> earlier) {
  ComparedRun result{run_to_exit(args, timeout), {}};
  // Shown when reading the output or the topic fails, before the caller gets to its own checks.
  INFO("pricepipe stderr: " << result.run.err);
  const auto printed = result.run.records();
  earlier.insert(earlier.end(), printed.begin(), printed.end());
  result.topic = compare_with_topic(earlier, brokers, topic);
  return result;
}

}  // namespace pricepipe::test
