// ConsumerQueue against librdkafka's mock cluster: batches of at most the size asked for, every
// message once and in order per partition, each field as produced, and the consumer's rebalance
// callback served inside a read.
#include "catch_compat.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mock_cluster_support.hpp"
#include "pricepipe/kafka/consumer_queue.hpp"

using namespace pricepipe;

namespace {

constexpr int kMessages = 300;
constexpr std::int64_t kFirstTimestamp = 1700000000000;

// Assigns what the group gives (eager protocol) and counts the calls.
class CountingRebalance : public RdKafka::RebalanceCb {
 public:
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      ++assigns;
      consumer->assign(partitions);
    } else {
      consumer->unassign();
    }
  }
  int assigns = 0;
};

// Message i goes to partition i % 2, with key "k<i>" when i is even and none when odd.
void produce_messages(RdKafka::Producer& producer, const std::string& topic) {
  for (int i = 0; i < kMessages; ++i) {
    const std::string value = "v" + std::to_string(i);
    const std::string key = "k" + std::to_string(i);
    REQUIRE(producer.produce(topic, i % 2, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                             value.size(), i % 2 == 0 ? key.data() : nullptr, i % 2 == 0 ? key.size() : 0,
                             kFirstTimestamp + i, nullptr) == RdKafka::ERR_NO_ERROR);
  }
  REQUIRE(producer.flush(10000) == RdKafka::ERR_NO_ERROR);
}

std::unique_ptr<RdKafka::KafkaConsumer> make_consumer(const std::string& bootstraps, CountingRebalance& rebalance) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  for (const auto& [name, value] : std::map<std::string, std::string>{{"bootstrap.servers", bootstraps},
                                                                      {"group.id", "queue-test"},
                                                                      {"auto.offset.reset", "earliest"},
                                                                      {"log_level", "2"}}) {
    REQUIRE(conf->set(name, value, errstr) == RdKafka::Conf::CONF_OK);
  }
  REQUIRE(conf->set("rebalance_cb", &rebalance, errstr) == RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  REQUIRE(consumer);
  return consumer;
}

}  // namespace

TEST_CASE("the consumer queue hands over every message once, in batches, with its fields", "[unit][kafka]") {
  const test::MockClusterClient cluster;
  cluster.create_topic("queue", 2);
  produce_messages(cluster.producer(), "queue");
  CountingRebalance rebalance;
  const auto consumer = make_consumer(cluster.bootstraps(), rebalance);
  REQUIRE(consumer->subscribe({"queue"}) == RdKafka::ERR_NO_ERROR);
  std::map<std::int32_t, std::int64_t> next_offset;  // per partition
  int seen = 0;
  {
    ConsumerQueue queue(*consumer);
    std::vector<ConsumedMessage> batch;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (seen < kMessages && std::chrono::steady_clock::now() < deadline) {
      batch.clear();
      const std::size_t n = queue.read(100, 50, batch);
      REQUIRE(n == batch.size());
      REQUIRE(n <= 50);
      for (const ConsumedMessage& msg : batch) {
        if (msg.err() != RdKafka::ERR_NO_ERROR) continue;  // e.g. partition EOF events
        INFO("partition " << msg.partition() << " offset " << msg.offset());
        CHECK(msg.topic_name() == "queue");
        CHECK(msg.offset() == next_offset[msg.partition()]);  // in order, nothing skipped or repeated
        next_offset[msg.partition()] = msg.offset() + 1;
        const int i = static_cast<int>(msg.offset() * 2 + msg.partition());  // as produce_messages spread them
        CHECK(msg.payload() == "v" + std::to_string(i));
        CHECK(msg.has_key() == (i % 2 == 0));
        CHECK(msg.key() == (i % 2 == 0 ? "k" + std::to_string(i) : std::string()));
        CHECK(msg.timestamp_ms() == kFirstTimestamp + i);
        ++seen;
      }
    }
  }  // the queue goes before its consumer
  CHECK(seen == kMessages);
  CHECK(next_offset[0] == kMessages / 2);
  CHECK(next_offset[1] == kMessages / 2);
  CHECK(rebalance.assigns == 1);  // served inside read()
  consumer->close();
}
