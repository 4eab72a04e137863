// Invented people and places for the demo data: per locale, family and given names (with the
// accents and scripts of the language), cities, streets, phone prefix and the BCP 47 language
// of communication. Constant tables only; internal to ipa::demo.
#pragma once

#include <span>
#include <string_view>

namespace ipa::demo::internal {

struct City {
  std::string_view name;
  std::string_view postal_code;
};

struct Locale {
  std::string_view country;        // ISO 3166-1 alpha-2
  std::string_view language;       // BCP 47
  std::string_view language_name;  // display of the BCP 47 code
  std::string_view phone_prefix;
  bool family_first;  // HumanName.text writes the family name first
  bool number_first;  // the house number precedes the street
  std::span<const std::string_view> family;
  std::span<const std::string_view> given_female;
  std::span<const std::string_view> given_male;
  std::span<const City> cities;
  std::span<const std::string_view> streets;
};

// All locales; index 0 is German, used for the well-known family.
std::span<const Locale> locales();

}  // namespace ipa::demo::internal
