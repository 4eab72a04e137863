// The last R4 search parameters through the real server on SQLite and PostgreSQL (when
// IPA_TEST_POSTGRES names a cluster, scripts/pg-test-cluster.sh): DocumentReference
// `relationship` (a composite whose first part is a reference), the three-part MolecularSequence
// coordinates, Location `near`, their 400s, and their presence in /metadata.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "harness.h"
#include "pg_harness.h"

namespace ipa::testing {
namespace {

class SearchExtraTest : public BackendTest {
 protected:
  void SetUp() override {
    use_backend("ipa_sx");
    if (store_.empty()) return;
    server_ = std::make_unique<ServerProcess>(store_, std::vector<std::string>{},
                                              std::vector<std::string>{}, "serve", false,
                                              dir_.file("srv"));
    ASSERT_GT(server_->port(), 0);
  }

  void put(const std::string& type, const std::string& id, const std::string& body) {
    auto r =
        server_->send("PUT", "/fhir/" + type + "/" + id,
                      R"({"resourceType": ")" + type + R"(", "id": ")" + id + "\", " + body + "}",
                      {{"Content-Type", "application/fhir+json"}});
    ASSERT_TRUE(r.status == 200 || r.status == 201) << type << "/" << id << ": " << r.body;
  }

  // The ids of the matches of `GET /fhir/<query>` (one page; the tests stay below _count).
  std::set<std::string> ids(const std::string& query) {
    auto r = server_->get("/fhir/" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body.substr(0, 400);
    std::set<std::string> out;
    const json::Value b = body_json(r);
    if (const json::Value* entries = b.find("entry")) {
      for (const auto& e : entries->items()) {
        if (e.find("search")->get_string("mode") != "match") continue;
        out.insert(std::string(e.find("resource")->get_string("id")));
      }
    }
    return out;
  }

  // A 400 whose OperationOutcome names `param`.
  void expect_bad(const std::string& query, const std::string& param) {
    auto r = server_->get("/fhir/" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body.substr(0, 400);
    const json::Value oo = body_json(r);
    EXPECT_EQ(issue_expression(oo), param) << query;
  }

  std::unique_ptr<ServerProcess> server_;
};

INSTANTIATE_TEST_SUITE_P(Stores, SearchExtraTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

using Ids = std::set<std::string>;

std::string docref(const std::string& relates_to) {
  return R"("status": "current", "content": [{"attachment": {"contentType": "text/plain",
    "url": "http://example.org/a.txt"}}])" +
         (relates_to.empty() ? "" : R"(, "relatesTo": [)" + relates_to + "]");
}

std::string relates(const std::string& code, const std::string& target) {
  return R"({"code": ")" + code + R"(", "target": {"reference": ")" + target + "\"}}";
}

