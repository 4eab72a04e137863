// The TLS version probe of `ipa-client check`, for a URL: the transport's probe
// (http/tls_probe.h) on the host and port of an https URL.
#pragma once

#include <chrono>
#include <string>

#include "http/tls_probe.h"

namespace ipa::client {

using http::TlsOutcome;
using http::TlsVersionProbe;
using http::TlsVersionReport;

// Probes the host and port of the https `url` (see http::probe_tls_versions); any other URL
// gives a report whose problem says it is not an https URL.
TlsVersionReport probe_tls_versions(const std::string& url, const std::string& ca_file,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace ipa::client
