#include "pricepipe/consumer_worker.hpp"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>
#include <stdio_ext.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "pricepipe/dead_letter.hpp"
#include "pricepipe/event.hpp"
#include "pricepipe/kafka.hpp"
#include "pricepipe/kafka_handles.hpp"
#include "pricepipe/kafka_stats.hpp"

namespace pricepipe {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxBatch = 2000;
constexpr std::size_t kMaxBatchBytes = 256 * 1024;

// Owns a vector of TopicPartition pointers.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> items;
  PartitionList() = default;
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  ~PartitionList() { RdKafka::TopicPartition::destroy(items); }
};

enum class CommitResult { kConfirmed, kNothingStored, kFailed, kNoAnswer };

// Commits the consumer's stored offsets and waits for the broker's answer on a queue of its
// own until `deadline`, calling `wait()` between polls. A synchronous commit (commitSync) waits
// for a group coordinator without end while the brokers are gone; this one gives up. The queue
// is released either way (librdkafka keeps its own reference for a late answer). Confirmed
// offsets go to `book`.
CommitResult commit_stored(RdKafka::KafkaConsumer& consumer, OffsetBook& book, Clock::time_point deadline,
                           const std::function<void()>& wait) {
  rd_kafka_t* rk = consumer.c_ptr();
  const QueuePtr queue(rd_kafka_queue_new(rk));
  const rd_kafka_resp_err_t sent = rd_kafka_commit_queue(rk, nullptr, queue.get(), nullptr, nullptr);
  if (sent == RD_KAFKA_RESP_ERR__NO_OFFSET) return CommitResult::kNothingStored;
  if (sent != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("consumer: commit: {}", rd_kafka_err2str(sent));
    return CommitResult::kFailed;
  }
  while (Clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    const EventPtr event(
        rd_kafka_queue_poll(queue.get(), static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 100))));
    if (wait) wait();
    if (!event || rd_kafka_event_type(event.get()) != RD_KAFKA_EVENT_OFFSET_COMMIT) continue;
    const rd_kafka_resp_err_t err = rd_kafka_event_error(event.get());
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return CommitResult::kNothingStored;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("consumer: commit failed: {}", rd_kafka_err2str(err));
      return CommitResult::kFailed;
    }
    bool all = true;
    if (const rd_kafka_topic_partition_list_t* offsets = rd_kafka_event_topic_partition_list(event.get())) {
      for (int i = 0; i < offsets->cnt; ++i) {
        const rd_kafka_topic_partition_t& p = offsets->elems[i];
        if (p.err == RD_KAFKA_RESP_ERR_NO_ERROR && p.offset >= 0) book.committed(p.partition, p.offset);
        all = all && p.err == RD_KAFKA_RESP_ERR_NO_ERROR;
      }
    }
    return all ? CommitResult::kConfirmed : CommitResult::kFailed;
  }
  return CommitResult::kNoAnswer;
}

// Commit results of librdkafka's own commits (auto-commit every second, the one in close()),
// on the consumer thread.
class CommitListener : public RdKafka::OffsetCommitCb {
 public:
  explicit CommitListener(ConsumerWorker& worker) : worker_(worker) {}
  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) override {
    if (err == RdKafka::ERR_NO_ERROR) worker_.committed(offsets);
  }

 private:
  ConsumerWorker& worker_;
};

