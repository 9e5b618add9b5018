#include "pricepipe/workers/handoff.hpp"

#include <algorithm>

namespace pricepipe {

void LiveSettings::post(const ProducerSettings& settings) {
  std::lock_guard<std::mutex> lock(mutex_);
  settings_ = settings;
  pending_.store(true, std::memory_order_release);
}

void LiveSettings::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  settings_.reset();
  pending_.store(false, std::memory_order_release);
}

std::optional<ProducerSettings> LiveSettings::take() {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.store(false, std::memory_order_relaxed);
  std::optional<ProducerSettings> taken;
  taken.swap(settings_);
  return taken;
}

void ProducedEnds::note(const PartitionEndOffsets& ends) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [partition, end] : ends) {
    auto& known = ends_[partition];
    known = std::max(known, end);
  }
}

void ProducedEnds::seal() {
  std::lock_guard<std::mutex> lock(mutex_);
  sealed_.store(true, std::memory_order_release);
}

std::optional<PartitionEndOffsets> ProducedEnds::sealed() const {
  if (!sealed_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  return ends_;
}

}  // namespace pricepipe
