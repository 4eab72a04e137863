#include "core/percent.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ipa::core {
namespace {

struct EncodeCase {
  std::string input;
  std::string unreserved;   // PercentSet::kUnreserved
  std::string fhir_search;  // PercentSet::kFhirSearch
};

TEST(PercentEncode, Table) {
  const std::vector<EncodeCase> cases = {
      {"", "", ""},
      // RFC 3986 section 2.3 unreserved: never encoded.
      {"AZaz09-._~", "AZaz09-._~", "AZaz09-._~"},
      // gen-delims and sub-delims (section 2.2).
      {":/?#[]@", "%3A%2F%3F%23%5B%5D%40", ":/%3F%23%5B%5D%40"},
      {"!$&'()*+,;=", "%21%24%26%27%28%29%2A%2B%2C%3B%3D", "%21$%26%27%28%29%2A%2B,%3B%3D"},
      // '%' itself, the space (never '+'), '|' and a FHIR token.
      {"100%", "100%25", "100%25"},
      {"a b+c", "a%20b%2Bc", "a%20b%2Bc"},
      {"http://loinc.org|8480-6", "http%3A%2F%2Floinc.org%7C8480-6", "http://loinc.org|8480-6"},
      // UTF-8 byte by byte, upper-case hex: "Müller", "東".
      {"M\xC3\xBCller", "M%C3%BCller", "M%C3%BCller"},
      {"\xE6\x9D\xB1", "%E6%9D%B1", "%E6%9D%B1"},
      // Control characters and NUL.
      {std::string("a\0b\n", 4), "a%00b%0A", "a%00b%0A"},
      {"\x7F\xFF", "%7F%FF", "%7F%FF"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(percent_encode(c.input), c.unreserved);
    EXPECT_EQ(percent_encode(c.input, PercentSet::kUnreserved), c.unreserved);
    EXPECT_EQ(percent_encode(c.input, PercentSet::kFhirSearch), c.fhir_search);
  }
}

TEST(PercentEncode, EveryByteRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (PercentSet set : {PercentSet::kUnreserved, PercentSet::kFhirSearch}) {
    std::string encoded = percent_encode(all, set);
    for (char c : encoded) {
      EXPECT_GT(static_cast<unsigned char>(c), 0x20);
      EXPECT_LT(static_cast<unsigned char>(c), 0x7F);
    }
    EXPECT_EQ(percent_decode(encoded), all);
    EXPECT_EQ(percent_decode(encoded, {.plus_is_space = true}), all);
  }
  // Exactly the 66 unreserved bytes stay plain.
  EXPECT_EQ(percent_encode(all).size(), 66 + 3 * (256 - 66));
}

struct DecodeCase {
  std::string input;
  std::optional<std::string> strict;  // {}
  std::optional<std::string> form;    // {.plus_is_space = true}
  std::string lenient_form;           // {.plus_is_space = true, .keep_malformed = true}
};

TEST(PercentDecode, Table) {
  const std::vector<DecodeCase> cases = {
      {"", "", "", ""},
      {"plain-._~", "plain-._~", "plain-._~", "plain-._~"},
      {"a+b%20c", "a+b c", "a b c", "a b c"},
      {"%2B", "+", "+", "+"},  // an escaped '+' is a plus in either mode
      {"%7c%7C", "||", "||", "||"},
      {"M%C3%BCller", "M\xC3\xBCller", "M\xC3\xBCller", "M\xC3\xBCller"},
      {"%25", "%", "%", "%"},
      {"%2525", "%25", "%25", "%25"},  // decoded once only
      {"%00", std::string(1, '\0'), std::string(1, '\0'), std::string(1, '\0')},
      // Malformed: a lone '%', one digit, non-hex digits, at the start, middle and end.
      {"%", std::nullopt, std::nullopt, "%"},
      {"a%", std::nullopt, std::nullopt, "a%"},
      {"a%4", std::nullopt, std::nullopt, "a%4"},
      {"%zz+", std::nullopt, std::nullopt, "%zz "},
      {"a%G1%41", std::nullopt, std::nullopt, "a%G1A"},
      {"%%41", std::nullopt, std::nullopt, "%A"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(percent_decode(c.input), c.strict);
    EXPECT_EQ(percent_decode(c.input, {.plus_is_space = true}), c.form);
    EXPECT_EQ(percent_decode(c.input, {.plus_is_space = true, .keep_malformed = true}),
              c.lenient_form);
  }
}

TEST(PercentDecode, LenientWithoutPlusKeepsPlus) {
  EXPECT_EQ(percent_decode("a+b%zz", {.keep_malformed = true}), "a+b%zz");
}

}  // namespace
}  // namespace ipa::core
