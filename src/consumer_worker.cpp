#include "pricepipe/consumer_worker.hpp"

#include <spdlog/spdlog.h>

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

// Counts offset commit results; librdkafka calls it on the consumer thread inside consume().
class CommitWaiter : public RdKafka::OffsetCommitCb {
 public:
  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>&) override {
    last_ = err;
    ++done_;
  }
  std::uint64_t done() const { return done_; }
  RdKafka::ErrorCode last() const { return last_; }

 private:
  std::uint64_t done_ = 0;
  RdKafka::ErrorCode last_ = RdKafka::ERR_NO_ERROR;
};

// Commits the stored offsets and waits for the answer until `deadline`: a synchronous commit
// would wait for a group coordinator without end while the brokers are gone, and the stop
// must stay within supervisor.shutdown_timeout_s. Messages fetched meanwhile are dropped
// unprinted and unstored, so they are read again later.
void commit_within(RdKafka::KafkaConsumer& consumer, const CommitWaiter& commits, Clock::time_point deadline) {
  const std::uint64_t before = commits.done();
  const RdKafka::ErrorCode err = consumer.commitAsync();
  if (err == RdKafka::ERR__NO_OFFSET) return;
  if (err != RdKafka::ERR_NO_ERROR) {
    spdlog::warn("consumer: final commit: {}", RdKafka::err2str(err));
    return;
  }
  while (commits.done() == before && Clock::now() < deadline) {
    delete consumer.consume(100);
  }
  if (commits.done() == before) {
    spdlog::warn("consumer: final commit not confirmed in time (brokers unreachable?); events printed "
                 "since the last commit will be printed again by the next run");
  } else if (commits.last() != RdKafka::ERR_NO_ERROR && commits.last() != RdKafka::ERR__NO_OFFSET) {
    spdlog::warn("consumer: final commit failed: {}", RdKafka::err2str(commits.last()));
  }
}

// Serves rebalances on the consumer thread (inside consume()/close()). Before partitions go,
// whatever was read from them is printed, stored and committed, so the next owner does not
// print it again.
class Rebalancer : public RdKafka::RebalanceCb {
 public:
  explicit Rebalancer(ConsumerWorker& worker) : worker_(worker) {}
  // Set once the final commit was made: the revoke inside close() must not commit again
  // synchronously (it could wait for a coordinator that is gone).
  void closing() { closing_ = true; }
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    std::string names;
    for (const auto* p : partitions) names += (names.empty() ? "" : ",") + std::to_string(p->partition());
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      spdlog::info("consumer: assigned partitions [{}]", names);
      worker_.forget_read(partitions);
      if (cooperative) delete consumer->incremental_assign(partitions);
      else consumer->assign(partitions);
      return;
    }
    spdlog::info("consumer: partitions [{}] revoked{}", names,
                 err == RdKafka::ERR__REVOKE_PARTITIONS ? "" : " (" + RdKafka::err2str(err) + ")");
    bool flushed = false;
    try {
      worker_.flush_output(*consumer);
      flushed = true;
    } catch (const std::exception& e) {
      // librdkafka calls us from C; the worker thread rethrows after consume() returns. The
      // partitions still go: nothing unstored is committed, so their next owner reads it again.
      error_ = e.what();
    }
    if (flushed && err == RdKafka::ERR__REVOKE_PARTITIONS && !consumer->assignment_lost() && !closing_) {
      const RdKafka::ErrorCode commit = consumer->commitSync();
      if (commit != RdKafka::ERR_NO_ERROR && commit != RdKafka::ERR__NO_OFFSET) {
        spdlog::warn("consumer: commit before revoke failed: {}", RdKafka::err2str(commit));
      }
    }
    if (cooperative) delete consumer->incremental_unassign(partitions);
    else consumer->unassign();
  }
  const std::string& error() const { return error_; }

 private:
  ConsumerWorker& worker_;
  std::string error_;
  bool closing_ = false;
};

}  // namespace

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
  // Bad messages of this batch are in the dead-letter topic before anything of it counts as done.
  if (dead_letters_ && !pending_offsets_.empty()) await_dead_letters();
  if (!buffer_.empty()) {
    const std::size_t written = std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
    if (written != buffer_.size() || std::fflush(out_) != 0) {
      // Nothing of this batch is stored, so it is printed again after a restart.
      throw std::runtime_error(std::string("cannot write events to the output: ") + std::strerror(errno));
    }
    buffer_.clear();
  }
  add(metrics_.printed, buffered_events_);
  printed_ += buffered_events_;
  buffered_events_ = 0;
  if (pending_offsets_.empty()) return;
  PartitionList offsets;
  for (const auto& [partition, next] : pending_offsets_) {
    offsets.items.push_back(RdKafka::TopicPartition::create(config_.kafka.topic, partition, next));
  }
  pending_offsets_.clear();
  const RdKafka::ErrorCode err = consumer.offsets_store(offsets.items);
  if (err != RdKafka::ERR_NO_ERROR) {
    // A partition revoked meanwhile (ERR__STATE): its new owner prints from the last commit.
    spdlog::debug("consumer: storing offsets: {}", RdKafka::err2str(err));
  }
}

