// The authorization server's HTML pages: login, patient picker, consent and error. Server-rendered,
// no JavaScript, readable on a phone. Every form carries the hidden csrf_token and posts to its own
// page. Form contract (documented in the README for automated clients): login `username`,
// `password`; picker radios `patient` (Patient ids); consent checkboxes `scope` (scope strings)
// and submit buttons `decision` = approve | deny; hidden `request` and `csrf_token` on each.
#pragma once

#include <string>
#include <vector>

namespace ipa::rest::internal {

std::string html_escape(std::string_view s);

struct PickerChoice {
  std::string patient_id;
  std::string label;  // e.g. "Anna Müller (born 1984-03-12) — you"
};

struct ConsentScope {
  std::string scope;
  std::string description;  // plain language
  bool checked = true;
};

std::string login_page(const std::string& action, const std::string& request_id,
                       const std::string& csrf, const std::string& client_name,
                       const std::string& error);
std::string picker_page(const std::string& action, const std::string& request_id,
                        const std::string& csrf, const std::string& client_name,
                        const std::vector<PickerChoice>& choices, const std::string& error);
std::string consent_page(const std::string& action, const std::string& request_id,
                         const std::string& csrf, const std::string& client_name,
                         const std::string& patient_label, const std::vector<ConsentScope>& scopes);
std::string error_page(const std::string& title, const std::string& message);

struct GrantRow {
  std::string grant_id;
  std::string app;      // client name
  std::string record;   // patient label
  std::string scope;    // granted scopes
  std::string created;  // date
};

// The management page (SMART management_endpoint): the apps the user allowed, each with a
// revoke button (`grant` = the grant id, `decision` = revoke).
std::string manage_page(const std::string& action, const std::string& csrf,
                        const std::string& username, const std::vector<GrantRow>& grants,
                        const std::string& message);

}  // namespace ipa::rest::internal
