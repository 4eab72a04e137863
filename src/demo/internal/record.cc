#include "demo/internal/record.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "demo/internal/build.h"
#include "demo/internal/catalog.h"
#include "demo/internal/people.h"
#include "demo/internal/terminology.h"

namespace ipa::demo::internal {
namespace {

// The data describes the years up to this day; "now" for the generator, fixed for determinism.
const int64_t kLastDay = days_from_civil(2024, 12, 31);
const int64_t kFirstDay = days_from_civil(2015, 1, 1);

uint64_t mix(uint64_t seed, uint64_t a, uint64_t b) {
  Rng r(seed ^ (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xD1B54A32D192ED03ull));
  r.next();
  return r.next();
}

Value meta_profile(std::string_view profile) {
  return Obj().val("profile", string_array(profile)).done();
}

Value ipa_profile(std::string_view name) {
  return meta_profile(std::string(kIpa) + std::string(name));
}

struct Person {
  const Locale* locale = nullptr;
  std::string family;
  std::vector<std::string> given;
  std::string text;
  bool female = false;
  int64_t birth = 0;  // days since the epoch
  std::string phone;
  std::string email;
  std::string line;
  std::string city;
  std::string postal_code;
  std::string address_text;
  int marital = 1;
};

std::string name_text(const Locale& l, const std::vector<std::string>& given,
                      const std::string& family) {
  std::string g;
  for (const std::string& s : given) {
    if (!g.empty()) g += ' ';
    g += s;
  }
  return l.family_first ? family + " " + g : g + " " + family;
}

// Person `index` of the data set. The link pair (records 4 and 5) is one person; records 1-3
// are the well-known family (a mother and her two children, one household).
Person make_person(int record, uint64_t seed) {
  const int index = record == 5 ? 4 : record;
  const bool family = index <= 3;
  Rng r(mix(seed, static_cast<uint64_t>(index), 1));
  Person p;
  const std::span<const Locale> all = locales();
  p.locale = family ? &all[0] : &all[r.below(static_cast<int64_t>(all.size()))];
  const Locale& l = *p.locale;
  if (family) {
    static constexpr std::string_view kGiven[] = {"Anna", "Lukas", "Sophie"};
    static const int64_t kBirth[] = {days_from_civil(1984, 3, 12), days_from_civil(2012, 6, 3),
                                     days_from_civil(2015, 9, 21)};
    p.family = "Müller";
    p.given = {std::string(kGiven[index - 1])};
    if (index == 1) p.given.emplace_back("Käthe");
    p.female = index != 2;
    p.birth = kBirth[index - 1];
  } else {
    p.female = r.chance(50);
    p.family = std::string(l.family[r.below(static_cast<int64_t>(l.family.size()))]);
    const auto& names = p.female ? l.given_female : l.given_male;
    const int64_t first = r.below(static_cast<int64_t>(names.size()));
    p.given = {std::string(names[first])};
    if (r.chance(30)) {
      const int64_t second = (first + 1 + r.below(static_cast<int64_t>(names.size()) - 1)) %
                             static_cast<int64_t>(names.size());
      p.given.emplace_back(names[second]);
    }
    // The link pair's old record covers 2012-2018, so that person is born by 2000.
    p.birth =
        days_from_civil(static_cast<int>(r.between(1940, index == 4 ? 2000 : 2019)),
                        static_cast<int>(r.between(1, 12)), static_cast<int>(r.between(1, 28)));
  }
  p.text = name_text(l, p.given, p.family);
  // One household for the family: the address comes from the parent's stream.
  Rng a(mix(seed, static_cast<uint64_t>(family ? 1 : index), 2));
  const City& city = l.cities[a.below(static_cast<int64_t>(l.cities.size()))];
  const std::string_view street = l.streets[a.below(static_cast<int64_t>(l.streets.size()))];
  const std::string number = std::to_string(a.between(1, 180));
  p.line = l.number_first ? number + " " + std::string(street) : std::string(street) + " " + number;
  p.city = std::string(city.name);
  p.postal_code = std::string(city.postal_code);
  p.address_text = p.line + ", " + p.postal_code + " " + p.city + ", " + std::string(l.country);
  p.phone = std::string(l.phone_prefix) + std::to_string(a.between(1000000, 9999999));
  // The children are reached through their mother's address.
  p.email = "person" + padded(family ? 1 : index, 4) + "@mail.example.org";
  p.marital = static_cast<int>(a.below(4));
  return p;
}

enum class EncounterKind { kCheckUp, kSymptom, kConsultation, kEmergency, kInpatient };

struct EncounterInfo {
  std::string id;
  int64_t start = 0;  // seconds since the epoch
  int64_t end = 0;
  EncounterKind kind = EncounterKind::kCheckUp;
  int staff = 0;   // index in kStaff
  int acute = -1;  // index in kAcute
  std::string diagnosis_id;
};

struct ProblemInfo {
  std::string id;
  const ConditionDef* def = nullptr;
  bool current = false;
};

struct RequestInfo {
  std::string id;
  int medication = 0;
  bool current = false;
  std::string reason_id;
  const EncounterInfo* encounter = nullptr;
};

std::string_view escape_pdf(std::string_view s, std::string& buf) {
  buf.clear();
  for (char c : s) {
    if (c == '(' || c == ')' || c == '\\') buf += '\\';
    buf += c;
  }
  return buf;
}

// A one-page PDF (ISO 32000-1) with ASCII lines in Helvetica; the xref offsets are exact.
std::string tiny_pdf(const std::vector<std::string>& lines) {
  std::string content = "BT /F1 12 Tf 72 770 Td";
  std::string buf;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) content += " 0 -18 Td";
    content += " (";
    content += escape_pdf(lines[i], buf);
    content += ") Tj";
  }
  content += " ET";
  const std::string objects[] = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font "
      "<< /F1 5 0 R >> >> >>",
      "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  };
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < 5; ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 6\n0000000000 65535 f \n";
  for (size_t off : offsets) pdf += padded(static_cast<int64_t>(off), 10) + " 00000 n \n";
  pdf += "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

class RecordWriter {
 public:
  RecordWriter(int patient, uint64_t seed, const std::function<core::Status(Value)>& emit)
      : patient_(patient),
        num_(padded(patient, 4)),
        pid_("pat-" + num_),
        rng_(mix(seed, static_cast<uint64_t>(patient), 3)),
        person_(make_person(patient, seed)),
        emit_(emit) {
    // The link pair splits one person's history in two: the old record holds the years up to
    // mid-2018, the current one the years after.
    window_start_ = patient == 4   ? days_from_civil(2012, 1, 1)
                    : patient == 5 ? days_from_civil(2018, 7, 1)
                                   : kFirstDay;
    window_end_ = patient == 4 ? days_from_civil(2018, 6, 30) : kLastDay;
    window_start_ = std::max(window_start_, person_.birth + 30);
    Rng body(mix(seed, static_cast<uint64_t>(patient == 5 ? 4 : patient), 4));
    adult_height_ = person_.female ? body.between(1520, 1780) : body.between(1650, 1950);
    const int64_t bmi = body.between(190, 340);  // tenths of kg/m2
    adult_weight_ = bmi * adult_height_ * adult_height_ / 1000000;
    const int age = age_at(window_end_);
    if (age < 16) {
      gp_ = 2;  // the pediatrician
    } else {
      static constexpr int kGps[] = {0, 1, 5};
      gp_ = kGps[rng_.below(3)];
    }
  }

