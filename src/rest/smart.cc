// The SMART App Launch 2.0 authorization server: discovery (S1-S14, S76-S77), the authorization
// endpoint (S15-S27), login, patient picker and consent pages (S27-S34), the token endpoint
// (S35-S60), introspection (S80-S84) and revocation (S85). All state goes through the AuthStore.
#include "rest/internal/smart.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "auth/password.h"
#include "auth/pkce.h"
#include "core/percent.h"
#include "http/fetch.h"
#include "jose/bytes.h"
#include "jose/jwks.h"
#include "rest/internal/audit.h"
#include "rest/internal/common.h"
#include "rest/internal/cors.h"
#include "rest/internal/pages.h"
#include "search/query.h"

namespace ipa::rest::internal {
namespace {

using json::Value;

constexpr auto kRequestLifetime = std::chrono::minutes(10);
constexpr auto kSessionLifetime = std::chrono::hours(8);
constexpr auto kCodeLifetime = std::chrono::seconds(60);
constexpr auto kRefreshLifetime = std::chrono::hours(24 * 90);
// Login throttling: at most 5 failed attempts per user per 15 minutes and a limit per address,
// answered 429 with Retry-After.
constexpr int kMaxLoginFailures = 5;
constexpr int kMaxAddressAttempts = 50;
constexpr auto kLoginWindow = std::chrono::seconds(900);
constexpr const char* kCookie = "ipa_session";

Value str(std::string s) { return Value::string(std::move(s)); }

Value list(const std::vector<std::string>& items) {
  Value a = Value::array();
  for (const auto& i : items) a.push_back(str(i));
  return a;
}

// ---- responses ----------------------------------------------------------------------------

void no_store(http::Response& r) {
  r.headers.push_back({"Cache-Control", "no-store"});
  r.headers.push_back({"Pragma", "no-cache"});
}

void cors_any(http::Response& r) { r.headers.push_back({"Access-Control-Allow-Origin", "*"}); }

http::Response json_doc(int status, const Value& v) {
  http::Response r;
  r.status = status;
  r.body = json::write(v);
  r.headers.push_back({"Content-Type", "application/json; charset=utf-8"});
  return r;
}

// RFC 6749 section 5.2 error JSON.
http::Response oauth_error(int status, const std::string& error, const std::string& description) {
  Value v = Value::object();
  v.set("error", str(error));
  if (!description.empty()) v.set("error_description", str(description));
  http::Response r = json_doc(status, v);
  no_store(r);
  cors_any(r);
  if (status == 401) r.headers.push_back({"WWW-Authenticate", "Basic realm=\"ipa-server\""});
  return r;
}

http::Response html(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.push_back({"Content-Type", "text/html; charset=utf-8"});
  r.headers.push_back({"Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
                       "base-uri 'none'"});
  r.headers.push_back({"X-Frame-Options", "DENY"});
  r.headers.push_back({"Referrer-Policy", "no-referrer"});
  r.headers.push_back({"Cache-Control", "no-store"});
  return r;
}

http::Response see_other(const std::string& location) {
  http::Response r;
  r.status = 303;
  r.headers.push_back({"Location", location});
  r.headers.push_back({"Cache-Control", "no-store"});
  return r;
}

// Redirects to the client with OAuth parameters (RFC 6749 section 4.1.2), state byte for byte.
http::Response to_client(const std::string& redirect_uri,
                         const std::vector<std::pair<std::string, std::string>>& params) {
  std::string url = redirect_uri;
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : params) {
    url += sep + k + "=" + core::percent_encode(v);
    sep = '&';
  }
  return see_other(url);
}

http::Response client_error(const storage::AuthorizationRequest& ar, const std::string& error,
                            const std::string& description) {
  std::vector<std::pair<std::string, std::string>> p = {{"error", error}};
  if (!description.empty()) p.emplace_back("error_description", description);
  p.emplace_back("state", ar.state);
  return to_client(ar.redirect_uri, p);
}

// ---- cookies, sessions, forms ---------------------------------------------------------------

std::string cookie(const http::Request& req, std::string_view name) {
  std::string all = req.header("Cookie");
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find(';', pos);
    if (end == std::string::npos) end = all.size();
    std::string part = all.substr(pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    if (part.size() > name.size() && part.compare(0, name.size(), name) == 0 &&
        part[name.size()] == '=') {
      return part.substr(name.size() + 1);
    }
    pos = end + 1;
  }
  return "";
}

std::string set_cookie(const AuthState& a, const std::string& value) {
  return std::string(kCookie) + "=" + value + "; Path=/auth; HttpOnly; SameSite=Lax" +
         (a.secure_cookies ? "; Secure" : "") + "; Max-Age=" +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kSessionLifetime).count());
}

struct BrowserSession {
  storage::Session session;
  std::string cookie_value;  // set when new: the response must set the cookie
};

core::Result<storage::Session> current_session(State& s, const http::Request& req) {
  std::string value = cookie(req, kCookie);
  if (value.empty()) return core::unauthenticated("no session");
  return s.auth->store->get_session(auth::secret_hash(value));
}

core::Result<BrowserSession> new_session(State& s, const std::string& username) {
  BrowserSession b;
  b.cookie_value = s.auth->random->token();
  b.session.id_hash = auth::secret_hash(b.cookie_value);
  b.session.username = username;
  b.session.csrf_token = s.auth->random->token();
  b.session.created = s.clock->now();
  b.session.expires = b.session.created + kSessionLifetime;
  IPA_RETURN_IF_ERROR(s.auth->store->create_session(b.session));
  return b;
}

// The parameters of a GET query or an urlencoded POST body. Repeated names are reported.
core::Result<Params> request_params(const http::Request& req, bool* repeated) {
  Params p;
  if (req.method == "POST") {
    std::string ct = req.header("Content-Type");
    if (ct.substr(0, ct.find(';')) != "application/x-www-form-urlencoded") {
      return core::unsupported_media_type("Send application/x-www-form-urlencoded.");
    }
    auto body = parse_query(req.body);
    if (!body.ok()) return std::move(body).error();
    p = std::move(*body);
  } else {
    auto q = parse_query(req.query);
    if (!q.ok()) return std::move(q).error();
    p = std::move(*q);
  }
  // RFC 6749 section 3.1: parameters without a value are omitted; repeats are an error.
  Params out;
  std::set<std::string> seen;
  for (auto& [k, v] : p) {
    if (v.empty()) continue;
    if (!seen.insert(k).second) *repeated = true;
    out.emplace_back(std::move(k), std::move(v));
  }
  return out;
}

std::string get(const Params& p, std::string_view name) { return std::string(param(p, name)); }

// RFC 8252 section 7.3: a loopback redirect may use any port, whether or not the registered
// URI names one (http://127.0.0.1/callback matches http://127.0.0.1:53124/callback).
bool redirect_matches(const std::string& registered, const std::string& given) {
  if (registered == given) return true;
  auto split = [](const std::string& u, std::string& host, std::string& rest) {
    for (const char* prefix : {"http://127.0.0.1", "http://[::1]", "http://localhost"}) {
      std::string p = prefix;
      if (u.compare(0, p.size(), p) != 0) continue;
      size_t pos = p.size();
      if (pos < u.size() && u[pos] == ':') {
        size_t end = pos + 1;
        while (end < u.size() && std::isdigit(static_cast<unsigned char>(u[end]))) ++end;
        if (end == pos + 1) return false;
        pos = end;
      }
      if (pos < u.size() && u[pos] != '/' && u[pos] != '?') return false;
      host = p;
      rest = pos < u.size() ? u.substr(pos) : "/";
      return true;
    }
    return false;
  };
  std::string h1, r1, h2, r2;
  return split(registered, h1, r1) && split(given, h2, r2) && h1 == h2 && r1 == r2;
}

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// ---- discovery --------------------------------------------------------------------------------

Value capabilities() {
  return list({"launch-standalone", "context-standalone-patient", "permission-patient",
               "permission-offline", "permission-v1", "permission-v2", "sso-openid-connect",
               "client-public", "client-confidential-asymmetric", "client-confidential-symmetric",
               "authorize-post"});
}

Value scopes_supported() {
  return list({"openid",
               "fhirUser",
               "profile",
               "launch/patient",
               "offline_access",
               "online_access",
               "patient/*.rs",
               "patient/*.read",
               "patient/AllergyIntolerance.rs",
               "patient/Condition.rs",
               "patient/DocumentReference.rs",
               "patient/Immunization.rs",
               "patient/Medication.rs",
               "patient/MedicationRequest.rs",
               "patient/MedicationStatement.rs",
               "patient/Observation.rs",
               "patient/Patient.rs",
               "patient/Practitioner.rs",
               "patient/PractitionerRole.rs",
               "patient/*.cruds",
               "patient/*.write",
               "system/*.cruds",
               "system/*.rs",
               "system/*.read",
               "system/*.write"});
}

