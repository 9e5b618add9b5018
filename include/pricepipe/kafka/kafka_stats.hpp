#pragma once
// Reading librdkafka's statistics JSON (its STATISTICS.md), which each client emits every
// statistics.interval.ms (pricepipe asks for one a second): whether a broker connection is
// up, and the consumer's lag per partition.

#include <cstdint>
#include <map>
#include <string>

namespace pricepipe {

struct ClientStats {
  bool broker_up = false;  // at least one connection to a real broker (not a bootstrap entry) is UP
  // The client knows no broker at all: not one learned from metadata, not one bootstrap entry
  // (only logical ones, such as the group coordinator's). librdkafka #5301 (broker_rescue.hpp).
  // False for JSON that cannot be read.
  bool no_broker = false;
  // The longest a broker connection that is UP and has requests waiting for their response has
  // received nothing (librdkafka's rxidle), in milliseconds; 0 when none waits. A healthy
  // broker answers within a fetch's wait (500 ms) or a produce's round trip: seconds of this
  // mean a network that drops packets silently or a stuck broker, which librdkafka only gives
  // up on at socket.timeout.ms (60 s). The group coordinator's logical connection is left out:
  // a JoinGroup legitimately waits for the other members.
  std::int64_t silent_ms = 0;
  // For each partition of the topic asked for whose offsets are known: messages between the
  // end of the partition and the group's committed offset. The end is the last stable offset
  // (what a read_committed consumer can read; the high watermark without transactions). A
  // partition with nothing committed yet counts from its low watermark, where
  // auto.offset.reset=earliest starts. Partitions whose watermarks are not known yet (-1)
  // are left out, never reported as -1.
  std::map<std::int32_t, std::int64_t> lag;
};

// Unparseable or unexpected JSON gives the empty ClientStats.
ClientStats read_stats(const std::string& stats_json, const std::string& topic);

inline bool stats_show_broker_up(const std::string& stats_json) { return read_stats(stats_json, "").broker_up; }

}  // namespace pricepipe
