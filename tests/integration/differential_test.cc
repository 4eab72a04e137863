// Differential test of FHIR R4 search: random Patients and Observations are written through the
// REST API, random queries are sent, and the ids the server returns (in order under _sort, over
// every next link) are compared with a brute-force evaluator in this file, which applies the
// FHIR R4 search.html rules to the values the test itself generated; it never calls server code.
// Seed: IPA_DIFF_SEED; iterations: IPA_DIFF_ITERATIONS. See differential.md. Single-threaded
// except for the writer thread of the paging-under-writes test.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace ipa::testing {
namespace {

constexpr uint64_t kDefaultSeed = 20240611;
constexpr int kDefaultIterations = 3000;
constexpr int kMaxReportedFailures = 100;

// ---------------------------------------------------------------------------------------------
// Random numbers: splitmix64 (Steele, Lea, Flood 2014), so a seed replays the same run anywhere.

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi].
  int64_t range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool chance(int percent) { return range(0, 99) < percent; }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(range(0, static_cast<int64_t>(v.size()) - 1))];
  }

 private:
  uint64_t state_;
};

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

// ---------------------------------------------------------------------------------------------
// Text. Names use ASCII and the letters below only, so the test folds them itself: FHIR R4
// search.html#string matches case- and accent-insensitively (Müller = MULLER, ß = ss, Ł = l).

struct Letter {
  const char* lower;
  const char* upper;
  const char* ascii;
};

constexpr Letter kLetters[] = {
    {"ü", "Ü", "u"}, {"ö", "Ö", "o"},   {"ä", "Ä", "a"}, {"é", "É", "e"}, {"è", "È", "e"},
    {"á", "Á", "a"}, {"í", "Í", "i"},   {"ñ", "Ñ", "n"}, {"ç", "Ç", "c"}, {"ë", "Ë", "e"},
    {"ó", "Ó", "o"}, {"ú", "Ú", "u"},   {"å", "Å", "a"}, {"ø", "Ø", "o"}, {"æ", "Æ", "ae"},
    {"ł", "Ł", "l"}, {"ß", "SS", "ss"},
};

// Splits into letters: one ASCII byte or one two-byte UTF-8 sequence.
std::vector<std::string> glyphs(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = (static_cast<unsigned char>(s[i]) & 0x80) ? 2 : 1;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string ascii_lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string ascii_upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

std::string fold(const std::string& s) {
  std::string out;
  for (const std::string& g : glyphs(s)) {
    if (g.size() == 1) {
      out += ascii_lower(g);
      continue;
    }
    bool known = false;
    for (const Letter& l : kLetters) {
      if (g == l.lower || g == l.upper) {
        out += l.ascii;
        known = true;
        break;
      }
    }
    EXPECT_TRUE(known) << "the test folds only its own letters: " << g;
  }
  return out;
}

// The same letter in another case or without its accent: all fold alike.
std::string vary(const std::string& g, SplitMix64& rng) {
  if (g.size() == 1) return rng.chance(50) ? ascii_upper(g) : ascii_lower(g);
  for (const Letter& l : kLetters) {
    if (g == l.lower || g == l.upper) {
      switch (rng.range(0, 3)) {
        case 0:
          return l.lower;
        case 1:
          return l.upper;
        case 2:
          return l.ascii;
        default:
          return ascii_upper(l.ascii);
      }
    }
  }
  return g;
}

std::string vary_all(const std::vector<std::string>& gs, size_t from, size_t to, SplitMix64& rng) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += vary(gs[i], rng);
  return out;
}

// Percent-encodes a query value; ',' and '|' stay literal as the separators they are.
std::string url_encode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ',' || c == '|' ||
        c == ':' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string json_string(const std::string& s) {
  std::string out;
  json::write_string(out, s);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Dates: a FHIR date or dateTime stands for the range [low, high) its precision implies, in ms
// since the epoch (FHIR R4 search.html#date). Dates without a zone are taken as UTC.

constexpr int64_t kMsPerDay = 86'400'000;
constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

// Days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level date algorithms").
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int& y, int& m, int& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
}

struct Range {
  int64_t low = 0;
  int64_t high = 0;
};

enum class Precision { kYear, kMonth, kDay, kSecond, kMilli };

struct DateValue {
  std::string text;
  Range range;
};

std::string pad(int64_t v, int width) {
  std::string s = std::to_string(v);
  while (static_cast<int>(s.size()) < width) s.insert(s.begin(), '0');
  return s;
}

// The instant `t` (ms, UTC) written at precision `p`; times carry the zone `offset` (minutes).
DateValue make_date(int64_t t, Precision p, int offset) {
  int64_t days = t >= 0 ? t / kMsPerDay : -((-t + kMsPerDay - 1) / kMsPerDay);
  int y = 0, m = 0, d = 0;
  civil_from_days(days, y, m, d);
  DateValue out;
  switch (p) {
    case Precision::kYear:
      out.text = pad(y, 4);
      out.range = {days_from_civil(y, 1, 1) * kMsPerDay, days_from_civil(y + 1, 1, 1) * kMsPerDay};
      return out;
    case Precision::kMonth:
      out.text = pad(y, 4) + "-" + pad(m, 2);
      out.range = {days_from_civil(y, m, 1) * kMsPerDay,
                   days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * kMsPerDay};
      return out;
    case Precision::kDay:
      out.text = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2);
      out.range = {days * kMsPerDay, (days + 1) * kMsPerDay};
      return out;
    case Precision::kSecond:
    case Precision::kMilli: {
      if (p == Precision::kSecond) t -= ((t % 1000) + 1000) % 1000;
      int64_t local = t + int64_t{offset} * 60'000;
      int64_t ldays = local >= 0 ? local / kMsPerDay : -((-local + kMsPerDay - 1) / kMsPerDay);
      int64_t ms_of_day = local - ldays * kMsPerDay;
      civil_from_days(ldays, y, m, d);
      out.text = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T" +
                 pad(ms_of_day / 3'600'000, 2) + ":" + pad(ms_of_day / 60'000 % 60, 2) + ":" +
                 pad(ms_of_day / 1000 % 60, 2);
      if (p == Precision::kMilli) out.text += "." + pad(ms_of_day % 1000, 3);
      if (offset == 0) {
        out.text += "Z";
      } else {
        int a = offset < 0 ? -offset : offset;
        out.text += std::string(offset < 0 ? "-" : "+") + pad(a / 60, 2) + ":" + pad(a % 60, 2);
      }
      out.range = {t, t + (p == Precision::kSecond ? 1000 : 1)};
      return out;
    }
  }
  return out;
}

