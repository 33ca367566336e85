// The identity platform (token endpoint, OpenID configuration, JWKS, key persistence) and the
// authentication every Graph request goes through.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SignJWT, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, jwtVerify, type JWK, type KeyLike } from 'jose';
import { Harness, createTenant, type Json, type TestTenant } from '../helpers/harness.ts';

const PERMS = ['Calls.Initiate.All', 'Calls.AccessMedia.All'];
const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

let h: Harness;
let t: TestTenant;

before(async () => {
  h = await Harness.start();
  t = await createTenant(h, { permissions: PERMS, users: [{}] });
});
after(async () => {
  await h.stop();
});

function tokenRequest(tenantId: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return h.request('POST', `/${tenantId}/oauth2/v2.0/token`, {
    raw: new URLSearchParams(form).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

function goodForm(over: Record<string, string> = {}): Record<string, string> {
  return { grant_type: 'client_credentials', client_id: t.appId, client_secret: t.secret, scope: GRAPH_SCOPE, ...over };
}

function assertOAuthError(res: { status: number; body: any; headers: Headers }, status: number, error: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error, error, JSON.stringify(res.body));
  assert.equal(typeof res.body.error_description, 'string');
  assert.ok(res.body.error_description.length > 0);
  assert.equal(res.body.access_token, undefined);
}

/** The server's own signing key, read from its data directory. */
async function serverKey(): Promise<{ key: KeyLike; kid: string }> {
  const jwk = JSON.parse(readFileSync(join(h.dataDir, 'keys', 'signing-key.json'), 'utf8')) as JWK;
  return { key: (await importJWK(jwk, 'RS256')) as KeyLike, kid: jwk.kid! };
}

/** An application token as the server would issue it, with overrides. */
async function forge(key: KeyLike, kid: string, opts: { claims?: Json; iat?: number; exp?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const iat = opts.iat ?? now;
  return new SignJWT({ tid: t.tenantId, appid: t.appId, roles: PERMS, idtyp: 'app', ver: '2.0', ...opts.claims })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
    .setIssuer(`${h.url}/${t.tenantId}/v2.0`)
    .setAudience('https://graph.microsoft.com')
    .setIssuedAt(iat)
    .setNotBefore(iat - 5)
    .setExpirationTime(opts.exp ?? now + 3600)
    .sign(key);
}

/** A Graph request that must be refused: checks status, the challenge on 401s and the Graph error body. */
async function assertRefused(authorization: string | null, status: 401 | 403, messagePattern?: RegExp): Promise<Json> {
  const headers: Record<string, string> = {};
  if (authorization !== null) headers.authorization = authorization;
  const res = await h.request('GET', `/v1.0/communications/calls/${randomUUID()}`, { headers });
  assert.equal(res.status, status, JSON.stringify(res.body));
  if (status === 401) {
    const challenge = res.headers.get('www-authenticate');
    assert.ok(challenge, 'a 401 carries WWW-Authenticate');
    assert.match(challenge, /^Bearer /);
  }
  const e = res.body?.error;
  assert.ok(e, `Graph error body expected, got ${JSON.stringify(res.body)}`);
  assert.equal(typeof e.code, 'string');
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
  assert.equal(typeof e.innerError?.['request-id'], 'string');
  assert.equal(typeof e.innerError?.date, 'string');
  assert.equal(typeof e.innerError?.['client-request-id'], 'string');
  if (messagePattern) assert.match(e.message, messagePattern);
  return e;
}

// ------------------------------------------------------------------ token endpoint

test('client credentials: the token response and the JWT header and claims', async () => {
  const before = Math.floor(Date.now() / 1000);
  const res = await tokenRequest(t.tenantId, goodForm());
  const after = Math.floor(Date.now() / 1000);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.token_type, 'Bearer');
  assert.equal(typeof res.body.access_token, 'string');
  assert.equal(typeof res.body.expires_in, 'number');
  assert.ok(res.body.expires_in > 0);
  assert.ok(res.headers.get('request-id'));

  const header = decodeProtectedHeader(res.body.access_token);
  assert.equal(header.alg, 'RS256');
  assert.equal(typeof header.kid, 'string');
  assert.ok(header.kid!.length > 0);

  const claims = decodeJwt(res.body.access_token);
  assert.equal(claims.iss, `${h.url}/${t.tenantId}/v2.0`);
  assert.ok(claims.aud === 'https://graph.microsoft.com' || claims.aud === '00000003-0000-0000-c000-000000000000', `aud ${String(claims.aud)}`);
  assert.equal(claims.tid, t.tenantId);
  assert.equal(claims.appid, t.appId);
  assert.deepEqual([...(claims.roles as string[])].sort(), [...PERMS].sort());
  assert.equal(claims.scp, undefined, 'an application token has no scp');
  assert.equal(typeof claims.iat, 'number');
  assert.equal(typeof claims.nbf, 'number');
  assert.equal(typeof claims.exp, 'number');
  assert.ok(claims.iat! >= before - 1 && claims.iat! <= after + 1, `iat ${claims.iat} not near now`);
  assert.ok(claims.nbf! <= claims.iat!);
  assert.equal(claims.exp! - claims.iat!, res.body.expires_in);

  // The token works on the Graph API: an unknown call is a 404, not a 401.
  const get = await h.request('GET', `/v1.0/communications/calls/${randomUUID()}`, { token: res.body.access_token });
  assert.equal(get.status, 404, JSON.stringify(get.body));
  assert.equal(get.body.error.code, '8522');
});

test('token endpoint errors: secret, client, grant type, scope, tenant, body format', async () => {
  assertOAuthError(await tokenRequest(t.tenantId, goodForm({ client_secret: 'wrong-secret-0123456789' })), 401, 'invalid_client');
  assertOAuthError(await tokenRequest(t.tenantId, goodForm({ client_id: randomUUID() })), 400, 'unauthorized_client');
  assertOAuthError(await tokenRequest(t.tenantId, goodForm({ grant_type: 'password' })), 400, 'unsupported_grant_type');
  assertOAuthError(await tokenRequest(t.tenantId, goodForm({ grant_type: 'authorization_code' })), 400, 'unsupported_grant_type');
  assertOAuthError(await tokenRequest(t.tenantId, goodForm({ scope: 'https://example.com/.default' })), 400, 'invalid_scope');
  assertOAuthError(await tokenRequest(t.tenantId, goodForm({ scope: 'Calls.Initiate.All' })), 400, 'invalid_scope');
  assertOAuthError(await tokenRequest(randomUUID(), goodForm()), 400, 'invalid_tenant');

  // An app of another tenant cannot get a token in this one.
  const other = await createTenant(h, { permissions: PERMS, users: [] });
  assertOAuthError(await tokenRequest(t.tenantId, goodForm({ client_id: other.appId, client_secret: other.secret })), 400, 'unauthorized_client');

  // JSON instead of a form: refused, even with valid credentials.
  const json = await h.request('POST', `/${t.tenantId}/oauth2/v2.0/token`, { body: goodForm() });
  assert.equal(json.status, 400, JSON.stringify(json.body));
  assert.equal(typeof json.body.error, 'string');
  assert.equal(json.body.access_token, undefined);

  // No body at all.
  const empty = await h.request('POST', `/${t.tenantId}/oauth2/v2.0/token`);
  assert.equal(empty.status, 400, JSON.stringify(empty.body));
  assert.equal(empty.body.access_token, undefined);
});

// ------------------------------------------------------------------ discovery

test('OpenID configuration and JWKS: the token verifies against the published keys', async () => {
  const cfg = await h.request('GET', `/${t.tenantId}/v2.0/.well-known/openid-configuration`);
  assert.equal(cfg.status, 200, JSON.stringify(cfg.body));
  assert.equal(cfg.body.issuer, `${h.url}/${t.tenantId}/v2.0`);
  assert.equal(cfg.body.token_endpoint, `${h.url}/${t.tenantId}/oauth2/v2.0/token`);
  assert.equal(typeof cfg.body.jwks_uri, 'string');
  assert.ok(cfg.body.id_token_signing_alg_values_supported.includes('RS256'));

  const keys = await fetch(cfg.body.jwks_uri);
  assert.equal(keys.status, 200);
  const jwks = (await keys.json()) as { keys: Json[] };
  assert.ok(Array.isArray(jwks.keys) && jwks.keys.length >= 1);
  for (const k of jwks.keys) {
    assert.equal(k.kty, 'RSA');
    for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[priv], undefined, `the JWKS must not publish '${priv}'`);
  }

  const res = await tokenRequest(t.tenantId, goodForm());
  assert.equal(res.status, 200);
  const token = res.body.access_token as string;
  const kid = decodeProtectedHeader(token).kid;
  assert.ok(jwks.keys.some((k) => k.kid === kid), 'the token kid is published');

  const remote = createRemoteJWKSet(new URL(cfg.body.jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(token, remote, { issuer: cfg.body.issuer, audience: ['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000'], algorithms: ['RS256'] });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload.tid, t.tenantId);
  assert.equal(payload.appid, t.appId);

  const unknown = await h.request('GET', `/${randomUUID()}/v2.0/.well-known/openid-configuration`);
  assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
  assert.equal(unknown.body.error, 'invalid_tenant');
});

test('the signing key persists across restarts: a token of the first run is still accepted', async () => {
  const first = await Harness.start({ keepData: true });
  let second: Harness | null = null;
  try {
    const tt = await createTenant(first, { permissions: PERMS, users: [] });
    const kid1 = decodeProtectedHeader(tt.token).kid;
    const ok1 = await first.request('GET', `/v1.0/communications/calls/${randomUUID()}`, { token: tt.token });
    assert.equal(ok1.status, 404, JSON.stringify(ok1.body));
    await first.stop();

    // Same data directory, and the same public URL (the issuer names it), as a real restart has.
    second = await Harness.start({ dataDir: first.dataDir, keepData: false, config: { server: { port: 0, publicUrl: first.url } } });
    const res = await second.request('GET', `/v1.0/communications/calls/${randomUUID()}`, { token: tt.token });
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.equal(res.body.error.code, '8522');

    const jwks = (await (await fetch(`${second.url}/${tt.tenantId}/discovery/v2.0/keys`)).json()) as { keys: Json[] };
    assert.deepEqual(jwks.keys.map((k) => k.kid), [kid1]);
    // A token issued by the second run has the same kid.
    const fresh = await second.token(tt.tenantId, tt.appId, tt.secret);
    assert.equal(decodeProtectedHeader(fresh).kid, kid1);
  } finally {
    if (second) await second.stop();
    else await first.stop();
  }
});

// ------------------------------------------------------------------ Graph authentication

test('Graph requests without a usable token are refused with 401 and a challenge', async () => {
  await assertRefused(null, 401);
  await assertRefused('Basic x', 401);
  await assertRefused('Bearer', 401);
  await assertRefused('Bearer not-a-jwt', 401);
  await assertRefused('Bearer aaaa.bbbb.cccc', 401);
  // An unsigned ("alg": "none") token.
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ tid: t.tenantId, appid: t.appId, aud: 'https://graph.microsoft.com', iss: `${h.url}/${t.tenantId}/v2.0`, exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url')}.`;
  await assertRefused(`Bearer ${none}`, 401);
  // A POST is checked too.
  const post = await h.request('POST', '/v1.0/communications/calls', { body: { callbackUri: 'https://example.com/cb' } });
  assert.equal(post.status, 401);
  assert.ok(post.headers.get('www-authenticate'));
});

test('an expired token signed with the server key is refused, saying it expired', async () => {
  const { key, kid } = await serverKey();
  const now = Math.floor(Date.now() / 1000);
  // Sanity: the same forged token, unexpired, is accepted.
  const valid = await forge(key, kid);
  const ok = await h.request('GET', `/v1.0/communications/calls/${randomUUID()}`, { token: valid });
  assert.equal(ok.status, 404, JSON.stringify(ok.body));
  const expired = await forge(key, kid, { iat: now - 7200, exp: now - 600 });
  await assertRefused(`Bearer ${expired}`, 401, /expired/i);
});

test('tokens signed by a foreign key, or for the wrong audience or issuer, are refused', async () => {
  const { key, kid } = await serverKey();
  const { privateKey } = await generateKeyPair('RS256');
  // Foreign key under an unknown kid, and under the server's own kid.
  await assertRefused(`Bearer ${await forge(privateKey, 'foreign-kid')}`, 401);
  await assertRefused(`Bearer ${await forge(privateKey, kid)}`, 401);
  // Server key, wrong audience.
  const wrongAud = await new SignJWT({ tid: t.tenantId, appid: t.appId, roles: PERMS })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(`${h.url}/${t.tenantId}/v2.0`)
    .setAudience(t.appId)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key);
  await assertRefused(`Bearer ${wrongAud}`, 401);
  // Server key, issuer of another tenant.
  const wrongIss = await forge(key, kid, { claims: { tid: randomUUID() } });
  await assertRefused(`Bearer ${wrongIss}`, 401);
});

test('a delegated (user) token is refused with 403', async () => {
  const { key, kid } = await serverKey();
  const delegated = await forge(key, kid, { claims: { scp: 'Calls.Initiate.All', idtyp: 'user' } });
  const e = await assertRefused(`Bearer ${delegated}`, 403, /delegated/i);
  assert.match(e.message, /not supported/i);
  // scp alone is enough to make it delegated.
  const scpOnly = await forge(key, kid, { claims: { scp: 'Calls.Initiate.All' } });
  await assertRefused(`Bearer ${scpOnly}`, 403, /delegated/i);
});

test('a token of an application deleted through the admin API is refused with 401', async () => {
  const gone = await createTenant(h, { permissions: PERMS, users: [] });
  const before = await h.request('GET', `/v1.0/communications/calls/${randomUUID()}`, { token: gone.token });
  assert.equal(before.status, 404);
  const del = await h.admin('DELETE', `/tenants/${gone.tenantId}/applications/${gone.appId}`);
  assert.equal(del.status, 204, JSON.stringify(del.body));
  const res = await h.request('GET', `/v1.0/communications/calls/${randomUUID()}`, { token: gone.token });
  assert.equal(res.status, 401, JSON.stringify(res.body));
  assert.ok(res.headers.get('www-authenticate'));
  assert.equal(typeof res.body.error.code, 'string');
  // And it can no longer get a token.
  assertOAuthError(await tokenRequest(gone.tenantId, { grant_type: 'client_credentials', client_id: gone.appId, client_secret: gone.secret, scope: GRAPH_SCOPE }), 400, 'unauthorized_client');
});

// ------------------------------------------------------------------ request ids

test('every response carries request-id; client-request-id is echoed and lands in innerError', async () => {
  const ids = new Set<string>();
  const responses = [
    await h.request('GET', '/healthz'),
    await tokenRequest(t.tenantId, goodForm()),
    await tokenRequest(t.tenantId, goodForm({ client_secret: 'nope-nope-nope' })),
    await h.request('GET', `/${t.tenantId}/v2.0/.well-known/openid-configuration`),
    await h.request('GET', `/v1.0/communications/calls/${randomUUID()}`),
    await h.request('GET', `/v1.0/communications/calls/${randomUUID()}`, { token: t.token }),
    await h.request('GET', '/no/such/route'),
  ];
  for (const r of responses) {
    const id = r.headers.get('request-id');
    assert.ok(id, `request-id missing on a ${r.status}`);
    ids.add(id);
  }
  assert.equal(ids.size, responses.length, 'request ids are unique');

  const crid = randomUUID();
  const unauth = await h.request('GET', `/v1.0/communications/calls/${randomUUID()}`, { headers: { 'client-request-id': crid } });
  assert.equal(unauth.status, 401);
  assert.equal(unauth.headers.get('client-request-id'), crid);
  assert.equal(unauth.body.error.innerError['client-request-id'], crid);
  assert.equal(unauth.body.error.innerError['request-id'], unauth.headers.get('request-id'));
  assert.match(unauth.body.error.innerError.date, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);

  const crid2 = randomUUID();
  const notFound = await h.request('GET', `/v1.0/communications/calls/${randomUUID()}`, { token: t.token, headers: { 'client-request-id': crid2 } });
  assert.equal(notFound.status, 404);
  assert.equal(notFound.headers.get('client-request-id'), crid2);
  assert.equal(notFound.body.error.innerError['client-request-id'], crid2);
  assert.equal(notFound.body.error.innerError['request-id'], notFound.headers.get('request-id'));

  // Success responses echo it as well.
  const crid3 = randomUUID();
  const health = await h.request('GET', '/healthz', { headers: { 'client-request-id': crid3 } });
  assert.equal(health.status, 200);
  assert.equal(health.headers.get('client-request-id'), crid3);
});