http::Response smart_configuration(State& s) {
  const AuthState& a = *s.auth;
  Value v = Value::object();
  v.set("issuer", str(a.issuer_url));
  v.set("jwks_uri", str(a.auth_base + "/jwks"));
  v.set("authorization_endpoint", str(a.auth_base + "/authorize"));
  v.set("token_endpoint", str(a.auth_base + "/token"));
  v.set("introspection_endpoint", str(a.auth_base + "/introspect"));
  v.set("revocation_endpoint", str(a.auth_base + "/revoke"));
  v.set("management_endpoint", str(a.auth_base + "/manage"));
  if (a.open_registration) v.set("registration_endpoint", str(a.auth_base + "/register"));
  v.set("grant_types_supported",
        list({"authorization_code", "refresh_token", "client_credentials"}));
  v.set("response_types_supported", list({"code"}));
  v.set("code_challenge_methods_supported", list({"S256"}));
  v.set("token_endpoint_auth_methods_supported",
        list({"none", "private_key_jwt", "client_secret_basic", "client_secret_post"}));
  v.set("token_endpoint_auth_signing_alg_values_supported", list({"RS384", "ES384"}));
  v.set("scopes_supported", scopes_supported());
  v.set("capabilities", capabilities());
  http::Response r = json_doc(200, v);
  cors_any(r);
  return r;
}

http::Response openid_configuration(State& s) {
  const AuthState& a = *s.auth;
  Value v = Value::object();
  v.set("issuer", str(a.issuer_url));
  v.set("authorization_endpoint", str(a.auth_base + "/authorize"));
  v.set("token_endpoint", str(a.auth_base + "/token"));
  v.set("jwks_uri", str(a.auth_base + "/jwks"));
  v.set("introspection_endpoint", str(a.auth_base + "/introspect"));
  v.set("revocation_endpoint", str(a.auth_base + "/revoke"));
  if (a.open_registration) v.set("registration_endpoint", str(a.auth_base + "/register"));
  v.set("response_types_supported", list({"code"}));
  v.set("subject_types_supported", list({"public"}));
  v.set("id_token_signing_alg_values_supported", list({"RS256"}));
  v.set("scopes_supported", scopes_supported());
  v.set("claims_supported", list({"iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser", "name"}));
  v.set("token_endpoint_auth_methods_supported",
        list({"none", "private_key_jwt", "client_secret_basic", "client_secret_post"}));
  v.set("code_challenge_methods_supported", list({"S256"}));
  v.set("grant_types_supported",
        list({"authorization_code", "refresh_token", "client_credentials"}));
  http::Response r = json_doc(200, v);
  cors_any(r);
  return r;
}

http::Response jwks(State& s) {
  // The first signing key is made on demand: publish it before any token needs it (S77).
  (void)s.auth->keys->signing_key(jose::Alg::kRS256);
  auto keys = s.auth->keys->jwks();
  if (!keys.ok()) return oauth_error(500, "server_error", "The key set is unavailable.");
  http::Response r = json_doc(200, *keys);
  cors_any(r);
  r.headers.push_back({"Cache-Control", "max-age=300"});
  return r;
}

// ---- the authorization endpoint -------------------------------------------------------------

// The user-facing label of a Patient record for the picker and consent pages.
std::string patient_label(State& s, const std::string& pid) {
  auto r = s.store.read("Patient", pid);
  if (!r.ok()) return "Patient " + pid;
  auto v = json::parse(r->json, json::ParseOptions{.max_depth = 1000});
  if (!v.ok()) return "Patient " + pid;
  std::string name;
  if (const Value* names = v->find("name"); names && names->is_array()) {
    for (const Value& n : names->items()) {
      if (!n.get_string("text").empty()) {
        name = std::string(n.get_string("text"));
        break;
      }
      std::string given;
      if (const Value* g = n.find("given"); g && g->is_array()) {
        for (const Value& x : g->items()) given += x.text() + " ";
      }
      std::string fam(n.get_string("family"));
      if (!given.empty() || !fam.empty()) {
        name = given + fam;
        break;
      }
    }
  }
  if (name.empty()) name = "Patient " + pid;
  std::string born(v->get_string("birthDate"));
  return born.empty() ? name : name + " (born " + born + ")";
}

// Where the browser goes after login or a step: picker, consent.
http::Response next_step(State& s, const storage::AuthorizationRequest& ar,
                         const storage::User& user) {
  auto scopes = auth::ScopeSet::parse(ar.scope);
  bool needs_patient =
      scopes.ok() && (scopes->has_patient_level() || scopes->has(auth::ScopeKind::kLaunchPatient));
  if (needs_patient && ar.patient.empty()) {
    if (user.patients.empty()) {
      return client_error(ar, "access_denied", "The user may not see any patient record.");
    }
    if (user.patients.size() > 1) {
      return see_other(s.auth->auth_base +
                       "/select-patient?request=" + core::percent_encode(ar.id));
    }
    storage::AuthorizationRequest chosen = ar;
    chosen.patient = user.patients[0];
    if (auto st = s.auth->store->save_authorization_request(chosen); !st.ok()) {
      return html(500, error_page("Something went wrong", "Please try again."));
    }
  }
  return see_other(s.auth->auth_base + "/consent?request=" + core::percent_encode(ar.id));
}

http::Response authorize(State& s, const http::Request& req) {
  AuthState& a = *s.auth;
  bool repeated = false;
  auto params = request_params(req, &repeated);
  if (!params.ok()) {
    return html(400, error_page("Invalid request", params.error().diagnostics));
  }
  const Params& p = *params;
  // S22: an unknown client or an unregistered redirect_uri gets an error page, never a redirect.
  std::string client_id = get(p, "client_id");
  std::string redirect_uri = get(p, "redirect_uri");
  if (client_id.empty()) return html(400, error_page("Invalid request", "client_id is missing."));
  auto client = a.store->get_client(client_id);
  if (!client.ok()) {
    return html(400, error_page("Unknown app", "This app (client_id) is not registered here."));
  }
  if (redirect_uri.empty()) {
    return html(400, error_page("Invalid request", "redirect_uri is missing."));
  }
  bool registered =
      std::any_of(client->redirect_uris.begin(), client->redirect_uris.end(),
                  [&](const std::string& r) { return redirect_matches(r, redirect_uri); });
  if (!registered) {
    return html(400, error_page("Invalid request", "redirect_uri is not registered for this app."));
  }
  storage::AuthorizationRequest ar;
  ar.redirect_uri = redirect_uri;
  ar.state = get(p, "state");
  ar.client_id = client_id;
  // S23/S24: every other error goes back to the app with error and the exact state.
  if (repeated) return client_error(ar, "invalid_request", "A parameter appears more than once.");
  std::string response_type = get(p, "response_type");
  if (response_type.empty())
    return client_error(ar, "invalid_request", "response_type is missing.");
  if (response_type != "code") {
    return client_error(ar, "unsupported_response_type", "Only response_type=code is supported.");
  }
  if (ar.state.empty()) return client_error(ar, "invalid_request", "state is missing.");
  std::string aud = get(p, "aud");
  if (aud.empty()) aud = get(p, "resource");
  if (aud.empty()) return client_error(ar, "invalid_request", "aud is missing.");
  if (trim_slash(aud) != trim_slash(s.options.base_url)) {
    return client_error(ar, "invalid_request", "aud is not this server's FHIR base URL.");
  }
  ar.aud = s.options.base_url;
  std::string challenge = get(p, "code_challenge");
  std::string method = get(p, "code_challenge_method");
  if (challenge.empty()) return client_error(ar, "invalid_request", "code challenge required.");
  if (method != "S256") {
    return client_error(ar, "invalid_request", "transform algorithm not supported: use S256.");
  }
  if (auto st = auth::check_code_challenge(challenge, method); !st.ok()) {
    return client_error(ar, "invalid_request", st.error().diagnostics);
  }
  std::string scope = get(p, "scope");
  if (scope.empty()) return client_error(ar, "invalid_scope", "scope is missing.");
  auto requested = auth::ScopeSet::parse(scope);
  if (!requested.ok()) return client_error(ar, "invalid_scope", requested.error().diagnostics);
  if (!get(p, "launch").empty()) {
    return client_error(ar, "invalid_request", "EHR launch is not supported; omit launch.");
  }
  // Scopes the client may be granted at all (registration), intersected now.
  std::vector<std::string> keep;
  std::optional<auth::ScopeSet> allowed;
  if (!client->scope.empty()) {
    auto al = auth::ScopeSet::parse(client->scope);
    if (al.ok()) allowed = std::move(*al);
  }
  for (const auto& sc : requested->scopes()) {
    if (sc.kind == auth::ScopeKind::kLaunch) continue;  // EHR launch: not offered
    // system/ scopes belong to backend services (client_credentials), never to a user's grant.
    if (sc.kind == auth::ScopeKind::kClinical && sc.level == auth::Level::kSystem) continue;
    if (allowed) {
      auto one = auth::ScopeSet::parse(sc.text);
      if (!one.ok() || !allowed->covers(*one)) continue;
    } else if (sc.kind == auth::ScopeKind::kClinical &&
               (sc.permissions & (auth::kPermCreate | auth::kPermUpdate | auth::kPermDelete))) {
      // Patients' own grants are read-only by default (issue 4 item 7): a client registered
      // without explicit scopes (dynamic registration, or an admin who listed none) gets read
      // and search only; an administrator allows write scopes with `admin client add --scope`.
      continue;
    }
    keep.push_back(sc.text);
  }
  auto kept = requested->subset(keep);
  if (kept.empty()) return client_error(ar, "invalid_scope", "None of the scopes can be granted.");
  ar.scope = kept.str();
  ar.code_challenge = challenge;
  ar.code_challenge_method = "S256";
  ar.nonce = get(p, "nonce");
  ar.id = a.random->token(18);
  ar.created = s.clock->now();
  ar.expires = ar.created + kRequestLifetime;

  // Bind the request to the browser session (a new anonymous one when there is none).
  auto session = current_session(s, req);
  std::string new_cookie;
  if (!session.ok()) {
    auto b = new_session(s, "");
    if (!b.ok()) return html(500, error_page("Something went wrong", "Please try again."));
    session = b->session;
    new_cookie = b->cookie_value;
  }
  ar.session_id_hash = session->id_hash;
  if (auto st = a.store->save_authorization_request(ar); !st.ok()) {
    return client_error(ar, "server_error", "");
  }
  http::Response r;
  if (session->username.empty()) {
    r = see_other(a.auth_base + "/login?request=" + core::percent_encode(ar.id));
  } else {
    auto user = a.store->get_user(session->username);
    r = user.ok() ? next_step(s, ar, *user)
                  : see_other(a.auth_base + "/login?request=" + core::percent_encode(ar.id));
  }
  if (!new_cookie.empty()) r.headers.push_back({"Set-Cookie", set_cookie(a, new_cookie)});
  return r;
}

