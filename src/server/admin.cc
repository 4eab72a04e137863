#include "server/admin.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <regex>

#include "auth/client_auth.h"
#include "auth/password.h"
#include "auth/scope.h"
#include "auth/tokens.h"
#include "core/clock.h"
#include "jose/jwks.h"
#include "jose/key.h"
#include "json/json.h"
#include "rest/api.h"
#include "search/query.h"
#include "server/test_clock.h"

namespace ipa::server {

struct AdminCommands::Args {
  CLI::App* user_add = nullptr;
  CLI::App* user_passwd = nullptr;
  CLI::App* user_grant = nullptr;
  CLI::App* user_revoke = nullptr;
  CLI::App* client_add = nullptr;
  CLI::App* client_list = nullptr;
  CLI::App* client_remove = nullptr;
  CLI::App* keys_rotate = nullptr;
  std::string username, password_file, fhir_user, display_name, patient, relationship;
  std::vector<std::string> patients;
  std::string client_id, client_name, type = "public", jwks_file, jwks_uri, secret_file, scope;
  std::vector<std::string> redirect_uris;
  std::string alg = "RS256";
};

namespace {

using json::Value;

// The text of `path` ("-": standard input) without trailing line breaks. Passwords and secrets
// are read this way so they never appear in argv (visible to every user in `ps`).
bool read_secret(const std::string& path, std::string* out) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path);
    if (!in) return false;
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  *out = std::move(text);
  return true;
}

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return code;
}

// A store error as an exit code: unknown things are kAdminUnknown, clashes kAdminExists.
int store_failure(const std::string& what, const core::Error& e) {
  if (e.http_status == 404) return fail(kAdminUnknown, what + ": " + e.diagnostics);
  if (e.http_status == 409) return fail(kAdminExists, what + ": " + e.diagnostics);
  return fail(kAdminFailed, what + ": " + e.diagnostics + " " + e.log_detail);
}

const char* type_name(storage::ClientType t) {
  switch (t) {
    case storage::ClientType::kPublic:
      return "public";
    case storage::ClientType::kConfidentialAsymmetric:
      return "confidential-asymmetric";
    case storage::ClientType::kConfidentialSymmetric:
      return "confidential-symmetric";
    case storage::ClientType::kBackend:
      return "backend";
  }
  return "?";
}

// FHIR R4 v3-RoleCode: the personal relationships an administrator names most often.
const char* relationship_display(const std::string& code) {
  static const std::pair<const char*, const char*> kKnown[] = {{"MTH", "mother"},
                                                               {"FTH", "father"},
                                                               {"PRN", "parent"},
                                                               {"GUARD", "guardian"},
                                                               {"CHILD", "child"},
                                                               {"SPS", "spouse"},
                                                               {"FAMMEMB", "family member"},
                                                               {"SIB", "sibling"},
                                                               {"GRPRN", "grandparent"},
                                                               {"FRND", "unrelated friend"},
                                                               {"NBOR", "neighbor"},
                                                               {"DOMPART", "domestic partner"},
                                                               {"POWATT", "power of attorney"}};
  for (const auto& [c, d] : kKnown) {
    if (code == c) return d;
  }
  return nullptr;
}

int user_add(const AdminCommands::Args& a, storage::AuthStore& store,
             const std::shared_ptr<core::Clock>& clock) {
  std::string password;
  if (!read_secret(a.password_file, &password) || password.size() < 8) {
    return fail(kAdminBadInput, "the password file must hold a password of at least 8 characters");
  }
  auto hash = auth::hash_password(password);
  if (!hash.ok()) return fail(kAdminFailed, "cannot hash the password");
  storage::User u;
  u.username = a.username;
  u.password_hash = *hash;
  u.fhir_user = a.fhir_user;
  u.display_name = a.display_name.empty() ? a.username : a.display_name;
  u.patients = a.patients;
  u.created = clock->now();
  if (auto st = store.create_user(u); !st.ok())
    return store_failure("user " + a.username, st.error());
  std::printf("user %s added (may see %zu patient records)\n", a.username.c_str(),
              u.patients.size());
  return kAdminOk;
}

