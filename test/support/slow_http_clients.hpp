#pragma once
// Test helper (the fault harness's slow HTTP clients): `count` TCP connections to
// 127.0.0.1:`port` that each send a request line, then one header line every `pace`, never
// finishing the request, until destroyed (slowloris). A connection the server closes is
// counted, not reopened.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

namespace pricepipe::test {

class SlowHttpClients {
 public:
  SlowHttpClients(int port, int count, std::chrono::milliseconds pace);
  ~SlowHttpClients();
  SlowHttpClients(const SlowHttpClients&) = delete;
  SlowHttpClients& operator=(const SlowHttpClients&) = delete;

  // Connections made (connect succeeded).
  std::size_t connected() const { return connected_; }
  // Connections the server has closed or reset so far.
  std::size_t closed_by_server() const { return closed_.load(); }

 private:
  void dribble(std::chrono::milliseconds pace);

  std::vector<int> fds_;
  std::size_t connected_ = 0;
  std::atomic<std::size_t> closed_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace pricepipe::test
