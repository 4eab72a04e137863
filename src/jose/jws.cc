#include "jose/jws.h"

#include <utility>

#include "jose/bytes.h"

namespace ipa::jose {
namespace {

core::Error malformed(std::string why) {
  return core::unauthenticated("Malformed JWS: " + std::move(why) + ".");
}

// Decodes one base64url part holding a JSON object.
core::Result<json::Value> decode_json_part(std::string_view part, std::string_view what) {
  auto bytes = base64url_decode(part);
  if (!bytes.ok()) return malformed(std::string(what) + " is not base64url");
  auto value = json::parse(*bytes);
  if (!value.ok()) return malformed(std::string(what) + " is not JSON");
  if (!value->is_object()) return malformed(std::string(what) + " is not a JSON object");
  return std::move(value).value();
}

}  // namespace

core::Result<std::string> sign_jwt(const Key& key, Alg alg, const json::Value& payload,
                                   std::string_view typ) {
  if (!payload.is_object()) return core::internal("sign_jwt() with a non-object payload");
  json::Value header = json::Value::object();
  header.set("alg", json::Value::string(std::string(alg_name(alg))));
  if (!typ.empty()) header.set("typ", json::Value::string(std::string(typ)));
  if (!key.kid().empty()) header.set("kid", json::Value::string(key.kid()));
  std::string out = base64url_encode(json::write(header));
  out += '.';
  out += base64url_encode(json::write(payload));
  auto signature = key.sign(alg, out);
  if (!signature.ok()) return std::move(signature).error();
  out += '.';
  out += base64url_encode(*signature);
  return out;
}

core::Result<Jws> parse_jws(std::string_view compact) {
  if (compact.size() > kMaxCompactJwsBytes) return malformed("too long");
  size_t dot1 = compact.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || compact.find('.', dot2 + 1) != std::string_view::npos) {
    return malformed("a compact JWS has exactly three parts");
  }
  std::string_view header_part = compact.substr(0, dot1);
  std::string_view payload_part = compact.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view signature_part = compact.substr(dot2 + 1);

  Jws jws;
  auto header = decode_json_part(header_part, "the header");
  if (!header.ok()) return std::move(header).error();
  jws.header = std::move(header).value();
  const json::Value* alg = jws.header.find("alg");
  if (alg == nullptr || !alg->is_string()) return malformed("the header has no alg");
  // RFC 8725 section 3.1: "none" is never accepted; only the algorithms we implement are.
  if (alg->text() == "none") return core::unauthenticated("JWS alg \"none\" is not accepted.");
  auto parsed_alg = parse_alg(alg->text());
  if (!parsed_alg) {
    return core::unauthenticated("JWS alg \"" + alg->text() + "\" is not supported.");
  }
  jws.alg = *parsed_alg;
  if (jws.header.find("crit") != nullptr) return malformed("unsupported critical header");

  auto payload = decode_json_part(payload_part, "the payload");
  if (!payload.ok()) return std::move(payload).error();
  jws.payload = std::move(payload).value();

  auto signature = base64url_decode(signature_part);
  if (!signature.ok()) return malformed("the signature is not base64url");
  if (signature->empty()) return malformed("the signature is empty");
  jws.signature = std::move(signature).value();
  jws.signing_input = std::string(compact.substr(0, dot2));
  return jws;
}

bool verify_jws(const Jws& jws, const Key& key) {
  // The header's alg, not the struct field alone, is what was signed: both must agree.
  if (parse_alg(jws.header.get_string("alg")) != jws.alg) return false;
  if (!key.fits(jws.alg)) return false;
  return key.verify(jws.alg, jws.signing_input, jws.signature);
}

}  // namespace ipa::jose
