#include "pricepipe/kafka/kafka_stats.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <string_view>

namespace pricepipe {
namespace {

std::int64_t int_member(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : -1;
}

bool brokers_up(const rapidjson::Document& doc) {
  const auto brokers = doc.FindMember("brokers");
  if (brokers == doc.MemberEnd() || !brokers->value.IsObject()) return false;
  for (const auto& broker : brokers->value.GetObject()) {
    if (!broker.value.IsObject()) continue;
    const auto state = broker.value.FindMember("state");
    const bool up = state != broker.value.MemberEnd() && state->value.IsString() &&
                    std::string_view(state->value.GetString()) == "UP";
    if (up && int_member(broker.value, "nodeid") >= 0) return true;  // -1: a bootstrap entry
  }
  return false;
}

// Whether a broker entry's source is "logical" (the group coordinator's) or "internal": not a
// connection librdkafka makes to an address. False without a readable source.
bool logical(const rapidjson::Value& broker) {
  const auto source = broker.FindMember("source");
  if (source == broker.MemberEnd() || !source->value.IsString()) return false;
  const std::string_view name = source->value.GetString();
  return name == "logical" || name == "internal";
}

// Whether the statistics list brokers and every one is logical or internal: none a connection
// could be made to.
bool no_broker(const rapidjson::Document& doc) {
  const auto brokers = doc.FindMember("brokers");
  if (brokers == doc.MemberEnd() || !brokers->value.IsObject()) return false;
  for (const auto& broker : brokers->value.GetObject()) {
    if (!broker.value.IsObject() || !logical(broker.value)) return false;
  }
  return true;
}

std::int64_t silent_ms(const rapidjson::Document& doc) {
  std::int64_t longest = 0;
  const auto brokers = doc.FindMember("brokers");
  if (brokers == doc.MemberEnd() || !brokers->value.IsObject()) return 0;
  for (const auto& broker : brokers->value.GetObject()) {
    const rapidjson::Value& b = broker.value;
    if (!b.IsObject()) continue;
    const auto state = b.FindMember("state");
    const bool up = state != b.MemberEnd() && state->value.IsString() && std::string_view(state->value.GetString()) == "UP";
    if (!up || logical(b) || int_member(b, "waitresp_cnt") <= 0) continue;
    longest = std::max(longest, int_member(b, "rxidle") / 1000);
  }
  return longest;
}

// The lag of one partition's statistics, or -1 when its offsets are not known.
std::int64_t partition_lag(const rapidjson::Value& p) {
  const std::int64_t stable = int_member(p, "ls_offset");
  const std::int64_t end = stable >= 0 ? stable : int_member(p, "hi_offset");
  if (end < 0) return -1;
  const std::int64_t committed = int_member(p, "committed_offset");
  const std::int64_t from = committed >= 0 ? committed : int_member(p, "lo_offset");
  if (from < 0) return -1;
  return end > from ? end - from : 0;
}

std::map<std::int32_t, std::int64_t> topic_lag(const rapidjson::Document& doc, const std::string& topic) {
  std::map<std::int32_t, std::int64_t> lag;
  const auto topics = doc.FindMember("topics");
  if (topic.empty() || topics == doc.MemberEnd() || !topics->value.IsObject()) return lag;
  const auto entry = topics->value.FindMember(topic.c_str());
  if (entry == topics->value.MemberEnd() || !entry->value.IsObject()) return lag;
  const auto partitions = entry->value.FindMember("partitions");
  if (partitions == entry->value.MemberEnd() || !partitions->value.IsObject()) return lag;
  for (const auto& p : partitions->value.GetObject()) {
    if (!p.value.IsObject()) continue;
    const std::int64_t id = int_member(p.value, "partition");
    if (id < 0 || id > INT32_MAX) continue;  // -1: librdkafka's unassigned-partition queue
    const std::int64_t n = partition_lag(p.value);
    if (n >= 0) lag[static_cast<std::int32_t>(id)] = n;
  }
  return lag;
}

}  // namespace

ClientStats read_stats(const std::string& stats_json, const std::string& topic) {
  rapidjson::Document doc;
  doc.Parse(stats_json.c_str(), stats_json.size());
  ClientStats stats;
  if (doc.HasParseError() || !doc.IsObject()) return stats;
  stats.broker_up = brokers_up(doc);
  stats.no_broker = no_broker(doc);
  stats.silent_ms = silent_ms(doc);
  stats.lag = topic_lag(doc, topic);
  return stats;
}

}  // namespace pricepipe