// A new password ends everything the old one let anyone start: the user's grants (their refresh
// and access tokens) and browser sessions.
int user_passwd(const AdminCommands::Args& a, storage::AuthStore& store) {
  auto user = store.get_user(a.username);
  if (!user.ok()) return store_failure("user " + a.username, user.error());
  std::string password;
  if (!read_secret(a.password_file, &password) || password.size() < 8) {
    return fail(kAdminBadInput, "the password file must hold a password of at least 8 characters");
  }
  auto hash = auth::hash_password(password);
  if (!hash.ok()) return fail(kAdminFailed, "cannot hash the password");
  if (auto st = store.set_user_password(a.username, *hash); !st.ok()) {
    return store_failure("user " + a.username, st.error());
  }
  auto grants = store.revoke_grants({.username = a.username});
  if (!grants.ok()) return store_failure("revoking the grants of " + a.username, grants.error());
  auto sessions = store.delete_user_sessions(a.username);
  if (!sessions.ok())
    return store_failure("ending the sessions of " + a.username, sessions.error());
  std::printf("password of %s changed; %zu app grants and %lld sign-in sessions ended\n",
              a.username.c_str(), grants->size(), static_cast<long long>(*sessions));
  return kAdminOk;
}

// The user's own Patient (their fhirUser), parsed; nullopt when they have none in the store.
core::Result<std::optional<Value>> own_patient(storage::ResourceStore& resources,
                                               const storage::User& user) {
  if (user.fhir_user.rfind("Patient/", 0) != 0) return std::optional<Value>();
  auto own = resources.read("Patient", user.fhir_user.substr(8));
  if (!own.ok()) return std::optional<Value>();
  auto own_json = json::parse(own->json, json::ParseOptions{.max_depth = 1000});
  if (!own_json.ok()) return core::internal("the user's Patient is not JSON");
  return std::optional<Value>(std::move(*own_json));
}

// The ids of the RelatedPersons of `patient`'s compartment that carry one of `identifiers` (the
// user's own Patient identifiers): what the token endpoint looks for to set fhirUser (S75).
core::Result<std::vector<std::string>> related_persons_of(storage::ResourceStore& resources,
                                                          const Value& identifiers,
                                                          const std::string& patient) {
  std::vector<std::string> ids;
  for (const Value& ident : identifiers.items()) {
    std::string system(ident.get_string("system")), value(ident.get_string("value"));
    if (value.empty()) continue;
    search::QueryOptions qo;
    qo.strict = true;
    auto q = search::parse_search("RelatedPerson",
                                  {{"patient", patient}, {"identifier", system + "|" + value}}, qo);
    if (!q.ok()) continue;
    q->plan.count = 100;
    auto page = resources.search(q->plan);
    if (!page.ok()) return std::move(page).error();
    for (const auto& entry : page->entries) {
      if (std::find(ids.begin(), ids.end(), entry.id) == ids.end()) ids.push_back(entry.id);
    }
  }
  return ids;
}

// Writes `resources` as an import does (upsert by id); the first error, if any.
core::Status write_resources(storage::ResourceStore& resources, std::vector<Value> batch) {
  rest::ApiOptions ao;
  ao.base_url = "http://localhost/fhir";
  rest::FhirApi api(ao, resources, core::system_clock(), core::random_ids());
  const size_t n = batch.size();
  auto results = api.import_resources(std::move(batch));
  if (results.size() != n) return core::internal("import returned no result");
  for (auto& r : results) {
    if (!r.ok()) return std::move(r).error();
  }
  return {};
}

// Marks a RelatedPerson in use again (a user granted a record they had lost): `active` true and
// the end of its period, set by user_revoke, removed. Returns whether it changed anything.
bool reactivate(Value& rp) {
  bool changed = false;
  if (const Value* active = rp.find("active");
      active == nullptr || !active->is_bool() || !active->as_bool()) {
    rp.set("active", Value::boolean(true));
    changed = true;
  }
  if (Value* period = rp.find("period"); period != nullptr && period->find("end") != nullptr) {
    period->erase("end");
    if (period->members().empty()) rp.erase("period");
    changed = true;
  }
  return changed;
}

