// Shared helpers for the end-to-end tests: start and stop a real ipa-server, register clients
// with its admin command, receive the OAuth redirect on a loopback listener, and drive Debian's
// Chromium (through playwright-core) over the login, patient picker and consent pages.
//
// Nothing here retries: every wait has a deadline and fails with the reason.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, openSync, closeSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');

export const DEMO_CLIENT_ID = 'ipa-demo-app';
export const DEMO_PASSWORD = 'ipa-demo';
export const SCOPES = 'launch/patient openid fhirUser offline_access patient/*.rs';
export const CHROMIUM = process.env.IPA_E2E_CHROMIUM || '/usr/bin/chromium';

/** The ipa-server binary: IPA_SERVER_BIN (set by CTest), else the usual build folders. */
export function serverBinary() {
  const fromEnv = process.env.IPA_SERVER_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`IPA_SERVER_BIN=${fromEnv} does not exist`);
    return fromEnv;
  }
  // Without it (running `node --test` by hand), the most recently built of the usual build dirs.
  const found = ['build/release', 'build']
    .map((d) => path.join(repoRoot, d, 'src/server/ipa-server'))
    .filter((p) => existsSync(p))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!found.length) throw new Error('ipa-server not found: set IPA_SERVER_BIN to the built binary');
  return found[0];
}

export function makeTempDir(prefix) {
  return mkdtempSync(path.join(os.tmpdir(), `ipa-e2e-${prefix}-`));
}

