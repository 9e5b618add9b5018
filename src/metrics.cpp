#include "pricepipe/metrics.hpp"

#include <fmt/format.h>

namespace pricepipe {

void LatencyHistogram::observe_ms(std::int64_t ms, std::uint64_t n) {
  if (ms < 0) ms = 0;  // clocks of producer and consumer hosts may differ slightly
  const double seconds = static_cast<double>(ms) / 1000.0;
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(n, std::memory_order_relaxed);
  count_.fetch_add(n, std::memory_order_relaxed);
  sum_ms_.fetch_add(ms * static_cast<std::int64_t>(n), std::memory_order_relaxed);
}

std::string LatencyHistogram::render(const std::string& name) const {
  std::string out;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBounds[i], cumulative);
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n", name, static_cast<double>(sum_ms_.load(std::memory_order_relaxed)) / 1000.0);
  out += fmt::format("{}_count {}\n", name, count_.load(std::memory_order_relaxed));
  return out;
}

std::string Metrics::summary() const {
  auto v = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  return fmt::format(
      "generated={} delivered={} failed={} consumed={} printed={} skipped={} "
      "producer_restarts={} consumer_restarts={} reloads={}",
      v(generated), v(delivered), v(failed), v(consumed), v(printed), v(skipped),
      v(producer_restarts), v(consumer_restarts), v(reloads));
}

}  // namespace pricepipe
