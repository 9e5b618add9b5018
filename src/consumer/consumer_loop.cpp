#include "pricepipe/consumer/consumer_loop.hpp"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>

#include "pricepipe/consumer/dead_letter.hpp"
#include "pricepipe/kafka/kafka.hpp"
#include "pricepipe/kafka/kafka_admin.hpp"
#include "pricepipe/kafka/kafka_handles.hpp"
#include "pricepipe/kafka/kafka_stats.hpp"
#include "pricepipe/workers/worker_context.hpp"

namespace pricepipe {
namespace {

using Clock = std::chrono::steady_clock;

// A step reads at most this many messages, or stops once this much output is held, checked
// between reads of up to kReadChunk messages each (one chunk more at most, of small lines: a
// printed event is normalised, whatever the size of the message).
constexpr std::size_t kMaxBatch = 2000;
constexpr std::size_t kMaxBatchBytes = 256 * 1024;
constexpr std::size_t kReadChunk = 500;
// How long a step waits for a message when none is there.
constexpr int kReadWaitMs = 100;
// How long one wait for the output lasts before the consumer heartbeats and looks around.
constexpr auto kWriteSlice = std::chrono::milliseconds(100);
// An output that took nothing for this long is blocked: partitions paused, readiness 503.
constexpr auto kBlockedAfter = std::chrono::seconds(1);
// How long a revoke waits for the output before leaving what is not out to the next owner.
constexpr auto kRevokeWait = std::chrono::milliseconds(500);

// Owns a vector of TopicPartition pointers.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> items;
  PartitionList() = default;
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  ~PartitionList() { RdKafka::TopicPartition::destroy(items); }
};

std::vector<std::int32_t> ids_of(const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<std::int32_t> ids;
  for (const auto* p : partitions) ids.push_back(p->partition());
  return ids;
}

enum class CommitResult { kConfirmed, kNothingStored, kFailed, kNoAnswer };

// Commits the consumer's stored offsets and waits for the broker's answer on a queue of its
// own until `deadline`, calling `wait()` between polls. A synchronous commit (commitSync) waits
// for a group coordinator without end while the brokers are gone; this one gives up. The queue
// is released either way (librdkafka keeps its own reference for a late answer). Each
// partition's result goes to `record(partition, next offset, ok)`.
CommitResult commit_stored(RdKafka::KafkaConsumer& consumer, Clock::time_point deadline,
                           const std::function<void()>& wait,
                           const std::function<void(std::int32_t, std::int64_t, bool)>& record) {
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
    wait();
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
        record(p.partition, p.offset, p.err == RD_KAFKA_RESP_ERR_NO_ERROR);
        all = all && p.err == RD_KAFKA_RESP_ERR_NO_ERROR;
      }
    }
    return all ? CommitResult::kConfirmed : CommitResult::kFailed;
  }
  return CommitResult::kNoAnswer;
}

std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// librdkafka's rebalance and commit callbacks, on the consumer thread (inside consume() or
// while closing). A failure in a rebalance is kept for the thread to rethrow after consume()
// returns, since librdkafka calls from C.
class ConsumerLoop::Callbacks : public RdKafka::RebalanceCb, public RdKafka::OffsetCommitCb {
 public:
  explicit Callbacks(ConsumerLoop& loop) : loop_(loop) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    std::string names;
    for (const auto* p : partitions) names += (names.empty() ? "" : ",") + std::to_string(p->partition());
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      spdlog::info("consumer: assigned partitions [{}]", names);
      loop_.assigned(partitions);
      if (cooperative) delete consumer->incremental_assign(partitions);
      else consumer->assign(partitions);
      // Nothing fetched while the output is blocked. librdkafka keeps a partition's pause
      // across an unassign, so one paused before a revoke is resumed explicitly when it comes back.
      if (loop_.paused_) consumer->pause(partitions);
      else consumer->resume(partitions);
      log_holding();
      return;
    }
    spdlog::info("consumer: partitions [{}] revoked{}", names,
                 err == RdKafka::ERR__REVOKE_PARTITIONS ? "" : " (" + RdKafka::err2str(err) + ")");
    try {
      loop_.revoking(partitions, err == RdKafka::ERR__REVOKE_PARTITIONS && !consumer->assignment_lost());
    } catch (const std::exception& e) {
      // The partitions still go: nothing unstored is committed, so their next owner reads it again.
      error_ = e.what();
    }
    if (cooperative) delete consumer->incremental_unassign(partitions);
    else consumer->unassign();
    log_holding();
  }

  // librdkafka's own commits (auto-commit every second, the one in close()).
  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) override {
    if (err != RdKafka::ERR_NO_ERROR) return;
    for (const auto* p : offsets) loop_.committed(p->partition(), p->offset(), p->err() == RdKafka::ERR_NO_ERROR);
  }

  const std::string& error() const { return error_; }

 private:
  // The whole assignment after a change: under the consumer group protocol (KIP-848) and
  // cooperative assignors the lines above name only the partitions that came or went.
  void log_holding() const {
    std::string names;
    for (const std::int32_t p : loop_.assignment_.partitions()) names += (names.empty() ? "" : ",") + std::to_string(p);
    spdlog::info("consumer: holding partitions [{}]", names);
  }

  ConsumerLoop& loop_;
  std::string error_;
};

