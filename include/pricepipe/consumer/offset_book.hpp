#pragma once
// The consumer's offset bookkeeping, per partition of its assignment: where this run began
// reading, what it read and holds until printed, what it stored after printing, and what the
// broker confirmed as committed. From it come the offsets to store after a flush, the drain
// check ("read past the end?"), and how many messages a stop that cannot commit leaves to be
// read again. Pure bookkeeping, no librdkafka; the consumer thread owns it.

#include <cstdint>
#include <map>
#include <optional>

namespace pricepipe {

class OffsetBook {
 public:
  // A message at `offset` was read; it is held until the next printed() or dropped().
  void read(std::int32_t partition, std::int64_t offset);
  // The messages of `partition` before `next` are printed (or skipped) and `next` is stored;
  // the partition is held no more once that is past everything read of it.
  void printed(std::int32_t partition, std::int64_t next);
  // The output failed: what is held is never stored, so it is read again by the next owner.
  void dropped();
  // The broker confirmed a commit of `next` (the offset after the last committed message).
  void committed(std::int32_t partition, std::int64_t next);
  // The partition was revoked, or assigned again (it restarts from its committed offset).
  void forget(std::int32_t partition);

  bool holding() const;
  // The offset after the last message read of `partition` in this run, if any was read.
  std::optional<std::int64_t> read_to(std::int32_t partition) const;
  // Messages printed (or skipped) and stored whose commit the broker has not confirmed: what
  // the next run reads again if no further commit succeeds. Offsets count, so it is an upper
  // bound where the log has gaps (compaction, transaction markers).
  std::uint64_t unconfirmed() const;
  std::uint64_t unconfirmed(std::int32_t partition) const;

 private:
  struct Partition {
    std::int64_t begin = -1;      // first offset read in this run
    std::int64_t read_to = -1;    // after the last message read
    bool held = false;            // read but not yet printed
    std::int64_t stored = -1;     // after the last message printed
    std::int64_t committed = -1;  // confirmed by the broker
  };
  std::map<std::int32_t, Partition> partitions_;
};

}  // namespace pricepipe