Clock::duration ConsumerWorker::stop_budget() const {
  // Half the bound for the commit: close() and the producer's flush share the rest.
  return std::chrono::milliseconds(std::max(500, config_.supervisor.shutdown_timeout_s * 500));
}

void ConsumerWorker::forget_read(const std::vector<RdKafka::TopicPartition*>& partitions) {
  for (const auto* p : partitions) read_to_.erase(p->partition());
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
    const auto read = read_to_.find(p->partition());
    if (read == read_to_.end()) {
      unread.items.push_back(RdKafka::TopicPartition::create(p->topic(), p->partition()));
    } else if (read->second < end->second) {
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

void ConsumerWorker::run() {
  KafkaEventHandler events("consumer", [this](bool up) { set_broker_reachable(up); });
  Rebalancer rebalancer(*this);
  CommitWaiter commits;
  // Before the consumer, so that it outlives close() and the revoke inside it.
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
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  if (!consumer) throw KafkaError("cannot create the consumer: " + errstr);

  const bool topic_ready = ensure_topic(
      *consumer, config_.kafka, brokers_, [this] { return !stop_requested(); },
      [this](int ms) {
        heartbeat();
        sleep_for(std::chrono::milliseconds(ms));
      });
  const bool dead_letter_ready =
      topic_ready && (!dead_letters_ || dead_letters_->ensure_topic([this] { return !stop_requested(); },
                                                                    [this](int ms) {
                                                                      heartbeat();
                                                                      sleep_for(std::chrono::milliseconds(ms));
                                                                    }));
  if (!dead_letter_ready) {
    consumer->close();
    return;
  }
  const RdKafka::ErrorCode subscribed = consumer->subscribe({config_.kafka.topic});
  if (subscribed != RdKafka::ERR_NO_ERROR) {
    throw KafkaError("cannot subscribe to " + config_.kafka.topic + ": " + RdKafka::err2str(subscribed));
  }
  spdlog::info("consumer started: topic {}, group {}, output {}{}", config_.kafka.topic,
               config_.consumer.group_id,
               config_.consumer.output == ConsumerOutput::kJson ? "json" : "envelope",
               dead_letters_ ? ", dead letters to " + config_.consumer.dead_letter_topic : "");

  const EventCodec codec(config_.producer.generator.price_decimals);
  // consumer.exit_after counts the daemon's whole run, across restarts of this worker.
  const std::uint64_t total_exit_after = config_.consumer.exit_after;
  const bool nothing_left = total_exit_after != 0 && total_exit_after <= already_printed_;
  const std::uint64_t exit_after = nothing_left ? 0 : total_exit_after - std::min(total_exit_after, already_printed_);
  std::uint64_t read = 0;
  std::vector<std::int64_t> batch_timestamps;  // producer timestamps of the lines in the batch
  const bool envelope = config_.consumer.output == ConsumerOutput::kEnvelope;
  auto next_bad_log = Clock::now();
  std::uint64_t bad_not_logged = 0;
  auto next_drain_check = Clock::now();
  bool completed = nothing_left;

  auto handle_message = [&](RdKafka::Message& msg) {
    const std::string_view payload(static_cast<const char*>(msg.payload()), msg.len());
    add(metrics_.consumed);
    ++read;
    const DecodeResult decoded = codec.decode(payload);
    if (decoded.ok) {
      if (envelope) {
        EventEnvelope env;
        env.topic = config_.kafka.topic;
        env.partition = msg.partition();
        env.offset = msg.offset();
        const auto ts = msg.timestamp();
        env.timestamp_ms = ts.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE ? -1 : ts.timestamp;
        if (msg.key_pointer() != nullptr) env.key = std::string_view(static_cast<const char*>(msg.key_pointer()), msg.key_len());
        codec.encode_envelope(env, decoded.event, buffer_);
      } else {
        codec.encode(decoded.event, buffer_);
      }
      buffer_.push_back('\n');
      ++buffered_events_;
      const auto ts = msg.timestamp();
      if (ts.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) batch_timestamps.push_back(ts.timestamp);
    } else {
      add(metrics_.skipped);
      if (dead_letters_) dead_letters_->send(msg, decoded.reason, [this] { heartbeat(); });
      if (Clock::now() >= next_bad_log) {
        spdlog::warn("consumer: skipped bad message at partition {} offset {}: {}{}", msg.partition(),
                     msg.offset(), decoded.reason,
                     bad_not_logged ? fmt::format(" ({} more since the last report)", bad_not_logged) : "");
        bad_not_logged = 0;
        next_bad_log = Clock::now() + std::chrono::seconds(1);
      } else {
        ++bad_not_logged;
      }
    }
    pending_offsets_[msg.partition()] = msg.offset() + 1;
    read_to_[msg.partition()] = msg.offset() + 1;
  };

  try {
    while (!stop_requested() && !completed) {
      heartbeat();
      inject_fault(read);
      if (events.fatal()) throw KafkaError("consumer: fatal librdkafka error (see log)");

      if (!rebalancer.error().empty()) throw std::runtime_error(rebalancer.error());
      int timeout_ms = 100;
      for (int n = 0; n < kMaxBatch && buffer_.size() < kMaxBatchBytes; ++n) {
        if (exit_after != 0 && printed_ + buffered_events_ >= exit_after) break;
        std::unique_ptr<RdKafka::Message> msg(consumer->consume(timeout_ms));
        timeout_ms = 0;
        const RdKafka::ErrorCode err = msg->err();
        if (err == RdKafka::ERR__TIMED_OUT) break;
        if (err == RdKafka::ERR_NO_ERROR) {
          events.brokers_up();
          handle_message(*msg);
        } else if (err == RdKafka::ERR__PARTITION_EOF) {
          continue;
        } else if (err == RdKafka::ERR__FATAL) {
          throw KafkaError("consumer: fatal error: " + msg->errstr());
        } else {
          spdlog::warn("consumer: {}", msg->errstr());
          break;
        }
      }
      const bool idle = buffered_events_ == 0 && pending_offsets_.empty();
      flush_output(*consumer);
      if (!batch_timestamps.empty()) {
        // Produce-to-print latency: one clock read per batch, right after it was flushed.
        const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch()).count();
        for (const std::int64_t ts : batch_timestamps) metrics_.latency.observe_ms(now_ms - ts);
        batch_timestamps.clear();
      }
      if (exit_after != 0 && printed_ >= exit_after) {
        spdlog::info("consumer: printed {} events (consumer.exit_after)", printed_);
        completed = true;
      } else if (idle && drain_.load(std::memory_order_acquire) && Clock::now() >= next_drain_check) {
        PartitionEndOffsets ends;
        {
          std::lock_guard<std::mutex> lock(drain_mutex_);
          ends = drain_ends_;
        }
        completed = caught_up(*consumer, ends);
        next_drain_check = Clock::now() + std::chrono::milliseconds(200);
        if (completed) spdlog::info("consumer: read everything the producer wrote");
      }
    }
  } catch (...) {
    failing_ = true;
    // Failing: commit what was printed and leave the group cleanly, so the restarted worker
    // neither prints it again nor waits a session timeout for this member to expire.
    if (!events.fatal()) {
      commit_within(*consumer, commits, Clock::now() + stop_budget());
      rebalancer.closing();
      consumer->close();
    }
    throw;
  }

  if (bad_not_logged > 0) {
    spdlog::warn("consumer: {} more bad messages skipped since the last report", bad_not_logged);
  }
  // Graceful end: everything read is printed and stored; commit it, then leave the group.
  flush_output(*consumer);
  commit_within(*consumer, commits, Clock::now() + stop_budget());
  rebalancer.closing();
  const RdKafka::ErrorCode closed = consumer->close();
  if (closed != RdKafka::ERR_NO_ERROR) spdlog::warn("consumer: close: {}", RdKafka::err2str(closed));
  spdlog::info("consumer stopped: {} printed", printed_);
}

}  // namespace pricepipe