ConsumerLoop::ConsumerLoop(ConsumerWorkerSettings settings, std::string brokers, Metrics& metrics, int out_fd,
                           std::uint64_t already_printed, const ProducedEnds* produced)
    : settings_(std::move(settings)),
      brokers_(std::move(brokers)),
      metrics_(metrics),
      produced_(produced),
      codec_(settings_.consumer.price_decimals),
      envelope_(settings_.consumer.output == ConsumerOutput::kEnvelope),
      output_(out_fd),
      assignment_(book_, Assignment::Hooks{[this](const std::vector<std::int32_t>& going) { release(going); },
                                           [this] { return commit_bounded("commit before the revoke"); }}),
      consumed_(metrics.consumed),
      skipped_(metrics.skipped),
      rescue_("consumer", brokers_) {
  // consumer.exit_after counts the daemon's whole run, across restarts of this worker.
  const std::uint64_t total = settings_.consumer.exit_after;
  nothing_left_ = total != 0 && total <= already_printed;
  exit_after_ = nothing_left_ ? 0 : total - std::min(total, already_printed);
}

ConsumerLoop::~ConsumerLoop() = default;

void ConsumerLoop::create_consumer() {
  events_ = std::make_unique<KafkaEventHandler>("consumer", [this](const std::string& json) { statistics(json); });
  callbacks_ = std::make_unique<Callbacks>(*this);
  auto conf = make_consumer_conf(brokers_, settings_.consumer, settings_.librdkafka);
  std::string errstr;
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(events_.get()), errstr) != RdKafka::Conf::CONF_OK ||
      conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(callbacks_.get()), errstr) !=
          RdKafka::Conf::CONF_OK ||
      conf->set("offset_commit_cb", static_cast<RdKafka::OffsetCommitCb*>(callbacks_.get()), errstr) !=
          RdKafka::Conf::CONF_OK) {
    throw KafkaError("consumer callbacks: " + errstr);
  }
  // Destroyed without librdkafka's blocking consumer close: close_within() does that, bounded.
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  if (!consumer_) throw KafkaError("cannot create the consumer: " + errstr);
  queue_ = std::make_unique<ConsumerQueue>(*consumer_);
}

bool ConsumerLoop::setup(WorkerContext& ctx) {
  ctx_ = &ctx;
  ctx.set_assigned(false);
  if (!settings_.consumer.dead_letter_topic.empty()) {
    dead_letters_ = std::make_unique<DeadLetterQueue>(settings_.consumer.dead_letter_topic, settings_.kafka,
                                                      settings_.dead_letter_librdkafka, brokers_);
  }
  create_consumer();
  const auto idle = [&ctx](int ms) {
    ctx.heartbeat();
    ctx.sleep_for(std::chrono::milliseconds(ms));
  };
  const auto keep_going = [&ctx] { return !ctx.stop_requested(); };
  const bool topic_ready = ensure_topic(*consumer_, settings_.kafka, brokers_, keep_going, idle);
  if (topic_ready) ctx.set_broker_answered();
  if (!topic_ready || (dead_letters_ && !dead_letters_->ensure_topic(keep_going, idle))) {
    close_within(Clock::now() + stop_budget());
    return false;
  }
  subscribe();
  spdlog::info("consumer started: topic {}, group {}{}, output {}{}", settings_.kafka.topic, settings_.consumer.group_id,
               settings_.consumer.instance_id.empty() ? "" : ", instance " + settings_.consumer.instance_id,
               settings_.consumer.output == ConsumerOutput::kJson ? "json" : "envelope",
               dead_letters_ ? ", dead letters to " + settings_.consumer.dead_letter_topic : "");
  return true;
}

