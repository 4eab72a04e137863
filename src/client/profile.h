// Profile: what the client keeps per server between runs: the FHIR base, the client
// registration (client_id, the private key file of a confidential client), the CA file the
// server's certificate is verified with (a private CA), and the tokens of the last sign-in.
// Stored as JSON in `<dir>/<server name>.json`, created with mode 0600 inside a 0700 folder
// and replaced atomically. Tokens are never printed. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

namespace ipa::client {

struct Profile {
  std::string base;  // FHIR base URL
  std::string client_id;
  std::string private_key_file;  // "" for a public client
  std::string ca_file;           // PEM CAs trusted for this server (--ca-file); "" = the system's
  std::string access_token;
  std::string refresh_token;
  int64_t expires_at = 0;  // seconds since the epoch; 0 when unknown
  std::string requested_scope;
  std::string granted_scope;
  std::string patient;    // the launch context patient id
  std::string fhir_user;  // from the id_token, when granted
};

// Returns $XDG_CONFIG_HOME/ipa-client, else $HOME/.config/ipa-client.
std::string default_profile_dir();

// Returns `dir`/<host>.json (<host>_<port>.json when the base names a port).
std::string profile_path(const std::string& dir, const std::string& base);

// Reads a profile. Errors: not_found (404) when the file is absent; bad_request (400) when it
// is not a profile.
core::Result<Profile> load_profile(const std::string& path);

// Writes the profile with mode 0600 (creating the folder with 0700), atomically (temp file and
// rename). Errors: internal (500) when the file cannot be written.
core::Status save_profile(const std::string& path, const Profile& profile);

// Returns the only profile file in `dir`, or "" when there is none or several.
std::string only_profile(const std::string& dir);

}  // namespace ipa::client
