// The consumer worker in-process against librdkafka's mock cluster, where faults can be
// injected that a real broker cannot be made to show on demand: an output that fails part-way
// through a batch, and a group coordinator that does not answer a commit.
#include "catch_compat.hpp"

// clang-format off
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
// clang-format on
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include "pricepipe/config/config.hpp"
#include "pricepipe/consumer/consumer_loop.hpp"
#include "pricepipe/metrics/metrics.hpp"
#include "pricepipe/workers/worker_thread.hpp"

#include "mock_cluster_support.hpp"
#include "test_support.hpp"

using namespace pricepipe;
using pricepipe::test::eventually;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kOffsetCommitApiKey = 8;
constexpr int kEvents = 50;

// A mock cluster of one broker, owned by a throwaway handle, with a one-partition topic.
class Cluster : public pricepipe::test::MockClusterClient {
 public:
  explicit Cluster(const std::string& topic) { create_topic(topic, 1); }
};

void produce_events(const std::string& brokers, const std::string& topic, int n) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  REQUIRE(conf->set("bootstrap.servers", brokers, errstr) == RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), errstr));
  REQUIRE(producer);
  for (int i = 0; i < n; ++i) {
    std::string event = "{\"match\": " + std::to_string(100 + i) + ", \"price\": 1.50}";
    REQUIRE(producer->produce(topic, 0, RdKafka::Producer::RK_MSG_COPY, event.data(), event.size(), nullptr, 0, 0,
                              nullptr) == RdKafka::ERR_NO_ERROR);
  }
  REQUIRE(producer->flush(10000) == RdKafka::ERR_NO_ERROR);
}

ConsumerWorkerSettings consumer_settings(const std::string& topic, const std::string& group,
                                         const RawSettings& extra = {}) {
  RawSettings overrides = extra;
  const auto set = [&overrides](const std::string& key, const std::string& value) {
    overrides[key] = RawSetting{value, "test", true};
  };
  set("kafka.topic", topic);
  set("kafka.partitions", "1");
  set("consumer.group_id", group);
  set("supervisor.shutdown_timeout_s", "2");  // commits wait at most 1 s
  return consumer_worker_settings(build_config({}, overrides));
}

// The group's committed offset of partition 0, asked by a consumer of the same group; negative
// when nothing was committed.
std::int64_t committed_offset(const std::string& brokers, const std::string& topic, const std::string& group) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  REQUIRE(conf->set("bootstrap.servers", brokers, errstr) == RdKafka::Conf::CONF_OK);
  REQUIRE(conf->set("group.id", group, errstr) == RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  REQUIRE(consumer);
  std::vector<RdKafka::TopicPartition*> partitions{RdKafka::TopicPartition::create(topic, 0)};
  REQUIRE(consumer->committed(partitions, 10000) == RdKafka::ERR_NO_ERROR);
  const std::int64_t offset = partitions[0]->offset();
  RdKafka::TopicPartition::destroy(partitions);
  consumer->close();
  return offset;
}

// The consumer's output: a regular file, which stops taking bytes at `limit` (a file size
// limit: the write that crosses it is cut short, the next one fails with EFBIG), like a disk
// that filled up. The worker writes, the test reads.
class Sink {
 public:
  explicit Sink(std::size_t limit = 0) : path_(pricepipe::test::temp_file("sink", "")) {
    fd_ = open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    REQUIRE(fd_ >= 0);
    if (limit == 0) return;
    previous_xfsz_ = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a core dump
    REQUIRE(getrlimit(RLIMIT_FSIZE, &previous_limit_) == 0);
    rlimit limited = previous_limit_;
    limited.rlim_cur = limit;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &limited) == 0);
    limited_ = true;
  }
  ~Sink() {
    close(fd_);
    if (limited_) {
      setrlimit(RLIMIT_FSIZE, &previous_limit_);
      std::signal(SIGXFSZ, previous_xfsz_);
    }
    std::remove(path_.c_str());
  }
  int fd() const { return fd_; }
  std::string text() const {
    std::ifstream in(path_);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool limited_ = false;
  rlimit previous_limit_{};
  void (*previous_xfsz_)(int) = nullptr;
};

// Keeps what is logged, so a test can wait for a message of a worker thread.
class LogCapture : public spdlog::sinks::base_sink<std::mutex> {
 public:
  bool contains(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_.find(text) != std::string::npos;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    log_.append(msg.payload.data(), msg.payload.size()) += '\n';
  }
  void flush_() override {}

