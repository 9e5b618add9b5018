// BrokerRescue on a real librdkafka handle, in librdkafka #5301's state: a producer that knows
// no broker at all (made with no bootstrap.servers, which leaves it exactly there) holds a
// message that nothing delivers, until the rescue hands it the mock cluster's address.
#include "catch_compat.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "mock_cluster_support.hpp"
#include "pricepipe/kafka/broker_rescue.hpp"
#include "pricepipe/kafka/kafka_stats.hpp"

using namespace pricepipe;
using namespace std::chrono_literals;

namespace {

// A producer with no bootstrap.servers and statistics every 100 ms. Each statistics snapshot
// goes to the rescue when one is set (as the daemon's loops do); deliveries are counted.
class StrandedProducer : public RdKafka::EventCb, public RdKafka::DeliveryReportCb {
 public:
  StrandedProducer() {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string errstr;
    REQUIRE(conf->set("statistics.interval.ms", "100", errstr) == RdKafka::Conf::CONF_OK);
    REQUIRE(conf->set("log_level", "2", errstr) == RdKafka::Conf::CONF_OK);
    REQUIRE(conf->set("event_cb", static_cast<RdKafka::EventCb*>(this), errstr) == RdKafka::Conf::CONF_OK);
    REQUIRE(conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), errstr) == RdKafka::Conf::CONF_OK);
    producer_.reset(RdKafka::Producer::create(conf.get(), errstr));
    REQUIRE(producer_);
  }
  ~StrandedProducer() override { producer_->purge(RdKafka::Producer::PURGE_QUEUE); }

  void event_cb(RdKafka::Event& event) override {
    if (event.type() != RdKafka::Event::EVENT_STATS) return;
    const ClientStats stats = read_stats(event.str(), "");
    snapshots.push_back(stats.no_broker);
    if (rescue) rescued.push_back(rescue->check(stats, *producer_));
  }
  void dr_cb(RdKafka::Message& message) override { delivered += message.err() == RdKafka::ERR_NO_ERROR; }

  RdKafka::Producer& producer() { return *producer_; }
  // Polls until `done()` or `timeout`; returns done().
  template <typename Done>
  bool poll_until(Done done, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < end) producer_->poll(50);
    return done();
  }

  BrokerRescue* rescue = nullptr;
  std::vector<bool> snapshots;  // no_broker of each statistics snapshot
  std::vector<bool> rescued;    // what check() returned for each, once the rescue is set
  int delivered = 0;

 private:
  std::unique_ptr<RdKafka::Producer> producer_;
};

void produce_one(RdKafka::Producer& producer, const std::string& topic) {
  std::string value = "stranded";
  REQUIRE(producer.produce(topic, 0, RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(), nullptr, 0, 0,
                           nullptr) == RdKafka::ERR_NO_ERROR);
}

}  // namespace

TEST_CASE("a client that knows no broker delivers nothing until BrokerRescue hands it the bootstrap servers",
          "[unit][kafka]") {
  test::MockClusterClient cluster;
  cluster.create_topic("rescued", 1);
  StrandedProducer stranded;
  produce_one(stranded.producer(), "rescued");

  // Stranded: five snapshots in a row know no broker, and the message waits.
  REQUIRE(stranded.poll_until([&] { return stranded.snapshots.size() >= 5; }, 30s));
  CHECK(stranded.snapshots == std::vector<bool>(stranded.snapshots.size(), true));
  CHECK(stranded.delivered == 0);

  BrokerRescue rescue("test producer", cluster.bootstraps(), 3);
  stranded.rescue = &rescue;
  REQUIRE(stranded.poll_until([&] { return stranded.delivered == 1; }, 30s));
  // It waited for three snapshots in a row, acted on the third, and once the client knew a
  // broker again it had nothing more to do.
  REQUIRE(stranded.rescued.size() >= 3);
  CHECK(stranded.rescued[0] == false);
  CHECK(stranded.rescued[1] == false);
  CHECK(stranded.rescued[2] == true);
  stranded.poll_until([&] { return stranded.rescued.size() >= 10; }, 30s);
  CHECK(rescue.rescues() == 1);
  CHECK_FALSE(stranded.snapshots.back());
}

TEST_CASE("BrokerRescue counts only snapshots in a row without a broker, and acts again if it must",
          "[unit][kafka]") {
  StrandedProducer stranded;  // an address nothing listens on: the adds change nothing here
  BrokerRescue rescue("test producer", "127.0.0.1:1", 3);
  const ClientStats none = [] {
    ClientStats s;
    s.no_broker = true;
    return s;
  }();
  const ClientStats some;
  std::vector<bool> done;
  for (const ClientStats* s : {&none, &none, &some, &none, &none, &none, &none, &none, &none}) {
    done.push_back(rescue.check(*s, stranded.producer()));
  }
  CHECK(done == std::vector<bool>{false, false, false, false, false, true, false, false, true});
  CHECK(rescue.rescues() == 2);
}