TEST_P(SearchExtraTest, RelationshipPairsTargetAndCodeOfOneRelatesTo) {
  put("DocumentReference", "old", docref(""));
  put("DocumentReference", "base", docref(""));
  // d1 replaces old and appends base (written as an absolute URL on this server); d2 the
  // other way round, so a search mixing the two elements of one resource finds nothing.
  put("DocumentReference", "d1",
      docref(relates("replaces", "DocumentReference/old") + ", " +
             relates("appends", server_->base() + "/DocumentReference/base")));
  put("DocumentReference", "d2",
      docref(relates("replaces", "DocumentReference/base") + ", " +
             relates("appends", "DocumentReference/old")));
  put("DocumentReference", "d3",
      docref(relates("signs", "https://elsewhere.example/fhir/DocumentReference/7")));

  // The three reference forms give the same answer (R20).
  for (const std::string& target : std::vector<std::string>{
           "DocumentReference/old", "old", server_->base() + "/DocumentReference/old"}) {
    SCOPED_TRACE(target);
    EXPECT_EQ(ids("DocumentReference?relationship=" + target + "$replaces"), Ids{"d1"});
    EXPECT_EQ(ids("DocumentReference?relationship=" + target + "$appends"), Ids{"d2"});
  }
  EXPECT_EQ(ids("DocumentReference?relationship=DocumentReference/base$appends"), Ids{"d1"});
  EXPECT_EQ(ids("DocumentReference?relationship=base$replaces"), Ids{"d2"});
  EXPECT_TRUE(ids("DocumentReference?relationship=DocumentReference/old$signs").empty());
  // The relation code with its system, and an OR of two values.
  EXPECT_EQ(ids("DocumentReference?relationship=DocumentReference/old$"
                "http://hl7.org/fhir/document-relationship-type|replaces"),
            Ids{"d1"});
  EXPECT_EQ(ids("DocumentReference?relationship=old$replaces,old$appends"), (Ids{"d1", "d2"}));
  EXPECT_EQ(ids("DocumentReference?relationship=https://elsewhere.example/fhir/"
                "DocumentReference/7$signs"),
            Ids{"d3"});
  EXPECT_EQ(ids("DocumentReference?relationship:missing=true"), (Ids{"base", "old"}));

  // A new version replaces the rows.
  put("DocumentReference", "d1", docref(relates("appends", "DocumentReference/old")));
  EXPECT_TRUE(ids("DocumentReference?relationship=old$replaces").empty());
  EXPECT_EQ(ids("DocumentReference?relationship=old$appends"), (Ids{"d1", "d2"}));

  expect_bad("DocumentReference?relationship=DocumentReference/old", "relationship");
  expect_bad("DocumentReference?relationship=DocumentReference/old$replaces$x", "relationship");
  expect_bad("DocumentReference?relationship=$replaces", "relationship");
  expect_bad("DocumentReference?relationship=NoSuchType/1$replaces", "relationship");
}

TEST_P(SearchExtraTest, ThreePartCoordinatesMatchOneVariant) {
  const std::string reference_seq =
      R"("referenceSeq": {"chromosome": {"coding": [{"system":
      "http://terminology.hl7.org/CodeSystem/chromosome-human", "code": "1"}]},
      "referenceSeqId": {"coding": [{"system": "http://www.ncbi.nlm.nih.gov/nuccore",
      "code": "NC_000001.11"}]}, "windowStart": 100, "windowEnd": 200})";
  put("MolecularSequence", "m1",
      R"("type": "dna", "coordinateSystem": 0, )" + reference_seq +
          R"(, "variant": [{"start": 120, "end": 121}, {"start": 150, "end": 160}])");
  put("MolecularSequence", "m2",
      R"("type": "dna", "coordinateSystem": 0, "variant": [{"start": 120, "end": 160}])");

  EXPECT_EQ(ids("MolecularSequence?chromosome-variant-coordinate=1$120$121"), Ids{"m1"});
  EXPECT_EQ(ids("MolecularSequence?chromosome-variant-coordinate=1$ge150$le160"), Ids{"m1"});
  // The start of one variant with the end of the other.
  EXPECT_TRUE(ids("MolecularSequence?chromosome-variant-coordinate=1$120$160").empty());
  EXPECT_EQ(ids("MolecularSequence?referenceseqid-variant-coordinate="
                "http://www.ncbi.nlm.nih.gov/nuccore|NC_000001.11$lt130$gt120"),
            Ids{"m1"});
  EXPECT_EQ(ids("MolecularSequence?chromosome-window-coordinate=1$100$200"), Ids{"m1"});
  EXPECT_TRUE(
      ids("MolecularSequence?referenceseqid-window-coordinate=NC_000001.11$gt100$200").empty());

  expect_bad("MolecularSequence?chromosome-variant-coordinate=1$120",
             "chromosome-variant-coordinate");
  expect_bad("MolecularSequence?chromosome-window-coordinate=1$abc$200",
             "chromosome-window-coordinate");
}

