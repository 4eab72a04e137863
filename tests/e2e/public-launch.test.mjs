// Standalone launch of the public demo app, end to end, with clients nobody here wrote:
// openid-client (discovery, PKCE S256, state, nonce, code exchange with ID token signature check),
// Debian's Chromium driven by playwright-core (login, patient picker, consent), fhirclient (FHIR
// API calls with the token) and jose (independent verification of the ID and access tokens).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import * as oidc from 'openid-client';
import * as jose from 'jose';
import smart from 'fhirclient';

import {
  DEMO_CLIENT_ID, SCOPES, decodeJwtPart, isPng, launchBrowser, makeTempDir, removeTempDir,
  startCallbackListener, startServer, walkAuthorization,
} from './lib/harness.mjs';

let dir;
let server;
let config;
let launch; // what the JavaScript-enabled launch produced, for the fhirclient and jose tests

before(async () => {
  dir = makeTempDir('public');
  server = await startServer(dir);
}, { timeout: 30000 });

after(async () => {
  if (server) await server.stop();
  if (dir) removeTempDir(dir);
}, { timeout: 30000 });

/** Discovery through openid-client: `<base>/.well-known/openid-configuration`, issuer = base. */
async function discover() {
  const cfg = await oidc.discovery(new URL(server.base), DEMO_CLIENT_ID, undefined, oidc.None(),
    { execute: [oidc.allowInsecureRequests], timeout: 10 });
  // Validate the ID token's signature against the server's JWKS on every token response.
  oidc.enableNonRepudiationChecks(cfg);
  return cfg;
}

/**
 * One standalone launch: openid-client builds the request, Chromium plays the user, the loopback
 * listener receives the redirect and openid-client exchanges the code.
 */
async function runLaunch({ javaScriptEnabled, username, pickPatient, untick, shotPrefix }) {
  const cfg = await discover();
  const meta = cfg.serverMetadata();
  assert.equal(meta.issuer, server.base);
  assert.equal(meta.authorization_endpoint, `${server.origin}/auth/authorize`);
  assert.ok(meta.code_challenge_methods_supported.includes('S256'));

  const listener = await startCallbackListener();
  const context = await launchBrowser(dir, { javaScriptEnabled, name: shotPrefix });
  try {
    const pkceCodeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const authUrl = oidc.buildAuthorizationUrl(cfg, {
      redirect_uri: listener.redirectUri,
      scope: SCOPES,
      code_challenge: await oidc.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      aud: server.base,
    });
    assert.equal(authUrl.searchParams.get('response_type'), 'code');

    const page = await context.newPage();
    // Prove the context really runs (or does not run) scripts before relying on it.
    await page.setContent('<p id="js">off</p><script>document.getElementById("js").textContent = "on"</script>');
    assert.equal(await page.textContent('#js'), javaScriptEnabled ? 'on' : 'off');
    const seen = await walkAuthorization(page, {
      authUrl: authUrl.href, origin: server.origin, username, pickPatient, untick,
      shotsDir: dir, shotPrefix,
    });
    const callbackUrl = await listener.next(10000);
    assert.equal(new URL(page.url()).pathname, '/callback');
    const cb = new URL(callbackUrl);
    assert.equal(cb.searchParams.get('state'), state, 'the redirect carries the exact state');
    assert.ok(cb.searchParams.get('code'), 'the redirect carries a code');

    const tokens = await oidc.authorizationCodeGrant(cfg, cb, {
      pkceCodeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    });
    return { cfg, seen, state, nonce, tokens, claims: tokens.claims(), listenerHits: listener.hits };
  } finally {
    await context.close();
    await listener.close();
  }
}