// The RelatedPerson standing for the user in `patient`'s record: one carrying an identifier of
// the user's own Patient (what the token endpoint looks for to set fhirUser, S75). Returns its
// id, creating it when there is none (or marking it active again when user_revoke had ended it:
// `*how` says which); empty when the user has no own Patient with identifiers.
core::Result<std::string> related_person(storage::ResourceStore& resources,
                                         const storage::User& user, const std::string& patient,
                                         const std::string& relationship, const char** how) {
  *how = "existing";
  auto own_json = own_patient(resources, user);
  if (!own_json.ok()) return std::move(own_json).error();
  if (!*own_json) return std::string();
  const Value* identifiers = (*own_json)->find("identifier");
  if (identifiers == nullptr || !identifiers->is_array() || identifiers->items().empty()) {
    return std::string();
  }
  auto found = related_persons_of(resources, *identifiers, patient);
  if (!found.ok()) return std::move(found).error();
  if (!found->empty()) {
    const std::string& id = found->front();
    auto stored = resources.read("RelatedPerson", id);
    if (!stored.ok()) return std::move(stored).error();
    auto rp = json::parse(stored->json, json::ParseOptions{.max_depth = 1000});
    if (!rp.ok()) return core::internal("RelatedPerson/" + id + " is not JSON");
    if (reactivate(*rp)) {
      std::vector<Value> batch;
      batch.push_back(std::move(*rp));
      IPA_RETURN_IF_ERROR(write_resources(resources, std::move(batch)));
      *how = "active again";
    }
    return id;
  }
  Value rp = Value::object();
  std::string id = core::random_ids()->next_id();
  rp.set("resourceType", Value::string("RelatedPerson"));
  rp.set("id", Value::string(id));
  Value ids = Value::array();
  for (const Value& ident : identifiers->items()) {
    Value copy = Value::object();
    if (!ident.get_string("system").empty())
      copy.set("system", Value::string(std::string(ident.get_string("system"))));
    if (ident.get_string("value").empty()) continue;
    copy.set("value", Value::string(std::string(ident.get_string("value"))));
    ids.push_back(std::move(copy));
  }
  rp.set("identifier", std::move(ids));
  rp.set("active", Value::boolean(true));
  Value ref = Value::object();
  ref.set("reference", Value::string("Patient/" + patient));
  rp.set("patient", std::move(ref));
  Value coding = Value::object();
  coding.set("system", Value::string("http://terminology.hl7.org/CodeSystem/v3-RoleCode"));
  coding.set("code", Value::string(relationship));
  if (const char* display = relationship_display(relationship)) {
    coding.set("display", Value::string(display));
  }
  Value concept_value = Value::object();
  concept_value.set("coding", Value::array({std::move(coding)}));
  rp.set("relationship", Value::array({std::move(concept_value)}));
  if (const Value* name = (*own_json)->find("name")) rp.set("name", *name);
  std::vector<Value> batch;
  batch.push_back(std::move(rp));
  IPA_RETURN_IF_ERROR(write_resources(resources, std::move(batch)));
  *how = "created";
  return id;
}

// Ends the RelatedPersons standing for the user in `patient`'s record (see related_person):
// `active` false and `period.end` now. FHIR R4 RelatedPerson.active is a modifier ("whether
// this related person record is in active use"): consumers must not treat an inactive one as a
// current relationship, while references to it from what the person wrote in the record
// (authors, performers, Provenance) keep resolving, which a delete would turn into 410 Gone.
// Returns the ids ended.
core::Result<std::vector<std::string>> end_related_persons(storage::ResourceStore& resources,
                                                           const storage::User& user,
                                                           const std::string& patient,
                                                           const core::Clock& clock) {
  auto own_json = own_patient(resources, user);
  if (!own_json.ok()) return std::move(own_json).error();
  std::vector<std::string> ended;
  if (!*own_json || user.fhir_user == "Patient/" + patient) return ended;
  const Value* identifiers = (*own_json)->find("identifier");
  if (identifiers == nullptr || !identifiers->is_array()) return ended;
  auto found = related_persons_of(resources, *identifiers, patient);
  if (!found.ok()) return std::move(found).error();
  std::vector<Value> batch;
  for (const std::string& id : *found) {
    auto stored = resources.read("RelatedPerson", id);
    if (!stored.ok()) return std::move(stored).error();
    auto rp = json::parse(stored->json, json::ParseOptions{.max_depth = 1000});
    if (!rp.ok()) return core::internal("RelatedPerson/" + id + " is not JSON");
    const Value* active = rp->find("active");
    if (active != nullptr && active->is_bool() && !active->as_bool()) continue;  // ended before
    rp->set("active", Value::boolean(false));
    Value* period = rp->find("period");
    if (period == nullptr || !period->is_object()) {
      rp->set("period", Value::object());
      period = rp->find("period");
    }
    period->set("end", Value::string(core::format_instant(clock.now())));
    batch.push_back(std::move(*rp));
    ended.push_back(id);
  }
  if (!batch.empty()) IPA_RETURN_IF_ERROR(write_resources(resources, std::move(batch)));
  return ended;
}

