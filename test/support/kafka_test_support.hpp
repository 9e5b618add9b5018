#pragma once
// Helpers for tests against a real Kafka broker: names, the broker address, and kcat as the
// independent client that reads what is really in a topic.

#include <cstdint>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace pricepipe::test {

// Bootstrap servers of the broker the CTest fixture started (PRICEPIPE_TEST_BROKERS or
// 127.0.0.1:9092), and of the three-node cluster (PRICEPIPE_TEST_CLUSTER_BROKERS or
// 127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094).
std::string test_brokers();
std::string test_cluster_brokers();

// A topic or group name no other test run has used.
std::string unique_name(const std::string& prefix);

struct Record {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = 0;  // the producer's (create time)
  std::string value;
  bool operator<(const Record& o) const {
    return std::tie(partition, offset, timestamp_ms, value) < std::tie(o.partition, o.offset, o.timestamp_ms, o.value);
  }
  bool operator==(const Record& o) const {
    return partition == o.partition && offset == o.offset && timestamp_ms == o.timestamp_ms && value == o.value;
  }
};

// kcat's output for every record of `topic`, from the beginning to the end, each formatted by
// kcat's -f `format`; `extra` goes before it (e.g. {"-X", "fetch.message.max.bytes=4000000"}).
// Fails the test when kcat does.
std::string kcat_consume(const std::string& brokers, const std::string& topic, const std::string& format,
                         const std::vector<std::string>& extra = {});
// The same, but nothing where kcat fails, for polling with eventually(): on a cluster, a topic
// just created can be in one broker's metadata while its partition leader still answers
// "Unknown topic or partition".
std::string kcat_consume_or_empty(const std::string& brokers, const std::string& topic, const std::string& format,
                                  const std::vector<std::string>& extra = {});
// Everything in `topic` from the beginning, read with kcat.
std::vector<Record> kcat_read(const std::string& brokers, const std::string& topic);
// Partition count of `topic` as kcat's metadata shows it; -1 when the topic does not exist.
int kcat_partition_count(const std::string& brokers, const std::string& topic);
// Produces each line of `lines` to `topic` with kcat.
void kcat_produce(const std::string& brokers, const std::string& topic, const std::vector<std::string>& lines);

// Records printed by pricepipe in `envelope` form: {"topic":..,"partition":..,"offset":..,
// "timestamp":..,"key":..,"event":{..}} -> (partition, offset, timestamp, event JSON). Fails the test on a malformed line.
std::vector<Record> parse_envelopes(const std::string& out);

// Records printed by pricepipe runs next to the records in their topic: what the delivery
// tests assert on. A record is the same printed and in the topic when partition, offset,
// timestamp and event all match.
struct TopicComparison {
  std::vector<Record> in_topic;    // what kcat read, in its order
  std::size_t printed_count = 0;   // records printed, repeats counted
  std::set<Record> printed;        // each record printed, once
  std::vector<Record> duplicates;  // printed more than once: once per repeat
  std::vector<Record> missing;     // in the topic, never printed
  std::vector<Record> extra;       // printed, not in the topic
  // The first duplicate, missing and extra record, for INFO().
  std::string describe() const;
};
// Compares `printed` (every run's records, in any order) with `in_topic`.
TopicComparison compare_with_topic(const std::vector<Record>& printed, std::vector<Record> in_topic);
// The same with what kcat reads from `topic` on `brokers` now.
TopicComparison compare_with_topic(const std::vector<Record>& printed, const std::string& brokers,
                                   const std::string& topic);
// Records of the whole lines of `out`: the output of a run that may have been killed
// mid-line (a cut line is not an event).
std::vector<Record> parse_whole_envelopes(const std::string& out);

std::string pricepipe_binary();
std::string source_dir();

}  // namespace pricepipe::test

namespace pricepipe::test {

// Runs scripts/kafka.sh with `args` (e.g. {"stop"}, {"kill-node", "2", "--nodes", "3"});
// fails the test if it fails.
void kafka_sh(const std::vector<std::string>& args);

// The leader broker id of `partition` of `topic`, from kcat's metadata; -1 if none.
int kcat_partition_leader(const std::string& brokers, const std::string& topic, int partition);

// Lines of `text` that are complete (end with a newline).
std::size_t complete_lines(const std::string& text);

// The consumer group protocol the real-broker tests run pricepipe with: PRICEPIPE_TEST_GROUP_PROTOCOL
// (test/CMakeLists.txt runs the broker tests once per protocol), classic when unset.
std::string test_group_protocol();
// "--consumer.group_protocol=" + test_group_protocol(): for command lines not built by pipeline_args.
std::string group_protocol_arg();
// `extra`, then `classic` (librdkafka.consumer.session.timeout.ms and the like) under the
// classic protocol only: the consumer protocol refuses them, its broker sets the session
// (group.consumer.session.timeout.ms, 45 s) and the heartbeat (5 s).
std::vector<std::string> plus_classic(std::vector<std::string> extra, const std::vector<std::string>& classic);

// The partitions of each "consumer: holding partitions [...]" line in a daemon's log, in order
// (the consumer's whole assignment after each change, under either group protocol).
std::vector<std::set<int>> holdings(const std::string& err);
// The partitions held now, by the last such line (none before the first).
std::set<int> holding(const std::string& err);

// Writes the shipped supervisor.conf to `path` with its producer rate set to `rate`, then
// `extra` (more sections or keys); returns `path`.
std::string write_config(const std::string& path, const std::string& extra, int rate = 10);

// The pricepipe command line of the real-broker tests: the shipped config, `brokers`, a topic
// and group of the test's own, envelope output (unless `extra` names consumer.output), a stats
// line every 2 s, the test's group protocol (unless `extra` names one), then `extra`.
std::vector<std::string> pipeline_args(const std::string& brokers, const std::string& topic,
                                       const std::string& group, std::vector<std::string> extra);
// The same on the single broker (test_brokers()).
std::vector<std::string> pipeline_args(const std::string& topic, const std::string& group,
                                       std::vector<std::string> extra);

// Makes sure the single broker (nodes 1) or the cluster (nodes 3) runs when a test starts, and
// starts whatever the test stopped again when it ends, even on failure.
class BrokerGuard {
 public:
  explicit BrokerGuard(int nodes = 1);
  ~BrokerGuard();
  BrokerGuard(const BrokerGuard&) = delete;
  BrokerGuard& operator=(const BrokerGuard&) = delete;

 private:
  int nodes_;
};

}  // namespace pricepipe::test

#include <map>

namespace pricepipe::test {

// Bootstrap servers of the secure broker (`scripts/kafka.sh start --secure`: SASL_SSL with a
// SCRAM-SHA-512 user): PRICEPIPE_TEST_SECURE_BROKERS or 127.0.0.1:9192.
std::string test_secure_brokers();
// Its librdkafka client settings, from `scripts/kafka.sh client-conf --secure`:
// security.protocol, sasl.mechanism, sasl.username, sasl.password, ssl.ca.location.
std::map<std::string, std::string> secure_client_settings();

}  // namespace pricepipe::test