// Serves rebalances on the consumer thread (inside consume() or while closing). Before
// partitions go, whatever was read from them is printed, stored and committed, so the next
// owner does not print it again.
class Rebalancer : public RdKafka::RebalanceCb {
 public:
  explicit Rebalancer(ConsumerWorker& worker) : worker_(worker) {}
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    std::string names;
    for (const auto* p : partitions) names += (names.empty() ? "" : ",") + std::to_string(p->partition());
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      spdlog::info("consumer: assigned partitions [{}]", names);
      worker_.assigned(partitions);
      if (cooperative) delete consumer->incremental_assign(partitions);
      else consumer->assign(partitions);
      return;
    }
    spdlog::info("consumer: partitions [{}] revoked{}", names,
                 err == RdKafka::ERR__REVOKE_PARTITIONS ? "" : " (" + RdKafka::err2str(err) + ")");
    try {
      worker_.revoking(*consumer, partitions, err == RdKafka::ERR__REVOKE_PARTITIONS && !consumer->assignment_lost());
    } catch (const std::exception& e) {
      // librdkafka calls us from C; the worker thread rethrows after consume() returns. The
      // partitions still go: nothing unstored is committed, so their next owner reads it again.
      error_ = e.what();
    }
    if (cooperative) delete consumer->incremental_unassign(partitions);
    else consumer->unassign();
  }
  const std::string& error() const { return error_; }

 private:
  ConsumerWorker& worker_;
  std::string error_;
};

std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// One run of the consume loop: reads a batch, decodes and holds it, flushes it, and decides
// whether the job is done. Counters are kept here and published once per batch.
class ConsumerWorker::Loop {
 public:
  Loop(ConsumerWorker& worker, RdKafka::KafkaConsumer& consumer)
      : w_(worker),
        consumer_(consumer),
        codec_(worker.config_.producer.generator.price_decimals),
        envelope_(worker.config_.consumer.output == ConsumerOutput::kEnvelope),
        consumed_(worker.metrics_.consumed),
        skipped_(worker.metrics_.skipped) {
    // consumer.exit_after counts the daemon's whole run, across restarts of this worker.
    const std::uint64_t total = worker.config_.consumer.exit_after;
    nothing_left_ = total != 0 && total <= worker.already_printed_;
    exit_after_ = nothing_left_ ? 0 : total - std::min(total, worker.already_printed_);
  }
  ~Loop() {
    if (bad_not_logged_ > 0) {
      spdlog::warn("consumer: {} more bad messages skipped since the last report", bad_not_logged_);
    }
  }

  bool done() const { return nothing_left_; }
  std::uint64_t read() const { return read_; }

  // Reads up to one batch, prints it, and returns true once the job is complete.
  bool step() {
    read_batch();
    const bool idle = w_.buffered_events_ == 0 && !w_.book_.holding();
    w_.flush_output(consumer_);
    consumed_.publish();
    skipped_.publish();
    if (!batch_timestamps_.empty()) {
      // Produce-to-print latency: one clock read per batch, right after it was flushed.
      const std::int64_t now_ms = wall_clock_ms();
      for (const std::int64_t ts : batch_timestamps_) latency_batch_.observe_ms(now_ms - ts);
      batch_timestamps_.clear();
      w_.metrics_.latency.add(latency_batch_);
    }
    if (exit_after_ != 0 && w_.printed_ >= exit_after_) {
      spdlog::info("consumer: printed {} events (consumer.exit_after)", w_.printed_);
      return true;
    }
    return idle && drained();
  }

 private:
  void read_batch() {
    int timeout_ms = 100;
    for (int n = 0; n < kMaxBatch && w_.buffer_.size() < kMaxBatchBytes; ++n) {
      if (exit_after_ != 0 && w_.printed_ + w_.buffered_events_ >= exit_after_) break;
      std::unique_ptr<RdKafka::Message> msg(consumer_.consume(timeout_ms));
      timeout_ms = 0;
      const RdKafka::ErrorCode err = msg->err();
      if (err == RdKafka::ERR__TIMED_OUT) break;
      if (err == RdKafka::ERR_NO_ERROR) {
        hold(*msg);
      } else if (err == RdKafka::ERR__PARTITION_EOF) {
        continue;
      } else if (err == RdKafka::ERR__FATAL) {
        throw KafkaError("consumer: fatal error: " + msg->errstr());
      } else {
        spdlog::warn("consumer: {}", msg->errstr());
        break;
      }
    }
  }

