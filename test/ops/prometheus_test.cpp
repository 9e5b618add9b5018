// The /metrics text. The expected text is what pricepipe answered before the renderer moved
// out of the supervisor (captured from a running daemon with these counter values), with the
// families added since (#25: pricepipe_build_info first, pricepipe_output_blocked after the
// health gauge, pricepipe_consumer_lag_seconds after the lag).
#include <string>

#include "catch_compat.hpp"
#include "pricepipe/ops/prometheus.hpp"

using namespace pricepipe;

namespace {

const std::string kLatencyHead =
    "# HELP pricepipe_produce_to_print_latency_seconds From the producer's timestamp to the line flushed.\n"
    "# TYPE pricepipe_produce_to_print_latency_seconds histogram\n";

const char* const kCaptured = R"(
# HELP pricepipe_build_info pricepipe's version and the librdkafka it runs on; always 1.
# TYPE pricepipe_build_info gauge
pricepipe_build_info{version="1.2.3",librdkafka_version="2.14.2"} 1
# HELP pricepipe_events_generated_total Events generated and handed to librdkafka.
# TYPE pricepipe_events_generated_total counter
pricepipe_events_generated_total 201
# HELP pricepipe_events_delivered_total Events acknowledged by Kafka.
# TYPE pricepipe_events_delivered_total counter
pricepipe_events_delivered_total 191
# HELP pricepipe_events_failed_total Events whose delivery failed or that were purged at a stop.
# TYPE pricepipe_events_failed_total counter
pricepipe_events_failed_total 0
# HELP pricepipe_events_consumed_total Messages read from the topic.
# TYPE pricepipe_events_consumed_total counter
pricepipe_events_consumed_total 183
# HELP pricepipe_events_printed_total Events completely written to stdout.
# TYPE pricepipe_events_printed_total counter
pricepipe_events_printed_total 183
# HELP pricepipe_output_blocked_seconds_total Seconds the consumer waited for stdout to take lines (a paused or slow reader).
# TYPE pricepipe_output_blocked_seconds_total counter
pricepipe_output_blocked_seconds_total 12.500
# HELP pricepipe_events_skipped_total Bad messages skipped.
# TYPE pricepipe_events_skipped_total counter
pricepipe_events_skipped_total 0
# HELP pricepipe_events_dead_lettered_total Bad messages acknowledged by consumer.dead_letter_topic.
# TYPE pricepipe_events_dead_lettered_total counter
pricepipe_events_dead_lettered_total 0
# HELP pricepipe_reloads_total Configuration reloads (SIGHUP) with a valid file.
# TYPE pricepipe_reloads_total counter
pricepipe_reloads_total 0
# HELP pricepipe_worker_restarts_total Worker restarts after a failure or stall.
# TYPE pricepipe_worker_restarts_total counter
pricepipe_worker_restarts_total{worker="producer"} 0
pricepipe_worker_restarts_total{worker="consumer"} 0
# HELP pricepipe_healthy 1 while /readyz (and /healthz) answers 200.
# TYPE pricepipe_healthy gauge
pricepipe_healthy 1
# HELP pricepipe_output_blocked 1 while the consumer's stdout has taken nothing for a second or more (its partitions are paused until the reader catches up).
# TYPE pricepipe_output_blocked gauge
pricepipe_output_blocked 1
# HELP pricepipe_live 1 while /livez answers 200.
# TYPE pricepipe_live gauge
pricepipe_live 1
# HELP pricepipe_oldest_undelivered_seconds Age of the oldest event handed to librdkafka and not yet acknowledged or failed; 0 when none waits.
# TYPE pricepipe_oldest_undelivered_seconds gauge
pricepipe_oldest_undelivered_seconds 2.250
# HELP pricepipe_consumer_lag Messages between the end of the partition and the group's committed offset (from the low watermark while nothing is committed), per partition assigned to this consumer.
# TYPE pricepipe_consumer_lag gauge
pricepipe_consumer_lag{topic="prices-topic",partition="0"} 62
pricepipe_consumer_lag{topic="prices-topic",partition="1"} 59
pricepipe_consumer_lag{topic="prices-topic",partition="2"} 62
# HELP pricepipe_consumer_lag_seconds How far behind in time the consumer is, per partition: 0 without lag, else the age of the newest message printed from it (from when the lag was first seen, before any).
# TYPE pricepipe_consumer_lag_seconds gauge
pricepipe_consumer_lag_seconds{topic="prices-topic",partition="0"} 1.250
pricepipe_consumer_lag_seconds{topic="prices-topic",partition="1"} 0.000
pricepipe_consumer_lag_seconds{topic="prices-topic",partition="2"} 0.004
)";

const BuildInfo kBuild{"1.2.3", "2.14.2"};

void fill(Metrics& m) {
  m.generated = 201;
  m.delivered = 191;
  m.consumed = 183;
  m.printed = 183;
  m.output_wait_us = 12500000;
  m.output_blocked = true;
  m.oldest_undelivered_ms = 2250;
  m.lag.set("prices-topic", {{0, 62}, {1, 59}, {2, 62}}, {{0, 1.25}, {1, 0.0}, {2, 0.004}});
  m.latency.observe_ms(4);
}

}  // namespace

TEST_CASE("the Prometheus text is as captured, byte for byte", "[unit][metrics]") {
  Metrics m;
  fill(m);
  const std::string expected = std::string(kCaptured + 1) + kLatencyHead +
                               m.latency.render("pricepipe_produce_to_print_latency_seconds");
  CHECK(render_prometheus(m, true, true, kBuild) == expected);
}

TEST_CASE("the Prometheus health gauges follow live and ready separately", "[unit][metrics]") {
  Metrics m;
  const std::string text = render_prometheus(m, true, false, kBuild);
  CHECK_THAT(text, Catch::Contains("\npricepipe_healthy 0\n"));
  CHECK_THAT(text, Catch::Contains("\npricepipe_live 1\n"));
  CHECK_THAT(text, Catch::Contains("\npricepipe_output_blocked 0\n"));
  CHECK_THAT(render_prometheus(m, false, true, kBuild), Catch::Contains("\npricepipe_healthy 1\n"));
  // No lag known: the family is announced without samples.
  CHECK_THAT(text, Catch::Contains("# TYPE pricepipe_consumer_lag gauge\n# HELP pricepipe_consumer_lag_seconds"));
  CHECK_THAT(text, Catch::Contains("# TYPE pricepipe_consumer_lag_seconds gauge\n# HELP pricepipe_produce_to_print"));
}

TEST_CASE("pricepipe_build_info escapes its label values", "[unit][metrics]") {
  Metrics m;
  const std::string text = render_prometheus(m, true, true, BuildInfo{"1.0 \"x\"\\y", "2.14.2\nz"});
  CHECK_THAT(text, Catch::Contains(R"(pricepipe_build_info{version="1.0 \"x\"\\y",librdkafka_version="2.14.2\nz"} 1)"));
}