  core::Status write() {
    IPA_RETURN_IF_ERROR(write_patient());
    IPA_RETURN_IF_ERROR(write_related_person());
    plan_encounters();
    for (const EncounterInfo& e : encounters_) IPA_RETURN_IF_ERROR(write_encounter(e));
    IPA_RETURN_IF_ERROR(write_conditions());
    IPA_RETURN_IF_ERROR(write_allergies());
    IPA_RETURN_IF_ERROR(write_immunizations());
    IPA_RETURN_IF_ERROR(write_medication_requests());
    IPA_RETURN_IF_ERROR(write_medication_statements());
    IPA_RETURN_IF_ERROR(write_observations());
    IPA_RETURN_IF_ERROR(write_documents());
    return write_provenance();
  }

 private:
  // --- helpers -----------------------------------------------------------------------------

  core::Status emit(std::string_view type, const std::string& id, Value v) {
    targets_.push_back(std::string(type) + "/" + id);
    return emit_(std::move(v));
  }

  Obj header(std::string_view type, const std::string& id) {
    Obj o;
    o.str("resourceType", type).str("id", id);
    return o;
  }

  std::string id_of(std::string_view prefix, int n, int width = 2) const {
    return std::string(prefix) + "-" + num_ + "-" + padded(n, width);
  }

  int age_at(int64_t day) const {
    const Civil b = civil_from_days(person_.birth);
    const Civil c = civil_from_days(day);
    int a = c.y - b.y;
    if (c.m < b.m || (c.m == b.m && c.d < b.d)) --a;
    return a;
  }

  bool adult() const { return age_at(window_end_) >= 18; }

  Value subject() const { return reference("Patient", pid_, person_.text); }
  Value staff_ref(int s) const { return reference("Practitioner", kStaff[s].id, kStaff[s].text); }
  Value role_ref(int s) const {
    return reference("PractitionerRole", kStaff[s].role_id, kStaff[s].text);
  }
  Value encounter_ref(const EncounterInfo& e) const { return reference("Encounter", e.id); }
  Value medication_ref(int m) const {
    return reference("Medication", kMedications[m].id, kMedications[m].rxnorm.display);
  }
  Value medication_concept(int m) const {
    const MedicationDef& d = kMedications[m];
    return concept_of(d.rxnorm, d.atc, d.rxnorm.display);
  }

  // A moment on `day` during office hours.
  int64_t office_time(int64_t day) {
    return day * kDay + rng_.between(8 * 3600, 17 * 3600) / 300 * 300;
  }

  int nurse() { return rng_.chance(50) ? 6 : 7; }

  Value dose_quantity(const MedicationDef& d, int amount) const {
    if (d.form.code == "MDINHL") {
      return Obj()
          .num("value", std::to_string(amount))
          .str("unit", "puff")
          .str("system", kUcum)
          .str("code", "{puff}")
          .done();
    }
    return Obj()
        .num("value", std::to_string(amount))
        .str("unit", d.form.display)
        .str("system", d.form.system)
        .str("code", d.form.code)
        .done();
  }

  Value dosage(int m) const {
    const MedicationDef& d = kMedications[m];
    const bool inhaler = d.form.code == "MDINHL";
    return Obj()
        .integer("sequence", 1)
        .str("text", d.dosage_text)
        .val("timing", Obj()
                           .val("repeat", Obj()
                                              .integer("frequency", d.per_day)
                                              .num("period", "1")
                                              .str("periodUnit", "d")
                                              .done())
                           .done())
        .boolean("asNeededBoolean", d.as_needed)
        .val("route", concept_of(inhaler ? kRespiratoryRoute : kOralRoute))
        .val("doseAndRate",
             array_of(Obj().val("doseQuantity", dose_quantity(d, inhaler ? 2 : 1)).done()))
        .done();
  }

  // --- Patient and RelatedPerson -----------------------------------------------------------

  Value official_name() const {
    Obj n;
    n.str("use", "official").str("text", person_.text).str("family", person_.family);
    Value given = Value::array();
    for (const std::string& g : person_.given) given.push_back(Value::string(g));
    n.val("given", std::move(given));
    return n.done();
  }

  Value address() const {
    return Obj()
        .str("use", "home")
        .str("type", "both")
        .str("text", person_.address_text)
        .val("line", string_array(person_.line))
        .str("city", person_.city)
        .str("postalCode", person_.postal_code)
        .str("country", person_.locale->country)
        .done();
  }

  Value telecom() const {
    return array_of(
        Obj().str("system", "phone").str("value", person_.phone).str("use", "home").done(),
        Obj().str("system", "email").str("value", person_.email).str("use", "home").done());
  }

  core::Status write_patient() {
    const Locale& l = *person_.locale;
    Obj o = header("Patient", pid_);
    o.val("meta", ipa_profile("ipa-patient"));
    o.val("identifier",
          array_of(Obj()
                       .str("use", "usual")
                       .val("type", concept_of(kMedicalRecordNumber))
                       .str("system", kMrnSystem)
                       .str("value", "MRN" + padded(10000000 + patient_, 8))
                       .val("assigner",
                            reference("Organization", kOrganizations[0].id, kOrganizations[0].name))
                       .done()));
    o.boolean("active", patient_ != 4);
    Value names = array_of(official_name());
    if (patient_ == 6) {
      // IPA conformance, missing data (R35) and ipa-pat-2: a maiden name the patient declined
      // to give is a name carrying only the data-absent-reason extension.
      names.push_back(Obj()
                          .val("extension", array_of(Obj()
                                                         .str("url", kDataAbsentReasonExtension)
                                                         .str("valueCode", "asked-declined")
                                                         .done()))
                          .str("use", "maiden")
                          .done());
    }
    o.val("name", std::move(names));
    o.val("telecom", telecom());
    o.str("gender", person_.female ? "female" : "male");
    o.str("birthDate", format_date(person_.birth));
    o.val("address", array_of(address()));
    if (adult()) o.val("maritalStatus", concept_of(kMaritalStatuses[person_.marital]));
    if (patient_ == 2 || patient_ == 3) {
      o.val("contact", array_of(Obj()
                                    .val("relationship", array_of(concept_of(kNextOfKin)))
                                    .val("name", Obj()
                                                     .str("use", "official")
                                                     .str("text", "Anna Käthe Müller")
                                                     .str("family", "Müller")
                                                     .val("given", array_of(Value::string("Anna"),
                                                                            Value::string("Käthe")))
                                                     .done())
                                    .val("telecom", telecom())
                                    .str("gender", "female")
                                    .done()));
    }
    o.val("communication",
          array_of(Obj()
                       .val("language", concept_of(Code{kBcp47, l.language, l.language_name}))
                       .boolean("preferred", true)
                       .done()));
    o.val("generalPractitioner", array_of(staff_ref(gp_)));
    o.val("managingOrganization",
          reference("Organization", kOrganizations[kStaff[gp_].organization].id,
                    kOrganizations[kStaff[gp_].organization].name));
    if (patient_ == 4 || patient_ == 5) {
      // IPA patient-access rules (R44, R46): one active record per person; linked records
      // point at each other and say whether they are active (ipa-pat-4).
      o.val("link", array_of(Obj()
                                 .val("other",
                                      reference("Patient", patient_ == 4 ? "pat-0005" : "pat-0004"))
                                 .str("type", patient_ == 4 ? "replaced-by" : "replaces")
                                 .done()));
    }
    return emit("Patient", pid_, o.done());
  }

