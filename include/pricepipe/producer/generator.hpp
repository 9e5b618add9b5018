#pragma once
// Random price events from the producer.* generator settings. Reproducible: the same seed
// and settings give the same sequence. Owned and called by one thread (the producer worker).

#include <cstdint>
#include <random>

#include "pricepipe/config/config.hpp"
#include "pricepipe/event/event.hpp"

namespace pricepipe {

class EventGenerator {
 public:
  explicit EventGenerator(const GeneratorSettings& settings);

  PriceEvent next();
  // Applies new ranges and decimals live; the random stream continues unless the seed changed.
  void update(const GeneratorSettings& settings);

  std::int64_t min_ticks() const { return min_ticks_; }
  std::int64_t max_ticks() const { return max_ticks_; }
  std::uint64_t seed() const { return seed_; }

 private:
  void set_ranges(const GeneratorSettings& settings);

  GeneratorSettings settings_;
  std::uint64_t seed_;
  std::mt19937_64 engine_;
  std::uniform_int_distribution<std::int64_t> match_;
  std::uniform_int_distribution<std::int64_t> ticks_;
  std::int64_t min_ticks_ = 0;
  std::int64_t max_ticks_ = 0;
};

}  // namespace pricepipe
