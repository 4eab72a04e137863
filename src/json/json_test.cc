#include "json/json.h"

#include <gtest/gtest.h>

namespace ipa::json {
namespace {

TEST(Json, DecimalsRoundTripExactly) {
  for (const char* text :
       {R"({"value":1.50})", R"({"value":0.000001})", R"({"value":100.0})", R"({"value":-0.0})",
        R"({"value":1e-7})", R"({"value":12345678901234567890123})", R"({"value":98.6})"}) {
    SCOPED_TRACE(text);
    auto v = parse(text);
    ASSERT_TRUE(v.ok()) << v.error().diagnostics;
    EXPECT_EQ(write(*v), text);
  }
}

TEST(Json, KeepsMemberOrderAndEscapes) {
  std::string text = R"({"b":"x\"y\\z\n\u0001","a":[true,false,null,{}],"c":"Müller ß Ł"})";
  auto v = parse(text);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(write(*v), text);
  EXPECT_EQ(v->members()[0].first, "b");
  EXPECT_EQ(v->get_string("c"), "Müller ß Ł");
}

TEST(Json, DecodesUnicodeEscapes) {
  auto v = parse(R"(["\u00fc\ud83d\ude00"])");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->items()[0].text(), "ü😀");
}

struct BadCase {
  std::string text;
  std::string message_part;
};

TEST(Json, RejectsBadInput) {
  std::vector<BadCase> cases = {
      {R"({"a":1,"a":2})", "duplicate key \"a\""},
      {R"({"x":{"k":1,"k":1}})", "duplicate key \"k\""},
      {"\"\xff\xfe\"", "Invalid JSON"},      // invalid UTF-8
      {"\"\xc0\xaf\"", "Invalid JSON"},      // overlong encoding
      {"\"\xed\xa0\x80\"", "Invalid JSON"},  // surrogate encoded in UTF-8
      {R"({"a":1,})", "Invalid JSON"},       // trailing comma
      {R"({"a":1} x)", "Invalid JSON"},      // trailing content
      {R"({"a":1}{"b":2})", "Invalid JSON"},
      {R"({"a":NaN})", "Invalid JSON"},
      {R"({"a":01})", "Invalid JSON"},
      {R"({'a':1})", "Invalid JSON"},
      {R"({"a":1 /* c */})", "Invalid JSON"},
      {"", "Invalid JSON"},
      {R"({"a":"unterminated)", "Invalid JSON"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto v = parse(c.text);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().http_status, 400);
    EXPECT_EQ(v.error().type, core::IssueType::kStructure);
    EXPECT_NE(v.error().diagnostics.find(c.message_part), std::string::npos)
        << v.error().diagnostics;
  }
}

TEST(Json, DuplicateKeysInLargeObjects) {
  std::string text = "{";
  for (int i = 0; i < 40; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  text += "\"k7\":0}";
  auto v = parse(text);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().diagnostics.find("duplicate key \"k7\""), std::string::npos);
}

TEST(Json, BoundsNestingDepth) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto v = parse(deep);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().diagnostics.find("nesting deeper"), std::string::npos);
  ParseOptions wide;
  wide.max_depth = 200;
  EXPECT_TRUE(parse(deep, wide).ok());
}

TEST(Json, PrettyPrints) {
  auto v = parse(R"({"a":[1,2],"b":{}})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(write(*v, {.pretty = true}), "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}");
}

TEST(Json, EditsObjects) {
  Value v = Value::object();
  v.set("id", Value::string("a"));
  v.set("n", Value::number(3));
  v.set("id", Value::string("b"));
  EXPECT_EQ(write(v), R"({"id":"b","n":3})");
  EXPECT_EQ(v.find("n")->as_int(), 3);
  EXPECT_TRUE(v.erase("id"));
  EXPECT_FALSE(v.erase("id"));
  EXPECT_EQ(write(v), R"({"n":3})");
}

}  // namespace
}  // namespace ipa::json