  core::Status write_related_person() {
    if (patient_ != 2 && patient_ != 3) return {};
    related_person_id_ = id_of("rp", 1);
    Obj o = header("RelatedPerson", related_person_id_);
    o.val(
        "identifier",
        array_of(
            Obj().str("system", kMrnSystem).str("value", "MRN" + padded(10000000 + 1, 8)).done()));
    o.boolean("active", true);
    o.val("patient", subject());
    o.val("relationship", array_of(concept_of(kMother)));
    o.val("name",
          array_of(Obj()
                       .str("use", "official")
                       .str("text", "Anna Käthe Müller")
                       .str("family", "Müller")
                       .val("given", array_of(Value::string("Anna"), Value::string("Käthe")))
                       .done()));
    o.val("telecom", telecom());
    o.str("gender", "female");
    o.str("birthDate", "1984-03-12");
    o.val("address", array_of(address()));
    return emit("RelatedPerson", related_person_id_, o.done());
  }

  // --- Encounters --------------------------------------------------------------------------

  void plan_encounters() {
    const int n = static_cast<int>(rng_.between(3, 5));
    std::vector<int64_t> days;
    const int64_t span = window_end_ - window_start_;
    for (int i = 0; i < n; ++i) {
      int64_t d = window_start_ + rng_.below(span + 1);
      while (std::find(days.begin(), days.end(), d) != days.end())
        d = d == window_end_ ? window_start_ : d + 1;
      days.push_back(d);
    }
    std::sort(days.begin(), days.end());
    bool any_acute = false;
    for (int i = 0; i < n; ++i) {
      EncounterInfo e;
      e.id = id_of("enc", i + 1);
      e.start = office_time(days[i]);
      if (i == 0) {
        e.kind = EncounterKind::kCheckUp;
      } else {
        const int64_t roll = rng_.below(100);
        e.kind = roll < 45   ? EncounterKind::kSymptom
                 : roll < 70 ? EncounterKind::kCheckUp
                 : roll < 85 ? EncounterKind::kConsultation
                 : roll < 95 ? EncounterKind::kEmergency
                             : EncounterKind::kInpatient;
      }
      if (i == n - 1 && !any_acute && e.kind != EncounterKind::kEmergency &&
          e.kind != EncounterKind::kInpatient) {
        e.kind = EncounterKind::kSymptom;
      }
      switch (e.kind) {
        case EncounterKind::kCheckUp:
          e.staff = gp_;
          e.end = e.start + 30 * 60;
          break;
        case EncounterKind::kSymptom:
          e.staff = gp_;
          e.end = e.start + 20 * 60;
          break;
        case EncounterKind::kConsultation:
          e.staff = age_at(days[i]) < 16 ? 2 : (rng_.chance(50) ? 3 : 4);
          e.end = e.start + 45 * 60;
          break;
        case EncounterKind::kEmergency:
          e.staff = age_at(days[i]) < 16 ? 2 : 3;
          e.end = e.start + rng_.between(2, 6) * 3600;
          break;
        case EncounterKind::kInpatient:
          e.staff = 3;
          e.end = e.start + rng_.between(2, 6) * kDay + 3600;
          break;
      }
      if (e.kind == EncounterKind::kSymptom || e.kind == EncounterKind::kEmergency ||
          e.kind == EncounterKind::kInpatient) {
        e.acute = static_cast<int>(rng_.below(std::size(kAcute)));
        // Pneumonia is the inpatient diagnosis; COVID-19 only from 2020.
        if (e.kind == EncounterKind::kInpatient) e.acute = 7;
        if (e.acute == 9 && days[i] < days_from_civil(2020, 3, 1)) e.acute = 0;
        any_acute = true;
      }
      encounters_.push_back(std::move(e));
    }
  }

  core::Status write_encounter(const EncounterInfo& e) {
    const StaffDef& s = kStaff[e.staff];
    const OrganizationDef& org = kOrganizations[s.organization];
    Obj o = header("Encounter", e.id);
    o.str("status", "finished");
    const Code* cls = &kAmbulatory;
    const Code* type = &kCheckUp;
    switch (e.kind) {
      case EncounterKind::kCheckUp:
        break;
      case EncounterKind::kSymptom:
        type = &kSymptomVisit;
        break;
      case EncounterKind::kConsultation:
        type = &kConsultation;
        break;
      case EncounterKind::kEmergency:
        cls = &kEmergency;
        type = &kEmergencyAdmission;
        break;
      case EncounterKind::kInpatient:
        cls = &kInpatient;
        type = &kHospitalAdmission;
        break;
    }
    o.val("class", coding(*cls));
    o.val("type", array_of(concept_of(*type)));
    o.val("subject", subject());
    const Value when = period(format_instant(e.start), format_instant(e.end));
    o.val("participant", array_of(Obj()
                                      .val("type", array_of(concept_of(kPrimaryPerformer)))
                                      .val("period", when)
                                      .val("individual", staff_ref(e.staff))
                                      .done()));
    o.val("period", when);
    if (e.acute >= 0) o.val("reasonCode", array_of(concept_of(kAcute[e.acute].code)));
    if (e.kind == EncounterKind::kInpatient) {
      o.val("hospitalization",
            Obj().val("dischargeDisposition", concept_of(kDischargeHome)).done());
    }
    o.val("serviceProvider", reference("Organization", org.id, org.name));
    return emit("Encounter", e.id, o.done());
  }

  // --- Conditions --------------------------------------------------------------------------

  void condition_base(Obj& o, std::string_view profile, const Code& category, const Code& clinical,
                      const Code& verification, const Code& code) {
    o.val("meta", ipa_profile(profile));
    o.val("clinicalStatus", concept_of(clinical));
    o.val("verificationStatus", concept_of(verification));
    o.val("category", array_of(concept_of(category)));
    o.val("code", concept_of(code));
    o.val("subject", subject());
  }

