#include "rest/internal/pages.h"

namespace ipa::rest::internal {
namespace {

constexpr const char* kStyle =
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;"
    "background:#f4f6f8;color:#1b1f23}"
    "main{max-width:28rem;margin:2rem auto;background:#fff;padding:1.5rem;border-radius:8px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.15)}"
    "h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.8rem 0 .3rem}"
    "input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;"
    "font-size:1rem;border:1px solid #8a939b;border-radius:4px}"
    "fieldset{border:0;padding:0;margin:0}"
    ".choice{display:flex;gap:.6rem;align-items:flex-start;padding:.6rem 0;"
    "border-bottom:1px solid #e3e6e8}.choice input{margin-top:.25rem}"
    ".choice small{display:block;color:#57606a}"
    "button{font-size:1rem;padding:.7rem 1.2rem;border-radius:4px;border:1px solid #1f6feb;"
    "margin:1rem .5rem 0 0;cursor:pointer}"
    "button.primary{background:#1f6feb;color:#fff}button.secondary{background:#fff;color:#1f6feb}"
    ".error{background:#ffebe9;border:1px solid #ff8182;padding:.6rem;border-radius:4px}"
    ".app{font-weight:600}";

std::string page(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>" +
         html_escape(title) + "</title><style>" + kStyle + "</style></head><body><main><h1>" +
         html_escape(title) + "</h1>" + body + "</main></body></html>";
}

std::string hidden(const std::string& name, const std::string& value) {
  return "<input type=\"hidden\" name=\"" + name + "\" value=\"" + html_escape(value) + "\">";
}

std::string error_box(const std::string& error) {
  return error.empty() ? "" : "<p class=\"error\" role=\"alert\">" + html_escape(error) + "</p>";
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string login_page(const std::string& action, const std::string& request_id,
                       const std::string& csrf, const std::string& client_name,
                       const std::string& error) {
  return page("Sign in", "<p><span class=\"app\">" + html_escape(client_name) +
                             "</span> asks to see your health record. Sign in to continue.</p>" +
                             error_box(error) + "<form method=\"post\" action=\"" +
                             html_escape(action) + "\">" + hidden("request", request_id) +
                             hidden("csrf_token", csrf) +
                             "<label for=\"username\">Username</label>"
                             "<input type=\"text\" id=\"username\" name=\"username\" "
                             "autocomplete=\"username\" autocapitalize=\"none\" required>"
                             "<label for=\"password\">Password</label>"
                             "<input type=\"password\" id=\"password\" name=\"password\" "
                             "autocomplete=\"current-password\" required>"
                             "<button class=\"primary\" type=\"submit\">Sign in</button></form>");
}

std::string picker_page(const std::string& action, const std::string& request_id,
                        const std::string& csrf, const std::string& client_name,
                        const std::vector<PickerChoice>& choices, const std::string& error) {
  std::string list;
  bool first = true;
  for (const PickerChoice& c : choices) {
    std::string id = "p-" + html_escape(c.patient_id);
    list += "<div class=\"choice\"><input type=\"radio\" name=\"patient\" id=\"" + id +
            "\" value=\"" + html_escape(c.patient_id) + "\"" + (first ? " required" : "") +
            "><label for=\"" + id + "\">" + html_escape(c.label) + "</label></div>";
    first = false;
  }
  return page("Choose a record",
              "<p>You can see more than one health record. Choose the one record that <span "
              "class=\"app\">" +
                  html_escape(client_name) + "</span> may use.</p>" + error_box(error) +
                  "<form method=\"post\" action=\"" + html_escape(action) + "\">" +
                  hidden("request", request_id) + hidden("csrf_token", csrf) +
                  "<fieldset><legend>Records</legend>" + list +
                  "</fieldset><button class=\"primary\" type=\"submit\">Continue</button>"
                  "</form>");
}

std::string consent_page(const std::string& action, const std::string& request_id,
                         const std::string& csrf, const std::string& client_name,
                         const std::string& patient_label,
                         const std::vector<ConsentScope>& scopes) {
  std::string list;
  int i = 0;
  for (const ConsentScope& s : scopes) {
    std::string id = "s" + std::to_string(i++);
    list += "<div class=\"choice\"><input type=\"checkbox\" name=\"scope\" id=\"" + id +
            "\" value=\"" + html_escape(s.scope) + "\"" + (s.checked ? " checked" : "") +
            "><label for=\"" + id + "\">" + html_escape(s.description) + "<small>" +
            html_escape(s.scope) + "</small></label></div>";
  }
  return page("Allow access?",
              "<p><span class=\"app\">" + html_escape(client_name) +
                  "</span> asks for access to the record of <strong>" + html_escape(patient_label) +
                  "</strong>. Untick anything you do not want to share.</p>"
                  "<form method=\"post\" action=\"" +
                  html_escape(action) + "\">" + hidden("request", request_id) +
                  hidden("csrf_token", csrf) + "<fieldset><legend>Permissions</legend>" + list +
                  "</fieldset>"
                  "<button class=\"primary\" type=\"submit\" name=\"decision\" "
                  "value=\"approve\">Allow</button>"
                  "<button class=\"secondary\" type=\"submit\" name=\"decision\" "
                  "value=\"deny\">Deny</button></form>");
}

std::string error_page(const std::string& title, const std::string& message) {
  return page(title, error_box(message) +
                         "<p>You can close this page and return to the app you came from.</p>");
}

std::string manage_page(const std::string& action, const std::string& csrf,
                        const std::string& username, const std::vector<GrantRow>& grants,
                        const std::string& message) {
  std::string body = "<p>Signed in as <strong>" + html_escape(username) +
                     "</strong>. These apps may use your health records. Revoking ends their "
                     "access at once.</p>";
  if (!message.empty()) body += "<p role=\"status\">" + html_escape(message) + "</p>";
  if (grants.empty()) body += "<p>No app has access.</p>";
  for (const GrantRow& g : grants) {
    body += "<form method=\"post\" action=\"" + html_escape(action) +
            "\" class=\"choice\"><div><strong>" + html_escape(g.app) + "</strong><small>" +
            html_escape(g.record) + " — since " + html_escape(g.created) + "</small><small>" +
            html_escape(g.scope) + "</small></div>" + hidden("csrf_token", csrf) +
            hidden("grant", g.grant_id) +
            "<button class=\"secondary\" type=\"submit\" name=\"decision\" "
            "value=\"revoke\">Revoke</button></form>";
  }
  return page("Apps with access", body);
}

}  // namespace ipa::rest::internal
