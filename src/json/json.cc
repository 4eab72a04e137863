#include "json/json.h"

#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <unordered_set>

namespace ipa::json {

// ---- Value -------------------------------------------------------------------------------

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.bool_ = b;
  return v;
}

Value Value::number_text(std::string text) {
  Value v;
  v.kind_ = Kind::kNumber;
  v.text_ = std::move(text);
  return v;
}

Value Value::number(int64_t n) { return number_text(std::to_string(n)); }

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.text_ = std::move(s);
  return v;
}

Value Value::array(Array items) {
  Value v;
  v.kind_ = Kind::kArray;
  v.array_ = std::move(items);
  return v;
}

Value Value::object(Object members) {
  Value v;
  v.kind_ = Kind::kObject;
  v.object_ = std::move(members);
  return v;
}

std::optional<int64_t> Value::as_int() const {
  if (kind_ != Kind::kNumber) return std::nullopt;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), out);
  if (ec != std::errc() || ptr != text_.data() + text_.size()) return std::nullopt;
  return out;
}

const Value* Value::find(std::string_view key) const {
  if (kind_ != Kind::kObject) return nullptr;
  for (const auto& m : object_) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

Value* Value::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->find(key));
}

std::string_view Value::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr || !v->is_string()) return {};
  return v->text_;
}

void Value::set(std::string_view key, Value v) {
  if (kind_ != Kind::kObject) {
    *this = object();
  }
  if (Value* existing = find(key)) {
    *existing = std::move(v);
    return;
  }
  object_.emplace_back(std::string(key), std::move(v));
}

bool Value::erase(std::string_view key) {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (it->first == key) {
      object_.erase(it);
      return true;
    }
  }
  return false;
}

bool Value::operator==(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return bool_ == other.bool_;
    case Kind::kNumber:
    case Kind::kString:
      return text_ == other.text_;
    case Kind::kArray:
      return array_ == other.array_;
    case Kind::kObject:
      return object_ == other.object_;
  }
  return false;
}

// ---- Parser ------------------------------------------------------------------------------

namespace {

enum class ParseFailure { kNone, kDuplicateKey };

struct Frame {
  Value container;
  std::string key;
  std::unordered_set<std::string> keys;  // only used for large objects
};

// SAX handler for boost::json::basic_parser: builds a Value, keeping number text verbatim.
class Builder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  using ec_t = boost::system::error_code;
  using sv = boost::json::string_view;

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_array_begin(ec_t&) {
    stack_.push_back(Frame{Value::array(), {}, {}});
    return true;
  }
  bool on_array_end(std::size_t, ec_t&) { return close(); }
  bool on_object_begin(ec_t&) {
    stack_.push_back(Frame{Value::object(), {}, {}});
    return true;
  }
  bool on_object_end(std::size_t, ec_t&) { return close(); }
  bool on_string_part(sv s, std::size_t, ec_t&) {
    buf_.append(s.data(), s.size());
    return true;
  }
  bool on_string(sv s, std::size_t, ec_t&) {
    buf_.append(s.data(), s.size());
    bool ok = add(Value::string(std::move(buf_)));
    buf_.clear();
    return ok;
  }
  bool on_key_part(sv s, std::size_t, ec_t&) {
    buf_.append(s.data(), s.size());
    return true;
  }
  bool on_key(sv s, std::size_t, ec_t& ec) {
    buf_.append(s.data(), s.size());
    Frame& top = stack_.back();
    Object& members = top.container.members();
    bool duplicate = false;
    if (members.size() < 16) {
      for (const auto& m : members) {
        if (m.first == buf_) duplicate = true;
      }
    } else {
      if (top.keys.empty()) {
        for (const auto& m : members) top.keys.insert(m.first);
      }
      duplicate = top.keys.count(buf_) > 0;
    }
    if (duplicate) {
      failure_ = ParseFailure::kDuplicateKey;
      failed_key_ = buf_;
      ec = boost::json::error::syntax;
      return false;
    }
    top.key = std::move(buf_);
    buf_.clear();
    return true;
  }
  bool on_number_part(sv s, ec_t&) {
    buf_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(int64_t, sv s, ec_t&) { return number(s); }
  bool on_uint64(uint64_t, sv s, ec_t&) { return number(s); }
  bool on_double(double, sv s, ec_t&) { return number(s); }
  bool on_bool(bool b, ec_t&) { return add(Value::boolean(b)); }
  bool on_null(ec_t&) { return add(Value::null()); }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }

