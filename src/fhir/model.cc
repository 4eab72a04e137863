// Builds the public model structures from the raw generated tables, once, on first use.
#include "fhir/model.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <vector>

#include "fhir/internal/r4_tables.h"

namespace ipa::fhir {
namespace {

namespace raw = internal;

struct ResourceParams {
  std::string_view type;
  std::span<const SearchParamInfo> params;
};

struct Compartment {
  std::string_view type;
  std::span<const std::string_view> params;
};

class Model {
 public:
  Model() {
    strings_.resize(raw::kStringCount);
    for (size_t i = 0; i < raw::kStringCount; ++i) {
      strings_[i] = std::string_view(raw::kStringBlob + raw::kStringOffsets[i],
                                     raw::kStringOffsets[i + 1] - raw::kStringOffsets[i]);
    }

    // Bindings first: elements point at them.
    size_t code_total = 0;
    for (size_t i = 0; i < raw::kBindingCount; ++i) code_total += raw::kBindings[i].code_count;
    ref_views_.resize(raw::kRefListCount);
    for (size_t i = 0; i < raw::kRefListCount; ++i) ref_views_[i] = str(raw::kRefLists[i]);
    binding_codes_.reserve(code_total);
    bindings_.resize(raw::kBindingCount);
    for (size_t i = 0; i < raw::kBindingCount; ++i) {
      const raw::RawBinding& b = raw::kBindings[i];
      size_t first = binding_codes_.size();
      for (uint32_t c = 0; c < b.code_count; ++c) {
        binding_codes_.push_back(str(raw::kBindingCodes[b.first_code + c]));
      }
      std::sort(binding_codes_.begin() + first, binding_codes_.end());
      bindings_[i].value_set = str(b.value_set);
      bindings_[i].codes =
          std::span<const std::string_view>(binding_codes_.data() + first, b.code_count);
      bindings_[i].systems = refs(b.first_system, b.system_count);
    }

    types_.resize(raw::kTypeCount);
    elements_.resize(raw::kElementCount);
    for (size_t i = 0; i < raw::kElementCount; ++i) {
      const raw::RawElement& e = raw::kElements[i];
      elements_[i] = ElementInfo{str(e.name),
                                 str(e.choice_base),
                                 &types_[e.type],
                                 e.min,
                                 e.max,
                                 e.is_array != 0,
                                 e.is_summary != 0,
                                 e.binding == 0 ? nullptr : &bindings_[e.binding]};
    }
    for (size_t i = 0; i < raw::kTypeCount; ++i) {
      const raw::RawType& t = raw::kTypes[i];
      types_[i] = TypeInfo{
          str(t.name), static_cast<TypeKind>(t.kind), static_cast<PrimitiveKind>(t.primitive),
          t.base == 0xffff ? nullptr : &types_[t.base],
          std::span<const ElementInfo>(elements_.data() + t.first_element, t.element_count)};
      assert(i == 0 || types_[i - 1].name < types_[i].name);
      if (types_[i].kind == TypeKind::kResource) resource_types_.push_back(types_[i].name);
    }

    components_.reserve(raw::kComponentCount);
    for (size_t i = 0; i < raw::kComponentCount; ++i) {
      const raw::RawComponent& c = raw::kComponents[i];
      components_.push_back({str(c.definition), str(c.code), str(c.expression)});
    }
    params_.reserve(raw::kResourceParamEntryCount);
    for (size_t i = 0; i < raw::kResourceParamEntryCount; ++i) {
      const raw::RawResourceParamEntry& entry = raw::kResourceParamEntries[i];
      const raw::RawSearchParam& p = raw::kSearchParams[entry.param];
      params_.push_back(
          SearchParamInfo{str(p.code), static_cast<SearchParamType>(p.type), str(entry.expression),
                          str(p.expression), str(p.url), refs(p.first_base, p.base_count),
                          refs(p.first_target, p.target_count),
                          std::span<const SearchParamComponent>(
                              components_.data() + p.first_component, p.component_count)});
    }
    for (size_t i = 0; i < raw::kResourceParamsCount; ++i) {
      const raw::RawResourceParams& rp = raw::kResourceParams[i];
      resource_params_.push_back({types_[rp.type].name, std::span<const SearchParamInfo>(
                                                            params_.data() + rp.first, rp.count)});
    }
    // Generated in type order, which is name order.
    for (size_t i = 0; i < raw::kPatientCompartmentCount; ++i) {
      const raw::RawCompartment& c = raw::kPatientCompartment[i];
      compartment_.push_back({str(c.resource_type), refs(c.first_param, c.param_count)});
    }
  }

