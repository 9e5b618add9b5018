#pragma once
// The producer worker: generates price events at producer.rate and publishes them with an
// idempotent librdkafka producer it owns. Completes after producer.count events once every
// one is acknowledged or failed; on a stop request it stops generating, flushes within its
// bound and purges (and logs) whatever could not be delivered.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>

#include "pricepipe/config.hpp"
#include "pricepipe/metrics.hpp"
#include "pricepipe/worker.hpp"

namespace pricepipe {

class ProducerWorker final : public Worker {
 public:
  // `brokers` is the bootstrap list to connect to (the mock cluster's in embedded mode).
  // `already_generated` events count towards producer.count (earlier instances produced them).
  ProducerWorker(Config config, std::string brokers, Metrics& metrics, std::uint64_t already_generated = 0,
                 FaultInjection fault = {});
  ~ProducerWorker() override;

  // Applies generator and rate settings live (any thread). Kafka settings are not touched.
  void update_live(const Config& config);

  // After the worker completed: per partition, the offset after its last acknowledged event.
  PartitionEndOffsets end_offsets() const;

 protected:
  void run() override;

 private:
  Config config_;
  std::string brokers_;
  Metrics& metrics_;
  std::uint64_t already_generated_;
  std::mutex pending_mutex_;
  std::optional<ProducerSettings> pending_;
  std::atomic<bool> has_pending_{false};
  mutable std::mutex end_mutex_;
  PartitionEndOffsets end_offsets_;
};

}  // namespace pricepipe