void ConsumerLoop::subscribe() {
  const RdKafka::ErrorCode subscribed = consumer_->subscribe({settings_.kafka.topic});
  if (subscribed != RdKafka::ERR_NO_ERROR) {
    throw KafkaError("cannot subscribe to " + settings_.kafka.topic + ": " + RdKafka::err2str(subscribed));
  }
}

// Reads up to one batch, prints it, and returns true once the job is complete.
bool ConsumerLoop::step(WorkerContext& ctx) {
  if (nothing_left_) return true;
  ctx.heartbeat();
  if (dead_letters_) dead_letters_->poll(0);  // its delivery reports and errors, on an idle topic too
  if (events_->fatal() || !fatal_error_.empty()) {
    if (!instance_not_released()) {
      throw KafkaError("consumer: fatal error: " + (fatal_error_.empty() ? "(see log)" : fatal_error_));
    }
    rejoin(ctx);
    return false;
  }
  if (!callbacks_->error().empty()) throw std::runtime_error(callbacks_->error());
  read_batch();
  check_empty_share();
  const bool idle = !output_.holding() && !book_.holding();
  flush_output();
  publish_batch();
  if (exit_after_ != 0 && printed_ >= exit_after_) {
    spdlog::info("consumer: printed {} events (consumer.exit_after)", printed_);
    return true;
  }
  return idle && drained();
}

// Reads what the queue holds, in chunks, up to a batch. When it holds nothing, waits up to
// kReadWaitMs for one message, never for a whole chunk: rd_kafka_consume_batch_queue returns
// once `max` messages are there or the time is up, so waiting for 500 held every event of a
// topic at 1,000/s until the 100 ms were up (p99 101 ms instead of 2; BENCHMARKS.md, #24).
void ConsumerLoop::read_batch() {
  bool waited = false;
  std::size_t read = 0;
  while (read < kMaxBatch && output_.text().size() < kMaxBatchBytes) {
    std::size_t max = kReadChunk;
    if (exit_after_ != 0) {
      const std::uint64_t have = printed_ + output_.lines();
      if (have >= exit_after_) break;
      max = static_cast<std::size_t>(std::min<std::uint64_t>(max, exit_after_ - have));
    }
    batch_.clear();
    std::size_t n = queue_->read(0, max, batch_);
    if (n == 0 && read == 0 && !waited) {
      waited = true;
      max = 1;
      n = queue_->read(kReadWaitMs, max, batch_);
    }
    read += n;
    bool more = n == max;  // fewer: the queue is empty for now
    for (const ConsumedMessage& msg : batch_) more = take(msg) && more;
    batch_.clear();
    if (!more) break;
  }
}

bool ConsumerLoop::take(const ConsumedMessage& msg) {
  switch (msg.err()) {
    case RdKafka::ERR_NO_ERROR:
      // A batch can hold messages of partitions revoked by a rebalance served in the same
      // read, which librdkafka has not purged yet: their new owner prints them.
      if (assignment_.owns(msg.partition())) hold(msg);
      return true;
    case RdKafka::ERR__PARTITION_EOF: return true;
    case RdKafka::ERR__TIMED_OUT: return false;
    case RdKafka::ERR__FATAL: fatal_error_ = msg.errstr(); return false;  // step() acts on it
    default: spdlog::warn("consumer: {}", msg.errstr()); return false;
  }
}

// Under the consumer group protocol (KIP-848) the broker refuses a static member whose
// consumer.instance_id an earlier member still holds: a run killed without leaving the group,
// until the broker expires it (group.consumer.session.timeout.ms), or another instance with
// the same id. librdkafka makes that fatal; the classic protocol replaces the old member.
bool ConsumerLoop::instance_not_released() const {
  std::string errstr;
  return !settings_.consumer.instance_id.empty() && assignment_.partitions().empty() &&
         consumer_->fatal_error(errstr) == RdKafka::ERR_UNRELEASED_INSTANCE_ID;
}