// The authorization request a page belongs to, checked against the browser session.
struct PageContext {
  storage::Session session;
  storage::AuthorizationRequest request;
  storage::Client client;
};

core::Result<PageContext> page_context(State& s, const http::Request& req, const Params& p) {
  auto session = current_session(s, req);
  if (!session.ok())
    return core::forbidden("Your sign-in session has ended. Start again from the app.");
  auto ar = s.auth->store->get_authorization_request(get(p, "request"));
  if (!ar.ok() || ar->session_id_hash != session->id_hash) {
    return core::forbidden("This page does not belong to your session. Start again from the app.");
  }
  if (ar->expires < s.clock->now()) {
    return core::forbidden("The authorization request expired. Start again from the app.");
  }
  auto client = s.auth->store->get_client(ar->client_id);
  if (!client.ok()) return core::forbidden("The app is no longer registered.");
  return PageContext{std::move(*session), std::move(*ar), std::move(*client)};
}

core::Status check_csrf(const PageContext& c, const Params& p) {
  if (!jose::constant_time_equal(get(p, "csrf_token"), c.session.csrf_token)) {
    return core::forbidden("The form expired or was not sent by this site. Start again.");
  }
  return {};
}

std::string page_action(State& s, const char* page) { return s.auth->auth_base + "/" + page; }

http::Response login(State& s, const http::Request& req) {
  AuthState& a = *s.auth;
  bool repeated = false;
  auto params = req.method == "POST" ? request_params(req, &repeated) : parse_query(req.query);
  if (!params.ok()) return html(400, error_page("Invalid request", params.error().diagnostics));
  auto ctx = page_context(s, req, *params);
  if (!ctx.ok()) return html(403, error_page("Cannot continue", ctx.error().diagnostics));
  std::string client_name = ctx->client.name.empty() ? ctx->client.client_id : ctx->client.name;
  if (req.method == "GET") {
    return html(200, login_page(page_action(s, "login"), ctx->request.id, ctx->session.csrf_token,
                                client_name, ""));
  }
  if (auto st = check_csrf(*ctx, *params); !st.ok()) {
    return html(403, error_page("Cannot continue", st.error().diagnostics));
  }
  std::string username = get(*params, "username");
  std::string password = get(*params, "password");
  auto failures = a.store->throttle_hit("login:" + username, kLoginWindow);
  auto from_address = a.store->throttle_hit("addr:" + req.remote_address, kLoginWindow);
  if ((failures.ok() && *failures > kMaxLoginFailures) ||
      (from_address.ok() && *from_address > kMaxAddressAttempts)) {
    auth::verify_password_dummy(password);
    http::Response r = html(
        429, login_page(page_action(s, "login"), ctx->request.id, ctx->session.csrf_token,
                        client_name, "Too many sign-in attempts. Wait 15 minutes and try again."));
    r.headers.push_back({"Retry-After", "900"});
    return r;
  }
  auto user = a.store->get_user(username);
  bool ok = false;
  if (user.ok()) {
    ok = auth::verify_password(password, user->password_hash);
  } else {
    auth::verify_password_dummy(password);  // same time whether or not the user exists
  }
  if (!ok) {
    spdlog::info("login failed for a user");
    return html(401, login_page(page_action(s, "login"), ctx->request.id, ctx->session.csrf_token,
                                client_name, "The username or password is wrong."));
  }
  (void)a.store->throttle_reset("login:" + username);
  // The session id rotates at login (session fixation); pending requests follow it.
  std::string cookie_value = a.random->token();
  storage::Session next;
  next.id_hash = auth::secret_hash(cookie_value);
  next.username = username;
  next.csrf_token = a.random->token();
  next.created = s.clock->now();
  next.expires = next.created + kSessionLifetime;
  if (auto st = a.store->rotate_session(ctx->session.id_hash, next); !st.ok()) {
    return html(500, error_page("Something went wrong", "Please try again."));
  }
  storage::AuthorizationRequest ar = ctx->request;
  ar.session_id_hash = next.id_hash;
  http::Response r = next_step(s, ar, *user);
  r.headers.push_back({"Set-Cookie", set_cookie(a, cookie_value)});
  return r;
}

http::Response select_patient(State& s, const http::Request& req) {
  AuthState& a = *s.auth;
  bool repeated = false;
  auto params = req.method == "POST" ? request_params(req, &repeated) : parse_query(req.query);
  if (!params.ok()) return html(400, error_page("Invalid request", params.error().diagnostics));
  auto ctx = page_context(s, req, *params);
  if (!ctx.ok()) return html(403, error_page("Cannot continue", ctx.error().diagnostics));
  if (ctx->session.username.empty()) {
    return see_other(a.auth_base + "/login?request=" + core::percent_encode(ctx->request.id));
  }
  auto user = a.store->get_user(ctx->session.username);
  if (!user.ok()) return html(403, error_page("Cannot continue", "Unknown user."));
  std::string client_name = ctx->client.name.empty() ? ctx->client.client_id : ctx->client.name;
  auto choices = [&] {
    std::vector<PickerChoice> out;
    for (const std::string& pid : user->patients) {
      std::string label = patient_label(s, pid);
      if (user->fhir_user == "Patient/" + pid) label += " (you)";
      out.push_back({pid, label});
    }
    return out;
  };
  if (req.method == "GET") {
    return html(200, picker_page(page_action(s, "select-patient"), ctx->request.id,
                                 ctx->session.csrf_token, client_name, choices(), ""));
  }
  if (auto st = check_csrf(*ctx, *params); !st.ok()) {
    return html(403, error_page("Cannot continue", st.error().diagnostics));
  }
  std::string pid = get(*params, "patient");
  // The picked record must be one the user may see (S29).
  if (std::find(user->patients.begin(), user->patients.end(), pid) == user->patients.end()) {
    return html(
        400, picker_page(page_action(s, "select-patient"), ctx->request.id, ctx->session.csrf_token,
                         client_name, choices(), "Choose one of the records listed."));
  }
  storage::AuthorizationRequest ar = ctx->request;
  ar.patient = pid;
  if (auto st = a.store->save_authorization_request(ar); !st.ok()) {
    return html(500, error_page("Something went wrong", "Please try again."));
  }
  return see_other(a.auth_base + "/consent?request=" + core::percent_encode(ar.id));
}

