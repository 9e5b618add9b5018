#include "pricepipe/consumer/fd_writer.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

namespace pricepipe {
namespace {

// A non-blocking open file description of what `fd` refers to, or -1.
int reopen_non_blocking(int fd) {
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  return open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
}

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

}  // namespace

FdWriter::FdWriter(int fd) : fd_(fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    kind_ = "unusable";  // not open (EBADF): the first write says so
    return;
  }
  if (S_ISSOCK(st.st_mode)) {
    mode_ = Mode::kSend;
    kind_ = "socket";
    return;
  }
  if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
    kind_ = "file";  // a regular file or a block device: writes never wait for a reader
    return;
  }
  kind_ = S_ISFIFO(st.st_mode) ? "pipe" : "character device";
  if (S_ISFIFO(st.st_mode)) whole_limit_ = PIPE_BUF;
  own_fd_ = reopen_non_blocking(fd);
  if (own_fd_ >= 0) {
    fd_ = own_fd_;
    mode_ = Mode::kNonBlocking;
  } else if ((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0) {
    mode_ = Mode::kNonBlocking;
  } else {
    mode_ = Mode::kPolled;  // e.g. a pipe made by another user: no reopen allowed
    whole_limit_ = PIPE_BUF;
    kind_ += " (polled)";
  }
}

FdWriter::~FdWriter() {
  if (own_fd_ >= 0) close(own_fd_);
}

std::size_t FdWriter::write_some(const char* data, std::size_t size) {
  if (mode_ == Mode::kPolled) {
    if (!wait_for_room(std::chrono::milliseconds(0))) return 0;
    size = std::min<std::size_t>(size, PIPE_BUF);  // a pipe with room takes this much at once
  }
  for (;;) {
    const ssize_t n = mode_ == Mode::kSend ? send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL)
                                           : write(fd_, data, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    throw_errno("write");
  }
}

bool FdWriter::wait_for_room(std::chrono::milliseconds wait) const {
  if (mode_ == Mode::kPlain) return true;
  pollfd polled{fd_, POLLOUT, 0};
  const int n = poll(&polled, 1, static_cast<int>(wait.count()));
  // An error or hang-up counts as room: the next write reports it.
  return n > 0;
}

}  // namespace pricepipe