  std::string_view str(uint32_t i) const { return strings_[i]; }
  std::span<const std::string_view> refs(uint32_t first, uint32_t count) const {
    return std::span<const std::string_view>(ref_views_.data() + first, count);
  }

  std::vector<std::string_view> strings_;
  std::vector<std::string_view> binding_codes_;
  std::vector<std::string_view> ref_views_;
  std::vector<RequiredBinding> bindings_;
  std::vector<TypeInfo> types_;
  std::vector<ElementInfo> elements_;
  std::vector<std::string_view> resource_types_;
  std::vector<SearchParamComponent> components_;
  std::vector<SearchParamInfo> params_;
  std::vector<ResourceParams> resource_params_;  // sorted by type
  std::vector<Compartment> compartment_;         // sorted by type
};

const Model& model() {
  static const Model* const kModel = new Model();
  return *kModel;
}

template <typename T, typename Key>
const T* find_sorted(std::span<const T> items, std::string_view name, Key key) {
  auto it = std::lower_bound(items.begin(), items.end(), name,
                             [&key](const T& item, std::string_view n) { return key(item) < n; });
  if (it == items.end() || key(*it) != name) return nullptr;
  return &*it;
}

}  // namespace

bool RequiredBinding::contains(std::string_view code) const {
  return std::binary_search(codes.begin(), codes.end(), code);
}

const ElementInfo* TypeInfo::find_element(std::string_view element_name) const {
  return find_sorted(elements, element_name, [](const ElementInfo& e) { return e.name; });
}

bool TypeInfo::is_resource() const {
  return kind == TypeKind::kResource ||
         (kind == TypeKind::kAbstract && (name == "Resource" || name == "DomainResource"));
}

const TypeInfo* find_type(std::string_view name) {
  return find_sorted(std::span<const TypeInfo>(model().types_), name,
                     [](const TypeInfo& t) { return t.name; });
}

bool is_resource_type(std::string_view name) {
  const TypeInfo* t = find_type(name);
  return t != nullptr && t->kind == TypeKind::kResource;
}

std::span<const std::string_view> resource_types() { return model().resource_types_; }

std::span<const TypeInfo> all_types() { return model().types_; }

std::span<const SearchParamInfo> search_params(std::string_view resource_type) {
  const ResourceParams* rp =
      find_sorted(std::span<const ResourceParams>(model().resource_params_), resource_type,
                  [](const ResourceParams& r) { return r.type; });
  if (rp == nullptr) return {};
  return rp->params;
}

const SearchParamInfo* find_search_param(std::string_view resource_type, std::string_view code) {
  return find_sorted(search_params(resource_type), code,
                     [](const SearchParamInfo& p) { return p.code; });
}

std::span<const std::string_view> patient_compartment_params(std::string_view resource_type) {
  const Compartment* c = find_sorted(std::span<const Compartment>(model().compartment_),
                                     resource_type, [](const Compartment& x) { return x.type; });
  if (c == nullptr) return {};
  return c->params;
}

std::string_view primitive_name(PrimitiveKind kind) {
  static constexpr std::array<std::string_view, 21> kNames = {
      "",          "boolean",      "integer",  "string",      "decimal",     "uri",  "url",
      "canonical", "base64Binary", "instant",  "date",        "dateTime",    "time", "code",
      "oid",       "id",           "markdown", "unsignedInt", "positiveInt", "uuid", "xhtml"};
  return kNames[static_cast<size_t>(kind)];
}

std::string_view search_param_type_name(SearchParamType type) {
  static constexpr std::array<std::string_view, 9> kNames = {
      "number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special"};
  return kNames[static_cast<size_t>(type)];
}

}  // namespace ipa::fhir
