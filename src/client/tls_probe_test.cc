#include "client/tls_probe.h"

#include <gtest/gtest.h>

namespace ipa::client {
namespace {

TEST(TlsProbeUrl, OnlyHttpsUrlsAreProbed) {
  for (const char* url : {"http://127.0.0.1:1/", "ftp://example.org/", "not a url"}) {
    SCOPED_TRACE(url);
    TlsVersionReport r = probe_tls_versions(url, "");
    EXPECT_NE(r.problem.find("is not an https URL"), std::string::npos) << r.problem;
    EXPECT_TRUE(r.probes.empty());
  }
}

}  // namespace
}  // namespace ipa::client
