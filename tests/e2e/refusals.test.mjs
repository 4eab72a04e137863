// Refusals as a browser sees them: an unknown client_id or an unregistered redirect URI gets an
// HTML error page and never a redirect (RFC 6749 section 4.1.2.1); "Deny" on the consent page
// redirects to the app with error=access_denied and the exact state, which openid-client reports.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import * as oidc from 'openid-client';

import {
  DEMO_CLIENT_ID, SCOPES, isPng, launchBrowser, makeTempDir, removeTempDir, startCallbackListener,
  startServer, walkAuthorization,
} from './lib/harness.mjs';

let dir;
let server;
let cfg;

before(async () => {
  dir = makeTempDir('refusals');
  server = await startServer(dir);
  cfg = await oidc.discovery(new URL(server.base), DEMO_CLIENT_ID, undefined, oidc.None(),
    { execute: [oidc.allowInsecureRequests], timeout: 10 });
}, { timeout: 30000 });

after(async () => {
  if (server) await server.stop();
  if (dir) removeTempDir(dir);
}, { timeout: 30000 });

async function authorizationUrl(redirectUri, overrides = {}) {
  const url = oidc.buildAuthorizationUrl(cfg, {
    redirect_uri: redirectUri, scope: SCOPES, state: oidc.randomState(), nonce: oidc.randomNonce(),
    aud: server.base, code_challenge_method: 'S256',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
  });
  for (const [k, v] of Object.entries(overrides)) url.searchParams.set(k, v);
  return url;
}

/** Opens `url` in Chromium and expects an HTML error page from the server itself, no redirect. */
async function expectErrorPage(url, listener, shotName) {
  const context = await launchBrowser(dir, { name: shotName });
  try {
    const page = await context.newPage();
    const redirects = [];
    page.on('request', (req) => { if (req.redirectedFrom()) redirects.push(req.url()); });
    const res = await page.goto(url.href);
    assert.equal(res.status(), 400, `error page status (${res.status()})`);
    assert.match(res.headers()['content-type'] || '', /^text\/html/);
    assert.equal(page.url(), url.href, 'the browser stays on the authorize URL');
    assert.deepEqual(redirects, [], 'no redirect was followed');
    const text = await page.textContent('body');
    assert.ok(text.trim().length > 0, 'the page explains the error');
    assert.ok((await page.locator('form').count()) === 0, 'no sign-in form on an error page');
    const file = path.join(dir, `${shotName}.png`);
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(isPng(file));
    assert.equal(listener.hits, 0, 'the app never heard from the server');
    return text;
  } finally {
    await context.close();
  }
}

test('unknown client_id: HTML error page, no redirect', { timeout: 60000 }, async () => {
  const listener = await startCallbackListener();
  try {
    const url = await authorizationUrl(listener.redirectUri, { client_id: 'no-such-app' });
    const text = await expectErrorPage(url, listener, 'unknown-client');
    assert.match(text, /not registered|unknown/i);
  } finally {
    await listener.close();
  }
});

test('unregistered redirect_uri: HTML error page, no redirect', { timeout: 60000 }, async () => {
  const listener = await startCallbackListener();
  try {
    // Same loopback listener, but a path the demo app never registered.
    const url = await authorizationUrl(listener.redirectUri.replace(/\/callback$/, '/elsewhere'));
    await expectErrorPage(url, listener, 'bad-redirect');
  } finally {
    await listener.close();
  }
});

test('deny on consent: redirect with error=access_denied and the state', { timeout: 60000 }, async () => {
  const listener = await startCallbackListener();
  const context = await launchBrowser(dir, { name: 'deny' });
  try {
    const url = await authorizationUrl(listener.redirectUri);
    const state = url.searchParams.get('state');
    const page = await context.newPage();
    const seen = await walkAuthorization(page, {
      authUrl: url.href, origin: server.origin, username: 'pat-0006', decision: 'deny',
      shotsDir: dir, shotPrefix: 'deny',
    });
    assert.deepEqual(seen.pages, ['login', 'consent']);
    const cb = new URL(await listener.next(10000));
    assert.equal(cb.pathname, '/callback');
    assert.equal(cb.searchParams.get('error'), 'access_denied');
    assert.equal(cb.searchParams.get('state'), state);
    assert.equal(cb.searchParams.get('code'), null, 'no code after a denial');
    // openid-client surfaces the same refusal to the app.
    await assert.rejects(
      oidc.authorizationCodeGrant(cfg, cb, { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: state }),
      (err) => {
        assert.ok(err instanceof oidc.AuthorizationResponseError, `${err.name}: ${err.message}`);
        assert.equal(err.error, 'access_denied');
        return true;
      });
  } finally {
    await context.close();
    await listener.close();
  }
});
