#pragma once
// Topic administration: ensure_topic, which every client runs before it produces or subscribes.

#include <librdkafka/rdkafkacpp.h>

#include <functional>
#include <string>

#include "pricepipe/config/config.hpp"
#include "pricepipe/kafka/kafka.hpp"  // KafkaError

namespace pricepipe {

// Creates the topic with the configured partitions and replication factor if it does not
// exist, and leaves an existing one alone (logging when its settings differ). Waits for the
// broker while `keep_going()` is true, calling `idle(ms)` between attempts (the worker
// sleeps and heartbeats there). No librdkafka call in it blocks for more than about a second,
// and each is preceded by `keep_going()` and `idle(0)`, so a worker heartbeats at least that
// often and a stop is noticed within about a second, even while the broker does not answer.
// Returns false if `keep_going()` turned false first.
bool ensure_topic(RdKafka::Handle& handle, const KafkaSettings& kafka,
                  const std::string& brokers_for_log, const std::function<bool()>& keep_going,
                  const std::function<void(int)>& idle);

}  // namespace pricepipe
