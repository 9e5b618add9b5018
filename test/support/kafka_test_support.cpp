#include "kafka_test_support.hpp"

#include "catch_compat.hpp"
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

#include "process.hpp"
#include "test_support.hpp"

namespace pricepipe::test {

std::string test_brokers() {
  const char* env = std::getenv("PRICEPIPE_TEST_BROKERS");
  return env ? env : "127.0.0.1:9092";
}

std::string test_cluster_brokers() {
  const char* env = std::getenv("PRICEPIPE_TEST_CLUSTER_BROKERS");
  return env ? env : "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094";
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return prefix + "-" + std::to_string(getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) + "-" +
         std::to_string(counter++);
}

namespace {

ProcessResult run_kcat_consume(const std::string& brokers, const std::string& topic, const std::string& format,
                               const std::vector<std::string>& extra) {
  std::vector<std::string> args{"kcat", "-C", "-b", brokers, "-t", topic, "-e", "-o", "beginning", "-q"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"-f", format});
  return run_process(args, std::chrono::seconds(300));
}

}  // namespace

std::string kcat_consume(const std::string& brokers, const std::string& topic, const std::string& format,
                         const std::vector<std::string>& extra) {
  const auto r = run_kcat_consume(brokers, topic, format, extra);
  INFO("kcat stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

std::string kcat_consume_or_empty(const std::string& brokers, const std::string& topic, const std::string& format,
                                  const std::vector<std::string>& extra) {
  const auto r = run_kcat_consume(brokers, topic, format, extra);
  return r.exit_code == 0 ? r.out : std::string();
}

std::vector<Record> kcat_read(const std::string& brokers, const std::string& topic) {
  std::vector<Record> records;
  for (const auto& line : split_lines(kcat_consume(brokers, topic, "%p\t%o\t%T\t%s\n"))) {
    const auto tab1 = line.find('\t');
    const auto tab2 = line.find('\t', tab1 + 1);
    const auto tab3 = line.find('\t', tab2 + 1);
    REQUIRE(tab3 != std::string::npos);
    records.push_back({std::stoi(line.substr(0, tab1)), std::stoll(line.substr(tab1 + 1, tab2 - tab1 - 1)),
                       std::stoll(line.substr(tab2 + 1, tab3 - tab2 - 1)), line.substr(tab3 + 1)});
  }
  return records;
}

int kcat_partition_count(const std::string& brokers, const std::string& topic) {
  const auto r = run_process({"kcat", "-L", "-b", brokers, "-t", topic}, std::chrono::seconds(30));
  REQUIRE(r.exit_code == 0);
  std::smatch m;
  const std::regex line("topic \"" + topic + "\" with ([0-9]+) partitions");
  if (!std::regex_search(r.out, m, line)) return -1;
  if (r.out.find("Unknown topic or partition") != std::string::npos) return -1;
  return std::stoi(m[1]);
}

void kcat_produce(const std::string& brokers, const std::string& topic, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  const std::string path = temp_file("pricepipe-kcat", text);
  const auto r = run_process({"kcat", "-P", "-b", brokers, "-t", topic, "-l", path}, std::chrono::seconds(120));
  std::remove(path.c_str());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

std::vector<Record> parse_envelopes(const std::string& out) {
  static const std::regex envelope(
      R"re(\{"topic":"[^"]*","partition":([0-9]+),"offset":([0-9]+),"timestamp":(-?[0-9]+),"key":"[^"]*","event":(\{[^}]*\})\})re");
  std::vector<Record> records;
  for (const auto& line : split_lines(out)) {
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, envelope));
    records.push_back({std::stoi(m[1]), std::stoll(m[2]), std::stoll(m[3]), m[4]});
  }
  return records;
}

namespace {

std::string describe_first(const char* what, const std::vector<Record>& records) {
  if (records.empty()) return "";
  const Record& r = records.front();
  return std::string("first ") + what + " (of " + std::to_string(records.size()) + "): " +
         std::to_string(r.partition) + "/" + std::to_string(r.offset) + " " + r.value + "\n";
}

}  // namespace

std::string TopicComparison::describe() const {
  return "printed " + std::to_string(printed_count) + " (" + std::to_string(printed.size()) + " different), " +
         std::to_string(in_topic.size()) + " in the topic\n" + describe_first("duplicate", duplicates) +
         describe_first("missing", missing) + describe_first("extra", extra);
}

TopicComparison compare_with_topic(const std::vector<Record>& printed, std::vector<Record> in_topic) {
  TopicComparison c;
  c.in_topic = std::move(in_topic);
  c.printed_count = printed.size();
  for (const auto& record : printed) {
    if (!c.printed.insert(record).second) c.duplicates.push_back(record);
  }
  const std::set<Record> topic(c.in_topic.begin(), c.in_topic.end());
  std::set_difference(topic.begin(), topic.end(), c.printed.begin(), c.printed.end(), std::back_inserter(c.missing));
  std::set_difference(c.printed.begin(), c.printed.end(), topic.begin(), topic.end(), std::back_inserter(c.extra));
  return c;
}

TopicComparison compare_with_topic(const std::vector<Record>& printed, const std::string& brokers,
                                   const std::string& topic) {
  return compare_with_topic(printed, kcat_read(brokers, topic));
}

std::vector<Record> parse_whole_envelopes(const std::string& out) {
  return parse_envelopes(out.substr(0, out.rfind('\n') + 1));
}

std::string pricepipe_binary() { return PRICEPIPE_BINARY; }

std::string test_group_protocol() {
  const char* env = std::getenv("PRICEPIPE_TEST_GROUP_PROTOCOL");
  return env && *env ? env : "classic";
}

std::string group_protocol_arg() { return "--consumer.group_protocol=" + test_group_protocol(); }

std::vector<std::set<int>> holdings(const std::string& err) {
  static const std::regex line(R"(consumer: holding partitions \[([0-9,]*)\])");
  std::vector<std::set<int>> all;
  for (auto it = std::sregex_iterator(err.begin(), err.end(), line); it != std::sregex_iterator(); ++it) {
    std::set<int> partitions;
    std::stringstream list((*it)[1]);
    for (std::string p; std::getline(list, p, ',');) partitions.insert(std::stoi(p));
    all.push_back(partitions);
  }
  return all;
}

std::set<int> holding(const std::string& err) {
  const auto all = holdings(err);
  return all.empty() ? std::set<int>{} : all.back();
}

std::string write_config(const std::string& path, const std::string& extra, int rate) {
  std::ifstream shipped(source_dir() + "/supervisor.conf");
  std::string text((std::istreambuf_iterator<char>(shipped)), std::istreambuf_iterator<char>());
  text = std::regex_replace(text, std::regex("\nrate = 10\n"), "\nrate = " + std::to_string(rate) + "\n");
  std::ofstream(path) << text << "\n" << extra;
  return path;
}

std::vector<std::string> plus_classic(std::vector<std::string> extra, const std::vector<std::string>& classic) {
  if (test_group_protocol() == "classic") extra.insert(extra.end(), classic.begin(), classic.end());
  return extra;
}

std::string source_dir() { return PRICEPIPE_SOURCE_DIR; }

}  // namespace pricepipe::test

