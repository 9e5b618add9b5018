#include "pricepipe/producer_worker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include "pricepipe/event.hpp"
#include "pricepipe/generator.hpp"
#include "pricepipe/kafka.hpp"
#include "pricepipe/kafka_stats.hpp"
#include "pricepipe/rate_limiter.hpp"

namespace pricepipe {
namespace {

using Clock = std::chrono::steady_clock;

// How long the queue must stay full before the wait is logged: short waits are normal at
// full speed, a long one means the broker is slow or gone.
constexpr auto kQueueFullReport = std::chrono::seconds(5);

// Counts delivery reports; runs on the producer thread inside poll()/flush().
class DeliveryCounter : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryCounter(Metrics& metrics) : metrics_(metrics) {}
  void dr_cb(RdKafka::Message& message) override {
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
  }
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
};

}  // namespace

ProducerWorker::ProducerWorker(Config config, std::string brokers, Metrics& metrics,
                               std::uint64_t already_generated, FaultInjection fault)
    : Worker("producer", fault),
      config_(std::move(config)),
      brokers_(std::move(brokers)),
      metrics_(metrics),
      already_generated_(already_generated) {}

ProducerWorker::~ProducerWorker() {
  request_stop();
  wait_until(Clock::time_point::max());
}

void ProducerWorker::update_live(const Config& config) {
  {
    std::lock_guard<std::mutex> lock(pending_mutex_);
    pending_ = config.producer;
    has_pending_.store(true, std::memory_order_release);
  }
  nudge();  // a long pause at a low rate must not delay the new settings
}

PartitionEndOffsets ProducerWorker::end_offsets() const {
  std::lock_guard<std::mutex> lock(end_mutex_);
  return end_offsets_;
}