  core::Status write_conditions() {
    const bool grown = adult();
    const ConditionDef* pool = grown ? kAdultChronic : kChildChronic;
    const int pool_size =
        static_cast<int>(grown ? std::size(kAdultChronic) : std::size(kChildChronic));
    const int wanted = grown ? static_cast<int>(rng_.between(1, 3)) : 1;
    std::vector<int> chosen;
    while (static_cast<int>(chosen.size()) < wanted) {
      const int c = static_cast<int>(rng_.below(pool_size));
      if (std::find(chosen.begin(), chosen.end(), c) == chosen.end()) chosen.push_back(c);
    }
    // Some records keep a problem that was ruled out.
    const bool refuted = patient_ % 6 == 0;
    if (refuted) {
      int c = static_cast<int>(rng_.below(pool_size));
      while (std::find(chosen.begin(), chosen.end(), c) != chosen.end()) c = (c + 1) % pool_size;
      chosen.push_back(c);
    }
    int n = 0;
    const int64_t first_visit = encounters_.front().start / kDay;
    for (size_t i = 0; i < chosen.size(); ++i) {
      const ConditionDef& def = pool[chosen[i]];
      const bool is_refuted = refuted && i + 1 == chosen.size();
      static constexpr const Code* kClinical[] = {
          &kConditionActive,  &kConditionActive,   &kConditionActive,    &kConditionRecurrence,
          &kConditionRelapse, &kConditionInactive, &kConditionRemission, &kConditionResolved};
      static constexpr const Code* kVerification[] = {
          &kConditionConfirmed,   &kConditionConfirmed,    &kConditionConfirmed,
          &kConditionProvisional, &kConditionDifferential, &kConditionUnconfirmed};
      const Code* clinical = is_refuted ? &kConditionInactive : kClinical[rng_.below(8)];
      const Code* verification = is_refuted ? &kConditionRefuted : kVerification[rng_.below(6)];
      // con-4: an abated condition is inactive, in remission or resolved.
      const bool abated = clinical == &kConditionInactive || clinical == &kConditionRemission ||
                          clinical == &kConditionResolved;
      const std::string id = id_of("cond", ++n);
      Obj o = header("Condition", id);
      condition_base(o, "ipa-problem-list-item", kProblemListItem, *clinical, *verification,
                     def.code);
      if (rng_.chance(50)) o.val("severity", concept_of(kSeverities[rng_.below(3)]));
      const int64_t earliest = std::max(person_.birth + 180, first_visit - 3650);
      const int64_t onset = earliest + rng_.below(std::max<int64_t>(1, first_visit - earliest));
      o.str("onsetDateTime", format_date(onset));
      if (abated) {
        o.str(
            "abatementDateTime",
            format_date(first_visit + rng_.below(std::max<int64_t>(1, window_end_ - first_visit))));
      }
      o.str("recordedDate", format_date(first_visit));
      o.val("recorder", staff_ref(gp_));
      o.val("asserter", staff_ref(gp_));
      IPA_RETURN_IF_ERROR(emit("Condition", id, o.done()));
      problems_.push_back(ProblemInfo{id, &def, !abated && !is_refuted});
    }
    for (EncounterInfo& e : encounters_) {
      if (e.acute < 0) continue;
      const ConditionDef& def = kAcute[e.acute];
      const int64_t day = e.start / kDay;
      const bool recent = window_end_ - day < 45;
      const Code* verification = rng_.chance(80)   ? &kConditionConfirmed
                                 : rng_.chance(50) ? &kConditionProvisional
                                                   : &kConditionDifferential;
      e.diagnosis_id = id_of("cond", ++n);
      Obj o = header("Condition", e.diagnosis_id);
      condition_base(o, "ipa-condition", kEncounterDiagnosis,
                     recent ? kConditionActive : kConditionResolved, *verification, def.code);
      o.val("encounter", encounter_ref(e));
      o.str("onsetDateTime", format_date(day - rng_.between(1, 5)));
      if (!recent) o.str("abatementDateTime", format_date(day + rng_.between(7, 30)));
      o.str("recordedDate", format_date(day));
      o.val("recorder", staff_ref(e.staff));
      IPA_RETURN_IF_ERROR(emit("Condition", e.diagnosis_id, o.done()));
    }
    return {};
  }

  // --- AllergyIntolerance ------------------------------------------------------------------

  core::Status write_allergies() {
    const int64_t recorded = encounters_.front().start / kDay;
    if (patient_ % 5 == 2) {
      const std::string id = id_of("alg", 1);
      Obj o = header("AllergyIntolerance", id);
      o.val("meta", ipa_profile("ipa-allergyintolerance"));
      o.val("clinicalStatus", concept_of(kAllergyActive));
      o.val("verificationStatus", concept_of(kAllergyConfirmed));
      o.val("code", concept_of(kNoKnownAllergy));
      o.val("patient", subject());
      o.str("recordedDate", format_date(recorded));
      o.val("recorder", staff_ref(gp_));
      return emit("AllergyIntolerance", id, o.done());
    }
    const int n = static_cast<int>(rng_.between(1, 3));
    std::vector<int> chosen;
    while (static_cast<int>(chosen.size()) < n) {
      const int a = static_cast<int>(rng_.below(std::size(kAllergens)));
      if (std::find(chosen.begin(), chosen.end(), a) == chosen.end()) chosen.push_back(a);
    }
    for (int i = 0; i < n; ++i) {
      const AllergenDef& def = kAllergens[chosen[i]];
      const std::string id = id_of("alg", i + 1);
      const int64_t roll = rng_.below(100);
      const Code* clinical = roll < 75   ? &kAllergyActive
                             : roll < 85 ? &kAllergyInactive
                                         : &kAllergyResolved;
      const int64_t vroll = rng_.below(100);
      const Code* verification = vroll < 70   ? &kAllergyConfirmed
                                 : vroll < 95 ? &kAllergyUnconfirmed
                                              : &kAllergyRefuted;
      const int manifestation = static_cast<int>(rng_.below(std::size(kManifestations)));
      const bool severe = manifestation == 3 || manifestation == 6;
      Obj o = header("AllergyIntolerance", id);
      o.val("meta", ipa_profile("ipa-allergyintolerance"));
      o.val("clinicalStatus", concept_of(*clinical));
      o.val("verificationStatus", concept_of(*verification));
      o.str("type", def.category == "medication" && rng_.chance(30) ? "intolerance" : "allergy");
      o.val("category", string_array(def.category));
      o.str("criticality", severe ? "high" : rng_.chance(80) ? "low" : "unable-to-assess");
      o.val("code", concept_of(def.code));
      o.val("patient", subject());
      o.str("onsetDateTime",
            format_date(person_.birth + 365 +
                        rng_.below(std::max<int64_t>(1, recorded - person_.birth - 365))));
      o.str("recordedDate", format_date(recorded));
      o.val("recorder", staff_ref(gp_));
      o.val("asserter", subject());
      if (verification != &kAllergyRefuted) {
        static constexpr std::string_view kSeverity[] = {"mild", "moderate", "severe"};
        o.val(
            "reaction",
            array_of(Obj()
                         .val("manifestation", array_of(concept_of(kManifestations[manifestation])))
                         .str("severity", severe ? "severe" : kSeverity[rng_.below(2)])
                         .done()));
      }
      IPA_RETURN_IF_ERROR(emit("AllergyIntolerance", id, o.done()));
    }
    return {};
  }

  // --- Immunization ------------------------------------------------------------------------

  core::Status write_immunizations() {
    struct Planned {
      int vaccine;
      int64_t day;
    };
    std::vector<Planned> eligible;
    for (int v = 0; v < static_cast<int>(std::size(kVaccines)); ++v) {
      const VaccineDef& def = kVaccines[v];
      const Civil b = civil_from_days(person_.birth);
      int64_t lo = days_from_civil(b.y + def.min_age, b.m, std::min(b.d, 28)) + 30;
      int64_t hi = def.max_age >= 120 ? window_end_
                                      : days_from_civil(b.y + def.max_age, b.m, std::min(b.d, 28));
      lo = std::max(lo, days_from_civil(def.not_before_year, 1, 1));
      hi = std::min(hi, window_end_);
      if (lo > hi) continue;
      eligible.push_back({v, lo + rng_.below(hi - lo + 1)});
    }
    const int want = static_cast<int>(rng_.between(3, 5));
    while (static_cast<int>(eligible.size()) > want) {
      eligible.erase(eligible.begin() + rng_.below(static_cast<int64_t>(eligible.size())));
    }
    std::sort(eligible.begin(), eligible.end(),
              [](const Planned& a, const Planned& b) { return a.day < b.day; });
    int n = 0;
    for (const Planned& plan : eligible) {
      const VaccineDef& def = kVaccines[plan.vaccine];
      const std::string id = id_of("imm", ++n);
      const bool not_done = rng_.chance(8);
      // Doses given before this record starts are known from the patient's recall only.
      const bool recalled = !not_done && plan.day < window_start_;
      Obj o = header("Immunization", id);
      o.val("meta", ipa_profile("ipa-immunization"));
      o.str("status", not_done ? "not-done" : "completed");
      if (not_done) o.val("statusReason", concept_of(rng_.pick(kImmunizationNotDoneReasons)));
      o.val("vaccineCode", concept_of(def.code));
      o.val("patient", subject());
      if (recalled && rng_.chance(50)) {
        o.str("occurrenceString", "In childhood or before " +
                                      format_date(window_start_).substr(0, 4) +
                                      ", exact date unknown");
      } else {
        o.str("occurrenceDateTime", format_date(plan.day));
      }
      o.str("recorded", format_date(std::max(plan.day, window_start_)));
      o.boolean("primarySource", !recalled);
      if (recalled) {
        o.val("reportOrigin",
              concept_of(Code{"http://terminology.hl7.org/CodeSystem/immunization-origin", "recall",
                              "Parent/Guardian/Patient Recall"}));
      }
      if (!not_done && !recalled) {
        static constexpr char kAlnum[] = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
        std::string lot;
        for (int i = 0; i < 7; ++i) lot += kAlnum[rng_.below(sizeof(kAlnum) - 1)];
        o.str("lotNumber", lot);
        o.val("site", concept_of(rng_.chance(50) ? kLeftArm : kRightArm));
        o.val("route", concept_of(kIntramuscular));
        o.val("doseQuantity", ucum_quantity("0.5", "mL", "mL"));
        o.val("performer", array_of(Obj()
                                        .val("function", concept_of(kAdministeringProvider))
                                        .val("actor", staff_ref(nurse()))
                                        .done()));
        o.val("protocolApplied", array_of(Obj().integer("doseNumberPositiveInt", 1).done()));
      }
      IPA_RETURN_IF_ERROR(emit("Immunization", id, o.done()));
    }
    return {};
  }

