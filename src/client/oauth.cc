#include "client/oauth.h"

#include <strings.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>

#include "client/url.h"
#include "http/server.h"
#include "jose/bytes.h"
#include "jose/jwks.h"
#include "jose/jws.h"

namespace ipa::client {
namespace {

const char* kAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

core::Error login_error(std::string why) {
  core::Error e = core::unauthenticated(std::move(why));
  e.type = core::IssueType::kLogin;
  return e;
}

// ---- token endpoint ---------------------------------------------------------------------------

core::Result<TokenResponse> token_request(Transport& t, const SmartConfig& config,
                                          const ClientCredentials& creds, Fields fields,
                                          int64_t now) {
  if (config.token_endpoint.empty()) return core::unavailable("The server has no token_endpoint.");
  fields.emplace_back("client_id", creds.client_id);
  if (creds.key) {
    auto assertion = client_assertion(creds, config.token_endpoint, now);
    if (!assertion.ok()) return std::move(assertion).error();
    fields.emplace_back("client_assertion_type", kAssertionType);
    fields.emplace_back("client_assertion", *assertion);
  }
  auto r = t.send(
      "POST", config.token_endpoint,
      {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}},
      form_encode(fields));
  if (!r.ok()) return std::move(r).error();
  auto body = json::parse(r->body);
  if (r->status != 200) {
    std::string why = "The token endpoint answered " + std::to_string(r->status);
    if (body.ok() && body->is_object()) {
      why += ": " + std::string(body->get_string("error"));
      std::string_view d = body->get_string("error_description");
      if (!d.empty()) why += " (" + std::string(d) + ")";
    }
    return login_error(why);
  }
  if (!body.ok() || !body->is_object()) {
    return core::bad_request(core::IssueType::kStructure, "The token response is not JSON.");
  }
  TokenResponse out;
  out.body = *body;
  out.headers = r->headers;
  out.access_token = body->get_string("access_token");
  out.refresh_token = body->get_string("refresh_token");
  out.id_token = body->get_string("id_token");
  out.scope = body->get_string("scope");
  out.patient = body->get_string("patient");
  out.token_type = body->get_string("token_type");
  if (const json::Value* e = body->find("expires_in"); e && e->as_int()) {
    out.expires_in = *e->as_int();
  }
  if (out.access_token.empty()) {
    return core::bad_request(core::IssueType::kRequired, "The token response has no access_token.");
  }
  std::string type = out.token_type;
  std::transform(type.begin(), type.end(), type.begin(), ::tolower);
  if (type != "bearer") {
    return core::bad_request(core::IssueType::kValue,
                             "The token type is '" + out.token_type + "', not Bearer.");
  }
  return out;
}

// ---- the loopback listener --------------------------------------------------------------------

class Listener : public LoopbackListener {
 public:
  std::string redirect_uri() const override {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/callback";
  }

  core::Result<Callback> wait(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return callback_.has_value(); })) {
      return core::unavailable("No answer arrived at the redirect URI within " +
                               std::to_string(timeout.count() / 1000) + " s.");
    }
    return *callback_;
  }

  http::Response handle(const http::Request& req) {
    http::Response resp;
    resp.set_header("Content-Type", "text/html; charset=utf-8");
    resp.set_header("Cache-Control", "no-store");
    if (req.method != "GET" || req.path != "/callback") {
      resp.status = 404;
      resp.body = "<!DOCTYPE html><p>Not found.</p>";
      return resp;
    }
    Fields q = parse_query(req.query);
    Callback cb{field(q, "code"), field(q, "state"), field(q, "error"),
                field(q, "error_description")};
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!callback_) callback_ = cb;
    }
    cv_.notify_all();
    resp.body =
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>ipa-client</title></head>"
        "<body><p>ipa-client received the answer. You can close this page.</p></body></html>";
    return resp;
  }

  ~Listener() override {
    if (server_) server_->stop();
  }

  std::unique_ptr<http::Server> server_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Callback> callback_;
};

// ---- the form driver --------------------------------------------------------------------------

std::string html_unescape(std::string_view s) {
  static const std::pair<const char*, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    bool done = false;
    if (s[i] == '&') {
      for (const auto& [name, c] : kEntities) {
        std::string_view n(name);
        if (s.substr(i, n.size()) == n) {
          out.push_back(c);
          i += n.size() - 1;
          done = true;
          break;
        }
      }
    }
    if (!done) out.push_back(s[i]);
  }
  return out;
}