// A new handle joins again after a backoff (1, 2, 4, 8, then every 10 s), heartbeating
// meanwhile: this is waiting for the broker, not a failure of the worker.
void ConsumerLoop::rejoin(WorkerContext& ctx) {
  const auto wait = std::chrono::seconds(std::min(10, 1 << std::min(rejoins_, 4)));
  ++rejoins_;
  spdlog::warn("consumer: the broker still holds consumer.instance_id {} for an earlier member (a run that did not "
               "leave the group, until its session times out; or another instance with this id); joining again "
               "in {} s (attempt {})",
               settings_.consumer.instance_id, wait.count(), rejoins_);
  queue_.reset();     // before its handle
  consumer_.reset();  // no close: a fatal handle has nothing to commit or leave
  fatal_error_.clear();
  const auto until = Clock::now() + wait;
  while (Clock::now() < until && !ctx.stop_requested()) {
    ctx.heartbeat();
    ctx.sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(200), until - Clock::now()));
  }
  create_consumer();
  subscribe();
}

void ConsumerLoop::hold(const ConsumedMessage& msg) {
  consumed_.add();
  ++read_;
  const DecodeResult decoded = codec_.decode(msg.payload());
  if (decoded.ok) {
    std::string& text = output_.text();
    if (envelope_) {
      codec_.encode_envelope(envelope_of(msg), decoded.event, text);
    } else if (decoded.canonical) {
      text.append(msg.payload());  // already what encode would write
    } else {
      codec_.encode(decoded.event, text);
    }
    text.push_back('\n');
    output_.mark(msg.partition(), msg.offset(), true);
    const std::int64_t ts = msg.timestamp_ms();
    if (ts >= 0) note_timestamp(msg.partition(), ts);
  } else {
    skip(msg, decoded.reason);
    output_.mark(msg.partition(), msg.offset(), false);
  }
  book_.read(msg.partition(), msg.offset());
}

EventEnvelope ConsumerLoop::envelope_of(const ConsumedMessage& msg) const {
  EventEnvelope env;
  env.topic = settings_.kafka.topic;
  env.partition = msg.partition();
  env.offset = msg.offset();
  env.timestamp_ms = msg.timestamp_ms();
  if (msg.has_key()) env.key = msg.key();
  return env;
}

void ConsumerLoop::skip(const ConsumedMessage& msg, const std::string& reason) {
  skipped_.add();
  if (dead_letters_) dead_letters_->send(msg, reason, [this] { ctx_->heartbeat(); });
  if (Clock::now() < next_bad_log_) {
    ++bad_not_logged_;
    return;
  }
  spdlog::warn("consumer: skipped bad message at partition {} offset {}: {}{}", msg.partition(), msg.offset(), reason,
               bad_not_logged_ ? fmt::format(" ({} more since the last report)", bad_not_logged_) : "");
  bad_not_logged_ = 0;
  next_bad_log_ = Clock::now() + std::chrono::seconds(1);
}

// The batch's timestamps, for the latency histogram and, per partition, the newest for the lag
// in seconds. Messages come in runs of one partition, so the newest per run is cheap to keep.
void ConsumerLoop::note_timestamp(std::int32_t partition, std::int64_t ts) {
  batch_timestamps_.push_back(ts);
  if (batch_newest_.empty() || batch_newest_.back().first != partition) {
    batch_newest_.emplace_back(partition, ts);
  } else if (ts > batch_newest_.back().second) {
    batch_newest_.back().second = ts;
  }
}

void ConsumerLoop::forget_batch_timestamps() {
  batch_timestamps_.clear();
  batch_newest_.clear();
}

void ConsumerLoop::publish_batch() {
  consumed_.publish();
  skipped_.publish();
  if (batch_timestamps_.empty()) return;
  // Produce-to-print latency: one clock read per batch, right after it was flushed.
  const std::int64_t now_ms = wall_clock_ms();
  for (const std::int64_t ts : batch_timestamps_) latency_batch_.observe_ms(now_ms - ts);
  for (const auto& [partition, ts] : batch_newest_) lag_age_.printed(partition, ts);
  forget_batch_timestamps();
  metrics_.latency.add(latency_batch_);
}

void ConsumerLoop::flush_output() {
  if (output_.failed() || !dead_letters_settled()) return;
  while (!write_output(Clock::now() + kWriteSlice)) {
    if (!wait_for_reader()) {
      give_up_output();
      break;
    }
  }
  resume();
}

