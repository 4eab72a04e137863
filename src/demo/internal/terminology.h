// The codes the demo data uses: international terminologies (SNOMED CT, LOINC, UCUM, RxNorm,
// ATC, CVX) and FHIR/HL7 code systems, each code with its official display text. Constant
// tables only; internal to ipa::demo.
#pragma once

#include <string_view>

#include "demo/internal/build.h"

namespace ipa::demo::internal {

// Code systems.
inline constexpr std::string_view kSnomed = "http://snomed.info/sct";
inline constexpr std::string_view kLoinc = "http://loinc.org";
inline constexpr std::string_view kRxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm";
inline constexpr std::string_view kAtc = "http://www.whocc.no/atc";
inline constexpr std::string_view kCvx = "http://hl7.org/fhir/sid/cvx";
inline constexpr std::string_view kBcp47 = "urn:ietf:bcp:47";
inline constexpr std::string_view kObservationCategory =
    "http://terminology.hl7.org/CodeSystem/observation-category";
inline constexpr std::string_view kDataAbsentReason =
    "http://terminology.hl7.org/CodeSystem/data-absent-reason";
inline constexpr std::string_view kDataAbsentReasonExtension =
    "http://hl7.org/fhir/StructureDefinition/data-absent-reason";
inline constexpr std::string_view kTho = "http://terminology.hl7.org/CodeSystem/";

// Profiles.
inline constexpr std::string_view kIpa = "http://hl7.org/fhir/uv/ipa/StructureDefinition/";
inline constexpr std::string_view kVitalSignsProfile =
    "http://hl7.org/fhir/StructureDefinition/vitalsigns";

// Project-owned identifier systems (synthetic data only).
inline constexpr std::string_view kMrnSystem = "https://ipa-demo.example.org/fhir/sid/mrn";
inline constexpr std::string_view kStaffSystem = "https://ipa-demo.example.org/fhir/sid/staff";
inline constexpr std::string_view kOrgSystem = "https://ipa-demo.example.org/fhir/sid/org";

// HL7 terminology codes.
inline constexpr Code kCatVitalSigns{kObservationCategory, "vital-signs", "Vital Signs"};
inline constexpr Code kCatLaboratory{kObservationCategory, "laboratory", "Laboratory"};
inline constexpr Code kCatSocialHistory{kObservationCategory, "social-history", "Social History"};
inline constexpr Code kCatSurvey{kObservationCategory, "survey", "Survey"};
inline constexpr Code kCatActivity{kObservationCategory, "activity", "Activity"};

inline constexpr std::string_view kConditionCategory =
    "http://terminology.hl7.org/CodeSystem/condition-category";
inline constexpr Code kProblemListItem{kConditionCategory, "problem-list-item",
                                       "Problem List Item"};
inline constexpr Code kEncounterDiagnosis{kConditionCategory, "encounter-diagnosis",
                                          "Encounter Diagnosis"};

inline constexpr std::string_view kConditionClinical =
    "http://terminology.hl7.org/CodeSystem/condition-clinical";
inline constexpr Code kConditionActive{kConditionClinical, "active", "Active"};
inline constexpr Code kConditionRecurrence{kConditionClinical, "recurrence", "Recurrence"};
inline constexpr Code kConditionRelapse{kConditionClinical, "relapse", "Relapse"};
inline constexpr Code kConditionInactive{kConditionClinical, "inactive", "Inactive"};
inline constexpr Code kConditionRemission{kConditionClinical, "remission", "Remission"};
inline constexpr Code kConditionResolved{kConditionClinical, "resolved", "Resolved"};

inline constexpr std::string_view kConditionVerStatus =
    "http://terminology.hl7.org/CodeSystem/condition-ver-status";
inline constexpr Code kConditionConfirmed{kConditionVerStatus, "confirmed", "Confirmed"};
inline constexpr Code kConditionProvisional{kConditionVerStatus, "provisional", "Provisional"};
inline constexpr Code kConditionDifferential{kConditionVerStatus, "differential", "Differential"};
inline constexpr Code kConditionUnconfirmed{kConditionVerStatus, "unconfirmed", "Unconfirmed"};
inline constexpr Code kConditionRefuted{kConditionVerStatus, "refuted", "Refuted"};

inline constexpr std::string_view kAllergyClinical =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
inline constexpr Code kAllergyActive{kAllergyClinical, "active", "Active"};
inline constexpr Code kAllergyInactive{kAllergyClinical, "inactive", "Inactive"};
inline constexpr Code kAllergyResolved{kAllergyClinical, "resolved", "Resolved"};
inline constexpr std::string_view kAllergyVerification =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
inline constexpr Code kAllergyConfirmed{kAllergyVerification, "confirmed", "Confirmed"};
inline constexpr Code kAllergyUnconfirmed{kAllergyVerification, "unconfirmed", "Unconfirmed"};
inline constexpr Code kAllergyRefuted{kAllergyVerification, "refuted", "Refuted"};

inline constexpr Code kMedicalRecordNumber{"http://terminology.hl7.org/CodeSystem/v2-0203", "MR",
                                           "Medical record number"};
inline constexpr Code kNextOfKin{"http://terminology.hl7.org/CodeSystem/v2-0131", "N",
                                 "Next-of-Kin"};
inline constexpr std::string_view kRoleCode = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
inline constexpr Code kMother{kRoleCode, "MTH", "mother"};
inline constexpr Code kFather{kRoleCode, "FTH", "father"};

inline constexpr std::string_view kMaritalStatus =
    "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus";
inline constexpr Code kMaritalStatuses[] = {
    {kMaritalStatus, "M", "Married"},
    {kMaritalStatus, "S", "Never Married"},
    {kMaritalStatus, "D", "Divorced"},
    {kMaritalStatus, "W", "Widowed"},
};

inline constexpr std::string_view kActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
inline constexpr Code kAmbulatory{kActCode, "AMB", "ambulatory"};
inline constexpr Code kEmergency{kActCode, "EMER", "emergency"};
inline constexpr Code kInpatient{kActCode, "IMP", "inpatient encounter"};
inline constexpr Code kVirtual{kActCode, "VR", "virtual"};
inline constexpr Code kPrimaryPerformer{
    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF", "primary performer"};
inline constexpr Code kDischargeHome{"http://terminology.hl7.org/CodeSystem/discharge-disposition",
                                     "home", "Home"};

inline constexpr std::string_view kInterpretation =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
inline constexpr Code kHigh{kInterpretation, "H", "High"};
inline constexpr Code kLow{kInterpretation, "L", "Low"};
inline constexpr Code kNormal{kInterpretation, "N", "Normal"};

inline constexpr Code kDarError{kDataAbsentReason, "error", "Error"};
inline constexpr Code kDarNotPerformed{kDataAbsentReason, "not-performed", "Not Performed"};

inline constexpr std::string_view kActReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
inline constexpr Code kImmunizationNotDoneReasons[] = {
    {kActReason, "IMMUNE", "immunity"},
    {kActReason, "MEDPREC", "medical precaution"},
    {kActReason, "OSTOCK", "product out of stock"},
    {kActReason, "PATOBJ", "patient objection"},
};
inline constexpr Code kAdministeringProvider{"http://terminology.hl7.org/CodeSystem/v2-0443", "AP",
                                             "Administering Provider"};
inline constexpr Code kLeftArm{"http://terminology.hl7.org/CodeSystem/v3-ActSite", "LA",
                               "left arm"};
inline constexpr Code kRightArm{"http://terminology.hl7.org/CodeSystem/v3-ActSite", "RA",
                                "right arm"};
inline constexpr Code kIntramuscular{
    "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration", "IM",
    "Injection, intramuscular"};

inline constexpr Code kProvenanceAuthor{
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author", "Author"};
inline constexpr Code kDataOperationCreate{"http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                                           "CREATE", "create"};
inline constexpr Code kHealthcareProvider{"http://terminology.hl7.org/CodeSystem/organization-type",
                                          "prov", "Healthcare Provider"};
inline constexpr std::string_view kPractitionerRole =
    "http://terminology.hl7.org/CodeSystem/practitioner-role";
inline constexpr Code kRoleDoctor{kPractitionerRole, "doctor", "Doctor"};
inline constexpr Code kRoleNurse{kPractitionerRole, "nurse", "Nurse"};
inline constexpr Code kMimeTypeSufficient{"http://ihe.net/fhir/ValueSet/IHE.FormatCode.codesystem",
                                          "urn:ihe:iti:xds:2017:mimeTypeSufficient",
                                          "mimeType Sufficient"};
inline constexpr Code kTabletForm{"http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
                                  "TAB", "Tablet"};
inline constexpr Code kCapsuleForm{"http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
                                   "CAP", "Capsule"};
inline constexpr Code kInhalerForm{"http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
                                   "MDINHL", "Metered Dose Inhaler"};

// SNOMED CT: specialties, routes, severities, encounter types (procedures).
inline constexpr Code kGeneralPractice{kSnomed, "394814009", "General practice"};
inline constexpr Code kSpecialties[] = {
    {kSnomed, "394814009", "General practice"},
    {kSnomed, "394579002", "Cardiology"},
    {kSnomed, "394537008", "Pediatric specialty"},
    {kSnomed, "394583002", "Endocrinology"},
};
inline constexpr Code kOralRoute{kSnomed, "26643006", "Oral route"};
inline constexpr Code kRespiratoryRoute{kSnomed, "447694001", "Respiratory tract route"};
inline constexpr Code kSeverities[] = {
    {kSnomed, "255604002", "Mild"},
    {kSnomed, "6736007", "Moderate"},
    {kSnomed, "24484000", "Severe"},
};
inline constexpr Code kCheckUp{kSnomed, "185349003", "Encounter for check up"};
inline constexpr Code kSymptomVisit{kSnomed, "185345009", "Encounter for symptom"};
inline constexpr Code kConsultation{kSnomed, "11429006", "Consultation"};
inline constexpr Code kEmergencyAdmission{kSnomed, "50849002", "Emergency room admission"};
inline constexpr Code kHospitalAdmission{kSnomed, "32485007", "Hospital admission"};

// Conditions (SNOMED CT disorders and findings), with the index of a medication that treats
// them in kMedications, or -1.
struct ConditionDef {
  Code code;
  int medication;
};
inline constexpr ConditionDef kAdultChronic[] = {
    {{kSnomed, "38341003", "Hypertensive disorder, systemic arterial"}, 0},
    {{kSnomed, "44054006", "Diabetes mellitus type 2"}, 3},
    {{kSnomed, "55822004", "Hyperlipidemia"}, 4},
    {{kSnomed, "195967001", "Asthma"}, 6},
    {{kSnomed, "13645005", "Chronic obstructive lung disease"}, 6},
    {{kSnomed, "40930008", "Hypothyroidism"}, -1},
    {{kSnomed, "235595009", "Gastroesophageal reflux disease"}, -1},
    {{kSnomed, "37796009", "Migraine"}, 10},
    {{kSnomed, "396275006", "Osteoarthritis"}, 9},
    {{kSnomed, "35489007", "Depressive disorder"}, -1},
    {{kSnomed, "197480006", "Anxiety disorder"}, -1},
    {{kSnomed, "49436004", "Atrial fibrillation"}, -1},
    {{kSnomed, "61582004", "Allergic rhinitis"}, 7},
    {{kSnomed, "15777000", "Prediabetes"}, -1},
    {{kSnomed, "69896004", "Rheumatoid arthritis"}, 10},
    {{kSnomed, "271737000", "Anemia"}, -1},
};
inline constexpr ConditionDef kChildChronic[] = {
    {{kSnomed, "195967001", "Asthma"}, 6},
    {{kSnomed, "61582004", "Allergic rhinitis"}, 7},
    {{kSnomed, "271737000", "Anemia"}, -1},
    {{kSnomed, "37796009", "Migraine"}, 9},
};
inline constexpr ConditionDef kAcute[] = {
    {{kSnomed, "444814009", "Viral sinusitis"}, 9},
    {{kSnomed, "10509002", "Acute bronchitis"}, 9},
    {{kSnomed, "43878008", "Streptococcal sore throat"}, 8},
    {{kSnomed, "65363002", "Otitis media"}, 8},
    {{kSnomed, "195662009", "Acute viral pharyngitis"}, 9},
    {{kSnomed, "68566005", "Urinary tract infectious disease"}, -1},
    {{kSnomed, "279039007", "Low back pain"}, 10},
    {{kSnomed, "233604007", "Pneumonia"}, 8},
    {{kSnomed, "25064002", "Headache"}, 9},
    {{kSnomed, "840539006", "COVID-19"}, 9},
};

// Allergy substances (SNOMED CT substances) and their AllergyIntolerance.category code.
struct AllergenDef {
  Code code;
  std::string_view category;  // food | medication | environment
};
inline constexpr AllergenDef kAllergens[] = {
    {{kSnomed, "227493005", "Cashew nuts"}, "food"},
    {{kSnomed, "102263004", "Eggs (edible)"}, "food"},
    {{kSnomed, "3718001", "Cow's milk"}, "food"},
    {{kSnomed, "372687004", "Amoxicillin"}, "medication"},
    {{kSnomed, "387458008", "Aspirin"}, "medication"},
    {{kSnomed, "387207008", "Ibuprofen"}, "medication"},
    {{kSnomed, "387517004", "Paracetamol"}, "medication"},
    {{kSnomed, "111088007", "Latex"}, "environment"},
    {{kSnomed, "256259004", "Pollen"}, "environment"},
};
inline constexpr Code kNoKnownAllergy{kSnomed, "716186003", "No known allergy"};
inline constexpr Code kManifestations[] = {
    {kSnomed, "271807003", "Eruption of skin"}, {kSnomed, "126485001", "Urticaria"},
    {kSnomed, "418290006", "Itching"},          {kSnomed, "39579001", "Anaphylaxis"},
    {kSnomed, "267036007", "Dyspnea"},          {kSnomed, "422587007", "Nausea"},
    {kSnomed, "41291007", "Angioedema"},        {kSnomed, "76067001", "Sneezing"},
};

// Medications at clinical-drug level: RxNorm SCD with the ATC code of the ingredient.
struct MedicationDef {
  std::string_view id;
  Code rxnorm;
  Code atc;
  Code form;
  std::string_view strength;  // per unit of form, in `strength_unit`
  std::string_view strength_unit;
  std::string_view dosage_text;
  int per_day;  // administrations per day
  bool as_needed;
};
inline constexpr MedicationDef kMedications[] = {
    {"med-01",
     {kRxNorm, "314076", "lisinopril 10 MG Oral Tablet"},
     {kAtc, "C09AA03", "lisinopril"},
     kTabletForm,
     "10",
     "mg",
     "Take 1 tablet by mouth once daily.",
     1,
     false},
    {"med-02",
     {kRxNorm, "197361", "amlodipine 5 MG Oral Tablet"},
     {kAtc, "C08CA01", "amlodipine"},
     kTabletForm,
     "5",
     "mg",
     "Take 1 tablet by mouth once daily.",
     1,
     false},
    {"med-03",
     {kRxNorm, "310798", "hydrochlorothiazide 25 MG Oral Tablet"},
     {kAtc, "C03AA03", "hydrochlorothiazide"},
     kTabletForm,
     "25",
     "mg",
     "Take 1 tablet by mouth every morning.",
     1,
     false},
    {"med-04",
     {kRxNorm, "860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet"},
     {kAtc, "A10BA02", "metformin"},
     kTabletForm,
     "500",
     "mg",
     "Take 1 tablet by mouth once daily with the evening meal.",
     1,
     false},
    {"med-05",
     {kRxNorm, "312961", "simvastatin 20 MG Oral Tablet"},
     {kAtc, "C10AA01", "simvastatin"},
     kTabletForm,
     "20",
     "mg",
     "Take 1 tablet by mouth once daily in the evening.",
     1,
     false},
    {"med-06",
     {kRxNorm, "259255", "atorvastatin 80 MG Oral Tablet"},
     {kAtc, "C10AA05", "atorvastatin"},
     kTabletForm,
     "80",
     "mg",
     "Take 1 tablet by mouth once daily.",
     1,
     false},
    {"med-07",
     {kRxNorm, "745679", "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"},
     {kAtc, "R03AC02", "salbutamol"},
     kInhalerForm,
     "0.09",
     "mg",
     "Inhale 2 puffs every 4 to 6 hours as needed for wheezing or shortness of breath.",
     4,
     true},
    {"med-08",
     {kRxNorm, "311372", "loratadine 10 MG Oral Tablet"},
     {kAtc, "R06AX13", "loratadine"},
     kTabletForm,
     "10",
     "mg",
     "Take 1 tablet by mouth once daily as needed for allergy symptoms.",
     1,
     true},
    {"med-09",
     {kRxNorm, "308182", "amoxicillin 250 MG Oral Capsule"},
     {kAtc, "J01CA04", "amoxicillin"},
     kCapsuleForm,
     "250",
     "mg",
     "Take 1 capsule by mouth three times daily for 10 days.",
     3,
     false},
    {"med-10",
     {kRxNorm, "313782", "acetaminophen 325 MG Oral Tablet"},
     {kAtc, "N02BE01", "paracetamol"},
     kTabletForm,
     "325",
     "mg",
     "Take 2 tablets by mouth every 6 hours as needed for pain or fever; at most 8 tablets a day.",
     4,
     true},
    {"med-11",
     {kRxNorm, "310965", "ibuprofen 200 MG Oral Tablet"},
     {kAtc, "M01AE01", "ibuprofen"},
     kTabletForm,
     "200",
     "mg",
     "Take 1 to 2 tablets by mouth every 6 to 8 hours as needed for pain, with food.",
     3,
     true},
};
inline constexpr int kMedicationCount = sizeof(kMedications) / sizeof(kMedications[0]);

// Vaccines (CVX) with the minimum age in years at which the demo gives them.
struct VaccineDef {
  Code code;
  int min_age;
  int max_age;
  int not_before_year;
};
inline constexpr VaccineDef kVaccines[] = {
    {{kCvx, "08", "Hep B, adolescent or pediatric"}, 0, 17, 1990},
    {{kCvx, "20", "DTaP"}, 0, 6, 1990},
    {{kCvx, "10", "IPV"}, 0, 6, 1990},
    {{kCvx, "03", "MMR"}, 1, 6, 1990},
    {{kCvx, "21", "varicella"}, 1, 12, 1995},
    {{kCvx, "115", "Tdap"}, 11, 120, 2005},
    {{kCvx, "62", "HPV, quadrivalent"}, 11, 26, 2006},
    {{kCvx, "140", "Influenza, seasonal, injectable, preservative free"}, 3, 120, 2010},
    {{kCvx, "208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose"}, 12, 120, 2021},
    {{kCvx, "113", "Td (adult) preservative free"}, 18, 120, 2000},
    {{kCvx, "133", "Pneumococcal conjugate PCV 13"}, 65, 120, 2012},
    {{kCvx, "187", "zoster recombinant"}, 50, 120, 2018},
};

// Laboratory tests (LOINC) with UCUM unit, reference range and value spread, in the unit's
// smallest step: `scale` 1 = integers, 10 = tenths.
struct LabDef {
  Code code;
  std::string_view unit;
  int scale;
  int low;   // reference range low, in steps
  int high;  // reference range high, in steps
  int min;   // generated value range, in steps
  int max;
};
inline constexpr LabDef kHematology[] = {
    {{kLoinc, "718-7", "Hemoglobin [Mass/volume] in Blood"}, "g/dL", 10, 120, 170, 100, 180},
    {{kLoinc, "6690-2", "Leukocytes [#/volume] in Blood by Automated count"},
     "10*3/uL",
     10,
     40,
     110,
     30,
     140},
    {{kLoinc, "777-3", "Platelets [#/volume] in Blood by Automated count"},
     "10*3/uL",
     1,
     150,
     400,
     120,
     450},
};
inline constexpr LabDef kChemistry[] = {
    {{kLoinc, "2345-7", "Glucose [Mass/volume] in Serum or Plasma"}, "mg/dL", 1, 70, 99, 65, 160},
    {{kLoinc, "2160-0", "Creatinine [Mass/volume] in Serum or Plasma"},
     "mg/dL",
     100,
     60,
     120,
     50,
     160},
    {{kLoinc, "2951-2", "Sodium [Moles/volume] in Serum or Plasma"},
     "mmol/L",
     1,
     136,
     145,
     132,
     148},
    {{kLoinc, "2823-3", "Potassium [Moles/volume] in Serum or Plasma"},
     "mmol/L",
     10,
     35,
     51,
     32,
     55},
};
inline constexpr LabDef kLipids[] = {
    {{kLoinc, "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma"},
     "mg/dL",
     1,
     0,
     199,
     140,
     280},
    {{kLoinc, "2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma"},
     "mg/dL",
     1,
     40,
     100,
     30,
     90},
    {{kLoinc, "13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation"},
     "mg/dL",
     1,
     0,
     99,
     60,
     190},
    {{kLoinc, "2571-8", "Triglyceride [Mass/volume] in Serum or Plasma"},
     "mg/dL",
     1,
     0,
     149,
     60,
     300},
};
inline constexpr LabDef kHbA1c{
    {kLoinc, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"}, "%", 10, 40, 56, 48, 95};
inline constexpr LabDef kTsh{{kLoinc, "3016-3", "Thyrotropin [Units/volume] in Serum or Plasma"},
                             "m[IU]/L",
                             100,
                             40,
                             400,
                             30,
                             900};

// Other observations.
inline constexpr Code kSmokingStatus{kLoinc, "72166-2", "Tobacco smoking status"};
inline constexpr Code kSmokingValues[] = {
    {kSnomed, "266919005", "Never smoked tobacco"},
    {kSnomed, "8517006", "Ex-smoker"},
    {kSnomed, "449868002", "Smokes tobacco daily"},
    {kSnomed, "77176002", "Smoker"},
};
inline constexpr Code kPhq9{kLoinc, "44261-6",
                            "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"};
inline constexpr Code kPainScore{kLoinc, "72514-3",
                                 "Pain severity - 0-10 verbal numeric rating [Score] - Reported"};
inline constexpr Code kUrineLeukocytes{
    kLoinc, "5821-4", "Leukocytes [#/area] in Urine sediment by Microscopy high power field"};
inline constexpr Code kSleepDuration{kLoinc, "93832-4", "Sleep duration"};
inline constexpr Code kAnnotationComment{kLoinc, "48767-8",
                                         "Annotation comment [Interpretation] Narrative"};
inline constexpr Code kSarsCov2Rna{kLoinc, "94500-6",
                                   "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen "
                                   "by NAA with probe detection"};
inline constexpr Code kNegative{kSnomed, "260385009", "Negative"};
inline constexpr Code kPositive{kSnomed, "10828004", "Positive"};
inline constexpr Code kLastMenstrualPeriod{kLoinc, "8665-2", "Last menstrual period start date"};

// Vital signs (FHIR core vitalsigns profile codes).
inline constexpr Code kBloodPressurePanel{kLoinc, "85354-9",
                                          "Blood pressure panel with all children optional"};
inline constexpr Code kSystolic{kLoinc, "8480-6", "Systolic blood pressure"};
inline constexpr Code kDiastolic{kLoinc, "8462-4", "Diastolic blood pressure"};
inline constexpr Code kHeartRate{kLoinc, "8867-4", "Heart rate"};
inline constexpr Code kRespiratoryRate{kLoinc, "9279-1", "Respiratory rate"};
inline constexpr Code kBodyTemperature{kLoinc, "8310-5", "Body temperature"};
inline constexpr Code kBodyWeight{kLoinc, "29463-7", "Body weight"};
inline constexpr Code kBodyHeight{kLoinc, "8302-2", "Body height"};
inline constexpr Code kBmi{kLoinc, "39156-5", "Body mass index (BMI) [Ratio]"};
inline constexpr Code kOxygenSaturation{kLoinc, "2708-6", "Oxygen saturation in Arterial blood"};
inline constexpr Code kPulseOximetry{kLoinc, "59408-5",
                                     "Oxygen saturation in Arterial blood by Pulse oximetry"};

// Document types and class (LOINC).
inline constexpr Code kSummaryOfEpisode{kLoinc, "34133-9", "Summary of episode note"};
inline constexpr Code kProgressNote{kLoinc, "11506-3", "Progress note"};
inline constexpr Code kDischargeSummary{kLoinc, "18842-5", "Discharge summary"};
inline constexpr Code kConsultNote{kLoinc, "11488-4", "Consult note"};
inline constexpr Code kNoteClass{kLoinc, "34109-9", "Note"};

}  // namespace ipa::demo::internal
