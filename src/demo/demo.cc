#include "demo/demo.h"

#include <string>

#include "demo/internal/catalog.h"
#include "demo/internal/record.h"

namespace ipa::demo {

core::Result<int64_t> generate(const Options& options, const Sink& sink) {
  if (options.patients < 0) {
    return core::bad_request(core::IssueType::kValue,
                             "The number of patients must not be negative, got " +
                                 std::to_string(options.patients) + ".");
  }
  int64_t count = 0;
  const std::function<core::Status(json::Value)> emit = [&](json::Value v) -> core::Status {
    ++count;
    return sink(v);
  };
  IPA_RETURN_IF_ERROR(internal::write_catalog(emit));
  for (int p = 1; p <= options.patients; ++p) {
    IPA_RETURN_IF_ERROR(internal::write_patient_record(p, options.seed, emit));
  }
  return count;
}

}  // namespace ipa::demo