void ProducerWorker::run() {
  const ProducerSettings initial = config_.producer;
  // Declared before the handle: librdkafka calls them until the handle is gone.
  DeliveryCounter deliveries(metrics_);
  KafkaEventHandler events("producer",
                           [this](const std::string& json) { set_broker_reachable(stats_show_broker_up(json)); });
  auto conf = make_client_conf(config_, ClientRole::kProducer, brokers_);
  std::string errstr;
  if (conf->set("dr_cb", &deliveries, errstr) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", &events, errstr) != RdKafka::Conf::CONF_OK) {
    throw KafkaError("producer callbacks: " + errstr);
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), errstr));
  if (!producer) throw KafkaError("cannot create the producer: " + errstr);

  const bool topic_ready = ensure_topic(
      *producer, config_.kafka, brokers_, [this] { return !stop_requested(); },
      [this](int ms) {
        heartbeat();
        sleep_for(std::chrono::milliseconds(ms));
      });
  if (!topic_ready) return;
  set_broker_answered();

  // One topic handle for the worker's life: producing by topic name makes librdkafka look the
  // topic up under its handle-wide lock for every event. Declared after the producer, so it
  // is destroyed first, as librdkafka requires.
  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(producer.get(), config_.kafka.topic, nullptr, errstr));
  if (!topic) throw KafkaError("cannot create the topic handle for " + config_.kafka.topic + ": " + errstr);

  EventGenerator generator(initial.generator);
  EventCodec codec(initial.generator.price_decimals);
  RateLimiter limiter(initial.rate, Clock::now());
  // producer.count counts the daemon's whole run, across restarts of this worker; 0 = forever.
  auto instance_count = [this](std::uint64_t total) -> std::uint64_t {
    return total > already_generated_ ? total - already_generated_ : 0;
  };
  std::uint64_t count = instance_count(initial.count);
  bool nothing_left = initial.count != 0 && count == 0;
  spdlog::info("producer started: topic {}, rate {}/s{}, seed {}", config_.kafka.topic,
               initial.rate == 0 ? std::string("unlimited") : fmt::format("{}", initial.rate),
               count ? fmt::format(", count {}", count) : std::string(), generator.seed());

  std::string payload;
  std::string key;
  std::uint64_t produced = 0;
  LocalCount generated(metrics_.generated);  // published with the heartbeat, and at the end
  bool waiting_logged = false;  // the current full-queue wait was reported
  auto check_fatal = [&] {
    if (events.fatal()) {
      std::string reason;
      const auto err = producer->fatal_error(reason);
      throw KafkaError("producer fatal error: " + RdKafka::err2str(err) + ": " + reason);
    }
  };

  try {
    while (!stop_requested() && !nothing_left && (count == 0 || produced < count)) {
      inject_fault(produced);
      if ((produced & 0x3ff) == 0) {
        heartbeat();
        generated.publish();
        deliveries.publish();
        check_fatal();
      }
      if (has_pending_.load(std::memory_order_acquire)) {
        std::lock_guard<std::mutex> lock(pending_mutex_);
        has_pending_.store(false, std::memory_order_relaxed);
        generator.update(pending_->generator);
        codec = EventCodec(pending_->generator.price_decimals);
        if (pending_->rate != limiter.rate()) limiter.set_rate(pending_->rate, Clock::now());
        count = instance_count(pending_->count);
        nothing_left = pending_->count != 0 && pending_->count <= already_generated_ + produced;
        pending_.reset();
        spdlog::info("producer: applied new generator and rate settings (rate {}/s)", limiter.rate());
        if (nothing_left) break;
      }
      if (limiter.rate() > 0) {  // unlimited: no clock read per event
        const auto wait = limiter.reserve(Clock::now());
        if (wait > Clock::duration::zero()) {
          heartbeat();
          generated.publish();  // paced: the counters stay current at any rate
          deliveries.publish();
          if (!sleep_for(wait)) break;
        }
      }
      const PriceEvent event = generator.next();
      payload.clear();
      codec.encode(event, payload);
      key = std::to_string(event.match);
      bool queued = false;
      std::optional<Clock::time_point> full_since;
      while (!queued) {
        // No timestamp given: librdkafka stamps the message with the wall clock as it is
        // created (CreateTime), which is the event's creation time.
        const RdKafka::ErrorCode err =
            producer->produce(topic.get(), RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                              payload.data(), payload.size(), key.data(), key.size(), nullptr);
        if (err == RdKafka::ERR_NO_ERROR) {
          queued = true;
          if (waiting_logged) {
            spdlog::info("producer: the queue drains again; producing");
            waiting_logged = false;
          }
        } else if (err != RdKafka::ERR__QUEUE_FULL) {
          throw KafkaError("produce failed: " + RdKafka::err2str(err));
        } else {
          // Backpressure: the local queue is full, so serve delivery reports until it drains.
          // Memory stays bounded by librdkafka's queue.buffering.max.* however long it lasts.
          if (!full_since) full_since = Clock::now();
          if (!waiting_logged && Clock::now() - *full_since >= kQueueFullReport) {
            spdlog::warn("producer: librdkafka's queue has been full for {} s ({} events waiting for the "
                         "broker); waiting",
                         std::chrono::duration_cast<std::chrono::seconds>(kQueueFullReport).count(),
                         producer->outq_len());
            waiting_logged = true;
          }
          producer->poll(50);
          heartbeat();
          check_fatal();
          if (stop_requested()) break;
        }
      }
      if (!queued) break;  // stopping while the queue was full: this event was never generated
      ++produced;
      generated.add();
      // Serve delivery reports regularly, but not per event: each poll takes librdkafka's
      // queue lock, which showed in the producer's profile at full speed.
      if ((produced & 0x3f) == 0) producer->poll(0);
    }
  } catch (...) {
    // Failing: still try to deliver what is queued (bounded), so a restart loses nothing
    // that librdkafka already holds; what cannot go is purged and counted as failed.
    if (!events.fatal()) producer->flush(std::min(5000, config_.supervisor.shutdown_timeout_s * 500));
    producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    producer->flush(0);
    generated.publish();
    deliveries.publish();
    {
      std::lock_guard<std::mutex> lock(end_mutex_);
      end_offsets_ = deliveries.end_offsets();
    }
    throw;
  }

  if (!stop_requested()) {
    // producer.count reached: completion means every event is acknowledged or failed.
    spdlog::info("producer: {} events produced; waiting for the broker to acknowledge them", produced);
    while (producer->outq_len() > 0 && !stop_requested()) {
      producer->flush(200);
      deliveries.publish();
      heartbeat();
      check_fatal();
    }
  }
  if (producer->outq_len() > 0) {
    // Stopping: bounded flush, then purge and account for what is dropped.
    const auto budget = std::chrono::milliseconds(
        std::max(500, config_.supervisor.shutdown_timeout_s * 1000 - 1500));
    const auto deadline = Clock::now() + budget;
    while (producer->outq_len() > 0 && Clock::now() < deadline) {
      producer->flush(100);
      heartbeat();
    }
    const int left = producer->outq_len();
    if (left > 0) {
      producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
      producer->poll(0);
      spdlog::warn("producer: {} events not acknowledged within {} ms were purged (counted as failed)",
                   left, budget.count());
    }
  }
  producer->flush(0);
  generated.publish();
  deliveries.publish();
  {
    std::lock_guard<std::mutex> lock(end_mutex_);
    end_offsets_ = deliveries.end_offsets();
  }
  spdlog::info("producer stopped: {} produced, {} failed", produced, deliveries.failed());
  set_releasing();
}

}  // namespace pricepipe
