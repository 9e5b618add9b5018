#include "catch_compat.hpp"

#include <limits>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "pricepipe/event/event.hpp"
#include "pricepipe/producer/generator.hpp"

using namespace pricepipe;

namespace {

std::string reason_of(const std::string& payload, int decimals = 2) {
  const DecodeResult r = EventCodec(decimals).decode(payload);
  CHECK_FALSE(r.ok);
  return r.reason;
}

PriceEvent decoded(const std::string& payload, int decimals = 2) {
  const DecodeResult r = EventCodec(decimals).decode(payload);
  INFO(payload << " -> " << r.reason);
  REQUIRE(r.ok);
  return r.event;
}

}  // namespace

TEST_CASE("encode writes match then price with fixed decimals", "[unit][event]") {
  const EventCodec codec(2);
  CHECK(codec.encode({123, 456}) == R"({"match":123,"price":4.56})");
  CHECK(codec.encode({100, 450}) == R"({"match":100,"price":4.50})");
  CHECK(codec.encode({999, 101}) == R"({"match":999,"price":1.01})");
  CHECK(codec.encode({500, 100000}) == R"({"match":500,"price":1000.00})");
  CHECK(codec.encode({500, 5}) == R"({"match":500,"price":0.05})");
  CHECK(codec.encode({500, 0}) == R"({"match":500,"price":0.00})");
  CHECK(EventCodec(0).encode({7, 12}) == R"({"match":7,"price":12})");
  CHECK(EventCodec(6).encode({7, 1}) == R"({"match":7,"price":0.000001})");
  CHECK(EventCodec(6).encode({7, 1000000000000000000LL}) == R"({"match":7,"price":1000000000000.000000})");
}

TEST_CASE("encode appends to the caller's string and never truncates the widest event", "[unit][event]") {
  // The event is written through a fixed array; the widest int64 fields must still fit whole.
  constexpr std::int64_t kWidest = std::numeric_limits<std::int64_t>::max();
  std::string out = "before|";
  EventCodec(6).encode({kWidest, kWidest}, out);
  CHECK(out == R"(before|{"match":9223372036854775807,"price":9223372036854.775807})");
  out.clear();
  EventCodec(0).encode({kWidest, -kWidest}, out);
  CHECK(out == R"({"match":9223372036854775807,"price":-9223372036854775807})");
}

TEST_CASE("format_price never uses exponent form", "[unit][event]") {
  for (int d = 0; d <= kMaxPriceDecimals; ++d) {
    for (std::int64_t ticks : {0LL, 1LL, 9LL, 10LL, 99LL, 100LL, 123456789LL, 999999999999999999LL}) {
      const std::string text = format_price(ticks, d);
      INFO(ticks << " @" << d << " = " << text);
      CHECK(text.find_first_of("eE") == std::string::npos);
      const auto dot = text.find('.');
      if (d == 0) {
        CHECK(dot == std::string::npos);
      } else {
        REQUIRE(dot != std::string::npos);
        CHECK(text.size() - dot - 1 == static_cast<std::size_t>(d));
      }
      if (ticks <= static_cast<std::int64_t>(kMaxPrice) * pow10(d)) {
        CHECK(parse_price_ticks(text, d) == ticks);
      } else {
        CHECK_FALSE(parse_price_ticks(text, d).has_value());  // above kMaxPrice
      }
    }
  }
}