namespace pricepipe::test {

void kafka_sh(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"bash", source_dir() + "/scripts/kafka.sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run_process(argv, std::chrono::seconds(180));
  INFO("kafka.sh stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
}

int kcat_partition_leader(const std::string& brokers, const std::string& topic, int partition) {
  const auto r = run_process({"kcat", "-L", "-b", brokers, "-t", topic}, std::chrono::seconds(30));
  REQUIRE(r.exit_code == 0);
  std::smatch m;
  const std::regex line("partition " + std::to_string(partition) + ", leader ([0-9-]+),");
  if (!std::regex_search(r.out, m, line)) return -1;
  return std::stoi(m[1]);
}

std::size_t complete_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::vector<std::string> pipeline_args(const std::string& brokers, const std::string& topic,
                                       const std::string& group, std::vector<std::string> extra) {
  std::vector<std::string> args{pricepipe_binary(), "--config", source_dir() + "/supervisor.conf",
                                "--kafka.brokers=" + brokers, "--kafka.topic=" + topic,
                                "--consumer.group_id=" + group, "--log.stats_interval_s=2"};
  const auto given = [&extra](const std::string& option) {
    return std::any_of(extra.begin(), extra.end(), [&](const std::string& a) { return a.rfind(option, 0) == 0; });
  };
  if (!given("--consumer.output=")) args.push_back("--consumer.output=envelope");
  if (!given("--consumer.group_protocol=")) args.push_back(group_protocol_arg());
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::vector<std::string> pipeline_args(const std::string& topic, const std::string& group,
                                       std::vector<std::string> extra) {
  return pipeline_args(test_brokers(), topic, group, std::move(extra));
}

BrokerGuard::BrokerGuard(int nodes) : nodes_(nodes) { kafka_sh({"start", "--nodes", std::to_string(nodes_)}); }

BrokerGuard::~BrokerGuard() {
  const auto r = run_process({"bash", source_dir() + "/scripts/kafka.sh", "start", "--nodes", std::to_string(nodes_)},
                             std::chrono::seconds(180));
  (void)r;
}

}  // namespace pricepipe::test

namespace pricepipe::test {

std::string test_secure_brokers() {
  const char* env = std::getenv("PRICEPIPE_TEST_SECURE_BROKERS");
  return env ? env : "127.0.0.1:9192";
}

std::map<std::string, std::string> secure_client_settings() {
  const auto r = run_process({"bash", source_dir() + "/scripts/kafka.sh", "client-conf", "--secure"},
                             std::chrono::seconds(30));
  INFO("kafka.sh stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  std::map<std::string, std::string> settings;
  for (const auto& line : split_lines(r.out)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) settings[line.substr(0, eq)] = line.substr(eq + 1);
  }
  REQUIRE(!settings["sasl.password"].empty());
  return settings;
}

}  // namespace pricepipe::test