http::Response consent(State& s, const http::Request& req) {
  AuthState& a = *s.auth;
  bool repeated = false;
  auto params = req.method == "POST" ? request_params(req, &repeated) : parse_query(req.query);
  if (!params.ok()) return html(400, error_page("Invalid request", params.error().diagnostics));
  auto ctx = page_context(s, req, *params);
  if (!ctx.ok()) return html(403, error_page("Cannot continue", ctx.error().diagnostics));
  if (ctx->session.username.empty()) {
    return see_other(a.auth_base + "/login?request=" + core::percent_encode(ctx->request.id));
  }
  auto requested = auth::ScopeSet::parse(ctx->request.scope);
  if (!requested.ok()) return client_error(ctx->request, "invalid_scope", "");
  bool needs_patient =
      requested->has_patient_level() || requested->has(auth::ScopeKind::kLaunchPatient);
  if (needs_patient && ctx->request.patient.empty()) {
    return see_other(a.auth_base +
                     "/select-patient?request=" + core::percent_encode(ctx->request.id));
  }
  std::string client_name = ctx->client.name.empty() ? ctx->client.client_id : ctx->client.name;
  if (req.method == "GET") {
    std::vector<ConsentScope> scopes;
    for (const auto& sc : requested->scopes())
      scopes.push_back({sc.text, auth::describe(sc), true});
    std::string who = ctx->request.patient.empty() ? ctx->session.username
                                                   : patient_label(s, ctx->request.patient);
    return html(200, consent_page(page_action(s, "consent"), ctx->request.id,
                                  ctx->session.csrf_token, client_name, who, scopes));
  }
  if (auto st = check_csrf(*ctx, *params); !st.ok()) {
    return html(403, error_page("Cannot continue", st.error().diagnostics));
  }
  // The request is used up now, whatever the decision (a replayed form finds nothing).
  auto ar = a.store->take_authorization_request(ctx->request.id, ctx->session.id_hash);
  if (!ar.ok()) {
    return html(403, error_page("Cannot continue", "This request was already answered."));
  }
  std::string decision = get(*params, "decision");
  if (decision != "approve") {
    record_audit(
        s, storage::AuditEvent{s.clock->now(), "consent", ar->client_id, ctx->session.username,
                               ar->patient, "failure", "access_denied: the user denied access"});
    return client_error(*ar, "access_denied", "The user denied access.");
  }
  // Granted = submitted ∩ requested (requested was already ∩ allowed for the client).
  std::vector<std::string> submitted;
  for (const auto& [k, v] : *params) {
    if (k == "scope") {
      // A checkbox value may hold several scopes only if a client crafted it: split on spaces.
      size_t start = 0;
      while (start <= v.size()) {
        size_t sp = v.find(' ', start);
        std::string one = v.substr(start, sp == std::string::npos ? std::string::npos : sp - start);
        if (!one.empty()) submitted.push_back(one);
        if (sp == std::string::npos) break;
        start = sp + 1;
      }
    }
  }
  auto granted = requested->subset(submitted);
  if (granted.empty()) return client_error(*ar, "access_denied", "No access was granted.");
  storage::Grant grant;
  grant.id = a.random->token(18);
  grant.client_id = ar->client_id;
  grant.username = ctx->session.username;
  // A patient/ scope never ends in a token without a patient (S28).
  if (granted.has_patient_level() || granted.has(auth::ScopeKind::kLaunchPatient)) {
    grant.patient = ar->patient;
    if (grant.patient.empty()) return client_error(*ar, "access_denied", "No patient was chosen.");
  }
  grant.scope = granted.str();
  grant.aud = ar->aud;
  grant.created = s.clock->now();
  if (auto st = a.store->create_grant(grant); !st.ok())
    return client_error(*ar, "server_error", "");
  std::string code = a.random->token();
  storage::AuthorizationCode c;
  c.code_hash = auth::secret_hash(code);
  c.client_id = ar->client_id;
  c.redirect_uri = ar->redirect_uri;
  c.code_challenge = ar->code_challenge;
  c.grant_id = grant.id;
  c.nonce = ar->nonce;
  c.created = s.clock->now();
  c.expires = c.created + kCodeLifetime;
  if (auto st = a.store->save_code(c); !st.ok()) return client_error(*ar, "server_error", "");
  record_audit(s, storage::AuditEvent{s.clock->now(), "consent", ar->client_id, grant.username,
                                      grant.patient, "success", "scope " + grant.scope});
  return to_client(ar->redirect_uri, {{"code", code}, {"state", ar->state}});
}

// ---- the token endpoint ---------------------------------------------------------------------

// Client authentication (S40-S52): exactly one mechanism.
core::Result<storage::Client> authenticate_client(State& s, const http::Request& req,
                                                  const Params& p, http::Response* error) {
  AuthState& a = *s.auth;
  std::string basic = req.header("Authorization");
  bool has_basic = basic.rfind("Basic ", 0) == 0;
  bool has_assertion = has_param(p, "client_assertion") || has_param(p, "client_assertion_type");
  bool has_secret = has_param(p, "client_secret");
  int methods = int{has_basic} + int{has_assertion} + int{has_secret};
  if (methods > 1) {
    *error = oauth_error(400, "invalid_request", "Use one client authentication method.");
    return core::bad_request(core::IssueType::kInvalid, "several methods");
  }
  core::Result<storage::Client> client = core::unauthenticated("");
  if (has_basic) {
    auto decoded = [&]() -> core::Result<std::string> {
      std::string b64 = basic.substr(6);
      // Standard base64 (RFC 7617), not base64url.
      std::string url = b64;
      for (char& c : url) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
      }
      while (!url.empty() && url.back() == '=') url.pop_back();
      return jose::base64url_decode(url);
    }();
    if (!decoded.ok() || decoded->find(':') == std::string::npos) {
      *error = oauth_error(401, "invalid_client", "Malformed Basic credentials.");
      return core::unauthenticated("basic");
    }
    size_t colon = decoded->find(':');
    // RFC 6749 section 2.3.1: id and secret are form-urlencoded before base64.
    auto id = parse_query("x=" + decoded->substr(0, colon));
    auto secret = parse_query("x=" + decoded->substr(colon + 1));
    client = a.client_auth->authenticate_secret(
        id.ok() && !id->empty() ? (*id)[0].second : "",
        secret.ok() && !secret->empty() ? (*secret)[0].second : "");
  } else if (has_assertion) {
    client = a.client_auth->authenticate_assertion(get(p, "client_assertion_type"),
                                                   get(p, "client_assertion"));
    if (!client.ok() && client.error().http_status == 400) {
      *error = oauth_error(400, "invalid_request", client.error().diagnostics);
      return std::move(client).error();
    }
  } else if (has_secret) {
    client = a.client_auth->authenticate_secret(get(p, "client_id"), get(p, "client_secret"));
  } else {
    client = a.client_auth->identify_public(get(p, "client_id"));
  }
  if (!client.ok()) {
    *error = oauth_error(401, "invalid_client",
                         client.error().diagnostics.empty() ? "Client authentication failed."
                                                            : client.error().diagnostics);
    return std::move(client).error();
  }
  // A confidential client that also names client_id must name itself (S35).
  std::string named = get(p, "client_id");
  if (!named.empty() && named != client->client_id) {
    *error =
        oauth_error(401, "invalid_client", "client_id does not match the authenticated client.");
    return core::unauthenticated("mismatch");
  }
  return client;
}

void revoke(State& s, const std::string& grant_id) {
  (void)s.auth->store->revoke_grant(grant_id);
  s.auth->validator->grant_revoked(grant_id);
}

// S75: fhirUser is the user's own Patient when the record in context is theirs, and the
// RelatedPerson that stands for them in someone else's record otherwise: the RelatedPerson of
// that patient's compartment that carries one of the user's own Patient identifiers (the demo's
// parent is in each child's record that way). Falls back to the user's own resource.
std::string fhir_user_for(State& s, const std::string& own, const std::string& patient) {
  if (patient.empty() || own.rfind("Patient/", 0) != 0 || own == "Patient/" + patient) return own;
  auto me = s.store.read("Patient", own.substr(8));
  if (!me.ok()) return own;
  auto v = json::parse(me->json, json::ParseOptions{.max_depth = 1000});
  if (!v.ok() || v->find("identifier") == nullptr) return own;
  for (const Value& ident : v->find("identifier")->items()) {
    std::string system(ident.get_string("system")), value(ident.get_string("value"));
    if (value.empty()) continue;
    search::QueryOptions qo;
    qo.strict = true;
    // An ended relationship (`admin user revoke` sets active false) names nobody.
    auto q = search::parse_search(
        "RelatedPerson",
        {{"patient", patient}, {"identifier", system + "|" + value}, {"active:not", "false"}}, qo);
    if (!q.ok()) continue;
    q->plan.count = 1;
    auto page = s.store.search(q->plan);
    if (page.ok() && !page->entries.empty()) return "RelatedPerson/" + page->entries[0].id;
  }
  return own;
}

