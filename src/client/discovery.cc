#include "client/discovery.h"

#include <algorithm>

#include "client/url.h"

namespace ipa::client {
namespace {

std::vector<std::string> strings(const json::Value& doc, std::string_view key) {
  std::vector<std::string> out;
  const json::Value* v = doc.find(key);
  if (v == nullptr || !v->is_array()) return out;
  for (const json::Value& item : v->items()) {
    if (item.is_string()) out.push_back(item.text());
  }
  return out;
}

bool contains(const std::vector<std::string>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string join(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& s : list) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "(none)" : out;
}

bool is_loopback(const std::string& url) {
  Url u;
  return parse_url(url, u) && (u.host == "127.0.0.1" || u.host == "localhost" || u.host == "[::1]");
}

// Fetches and parses one JSON document; "" and the value on success, else the reason.
std::string get_json(Transport& t, const std::string& url, const std::string& accept,
                     json::Value& out) {
  auto r = t.send("GET", url, {{"Accept", accept}}, "");
  if (!r.ok()) return r.error().diagnostics;
  if (r->status != 200) return "HTTP status " + std::to_string(r->status) + " from " + url;
  auto v = json::parse(r->body);
  if (!v.ok()) return url + " is not JSON: " + v.error().diagnostics;
  if (!v->is_object()) return url + " is not a JSON object";
  out = std::move(v).value();
  return "";
}

}  // namespace

bool SmartConfig::has_capability(const std::string& name) const {
  return contains(capabilities, name);
}

SmartConfig parse_smart_config(const json::Value& doc) {
  SmartConfig c;
  c.issuer = doc.get_string("issuer");
  c.authorization_endpoint = doc.get_string("authorization_endpoint");
  c.token_endpoint = doc.get_string("token_endpoint");
  c.jwks_uri = doc.get_string("jwks_uri");
  c.registration_endpoint = doc.get_string("registration_endpoint");
  c.introspection_endpoint = doc.get_string("introspection_endpoint");
  c.revocation_endpoint = doc.get_string("revocation_endpoint");
  c.capabilities = strings(doc, "capabilities");
  c.code_challenge_methods_supported = strings(doc, "code_challenge_methods_supported");
  c.scopes_supported = strings(doc, "scopes_supported");
  c.token_endpoint_auth_signing_alg_values_supported =
      strings(doc, "token_endpoint_auth_signing_alg_values_supported");
  return c;
}

std::string trim_base(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::vector<Check> check_capability_statement(const json::Value& cs) {
  std::vector<Check> out;
  if (cs.get_string("resourceType") != "CapabilityStatement") {
    out.push_back({"metadata", false, true, "/metadata did not return a CapabilityStatement"});
    return out;
  }
  // IPA access "Client Process": check that the server instantiates the IPA server statement.
  std::vector<std::string> inst = strings(cs, "instantiates");
  bool ipa = std::any_of(inst.begin(), inst.end(), [](const std::string& s) {
    return s.substr(0, s.find('|')) == kIpaServerStatement;
  });
  out.push_back({"instantiates IPA", ipa, true,
                 ipa ? kIpaServerStatement
                     : std::string("instantiates lacks ") + kIpaServerStatement + " (has " +
                           join(inst) + ")"});
  std::string version(cs.get_string("fhirVersion"));
  bool r4 = version.rfind("4.0.", 0) == 0;
  out.push_back({"FHIR 4.0.x", r4, true,
                 r4 ? "fhirVersion " + version : "fhirVersion is '" + version + "', not 4.0.x"});
  std::vector<std::string> formats = strings(cs, "format");
  bool has_json = std::any_of(formats.begin(), formats.end(), [](const std::string& f) {
    return f == "json" || f.rfind("application/fhir+json", 0) == 0 ||
           f.rfind("application/json", 0) == 0;
  });
  out.push_back({"JSON format", has_json, true, "format: " + join(formats)});
  return out;
}

std::vector<Check> check_smart_config(const SmartConfig& c, const std::string& base) {
  std::vector<Check> out;
  auto cap = [&](const std::string& name, bool required, const std::string& why) {
    bool ok = c.has_capability(name);
    out.push_back({name, ok, required, ok ? "offered" : "not offered: " + why});
  };
  bool endpoints = !c.authorization_endpoint.empty() && !c.token_endpoint.empty();
  out.push_back({"endpoints", endpoints, true,
                 endpoints ? "authorize " + c.authorization_endpoint + ", token " + c.token_endpoint
                           : "authorization_endpoint or token_endpoint is missing"});
  cap("launch-standalone", true, "a patient app launches standalone (IPA C1)");
  cap("context-standalone-patient", true, "the app needs the patient in context (IPA C1)");
  bool pub = c.has_capability("client-public");
  bool asym = c.has_capability("client-confidential-asymmetric");
  out.push_back({"client type", pub || asym, true,
                 pub || asym ? std::string(pub ? "client-public " : "") +
                                   (asym ? "client-confidential-asymmetric" : "")
                             : "neither client-public nor client-confidential-asymmetric"});
  bool s256 = contains(c.code_challenge_methods_supported, "S256");
  out.push_back({"PKCE S256", s256, true,
                 s256 ? "code_challenge_methods_supported has S256"
                      : "code_challenge_methods_supported lacks S256 (has " +
                            join(c.code_challenge_methods_supported) + ")"});
  cap("permission-v2", false, "v1 scopes (patient/*.read) will be asked for");
  cap("permission-offline", false, "no refresh token: sign in again when the token expires");
  cap("sso-openid-connect", false, "no id_token to confirm who signed in");
  bool reg = !c.registration_endpoint.empty();
  out.push_back({"dynamic registration", reg, false,
                 reg ? c.registration_endpoint
                     : "no registration_endpoint: register by hand (ipa-client register)"});
  // SMART App Launch "App protection" / IPA C2: tokens only over TLS.
  bool tls = base.rfind("https://", 0) == 0;
  out.push_back({"TLS", tls || is_loopback(base), !is_loopback(base) ? true : false,
                 tls                 ? "https"
                 : is_loopback(base) ? "plain http on loopback (development only)"
                                     : "plain http: tokens would travel unprotected"});
  return out;
}

bool Discovery::usable() const {
  return std::all_of(checks.begin(), checks.end(),
                     [](const Check& c) { return c.ok || !c.required; });
}

std::string Discovery::report() const {
  std::string out = "Server " + base + "\n";
  for (const Check& c : checks) {
    out += std::string(c.ok         ? "  ok    "
                       : c.required ? "  FAIL  "
                                    : "  warn  ") +
           c.name + ": " + c.detail + "\n";
  }
  if (usable()) {
    out += "Usable: this server offers what a patient app needs.\n";
  } else {
    out += "Not usable:";
    for (const Check& c : checks) {
      if (!c.ok && c.required) out += " " + c.name + ";";
    }
    out.back() = '.';
    out += "\n";
  }
  return out;
}

Discovery discover(Transport& transport, const std::string& base_url) {
  Discovery d;
  d.base = trim_base(base_url);
  std::string why =
      get_json(transport, d.base + "/metadata", "application/fhir+json", d.capability);
  if (!why.empty()) {
    d.checks.push_back({"metadata", false, true, why});
  } else {
    for (Check& c : check_capability_statement(d.capability)) d.checks.push_back(std::move(c));
    if (const json::Value* rest = d.capability.find("rest"); rest && rest->is_array()) {
      for (const json::Value& r : rest->items()) {
        if (r.get_string("mode") != "server") continue;
        if (const json::Value* res = r.find("resource"); res && res->is_array()) {
          for (const json::Value& x : res->items()) {
            d.resource_types.emplace_back(x.get_string("type"));
          }
        }
      }
    }
  }
  why =
      get_json(transport, d.base + "/.well-known/smart-configuration", "application/json", d.smart);
  if (!why.empty()) {
    d.checks.push_back({"smart-configuration", false, true, why});
    return d;
  }
  d.config = parse_smart_config(d.smart);
  for (Check& c : check_smart_config(d.config, d.base)) d.checks.push_back(std::move(c));
  return d;
}

}  // namespace ipa::client