test('browser launch (JavaScript on): picker, unticked offline_access, openid-client exchange', { timeout: 60000 }, async (t) => {
  const r = await runLaunch({
    javaScriptEnabled: true, username: 'pat-0001', pickPatient: 'pat-0002', untick: ['offline_access'],
    shotPrefix: 'js',
  });
  assert.deepEqual(r.seen.pages, ['login', 'picker', 'consent']);
  assert.deepEqual([...r.seen.pickerIds].sort(), ['pat-0001', 'pat-0002', 'pat-0003']);
  for (const s of SCOPES.split(' ')) {
    assert.ok(r.seen.consentScopes.includes(s), `consent page offers ${s} (offers ${r.seen.consentScopes})`);
  }
  assert.equal(r.seen.shots.length, 3);
  for (const f of r.seen.shots) assert.ok(isPng(f), `${path.basename(f)} is a non-empty PNG`);

  const { tokens, claims } = r;
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.equal(tokens.patient, 'pat-0002');
  const granted = tokens.scope.split(' ');
  assert.ok(!granted.includes('offline_access'), `unticked offline_access was not granted (${tokens.scope})`);
  for (const s of ['openid', 'fhirUser', 'patient/*.rs']) assert.ok(granted.includes(s), `${s} granted (${tokens.scope})`);
  assert.equal(tokens.refresh_token, undefined, 'no refresh token without offline_access');
  assert.equal(typeof claims.fhirUser, 'string');
  // S75: the parent holds the child's record as the RelatedPerson that stands for her in it.
  assert.equal(claims.fhirUser, `${server.base}/RelatedPerson/rp-0002-01`, 'fhirUser is the RelatedPerson for a record held for someone else');
  assert.equal(claims.nonce, r.nonce);
  assert.equal(claims.iss, server.base);
  t.diagnostic(`granted scope: ${tokens.scope}; fhirUser: ${claims.fhirUser}`);
  launch = r;
});

test('browser launch with JavaScript disabled: same pages work, all scopes kept', { timeout: 60000 }, async () => {
  const r = await runLaunch({
    javaScriptEnabled: false, username: 'pat-0001', pickPatient: 'pat-0003', untick: [], shotPrefix: 'nojs',
  });
  assert.deepEqual(r.seen.pages, ['login', 'picker', 'consent']);
  for (const f of r.seen.shots) assert.ok(isPng(f), `${path.basename(f)} is a non-empty PNG`);
  assert.equal(r.tokens.patient, 'pat-0003');
  assert.ok(r.tokens.scope.split(' ').includes('offline_access'), `offline_access granted (${r.tokens.scope})`);
  assert.equal(typeof r.tokens.refresh_token, 'string', 'a refresh token with offline_access');
  assert.equal(typeof r.claims.fhirUser, 'string');
});