TEST_CASE("parse_price_ticks reads plain and exponent numbers exactly, and refuses the rest", "[unit][event]") {
  using Ticks = std::optional<std::int64_t>;
  CHECK(parse_price_ticks("4.56", 2) == Ticks(456));
  CHECK(parse_price_ticks("4.5", 2) == Ticks(450));
  CHECK(parse_price_ticks("12.", 2) == Ticks(1200));
  CHECK(parse_price_ticks("007", 2) == Ticks(700));
  CHECK(parse_price_ticks("1.005", 2) == Ticks(101));     // half-up on the first dropped digit
  CHECK(parse_price_ticks("1.00499", 2) == Ticks(100));
  CHECK(parse_price_ticks("2.5", 0) == Ticks(3));
  CHECK(parse_price_ticks("2.4999", 0) == Ticks(2));
  CHECK(parse_price_ticks("0.1234565", 6) == Ticks(123457));
  CHECK(parse_price_ticks("4.56e2", 2) == Ticks(45600));
  CHECK(parse_price_ticks("1000000000000", 2) == Ticks(100000000000000LL));  // kMaxPrice itself
  CHECK(parse_price_ticks("0000000000001.5", 1) == Ticks(15));             // 13 whole digits
  for (const char* bad : {"", "-1", "+1", ".5", "1.2.3", "1,5", "1 ", " 1", "0x10", "1.5x", "abc",
                          "00000000000001", "1000000000001", "1000000000000.01", "1e13", "-1e2",
                          "1e", "inf", "nan"}) {
    INFO('"' << bad << '"');
    CHECK_FALSE(parse_price_ticks(bad, 2).has_value());
  }
}

TEST_CASE("decode accepts other producers' spacing and key order and extra fields", "[unit][event]") {
  // Python's json.dumps output.
  CHECK(decoded(R"({"match": 123, "price": 4.56})") == PriceEvent{123, 456});
  CHECK(decoded(" \n{\t\"price\" :4.5 ,\r\n \"match\":  7 }\n") == PriceEvent{7, 450});
  CHECK(decoded(R"({"source":"py","match":1,"meta":{"a":[1,{"match":"x"}],"price":null},"price":2,"z":true})") ==
        PriceEvent{1, 200});
  CHECK(decoded(R"({"match":1,"price":2,"name":"caf\u00e9 \u2603 ü"})") == PriceEvent{1, 200});
}

TEST_CASE("decode rounds foreign prices half-up to the configured decimals", "[unit][event]") {
  CHECK(decoded(R"({"match":1,"price":1.005})").price_ticks == 101);
  CHECK(decoded(R"({"match":1,"price":1.004999})").price_ticks == 100);
  CHECK(decoded(R"({"match":1,"price":0.125})").price_ticks == 13);
  CHECK(decoded(R"({"match":1,"price":4.56e2})").price_ticks == 45600);
  CHECK(decoded(R"({"match":1,"price":4.56E-1})").price_ticks == 46);
  CHECK(decoded(R"({"match":1,"price":0})").price_ticks == 0);
  CHECK(decoded(R"({"match":1,"price":4.5678})", 3).price_ticks == 4568);
  CHECK(decoded(R"({"match":1,"price":1000000000000})").price_ticks == 100000000000000LL);
}

