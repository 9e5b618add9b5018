#pragma once
// The producer worker's loop: generates price events at producer.rate and publishes them with
// an idempotent librdkafka producer it owns. Completes after producer.count events once every
// one is acknowledged or failed; on a stop request it stops generating, flushes within its
// bound and purges (and logs) whatever could not be delivered. Runs on a WorkerThread.

#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "pricepipe/event/event.hpp"
#include "pricepipe/kafka/broker_rescue.hpp"
#include "pricepipe/metrics/metrics.hpp"
#include "pricepipe/producer/generator.hpp"
#include "pricepipe/producer/rate_limiter.hpp"
#include "pricepipe/workers/handoff.hpp"
#include "pricepipe/workers/worker_loop.hpp"
#include "pricepipe/workers/worker_settings.hpp"

namespace pricepipe {

class KafkaEventHandler;

class ProducerLoop final : public WorkerLoop {
 public:
  // `brokers` is the bootstrap list to connect to (the mock cluster's in embedded mode).
  // `already_generated` events count towards producer.count (earlier instances produced them).
  // `live` brings new settings after a reload; the end offsets go to `ends`. Both outlive the
  // loop.
  ProducerLoop(ProducerWorkerSettings settings, std::string brokers, Metrics& metrics, std::uint64_t already_generated,
               LiveSettings& live, ProducedEnds& ends);
  ~ProducerLoop() override;

  bool setup(WorkerContext& ctx) override;
  bool step(WorkerContext& ctx) override;
  void drain(WorkerContext& ctx, WorkerEnd end) override;
  std::uint64_t progress() const override { return produced_; }

 private:
  class Deliveries;

  bool finished() const { return nothing_left_ || (count_ != 0 && produced_ >= count_); }
  // producer.count counts the daemon's whole run, across restarts; what is left for this one.
  std::uint64_t instance_count(std::uint64_t total) const;
  void apply(const ProducerSettings& settings);
  // Waits for the event's slot at producer.rate; false when a stop came meanwhile.
  bool pace(WorkerContext& ctx);
  // Hands one new event to librdkafka, waiting while its queue is full; false when a stop came
  // while waiting (the event then never counted as generated).
  bool produce_one(WorkerContext& ctx);
  bool enqueue(WorkerContext& ctx, std::chrono::steady_clock::time_point& full_since);
  void check_fatal();
  void publish();
  // producer.count reached: waits until every event is acknowledged or failed, or a stop.
  void await_acknowledgements(WorkerContext& ctx);
  // Flushes within the stop bound, then purges and logs what is left.
  void flush_within_bound(WorkerContext& ctx);
  // A failure: still delivers what librdkafka holds (bounded) so a restart loses nothing.
  void flush_after_failure();

  const ProducerWorkerSettings settings_;
  const std::string brokers_;
  Metrics& metrics_;
  const std::uint64_t already_generated_;
  LiveSettings& live_;
  ProducedEnds& ends_;
  // Declared before the handles: librdkafka calls them until the handles are gone.
  std::unique_ptr<Deliveries> deliveries_;
  BrokerRescue rescue_;  // librdkafka #5301, from the statistics
  std::unique_ptr<KafkaEventHandler> events_;
  std::unique_ptr<RdKafka::Producer> producer_;
  // One topic handle for the worker's life: producing by topic name makes librdkafka look the
  // topic up under its handle-wide lock for every event. Declared after the producer, so it is
  // destroyed first, as librdkafka requires.
  std::unique_ptr<RdKafka::Topic> topic_;

  EventGenerator generator_;
  EventCodec codec_;
  RateLimiter limiter_;
  std::uint64_t count_ = 0;  // for this instance; 0 = forever
  bool nothing_left_ = false;
  std::uint64_t produced_ = 0;
  LocalCount generated_;      // published with the heartbeat, and at the end
  bool waiting_logged_ = false;  // the current full-queue wait was reported
  std::string payload_;
  std::string key_;
};

}  // namespace pricepipe
