// FHIR search through the real server over the demo dataset: every IPA required and recommended
// combination, reference forms, paging with sealed cursors, includes, forms and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "harness.h"

namespace ipa::testing {
namespace {

class SearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new ServerProcess(dir_->file("ipa.db"), {"--patients", "8"}, {}, "demo");
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }

  static json::Value bundle(const std::string& path, int expect_status = 200) {
    auto r = server_->get(path);
    EXPECT_EQ(r.status, expect_status) << path << ": " << r.body.substr(0, 400);
    return body_json(r);
  }

  // The matches of a search, following every next link.
  static std::vector<json::Value> all_matches(std::string path) {
    std::vector<json::Value> out;
    for (int pages = 0; !path.empty() && pages < 200; ++pages) {
      json::Value b = bundle(path);
      if (const json::Value* entries = b.find("entry")) {
        for (const auto& e : entries->items()) {
          if (e.find("search")->get_string("mode") == "match") out.push_back(*e.find("resource"));
        }
      }
      path.clear();
      for (const auto& l : b.find("link")->items()) {
        if (l.get_string("relation") == "next") {
          path = std::string(l.get_string("url")).substr(server_->base().size() - 5);
        }
      }
    }
    return out;
  }

  static std::set<std::string> ids(const std::vector<json::Value>& rs) {
    std::set<std::string> out;
    for (const auto& r : rs) out.insert(std::string(r.get_string("id")));
    return out;
  }

  static bool has_coding(const json::Value& cc_or_list, const std::string& code) {
    auto check = [&](const json::Value& cc) {
      if (const json::Value* codings = cc.find("coding")) {
        for (const auto& c : codings->items()) {
          if (c.get_string("code") == code) return true;
        }
      }
      return false;
    };
    if (cc_or_list.is_array()) {
      for (const auto& cc : cc_or_list.items()) {
        if (check(cc)) return true;
      }
      return false;
    }
    return check(cc_or_list);
  }

  static TempDir* dir_;
  static ServerProcess* server_;
};

TempDir* SearchTest::dir_ = nullptr;
ServerProcess* SearchTest::server_ = nullptr;

TEST_F(SearchTest, BundleShape) {
  json::Value b = bundle("/fhir/Observation?patient=pat-0001&category=laboratory");
  EXPECT_EQ(b.get_string("resourceType"), "Bundle");
  EXPECT_EQ(b.get_string("type"), "searchset");
  ASSERT_NE(b.find("entry"), nullptr);
  for (const auto& e : b.find("entry")->items()) {
    EXPECT_EQ(std::string(e.get_string("fullUrl")).rfind(server_->base() + "/Observation/", 0), 0u);
    EXPECT_EQ(e.find("search")->get_string("mode"), "match");
  }
  std::string self(b.find("link")->items()[0].get_string("url"));
  EXPECT_EQ(self, server_->base() + "/Observation?patient=pat-0001&category=laboratory");
}

TEST_F(SearchTest, PatientIdAndIdentifier) {
  auto by_id = all_matches("/fhir/Patient?_id=pat-0001");
  ASSERT_EQ(by_id.size(), 1u);
  const json::Value& ident = by_id[0].find("identifier")->items()[0];
  std::string sys(ident.get_string("system")), val(ident.get_string("value"));
  auto by_ident = all_matches("/fhir/Patient?identifier=" + sys + "|" + val);
  EXPECT_EQ(ids(by_ident), std::set<std::string>{"pat-0001"});
  EXPECT_EQ(ids(all_matches("/fhir/Patient?identifier=" + val)), std::set<std::string>{"pat-0001"});
  EXPECT_TRUE(all_matches("/fhir/Patient?identifier=urn:other|" + val).empty());
}

