#include "pricepipe/consumer/lag_age.hpp"

#include <algorithm>

namespace pricepipe {

void LagAge::printed(std::int32_t partition, std::int64_t timestamp_ms) {
  Partition& p = partitions_[partition];
  p.newest_printed_ms = std::max(p.newest_printed_ms, timestamp_ms);
}

std::map<std::int32_t, double> LagAge::seconds(const std::map<std::int32_t, std::int64_t>& lag, std::int64_t now_ms) {
  std::map<std::int32_t, Partition> kept;
  std::map<std::int32_t, double> out;
  for (const auto& [partition, messages] : lag) {
    const auto known = partitions_.find(partition);
    Partition p = known != partitions_.end() ? known->second : Partition{};
    std::int64_t since = -1;
    if (messages <= 0) {
      p.lagging_since_ms = -1;
    } else {
      if (p.lagging_since_ms < 0) p.lagging_since_ms = now_ms;
      since = p.newest_printed_ms >= 0 ? p.newest_printed_ms : p.lagging_since_ms;
    }
    out[partition] = since < 0 ? 0.0 : static_cast<double>(std::max<std::int64_t>(0, now_ms - since)) / 1000;
    kept[partition] = p;
  }
  partitions_ = std::move(kept);
  return out;
}

void LagAge::forget(std::int32_t partition) { partitions_.erase(partition); }

}  // namespace pricepipe
