#include "pricepipe/event/event.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace pricepipe {
namespace {

// Encoding runs once per event on the hot path, so it allocates nothing: RapidJSON writes an
// event into a fixed array on the stack (an event is at most ~60 bytes: two int64 numbers and
// fixed text), its nesting stack lives in a memory pool on our stack too, and the price digits
// are formatted into a local array. The envelope, whose topic and key can be any size, is
// written into a string buffer in that pool instead, which falls back to the heap if needed.
constexpr std::size_t kEncodeBufferBytes = 1024;
constexpr std::size_t kEventPoolBytes = 256;  // the writer's nesting stack only (depth 2)
using PoolAllocator = rapidjson::MemoryPoolAllocator<rapidjson::CrtAllocator>;
using StackStringBuffer = rapidjson::GenericStringBuffer<rapidjson::UTF8<>, PoolAllocator>;

// A RapidJSON output stream into a fixed array, for output of bounded size. An event fits with
// room to spare (the "encode ... widest event" test writes the largest one).
class EventBuffer {
 public:
  using Ch = char;
  void Put(char c) {
    if (size_ < sizeof data_) data_[size_++] = c;
  }
  void Flush() {}
  std::string_view view() const { return {data_, size_}; }

 private:
  char data_[128];
  std::size_t size_ = 0;
};

template <typename Stream>
using JsonWriter = rapidjson::Writer<Stream, rapidjson::UTF8<>, rapidjson::UTF8<>, PoolAllocator>;

// `ticks` with exactly `decimals` digits after the point, into `out` (at least 32 chars).
std::size_t format_price_into(std::int64_t ticks, int decimals, char* out) {
  char* p = out;
  if (ticks < 0) {
    *p++ = '-';
    ticks = -ticks;
  }
  const std::int64_t scale = pow10(decimals);
  p = std::to_chars(p, out + 32, ticks / scale).ptr;
  if (decimals > 0) {
    *p++ = '.';
    char frac[24];
    const char* end = std::to_chars(frac, frac + sizeof frac, ticks % scale).ptr;
    const auto digits = static_cast<int>(end - frac);
    for (int i = digits; i < decimals; ++i) *p++ = '0';
    p = std::copy(static_cast<const char*>(frac), end, p);
  }
  return static_cast<std::size_t>(p - out);
}

template <typename Stream>
void write_event(JsonWriter<Stream>& writer, const PriceEvent& event, int decimals) {
  char price[32];
  const std::size_t price_size = format_price_into(event.price_ticks, decimals, price);
  writer.StartObject();
  writer.Key("match", 5);
  writer.Int64(event.match);
  writer.Key("price", 5);
  writer.RawValue(price, price_size, rapidjson::kNumberType);
  writer.EndObject();
}

std::optional<std::int64_t> parse_match(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;  // negative, fraction or exponent
    value = value * 10 + (c - '0');
  }
  return value <= kMaxMatch ? std::optional<std::int64_t>(value) : std::nullopt;
}

// SAX handler that picks the top-level `match` and `price` out of one JSON object. Numbers
// arrive as text (kParseNumbersAsStringsFlag) so prices are read exactly.
class EventHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, EventHandler> {
 public:
  explicit EventHandler(int decimals) : decimals_(decimals) {}

  bool Default() { return value(Kind::kOther); }
  bool String(const char*, rapidjson::SizeType, bool) { return value(Kind::kString); }
  bool RawNumber(const char* str, rapidjson::SizeType length, bool) {
    if (depth_ != 1) return depth_ != 0 || fail("not a JSON object (a number)");
    const std::string_view text(str, length);
    if (field_ == Field::kMatch) {
      const auto match = parse_match(text);
      if (!match) return fail("match is not an integer from 0 to 999999999999");
      event_.match = *match;
    } else if (field_ == Field::kPrice) {
      const auto ticks = parse_price_ticks(text, decimals_);
      if (!ticks) return fail("price is not a number from 0 to 1e12");
      event_.price_ticks = *ticks;
    }
    return true;
  }
  bool StartObject() {
    if (depth_ == 0) {
      depth_ = 1;
      return true;
    }
    if (!value(Kind::kOther)) return false;
    ++depth_;
    return true;
  }
  bool Key(const char* str, rapidjson::SizeType length, bool) {
    if (depth_ != 1) return true;
    const std::string_view key(str, length);
    field_ = Field::kOther;
    if (key == "match") {
      if (seen_match_) return fail("duplicate key \"match\"");
      seen_match_ = true;
      field_ = Field::kMatch;
    } else if (key == "price") {
      if (seen_price_) return fail("duplicate key \"price\"");
      seen_price_ = true;
      field_ = Field::kPrice;
    }
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  bool StartArray() {
    if (depth_ == 0) return fail("not a JSON object (an array)");
    if (!value(Kind::kOther)) return false;
    ++depth_;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return true;
  }

  const std::string& error() const { return error_; }
  bool complete(std::string& reason) const {
    if (!seen_match_) reason = "no \"match\" field";
    else if (!seen_price_) reason = "no \"price\" field";
    else return true;
    return false;
  }
  const PriceEvent& event() const { return event_; }

 private:
  enum class Field { kMatch, kPrice, kOther };
  enum class Kind { kString, kOther };

  // A scalar or container value: only numbers are acceptable for the two known fields.
  bool value(Kind kind) {
    if (depth_ == 0) return fail(kind == Kind::kString ? "not a JSON object (a string)" : "not a JSON object");
    if (depth_ != 1) return true;
    if (field_ == Field::kMatch) return fail("match is not an integer");
    if (field_ == Field::kPrice) return fail("price is not a number");
    return true;
  }
  bool fail(const char* why) {
    error_ = why;
    return false;
  }

  int decimals_;
  int depth_ = 0;
  Field field_ = Field::kOther;
  bool seen_match_ = false;
  bool seen_price_ = false;
  PriceEvent event_;
  std::string error_;
};

}  // namespace

