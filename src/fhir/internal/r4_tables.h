// Raw layout of the generated FHIR R4 tables (src/fhir/generated/r4_model_data.cc, written by
// tools/r4gen/r4gen.js). Only model.cc reads these; everyone else uses fhir/model.h. Immutable
// data: safe to read from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ipa::fhir::internal {

// Strings are indices into kStringOffsets: string i is
// kStringBlob[kStringOffsets[i] .. kStringOffsets[i + 1]). Index 0 is the empty string.

struct RawType {
  uint32_t name;
  uint8_t kind;       // fhir::TypeKind
  uint8_t primitive;  // fhir::PrimitiveKind
  uint16_t base;      // index into kTypes, or 0xffff
  uint32_t first_element;
  uint16_t element_count;
};

struct RawElement {
  uint32_t name;         // JSON name
  uint32_t choice_base;  // "value" for valueQuantity; 0 when not a choice
  uint16_t type;         // index into kTypes
  uint16_t binding;      // index into kBindings; 0 = none
  int32_t min;
  int32_t max;  // -1 = *
  uint8_t is_array;
  uint8_t is_summary;  // ElementDefinition.isSummary
};

struct RawBinding {
  uint32_t value_set;
  uint32_t first_code;  // into kBindingCodes
  uint32_t code_count;
  uint32_t first_system;  // into kRefLists
  uint32_t system_count;
};

struct RawSearchParam {
  uint32_t code;
  uint32_t url;
  uint32_t expression;
  uint8_t type;         // fhir::SearchParamType
  uint32_t first_base;  // into kRefLists
  uint32_t base_count;
  uint32_t first_target;  // into kRefLists
  uint32_t target_count;
  uint32_t first_component;  // into kComponents
  uint32_t component_count;
};

struct RawComponent {
  uint32_t definition;  // canonical URL of the component's SearchParameter
  uint32_t code;        // its code
  uint32_t expression;
};

struct RawResourceParams {
  uint16_t type;   // index into kTypes
  uint32_t first;  // into kResourceParamEntries; sorted by code
  uint32_t count;
};

struct RawResourceParamEntry {
  uint32_t param;       // index into kSearchParams
  uint32_t expression;  // the part of the expression that applies to this resource type
};

struct RawCompartment {
  uint32_t resource_type;
  uint32_t first_param;  // into kRefLists
  uint32_t param_count;
};

extern const char kStringBlob[];
extern const uint32_t kStringOffsets[];
extern const size_t kStringCount;
extern const RawType kTypes[];
extern const size_t kTypeCount;
extern const RawElement kElements[];
extern const size_t kElementCount;
extern const RawBinding kBindings[];
extern const size_t kBindingCount;
extern const uint32_t kBindingCodes[];
extern const uint32_t kRefLists[];
extern const size_t kRefListCount;
extern const RawSearchParam kSearchParams[];
extern const size_t kSearchParamCount;
extern const RawComponent kComponents[];
extern const size_t kComponentCount;
extern const RawResourceParams kResourceParams[];
extern const size_t kResourceParamsCount;
extern const RawResourceParamEntry kResourceParamEntries[];
extern const size_t kResourceParamEntryCount;
extern const RawCompartment kPatientCompartment[];
extern const size_t kPatientCompartmentCount;
extern const size_t kMaxElementsPerType;

}  // namespace ipa::fhir::internal
