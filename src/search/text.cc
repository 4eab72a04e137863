#include "search/text.h"

#include <unicode/translit.h>
#include <unicode/unistr.h>
#include <unicode/utypes.h>

#include <memory>

#include "core/result.h"

namespace ipa::search {
namespace {

// NFD splits accented letters into base + mark; the marks go; Latin-ASCII turns the remaining
// Latin letters without a decomposition (Ł, Ø, ß, æ) into ASCII; NFC recomposes other scripts.
constexpr char kRules[] = "NFD; [:Nonspacing Mark:] Remove; Latin-ASCII; NFC";

// Creating a Transliterator parses rules (costly), and one instance may not be used from two
// threads at once, so one prototype is built once and each thread clones its own copy.
const icu::Transliterator& prototype() {
  static const icu::Transliterator* const kPrototype = [] {
    UErrorCode status = U_ZERO_ERROR;
    icu::Transliterator* t = icu::Transliterator::createInstance(
        icu::UnicodeString::fromUTF8(kRules), UTRANS_FORWARD, status);
    IPA_CHECK(U_SUCCESS(status) && t != nullptr, "ICU transliterator rules must load");
    return t;
  }();
  return *kPrototype;
}

icu::Transliterator& thread_transliterator() {
  thread_local std::unique_ptr<icu::Transliterator> t(prototype().clone());
  return *t;
}

bool is_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

}  // namespace

std::string fold(std::string_view utf8) {
  if (is_ascii(utf8)) {
    std::string out(utf8);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  }
  icu::UnicodeString text = icu::UnicodeString::fromUTF8(
      icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  thread_transliterator().transliterate(text);
  text.foldCase();
  std::string out;
  out.reserve(utf8.size());
  text.toUTF8String(out);
  return out;
}

}  // namespace ipa::search
