// Micro-benchmark of the event codec: nanoseconds per encode and per decode. Prints figures
// for scripts/bench.sh; never a pass/fail test.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "pricepipe/event/event.hpp"
#include "pricepipe/producer/generator.hpp"

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000000;
  pricepipe::GeneratorSettings settings;
  settings.seed = 1;
  pricepipe::EventGenerator generator(settings);
  const pricepipe::EventCodec codec(settings.price_decimals);
  std::vector<pricepipe::PriceEvent> events;
  events.reserve(4096);
  for (int i = 0; i < 4096; ++i) events.push_back(generator.next());

  std::string out;
  std::size_t bytes = 0;
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    out.clear();
    codec.encode(events[static_cast<std::size_t>(i) & 4095], out);
    bytes += out.size();
  }
  const double encode_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;

  std::vector<std::string> payloads;
  for (const auto& e : events) payloads.push_back(codec.encode(e));
  std::size_t ok = 0;
  start = Clock::now();
  for (int i = 0; i < n; ++i) ok += codec.decode(payloads[static_cast<std::size_t>(i) & 4095]).ok ? 1 : 0;
  const double decode_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;

  std::printf("encode_ns %.1f\ndecode_ns %.1f\n", encode_ns, decode_ns);
  return ok == static_cast<std::size_t>(n) && bytes > 0 ? 0 : 1;
}
