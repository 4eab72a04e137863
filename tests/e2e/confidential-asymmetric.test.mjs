// A confidential asymmetric client (SMART "client-confidential-asymmetric"): an ES384 key made by
// jose, registered with `ipa-server admin client add --type asymmetric --jwks-file`, a browser
// launch in Chromium, then private_key_jwt client authentication at the token endpoint with
// assertions signed by jose; a replayed assertion (same jti) must be refused with invalid_client.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import * as oidc from 'openid-client';
import * as jose from 'jose';

import {
  SCOPES, admin, decodeJwtPart, isPng, launchBrowser, makeTempDir, removeTempDir,
  startCallbackListener, startServer, walkAuthorization,
} from './lib/harness.mjs';

const CLIENT_ID = 'e2e-asymmetric-app';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let dir;
let server;
let listener;

before(async () => {
  dir = makeTempDir('asym');
  server = await startServer(dir);
  listener = await startCallbackListener();
}, { timeout: 30000 });

after(async () => {
  if (listener) await listener.close();
  if (server) await server.stop();
  if (dir) removeTempDir(dir);
}, { timeout: 30000 });

/** A client assertion signed by jose: alg ES384, kid, typ JWT; iss = sub = client_id, aud = token endpoint. */
async function signAssertion(privateKey, kid, tokenEndpoint, { lifetime = 240 } = {}) {
  return new jose.SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES384', kid, typ: 'JWT' })
    .setIssuer(CLIENT_ID)
    .setSubject(CLIENT_ID)
    .setAudience(tokenEndpoint)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + lifetime)
    .sign(privateKey);
}

/** Plain form POST to the token endpoint; returns { status, body, headers }. */
async function tokenRequest(tokenEndpoint, params) {
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, body, headers: res.headers };
}