const std::vector<int> kOffsets = {0, 60, 120, -300, 330, -480, 840, -660, 545};

int64_t random_instant(SplitMix64& rng, int from_year, int to_year) {
  int64_t lo = days_from_civil(from_year, 1, 1) * kMsPerDay;
  int64_t hi = days_from_civil(to_year + 1, 1, 1) * kMsPerDay - 1;
  return rng.range(lo, hi);
}

Precision random_precision(SplitMix64& rng, bool date_only) {
  int n = static_cast<int>(rng.range(0, date_only ? 2 : 4));
  return static_cast<Precision>(n);
}

// ---------------------------------------------------------------------------------------------
// Decimals: a FHIR decimal stands for the range its precision implies (FHIR R4
// search.html#number: 1.5 is [1.45, 1.55)). Values are kept exactly, scaled by 10^6.

constexpr int64_t kScale = 1'000'000;

struct Decimal {
  std::string text;
  int64_t value = 0;  // scaled
  int64_t low = 0;    // scaled
  int64_t high = 0;   // scaled
};

// mantissa * 10^-frac, frac in [0, 3].
Decimal make_decimal(int64_t mantissa, int frac) {
  Decimal d;
  int64_t unit = 1;
  for (int i = 0; i < frac; ++i) unit *= 10;
  int64_t a = mantissa < 0 ? -mantissa : mantissa;
  d.text = (mantissa < 0 ? "-" : "") + std::to_string(a / unit);
  if (frac > 0) d.text += "." + pad(a % unit, frac);
  d.value = mantissa * (kScale / unit);
  int64_t half = kScale / unit / 2;
  d.low = d.value - half;
  d.high = d.value + half;
  return d;
}

// ---------------------------------------------------------------------------------------------
// The evaluator's view of a resource: the values each search parameter reaches, taken from the
// resource the test generated (not from the server).

struct TokenValue {
  std::string system;
  std::string code;
  std::string text;  // display or CodeableConcept.text, unfolded
};

struct QuantityValue {
  Decimal value;
  std::string system;
  std::string code;  // code, else unit
};

struct Resource {
  std::string type;
  std::string id;
  std::string json;
  std::map<std::string, std::vector<TokenValue>> tokens;
  std::map<std::string, std::vector<std::string>> strings;
  std::map<std::string, std::vector<Range>> dates;
  std::map<std::string, std::vector<std::string>> references;  // "Type/id"
  std::map<std::string, std::vector<QuantityValue>> quantities;
  // The date texts written, for queries near stored values.
  std::vector<DateValue> date_texts;
};

const std::string kLoinc = "http://loinc.org";
const std::string kSnomed = "http://snomed.info/sct";
const std::string kLocal = "urn:oid:2.16.840.1.113883.3.1";
const std::string kCategorySystem = "http://terminology.hl7.org/CodeSystem/observation-category";
const std::string kStatusSystem = "http://hl7.org/fhir/observation-status";
const std::string kGenderSystem = "http://hl7.org/fhir/administrative-gender";
const std::string kUcum = "http://unitsofmeasure.org";

const std::vector<std::string> kFamilies = {
    "Müller",      "Muller", "MÜLLER", "Schröder",     "Straße", "Strasse",
    "Øster",       "García", "Garcia", "Núñez",        "Smith",  "Smyth",
    "Łukasiewicz", "Lee",    "Li",     "van der Berg", "Ærø",    "Françoise"};
const std::vector<std::string> kGivens = {"Anna",  "Ánna",  "José",  "Jose",      "Łucja", "Zoë",
                                          "Chloé", "Søren", "Björn", "Mary-Jane", "Ñico",  "Ann"};
const std::vector<std::string> kGenders = {"male", "female", "other", "unknown"};
const std::vector<std::string> kStatuses = {"final", "preliminary", "amended", "registered",
                                            "corrected"};
struct CodeDef {
  std::string system;
  std::string code;
  std::string display;
};
const std::vector<CodeDef> kCategories = {{kCategorySystem, "vital-signs", "Vital Signs"},
                                          {kCategorySystem, "laboratory", "Laboratory"},
                                          {kCategorySystem, "survey", "Survey"},
                                          {"urn:local:cat", "exam", "Exam"}};
const std::vector<CodeDef> kCodes = {
    {kLoinc, "8867-4", "Heart rate"},  {kLoinc, "2339-0", "Glucose [Mass/volume]"},
    {kLoinc, "718-7", "Hämoglobin"},   {kSnomed, "Abc-X", "Blood pressure"},
    {kSnomed, "abc-y", "Body Weight"}, {kLocal, "GLU", "Glucose fasting"},
    {kLocal, "Na", "Sodium"},          {"", "hr", "Heart rate (local)"},
    {"", "Temp", "Temperatur élevée"}};
struct UnitDef {
  std::string unit;
  std::string system;
  std::string code;
};
const std::vector<UnitDef> kUnits = {{"mg/dL", kUcum, "mg/dL"},
                                     {"mmol/L", kUcum, "mmol/L"},
                                     {"beats/min", kUcum, "/min"},
                                     {"kg", "", ""}};

std::string random_case(const std::string& s, SplitMix64& rng) {
  switch (rng.range(0, 3)) {
    case 0:
      return s;
    case 1:
      return ascii_lower(s);
    case 2:
      return ascii_upper(s);
    default: {
      std::string out;
      for (const std::string& g : glyphs(s)) out += g.size() == 1 ? vary(g, rng) : g;
      return out;
    }
  }
}

std::string coding_json(const TokenValue& t) {
  std::string out = "{";
  if (!t.system.empty()) out += "\"system\":" + json_string(t.system) + ",";
  out += "\"code\":" + json_string(t.code);
  if (!t.text.empty()) out += ",\"display\":" + json_string(t.text);
  return out + "}";
}