http::Response token_response(State& s, const storage::Grant& grant, const std::string& scope,
                              const std::string& nonce, bool fresh_refresh,
                              const std::string& refresh_token) {
  AuthState& a = *s.auth;
  auto scopes = auth::ScopeSet::parse(scope);
  if (!scopes.ok()) return oauth_error(500, "server_error", "");
  auto user = a.store->get_user(grant.username);
  std::string fhir_user;
  if (scopes->has(auth::ScopeKind::kFhirUser) && user.ok()) {
    fhir_user = fhir_user_for(s, user->fhir_user, grant.patient);
  }
  auto at = a.issuer->issue_access_token(grant, scope, fhir_user);
  if (!at.ok()) return oauth_error(500, "server_error", "");
  Value v = Value::object();
  v.set("access_token", str(at->token));
  v.set("token_type", str("Bearer"));
  v.set("expires_in", Value::number(at->expires_in));
  v.set("scope", str(scope));
  if (!grant.patient.empty()) v.set("patient", str(grant.patient));
  if (scopes->has(auth::ScopeKind::kOpenid)) {
    auth::IdTokenRequest idr;
    idr.sub = grant.username;
    idr.client_id = grant.client_id;
    idr.nonce = nonce;
    if (!fhir_user.empty()) idr.fhir_user = s.options.base_url + "/" + fhir_user;
    if (scopes->has(auth::ScopeKind::kProfile) && user.ok()) idr.name = user->display_name;
    auto id = a.issuer->issue_id_token(idr);
    if (!id.ok()) return oauth_error(500, "server_error", "");
    v.set("id_token", str(*id));
  }
  if (!refresh_token.empty() && fresh_refresh) v.set("refresh_token", str(refresh_token));
  v.set("need_patient_banner", Value::boolean(false));
  http::Response r = json_doc(200, v);
  no_store(r);
  cors_any(r);
  return r;
}

core::Result<std::string> new_refresh_token(State& s, const storage::Grant& grant,
                                            const std::string& scope) {
  std::string token = s.auth->random->token();
  storage::RefreshToken rt;
  rt.token_hash = auth::secret_hash(token);
  rt.grant_id = grant.id;
  rt.client_id = grant.client_id;
  rt.scope = scope;
  rt.created = s.clock->now();
  rt.expires = rt.created + kRefreshLifetime;
  IPA_RETURN_IF_ERROR(s.auth->store->save_refresh_token(rt));
  return token;
}

bool wants_refresh(const std::string& scope) {
  auto sc = auth::ScopeSet::parse(scope);
  return sc.ok() &&
         (sc->has(auth::ScopeKind::kOfflineAccess) || sc->has(auth::ScopeKind::kOnlineAccess));
}

// SMART Backend Services, "Request access token": client_credentials for clients an
// administrator registered as backend, authenticated with private_key_jwt (the assertion was
// checked by authenticate_client: alg, aud = token URL, exp, jti replay). Granted scope =
// requested system/ scopes ∩ the client's allowed scopes; no refresh token, no id_token, no
// patient (RFC 6749 section 4.4.3).
http::Response client_credentials(State& s, const storage::Client& client, const Params& p) {
  AuthState& a = *s.auth;
  if (client.type != storage::ClientType::kBackend || !has_param(p, "client_assertion")) {
    return oauth_error(400, "unauthorized_client",
                       "client_credentials is only for backend services clients registered by "
                       "an administrator, authenticated with a private_key_jwt assertion.");
  }
  std::string asked = get(p, "scope");
  if (asked.empty()) return oauth_error(400, "invalid_scope", "scope is missing.");
  auto requested = auth::ScopeSet::parse(asked);
  if (!requested.ok()) return oauth_error(400, "invalid_scope", requested.error().diagnostics);
  // An administrator lists what a backend client may have; nothing listed, nothing granted.
  auto allowed = auth::ScopeSet::parse(client.scope);
  std::vector<std::string> keep;
  for (const auto& sc : requested->scopes()) {
    if (sc.kind != auth::ScopeKind::kClinical || sc.level != auth::Level::kSystem) continue;
    auto one = auth::ScopeSet::parse(sc.text);
    if (!allowed.ok() || !one.ok() || !allowed->covers(*one)) continue;
    keep.push_back(sc.text);
  }
  auto granted = requested->subset(keep);
  if (granted.empty()) {
    return oauth_error(400, "invalid_scope",
                       "None of the requested scopes can be granted: this grant gives system/ "
                       "scopes the client is registered for.");
  }
  storage::Grant grant;
  grant.id = a.random->token(18);
  grant.client_id = client.client_id;
  grant.scope = granted.str();
  grant.aud = s.options.base_url;
  grant.created = s.clock->now();
  if (auto st = a.store->create_grant(grant); !st.ok()) {
    return oauth_error(500, "server_error", "");
  }
  auto at = a.issuer->issue_access_token(grant, grant.scope, "");
  if (!at.ok()) return oauth_error(500, "server_error", "");
  record_audit(s, storage::AuditEvent{s.clock->now(), "token", client.client_id, "", "", "success",
                                      "client_credentials"});
  // Each request made a grant row; once every token of a row has expired (lifetime plus the
  // validator's 60 s leeway, and a minute more) nothing needs it: purged here, at issue time,
  // so the table stays as small as the live tokens whatever the backend's request rate.
  auto purged = a.store->purge_system_grants(s.clock->now() - std::chrono::seconds(at->expires_in) -
                                             std::chrono::seconds(120));
  if (!purged.ok()) {
    spdlog::warn("purging expired client_credentials grants failed: {}",
                 purged.error().diagnostics);
  }
  Value v = Value::object();
  v.set("access_token", str(at->token));
  v.set("token_type", str("Bearer"));
  v.set("expires_in", Value::number(at->expires_in));
  v.set("scope", str(grant.scope));
  http::Response r = json_doc(200, v);
  no_store(r);
  cors_any(r);
  return r;
}

