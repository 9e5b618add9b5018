#include "pricepipe/ops/prometheus.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstdint>

namespace pricepipe {
namespace {

// pricepipe_consumer_lag, one sample per assigned partition whose lag is known.
std::string render_lag(const ConsumerLag::Snapshot& lag) {
  std::string out =
      "# HELP pricepipe_consumer_lag Messages between the end of the partition and the group's committed offset "
      "(from the low watermark while nothing is committed), per partition assigned to this consumer.\n"
      "# TYPE pricepipe_consumer_lag gauge\n";
  for (const auto& [partition, n] : lag.partitions) {
    out += fmt::format("pricepipe_consumer_lag{{topic=\"{}\",partition=\"{}\"}} {}\n", lag.topic, partition, n);
  }
  out +=
      "# HELP pricepipe_consumer_lag_seconds How far behind in time the consumer is, per partition: 0 without lag, "
      "else the age of the newest message printed from it (from when the lag was first seen, before any).\n"
      "# TYPE pricepipe_consumer_lag_seconds gauge\n";
  for (const auto& [partition, s] : lag.seconds) {
    out += fmt::format("pricepipe_consumer_lag_seconds{{topic=\"{}\",partition=\"{}\"}} {:.3f}\n", lag.topic,
                       partition, s);
  }
  return out;
}

// A label value as the text format wants it: backslash, quote and newline escaped.
std::string label_value(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

std::string render_build(const BuildInfo& build) {
  return fmt::format(
      "# HELP pricepipe_build_info pricepipe's version and the librdkafka it runs on; always 1.\n"
      "# TYPE pricepipe_build_info gauge\npricepipe_build_info{{version=\"{}\",librdkafka_version=\"{}\"}} 1\n",
      label_value(build.version), label_value(build.librdkafka_version));
}

std::string render_counters(const Metrics& metrics) {
  const auto v = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  std::string out;
  const auto counter = [&out](const char* name, const char* help, std::uint64_t value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
  };
  counter("pricepipe_events_generated_total", "Events generated and handed to librdkafka.", v(metrics.generated));
  counter("pricepipe_events_delivered_total", "Events acknowledged by Kafka.", v(metrics.delivered));
  counter("pricepipe_events_failed_total", "Events whose delivery failed or that were purged at a stop.", v(metrics.failed));
  counter("pricepipe_events_consumed_total", "Messages read from the topic.", v(metrics.consumed));
  counter("pricepipe_events_printed_total", "Events completely written to stdout.", v(metrics.printed));
  out += fmt::format(
      "# HELP pricepipe_output_blocked_seconds_total Seconds the consumer waited for stdout to take lines (a paused "
      "or slow reader).\n# TYPE pricepipe_output_blocked_seconds_total counter\n"
      "pricepipe_output_blocked_seconds_total {:.3f}\n",
      static_cast<double>(v(metrics.output_wait_us)) / 1e6);
  counter("pricepipe_events_skipped_total", "Bad messages skipped.", v(metrics.skipped));
  counter("pricepipe_events_dead_lettered_total", "Bad messages acknowledged by consumer.dead_letter_topic.",
          v(metrics.dead_lettered));
  counter("pricepipe_reloads_total", "Configuration reloads (SIGHUP) with a valid file.", v(metrics.reloads));
  out += "# HELP pricepipe_worker_restarts_total Worker restarts after a failure or stall.\n"
         "# TYPE pricepipe_worker_restarts_total counter\n";
  out += fmt::format("pricepipe_worker_restarts_total{{worker=\"producer\"}} {}\n", v(metrics.producer_restarts));
  out += fmt::format("pricepipe_worker_restarts_total{{worker=\"consumer\"}} {}\n", v(metrics.consumer_restarts));
  return out;
}

}  // namespace

std::string render_prometheus(const Metrics& metrics, bool live, bool ready, const BuildInfo& build) {
  std::string out = render_build(build) + render_counters(metrics);
  out += "# HELP pricepipe_healthy 1 while /readyz (and /healthz) answers 200.\n# TYPE pricepipe_healthy gauge\n";
  out += fmt::format("pricepipe_healthy {}\n", ready ? 1 : 0);
  out += "# HELP pricepipe_output_blocked 1 while the consumer's stdout has taken nothing for a second or more "
         "(its partitions are paused until the reader catches up).\n# TYPE pricepipe_output_blocked gauge\n";
  out += fmt::format("pricepipe_output_blocked {}\n", metrics.output_blocked.load(std::memory_order_relaxed) ? 1 : 0);
  out += "# HELP pricepipe_live 1 while /livez answers 200.\n# TYPE pricepipe_live gauge\n";
  out += fmt::format("pricepipe_live {}\n", live ? 1 : 0);
  out += "# HELP pricepipe_oldest_undelivered_seconds Age of the oldest event handed to librdkafka and not yet "
         "acknowledged or failed; 0 when none waits.\n# TYPE pricepipe_oldest_undelivered_seconds gauge\n";
  out += fmt::format("pricepipe_oldest_undelivered_seconds {:.3f}\n",
                     static_cast<double>(metrics.oldest_undelivered_ms.load(std::memory_order_relaxed)) / 1000);
  out += render_lag(metrics.lag.get());
  out += "# HELP pricepipe_produce_to_print_latency_seconds From the producer's timestamp to the line flushed.\n"
         "# TYPE pricepipe_produce_to_print_latency_seconds histogram\n";
  out += metrics.latency.render("pricepipe_produce_to_print_latency_seconds");
  return out;
}

}  // namespace pricepipe
