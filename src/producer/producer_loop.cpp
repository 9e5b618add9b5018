#include "pricepipe/producer/producer_loop.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "pricepipe/kafka/kafka.hpp"
#include "pricepipe/kafka/kafka_admin.hpp"
#include "pricepipe/kafka/kafka_stats.hpp"
#include "pricepipe/producer/in_flight.hpp"
#include "pricepipe/workers/worker_context.hpp"

namespace pricepipe {
namespace {

using Clock = std::chrono::steady_clock;

// How long the queue must stay full before the wait is logged: short waits are normal at
// full speed, a long one means the broker is slow or gone.
constexpr auto kQueueFullReport = std::chrono::seconds(5);
// While pacing, librdkafka is served, the heartbeat sent and the counters published at least
// this often: at a low rate (one event a minute) too, delivery reports, statistics and
// readiness stay current and the wait is never taken for a stall.
constexpr auto kPaceSlice = std::chrono::milliseconds(100);

}  // namespace

// Counts delivery reports and keeps the events still waiting for one; runs on the producer
// thread inside poll()/flush().
class ProducerLoop::Deliveries : public RdKafka::DeliveryReportCb {
 public:
  explicit Deliveries(Metrics& metrics) : metrics_(metrics) {}
  void dr_cb(RdKafka::Message& message) override {
    in_flight_.reported(reinterpret_cast<std::uintptr_t>(message.msg_opaque()));
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      ++delivered_;
      auto& end = end_offsets_[message.partition()];
      end = std::max(end, message.offset() + 1);
      return;
    }
    ++failed_;
    if (message.err() != RdKafka::ERR__PURGE_QUEUE && message.err() != RdKafka::ERR__PURGE_INFLIGHT &&
        Clock::now() >= next_log_) {
      spdlog::error("delivery failed ({} so far): {}", failed_, message.errstr());
      next_log_ = Clock::now() + std::chrono::seconds(5);
    }
  }
  // Publishes the counts gathered since the last call; keeps the atomics off the per-event path.
  void publish() {
    add(metrics_.delivered, delivered_ - published_delivered_);
    add(metrics_.failed, failed_ - published_failed_);
    published_delivered_ = delivered_;
    published_failed_ = failed_;
    const auto oldest = in_flight_.oldest();
    metrics_.oldest_undelivered_ms.store(
        oldest ? std::chrono::duration_cast<std::chrono::milliseconds>(InFlight::coarse_now() - *oldest).count() : 0,
        std::memory_order_relaxed);
  }
  InFlight& in_flight() { return in_flight_; }
  std::uint64_t failed() const { return failed_; }
  const PartitionEndOffsets& end_offsets() const { return end_offsets_; }

 private:
  Metrics& metrics_;
  std::uint64_t delivered_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t published_delivered_ = 0;
  std::uint64_t published_failed_ = 0;
  PartitionEndOffsets end_offsets_;
  Clock::time_point next_log_{};
  InFlight in_flight_;
};

ProducerLoop::ProducerLoop(ProducerWorkerSettings settings, std::string brokers, Metrics& metrics, std::uint64_t already_generated,
                           LiveSettings& live, ProducedEnds& ends)
    : settings_(std::move(settings)),
      brokers_(std::move(brokers)),
      metrics_(metrics),
      already_generated_(already_generated),
      live_(live),
      ends_(ends),
      rescue_("producer", brokers_),
      generator_(settings_.producer.generator),
      codec_(settings_.producer.generator.price_decimals),
      limiter_(settings_.producer.rate, Clock::now()),
      count_(instance_count(settings_.producer.count)),
      nothing_left_(settings_.producer.count != 0 && count_ == 0),
      generated_(metrics.generated) {}

ProducerLoop::~ProducerLoop() = default;

std::uint64_t ProducerLoop::instance_count(std::uint64_t total) const {
  return total > already_generated_ ? total - already_generated_ : 0;
}