test('fhirclient reads with the token: Patient, paged vital signs, other patient refused', { timeout: 60000 }, async (t) => {
  assert.ok(launch, 'needs the token from the JavaScript-on browser launch');
  // fhirclient's Node entry wants a request/response pair only for launching; the client itself
  // is built from a server URL and a token response.
  const fakeRequest = { headers: { host: '127.0.0.1' }, url: '/', socket: {} };
  const fc = smart(fakeRequest, {}).client({
    serverUrl: server.base,
    tokenResponse: JSON.parse(JSON.stringify(launch.tokens)),
  });
  assert.equal(fc.getPatientId(), 'pat-0002', 'fhirclient reads the patient from the token response');

  const patient = await fc.request('Patient/pat-0002');
  // S75: the fhirUser resource is readable with the issued access token.
  const me = await fc.request(launch.claims.fhirUser.slice(server.base.length + 1));
  assert.equal(me.resourceType, 'RelatedPerson');
  assert.equal(me.patient.reference, 'Patient/pat-0002');
  assert.equal(patient.resourceType, 'Patient');
  assert.equal(patient.id, 'pat-0002');
  const viaPatientApi = await fc.patient.read();
  assert.equal(viaPatientApi.id, 'pat-0002');

  // All pages, small page size so that `next` links must be followed.
  const pages = await fc.request('Observation?patient=pat-0002&category=vital-signs&_count=5', { pageLimit: 0 });
  assert.ok(Array.isArray(pages) && pages.length > 1, `several pages followed (got ${pages.length})`);
  const observations = [];
  for (const bundle of pages) {
    assert.equal(bundle.resourceType, 'Bundle');
    assert.equal(bundle.type, 'searchset');
    for (const e of bundle.entry || []) {
      if (e.search?.mode === 'outcome') continue;
      assert.equal(e.resource.resourceType, 'Observation');
      observations.push(e.resource);
    }
  }
  assert.ok(observations.length > 5);
  t.diagnostic(`${observations.length} vital-sign Observations on ${pages.length} pages`);
  for (const o of observations) {
    assert.equal(o.subject?.reference?.replace(/^.*\/(Patient\/)/, '$1'), 'Patient/pat-0002', `subject of ${o.id}`);
    const cats = (o.category || []).flatMap((c) => c.coding || []).map((c) => c.code);
    assert.ok(cats.includes('vital-signs'), `${o.id} is a vital sign`);
  }
  const ids = observations.map((o) => o.id);
  assert.equal(new Set(ids).size, ids.length, 'no Observation appears on two pages');
  // The pages add up to what one large page holds.
  const one = await fc.request('Observation?patient=pat-0002&category=vital-signs&_count=1000');
  const oneIds = (one.entry || []).filter((e) => e.search?.mode !== 'outcome').map((e) => e.resource.id);
  assert.ok(!(one.link || []).some((l) => l.relation === 'next'));
  assert.deepEqual([...ids].sort(), [...oneIds].sort());

  // Outside the grant: another patient's record answers 404, a search for it is empty.
  await assert.rejects(fc.request('Patient/pat-0001'), (err) => {
    assert.equal(err.status, 404, `Patient/pat-0001 refused with 404 (got ${err.status}: ${err.message})`);
    return true;
  });
  const other = await fc.request('Observation?patient=pat-0001');
  assert.equal((other.entry || []).filter((e) => e.search?.mode !== 'outcome').length, 0);
});

test('jose verifies the ID token and the access token against the JWKS', { timeout: 60000 }, async () => {
  assert.ok(launch, 'needs the tokens from the JavaScript-on browser launch');
  const meta = launch.cfg.serverMetadata();
  assert.equal(meta.jwks_uri, `${server.origin}/auth/jwks`);
  const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: 10000 });

  const idt = await jose.jwtVerify(launch.tokens.id_token, jwks, {
    issuer: server.base, audience: DEMO_CLIENT_ID, algorithms: ['RS256'],
  });
  assert.equal(idt.protectedHeader.alg, 'RS256');
  assert.equal(idt.payload.nonce, launch.nonce);
  assert.equal(idt.payload.fhirUser, launch.claims.fhirUser);
  assert.ok(idt.payload.sub);
  await assert.rejects(jose.jwtVerify(launch.tokens.id_token, jwks, { issuer: server.base, audience: 'another-app' }),
    jose.errors.JWTClaimValidationFailed);

  const at = await jose.jwtVerify(launch.tokens.access_token, jwks, { issuer: server.base, typ: 'at+jwt' });
  assert.equal(at.protectedHeader.typ.toLowerCase().replace(/^application\//, ''), 'at+jwt');
  assert.equal(at.payload.client_id, DEMO_CLIENT_ID);
  assert.ok(at.payload.exp > Date.now() / 1000);
  assert.ok(at.payload.jti);
  assert.deepEqual(String(at.payload.scope).split(' ').sort(), launch.tokens.scope.split(' ').sort());

  // A token whose signature was altered must not verify (the check above is not vacuous).
  const [h, p, s] = launch.tokens.access_token.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[0] ^= 0x01;
  await assert.rejects(jose.jwtVerify(`${h}.${p}.${sig.toString('base64url')}`, jwks, { issuer: server.base }),
    jose.errors.JWSSignatureVerificationFailed);
  // Nor may a token's claims be changed under the same signature.
  const payload = decodeJwtPart(launch.tokens.access_token, 1);
  payload.patient = 'pat-0001';
  const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
  await assert.rejects(jose.jwtVerify(forged, jwks, { issuer: server.base }), jose.errors.JWSSignatureVerificationFailed);
});