  // Decodes one message into the output buffer, or skips it as bad; either way its offset is
  // held until the buffer is flushed.
  void hold(RdKafka::Message& msg) {
    const std::string_view payload(static_cast<const char*>(msg.payload()), msg.len());
    consumed_.add();
    ++read_;
    const DecodeResult decoded = codec_.decode(payload);
    if (decoded.ok) {
      if (envelope_) {
        codec_.encode_envelope(envelope_of(msg), decoded.event, w_.buffer_);
      } else {
        codec_.encode(decoded.event, w_.buffer_);
      }
      w_.buffer_.push_back('\n');
      ++w_.buffered_events_;
      const auto ts = msg.timestamp();
      if (ts.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) batch_timestamps_.push_back(ts.timestamp);
    } else {
      skip(msg, decoded.reason);
    }
    w_.book_.read(msg.partition(), msg.offset());
  }

  EventEnvelope envelope_of(RdKafka::Message& msg) const {
    EventEnvelope env;
    env.topic = w_.config_.kafka.topic;
    env.partition = msg.partition();
    env.offset = msg.offset();
    const auto ts = msg.timestamp();
    env.timestamp_ms = ts.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE ? -1 : ts.timestamp;
    if (msg.key_pointer() != nullptr) {
      env.key = std::string_view(static_cast<const char*>(msg.key_pointer()), msg.key_len());
    }
    return env;
  }

  void skip(RdKafka::Message& msg, const std::string& reason) {
    skipped_.add();
    if (w_.dead_letters_) w_.dead_letters_->send(msg, reason, [this] { w_.heartbeat(); });
    if (Clock::now() < next_bad_log_) {
      ++bad_not_logged_;
      return;
    }
    spdlog::warn("consumer: skipped bad message at partition {} offset {}: {}{}", msg.partition(), msg.offset(),
                 reason, bad_not_logged_ ? fmt::format(" ({} more since the last report)", bad_not_logged_) : "");
    bad_not_logged_ = 0;
    next_bad_log_ = Clock::now() + std::chrono::seconds(1);
  }

  // With producer.count done, whether every assigned partition is read past the producer's end
  // (checked at most every 200 ms).
  bool drained() {
    if (!w_.drain_.load(std::memory_order_acquire) || Clock::now() < next_drain_check_) return false;
    PartitionEndOffsets ends;
    {
      std::lock_guard<std::mutex> lock(w_.drain_mutex_);
      ends = w_.drain_ends_;
    }
    next_drain_check_ = Clock::now() + std::chrono::milliseconds(200);
    const bool complete = w_.caught_up(consumer_, ends);
    if (complete) spdlog::info("consumer: read everything the producer wrote");
    return complete;
  }

  ConsumerWorker& w_;
  RdKafka::KafkaConsumer& consumer_;
  const EventCodec codec_;
  const bool envelope_;
  bool nothing_left_ = false;
  std::uint64_t exit_after_ = 0;
  std::uint64_t read_ = 0;
  LocalCount consumed_;
  LocalCount skipped_;
  std::vector<std::int64_t> batch_timestamps_;  // producer timestamps of the lines in the batch
  LatencyHistogram::Batch latency_batch_;
  Clock::time_point next_bad_log_{};
  std::uint64_t bad_not_logged_ = 0;
  Clock::time_point next_drain_check_{};
};

ConsumerWorker::ConsumerWorker(Config config, std::string brokers, Metrics& metrics, std::FILE* out,
                               std::uint64_t already_printed, FaultInjection fault)
    : Worker("consumer", fault),
      config_(std::move(config)),
      brokers_(std::move(brokers)),
      metrics_(metrics),
      out_(out),
      already_printed_(already_printed) {}

ConsumerWorker::~ConsumerWorker() {
  request_stop();
  wait_until(Clock::time_point::max());
}