using Attributes = std::map<std::string, std::string>;

// Returns the attributes of every `<tag ...>` in `html`.
std::vector<Attributes> tags(const std::string& html, const std::string& tag) {
  std::vector<Attributes> out;
  size_t pos = 0;
  std::string open = "<" + tag;
  while ((pos = html.find(open, pos)) != std::string::npos) {
    size_t end = html.find('>', pos);
    if (end == std::string::npos) break;
    std::string_view inside(html.data() + pos + open.size(), end - pos - open.size());
    Attributes attrs;
    size_t i = 0;
    while (i < inside.size()) {
      while (i < inside.size() && (inside[i] == ' ' || inside[i] == '/')) ++i;
      size_t name_start = i;
      while (i < inside.size() && inside[i] != '=' && inside[i] != ' ') ++i;
      std::string name(inside.substr(name_start, i - name_start));
      std::string value;
      if (i < inside.size() && inside[i] == '=' && i + 1 < inside.size() && inside[i + 1] == '"') {
        size_t close = inside.find('"', i + 2);
        if (close == std::string_view::npos) close = inside.size();
        value = html_unescape(inside.substr(i + 2, close - i - 2));
        i = close + 1;
      }
      if (!name.empty()) attrs[name] = value;
    }
    out.push_back(std::move(attrs));
    pos = end;
  }
  return out;
}

std::string attr(const Attributes& a, const std::string& name) {
  auto it = a.find(name);
  return it == a.end() ? "" : it->second;
}

// The text of the page's error box, if any.
std::string page_error(const std::string& html) {
  size_t p = html.find("class=\"error\"");
  if (p == std::string::npos) return "";
  size_t start = html.find('>', p);
  size_t end = html.find('<', start);
  if (start == std::string::npos || end == std::string::npos) return "";
  return html_unescape(std::string_view(html).substr(start + 1, end - start - 1));
}

// Resolves `ref` (absolute, "/path" or "relative") against the page at `page_url`.
std::string absolute(const std::string& page_url, const std::string& ref) {
  if (ref.rfind("http://", 0) == 0 || ref.rfind("https://", 0) == 0) return ref;
  size_t path_start = page_url.find('/', page_url.find("://") + 3);
  std::string origin = page_url.substr(0, path_start);
  if (!ref.empty() && ref[0] == '/') return origin + ref;
  std::string path = path_start == std::string::npos ? "/" : page_url.substr(path_start);
  path = path.substr(0, path.find('?'));
  return origin + path.substr(0, path.rfind('/') + 1) + ref;
}

class Browser {
 public:
  explicit Browser(Transport& t) : t_(t) {}

  core::Result<ClientResponse> send(const std::string& method, const std::string& url,
                                    const std::string& form_body) {
    std::vector<Header> h = {{"Accept", "text/html"}};
    std::string cookie;
    for (const auto& [k, v] : cookies_) cookie += (cookie.empty() ? "" : "; ") + k + "=" + v;
    if (!cookie.empty()) h.push_back({"Cookie", cookie});
    if (method == "POST") h.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    auto r = t_.send(method, url, h, form_body);
    if (!r.ok()) return r;
    for (const Header& hd : r->headers) {
      if (strcasecmp(hd.name.c_str(), "Set-Cookie") != 0) continue;
      std::string pair = hd.value.substr(0, hd.value.find(';'));
      size_t eq = pair.find('=');
      if (eq != std::string::npos) cookies_[pair.substr(0, eq)] = pair.substr(eq + 1);
    }
    return r;
  }

 private:
  Transport& t_;
  std::map<std::string, std::string> cookies_;
};

}  // namespace

// ---- scopes -----------------------------------------------------------------------------------

