// Walks a resource's JSON alongside the R4 model tables. The current FHIRPath is one string that
// grows and shrinks as the walk descends, so a valid resource costs no allocation beyond it.
#include "fhir/validate.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <cassert>
#include <charconv>
#include <string>
#include <utility>

#include "fhir/internal/r4_tables.h"
#include "fhir/model.h"

namespace ipa::fhir {
namespace {

using core::IssueType;

// ---------------------------------------------------------------------------------------------
// Character helpers.

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Reads `n` digits at `pos` into `out`; advances `pos`.
bool digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!is_digit(c)) return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// Date part: YYYY, YYYY-MM or YYYY-MM-DD. Sets `full` when the day is present.
bool parse_date(std::string_view s, size_t& pos, bool& full) {
  int year = 0;
  int month = 0;
  int day = 0;
  full = false;
  if (!digits(s, pos, 4, year) || year == 0) return false;
  if (pos == s.size() || s[pos] != '-') return true;
  ++pos;
  if (!digits(s, pos, 2, month) || month < 1 || month > 12) return false;
  if (pos == s.size() || s[pos] != '-') return true;
  ++pos;
  if (!digits(s, pos, 2, day) || day < 1 || day > days_in_month(year, month)) return false;
  full = true;
  return true;
}

// hh:mm:ss(.f+)?
bool parse_time(std::string_view s, size_t& pos) {
  int h = 0;
  int m = 0;
  int sec = 0;
  if (!digits(s, pos, 2, h) || h > 23 || !expect(s, pos, ':')) return false;
  if (!digits(s, pos, 2, m) || m > 59 || !expect(s, pos, ':')) return false;
  if (!digits(s, pos, 2, sec) || sec > 60) return false;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < s.size() && is_digit(s[pos])) ++pos;
    if (pos == start) return false;
  }
  return true;
}

// Z | (+|-)hh:mm with hh:mm in 00:00..13:59 or 14:00.
bool parse_zone(std::string_view s, size_t& pos) {
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
    return true;
  }
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return false;
  ++pos;
  int h = 0;
  int m = 0;
  if (!digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, m)) return false;
  return (h <= 13 && m <= 59) || (h == 14 && m == 0);
}

}  // namespace

bool is_valid_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '.';
  });
}

bool is_valid_date(std::string_view s) {
  size_t pos = 0;
  bool full = false;
  return parse_date(s, pos, full) && pos == s.size();
}

bool is_valid_date_time(std::string_view s) {
  size_t pos = 0;
  bool full = false;
  if (!parse_date(s, pos, full)) return false;
  if (pos == s.size()) return true;
  // A time needs a full date and a zone (datatypes.html#dateTime).
  return full && expect(s, pos, 'T') && parse_time(s, pos) && parse_zone(s, pos) && pos == s.size();
}

bool is_valid_instant(std::string_view s) {
  size_t pos = 0;
  bool full = false;
  return parse_date(s, pos, full) && full && expect(s, pos, 'T') && parse_time(s, pos) &&
         parse_zone(s, pos) && pos == s.size();
}

bool is_valid_time(std::string_view s) {
  size_t pos = 0;
  return parse_time(s, pos) && pos == s.size();
}

// [^\s]+(\s[^\s]+)*
bool is_valid_code(std::string_view s) {
  if (s.empty() || is_space(s.front()) || is_space(s.back())) return false;
  for (size_t i = 1; i < s.size(); ++i) {
    if (is_space(s[i]) && is_space(s[i - 1])) return false;
  }
  return true;
}

// \S*, and ele-1 makes it non-empty.
bool is_valid_uri(std::string_view s) {
  return !s.empty() && std::none_of(s.begin(), s.end(), is_space);
}

// urn:oid:[0-2](\.(0|[1-9][0-9]*))+
bool is_valid_oid(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:oid:";
  if (!s.starts_with(kPrefix)) return false;
  s.remove_prefix(kPrefix.size());
  if (s.size() < 3 || s[0] < '0' || s[0] > '2') return false;
  size_t pos = 1;
  int arcs = 0;
  while (pos < s.size()) {
    if (s[pos] != '.') return false;
    ++pos;
    size_t start = pos;
    while (pos < s.size() && is_digit(s[pos])) ++pos;
    if (pos == start || (s[start] == '0' && pos - start > 1)) return false;
    ++arcs;
  }
  return arcs > 0;
}

// urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
bool is_valid_uuid(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:uuid:";
  if (!s.starts_with(kPrefix)) return false;
  s.remove_prefix(kPrefix.size());
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = s[i];
    if (dash ? c != '-' : !(is_digit(c) || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Base64 (RFC 4648 section 4) with whitespace allowed between characters.
bool is_valid_base64(std::string_view s) {
  size_t count = 0;
  size_t padding = 0;
  for (char c : s) {
    if (is_space(c)) continue;
    if (c == '=') {
      ++padding;
    } else if (padding > 0) {
      return false;  // data after padding
    } else if (!(is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '+' ||
                 c == '/')) {
      return false;
    }
    ++count;
  }
  return count > 0 && count % 4 == 0 && padding <= 2;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Narrative (FHIR R4 narrative.html, invariants txt-1 and txt-2).

constexpr std::string_view kXhtmlNamespace = "http://www.w3.org/1999/xhtml";

// txt-1: the elements and attributes the R4 narrative allows.
constexpr std::array<std::string_view, 49> kNarrativeElements = {
    "a",    "abbr", "acronym",  "b",      "big", "blockquote", "br",    "caption", "cite",
    "code", "col",  "colgroup", "dd",     "dfn", "div",        "dl",    "dt",      "em",
    "h1",   "h2",   "h3",       "h4",     "h5",  "h6",         "hr",    "i",       "img",
    "li",   "ol",   "p",        "pre",    "q",   "samp",       "small", "span",    "strong",
    "sub",  "sup",  "table",    "tbody",  "td",  "tfoot",      "th",    "thead",   "tr",
    "tt",   "ul",   "var",      "address"};
constexpr std::array<std::string_view, 52> kNarrativeAttributes = {
    "abbr",       "accesskey",   "align",       "alt",        "axis",   "bgcolor", "border",
    "cellhalign", "cellpadding", "cellspacing", "cellvalign", "char",   "charoff", "charset",
    "cite",       "class",       "colspan",     "compact",    "coords", "dir",     "frame",
    "headers",    "height",      "href",        "hreflang",   "hspace", "id",      "lang",
    "longdesc",   "name",        "nowrap",      "rel",        "rev",    "rowspan", "rules",
    "scope",      "shape",       "span",        "src",        "start",  "style",   "summary",
    "tabindex",   "title",       "type",        "valign",     "value",  "vspace",  "width",
    "xmlns",      "xml:lang",    "xml:space"};

template <size_t N>
bool in_list(const std::array<std::string_view, N>& list, std::string_view name) {
  return std::any_of(list.begin(), list.end(), [name](std::string_view x) { return x == name; });
}

// Lower-cased attribute value with numeric character references decoded and whitespace and
// control characters dropped, enough to see a "javascript:" scheme however it is spelled.
std::string normalized_url(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size() && out.size() < 16; ++i) {
    char c = v[i];
    if (c == '&' && i + 2 < v.size() && v[i + 1] == '#') {
      size_t j = i + 2;
      bool hex = j < v.size() && (v[j] == 'x' || v[j] == 'X');
      if (hex) ++j;
      uint32_t code = 0;
      auto [end, ec] = std::from_chars(v.data() + j, v.data() + v.size(), code, hex ? 16 : 10);
      if (ec == std::errc()) {
        i = static_cast<size_t>(end - v.data());
        if (i >= v.size() || v[i] != ';') --i;
        c = code < 128 ? static_cast<char>(code) : '?';
      }
    }
    if (static_cast<unsigned char>(c) <= ' ') continue;
    out.push_back(lower(c));
  }
  return out;
}

// Returns an empty string when `div` is acceptable narrative, else why it is not.
std::string check_narrative(std::string_view div) {
  size_t pos = 0;
  while (pos < div.size() && is_space(div[pos])) ++pos;
  if (!div.substr(pos).starts_with("<div")) {
    return "Narrative div must start with <div xmlns=\"http://www.w3.org/1999/xhtml\"> (txt-1)";
  }
  std::vector<std::string_view> open;  // element stack; well-formed XML is required
  bool has_content = false;
  bool root_closed = false;
  while (pos < div.size()) {
    char c = div[pos];
    if (c != '<') {
      if (root_closed && !is_space(c)) return "Narrative has content after the root div (txt-1)";
      if (!is_space(c)) has_content = true;
      ++pos;
      continue;
    }
    if (root_closed) return "Narrative has content after the root div (txt-1)";
    if (div.substr(pos).starts_with("<!--")) {
      size_t end = div.find("-->", pos + 4);
      if (end == std::string_view::npos) return "Narrative has an unterminated comment (txt-1)";
      pos = end + 3;
      continue;
    }
    if (pos + 1 < div.size() && (div[pos + 1] == '!' || div[pos + 1] == '?')) {
      return "Narrative must not contain declarations or processing instructions (txt-1)";
    }
    bool closing = pos + 1 < div.size() && div[pos + 1] == '/';
    size_t name_start = pos + (closing ? 2 : 1);
    size_t p = name_start;
    while (p < div.size() && !is_space(div[p]) && div[p] != '>' && div[p] != '/') ++p;
    std::string_view name = div.substr(name_start, p - name_start);
    if (name.empty()) return "Narrative is not well-formed XHTML (txt-1)";
    std::string lname;
    for (char ch : name) lname.push_back(lower(ch));
    for (std::string_view bad : {"script", "iframe", "object", "embed", "form", "style", "base",
                                 "link", "meta", "applet", "frame", "input", "button"}) {
      if (lname == bad) {
        return "Narrative must not contain <" + lname + "> elements (txt-1)";
      }
    }
    if (!in_list(kNarrativeElements, name)) {
      return "Narrative element <" + std::string(name) + "> is not allowed (txt-1)";
    }
    if (closing) {
      while (p < div.size() && is_space(div[p])) ++p;
      if (p >= div.size() || div[p] != '>' || open.empty() || open.back() != name) {
        return "Narrative is not well-formed XHTML: unexpected </" + std::string(name) +
               "> (txt-1)";
      }
      open.pop_back();
      pos = p + 1;
      if (open.empty()) root_closed = true;
      continue;
    }
    bool root = open.empty();
    if (root && name != "div") return "Narrative root element must be a div (txt-1)";
    bool has_namespace = false;
    bool self_closing = false;
    // Attributes.
    while (true) {
      while (p < div.size() && is_space(div[p])) ++p;
      if (p >= div.size()) return "Narrative is not well-formed XHTML (txt-1)";
      if (div[p] == '>') {
        ++p;
        break;
      }
      if (div[p] == '/' && p + 1 < div.size() && div[p + 1] == '>') {
        self_closing = true;
        p += 2;
        break;
      }
      size_t a = p;
      while (p < div.size() && !is_space(div[p]) && div[p] != '=' && div[p] != '>' &&
             div[p] != '/') {
        ++p;
      }
      std::string_view attr = div.substr(a, p - a);
      if (attr.empty()) return "Narrative is not well-formed XHTML (txt-1)";
      while (p < div.size() && is_space(div[p])) ++p;
      if (p >= div.size() || div[p] != '=') {
        return "Narrative is not well-formed XHTML: attribute without value (txt-1)";
      }
      ++p;
      while (p < div.size() && is_space(div[p])) ++p;
      if (p >= div.size() || (div[p] != '"' && div[p] != '\'')) {
        return "Narrative is not well-formed XHTML: unquoted attribute (txt-1)";
      }
      char quote = div[p];
      size_t end = div.find(quote, p + 1);
      if (end == std::string_view::npos) return "Narrative is not well-formed XHTML (txt-1)";
      std::string_view value = div.substr(p + 1, end - p - 1);
      p = end + 1;
      if (attr.size() > 2 && iequals(attr.substr(0, 2), "on")) {
        return "Narrative must not contain event handler attributes such as " + std::string(attr) +
               " (txt-1)";
      }
      if (!in_list(kNarrativeAttributes, attr) && !attr.starts_with("xmlns:")) {
        return "Narrative attribute " + std::string(attr) + " is not allowed (txt-1)";
      }
      std::string url = normalized_url(value);
      if (url.starts_with("javascript:") || url.starts_with("vbscript:")) {
        return "Narrative must not contain javascript: URLs (txt-1)";
      }
      if (attr == "xmlns" && value == kXhtmlNamespace) has_namespace = true;
      if (name == "img") has_content = true;
    }
    if (root && !has_namespace) {
      return "Narrative div must declare xmlns=\"http://www.w3.org/1999/xhtml\" (txt-1)";
    }
    if (!self_closing) {
      open.push_back(name);
    } else if (root) {
      root_closed = true;
    }
    pos = p;
  }
  if (!open.empty() || !root_closed) return "Narrative is not well-formed XHTML (txt-1)";
  if (!has_content) return "Narrative must have some non-whitespace content (txt-2)";
  return {};
}

// ---------------------------------------------------------------------------------------------
// The walk.

constexpr size_t kMaxElements = 256;  // a presence bit per element of a type

class Validator {
 public:
  explicit Validator(const ValidateOptions& options) : options_(options) { path_.reserve(128); }

  std::vector<core::Error> take_issues() {
    // 400s first: the first issue decides the response status.
    std::stable_partition(issues_.begin(), issues_.end(),
                          [](const core::Error& e) { return e.http_status == 400; });
    return std::move(issues_);
  }

  // Validates `v` as a resource; `expected` may be empty.
  void resource(const json::Value& v, std::string_view expected, bool in_contained) {
    if (!v.is_object()) {
      structure("A resource must be a JSON object");
      return;
    }
    const json::Value* rt = v.find("resourceType");
    if (rt == nullptr || !rt->is_string()) {
      structure(rt == nullptr ? "The resource has no resourceType"
                              : "resourceType must be a JSON string");
      return;
    }
    const std::string& type_name = rt->text();
    const TypeInfo* type = find_type(type_name);
    if (type == nullptr || type->kind != TypeKind::kResource) {
      add(core::bad_request(IssueType::kInvalid, "Unknown resourceType '" + clip(type_name) + "'"));
      return;
    }
    if (!expected.empty() && type_name != expected) {
      add(core::bad_request(IssueType::kInvalid, "resourceType '" + type_name +
                                                     "' does not match the expected type '" +
                                                     std::string(expected) + "'"));
      return;
    }
    bool root = path_.empty();
    if (root) path_ = type_name;
    bool saved = in_contained_;
    in_contained_ = in_contained;
    object(v, *type, true);
    in_contained_ = saved;
    if (root) path_.clear();
  }

 private:
  // Appends ".name" or "[i]" to the path for the life of the scope.
  class Push {
   public:
    Push(std::string& path, std::string_view name) : path_(path), size_(path.size()) {
      path_.push_back('.');
      path_.append(name);
    }
    Push(std::string& path, size_t index) : path_(path), size_(path.size()) {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), index);
      path_.push_back('[');
      path_.append(buf, end);
      path_.push_back(']');
    }
    ~Push() { path_.resize(size_); }
    Push(const Push&) = delete;
    Push& operator=(const Push&) = delete;

   private:
    std::string& path_;
    size_t size_;
  };

  static std::string clip(std::string_view s) {
    constexpr size_t kMax = 64;
    if (s.size() <= kMax) return std::string(s);
    return std::string(s.substr(0, kMax)) + "...";
  }

  bool full() const { return issues_.size() >= options_.max_issues; }
  void add(core::Error e) {
    if (full()) return;
    e.expression = path_;
    issues_.push_back(std::move(e));
  }
  void structure(std::string diagnostics) {
    add(core::bad_request(IssueType::kStructure, std::move(diagnostics)));
  }
  void model(IssueType type, std::string diagnostics) {
    add(core::unprocessable(type, std::move(diagnostics)));
  }

  // Validates the members of `obj` against `type`.
  void object(const json::Value& obj, const TypeInfo& type, bool resource_root) {
    if (full()) return;
    if (depth_ >= options_.max_depth) {
      add(core::bad_request(IssueType::kTooLong, "The content is nested too deeply"));
      return;
    }
    ++depth_;
    if (obj.members().empty()) {
      model(IssueType::kInvariant, "An object must not be empty (ele-1)");
    }
    std::bitset<kMaxElements> present;
    // Choice groups seen in this object: (choice_base, json name).
    std::array<std::pair<std::string_view, std::string_view>, 16> choices{};
    size_t choice_count = 0;

    for (const json::Member& m : obj.members()) {
      if (full()) break;
      std::string_view key = m.first;
      if (resource_root && key == "resourceType") continue;
      bool underscore = !key.empty() && key[0] == '_';
      std::string_view name = underscore ? key.substr(1) : key;
      const ElementInfo* el = type.find_element(name);
      if (el == nullptr || (underscore && !el->type->is_primitive())) {
        Push push(path_, key);
        structure("Unknown element '" + clip(key) + "'");
        continue;
      }
      size_t index = static_cast<size_t>(el - type.elements.data());
      if (index < kMaxElements) present.set(index);
      if (el->is_choice()) {
        bool clash = false;
        for (size_t i = 0; i < choice_count; ++i) {
          if (choices[i].first == el->choice_base && choices[i].second != el->name) {
            Push push(path_, key);
            structure("Only one of " + std::string(choices[i].second) + " and " +
                      std::string(el->name) + " may be present (" + std::string(el->choice_base) +
                      "[x])");
            clash = true;
            break;
          }
        }
        if (!clash && choice_count < choices.size()) {
          choices[choice_count++] = {el->choice_base, el->name};
        }
      }
      if (underscore) {
        primitive_extension(obj, name, m.second, *el);
      } else {
        element(obj, name, m.second, *el);
      }
    }
    if (!full()) required(obj, type, present);
    --depth_;
  }

  // Min cardinality of `type`'s elements in `obj` (FHIR R4 elementdefinition.html#min-max).
  void required(const json::Value& obj, const TypeInfo& type,
                const std::bitset<kMaxElements>& present) {
    for (size_t i = 0; i < type.elements.size(); ++i) {
      const ElementInfo& el = type.elements[i];
      if (el.min == 0) continue;
      bool found = i < kMaxElements && present.test(i);
      if (el.is_choice()) {
        // A choice group is checked once, at its first variant; any variant satisfies it.
        bool seen_before = false;
        for (size_t j = 0; j < i && !seen_before; ++j) {
          seen_before = type.elements[j].choice_base == el.choice_base;
        }
        if (seen_before) continue;
        for (size_t j = i + 1; j < type.elements.size() && !found; ++j) {
          found =
              type.elements[j].choice_base == el.choice_base && j < kMaxElements && present.test(j);
        }
      }
      std::string_view name = el.is_choice() ? el.choice_base : el.name;
      if (!found) {
        Push push(path_, name);
        model(IssueType::kRequired, "Missing required element '" + std::string(name) +
                                        (el.is_choice() ? "[x]" : "") + "' (min " +
                                        std::to_string(el.min) + ")");
        continue;
      }
      if (el.min > 1 && !el.is_choice()) {
        const json::Value* v = obj.find(el.name);
        if (v != nullptr && v->is_array() && v->items().size() < static_cast<size_t>(el.min)) {
          Push push(path_, name);
          model(IssueType::kRequired,
                "'" + std::string(name) + "' needs at least " + std::to_string(el.min) + " items");
        }
      }
    }
  }

  // `value` is the JSON of element `el` named `name` in `obj`.
  void element(const json::Value& obj, std::string_view name, const json::Value& value,
               const ElementInfo& el) {
    Push push(path_, name);
    if (el.max == 0) {
      model(IssueType::kStructure, "Element '" + std::string(name) + "' is not allowed here");
      return;
    }
    if (in_contained_ && el.name == "contained" && el.type->is_resource()) {
      model(IssueType::kInvariant, "A contained resource must not contain resources (dom-2)");
      return;
    }
    if (!el.is_array) {
      if (value.is_array()) {
        structure("Element '" + std::string(name) + "' has at most one value: not an array");
        return;
      }
      if (value.is_null()) {
        structure("null is not allowed here (json.html#nulls)");
        return;
      }
      single(value, el);
      return;
    }
    if (!value.is_array()) {
      structure("Element '" + std::string(name) + "' repeats: it must be a JSON array");
      return;
    }
    const json::Array& items = value.items();
    if (items.empty()) {
      model(IssueType::kInvariant, "An array must not be empty (ele-1)");
      return;
    }
    if (items.size() > options_.max_array_items) {
      add(core::bad_request(IssueType::kTooLong, "The array has too many items"));
      return;
    }
    if (el.max != kUnbounded && items.size() > static_cast<size_t>(el.max)) {
      model(IssueType::kStructure, "Element '" + std::string(name) + "' allows at most " +
                                       std::to_string(el.max) + " items");
    }
    const json::Value* extension_array = nullptr;
    if (el.type->is_primitive()) {
      std::string key;
      key.reserve(name.size() + 1);
      key.push_back('_');
      key.append(name);
      extension_array = obj.find(key);
      if (extension_array != nullptr && !extension_array->is_array()) extension_array = nullptr;
    }
    for (size_t i = 0; i < items.size() && !full(); ++i) {
      Push at(path_, i);
      if (items[i].is_null()) {
        // json.html#primitive: a null keeps the arrays aligned when only `_name` has content.
        bool covered = el.type->is_primitive() && extension_array != nullptr &&
                       i < extension_array->items().size() &&
                       !extension_array->items()[i].is_null();
        if (!covered) structure("null is not allowed here (json.html#nulls)");
        continue;
      }
      if (items[i].is_array()) {
        structure("Nested arrays are not allowed");
        continue;
      }
      single(items[i], el);
    }
  }

  // `_name`: the id and extensions of primitive element `el`.
  void primitive_extension(const json::Value& obj, std::string_view name, const json::Value& value,
                           const ElementInfo& el) {
    Push push(path_, name);
    if (!el.is_array) {
      if (!value.is_object()) {
        structure("'_" + std::string(name) + "' must be a JSON object with id or extension");
        return;
      }
      object(value, *el.type, false);
      return;
    }
    if (!value.is_array()) {
      structure("'_" + std::string(name) + "' must be a JSON array aligned with '" +
                std::string(name) + "'");
      return;
    }
    const json::Value* values = obj.find(name);
    if (values != nullptr && values->is_array() && values->items().size() != value.items().size()) {
      structure("'_" + std::string(name) + "' must have as many items as '" + std::string(name) +
                "'");
      return;
    }
    if (value.items().empty()) {
      model(IssueType::kInvariant, "An array must not be empty (ele-1)");
      return;
    }
    for (size_t i = 0; i < value.items().size() && !full(); ++i) {
      const json::Value& item = value.items()[i];
      Push at(path_, i);
      if (item.is_null()) {
        bool covered = values != nullptr && values->is_array() && i < values->items().size() &&
                       !values->items()[i].is_null();
        if (!covered) structure("null is not allowed here (json.html#nulls)");
        continue;
      }
      if (!item.is_object()) {
        structure("'_" + std::string(name) + "' items must be JSON objects or null");
        continue;
      }
      object(item, *el.type, false);
    }
  }

  // One value of element `el` (not null, not an array).
  void single(const json::Value& v, const ElementInfo& el) {
    const TypeInfo& type = *el.type;
    if (type.is_primitive()) {
      primitive(v, type.primitive, el);
      return;
    }
    if (type.is_resource()) {
      resource(v, {}, in_contained_ || el.name == "contained");
      return;
    }
    if (!v.is_object()) {
      structure("Element of type " + std::string(type.name) + " must be a JSON object");
      return;
    }
    object(v, type, false);
    if (el.binding != nullptr && el.binding->enumerable()) coded(v, type, *el.binding);
  }

  // Required bindings on Coding and CodeableConcept: codes of the bound systems must be listed.
  void coded(const json::Value& v, const TypeInfo& type, const RequiredBinding& binding) {
    auto check = [&](const json::Value& coding) {
      std::string_view system = coding.get_string("system");
      const json::Value* code = coding.find("code");
      if (code == nullptr || !code->is_string()) return;
      bool bound = std::find(binding.systems.begin(), binding.systems.end(), system) !=
                   binding.systems.end();
      if (bound && !binding.contains(code->text())) {
        Push push(path_, "code");
        model(IssueType::kValue, "Code '" + clip(code->text()) + "' is not in the value set " +
                                     std::string(binding.value_set));
      }
    };
    if (type.name == "Coding") {
      check(v);
    } else if (type.name == "CodeableConcept") {
      const json::Value* codings = v.find("coding");
      if (codings == nullptr || !codings->is_array()) return;
      for (size_t i = 0; i < codings->items().size(); ++i) {
        if (!codings->items()[i].is_object()) continue;
        Push a(path_, "coding");
        Push b(path_, i);
        check(codings->items()[i]);
      }
    }
  }

  void primitive(const json::Value& v, PrimitiveKind kind, const ElementInfo& el) {
    switch (kind) {
      case PrimitiveKind::kBoolean:
        if (!v.is_bool()) structure("A boolean must be a JSON true or false");
        return;
      case PrimitiveKind::kDecimal:
        // The JSON parser accepts only valid numbers, and their syntax is R4's decimal regex.
        if (!v.is_number()) structure("A decimal must be a JSON number");
        return;
      case PrimitiveKind::kInteger:
      case PrimitiveKind::kUnsignedInt:
      case PrimitiveKind::kPositiveInt:
        integer(v, kind);
        return;
      default:
        break;
    }
    if (!v.is_string()) {
      structure(std::string("A value of type ") + std::string(primitive_name(kind)) +
                " must be a JSON string");
      return;
    }
    const std::string& s = v.text();
    if (s.empty()) {
      model(IssueType::kInvariant, "A string must not be empty (ele-1)");
      return;
    }
    if (kind != PrimitiveKind::kBase64Binary && s.size() > options_.max_string_bytes) {
      add(core::bad_request(IssueType::kTooLong, "The string is too long"));
      return;
    }
    if (kind != PrimitiveKind::kXhtml) {
      for (char c : s) {
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          model(IssueType::kValue, "The string contains control characters");
          return;
        }
      }
    }
    auto bad = [&](std::string_view what) {
      model(IssueType::kValue, "'" + clip(s) + "' is not a valid " + std::string(what));
    };
    switch (kind) {
      case PrimitiveKind::kId:
        if (!is_valid_id(s)) bad("id ([A-Za-z0-9\\-\\.]{1,64})");
        break;
      case PrimitiveKind::kDate:
        if (!is_valid_date(s)) bad("date");
        break;
      case PrimitiveKind::kDateTime:
        if (!is_valid_date_time(s)) bad("dateTime");
        break;
      case PrimitiveKind::kInstant:
        if (!is_valid_instant(s)) bad("instant");
        break;
      case PrimitiveKind::kTime:
        if (!is_valid_time(s)) bad("time");
        break;
      case PrimitiveKind::kCode:
        if (!is_valid_code(s)) {
          bad("code");
        } else if (el.binding != nullptr && el.binding->enumerable() && !el.binding->contains(s)) {
          model(IssueType::kValue, "Code '" + clip(s) + "' is not in the required value set " +
                                       std::string(el.binding->value_set));
        }
        break;
      case PrimitiveKind::kUri:
      case PrimitiveKind::kUrl:
      case PrimitiveKind::kCanonical:
        if (!is_valid_uri(s)) bad(primitive_name(kind));
        break;
      case PrimitiveKind::kOid:
        if (!is_valid_oid(s)) bad("oid");
        break;
      case PrimitiveKind::kUuid:
        if (!is_valid_uuid(s)) bad("uuid");
        break;
      case PrimitiveKind::kBase64Binary:
        if (!is_valid_base64(s)) bad("base64Binary");
        break;
      case PrimitiveKind::kXhtml: {
        std::string why = check_narrative(s);
        if (!why.empty()) model(IssueType::kInvariant, std::move(why));
        break;
      }
      default:  // string, markdown: any non-empty text without control characters
        break;
    }
  }

  void integer(const json::Value& v, PrimitiveKind kind) {
    if (!v.is_number()) {
      structure(std::string("A value of type ") + std::string(primitive_name(kind)) +
                " must be a JSON number");
      return;
    }
    const std::string& s = v.text();
    if (s.find_first_of(".eE") != std::string::npos) {
      model(IssueType::kValue, "'" + clip(s) + "' is not an integer");
      return;
    }
    int64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    bool in_range =
        ec == std::errc() && end == s.data() + s.size() && n <= 2147483647 && n >= -2147483648LL;
    if (in_range && kind == PrimitiveKind::kUnsignedInt) in_range = n >= 0;
    if (in_range && kind == PrimitiveKind::kPositiveInt) in_range = n >= 1;
    if (!in_range) {
      model(IssueType::kValue,
            "'" + clip(s) + "' is out of range for " + std::string(primitive_name(kind)));
    }
  }

  const ValidateOptions& options_;
  std::vector<core::Error> issues_;
  std::string path_;
  size_t depth_ = 0;
  bool in_contained_ = false;
};

}  // namespace

std::vector<core::Error> validate(const json::Value& resource, std::string_view expected_type,
                                  const ValidateOptions& options) {
  // The presence bitset in Validator::object holds one bit per element of a type.
  assert(internal::kMaxElementsPerType <= kMaxElements);
  Validator v(options);
  v.resource(resource, expected_type, false);
  return v.take_issues();
}

core::Status validate_resource(const json::Value& resource, std::string_view expected_type,
                               const ValidateOptions& options) {
  std::vector<core::Error> issues = validate(resource, expected_type, options);
  if (issues.empty()) return {};
  return std::move(issues.front());
}

}  // namespace ipa::fhir
