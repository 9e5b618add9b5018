#include "pricepipe/consumer/assignment.hpp"

#include <spdlog/spdlog.h>

namespace pricepipe {

void Assignment::assigned(const std::vector<std::int32_t>& partitions) {
  for (const std::int32_t p : partitions) {
    book_.forget(p);
    partitions_.insert(p);
  }
  has_assignment_ = true;
}

std::uint64_t Assignment::revoking(const std::vector<std::int32_t>& partitions, bool commit) {
  hooks_.flush(partitions);
  std::uint64_t unconfirmed = 0;
  // A lost assignment is not committed at all: what was printed since the last confirmed
  // commit is printed again by the next owner, this run included, and the stop's final count
  // no longer sees it once the partitions are forgotten below.
  if (!closing_ && !(commit && hooks_.commit())) {
    for (const std::int32_t p : partitions) unconfirmed += book_.unconfirmed(p);
    if (unconfirmed > 0) {
      spdlog::warn("consumer: up to {} messages printed from the {} partitions are not committed; their next owner "
                   "prints them again",
                   unconfirmed, commit ? "revoked" : "lost");
    }
  }
  for (const std::int32_t p : partitions) {
    if (!closing_) book_.forget(p);
    partitions_.erase(p);
  }
  has_assignment_ = !partitions_.empty();
  return unconfirmed;
}

void Assignment::keep_owned(std::map<std::int32_t, std::int64_t>& per_partition) const {
  for (auto it = per_partition.begin(); it != per_partition.end();) {
    it = owns(it->first) ? std::next(it) : per_partition.erase(it);
  }
}

}  // namespace pricepipe