void ConsumerWorker::await_dead_letters() {
  dead_letters_->poll(0);
  std::optional<Clock::time_point> deadline;
  while (dead_letters_->outstanding() > 0) {
    heartbeat();
    if (stop_requested() || failing_) {
      if (!deadline) deadline = Clock::now() + stop_budget();
      if (Clock::now() >= *deadline) {
        throw DeadLetterError(fmt::format("{} bad messages not acknowledged by the dead-letter topic in time; "
                                          "they are read again by the next run",
                                          dead_letters_->outstanding()));
      }
    }
    dead_letters_->poll(100);
  }
  add(metrics_.dead_lettered, dead_letters_->delivered() - dead_letters_counted_);
  dead_letters_counted_ = dead_letters_->delivered();
}

void ConsumerWorker::flush_output(RdKafka::KafkaConsumer& consumer) {
  if (output_failed_) return;
  // Bad messages of this batch are in the dead-letter topic before anything of it counts as done.
  if (dead_letters_ && book_.holding()) await_dead_letters();
  if (!buffer_.empty()) write_out();
  add(metrics_.printed, buffered_events_);
  printed_ += buffered_events_;
  buffered_events_ = 0;
  const auto to_store = book_.printed();
  if (to_store.empty()) return;
  PartitionList offsets;
  for (const auto& [partition, next] : to_store) {
    offsets.items.push_back(RdKafka::TopicPartition::create(config_.kafka.topic, partition, next));
  }
  const RdKafka::ErrorCode err = consumer.offsets_store(offsets.items);
  if (err != RdKafka::ERR_NO_ERROR) {
    // A partition revoked meanwhile (ERR__STATE): its new owner prints from the last commit.
    spdlog::debug("consumer: storing offsets: {}", RdKafka::err2str(err));
  }
}

void ConsumerWorker::write_out() {
  const std::size_t written = std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
  if (written == buffer_.size() && std::fflush(out_) == 0) {
    buffer_.clear();
    return;
  }
  const int error = errno;
  // Part of the batch may be out, its last line torn. None of it is stored, so the next run
  // prints the whole batch again from the last commit; this instance prints nothing more, and
  // what stdio still buffers of it is discarded so that no later write repeats it.
  output_failed_ = true;
  buffer_.clear();
  buffered_events_ = 0;
  book_.dropped();
  __fpurge(out_);
  std::clearerr(out_);
  throw std::runtime_error(std::string("cannot write events to the output: ") + std::strerror(error));
}

Clock::duration ConsumerWorker::stop_budget() const {
  // Half the bound for a commit: closing and the producer's flush share the rest.
  return std::chrono::milliseconds(std::max(500, config_.supervisor.shutdown_timeout_s * 500));
}

bool ConsumerWorker::commit_bounded(RdKafka::KafkaConsumer& consumer, const char* what) {
  const auto result = commit_stored(consumer, book_, Clock::now() + stop_budget(), [this] { heartbeat(); });
  if (result == CommitResult::kConfirmed || result == CommitResult::kNothingStored) return true;
  if (result == CommitResult::kNoAnswer) {
    spdlog::warn("consumer: {} not confirmed within {} ms (brokers unreachable?)", what,
                 std::chrono::duration_cast<std::chrono::milliseconds>(stop_budget()).count());
  }
  return false;
}

void ConsumerWorker::assigned(const std::vector<RdKafka::TopicPartition*>& partitions) {
  for (const auto* p : partitions) {
    book_.forget(p->partition());
    assignment_.insert(p->partition());
  }
  has_assignment_.store(true, std::memory_order_relaxed);
}

void ConsumerWorker::revoking(RdKafka::KafkaConsumer& consumer, const std::vector<RdKafka::TopicPartition*>& partitions,
                              bool commit) {
  flush_output(consumer);
  if (commit && !closing_ && !commit_bounded(consumer, "commit before the revoke")) {
    std::uint64_t unconfirmed = 0;
    for (const auto* p : partitions) unconfirmed += book_.unconfirmed(p->partition());
    if (unconfirmed > 0) {
      spdlog::warn("consumer: up to {} messages printed from the revoked partitions are not committed; their "
                   "next owner prints them again",
                   unconfirmed);
    }
  }
  if (!closing_) {
    for (const auto* p : partitions) book_.forget(p->partition());
  }
  for (const auto* p : partitions) assignment_.erase(p->partition());
  has_assignment_.store(!assignment_.empty(), std::memory_order_relaxed);
  metrics_.lag.clear();  // until the next statistics, for what is still assigned
}

