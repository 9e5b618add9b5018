#pragma once
// How far behind in time the consumer is on each partition of its assignment, for
// pricepipe_consumer_lag_seconds: 0 while a partition has no lag; otherwise the age of the
// newest message printed from it (now minus its Kafka timestamp), so a consumer that keeps up
// shows milliseconds and one that is stuck shows a number that grows with the clock. Before
// anything of a lagging partition is printed, the time since its lag was first seen. The lag
// counts from the committed offset (kafka_stats.hpp), so a commit that keeps failing shows as
// growing age too. Pure bookkeeping on the consumer thread; times in ms since the epoch.

#include <cstdint>
#include <map>

namespace pricepipe {

class LagAge {
 public:
  // The newest message of `partition` completely written to stdout had timestamp `ms`.
  void printed(std::int32_t partition, std::int64_t timestamp_ms);
  // Seconds behind, per partition of `lag` (messages, from the statistics), at `now_ms`.
  // Partitions not in `lag` are forgotten.
  std::map<std::int32_t, double> seconds(const std::map<std::int32_t, std::int64_t>& lag, std::int64_t now_ms);
  // The partition was revoked or lost: what its next assignment shows starts afresh.
  void forget(std::int32_t partition);

 private:
  struct Partition {
    std::int64_t newest_printed_ms = -1;  // timestamp of the newest message printed
    std::int64_t lagging_since_ms = -1;   // when its lag was first seen above 0, while it is
  };
  std::map<std::int32_t, Partition> partitions_;
};

}  // namespace pricepipe
