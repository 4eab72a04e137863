// `ipa-server import`: loads FHIR resources from files into the store through the same
// validation and write path as the REST API. Streams NDJSON line by line; reads a JSON file
// (Bundle or single resource) whole. Single-threaded; reports progress on a terminal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rest/api.h"

namespace ipa::server {

struct ImportTotals {
  int64_t created = 0;
  int64_t updated = 0;
  int64_t unchanged = 0;
  int64_t rejected = 0;
  double seconds = 0;
};

struct ImportOptions {
  bool progress = false;  // draw a progress bar on stderr
  size_t batch = 500;     // resources per transaction
};

// Imports every file in `paths` (a folder means its *.ndjson and *.json files, sorted).
// Each rejected resource is reported on stderr as `file:line: reason`. Returns the totals.
ImportTotals import_files(rest::FhirApi& api, const std::vector<std::string>& paths,
                          const ImportOptions& options);

}  // namespace ipa::server