void append_price(std::int64_t ticks, int decimals, std::string& out) {
  char price[32];
  out.append(price, format_price_into(ticks, decimals, price));
}

std::string format_price(std::int64_t ticks, int decimals) {
  std::string out;
  append_price(ticks, decimals, out);
  return out;
}

namespace {

// A run of decimal digits as a number: nullopt when it is empty, longer than `max_digits` or
// holds anything but 0-9 (from_chars on an unsigned type takes no sign).
std::optional<std::int64_t> digits_value(std::string_view digits, std::size_t max_digits) {
  std::uint64_t value = 0;
  const char* end = digits.data() + digits.size();
  if (digits.empty() || digits.size() > max_digits) return std::nullopt;
  const auto [stop, error] = std::from_chars(digits.data(), end, value);
  if (error != std::errc() || stop != end) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

bool all_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Exponent form from other producers: rare, so it goes through double.
std::optional<std::int64_t> exponent_ticks(std::string_view text, int decimals) {
  const std::string copy(text);
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(v) || v < 0 || v > kMaxPrice) {
    return std::nullopt;
  }
  return std::llround(v * static_cast<double>(pow10(decimals)));
}

// Plain decimal text ("12", "12.", "12.345"): exact, rounded half-up on the first dropped
// digit. The whole part is checked against kMaxPrice before scaling, so nothing overflows.
std::optional<std::int64_t> plain_ticks(std::string_view text, int decimals) {
  const auto dot = text.find('.');
  const std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  const auto whole = digits_value(text.substr(0, dot), 13);
  if (!whole || *whole > static_cast<std::int64_t>(kMaxPrice) || !all_digits(frac)) return std::nullopt;
  const std::size_t kept = std::min(frac.size(), static_cast<std::size_t>(decimals));
  const std::int64_t kept_value = kept == 0 ? 0 : *digits_value(frac.substr(0, kept), kept);
  std::int64_t ticks = *whole * pow10(decimals) + kept_value * pow10(decimals - static_cast<int>(kept));
  if (frac.size() > kept && frac[kept] >= '5') ++ticks;
  if (ticks > static_cast<std::int64_t>(kMaxPrice) * pow10(decimals)) return std::nullopt;
  return ticks;
}

}  // namespace

std::optional<std::int64_t> parse_price_ticks(std::string_view text, int decimals) {
  if (text.empty() || text.front() == '-') return std::nullopt;
  if (text.find_first_of("eE") != std::string_view::npos) return exponent_ticks(text, decimals);
  return plain_ticks(text, decimals);
}