/** Removes a test's temp dir unless IPA_E2E_KEEP=1 (then its path is printed for inspection). */
export function removeTempDir(dir) {
  if (process.env.IPA_E2E_KEEP === '1') {
    console.log(`# kept ${dir}`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts `ipa-server demo` on an ephemeral loopback port over a fresh store in `dir`.
 * Returns { base, origin, db, stop() }. Stdout and stderr go to files in `dir`.
 */
export async function startServer(dir, { patients = 6, timeoutMs = 20000 } = {}) {
  const bin = serverBinary();
  const db = path.join(dir, 'ipa.db');
  const portFile = path.join(dir, 'port');
  const out = openSync(path.join(dir, 'server.out'), 'w');
  const err = openSync(path.join(dir, 'server.err'), 'w');
  const child = spawn(bin, ['demo', '--store', db, '--port', '0', '--port-file', portFile,
    '--patients', String(patients), '--sync-full', 'false'], {
    env: { ...process.env, IPA_TEST_FAST_HASH: '1' },
    stdio: ['ignore', out, err],
  });
  closeSync(out);
  closeSync(err);
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  child.on('error', (error) => { exited = { error: String(error) }; });

  const deadline = Date.now() + timeoutMs;
  let port = null;
  while (Date.now() < deadline) {
    if (exited) break;
    if (existsSync(portFile)) {
      const text = readFileSync(portFile, 'utf8').trim();
      if (/^\d+$/.test(text)) { port = Number(text); break; }
    }
    await sleep(50);
  }
  if (port === null) {
    if (!exited) child.kill('SIGKILL');
    const log = readFileSync(path.join(dir, 'server.err'), 'utf8').slice(-2000);
    throw new Error(`ipa-server did not write its port file within ${timeoutMs} ms ` +
      `(exit: ${JSON.stringify(exited)}); stderr tail:\n${log}`);
  }
  const origin = `http://127.0.0.1:${port}`;
  const server = {
    base: `${origin}/fhir`,
    origin,
    db,
    dir,
    async stop() {
      if (exited) return exited;
      const done = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const result = await done;
      clearTimeout(timer);
      return result;
    },
  };
  return server;
}

/** Runs `ipa-server admin --store <db> ...args`; throws with its output when it fails. */
export function admin(db, args) {
  const r = spawnSync(serverBinary(), ['admin', '--store', db, ...args], {
    env: { ...process.env, IPA_TEST_FAST_HASH: '1' },
    encoding: 'utf8',
    timeout: 15000,
  });
  if (r.status !== 0) {
    throw new Error(`ipa-server admin ${args.join(' ')} failed (${r.status}, ${r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

/**
 * A loopback HTTP listener on a free port standing in for the app's redirect URI.
 * `next()` resolves with the full URL of the next request to /callback.
 * `hits` counts every request it received (to prove that no redirect happened).
 */
export async function startCallbackListener() {
  const waiters = [];
  const received = [];
  const listener = {
    hits: 0,
    redirectUri: '',
    next(timeoutMs = 30000) {
      if (received.length) return Promise.resolve(received.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no redirect reached the callback listener')), timeoutMs);
        waiters.push((u) => { clearTimeout(timer); resolve(u); });
      });
    },
    close() { return new Promise((resolve) => { srv.closeAllConnections?.(); srv.close(() => resolve()); }); },
  };
  const srv = http.createServer((req, res) => {
    listener.hits += 1;
    const url = new URL(req.url, listener.redirectUri).href;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', connection: 'close' });
    res.end('<!DOCTYPE html><title>callback</title><p>App callback received.</p>');
    if (new URL(url).pathname !== '/callback') return;
    const w = waiters.shift();
    if (w) w(url); else received.push(url);
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  listener.redirectUri = `http://127.0.0.1:${srv.address().port}/callback`;
  return listener;
}

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Launches Debian's Chromium with a fresh user-data dir under `dir` and returns a browser context.
 * (launchPersistentContext is Playwright's API for an explicit profile directory.)
 */
export async function launchBrowser(dir, { javaScriptEnabled = true, name = 'profile' } = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium package`);
  const profile = mkdtempSync(path.join(dir, `chromium-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    javaScriptEnabled,
    timeout: 30000,
  });
  context.setDefaultTimeout(15000);
  context.setDefaultNavigationTimeout(15000);
  return context;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** True when `file` exists, is non-empty and starts with the PNG signature. */
export function isPng(file) {
  if (!existsSync(file) || statSync(file).size <= PNG_SIGNATURE.length) return false;
  return readFileSync(file).subarray(0, 8).equals(PNG_SIGNATURE);
}

/**
 * Drives the user's side of the launch in `page`, starting at `authUrl`:
 * login (username, password), then the picker when `pickPatient` is given (the page must show
 * one), else asserts that no picker appears, then the consent page where `untick` scopes are
 * unticked before clicking `decision` (approve | deny).
 * Returns { pages, pickerIds, consentScopes, shots } describing what was seen.
 */
export async function walkAuthorization(page, { authUrl, origin, username, password = DEMO_PASSWORD,
  pickPatient = null, untick = [], decision = 'approve', shotsDir, shotPrefix }) {
  const seen = { pages: [], pickerIds: null, consentScopes: null, shots: [] };
  const shot = async (name) => {
    const file = path.join(shotsDir, `${shotPrefix}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    seen.shots.push(file);
  };
  const where = () => new URL(page.url());

  const first = await page.goto(authUrl);
  if (!first || first.status() !== 200) throw new Error(`authorize landed with HTTP ${first?.status()} at ${page.url()}`);
  if (where().origin !== origin || where().pathname !== '/auth/login') {
    throw new Error(`expected the login page, got ${page.url()}`);
  }
  seen.pages.push('login');
  await checkForm(page, ['input[name=username]', 'input[name=password]']);
  await shot('login');
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL((u) => u.pathname !== '/auth/login'), page.click('form button[type=submit], form input[type=submit]')]);

  if (where().pathname === '/auth/select-patient') {
    seen.pages.push('picker');
    await checkForm(page, ['input[type=radio][name=patient]']);
    seen.pickerIds = await page.$$eval('input[type=radio][name=patient]', (els) => els.map((e) => e.value));
    await shot('picker');
    if (!pickPatient) throw new Error(`a picker appeared (${seen.pickerIds}) though none was expected`);
    await page.check(`input[type=radio][name=patient][value="${pickPatient}"]`);
    await Promise.all([page.waitForURL((u) => u.pathname !== '/auth/select-patient'), page.click('form button[type=submit], form input[type=submit]')]);
  } else if (pickPatient) {
    throw new Error(`expected the patient picker after login, got ${page.url()}`);
  }

  if (where().pathname !== '/auth/consent') throw new Error(`expected the consent page, got ${page.url()}`);
  seen.pages.push('consent');
  await checkForm(page, ['input[type=checkbox][name=scope]', 'button[name=decision][value=approve]',
    'button[name=decision][value=deny]']);
  seen.consentScopes = await page.$$eval('input[type=checkbox][name=scope]', (els) => els.map((e) => e.value));
  for (const s of untick) {
    const box = page.locator(`input[type=checkbox][name=scope][value="${s}"]`);
    if ((await box.count()) !== 1) throw new Error(`consent page has no checkbox for ${s}`);
    await box.uncheck();
  }
  await shot('consent');
  // The decision redirects (303) to the app's redirect URI, which is not on the server's origin.
  await Promise.all([page.waitForURL((u) => u.origin !== origin), page.click(`button[name=decision][value=${decision}]`)]);
  return seen;
}

/** Every page form carries the hidden `request` and `csrf_token` inputs plus `selectors`. */
async function checkForm(page, selectors) {
  for (const sel of ['input[type=hidden][name=request]', 'input[type=hidden][name=csrf_token]', ...selectors]) {
    if ((await page.locator(sel).count()) < 1) throw new Error(`${page.url()} lacks ${sel}`);
  }
}

/** Decodes a JWT part without verifying it (for inspecting headers and claims). */
export function decodeJwtPart(jwt, index) {
  return JSON.parse(Buffer.from(jwt.split('.')[index], 'base64url').toString('utf8'));
}