TEST_CASE("decode rejects bad messages with a reason", "[unit][event]") {
  CHECK_THAT(reason_of(""), Catch::Contains("empty"));
  CHECK_THAT(reason_of("   "), Catch::Contains("not valid JSON"));
  CHECK_THAT(reason_of("\xff\xfe{}"), Catch::Contains("not valid JSON"));
  CHECK_THAT(reason_of("{\"match\":1,\"price\":2,\"x\":\"\xc3\x28\"}"), Catch::Contains("not valid JSON"));
  CHECK_THAT(reason_of(R"({"match":1,"price":)"), Catch::Contains("not valid JSON"));
  CHECK_THAT(reason_of(R"({"match":1,"price":2})" "garbage"), Catch::Contains("not valid JSON"));
  CHECK_THAT(reason_of(std::string("{\"match\":1,\"price\":2}\0{}", 24)), Catch::Contains("NUL"));
  CHECK_THAT(reason_of(R"([{"match":1,"price":2}])"), Catch::Contains("not a JSON object"));
  CHECK_THAT(reason_of(R"("hello")"), Catch::Contains("not a JSON object"));
  CHECK_THAT(reason_of("42"), Catch::Contains("not a JSON object"));
  CHECK_THAT(reason_of("null"), Catch::Contains("not a JSON object"));
  CHECK_THAT(reason_of(R"({"price":2})"), Catch::Contains("no \"match\""));
  CHECK_THAT(reason_of(R"({"match":2})"), Catch::Contains("no \"price\""));
  CHECK_THAT(reason_of(R"({"match":"123","price":2})"), Catch::Contains("match is not an integer"));
  CHECK_THAT(reason_of(R"({"match":1.5,"price":2})"), Catch::Contains("match is not an integer"));
  CHECK_THAT(reason_of(R"({"match":1e2,"price":2})"), Catch::Contains("match is not an integer"));
  CHECK_THAT(reason_of(R"({"match":-1,"price":2})"), Catch::Contains("match"));
  CHECK_THAT(reason_of(R"({"match":99999999999999999999,"price":2})"), Catch::Contains("match"));
  CHECK_THAT(reason_of(R"({"match":[1],"price":2})"), Catch::Contains("match is not an integer"));
  CHECK_THAT(reason_of(R"({"match":null,"price":2})"), Catch::Contains("match is not an integer"));
  CHECK_THAT(reason_of(R"({"match":1,"price":"4.56"})"), Catch::Contains("price is not a number"));
  CHECK_THAT(reason_of(R"({"match":1,"price":true})"), Catch::Contains("price is not a number"));
  CHECK_THAT(reason_of(R"({"match":1,"price":{"v":1}})"), Catch::Contains("price is not a number"));
  CHECK_THAT(reason_of(R"({"match":1,"price":NaN})"), Catch::Contains("not valid JSON"));
  CHECK_THAT(reason_of(R"({"match":1,"price":Infinity})"), Catch::Contains("not valid JSON"));
  CHECK_THAT(reason_of(R"({"match":1,"price":1e400})"), Catch::Contains("too big"));
  CHECK_THAT(reason_of(R"({"match":1,"price":1e300})"), Catch::Contains("price"));
  CHECK_THAT(reason_of(R"({"match":1,"price":1000000000000.01})"), Catch::Contains("price"));
  CHECK_THAT(reason_of(R"({"match":1,"price":99999999999999999999.5})"), Catch::Contains("price"));
  CHECK_THAT(reason_of(R"({"match":1,"price":-4.56})"), Catch::Contains("price"));
  CHECK_THAT(reason_of(R"({"match":1,"match":2,"price":3})"), Catch::Contains("duplicate key \"match\""));
  CHECK_THAT(reason_of(R"({"match":1,"price":3,"price":3})"), Catch::Contains("duplicate key \"price\""));
  CHECK_THAT(reason_of(std::string(kMaxEventBytes + 1, ' ')), Catch::Contains("too large"));
  CHECK_THAT(reason_of(std::string(1 << 20, 'x')), Catch::Contains("too large"));
}

TEST_CASE("deep nesting cannot exhaust the stack", "[unit][event]") {
  const std::size_t depth = kMaxEventBytes / 2 - 16;
  const std::string arrays = std::string(depth, '[') + std::string(depth, ']');
  CHECK_THAT(reason_of(arrays), Catch::Contains("not a JSON object"));
  const std::string nested = R"({"match":1,"price":2,"x":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  CHECK(decoded(nested) == PriceEvent{1, 200});
  const std::string unbalanced = "{\"x\":" + std::string(kMaxEventBytes - 10, '[');
  CHECK_THAT(reason_of(unbalanced), Catch::Contains("not valid JSON"));
}