namespace {

// How many digits start `s` at `from`.
std::size_t digit_run(std::string_view s, std::size_t from) {
  std::size_t i = from;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  return i - from;
}

// The length of JSON's integer part at `from` ("0", or digits without a leading zero); 0 when
// there is none.
std::size_t json_integer(std::string_view s, std::size_t from) {
  const std::size_t n = digit_run(s, from);
  return n > 1 && s[from] == '0' ? 0 : n;
}

// The length of a JSON number without sign or exponent at `from` ("0", "12", "4.56"); 0 when
// there is none. `fraction` gets the number of digits after its point, nullopt without one.
std::size_t plain_json_number(std::string_view s, std::size_t from, std::optional<std::size_t>& fraction) {
  const std::size_t whole = json_integer(s, from);
  fraction.reset();
  if (whole == 0 || from + whole >= s.size() || s[from + whole] != '.') return whole;
  fraction = digit_run(s, from + whole + 1);
  return *fraction == 0 ? 0 : whole + 1 + *fraction;
}

// The form pricepipe's producers write, `{"match":M,"price":P}` with no space and both numbers
// in JSON's grammar without sign or exponent: nearly every message, read here without the
// parser (which cost about a quarter of the consumer's CPU). The numbers go through the same
// functions as in EventHandler, so the event is the one RapidJSON's path would give; anything
// else, a failure included, is left to that path (nullopt), which also words the reason.
std::optional<DecodeResult> decode_canonical(std::string_view p, int decimals) {
  constexpr std::string_view kMatch = "{\"match\":";
  constexpr std::string_view kPrice = ",\"price\":";
  if (p.substr(0, kMatch.size()) != kMatch) return std::nullopt;
  const std::size_t match_digits = json_integer(p, kMatch.size());
  const std::size_t price_at = kMatch.size() + match_digits + kPrice.size();
  if (match_digits == 0 || p.substr(kMatch.size() + match_digits, kPrice.size()) != kPrice) return std::nullopt;
  std::optional<std::size_t> fraction;
  const std::size_t price_size = plain_json_number(p, price_at, fraction);
  if (price_size == 0 || p.substr(price_at + price_size) != "}") return std::nullopt;
  const auto match = parse_match(p.substr(kMatch.size(), match_digits));
  const auto ticks = parse_price_ticks(p.substr(price_at, price_size), decimals);
  if (!match || !ticks) return std::nullopt;
  DecodeResult result;
  result.ok = true;
  result.event = PriceEvent{*match, *ticks};
  // encode writes the whole part without leading zeros and exactly `decimals` digits after a
  // point (no point at 0 decimals): the same text when the payload has as many.
  result.canonical = fraction ? *fraction == static_cast<std::size_t>(decimals) : decimals == 0;
  return result;
}

}  // namespace

EventCodec::EventCodec(int price_decimals) : decimals_(price_decimals) {}

void EventCodec::encode(const PriceEvent& event, std::string& out) const {
  char memory[kEventPoolBytes];
  PoolAllocator allocator(memory, sizeof memory);
  EventBuffer buffer;
  JsonWriter<EventBuffer> writer(buffer, &allocator, 4);  // nesting depth 2; grows if ever needed
  write_event(writer, event, decimals_);
  out.append(buffer.view());
}

std::string EventCodec::encode(const PriceEvent& event) const {
  std::string out;
  encode(event, out);
  return out;
}

void EventCodec::encode_envelope(const EventEnvelope& envelope, const PriceEvent& event,
                                 std::string& out) const {
  // Topic and key are short here, but any size works: the pool falls back to the heap.
  char memory[kEncodeBufferBytes];
  PoolAllocator allocator(memory, sizeof memory);
  StackStringBuffer buffer(&allocator, 256);
  JsonWriter<StackStringBuffer> writer(buffer, &allocator, 4);  // nesting depth 2; grows if ever needed
  writer.StartObject();
  writer.Key("topic");
  writer.String(envelope.topic.data(), static_cast<rapidjson::SizeType>(envelope.topic.size()));
  writer.Key("partition");
  writer.Int(envelope.partition);
  writer.Key("offset");
  writer.Int64(envelope.offset);
  writer.Key("timestamp");
  writer.Int64(envelope.timestamp_ms);
  writer.Key("key");
  writer.String(envelope.key.data(), static_cast<rapidjson::SizeType>(envelope.key.size()));
  writer.Key("event");
  write_event(writer, event, decimals_);
  writer.EndObject();
  out.append(buffer.GetString(), buffer.GetSize());
}

DecodeResult EventCodec::decode(std::string_view payload) const {
  DecodeResult result;
  if (payload.empty()) {
    result.reason = "empty message";
    return result;
  }
  if (payload.size() > kMaxEventBytes) {
    result.reason = "message too large (" + std::to_string(payload.size()) + " bytes, limit " +
                    std::to_string(kMaxEventBytes) + ")";
    return result;
  }
  if (auto canonical = decode_canonical(payload, decimals_)) return *std::move(canonical);
  // RapidJSON treats NUL as the end of input, which would hide whatever follows it.
  if (std::memchr(payload.data(), '\0', payload.size()) != nullptr) {
    result.reason = "message contains a NUL byte";
    return result;
  }
  EventHandler handler(decimals_);
  rapidjson::MemoryStream stream(payload.data(), payload.size());
  // The parser's stack lives on ours too; deep nesting spills to the heap, bounded by
  // kMaxEventBytes.
  char memory[kEncodeBufferBytes];
  PoolAllocator allocator(memory, sizeof memory);
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, PoolAllocator> reader(&allocator, 256);
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag;
  const rapidjson::ParseResult parsed = reader.Parse<kFlags>(stream, handler);
  if (!parsed) {
    if (!handler.error().empty()) {
      result.reason = handler.error();
    } else {
      result.reason = std::string("not valid JSON: ") + rapidjson::GetParseError_En(parsed.Code()) +
                      " at byte " + std::to_string(parsed.Offset());
    }
    return result;
  }
  if (!handler.complete(result.reason)) return result;
  result.ok = true;
  result.event = handler.event();
  return result;
}

}  // namespace pricepipe
