#pragma once
// Writes bytes to a file descriptor (stdout in the daemon) without ever blocking for longer
// than its caller asks, so a stop or a heartbeat is never stuck behind a reader that does not
// read. Pipes, FIFOs and terminals are reopened through /proc/self/fd as a non-blocking open
// file description of this process alone (the shell's stays as it was); sockets (journald's
// stdout stream) are written with send(MSG_DONTWAIT); regular files, which never wait for a
// reader, are written as they are. Where no reopen is possible, a poll for room and writes of
// at most PIPE_BUF bytes, which a pipe with room takes at once, do the same. Owned by one
// thread (the consumer's).

#include <chrono>
#include <cstddef>
#include <string>

namespace pricepipe {

class FdWriter {
 public:
  // Writes to `fd`, which must stay open while this exists (it is not closed).
  explicit FdWriter(int fd);
  ~FdWriter();
  FdWriter(const FdWriter&) = delete;
  FdWriter& operator=(const FdWriter&) = delete;

  // Writes what the descriptor takes now of `size` bytes and returns how many it took (0 when
  // it has no room). Throws std::system_error with the write's errno on a failure.
  std::size_t write_some(const char* data, std::size_t size);
  // Waits up to `wait` for room to write; false when none came.
  bool wait_for_room(std::chrono::milliseconds wait) const;
  // The largest write the descriptor takes whole or not at all (PIPE_BUF for pipes), so that a
  // write stopped by a reader that pauses never leaves half a line; 0 when writes can be of any
  // size (files, sockets, terminals, where no such promise exists).
  std::size_t whole_write_limit() const { return whole_limit_; }
  // How the descriptor is written, for the log: "pipe", "socket", "file", ...
  const std::string& kind() const { return kind_; }

 private:
  enum class Mode { kPlain, kNonBlocking, kSend, kPolled };

  int fd_;             // what is written
  int own_fd_ = -1;    // the reopened description, closed here
  Mode mode_ = Mode::kPlain;
  std::size_t whole_limit_ = 0;
  std::string kind_;
};

}  // namespace pricepipe
