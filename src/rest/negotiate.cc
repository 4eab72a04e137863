#include "rest/negotiate.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace ipa::rest {
namespace {

std::string lower_trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct MediaRange {
  std::string type;  // "application/fhir+json"
  double q = 1.0;
};

std::vector<MediaRange> parse_accept(std::string_view header) {
  std::vector<MediaRange> out;
  size_t start = 0;
  while (start <= header.size()) {
    size_t comma = header.find(',', start);
    std::string_view part = header.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? header.size() + 1 : comma + 1;
    size_t semi = part.find(';');
    MediaRange r;
    r.type = lower_trim(part.substr(0, semi));
    if (r.type.empty()) continue;
    while (semi != std::string_view::npos) {
      size_t next = part.find(';', semi + 1);
      std::string param = lower_trim(part.substr(
          semi + 1, next == std::string_view::npos ? std::string_view::npos : next - semi - 1));
      if (param.rfind("q=", 0) == 0) {
        try {
          r.q = std::stod(param.substr(2));
        } catch (...) {
          r.q = 0;
        }
      }
      semi = next;
    }
    out.push_back(std::move(r));
  }
  return out;
}

bool is_json_type(std::string_view t) {
  return t == "application/fhir+json" || t == "application/json" || t == "json" ||
         t == "application/json+fhir" || t == "text/json";
}

bool is_fhir_type(std::string_view t) {
  return is_json_type(t) || t == "application/fhir+xml" || t == "application/xml" || t == "xml" ||
         t == "text/xml" || t == "application/xml+fhir" || t == "ttl" ||
         t == "application/fhir+turtle" || t == "text/turtle";
}

}  // namespace

core::Result<Format> negotiate(std::string_view accept, std::string_view format_param,
                               bool raw_allowed) {
  if (!format_param.empty()) {
    std::string f = lower_trim(format_param.substr(0, format_param.find(';')));
    if (is_json_type(f)) return Format::kFhirJson;
    return core::not_acceptable("_format=" + std::string(format_param) +
                                " is not supported; this server answers JSON "
                                "(application/fhir+json). XML is planned.");
  }
  auto ranges = parse_accept(accept);
  if (ranges.empty()) return Format::kFhirJson;
  bool wildcard = false;
  bool other = false;
  for (const MediaRange& r : ranges) {
    if (r.q <= 0) continue;
    if (is_json_type(r.type)) return Format::kFhirJson;
    if (r.type == "*/*" || r.type == "application/*") {
      wildcard = true;
    } else if (!is_fhir_type(r.type)) {
      other = true;
    }
  }
  if (raw_allowed && (other || wildcard)) return Format::kRaw;
  if (wildcard) return Format::kFhirJson;
  return core::not_acceptable("None of the accepted media types (" + std::string(accept) +
                              ") can be served; this server answers application/fhir+json. "
                              "XML is planned.");
}

core::Status check_body_type(std::string_view content_type) {
  std::string t = lower_trim(content_type.substr(0, content_type.find(';')));
  if (t == "application/fhir+json" || t == "application/json" || t == "application/json+fhir") {
    return {};
  }
  if (t.empty()) {
    return core::unsupported_media_type(
        "The request has a body but no Content-Type; send application/fhir+json.");
  }
  return core::unsupported_media_type("Content-Type " + std::string(content_type) +
                                      " is not supported; send application/fhir+json.");
}

}  // namespace ipa::rest