bool ConsumerLoop::write_output(Clock::time_point until) {
  bool done = false;
  try {
    done = output_.write_until(until);
  } catch (...) {  // OutputError, OutputClosed
    store_written();   // what is completely out is printed
    book_.dropped();   // the rest is never stored: the next run prints it again
    throw;
  }
  store_written();
  const auto waited = output_.waited();
  add(metrics_.output_wait_us, std::chrono::duration_cast<std::chrono::microseconds>(waited - wait_counted_).count());
  wait_counted_ = waited;
  return done;
}

void ConsumerLoop::store_written() {
  const LineOutput::Written out = output_.take_written();
  add(metrics_.printed, out.lines);
  printed_ += out.lines;
  for (const auto& [partition, next] : out.next_offsets) to_store_[partition] = next;
  if (to_store_.empty()) return;
  // Only messages read while waiting for the reader can have dead letters still on their way.
  if (dead_letters_ && (dead_letters_->poll(0), dead_letters_->outstanding() > 0)) return;
  PartitionList offsets;
  for (const auto& [partition, next] : to_store_) {
    book_.printed(partition, next);
    offsets.items.push_back(RdKafka::TopicPartition::create(settings_.kafka.topic, partition, next));
  }
  to_store_.clear();
  const RdKafka::ErrorCode err = consumer_->offsets_store(offsets.items);
  if (err != RdKafka::ERR_NO_ERROR) {
    // A partition revoked meanwhile (ERR__STATE): its new owner prints from the last commit.
    spdlog::debug("consumer: storing offsets: {}", RdKafka::err2str(err));
  }
}

bool ConsumerLoop::wait_for_reader() {
  ctx_->heartbeat();
  const auto now = Clock::now();
  const auto& since = output_.waiting_since();
  const bool blocked = since && now - *since >= kBlockedAfter;
  set_output_blocked(blocked);
  if (blocked && !paused_) {
    PartitionList assigned;
    consumer_->assignment(assigned.items);
    consumer_->pause(assigned.items);
    paused_ = true;
    spdlog::warn("consumer: stdout has taken nothing for {} s ({} lines waiting); partitions paused until the "
                 "reader catches up",
                 std::chrono::duration_cast<std::chrono::seconds>(now - *since).count(), output_.lines());
  }
  if (paused_) {
    // Nothing is fetched: consume() serves the group (rebalances, max.poll.interval.ms).
    batch_.clear();
    queue_->read(0, 1, batch_);
    for (const ConsumedMessage& msg : batch_) take(msg);
    batch_.clear();
  }
  if (!ctx_->stop_requested()) return true;
  // A quarter of the stop bound: the final commit (half) and the close fit in the rest.
  return now < stopping_since() + stop_budget() / 2;
}

// For /readyz (the worker's context) and pricepipe_output_blocked (the metrics).
void ConsumerLoop::set_output_blocked(bool blocked) {
  ctx_->set_output_blocked(blocked);
  metrics_.output_blocked.store(blocked, std::memory_order_relaxed);
}

void ConsumerLoop::resume() {
  set_output_blocked(false);
  if (!paused_) return;
  paused_ = false;
  PartitionList assigned;
  consumer_->assignment(assigned.items);
  consumer_->resume(assigned.items);
  spdlog::info("consumer: stdout takes lines again; partitions resumed");
}

void ConsumerLoop::give_up_output() {
  const std::uint64_t lines = output_.lines();
  const bool torn = output_.discard();
  book_.dropped();
  forget_batch_timestamps();
  spdlog::warn("consumer: stopping while stdout takes nothing; {} lines not printed (not committed: the next run "
               "prints them){}",
               lines, torn ? "; the last line written was cut short" : "");
}

void ConsumerLoop::release(const std::vector<std::int32_t>& partitions) {
  if (output_.failed() || !dead_letters_settled()) return;
  if (write_output(Clock::now() + kRevokeWait)) return;
  const std::uint64_t before = output_.lines();
  output_.cut(std::set<std::int32_t>(partitions.begin(), partitions.end()));
  spdlog::warn("consumer: stdout is not taking lines; {} lines of the revoked partitions are left to their next owner",
               before - output_.lines());
}

bool ConsumerLoop::dead_letters_settled() {
  // Bad messages of the batch are in the dead-letter topic before anything of it counts as done.
  if (!dead_letters_ || !book_.holding() || await_dead_letters()) return true;
  drop_batch();
  return false;
}

