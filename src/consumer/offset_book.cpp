#include "pricepipe/consumer/offset_book.hpp"

#include <algorithm>

namespace pricepipe {

void OffsetBook::read(std::int32_t partition, std::int64_t offset) {
  Partition& p = partitions_[partition];
  if (p.begin < 0) p.begin = offset;
  p.read_to = offset + 1;
  p.held = true;
}

void OffsetBook::printed(std::int32_t partition, std::int64_t next) {
  const auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;  // revoked meanwhile
  Partition& p = it->second;
  p.stored = std::max(p.stored, next);
  p.held = p.read_to > p.stored;
}

void OffsetBook::dropped() {
  for (auto& [partition, p] : partitions_) p.held = false;
}

void OffsetBook::committed(std::int32_t partition, std::int64_t next) {
  const auto it = partitions_.find(partition);
  if (it != partitions_.end()) it->second.committed = std::max(it->second.committed, next);
}

void OffsetBook::forget(std::int32_t partition) { partitions_.erase(partition); }

bool OffsetBook::holding() const {
  return std::any_of(partitions_.begin(), partitions_.end(), [](const auto& entry) { return entry.second.held; });
}

std::optional<std::int64_t> OffsetBook::read_to(std::int32_t partition) const {
  const auto it = partitions_.find(partition);
  if (it == partitions_.end() || it->second.read_to < 0) return std::nullopt;
  return it->second.read_to;
}

std::uint64_t OffsetBook::unconfirmed() const {
  std::uint64_t total = 0;
  for (const auto& entry : partitions_) total += unconfirmed(entry.first);
  return total;
}

std::uint64_t OffsetBook::unconfirmed(std::int32_t partition) const {
  const auto it = partitions_.find(partition);
  if (it == partitions_.end() || it->second.stored < 0) return 0;
  const Partition& p = it->second;
  const std::int64_t base = std::max(p.begin, p.committed);
  return p.stored > base ? static_cast<std::uint64_t>(p.stored - base) : 0;
}

}  // namespace pricepipe
