#include "pricepipe/metrics/metrics.hpp"

#include <fmt/format.h>

namespace pricepipe {

namespace {

std::size_t bucket_of(std::int64_t ms) {
  const double seconds = static_cast<double>(ms) / 1000.0;
  std::size_t i = 0;
  while (i < LatencyHistogram::kBounds.size() && seconds > LatencyHistogram::kBounds[i]) ++i;
  return i;
}

}  // namespace

void LatencyHistogram::observe_ms(std::int64_t ms, std::uint64_t n) {
  if (ms < 0) ms = 0;  // clocks of producer and consumer hosts may differ slightly
  buckets_[bucket_of(ms)].fetch_add(n, std::memory_order_relaxed);
  count_.fetch_add(n, std::memory_order_relaxed);
  sum_ms_.fetch_add(ms * static_cast<std::int64_t>(n), std::memory_order_relaxed);
}

void LatencyHistogram::Batch::observe_ms(std::int64_t ms) {
  if (ms < 0) ms = 0;
  ++buckets_[bucket_of(ms)];
  ++count_;
  sum_ms_ += ms;
}

void LatencyHistogram::add(Batch& batch) {
  if (batch.count_ == 0) return;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    if (batch.buckets_[i] != 0) buckets_[i].fetch_add(batch.buckets_[i], std::memory_order_relaxed);
  }
  count_.fetch_add(batch.count_, std::memory_order_relaxed);
  sum_ms_.fetch_add(batch.sum_ms_, std::memory_order_relaxed);
  batch = Batch{};
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

double LatencyHistogram::quantile(double q) const {
  std::array<std::uint64_t, kBounds.size() + 1> counts{};
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    counts[i] = buckets_[i].load(std::memory_order_relaxed);
    total += counts[i];
  }
  if (total == 0) return 0;
  const double rank = q * static_cast<double>(total);
  double seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    const double lower = i == 0 ? 0.0 : kBounds[i - 1];
    if (i == kBounds.size()) return lower;  // beyond the last bound: report the bound
    const double upper = kBounds[i];
    if (seen + static_cast<double>(counts[i]) >= rank) {
      return lower + (upper - lower) * (rank - seen) / static_cast<double>(counts[i]);
    }
    seen += static_cast<double>(counts[i]);
  }
  return kBounds.back();
}

void ConsumerLag::set(const std::string& topic, std::map<std::int32_t, std::int64_t> partitions,
                      std::map<std::int32_t, double> seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  current_.topic = topic;
  current_.partitions = std::move(partitions);
  current_.seconds = std::move(seconds);
}

void ConsumerLag::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  current_ = Snapshot{};
}

ConsumerLag::Snapshot ConsumerLag::get() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

std::string Metrics::summary() const {
  auto v = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  const ConsumerLag::Snapshot consumer_lag = lag.get();
  std::int64_t total_lag = 0;
  for (const auto& entry : consumer_lag.partitions) total_lag += entry.second;
  const std::string lag_text = consumer_lag.partitions.empty() ? "" : fmt::format(" lag={}", total_lag);
  return fmt::format(
      "generated={} delivered={} failed={} consumed={} printed={} skipped={} dead_lettered={} "
      "producer_restarts={} consumer_restarts={} reloads={} latency_p50_ms={:.2f} latency_p99_ms={:.2f} "
      "latency_p999_ms={:.2f}",
      v(generated), v(delivered), v(failed), v(consumed), v(printed), v(skipped), v(dead_lettered),
      v(producer_restarts), v(consumer_restarts), v(reloads), latency.quantile(0.5) * 1000,
      latency.quantile(0.99) * 1000, latency.quantile(0.999) * 1000) +
      lag_text;
}

}  // namespace pricepipe
