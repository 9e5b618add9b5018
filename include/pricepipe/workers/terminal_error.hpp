#pragma once
// A failure that a restart cannot cure (stdout closed for good): thrown out of a worker's loop,
// it fails the worker like any exception, but the supervisor does not restart it and ends the
// daemon with `exit_code` after a graceful stop of the rest.

#include <stdexcept>
#include <string>

namespace pricepipe {

class TerminalError : public std::runtime_error {
 public:
  TerminalError(const std::string& what, int exit_code) : std::runtime_error(what), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace pricepipe
