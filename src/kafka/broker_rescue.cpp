#include "pricepipe/kafka/broker_rescue.hpp"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <utility>

namespace pricepipe {

BrokerRescue::BrokerRescue(std::string client, std::string bootstrap_servers, int after)
    : client_(std::move(client)), bootstrap_servers_(std::move(bootstrap_servers)), after_(after) {}

bool BrokerRescue::check(const ClientStats& stats, RdKafka::Handle& handle) {
  without_broker_ = stats.no_broker ? without_broker_ + 1 : 0;
  if (without_broker_ < after_) return false;
  without_broker_ = 0;
  ++rescues_;
  // Each call also appends the list to librdkafka's own re-bootstrap list (a few bytes): the
  // same names, which it then adds only once.
  if (rd_kafka_brokers_add(handle.c_ptr(), bootstrap_servers_.c_str()) == 0) {
    spdlog::error("{}: librdkafka knows no broker, and takes none of the bootstrap servers {}", client_,
                  bootstrap_servers_);
    return true;
  }
  spdlog::warn("{}: librdkafka has known no broker for {} statistics reports in a row (a metadata response "
               "listed none: librdkafka issue 5301); handing it the bootstrap servers {} again",
               client_, after_, bootstrap_servers_);
  return true;
}

}  // namespace pricepipe
