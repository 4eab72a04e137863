// The demo's supporting resources shared by all patients: Organizations, Practitioners with
// their PractitionerRoles, and Medications. Internal to ipa::demo.
#pragma once

#include <functional>
#include <string_view>

#include "core/result.h"
#include "demo/internal/build.h"

namespace ipa::demo::internal {

struct OrganizationDef {
  std::string_view id;
  std::string_view name;
  std::string_view city;
};
inline constexpr OrganizationDef kOrganizations[] = {
    {"org-01", "IPA Demo Family Practice", "Demoville"},
    {"org-02", "IPA Demo General Hospital", "Demoville"},
    {"org-03", "IPA Demo Children's Clinic", "Demoville"},
};

enum class StaffKind { kGeneralPractitioner, kPediatrician, kSpecialist, kNurse };

struct StaffDef {
  std::string_view id;       // Practitioner id
  std::string_view role_id;  // PractitionerRole id
  std::string_view given;
  std::string_view family;
  std::string_view text;  // HumanName.text, also the display of references
  std::string_view gender;
  StaffKind kind;
  int specialty;     // index in kSpecialties
  int organization;  // index in kOrganizations
};
inline constexpr StaffDef kStaff[] = {
    {"prac-01", "role-01", "Amara", "Okafor", "Dr. Amara Okafor", "female",
     StaffKind::kGeneralPractitioner, 0, 0},
    {"prac-02", "role-02", "Henrik", "Sørensen", "Dr. Henrik Sørensen", "male",
     StaffKind::kGeneralPractitioner, 0, 0},
    {"prac-03", "role-03", "Mei", "Chen", "Dr. Mei Chen", "female", StaffKind::kPediatrician, 2, 2},
    {"prac-04", "role-04", "Rafael", "Ortiz Peña", "Dr. Rafael Ortiz Peña", "male",
     StaffKind::kSpecialist, 1, 1},
    {"prac-05", "role-05", "Fatima", "Haddad", "Dr. Fatima Haddad", "female",
     StaffKind::kSpecialist, 3, 1},
    {"prac-06", "role-06", "Jean-Luc", "Moreau", "Dr. Jean-Luc Moreau", "male",
     StaffKind::kGeneralPractitioner, 0, 0},
    {"prac-07", "role-07", "Priya", "Raman", "Priya Raman, RN", "female", StaffKind::kNurse, 0, 0},
    {"prac-08", "role-08", "Tomasz", "Zieliński", "Tomasz Zieliński, RN", "male", StaffKind::kNurse,
     0, 1},
};
inline constexpr int kStaffCount = sizeof(kStaff) / sizeof(kStaff[0]);

// Emits the supporting resources through `emit`, in reference order.
core::Status write_catalog(const std::function<core::Status(Value)>& emit);

// The display of a Medication, for references.
std::string_view medication_display(int index);

}  // namespace ipa::demo::internal