Resource make_patient(const std::string& id, SplitMix64& rng) {
  Resource r;
  r.type = "Patient";
  r.id = id;
  r.tokens["gender"];
  std::string json = "{\"resourceType\":\"Patient\",\"id\":" + json_string(id);
  if (rng.chance(85)) {
    std::string g = rng.pick(kGenders);
    json += ",\"gender\":" + json_string(g);
    r.tokens["gender"].push_back({"", g, ""});
    r.tokens["gender"].push_back({kGenderSystem, g, ""});
  }
  if (rng.chance(85)) {
    DateValue d = make_date(random_instant(rng, 1930, 2020), random_precision(rng, true), 0);
    json += ",\"birthDate\":" + json_string(d.text);
    r.dates["birthdate"].push_back(d.range);
    r.date_texts.push_back(d);
  }
  int names = static_cast<int>(rng.range(0, 2));
  if (names > 0) {
    json += ",\"name\":[";
    for (int i = 0; i < names; ++i) {
      if (i) json += ",";
      json += "{";
      std::string sep;
      if (rng.chance(90)) {
        std::string f = rng.pick(kFamilies);
        json += "\"family\":" + json_string(f);
        sep = ",";
        r.strings["family"].push_back(f);
        r.strings["name"].push_back(f);
      }
      int givens = static_cast<int>(rng.range(0, 2));
      if (givens > 0) {
        json += sep + "\"given\":[";
        for (int k = 0; k < givens; ++k) {
          std::string g = rng.pick(kGivens);
          json += (k ? "," : "") + json_string(g);
          r.strings["given"].push_back(g);
          r.strings["name"].push_back(g);
        }
        json += "]";
        sep = ",";
      }
      if (sep.empty() || rng.chance(20)) {
        std::string t = rng.pick(kGivens) + " " + rng.pick(kFamilies);
        json += sep + "\"text\":" + json_string(t);
        r.strings["name"].push_back(t);
      }
      json += "}";
    }
    json += "]";
  }
  r.json = json + "}";
  return r;
}

Resource make_observation(const std::string& id, const std::vector<std::string>& patients,
                          const std::string& base, SplitMix64& rng) {
  Resource r;
  r.type = "Observation";
  r.id = id;
  std::string status = rng.pick(kStatuses);
  std::string json = "{\"resourceType\":\"Observation\",\"id\":" + json_string(id) +
                     ",\"status\":" + json_string(status);
  r.tokens["status"] = {{"", status, ""}, {kStatusSystem, status, ""}};

  int categories = static_cast<int>(rng.range(0, 2));
  if (categories > 0) {
    json += ",\"category\":[";
    for (int i = 0; i < categories; ++i) {
      const CodeDef& c = rng.pick(kCategories);
      TokenValue t{c.system, random_case(c.code, rng), rng.chance(50) ? c.display : ""};
      json += std::string(i ? "," : "") + "{\"coding\":[" + coding_json(t) + "]";
      r.tokens["category"].push_back(t);
      if (rng.chance(20)) {
        std::string text = "Kategorie " + c.display;
        json += ",\"text\":" + json_string(text);
        r.tokens["category"].push_back({"", "", text});
      }
      json += "}";
    }
    json += "]";
  }

  json += ",\"code\":{\"coding\":[";
  int codes = static_cast<int>(rng.range(1, 2));
  for (int i = 0; i < codes; ++i) {
    const CodeDef& c = rng.pick(kCodes);
    TokenValue t{c.system, random_case(c.code, rng), rng.chance(60) ? c.display : ""};
    json += (i ? "," : "") + coding_json(t);
    r.tokens["code"].push_back(t);
  }
  json += "]}";

  if (rng.chance(90)) {
    const std::string& p = rng.pick(patients);
    std::string ref = rng.chance(15) ? base + "/Patient/" + p : "Patient/" + p;
    json += ",\"subject\":{\"reference\":" + json_string(ref) + "}";
    r.references["subject"].push_back("Patient/" + p);
    r.references["patient"].push_back("Patient/" + p);
  }

  int effective = static_cast<int>(rng.range(0, 9));
  if (effective <= 5) {
    DateValue d = make_date(random_instant(rng, 2016, 2024), random_precision(rng, false),
                            rng.pick(kOffsets));
    json += ",\"effectiveDateTime\":" + json_string(d.text);
    r.dates["date"].push_back(d.range);
    r.date_texts.push_back(d);
  } else if (effective <= 8) {
    int64_t a = random_instant(rng, 2016, 2024);
    int64_t b = a + rng.range(0, 400) * kMsPerDay / 10;
    bool has_start = effective != 8 || rng.chance(50);
    bool has_end = effective != 7 && (!has_start || rng.chance(70));
    Range range{kMinTime, kMaxTime};
    json += ",\"effectivePeriod\":{";
    if (has_start) {
      DateValue s = make_date(a, random_precision(rng, false), rng.pick(kOffsets));
      json += "\"start\":" + json_string(s.text);
      range.low = s.range.low;
      r.date_texts.push_back(s);
    }
    if (has_end) {
      DateValue e = make_date(b, random_precision(rng, false), rng.pick(kOffsets));
      json += std::string(has_start ? "," : "") + "\"end\":" + json_string(e.text);
      range.high = e.range.high;
      r.date_texts.push_back(e);
    }
    json += "}";
    r.dates["date"].push_back(range);
  }

  if (rng.chance(85)) {
    int frac = static_cast<int>(rng.range(0, 3));
    int64_t unit = frac == 0 ? 1 : frac == 1 ? 10 : frac == 2 ? 100 : 1000;
    int64_t mantissa = rng.range(rng.chance(10) ? -50 * unit : 0, 200 * unit);
    if (rng.chance(30)) mantissa = mantissa / unit * unit;  // 12.000: many trailing zeros
    Decimal d = make_decimal(mantissa, frac);
    const UnitDef& u = rng.pick(kUnits);
    json += ",\"valueQuantity\":{\"value\":" + d.text + ",\"unit\":" + json_string(u.unit);
    if (!u.system.empty()) json += ",\"system\":" + json_string(u.system);
    if (!u.code.empty()) json += ",\"code\":" + json_string(u.code);
    json += "}";
    r.quantities["value-quantity"].push_back({d, u.system, u.code.empty() ? u.unit : u.code});
  }
  r.json = json + "}";
  return r;
}

// ---------------------------------------------------------------------------------------------
// Queries, each value carrying what the evaluator needs to judge it.

enum class Kind { kToken, kString, kDate, kReference, kQuantity, kId };
enum class Prefix { kEq, kNe, kGt, kLt, kGe, kLe, kSa, kEb, kAp };
const char* const kPrefixText[] = {"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"};

struct QueryValue {
  std::string text;  // as sent, before URL encoding
  Prefix prefix = Prefix::kEq;
  // token: system (nullopt: any) and code (nullopt: any); :text and string: text
  std::optional<std::string> system;
  std::optional<std::string> code;
  std::string str;
  Range range;     // date
  Decimal number;  // quantity
};

struct Clause {
  std::string code;      // search parameter
  std::string modifier;  // "", "not", "text", "missing", "exact", "contains", "Patient"
  Kind kind = Kind::kToken;
  bool missing = false;
  std::vector<QueryValue> values;  // OR
};

struct SortKey {
  std::string code;
  Kind kind = Kind::kToken;
  bool descending = false;
};

struct Query {
  std::string type;
  std::vector<Clause> clauses;  // AND
  std::vector<SortKey> sort;
  int count = 0;  // 0: not sent