bool ProducerLoop::setup(WorkerContext& ctx) {
  deliveries_ = std::make_unique<Deliveries>(metrics_);
  events_ = std::make_unique<KafkaEventHandler>("producer", [this, &ctx](const std::string& json) {
    const ClientStats stats = read_stats(json, "");
    ctx.set_broker_reachable(stats.broker_up);
    ctx.set_broker_silent(stats.silent_ms);
    if (producer_) rescue_.check(stats, *producer_);
  });
  auto conf = make_producer_conf(brokers_, settings_.librdkafka);
  std::string errstr;
  if (conf->set("dr_cb", deliveries_.get(), errstr) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", events_.get(), errstr) != RdKafka::Conf::CONF_OK) {
    throw KafkaError("producer callbacks: " + errstr);
  }
  producer_.reset(RdKafka::Producer::create(conf.get(), errstr));
  if (!producer_) throw KafkaError("cannot create the producer: " + errstr);

  const bool topic_ready = ensure_topic(
      *producer_, settings_.kafka, brokers_, [&ctx] { return !ctx.stop_requested(); },
      [&ctx](int ms) {
        ctx.heartbeat();
        ctx.sleep_for(std::chrono::milliseconds(ms));
      });
  if (!topic_ready) return false;
  ctx.set_broker_answered();
  topic_.reset(RdKafka::Topic::create(producer_.get(), settings_.kafka.topic, nullptr, errstr));
  if (!topic_) throw KafkaError("cannot create the topic handle for " + settings_.kafka.topic + ": " + errstr);
  const double rate = limiter_.rate();
  limiter_ = RateLimiter(rate, Clock::now());  // paced from now, not from when the loop was made
  spdlog::info("producer started: topic {}, rate {}/s{}, seed {}", settings_.kafka.topic,
               rate == 0 ? std::string("unlimited") : fmt::format("{}", rate),
               count_ ? fmt::format(", count {}", count_) : std::string(), generator_.seed());
  return true;
}

bool ProducerLoop::step(WorkerContext& ctx) {
  if (finished()) return true;
  if ((produced_ & 0x3ff) == 0) {
    ctx.heartbeat();
    publish();
    check_fatal();
  }
  if (live_.pending()) {
    if (const auto settings = live_.take()) apply(*settings);
    if (nothing_left_) return true;
  }
  if (!pace(ctx)) return false;  // stopping
  if (live_.pending()) return false;  // new settings cut the wait short: applied before the next event
  if (!produce_one(ctx)) return false;  // stopping
  ++produced_;
  generated_.add();
  // Serve delivery reports regularly, but not per event: each poll takes librdkafka's queue
  // lock, which showed in the producer's profile at full speed.
  if ((produced_ & 0x3f) == 0) producer_->poll(0);
  return finished();
}

void ProducerLoop::apply(const ProducerSettings& settings) {
  generator_.update(settings.generator);
  codec_ = EventCodec(settings.generator.price_decimals);
  if (settings.rate != limiter_.rate()) limiter_.set_rate(settings.rate, Clock::now());
  count_ = instance_count(settings.count);
  nothing_left_ = settings.count != 0 && settings.count <= already_generated_ + produced_;
  spdlog::info("producer: applied new generator and rate settings (rate {}/s)", limiter_.rate());
}

bool ProducerLoop::pace(WorkerContext& ctx) {
  if (limiter_.rate() == 0) return true;  // unlimited: no clock read per event
  const auto now = Clock::now();
  const auto due = now + limiter_.reserve(now);
  for (auto t = now; t < due && !live_.pending(); t = Clock::now()) {
    ctx.heartbeat();
    producer_->poll(0);
    publish();
    check_fatal();
    if (!ctx.sleep_for(std::min<Clock::duration>(due - t, kPaceSlice))) return false;  // stopping
  }
  return true;
}

bool ProducerLoop::produce_one(WorkerContext& ctx) {
  const PriceEvent event = generator_.next();
  payload_.clear();
  codec_.encode(event, payload_);
  key_ = std::to_string(event.match);
  Clock::time_point full_since{};
  while (!enqueue(ctx, full_since)) {
    if (ctx.stop_requested()) return false;  // this event was never generated
  }
  return true;
}

