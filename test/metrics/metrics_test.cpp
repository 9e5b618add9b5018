#include "catch_compat.hpp"

#include "pricepipe/metrics/metrics.hpp"

using namespace pricepipe;

TEST_CASE("latency histogram buckets, renders and estimates quantiles", "[unit][metrics]") {
  LatencyHistogram h;
  CHECK(h.quantile(0.5) == 0);
  for (int i = 0; i < 90; ++i) h.observe_ms(3);   // bucket (2.5 ms, 5 ms]
  for (int i = 0; i < 9; ++i) h.observe_ms(40);   // bucket (25 ms, 50 ms]
  h.observe_ms(20000);                            // beyond 10 s
  h.observe_ms(-5);                               // clock skew counts as 0
  CHECK(h.count() == 101);
  const double p50 = h.quantile(0.5);
  CHECK(p50 > 0.0025);
  CHECK(p50 <= 0.005);
  const double p95 = h.quantile(0.95);
  CHECK(p95 > 0.025);
  CHECK(p95 <= 0.05);
  CHECK(h.quantile(1.0) == 10);
  const std::string text = h.render("x");
  CHECK_THAT(text, Catch::Contains("x_bucket{le=\"0.0005\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("x_bucket{le=\"0.005\"} 91\n"));
  CHECK_THAT(text, Catch::Contains("x_bucket{le=\"+Inf\"} 101\n"));
  CHECK_THAT(text, Catch::Contains("x_count 101\n"));
  CHECK_THAT(text, Catch::Contains("x_sum 20.63\n"));
}

TEST_CASE("a latency batch is invisible until added and then renders as the same observations",
          "[unit][metrics]") {
  LatencyHistogram one_by_one;
  LatencyHistogram batched;
  LatencyHistogram::Batch batch;
  for (const std::int64_t ms : {3, 3, 40, 20000, -5}) {
    one_by_one.observe_ms(ms);
    batch.observe_ms(ms);
  }
  CHECK(batched.count() == 0);
  CHECK_FALSE(batch.empty());
  batched.add(batch);
  CHECK(batch.empty());  // added once, not twice
  batched.add(batch);
  CHECK(batched.count() == 5);
  CHECK(batched.render("x") == one_by_one.render("x"));
}

TEST_CASE("a local count reaches the shared counter when published or destroyed", "[unit][metrics]") {
  std::atomic<std::uint64_t> shared{7};
  {
    LocalCount count(shared);
    for (int i = 0; i < 1000; ++i) count.add();
    CHECK(shared.load() == 7);  // the per-event path leaves the shared counter alone
    count.publish();
    CHECK(shared.load() == 1007);
    count.publish();
    CHECK(shared.load() == 1007);
    count.add(5);
  }
  CHECK(shared.load() == 1012);  // what was left when it went away
}
