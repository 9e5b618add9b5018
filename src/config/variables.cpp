#include "pricepipe/config/variables.hpp"

#include <cctype>
#include <cstdlib>

namespace pricepipe {
namespace {

bool valid_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (const unsigned char c : name) {
    if (!std::isalnum(c) && c != '_') return false;
  }
  return true;
}

// The `${...}` reference starting at `start` (at the `$`): its name, its default if it has
// one, and the position after its `}`.
struct Reference {
  std::string name;
  std::optional<std::string> fallback;
  std::size_t end = 0;
};

Reference parse_reference(const std::string& value, std::size_t start) {
  const std::size_t close = value.find('}', start + 2);
  if (close == std::string::npos) throw VariableError("'${' without a closing '}'");
  const std::string body = value.substr(start + 2, close - start - 2);
  Reference ref;
  ref.end = close + 1;
  const std::size_t dash = body.find(":-");
  ref.name = body.substr(0, dash);
  if (dash != std::string::npos) ref.fallback = body.substr(dash + 2);
  if (!valid_name(ref.name)) {
    throw VariableError("'${" + ref.name + "...}' is not a variable reference (a name of letters, digits and _, "
                        "then '}' or ':-default}'; '$$' is a literal '$')");
  }
  return ref;
}

}  // namespace

std::optional<std::string> environment_variable(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string expand_variables(const std::string& value, const VariableLookup& lookup) {
  std::string out;
  std::size_t i = 0;
  while (i < value.size()) {
    const std::size_t dollar = value.find('$', i);
    out.append(value, i, dollar == std::string::npos ? std::string::npos : dollar - i);
    if (dollar == std::string::npos) break;
    const char next = dollar + 1 < value.size() ? value[dollar + 1] : '\0';
    if (next == '$') {
      out += '$';
      i = dollar + 2;
    } else if (next == '{') {
      const Reference ref = parse_reference(value, dollar);
      const std::optional<std::string> found = lookup(ref.name);
      if (ref.fallback && (!found || found->empty())) {
        out += *ref.fallback;
      } else if (found) {
        out += *found;
      } else {
        throw VariableError("environment variable " + ref.name + " is not set (use ${" + ref.name +
                            ":-default} for a default)");
      }
      i = ref.end;
    } else {
      out += '$';
      i = dollar + 1;
    }
  }
  return out;
}

bool has_literal_text(const std::string& value) {
  // With every variable set and empty, what is left was written in the value itself
  // (defaults included).
  const auto empty = [](const std::string&) -> std::optional<std::string> { return std::string(); };
  try {
    return !expand_variables(value, empty).empty();
  } catch (const VariableError&) {
    return true;
  }
}

}  // namespace pricepipe
