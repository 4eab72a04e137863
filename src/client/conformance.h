// `ipa-client check`: a conformance check of any IPA server from the client's side. It runs
// one check per test of the IPA test kit (v0.6.0) and of the SMART App Launch test kit groups
// that cover what IPA requires (spec/requirements.md section 4), named by the kit's test ids
// and using the kits' value variants, plus the pitfalls of section 5 a client can observe. The
// result renders as a plain-text report and as JUnit XML. Not thread-safe: one check at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "client/launch.h"
#include "client/oauth.h"
#include "client/tls_probe.h"
#include "client/transport.h"

namespace ipa::client {

enum class Verdict { kPass, kFail, kSkip };

struct TestResult {
  std::string group;  // the kit's group id, e.g. "ipa_v100_condition"
  std::string id;     // the kit's test id, e.g. "condition_patient_search_test"
  bool shall = true;  // false for tests the kit marks optional and for SHOULD pitfalls
  Verdict verdict = Verdict::kSkip;
  std::string reason;  // why it failed or was skipped; what was seen when it passed
};

struct ConformanceReport {
  std::string base;
  std::vector<TestResult> results;

  // Returns whether a SHALL test failed (the exit status of `ipa-client check`).
  bool shall_failed() const;
  // Returns one line per test ("PASS", "FAIL", "fail" for a non-SHALL failure, "skip"), grouped,
  // then the totals.
  std::string text() const;
  // Returns a JUnit XML document: one testsuite per group, one testcase per test (classname =
  // group, name = test id), <failure> and <skipped> with the reason.
  std::string junit() const;
};

struct CheckOptions {
  ClientCredentials creds;  // empty client_id: no launch, the launch-bound tests skip
  LaunchOptions launch;
  // The kit's `patient_ids` input; empty = the launch's patient only.
  std::vector<std::string> patient_ids;
  // The kit's `observation_categories` input; empty = the kit's default list.
  std::vector<std::string> observation_categories;
  std::function<int64_t()> now;  // seconds since the epoch
  // Probes the TLS versions of an https endpoint (the TLS test kit's tls_version_test), once
  // per origin. Unset: the TLS tests of https endpoints are skipped with that reason.
  // `ipa-client check` passes probe_tls_versions with the CA file it trusts.
  std::function<TlsVersionReport(const std::string& url)> tls_probe;
};

// Runs every check against the FHIR base `base`. Never fails as a call: problems become failed
// or skipped tests with their reason.
ConformanceReport run_conformance_check(Transport& transport, const std::string& base,
                                        const CheckOptions& options);

// FHIR date search semantics (FHIR R4 search.html#date), for the kit's result check: whether a
// resource value `target` (a date, dateTime, instant, or a Period object) matches the search
// value `search` ("2020-01-02", "ge2020-01-02T10:00:00Z", ...). Unparsable values do not match.
bool date_matches(const std::string& search, const json::Value& target);

}  // namespace ipa::client
