#include "pricepipe/consumer/line_output.hpp"

#include <stdio_ext.h>

#include <cerrno>
#include <cstring>

#include "pricepipe/config/config.hpp"

namespace pricepipe {

std::uint64_t LineOutput::flush() {
  if (failed_) return 0;
  const std::uint64_t lines = lines_;
  lines_ = 0;
  if (buffer_.empty()) return lines;
  const std::size_t written = std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
  if (written == buffer_.size() && std::fflush(out_) == 0) {
    buffer_.clear();
    return lines;
  }
  const int error = errno;
  failed_ = true;
  buffer_.clear();
  __fpurge(out_);  // what stdio still holds of the batch must not go out with a later write
  std::clearerr(out_);
  const std::string what = std::string("cannot write events to the output: ") + std::strerror(error);
  if (error == EPIPE || error == EIO) throw OutputClosed(what + " (the reader is gone)", exit_code::kIoError);
  throw OutputError(what);
}

}  // namespace pricepipe