TEST_F(SearchTest, PatientNamesFoldCaseAndAccents) {
  auto a = ids(all_matches("/fhir/Patient?family=M%C3%BCller"));
  EXPECT_TRUE(a.count("pat-0001") && a.count("pat-0002") && a.count("pat-0003"));
  EXPECT_EQ(ids(all_matches("/fhir/Patient?family=MULLER")), a);
  EXPECT_EQ(ids(all_matches("/fhir/Patient?family=mul")), a);
  EXPECT_EQ(ids(all_matches("/fhir/Patient?name=muller&gender=female")),
            (std::set<std::string>{"pat-0001", "pat-0003"}));
  EXPECT_EQ(ids(all_matches("/fhir/Patient?family=muller&birthdate=1984-03-12")),
            std::set<std::string>{"pat-0001"});
  EXPECT_EQ(ids(all_matches("/fhir/Patient?birthdate=1984-03-12&name=anna")),
            std::set<std::string>{"pat-0001"});
  EXPECT_EQ(
      ids(all_matches(
          "/fhir/Patient?family=muller&gender=http://hl7.org/fhir/administrative-gender|male")),
      std::set<std::string>{"pat-0002"});
  EXPECT_TRUE(all_matches("/fhir/Patient?family:exact=muller").empty());
  EXPECT_FALSE(all_matches("/fhir/Patient?family:exact=M%C3%BCller").empty());
}

TEST_F(SearchTest, ReferenceFormsGiveIdenticalResults) {
  auto a = ids(all_matches("/fhir/Condition?patient=pat-0001"));
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(ids(all_matches("/fhir/Condition?patient=Patient/pat-0001")), a);
  EXPECT_EQ(ids(all_matches("/fhir/Condition?patient=" + server_->base() + "/Patient/pat-0001")),
            a);
  EXPECT_EQ(ids(all_matches("/fhir/Condition?subject:Patient=pat-0001")), a);
}

TEST_F(SearchTest, ObservationCombinations) {
  auto labs = all_matches("/fhir/Observation?patient=pat-0001&category=laboratory");
  ASSERT_FALSE(labs.empty());
  for (const auto& o : labs) {
    EXPECT_TRUE(has_coding(*o.find("category"), "laboratory"));
    EXPECT_EQ(o.find("subject")->get_string("reference"), "Patient/pat-0001");
  }
  auto vitals = all_matches(
      "/fhir/Observation?patient=pat-0001&category=http://terminology.hl7.org/CodeSystem/"
      "observation-category|vital-signs");
  ASSERT_FALSE(vitals.empty());
  EXPECT_TRUE(all_matches("/fhir/Observation?patient=pat-0001&category=imaging").empty());
  auto bp = all_matches("/fhir/Observation?patient=pat-0001&code=http://loinc.org|85354-9");
  ASSERT_FALSE(bp.empty());
  for (const auto& o : bp) EXPECT_TRUE(has_coding(*o.find("code"), "85354-9"));
  EXPECT_EQ(ids(all_matches("/fhir/Observation?patient=pat-0001&code=85354-9")), ids(bp));
  // patient + category + date, with a range that holds only some of them.
  auto dated =
      all_matches("/fhir/Observation?patient=pat-0001&category=vital-signs&date=ge2019-01-01");
  auto older =
      all_matches("/fhir/Observation?patient=pat-0001&category=vital-signs&date=lt2019-01-01");
  EXPECT_EQ(dated.size() + older.size(), vitals.size());
  for (const auto& o : dated) {
    std::string eff(o.get_string("effectiveDateTime"));
    if (!eff.empty()) {
      EXPECT_GE(eff, "2019-01-01");
    }
  }
  auto status = all_matches("/fhir/Observation?patient=pat-0001&category=laboratory&status=final");
  EXPECT_LE(status.size(), labs.size());
  auto code_date = all_matches("/fhir/Observation?patient=pat-0001&code=85354-9&date=ge2000");
  EXPECT_EQ(code_date.size(), bp.size());
}

TEST_F(SearchTest, ConditionCombinations) {
  auto problems = all_matches(
      "/fhir/Condition?patient=pat-0001&category=problem-list-item&clinical-status=active");
  for (const auto& c : problems) {
    EXPECT_TRUE(has_coding(*c.find("category"), "problem-list-item"));
    EXPECT_TRUE(has_coding(*c.find("clinicalStatus"), "active"));
  }
  auto all = all_matches("/fhir/Condition?patient=pat-0001");
  auto cat = all_matches("/fhir/Condition?patient=pat-0001&category=problem-list-item");
  auto dx = all_matches("/fhir/Condition?patient=pat-0001&category=encounter-diagnosis");
  EXPECT_EQ(cat.size() + dx.size(), all.size());
  auto code = all[0].find("code")->find("coding")->items()[0].get_string("code");
  EXPECT_FALSE(all_matches("/fhir/Condition?patient=pat-0001&code=" + std::string(code)).empty());
  EXPECT_EQ(bundle("/fhir/Condition?patient=pat-0001&onset-date=ge1900").get_string("type"),
            "searchset");
  EXPECT_EQ(
      bundle("/fhir/Condition?patient=pat-0001&verification-status=confirmed").get_string("type"),
      "searchset");
}