int user_grant(const AdminCommands::Args& a, storage::ResourceStore& resources,
               storage::AuthStore& store) {
  auto user = store.get_user(a.username);
  if (!user.ok()) return store_failure("user " + a.username, user.error());
  if (!resources.read("Patient", a.patient).ok()) {
    return fail(kAdminUnknown, "Patient/" + a.patient + " is not in the store");
  }
  bool own = user->fhir_user == "Patient/" + a.patient;
  if (!own && !std::regex_match(a.relationship, std::regex("[A-Z]{2,16}"))) {
    return fail(kAdminBadInput,
                "--relationship needs a v3-RoleCode code such as MTH, FTH, PRN, GUARD, CHILD, "
                "SPS or FAMMEMB (how " +
                    a.username + " is related to " + a.patient + ")");
  }
  std::string note;
  if (!own) {
    const char* how = "existing";
    auto rp = related_person(resources, *user, a.patient, a.relationship, &how);
    if (!rp.ok()) {
      return fail(kAdminFailed, "cannot write the RelatedPerson: " + rp.error().diagnostics + " " +
                                    rp.error().expression);
    }
    if (rp->empty()) {
      note =
          "; no RelatedPerson: the user has no own Patient with an identifier, so fhirUser "
          "stays " +
          (user->fhir_user.empty() ? std::string("unset") : user->fhir_user);
    } else {
      note = std::string("; fhirUser in that record is RelatedPerson/") + *rp + " (" + how + ")";
    }
  }
  std::vector<std::string> patients = user->patients;
  if (std::find(patients.begin(), patients.end(), a.patient) == patients.end()) {
    patients.push_back(a.patient);
    if (auto st = store.set_user_patients(a.username, patients); !st.ok()) {
      return store_failure("user " + a.username, st.error());
    }
  }
  std::printf("%s may see Patient/%s%s\n", a.username.c_str(), a.patient.c_str(), note.c_str());
  return kAdminOk;
}

// Takes a patient away from a user: the patient leaves the user's list, every grant the user
// gave any app for that patient ends (refresh tokens at once; access tokens within the
// grant-status cache, 1 s) and the RelatedPerson standing for the user in that record ends, so
// no fhirUser names a relationship that no longer gives access.
int user_revoke(const AdminCommands::Args& a, storage::ResourceStore& resources,
                storage::AuthStore& store, const core::Clock& clock) {
  auto user = store.get_user(a.username);
  if (!user.ok()) return store_failure("user " + a.username, user.error());
  std::vector<std::string> patients = user->patients;
  auto it = std::find(patients.begin(), patients.end(), a.patient);
  bool listed = it != patients.end();
  if (listed) {
    patients.erase(it);
    if (auto st = store.set_user_patients(a.username, patients); !st.ok()) {
      return store_failure("user " + a.username, st.error());
    }
  }
  auto grants = store.revoke_grants({.username = a.username, .patient = a.patient});
  if (!grants.ok()) return store_failure("revoking grants", grants.error());
  if (!listed && grants->empty()) {
    return fail(kAdminUnknown, a.username + " has no access to Patient/" + a.patient);
  }
  auto ended = end_related_persons(resources, *user, a.patient, clock);
  if (!ended.ok()) {
    return fail(kAdminFailed, "cannot end the RelatedPerson: " + ended.error().diagnostics + " " +
                                  ended.error().expression);
  }
  std::string related_note;
  for (const std::string& id : *ended) related_note += "; RelatedPerson/" + id + " ended";
  // With no record left the user has nothing to sign in for: their browser sessions end too
  // (a half-finished launch cannot pick a patient any more).
  std::string sessions_note;
  if (patients.empty()) {
    auto sessions = store.delete_user_sessions(a.username);
    if (!sessions.ok()) {
      return store_failure("ending the sessions of " + a.username, sessions.error());
    }
    sessions_note = "; no record left, " + std::to_string(*sessions) + " sign-in sessions ended";
  }
  std::printf("%s may no longer see Patient/%s; %zu app grants ended%s%s\n", a.username.c_str(),
              a.patient.c_str(), grants->size(), related_note.c_str(), sessions_note.c_str());
  return kAdminOk;
}

