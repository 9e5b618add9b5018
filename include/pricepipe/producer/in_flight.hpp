#pragma once
// The events the producer handed to librdkafka and has no delivery report for yet, oldest
// first: what `pricepipe_oldest_undelivered_seconds` reports. Each event gets a sequence number
// (its librdkafka msg_opaque) and the coarse monotonic time it was handed over; reports come in
// any order across partitions, and the oldest outstanding one is the first not yet reported.
// Owned by the producer thread (delivery reports run on it, inside poll and flush).

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

namespace pricepipe {

class InFlight {
 public:
  using Clock = std::chrono::steady_clock;

  // The sequence number the next event gets; call sent() once librdkafka took it.
  std::uint64_t next() const { return first_ + sent_at_.size(); }
  void sent(Clock::time_point at);
  // Its delivery report came (delivered or failed).
  void reported(std::uint64_t sequence);
  // When the oldest event without a report was handed over; nullopt when none waits.
  std::optional<Clock::time_point> oldest() const;
  std::size_t outstanding() const { return sent_at_.size() - reported_ahead_; }

  // A clock read cheap enough to take per event (CLOCK_MONOTONIC_COARSE, a few ms resolution).
  static Clock::time_point coarse_now();

 private:
  std::uint64_t first_ = 0;             // sequence number of sent_at_.front()
  std::deque<Clock::time_point> sent_at_;
  std::deque<bool> reported_;           // parallel to sent_at_
  std::size_t reported_ahead_ = 0;      // reported, behind an older one that is not
};

}  // namespace pricepipe
