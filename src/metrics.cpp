#include "pricepipe/metrics.hpp"

#include <fmt/format.h>

namespace pricepipe {

std::string Metrics::summary() const {
  auto v = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  return fmt::format(
      "generated={} delivered={} failed={} consumed={} printed={} skipped={} "
      "producer_restarts={} consumer_restarts={} reloads={}",
      v(generated), v(delivered), v(failed), v(consumed), v(printed), v(skipped),
      v(producer_restarts), v(consumer_restarts), v(reloads));
}

}  // namespace pricepipe