  // --- MedicationRequest and MedicationStatement -------------------------------------------

  int variant_of(int medication) {
    if (medication == 0) return static_cast<int>(rng_.below(3));  // antihypertensives
    if (medication == 4) return rng_.chance(70) ? 4 : 5;          // statins
    return medication;
  }

  core::Status write_medication_requests() {
    for (const ProblemInfo& p : problems_) {
      if (p.def->medication < 0 || requests_.size() >= 3) continue;
      RequestInfo r;
      r.medication = variant_of(p.def->medication);
      r.current = p.current;
      r.reason_id = p.id;
      r.encounter = &encounters_.front();
      requests_.push_back(std::move(r));
    }
    for (const EncounterInfo& e : encounters_) {
      if (e.acute < 0 || requests_.size() >= 4) continue;
      const int m = kAcute[e.acute].medication;
      if (m < 0) continue;
      requests_.push_back(RequestInfo{{}, m, false, e.diagnosis_id, &e});
    }
    while (requests_.size() < 2) {
      requests_.push_back(
          RequestInfo{{}, requests_.empty() ? 10 : 9, false, {}, &encounters_.back()});
    }
    int n = 0;
    for (RequestInfo& r : requests_) {
      r.id = id_of("medrx", ++n);
      const MedicationDef& d = kMedications[r.medication];
      const EncounterInfo& e = *r.encounter;
      Obj o = header("MedicationRequest", r.id);
      o.val("meta", ipa_profile("ipa-medicationrequest"));
      o.val("identifier",
            array_of(Obj().str("system", "urn:ietf:rfc:3986").str("value", uuid()).done()));
      static constexpr std::string_view kEnded[] = {"completed", "completed", "stopped"};
      o.str("status", r.current ? (rng_.chance(90) ? "active" : "on-hold") : rng_.pick(kEnded));
      o.str("intent", rng_.chance(85) ? "order" : "plan");
      o.str("priority", "routine");
      if (rng_.chance(15)) {
        o.val("reportedReference", role_ref(e.staff));
      } else {
        o.boolean("reportedBoolean", false);
      }
      if (rng_.chance(50)) {
        o.val("medicationReference", medication_ref(r.medication));
      } else {
        o.val("medicationCodeableConcept", medication_concept(r.medication));
      }
      o.val("subject", subject());
      o.val("encounter", encounter_ref(e));
      o.str("authoredOn", format_instant(e.start + 15 * 60));
      o.val("requester", rng_.chance(50) ? staff_ref(e.staff) : role_ref(e.staff));
      if (!r.reason_id.empty())
        o.val("reasonReference", array_of(reference("Condition", r.reason_id)));
      o.val("dosageInstruction", array_of(dosage(r.medication)));
      const bool course = r.medication == 8;
      o.val("dispenseRequest",
            Obj()
                .integer("numberOfRepeatsAllowed", course ? 0 : rng_.between(0, 5))
                .val("quantity", dose_quantity(d, course ? 30 : 30 * d.per_day))
                .val("expectedSupplyDuration", Obj()
                                                   .num("value", course ? "10" : "30")
                                                   .str("unit", "days")
                                                   .str("system", kUcum)
                                                   .str("code", "d")
                                                   .done())
                .done());
      o.val("substitution", Obj().boolean("allowedBoolean", true).done());
      IPA_RETURN_IF_ERROR(emit("MedicationRequest", r.id, o.done()));
    }
    return {};
  }

