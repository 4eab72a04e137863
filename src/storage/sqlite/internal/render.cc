#include "storage/sqlite/internal/render.h"

#include <limits>

namespace ipa::storage::sqlite::internal {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinInt = std::numeric_limits<int64_t>::min();
const std::string kMaxText = "\xf4\x8f\xbf\xbf";  // U+10FFFF: after every text

// Token codes compare case-insensitively: the store keeps code_ci lower-cased.
std::string lower(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

class Builder {
 public:
  std::string& sql() { return sql_; }
  std::vector<Bind>& binds() { return binds_; }
  Builder& add(const char* s) {
    sql_ += s;
    return *this;
  }
  Builder& bind(Bind b) {
    sql_ += '?';
    binds_.push_back(std::move(b));
    return *this;
  }

  // WHERE body for resources `alias` (a table with type and id columns).
  void where(const SearchPlan& plan, const std::string& alias);
  // " AND ..." tests of a composite's first component and its second (`c.value`) on the
  // idx_composite row `x`.
  void composite_match(const Condition& c);
  // " AND ..." tests of a kPosition condition on the idx_position row `x`: the bounding box,
  // then the exact great-circle test as a dot product of unit vectors.
  void position_match(const Condition& c);

 private:
  void clause(const Clause& c, const std::string& r);
  void condition(const Condition& c, const std::string& r);
  void range(const std::string& low_col, const std::string& high_col, Prefix p, Bind low, Bind high,
             Bind wlow, Bind whigh);
  // range() for a number or quantity [dlow, dhigh); `ap` is within 10 % of the value.
  void number_range(const std::string& low_col, const std::string& high_col, const Condition& v);
  void probe(const char* table, const std::string& r, const std::string& param);
  // " AND ..." test of a composite component's condition `v` on idx_composite row `x`.
  void composite_value(const Condition& v);

  std::string sql_;
  std::vector<Bind> binds_;
  int depth_ = 0;
};

const char* table_of(IndexKind k) {
  switch (k) {
    case IndexKind::kToken:
      return "idx_token";
    case IndexKind::kString:
      return "idx_string";
    case IndexKind::kDate:
      return "idx_date";
    case IndexKind::kReference:
      return "idx_ref";
    case IndexKind::kQuantity:
      return "idx_quantity";
    case IndexKind::kNumber:
      return "idx_number";
    case IndexKind::kUri:
      return "idx_uri";
    case IndexKind::kComposite:
      return "idx_composite";
    case IndexKind::kPosition:
      return "idx_position";
    case IndexKind::kId:
    case IndexKind::kLastUpdated:
      return nullptr;
  }
  return nullptr;
}

// Opens "EXISTS(SELECT 1 FROM <table> x WHERE x.type = r.type AND x.id = r.id AND x.param = ?"
void Builder::probe(const char* table, const std::string& r, const std::string& param) {
  // INDEXED BY pins the per-resource index: a probe checks one resource, and SQLite's planner
  // would otherwise sometimes walk every row with the value (quadratic at scale).
  sql_ += "EXISTS(SELECT 1 FROM ";
  sql_ += table;
  sql_ += " x INDEXED BY ";
  sql_ += table;
  sql_ += "_res WHERE x.type = " + r + ".type AND x.id = " + r + ".id AND x.param = ";
  bind(param);
}

// Range comparison of a stored [low, high) against the search value's [l, h)
// (FHIR R4 search.html#prefix). `wl`/`wh` are the widened bounds for `ap`.
void Builder::range(const std::string& L, const std::string& H, Prefix p, Bind l, Bind h, Bind wl,
                    Bind wh) {
  auto eq = [&] {
    sql_ += "(" + L + " >= ";
    bind(l);
    sql_ += " AND " + H + " <= ";
    bind(h);
    sql_ += ")";
  };
  switch (p) {
    case Prefix::kEq:
      eq();
      return;
    case Prefix::kNe:
      sql_ += "NOT ";
      eq();
      return;
    case Prefix::kGt:
      sql_ += H + " > ";
      bind(h);
      return;
    case Prefix::kLt:
      sql_ += L + " < ";
      bind(l);
      return;
    case Prefix::kGe:
      sql_ += "(" + H + " > ";
      bind(h);
      sql_ += " OR ";
      eq();
      sql_ += ")";
      return;
    case Prefix::kLe:
      sql_ += "(" + L + " < ";
      bind(l);
      sql_ += " OR ";
      eq();
      sql_ += ")";
      return;
    case Prefix::kSa:
      sql_ += L + " >= ";
      bind(h);
      return;
    case Prefix::kEb:
      sql_ += H + " <= ";
      bind(l);
      return;
    case Prefix::kAp:
      sql_ += "(" + L + " < ";
      bind(wh);
      sql_ += " AND " + H + " > ";
      bind(wl);
      sql_ += ")";
      return;
  }
}

void Builder::number_range(const std::string& L, const std::string& H, const Condition& v) {
  double mid = (v.dlow + v.dhigh) / 2;
  double w = (mid < 0 ? -mid : mid) / 10;
  range(L, H, v.prefix, v.dlow, v.dhigh, v.dlow - w, v.dhigh + w);
}

std::string escape_like(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

void Builder::composite_match(const Condition& c) {
  if (c.code) {
    sql_ += " AND x.code_ci = ";
    bind(lower(*c.code));
  }
  if (c.system) {
    sql_ += " AND x.system = ";
    bind(*c.system);
  }
  if (c.value != nullptr) composite_value(*c.value);
  if (c.value2 != nullptr) {
    // A third component, a number (FHIR R4 search.html#composite).
    sql_ += " AND ";
    number_range("x.v2_low", "x.v2_high", *c.value2);
  }
}

void Builder::composite_value(const Condition& v) {
  switch (v.kind) {
    case IndexKind::kToken:
      // The store keeps a token value's v_code lower-cased.
      if (v.code) {
        sql_ += " AND x.v_code = ";
        bind(lower(*v.code));
      }
      if (v.system) {
        sql_ += " AND x.v_system = ";
        bind(*v.system);
      }
      return;
    case IndexKind::kDate:
      sql_ += " AND ";
      range("x.v_ilow", "x.v_ihigh", v.prefix, v.low, v.high, v.low, v.high);
      return;
    case IndexKind::kNumber:
    case IndexKind::kQuantity: {
      sql_ += " AND ";
      number_range("x.v_low", "x.v_high", v);
      if (v.unit_system && !v.unit_system->empty()) {
        sql_ += " AND x.v_system = ";
        bind(*v.unit_system);
      }
      if (v.unit_code && !v.unit_code->empty()) {
        sql_ += " AND x.v_code = ";
        bind(*v.unit_code);
      }
      return;
    }
    case IndexKind::kString:
      // FHIR R4 search.html#string: starts-with on the folded text (no modifiers on composites).
      sql_ += " AND x.v_text >= ";
      bind(v.text);
      sql_ += " AND x.v_text < ";
      bind(v.text + kMaxText);
      return;
    case IndexKind::kUri:
      sql_ += " AND x.v_text = ";
      bind(v.text);
      return;
    case IndexKind::kReference:
      // As a plain reference: a local target by id (and type when known), else the url.
      if (!v.url.empty()) {
        sql_ += " AND x.v_text = ";
        bind(v.url);
        return;
      }
      sql_ += " AND x.v_code = ";
      bind(v.target_id);
      if (!v.target_type.empty()) {
        sql_ += " AND x.v_system = ";
        bind(v.target_type);
      }
      return;
    default:
      // The search module builds no other second component.
      sql_ += " AND 0";
      return;
  }
}

void Builder::position_match(const Condition& c) {
  sql_ += " AND x.lat >= ";
  bind(c.lat_min);
  sql_ += " AND x.lat <= ";
  bind(c.lat_max);
  if (c.lon_min > -180 || c.lon_max < 180) {
    sql_ += " AND x.lon >= ";
    bind(c.lon_min);
    sql_ += " AND x.lon <= ";
    bind(c.lon_max);
  }
  sql_ += " AND x.x * ";
  bind(c.x);
  sql_ += " + x.y * ";
  bind(c.y);
  sql_ += " + x.z * ";
  bind(c.z);
  sql_ += " >= ";
  bind(c.min_dot);
}

void Builder::condition(const Condition& c, const std::string& r) {
  if (c.missing) {
    if (c.kind == IndexKind::kId || c.kind == IndexKind::kLastUpdated) {
      sql_ += *c.missing ? "0" : "1";
      return;
    }
    if (*c.missing) sql_ += "NOT ";
    probe(table_of(c.kind), r, c.param);
    sql_ += ")";
    return;
  }
  switch (c.kind) {
    case IndexKind::kId:
      sql_ += r + ".id = ";
      bind(c.text);
      return;
    case IndexKind::kLastUpdated:
      // The stored instant is the range [t, t + 1 ms). For `ap` the search module already
      // widened [low, high) by 10 % of the distance from now.
      range(r + ".last_updated", "(" + r + ".last_updated + 1)", c.prefix, c.low, c.high, c.low,
            c.high);
      return;
    case IndexKind::kToken:
      probe("idx_token", r, c.param);
      if (c.text_search) {
        sql_ += " AND x.text LIKE ";
        bind("%" + escape_like(c.text) + "%");
        sql_ += " ESCAPE '\\'";
      } else {
        if (c.code) {
          sql_ += " AND x.code_ci = ";
          bind(lower(*c.code));
        }
        if (c.system) {
          sql_ += " AND x.system = ";
          bind(*c.system);
        }
      }
      sql_ += ")";
      return;
    case IndexKind::kString:
      probe("idx_string", r, c.param);
      if (c.string_mode == StringMode::kExact) {
        sql_ += " AND x.exact = ";
        bind(c.text);
      } else if (c.string_mode == StringMode::kContains) {
        sql_ += " AND x.norm LIKE ";
        bind("%" + escape_like(c.text) + "%");
        sql_ += " ESCAPE '\\'";
      } else {
        sql_ += " AND x.norm >= ";
        bind(c.text);
        sql_ += " AND x.norm < ";
        bind(c.text + kMaxText);
      }
      sql_ += ")";
      return;
    case IndexKind::kDate: {
      probe("idx_date", r, c.param);
      sql_ += " AND ";
      // `ap` was widened by the search module (10 % of the distance from now).
      range("x.low", "x.high", c.prefix, c.low, c.high, c.low, c.high);
      sql_ += ")";
      return;
    }
    case IndexKind::kNumber:
    case IndexKind::kQuantity: {
      probe(table_of(c.kind), r, c.param);
      sql_ += " AND ";
      number_range("x.low", "x.high", c);
      if (c.kind == IndexKind::kQuantity) {
        if (c.unit_system && !c.unit_system->empty()) {
          sql_ += " AND x.system = ";
          bind(*c.unit_system);
        }
        if (c.unit_code && !c.unit_code->empty()) {
          sql_ += " AND x.code = ";
          bind(*c.unit_code);
        }
      }
      sql_ += ")";
      return;
    }
    case IndexKind::kUri:
      probe("idx_uri", r, c.param);
      if (c.uri_mode == UriMode::kBelow) {
        sql_ += " AND x.uri >= ";
        bind(c.text);
        sql_ += " AND x.uri < ";
        bind(c.text + kMaxText);
      } else if (c.uri_mode == UriMode::kAbove) {
        sql_ += " AND ";
        bind(c.text);
        sql_ += " >= x.uri AND substr(";
        bind(c.text);
        sql_ += ", 1, length(x.uri)) = x.uri";
      } else {
        sql_ += " AND x.uri = ";
        bind(c.text);
      }
      sql_ += ")";
      return;
    case IndexKind::kComposite:
      // One row must hold both components (FHIR R4 search.html#composite).
      probe("idx_composite", r, c.param);
      composite_match(c);
      sql_ += ")";
      return;
    case IndexKind::kPosition:
      probe("idx_position", r, c.param);
      position_match(c);
      sql_ += ")";
      return;
    case IndexKind::kReference:
      probe("idx_ref", r, c.param);
      if (c.chain) {
        std::string r2 = "r" + std::to_string(++depth_);
        sql_ += " AND x.target_type = ";
        bind(c.chain->resource_type);
        sql_ += " AND x.target_id IN (SELECT " + r2 + ".id FROM resource " + r2 + " WHERE ";
        where(*c.chain, r2);
        sql_ += ")";
      } else if (!c.url.empty()) {
        sql_ += " AND x.url = ";
        bind(c.url);
      } else {
        sql_ += " AND x.target_id = ";
        bind(c.target_id);
        if (!c.target_type.empty()) {
          sql_ += " AND x.target_type = ";
          bind(c.target_type);
        }
      }
      sql_ += ")";
      return;
  }
}

void Builder::clause(const Clause& c, const std::string& r) {
  if (c.negate) sql_ += "NOT ";
  sql_ += "(";
  bool first = true;
  for (const Condition& cond : c.any_of) {
    if (!first) sql_ += " OR ";
    first = false;
    condition(cond, r);
  }
  if (first) sql_ += "0";
  sql_ += ")";
}

// Picks the clause that drives the query (turned into an IN (subquery) on an index that leads
// with its value), so a patient-bound search starts from that patient's rows, never a scan.
int driver_rank(const Clause& c) {
  if (c.negate || c.any_of.size() != 1) return 0;
  const Condition& d = c.any_of[0];
  if (d.missing || d.chain) return 0;
  switch (d.kind) {
    case IndexKind::kReference:
      return d.url.empty() ? 6 : 3;
    case IndexKind::kId:
      return 7;
    case IndexKind::kToken:
      return d.text_search || !d.code ? 0 : 5;
    case IndexKind::kString:
      return d.string_mode == StringMode::kContains ? 0 : 4;
    case IndexKind::kUri:
      return d.uri_mode == UriMode::kAbove ? 0 : 2;
    case IndexKind::kComposite:
      return d.code ? 5 : 0;
    case IndexKind::kPosition:
      return 3;
    default:
      return 0;
  }
}

void driver(Builder& b, const Condition& d, const std::string& type) {
  auto& s = b.sql();
  switch (d.kind) {
    case IndexKind::kReference:
      s += "r.id IN (SELECT x.id FROM idx_ref x WHERE ";
      if (d.url.empty()) {
        s += "x.target_id = ";
        b.bind(d.target_id);
        if (!d.target_type.empty()) {
          s += " AND x.target_type = ";
          b.bind(d.target_type);
        }
      } else {
        s += "x.url = ";
        b.bind(d.url);
      }
      s += " AND x.param = ";
      b.bind(d.param);
      s += " AND x.type = ";
      b.bind(type);
      s += ")";
      return;
    case IndexKind::kId:
      s += "r.id = ";
      b.bind(d.text);
      return;
    case IndexKind::kToken:
      s += "r.id IN (SELECT x.id FROM idx_token x INDEXED BY idx_token_value WHERE x.type = ";
      b.bind(type);
      s += " AND x.param = ";
      b.bind(d.param);
      s += " AND x.code_ci = ";
      b.bind(lower(*d.code));
      if (d.system) {
        s += " AND x.system = ";
        b.bind(*d.system);
      }
      s += ")";
      return;
    case IndexKind::kString:
      s += "r.id IN (SELECT x.id FROM idx_string x INDEXED BY idx_string_value WHERE x.type = ";
      b.bind(type);
      s += " AND x.param = ";
      b.bind(d.param);
      if (d.string_mode == StringMode::kExact) {
        s += " AND x.exact = ";
        b.bind(d.text);
      } else {
        s += " AND x.norm >= ";
        b.bind(d.text);
        s += " AND x.norm < ";
        b.bind(d.text + kMaxText);
      }
      s += ")";
      return;
    case IndexKind::kUri:
      s += "r.id IN (SELECT x.id FROM idx_uri x INDEXED BY idx_uri_value WHERE x.type = ";
      b.bind(type);
      s += " AND x.param = ";
      b.bind(d.param);
      if (d.uri_mode == UriMode::kBelow) {
        s += " AND x.uri >= ";
        b.bind(d.text);
        s += " AND x.uri < ";
        b.bind(d.text + kMaxText);
      } else {
        s += " AND x.uri = ";
        b.bind(d.text);
      }
      s += ")";
      return;
    case IndexKind::kComposite:
      s += "r.id IN (SELECT x.id FROM idx_composite x INDEXED BY idx_composite_value WHERE x.type "
           "= ";
      b.bind(type);
      s += " AND x.param = ";
      b.bind(d.param);
      b.composite_match(d);
      s += ")";
      return;
    case IndexKind::kPosition:
      s += "r.id IN (SELECT x.id FROM idx_position x INDEXED BY idx_position_value WHERE x.type = ";
      b.bind(type);
      s += " AND x.param = ";
      b.bind(d.param);
      b.position_match(d);
      s += ")";
      return;
    default:
      return;
  }
}

void Builder::where(const SearchPlan& plan, const std::string& r) {
  sql_ += r + ".type = ";
  bind(plan.resource_type);
  sql_ += " AND " + r + ".deleted = 0";
  // With a compartment the patient's own rows drive the query; only an _id or a reference
  // (also patient-bound) may drive instead. A token or string driver would first collect that
  // value across every patient (millions of ids at scale).
  int best = -1, best_rank = plan.compartment_patient ? 5 : 0;
  if (r == "r") {
    for (size_t i = 0; i < plan.all_of.size(); ++i) {
      int rank = driver_rank(plan.all_of[i]);
      if (rank > best_rank) {
        best_rank = rank;
        best = static_cast<int>(i);
      }
    }
  }
  // A query that itself names the compartment's patient (SearchPlan::routing_patient: one
  // reference to Patient/[id] on a parameter that implies membership, ANDed with the rest) can
  // only match resources in that compartment: the subquery would repeat the driver's work row
  // for row (about a tenth of a patient-bound Observation search's CPU time).
  const bool implied = plan.compartment_patient && plan.routing_patient &&
                       *plan.routing_patient == *plan.compartment_patient;
  if (plan.compartment_patient && !implied) {
    sql_ += " AND " + r + ".id IN (SELECT c.id FROM compartment c WHERE c.patient = ";
    bind(*plan.compartment_patient);
    sql_ += " AND c.type = ";
    bind(plan.resource_type);
    sql_ += ")";
  }
  if (best >= 0) {
    sql_ += " AND ";
    driver(*this, plan.all_of[static_cast<size_t>(best)].any_of[0], plan.resource_type);
  }
  for (size_t i = 0; i < plan.all_of.size(); ++i) {
    if (static_cast<int>(i) == best) continue;
    sql_ += " AND ";
    clause(plan.all_of[i], r);
  }
}

// The sort value of `key` for resource r, with missing values last.
void sort_expr(Builder& b, const SortKey& k) {
  auto& s = b.sql();
  bool desc = k.descending;
  switch (k.kind) {
    case IndexKind::kId:
      s += "r.id";
      return;
    case IndexKind::kLastUpdated:
      s += "r.last_updated";
      return;
    default:
      break;
  }
  const char* agg = desc ? "max" : "min";
  std::string col;
  switch (k.kind) {
    case IndexKind::kDate:
    case IndexKind::kNumber:
    case IndexKind::kQuantity:
      col = desc ? "x.high" : "x.low";
      break;
    case IndexKind::kString:
      col = "x.norm";
      break;
    case IndexKind::kToken:
      col = "x.code_ci";
      break;
    case IndexKind::kReference:
      col = "x.target_type || '/' || x.target_id || x.url";
      break;
    case IndexKind::kUri:
      col = "x.uri";
      break;
    default:
      col = "NULL";
  }
  s += "coalesce((SELECT ";
  s += agg;
  s += "(" + col + ") FROM ";
  s += table_of(k.kind);
  s += " x INDEXED BY ";
  s += table_of(k.kind);
  s += "_res WHERE x.type = r.type AND x.id = r.id AND x.param = ";
  b.bind(k.param);
  s += "), ";
  switch (sort_value_type(k)) {
    case SortValueType::kInteger:
      b.bind(desc ? kMinInt : kMaxInt);
      break;
    case SortValueType::kReal:
      b.bind(desc ? -std::numeric_limits<double>::max() : std::numeric_limits<double>::max());
      break;
    case SortValueType::kText:
      b.bind(desc ? std::string() : kMaxText);
      break;
  }
  s += ")";
}

Bind keyset_value(const SortKey& k, const std::string& v) {
  switch (sort_value_type(k)) {
    case SortValueType::kInteger: {
      try {
        return static_cast<int64_t>(std::stoll(v));
      } catch (...) {
        return int64_t{0};
      }
    }
    case SortValueType::kReal: {
      try {
        return std::stod(v);
      } catch (...) {
        return 0.0;
      }
    }
    case SortValueType::kText:
      return v;
  }
  return v;
}

}  // namespace

SortValueType sort_value_type(const SortKey& key) {
  switch (key.kind) {
    case IndexKind::kDate:
    case IndexKind::kLastUpdated:
      return SortValueType::kInteger;
    case IndexKind::kNumber:
    case IndexKind::kQuantity:
      return SortValueType::kReal;
    default:
      return SortValueType::kText;
  }
}

Sql render_page(const SearchPlan& plan) {
  Builder b;
  b.add("SELECT r.id, v.version_id, v.last_updated, v.json");
  for (size_t i = 0; i < plan.sort.size(); ++i) {
    b.add(", ");
    sort_expr(b, plan.sort[i]);
    b.sql() += " AS s" + std::to_string(i);
  }
  b.add(" FROM resource r JOIN version v ON v.seq = r.seq WHERE ");
  b.where(plan, "r");
  // A backward page (a previous link) walks the same order in reverse from the position; the
  // store turns its rows back into the plan's order.
  const bool back = plan.after && plan.after->before;
  if (plan.after) {
    // Lexicographic keyset: (s0, s1, ..., id) after (or, backward, before) the position, each
    // key in its own direction.
    b.add(" AND (");
    size_t n = plan.sort.size();
    for (size_t i = 0; i <= n; ++i) {
      if (i) b.add(" OR ");
      b.add("(");
      for (size_t j = 0; j < i; ++j) {
        b.sql() += "s" + std::to_string(j) + " = ";
        b.bind(keyset_value(plan.sort[j], plan.after->values[j]));
        b.add(" AND ");
      }
      if (i < n) {
        b.sql() += "s" + std::to_string(i) + (plan.sort[i].descending != back ? " < " : " > ");
        b.bind(keyset_value(plan.sort[i], plan.after->values[i]));
      } else {
        b.add(back ? "r.id < " : "r.id > ");
        b.bind(plan.after->id);
      }
      b.add(")");
    }
    b.add(")");
  }
  b.add(" ORDER BY ");
  for (size_t i = 0; i < plan.sort.size(); ++i) {
    b.sql() += "s" + std::to_string(i) + (plan.sort[i].descending != back ? " DESC, " : " ASC, ");
  }
  b.add(back ? "r.id DESC LIMIT " : "r.id ASC LIMIT ");
  b.bind(static_cast<int64_t>(plan.count) + 1);
  return Sql{std::move(b.sql()), std::move(b.binds())};
}

Sql render_count(const SearchPlan& plan) {
  Builder b;
  b.add("SELECT count(*) FROM resource r WHERE ");
  b.where(plan, "r");
  return Sql{std::move(b.sql()), std::move(b.binds())};
}

Sql render_ids(const SearchPlan& plan) {
  Builder b;
  b.add("SELECT r.id FROM resource r WHERE ");
  b.where(plan, "r");
  b.add(" LIMIT ");
  b.bind(static_cast<int64_t>(plan.count));
  return Sql{std::move(b.sql()), std::move(b.binds())};
}

}  // namespace ipa::storage::sqlite::internal
