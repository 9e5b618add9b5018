#pragma once
// Process-wide counters. Written by the workers (relaxed atomics, no locks on the hot path),
// read by the supervisor for the periodic log summary and, later, /metrics.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace pricepipe {

// Produce-to-print latency: the consumer's clock at print time minus the producer's timestamp
// carried in each message. Buckets in seconds, Prometheus style (cumulative on output).
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,    0.25,  0.5,    1,     2.5,   5,    10};
  // Observations one thread gathers without touching the shared histogram, added in one go.
  class Batch {
   public:
    void observe_ms(std::int64_t ms);
    bool empty() const { return count_ == 0; }

   private:
    friend class LatencyHistogram;
    std::array<std::uint64_t, kBounds.size() + 1> buckets_{};
    std::uint64_t count_ = 0;
    std::int64_t sum_ms_ = 0;
  };

  void observe_ms(std::int64_t ms, std::uint64_t n = 1);
  // Adds the batch's observations (one atomic update per bucket it touched) and empties it.
  void add(Batch& batch);
  // Prometheus text lines for `name`.
  std::string render(const std::string& name) const;
  // Estimated quantile (0..1) in seconds, interpolated within its bucket; 0 without samples.
  // As coarse as the buckets: good for "below 10 ms", not for microseconds.
  double quantile(double q) const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // last = +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::int64_t> sum_ms_{0};
};

// The consumer's lag per assigned partition of its topic (kafka_stats.hpp), in messages and in
// seconds (lag_age.hpp), as of its latest statistics. Replaced as a whole by the consumer
// thread; emptied when the consumer loses its partitions or stops, so a partition it no longer
// holds is never reported stale.
class ConsumerLag {
 public:
  struct Snapshot {
    std::string topic;
    std::map<std::int32_t, std::int64_t> partitions;
    std::map<std::int32_t, double> seconds;
  };
  void set(const std::string& topic, std::map<std::int32_t, std::int64_t> partitions,
           std::map<std::int32_t, double> seconds = {});
  void clear();
  Snapshot get() const;

 private:
  mutable std::mutex mutex_;
  Snapshot current_;
};

struct Metrics {
  std::atomic<std::uint64_t> generated{0};  // handed to librdkafka
  std::atomic<std::uint64_t> delivered{0};  // acknowledged by Kafka
  std::atomic<std::uint64_t> failed{0};     // delivery failed or purged at shutdown
  std::atomic<std::uint64_t> consumed{0};   // messages read from the topic
  std::atomic<std::uint64_t> printed{0};    // events completely written to stdout
  std::atomic<std::uint64_t> output_wait_us{0};  // time the consumer waited for stdout to take lines
  std::atomic<bool> output_blocked{false};  // stdout has taken nothing for a second or more, right now
  std::atomic<std::int64_t> oldest_undelivered_ms{0};  // age of the oldest event without a delivery report
  std::atomic<std::uint64_t> skipped{0};    // bad messages skipped
  std::atomic<std::uint64_t> dead_lettered{0};  // bad messages acknowledged by the dead-letter topic
  std::atomic<std::uint64_t> producer_restarts{0};
  std::atomic<std::uint64_t> consumer_restarts{0};
  std::atomic<std::uint64_t> reloads{0};
  LatencyHistogram latency;
  ConsumerLag lag;

  // One line: "generated=.. delivered=.. failed=.. consumed=.. printed=.. skipped=.. dead_lettered=.. ...",
  // ending with "lag=N" (summed over the assigned partitions) while the lag is known.
  std::string summary() const;
};

// Per partition, the offset after the last event the producer had acknowledged: what a consumer
// must have read past to have seen everything the producer wrote.
using PartitionEndOffsets = std::map<std::int32_t, std::int64_t>;

inline void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

// A count that one thread keeps to itself and adds to a shared counter when it publishes:
// the workers count every event, and an atomic update per event on counters that share a
// cache line with the other worker's would cost both hot loops. Publishes what is left when
// destroyed, so no exit path loses counts.
class LocalCount {
 public:
  explicit LocalCount(std::atomic<std::uint64_t>& shared) : shared_(shared) {}
  ~LocalCount() { publish(); }
  LocalCount(const LocalCount&) = delete;
  LocalCount& operator=(const LocalCount&) = delete;

  void add(std::uint64_t n = 1) { pending_ += n; }
  void publish() {
    if (pending_ == 0) return;
    pricepipe::add(shared_, pending_);
    pending_ = 0;
  }

 private:
  std::atomic<std::uint64_t>& shared_;
  std::uint64_t pending_ = 0;
};

}  // namespace pricepipe