TEST_P(SearchExtraTest, NearFindsLocationsWithinTheDistance) {
  auto place = [](double lat, double lon) {
    return R"("position": {"latitude": )" + std::to_string(lat) + R"(, "longitude": )" +
           std::to_string(lon) + "}";
  };
  put("Location", "ann-arbor", place(42.2808, -83.7430));
  put("Location", "detroit", place(42.3314, -83.0458));  // about 57.5 km east
  put("Location", "east", place(0, 179.95));
  put("Location", "west", place(0, -179.95));  // about 11 km from east, across 180 degrees
  put("Location", "nowhere", R"("name": "no position")");

  EXPECT_EQ(ids("Location?near=42.2808|-83.7430|10|km"), Ids{"ann-arbor"});
  EXPECT_EQ(ids("Location?near=42.2808|-83.7430|60|km"), (Ids{"ann-arbor", "detroit"}));
  EXPECT_EQ(ids("Location?near=42.2808|-83.7430|55"), Ids{"ann-arbor"});  // km by default
  EXPECT_EQ(ids("Location?near=42.2808|-83.7430|58000|m"), (Ids{"ann-arbor", "detroit"}));
  EXPECT_EQ(ids("Location?near=42.2808|-83.7430|57000|m"), Ids{"ann-arbor"});
  EXPECT_EQ(ids("Location?near=42.2808|-83.7430|34|[mi_i]"), Ids{"ann-arbor"});  // 54.7 km
  EXPECT_EQ(ids("Location?near=42.2808|-83.7430|37|%5Bmi_i%5D"), (Ids{"ann-arbor", "detroit"}));
  EXPECT_EQ(ids("Location?near=0|179.95|20|km"), (Ids{"east", "west"}));
  EXPECT_EQ(ids("Location?near=0|-179.99|5|km"), Ids{"west"});
  EXPECT_EQ(ids("Location?near=42.2808|-83.7430|10|km,0|179.95|1|km"), (Ids{"ann-arbor", "east"}));
  EXPECT_EQ(ids("Location?near:missing=true"), Ids{"nowhere"});
  // Metres count: 0.0009 degrees of latitude are 100.07 m.
  put("Location", "close", place(42.2817, -83.7430));
  EXPECT_EQ(ids("Location?near=42.2808|-83.7430|100|m"), Ids{"ann-arbor"});
  EXPECT_EQ(ids("Location?near=42.2808|-83.7430|100.2|m"), (Ids{"ann-arbor", "close"}));
  put("Location", "close", R"("name": "moved away")");
  // A position change moves the resource.
  put("Location", "detroit", place(0, 179.9));
  EXPECT_EQ(ids("Location?near=42.2808|-83.7430|60|km"), Ids{"ann-arbor"});

  for (const std::string v : {"abc", "42.2|abc", "91|0|1|km", "0|181|1|km", "0|0|-1|km",
                              "0|0|1|furlong", "0|0||km", "0|0|1|km|extra", "42.2"}) {
    SCOPED_TRACE(v);
    expect_bad("Location?near=" + v, "near");
  }
}

TEST_P(SearchExtraTest, MetadataListsTheNewParameters) {
  auto r = server_->get("/fhir/metadata");
  ASSERT_EQ(r.status, 200);
  const json::Value cs = body_json(r);
  std::set<std::string> found;
  const json::Value& rest = cs.find("rest")->items()[0];
  for (const auto& res : rest.find("resource")->items()) {
    const json::Value* params = res.find("searchParam");
    if (params == nullptr) continue;
    for (const auto& sp : params->items()) {
      found.insert(std::string(res.get_string("type")) + ":" + std::string(sp.get_string("name")) +
                   ":" + std::string(sp.get_string("type")));
    }
  }
  for (const char* want : {"DocumentReference:relationship:composite", "Location:near:special",
                           "MolecularSequence:chromosome-variant-coordinate:composite",
                           "MolecularSequence:chromosome-window-coordinate:composite",
                           "MolecularSequence:referenceseqid-variant-coordinate:composite",
                           "MolecularSequence:referenceseqid-window-coordinate:composite"}) {
    EXPECT_TRUE(found.count(want)) << want;
  }
}

}  // namespace
}  // namespace ipa::testing