void ConsumerWorker::statistics(const std::string& json) {
  spdlog::trace("consumer: librdkafka statistics: {}", json);
  ClientStats stats = read_stats(json, config_.kafka.topic);
  set_broker_reachable(stats.broker_up);
  for (auto it = stats.lag.begin(); it != stats.lag.end();) {
    it = assignment_.count(it->first) != 0 ? std::next(it) : stats.lag.erase(it);
  }
  metrics_.lag.set(config_.kafka.topic, std::move(stats.lag));
}

void ConsumerWorker::committed(const std::vector<RdKafka::TopicPartition*>& offsets) {
  for (const auto* p : offsets) {
    if (p->err() == RdKafka::ERR_NO_ERROR && p->offset() >= 0) book_.committed(p->partition(), p->offset());
  }
}

void ConsumerWorker::drain(PartitionEndOffsets ends) {
  std::lock_guard<std::mutex> lock(drain_mutex_);
  drain_ends_ = std::move(ends);
  drain_.store(true, std::memory_order_release);
}

// From local state, except for assigned partitions this run has read nothing of: their
// committed offsets come from the group coordinator, in one request bounded by 1 s, so a dead
// coordinator delays a check by at most that (the caller checks every 200 ms while idle).
bool ConsumerWorker::caught_up(RdKafka::KafkaConsumer& consumer, const PartitionEndOffsets& ends) {
  PartitionList assigned;
  if (consumer.assignment(assigned.items) != RdKafka::ERR_NO_ERROR || assigned.items.empty()) return false;
  PartitionList unread;  // assigned partitions with events to read and none read in this run
  for (const auto* p : assigned.items) {
    const auto end = ends.find(p->partition());
    if (end == ends.end()) continue;
    const auto read = book_.read_to(p->partition());
    if (!read) {
      unread.items.push_back(RdKafka::TopicPartition::create(p->topic(), p->partition()));
    } else if (*read < end->second) {
      return false;
    }
  }
  if (unread.items.empty()) return true;
  // Taken over from another member of the group: it may have read them already.
  if (consumer.committed(unread.items, 1000) != RdKafka::ERR_NO_ERROR) return false;
  for (const auto* p : unread.items) {
    if (p->offset() < ends.at(p->partition())) return false;
  }
  return true;
}

void ConsumerWorker::close_within(RdKafka::KafkaConsumer& consumer, Clock::time_point deadline) {
  closing_ = true;
  // Closing on a queue of our own, served here, instead of close(), which waits for the group
  // coordinator without end while the brokers are gone (librdkafka #3740). What the close has
  // not finished by the deadline is abandoned: the handle is then destroyed without it.
  const std::unique_ptr<RdKafka::Queue> queue(RdKafka::Queue::create(&consumer));
  const std::unique_ptr<RdKafka::Error> error(consumer.close(queue.get()));
  if (error) {
    spdlog::warn("consumer: close: {}", error->str());
    return;
  }
  while (!consumer.closed() && Clock::now() < deadline) {
    // consume() serves the rebalance and commit callbacks; messages still arriving are
    // dropped unprinted and unstored, so they are read again later.
    delete queue->consume(100);
    heartbeat();
  }
  if (!consumer.closed()) {
    spdlog::warn("consumer: leaving the group did not finish within the stop bound (brokers unreachable?); "
                 "going without it");
  }
}

