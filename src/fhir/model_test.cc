#include "fhir/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace ipa::fhir {
namespace {

bool contains(std::span<const std::string_view> list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

TEST(Model, ResourceTypes) {
  // R4 4.0.1 defines 146 concrete resource types (Resource and DomainResource are abstract);
  // the package's R4B SubscriptionStatus is left out.
  EXPECT_EQ(resource_types().size(), 146u);
  EXPECT_FALSE(is_resource_type("SubscriptionStatus"));
  EXPECT_TRUE(std::is_sorted(resource_types().begin(), resource_types().end()));
  EXPECT_TRUE(is_resource_type("Patient"));
  EXPECT_TRUE(is_resource_type("Observation"));
  EXPECT_TRUE(is_resource_type("Bundle"));
  EXPECT_TRUE(is_resource_type("Binary"));
  EXPECT_FALSE(is_resource_type("Resource"));
  EXPECT_FALSE(is_resource_type("DomainResource"));
  EXPECT_FALSE(is_resource_type("HumanName"));
  EXPECT_FALSE(is_resource_type("patient"));
  EXPECT_FALSE(is_resource_type(""));
  EXPECT_FALSE(is_resource_type("Observation.component"));
}

TEST(Model, PatientElements) {
  const TypeInfo* patient = find_type("Patient");
  ASSERT_NE(patient, nullptr);
  EXPECT_EQ(patient->kind, TypeKind::kResource);
  ASSERT_NE(patient->base, nullptr);
  EXPECT_EQ(patient->base->name, "DomainResource");

  // Inherited from Resource and DomainResource.
  for (std::string_view name : {"id", "meta", "implicitRules", "language", "text", "contained",
                                "extension", "modifierExtension"}) {
    EXPECT_NE(patient->find_element(name), nullptr) << name;
  }
  const ElementInfo* id = patient->find_element("id");
  EXPECT_EQ(id->type->primitive, PrimitiveKind::kId);

  const ElementInfo* name = patient->find_element("name");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->type->name, "HumanName");
  EXPECT_EQ(name->min, 0);
  EXPECT_EQ(name->max, kUnbounded);
  EXPECT_TRUE(name->is_array);

  const ElementInfo* birth = patient->find_element("birthDate");
  ASSERT_NE(birth, nullptr);
  EXPECT_EQ(birth->type->primitive, PrimitiveKind::kDate);
  EXPECT_FALSE(birth->is_array);
  EXPECT_EQ(birth->max, 1);

  const ElementInfo* deceased = patient->find_element("deceasedDateTime");
  ASSERT_NE(deceased, nullptr);
  EXPECT_EQ(deceased->choice_base, "deceased");
  EXPECT_EQ(deceased->type->primitive, PrimitiveKind::kDateTime);
  EXPECT_NE(patient->find_element("deceasedBoolean"), nullptr);
  EXPECT_EQ(patient->find_element("deceased"), nullptr);
  EXPECT_EQ(patient->find_element("deceased[x]"), nullptr);

  const ElementInfo* gender = patient->find_element("gender");
  ASSERT_NE(gender, nullptr);
  ASSERT_NE(gender->binding, nullptr);
  EXPECT_TRUE(gender->binding->enumerable());
  EXPECT_TRUE(gender->binding->contains("female"));
  EXPECT_TRUE(gender->binding->contains("unknown"));
  EXPECT_FALSE(gender->binding->contains("f"));

  // Backbone elements are types named by their path.
  const ElementInfo* contact = patient->find_element("contact");
  ASSERT_NE(contact, nullptr);
  EXPECT_EQ(contact->type->name, "Patient.contact");
  EXPECT_EQ(contact->type->kind, TypeKind::kBackbone);
  EXPECT_NE(contact->type->find_element("relationship"), nullptr);
}

TEST(Model, ObservationChoicesAndBackbones) {
  const TypeInfo* obs = find_type("Observation");
  ASSERT_NE(obs, nullptr);
  int value_variants = 0;
  for (const ElementInfo& e : obs->elements) value_variants += e.choice_base == "value";
  EXPECT_EQ(value_variants, 11);  // Quantity, CodeableConcept, string, boolean, integer, ...
  const ElementInfo* vq = obs->find_element("valueQuantity");
  ASSERT_NE(vq, nullptr);
  EXPECT_EQ(vq->type->name, "Quantity");
  const ElementInfo* status = obs->find_element("status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->min, 1);
  EXPECT_TRUE(status->binding->contains("final"));
  const ElementInfo* component = obs->find_element("component");
  ASSERT_NE(component, nullptr);
  EXPECT_EQ(component->type->name, "Observation.component");
  EXPECT_NE(component->type->find_element("valueQuantity"), nullptr);
  EXPECT_EQ(component->type->find_element("code")->min, 1);

  const TypeInfo* quantity = find_type("Quantity");
  ASSERT_NE(quantity, nullptr);
  EXPECT_EQ(quantity->find_element("value")->type->primitive, PrimitiveKind::kDecimal);
  EXPECT_TRUE(quantity->find_element("comparator")->binding->contains(">="));
}

TEST(Model, ContentReference) {
  const TypeInfo* item = find_type("Questionnaire.item");
  ASSERT_NE(item, nullptr);
  const ElementInfo* nested = item->find_element("item");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->type, item);
  EXPECT_NE(find_type("Questionnaire.item.enableWhen"), nullptr);
}

TEST(Model, PrimitivesAndDataTypes) {
  EXPECT_EQ(find_type("dateTime")->primitive, PrimitiveKind::kDateTime);
  EXPECT_EQ(find_type("positiveInt")->primitive, PrimitiveKind::kPositiveInt);
  EXPECT_EQ(find_type("xhtml")->primitive, PrimitiveKind::kXhtml);
  // A primitive's `_element` carries id and extension only.
  const TypeInfo* str = find_type("string");
  EXPECT_EQ(str->elements.size(), 2u);
  EXPECT_NE(str->find_element("extension"), nullptr);
  EXPECT_EQ(str->find_element("value"), nullptr);
  const TypeInfo* ext = find_type("Extension");
  EXPECT_EQ(ext->find_element("url")->min, 1);
  EXPECT_NE(ext->find_element("valueBase64Binary"), nullptr);
  EXPECT_EQ(find_type("Narrative")->find_element("div")->type->primitive, PrimitiveKind::kXhtml);
  EXPECT_EQ(find_type("Resource")->kind, TypeKind::kAbstract);
  EXPECT_TRUE(find_type("Resource")->is_resource());
  EXPECT_EQ(find_type("Bundle.entry")->find_element("resource")->type->name, "Resource");
  EXPECT_EQ(find_type("NoSuchType"), nullptr);
  EXPECT_EQ(primitive_name(PrimitiveKind::kBase64Binary), "base64Binary");
}

TEST(Model, ElementsAreSorted) {
  for (const TypeInfo& t : all_types()) {
    EXPECT_TRUE(
        std::is_sorted(t.elements.begin(), t.elements.end(),
                       [](const ElementInfo& a, const ElementInfo& b) { return a.name < b.name; }))
        << t.name;
  }
}

TEST(Model, SearchParams) {
  const SearchParamInfo* code = find_search_param("Observation", "code");
  ASSERT_NE(code, nullptr);
  EXPECT_EQ(code->type, SearchParamType::kToken);
  EXPECT_NE(code->expression.find("Observation.code"), std::string_view::npos);
  EXPECT_EQ(code->expression.find("Condition.code"), std::string_view::npos);
  EXPECT_NE(code->full_expression.find("Condition.code"), std::string_view::npos);
  EXPECT_TRUE(contains(code->base, "Observation"));
  EXPECT_EQ(search_param_type_name(code->type), "token");

  const SearchParamInfo* subject = find_search_param("Observation", "subject");
  ASSERT_NE(subject, nullptr);
  EXPECT_EQ(subject->type, SearchParamType::kReference);
  EXPECT_TRUE(contains(subject->targets, "Patient"));

  const SearchParamInfo* id = find_search_param("Observation", "_id");
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->expression, "Resource.id");
  const SearchParamInfo* updated = find_search_param("Patient", "_lastUpdated");
  ASSERT_NE(updated, nullptr);
  EXPECT_EQ(updated->type, SearchParamType::kDate);
  EXPECT_NE(find_search_param("Patient", "_text"), nullptr);  // DomainResource
  EXPECT_EQ(find_search_param("Bundle", "_text"), nullptr);   // Bundle is not a DomainResource
  EXPECT_NE(find_search_param("Bundle", "_id"), nullptr);

