// Logging: one spdlog logger for the whole process, writing plain lines to stderr.
// Never log tokens, passwords, codes or query values. Thread-safe.
#pragma once

#include <spdlog/spdlog.h>

namespace ipa::core {

// Sets up the process logger at `level` ("debug", "info", "warn", "error", "off").
void init_logging(const std::string& level);

}  // namespace ipa::core
