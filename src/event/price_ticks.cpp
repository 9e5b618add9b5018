#include "pricepipe/event/price_ticks.hpp"

#include <cmath>

namespace pricepipe {
namespace {

// Config values are decimal text parsed to double; a tolerance far below one tick absorbs
// the binary representation error (1.01 * 100 = 100.99999999999999).
constexpr double kTolerance = 1e-7;

}  // namespace

std::int64_t pow10(int n) {
  std::int64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

std::int64_t ticks_at_least(double min, int decimals) {
  return static_cast<std::int64_t>(std::ceil(min * static_cast<double>(pow10(decimals)) - kTolerance));
}

std::int64_t ticks_at_most(double max, int decimals) {
  return static_cast<std::int64_t>(std::floor(max * static_cast<double>(pow10(decimals)) + kTolerance));
}

}  // namespace pricepipe
