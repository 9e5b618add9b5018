#include "http_probe.hpp"

#include <chrono>
#include <regex>

#include "process.hpp"

namespace pricepipe::test {
namespace {

std::string url(int port, const std::string& path) { return "http://127.0.0.1:" + std::to_string(port) + path; }

}  // namespace

std::string http_get(int port, const std::string& path, const std::string& max_time) {
  return run_process({"curl", "-s", "--max-time", max_time, url(port, path)}, std::chrono::seconds(30)).out;
}

int http_status(int port, const std::string& path, const std::string& max_time, const std::vector<std::string>& extra) {
  std::vector<std::string> argv{"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", max_time};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url(port, path));
  const auto r = run_process(argv, std::chrono::seconds(30));
  return r.out.empty() ? 0 : std::stoi(r.out);
}

double metric_value(const std::string& metrics, const std::string& name) {
  const std::regex line("(^|\n)" + name + " ([0-9.eE+-]+)\n");
  std::smatch m;
  return std::regex_search(metrics, m, line) ? std::stod(m[2]) : -1;
}

}  // namespace pricepipe::test