TEST_F(SearchTest, DocumentReferenceCombinations) {
  auto docs = all_matches("/fhir/DocumentReference?patient=pat-0001");
  ASSERT_FALSE(docs.empty());
  std::string id(docs[0].get_string("id"));
  EXPECT_EQ(ids(all_matches("/fhir/DocumentReference?_id=" + id)), std::set<std::string>{id});
  EXPECT_EQ(all_matches("/fhir/DocumentReference?patient=pat-0001&category=34109-9").size(),
            docs.size());
  EXPECT_FALSE(all_matches("/fhir/DocumentReference?patient=pat-0001&type=http://loinc.org|11506-3")
                   .empty());
  EXPECT_EQ(
      all_matches("/fhir/DocumentReference?patient=pat-0001&category=34109-9&date=ge1990").size(),
      docs.size());
  EXPECT_FALSE(
      all_matches("/fhir/DocumentReference?patient=pat-0001&contenttype=text/plain").empty());
  EXPECT_FALSE(all_matches("/fhir/DocumentReference?patient=pat-0001&status=current").empty());
  EXPECT_EQ(bundle("/fhir/DocumentReference?patient=pat-0001&type=11506-3&period=ge1990")
                .get_string("type"),
            "searchset");
}

TEST_F(SearchTest, MedicationsWithIncludeAndProvenanceRevinclude) {
  json::Value b = bundle(
      "/fhir/MedicationRequest?patient=pat-0001&_include=MedicationRequest:medication"
      "&_revinclude=Provenance:target");
  int requests = 0, meds = 0, provs = 0;
  bool any_reference = false;
  for (const auto& e : b.find("entry")->items()) {
    std::string_view t = e.find("resource")->get_string("resourceType");
    std::string_view mode = e.find("search")->get_string("mode");
    if (t == "MedicationRequest") {
      ++requests;
      EXPECT_EQ(mode, "match");
      any_reference |= e.find("resource")->find("medicationReference") != nullptr;
    } else if (t == "Medication") {
      ++meds;
      EXPECT_EQ(mode, "include");
    } else if (t == "Provenance") {
      ++provs;
      EXPECT_EQ(mode, "include");
    }
  }
  EXPECT_GT(requests, 0);
  if (any_reference) {
    EXPECT_GT(meds, 0);
  }
  EXPECT_EQ(provs, 1);
  EXPECT_FALSE(all_matches("/fhir/MedicationRequest?patient=pat-0001&intent=order").empty() &&
               all_matches("/fhir/MedicationRequest?patient=pat-0001&intent=plan").empty());
  EXPECT_EQ(bundle("/fhir/MedicationRequest?patient=pat-0001&intent=order&authoredon=ge2000")
                .get_string("type"),
            "searchset");
  EXPECT_EQ(bundle("/fhir/MedicationRequest?patient=pat-0001&intent=order&status=active")
                .get_string("type"),
            "searchset");
  EXPECT_FALSE(all_matches("/fhir/MedicationStatement?patient=pat-0001").empty());
  EXPECT_EQ(bundle("/fhir/"
                   "MedicationStatement?patient=pat-0001&status=active&_include="
                   "MedicationStatement:medication")
                .get_string("type"),
            "searchset");
}

TEST_F(SearchTest, AllergyAndImmunization) {
  EXPECT_FALSE(all_matches("/fhir/AllergyIntolerance?patient=pat-0001").empty());
  EXPECT_EQ(
      bundle("/fhir/AllergyIntolerance?patient=pat-0001&clinical-status=active").get_string("type"),
      "searchset");
  auto imms = all_matches("/fhir/Immunization?patient=pat-0001");
  EXPECT_FALSE(imms.empty());
  EXPECT_LE(all_matches("/fhir/Immunization?patient=pat-0001&date=ge1900").size(), imms.size());
  EXPECT_LE(all_matches("/fhir/Immunization?patient=pat-0001&status=completed").size(),
            imms.size());
}

