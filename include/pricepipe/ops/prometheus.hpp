#pragma once
// The /metrics answer in Prometheus text format (version 0.0.4): the counters, the health
// gauges, the build, the consumer lag per partition (messages and seconds) and the
// produce-to-print latency histogram. Any
// thread (it reads the atomics and takes the lag gauge's mutex).

#include <string>

#include "pricepipe/metrics/metrics.hpp"

namespace pricepipe {

// What pricepipe_build_info says: pricepipe's version and the librdkafka it runs on.
struct BuildInfo {
  std::string version;
  std::string librdkafka_version;
};

// `live` and `ready` are what /livez and /readyz answer right now (200 or not).
std::string render_prometheus(const Metrics& metrics, bool live, bool ready, const BuildInfo& build);

}  // namespace pricepipe
