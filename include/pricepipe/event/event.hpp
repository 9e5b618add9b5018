#pragma once
// The price event and its JSON codec.
//
// Prices are carried as integer ticks of 10^-decimals so they are written with exactly
// `decimals` digits after the point and never in exponent form. An EventCodec is cheap to
// copy and holds no state between calls; each thread uses its own.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pricepipe/event/price_ticks.hpp"

namespace pricepipe {

struct PriceEvent {
  std::int64_t match = 0;
  std::int64_t price_ticks = 0;  // price * 10^decimals
  bool operator==(const PriceEvent& o) const {
    return match == o.match && price_ticks == o.price_ticks;
  }
};

// Where a consumed event came from, for the `envelope` output.
struct EventEnvelope {
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = 0;  // producer (creation) timestamp; -1 when absent
  std::string_view key;
};

struct DecodeResult {
  bool ok = false;
  PriceEvent event;
  std::string reason;  // why it was rejected; empty when ok
  // The payload is byte for byte what encode(event) writes (a pricepipe producer's event with
  // the same decimals), so a consumer may print the payload itself instead of encoding again.
  bool canonical = false;
};

inline constexpr int kMaxPriceDecimals = 6;
// Bigger values are not events: they would not survive the tick arithmetic.
inline constexpr std::int64_t kMaxMatch = 999999999999LL;
inline constexpr double kMaxPrice = 1e12;
// A price event is ~30 bytes; anything past this is rejected before parsing.
inline constexpr std::size_t kMaxEventBytes = 64 * 1024;

class EventCodec {
 public:
  explicit EventCodec(int price_decimals);

  int price_decimals() const { return decimals_; }

  // Appends `{"match":M,"price":P}` to `out`.
  void encode(const PriceEvent& event, std::string& out) const;
  std::string encode(const PriceEvent& event) const;
  // Appends `{"topic":..,"partition":..,"offset":..,"timestamp":..,"key":..,"event":{..}}`.
  void encode_envelope(const EventEnvelope& envelope, const PriceEvent& event, std::string& out) const;

  // Accepts any JSON object with an integer `match` and a numeric `price` (any spacing, key
  // order, extra fields); the price is rounded half-up to this codec's decimals. Rejects
  // everything else with a reason. Never throws, never recurses on nesting. The canonical
  // form, `{"match":M,"price":P}` without spaces, is read without the JSON parser.
  DecodeResult decode(std::string_view payload) const;

 private:
  int decimals_;
};

// `ticks` as a decimal with exactly `decimals` digits after the point ("4.50", "7").
std::string format_price(std::int64_t ticks, int decimals);
void append_price(std::int64_t ticks, int decimals, std::string& out);

// A JSON number's text as ticks of 10^-decimals, rounded half-up; nullopt when it is not a
// non-negative number no larger than kMaxPrice.
std::optional<std::int64_t> parse_price_ticks(std::string_view number, int decimals);

}  // namespace pricepipe