TEST_F(SearchTest, PagingFollowsNextLinksWithoutLossOrRepeat) {
  auto everything = all_matches("/fhir/Observation?patient=pat-0002&_count=1000");
  auto paged = all_matches("/fhir/Observation?patient=pat-0002&_count=7");
  ASSERT_GT(everything.size(), 7u);
  EXPECT_EQ(paged.size(), everything.size());
  EXPECT_EQ(ids(paged), ids(everything));
  auto sorted = all_matches("/fhir/Observation?patient=pat-0002&_count=5&_sort=-date");
  EXPECT_EQ(ids(sorted), ids(everything));
  std::string prev = "9999";
  for (const auto& o : sorted) {
    std::string d(o.get_string("effectiveDateTime"));
    if (d.empty() && o.find("effectivePeriod")) d = o.find("effectivePeriod")->get_string("end");
    if (d.empty()) continue;
    EXPECT_LE(d.substr(0, 10), prev.substr(0, 10));
    prev = d;
  }
}

TEST_F(SearchTest, PreviousLinksLeadBackPageByPage) {
  std::vector<std::vector<std::string>> pages;
  std::vector<std::string> previous_links;
  std::string next = "/fhir/Observation?patient=pat-0002&_count=4&_sort=-date";
  while (!next.empty() && pages.size() < 50) {
    json::Value b = bundle(next);
    std::vector<std::string> page;
    for (const auto& e : b.find("entry")->items()) {
      page.push_back(std::string(e.find("resource")->get_string("id")));
    }
    pages.push_back(page);
    next.clear();
    std::string prev;
    for (const auto& l : b.find("link")->items()) {
      std::string url(l.get_string("url"));
      if (l.get_string("relation") == "next") next = url.substr(server_->base().size() - 5);
      if (l.get_string("relation") == "previous") prev = url.substr(server_->base().size() - 5);
    }
    previous_links.push_back(prev);
  }
  ASSERT_GE(pages.size(), 3u);
  EXPECT_TRUE(previous_links[0].empty());  // the first page has no previous
  for (size_t i = 1; i < pages.size(); ++i) {
    ASSERT_FALSE(previous_links[i].empty()) << i;
    json::Value b = bundle(previous_links[i]);
    std::vector<std::string> back;
    for (const auto& e : b.find("entry")->items()) {
      back.push_back(std::string(e.find("resource")->get_string("id")));
    }
    EXPECT_EQ(back, pages[i - 1]) << "page " << i;
  }
}

TEST_F(SearchTest, ForgedOrMovedCursorsAre400) {
  json::Value b = bundle("/fhir/Observation?patient=pat-0002&_count=3");
  std::string next;
  for (const auto& l : b.find("link")->items()) {
    if (l.get_string("relation") == "next") next = std::string(l.get_string("url"));
  }
  ASSERT_FALSE(next.empty());
  std::string cursor = next.substr(next.find("_cursor=") + 8);
  EXPECT_EQ(server_->get("/fhir/Observation?patient=pat-0002&_count=3&_cursor=" + cursor).status,
            200);
  EXPECT_EQ(server_->get("/fhir/Observation?patient=pat-0001&_count=3&_cursor=" + cursor).status,
            400);
  std::string forged = cursor;
  forged[5] = forged[5] == 'a' ? 'b' : 'a';
  EXPECT_EQ(server_->get("/fhir/Observation?patient=pat-0002&_count=3&_cursor=" + forged).status,
            400);
}

TEST_F(SearchTest, TotalsSummaryCountAndElements) {
  json::Value acc = bundle("/fhir/Observation?patient=pat-0001&_count=2&_total=accurate");
  auto all = all_matches("/fhir/Observation?patient=pat-0001");
  EXPECT_EQ(acc.find("total")->as_int(), static_cast<int64_t>(all.size()));
  json::Value count = bundle("/fhir/Observation?patient=pat-0001&_summary=count");
  EXPECT_EQ(count.find("total")->as_int(), static_cast<int64_t>(all.size()));
  EXPECT_EQ(count.find("entry"), nullptr);
  json::Value el = bundle("/fhir/Patient?_id=pat-0001&_elements=gender");
  const json::Value& p = *el.find("entry")->items()[0].find("resource");
  EXPECT_EQ(p.find("name"), nullptr);
  EXPECT_EQ(p.get_string("gender"), "female");
}

