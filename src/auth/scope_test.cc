#include "auth/scope.h"

#include <gtest/gtest.h>

namespace ipa::auth {
namespace {

constexpr uint8_t kRS = kPermRead | kPermSearch;
constexpr uint8_t kCUD = kPermCreate | kPermUpdate | kPermDelete;
constexpr uint8_t kAll = kRS | kCUD;

struct ValidCase {
  std::string text;
  ScopeKind kind;
  Level level = Level::kPatient;
  std::string type;
  uint8_t permissions = 0;
  bool v1 = false;
  std::vector<QueryConstraint> query;
};

TEST(ScopeParse, ValidScopes) {
  const std::vector<ValidCase> cases = {
      {"patient/Observation.read", ScopeKind::kClinical, Level::kPatient, "Observation", kRS, true},
      {"patient/*.read", ScopeKind::kClinical, Level::kPatient, "*", kRS, true},
      {"user/Patient.read", ScopeKind::kClinical, Level::kUser, "Patient", kRS, true},
      {"patient/Observation.write", ScopeKind::kClinical, Level::kPatient, "Observation", kCUD,
       true},
      {"user/*.*", ScopeKind::kClinical, Level::kUser, "*", kAll, true},
      {"system/Patient.read", ScopeKind::kClinical, Level::kSystem, "Patient", kRS, true},
      {"patient/Observation.rs", ScopeKind::kClinical, Level::kPatient, "Observation", kRS},
      {"patient/*.rs", ScopeKind::kClinical, Level::kPatient, "*", kRS},
      {"patient/Patient.r", ScopeKind::kClinical, Level::kPatient, "Patient", kPermRead},
      {"patient/Observation.s", ScopeKind::kClinical, Level::kPatient, "Observation", kPermSearch},
      {"user/Observation.cruds", ScopeKind::kClinical, Level::kUser, "Observation", kAll},
      {"patient/Condition.cud", ScopeKind::kClinical, Level::kPatient, "Condition", kCUD},
      {"patient/Observation.c", ScopeKind::kClinical, Level::kPatient, "Observation", kPermCreate},
      {"patient/Observation.ds", ScopeKind::kClinical, Level::kPatient, "Observation",
       kPermDelete | kPermSearch},
      {"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/"
       "observation-category|laboratory",
       ScopeKind::kClinical,
       Level::kPatient,
       "Observation",
       kRS,
       false,
       {{"category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}},
      {"patient/Observation.rs?category=laboratory&status=final",
       ScopeKind::kClinical,
       Level::kPatient,
       "Observation",
       kRS,
       false,
       {{"category", "laboratory"}, {"status", "final"}}},
      {"patient/Observation.rs?code=http%3A%2F%2Floinc.org%7C1234-5",
       ScopeKind::kClinical,
       Level::kPatient,
       "Observation",
       kRS,
       false,
       {{"code", "http://loinc.org|1234-5"}}},
      {"launch", ScopeKind::kLaunch},
      {"launch/patient", ScopeKind::kLaunchPatient},
      {"launch/encounter", ScopeKind::kLaunchOther},
      {"openid", ScopeKind::kOpenid},
      {"fhirUser", ScopeKind::kFhirUser},
      {"profile", ScopeKind::kProfile},
      {"offline_access", ScopeKind::kOfflineAccess},
      {"online_access", ScopeKind::kOnlineAccess},
      {"http://example.org/custom-scope", ScopeKind::kOpaque},
      {"__experimental", ScopeKind::kOpaque},
      {"email", ScopeKind::kOpaque},
  };
  for (const ValidCase& c : cases) {
    SCOPED_TRACE(c.text);
    auto s = parse_scope(c.text);
    ASSERT_TRUE(s.ok()) << s.error().diagnostics;
    EXPECT_EQ(s->kind, c.kind);
    EXPECT_EQ(s->text, c.text);
    if (c.kind == ScopeKind::kClinical) {
      EXPECT_EQ(s->level, c.level);
      EXPECT_EQ(s->resource_type, c.type);
      EXPECT_EQ(s->permissions, c.permissions);
      EXPECT_EQ(s->v1, c.v1);
      EXPECT_EQ(s->query, c.query);
    }
  }
}

TEST(ScopeParse, InvalidScopes) {
  const std::vector<std::string> cases = {
      "patient/Observation.sr",                     // out of order (S63)
      "patient/Observation.dus",                    // out of order
      "patient/Observation.rr",                     // repeated letter
      "patient/Observation.x",                      // unknown letter
      "patient/Observation.",                       // no permissions
      "patient/Observation",                        // no dot
      "patient/.rs",                                // no type
      "patient/observation.rs",                     // not a type name
      "patient/Obs-ervation.rs",                    // not a type name
      "patient/Observation.reads",                  // neither v1 nor v2
      "patient/Observation.Read",                   // v1 is case-sensitive
      "user/Observation.read?category=laboratory",  // query on v1
      "patient/Observation.rs?",                    // empty query
      "patient/Observation.rs?category",            // no value
      "patient/Observation.rs?category=",           // empty value
      "patient/Observation.rs?code:text=x",         // modifier
      "patient/Observation.rs?subject.name=x",      // chaining
      "patient/Observation.rs?_filter=code eq x",   // _filter (and a space: two tokens)
      "patient/Observation.rs?_filter=x",           // _filter
      "patient/Observation.rs?code=%ZZ",            // bad percent-encoding
      "patient/Observation.rs?code=a&&status=b",    // empty part
      "scope\"quote",                               // outside scope-token chars
      "back\\slash",                                // outside scope-token chars
      "tab\tscope",                                 // outside scope-token chars
      "system/*.",                                  // no permissions
  };
  for (const std::string& c : cases) {
    SCOPED_TRACE(c);
    auto s = ScopeSet::parse(c);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().http_status, 400);
    EXPECT_NE(s.error().diagnostics.find("Invalid scope"), std::string::npos);
  }
}

TEST(ScopeSet, SplitsOnSpacesDedupesAndEchoes) {
  auto s = ScopeSet::parse("  launch/patient  openid fhirUser patient/*.read openid ");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->scopes().size(), 4u);
  EXPECT_EQ(s->str(), "launch/patient openid fhirUser patient/*.read");  // v1 echoed (S62)
  EXPECT_TRUE(s->has(ScopeKind::kLaunchPatient));
  EXPECT_TRUE(s->has_patient_level());
  EXPECT_FALSE(s->has(ScopeKind::kOfflineAccess));
  EXPECT_TRUE(ScopeSet::parse("")->empty());
}

TEST(ScopeSet, SubsetKeepsOrder) {
  auto s = ScopeSet::parse("launch/patient patient/*.rs offline_access openid fhirUser");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->subset({"openid", "patient/*.rs", "unknown"}).str(), "patient/*.rs openid");
}

TEST(ScopeCheck, PatientScopeConfinesToPatientInContext) {
  auto s = ScopeSet::parse("patient/Observation.rs");
  AccessContext ctx{"pat-1", {"pat-1", "pat-2"}};
  Access read = s->check(Interaction::kRead, "Observation", ctx);
  ASSERT_TRUE(read.allowed());
  ASSERT_EQ(read.permits.size(), 1u);
  EXPECT_EQ(read.permits[0].patients, std::vector<std::string>{"pat-1"});
  EXPECT_TRUE(read.unrestricted_for("pat-1"));
  EXPECT_FALSE(read.unrestricted_for("pat-2"));
  EXPECT_TRUE(s->check(Interaction::kSearch, "Observation", ctx).allowed());
  EXPECT_FALSE(s->check(Interaction::kRead, "Condition", ctx).allowed());
  EXPECT_FALSE(s->check(Interaction::kCreate, "Observation", ctx).allowed());
  EXPECT_FALSE(s->check(Interaction::kDelete, "Observation", ctx).allowed());
  // No patient in context: a patient/ scope allows nothing.
  EXPECT_FALSE(s->check(Interaction::kRead, "Observation", AccessContext{}).allowed());
}

TEST(ScopeCheck, V1ReadEqualsV2Rs) {
  AccessContext ctx{"pat-1", {}};
  for (const char* text : {"patient/*.read", "patient/*.rs", "patient/*.r patient/*.s"}) {
    SCOPED_TRACE(text);
    auto s = ScopeSet::parse(text);
    for (Interaction i : {Interaction::kRead, Interaction::kSearch}) {
      EXPECT_TRUE(s->check(i, "Observation", ctx).allowed());
      EXPECT_TRUE(s->check(i, "SomeFutureType", ctx).allowed());  // wildcard
    }
    for (Interaction i : {Interaction::kCreate, Interaction::kUpdate, Interaction::kDelete}) {
      EXPECT_FALSE(s->check(i, "Observation", ctx).allowed());
    }
  }
  auto write = ScopeSet::parse("patient/Observation.write");
  EXPECT_TRUE(write->check(Interaction::kUpdate, "Observation", ctx).allowed());
  EXPECT_FALSE(write->check(Interaction::kRead, "Observation", ctx).allowed());
}

TEST(ScopeCheck, GranularConstraintsAreReturned) {
  auto s = ScopeSet::parse(
      "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/"
      "observation-category|laboratory patient/Observation.rs?category=vital-signs");
  AccessContext ctx{"pat-1", {}};
  Access a = s->check(Interaction::kSearch, "Observation", ctx);
  ASSERT_EQ(a.permits.size(), 2u);  // either category
  EXPECT_EQ(a.permits[0].constraints[0].param, "category");
  EXPECT_EQ(a.permits[1].constraints[0].value, "vital-signs");
  EXPECT_FALSE(a.unrestricted_for("pat-1"));
}

TEST(ScopeCheck, UnconstrainedScopeAbsorbsGranularOnes) {
  auto s = ScopeSet::parse("patient/Observation.rs?category=laboratory patient/*.rs");
  Access a = s->check(Interaction::kRead, "Observation", AccessContext{"pat-1", {}});
  ASSERT_EQ(a.permits.size(), 1u);
  EXPECT_TRUE(a.permits[0].constraints.empty());
}

TEST(ScopeCheck, UserScopeCoversTheUsersPatients) {
  auto s = ScopeSet::parse("user/Observation.rs patient/Condition.rs");
  AccessContext ctx{"pat-1", {"pat-1", "pat-2"}};
  Access obs = s->check(Interaction::kRead, "Observation", ctx);
  ASSERT_EQ(obs.permits.size(), 1u);
  EXPECT_EQ(obs.permits[0].level, Level::kUser);
  EXPECT_EQ(obs.permits[0].patients, ctx.user_patients);
  EXPECT_TRUE(obs.unrestricted_for("pat-2"));
  EXPECT_FALSE(s->check(Interaction::kRead, "Condition", ctx).unrestricted_for("pat-2"));
}

TEST(ScopeCheck, NonClinicalScopesGrantNothing) {
  auto s = ScopeSet::parse("openid fhirUser launch/patient offline_access x");
  EXPECT_FALSE(s->check(Interaction::kRead, "Patient", AccessContext{"pat-1", {}}).allowed());
}

TEST(ScopeCheck, SystemScopesReachEveryResourceOfTheirTypes) {
  // SMART Backend Services: no patient bounds a system/ permit.
  auto s = ScopeSet::parse("system/Observation.cruds system/Patient.read");
  Access obs = s->check(Interaction::kCreate, "Observation", AccessContext{});
  ASSERT_EQ(obs.permits.size(), 1u);
  EXPECT_EQ(obs.permits[0].level, Level::kSystem);
  EXPECT_TRUE(obs.permits[0].patients.empty());
  EXPECT_TRUE(s->check(Interaction::kSearch, "Patient", AccessContext{}).allowed());
  EXPECT_FALSE(s->check(Interaction::kUpdate, "Patient", AccessContext{}).allowed());
  EXPECT_FALSE(s->check(Interaction::kRead, "Condition", AccessContext{}).allowed());
}

TEST(ScopeCheck, UserScopeWithoutUserPatientsAllowsNothing) {
  auto s = ScopeSet::parse("user/Observation.rs");
  EXPECT_FALSE(s->check(Interaction::kRead, "Observation", AccessContext{}).allowed());
}

TEST(ScopeCovers, NarrowingForRefresh) {
  auto granted = ScopeSet::parse(
      "launch/patient openid fhirUser offline_access patient/*.read "
      "patient/Condition.rs?category=problem-list-item");
  struct Case {
    std::string requested;
    bool covered;
  };
  const std::vector<Case> cases = {
      {"launch/patient openid fhirUser offline_access patient/*.read "
       "patient/Condition.rs?category=problem-list-item",
       true},  // equal (S58)
      {"patient/*.read", true},
      {"patient/Observation.rs", true},  // v2 inside v1 wildcard
      {"patient/Observation.r", true},
      {"patient/Observation.rs?category=laboratory", true},  // narrower than granted
      {"patient/*.rs", true},
      {"openid offline_access", true},
      {"", true},
      {"patient/Observation.c", false},  // more permissions
      {"user/Observation.rs", false},    // other level
      {"patient/*.write", false},
      {"online_access", false},  // new non-clinical scope
      {"launch", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.requested);
    auto requested = ScopeSet::parse(c.requested);
    ASSERT_TRUE(requested.ok());
    EXPECT_EQ(granted->covers(*requested), c.covered);
  }
  auto granular = ScopeSet::parse("patient/Observation.rs?category=laboratory");
  EXPECT_FALSE(granular->covers(*ScopeSet::parse("patient/Observation.rs")));
  EXPECT_TRUE(granular->covers(
      *ScopeSet::parse("patient/Observation.rs?category=laboratory&status=final")));
}

TEST(ScopeDescribe, PlainLanguage) {
  EXPECT_EQ(describe(*parse_scope("patient/Observation.rs")),
            "Read and search the selected patient's lab results, vital signs and other "
            "observations");
  std::string wildcard = describe(*parse_scope("patient/*.read"));
  EXPECT_NE(wildcard.find("added in the future"), std::string::npos);  // S32
  EXPECT_EQ(describe(*parse_scope("patient/Observation.rs?category=http://terminology.hl7.org/"
                                  "CodeSystem/observation-category|laboratory")),
            "Read and search the selected patient's lab results, vital signs and other "
            "observations (only those whose category is laboratory)");
  EXPECT_EQ(describe(*parse_scope("user/CarePlan.cud")),
            "Add to, change and delete the records you can see: care plan records. The app can "
            "change this record: what it adds or changes becomes part of it, and what it deletes "
            "is removed");
  EXPECT_NE(describe(*parse_scope("patient/*.write")).find("The app can change this record"),
            std::string::npos);
  EXPECT_EQ(describe(*parse_scope("patient/*.rs")).find("change"), std::string::npos);
  EXPECT_NE(describe(*parse_scope("offline_access")).find("until you revoke"), std::string::npos);
}

}  // namespace
}  // namespace ipa::auth
