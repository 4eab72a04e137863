#include "rest/negotiate.h"

#include <gtest/gtest.h>

namespace ipa::rest {
namespace {

TEST(Negotiate, JsonForms) {
  for (const char* accept :
       {"", "*/*", "application/*", "application/json", "application/fhir+json",
        "application/fhir+json; fhirVersion=4.0", "application/fhir+json;charset=utf-8",
        "application/fhir+xml;q=0.9, application/fhir+json;q=0.8", "text/html, */*;q=0.1"}) {
    SCOPED_TRACE(accept);
    auto f = negotiate(accept, "", false);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(*f, Format::kFhirJson);
  }
  EXPECT_EQ(*negotiate("application/fhir+xml", "json", false), Format::kFhirJson);
  EXPECT_EQ(*negotiate("", "application/fhir+json", false), Format::kFhirJson);
}

TEST(Negotiate, NonJsonIs406) {
  for (const char* accept : {"application/fhir+xml", "application/xml", "text/html",
                             "application/fhir+json;q=0, application/xml"}) {
    SCOPED_TRACE(accept);
    auto f = negotiate(accept, "", false);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().http_status, 406);
  }
  EXPECT_EQ(negotiate("", "xml", false).error().http_status, 406);
}

TEST(Negotiate, BinaryRawForNonFhirAccept) {
  EXPECT_EQ(*negotiate("application/pdf", "", true), Format::kRaw);
  EXPECT_EQ(*negotiate("*/*", "", true), Format::kRaw);
  EXPECT_EQ(*negotiate("application/fhir+json", "", true), Format::kFhirJson);
  EXPECT_EQ(*negotiate("", "", true), Format::kFhirJson);
}

TEST(Negotiate, BodyTypes) {
  EXPECT_TRUE(check_body_type("application/fhir+json").ok());
  EXPECT_TRUE(check_body_type("application/json; charset=utf-8").ok());
  EXPECT_EQ(check_body_type("application/xml").error().http_status, 415);
  EXPECT_EQ(check_body_type("").error().http_status, 415);
}

}  // namespace
}  // namespace ipa::rest
