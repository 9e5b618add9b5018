#include "mock_cluster_support.hpp"

#include "catch_compat.hpp"

namespace pricepipe::test {

MockClusterClient::MockClusterClient(int brokers, const std::map<std::string, std::string>& extra) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  REQUIRE(conf->set("test.mock.num.brokers", std::to_string(brokers), errstr) == RdKafka::Conf::CONF_OK);
  REQUIRE(conf->set("log_level", "2", errstr) == RdKafka::Conf::CONF_OK);  // no connection noise
  for (const auto& [name, value] : extra) REQUIRE(conf->set(name, value, errstr) == RdKafka::Conf::CONF_OK);
  producer_.reset(RdKafka::Producer::create(conf.get(), errstr));
  REQUIRE(producer_);
  mock_ = rd_kafka_handle_mock_cluster(producer_->c_ptr());
  REQUIRE(mock_ != nullptr);
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(mock_);
}

void MockClusterClient::create_topic(const std::string& topic, int partitions, int replication_factor) const {
  REQUIRE(rd_kafka_mock_topic_create(mock_, topic.c_str(), partitions, replication_factor) ==
          RD_KAFKA_RESP_ERR_NO_ERROR);
}

}  // namespace pricepipe::test