std::vector<std::string> split_scopes(const std::string& scope) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < scope.size()) {
    size_t sp = scope.find(' ', pos);
    if (sp == std::string::npos) sp = scope.size();
    if (sp > pos) out.push_back(scope.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return out;
}

std::string join_scopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const std::string& s : scopes) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::string to_v1_scopes(const std::string& scope) {
  std::vector<std::string> out;
  auto add = [&](const std::string& s) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  for (const std::string& s : split_scopes(scope)) {
    size_t slash = s.find('/');
    size_t dot = s.rfind('.');
    std::string context = slash == std::string::npos ? "" : s.substr(0, slash);
    if ((context != "patient" && context != "user" && context != "system") ||
        dot == std::string::npos || dot < slash) {
      add(s);
      continue;
    }
    std::string perms = s.substr(dot + 1);
    perms = perms.substr(0, perms.find('?'));
    if (perms == "read" || perms == "write" || perms == "*" ||
        perms.find_first_not_of("cruds") != std::string::npos) {
      add(s);
      continue;
    }
    std::string prefix = s.substr(0, dot);
    if (perms.find_first_of("rs") != std::string::npos) add(prefix + ".read");
    if (perms.find_first_of("cud") != std::string::npos) add(prefix + ".write");
  }
  return join_scopes(out);
}

ScopeReport compare_scopes(const std::string& requested, const std::string& granted) {
  ScopeReport r;
  std::vector<std::string> asked = split_scopes(requested);
  r.granted = split_scopes(granted);
  for (const std::string& s : asked) {
    if (std::find(r.granted.begin(), r.granted.end(), s) == r.granted.end()) {
      r.not_granted.push_back(s);
    }
  }
  for (const std::string& s : r.granted) {
    if (std::find(asked.begin(), asked.end(), s) == asked.end()) r.extra.push_back(s);
  }
  return r;
}

// ---- client authentication --------------------------------------------------------------------

core::Result<ClientCredentials> load_client_key(const std::string& client_id,
                                                const std::string& pem) {
  auto key = jose::Key::from_pem(pem);
  if (!key.ok()) return std::move(key).error();
  if (!key->has_private()) {
    return core::bad_request(core::IssueType::kValue,
                             "The key file holds a public key; a private key is needed.");
  }
  ClientCredentials c;
  c.client_id = client_id;
  if (key->fits(jose::Alg::kES384)) {
    c.alg = jose::Alg::kES384;
  } else if (key->type() == jose::KeyType::kRsa) {
    c.alg = jose::Alg::kRS384;
  } else {
    return core::bad_request(core::IssueType::kNotSupported,
                             "The key fits neither ES384 (P-384) nor RS384 (RSA): SMART "
                             "client-confidential-asymmetric needs one of them.");
  }
  key->set_alg(c.alg);
  key->set_kid(key->thumbprint());
  c.key = std::make_shared<const jose::Key>(std::move(key).value());
  return c;
}

core::Result<std::string> client_assertion(const ClientCredentials& creds,
                                           const std::string& token_endpoint, int64_t now,
                                           int64_t lifetime) {
  if (!creds.key) return core::internal("client_assertion without a key");
  // SMART App Launch: client-confidential-asymmetric, "Authenticating to the Token endpoint".
  json::Value claims = json::Value::object();
  claims.set("iss", json::Value::string(creds.client_id));
  claims.set("sub", json::Value::string(creds.client_id));
  claims.set("aud", json::Value::string(token_endpoint));
  claims.set("jti", json::Value::string(jose::random_token(24)));
  claims.set("iat", json::Value::number(now));
  claims.set("exp", json::Value::number(now + std::min<int64_t>(lifetime, 300)));
  return jose::sign_jwt(*creds.key, creds.alg, claims, "JWT");
}

// ---- authorize --------------------------------------------------------------------------------

AuthorizeRequest build_authorize_request(const SmartConfig& config, const std::string& aud,
                                         const std::string& client_id,
                                         const std::string& redirect_uri,
                                         const std::string& scope) {
  AuthorizeRequest r;
  r.state = jose::random_token(32);
  r.nonce = jose::random_token(24);
  r.code_verifier = jose::random_token(48);  // 64 characters (RFC 7636 section 4.1)
  r.redirect_uri = redirect_uri;
  r.scope = scope;
  std::string challenge = jose::base64url_encode(jose::sha256(r.code_verifier));
  Fields f = {{"response_type", "code"},
              {"client_id", client_id},
              {"redirect_uri", redirect_uri},
              {"scope", scope},
              {"state", r.state},
              {"aud", aud},
              {"code_challenge", challenge},
              {"code_challenge_method", "S256"},
              {"nonce", r.nonce}};
  std::string endpoint = config.authorization_endpoint;
  r.url = endpoint + (endpoint.find('?') == std::string::npos ? "?" : "&") + form_encode(f);
  return r;
}