  std::string path() const {
    std::string p = "/fhir/" + type + "?";
    std::string sep;
    for (const Clause& c : clauses) {
      p += sep + c.code + (c.modifier.empty() ? "" : ":" + c.modifier) + "=";
      sep = "&";
      if (c.modifier == "missing") {
        p += c.missing ? "true" : "false";
        continue;
      }
      for (size_t i = 0; i < c.values.size(); ++i) {
        p += (i ? "," : "") + url_encode(c.values[i].text);
      }
    }
    if (!sort.empty()) {
      p += sep + "_sort=";
      sep = "&";
      for (size_t i = 0; i < sort.size(); ++i) {
        p += std::string(i ? "," : "") + (sort[i].descending ? "-" : "") + sort[i].code;
      }
    }
    if (count > 0) p += sep + "_count=" + std::to_string(count);
    return p;
  }
};

Kind kind_of(const std::string& type, const std::string& code) {
  static const std::map<std::string, Kind> kObservation = {{"status", Kind::kToken},
                                                           {"code", Kind::kToken},
                                                           {"category", Kind::kToken},
                                                           {"subject", Kind::kReference},
                                                           {"patient", Kind::kReference},
                                                           {"date", Kind::kDate},
                                                           {"value-quantity", Kind::kQuantity},
                                                           {"_id", Kind::kId}};
  static const std::map<std::string, Kind> kPatient = {
      {"gender", Kind::kToken}, {"name", Kind::kString},    {"family", Kind::kString},
      {"given", Kind::kString}, {"birthdate", Kind::kDate}, {"_id", Kind::kId}};
  return (type == "Patient" ? kPatient : kObservation).at(code);
}

// --- The evaluator: FHIR R4 search.html, applied to one resource at a time.

// Stored range [l, h) against the search range [ql, qh) (FHIR R4 search.html#prefix).
bool range_matches(int64_t l, int64_t h, Prefix p, int64_t ql, int64_t qh, int64_t widen) {
  const bool eq = l >= ql && h <= qh;
  switch (p) {
    case Prefix::kEq:
      return eq;
    case Prefix::kNe:
      return !eq;
    case Prefix::kGt:
      return h > qh;
    case Prefix::kLt:
      return l < ql;
    case Prefix::kGe:
      return h > qh || eq;
    case Prefix::kLe:
      return l < ql || eq;
    case Prefix::kSa:
      return l >= qh;
    case Prefix::kEb:
      return h <= ql;
    case Prefix::kAp:
      return l < qh + widen && h > ql - widen;
  }
  return false;
}

struct EvalContext {
  int64_t now_ms = 0;
};

bool value_matches(const Resource& r, const Clause& c, const QueryValue& v,
                   const EvalContext& ctx) {
  switch (c.kind) {
    case Kind::kId:
      return r.id == v.str;
    case Kind::kToken: {
      auto it = r.tokens.find(c.code);
      if (it == r.tokens.end()) return false;
      for (const TokenValue& t : it->second) {
        if (c.modifier == "text") {
          if (!t.text.empty() && fold(t.text).find(fold(v.str)) != std::string::npos) return true;
          continue;
        }
        if (t.code.empty()) continue;  // a text-only CodeableConcept has no code to match
        // FHIR R4 search.html#token: codes here compare case-insensitively, systems exactly.
        if (v.code && ascii_lower(*v.code) != ascii_lower(t.code)) continue;
        if (v.system && *v.system != t.system) continue;
        return true;
      }
      return false;
    }
    case Kind::kString: {
      auto it = r.strings.find(c.code);
      if (it == r.strings.end()) return false;
      for (const std::string& s : it->second) {
        if (c.modifier == "exact") {
          if (s == v.str) return true;
        } else if (c.modifier == "contains") {
          if (fold(s).find(fold(v.str)) != std::string::npos) return true;
        } else if (fold(s).rfind(fold(v.str), 0) == 0) {
          return true;
        }
      }
      return false;
    }
    case Kind::kDate: {
      auto it = r.dates.find(c.code);
      if (it == r.dates.end()) return false;
      // ap: 10 % of the distance from now (FHIR R4 search.html#prefix).
      int64_t gap = ctx.now_ms - v.range.low;
      int64_t widen = (gap < 0 ? -gap : gap) / 10;
      for (const Range& d : it->second) {
        if (range_matches(d.low, d.high, v.prefix, v.range.low, v.range.high, widen)) return true;
      }
      return false;
    }
    case Kind::kReference: {
      auto it = r.references.find(c.code);
      if (it == r.references.end()) return false;
      for (const std::string& ref : it->second) {
        if (ref == v.str) return true;
      }
      return false;
    }
    case Kind::kQuantity: {
      auto it = r.quantities.find(c.code);
      if (it == r.quantities.end()) return false;
      // ap: 10 % of the value (FHIR R4 search.html#prefix).
      int64_t widen = (v.number.value < 0 ? -v.number.value : v.number.value) / 10;
      for (const QuantityValue& q : it->second) {
        if (v.system && !v.system->empty() && *v.system != q.system) continue;
        if (v.code && !v.code->empty() && *v.code != q.code) continue;
        if (range_matches(q.value.low, q.value.high, v.prefix, v.number.low, v.number.high,
                          widen)) {
          return true;
        }
      }
      return false;
    }
  }
  return false;
}

bool has_values(const Resource& r, const Clause& c) {
  switch (c.kind) {
    case Kind::kId:
      return true;
    case Kind::kToken:
      return r.tokens.count(c.code) && !r.tokens.at(c.code).empty();
    case Kind::kString:
      return r.strings.count(c.code) && !r.strings.at(c.code).empty();
    case Kind::kDate:
      return r.dates.count(c.code) && !r.dates.at(c.code).empty();
    case Kind::kReference:
      return r.references.count(c.code) && !r.references.at(c.code).empty();
    case Kind::kQuantity:
      return r.quantities.count(c.code) && !r.quantities.at(c.code).empty();
  }
  return false;
}

bool clause_matches(const Resource& r, const Clause& c, const EvalContext& ctx) {
  if (c.modifier == "missing") return has_values(r, c) != c.missing;
  bool any = false;
  for (const QueryValue& v : c.values) any = any || value_matches(r, c, v, ctx);
  // FHIR R4 search.html#token: :not gives the resources that have no matching value.
  return c.modifier == "not" ? !any : any;
}

// One sort value: a number (scaled decimal or ms) or a folded text; absent sorts last.
struct SortValue {
  bool present = false;
  int64_t number = 0;
  std::string text;
};

