#include "http/internal/convert.h"

#include <gtest/gtest.h>

#include <string>

namespace ipa::http::internal {
namespace {

TEST(HttpConvert, HeaderLookupIsCaseInsensitiveAndJoinsRepeats) {
  Request request;
  request.headers = {{"Accept", "a"}, {"X-Other", "x"}, {"accept", "b"}};
  EXPECT_EQ(request.header("ACCEPT"), "a, b");
  EXPECT_EQ(request.header("x-other"), "x");
  EXPECT_EQ(request.header("missing"), "");
}

TEST(HttpConvert, SetHeaderReplacesCaseInsensitively) {
  Response response;
  response.headers = {{"content-type", "text/plain"}, {"ETag", "1"}, {"Content-Type", "x"}};
  response.set_header("Content-Type", "application/fhir+json");
  ASSERT_EQ(response.headers.size(), 2u);
  EXPECT_EQ(response.headers[0].name, "Content-Type");
  EXPECT_EQ(response.headers[0].value, "application/fhir+json");
  response.set_header("Location", "/x");
  EXPECT_EQ(response.headers.size(), 3u);
}

TEST(HttpConvert, SingleHeaderIsReadInPlaceOnlyWhenSentOnce) {
  Request request;
  request.headers = {{"Authorization", "Bearer a"}, {"accept", "x"}, {"Accept", "y"}};
  bool repeated = true;
  EXPECT_EQ(request.single_header("authorization", &repeated), "Bearer a");
  EXPECT_FALSE(repeated);
  EXPECT_EQ(request.single_header("Accept", &repeated), "");
  EXPECT_TRUE(repeated);
  EXPECT_EQ(request.header("Accept"), "x, y");
  EXPECT_EQ(request.single_header("Origin", &repeated), "");
  EXPECT_FALSE(repeated);
  EXPECT_EQ(request.single_header("Origin"), "");
}

TEST(HttpConvert, DecodesOriginFormTargets) {
  struct Case {
    std::string target;
    bool ok;
    std::string path;
    std::string query;
  };
  const Case cases[] = {
      {"/fhir/Patient", true, "/fhir/Patient", ""},
      {"/fhir/Patient?name=x%20y&b=c", true, "/fhir/Patient", "name=x%20y&b=c"},
      {"/a%20b/c%2Fd", true, "/a b/c/d", ""},
      {"/a+b", true, "/a+b", ""},
      {"/", true, "/", ""},
      {"*", false, "", ""},
      {"http://example.com/fhir", false, "", ""},
      {"example.com:443", false, "", ""},
      {"/bad%zz", false, "", ""},
      {"/x#fragment", false, "", ""},
      // Plain targets (decided without the URL parser) and their neighbours that are not.
      {"/fhir/Observation/obs-1.a_b~c", true, "/fhir/Observation/obs-1.a_b~c", ""},
      {"/fhir/Patient?_id=p1&x=a/b?c:d@e", true, "/fhir/Patient", "_id=p1&x=a/b?c:d@e"},
      {"/fhir/Patient?", true, "/fhir/Patient", ""},
      {"/fhir//Patient", true, "/fhir//Patient", ""},
      {"/fhir/Observation?code=http://loinc.org|1-8", true, "/fhir/Observation",
       "code=http://loinc.org%7C1-8"},
      {"/fhir/Patient?x=%41", true, "/fhir/Patient", "x=%41"},
      {"/fhir/Patient?x=%4", false, "", ""},
      {"/fhir/Pat ient", false, "", ""},
      {"/fhir/Patient?x=a b", false, "", ""},
      {"/fhir/Patient\x01", false, "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    Request request;
    request.target = c.target;
    core::Status status = decode_target(request);
    EXPECT_EQ(status.ok(), c.ok);
    if (!status.ok()) {
      EXPECT_EQ(status.error().http_status, 400);
      continue;
    }
    EXPECT_EQ(request.path, c.path);
    EXPECT_EQ(request.query, c.query);
  }
}

TEST(HttpConvert, SerializesHeadWithServerHeaders) {
  Response response;
  response.status = 201;
  response.headers = {{"Location", "/fhir/Patient/1"},
                      {"Content-Length", "999"},
                      {"Connection", "keep-alive"},
                      {"Date", "yesterday"}};
  response.body = "hello";
  std::string head;
  ASSERT_TRUE(serialize_head(response, /*keep_alive=*/true, /*http10=*/false, head).ok());
  EXPECT_EQ(head.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("Location: /fhir/Patient/1\r\n"), std::string::npos);
  EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(head.find("999"), std::string::npos);
  EXPECT_EQ(head.find("yesterday"), std::string::npos);
  EXPECT_EQ(head.find("Connection"), std::string::npos);
  EXPECT_NE(head.find("Server: ipa-server\r\n"), std::string::npos);
  EXPECT_NE(head.find("Date: "), std::string::npos);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");

  ASSERT_TRUE(serialize_head(response, /*keep_alive=*/false, /*http10=*/false, head).ok());
  EXPECT_NE(head.find("Connection: close\r\n"), std::string::npos);
  ASSERT_TRUE(serialize_head(response, /*keep_alive=*/true, /*http10=*/true, head).ok());
  EXPECT_NE(head.find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(HttpConvert, NoContentLengthFor204And304) {
  for (int status : {204, 304}) {
    SCOPED_TRACE(status);
    Response response;
    response.status = status;
    std::string head;
    ASSERT_TRUE(serialize_head(response, true, false, head).ok());
    EXPECT_EQ(head.find("Content-Length"), std::string::npos);
  }
}

TEST(HttpConvert, RejectsResponsesThatCouldSplit) {
  std::string head;
  Response bad_value;
  bad_value.headers = {{"X-A", "a\r\nSet-Cookie: evil"}};
  EXPECT_FALSE(serialize_head(bad_value, true, false, head).ok());
  Response bad_name;
  bad_name.headers = {{"X A", "a"}};
  EXPECT_FALSE(serialize_head(bad_name, true, false, head).ok());
  Response bad_status;
  bad_status.status = 101;
  EXPECT_FALSE(serialize_head(bad_status, true, false, head).ok());
}

TEST(HttpConvert, HttpDateIsImfFixdate) {
  std::string_view date = http_date();
  ASSERT_EQ(date.size(), 29u) << date;  // "Sun, 06 Nov 1994 08:49:37 GMT"
  EXPECT_EQ(date.substr(25), " GMT");
  EXPECT_EQ(date[3], ',');
}

TEST(HttpConvert, ErrorResponseIsOperationOutcome) {
  Response response = error_response(413, "too-long", "too big");
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(response.body,
            R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"too-long",)"
            R"("diagnostics":"too big"}]})");
  EXPECT_EQ(response.headers.at(0).value, "application/fhir+json");
}

}  // namespace
}  // namespace ipa::http::internal
