// Conformance cases for the composite and position searches added for the last R4 parameters:
// a composite whose value is a reference (DocumentReference relationship), a composite with a
// third number component (MolecularSequence coordinates) and Location `near`. Included after
// conformance.h by each back end's test, so they run wherever SearchConformance is instantiated.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "storage/testing/conformance.h"

namespace ipa::storage::testing {

inline CompositeRow relation_row(const std::string& code, const std::string& target_type,
                                 const std::string& target_id, const std::string& url = "") {
  CompositeRow r;
  r.param = "relationship";
  r.system = "http://hl7.org/fhir/document-relationship-type";
  r.code = code;
  r.value_kind = IndexKind::kReference;
  r.v_system = target_type;
  r.v_code = target_id;
  r.v_text = url;
  return r;
}

inline Condition relation_cond(const std::string& code, const std::string& target_type,
                               const std::string& target_id, const std::string& url = "") {
  Condition v;
  v.kind = IndexKind::kReference;
  v.target_type = target_type;
  v.target_id = target_id;
  v.url = url;
  Condition c;
  c.kind = IndexKind::kComposite;
  c.param = "relationship";
  c.code = code;
  c.value = std::make_shared<const Condition>(std::move(v));
  return c;
}

TEST_P(SearchConformance, ReferenceCompositeMatchesTargetAndCodeOfOneElement) {
  Write d1 = make_write("DocumentReference", "d1", "\"x\":1");
  d1.index.composites = {relation_row("replaces", "DocumentReference", "a"),
                         relation_row("appends", "DocumentReference", "b")};
  auto created = store_->create(std::move(d1));
  ASSERT_TRUE(created.ok()) << created.error().log_detail;
  Write d2 = make_write("DocumentReference", "d2", "\"x\":1");
  d2.index.composites = {relation_row("replaces", "DocumentReference", "b"),
                         relation_row("appends", "DocumentReference", "a")};
  ASSERT_TRUE(store_->create(std::move(d2)).ok());
  Write d3 = make_write("DocumentReference", "d3", "\"x\":1");
  d3.index.composites = {
      relation_row("replaces", "", "", "https://other.example/DocumentReference/a")};
  ASSERT_TRUE(store_->create(std::move(d3)).ok());
  auto find = [&](Condition c) {
    SearchPlan p;
    p.resource_type = "DocumentReference";
    p.all_of.push_back(Clause{{std::move(c)}, false});
    return ids_of(run(p));
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(find(relation_cond("replaces", "DocumentReference", "a")), Ids{"d1"});
  EXPECT_EQ(find(relation_cond("replaces", "DocumentReference", "b")), Ids{"d2"});
  EXPECT_EQ(find(relation_cond("APPENDS", "DocumentReference", "a")), Ids{"d2"});
  EXPECT_EQ(find(relation_cond("replaces", "", "a")), Ids{"d1"});  // any target type
  EXPECT_TRUE(find(relation_cond("replaces", "Patient", "a")).empty());
  EXPECT_TRUE(find(relation_cond("replaces", "DocumentReference", "A")).empty());  // ids: exact
  EXPECT_TRUE(find(relation_cond("signs", "DocumentReference", "a")).empty());
  EXPECT_EQ(find(relation_cond("replaces", "", "", "https://other.example/DocumentReference/a")),
            Ids{"d3"});
}

inline CompositeRow coordinate_row(const std::string& chromosome, double start, double end) {
  CompositeRow r;
  r.param = "chromosome-variant-coordinate";
  r.system = "http://terminology.hl7.org/CodeSystem/chromosome-human";
  r.code = chromosome;
  r.value_kind = IndexKind::kNumber;
  r.v_low = start - 0.5;
  r.v_high = start + 0.5;
  r.v2_low = end - 0.5;
  r.v2_high = end + 0.5;
  return r;
}

TEST_P(SearchConformance, ThreeComponentCompositeMatchesAllPartsOfOneElement) {
  Write m1 = make_write("MolecularSequence", "m1", "\"x\":1");
  m1.index.composites = {coordinate_row("1", 120, 121), coordinate_row("1", 150, 160)};
  ASSERT_TRUE(store_->create(std::move(m1)).ok());
  Write m2 = make_write("MolecularSequence", "m2", "\"x\":1");
  m2.index.composites = {coordinate_row("2", 120, 160)};
  ASSERT_TRUE(store_->create(std::move(m2)).ok());
  auto number = [](Prefix prefix, double v) {
    Condition n;
    n.kind = IndexKind::kNumber;
    n.prefix = prefix;
    n.dlow = v - 0.5;
    n.dhigh = v + 0.5;
    return std::make_shared<const Condition>(n);
  };
  auto find = [&](const std::string& chromosome, Prefix p1, double start, Prefix p2, double end) {
    Condition c;
    c.kind = IndexKind::kComposite;
    c.param = "chromosome-variant-coordinate";
    c.code = chromosome;
    c.value = number(p1, start);
    c.value2 = number(p2, end);
    SearchPlan p;
    p.resource_type = "MolecularSequence";
    p.all_of.push_back(Clause{{std::move(c)}, false});
    return ids_of(run(p));
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(find("1", Prefix::kGe, 120, Prefix::kLe, 121), Ids{"m1"});
  EXPECT_EQ(find("1", Prefix::kEq, 150, Prefix::kEq, 160), Ids{"m1"});
  // Start of one variant with the end of another: no match.
  EXPECT_TRUE(find("1", Prefix::kEq, 120, Prefix::kEq, 160).empty());
  EXPECT_EQ(find("2", Prefix::kEq, 120, Prefix::kEq, 160), Ids{"m2"});
  EXPECT_TRUE(find("2", Prefix::kGt, 120, Prefix::kEq, 160).empty());
}

inline PositionRow position_row(double lat, double lon) {
  constexpr double kRad = 3.14159265358979323846 / 180;
  PositionRow r;
  r.param = "near";
  r.latitude = lat;
  r.longitude = lon;
  r.x = std::cos(lat * kRad) * std::cos(lon * kRad);
  r.y = std::cos(lat * kRad) * std::sin(lon * kRad);
  r.z = std::sin(lat * kRad);
  return r;
}

// Points within `km` of (lat, lon): the exact test plus a latitude box; the longitude box only
// when `lon_box` (the search module drops it where it would wrap).
inline Condition near_cond(double lat, double lon, double km, bool lon_box) {
  constexpr double kRad = 3.14159265358979323846 / 180;
  const PositionRow center = position_row(lat, lon);
  const double angle = km / 6371.0088;
  Condition c;
  c.kind = IndexKind::kPosition;
  c.param = "near";
  c.x = center.x;
  c.y = center.y;
  c.z = center.z;
  c.min_dot = std::cos(angle);
  c.lat_min = lat - angle / kRad;
  c.lat_max = lat + angle / kRad;
  c.lon_min = lon_box ? lon - 2 * angle / kRad : -180;
  c.lon_max = lon_box ? lon + 2 * angle / kRad : 180;
  return c;
}

TEST_P(SearchConformance, PositionsWithinAGreatCircleDistance) {
  const std::vector<std::pair<std::string, PositionRow>> places = {
      {"ann-arbor", position_row(42.2808, -83.7430)},
      {"detroit", position_row(42.3314, -83.0458)},  // about 57 km east of Ann Arbor
      {"east", position_row(0, 179.95)},
      {"west", position_row(0, -179.95)},  // about 11 km from `east`, across the antimeridian
  };
  for (const auto& [id, row] : places) {
    Write w = make_write("Location", id, "\"x\":1");
    w.index.positions = {row};
    ASSERT_TRUE(store_->create(std::move(w)).ok());
  }
  ASSERT_TRUE(store_->create(make_write("Location", "nowhere", "\"x\":1")).ok());
  auto find = [&](Condition c) {
    SearchPlan p;
    p.resource_type = "Location";
    p.all_of.push_back(Clause{{std::move(c)}, false});
    return ids_of(run(p));
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(find(near_cond(42.2808, -83.7430, 10, true)), Ids{"ann-arbor"});
  EXPECT_EQ(find(near_cond(42.2808, -83.7430, 60, true)), (Ids{"ann-arbor", "detroit"}));
  EXPECT_EQ(find(near_cond(42.2808, -83.7430, 55, false)), Ids{"ann-arbor"});
  EXPECT_EQ(find(near_cond(0, 179.95, 20, false)), (Ids{"east", "west"}));
  Condition missing;
  missing.kind = IndexKind::kPosition;
  missing.param = "near";
  missing.missing = true;
  EXPECT_EQ(find(missing), Ids{"nowhere"});
}

}  // namespace ipa::storage::testing
