#pragma once
// The consumer's side of a rebalance, apart from librdkafka: which partitions it owns, and
// what happens to the offset bookkeeping when they come and go. Before partitions go,
// whatever was read from them is printed and stored (as far as the output takes it without a
// long wait), then committed (bounded), so their next
// owner does not print it again; a commit that is not confirmed is logged with how many
// printed messages the next owner prints again. Owned by the consumer thread; the hooks run
// there too, and tests give it fake ones.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "pricepipe/consumer/offset_book.hpp"

namespace pricepipe {

class Assignment {
 public:
  struct Hooks {
    // Print and store what is held, as far as the output takes it now; what it does not take
    // of the partitions going is left to their next owner. Throws when the output failed.
    std::function<void(const std::vector<std::int32_t>&)> flush;
    std::function<bool()> commit;  // commit what is stored, bounded; false when not confirmed
  };

  Assignment(OffsetBook& book, Hooks hooks) : book_(book), hooks_(std::move(hooks)) {}

  // Partitions (re)assigned start from their committed offset: what this run read of them
  // before no longer counts.
  void assigned(const std::vector<std::int32_t>& partitions);
  // Before `partitions` go. `commit` is false when they are already lost (the group moved on)
  // or while closing. Returns the printed messages of theirs not confirmed as committed, also
  // when lost (0 when the commit was confirmed, or while closing, whose own commit and final
  // count take them). Throws what the flush hook throws.
  std::uint64_t revoking(const std::vector<std::int32_t>& partitions, bool commit);
  // Inside the consumer's close, which commits by itself: revokes then neither commit nor
  // forget, so the final count of what could not be committed still sees them.
  void closing() { closing_ = true; }

  const std::set<std::int32_t>& partitions() const { return partitions_; }
  bool owns(std::int32_t partition) const { return partitions_.count(partition) != 0; }
  // Keeps the per-partition values (the lag from librdkafka's statistics) of the partitions
  // owned now, so that one revoked or never assigned is not reported.
  void keep_owned(std::map<std::int32_t, std::int64_t>& per_partition) const;
  // The group gave this member its share (possibly empty), and nothing was revoked since
  // without a new assignment.
  bool has_assignment() const { return has_assignment_; }
  // The consumer is ending: it owns nothing any more.
  void lost() { has_assignment_ = false; }

 private:
  OffsetBook& book_;
  Hooks hooks_;
  std::set<std::int32_t> partitions_;
  bool has_assignment_ = false;
  bool closing_ = false;
};

}  // namespace pricepipe