http::Response token(State& s, const http::Request& req) {
  AuthState& a = *s.auth;
  if (req.method != "POST") return oauth_error(400, "invalid_request", "Use POST.");
  bool repeated = false;
  auto params = request_params(req, &repeated);
  if (!params.ok()) return oauth_error(400, "invalid_request", params.error().diagnostics);
  if (repeated) return oauth_error(400, "invalid_request", "A parameter appears more than once.");
  const Params& p = *params;
  http::Response error;
  auto client = authenticate_client(s, req, p, &error);
  if (!client.ok()) return error;
  std::string grant_type = get(p, "grant_type");
  if (grant_type == "authorization_code") {
    std::string code = get(p, "code");
    if (code.empty()) return oauth_error(400, "invalid_request", "code is missing.");
    auto consumed = a.store->consume_code(auth::secret_hash(code));
    if (!consumed.ok()) return oauth_error(400, "invalid_grant", "The code is unknown or expired.");
    if (consumed->reused) {
      // A second use of a code revokes what the first issued (RFC 6749 section 4.1.2).
      revoke(s, consumed->record.grant_id);
      return oauth_error(400, "invalid_grant", "The code was already used.");
    }
    const storage::AuthorizationCode& c = consumed->record;
    if (c.client_id != client->client_id) {
      return oauth_error(400, "invalid_grant", "The code was issued to another client.");
    }
    if (c.redirect_uri != get(p, "redirect_uri")) {
      return oauth_error(400, "invalid_grant",
                         "redirect_uri differs from the authorization request.");
    }
    std::string verifier = get(p, "code_verifier");
    if (!auth::valid_pkce_string(verifier) || !auth::verify_s256(verifier, c.code_challenge)) {
      return oauth_error(400, "invalid_grant", "code_verifier is missing or wrong.");
    }
    auto grant = a.store->get_grant(c.grant_id);
    if (!grant.ok() || grant->revoked)
      return oauth_error(400, "invalid_grant", "The grant was revoked.");
    std::string refresh;
    if (wants_refresh(grant->scope)) {
      auto rt = new_refresh_token(s, *grant, grant->scope);
      if (!rt.ok()) return oauth_error(500, "server_error", "");
      refresh = *rt;
    }
    record_audit(s, storage::AuditEvent{s.clock->now(), "token", client->client_id, grant->username,
                                        grant->patient, "success", "authorization_code"});
    return token_response(s, *grant, grant->scope, c.nonce, true, refresh);
  }
  if (grant_type == "refresh_token") {
    std::string presented = get(p, "refresh_token");
    if (presented.empty()) return oauth_error(400, "invalid_request", "refresh_token is missing.");
    std::string hash = auth::secret_hash(presented);
    auto rt = a.store->get_refresh_token(hash);
    if (!rt.ok()) return oauth_error(400, "invalid_grant", "The refresh token is unknown.");
    if (rt->used) {
      revoke(s, rt->grant_id);  // reuse of a rotated token: the grant is compromised
      return oauth_error(400, "invalid_grant", "The refresh token was already used.");
    }
    if (rt->client_id != client->client_id) {
      return oauth_error(400, "invalid_grant", "The refresh token belongs to another client.");
    }
    if (rt->expires < s.clock->now())
      return oauth_error(400, "invalid_grant", "The refresh token expired.");
    auto grant = a.store->get_grant(rt->grant_id);
    if (!grant.ok() || grant->revoked)
      return oauth_error(400, "invalid_grant", "The grant was revoked.");
    std::string scope = rt->scope;
    std::string asked = get(p, "scope");
    if (!asked.empty()) {
      auto original = auth::ScopeSet::parse(rt->scope);
      auto want = auth::ScopeSet::parse(asked);
      if (!want.ok() || !original.ok() || !original->covers(*want)) {
        return oauth_error(400, "invalid_scope", "The scope is wider than the original grant.");
      }
      scope = want->str();
    }
    std::string next = a.random->token();
    storage::RefreshToken nrt;
    nrt.token_hash = auth::secret_hash(next);
    nrt.scope = scope;
    nrt.created = s.clock->now();
    nrt.expires = nrt.created + kRefreshLifetime;
    auto rotated = a.store->rotate_refresh_token(hash, nrt);
    if (!rotated.ok()) return oauth_error(400, "invalid_grant", "The refresh token is unknown.");
    if (rotated->reused) {
      revoke(s, rotated->record.grant_id);
      return oauth_error(400, "invalid_grant", "The refresh token was already used.");
    }
    record_audit(s, storage::AuditEvent{s.clock->now(), "token", client->client_id, grant->username,
                                        grant->patient, "success", "refresh_token"});
    return token_response(s, *grant, scope, "", true, wants_refresh(scope) ? next : "");
  }
  if (grant_type == "client_credentials") return client_credentials(s, *client, p);
  if (grant_type.empty()) return oauth_error(400, "invalid_request", "grant_type is missing.");
  return oauth_error(400, "unsupported_grant_type",
                     "Use authorization_code, refresh_token or client_credentials.");
}

// RFC 7662: any caller may ask about a token it holds; the answer reveals nothing else.
http::Response introspect(State& s, const http::Request& req) {
  AuthState& a = *s.auth;
  if (req.method != "POST") return oauth_error(400, "invalid_request", "Use POST.");
  bool repeated = false;
  auto params = request_params(req, &repeated);
  if (!params.ok()) return oauth_error(400, "invalid_request", params.error().diagnostics);
  std::string tok = get(*params, "token");
  Value inactive = Value::object();
  inactive.set("active", Value::boolean(false));
  http::Response no = json_doc(200, inactive);
  no_store(no);
  cors_any(no);
  if (tok.empty()) return no;
  auto claims = a.validator->validate(tok);
  Value v = Value::object();
  if (claims.ok()) {
    const auth::AccessTokenClaims& c = **claims;
    v.set("active", Value::boolean(true));
    v.set("scope", str(c.scope));
    v.set("client_id", str(c.client_id));
    v.set("exp", Value::number(auth::numeric_date(c.exp)));
    v.set("iat", Value::number(auth::numeric_date(c.iat)));
    v.set("token_type", str("Bearer"));
    v.set("iss", str(c.iss));
    if (!c.sub.empty()) v.set("sub", str(c.sub));
    v.set("aud", str(c.aud));
    if (!c.patient.empty()) v.set("patient", str(c.patient));
    if (!c.fhir_user.empty()) v.set("fhirUser", str(s.options.base_url + "/" + c.fhir_user));
  } else {
    auto rt = a.store->get_refresh_token(auth::secret_hash(tok));
    if (!rt.ok() || rt->used || rt->expires < s.clock->now()) return no;
    auto grant = a.store->get_grant(rt->grant_id);
    if (!grant.ok() || grant->revoked) return no;
    v.set("active", Value::boolean(true));
    v.set("scope", str(rt->scope));
    v.set("client_id", str(rt->client_id));
    v.set("exp", Value::number(auth::numeric_date(rt->expires)));
    v.set("token_type", str("refresh_token"));
    v.set("sub", str(grant->username));
    if (!grant->patient.empty()) v.set("patient", str(grant->patient));
  }
  http::Response r = json_doc(200, v);
  no_store(r);
  cors_any(r);
  return r;
}

// RFC 7009: revokes the grant behind an access or refresh token of the authenticated client.
http::Response revoke_endpoint(State& s, const http::Request& req) {
  AuthState& a = *s.auth;
  if (req.method != "POST") return oauth_error(400, "invalid_request", "Use POST.");
  bool repeated = false;
  auto params = request_params(req, &repeated);
  if (!params.ok()) return oauth_error(400, "invalid_request", params.error().diagnostics);
  http::Response error;
  auto client = authenticate_client(s, req, *params, &error);
  if (!client.ok()) return error;
  std::string hint = get(*params, "token_type_hint");
  if (!hint.empty() && hint != "access_token" && hint != "refresh_token") {
    return oauth_error(400, "unsupported_token_type", "Unknown token_type_hint.");
  }
  std::string tok = get(*params, "token");
  std::string grant_id;
  if (auto claims = a.validator->validate(tok); claims.ok()) {
    if ((*claims)->client_id == client->client_id) grant_id = (*claims)->grant_id;
  } else if (auto rt = a.store->get_refresh_token(auth::secret_hash(tok)); rt.ok()) {
    if (rt->client_id == client->client_id) grant_id = rt->grant_id;
  }
  if (!grant_id.empty()) revoke(s, grant_id);
  http::Response r;
  r.status = 200;
  no_store(r);
  cors_any(r);
  return r;
}

// ---- the management endpoint (S86) -----------------------------------------------------------

