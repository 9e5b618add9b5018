#pragma once
// The consumer worker's loop: reads the topic in consumer.group_id with a librdkafka consumer
// it owns, prints each event to a file descriptor (stdout in the daemon), and stores an offset
// only after the line holding it was completely written. A reader that stops reading is flow
// control, not a failure: the consumer waits for it in slices, heartbeating, pauses its
// partitions once the output has taken nothing for a second (readiness then names the blocked
// output), and keeps serving librdkafka so that it stays in its group. A stop while it waits
// gives the reader a quarter of the stop bound, then leaves the lines not written to the next
// run. Bad messages are logged with
// partition and offset, counted, copied to consumer.dead_letter_topic when set, and skipped.
// Runs on a WorkerThread; librdkafka calls its callbacks on that thread.

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pricepipe/consumer/assignment.hpp"
#include "pricepipe/consumer/lag_age.hpp"
#include "pricepipe/consumer/line_output.hpp"
#include "pricepipe/consumer/offset_book.hpp"
#include "pricepipe/event/event.hpp"
#include "pricepipe/kafka/broker_rescue.hpp"
#include "pricepipe/kafka/consumer_queue.hpp"
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

  // Prints to `out_fd`, which must stay open while the loop exists. `already_printed` events count towards
  // consumer.exit_after (earlier instances printed them). Once `produced` (if given) is sealed,
  // the job is complete when every assigned partition is read past its ends.
  ConsumerLoop(ConsumerWorkerSettings settings, std::string brokers, Metrics& metrics, int out_fd,
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
  void subscribe();
  // The handle's fatal error is the broker refusing this static member's instance id, before
  // anything was assigned to it; then rejoin() replaces the handle after a backoff.
  bool instance_not_released() const;
  void rejoin(WorkerContext& ctx);
  // Reads up to one batch into the output.
  void read_batch();
  // Handles one message (or event) read; false when the batch should end (an error).
  bool take(const ConsumedMessage& msg);
  // Decodes one message into the output, or skips it as bad; either way its offset is held
  // until the output is flushed.
  void hold(const ConsumedMessage& msg);
  EventEnvelope envelope_of(const ConsumedMessage& msg) const;
  void skip(const ConsumedMessage& msg, const std::string& reason);
  // Publishes the batch's counters and latencies.
  void note_timestamp(std::int32_t partition, std::int64_t ts);
  void forget_batch_timestamps();
  void publish_batch();
  void set_output_blocked(bool blocked);
  // Prints what is held, storing the offsets of each line once it is completely out, and
  // waits for a reader that does not read (see wait_for_reader). Throws when the output
  // fails, and after that prints and stores nothing more.
  void flush_output();
  // Writes until everything held is out (true) or `until` passes, and stores what got out.
  bool write_output(Clock::time_point until);
  // Stores the offsets of the messages completely out (after their dead letters, if any).
  void store_written();
  // Between two slices of waiting for the output: heartbeat, readiness, the partitions paused
  // once the output has taken nothing for a second, librdkafka served. False once a stop has
  // waited a quarter of its bound.
  bool wait_for_reader();
  // The output takes lines again and all of them are out: partitions resumed.
  void resume();
  // A stop could not wait any longer: what is not out is forgotten, for the next run to print.
  void give_up_output();
  // Before `partitions` are revoked: prints what the output takes within a short wait; what
  // it does not take of theirs is left to their next owner.
  void release(const std::vector<std::int32_t>& partitions);
  // Waits until the dead-letter topic acknowledged every bad message handed to it; true when
  // it did. Once stopping or failing, at most half of stop_budget() from the stop: then false
  // when stopping, DeadLetterError when failing.
  bool await_dead_letters();
  // The held batch's dead letters are acknowledged (or there are none); false when a stop
  // could not wait for them, and the batch was dropped (drop_batch).
  bool dead_letters_settled();
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
  // A member of the group that the consumer protocol gives no partitions counts as assigned.
  void check_empty_share();
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
  std::string fatal_error_;        // consume() returned librdkafka's fatal error
  int rejoins_ = 0;                // handles replaced by rejoin()
  Clock::time_point next_share_check_{};  // of check_empty_share()
  std::int32_t empty_share_epoch_ = 0;    // the member epoch it saw last
  LocalCount consumed_;
  LocalCount skipped_;
  std::vector<std::int64_t> batch_timestamps_;  // producer timestamps of the lines in the batch
  std::vector<std::pair<std::int32_t, std::int64_t>> batch_newest_;  // per run of a partition, its newest
  LagAge lag_age_;
  LatencyHistogram::Batch latency_batch_;
  Clock::time_point next_bad_log_{};
  std::uint64_t bad_not_logged_ = 0;
  Clock::time_point next_drain_check_{};
  std::optional<Clock::time_point> stop_seen_;
  std::uint64_t dead_letters_counted_ = 0;  // of dead_letters_->delivered(), in metrics
  bool paused_ = false;                      // partitions paused while the output is blocked
  std::map<std::int32_t, std::int64_t> to_store_;  // out, to be stored after their dead letters
  Clock::duration wait_counted_{};           // of output_.waited(), in metrics

  // Declared before the consumer: librdkafka calls them, and the close and the revoke inside
  // it use the dead-letter queue, until the consumer is gone.
  std::unique_ptr<DeadLetterQueue> dead_letters_;  // consumer.dead_letter_topic, when set
  BrokerRescue rescue_;  // librdkafka #5301, from the statistics
  std::unique_ptr<KafkaEventHandler> events_;
  std::unique_ptr<Callbacks> callbacks_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<ConsumerQueue> queue_;  // consumer_'s, read in batches; goes before it
  std::vector<ConsumedMessage> batch_;    // what one read of queue_ returned
};

}  // namespace pricepipe
