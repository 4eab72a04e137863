// SMART Backend Services with a client nobody here wrote: jose signs the private_key_jwt
// assertion of the demo's `demo-backend` client (its private JWK from demo.json), the token
// endpoint answers client_credentials with system/ scopes, and the token reads and writes data.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import * as jose from 'jose';

import { makeTempDir, removeTempDir, startServer } from './lib/harness.mjs';

let dir;
let server;

before(async () => {
  dir = makeTempDir('backend');
  server = await startServer(dir);
}, { timeout: 30000 });

after(async () => {
  if (server) await server.stop();
  if (dir) removeTempDir(dir);
}, { timeout: 30000 });

test('demo-backend: jose-signed assertion, client_credentials, system/ read and write', { timeout: 30000 }, async () => {
  const demo = JSON.parse(readFileSync(path.join(dir, 'demo.json'), 'utf8'));
  const client = demo.clients.find((c) => c.client_id === 'demo-backend');
  assert.ok(client, 'demo.json lists demo-backend');
  assert.equal(client.type, 'backend');
  const jwk = JSON.parse(readFileSync(client.private_jwk_file, 'utf8'));
  const key = await jose.importJWK(jwk, 'ES384');

  const config = await (await fetch(`${server.base}/.well-known/smart-configuration`)).json();
  assert.ok(config.grant_types_supported.includes('client_credentials'));
  const assertion = await new jose.SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES384', kid: jwk.kid, typ: 'JWT' })
    .setIssuer(client.client_id)
    .setSubject(client.client_id)
    .setAudience(config.token_endpoint)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 240)
    .sign(key);
  const res = await fetch(config.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'system/*.cruds',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.scope, 'system/*.cruds');
  assert.equal(body.refresh_token, undefined);
  assert.equal(body.patient, undefined);

  const auth = { authorization: `Bearer ${body.access_token}`, 'content-type': 'application/fhir+json' };
  const created = await fetch(`${server.base}/Observation`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({
      resourceType: 'Observation', status: 'final', code: { text: 'e2e backend' },
      subject: { reference: 'Patient/pat-0001' },
    }),
  });
  assert.equal(created.status, 201, await created.text());
  const search = await fetch(`${server.base}/Observation?subject=Patient/pat-0002&_count=1`, { headers: auth });
  assert.equal(search.status, 200);
  assert.equal((await search.json()).resourceType, 'Bundle');
});
