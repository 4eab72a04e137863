// Discovery: what an IPA client checks before it launches (IPA access "Client Process", C1/C2):
// the CapabilityStatement at [base]/metadata instantiates the IPA server statement, speaks FHIR
// 4.0.x and JSON; [base]/.well-known/smart-configuration offers what a patient app needs.
// Reads only; never sends a token. Functions are safe to call from one thread per Transport.
#pragma once

#include <string>
#include <vector>

#include "client/transport.h"
#include "core/result.h"
#include "json/json.h"

namespace ipa::client {

inline constexpr const char* kIpaServerStatement =
    "http://hl7.org/fhir/uv/ipa/CapabilityStatement/ipa-server";

// The members of a SMART configuration the client uses (SMART App Launch: conformance).
struct SmartConfig {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::string registration_endpoint;   // RFC 7591; "" when not offered
  std::string introspection_endpoint;  // RFC 7662; "" when not offered
  std::string revocation_endpoint;     // RFC 7009; "" when not offered
  std::vector<std::string> capabilities;
  std::vector<std::string> code_challenge_methods_supported;
  std::vector<std::string> scopes_supported;
  std::vector<std::string> token_endpoint_auth_signing_alg_values_supported;

  bool has_capability(const std::string& name) const;
};

// Reads the members above from a smart-configuration document; absent members stay empty.
SmartConfig parse_smart_config(const json::Value& doc);

// One finding of discover(). A failed `required` check makes the server unusable.
struct Check {
  std::string name;
  bool ok = false;
  bool required = true;
  std::string detail;
};

struct Discovery {
  std::string base;        // the FHIR base, without trailing slash
  json::Value capability;  // the CapabilityStatement (null when it could not be read)
  json::Value smart;       // the smart-configuration (null when it could not be read)
  SmartConfig config;
  std::vector<std::string> resource_types;  // rest[mode=server].resource[].type
  std::vector<Check> checks;

  // Returns whether every required check passed.
  bool usable() const;
  // Returns a short plain-text report, one line per check, then the verdict and why.
  std::string report() const;
};

// Fetches `base`/metadata and `base`/.well-known/smart-configuration and runs the checks. A
// document that cannot be fetched or parsed becomes a failed check, not an error: the report
// says why. Never fails; the result's usable() is the verdict.
Discovery discover(Transport& transport, const std::string& base);

// Returns the checks of a CapabilityStatement and a smart-configuration (for tests and for
// discover()).
std::vector<Check> check_capability_statement(const json::Value& cs);
std::vector<Check> check_smart_config(const SmartConfig& config, const std::string& base);

// Returns `url` without trailing slashes.
std::string trim_base(std::string url);

}  // namespace ipa::client