test('private_key_jwt (ES384, jose): code exchange, replayed assertion refused, refresh', { timeout: 60000 }, async () => {
  // The app's key pair and its JWK Set, registered while the server runs (same SQLite file).
  const { publicKey, privateKey } = await jose.generateKeyPair('ES384', { extractable: true });
  const kid = `e2e-${randomUUID()}`;
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' };
  assert.equal(publicJwk.d, undefined, 'only the public part is registered');
  const jwksFile = path.join(dir, 'client-jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [publicJwk] }));
  admin(server.db, ['client', 'add', '--client-id', CLIENT_ID, '--name', 'E2E asymmetric app',
    '--redirect-uri', listener.redirectUri, '--type', 'asymmetric', '--jwks-file', jwksFile,
    '--scope', SCOPES]);

  // openid-client with a client authentication that sends the jose-signed assertion we choose,
  // so that the very same assertion can be replayed afterwards.
  let nextAssertion = null;
  const sentAssertions = [];
  const joseAssertionAuth = (_as, client, body) => {
    assert.ok(nextAssertion, 'an assertion was prepared for this request');
    body.set('client_id', client.client_id);
    body.set('client_assertion_type', ASSERTION_TYPE);
    body.set('client_assertion', nextAssertion);
    sentAssertions.push(nextAssertion);
    nextAssertion = null;
  };
  const cfg = await oidc.discovery(new URL(server.base), CLIENT_ID,
    { token_endpoint_auth_method: 'private_key_jwt' }, joseAssertionAuth,
    { execute: [oidc.allowInsecureRequests], timeout: 10 });
  oidc.enableNonRepudiationChecks(cfg);
  const meta = cfg.serverMetadata();
  assert.ok(meta.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
  const tokenEndpoint = meta.token_endpoint;

  // The user's side in Chromium: pat-0006 sees one record, so no picker.
  const pkceCodeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authUrl = oidc.buildAuthorizationUrl(cfg, {
    redirect_uri: listener.redirectUri, scope: SCOPES, state, nonce, aud: server.base,
    code_challenge: await oidc.calculatePKCECodeChallenge(pkceCodeVerifier), code_challenge_method: 'S256',
  });
  const context = await launchBrowser(dir, { name: 'asym' });
  let seen;
  try {
    const page = await context.newPage();
    seen = await walkAuthorization(page, {
      authUrl: authUrl.href, origin: server.origin, username: 'pat-0006', shotsDir: dir, shotPrefix: 'asym',
    });
  } finally {
    await context.close();
  }
  assert.deepEqual(seen.pages, ['login', 'consent'], 'no picker for a user with one record');
  for (const f of seen.shots) assert.ok(isPng(f), `${path.basename(f)} is a non-empty PNG`);
  const callback = new URL(await listener.next(10000));

  // Code exchange through openid-client (state, nonce, PKCE, ID token signature checked).
  const first = await signAssertion(privateKey, kid, tokenEndpoint);
  const header = decodeJwtPart(first, 0);
  const claims = decodeJwtPart(first, 1);
  assert.deepEqual(header, { alg: 'ES384', kid, typ: 'JWT' });
  assert.equal(claims.iss, CLIENT_ID);
  assert.equal(claims.sub, CLIENT_ID);
  assert.equal(claims.aud, tokenEndpoint);
  assert.ok(claims.jti);
  assert.ok(claims.exp - Math.floor(Date.now() / 1000) <= 300, 'exp at most 5 minutes ahead');
  nextAssertion = first;
  const tokens = await oidc.authorizationCodeGrant(cfg, callback, {
    pkceCodeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  assert.equal(sentAssertions.length, 1);
  assert.equal(sentAssertions[0], first);
  assert.equal(tokens.patient, 'pat-0006');
  assert.ok(tokens.scope.split(' ').includes('offline_access'), `offline_access granted (${tokens.scope})`);
  assert.equal(typeof tokens.refresh_token, 'string');
  assert.equal(tokens.claims().aud, CLIENT_ID);
  const at = decodeJwtPart(tokens.access_token, 1);
  assert.equal(at.client_id, CLIENT_ID);

  // The same assertion again (same jti), on an otherwise valid refresh request: invalid_client.
  const replay = await tokenRequest(tokenEndpoint, {
    grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: CLIENT_ID,
    client_assertion_type: ASSERTION_TYPE, client_assertion: first,
  });
  assert.ok(replay.status === 400 || replay.status === 401, `replay refused (HTTP ${replay.status})`);
  assert.equal(replay.body?.error, 'invalid_client', `replay error (${JSON.stringify(replay.body)})`);
  assert.equal(replay.body?.access_token, undefined);

  // An assertion signed by a key the client did not register is refused too.
  const stranger = await jose.generateKeyPair('ES384');
  const forged = await signAssertion(stranger.privateKey, kid, tokenEndpoint);
  const wrongKey = await tokenRequest(tokenEndpoint, {
    grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: CLIENT_ID,
    client_assertion_type: ASSERTION_TYPE, client_assertion: forged,
  });
  assert.equal(wrongKey.body?.error, 'invalid_client', `foreign key refused (${JSON.stringify(wrongKey.body)})`);

  // Refresh with a fresh assertion, through openid-client: works, and the refresh token rotates.
  nextAssertion = await signAssertion(privateKey, kid, tokenEndpoint);
  const refreshed = await oidc.refreshTokenGrant(cfg, tokens.refresh_token);
  assert.equal(sentAssertions.length, 2);
  assert.notEqual(sentAssertions[1], first);
  assert.equal(typeof refreshed.access_token, 'string');
  assert.notEqual(refreshed.access_token, tokens.access_token);
  assert.equal(typeof refreshed.refresh_token, 'string');
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'refresh token rotated');
  const at2 = decodeJwtPart(refreshed.access_token, 1);
  assert.equal(at2.client_id, CLIENT_ID);

  // The refreshed access token works on the FHIR API for the launch's patient.
  const res = await fetch(`${server.base}/Patient/pat-0006`, {
    headers: { authorization: `Bearer ${refreshed.access_token}`, accept: 'application/fhir+json' },
    signal: AbortSignal.timeout(10000),
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).id, 'pat-0006');
});
