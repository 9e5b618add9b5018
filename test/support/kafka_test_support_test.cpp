// compare_with_topic decides the delivery tests against a real broker; here on records made up.
#include "catch_compat.hpp"

#include "kafka_test_support.hpp"

using namespace pricepipe::test;

TEST_CASE("compare_with_topic names what was printed twice, never printed, or printed but not in the topic",
          "[unit]") {
  const Record a{0, 0, 1000, R"({"match":1,"price":1.00})"};
  const Record b{0, 1, 1001, R"({"match":2,"price":2.00})"};
  const Record c{1, 0, 1002, R"({"match":3,"price":3.00})"};
  const Record b_other_time{0, 1, 9999, b.value};

  const auto same = compare_with_topic({c, a, b}, {a, b, c});
  CHECK(same.printed_count == 3);
  CHECK(same.printed.size() == 3);
  CHECK(same.duplicates.empty());
  CHECK(same.missing.empty());
  CHECK(same.extra.empty());

  const auto off = compare_with_topic({a, a, a, b_other_time}, {a, b, c});
  CHECK(off.printed_count == 4);
  CHECK(off.printed.size() == 2);
  CHECK(off.duplicates == std::vector<Record>{a, a});
  CHECK(off.missing == std::vector<Record>{b, c});
  CHECK(off.extra == std::vector<Record>{b_other_time});
  CHECK_THAT(off.describe(), Catch::Contains("first missing (of 2): 0/1"));

  CHECK(parse_whole_envelopes("").empty());
  const std::string line =
      R"({"topic":"t","partition":1,"offset":0,"timestamp":1002,"key":"3","event":{"match":3,"price":3.00}})";
  CHECK(parse_whole_envelopes(line + "\n" + line.substr(0, 20)) == std::vector<Record>{c});
}