// One try at handing the current event to librdkafka; false while its queue is full.
bool ProducerLoop::enqueue(WorkerContext& ctx, Clock::time_point& full_since) {
  // No timestamp given: librdkafka stamps the message with the wall clock as it is created
  // (CreateTime), which is the event's creation time.
  InFlight& in_flight = deliveries_->in_flight();
  void* sequence = reinterpret_cast<void*>(static_cast<std::uintptr_t>(in_flight.next()));
  const RdKafka::ErrorCode err =
      producer_->produce(topic_.get(), RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, payload_.data(),
                         payload_.size(), key_.data(), key_.size(), sequence);
  if (err == RdKafka::ERR_NO_ERROR) {
    in_flight.sent(InFlight::coarse_now());
    if (waiting_logged_) spdlog::info("producer: the queue drains again; producing");
    waiting_logged_ = false;
    return true;
  }
  if (err != RdKafka::ERR__QUEUE_FULL) throw KafkaError("produce failed: " + RdKafka::err2str(err));
  // Backpressure: the local queue is full, so serve delivery reports until it drains. Memory
  // stays bounded by librdkafka's queue.buffering.max.* however long it lasts.
  if (full_since == Clock::time_point{}) full_since = Clock::now();
  if (!waiting_logged_ && Clock::now() - full_since >= kQueueFullReport) {
    spdlog::warn("producer: librdkafka's queue has been full for {} s ({} events waiting for the broker); waiting",
                 std::chrono::duration_cast<std::chrono::seconds>(kQueueFullReport).count(), producer_->outq_len());
    waiting_logged_ = true;
  }
  producer_->poll(50);
  ctx.heartbeat();
  publish();
  check_fatal();
  return false;
}

void ProducerLoop::check_fatal() {
  if (!events_->fatal()) return;
  std::string reason;
  const auto err = producer_->fatal_error(reason);
  throw KafkaError("producer fatal error: " + RdKafka::err2str(err) + ": " + reason);
}

void ProducerLoop::publish() {
  generated_.publish();
  deliveries_->publish();
}

void ProducerLoop::drain(WorkerContext& ctx, WorkerEnd end) {
  if (end == WorkerEnd::kFailed) {
    flush_after_failure();
    return;
  }
  if (end == WorkerEnd::kCompleted) await_acknowledgements(ctx);
  if (producer_->outq_len() > 0) flush_within_bound(ctx);
  producer_->flush(0);
  publish();
  ends_.note(deliveries_->end_offsets());
  spdlog::info("producer stopped: {} produced, {} failed", produced_, deliveries_->failed());
}

void ProducerLoop::await_acknowledgements(WorkerContext& ctx) {
  spdlog::info("producer: {} events produced; waiting for the broker to acknowledge them", produced_);
  while (producer_->outq_len() > 0 && !ctx.stop_requested()) {
    producer_->flush(200);
    deliveries_->publish();
    ctx.heartbeat();
    check_fatal();
  }
}

void ProducerLoop::flush_within_bound(WorkerContext& ctx) {
  const auto budget =
      std::chrono::milliseconds(std::max(500, settings_.shutdown_timeout_s * 1000 - 1500));
  const auto deadline = Clock::now() + budget;
  while (producer_->outq_len() > 0 && Clock::now() < deadline) {
    producer_->flush(100);
    ctx.heartbeat();
  }
  const int left = producer_->outq_len();
  if (left == 0) return;
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  producer_->poll(0);
  spdlog::warn("producer: {} events not acknowledged within {} ms were purged (counted as failed)", left,
               budget.count());
}

void ProducerLoop::flush_after_failure() {
  // What cannot go is purged and counted as failed.
  if (!events_->fatal()) producer_->flush(std::min(5000, settings_.shutdown_timeout_s * 500));
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  producer_->flush(0);
  publish();
  ends_.note(deliveries_->end_offsets());
}

}  // namespace pricepipe