core::Result<std::string> accept_callback(const Callback& cb, const AuthorizeRequest& request) {
  // RFC 6749 section 10.12: an answer without our exact state is not ours; ignore its code.
  if (cb.state.empty() || !jose::constant_time_equal(cb.state, request.state)) {
    return login_error(
        "The answer at the redirect URI carries a wrong state: ignored (possible "
        "cross-site request forgery).");
  }
  if (!cb.error.empty()) {
    std::string why = "The authorization server answered " + cb.error;
    if (!cb.error_description.empty()) why += ": " + cb.error_description;
    return core::forbidden(why);
  }
  if (cb.code.empty()) {
    return core::bad_request(core::IssueType::kRequired, "The answer has no authorization code.");
  }
  return cb.code;
}

core::Result<std::unique_ptr<LoopbackListener>> LoopbackListener::start() {
  auto l = std::make_unique<Listener>();
  http::ServerOptions o;
  o.address = "127.0.0.1";
  o.port = 0;
  o.threads = 1;
  o.shutdown_grace = std::chrono::milliseconds(500);
  Listener* raw = l.get();
  auto s = http::Server::start(o, [raw](const http::Request& r) { return raw->handle(r); });
  if (!s.ok()) return std::move(s).error();
  l->server_ = std::move(s).value();
  return std::unique_ptr<LoopbackListener>(std::move(l));
}

// ---- tokens -----------------------------------------------------------------------------------

core::Result<TokenResponse> exchange_code(Transport& transport, const SmartConfig& config,
                                          const ClientCredentials& creds, const std::string& code,
                                          const std::string& redirect_uri,
                                          const std::string& code_verifier, int64_t now) {
  return token_request(transport, config, creds,
                       {{"grant_type", "authorization_code"},
                        {"code", code},
                        {"redirect_uri", redirect_uri},
                        {"code_verifier", code_verifier}},
                       now);
}

core::Result<TokenResponse> refresh_tokens(Transport& transport, const SmartConfig& config,
                                           const ClientCredentials& creds,
                                           const std::string& refresh_token, int64_t now) {
  return token_request(transport, config, creds,
                       {{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}}, now);
}

core::Status revoke_token(Transport& transport, const SmartConfig& config,
                          const ClientCredentials& creds, const std::string& token,
                          const std::string& token_type_hint, int64_t now) {
  if (config.revocation_endpoint.empty()) {
    return core::unavailable("The server offers no revocation_endpoint.");
  }
  Fields fields = {{"token", token}, {"token_type_hint", token_type_hint}};
  fields.emplace_back("client_id", creds.client_id);
  if (creds.key) {
    auto assertion = client_assertion(creds, config.revocation_endpoint, now);
    if (!assertion.ok()) return std::move(assertion).error();
    fields.emplace_back("client_assertion_type", kAssertionType);
    fields.emplace_back("client_assertion", *assertion);
  }
  auto r = transport.send(
      "POST", config.revocation_endpoint,
      {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}},
      form_encode(fields));
  if (!r.ok()) return std::move(r).error();
  // RFC 7009 section 2.2: 200 whether or not the token was valid.
  if (r->status == 200) return {};
  std::string why = "The revocation endpoint answered " + std::to_string(r->status);
  if (auto body = json::parse(r->body); body.ok() && body->is_object()) {
    why += ": " + std::string(body->get_string("error"));
    std::string_view d = body->get_string("error_description");
    if (!d.empty()) why += " (" + std::string(d) + ")";
  }
  return core::unauthenticated(why);
}