TEST_CASE("envelope output carries where the event came from", "[unit][event]") {
  std::string out;
  EventEnvelope env;
  env.topic = "prices-topic";
  env.partition = 2;
  env.offset = 41;
  env.timestamp_ms = 1700000000123;
  env.key = "123";
  EventCodec(2).encode_envelope(env, {123, 456}, out);
  CHECK(out ==
        R"({"topic":"prices-topic","partition":2,"offset":41,"timestamp":1700000000123,"key":"123","event":{"match":123,"price":4.56}})");
}

TEST_CASE("generated events round-trip through the codec at every precision", "[unit][event]") {
  const std::regex two_decimals(R"(\{"match":[0-9]{3},"price":[0-9]+\.[0-9]{2}\})");
  for (int d = 0; d <= kMaxPriceDecimals; ++d) {
    GeneratorSettings g;
    g.price_decimals = d;
    g.seed = 42 + static_cast<std::uint64_t>(d);
    g.price_min = 0;
    g.price_max = 1000;
    EventGenerator generator(g);
    const EventCodec codec(d);
    for (int i = 0; i < 2000; ++i) {
      const PriceEvent e = generator.next();
      const std::string text = codec.encode(e);
      INFO(text);
      const DecodeResult back = codec.decode(text);
      REQUIRE(back.ok);
      CHECK(back.event == e);
      CHECK(back.canonical);  // a consumer may print the payload itself
      if (d == 2) CHECK(std::regex_match(text, two_decimals));
    }
  }
}

TEST_CASE("the canonical form is read as the JSON parser reads it, and marked canonical only when encode writes it",
          "[unit][event]") {
  // Canonical in shape, but each with something the short path must leave to the parser: a
  // leading zero, a point without digits, a sign, an exponent, too many digits, out of range,
  // more or fewer decimals than the codec's, and text after the object.
  const std::vector<std::string> payloads = {
      R"({"match":123,"price":4.56})", R"({"match":0,"price":0})", R"({"match":0,"price":0.00})",
      R"({"match":7,"price":4.5})", R"({"match":7,"price":4.567})", R"({"match":7,"price":4.565})",
      R"({"match":7,"price":4})", R"({"match":7,"price":1000000000000})", R"({"match":7,"price":1000000000000.01})",
      R"({"match":999999999999,"price":1.000001})", R"({"match":1000000000000,"price":1})",
      R"({"match":0123,"price":1})", R"({"match":1,"price":01.5})", R"({"match":1,"price":00})",
      R"({"match":1,"price":1.})", R"({"match":1,"price":.5})", R"({"match":-1,"price":1})",
      R"({"match":1,"price":-1})", R"({"match":1,"price":1e2})", R"({"match":1.0,"price":1})",
      R"({"match":1,"price":1} )", R"({"match":1,"price":1}x)", R"({"match":1,"price":1)", R"({"match":1,"price":})",
      R"({"match":,"price":1})", R"({"match":1,"price":1,"x":2})", R"({"match":1})", R"({"match":1,"price")"};
  for (const int decimals : {0, 2, 6}) {
    const EventCodec codec(decimals);
    for (const std::string& payload : payloads) {
      // A leading space keeps the same JSON away from the short path: RapidJSON reads it.
      const DecodeResult fast = codec.decode(payload);
      const DecodeResult parsed = codec.decode(" " + payload);
      INFO(decimals << " decimals: " << payload << " -> " << fast.reason << " / " << parsed.reason);
      REQUIRE(fast.ok == parsed.ok);
      CHECK_FALSE(parsed.canonical);
      if (!fast.ok) continue;
      CHECK(fast.event == parsed.event);
      CHECK(fast.canonical == (codec.encode(fast.event) == payload));
    }
  }
  CHECK(EventCodec(2).decode(R"({"match":123,"price":4.56})").canonical);
  CHECK_FALSE(EventCodec(2).decode(R"({"match":123,"price":4.5})").canonical);
  CHECK_FALSE(EventCodec(3).decode(R"({"match":123,"price":4.56})").canonical);
  CHECK(EventCodec(0).decode(R"({"match":123,"price":4})").canonical);
}