// The value a resource sorts by under `k` (FHIR R4 search.html#_sort): over several values, the
// least ascending and the greatest descending; a range sorts by its low bound ascending and its
// high bound descending.
SortValue sort_value(const Resource& r, const SortKey& k) {
  SortValue out;
  auto take_number = [&](int64_t v) {
    if (!out.present || (k.descending ? v > out.number : v < out.number)) out.number = v;
    out.present = true;
  };
  auto take_text = [&](const std::string& v) {
    if (!out.present || (k.descending ? v > out.text : v < out.text)) out.text = v;
    out.present = true;
  };
  switch (k.kind) {
    case Kind::kDate:
      if (auto it = r.dates.find(k.code); it != r.dates.end()) {
        for (const Range& d : it->second) take_number(k.descending ? d.high : d.low);
      }
      break;
    case Kind::kQuantity:
      if (auto it = r.quantities.find(k.code); it != r.quantities.end()) {
        for (const auto& q : it->second) take_number(k.descending ? q.value.high : q.value.low);
      }
      break;
    case Kind::kString:
      if (auto it = r.strings.find(k.code); it != r.strings.end()) {
        for (const std::string& s : it->second) take_text(fold(s));
      }
      break;
    case Kind::kToken:
      if (auto it = r.tokens.find(k.code); it != r.tokens.end()) {
        for (const TokenValue& t : it->second) take_text(ascii_lower(t.code));
      }
      break;
    case Kind::kReference:
      if (auto it = r.references.find(k.code); it != r.references.end()) {
        for (const std::string& s : it->second) take_text(s);
      }
      break;
    case Kind::kId:
      take_text(r.id);
      break;
  }
  return out;
}

// Negative, zero or positive as a sorts before, with or after b.
int compare_sort(const SortValue& a, const SortValue& b, bool descending) {
  if (a.present != b.present) return a.present ? -1 : 1;  // missing values last
  if (!a.present) return 0;
  int c = 0;
  if (a.number != b.number) c = a.number < b.number ? -1 : 1;
  if (c == 0 && a.text != b.text) c = a.text < b.text ? -1 : 1;
  return descending ? -c : c;
}

std::vector<std::string> expected_ids(const std::vector<const Resource*>& resources, const Query& q,
                                      const EvalContext& ctx) {
  struct Row {
    const Resource* r;
    std::vector<SortValue> keys;
  };
  std::vector<Row> rows;
  for (const Resource* r : resources) {
    if (r->type != q.type) continue;
    bool all = true;
    for (const Clause& c : q.clauses) all = all && clause_matches(*r, c, ctx);
    if (!all) continue;
    Row row{r, {}};
    for (const SortKey& k : q.sort) row.keys.push_back(sort_value(*r, k));
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    for (size_t i = 0; i < q.sort.size(); ++i) {
      int c = compare_sort(a.keys[i], b.keys[i], q.sort[i].descending);
      if (c != 0) return c < 0;
    }
    return a.r->id < b.r->id;  // ties by id
  });
  std::vector<std::string> out;
  for (const Row& row : rows) out.push_back(row.r->id);
  return out;
}

// --- Query generation.

class QueryMaker {
 public:
  QueryMaker(SplitMix64& rng, const std::vector<const Resource*>& resources,
             const std::vector<std::string>& patient_ids, const std::string& base)
      : rng_(rng), resources_(resources), patient_ids_(patient_ids), base_(base) {}

  Query make(const std::string& type) {
    Query q;
    q.type = type;
    static const std::vector<std::string> kObservationParams = {
        "status", "code", "category", "subject", "patient", "date", "value-quantity", "_id"};
    static const std::vector<std::string> kPatientParams = {"gender", "name",      "family",
                                                            "given",  "birthdate", "_id"};
    const auto& params = type == "Patient" ? kPatientParams : kObservationParams;
    int n = static_cast<int>(rng_.range(0, 9) < 5 ? 1 : rng_.range(2, 3));
    for (int i = 0; i < n; ++i) {
      std::string code = rng_.pick(params);
      if (code == "_id" && rng_.chance(70)) code = params[0];
      q.clauses.push_back(clause(type, code));
    }
    if (rng_.chance(40)) {
      static const std::vector<std::string> kObservationSort = {"date", "value-quantity", "status",
                                                                "code", "subject"};
      static const std::vector<std::string> kPatientSort = {"birthdate", "family", "given", "name",
                                                            "gender"};
      const auto& keys = type == "Patient" ? kPatientSort : kObservationSort;
      int k = static_cast<int>(rng_.range(1, 3));
      std::set<std::string> used;
      for (int i = 0; i < k; ++i) {
        std::string code = rng_.pick(keys);
        if (!used.insert(code).second) continue;
        q.sort.push_back({code, kind_of(type, code), rng_.chance(50)});
      }
    }
    return q;
  }

 private:
  const Resource& any_of(const std::string& type) {
    for (;;) {
      const Resource* r = rng_.pick(resources_);
      if (r->type == type) return *r;
    }
  }

  QueryValue token_value(const std::string& type, const std::string& code) {
    QueryValue v;
    std::string system;
    std::string c;
    const Resource& r = any_of(type);
    auto it = r.tokens.find(code);
    if (it != r.tokens.end() && !it->second.empty() && rng_.chance(80)) {
      const TokenValue& t = rng_.pick(it->second);
      system = t.system;
      c = t.code;
    } else if (code == "code") {
      system = rng_.pick(kCodes).system;
      c = rng_.pick(kCodes).code;
    } else if (code == "category") {
      system = rng_.pick(kCategories).system;
      c = rng_.pick(kCategories).code;
    } else if (code == "status") {
      system = kStatusSystem;
      c = rng_.chance(80) ? rng_.pick(kStatuses) : "cancelled";
    } else {
      system = kGenderSystem;
      c = rng_.pick(kGenders);
    }
    if (c.empty()) c = "none";
    c = random_case(c, rng_);
    if (rng_.chance(5)) system = "urn:other:system";
    switch (rng_.range(0, 5)) {
      case 0:
      case 1:
      case 2:
        v.text = c;
        v.code = c;
        break;
      case 3:
        if (system.empty()) {
          v.text = "|" + c;
          v.system = "";
        } else {
          v.text = system + "|" + c;
          v.system = system;
        }
        v.code = c;
        break;
      case 4:
        v.text = "|" + c;
        v.system = "";
        v.code = c;
        break;
      default:
        if (system.empty()) {
          v.text = c;
          v.code = c;
        } else {
          v.text = system + "|";
          v.system = system;
        }
        break;
    }
    return v;
  }

