// The consumer's rebalance bookkeeping with fake partitions and fake flush/commit hooks: no
// librdkafka, no broker.
#include "catch_compat.hpp"

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "pricepipe/consumer/assignment.hpp"

using namespace pricepipe;

namespace {

// Hooks that record their calls in order, with a commit answer the test chooses.
struct FakeHooks {
  std::vector<std::string> calls;
  bool commit_confirmed = true;
  bool flush_fails = false;
  std::vector<std::int32_t> released;  // what the last flush was told is going
  Assignment::Hooks hooks() {
    return {[this](const std::vector<std::int32_t>& partitions) {
              calls.push_back("flush");
              released = partitions;
              if (flush_fails) throw std::runtime_error("cannot write events to the output");
            },
            [this] {
              calls.push_back("commit");
              return commit_confirmed;
            }};
  }
};

// Reads `n` messages of `partition` from `first` on and prints them (stored).
void read_and_print(OffsetBook& book, std::int32_t partition, std::int64_t first, int n) {
  for (int i = 0; i < n; ++i) book.read(partition, first + i);
  book.printed(partition, first + n);
}

}  // namespace

TEST_CASE("an assignment owns its partitions and starts them afresh", "[unit][consumer]") {
  OffsetBook book;
  FakeHooks fake;
  Assignment assignment(book, fake.hooks());
  CHECK_FALSE(assignment.has_assignment());
  read_and_print(book, 1, 40, 5);  // read in an earlier assignment
  assignment.assigned({0, 1, 2});
  CHECK(assignment.has_assignment());
  CHECK(assignment.partitions() == std::set<std::int32_t>{0, 1, 2});
  CHECK(assignment.owns(2));
  CHECK_FALSE(assignment.owns(3));
  CHECK_FALSE(book.read_to(1));  // restarts from its committed offset
  CHECK(fake.calls.empty());
}

TEST_CASE("a revoke prints and commits before the partitions go, and forgets them", "[unit][consumer]") {
  OffsetBook book;
  FakeHooks fake;
  Assignment assignment(book, fake.hooks());
  assignment.assigned({0, 1});
  read_and_print(book, 0, 0, 3);
  read_and_print(book, 1, 0, 4);
  CHECK(assignment.revoking({1}, true) == 0);
  CHECK(fake.calls == std::vector<std::string>{"flush", "commit"});
  CHECK(fake.released == std::vector<std::int32_t>{1});
  CHECK(assignment.partitions() == std::set<std::int32_t>{0});
  CHECK(assignment.has_assignment());
  CHECK_FALSE(book.read_to(1));
  CHECK(book.read_to(0) == 3);
  assignment.revoking({0}, true);
  CHECK_FALSE(assignment.has_assignment());
}

TEST_CASE("a revoke whose commit is not confirmed counts what the next owner prints again", "[unit][consumer]") {
  OffsetBook book;
  FakeHooks fake;
  fake.commit_confirmed = false;
  Assignment assignment(book, fake.hooks());
  assignment.assigned({0, 1, 2});
  read_and_print(book, 0, 10, 3);
  read_and_print(book, 1, 0, 4);
  book.committed(1, 1);  // one of partition 1's was confirmed earlier
  read_and_print(book, 2, 0, 7);
  CHECK(assignment.revoking({0, 1}, true) == 3 + 3);
  CHECK(assignment.partitions() == std::set<std::int32_t>{2});
  CHECK(book.unconfirmed() == 7);  // partition 2 is still owned, and counted
}

TEST_CASE("a lost assignment or one revoked while closing is not committed by the revoke", "[unit][consumer]") {
  OffsetBook book;
  FakeHooks fake;
  Assignment assignment(book, fake.hooks());
  assignment.assigned({0, 1});
  read_and_print(book, 0, 0, 2);
  read_and_print(book, 1, 0, 5);
  book.committed(0, 1);  // one of partition 0's was confirmed earlier
  // Lost, the group moved on: not committed, and what was printed since counts as printed again.
  CHECK(assignment.revoking({0}, false) == 1);
  CHECK(fake.calls == std::vector<std::string>{"flush"});
  CHECK_FALSE(book.read_to(0));
  fake.calls.clear();
  assignment.closing();
  CHECK(assignment.revoking({1}, true) == 0);
  CHECK(fake.calls == std::vector<std::string>{"flush"});  // the close commits by itself
  CHECK_FALSE(assignment.has_assignment());
  CHECK(book.unconfirmed() == 5);  // kept for the final count of what could not be committed
}

TEST_CASE("a revoke whose flush fails throws and commits nothing", "[unit][consumer]") {
  OffsetBook book;
  FakeHooks fake;
  fake.flush_fails = true;
  Assignment assignment(book, fake.hooks());
  assignment.assigned({0});
  CHECK_THROWS_WITH(assignment.revoking({0}, true), Catch::Contains("cannot write"));
  CHECK(fake.calls == std::vector<std::string>{"flush"});
}

TEST_CASE("only the partitions owned now keep their lag", "[unit][consumer]") {
  OffsetBook book;
  FakeHooks fake;
  Assignment assignment(book, fake.hooks());
  assignment.assigned({0, 1});
  std::map<std::int32_t, std::int64_t> lag{{0, 5}, {1, 7}, {2, 9}};  // 2 was never assigned
  assignment.keep_owned(lag);
  CHECK(lag == std::map<std::int32_t, std::int64_t>{{0, 5}, {1, 7}});
  assignment.revoking({1}, true);
  lag = {{0, 5}, {1, 7}};  // statistics taken before the revoke
  assignment.keep_owned(lag);
  CHECK(lag == std::map<std::int32_t, std::int64_t>{{0, 5}});
}