 private:
  std::string log_;
};

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("an output that fails part-way through a batch gets nothing more, and only whole lines are committed",
          "[unit][consumer]") {
  const std::string topic = "torn";
  Cluster cluster(topic);
  produce_events(cluster.bootstraps(), topic, kEvents);
  Sink sink(100);  // a few lines, the last one torn
  Metrics metrics;
  {
    WorkerThread worker("consumer", std::make_unique<ConsumerLoop>(consumer_settings(topic, "g-torn"),
                                                                  cluster.bootstraps(), metrics, sink.fd()));
    worker.start();
    REQUIRE(eventually([&] { return worker.state() == WorkerState::kFailed; }, 30s, 20ms));
    CHECK_THAT(worker.failure(), Catch::Contains("cannot write events to the output: File too large"));
    CHECK(worker.terminal_exit() == 0);  // a full disk may pass: restarted, not the end
    REQUIRE(worker.wait_until(Clock::now() + 30s));
  }
  const std::string text = sink.text();
  REQUIRE(text.size() == 100);  // the worker wrote nothing again after the failure
  REQUIRE(text.back() != '\n');  // the last line is torn
  // The lines completely out are printed and committed (the failing worker commits what it
  // stored before it leaves); the torn one and the rest of the batch are not: the next run
  // prints them again.
  CHECK(metrics.printed.load() == lines(text));
  CHECK(committed_offset(cluster.bootstraps(), topic, "g-torn") == static_cast<std::int64_t>(lines(text)));
}

TEST_CASE("a revoke whose commit the coordinator does not answer is bounded like the final commit",
          "[unit][consumer]") {
  auto capture = std::make_shared<LogCapture>();
  spdlog::default_logger()->sinks().push_back(capture);
  const std::string topic = "revoke";
  const std::string group = "g-revoke";
  Cluster cluster(topic);
  produce_events(cluster.bootstraps(), topic, kEvents);
  Sink sink;
  Metrics metrics;
  // No auto-commit before the revoke, so the revoke has something of its own to commit.
  const RawSettings no_auto_commit{{"librdkafka.consumer.auto.commit.interval.ms", {"600000", "test", true}}};
  auto worker = std::make_unique<WorkerThread>(
      "consumer", std::make_unique<ConsumerLoop>(consumer_settings(topic, group, no_auto_commit),
                                                 cluster.bootstraps(), metrics, sink.fd()));
  worker->start();
  REQUIRE(eventually([&] { return lines(sink.text()) == kEvents; }, 30s, 20ms));
  // The coordinator answers the next commit only after 15 s.
  const rd_kafka_resp_err_t delayed = rd_kafka_mock_broker_push_request_error_rtts(
      cluster.mock(), 1, kOffsetCommitApiKey, 1, RD_KAFKA_RESP_ERR_NO_ERROR, 15000);
  REQUIRE(delayed == RD_KAFKA_RESP_ERR_NO_ERROR);
  // A second member joins the group: the worker's partition is revoked.
  std::atomic<bool> joined_done{false};
  std::thread second_member([&] {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string errstr;
    conf->set("bootstrap.servers", cluster.bootstraps(), errstr);
    conf->set("group.id", group, errstr);
    std::unique_ptr<RdKafka::KafkaConsumer> other(RdKafka::KafkaConsumer::create(conf.get(), errstr));
    other->subscribe({topic});
    while (!joined_done.load()) delete other->consume(100);
  });
  const bool revoked = eventually([&] { return capture->contains("partitions [0] revoked"); }, 30s, 20ms);
  // Before the fix the revoke waited the full 15 s in commitSync; now it gives up after 1 s.
  const bool gave_up = revoked && eventually([&] {
    return capture->contains("commit before the revoke not confirmed");
  }, 8s, 20ms);
  worker->request_stop();
  const bool stopped = eventually([&] { return worker->releasing() || worker->wait_until(Clock::now()); }, 10s, 20ms);
  joined_done = true;
  second_member.join();
  worker.reset();
  spdlog::default_logger()->sinks().pop_back();
  CHECK(revoked);
  CHECK(gave_up);
  CHECK(stopped);
  CHECK(lines(sink.text()) == kEvents);  // printed once
}