// GET shows the user's grants (or a sign-in form); POST signs in, or revokes one of the user's
// grants. Bound to the browser session with its CSRF token like the launch pages.
http::Response manage(State& s, const http::Request& req) {
  AuthState& a = *s.auth;
  bool repeated = false;
  auto params = req.method == "POST" ? request_params(req, &repeated) : parse_query(req.query);
  if (!params.ok()) return html(400, error_page("Invalid request", params.error().diagnostics));
  std::string action = a.auth_base + "/manage";
  auto session = current_session(s, req);
  std::string new_cookie;
  if (!session.ok()) {
    auto b = new_session(s, "");
    if (!b.ok()) return html(500, error_page("Something went wrong", "Please try again."));
    session = b->session;
    new_cookie = b->cookie_value;
  }
  auto finish = [&](http::Response r) {
    if (!new_cookie.empty()) r.headers.push_back({"Set-Cookie", set_cookie(a, new_cookie)});
    return r;
  };
  if (req.method == "POST") {
    if (!jose::constant_time_equal(get(*params, "csrf_token"), session->csrf_token)) {
      return finish(html(403, error_page("Cannot continue", "The form expired. Reload the page.")));
    }
    if (has_param(*params, "username")) {
      std::string username = get(*params, "username");
      // The same throttling as /auth/login: per user and per address, 429 with Retry-After.
      auto failures = a.store->throttle_hit("login:" + username, kLoginWindow);
      auto from_address = a.store->throttle_hit("addr:" + req.remote_address, kLoginWindow);
      if ((failures.ok() && *failures > kMaxLoginFailures) ||
          (from_address.ok() && *from_address > kMaxAddressAttempts)) {
        auth::verify_password_dummy(get(*params, "password"));
        http::Response r =
            html(429, login_page(action, "manage", session->csrf_token, "Your apps",
                                 "Too many sign-in attempts. Wait 15 minutes and try again."));
        r.headers.push_back({"Retry-After", "900"});
        return finish(std::move(r));
      }
      auto user = a.store->get_user(username);
      bool ok = false;
      if (user.ok()) {
        ok = auth::verify_password(get(*params, "password"), user->password_hash);
      } else {
        auth::verify_password_dummy(get(*params, "password"));
      }
      if (!ok) {
        return finish(html(401, login_page(action, "manage", session->csrf_token, "Your apps",
                                           "The username or password is wrong.")));
      }
      (void)a.store->throttle_reset("login:" + username);
      std::string cookie_value = a.random->token();
      storage::Session next;
      next.id_hash = auth::secret_hash(cookie_value);
      next.username = username;
      next.csrf_token = a.random->token();
      next.created = s.clock->now();
      next.expires = next.created + kSessionLifetime;
      if (!a.store->rotate_session(session->id_hash, next).ok()) {
        return html(500, error_page("Something went wrong", "Please try again."));
      }
      http::Response r = see_other(action);
      r.headers.push_back({"Set-Cookie", set_cookie(a, cookie_value)});
      return r;
    }
    if (session->username.empty()) return finish(see_other(action));
    std::string grant_id = get(*params, "grant");
    auto grant = a.store->get_grant(grant_id);
    // Only the user's own grants can be revoked here.
    if (!grant.ok() || grant->username != session->username) {
      return finish(html(404, error_page("Not found", "No such access.")));
    }
    revoke(s, grant_id);
    record_audit(s, storage::AuditEvent{s.clock->now(), "revoke", grant->client_id, grant->username,
                                        grant->patient, "success", "management page"});
    return finish(see_other(action + "?revoked=1"));
  }
  if (session->username.empty()) {
    return finish(html(200, login_page(action, "manage", session->csrf_token, "Your apps", "")));
  }
  auto grants = a.store->list_grants(session->username);
  std::vector<GrantRow> rows;
  if (grants.ok()) {
    for (const auto& g : *grants) {
      if (g.revoked) continue;
      auto client = a.store->get_client(g.client_id);
      rows.push_back({g.id, client.ok() && !client->name.empty() ? client->name : g.client_id,
                      g.patient.empty() ? "" : patient_label(s, g.patient), g.scope,
                      core::format_instant(g.created).substr(0, 10)});
    }
  }
  return finish(html(200, manage_page(action, session->csrf_token, session->username, rows,
                                      has_param(*params, "revoked") ? "Access revoked." : "")));
}

// ---- dynamic client registration (RFC 7591; S18) ------------------------------------------

http::Response register_error(const std::string& error, const std::string& description) {
  return oauth_error(400, error, description);
}

bool acceptable_redirect(const std::string& uri) {
  // https anywhere; http only on loopback (RFC 8252 section 7.3); no fragments.
  if (uri.find('#') != std::string::npos) return false;
  if (uri.rfind("https://", 0) == 0) return uri.size() > 8;
  for (const char* p : {"http://127.0.0.1", "http://[::1]", "http://localhost"}) {
    if (uri.rfind(p, 0) == 0) return true;
  }
  return false;
}

http::Response register_client(State& s, const http::Request& req) {
  AuthState& a = *s.auth;
  if (req.method != "POST") return oauth_error(400, "invalid_request", "Use POST.");
  if (!a.open_registration) {
    return oauth_error(403, "access_denied",
                       "Dynamic registration is closed on this server; ask its operator.");
  }
  std::string ct = req.header("Content-Type");
  if (ct.substr(0, ct.find(';')) != "application/json") {
    return register_error("invalid_client_metadata",
                          "Send the client metadata as application/json.");
  }
  auto body = json::parse(req.body);
  if (!body.ok() || !body->is_object()) {
    return register_error("invalid_client_metadata", "The body is not a JSON object.");
  }
  const Value& m = *body;
  storage::Client c;
  const Value* uris = m.find("redirect_uris");
  if (uris == nullptr || !uris->is_array() || uris->items().empty()) {
    return register_error("invalid_redirect_uri", "redirect_uris must list at least one URI.");
  }
  for (const Value& u : uris->items()) {
    if (!u.is_string() || !acceptable_redirect(u.text())) {
      return register_error("invalid_redirect_uri",
                            "Each redirect URI must be https, or http on a loopback address.");
    }
    c.redirect_uris.push_back(u.text());
  }
  std::string method(m.get_string("token_endpoint_auth_method"));
  if (method.empty()) method = m.find("jwks") || m.find("jwks_uri") ? "private_key_jwt" : "none";
  if (const Value* gt = m.find("grant_types")) {
    for (const Value& g : gt->items()) {
      if (!g.is_string() || (g.text() != "authorization_code" && g.text() != "refresh_token")) {
        return register_error("invalid_client_metadata",
                              "grant_types may only hold authorization_code and refresh_token.");
      }
    }
  }
  if (const Value* rt = m.find("response_types")) {
    for (const Value& r : rt->items()) {
      if (!r.is_string() || r.text() != "code") {
        return register_error("invalid_client_metadata", "response_types may only hold code.");
      }
    }
  }
  std::string secret;
  if (method == "none") {
    c.type = storage::ClientType::kPublic;
  } else if (method == "private_key_jwt") {
    c.type = storage::ClientType::kConfidentialAsymmetric;
    const Value* jwks_value = m.find("jwks");
    std::string jwks_uri(m.get_string("jwks_uri"));
    if ((jwks_value == nullptr) == jwks_uri.empty()) {
      return register_error("invalid_client_metadata",
                            "private_key_jwt needs exactly one of jwks and jwks_uri.");
    }
    if (jwks_value != nullptr) {
      // S17: every key has kty and kid and bare key material.
      auto set = jose::Jwks::parse(*jwks_value);
      if (!set.ok()) return register_error("invalid_client_metadata", set.error().diagnostics);
      for (const auto& k : set->keys()) {
        if (k.kid().empty()) {
          return register_error("invalid_client_metadata", "Every JWK needs a kid.");
        }
        if (k.has_private()) {
          return register_error("invalid_client_metadata",
                                "The JWK Set holds a private key; register public keys only.");
        }
      }
      c.jwks = json::write(set->to_public_json());
    } else {
      // Issue 4 item 8: https, a public address (checked again, and pinned, at each fetch).
      if (auto st = http::check_fetch_target(jwks_uri, jwks_fetch_options(a.allow_loopback_jwks));
          !st.ok()) {
        return register_error("invalid_client_metadata",
                              "jwks_uri is refused: " + st.error().diagnostics);
      }
      c.jwks_uri = jwks_uri;
    }
  } else if (method == "client_secret_basic" || method == "client_secret_post") {
    c.type = storage::ClientType::kConfidentialSymmetric;
    secret = a.random->token();
    c.secret_hash = auth::client_secret_hash(secret);
  } else {
    return register_error("invalid_client_metadata",
                          "token_endpoint_auth_method must be none, private_key_jwt, "
                          "client_secret_basic or client_secret_post.");
  }
  c.token_endpoint_auth_method = method;
  std::string scope(m.get_string("scope"));
  auto asked_scopes = auth::ScopeSet::parse(scope);
  if (!scope.empty() && !asked_scopes.ok()) {
    return register_error("invalid_client_metadata", "scope is not a valid SMART scope string.");
  }
  // Self-registered apps act for a signed-in patient only: no backend services (system/), no
  // user/ scopes (S18), and read-only (patients' own grants are read-only by default).
  for (const auto& sc : asked_scopes.ok() ? asked_scopes->scopes() : std::vector<auth::Scope>{}) {
    if (sc.kind != auth::ScopeKind::kClinical) continue;
    if (sc.level != auth::Level::kPatient) {
      return register_error("invalid_client_metadata",
                            "Dynamic registration offers patient/ scopes only; system/ and user/ "
                            "scopes are for clients an administrator registers.");
    }
    if (sc.permissions & (auth::kPermCreate | auth::kPermUpdate | auth::kPermDelete)) {
      return register_error("invalid_client_metadata",
                            "Dynamically registered apps get read access only; ask the "
                            "operator for write access.");
    }
  }
  c.scope = scope;
  c.name = std::string(m.get_string("client_name"));
  c.client_id = a.random->token(16);
  c.created = s.clock->now();
  Value out = m;
  out.set("client_id", str(c.client_id));
  out.set("client_id_issued_at", Value::number(auth::numeric_date(c.created)));
  out.set("token_endpoint_auth_method", str(method));
  if (!secret.empty()) {
    out.set("client_secret", str(secret));
    out.set("client_secret_expires_at", Value::number(0));
  }
  c.registration = json::write(m);
  if (auto st = a.store->create_client(c); !st.ok()) return oauth_error(500, "server_error", "");
  if (a.cors) a.cors->invalidate();  // its redirect URIs' origins may call the API at once
  record_audit(
      s, storage::AuditEvent{s.clock->now(), "register", c.client_id, "", "", "success", method});
  http::Response r = json_doc(201, out);
  no_store(r);
  cors_any(r);
  return r;
}

}  // namespace

