// The option values a command runs with, for its start-up log line.
#pragma once

#include <vector>

#include <CLI/CLI.hpp>

#include "common/structured_log.h"

namespace tessera {

// Returns one field per option of `app` and of its chosen subcommands: the value from the
// command line or config file, else the default ("" when it has none). Field names are the long
// option names with '_' for '-'. Values of options whose names contain "key", "secret", "token"
// or "password" are replaced by "<redacted>", so a secret given as a flag never reaches the log.
std::vector<LogField> OptionValues(const CLI::App& app);

}  // namespace tessera
