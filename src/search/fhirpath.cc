#include "search/fhirpath.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace ipa::search {

// The operations of a compiled expression (named apart from other Op types of the module).
enum class FhirPathOp : uint8_t {
  kThis,      // $this: the focus
  kResource,  // %resource: the root resource
  kTypeRoot,  // a leading type name (`Observation`, `Resource`): the focus if it is of that type
  kMember,
  kUnion,
  kWhere,
  kExists,
  kEmpty,
  kNot,
  kFirst,
  kLast,
  kIndex,
  kOfType,
  kAs,
  kIs,
  kResolve,
  kExtension,
  kEqual,
  kNotEqual,
  kAnd,
  kOr,
  kLiteral,
  kEmptyLiteral,
};

struct FhirPath::Node {
  FhirPathOp op = FhirPathOp::kThis;
  std::string name;                      // element name or extension url
  const fhir::TypeInfo* type = nullptr;  // kTypeRoot, kOfType, kAs, kIs; literal type
  json::Value literal;
  size_t index = 0;
  std::unique_ptr<Node> source;  // evaluated on the focus to give the input; null: the focus
  std::unique_ptr<Node> lhs;     // criteria of where()/exists(); operands of binary operators
  std::unique_ptr<Node> rhs;
};

namespace {

using Op = FhirPathOp;
using Node = FhirPath::Node;
using Items = std::vector<FhirPathItem>;

const fhir::TypeInfo& boolean_type() {
  static const fhir::TypeInfo* const kType = fhir::find_type("boolean");
  return *kType;
}
const fhir::TypeInfo& resource_type() {
  static const fhir::TypeInfo* const kType = fhir::find_type("Resource");
  return *kType;
}
const fhir::TypeInfo& extension_type() {
  static const fhir::TypeInfo* const kType = fhir::find_type("Extension");
  return *kType;
}
const json::Value& true_value() {
  static const json::Value kValue = json::Value::boolean(true);
  return kValue;
}
const json::Value& false_value() {
  static const json::Value kValue = json::Value::boolean(false);
  return kValue;
}

FhirPathItem boolean_item(bool b) {
  return FhirPathItem{b ? &true_value() : &false_value(), &boolean_type()};
}

bool derives_from(const fhir::TypeInfo* t, const fhir::TypeInfo* base) {
  for (; t != nullptr; t = t->base) {
    if (t == base) return true;
  }
  return false;
}

// Returns the concrete type of a resource node, or null.
const fhir::TypeInfo* resource_type_of(const json::Value& node) {
  const std::string_view name = node.get_string("resourceType");
  if (name.empty() || !fhir::is_resource_type(name)) return nullptr;
  return fhir::find_type(name);
}

// Resolves a FHIRPath type specifier: FHIR types by name; System types (String, DateTime, ...)
// map to the FHIR primitive of the same name.
const fhir::TypeInfo* find_type_spec(std::string_view name) {
  if (name.starts_with("FHIR.")) name.remove_prefix(5);
  if (name.starts_with("System.")) name.remove_prefix(7);
  if (const fhir::TypeInfo* t = fhir::find_type(name)) return t;
  if (!name.empty() && name[0] >= 'A' && name[0] <= 'Z') {
    std::string lower(name);
    lower[0] = static_cast<char>(lower[0] - 'A' + 'a');
    const fhir::TypeInfo* t = fhir::find_type(lower);
    if (t != nullptr && t->is_primitive()) return t;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Parsing

enum class Tok { kEnd, kIdent, kString, kNumber, kSymbol };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
  size_t offset = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  core::Result<std::unique_ptr<Node>> parse() {
    IPA_RETURN_IF_ERROR(tokenize());
    auto node = parse_or();
    if (!node.ok()) return std::move(node).error();
    if (peek().kind != Tok::kEnd) return error("unexpected '" + peek().text + "'");
    return node;
  }

 private:
  core::Error error(const std::string& what) const {
    return core::bad_request(core::IssueType::kInvalid, "FHIRPath: " + what + " at offset " +
                                                            std::to_string(peek().offset) +
                                                            " in '" + std::string(text_) + "'");
  }

  core::Status tokenize() {
    size_t i = 0;
    while (i < text_.size()) {
      const char c = text_[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i;
        continue;
      }
      Token t;
      t.offset = i;
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$' || c == '%') {
        size_t j = i + 1;
        while (j < text_.size() &&
               (std::isalnum(static_cast<unsigned char>(text_[j])) || text_[j] == '_')) {
          ++j;
        }
        t.kind = Tok::kIdent;
        t.text = std::string(text_.substr(i, j - i));
        i = j;
      } else if (c == '`') {
        const size_t end = text_.find('`', i + 1);
        if (end == std::string_view::npos) return lex_error(i, "unterminated `identifier`");
        t.kind = Tok::kIdent;
        t.text = std::string(text_.substr(i + 1, end - i - 1));
        i = end + 1;
      } else if (c == '\'') {
        t.kind = Tok::kString;
        size_t j = i + 1;
        for (; j < text_.size() && text_[j] != '\''; ++j) {
          if (text_[j] == '\\' && j + 1 < text_.size()) {
            ++j;
            const char e = text_[j];
            t.text += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
          } else {
            t.text += text_[j];
          }
        }
        if (j >= text_.size()) return lex_error(i, "unterminated string");
        i = j + 1;
      } else if (c >= '0' && c <= '9') {
        size_t j = i;
        while (j < text_.size() && ((text_[j] >= '0' && text_[j] <= '9') || text_[j] == '.')) ++j;
        t.kind = Tok::kNumber;
        t.text = std::string(text_.substr(i, j - i));
        i = j;
      } else if (c == '!' && i + 1 < text_.size() && text_[i + 1] == '=') {
        t.kind = Tok::kSymbol;
        t.text = "!=";
        i += 2;
      } else if (std::string_view("().[]|=,{}").find(c) != std::string_view::npos) {
        t.kind = Tok::kSymbol;
        t.text = std::string(1, c);
        ++i;
      } else {
        return lex_error(i, std::string("unexpected character '") + c + "'");
      }
      tokens_.push_back(std::move(t));
    }
    tokens_.push_back(Token{Tok::kEnd, "", text_.size()});
    return {};
  }

  core::Error lex_error(size_t offset, const std::string& what) const {
    return core::bad_request(core::IssueType::kInvalid, "FHIRPath: " + what + " at offset " +
                                                            std::to_string(offset) + " in '" +
                                                            std::string(text_) + "'");
  }

  const Token& peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  bool is_symbol(std::string_view s, size_t ahead = 0) const {
    return peek(ahead).kind == Tok::kSymbol && peek(ahead).text == s;
  }
  bool is_keyword(std::string_view s) const {
    return peek().kind == Tok::kIdent && peek().text == s && !is_symbol("(", 1);
  }
  core::Status expect(std::string_view s) {
    if (!is_symbol(s)) return error("expected '" + std::string(s) + "'");
    ++pos_;
    return {};
  }

  static std::unique_ptr<Node> binary(Op op, std::unique_ptr<Node> l, std::unique_ptr<Node> r) {
    auto n = std::make_unique<Node>();
    n->op = op;
    n->lhs = std::move(l);
    n->rhs = std::move(r);
    return n;
  }

  core::Result<std::unique_ptr<Node>> parse_or() {
    auto l = parse_and();
    if (!l.ok()) return l;
    while (is_keyword("or")) {
      ++pos_;
      auto r = parse_and();
      if (!r.ok()) return r;
      l = binary(Op::kOr, std::move(*l), std::move(*r));
    }
    return l;
  }

  core::Result<std::unique_ptr<Node>> parse_and() {
    auto l = parse_equality();
    if (!l.ok()) return l;
    while (is_keyword("and")) {
      ++pos_;
      auto r = parse_equality();
      if (!r.ok()) return r;
      l = binary(Op::kAnd, std::move(*l), std::move(*r));
    }
    return l;
  }

  core::Result<std::unique_ptr<Node>> parse_equality() {
    auto l = parse_union();
    if (!l.ok()) return l;
    while (is_symbol("=") || is_symbol("!=")) {
      const Op op = is_symbol("=") ? Op::kEqual : Op::kNotEqual;
      ++pos_;
      auto r = parse_union();
      if (!r.ok()) return r;
      l = binary(op, std::move(*l), std::move(*r));
    }
    return l;
  }

  core::Result<std::unique_ptr<Node>> parse_union() {
    auto l = parse_type_expression();
    if (!l.ok()) return l;
    while (is_symbol("|")) {
      ++pos_;
      auto r = parse_type_expression();
      if (!r.ok()) return r;
      l = binary(Op::kUnion, std::move(*l), std::move(*r));
    }
    return l;
  }

  core::Result<const fhir::TypeInfo*> parse_type_spec() {
    if (peek().kind != Tok::kIdent) return error("expected a type name");
    std::string name = peek().text;
    ++pos_;
    while (is_symbol(".") && peek(1).kind == Tok::kIdent) {
      name += "." + peek(1).text;
      pos_ += 2;
    }
    const fhir::TypeInfo* t = find_type_spec(name);
    if (t == nullptr) return error("unknown type '" + name + "'");
    return t;
  }

  core::Result<std::unique_ptr<Node>> parse_type_expression() {
    auto l = parse_postfix();
    if (!l.ok()) return l;
    while (is_keyword("is") || is_keyword("as")) {
      const Op op = peek().text == "is" ? Op::kIs : Op::kAs;
      ++pos_;
      auto t = parse_type_spec();
      if (!t.ok()) return std::move(t).error();
      auto n = std::make_unique<Node>();
      n->op = op;
      n->type = *t;
      n->source = std::move(*l);
      l = std::move(n);
    }
    return l;
  }

  core::Result<std::unique_ptr<Node>> parse_postfix() {
    auto node = parse_term();
    if (!node.ok()) return node;
    while (true) {
      if (is_symbol(".")) {
        ++pos_;
        auto next = parse_invocation(std::move(*node), /*at_root=*/false);
        if (!next.ok()) return next;
        node = std::move(next);
      } else if (is_symbol("[")) {
        ++pos_;
        if (peek().kind != Tok::kNumber) return error("expected an integer index");
        size_t index = 0;
        const std::string& t = peek().text;
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), index);
        if (ec != std::errc() || ptr != t.data() + t.size()) return error("bad index");
        ++pos_;
        IPA_RETURN_IF_ERROR(expect("]"));
        auto n = std::make_unique<Node>();
        n->op = Op::kIndex;
        n->index = index;
        n->source = std::move(*node);
        node = std::move(n);
      } else {
        return node;
      }
    }
  }

  core::Result<std::unique_ptr<Node>> parse_term() {
    const Token& t = peek();
    if (is_symbol("(")) {
      ++pos_;
      auto inner = parse_or();
      if (!inner.ok()) return inner;
      IPA_RETURN_IF_ERROR(expect(")"));
      return inner;
    }
    if (is_symbol("{")) {
      ++pos_;
      IPA_RETURN_IF_ERROR(expect("}"));
      auto n = std::make_unique<Node>();
      n->op = Op::kEmptyLiteral;
      return n;
    }
    if (t.kind == Tok::kString) {
      auto n = std::make_unique<Node>();
      n->op = Op::kLiteral;
      n->literal = json::Value::string(t.text);
      n->type = fhir::find_type("string");
      ++pos_;
      return n;
    }
    if (t.kind == Tok::kNumber) {
      auto n = std::make_unique<Node>();
      n->op = Op::kLiteral;
      n->literal = json::Value::number_text(t.text);
      n->type = fhir::find_type(t.text.find('.') == std::string::npos ? "integer" : "decimal");
      ++pos_;
      return n;
    }
    if (t.kind == Tok::kIdent && (t.text == "true" || t.text == "false")) {
      auto n = std::make_unique<Node>();
      n->op = Op::kLiteral;
      n->literal = json::Value::boolean(t.text == "true");
      n->type = &boolean_type();
      ++pos_;
      return n;
    }
    if (t.kind == Tok::kIdent && t.text == "$this") {
      ++pos_;
      auto n = std::make_unique<Node>();
      n->op = Op::kThis;
      return n;
    }
    if (t.kind == Tok::kIdent && t.text == "%resource") {
      ++pos_;
      auto n = std::make_unique<Node>();
      n->op = Op::kResource;
      return n;
    }
    if (t.kind == Tok::kIdent && t.text[0] != '$' && t.text[0] != '%') {
      return parse_invocation(nullptr, /*at_root=*/true);
    }
    return error(t.kind == Tok::kEnd ? "unexpected end" : "unexpected '" + t.text + "'");
  }

  core::Result<std::unique_ptr<Node>> parse_invocation(std::unique_ptr<Node> source, bool at_root) {
    if (peek().kind != Tok::kIdent) return error("expected a name");
    const std::string name = peek().text;
    ++pos_;
    auto n = std::make_unique<Node>();
    n->source = std::move(source);
    if (!is_symbol("(")) {
      // A leading name that is a type is a type filter on the context (FHIRPath section 4.1:
      // "Patient.name" on a Patient); element names start in lower case.
      if (at_root && name[0] >= 'A' && name[0] <= 'Z') {
        const fhir::TypeInfo* t = fhir::find_type(name);
        if (t == nullptr) return error("unknown type '" + name + "'");
        n->op = Op::kTypeRoot;
        n->type = t;
        return n;
      }
      n->op = Op::kMember;
      n->name = name;
      return n;
    }
    ++pos_;  // (
    if (name == "where" || name == "exists") {
      n->op = name == "where" ? Op::kWhere : Op::kExists;
      if (!(name == "exists" && is_symbol(")"))) {
        auto criteria = parse_or();
        if (!criteria.ok()) return criteria;
        n->lhs = std::move(*criteria);
      }
    } else if (name == "ofType" || name == "as" || name == "is") {
      n->op = name == "ofType" ? Op::kOfType : name == "as" ? Op::kAs : Op::kIs;
      auto t = parse_type_spec();
      if (!t.ok()) return std::move(t).error();
      n->type = *t;
    } else if (name == "extension") {
      if (peek().kind != Tok::kString) return error("extension() takes a url string");
      n->op = Op::kExtension;
      n->name = peek().text;
      ++pos_;
    } else if (name == "empty" || name == "not" || name == "first" || name == "last" ||
               name == "resolve" || name == "hasValue") {
      n->op = name == "empty"     ? Op::kEmpty
              : name == "not"     ? Op::kNot
              : name == "first"   ? Op::kFirst
              : name == "last"    ? Op::kLast
              : name == "resolve" ? Op::kResolve
                                  : Op::kExists;
    } else {
      --pos_;
      return error("unsupported function '" + name + "'");
    }
    IPA_RETURN_IF_ERROR(expect(")"));
    return n;
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Evaluation

struct Context {
  const json::Value& resource;
  const fhir::TypeInfo* resource_type;
};

void push_child(const json::Value& child, const fhir::ElementInfo& element, Items& out) {
  const fhir::TypeInfo* type = element.type;
  auto push_one = [&](const json::Value& v) {
    if (v.is_null()) return;
    if (type->kind == fhir::TypeKind::kAbstract && type->is_resource()) {
      if (const fhir::TypeInfo* concrete = resource_type_of(v)) out.push_back({&v, concrete});
      return;
    }
    out.push_back({&v, type});
  };
  if (child.is_array()) {
    for (const json::Value& v : child.items()) push_one(v);
  } else {
    push_one(child);
  }
}

void navigate(const FhirPathItem& item, std::string_view name, Items& out) {
  const json::Value& node = *item.node;
  if (!node.is_object() || item.type->is_primitive()) return;
  if (const fhir::ElementInfo* element = item.type->find_element(name)) {
    if (const json::Value* child = node.find(name)) push_child(*child, *element, out);
    return;
  }
  // A choice element: Observation.effective is effectiveDateTime, effectivePeriod, ...
  for (const json::Member& m : node.members()) {
    const std::string& key = m.first;
    if (key.size() <= name.size() || !key.starts_with(name) || key[name.size()] < 'A' ||
        key[name.size()] > 'Z') {
      continue;
    }
    const fhir::ElementInfo* element = item.type->find_element(key);
    if (element != nullptr && element->choice_base == name) push_child(m.second, *element, out);
  }
}

// The target type of a reference text, from the text alone: "Patient/1" and absolute URLs by
// their last two segments (after any "_history/v"), "#id" by the contained resource.
const fhir::TypeInfo* reference_target(std::string_view ref, const Context& ctx) {
  if (ref.empty()) return nullptr;
  if (ref[0] == '#') {
    const json::Value* contained = ctx.resource.find("contained");
    if (contained == nullptr || !contained->is_array()) return nullptr;
    for (const json::Value& c : contained->items()) {
      if (c.get_string("id") == ref.substr(1)) return resource_type_of(c);
    }
    return nullptr;
  }
  if (const size_t h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
  const size_t q = ref.find_first_of("?#");
  if (q != std::string_view::npos) ref = ref.substr(0, q);
  const size_t last = ref.rfind('/');
  if (last == std::string_view::npos || last == 0) return nullptr;
  const size_t before = ref.rfind('/', last - 1);
  const std::string_view type = before == std::string_view::npos
                                    ? ref.substr(0, last)
                                    : ref.substr(before + 1, last - before - 1);
  if (!fhir::is_resource_type(type)) return nullptr;
  return fhir::find_type(type);
}

std::optional<bool> as_boolean(const Items& items) {
  if (items.size() != 1) return std::nullopt;
  const json::Value& v = *items[0].node;
  if (v.is_bool()) return v.as_bool();
  return true;  // FHIRPath singleton evaluation: a single non-boolean item is true
}

double number_value(const json::Value& v) {
  double d = 0;
  std::from_chars(v.text().data(), v.text().data() + v.text().size(), d);
  return d;
}

bool values_equal(const json::Value& a, const json::Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::Kind::kString:
      return a.text() == b.text();
    case json::Kind::kBool:
      return a.as_bool() == b.as_bool();
    case json::Kind::kNumber:
      return a.text() == b.text() || number_value(a) == number_value(b);
    default:
      return a == b;
  }
}

// FHIRPath `=`: empty when either side is empty. Deliberate deviation: when exactly one side has
// several items, the result is whether any equals the other side, so that
// `where(type.coding.code = 'x')` matches a CodeableConcept with several codings.
std::optional<bool> equal(const Items& l, const Items& r) {
  if (l.empty() || r.empty()) return std::nullopt;
  if (l.size() == 1 || r.size() == 1) {
    const Items& many = l.size() == 1 ? r : l;
    const json::Value& one = l.size() == 1 ? *l[0].node : *r[0].node;
    for (const FhirPathItem& i : many) {
      if (values_equal(*i.node, one)) return true;
    }
    return false;
  }
  if (l.size() != r.size()) return false;
  for (size_t i = 0; i < l.size(); ++i) {
    if (!values_equal(*l[i].node, *r[i].node)) return false;
  }
  return true;
}

void eval(const Node& n, const Items& focus, const Context& ctx, Items& out);

Items eval_to(const Node& n, const Items& focus, const Context& ctx) {
  Items out;
  eval(n, focus, ctx, out);
  return out;
}

// The input of a node: its source evaluated on the focus, or the focus itself.
const Items& input_of(const Node& n, const Items& focus, const Context& ctx, Items& storage) {
  if (n.source == nullptr) return focus;
  eval(*n.source, focus, ctx, storage);
  return storage;
}

void eval(const Node& n, const Items& focus, const Context& ctx, Items& out) {
  switch (n.op) {
    case Op::kThis:
      out.insert(out.end(), focus.begin(), focus.end());
      return;
    case Op::kResource:
      if (ctx.resource_type != nullptr) out.push_back({&ctx.resource, ctx.resource_type});
      return;
    case Op::kLiteral:
      out.push_back({&n.literal, n.type});
      return;
    case Op::kEmptyLiteral:
      return;
    case Op::kUnion: {
      const size_t start = out.size();
      eval(*n.lhs, focus, ctx, out);
      const size_t middle = out.size();
      Items right = eval_to(*n.rhs, focus, ctx);
      for (const FhirPathItem& r : right) {
        const bool seen = std::any_of(out.begin() + static_cast<std::ptrdiff_t>(start),
                                      out.begin() + static_cast<std::ptrdiff_t>(middle),
                                      [&](const FhirPathItem& l) { return l.node == r.node; });
        if (!seen) out.push_back(r);
      }
      return;
    }
    case Op::kEqual:
    case Op::kNotEqual: {
      const std::optional<bool> eq =
          equal(eval_to(*n.lhs, focus, ctx), eval_to(*n.rhs, focus, ctx));
      if (eq) out.push_back(boolean_item(n.op == Op::kEqual ? *eq : !*eq));
      return;
    }
    case Op::kAnd:
    case Op::kOr: {
      const std::optional<bool> l = as_boolean(eval_to(*n.lhs, focus, ctx));
      const bool is_and = n.op == Op::kAnd;
      if (l && *l != is_and) {  // false and x = false; true or x = true
        out.push_back(boolean_item(*l));
        return;
      }
      const std::optional<bool> r = as_boolean(eval_to(*n.rhs, focus, ctx));
      if (r && *r != is_and) {
        out.push_back(boolean_item(*r));
      } else if (l && r) {
        out.push_back(boolean_item(is_and));
      }
      return;
    }
    default:
      break;
  }

  Items storage;
  const Items& in = input_of(n, focus, ctx, storage);
  switch (n.op) {
    case Op::kTypeRoot:
    case Op::kOfType:
      for (const FhirPathItem& i : in) {
        if (derives_from(i.type, n.type)) out.push_back(i);
      }
      return;
    case Op::kAs:
      if (in.size() == 1 && derives_from(in[0].type, n.type)) out.push_back(in[0]);
      return;
    case Op::kIs:
      if (in.size() == 1) out.push_back(boolean_item(derives_from(in[0].type, n.type)));
      return;
    case Op::kMember:
      for (const FhirPathItem& i : in) navigate(i, n.name, out);
      return;
    case Op::kWhere: {
      Items single(1);
      for (const FhirPathItem& i : in) {
        single[0] = i;
        const std::optional<bool> keep = as_boolean(eval_to(*n.lhs, single, ctx));
        if (keep && *keep) out.push_back(i);
      }
      return;
    }
    case Op::kExists: {
      if (n.lhs == nullptr) {
        out.push_back(boolean_item(!in.empty()));
        return;
      }
      Items single(1);
      for (const FhirPathItem& i : in) {
        single[0] = i;
        const std::optional<bool> match = as_boolean(eval_to(*n.lhs, single, ctx));
        if (match && *match) {
          out.push_back(boolean_item(true));
          return;
        }
      }
      out.push_back(boolean_item(false));
      return;
    }
    case Op::kEmpty:
      out.push_back(boolean_item(in.empty()));
      return;
    case Op::kNot:
      if (const std::optional<bool> b = as_boolean(in)) out.push_back(boolean_item(!*b));
      return;
    case Op::kFirst:
      if (!in.empty()) out.push_back(in.front());
      return;
    case Op::kLast:
      if (!in.empty()) out.push_back(in.back());
      return;
    case Op::kIndex:
      if (n.index < in.size()) out.push_back(in[n.index]);
      return;
    case Op::kResolve:
      for (const FhirPathItem& i : in) {
        const json::Value& v = *i.node;
        const std::string_view ref =
            v.is_string() ? std::string_view(v.text()) : v.get_string("reference");
        if (const fhir::TypeInfo* t = reference_target(ref, ctx)) out.push_back({&v, t});
      }
      return;
    case Op::kExtension:
      for (const FhirPathItem& i : in) {
        const json::Value* extensions = i.node->find("extension");
        if (extensions == nullptr || !extensions->is_array()) continue;
        for (const json::Value& e : extensions->items()) {
          if (e.get_string("url") == n.name) out.push_back({&e, &extension_type()});
        }
      }
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Static typing

using Types = std::vector<const fhir::TypeInfo*>;

void add_type(Types& types, const fhir::TypeInfo* t) {
  if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
}

core::Error type_error(const std::string& what) {
  return core::bad_request(core::IssueType::kInvalid, what);
}

// Keeps the types that are `target` or derive from it; an abstract type (Resource) narrows to
// `target` when `target` derives from it.
Types filter_types(const Types& in, const fhir::TypeInfo* target) {
  Types out;
  for (const fhir::TypeInfo* t : in) {
    if (derives_from(t, target)) {
      add_type(out, t);
    } else if (derives_from(target, t)) {
      add_type(out, target);
    }
  }
  return out;
}

core::Result<Types> infer(const Node& n, const Types& focus) {
  const Types boolean{&boolean_type()};
  switch (n.op) {
    case Op::kThis:
      return focus;
    case Op::kResource:
      return Types{&resource_type()};
    case Op::kLiteral:
      return Types{n.type};
    case Op::kEmptyLiteral:
      return Types{};
    case Op::kUnion: {
      auto l = infer(*n.lhs, focus);
      if (!l.ok()) return l;
      auto r = infer(*n.rhs, focus);
      if (!r.ok()) return r;
      for (const fhir::TypeInfo* t : *r) add_type(*l, t);
      return l;
    }
    case Op::kEqual:
    case Op::kNotEqual:
    case Op::kAnd:
    case Op::kOr: {
      auto l = infer(*n.lhs, focus);
      if (!l.ok()) return l;
      auto r = infer(*n.rhs, focus);
      if (!r.ok()) return r;
      return boolean;
    }
    default:
      break;
  }
  Types in = focus;
  if (n.source != nullptr) {
    auto s = infer(*n.source, focus);
    if (!s.ok()) return s;
    in = std::move(*s);
  }
  switch (n.op) {
    case Op::kTypeRoot:
    case Op::kOfType:
    case Op::kAs: {
      Types out = filter_types(in, n.type);
      if (out.empty() && !in.empty()) {
        return type_error("the value is never of type " + std::string(n.type->name));
      }
      return out;
    }
    case Op::kMember: {
      Types out;
      bool found = false;
      for (const fhir::TypeInfo* t : in) {
        if (const fhir::ElementInfo* e = t->find_element(n.name)) {
          found = true;
          add_type(out, e->type);
          continue;
        }
        for (const fhir::ElementInfo& e : t->elements) {
          if (e.choice_base == n.name) {
            found = true;
            add_type(out, e.type);
          }
        }
      }
      if (!found && !in.empty()) {
        std::string names;
        for (const fhir::TypeInfo* t : in)
          names += (names.empty() ? "" : ", ") + std::string(t->name);
        return type_error("no element '" + n.name + "' on " + names);
      }
      return out;
    }
    case Op::kWhere:
    case Op::kExists: {
      if (n.lhs != nullptr) {
        for (const fhir::TypeInfo* t : in) {
          auto c = infer(*n.lhs, Types{t});
          if (!c.ok()) return c;
        }
      }
      return n.op == Op::kWhere ? in : boolean;
    }
    case Op::kIs:
    case Op::kEmpty:
    case Op::kNot:
      return boolean;
    case Op::kFirst:
    case Op::kLast:
    case Op::kIndex:
      return in;
    case Op::kResolve:
      return Types{&resource_type()};
    case Op::kExtension:
      return Types{&extension_type()};
    default:
      return type_error("unsupported operation");
  }
}

// The compile cache: expressions are few (the R4 search parameters and a handful more), so
// entries are never evicted.
struct Cache {
  std::shared_mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<const FhirPath>> compiled;
};

Cache& cache() {
  static Cache* const kCache = new Cache();
  return *kCache;
}

}  // namespace

FhirPath::FhirPath(std::string expression, std::unique_ptr<Node> root)
    : expression_(std::move(expression)), root_(std::move(root)) {}

FhirPath::~FhirPath() = default;

core::Result<std::shared_ptr<const FhirPath>> FhirPath::compile(std::string_view expression) {
  Cache& c = cache();
  const std::string key(expression);
  {
    std::shared_lock lock(c.mutex);
    if (auto it = c.compiled.find(key); it != c.compiled.end()) return it->second;
  }
  auto root = Parser(expression).parse();
  if (!root.ok()) return std::move(root).error();
  auto compiled = std::make_shared<const FhirPath>(key, std::move(*root));
  std::unique_lock lock(c.mutex);
  auto [it, inserted] = c.compiled.emplace(key, std::move(compiled));
  return it->second;
}

std::vector<FhirPathItem> FhirPath::evaluate(const json::Value& resource) const {
  const fhir::TypeInfo* type = resource_type_of(resource);
  if (type == nullptr) return {};
  return evaluate(resource, FhirPathItem{&resource, type});
}

std::vector<FhirPathItem> FhirPath::evaluate(const json::Value& resource,
                                             const FhirPathItem& focus) const {
  const Context ctx{resource, resource_type_of(resource)};
  const Items in{focus};
  Items out;
  eval(*root_, in, ctx, out);
  return out;
}

core::Result<std::vector<const fhir::TypeInfo*>> FhirPath::result_types(
    const fhir::TypeInfo& context) const {
  return infer(*root_, Types{&context});
}

}  // namespace ipa::search
