#pragma once
// Catch2 v2 (Debian 12) and v3 (Debian 13) behind one include. The tests use v2's names
// (Catch::Contains and Catch::StartsWith for strings, Approx), which v3 moved into
// Catch::Matchers (Contains became ContainsSubstring) and Catch.
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>

#include <string>

namespace Catch {
inline Matchers::StringContainsMatcher Contains(const std::string& text,
                                                CaseSensitive sensitivity = CaseSensitive::Yes) {
  return Matchers::ContainsSubstring(text, sensitivity);
}
using Matchers::StartsWith;
}  // namespace Catch
using Catch::Approx;
#else
#include <catch2/catch.hpp>
#endif