  std::string uuid() {
    const uint64_t a = rng_.next();
    const uint64_t b = rng_.next();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s = "urn:uuid:";
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) s += '-';
      uint64_t nibble = i < 16 ? (a >> (60 - 4 * i)) & 15 : (b >> (60 - 4 * (i - 16))) & 15;
      if (i == 12) nibble = 4;                 // version 4
      if (i == 16) nibble = 8 | (nibble & 3);  // RFC 4122 variant
      s += kHex[nibble];
    }
    return s;
  }

  core::Status write_medication_statements() {
    int n = 0;
    const auto information_source = [&]() -> Value {
      if (!related_person_id_.empty() && rng_.chance(60)) {
        return reference("RelatedPerson", related_person_id_, "Anna Käthe Müller");
      }
      const int64_t roll = rng_.below(100);
      if (roll < 50) return subject();
      if (roll < 80) return staff_ref(gp_);
      if (roll < 90) return role_ref(gp_);
      const OrganizationDef& org = kOrganizations[kStaff[gp_].organization];
      return reference("Organization", org.id, org.name);
    };
    // The patient's own account of what the first prescription became.
    {
      const RequestInfo& r = requests_.front();
      const EncounterInfo& e = *r.encounter;
      const std::string id = id_of("medst", ++n);
      Obj o = header("MedicationStatement", id);
      o.val("meta", ipa_profile("ipa-medicationstatement"));
      o.val("basedOn", array_of(reference("MedicationRequest", r.id)));
      o.str("status", r.current ? "active" : "completed");
      if (rng_.chance(50)) {
        o.val("medicationReference", medication_ref(r.medication));
      } else {
        o.val("medicationCodeableConcept", medication_concept(r.medication));
      }
      o.val("subject", subject());
      o.val("context", encounter_ref(e));
      const int64_t start = e.start / kDay;
      const int64_t end = start + (r.medication == 8 ? 10 : 30);
      if (r.current) {
        o.val("effectivePeriod", period(format_date(start)));
      } else {
        o.val("effectivePeriod", period(format_date(start), format_date(end)));
      }
      // Asserted at the last visit, or once the course is over if that is later.
      const int64_t asserted = r.current ? encounters_.back().start
                                         : std::max(encounters_.back().start, end * kDay + 36000);
      o.str("dateAsserted", format_instant(asserted + 600));
      o.val("informationSource", information_source());
      if (!r.reason_id.empty()) {
        o.val("reasonReference", array_of(reference("Condition", r.reason_id)));
      }
      o.val("dosage", array_of(dosage(r.medication)));
      IPA_RETURN_IF_ERROR(emit("MedicationStatement", id, o.done()));
    }
    // Over-the-counter medicines nobody prescribed, in several states.
    const int extra = rng_.chance(40) ? 2 : 1;
    for (int i = 0; i < extra; ++i) {
      static constexpr int kOtc[] = {7, 9, 10};
      static constexpr std::string_view kStatus[] = {"active",  "completed", "intended",
                                                     "stopped", "not-taken", "on-hold"};
      const int m = kOtc[rng_.below(3)];
      const std::string_view status = i == 0 ? "active" : rng_.pick(kStatus);
      const EncounterInfo& e = encounters_[rng_.below(static_cast<int64_t>(encounters_.size()))];
      const std::string id = id_of("medst", ++n);
      Obj o = header("MedicationStatement", id);
      o.val("meta", ipa_profile("ipa-medicationstatement"));
      o.str("status", status);
      if (status == "stopped") {
        o.val("statusReason",
              array_of(Obj().str("text", "Stopped because of stomach upset").done()));
      } else if (status == "not-taken") {
        o.val("statusReason",
              array_of(Obj().str("text", "Symptoms resolved before the first dose").done()));
      }
      if (rng_.chance(50)) {
        o.val("medicationReference", medication_ref(m));
      } else {
        o.val("medicationCodeableConcept", medication_concept(m));
      }
      o.val("subject", subject());
      o.val("context", encounter_ref(e));
      o.str("effectiveDateTime", format_date(e.start / kDay - rng_.between(0, 20)));
      o.str("dateAsserted", format_instant(e.start + 300));
      o.val("informationSource", information_source());
      if (status != "not-taken" && status != "intended") {
        o.val("dosage", array_of(dosage(m)));
      }
      IPA_RETURN_IF_ERROR(emit("MedicationStatement", id, o.done()));
    }
    return {};
  }

  // --- Observations ------------------------------------------------------------------------

  std::string next_observation_id() { return id_of("obs", ++observations_, 3); }

  Obj observation(const std::string& id, std::string_view profile, const Code& category,
                  Value code) {
    Obj o = header("Observation", id);
    o.val("meta", meta_profile(profile));
    o.str("status", "final");
    o.val("category", array_of(concept_of(category)));
    o.val("code", std::move(code));
    o.val("subject", subject());
    return o;
  }

  Obj vital(const EncounterInfo& e, Value code) {
    Obj o = observation(next_observation_id(), kVitalSignsProfile, kCatVitalSigns, std::move(code));
    o.val("encounter", encounter_ref(e));
    o.str("effectiveDateTime", format_instant(e.start + 600));
    o.str("issued", format_instant(e.start + 900));
    o.val("performer", array_of(staff_ref(nurse())));
    return o;
  }

  core::Status emit_observation(Obj o) {
    Value v = o.done();
    const std::string id(v.get_string("id"));
    return emit("Observation", id, std::move(v));
  }

  core::Status write_vitals(const EncounterInfo& e, bool first) {
    const int64_t day = e.start / kDay;
    const int age = age_at(day);
    const double years = static_cast<double>(day - person_.birth) / 365.25;
    const bool child = age < 18;
    // Height and weight in tenths (cm, kg), from simple growth curves for children.
    int64_t height;
    int64_t weight;
    if (years < 1) {
      height = 500 + static_cast<int64_t>(250 * years);
      weight = 35 + static_cast<int64_t>(60 * years);
    } else if (child) {
      height = 760 + static_cast<int64_t>(60 * std::min(years, 17.0)) + rng_.between(-30, 30);
      weight = 90 + static_cast<int64_t>(32 * std::min(years, 17.0)) + rng_.between(-15, 15);
    } else {
      height = adult_height_ + rng_.between(-3, 3);
      weight = adult_weight_ + rng_.between(-30, 30);
    }
    const bool fever = e.acute >= 0 && rng_.chance(60);
    const bool hypertensive =
        std::any_of(problems_.begin(), problems_.end(),
                    [](const ProblemInfo& p) { return p.def->code.code == "38341003"; });
    const int64_t systolic = child          ? rng_.between(95, 118)
                             : hypertensive ? rng_.between(135, 165)
                                            : rng_.between(105, 135);
    const int64_t diastolic = child          ? rng_.between(55, 75)
                              : hypertensive ? rng_.between(85, 100)
                                             : rng_.between(65, 85);
    // Some first visits lack two readings: the diastolic pressure (vs-3 with
    // component.dataAbsentReason) and the respiratory rate (dataAbsentReason, vs-2).
    const bool diastolic_absent = first && patient_ % 10 == 3;
    {
      Obj o = vital(e, concept_of(kBloodPressurePanel, "Blood pressure"));
      Obj dia;
      dia.val("code", concept_of(kDiastolic));
      if (diastolic_absent) {
        dia.val("dataAbsentReason", concept_of(kDarError, "Cuff deflated before reading"));
      } else {
        dia.val("valueQuantity", ucum_quantity(std::to_string(diastolic), "mmHg", "mm[Hg]"));
      }
      o.val("component", array_of(Obj()
                                      .val("code", concept_of(kSystolic))
                                      .val("valueQuantity", ucum_quantity(std::to_string(systolic),
                                                                          "mmHg", "mm[Hg]"))
                                      .done(),
                                  dia.done()));
      IPA_RETURN_IF_ERROR(emit_observation(std::move(o)));
    }
    const int64_t heart_rate = years < 1 ? rng_.between(110, 150)
                               : child   ? rng_.between(70, 115)
                                         : rng_.between(55, 95) + (fever ? 15 : 0);
    IPA_RETURN_IF_ERROR(emit_observation(
        std::move(vital(e, concept_of(kHeartRate))
                      .val("valueQuantity",
                           ucum_quantity(std::to_string(heart_rate), "beats/minute", "/min")))));
    const int64_t respiratory = child ? rng_.between(18, 30) : rng_.between(12, 20);
    {
      Obj o = vital(e, concept_of(kRespiratoryRate));
      if (diastolic_absent) {
        o.val("dataAbsentReason", concept_of(kDarNotPerformed, "Not counted: patient crying"));
      } else {
        o.val("valueQuantity",
              ucum_quantity(std::to_string(respiratory), "breaths/minute", "/min"));
      }
      IPA_RETURN_IF_ERROR(emit_observation(std::move(o)));
    }
    const int64_t temperature = fever ? rng_.between(380, 392) : rng_.between(362, 374);
    IPA_RETURN_IF_ERROR(emit_observation(
        std::move(vital(e, concept_of(kBodyTemperature))
                      .val("valueQuantity", ucum_quantity(tenths(temperature), "°C", "Cel")))));
    const int64_t spo2 = e.acute == 7 ? rng_.between(89, 94) : rng_.between(95, 100);
    IPA_RETURN_IF_ERROR(emit_observation(
        std::move(vital(e, concept_of(kOxygenSaturation, kPulseOximetry, "Oxygen saturation"))
                      .val("valueQuantity", ucum_quantity(std::to_string(spo2), "%", "%")))));
    IPA_RETURN_IF_ERROR(emit_observation(
        std::move(vital(e, concept_of(kBodyWeight))
                      .val("valueQuantity", ucum_quantity(tenths(weight), "kg", "kg")))));
    IPA_RETURN_IF_ERROR(emit_observation(
        std::move(vital(e, concept_of(kBodyHeight))
                      .val("valueQuantity", ucum_quantity(tenths(height), "cm", "cm")))));
    // BMI = kg / m^2, in tenths: weight/10 / (height/1000)^2 * 10.
    const int64_t bmi = (weight * 1000000 + height * height / 2) / (height * height);
    return emit_observation(
        std::move(vital(e, concept_of(kBmi, "BMI"))
                      .val("valueQuantity", ucum_quantity(tenths(bmi), "kg/m2", "kg/m2"))));
  }

  core::Status write_lab(const EncounterInfo& e, const LabDef& lab, int64_t shift = 0) {
    Obj o = observation(next_observation_id(), std::string(kIpa) + "ipa-observation",
                        kCatLaboratory, concept_of(lab.code));
    o.val("encounter", encounter_ref(e));
    o.str("effectiveDateTime", format_instant(e.start + 1200));
    o.str("issued", format_instant(e.start + 4 * 3600));
    o.val("performer",
          array_of(reference("Organization", kOrganizations[1].id, kOrganizations[1].name)));
    const int64_t value = std::min<int64_t>(lab.max, rng_.between(lab.min, lab.max) + shift);
    const auto text = [&](int64_t v) {
      return lab.scale == 1 ? std::to_string(v) : lab.scale == 10 ? tenths(v) : hundredths(v);
    };
    o.val("valueQuantity", ucum_quantity(text(value), lab.unit, lab.unit));
    const Code& flag = value > lab.high ? kHigh : value < lab.low ? kLow : kNormal;
    o.val("interpretation", array_of(concept_of(flag)));
    Obj range;
    if (lab.low > 0) range.val("low", ucum_quantity(text(lab.low), lab.unit, lab.unit));
    range.val("high", ucum_quantity(text(lab.high), lab.unit, lab.unit));
    o.val("referenceRange", array_of(range.done()));
    return emit_observation(std::move(o));
  }

  bool has_problem(std::string_view snomed) const {
    return std::any_of(problems_.begin(), problems_.end(),
                       [&](const ProblemInfo& p) { return p.def->code.code == snomed; });
  }

  core::Status write_observations() {
    const EncounterInfo& first = encounters_.front();
    const EncounterInfo& last = encounters_.back();
    const int age = age_at(last.start / kDay);
    // 001: smoking status (social history, CodeableConcept).
    {
      const Code& status = age < 14 ? kSmokingValues[0] : rng_.pick(kSmokingValues);
      Obj o = observation(next_observation_id(), std::string(kIpa) + "ipa-observation",
                          kCatSocialHistory, concept_of(kSmokingStatus));
      o.val("encounter", encounter_ref(last));
      o.str("effectiveDateTime", format_instant(last.start + 300));
      o.val("performer", array_of(staff_ref(last.staff)));
      o.val("valueCodeableConcept", concept_of(status));
      IPA_RETURN_IF_ERROR(emit_observation(std::move(o)));
    }
    // 002: a questionnaire score (survey, integer). PHQ-9 asks about the last two weeks, so its
    // effective time is a period.
    {
      const bool phq9 = age >= 12;
      Obj o = observation(
          next_observation_id(), std::string(kIpa) + "ipa-observation", kCatSurvey,
          concept_of(phq9 ? kPhq9 : kPainScore, phq9 ? "PHQ-9 total score" : "Pain score"));
      o.val("encounter", encounter_ref(last));
      if (phq9) {
        o.val("effectivePeriod",
              period(format_date(last.start / kDay - 14), format_date(last.start / kDay)));
      } else {
        o.str("effectiveDateTime", format_instant(last.start + 300));
      }
      o.integer("valueInteger", phq9 ? rng_.between(0, 27) : rng_.between(0, 10));
      IPA_RETURN_IF_ERROR(emit_observation(std::move(o)));
    }
    // 003: urine sediment leukocytes, reported as a range per high-power field.
    {
      static constexpr int kLow[] = {0, 2, 5, 10};
      const int low = rng_.pick(kLow);
      const int high = low == 0 ? 2 : low * 2;
      Obj o = observation(next_observation_id(), std::string(kIpa) + "ipa-observation",
                          kCatLaboratory, concept_of(kUrineLeukocytes));
      o.val("encounter", encounter_ref(first));
      o.str("effectiveDateTime", format_instant(first.start + 1500));
      o.val("valueRange", Obj()
                              .val("low", ucum_quantity(std::to_string(low), "/[HPF]", "/[HPF]"))
                              .val("high", ucum_quantity(std::to_string(high), "/[HPF]", "/[HPF]"))
                              .done());
      IPA_RETURN_IF_ERROR(emit_observation(std::move(o)));
    }
    // 004: last night's sleep (activity, Period value).
    {
      const int64_t night = last.start / kDay - 1;
      const int64_t asleep = night * kDay + rng_.between(21 * 60, 24 * 60 - 1) * 60;
      const int64_t awake = asleep + rng_.between(5 * 60, 9 * 60) * 60;
      Obj o = observation(next_observation_id(), std::string(kIpa) + "ipa-observation",
                          kCatActivity, concept_of(kSleepDuration));
      o.str("effectiveDateTime", format_instant(awake));
      o.val("valuePeriod", period(format_instant(asleep), format_instant(awake)));
      IPA_RETURN_IF_ERROR(emit_observation(std::move(o)));
    }
    // 005: a laboratory comment (string value).
    {
      static constexpr std::string_view kComments[] = {
          "Sample collected after an overnight fast.",
          "Specimen received at room temperature; analysed within 2 hours.",
          "Patient reports taking medication on the morning of the test.",
      };
      Obj o = observation(next_observation_id(), std::string(kIpa) + "ipa-observation",
                          kCatLaboratory, concept_of(kAnnotationComment, "Laboratory comment"));
      o.val("encounter", encounter_ref(first));
      o.str("effectiveDateTime", format_instant(first.start + 1200));
      o.str("valueString", rng_.pick(kComments));
      IPA_RETURN_IF_ERROR(emit_observation(std::move(o)));
    }
    // 006: a result that could not be reported: dataAbsentReason instead of a value (IPA
    // conformance, missing data; ipa-obs-1).
    {
      Obj o = observation(next_observation_id(), std::string(kIpa) + "ipa-observation",
                          kCatLaboratory, concept_of(kChemistry[3].code));
      o.val("encounter", encounter_ref(first));
      o.str("effectiveDateTime", format_instant(first.start + 1200));
      o.str("issued", format_instant(first.start + 4 * 3600));
      o.val("performer",
            array_of(reference("Organization", kOrganizations[1].id, kOrganizations[1].name)));
      o.val("dataAbsentReason", concept_of(kDarError, "Specimen hemolyzed; no result"));
      IPA_RETURN_IF_ERROR(emit_observation(std::move(o)));
    }
    // 007 (when the record covers 2020-2022): a SARS-CoV-2 test.
    {
      const int64_t lo = std::max(window_start_, days_from_civil(2020, 3, 15));
      const int64_t hi = std::min(window_end_, days_from_civil(2022, 12, 31));
      if (lo <= hi) {
        const int64_t day = lo + rng_.below(hi - lo + 1);
        Obj o = observation(next_observation_id(), std::string(kIpa) + "ipa-observation",
                            kCatLaboratory, concept_of(kSarsCov2Rna, "SARS-CoV-2 PCR"));
        o.str("effectiveDateTime", format_instant(office_time(day)));
        o.val("valueCodeableConcept", concept_of(rng_.chance(85) ? kNegative : kPositive));
        IPA_RETURN_IF_ERROR(emit_observation(std::move(o)));
      }
    }
    // Per encounter: vital signs, and laboratory panels at check-ups.
    bool first_visit = true;
    bool labs_done = false;
    for (const EncounterInfo& e : encounters_) {
      if (e.kind != EncounterKind::kConsultation) IPA_RETURN_IF_ERROR(write_vitals(e, first_visit));
      const bool labs = first_visit || (e.kind == EncounterKind::kCheckUp && rng_.chance(50)) ||
                        e.kind == EncounterKind::kInpatient;
      if (labs) {
        if (!labs_done || e.kind == EncounterKind::kInpatient) {
          for (const LabDef& lab : kHematology) IPA_RETURN_IF_ERROR(write_lab(e, lab));
        }
        const bool diabetic = has_problem("44054006") || has_problem("15777000");
        for (const LabDef& lab : kChemistry) {
          IPA_RETURN_IF_ERROR(write_lab(e, lab, &lab == &kChemistry[0] && diabetic ? 40 : 0));
        }
        if (age_at(e.start / kDay) >= 30 && (!labs_done || has_problem("55822004"))) {
          for (const LabDef& lab : kLipids) IPA_RETURN_IF_ERROR(write_lab(e, lab));
        }
        if (diabetic) IPA_RETURN_IF_ERROR(write_lab(e, kHbA1c, 15));
        if (has_problem("40930008")) IPA_RETURN_IF_ERROR(write_lab(e, kTsh, 300));
        labs_done = true;
      }
      first_visit = false;
    }
    return {};
  }

  // --- Binary and DocumentReference --------------------------------------------------------

  core::Status write_documents() {
    struct Doc {
      const EncounterInfo* encounter;
      const Code* type;
      bool pdf;
      bool superseded;
      bool replaces;
    };
    std::vector<Doc> docs;
    const EncounterInfo* inpatient = nullptr;
    for (const EncounterInfo& e : encounters_) {
      if (e.kind == EncounterKind::kInpatient) inpatient = &e;
    }
    const EncounterInfo* consult = nullptr;
    for (const EncounterInfo& e : encounters_) {
      if (e.kind == EncounterKind::kConsultation) consult = &e;
    }
    if (inpatient != nullptr) {
      docs.push_back({inpatient, &kDischargeSummary, true, false, false});
    } else {
      docs.push_back({&encounters_.front(), &kSummaryOfEpisode, true, false, false});
    }
    if (consult != nullptr && rng_.chance(50)) {
      docs.push_back({consult, &kConsultNote, false, false, false});
    }
    // Every third record has a progress note that was corrected: the first version is
    // superseded and the second one replaces it (DocumentReference.relatesTo).
    const bool corrected = patient_ % 3 == 0;
    if (corrected) docs.push_back({&encounters_.back(), &kProgressNote, false, true, false});
    docs.push_back({&encounters_.back(), &kProgressNote, false, false, corrected});
    int n = 0;
    std::string previous_doc;
    for (const Doc& d : docs) {
      ++n;
      const EncounterInfo& e = *d.encounter;
      const StaffDef& author = kStaff[e.staff];
      const std::string bin_id = id_of("bin", n);
      const std::string doc_id = id_of("doc", n);
      const std::string date = format_instant(e.end + 3600);
      std::string bytes;
      if (d.pdf) {
        bytes = tiny_pdf({std::string(d.type->display), "Patient record " + pid_,
                          "Encounter " + e.id + " on " + date.substr(0, 10),
                          "Synthetic demo document; not a real patient."});
      } else {
        bytes = std::string(d.type->display) + "\n" + "Patient: " + person_.text + " (" + pid_ +
                ")\n" + "Date: " + date + "\n" + "Author: " + std::string(author.text) + "\n\n";
        if (e.acute >= 0) {
          bytes += "Seen for " + std::string(kAcute[e.acute].code.display) + ". ";
        } else {
          bytes += "Routine review. ";
        }
        bytes += d.superseded ? "Plan: follow up in four weeks."
                              : "Plan: follow up in two weeks; return earlier if symptoms worsen.";
        bytes += "\n";
      }
      const std::string data = base64(bytes);
      const std::string_view content_type = d.pdf ? "application/pdf" : "text/plain";
      {
        Obj o = header("Binary", bin_id);
        o.str("contentType", content_type);
        // Lets the server authorise reads of the Binary through the patient it belongs to.
        o.val("securityContext", reference("Patient", pid_));
        o.str("data", data);
        IPA_RETURN_IF_ERROR(emit("Binary", bin_id, o.done()));
      }
      Obj o = header("DocumentReference", doc_id);
      o.val("meta", ipa_profile("ipa-documentreference"));
      o.val("identifier",
            array_of(Obj().str("system", "urn:ietf:rfc:3986").str("value", uuid()).done()));
      o.str("status", d.superseded ? "superseded" : "current");
      o.str("docStatus", "final");
      o.val("type", concept_of(*d.type));
      o.val("category", array_of(concept_of(kNoteClass)));
      o.val("subject", subject());
      o.str("date", date);
      o.val("author", array_of(rng_.chance(70) ? staff_ref(e.staff) : role_ref(e.staff)));
      o.val("custodian", reference("Organization", kOrganizations[author.organization].id,
                                   kOrganizations[author.organization].name));
      if (d.replaces) {
        o.val("relatesTo", array_of(Obj()
                                        .str("code", "replaces")
                                        .val("target", reference("DocumentReference", previous_doc))
                                        .done()));
      }
      o.str("description", std::string(d.type->display) + ", " + date.substr(0, 10));
      Obj attachment;
      attachment.str("contentType", content_type).str("language", "en");
      // Small text notes travel inline as well; every document is also at its Binary URL
      // (ipa-doc-1: url or data).
      if (!d.pdf) attachment.str("data", data);
      attachment.str("url", "Binary/" + bin_id)
          .integer("size", static_cast<int64_t>(bytes.size()))
          .str("title", std::string(d.type->display) + (d.pdf ? ".pdf" : ".txt"))
          .str("creation", date);
      o.val("content", array_of(Obj()
                                    .val("attachment", attachment.done())
                                    .val("format", coding(kMimeTypeSufficient))
                                    .done()));
      o.val("context", Obj()
                           .val("encounter", array_of(encounter_ref(e)))
                           .val("period", period(format_instant(e.start), format_instant(e.end)))
                           .val("practiceSetting", concept_of(kSpecialties[author.specialty]))
                           .done());
      IPA_RETURN_IF_ERROR(emit("DocumentReference", doc_id, o.done()));
      previous_doc = doc_id;
    }
    return {};
  }

  // --- Provenance --------------------------------------------------------------------------

  core::Status write_provenance() {
    const std::string id = "prov-" + num_;
    Value targets = Value::array();
    targets.items().reserve(targets_.size());
    for (const std::string& t : targets_) {
      targets.push_back(Obj().str("reference", t).done());
    }
    const OrganizationDef& org = kOrganizations[kStaff[gp_].organization];
    Obj o = header("Provenance", id);
    o.val("target", std::move(targets));
    o.str("recorded", format_instant(encounters_.back().end + 2 * 3600));
    o.val("activity", concept_of(kDataOperationCreate));
    o.val("agent", array_of(Obj()
                                .val("type", concept_of(kProvenanceAuthor))
                                .val("who", staff_ref(gp_))
                                .val("onBehalfOf", reference("Organization", org.id, org.name))
                                .done()));
    return emit_(o.done());
  }

  const int patient_;
  const std::string num_;
  const std::string pid_;
  Rng rng_;
  const Person person_;
  const std::function<core::Status(Value)>& emit_;
  int64_t window_start_ = 0;
  int64_t window_end_ = 0;
  int gp_ = 0;
  int64_t adult_height_ = 0;
  int64_t adult_weight_ = 0;
  int observations_ = 0;
  std::string related_person_id_;
  std::vector<EncounterInfo> encounters_;
  std::vector<ProblemInfo> problems_;
  std::vector<RequestInfo> requests_;
  std::vector<std::string> targets_;
};

}  // namespace

core::Status write_patient_record(int patient, uint64_t seed,
                                  const std::function<core::Status(json::Value)>& emit) {
  RecordWriter writer(patient, seed, emit);
  return writer.write();
}

}  // namespace ipa::demo::internal