  QueryValue text_value(const std::string& type, const std::string& code) {
    QueryValue v;
    const Resource& r = any_of(type);
    std::string source = "Blood";
    if (auto it = r.tokens.find(code); it != r.tokens.end()) {
      for (const TokenValue& t : it->second) {
        if (!t.text.empty()) source = t.text;
      }
    }
    auto gs = glyphs(source);
    size_t from = static_cast<size_t>(rng_.range(0, static_cast<int64_t>(gs.size()) - 1));
    size_t to = static_cast<size_t>(
        rng_.range(static_cast<int64_t>(from) + 1, static_cast<int64_t>(gs.size())));
    v.str = vary_all(gs, from, to, rng_);
    if (v.str.find_first_not_of(' ') == std::string::npos) v.str = "a";
    v.text = v.str;
    return v;
  }

  QueryValue string_value(const std::string& type, const std::string& code,
                          const std::string& modifier) {
    QueryValue v;
    const Resource& r = any_of(type);
    std::string source;
    if (auto it = r.strings.find(code); it != r.strings.end() && !it->second.empty()) {
      source = rng_.pick(it->second);
    } else {
      source = rng_.pick(code == "given" ? kGivens : kFamilies);
    }
    auto gs = glyphs(source);
    if (modifier == "exact") {
      v.str = rng_.chance(60) ? source : vary_all(gs, 0, gs.size(), rng_);
    } else if (modifier == "contains") {
      size_t from = static_cast<size_t>(rng_.range(0, static_cast<int64_t>(gs.size()) - 1));
      size_t to = static_cast<size_t>(
          rng_.range(static_cast<int64_t>(from) + 1,
                     std::min<int64_t>(static_cast<int64_t>(gs.size()), from + 4)));
      v.str = vary_all(gs, from, to, rng_);
    } else {
      size_t to = static_cast<size_t>(rng_.range(1, static_cast<int64_t>(gs.size())));
      v.str = vary_all(gs, 0, to, rng_);
    }
    if (v.str.find_first_not_of(' ') == std::string::npos) v.str = "x";
    v.text = v.str;
    return v;
  }

  QueryValue date_value(const std::string& type, bool date_only) {
    QueryValue v;
    v.prefix = static_cast<Prefix>(rng_.range(0, 8));
    if (rng_.chance(40)) v.prefix = Prefix::kEq;
    const Resource& r = any_of(type);
    int64_t t;
    if (!r.date_texts.empty() && rng_.chance(75)) {
      const DateValue& d = rng_.pick(r.date_texts);
      switch (rng_.range(0, 3)) {
        case 0:
          t = d.range.low;
          break;
        case 1:
          t = d.range.high - 1;
          break;
        case 2:
          t = d.range.high;
          break;
        default:
          t = d.range.low + rng_.range(-40, 40) * kMsPerDay;
          break;
      }
    } else {
      t = random_instant(rng_, date_only ? 1925 : 2014, date_only ? 2022 : 2026);
    }
    DateValue d = make_date(t, random_precision(rng_, false), rng_.pick(kOffsets));
    v.range = d.range;
    v.text =
        (v.prefix == Prefix::kEq && rng_.chance(50) ? "" : kPrefixText[int(v.prefix)]) + d.text;
    return v;
  }

  QueryValue quantity_value() {
    QueryValue v;
    v.prefix = static_cast<Prefix>(rng_.range(0, 8));
    if (rng_.chance(30)) v.prefix = Prefix::kEq;
    const Resource& r = any_of("Observation");
    int frac = static_cast<int>(rng_.range(0, 3));
    int64_t unit = frac == 0 ? 1 : frac == 1 ? 10 : frac == 2 ? 100 : 1000;
    int64_t mantissa;
    auto it = r.quantities.find("value-quantity");
    if (it != r.quantities.end() && !it->second.empty() && rng_.chance(75)) {
      const Decimal& stored = it->second[0].value;
      const bool same_precision = rng_.chance(60);
      if (same_precision) {
        // The stored precision: ranges that touch or coincide (sa/eb/eq boundaries).
        size_t dot = stored.text.find('.');
        frac = dot == std::string::npos ? 0 : static_cast<int>(stored.text.size() - dot - 1);
        unit = frac == 0 ? 1 : frac == 1 ? 10 : frac == 2 ? 100 : 1000;
      }
      // The stored value at this precision (rounded towards zero), or one unit off.
      int64_t offset = rng_.range(-1, 1);
      if (same_precision && rng_.chance(35)) {
        // A search range that ends exactly where the stored range starts, or the reverse.
        offset = rng_.chance(50) ? -1 : 1;
        v.prefix = offset < 0 ? Prefix::kSa : Prefix::kEb;
      }
      mantissa = stored.value / (kScale / unit) + offset;
    } else {
      mantissa = rng_.range(-20 * unit, 210 * unit);
    }
    v.number = make_decimal(mantissa, frac);
    std::string text =
        (v.prefix == Prefix::kEq && rng_.chance(50) ? "" : kPrefixText[int(v.prefix)]) +
        v.number.text;
    switch (rng_.range(0, 5)) {
      case 0: {
        const UnitDef& u = rng_.pick(kUnits);
        std::string code = u.code.empty() ? u.unit : u.code;
        text += "|" + u.system + "|" + code;
        v.system = u.system;
        v.code = code;
        break;
      }
      case 1: {
        const UnitDef& u = rng_.pick(kUnits);
        std::string code = u.code.empty() ? u.unit : u.code;
        text += "||" + code;
        v.code = code;
        break;
      }
      default:
        break;
    }
    v.text = text;
    return v;
  }

  QueryValue reference_value(const std::string& modifier) {
    QueryValue v;
    std::string id = rng_.chance(90) ? rng_.pick(patient_ids_) : "nobody";
    v.str = "Patient/" + id;
    if (!modifier.empty()) {
      v.text = id;
      return v;
    }
    switch (rng_.range(0, 2)) {
      case 0:
        v.text = id;
        break;
      case 1:
        v.text = "Patient/" + id;
        break;
      default:
        v.text = base_ + "/Patient/" + id;
        break;
    }
    return v;
  }

