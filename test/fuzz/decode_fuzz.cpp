// libFuzzer target for the event codec: any bytes a Kafka message may carry.
//
// For each input and every supported decimals setting: decode must not crash and must give a
// reason exactly when it fails, and its short path for the canonical form must agree with the
// JSON parser; an accepted event must be in range, encode to canonical text
// that decodes to the same event, and encoding is a fixed point. The input is also used as a
// message key for the envelope, which must stay valid JSON that gives the key back.
// Built with -fsanitize=fuzzer by PRICEPIPE_FUZZ=ON, and run over the corpus by
// fuzz_replay_main.cpp in the ordinary test builds.

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pricepipe/event/event.hpp"

namespace {

[[noreturn]] void fail(const char* what, std::string_view input, const std::string& detail) {
  std::fprintf(stderr, "decode_fuzz: %s\n  input (%zu bytes): %.*s\n  detail: %s\n", what,
               input.size(), static_cast<int>(input.size() > 512 ? 512 : input.size()),
               input.data(), detail.c_str());
  std::abort();
}

// The canonical form's short path against RapidJSON's: a leading space sends the same JSON to
// the parser. Both must accept the same inputs as the same event.
void check_short_path(const pricepipe::EventCodec& codec, std::string_view input,
                      const pricepipe::DecodeResult& result) {
  if (input.size() >= pricepipe::kMaxEventBytes || input.empty() || input.front() != '{') return;
  const pricepipe::DecodeResult parsed = codec.decode(" " + std::string(input));
  if (parsed.ok != result.ok) {
    fail("the short path and the parser disagree", input, result.reason + " / " + parsed.reason);
  }
  if (result.ok && !(parsed.event == result.event)) fail("the short path read another event", input, "");
  if (result.canonical && codec.encode(result.event) != input) fail("marked canonical, encodes otherwise", input, "");
}

void check_decode(const pricepipe::EventCodec& codec, std::string_view input) {
  const pricepipe::DecodeResult result = codec.decode(input);
  check_short_path(codec, input, result);
  if (!result.ok) {
    if (result.reason.empty()) fail("rejected without a reason", input, "");
    return;
  }
  if (!result.reason.empty()) fail("accepted with a reason", input, result.reason);

  const pricepipe::PriceEvent& event = result.event;
  const std::int64_t max_ticks =
      static_cast<std::int64_t>(pricepipe::kMaxPrice) * pricepipe::pow10(codec.price_decimals());
  if (event.match < 0 || event.match > pricepipe::kMaxMatch || event.price_ticks < 0 ||
      event.price_ticks > max_ticks) {
    fail("accepted an event out of range", input,
         std::to_string(event.match) + " " + std::to_string(event.price_ticks));
  }

  std::string encoded;
  codec.encode(event, encoded);
  const pricepipe::DecodeResult again = codec.decode(encoded);
  if (!again.ok) fail("own encoding does not decode", input, encoded + " -> " + again.reason);
  if (!(again.event == event)) {
    fail("round trip changed the event", input,
         encoded + " -> " + std::to_string(again.event.match) + " " +
             std::to_string(again.event.price_ticks));
  }
  if (codec.encode(again.event) != encoded) fail("encoding is not canonical", input, encoded);
}

void check_envelope(const pricepipe::EventCodec& codec, std::string_view key) {
  pricepipe::EventEnvelope envelope;
  envelope.topic = "prices-topic";
  envelope.partition = 2;
  envelope.offset = 42;
  envelope.timestamp_ms = -1;
  envelope.key = key;
  std::string out;
  codec.encode_envelope(envelope, pricepipe::PriceEvent{123, 456}, out);
  // Keys are arbitrary bytes: the output must still be one JSON object giving them back.
  rapidjson::Document doc;
  doc.Parse(out.data(), out.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("key") || !doc["key"].IsString()) {
    fail("envelope is not valid JSON", key, out);
  }
  const rapidjson::Value& parsed_key = doc["key"];
  if (std::string_view(parsed_key.GetString(), parsed_key.GetStringLength()) != key) {
    fail("envelope changed the key", key, out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (int decimals = 0; decimals <= pricepipe::kMaxPriceDecimals; ++decimals) {
    check_decode(pricepipe::EventCodec(decimals), input);
  }
  if (size <= 4096) check_envelope(pricepipe::EventCodec(2), input);
  return 0;
}
