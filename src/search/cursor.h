// Paging cursors (DESIGN.md): a keyset position sealed with an AEAD (XChaCha20-Poly1305 from
// libsodium) under a server key kept in the store, so any node can continue a search, and bound
// to the query (and later the grant) it was issued for. A cursor reveals nothing and cannot be
// forged or moved to another query. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "storage/search_plan.h"

namespace ipa::search {

inline constexpr size_t kCursorKeyBytes = 32;

// Seals `position` for the query described by `binding`. `key` has kCursorKeyBytes bytes.
std::string seal_cursor(const storage::Keyset& position, std::string_view binding,
                        std::string_view key, core::TimePoint now);

// Opens a cursor. Errors: 400 (IssueType invalid, expression "_cursor") when it was forged,
// altered, issued for another query, malformed, or is older than a day.
core::Result<storage::Keyset> open_cursor(std::string_view cursor, std::string_view binding,
                                          std::string_view key, core::TimePoint now);

}  // namespace ipa::search