  const SearchParamInfo* family = find_search_param("Patient", "family");
  ASSERT_NE(family, nullptr);
  EXPECT_EQ(family->type, SearchParamType::kString);
  EXPECT_EQ(find_search_param("Patient", "nope"), nullptr);
  EXPECT_TRUE(search_params("Nope").empty());

  auto params = search_params("Observation");
  EXPECT_GT(params.size(), 30u);
  EXPECT_TRUE(std::is_sorted(
      params.begin(), params.end(),
      [](const SearchParamInfo& a, const SearchParamInfo& b) { return a.code < b.code; }));

  const SearchParamInfo* composite = find_search_param("Observation", "code-value-quantity");
  ASSERT_NE(composite, nullptr);
  EXPECT_EQ(composite->type, SearchParamType::kComposite);
  ASSERT_EQ(composite->components.size(), 2u);
  EXPECT_EQ(composite->components[0].code, "code");
  EXPECT_EQ(composite->components[1].code, "value-quantity");

  // Every resource type has the Resource-level parameters.
  for (std::string_view type : resource_types()) {
    EXPECT_NE(find_search_param(type, "_id"), nullptr) << type;
  }
}

TEST(Model, PatientCompartment) {
  auto obs = patient_compartment_params("Observation");
  EXPECT_TRUE(contains(obs, "subject"));
  EXPECT_TRUE(contains(obs, "performer"));
  auto doc = patient_compartment_params("DocumentReference");
  EXPECT_TRUE(contains(doc, "subject"));
  EXPECT_TRUE(contains(doc, "author"));
  EXPECT_TRUE(contains(patient_compartment_params("Patient"), "link"));
  EXPECT_TRUE(patient_compartment_params("Practitioner").empty());
  EXPECT_TRUE(patient_compartment_params("Organization").empty());
  EXPECT_TRUE(patient_compartment_params("Medication").empty());
  EXPECT_TRUE(patient_compartment_params("Nope").empty());
  // Every compartment parameter is a search parameter of its type.
  for (std::string_view type : resource_types()) {
    for (std::string_view p : patient_compartment_params(type)) {
      EXPECT_NE(find_search_param(type, p), nullptr) << type << "." << p;
    }
  }
}

}  // namespace
}  // namespace ipa::fhir