  Value take_root() { return std::move(root_); }
  ParseFailure failure() const { return failure_; }
  const std::string& failed_key() const { return failed_key_; }

 private:
  bool number(sv s) {
    buf_.append(s.data(), s.size());
    bool ok = add(Value::number_text(std::move(buf_)));
    buf_.clear();
    return ok;
  }
  bool close() {
    Value v = std::move(stack_.back().container);
    stack_.pop_back();
    return add(std::move(v));
  }
  bool add(Value v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    Frame& top = stack_.back();
    if (top.container.is_array()) {
      top.container.push_back(std::move(v));
    } else {
      Object& members = top.container.members();
      members.emplace_back(std::move(top.key), std::move(v));
      if (!top.keys.empty()) top.keys.insert(members.back().first);
      top.key.clear();
    }
    return true;
  }

  std::vector<Frame> stack_;
  std::string buf_;
  Value root_;
  ParseFailure failure_ = ParseFailure::kNone;
  std::string failed_key_;
};

}  // namespace

core::Result<Value> parse(std::string_view text, const ParseOptions& options) {
  boost::json::parse_options opt;
  opt.max_depth = options.max_depth;
  opt.allow_comments = false;
  opt.allow_trailing_commas = false;
  opt.allow_invalid_utf8 = false;
  boost::json::basic_parser<Builder> parser(opt);
  boost::system::error_code ec;
  std::size_t n = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) {
    ec = boost::json::error::extra_data;
  }
  if (ec) {
    std::string why;
    if (parser.handler().failure() == ParseFailure::kDuplicateKey) {
      why = "duplicate key \"" + parser.handler().failed_key() + "\"";
    } else if (ec == boost::json::error::too_deep) {
      why = "nesting deeper than " + std::to_string(options.max_depth) + " levels";
    } else if (ec == boost::json::error::syntax && text.empty()) {
      why = "empty body";
    } else {
      why = ec.message();
    }
    return core::bad_request(core::IssueType::kStructure,
                             "Invalid JSON at byte " + std::to_string(n) + ": " + why);
  }
  return parser.handler().take_root();
}

// ---- Writer ------------------------------------------------------------------------------

void write_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

namespace {

void newline(std::string& out, int depth) {
  out.push_back('\n');
  out.append(static_cast<size_t>(depth) * 2, ' ');
}

void write_value(std::string& out, const Value& v, bool pretty, int depth) {
  switch (v.kind()) {
    case Kind::kNull:
      out.append("null");
      return;
    case Kind::kBool:
      out.append(v.as_bool() ? "true" : "false");
      return;
    case Kind::kNumber:
      out.append(v.text());
      return;
    case Kind::kString:
      write_string(out, v.text());
      return;
    case Kind::kArray: {
      out.push_back('[');
      bool first = true;
      for (const Value& item : v.items()) {
        if (!first) out.push_back(',');
        first = false;
        if (pretty) newline(out, depth + 1);
        write_value(out, item, pretty, depth + 1);
      }
      if (pretty && !v.items().empty()) newline(out, depth);
      out.push_back(']');
      return;
    }
    case Kind::kObject: {
      out.push_back('{');
      bool first = true;
      for (const Member& m : v.members()) {
        if (!first) out.push_back(',');
        first = false;
        if (pretty) newline(out, depth + 1);
        write_string(out, m.first);
        out.append(pretty ? ": " : ":");
        write_value(out, m.second, pretty, depth + 1);
      }
      if (pretty && !v.members().empty()) newline(out, depth);
      out.push_back('}');
      return;
    }
  }
}

}  // namespace

void write_to(std::string& out, const Value& v, const WriteOptions& options) {
  write_value(out, v, options.pretty, 0);
}

std::string write(const Value& v, const WriteOptions& options) {
  std::string out;
  write_to(out, v, options);
  return out;
}

}  // namespace ipa::json