bool ConsumerLoop::await_dead_letters() {
  dead_letters_->poll(0);
  while (dead_letters_->outstanding() > 0) {
    ctx_->heartbeat();
    // A quarter of the stop bound: the final commit (half) and the close fit in the rest.
    if ((ctx_->stop_requested() || failing_) && Clock::now() >= stopping_since() + stop_budget() / 2) {
      if (!failing_) return false;
      throw DeadLetterError(fmt::format("{} bad messages not acknowledged by the dead-letter topic in time; "
                                        "they are read again by the next run",
                                        dead_letters_->outstanding()));
    }
    dead_letters_->poll(100);
  }
  add(metrics_.dead_lettered, dead_letters_->delivered() - dead_letters_counted_);
  dead_letters_counted_ = dead_letters_->delivered();
  return true;
}

void ConsumerLoop::drop_batch() {
  spdlog::warn("consumer: {} bad messages not acknowledged by the dead-letter topic within the stop bound; "
               "the batch ({} lines) is not printed and the next run reads it again",
               dead_letters_->outstanding(), output_.lines());
  output_.discard();
  book_.dropped();
  forget_batch_timestamps();
}

ConsumerLoop::Clock::time_point ConsumerLoop::stopping_since() {
  if (!stop_seen_) stop_seen_ = Clock::now();
  return *stop_seen_;
}

bool ConsumerLoop::drained() {
  if (produced_ == nullptr || Clock::now() < next_drain_check_) return false;
  const std::optional<PartitionEndOffsets> ends = produced_->sealed();
  if (!ends) return false;
  next_drain_check_ = Clock::now() + std::chrono::milliseconds(200);
  const bool complete = caught_up(*ends);
  if (complete) spdlog::info("consumer: read everything the producer wrote");
  return complete;
}

// From local state, except for assigned partitions this run has read nothing of: their
// committed offsets come from the group coordinator, in one request bounded by 1 s, so a dead
// coordinator delays a check by at most that (the caller checks every 200 ms while idle).
bool ConsumerLoop::caught_up(const PartitionEndOffsets& ends) {
  PartitionList assigned;
  if (consumer_->assignment(assigned.items) != RdKafka::ERR_NO_ERROR || assigned.items.empty()) return false;
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
  if (consumer_->committed(unread.items, 1000) != RdKafka::ERR_NO_ERROR) return false;
  for (const auto* p : unread.items) {
    if (p->offset() < ends.at(p->partition())) return false;
  }
  return true;
}

Clock::duration ConsumerLoop::stop_budget() const {
  // Half the bound for a commit: closing and the producer's flush share the rest.
  return std::chrono::milliseconds(std::max(500, settings_.shutdown_timeout_s * 500));
}

bool ConsumerLoop::commit_bounded(const char* what) {
  const auto result = commit_stored(
      *consumer_, Clock::now() + stop_budget(), [this] { ctx_->heartbeat(); },
      [this](std::int32_t partition, std::int64_t next, bool ok) { committed(partition, next, ok); });
  if (result == CommitResult::kConfirmed || result == CommitResult::kNothingStored) return true;
  if (result == CommitResult::kNoAnswer) {
    spdlog::warn("consumer: {} not confirmed within {} ms (brokers unreachable?)", what,
                 std::chrono::duration_cast<std::chrono::milliseconds>(stop_budget()).count());
  }
  return false;
}

void ConsumerLoop::committed(std::int32_t partition, std::int64_t next, bool ok) {
  if (ok && next >= 0) book_.committed(partition, next);
}

void ConsumerLoop::statistics(const std::string& json) {
  spdlog::trace("consumer: librdkafka statistics: {}", json);
  ClientStats stats = read_stats(json, settings_.kafka.topic);
  ctx_->set_broker_reachable(stats.broker_up);
  ctx_->set_broker_silent(stats.silent_ms);
  if (consumer_) rescue_.check(stats, *consumer_);
  assignment_.keep_owned(stats.lag);
  std::map<std::int32_t, double> seconds = lag_age_.seconds(stats.lag, wall_clock_ms());
  metrics_.lag.set(settings_.kafka.topic, std::move(stats.lag), std::move(seconds));
}

