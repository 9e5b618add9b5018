#pragma once
// The supervisor owns the workers (and the embedded mock cluster), and is the only thread
// that handles signals: SIGTERM/SIGINT stop everything gracefully, SIGHUP reloads the
// config. It decides when the daemon is done and with which exit code.

#include <csignal>
#include <cstdio>
#include <memory>

#include "pricepipe/config.hpp"
#include "pricepipe/metrics.hpp"

namespace pricepipe {

class ConsumerWorker;
class MockCluster;
class ProducerWorker;

class Supervisor {
 public:
  // Events go to `out` (stdout in the daemon).
  Supervisor(ConfigLoader loader, Config config, std::FILE* out);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Runs until a signal, the work is done, or a worker fails. Returns the exit code.
  int run();

  const Metrics& metrics() const { return metrics_; }

  // Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and every thread it starts
  // afterwards) and ignores SIGPIPE. Call first thing in main, before any thread exists.
  static void block_signals();

 private:
  void start_workers();
  void reload();
  // Asks every worker to stop and waits for them within supervisor.shutdown_timeout_s.
  // Returns false when the bound passed or a second signal asked to exit at once.
  bool stop_workers();

  ConfigLoader loader_;
  Config config_;
  std::FILE* out_;
  Metrics metrics_;
  std::string brokers_;
  std::unique_ptr<MockCluster> mock_;
  std::unique_ptr<ProducerWorker> producer_;
  std::unique_ptr<ConsumerWorker> consumer_;
};

}  // namespace pricepipe