core::Result<json::Value> verify_id_token(Transport& transport, const SmartConfig& config,
                                          const std::string& id_token, const std::string& client_id,
                                          const std::string& nonce, int64_t now) {
  auto jws = jose::parse_jws(id_token);
  if (!jws.ok()) return login_error("The id_token is malformed: " + jws.error().diagnostics);
  const json::Value& claims = jws->payload;
  std::string iss(claims.get_string("iss"));
  if (config.issuer.empty() || iss != config.issuer) {
    return login_error("The id_token issuer '" + iss + "' is not the server's issuer '" +
                       config.issuer + "'.");
  }
  // SMART "Steps for using an ID token": iss -> openid-configuration -> jwks_uri.
  std::string jwks_uri = config.jwks_uri;
  if (auto oc = transport.send("GET", iss + "/.well-known/openid-configuration",
                               {{"Accept", "application/json"}}, "");
      oc.ok() && oc->status == 200) {
    auto doc = json::parse(oc->body);
    if (doc.ok() && doc->get_string("issuer") == iss && !doc->get_string("jwks_uri").empty()) {
      jwks_uri = doc->get_string("jwks_uri");
    }
  }
  if (jwks_uri.empty()) return core::unavailable("The server publishes no jwks_uri.");
  auto r = transport.send("GET", jwks_uri, {{"Accept", "application/json"}}, "");
  if (!r.ok()) return std::move(r).error();
  if (r->status != 200)
    return core::unavailable("The key set answered " + std::to_string(r->status));
  auto doc = json::parse(r->body);
  if (!doc.ok()) return core::unavailable("The key set is not JSON.");
  auto jwks = jose::Jwks::parse(*doc);
  if (!jwks.ok()) return core::unavailable("The key set is unusable: " + jwks.error().diagnostics);
  bool verified = false;
  for (const jose::Key* k : jwks->candidates(jws->header)) {
    if (jose::verify_jws(*jws, *k)) {
      verified = true;
      break;
    }
  }
  if (!verified)
    return login_error("The id_token signature does not verify with the server's keys.");
  const json::Value* aud = claims.find("aud");
  bool aud_ok = false;
  bool several = false;
  if (aud != nullptr && aud->is_string()) aud_ok = aud->text() == client_id;
  if (aud != nullptr && aud->is_array()) {
    several = aud->items().size() > 1;
    for (const json::Value& a : aud->items()) aud_ok |= a.is_string() && a.text() == client_id;
  }
  if (!aud_ok) return login_error("The id_token is not meant for this client (aud).");
  if (several && claims.get_string("azp") != client_id) {
    return login_error("The id_token names another authorized party (azp).");
  }
  const json::Value* exp = claims.find("exp");
  if (exp == nullptr || !exp->as_int() || *exp->as_int() + 60 <= now) {
    return login_error("The id_token has expired.");
  }
  if (!nonce.empty() && !jose::constant_time_equal(claims.get_string("nonce"), nonce)) {
    return login_error("The id_token nonce does not match the request's.");
  }
  return claims;
}

core::Result<std::string> register_client(Transport& transport, const SmartConfig& config,
                                          const ClientCredentials& creds,
                                          const std::string& client_name,
                                          const std::string& scope) {
  if (config.registration_endpoint.empty()) {
    return core::unavailable("The server offers no registration_endpoint.");
  }
  json::Value req = json::Value::object();
  req.set("client_name", json::Value::string(client_name));
  json::Value uris = json::Value::array();
  uris.push_back(json::Value::string("http://127.0.0.1/callback"));
  req.set("redirect_uris", std::move(uris));
  json::Value grants = json::Value::array();
  grants.push_back(json::Value::string("authorization_code"));
  grants.push_back(json::Value::string("refresh_token"));
  req.set("grant_types", std::move(grants));
  json::Value types = json::Value::array();
  types.push_back(json::Value::string("code"));
  req.set("response_types", std::move(types));
  req.set("application_type", json::Value::string("native"));
  req.set("scope", json::Value::string(scope));
  if (creds.key) {
    req.set("token_endpoint_auth_method", json::Value::string("private_key_jwt"));
    json::Value keys = json::Value::array();
    keys.push_back(creds.key->public_jwk());
    json::Value jwks = json::Value::object();
    jwks.set("keys", std::move(keys));
    req.set("jwks", std::move(jwks));
  } else {
    req.set("token_endpoint_auth_method", json::Value::string("none"));
  }
  auto r = transport.send("POST", config.registration_endpoint,
                          {{"Content-Type", "application/json"}, {"Accept", "application/json"}},
                          json::write(req));
  if (!r.ok()) return std::move(r).error();
  auto body = json::parse(r->body);
  if (r->status != 201 && r->status != 200) {
    std::string why = "The registration endpoint answered " + std::to_string(r->status);
    if (body.ok() && body->is_object() && !body->get_string("error").empty()) {
      why += ": " + std::string(body->get_string("error")) + " " +
             std::string(body->get_string("error_description"));
    }
    return core::bad_request(core::IssueType::kProcessing, why);
  }
  if (!body.ok() || body->get_string("client_id").empty()) {
    return core::bad_request(core::IssueType::kRequired,
                             "The registration answer has no client_id.");
  }
  return std::string(body->get_string("client_id"));
}