// ---- wiring ---------------------------------------------------------------------------------

State::State(ApiOptions o, storage::ResourceStore& st, std::shared_ptr<core::Clock> c,
             std::unique_ptr<core::IdGenerator> i)
    : options(std::move(o)), store(st), clock(std::move(c)), ids(std::move(i)) {}

State::~State() = default;

namespace {

class CurlJwksFetcher final : public auth::JwksFetcher {
 public:
  explicit CurlJwksFetcher(bool allow_loopback) : allow_loopback_(allow_loopback) {}
  core::Result<json::Value> fetch(std::string url) override {
    auto r = http::fetch("GET", url, {{"Accept", "application/json"}}, "",
                         jwks_fetch_options(allow_loopback_));
    if (!r.ok()) return std::move(r).error();
    if (r->status != 200)
      return core::unavailable("The client's JWKS URL answered " + std::to_string(r->status));
    return json::parse(r->body);
  }

 private:
  bool allow_loopback_;
};

}  // namespace

http::FetchOptions jwks_fetch_options(bool allow_loopback) {
  http::FetchOptions o;
  o.https_only = !allow_loopback;  // S47: TLS; plain http only for loopback test servers
  o.public_only = true;            // never an internal host (SSRF), resolved and pinned
  o.allow_loopback = allow_loopback;
  o.timeout = std::chrono::milliseconds(5000);
  o.max_body = 256 * 1024;
  return o;
}

std::shared_ptr<auth::JwksFetcher> curl_jwks_fetcher(bool allow_loopback) {
  return std::make_shared<CurlJwksFetcher>(allow_loopback);
}

http::Response cors_preflight() {
  http::Response r;
  r.status = 204;
  r.headers.push_back({"Access-Control-Allow-Origin", "*"});
  r.headers.push_back({"Access-Control-Allow-Methods", "GET, POST, OPTIONS"});
  r.headers.push_back(
      {"Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Prefer"});
  r.headers.push_back({"Access-Control-Max-Age", "600"});
  return r;
}

std::unique_ptr<AuthState> make_auth_state(const std::string& base_url,
                                           const std::string& base_path,
                                           std::shared_ptr<storage::AuthStore> store,
                                           std::shared_ptr<core::Clock> clock,
                                           std::shared_ptr<auth::JwksFetcher> fetcher) {
  auto a = std::make_unique<AuthState>();
  a->store = store;
  a->issuer_url = base_url;
  std::string origin = base_url.substr(0, base_url.size() - base_path.size());
  a->auth_base = origin + "/auth";
  a->secure_cookies = base_url.rfind("https://", 0) == 0;
  a->random = auth::os_random();
  auth::TokenConfig tc;
  tc.issuer = base_url;
  tc.audience = base_url;
  // `admin keys rotate` writes to the store; nodes sign with the new key within key_refresh.
  // A retired key verifies until every token it signed has expired: those signed up to its
  // retirement, plus those a node signed before it noticed (key_refresh), plus clock leeway.
  tc.key_refresh = std::chrono::seconds(5);
  tc.key_retention =
      std::max(tc.access_token_lifetime, tc.id_token_lifetime) + tc.key_refresh + tc.leeway;
  a->keys = std::make_shared<auth::SigningKeys>(store, clock, tc);
  a->issuer = std::make_unique<auth::TokenIssuer>(tc, a->keys, clock, a->random);
  a->validator = std::make_unique<auth::TokenValidator>(tc, a->keys, store, clock);
  auth::ClientAuthConfig cc;
  cc.token_url = a->auth_base + "/token";
  a->client_auth = std::make_unique<auth::ClientAuthenticator>(cc, store, fetcher, clock);
  return a;
}

std::optional<http::Response> handle_discovery(State& s, const http::Request& req,
                                               const std::vector<std::string>& parts) {
  if (parts.size() != 2 || parts[0] != ".well-known") return std::nullopt;
  if (req.method == "OPTIONS") {
    http::Response r;
    r.status = 204;
    cors_any(r);
    r.headers.push_back({"Access-Control-Allow-Methods", "GET"});
    return r;
  }
  if (parts[1] == "smart-configuration") return smart_configuration(s);
  if (parts[1] == "openid-configuration") return openid_configuration(s);
  return std::nullopt;
}

std::optional<http::Response> handle_auth(State& s, const http::Request& req,
                                          const std::string& sub) {
  if (req.method == "OPTIONS" && (sub == "token" || sub == "introspect" || sub == "revoke" ||
                                  sub == "jwks" || sub == "register")) {
    http::Response r;
    r.status = 204;
    cors_any(r);
    r.headers.push_back({"Access-Control-Allow-Methods", "GET, POST"});
    r.headers.push_back({"Access-Control-Allow-Headers", "Authorization, Content-Type"});
    return r;
  }
  bool get_or_post = req.method == "GET" || req.method == "POST";
  if (sub == "jwks" && req.method == "GET") return jwks(s);
  if (sub == "authorize" && get_or_post) return authorize(s, req);
  if (sub == "login" && get_or_post) return login(s, req);
  if (sub == "select-patient" && get_or_post) return select_patient(s, req);
  if (sub == "consent" && get_or_post) return consent(s, req);
  if (sub == "token") return token(s, req);
  if (sub == "introspect") return introspect(s, req);
  if (sub == "revoke") return revoke_endpoint(s, req);
  if (sub == "register") return register_client(s, req);
  if (sub == "manage" && get_or_post) return manage(s, req);
  return std::nullopt;
}

http::Response bearer_challenge(const core::Error& e) {
  http::Response r = error_response(e);
  if (e.http_status == 401) {
    std::string h = "Bearer realm=\"ipa-server\"";
    if (e.log_detail != "missing") h += ", error=\"invalid_token\"";
    r.headers.push_back({"WWW-Authenticate", h});
  } else if (e.http_status == 403) {
    r.headers.push_back(
        {"WWW-Authenticate", "Bearer realm=\"ipa-server\", error=\"insufficient_scope\""});
  }
  return r;
}

namespace {

// The bearer token last verified on a connection: an app sends the same token on every request
// of a keep-alive connection, so the next request compares the header (in constant time: behind
// a proxy one upstream connection may carry several users' requests) instead of hashing the
// token to find it in the validator's cache. Expiry and revocation are checked as for any use.
struct BearerMemo final : http::ConnectionState {
  std::string authorization;
  std::shared_ptr<const auth::AccessTokenClaims> claims;
};

}  // namespace

core::Result<Caller> authenticate(State& s, const http::Request& req) {
  // One Authorization header, read in place (the bearer token is about a kilobyte); repeated
  // ones are joined and fail validation like any malformed value.
  bool repeated = false;
  std::string joined;
  std::string_view h = req.single_header("Authorization", &repeated);
  if (repeated) {
    joined = req.header("Authorization");
    h = joined;
  }
  if (h.size() < 7 || (h.compare(0, 7, "Bearer ") != 0 && h.compare(0, 7, "bearer ") != 0)) {
    return core::unauthenticated("This request needs an access token (Authorization: Bearer).")
        .with_log("missing");
  }
  auto* memo = dynamic_cast<BearerMemo*>(req.connection_state.get());
  core::Result<std::shared_ptr<const auth::AccessTokenClaims>> claims =
      memo != nullptr && memo->authorization.size() == h.size() &&
              jose::constant_time_equal(memo->authorization, h)
          ? s.auth->validator->still_valid(memo->claims)
          : s.auth->validator->validate(h.substr(7));
  if (claims.ok() && memo == nullptr) {
    auto m = std::make_shared<BearerMemo>();
    memo = m.get();
    req.connection_state = std::move(m);
  }
  if (claims.ok() && memo->claims != *claims) {
    memo->authorization.assign(h.data(), h.size());
    memo->claims = *claims;
  }
  if (!claims.ok()) {
    core::Error e = std::move(claims).error();
    if (e.http_status == 401) e.diagnostics = "The access token is invalid, expired or revoked.";
    return e;
  }
  if (trim_slash((*claims)->aud) != trim_slash(s.options.base_url)) {
    return core::unauthenticated("The access token is for another server.");
  }
  if (!(*claims)->scope_set) {
    return core::unauthenticated("The access token's scope is unreadable.");
  }
  return Caller{*claims, *(*claims)->scope_set, (*claims)->patient};
}

}  // namespace ipa::rest::internal
