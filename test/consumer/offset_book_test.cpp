#include "catch_compat.hpp"

#include "pricepipe/consumer/offset_book.hpp"

using namespace pricepipe;

TEST_CASE("offsets are stored only for what was printed, after the last message read", "[unit][offsets]") {
  OffsetBook book;
  CHECK_FALSE(book.holding());
  CHECK_FALSE(book.read_to(0));
  book.read(0, 10);
  book.read(0, 11);
  book.read(2, 5);
  CHECK(book.holding());
  CHECK(book.read_to(0) == 12);
  book.printed(0, 11);  // the line of offset 10 is out, not yet the one of 11
  CHECK(book.holding());
  book.printed(0, 12);
  CHECK(book.holding());  // partition 2 still is
  book.printed(2, 6);
  CHECK_FALSE(book.holding());
  CHECK(book.unconfirmed(0) == 2);
  CHECK(book.unconfirmed(2) == 1);
  book.printed(0, 11);  // an older position stores nothing less
  CHECK(book.unconfirmed(0) == 2);
  book.printed(7, 1);  // a partition revoked meanwhile is not recorded
  CHECK_FALSE(book.read_to(7));

  book.read(0, 12);
  book.dropped();  // the output failed: never stored
  CHECK_FALSE(book.holding());
  CHECK(book.unconfirmed(0) == 2);
  CHECK(book.read_to(0) == 13);  // but it was read
}

TEST_CASE("what was printed and not confirmed as committed is counted", "[unit][offsets]") {
  OffsetBook book;
  CHECK(book.unconfirmed() == 0);
  for (std::int64_t o = 100; o < 150; ++o) book.read(1, o);  // this run began at 100
  book.read(3, 7);
  book.printed(1, 150);
  book.printed(3, 8);
  CHECK(book.unconfirmed() == 51);
  book.committed(1, 120);
  CHECK(book.unconfirmed() == 31);
  CHECK(book.unconfirmed(1) == 30);
  CHECK(book.unconfirmed(3) == 1);
  book.committed(1, 110);  // an older answer arriving late changes nothing
  CHECK(book.unconfirmed() == 31);
  book.read(1, 150);  // read, not printed: not counted
  CHECK(book.unconfirmed() == 31);
  book.committed(1, 150);
  book.committed(3, 8);
  CHECK(book.unconfirmed() == 0);
  book.forget(1);
  CHECK_FALSE(book.read_to(1));
  book.committed(1, 500);  // a commit result for a partition no longer held is ignored
  CHECK_FALSE(book.read_to(1));
}