  Clause clause(const std::string& type, const std::string& code) {
    Clause c;
    c.code = code;
    c.kind = kind_of(type, code);
    if (c.kind != Kind::kId && rng_.chance(8)) {
      c.modifier = "missing";
      c.missing = rng_.chance(50);
      return c;
    }
    int n = rng_.chance(70) ? 1 : static_cast<int>(rng_.range(2, 3));
    switch (c.kind) {
      case Kind::kId:
        for (int i = 0; i < n; ++i) {
          QueryValue v;
          v.str = rng_.chance(90) ? any_of(type).id : "missing-id";
          v.text = v.str;
          c.values.push_back(v);
        }
        return c;
      case Kind::kToken:
        if (code != "status" && code != "gender" && rng_.chance(15)) {
          c.modifier = "text";
          for (int i = 0; i < n; ++i) c.values.push_back(text_value(type, code));
          return c;
        }
        if (rng_.chance(15)) c.modifier = "not";
        for (int i = 0; i < n; ++i) c.values.push_back(token_value(type, code));
        return c;
      case Kind::kString: {
        int m = static_cast<int>(rng_.range(0, 9));
        c.modifier = m == 0 ? "exact" : m == 1 ? "contains" : "";
        for (int i = 0; i < n; ++i) c.values.push_back(string_value(type, code, c.modifier));
        return c;
      }
      case Kind::kDate:
        for (int i = 0; i < n; ++i) c.values.push_back(date_value(type, code == "birthdate"));
        return c;
      case Kind::kReference:
        if (code == "subject" && rng_.chance(20)) c.modifier = "Patient";
        for (int i = 0; i < n; ++i) c.values.push_back(reference_value(c.modifier));
        return c;
      case Kind::kQuantity:
        for (int i = 0; i < n; ++i) c.values.push_back(quantity_value());
        return c;
    }
    return c;
  }

  SplitMix64& rng_;
  const std::vector<const Resource*>& resources_;
  const std::vector<std::string>& patient_ids_;
  std::string base_;
};

// ---------------------------------------------------------------------------------------------
// Talking to the server.

struct Pages {
  std::vector<std::string> ids;  // in the order served, over all pages
  std::string error;             // non-empty when a page failed
  int pages = 0;
};

