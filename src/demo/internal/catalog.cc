#include "demo/internal/catalog.h"

#include <string>

#include "demo/internal/terminology.h"

namespace ipa::demo::internal {
namespace {

Value meta_profile(std::string_view profile) {
  return Obj().val("profile", string_array(std::string(kIpa) + std::string(profile))).done();
}

Value organization(const OrganizationDef& org, int index) {
  const std::string n = std::to_string(index + 1);
  return Obj()
      .str("resourceType", "Organization")
      .str("id", org.id)
      .val("identifier", array_of(Obj().str("system", kOrgSystem).str("value", "ORG-" + n).done()))
      .boolean("active", true)
      .val("type", array_of(concept_of(kHealthcareProvider)))
      .str("name", org.name)
      .val("telecom", array_of(Obj()
                                   .str("system", "phone")
                                   .str("value", "+1 555 010 00" + n)
                                   .str("use", "work")
                                   .done()))
      .val("address", array_of(Obj()
                                   .str("use", "work")
                                   .str("text", n + " Example Way, 99999 " + std::string(org.city))
                                   .val("line", string_array(n + " Example Way"))
                                   .str("city", org.city)
                                   .str("postalCode", "99999")
                                   .done()))
      .done();
}

Value practitioner(const StaffDef& s, int index) {
  Obj name;
  name.str("use", "official").str("text", s.text).str("family", s.family);
  name.val("given", string_array(s.given));
  if (s.kind != StaffKind::kNurse) name.val("prefix", string_array("Dr."));
  const std::string n = padded(index + 1, 2);
  return Obj()
      .str("resourceType", "Practitioner")
      .str("id", s.id)
      .val("meta", meta_profile("ipa-practitioner"))
      .val("identifier",
           array_of(Obj().str("system", kStaffSystem).str("value", "STAFF-" + n).done()))
      .boolean("active", true)
      .val("name", array_of(name.done()))
      .val("telecom", array_of(Obj()
                                   .str("system", "email")
                                   .str("value", std::string(s.id) + "@ipa-demo.example.org")
                                   .str("use", "work")
                                   .done()))
      .str("gender", s.gender)
      .done();
}

Value practitioner_role(const StaffDef& s) {
  const OrganizationDef& org = kOrganizations[s.organization];
  return Obj()
      .str("resourceType", "PractitionerRole")
      .str("id", s.role_id)
      .val("meta", meta_profile("ipa-practitionerrole"))
      .boolean("active", true)
      .val("period", period("2010-01-01"))
      .val("practitioner", reference("Practitioner", s.id, s.text))
      .val("organization", reference("Organization", org.id, org.name))
      .val("code", array_of(concept_of(s.kind == StaffKind::kNurse ? kRoleNurse : kRoleDoctor)))
      .val("specialty", array_of(concept_of(kSpecialties[s.specialty])))
      .val("telecom", array_of(Obj()
                                   .str("system", "phone")
                                   .str("value", "+1 555 020 " + std::string(s.id.substr(5)))
                                   .str("use", "work")
                                   .done()))
      .done();
}

Value medication(const MedicationDef& m) {
  Value denominator;
  if (m.form.code == "MDINHL") {
    denominator = Obj()
                      .num("value", "1")
                      .str("unit", "actuation")
                      .str("system", kUcum)
                      .str("code", "{actuat}")
                      .done();
  } else {
    denominator = Obj()
                      .num("value", "1")
                      .str("unit", m.form.display)
                      .str("system", m.form.system)
                      .str("code", m.form.code)
                      .done();
  }
  return Obj()
      .str("resourceType", "Medication")
      .str("id", m.id)
      .val("meta", meta_profile("ipa-medication"))
      .val("code", concept_of(m.rxnorm, m.atc, m.rxnorm.display))
      .str("status", "active")
      .val("form", concept_of(m.form))
      .val("ingredient",
           array_of(Obj()
                        .val("itemCodeableConcept", concept_of(m.atc))
                        .boolean("isActive", true)
                        .val("strength",
                             Obj()
                                 .val("numerator", ucum_quantity(std::string(m.strength),
                                                                 m.strength_unit, m.strength_unit))
                                 .val("denominator", std::move(denominator))
                                 .done())
                        .done()))
      .done();
}

}  // namespace

core::Status write_catalog(const std::function<core::Status(Value)>& emit) {
  int i = 0;
  for (const OrganizationDef& org : kOrganizations) {
    IPA_RETURN_IF_ERROR(emit(organization(org, i++)));
  }
  i = 0;
  for (const StaffDef& s : kStaff) IPA_RETURN_IF_ERROR(emit(practitioner(s, i++)));
  for (const StaffDef& s : kStaff) IPA_RETURN_IF_ERROR(emit(practitioner_role(s)));
  for (const MedicationDef& m : kMedications) IPA_RETURN_IF_ERROR(emit(medication(m)));
  return {};
}

std::string_view medication_display(int index) { return kMedications[index].rxnorm.display; }

}  // namespace ipa::demo::internal