int client_add(const AdminCommands::Args& a, storage::AuthStore& store,
               const std::shared_ptr<core::Clock>& clock) {
  storage::Client cl;
  cl.client_id = a.client_id;
  cl.name = a.client_name.empty() ? a.client_id : a.client_name;
  cl.redirect_uris = a.redirect_uris;
  cl.scope = a.scope;
  cl.created = clock->now();
  if (a.type == "public") {
    cl.type = storage::ClientType::kPublic;
    cl.token_endpoint_auth_method = "none";
  } else if (a.type == "asymmetric" || a.type == "backend") {
    // SMART Backend Services clients authenticate the same way (private_key_jwt) but use
    // client_credentials with system/ scopes, and only an administrator registers them.
    cl.type = a.type == "backend" ? storage::ClientType::kBackend
                                  : storage::ClientType::kConfidentialAsymmetric;
    cl.token_endpoint_auth_method = "private_key_jwt";
    cl.jwks_uri = a.jwks_uri;
    if (!a.jwks_file.empty()) {
      bool ok = read_secret(a.jwks_file, &cl.jwks);
      auto parsed = json::parse(cl.jwks);
      if (!ok || !parsed.ok() || !jose::Jwks::parse(*parsed).ok()) {
        return fail(kAdminBadInput, a.jwks_file + " is not a usable JWK Set");
      }
    }
    if (cl.jwks.empty() == cl.jwks_uri.empty()) {
      return fail(kAdminBadInput,
                  "an asymmetric or backend client needs exactly one of --jwks-file, --jwks-uri");
    }
  } else if (a.type == "symmetric") {
    cl.type = storage::ClientType::kConfidentialSymmetric;
    cl.token_endpoint_auth_method = "client_secret_basic";
    std::string secret;
    if (!read_secret(a.secret_file, &secret) || secret.size() < 16) {
      return fail(kAdminBadInput, "the secret file must hold a secret of at least 16 characters");
    }
    cl.secret_hash = auth::client_secret_hash(secret);
  } else {
    return fail(kAdminBadInput, "--type is public, asymmetric, symmetric or backend");
  }
  if (cl.type != storage::ClientType::kBackend && cl.redirect_uris.empty()) {
    return fail(kAdminBadInput, "an app needs at least one --redirect-uri");
  }
  // Backend services get system/ scopes through client_credentials and nothing else; apps act
  // for a signed-in user and are never granted system/ scopes (the authorize endpoint drops
  // them). Listing the other kind is a mistake: refuse it instead of storing dead scopes.
  auto scopes = auth::ScopeSet::parse(cl.scope);
  if (!scopes.ok()) return fail(kAdminBadInput, "--scope: " + scopes.error().diagnostics);
  for (const auth::Scope& sc : scopes->scopes()) {
    bool system = sc.kind == auth::ScopeKind::kClinical && sc.level == auth::Level::kSystem;
    if (cl.type == storage::ClientType::kBackend && !system) {
      return fail(kAdminBadInput,
                  "a backend client takes system/ scopes only (e.g. "
                  "system/*.rs or system/Observation.cruds); '" +
                      sc.text + "' is not one");
    }
    if (cl.type != storage::ClientType::kBackend && system) {
      return fail(kAdminBadInput, "'" + sc.text +
                                      "': system/ scopes are for backend services only "
                                      "(--type backend)");
    }
  }
  if (cl.type == storage::ClientType::kBackend && scopes->empty()) {
    return fail(kAdminBadInput,
                "a backend client needs --scope with its system/ scopes (e.g. \"system/*.rs\"); "
                "without any it could never get a token");
  }
  if (auto st = store.create_client(cl); !st.ok()) {
    return store_failure("client " + a.client_id, st.error());
  }
  std::printf("client %s added\n", a.client_id.c_str());
  return kAdminOk;
}

