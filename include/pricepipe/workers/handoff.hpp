#pragma once
// What the supervisor and the workers hand each other across threads, each under its own
// mutex. The supervisor owns these; every worker instance gets them by reference, so nothing
// has to reach into a running (or already destroyed) worker.

#include <atomic>
#include <mutex>
#include <optional>

#include "pricepipe/config/config.hpp"
#include "pricepipe/metrics/metrics.hpp"

namespace pricepipe {

// Generator and rate settings for the running producer, applied live after a reload.
class LiveSettings {
 public:
  // Supervisor: the newest settings win over any not yet taken.
  void post(const ProducerSettings& settings);
  // Supervisor, before a new producer starts with the current settings: drops what was posted.
  void clear();
  // Producer thread: whether anything was posted (cheap, for the per-event loop).
  bool pending() const { return pending_.load(std::memory_order_acquire); }
  // Producer thread: the posted settings, once.
  std::optional<ProducerSettings> take();

 private:
  mutable std::mutex mutex_;
  std::optional<ProducerSettings> settings_;
  std::atomic<bool> pending_{false};
};

// Per partition, the offset after the last event any producer instance got acknowledged; and,
// once the producer completed producer.count, the consumer's cue to finish when it has read
// that far (supervisor.conf: consumer exits after draining what was produced).
class ProducedEnds {
 public:
  // Producer thread, at the end of its run.
  void note(const PartitionEndOffsets& ends);
  // Supervisor: the producer completed; nothing more will be noted.
  void seal();
  // Consumer thread: the ends once sealed, else nothing.
  std::optional<PartitionEndOffsets> sealed() const;

 private:
  mutable std::mutex mutex_;
  PartitionEndOffsets ends_;
  std::atomic<bool> sealed_{false};
};

}  // namespace pricepipe
