#pragma once
// Helpers every kind of test uses, with no Kafka in them.

#include <string>

namespace pricepipe::test {

// A new file under /tmp named `prefix`-XXXXXX, holding `content` byte for byte; the caller
// removes it (std::remove) when it matters.
std::string temp_file(const std::string& prefix, const std::string& content);

}  // namespace pricepipe::test
