// A JSON value that keeps FHIR's meaning: numbers keep their source text (1.50 stays 1.50),
// objects keep member order, strings are UTF-8. parse() rejects duplicate keys, invalid UTF-8
// and nesting deeper than a bound. write() emits compact or pretty JSON. Values are plain data:
// safe to share read-only between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace ipa::json {

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Object = std::vector<Member>;  // in source order; keys are unique after parse()

enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

class Value {
 public:
  Value() = default;  // null
  static Value null() { return Value(); }
  static Value boolean(bool b);
  // `text` must be a valid JSON number; it is kept verbatim.
  static Value number_text(std::string text);
  static Value number(int64_t n);
  static Value string(std::string s);
  static Value array(Array items = {});
  static Value object(Object members = {});

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }

  bool as_bool() const { return bool_; }
  // For strings: the string; for numbers: the source text.
  const std::string& text() const { return text_; }
  // The number as an integer, if it is one that fits.
  std::optional<int64_t> as_int() const;
  const Array& items() const { return array_; }
  Array& items() { return array_; }
  const Object& members() const { return object_; }
  Object& members() { return object_; }

  // Object access. find() returns nullptr when absent or when this is not an object.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // Returns the string member `key`, or empty when absent or not a string.
  std::string_view get_string(std::string_view key) const;
  // Sets `key` (replacing an existing member in place, else appending).
  void set(std::string_view key, Value v);
  // Removes `key`; returns whether it was present.
  bool erase(std::string_view key);
  // Appends to an array.
  void push_back(Value v) { array_.push_back(std::move(v)); }

  bool operator==(const Value& other) const;

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  std::string text_;
  Array array_;
  Object object_;
};

struct ParseOptions {
  size_t max_depth = 64;
};

// Parses exactly one JSON text. Errors (400, IssueType structure) name the problem and its byte
// offset: syntax, duplicate key, invalid UTF-8, too deep, trailing content.
core::Result<Value> parse(std::string_view text, const ParseOptions& options = {});

struct WriteOptions {
  bool pretty = false;
};

// Serializes `v`. Numbers are written as their text; strings escaped per RFC 8259.
std::string write(const Value& v, const WriteOptions& options = {});
void write_to(std::string& out, const Value& v, const WriteOptions& options = {});

// Appends `s` as a quoted, escaped JSON string.
void write_string(std::string& out, std::string_view s);

}  // namespace ipa::json
