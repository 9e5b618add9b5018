#pragma once
// Helpers every kind of test uses, with no Kafka in them.

#include <chrono>
#include <initializer_list>
#include <string>
#include <thread>

namespace pricepipe::test {

// A new file under /tmp named `prefix`-XXXXXX, holding `content` byte for byte; the caller
// removes it (std::remove) when it matters.
std::string temp_file(const std::string& prefix, const std::string& content);

// A TCP port on 127.0.0.1 that nothing listened on a moment ago (the kernel's choice), so
// tests that run side by side never pick the same one. Never one of `not_these`.
int free_port(std::initializer_list<int> not_these = {});

// Whether `predicate()` turns true within `timeout`, asking every `poll`.
template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::steady_clock::duration timeout,
                std::chrono::steady_clock::duration poll = std::chrono::milliseconds(200)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(poll);
  }
  return predicate();
}

}  // namespace pricepipe::test
