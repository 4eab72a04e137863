// Test-only helpers for integration tests that need tokens from the real server: a cookie-keeping
// browser and a standalone launch through login, picker and consent (the documented form
// contract), against `ipa-server demo` with its published password.
#pragma once

#include <gtest/gtest.h>
#include <strings.h>

#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "core/percent.h"
#include "harness.h"
#include "jose/bytes.h"

namespace ipa::testing::launch {

// A form body (application/x-www-form-urlencoded), keys and values percent-encoded.
inline std::string form(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    out += (out.empty() ? "" : "&") + core::percent_encode(k) + "=" + core::percent_encode(v);
  }
  return out;
}

// The value of ?name= or &name= in a URL, percent-decoded ('+' is a space); "" when absent. A
// malformed escape fails the test.
inline std::string url_param(const std::string& url, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(url, m, std::regex("[?&]" + name + "=([^&]*)"))) return "";
  std::optional<std::string> v = core::percent_decode(m[1].str(), {.plus_is_space = true});
  if (!v) ADD_FAILURE() << "malformed percent-encoding of " << name << " in " << url;
  return v.value_or("");
}

inline std::string hidden_value(const std::string& html, const std::string& name) {
  std::smatch m;
  return std::regex_search(html, m, std::regex("name=\"" + name + "\" value=\"([^\"]*)\""))
             ? m[1].str()
             : "";
}

// The values of the inputs `name` of a page that gives each an id (checkboxes, radio buttons).
inline std::vector<std::string> input_values(const std::string& html, const std::string& name) {
  std::vector<std::string> out;
  std::regex re("name=\"" + name + "\" id=\"[^\"]*\" value=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

inline std::string path_of(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  return url.substr(url.find('/', scheme + 3));
}

inline http::ClientResponse post_form(const ServerProcess& s, const std::string& path,
                                      const std::string& body, std::vector<http::Header> h = {}) {
  h.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  return s.send("POST", path, body, h);
}

struct Tokens {
  std::string access_token, refresh_token, id_token;
};

// A standalone launch by the public demo app `ipa-demo-app` for `username` (password ipa-demo),
// choosing `patient` when the picker appears and approving every requested scope.
inline Tokens standalone(const ServerProcess& s, const std::string& username,
                         const std::string& patient,
                         const std::string& scope =
                             "launch/patient openid fhirUser "
                             "offline_access patient/*.rs",
                         const std::string& aud = "") {
  const std::string redirect = "http://127.0.0.1:8000/callback";
  std::string cookie;
  auto remember = [&](http::ClientResponse r) {
    for (const auto& h : r.headers) {
      if (strcasecmp(h.name.c_str(), "Set-Cookie") == 0 && h.value.rfind("ipa_session=", 0) == 0) {
        cookie = h.value.substr(12, h.value.find(';') - 12);
      }
    }
    return r;
  };
  auto jar = [&]() -> std::vector<http::Header> {
    if (cookie.empty()) return {};
    return {{"Cookie", "ipa_session=" + cookie}};
  };
  std::string verifier = "v" + jose::random_token(40);
  std::string path =
      "/auth/authorize?" + form({{"response_type", "code"},
                                 {"client_id", "ipa-demo-app"},
                                 {"redirect_uri", redirect},
                                 {"scope", scope},
                                 {"state", "st"},
                                 {"aud", aud.empty() ? s.base() : aud},
                                 {"code_challenge", jose::base64url_encode(jose::sha256(verifier))},
                                 {"code_challenge_method", "S256"},
                                 {"nonce", "n"}});
  auto r = remember(s.get(path, jar()));
  EXPECT_EQ(r.status, 303) << r.body;
  auto page = remember(s.get(path_of(r.header("Location")), jar()));
  std::string request = hidden_value(page.body, "request");
  r = remember(post_form(s, "/auth/login",
                         form({{"request", request},
                               {"csrf_token", hidden_value(page.body, "csrf_token")},
                               {"username", username},
                               {"password", "ipa-demo"}}),
                         jar()));
  EXPECT_EQ(r.status, 303) << r.body;
  std::string next = path_of(r.header("Location"));
  if (next.find("/auth/select-patient") != std::string::npos) {
    page = remember(s.get(next, jar()));
    r = remember(post_form(s, "/auth/select-patient",
                           form({{"request", request},
                                 {"csrf_token", hidden_value(page.body, "csrf_token")},
                                 {"patient", patient}}),
                           jar()));
    next = path_of(r.header("Location"));
  }
  page = remember(s.get(next, jar()));
  std::vector<std::pair<std::string, std::string>> fields = {
      {"request", request}, {"csrf_token", hidden_value(page.body, "csrf_token")}};
  std::istringstream words(scope);
  for (std::string w; words >> w;) fields.emplace_back("scope", w);
  fields.emplace_back("decision", "approve");
  r = remember(post_form(s, "/auth/consent", form(fields), jar()));
  std::string code = url_param(r.header("Location"), "code");
  EXPECT_FALSE(code.empty()) << r.header("Location") << r.body;
  auto t = post_form(s, "/auth/token",
                     form({{"grant_type", "authorization_code"},
                           {"code", code},
                           {"redirect_uri", redirect},
                           {"client_id", "ipa-demo-app"},
                           {"code_verifier", verifier}}));
  EXPECT_EQ(t.status, 200) << t.body;
  json::Value v = body_json(t);
  return {std::string(v.get_string("access_token")), std::string(v.get_string("refresh_token")),
          std::string(v.get_string("id_token"))};
}

inline http::ClientResponse refresh(const ServerProcess& s, const std::string& token) {
  return post_form(s, "/auth/token",
                   form({{"grant_type", "refresh_token"},
                         {"refresh_token", token},
                         {"client_id", "ipa-demo-app"}}));
}

// Moves the server's test clock (IPA_TEST_CLOCK_FILE) to `seconds` past the real time.
inline void set_clock(const std::string& file, long seconds) {
  std::ofstream(file) << seconds << "\n";
}

}  // namespace ipa::testing::launch
