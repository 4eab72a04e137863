#include "client/url.h"

#include <gtest/gtest.h>

#include "core/percent.h"

namespace ipa::client {
namespace {

TEST(ClientUrl, EncodesAndDecodes) {
  // The client reads a server's URLs leniently (core/percent.h; its own tests are there).
  constexpr core::PercentDecoding kLenient{.plus_is_space = true, .keep_malformed = true};
  EXPECT_EQ(core::percent_encode("a b/c|d~"), "a%20b%2Fc%7Cd~");
  EXPECT_EQ(core::percent_decode("a+b%2Fc%7c%zz", kLenient), "a b/c|%zz");
  EXPECT_EQ(core::percent_decode("a+b", {.keep_malformed = true}), "a+b");
  EXPECT_EQ(form_encode({{"scope", "patient/*.rs openid"}, {"x", ""}}),
            "scope=patient%2F%2A.rs%20openid&x=");
  Fields f = parse_query("code=abc&state=x%20y&empty&code=2");
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(field(f, "code"), "abc");
  EXPECT_EQ(field(f, "state"), "x y");
  EXPECT_EQ(field(f, "missing"), "");
}

TEST(ClientUrl, OriginsAndResolution) {
  struct Case {
    std::string url;
    std::string origin;
  };
  for (const Case& c : std::vector<Case>{
           {"https://EHR.example/fhir", "https://ehr.example:443"},
           {"http://127.0.0.1:8080/fhir/Binary/1?x", "http://127.0.0.1:8080"},
           {"http://host:80/", "http://host:80"},
           {"ftp://host/x", ""},
           {"Binary/1", ""},
           {"http://user@host/", ""},
       }) {
    SCOPED_TRACE(c.url);
    EXPECT_EQ(origin_of(c.url), c.origin);
  }
  EXPECT_EQ(resolve("http://h:1/fhir", "Binary/7"), "http://h:1/fhir/Binary/7");
  EXPECT_EQ(resolve("http://h:1/fhir", "/files/7"), "http://h:1/files/7");
  EXPECT_EQ(resolve("http://h:1/fhir", "https://other/x"), "https://other/x");
  EXPECT_EQ(query_of("http://h/x?a=1&b=2#f"), "a=1&b=2");
  EXPECT_EQ(server_name("https://ehr.example/fhir"), "ehr.example");
  EXPECT_EQ(server_name("http://127.0.0.1:8080/fhir"), "127.0.0.1_8080");
}

}  // namespace
}  // namespace ipa::client
