#include "pricepipe/consumer/line_output.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "pricepipe/config/config.hpp"

namespace pricepipe {
namespace {

constexpr auto kWaitSlice = std::chrono::milliseconds(100);
// Writes to a file or socket go out in pieces of at most this much.
constexpr std::size_t kMaxWrite = 1 << 20;

}  // namespace

void LineOutput::mark(std::int32_t partition, std::int64_t offset, bool line) {
  marks_.push_back({partition, offset, buffer_.size(), line});
  if (line) ++lines_;
}

std::size_t LineOutput::next_chunk() const {
  const std::size_t left = buffer_.size() - written_;
  const std::size_t limit = writer_.whole_write_limit();
  if (limit == 0) return std::min(left, kMaxWrite);
  if (left <= limit) return left;
  // The last line end within the limit; a single line longer than the limit goes in pieces.
  const auto past = std::upper_bound(marks_.begin(), marks_.end(), written_ + limit,
                                     [](std::size_t at, const Mark& m) { return at < m.end; });
  const std::size_t end = past == marks_.begin() ? written_ : std::prev(past)->end;
  return end > written_ ? end - written_ : limit;
}

bool LineOutput::write_until(Clock::time_point until) {
  if (failed_) return false;
  while (written_ < buffer_.size()) {
    std::size_t n = 0;
    try {
      n = writer_.write_some(buffer_.data() + written_, next_chunk());
    } catch (const std::system_error& e) {
      fail(e.code().value());
    }
    if (n > 0) {
      written_ += n;
      waiting_since_.reset();
      continue;
    }
    const auto now = Clock::now();
    if (!waiting_since_) waiting_since_ = now;
    if (now >= until) return false;
    writer_.wait_for_room(std::min(std::chrono::duration_cast<std::chrono::milliseconds>(until - now) +
                                       std::chrono::milliseconds(1),
                                   std::chrono::milliseconds(kWaitSlice)));
    waited_ += Clock::now() - now;
  }
  waiting_since_.reset();
  return true;
}

LineOutput::Written LineOutput::take_written() {
  Written done;
  auto it = marks_.begin();
  for (; it != marks_.end() && it->end <= written_; ++it) {
    done.next_offsets[it->partition] = it->offset + 1;
    if (it->line) ++done.lines;
    taken_end_ = it->end;
  }
  lines_ -= done.lines;
  marks_.erase(marks_.begin(), it);
  if (marks_.empty() && written_ == buffer_.size()) {
    buffer_.clear();
    written_ = 0;
    taken_end_ = 0;
  }
  return done;
}

void LineOutput::cut(const std::set<std::int32_t>& partitions) {
  std::string kept = buffer_.substr(0, written_);
  std::vector<Mark> marks;
  std::size_t start = taken_end_;  // where the current mark's line begins in buffer_
  for (const Mark& m : marks_) {
    const std::size_t begin = start;
    start = m.end;
    if (m.end <= written_) {
      marks.push_back(m);  // out already, to be taken
    } else if (begin < written_ || partitions.count(m.partition) == 0) {
      kept.append(buffer_, std::max(begin, written_), m.end - std::max(begin, written_));
      marks.push_back({m.partition, m.offset, kept.size(), m.line});
    } else if (m.line) {
      --lines_;
    }
  }
  buffer_ = std::move(kept);
  marks_ = std::move(marks);
}

bool LineOutput::discard() {
  const bool torn = written_ > 0 && written_ < buffer_.size() && buffer_[written_ - 1] != '\n';
  buffer_.clear();
  written_ = 0;
  taken_end_ = 0;
  marks_.clear();
  lines_ = 0;
  waiting_since_.reset();
  return torn;
}

void LineOutput::fail(int error) {
  failed_ = true;
  // What is completely out can still be taken; the rest is never written.
  const auto out = std::find_if(marks_.begin(), marks_.end(), [this](const Mark& m) { return m.end > written_; });
  lines_ -= static_cast<std::uint64_t>(std::count_if(out, marks_.end(), [](const Mark& m) { return m.line; }));
  marks_.erase(out, marks_.end());
  buffer_.resize(written_);
  waiting_since_.reset();
  const std::string what = std::string("cannot write events to the output: ") + std::strerror(error);
  if (error == EPIPE || error == EIO || error == EBADF) {
    throw OutputClosed(what + (error == EBADF ? " (stdout is not open)" : " (the reader is gone)"),
                       exit_code::kIoError);
  }
  throw OutputError(what);
}

}  // namespace pricepipe
