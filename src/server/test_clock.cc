#include "server/test_clock.h"

#include <cstdlib>
#include <fstream>

namespace ipa::server {
namespace {

class FileOffsetClock final : public core::Clock {
 public:
  explicit FileOffsetClock(std::string path) : path_(std::move(path)) {}

  // Reads the file on every call: a test moves time and expects the next request to see it.
  // The cost does not matter; this clock never runs in production.
  core::TimePoint now() const override {
    long long seconds = 0;
    std::ifstream in(path_);
    if (!(in >> seconds)) seconds = 0;
    return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
  }

 private:
  std::string path_;
};

}  // namespace

std::shared_ptr<core::Clock> server_clock(bool loopback_only, std::string* why_not) {
  const char* path = std::getenv("IPA_TEST_CLOCK_FILE");
  if (path == nullptr || *path == '\0') return core::system_clock();
  if (!loopback_only) {
    if (why_not != nullptr)
      *why_not = "IPA_TEST_CLOCK_FILE is ignored: the server is not on loopback";
    return core::system_clock();
  }
  return std::make_shared<FileOffsetClock>(path);
}

}  // namespace ipa::server