// One line per client; never a secret or key material.
int client_list(storage::AuthStore& store) {
  auto clients = store.list_clients();
  if (!clients.ok()) return store_failure("listing clients", clients.error());
  std::printf("%-36s %-24s %-48s %s\n", "CLIENT_ID", "TYPE", "REDIRECT_URIS", "SCOPES");
  for (const storage::Client& c : *clients) {
    std::string uris;
    for (const std::string& u : c.redirect_uris) uris += (uris.empty() ? "" : ",") + u;
    // What an empty list means differs: an app may then be granted read and search scopes
    // only (rest/smart.cc authorize); a backend client nothing at all (client_credentials).
    const char* none = c.type == storage::ClientType::kBackend
                           ? "(none: no token can be issued)"
                           : "(none listed: read/search scopes only, no writes)";
    std::printf("%-36s %-24s %-48s %s\n", c.client_id.c_str(), type_name(c.type), uris.c_str(),
                c.scope.empty() ? none : c.scope.c_str());
  }
  return kAdminOk;
}

// The client's grants end first (so its tokens stop working even if the delete fails), then
// the registration.
int client_remove(const AdminCommands::Args& a, storage::AuthStore& store) {
  if (auto c = store.get_client(a.client_id); !c.ok()) {
    return store_failure("client " + a.client_id, c.error());
  }
  auto grants = store.revoke_grants({.client_id = a.client_id});
  if (!grants.ok()) return store_failure("revoking grants", grants.error());
  if (auto st = store.delete_client(a.client_id); !st.ok()) {
    return store_failure("client " + a.client_id, st.error());
  }
  std::printf("client %s removed; %zu grants ended\n", a.client_id.c_str(), grants->size());
  return kAdminOk;
}

int keys_rotate(const AdminCommands::Args& a, const std::shared_ptr<storage::AuthStore>& store,
                const std::shared_ptr<core::Clock>& clock) {
  auto alg = jose::parse_alg(a.alg);
  if (!alg || (*alg != jose::Alg::kRS256 && *alg != jose::Alg::kES384)) {
    return fail(kAdminBadInput, "--alg is RS256 or ES384");
  }
  // The servers' retention (rest/smart.cc): the retired key's row is deleted by the purge once
  // every token it signed has expired, the same moment the servers drop it from the JWKS.
  auth::TokenConfig tc;
  tc.key_refresh = std::chrono::seconds(5);
  tc.key_retention =
      std::max(tc.access_token_lifetime, tc.id_token_lifetime) + tc.key_refresh + tc.leeway;
  auth::SigningKeys keys(store, clock, tc);
  auto kid = keys.rotate(*alg);
  if (!kid.ok()) return store_failure("rotating the signing key", kid.error());
  std::printf("new %s signing key %s; earlier keys keep verifying until their tokens expire\n",
              a.alg.c_str(), kid->c_str());
  return kAdminOk;
}

}  // namespace

