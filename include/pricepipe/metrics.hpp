#pragma once
// Process-wide counters. Written by the workers (relaxed atomics, no locks on the hot path),
// read by the supervisor for the periodic log summary and, later, /metrics.

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

namespace pricepipe {

struct Metrics {
  std::atomic<std::uint64_t> generated{0};  // handed to librdkafka
  std::atomic<std::uint64_t> delivered{0};  // acknowledged by Kafka
  std::atomic<std::uint64_t> failed{0};     // delivery failed or purged at shutdown
  std::atomic<std::uint64_t> consumed{0};   // messages read from the topic
  std::atomic<std::uint64_t> printed{0};    // events written and flushed to stdout
  std::atomic<std::uint64_t> skipped{0};    // bad messages skipped
  std::atomic<std::uint64_t> producer_restarts{0};
  std::atomic<std::uint64_t> consumer_restarts{0};
  std::atomic<std::uint64_t> reloads{0};

  // One line: "generated=.. delivered=.. failed=.. consumed=.. printed=.. skipped=.. ...".
  std::string summary() const;
};

// Per partition, the offset after the last event the producer had acknowledged: what a consumer
// must have read past to have seen everything the producer wrote.
using PartitionEndOffsets = std::map<std::int32_t, std::int64_t>;

inline void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace pricepipe
