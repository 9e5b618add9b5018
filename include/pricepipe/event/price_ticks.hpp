#pragma once
// Prices as whole ticks of 10^-decimals: the arithmetic the generator draws prices with and
// the config validates price ranges with. Pure functions, callable from any thread.

#include <cstdint>

namespace pricepipe {

// 10^n for n in [0, 18].
std::int64_t pow10(int n);

// Range ends in ticks of 10^-decimals: the smallest tick not below `min` and the largest not
// above `max` (so 1.005 with 2 decimals starts at 1.01, not 1.00).
std::int64_t ticks_at_least(double min, int decimals);
std::int64_t ticks_at_most(double max, int decimals);

}  // namespace pricepipe
