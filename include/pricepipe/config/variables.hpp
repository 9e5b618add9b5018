#pragma once
// `${VAR}`, `${VAR:-default}` and `$$` in config values: expanded from the environment when
// the config is read (at start and on every reload), so secrets and per-instance values (a
// pod or host name) need not be written into supervisor.conf.

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace pricepipe {

// A reference that cannot be expanded; the message names the variable, never the value.
class VariableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Looks a variable up; nullopt when it is not set.
using VariableLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment.
std::optional<std::string> environment_variable(const std::string& name);

// `${NAME}` is the variable's value (an error when it is unset), `${NAME:-default}` the value,
// or `default` when it is unset or empty (as in sh), and `$$` a literal `$`. NAME is letters,
// digits and `_`, not starting with a digit. Any other `$` stays as it is. Throws VariableError.
std::string expand_variables(const std::string& value, const VariableLookup& lookup = environment_variable);

// Whether `value` holds anything but references without defaults: a secret written in the
// file itself.
bool has_literal_text(const std::string& value);

}  // namespace pricepipe
