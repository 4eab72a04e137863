// Test data: every IPA search combination (SHALL and SHOULD) and single SHALL parameter, as the
// conformance kits send them (requirements.md 2.7), for the plan tests of every back end.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "search/query.h"

namespace ipa::search::testing {

// IPA server CapabilityStatement combinations (SHALL and SHOULD) and single SHALL parameters,
// as the conformance kits send them (requirements.md 2.7).
inline const std::vector<std::pair<std::string, search::Params>> kIpaSearches = {
    {"AllergyIntolerance", {{"patient", "p1"}}},
    {"AllergyIntolerance", {{"patient", "p1"}, {"clinical-status", "active"}}},
    {"Condition", {{"patient", "p1"}}},
    {"Condition", {{"patient", "p1"}, {"clinical-status", "active"}}},
    {"Condition", {{"patient", "p1"}, {"category", "problem-list-item"}}},
    {"Condition",
     {{"patient", "p1"}, {"category", "problem-list-item"}, {"clinical-status", "active"}}},
    {"Condition", {{"patient", "p1"}, {"code", "http://snomed.info/sct|44054006"}}},
    {"Condition", {{"patient", "p1"}, {"onset-date", "ge2020-01-01"}}},
    {"Condition", {{"patient", "Patient/p1"}, {"verification-status", "confirmed"}}},
    {"DocumentReference", {{"_id", "d1"}}},
    {"DocumentReference", {{"patient", "p1"}}},
    {"DocumentReference", {{"patient", "p1"}, {"category", "34109-9"}}},
    {"DocumentReference", {{"patient", "p1"}, {"category", "34109-9"}, {"date", "ge2020"}}},
    {"DocumentReference", {{"patient", "p1"}, {"type", "http://loinc.org|34133-9"}}},
    {"DocumentReference", {{"patient", "p1"}, {"contenttype", "application/pdf"}}},
    {"DocumentReference", {{"patient", "p1"}, {"status", "current"}}},
    {"DocumentReference", {{"patient", "p1"}, {"type", "34133-9"}, {"date", "ge2020"}}},
    {"DocumentReference", {{"patient", "p1"}, {"type", "34133-9"}, {"period", "ge2020"}}},
    {"Immunization", {{"patient", "p1"}}},
    {"Immunization", {{"patient", "p1"}, {"date", "ge2020"}}},
    {"Immunization", {{"patient", "p1"}, {"status", "completed"}}},
    {"MedicationRequest", {{"patient", "p1"}}},
    {"MedicationRequest", {{"patient", "p1"}, {"intent", "order"}}},
    {"MedicationRequest", {{"patient", "p1"}, {"intent", "order"}, {"authoredon", "ge2020"}}},
    {"MedicationRequest", {{"patient", "p1"}, {"intent", "order"}, {"status", "active"}}},
    {"MedicationStatement", {{"patient", "p1"}}},
    {"MedicationStatement", {{"patient", "p1"}, {"status", "active"}}},
    {"Observation", {{"patient", "p1"}, {"category", "laboratory"}}},
    {"Observation", {{"patient", "p1"}, {"code", "http://loinc.org|85354-9"}}},
    {"Observation", {{"patient", "p1"}, {"category", "vital-signs"}, {"date", "ge2020-01-01"}}},
    {"Observation", {{"patient", "p1"}, {"category", "laboratory"}, {"status", "final"}}},
    {"Observation", {{"patient", "p1"}, {"code", "85354-9"}, {"date", "ge2020"}}},
    {"Observation", {{"patient", "p1"}, {"category", "laboratory"}, {"_sort", "-date"}}},
    // Composites (beyond IPA): with a patient, and alone (led by the composite's code).
    {"Observation",
     {{"patient", "p1"}, {"component-code-value-quantity", "http://loinc.org|8480-6$gt140"}}},
    {"Observation", {{"code-value-concept", "http://loinc.org|72166-2$8517006"}}},
    {"Patient", {{"_id", "p1"}}},
    {"Patient", {{"identifier", "urn:oid:1.2.3|123"}}},
    {"Patient", {{"birthdate", "1970-01-01"}, {"family", "smith"}}},
    {"Patient", {{"birthdate", "1970-01-01"}, {"name", "smith"}}},
    {"Patient", {{"family", "smith"}, {"gender", "male"}}},
    {"Patient", {{"gender", "male"}, {"name", "smith"}}},
    {"Patient", {{"family", "smith"}}},
    {"Patient", {{"given", "john"}}},
    {"Patient", {{"name", "smith"}}},
};

}  // namespace ipa::search::testing
