#pragma once
// The consumer worker: reads the topic in consumer.group_id with a librdkafka consumer it
// owns, prints each event to an output stream (stdout in the daemon), and stores an offset
// only after the line holding it was written and flushed. Bad messages are logged with
// partition and offset, counted, copied to consumer.dead_letter_topic when set, and skipped.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "pricepipe/config.hpp"
#include "pricepipe/metrics.hpp"
#include "pricepipe/offset_book.hpp"
#include "pricepipe/worker.hpp"

namespace RdKafka {
class KafkaConsumer;
class TopicPartition;
}

namespace pricepipe {

class DeadLetterQueue;

class ConsumerWorker final : public Worker {
 public:
  // Prints to `out`, which must outlive the worker. `already_printed` events count towards
  // consumer.exit_after (earlier instances printed them).
  ConsumerWorker(Config config, std::string brokers, Metrics& metrics, std::FILE* out,
                 std::uint64_t already_printed = 0, FaultInjection fault = {});
  ~ConsumerWorker() override;

  // Complete once every assigned partition is read past `ends` (what the producer wrote when
  // it finished producer.count). Any thread.
  void drain(PartitionEndOffsets ends);

  // The rebalance callback's steps, on the worker thread. Partitions (re)assigned start from
  // their committed offset, so what this run read of them before no longer counts.
  void assigned(const std::vector<RdKafka::TopicPartition*>& partitions);
  // Before partitions go: prints and stores what is held, then (when `commit`) commits it,
  // bounded like the final commit. Throws when the output failed.
  void revoking(RdKafka::KafkaConsumer& consumer, const std::vector<RdKafka::TopicPartition*>& partitions,
                bool commit);
  // A commit result from librdkafka (auto-commit, or the commit inside close()).
  void committed(const std::vector<RdKafka::TopicPartition*>& offsets);
  // librdkafka's statistics, on the worker thread: broker reachability and the lag of the
  // assigned partitions (Metrics::lag).
  void statistics(const std::string& json);

  // A broker connection is up and the group gave this consumer its assignment (possibly
  // empty, with more consumers than partitions). Any thread.
  bool ready() const override {
    return broker_reachable() && has_assignment_.load(std::memory_order_relaxed);
  }

 protected:
  void run() override;

 private:
  class Loop;

  // Prints and flushes what is held, then stores its offsets. Throws when the output fails,
  // and after that prints and stores nothing more.
  void flush_output(RdKafka::KafkaConsumer& consumer);
  void write_out();
  bool caught_up(RdKafka::KafkaConsumer& consumer, const PartitionEndOffsets& ends);
  // How long a commit may wait, from supervisor.shutdown_timeout_s.
  Clock::duration stop_budget() const;
  // Commits the stored offsets, waiting for the answer at most stop_budget(); false when the
  // commit was not confirmed (logged).
  bool commit_bounded(RdKafka::KafkaConsumer& consumer, const char* what);
  // The end of the run: commit, leave the group, both within the stop bound, and say how
  // many printed messages could not be committed.
  void finish(RdKafka::KafkaConsumer& consumer, bool graceful);
  void close_within(RdKafka::KafkaConsumer& consumer, Clock::time_point deadline);
  // Waits until the dead-letter topic acknowledged every bad message handed to it; while
  // stopping or failing at most stop_budget(). Throws DeadLetterError.
  void await_dead_letters();

  Config config_;
  std::string brokers_;
  Metrics& metrics_;
  std::FILE* out_;
  std::uint64_t already_printed_;
  std::atomic<bool> drain_{false};
  std::mutex drain_mutex_;
  PartitionEndOffsets drain_ends_;

  // Worker thread only: lines not yet flushed, and the offsets of what they hold.
  std::string buffer_;
  std::uint64_t buffered_events_ = 0;
  OffsetBook book_;
  std::set<std::int32_t> assignment_;             // partitions assigned now
  std::atomic<bool> has_assignment_{false};       // a rebalance gave this member its share
  std::uint64_t printed_ = 0;
  std::unique_ptr<DeadLetterQueue> dead_letters_;  // consumer.dead_letter_topic, when set
  std::uint64_t dead_letters_counted_ = 0;         // of dead_letters_->delivered(), in metrics
  bool failing_ = false;                           // leaving after an error
  bool closing_ = false;                           // in close(): the revoke commits nothing itself
  bool output_failed_ = false;                     // a write to `out_` failed: print nothing more
};

}  // namespace pricepipe
