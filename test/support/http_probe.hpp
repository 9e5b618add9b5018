#pragma once
// Test helper: the daemon's HTTP endpoint seen from outside, with curl, as an operator or a
// probe sees it.

#include <string>
#include <vector>

namespace pricepipe::test {

// The body of GET http://127.0.0.1:`port``path`; "" when nothing answered within `max_time`
// seconds (curl's --max-time).
std::string http_get(int port, const std::string& path, const std::string& max_time = "5");
// Its HTTP status; 0 when nothing answered within `max_time`. `extra` goes to curl before the
// address (e.g. {"-X", "POST", ...}).
int http_status(int port, const std::string& path, const std::string& max_time = "5",
                const std::vector<std::string>& extra = {});
// The value of the unlabelled sample `name` in Prometheus text; -1 when it is not there.
double metric_value(const std::string& metrics, const std::string& name);

}  // namespace pricepipe::test
