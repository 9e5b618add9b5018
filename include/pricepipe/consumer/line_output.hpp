#pragma once
// The consumer's output: the lines of what it read, held until the file descriptor (stdout)
// takes them, and which of them are completely out, so that only their offsets are stored.
// Each message read leaves a mark (its partition and offset, and where its line ends; a bad
// message has no line), so a write that stops part-way still tells which messages are done.
// Writes never block for longer than the caller allows: a reader that pauses is waited for
// in slices, between which the consumer heartbeats, serves librdkafka and sees a stop. On a
// pipe, lines go out in whole writes of at most PIPE_BUF bytes, so a stop while the reader is
// paused never leaves half a line. After a failed write nothing more is written; a reader
// that is gone (EPIPE, EIO) cannot come back: that failure is terminal (OutputClosed,
// exit 74). Owned by the consumer thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "pricepipe/consumer/fd_writer.hpp"
#include "pricepipe/workers/terminal_error.hpp"

namespace pricepipe {

class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class OutputClosed : public TerminalError {
 public:
  using TerminalError::TerminalError;
};

class LineOutput {
 public:
  using Clock = std::chrono::steady_clock;

  // Messages whose lines are completely out: per partition, the offset after the last one.
  struct Written {
    std::map<std::int32_t, std::int64_t> next_offsets;
    std::uint64_t lines = 0;
  };

  // Writes to `fd`, which must stay open while this exists.
  explicit LineOutput(int fd) : writer_(fd) {}

  // Where the next line's text goes; call mark() after its '\n'.
  std::string& text() { return buffer_; }
  // The message at `offset` of `partition` is added; `line` when it added a line to text().
  void mark(std::int32_t partition, std::int64_t offset, bool line);
  // Messages marked and not yet taken by take_written().
  bool holding() const { return !marks_.empty(); }
  // Lines marked and not yet taken.
  std::uint64_t lines() const { return lines_; }
  bool failed() const { return failed_; }

  // Writes what is held until all of it is out (true) or `until` passes (false), waiting for
  // room in slices of at most 100 ms. Throws OutputClosed when the reader is gone, OutputError
  // on any other failure; nothing is written after either.
  bool write_until(Clock::time_point until);
  // The messages completely out since the last call, no longer held.
  Written take_written();
  // Forgets the messages of `partitions` not yet out (a line already partly out stays held).
  void cut(const std::set<std::int32_t>& partitions);
  // Forgets everything held; true when a line was partly out (the reader got half of it).
  bool discard();

  // Since when the output has taken nothing while lines waited; nullopt when nothing waits.
  const std::optional<Clock::time_point>& waiting_since() const { return waiting_since_; }
  // Time spent waiting for room, in total.
  Clock::duration waited() const { return waited_; }
  const FdWriter& writer() const { return writer_; }

 private:
  struct Mark {
    std::int32_t partition;
    std::int64_t offset;
    std::size_t end;  // where the message's line ends in buffer_ (== the previous end: no line)
    bool line;
  };

  // How much to write next from written_: whole lines within the writer's limit.
  std::size_t next_chunk() const;
  [[noreturn]] void fail(int error);

  FdWriter writer_;
  std::string buffer_;
  std::size_t written_ = 0;  // bytes of buffer_ out
  std::size_t taken_end_ = 0;  // where the line of marks_.front() begins
  std::vector<Mark> marks_;  // not yet taken, in order
  std::uint64_t lines_ = 0;  // of marks_, those with a line
  bool failed_ = false;
  std::optional<Clock::time_point> waiting_since_;
  Clock::duration waited_{};
};

}  // namespace pricepipe
