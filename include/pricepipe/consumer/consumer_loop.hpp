#pragma once
// The consumer worker's loop: reads the topic in consumer.group_id with a librdkafka consumer
// it owns, prints each event to an output stream (stdout in the daemon), and stores an offset
// only after the line holding it was written and flushed. Bad messages are logged with
// partition and offset, counted, copied to consumer.dead_letter_topic when set, and skipped.
// Runs on a WorkerThread; librdkafka calls its callbacks on that thread.

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pricepipe/consumer/assignment.hpp"
#include "pricepipe/consumer/line_output.hpp"
#include "pricepipe/consumer/offset_book.hpp"
#include "pricepipe/event/event.hpp"
#include "pricepipe/metrics/metrics.hpp"
#include "pricepipe/workers/handoff.hpp"
#include "pricepipe/workers/worker_loop.hpp"
#include "pricepipe/workers/worker_settings.hpp"

namespace pricepipe {

class DeadLetterQueue;
class KafkaEventHandler;

class ConsumerLoop final : public WorkerLoop {
 public:
  using Clock = std::chrono::steady_clock;

  // Prints to `out`, which must outlive the loop. `already_printed` events count towards
  // consumer.exit_after (earlier instances printed them). Once `produced` (if given) is sealed,
  // the job is complete when every assigned partition is read past its ends.
  ConsumerLoop(ConsumerWorkerSettings settings, std::string brokers, Metrics& metrics, std::FILE* out,
               std::uint64_t already_printed = 0, const ProducedEnds* produced = nullptr);
  ~ConsumerLoop() override;

  bool setup(WorkerContext& ctx) override;
  bool step(WorkerContext& ctx) override;
  void drain(WorkerContext& ctx, WorkerEnd end) override;
  std::uint64_t progress() const override { return read_; }

 private:
  class Callbacks;

  // Creates the consumer handle with its callbacks.
  void create_consumer();
  // Reads up to one batch into the output.
  void read_batch();
  // Decodes one message into the output, or skips it as bad; either way its offset is held
  // until the output is flushed.
  void hold(RdKafka::Message& msg);
  EventEnvelope envelope_of(RdKafka::Message& msg) const;
  void skip(RdKafka::Message& msg, const std::string& reason);
  // Publishes the batch's counters and latencies.
  void publish_batch();
  // Prints and flushes what is held, then stores its offsets. Throws when the output fails,
  // and after that prints and stores nothing more.
  void flush_output();
  // Waits until the dead-letter topic acknowledged every bad message handed to it; true when
  // it did. Once stopping or failing, at most half of stop_budget() from the stop: then false
  // when stopping, DeadLetterError when failing.
  bool await_dead_letters();
  // Forgets the held batch, printed and stored nowhere: the next run reads it again.
  void drop_batch();
  // When this consumer first saw the stop request (the stop bound counts from there).
  Clock::time_point stopping_since();
  // With the producer's ends sealed, whether every assigned partition is read past them
  // (checked at most every 200 ms).
  bool drained();
  bool caught_up(const PartitionEndOffsets& ends);
  // How long a commit may wait, from supervisor.shutdown_timeout_s.
  Clock::duration stop_budget() const;
  // Commits the stored offsets, waiting for the answer at most stop_budget(); false when the
  // commit was not confirmed (logged).
  bool commit_bounded(const char* what);
  // A commit the broker confirmed, from either commit path.
  void committed(std::int32_t partition, std::int64_t next, bool ok);
  // librdkafka's statistics: broker reachability and the lag of the assigned partitions.
  void statistics(const std::string& json);
  // The rebalance callback's halves.
  void assigned(const std::vector<RdKafka::TopicPartition*>& partitions);
  void revoking(const std::vector<RdKafka::TopicPartition*>& partitions, bool commit);
  // The end of the run: commit, leave the group, both within the stop bound, and say how
  // many printed messages could not be committed.
  void finish(bool graceful);
  void close_within(Clock::time_point deadline);

  const ConsumerWorkerSettings settings_;
  const std::string brokers_;
  Metrics& metrics_;
  const ProducedEnds* produced_;
  WorkerContext* ctx_ = nullptr;  // from setup() on; the callbacks use it
  const EventCodec codec_;
  const bool envelope_;

  OffsetBook book_;
  LineOutput output_;
  Assignment assignment_;
  std::uint64_t printed_ = 0;
  std::uint64_t read_ = 0;
  bool nothing_left_ = false;      // consumer.exit_after was reached by earlier instances
  std::uint64_t exit_after_ = 0;   // for this instance; 0 = never
  bool failing_ = false;           // ending after an error
  LocalCount consumed_;
  LocalCount skipped_;
  std::vector<std::int64_t> batch_timestamps_;  // producer timestamps of the lines in the batch
  LatencyHistogram::Batch latency_batch_;
  Clock::time_point next_bad_log_{};
  std::uint64_t bad_not_logged_ = 0;
  Clock::time_point next_drain_check_{};
  std::optional<Clock::time_point> stop_seen_;
  std::uint64_t dead_letters_counted_ = 0;  // of dead_letters_->delivered(), in metrics

  // Declared before the consumer: librdkafka calls them, and the close and the revoke inside
  // it use the dead-letter queue, until the consumer is gone.
  std::unique_ptr<DeadLetterQueue> dead_letters_;  // consumer.dead_letter_topic, when set
  std::unique_ptr<KafkaEventHandler> events_;
  std::unique_ptr<Callbacks> callbacks_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

}  // namespace pricepipe