TEST_F(SearchTest, PostSearchAndCompartmentGiveTheSameResults) {
  auto get = ids(all_matches("/fhir/Observation?patient=pat-0001&category=laboratory"));
  auto post =
      server_->send("POST", "/fhir/Observation/_search", "patient=pat-0001&category=laboratory",
                    {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(post.status, 200) << post.body;
  std::set<std::string> post_ids;
  json::Value post_bundle = body_json(post);
  for (const auto& e : post_bundle.find("entry")->items()) {
    post_ids.insert(std::string(e.find("resource")->get_string("id")));
  }
  EXPECT_EQ(post_ids, get);
  EXPECT_EQ(ids(all_matches("/fhir/Patient/pat-0001/Observation?category=laboratory")), get);
  EXPECT_EQ(server_
                ->send("POST", "/fhir/Observation/_search", "patient=pat-0001",
                       {{"Content-Type", "application/json"}})
                .status,
            415);
}

TEST_F(SearchTest, LenientAndStrictHandling) {
  json::Value lenient = bundle("/fhir/Patient?_id=pat-0001&frobnicate=1");
  bool outcome = false;
  for (const auto& e : lenient.find("entry")->items()) {
    if (e.find("search")->get_string("mode") == "outcome") {
      outcome = true;
      EXPECT_NE(json::write(e).find("frobnicate"), std::string::npos);
    }
  }
  EXPECT_TRUE(outcome);
  EXPECT_EQ(std::string(lenient.find("link")->items()[0].get_string("url")),
            server_->base() + "/Patient?_id=pat-0001");
  auto strict =
      server_->get("/fhir/Patient?_id=pat-0001&frobnicate=1", {{"Prefer", "handling=strict"}});
  EXPECT_EQ(strict.status, 400);
  auto bad = server_->get("/fhir/Observation?patient=pat-0001&date=notadate");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(issue_expression(body_json(bad)), "date");
}

TEST_F(SearchTest, ChainedSearch) {
  auto chained = ids(
      all_matches("/fhir/Observation?subject:Patient.birthdate=1984-03-12&category=laboratory"));
  EXPECT_EQ(chained, ids(all_matches("/fhir/Observation?patient=pat-0001&category=laboratory")));
}

TEST_F(SearchTest, ConditionalCreateWithSearchCriteria) {
  std::string body =
      R"({"resourceType":"Patient","identifier":[{"system":"urn:x","value":"cc-1"}],"name":[{"family":"Zeta"}]})";
  auto first = server_->send("POST", "/fhir/Patient", body,
                             {{"If-None-Exist", "family=zeta&identifier=urn:x|cc-1"}});
  EXPECT_EQ(first.status, 201) << first.body;
  auto again = server_->send("POST", "/fhir/Patient", body,
                             {{"If-None-Exist", "family=zeta&identifier=urn:x|cc-1"}});
  EXPECT_EQ(again.status, 200);
  auto bad = server_->send("POST", "/fhir/Patient", body, {{"If-None-Exist", "nonsense=1"}});
  EXPECT_EQ(bad.status, 400);
}

TEST_F(SearchTest, DocrefOffersTheSummaryAndTheWindow) {
  json::Value only_patient = bundle("/fhir/DocumentReference/$docref?patient=pat-0001");
  EXPECT_EQ(only_patient.get_string("type"), "searchset");
  bool summary = false;
  std::string summary_url;
  int stored = 0;
  for (const auto& e : only_patient.find("entry")->items()) {
    const json::Value& d = *e.find("resource");
    if (has_coding(*d.find("type"), "60591-5")) {
      summary = true;
      summary_url = d.find("content")->items()[0].find("attachment")->get_string("url");
    } else {
      ++stored;
    }
  }
  EXPECT_TRUE(summary);
  EXPECT_EQ(stored,
            static_cast<int>(all_matches("/fhir/DocumentReference?patient=pat-0001").size()));
  // The summary is generated when read; reading changes nothing stored.
  auto before = body_json(server_->get("/fhir/_history?_count=1")).find("total")->as_int();
  auto ips = server_->get(summary_url.substr(server_->base().size() - 5));
  ASSERT_EQ(ips.status, 200) << ips.body.substr(0, 300);
  json::Value doc = body_json(ips);
  EXPECT_EQ(doc.get_string("type"), "document");
  EXPECT_EQ(doc.find("entry")->items()[0].find("resource")->get_string("resourceType"),
            "Composition");
  EXPECT_EQ(body_json(server_->get("/fhir/_history?_count=1")).find("total")->as_int(), before);
  // on-demand only: just the summary; a window: no summary, only documents in it.
  json::Value on_demand = bundle("/fhir/DocumentReference/$docref?patient=pat-0001&on-demand=true");
  EXPECT_EQ(on_demand.find("entry")->items().size(), 1u);
  json::Value window = bundle(
      "/fhir/DocumentReference/"
      "$docref?patient=pat-0001&start=1900-01-01T00:00:00Z&end=2100-01-01T00:00:00Z");
  EXPECT_EQ(window.find("entry")->items().size(), static_cast<size_t>(stored));
  json::Value none = bundle(
      "/fhir/DocumentReference/"
      "$docref?patient=pat-0001&start=1900-01-01T00:00:00Z&end=1900-01-02T00:00:00Z");
  EXPECT_EQ(none.find("entry"), nullptr);
  // Unknown patient: an empty Bundle (R54); no patient: 400.
  json::Value unknown = bundle("/fhir/DocumentReference/$docref?patient=nobody");
  EXPECT_EQ(unknown.find("total")->as_int(), 0);
  EXPECT_EQ(server_->get("/fhir/DocumentReference/$docref").status, 400);
  EXPECT_EQ(server_->get("/fhir/DocumentReference/$docref?patient=pat-0001&start=soon").status,
            400);
  // POST with a Parameters body gives the same.
  auto post = server_->send(
      "POST", "/fhir/DocumentReference/$docref",
      R"({"resourceType":"Parameters","parameter":[{"name":"patient","valueId":"pat-0001"},{"name":"on-demand","valueBoolean":true}]})");
  ASSERT_EQ(post.status, 200) << post.body;
  EXPECT_EQ(body_json(post).find("entry")->items().size(), 1u);
}

TEST_F(SearchTest, EverythingPagesTheCompartmentAndSupportingResources) {
  std::vector<json::Value> all = all_matches("/fhir/Patient/pat-0001/$everything?_count=25");
  std::set<std::string> types;
  for (const auto& r : all) types.insert(std::string(r.get_string("resourceType")));
  for (const char* t : {"Patient", "Observation", "Condition", "DocumentReference", "Medication",
                        "Practitioner", "Encounter", "Provenance"}) {
    EXPECT_TRUE(types.count(t)) << t;
  }
  auto one = all_matches("/fhir/Patient/pat-0001/$everything?_type=Condition&_count=1000");
  EXPECT_EQ(one.size(), all_matches("/fhir/Condition?patient=pat-0001").size());
  EXPECT_EQ(server_->get("/fhir/Patient/nobody/$everything").status, 404);
}

// FHIR R4 search.html#composite: code and value must match on the same element.
TEST_F(SearchTest, CompositeBloodPressureComponents) {
  auto bp = all_matches("/fhir/Observation?patient=pat-0001&code=http://loinc.org|85354-9");
  ASSERT_FALSE(bp.empty());
  EXPECT_EQ(ids(all_matches("/fhir/Observation?patient=pat-0001&component-code-value-quantity="
                            "http://loinc.org|8480-6$gt1")),
            ids(bp));
  EXPECT_EQ(ids(all_matches("/fhir/Observation?patient=pat-0001&component-code-value-quantity="
                            "http://loinc.org|8480-6$gt1|http://unitsofmeasure.org|mm%5BHg%5D")),
            ids(bp));
  EXPECT_EQ(ids(all_matches("/fhir/Observation?patient=pat-0001&combo-code-value-quantity="
                            "8480-6$gt1")),
            ids(bp));
  EXPECT_TRUE(all_matches("/fhir/Observation?patient=pat-0001&component-code-value-quantity="
                          "http://loinc.org|8480-6$gt1000")
                  .empty());
  EXPECT_TRUE(all_matches("/fhir/Observation?patient=pat-0001&component-code-value-quantity="
                          "http://loinc.org|8480-6$gt1|http://unitsofmeasure.org|kPa")
                  .empty());

  // Across every patient: the diastolic above 75 only where that same component holds it,
  // although the systolic of every panel (95 or more) is above 75.
  auto all_bp = all_matches("/fhir/Observation?code=http://loinc.org|85354-9&_count=200");
  std::set<std::string> expected;
  for (const auto& o : all_bp) {
    for (const auto& c : o.find("component")->items()) {
      const json::Value* q = c.find("valueQuantity");
      if (has_coding(*c.find("code"), "8462-4") && q != nullptr &&
          std::stod(std::string(q->find("value")->text())) > 75) {
        expected.insert(std::string(o.get_string("id")));
      }
    }
  }
  auto composite = all_matches(
      "/fhir/Observation?code=85354-9&component-code-value-quantity=http://loinc.org|8462-4$gt75"
      "&_count=200");
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(ids(composite), expected);
  auto separate = all_matches(
      "/fhir/Observation?code=85354-9&component-code=http://loinc.org|8462-4"
      "&component-value-quantity=gt75&_count=200");
  EXPECT_GT(separate.size(), composite.size());
}

TEST_F(SearchTest, CompositeSmokingStatusAndLabValue) {
  auto smoking = all_matches("/fhir/Observation?patient=pat-0001&code=http://loinc.org|72166-2");
  ASSERT_EQ(smoking.size(), 1u);
  const json::Value& coding = smoking[0].find("valueCodeableConcept")->find("coding")->items()[0];
  const std::string system(coding.get_string("system"));
  const std::string code(coding.get_string("code"));
  EXPECT_EQ(ids(all_matches("/fhir/Observation?patient=pat-0001&code-value-concept="
                            "http://loinc.org|72166-2$" +
                            system + "|" + code)),
            ids(smoking));
  EXPECT_EQ(ids(all_matches("/fhir/Observation?patient=pat-0001&combo-code-value-concept="
                            "72166-2$" +
                            code)),
            ids(smoking));
  const std::string other = code == "77176002" ? "8517006" : "77176002";
  EXPECT_TRUE(all_matches("/fhir/Observation?patient=pat-0001&code-value-concept="
                          "http://loinc.org|72166-2$" +
                          system + "|" + other)
                  .empty());
  // The value's code under another observation code matches nothing.
  EXPECT_TRUE(all_matches("/fhir/Observation?patient=pat-0001&code-value-concept=http://loinc.org|"
                          "85354-9$" +
                          system + "|" + code)
                  .empty());

  // A lab's value by its own code.
  auto labs = all_matches("/fhir/Observation?patient=pat-0001&category=laboratory");
  const json::Value* lab = nullptr;
  for (const auto& o : labs) {
    if (o.find("valueQuantity") != nullptr && o.find("valueQuantity")->find("value") != nullptr) {
      lab = &o;
      break;
    }
  }
  ASSERT_NE(lab, nullptr);
  const json::Value& lab_code = lab->find("code")->find("coding")->items()[0];
  const std::string value(lab->find("valueQuantity")->find("value")->text());
  auto found = all_matches("/fhir/Observation?patient=pat-0001&code-value-quantity=" +
                           std::string(lab_code.get_string("system")) + "|" +
                           std::string(lab_code.get_string("code")) + "$" + value);
  EXPECT_TRUE(ids(found).count(std::string(lab->get_string("id"))));
  for (const auto& o : found) {
    EXPECT_TRUE(has_coding(*o.find("code"), std::string(lab_code.get_string("code"))));
  }
}

TEST_F(SearchTest, MalformedCompositeIs400NamingTheParameter) {
  for (const char* query :
       {"code-value-quantity=http://loinc.org|8480-6", "code-value-quantity=8480-6$big",
        "code-value-quantity=8480-6$1$2", "code-value-date=72166-2$notadate"}) {
    SCOPED_TRACE(query);
    auto r = server_->get(std::string("/fhir/Observation?patient=pat-0001&") + query);
    EXPECT_EQ(r.status, 400);
    const std::string q(query);
    EXPECT_EQ(issue_expression(body_json(r)), q.substr(0, q.find('=')));
  }
}

}  // namespace
}  // namespace ipa::testing
