#include "client/launch.h"

#include <chrono>

namespace ipa::client {

LaunchResult run_launch(Transport& transport, const Discovery& d, const ClientCredentials& creds,
                        const LaunchOptions& options, int64_t now) {
  LaunchResult out;
  auto stop = [&](LaunchStep step, core::Error e) {
    out.failed = step;
    out.error = std::move(e);
    return std::move(out);
  };
  // SMART scopes: v2 by default; v1 when the server lacks permission-v2.
  out.scope = options.scope.empty() ? kDefaultScope : options.scope;
  if (!d.config.has_capability("permission-v2")) out.scope = to_v1_scopes(out.scope);
  auto listener = LoopbackListener::start();
  if (!listener.ok()) return stop(LaunchStep::kListener, std::move(listener).error());
  out.request = build_authorize_request(d.config, d.base, creds.client_id,
                                        (*listener)->redirect_uri(), out.scope);
  if (options.form) {
    auto driven = drive_form_login(transport, out.request.url, *options.form);
    if (!driven.ok()) return stop(LaunchStep::kRedirect, std::move(driven).error());
  } else if (options.show) {
    options.show(out.request.url);
  }
  auto cb = (*listener)->wait(std::chrono::seconds(options.timeout_seconds));
  if (!cb.ok()) return stop(LaunchStep::kRedirect, std::move(cb).error());
  out.callback = *cb;
  auto code = accept_callback(*cb, out.request);
  if (!code.ok()) return stop(LaunchStep::kCode, std::move(code).error());
  auto tokens = exchange_code(transport, d.config, creds, *code, out.request.redirect_uri,
                              out.request.code_verifier, now);
  if (!tokens.ok()) return stop(LaunchStep::kTokenExchange, std::move(tokens).error());
  out.tokens = std::move(tokens).value();
  // RFC 6749 section 5.1: no scope in the answer means the grant is what was asked.
  out.granted_scope = out.tokens.scope.empty() ? out.scope : out.tokens.scope;
  if (!out.tokens.id_token.empty()) {
    auto claims = verify_id_token(transport, d.config, out.tokens.id_token, creds.client_id,
                                  out.request.nonce, now);
    if (!claims.ok()) return stop(LaunchStep::kIdToken, std::move(claims).error());
    out.id_token_claims = std::move(claims).value();
  }
  return out;
}

}  // namespace ipa::client