void ConsumerWorker::finish(RdKafka::KafkaConsumer& consumer, bool graceful) {
  const auto started = Clock::now();
  has_assignment_.store(false, std::memory_order_relaxed);
  // The whole stop fits in supervisor.shutdown_timeout_s, with 1.5 s to spare for the rest,
  // as the producer's flush does.
  const auto bound = std::chrono::milliseconds(config_.supervisor.shutdown_timeout_s * 1000 - 1500);
  const auto deadline = started + std::max<Clock::duration>(stop_budget(), bound);
  if (graceful) flush_output(consumer);  // everything read is printed and stored
  const bool committed = commit_bounded(consumer, "final commit");
  close_within(consumer, deadline);
  metrics_.lag.clear();  // this consumer reports no partition any more
  const std::uint64_t unconfirmed = book_.unconfirmed();
  if (!committed && unconfirmed > 0) {
    spdlog::warn("consumer: up to {} printed messages could not be committed; the next run prints them again",
                 unconfirmed);
  }
}

void ConsumerWorker::run() {
  KafkaEventHandler events("consumer", [this](const std::string& json) { statistics(json); });
  Rebalancer rebalancer(*this);
  CommitListener commits(*this);
  // Before the consumer, so that it outlives the close and the revoke inside it.
  if (!config_.consumer.dead_letter_topic.empty()) {
    dead_letters_ = std::make_unique<DeadLetterQueue>(config_, brokers_);
  }
  auto conf = make_client_conf(config_, ClientRole::kConsumer, brokers_);
  std::string errstr;
  if (conf->set("event_cb", &events, errstr) != RdKafka::Conf::CONF_OK ||
      conf->set("rebalance_cb", &rebalancer, errstr) != RdKafka::Conf::CONF_OK ||
      conf->set("offset_commit_cb", &commits, errstr) != RdKafka::Conf::CONF_OK) {
    throw KafkaError("consumer callbacks: " + errstr);
  }
  // Destroyed without librdkafka's blocking consumer close: close_within() does that, bounded.
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  if (!consumer) throw KafkaError("cannot create the consumer: " + errstr);

  const auto idle = [this](int ms) {
    heartbeat();
    sleep_for(std::chrono::milliseconds(ms));
  };
  const auto keep_going = [this] { return !stop_requested(); };
  const bool topic_ready = ensure_topic(*consumer, config_.kafka, brokers_, keep_going, idle);
  if (topic_ready) set_broker_answered();
  if (!topic_ready || (dead_letters_ && !dead_letters_->ensure_topic(keep_going, idle))) {
    close_within(*consumer, Clock::now() + stop_budget());
    return;
  }
  const RdKafka::ErrorCode subscribed = consumer->subscribe({config_.kafka.topic});
  if (subscribed != RdKafka::ERR_NO_ERROR) {
    throw KafkaError("cannot subscribe to " + config_.kafka.topic + ": " + RdKafka::err2str(subscribed));
  }
  spdlog::info("consumer started: topic {}, group {}{}, output {}{}", config_.kafka.topic, config_.consumer.group_id,
               config_.consumer.instance_id.empty() ? "" : ", instance " + config_.consumer.instance_id,
               config_.consumer.output == ConsumerOutput::kJson ? "json" : "envelope",
               dead_letters_ ? ", dead letters to " + config_.consumer.dead_letter_topic : "");

  try {
    Loop loop(*this, *consumer);
    bool completed = loop.done();
    while (!stop_requested() && !completed) {
      heartbeat();
      inject_fault(loop.read());
      if (events.fatal()) throw KafkaError("consumer: fatal librdkafka error (see log)");
      if (!rebalancer.error().empty()) throw std::runtime_error(rebalancer.error());
      completed = loop.step();
    }
  } catch (...) {
    failing_ = true;
    has_assignment_.store(false, std::memory_order_relaxed);
    metrics_.lag.clear();
    // Failing: commit what was printed and leave the group, so the restarted worker neither
    // prints it again nor waits a session timeout for this member to expire.
    if (!events.fatal()) finish(*consumer, false);
    throw;
  }
  finish(*consumer, true);
  spdlog::info("consumer stopped: {} printed", printed_);
  set_releasing();
}

}  // namespace pricepipe
