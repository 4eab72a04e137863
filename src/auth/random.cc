#include "auth/random.h"

#include "jose/bytes.h"

namespace ipa::auth {
namespace {

class OsRandom final : public Random {
 public:
  std::string token(size_t bytes) override { return jose::random_token(bytes); }
};

}  // namespace

std::shared_ptr<Random> os_random() {
  static auto random = std::make_shared<OsRandom>();
  return random;
}

std::string secret_hash(std::string_view secret) {
  return jose::base64url_encode(jose::sha256(secret));
}

}  // namespace ipa::auth
