#include "pricepipe/producer/generator.hpp"

#include "pricepipe/event/price_ticks.hpp"

namespace pricepipe {
namespace {

std::uint64_t pick_seed(std::uint64_t configured) {
  if (configured != 0) return configured;
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

}  // namespace

EventGenerator::EventGenerator(const GeneratorSettings& settings)
    : settings_(settings), seed_(pick_seed(settings.seed)), engine_(seed_) {
  set_ranges(settings);
}

void EventGenerator::set_ranges(const GeneratorSettings& settings) {
  min_ticks_ = ticks_at_least(settings.price_min, settings.price_decimals);
  max_ticks_ = ticks_at_most(settings.price_max, settings.price_decimals);
  match_ = std::uniform_int_distribution<std::int64_t>(settings.match_min, settings.match_max);
  ticks_ = std::uniform_int_distribution<std::int64_t>(min_ticks_, max_ticks_);
}

void EventGenerator::update(const GeneratorSettings& settings) {
  if (settings.seed != settings_.seed) {
    seed_ = pick_seed(settings.seed);
    engine_.seed(seed_);
  }
  settings_ = settings;
  set_ranges(settings);
}

PriceEvent EventGenerator::next() {
  PriceEvent event;
  event.match = match_(engine_);
  event.price_ticks = ticks_(engine_);
  return event;
}

}  // namespace pricepipe