// Follows `path` and every next link; `between` runs after each page (for concurrent writes).
Pages fetch_all(const ServerProcess& server, std::string path,
                const std::function<void()>& between = {}) {
  Pages out;
  const std::string origin = "http://127.0.0.1:" + std::to_string(server.port());
  while (!path.empty()) {
    if (++out.pages > 500) {
      out.error = "more than 500 pages";
      return out;
    }
    auto r = server.get(path);
    if (r.status != 200) {
      out.error = "GET " + path + " -> " + std::to_string(r.status) + ": " + r.body.substr(0, 500);
      return out;
    }
    json::Value b = body_json(r);
    if (const json::Value* entries = b.find("entry")) {
      for (const auto& e : entries->items()) {
        const json::Value* search = e.find("search");
        if (search != nullptr && search->get_string("mode") != "match") continue;
        const json::Value* res = e.find("resource");
        if (res != nullptr) out.ids.emplace_back(res->get_string("id"));
      }
    }
    path.clear();
    if (const json::Value* links = b.find("link")) {
      for (const auto& l : links->items()) {
        if (l.get_string("relation") != "next") continue;
        std::string url(l.get_string("url"));
        if (url.rfind(server.base(), 0) != 0) {
          out.error = "next link outside the base " + server.base() + ": " + url;
          return out;
        }
        path = url.substr(origin.size());
      }
    }
    if (between && !path.empty()) between();
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::string put(const ServerProcess& server, const Resource& r) {
  auto resp = server.send("PUT", "/fhir/" + r.type + "/" + r.id, r.json);
  if (resp.status != 200 && resp.status != 201) {
    return "PUT " + r.type + "/" + r.id + " -> " + std::to_string(resp.status) + ": " +
           resp.body.substr(0, 400) + "\nbody: " + r.json;
  }
  return "";
}

std::string pad_id(const char* prefix, int n) { return prefix + pad(n, 3); }

TEST(DifferentialSearch, ServerAgreesWithBruteForce) {
  const uint64_t seed = env_number("IPA_DIFF_SEED", kDefaultSeed);
  const int iterations = static_cast<int>(env_number("IPA_DIFF_ITERATIONS", kDefaultIterations));
  SplitMix64 rng(seed);
  TempDir dir;
  ServerProcess server(dir.file("ipa.db"));
  ASSERT_GT(server.port(), 0);
  const std::string base = server.base();
  const std::string replay = "seed " + std::to_string(seed) +
                             " (IPA_DIFF_SEED=" + std::to_string(seed) +
                             " IPA_DIFF_ITERATIONS=" + std::to_string(iterations) + ")";

  std::vector<std::string> patient_ids;
  for (int i = 0; i < 8; ++i) patient_ids.push_back(pad_id("p", i));
  std::vector<Resource> store;
  for (const std::string& id : patient_ids) store.push_back(make_patient(id, rng));
  for (int i = 0; i < 120; ++i) {
    store.push_back(make_observation(pad_id("o", i), patient_ids, base, rng));
  }
  for (const Resource& r : store) ASSERT_EQ(put(server, r), "") << replay;
  std::vector<const Resource*> view;
  for (const Resource& r : store) view.push_back(&r);

  QueryMaker maker(rng, view, patient_ids, base);
  std::map<std::string, int> stats;  // what the run covered, printed at the end
  int failures = 0;
  for (int it = 0; it < iterations && failures < kMaxReportedFailures; ++it) {
    if (it > 0 && it % 40 == 0) {
      // Rewrite a few resources in place, so searches also see updated index rows.
      for (int k = 0; k < 4; ++k) {
        size_t i = static_cast<size_t>(rng.range(0, static_cast<int64_t>(store.size()) - 1));
        store[i] = store[i].type == "Patient"
                       ? make_patient(store[i].id, rng)
                       : make_observation(store[i].id, patient_ids, base, rng);
        ASSERT_EQ(put(server, store[i]), "") << replay;
      }
    }
    Query q = maker.make(rng.chance(30) ? "Patient" : "Observation");
    EvalContext ctx;
    ctx.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    std::vector<std::string> expected = expected_ids(view, q, ctx);
    // Small pages, so that most answers span several next links.
    if (rng.chance(80)) {
      int n = static_cast<int>(expected.size());
      q.count = static_cast<int>(rng.range(std::max(1, n / 6), std::max(1, n / 2 + 1)));
    }
    const std::string path = q.path();
    ++stats[expected.empty() ? "queries with no match" : "queries with matches"];
    for (const Clause& c : q.clauses) {
      std::string key = c.code + (c.modifier.empty() ? "" : ":" + c.modifier);
      for (const QueryValue& v : c.values) {
        bool ranged = c.kind == Kind::kDate || c.kind == Kind::kQuantity;
        ++stats[key + (ranged ? std::string(" ") + kPrefixText[static_cast<int>(v.prefix)] : "")];
      }
      if (c.values.empty()) ++stats[key];
    }
    Pages got = fetch_all(server, path);
    stats["pages"] += got.pages;
    std::string where = replay + ", iteration " + std::to_string(it) + ", query " + path;
    if (!got.error.empty()) {
      ++failures;
      ADD_FAILURE() << where << "\n" << got.error;
      continue;
    }
    std::set<std::string> got_set(got.ids.begin(), got.ids.end());
    std::set<std::string> want_set(expected.begin(), expected.end());
    std::vector<std::string> missing, extra;
    std::set_difference(want_set.begin(), want_set.end(), got_set.begin(), got_set.end(),
                        std::back_inserter(missing));
    std::set_difference(got_set.begin(), got_set.end(), want_set.begin(), want_set.end(),
                        std::back_inserter(extra));
    bool repeated = got_set.size() != got.ids.size();
    bool order =
        !q.sort.empty() && missing.empty() && extra.empty() && !repeated && got.ids != expected;
    if (!missing.empty() || !extra.empty() || repeated || order) {
      ++failures;
      std::ostringstream msg;
      msg << where << "\n  missing (expected, not returned): " << join(missing)
          << "\n  extra (returned, not expected): " << join(extra);
      if (repeated) msg << "\n  an id was returned twice";
      if (order || repeated) {
        msg << "\n  expected order: " << join(expected) << "\n  served order:   " << join(got.ids);
      }
      for (const auto* ids : {&missing, &extra}) {
        for (const std::string& id : *ids) {
          for (const Resource& r : store) {
            if (r.id == id) msg << "\n  " << id << ": " << r.json;
          }
        }
      }
      ADD_FAILURE() << msg.str();
    }
  }
  std::string summary = replay + " covered:";
  for (const auto& [what, n] : stats) summary += "\n  " + what + ": " + std::to_string(n);
  std::cout << summary << "\n";
}

// FHIR R4 http.html#paging: while a client follows next links, new matching resources are
// written; every resource that existed before and was not touched appears exactly once, in order.
TEST(DifferentialSearch, PagingAcrossConcurrentWrites) {
  const uint64_t seed = env_number("IPA_DIFF_SEED", kDefaultSeed);
  SplitMix64 rng(seed ^ 0x5eed);
  TempDir dir;
  ServerProcess server(dir.file("ipa.db"));
  ASSERT_GT(server.port(), 0);
  const std::string base = server.base();
  std::vector<std::string> patient_ids = {"p000", "p001"};
  for (const std::string& id : patient_ids) ASSERT_EQ(put(server, make_patient(id, rng)), "");
  // An Observation whose code is urn:paging|<tag>, so that every write for a tag matches the
  // query of that tag.
  auto make_matching = [&](const std::string& id, const std::string& tag) {
    Resource r = make_observation(id, patient_ids, base, rng);
    r.tokens["code"] = {{"urn:paging", tag, ""}};
    size_t code = r.json.find(",\"code\":{");
    size_t end = r.json.find("]}", code) + 2;
    r.json.replace(code, end - code,
                   ",\"code\":{\"coding\":[{\"system\":\"urn:paging\",\"code\":\"" + tag + "\"}]}");
    return r;
  };

  const std::vector<std::string> sorts = {"",
                                          "date",
                                          "-date,_id",
                                          "value-quantity,-date",
                                          "-value-quantity",
                                          "status,-date",
                                          "subject,date",
                                          "code,-status"};
  int written = 0;
  for (size_t round = 0; round < sorts.size(); ++round) {
    const std::string& sort = sorts[round];
    const std::string tag = "pg" + std::to_string(round);
    std::vector<Resource> stable;
    for (int i = 0; i < 30; ++i) {
      stable.push_back(make_matching(tag + "-s" + pad(i, 3), tag));
      ASSERT_EQ(put(server, stable.back()), "");
    }
    std::vector<const Resource*> view;
    for (const Resource& r : stable) view.push_back(&r);
    Query q;
    q.type = "Observation";
    Clause c;
    c.code = "code";
    c.kind = Kind::kToken;
    QueryValue v;
    v.text = "urn:paging|" + tag;
    v.system = "urn:paging";
    v.code = tag;
    c.values.push_back(v);
    q.clauses.push_back(c);
    std::string path = q.path() + "&_count=" + std::to_string(rng.range(3, 7));
    if (!sort.empty()) {
      path += "&_sort=" + sort;
      std::stringstream ss(sort);
      for (std::string key; std::getline(ss, key, ',');) {
        SortKey k;
        k.descending = key[0] == '-';
        k.code = k.descending ? key.substr(1) : key;
        if (k.code == "_id") continue;
        k.kind = kind_of("Observation", k.code);
        q.sort.push_back(k);
      }
    }
    std::vector<std::string> expected = expected_ids(view, q, EvalContext{});

    // A writer thread adds matching resources the whole time; each page also adds one.
    std::atomic<bool> stop{false};
    std::mutex errors_mu;
    std::vector<std::string> writer_errors;
    auto write = [&](const Resource& r) {
      if (std::string e = put(server, r); !e.empty()) {
        std::lock_guard<std::mutex> lock(errors_mu);
        writer_errors.push_back(e);
      }
    };
    std::vector<Resource> fresh;
    for (int i = 0; i < 30; ++i) fresh.push_back(make_matching(pad_id("w", written + i), tag));
    std::thread writer([&] {
      for (const Resource& r : fresh) {
        if (stop) break;
        write(r);
      }
    });
    written += static_cast<int>(fresh.size());
    Pages got = fetch_all(server, path,
                          [&] { write(make_matching("n" + std::to_string(++written), tag)); });
    stop = true;
    writer.join();
    const std::string where = "seed " + std::to_string(seed) + ", query " + path;
    ASSERT_TRUE(got.error.empty()) << where << "\n" << got.error;
    EXPECT_TRUE(writer_errors.empty()) << where << "\n" << writer_errors.front();
    std::set<std::string> seen;
    std::vector<std::string> repeated, stable_order;
    std::set<std::string> stable_ids(expected.begin(), expected.end());
    for (const std::string& id : got.ids) {
      if (!seen.insert(id).second) repeated.push_back(id);
      if (stable_ids.count(id)) stable_order.push_back(id);
    }
    std::vector<std::string> skipped;
    for (const std::string& id : expected) {
      if (!seen.count(id)) skipped.push_back(id);
    }
    EXPECT_TRUE(skipped.empty() && repeated.empty())
        << where << "\n  skipped stable ids: " << join(skipped)
        << "\n  repeated ids: " << join(repeated) << "\n  served: " << join(got.ids);
    if (!q.sort.empty() && skipped.empty() && repeated.empty()) {
      EXPECT_EQ(stable_order, expected) << where << ": stable resources out of order";
    }
  }
}

}  // namespace
}  // namespace ipa::testing
