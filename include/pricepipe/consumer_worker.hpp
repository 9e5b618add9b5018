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
#include <string>
#include <vector>

#include "pricepipe/config.hpp"
#include "pricepipe/metrics.hpp"
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

  // Called from the rebalance callback on the worker thread: prints and stores what is held.
  void flush_output(RdKafka::KafkaConsumer& consumer);
  // Called from the rebalance callback on the worker thread: partitions (re)assigned start
  // from their committed offset, so what this run read of them before no longer counts.
  void forget_read(const std::vector<RdKafka::TopicPartition*>& partitions);

 protected:
  void run() override;

 private:
  bool caught_up(RdKafka::KafkaConsumer& consumer, const PartitionEndOffsets& ends);
  // How long the final commit may wait, from supervisor.shutdown_timeout_s.
  Clock::duration stop_budget() const;
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

  // Worker thread only: lines not yet flushed and, per partition, the offset to store after.
  std::string buffer_;
  std::uint64_t buffered_events_ = 0;
  std::map<std::int32_t, std::int64_t> pending_offsets_;
  // Per partition, the offset after the last message read in this run.
  std::map<std::int32_t, std::int64_t> read_to_;
  std::uint64_t printed_ = 0;
  std::unique_ptr<DeadLetterQueue> dead_letters_;  // consumer.dead_letter_topic, when set
  std::uint64_t dead_letters_counted_ = 0;         // of dead_letters_->delivered(), in metrics
  bool failing_ = false;                           // leaving after an error
};

}  // namespace pricepipe