AdminCommands::AdminCommands(CLI::App& admin) : a_(std::make_unique<Args>()) {
  Args& a = *a_;
  const char* kPasswordHelp =
      "file holding the password, or - for standard input (never on the command line)";
  auto* user = admin.add_subcommand("user", "sign-ins")->require_subcommand(1);
  a.user_add = user->add_subcommand("add", "add a sign-in");
  a.user_add->add_option("--username", a.username)->required();
  a.user_add->add_option("--password-file", a.password_file, kPasswordHelp)->required();
  a.user_add
      ->add_option("--fhir-user", a.fhir_user,
                   "the user's own resource, e.g. Patient/123 or RelatedPerson/9")
      ->required();
  a.user_add->add_option("--patient", a.patients, "a Patient id the user may see (repeat for each)")
      ->required();
  a.user_add->add_option("--name", a.display_name);

  a.user_passwd = user->add_subcommand(
      "passwd", "set a new password; ends the user's app grants and sign-in sessions");
  a.user_passwd->add_option("--username", a.username)->required();
  a.user_passwd->add_option("--password-file", a.password_file, kPasswordHelp)->required();

  a.user_grant = user->add_subcommand(
      "grant", "let a user see a patient's record (creates their RelatedPerson there)");
  a.user_grant->add_option("--username", a.username)->required();
  a.user_grant->add_option("--patient", a.patient, "the Patient id")->required();
  a.user_grant->add_option("--relationship", a.relationship,
                           "v3-RoleCode of the user to the patient (MTH, FTH, PRN, GUARD, ...); "
                           "needed unless it is the user's own record");

  a.user_revoke = user->add_subcommand(
      "revoke", "take a patient's record away from a user; ends their grants for it");
  a.user_revoke->add_option("--username", a.username)->required();
  a.user_revoke->add_option("--patient", a.patient, "the Patient id")->required();

  auto* client = admin.add_subcommand("client", "registered apps")->require_subcommand(1);
  a.client_add = client->add_subcommand("add", "register an app");
  a.client_add->add_option("--client-id", a.client_id)->required();
  a.client_add->add_option("--name", a.client_name);
  a.client_add->add_option("--redirect-uri", a.redirect_uris, "repeat for each (not for backend)");
  a.client_add->add_option("--type", a.type, "public, asymmetric, symmetric or backend");
  a.client_add->add_option("--jwks-file", a.jwks_file, "asymmetric, backend: the JWK Set");
  a.client_add->add_option("--jwks-uri", a.jwks_uri, "asymmetric, backend: the JWK Set URL");
  a.client_add->add_option("--secret-file", a.secret_file, "symmetric: the secret (or -)");
  a.client_add->add_option("--scope", a.scope, "scopes the app may be granted");
  a.client_list = client->add_subcommand("list", "list the registered apps (never secrets)");
  a.client_remove = client->add_subcommand("remove", "unregister an app; its tokens stop working");
  a.client_remove->add_option("--client-id", a.client_id)->required();

  auto* keys =
      admin.add_subcommand("keys", "the server's token signing keys")->require_subcommand(1);
  a.keys_rotate = keys->add_subcommand(
      "rotate", "sign with a new key; earlier keys stay published until their tokens expire");
  a.keys_rotate->add_option("--alg", a.alg, "RS256 (default) or ES384");
}

AdminCommands::~AdminCommands() = default;

int AdminCommands::run(storage::ResourceStore& resources, storage::AuthStore& auth) {
  const Args& a = *a_;
  // The test clock (IPA_TEST_CLOCK_FILE) applies here too, so rotation times agree with a test
  // server's clock; admin commands never listen, so there is nothing to expose.
  std::shared_ptr<core::Clock> clock = server_clock(true, nullptr);
  if (a.user_add->parsed()) return user_add(a, auth, clock);
  if (a.user_passwd->parsed()) return user_passwd(a, auth);
  if (a.user_grant->parsed()) return user_grant(a, resources, auth);
  if (a.user_revoke->parsed()) return user_revoke(a, resources, auth, *clock);
  if (a.client_add->parsed()) return client_add(a, auth, clock);
  if (a.client_list->parsed()) return client_list(auth);
  if (a.client_remove->parsed()) return client_remove(a, auth);
  if (a.keys_rotate->parsed()) {
    // SigningKeys holds the store by shared_ptr; this one does not own it.
    std::shared_ptr<storage::AuthStore> borrowed(&auth, [](storage::AuthStore*) {});
    return keys_rotate(a, borrowed, clock);
  }
  return kAdminBadInput;
}

}  // namespace ipa::server