// Under the consumer group protocol (KIP-848) librdkafka calls no rebalance callback for a
// member the broker gives no partitions (more members than partitions), where the classic
// protocol assigns it an empty list. Once the broker has accepted it with the same member
// epoch at two checks a second apart (an assignment on its way comes within the second),
// such a member counts as assigned, with nothing: readiness then says it is in its group, as
// it does under the classic protocol.
void ConsumerLoop::check_empty_share() {
  if (settings_.consumer.group_protocol != GroupProtocol::kConsumer || assignment_.has_assignment() ||
      Clock::now() < next_share_check_) {
    return;
  }
  next_share_check_ = Clock::now() + std::chrono::seconds(1);
  rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer_->c_ptr());
  if (group == nullptr) return;
  const std::int32_t epoch = rd_kafka_consumer_group_metadata_generation_id(group);
  rd_kafka_consumer_group_metadata_destroy(group);
  const bool settled = epoch > 0 && epoch == empty_share_epoch_;
  empty_share_epoch_ = epoch;
  if (!settled) return;
  spdlog::info("consumer: in group {} with no partitions for now (member epoch {})", settings_.consumer.group_id,
               epoch);
  assignment_.assigned({});
  ctx_->set_assigned(true);
}

void ConsumerLoop::assigned(const std::vector<RdKafka::TopicPartition*>& partitions) {
  assignment_.assigned(ids_of(partitions));
  ctx_->set_assigned(true);
}

void ConsumerLoop::revoking(const std::vector<RdKafka::TopicPartition*>& partitions, bool commit) {
  const std::vector<std::int32_t> ids = ids_of(partitions);
  for (const std::int32_t partition : ids) lag_age_.forget(partition);
  assignment_.revoking(ids, commit);
  ctx_->set_assigned(assignment_.has_assignment());
  metrics_.lag.clear();  // until the next statistics, for what is still assigned
}

void ConsumerLoop::close_within(Clock::time_point deadline) {
  assignment_.closing();
  // Closing on a queue of our own, served here, instead of close(), which waits for the group
  // coordinator without end while the brokers are gone (librdkafka #3740). What the close has
  // not finished by the deadline is abandoned: the handle is then destroyed without it.
  const std::unique_ptr<RdKafka::Queue> queue(RdKafka::Queue::create(consumer_.get()));
  const std::unique_ptr<RdKafka::Error> error(consumer_->close(queue.get()));
  if (error) {
    spdlog::warn("consumer: close: {}", error->str());
    return;
  }
  while (!consumer_->closed() && Clock::now() < deadline) {
    // consume() serves the rebalance and commit callbacks; messages still arriving are
    // dropped unprinted and unstored, so they are read again later.
    delete queue->consume(100);
    ctx_->heartbeat();
  }
  if (!consumer_->closed()) {
    spdlog::warn("consumer: leaving the group did not finish within the stop bound (brokers unreachable?); "
                 "going without it");
  }
}

void ConsumerLoop::finish(bool graceful) {
  const auto started = stopping_since();
  assignment_.lost();
  ctx_->set_assigned(false);
  // The whole stop fits in supervisor.shutdown_timeout_s, with 1.5 s to spare for the rest,
  // as the producer's flush does.
  const auto bound = std::chrono::milliseconds(settings_.shutdown_timeout_s * 1000 - 1500);
  const auto deadline = started + std::max<Clock::duration>(stop_budget(), bound);
  if (graceful) flush_output();  // everything read is printed and stored
  const bool committed = commit_bounded("final commit");
  close_within(deadline);
  metrics_.lag.clear();  // this consumer reports no partition any more
  metrics_.output_blocked.store(false, std::memory_order_relaxed);  // nor waits for stdout
  const std::uint64_t unconfirmed = book_.unconfirmed();
  if (!committed && unconfirmed > 0) {
    spdlog::warn("consumer: up to {} printed messages could not be committed; the next run prints them again",
                 unconfirmed);
  }
}

void ConsumerLoop::drain(WorkerContext& ctx, WorkerEnd end) {
  if (bad_not_logged_ > 0) {
    spdlog::warn("consumer: {} more bad messages skipped since the last report", bad_not_logged_);
    bad_not_logged_ = 0;
  }
  if (end != WorkerEnd::kFailed) {
    finish(true);
    spdlog::info("consumer stopped: {} printed", printed_);
    return;
  }
  // Failing: commit what was printed and leave the group, so the restarted worker neither
  // prints it again nor waits a session timeout for this member to expire.
  failing_ = true;
  ctx.set_assigned(false);
  metrics_.lag.clear();
  if (!events_->fatal() && fatal_error_.empty()) finish(false);
}

}  // namespace pricepipe
