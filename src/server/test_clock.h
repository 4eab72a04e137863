// The loopback-only test clock: when IPA_TEST_CLOCK_FILE names a file, "now" is the system time
// plus the whole number of seconds written in that file (re-read whenever it changes), so
// integration tests move a running server's time forward (token expiry, key retention) without
// sleeping. Never used unless the environment asks for it and the server listens on loopback
// only. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"

namespace ipa::server {

// The clock to run with: the test clock when IPA_TEST_CLOCK_FILE is set and `loopback_only`,
// else the system clock. `why_not` (may be null) receives a message when the variable is set
// but refused.
std::shared_ptr<core::Clock> server_clock(bool loopback_only, std::string* why_not);

}  // namespace ipa::server
