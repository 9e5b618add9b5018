#pragma once
// The consumer's output: the lines of one batch, held until they are written and flushed
// together. After a failed or partial write (EPIPE, ENOSPC) nothing held is written again,
// stdio's copy of it included, and nothing more is written at all: part of the batch may be
// out, its last line torn, and the caller stores none of its offsets, so the next run prints
// the whole batch again from the last commit. A reader that is gone (EPIPE, EIO) cannot come
// back: that failure is terminal (OutputClosed, exit 74). Owned by the consumer thread.

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

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
  // Writes to `out`, which must outlive it.
  explicit LineOutput(std::FILE* out) : out_(out) {}

  // Where the next line's text goes; call line_added() after its '\n'.
  std::string& text() { return buffer_; }
  void line_added() { ++lines_; }
  std::uint64_t lines() const { return lines_; }
  bool failed() const { return failed_; }

  // Writes and flushes the held lines and returns how many there were (0 after a failure).
  // Throws OutputClosed when the reader is gone, OutputError on any other failure, having
  // discarded what was held.
  std::uint64_t flush();
  // Forgets the held lines without writing them.
  void discard() {
    buffer_.clear();
    lines_ = 0;
  }

 private:
  std::FILE* out_;
  std::string buffer_;
  std::uint64_t lines_ = 0;
  bool failed_ = false;
};

}  // namespace pricepipe
