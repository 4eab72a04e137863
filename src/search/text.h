// String folding for FHIR string search (R4 search.html#string: "case- and accent-insensitive").
// fold() maps text to one comparable form; queries and index rows are both folded with it.
// It does not tokenize or trim. Thread-safe: each thread keeps its own ICU transliterator.
#pragma once

#include <string>
#include <string_view>

namespace ipa::search {

// Returns the case- and accent-insensitive form of UTF-8 `utf8`: NFD, nonspacing marks removed,
// Latin-ASCII transliteration (Ł -> l, Ø -> o, ß -> ss, æ -> ae), case-folded, NFC. Pure ASCII
// input is only lower-cased. Non-Latin scripts keep their letters (Chinese is unchanged).
// Invalid UTF-8 sequences become U+FFFD. Never fails.
std::string fold(std::string_view utf8);

}  // namespace ipa::search
