#pragma once
// The effective configuration as INI text (--check-config), secrets masked, and the warning for
// a config file that shows its secrets to other users. Pure apart from the stat() of the file.

#include <string>

#include "pricepipe/config/config.hpp"

namespace pricepipe {

// The effective configuration as INI text. Values of secret keys (is_secret_key: passwords,
// passphrases, secrets and key material, not paths) are shown as *** unless `reveal_secrets`.
std::string render_config(const Config& config, bool reveal_secrets = false);

// A warning naming `path` and the keys when the file is readable by other users (S_IROTH) and
// `file`, the settings read from it, gives a secret key (is_secret_key) a non-empty value;
// empty otherwise (also when `path` cannot be stat'ed).
std::string exposed_secrets_warning(const std::string& path, const RawSettings& file);

}  // namespace pricepipe