// ---- the form contract ------------------------------------------------------------------------

core::Result<std::string> drive_form_login(Transport& transport, const std::string& authorize_url,
                                           const FormLogin& login) {
  Browser b(transport);
  std::string redirect_uri = field(parse_query(query_of(authorize_url)), "redirect_uri");
  std::string url = authorize_url;
  std::string method = "GET";
  std::string body;
  bool signed_in = false;
  for (int step = 0; step < 12; ++step) {
    auto r = b.send(method, url, body);
    if (!r.ok()) return std::move(r).error();
    if (r->status >= 300 && r->status < 400) {
      std::string next = absolute(url, r->header("Location"));
      if (!redirect_uri.empty() && next.rfind(redirect_uri, 0) == 0) {
        auto delivered = transport.send("GET", next, {}, "");
        if (!delivered.ok()) return std::move(delivered).error();
        return next;
      }
      url = next;
      method = "GET";
      body.clear();
      continue;
    }
    if (r->status == 401 && signed_in) {
      std::string why = page_error(r->body);
      return core::forbidden("Sign-in refused" + (why.empty() ? "." : ": " + why));
    }
    if (r->status != 200) {
      return core::bad_request(core::IssueType::kProcessing, "The authorization server answered " +
                                                                 std::to_string(r->status) + ": " +
                                                                 page_error(r->body));
    }
    std::vector<Attributes> inputs = tags(r->body, "input");
    std::vector<Attributes> forms = tags(r->body, "form");
    if (forms.empty()) {
      std::string why = page_error(r->body);
      return core::bad_request(core::IssueType::kProcessing,
                               "The authorization server stopped: " +
                                   (why.empty() ? std::string("a page without a form") : why));
    }
    std::string action = attr(forms[0], "action");
    std::string post_url = absolute(url, action.empty() ? url.substr(0, url.find('?')) : action);
    Fields f;
    bool has_password = false;
    std::vector<std::string> patients;
    std::vector<std::string> scopes;
    for (const Attributes& in : inputs) {
      std::string type = attr(in, "type");
      std::string name = attr(in, "name");
      if (type == "hidden") f.emplace_back(name, attr(in, "value"));
      if (type == "password") has_password = true;
      if (type == "radio" && name == "patient") patients.push_back(attr(in, "value"));
      if (type == "checkbox" && name == "scope") scopes.push_back(attr(in, "value"));
    }
    if (has_password) {
      if (signed_in) {
        std::string why = page_error(r->body);
        return core::forbidden("Sign-in refused" + (why.empty() ? "." : ": " + why));
      }
      f.emplace_back("username", login.username);
      f.emplace_back("password", login.password);
      signed_in = true;
    } else if (!patients.empty()) {
      std::string list = join_scopes(patients);
      if (login.patient.empty()) {
        return core::bad_request(
            core::IssueType::kRequired,
            "This user may see several records; choose one with --patient: " + list);
      }
      if (std::find(patients.begin(), patients.end(), login.patient) == patients.end()) {
        return core::bad_request(
            core::IssueType::kValue,
            "Record '" + login.patient + "' is not offered; the choices: " + list);
      }
      f.emplace_back("patient", login.patient);
    } else if (!scopes.empty()) {
      for (const std::string& s : scopes) {
        if (std::find(login.deny_scopes.begin(), login.deny_scopes.end(), s) ==
            login.deny_scopes.end()) {
          f.emplace_back("scope", s);
        }
      }
      f.emplace_back("decision", "approve");
    } else {
      return core::bad_request(core::IssueType::kProcessing,
                               "Unexpected page from the authorization server.");
    }
    url = post_url;
    method = "POST";
    body = form_encode(f);
  }
  return core::bad_request(core::IssueType::kProcessing,
                           "The authorization server sent too many pages.");
}

}  // namespace ipa::client
