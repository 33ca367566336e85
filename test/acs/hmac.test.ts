// ACS HMAC-SHA256 authentication, verified against requests signed by the official SDK
// (@azure/communication-call-automation and its real credential policy) sent to a local server
// that runs verifyAcsRequest; plus unit tests of signing, verification and connection strings.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { CallAutomationClient, type CallAutomationClientOptions } from '@azure/communication-call-automation';
import {
  AcsConnectionStringError,
  DEFAULT_DATE_WINDOW_MS,
  EMPTY_CONTENT_SHA256,
  contentSha256,
  formatConnectionString,
  newAccessKey,
  parseConnectionString,
  signAcsRequest,
  verifyAcsRequest,
  type AcsVerifyResult,
} from '../../src/identity/AcsHmac.ts';
import { AcsError, acsContentErrorBody } from '../../src/api/acs/AcsError.ts';
import { FakeAcsServer } from './fakeAcsServer.ts';

const primary = randomBytes(64);
const secondary = randomBytes(64);
let server: FakeAcsServer;

before(async () => {
  server = await FakeAcsServer.start([primary, secondary]);
});
after(async () => {
  await server.stop();
});
beforeEach(() => {
  server.keys = [primary, secondary];
  server.clock = Date.now;
  server.windowMs = undefined;
  server.routes = [];
  server.seen.length = 0;
});

type Policy = { name: string; sendRequest(request: any, next: (request: any) => Promise<any>): Promise<any> };

function client(key: Buffer = primary, opts: { perCall?: Policy[]; perRetry?: Policy[] } = {}): CallAutomationClient {
  const options: CallAutomationClientOptions = {
    allowInsecureConnection: true,
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [
      ...(opts.perCall ?? []).map((policy) => ({ policy, position: 'perCall' as const })),
      ...(opts.perRetry ?? []).map((policy) => ({ policy, position: 'perRetry' as const })),
    ],
  };
  return new CallAutomationClient(formatConnectionString(`http://127.0.0.1:${server.port}/`, key), options);
}

/** A policy that runs after the SDK signed the request (perRetry comes after the credential policy). */
function tamper(name: string, fn: (request: any) => void): Policy {
  return { name, sendRequest: (request, next) => { fn(request); return next(request); } };
}

function failure(r: AcsVerifyResult): Extract<AcsVerifyResult, { ok: false }> {
  assert.equal(r.ok, false, 'expected the verification to fail');
  return r as Extract<AcsVerifyResult, { ok: false }>;
}

async function rejects401(p: Promise<unknown>, reason: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: any) => {
    assert.equal(err.statusCode, 401, String(err));
    assert.match(err.message, message);
    return true;
  });
  const f = failure(server.last.result);
  assert.equal(f.reason, reason, f.message);
  assert.equal(f.code, 'Denied');
  assert.equal(f.status, 401);
}

// ---- the SDK's own signatures

test('SDK: a GET with an empty body, a port in the host and the api-version query passes', async () => {
  const props = await client().getCallConnection('cc1').getCallConnectionProperties();
  assert.equal(props.callConnectionId, 'cc1');
  const seen = server.last;
  assert.deepEqual(seen.result, { ok: true, keyIndex: 0 });
  assert.equal(seen.headers.host, `127.0.0.1:${server.port}`);
  assert.equal(seen.headers['x-ms-content-sha256'], EMPTY_CONTENT_SHA256);
  assert.match(seen.rawPath, /^\/calling\/callConnections\/cc1\?api-version=\d{4}-\d{2}-\d{2}/);
  assert.match(String(seen.headers.authorization), /^HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=/);
});

test('SDK: a POST with a JSON body passes (content hash over the raw bytes)', async () => {
  const res = await client().getCallRecording().start({
    callLocator: { id: 'sc1', kind: 'serverCallLocator' },
    recordingContent: 'audio',
    recordingChannel: 'unmixed',
    recordingFormat: 'wav',
  });
  assert.equal(res.recordingId, 'rec1');
  const seen = server.last;
  assert.equal(seen.result.ok, true);
  assert.ok(seen.body.length > 0);
  assert.equal(seen.headers['x-ms-content-sha256'], contentSha256(seen.body));
  assert.notEqual(seen.headers['x-ms-content-sha256'], EMPTY_CONTENT_SHA256);
  assert.equal(JSON.parse(seen.body.toString()).callLocator.serverCallId, 'sc1');
});

test('SDK: a POST without a body (pause, terminate) passes with the empty hash', async () => {
  await client().getCallRecording().pause('rec1');
  assert.equal(server.last.result.ok, true);
  assert.equal(server.last.headers['x-ms-content-sha256'], EMPTY_CONTENT_SHA256);
  await client().getCallConnection('cc1').hangUp(true);
  assert.equal(server.last.result.ok, true);
  assert.match(server.last.rawPath, /^\/calling\/callConnections\/cc1:terminate\?/);
});

test('SDK: percent-encoded path parameters are verified over the encoded path', async () => {
  const state = await client().getCallRecording().getState('a/b+c=');
  assert.equal(state.recordingId, 'a/b+c=');
  assert.match(server.last.rawPath, /^\/calling\/recordings\/a%2Fb%2Bc%3D\?api-version=/);
  assert.equal(server.last.result.ok, true);

  await client().getCallConnection('8:acs:x').getCallConnectionProperties();
  assert.match(server.last.rawPath, /^\/calling\/callConnections\/8%3Aacs%3Ax\?/);
  assert.equal(server.last.result.ok, true);

  await client().getCallRecording().stop('r 1/é');
  assert.equal(server.last.method, 'DELETE');
  assert.match(server.last.rawPath, /^\/calling\/recordings\/r%201%2F%C3%A9\?/);
  assert.equal(server.last.result.ok, true);
});

test('SDK: extra query parameters that URLSearchParams re-encodes are verified', async () => {
  const addQuery: Policy = {
    name: 'addQuery',
    sendRequest: (request, next) => {
      request.url += '&x=a b&y=%7E~&z=%3A:&empty=&plus=1+2';
      return next(request);
    },
  };
  await client(primary, { perCall: [addQuery] }).getCallConnection('cc1').getCallConnectionProperties();
  const seen = server.last;
  assert.match(seen.rawPath, /&x=a%20b&y=%7E~&z=%3A:&empty=&plus=1\+2$/);
  assert.deepEqual(seen.result, { ok: true, keyIndex: 0 });
});

test('SDK: the secondary key is accepted, and reported as such', async () => {
  await client(secondary).getCallConnection('cc1').getCallConnectionProperties();
  assert.deepEqual(server.last.result, { ok: true, keyIndex: 1 });
});

test('SDK: a wrong key is refused (401, signature mismatch) and the SDK surfaces the message', async () => {
  await rejects401(client(randomBytes(64)).getCallConnection('cc1').getCallConnectionProperties(), 'signatureMismatch', /matches none of this resource's 2 access key/);
  server.keys = [];
  await rejects401(client().getCallConnection('cc1').getCallConnectionProperties(), 'unknownKey', /No access key is configured/);
});

test('SDK: a body changed after signing is refused (content hash mismatch)', async () => {
  const body = tamper('body', (r) => { r.body = String(r.body).replace('"sc1"', '"sc2"'); });
  await rejects401(
    client(primary, { perRetry: [body] }).getCallRecording().start({ callLocator: { id: 'sc1', kind: 'serverCallLocator' } }),
    'contentHashMismatch',
    /x-ms-content-sha256 .* differs from the SHA-256 of the request body/,
  );
});

test('SDK: a body and hash both changed after signing are refused (signature mismatch)', async () => {
  const both = tamper('both', (r) => {
    r.body = String(r.body).replace('"sc1"', '"sc2"');
    r.headers.set('x-ms-content-sha256', contentSha256(r.body));
  });
  await rejects401(client(primary, { perRetry: [both] }).getCallRecording().start({ callLocator: { id: 'sc1', kind: 'serverCallLocator' } }), 'signatureMismatch', /signature matches none/);
});

test('SDK: a path, query, method or host changed after signing is refused', async () => {
  const path = tamper('path', (r) => { r.url = r.url.replace('/callConnections/cc1', '/callConnections/cc2'); });
  await rejects401(client(primary, { perRetry: [path] }).getCallConnection('cc1').getCallConnectionProperties(), 'signatureMismatch', /string-to-sign "GET\\n\/calling\/callConnections\/cc2\?/);

  const query = tamper('query', (r) => { r.url += '&extra=1'; });
  await rejects401(client(primary, { perRetry: [query] }).getCallConnection('cc1').getCallConnectionProperties(), 'signatureMismatch', /signature matches none/);

  const encoded = tamper('encoding', (r) => { r.url = r.url.replace('a%2Fb', 'a/b'); });
  await rejects401(client(primary, { perRetry: [encoded] }).getCallRecording().getState('a/b'), 'signatureMismatch', /signature matches none/);

  const host = tamper('host', (r) => { r.headers.set('x-ms-host', 'evil.example:443'); });
  await rejects401(client(primary, { perRetry: [host] }).getCallConnection('cc1').getCallConnectionProperties(), 'signatureMismatch', /host \('evil\.example:443'\)/);

  const method = tamper('method', (r) => { r.method = 'DELETE'; });
  await rejects401(client(primary, { perRetry: [method] }).getCallRecording().getState('rec1'), 'signatureMismatch', /signature matches none/);
});

test('SDK: a stale or future x-ms-date is refused with the skew in seconds', async () => {
  // x-ms-date has whole seconds: the measured skew is up to a second off the clock shift.
  server.clock = () => Date.now() + 20 * 60_000;
  await rejects401(client().getCallConnection('cc1').getCallConnectionProperties(), 'staleDate', /is 120[01] s in the past, outside the allowed window of ±900 s/);
  server.clock = () => Date.now() - 16 * 60_000;
  await rejects401(client().getCallConnection('cc1').getCallConnectionProperties(), 'staleDate', /is (959|960) s in the future/);
  // Inside the window: passes; and the window is configurable.
  server.clock = () => Date.now() + 14 * 60_000;
  await client().getCallConnection('cc1').getCallConnectionProperties();
  server.windowMs = 60_000;
  await rejects401(client().getCallConnection('cc1').getCallConnectionProperties(), 'staleDate', /±60 s/);
});

test('SDK: missing or malformed authentication headers are refused, each with its own message', async () => {
  const cases: [string, (r: any) => void, RegExp][] = [
    ['missingAuthorization', (r) => r.headers.delete('authorization'), /no Authorization header/],
    ['unsupportedScheme', (r) => r.headers.set('authorization', 'Bearer abc'), /scheme 'Bearer' is not HMAC-SHA256/],
    ['malformedAuthorization', (r) => r.headers.set('authorization', String(r.headers.get('authorization')).replace(/&Signature=.*/, '')), /no Signature= parameter/],
    ['malformedAuthorization', (r) => r.headers.set('authorization', String(r.headers.get('authorization')).replace('x-ms-date;host;', 'x-ms-date;')), /must include x-ms-date, host and x-ms-content-sha256 \(missing: host\)/],
    ['missingDate', (r) => r.headers.delete('x-ms-date'), /x-ms-date header is missing/],
    ['invalidDate', (r) => r.headers.set('x-ms-date', 'yesterday'), /'yesterday' is not an HTTP date/],
    ['missingContentHash', (r) => r.headers.delete('x-ms-content-sha256'), /x-ms-content-sha256 header is missing/],
  ];
  for (const [reason, fn, message] of cases) {
    await rejects401(client(primary, { perRetry: [tamper(reason, fn)] }).getCallConnection('cc1').getCallConnectionProperties(), reason, message);
  }
});

// ---- recording content URLs (signed over endpoint.origin + pathname, sent with x-ms-host)

/** Rewrites the content URL to the local server (as Telegraph's helper for SDK users will). */
function toLocal(port: number, host = 'localhost'): Policy {
  return {
    name: 'toLocal',
    sendRequest: (request, next) => {
      request.allowInsecureConnection = true;
      const original = request.headers.get('OriginalUrl');
      if (original) {
        const u = new URL(original);
        request.headers.set('OriginalUrl', `http://${host}:${port}${u.pathname}${u.search}`);
      }
      return next(request);
    },
  };
}

const CONTENT = 'https://westus.asm.skype.com/v1/objects/0-wus-d1-a%2Bb/content/audio?sig=a%20b&se=1';
const DELETE_LOCATION = 'https://westus.asm.skype.com/v1/objects/0-wus-d1-a%2Bb';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

test('SDK: recording download and delete verify in contentUrl mode (pathname only, x-ms-host)', async () => {
  const rec = client(primary, { perCall: [toLocal(server.port)] }).getCallRecording();
  const bytes = await readAll(await rec.downloadStreaming(CONTENT));
  assert.equal(bytes.toString(), 'RIFF-fake-audio');
  const seen = server.last;
  assert.equal(seen.method, 'GET');
  assert.equal(seen.rawPath, '/v1/objects/0-wus-d1-a%2Bb/content/audio?sig=a%20b&se=1');
  assert.equal(seen.headers.host, `localhost:${server.port}`);
  assert.equal(seen.headers['x-ms-host'], `127.0.0.1:${server.port}`);
  assert.deepEqual(seen.result, { ok: true, keyIndex: 0 });
  // The same request does not verify in request mode: its query was not signed.
  const asRequest = verifyAcsRequest({ method: seen.method, rawPath: seen.rawPath, headers: seen.headers, body: seen.body }, [primary]);
  assert.equal(failure(asRequest).reason, 'signatureMismatch');

  await rec.delete(DELETE_LOCATION);
  assert.equal(server.last.method, 'DELETE');
  assert.equal(server.last.result.ok, true);
});

test('SDK: a refused content request surfaces the top-level {status, message} quirk', async () => {
  const rec = client(randomBytes(64), { perCall: [toLocal(server.port)] }).getCallRecording();
  await assert.rejects(rec.downloadStreaming(CONTENT), (err: any) => {
    assert.equal(err.status, 401);
    assert.match(err.message, /signature matches none/);
    return true;
  });
  await assert.rejects(rec.delete(DELETE_LOCATION), (err: any) => {
    assert.equal(err.status, 401);
    assert.match(err.message, /content URLs are signed over the pathname only/);
    return true;
  });
});

// ---- unit tests: signing and verifying without the SDK

const URL_ = 'https://acs.example:8443/calling/callConnections/a%2Fb:play?api-version=2026-03-12';

function verify(headers: Record<string, string>, body: Buffer | string = '', rawPath = '/calling/callConnections/a%2Fb:play?api-version=2026-03-12', method = 'POST', nowMs = Date.now()) {
  return verifyAcsRequest({ method, rawPath, headers, body: Buffer.from(body) }, [primary, secondary], nowMs);
}

test('unit: signAcsRequest and verifyAcsRequest agree; every signed field is covered', () => {
  const body = '{"playSources":[]}';
  const h = signAcsRequest({ method: 'post', url: URL_, body }, secondary);
  assert.equal(h.host, 'acs.example:8443');
  assert.deepEqual(verify(h, body), { ok: true, keyIndex: 1 });
  assert.equal(failure(verify(h, body, undefined, 'PUT')).reason, 'signatureMismatch');
  assert.equal(failure(verify({ ...h, host: 'acs.example' }, body)).reason, 'signatureMismatch');
  assert.equal(failure(verify(h, body + ' ')).reason, 'contentHashMismatch');
  assert.equal(failure(verify(h, body, '/calling/callConnections/a%2Fb:play?api-version=2026-03-13')).reason, 'signatureMismatch');
  // Lower-case method from the caller is signed upper-case, like the SDK.
  assert.equal(verify(h, body, undefined, 'post').ok, true);
});

test('unit: the empty body hash, header casing and absolute-form targets', () => {
  assert.equal(contentSha256(Buffer.alloc(0)), EMPTY_CONTENT_SHA256);
  const h = signAcsRequest({ method: 'GET', url: 'http://127.0.0.1:9/calling/recordings/r1?api-version=1' }, primary);
  assert.equal(h['x-ms-content-sha256'], EMPTY_CONTENT_SHA256);
  const upper = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toUpperCase(), v]));
  assert.equal(verifyAcsRequest({ method: 'GET', rawPath: '/calling/recordings/r1?api-version=1', headers: upper, body: Buffer.alloc(0) }, [primary]).ok, true);
  assert.equal(verifyAcsRequest({ method: 'GET', rawPath: 'http://127.0.0.1:9/calling/recordings/r1?api-version=1', headers: h, body: Buffer.alloc(0) }, [primary]).ok, true);
});

test('unit: a raw (not re-serialised) query as other SDKs sign it is accepted too', () => {
  // Sign the raw query by hand: `a=%7E` is what e.g. the Python SDK signs; URLSearchParams gives `a=~`.
  const h = signAcsRequest({ method: 'GET', url: 'https://h/p?a=~' }, primary);
  const res = verifyAcsRequest({ method: 'GET', rawPath: '/p?a=%7E', headers: h, body: Buffer.alloc(0) }, [primary]);
  assert.equal(res.ok, true);
});

test('unit: SignedHeaders order is honoured and extra signed headers are covered', () => {
  const date = new Date().toUTCString();
  const hash = EMPTY_CONTENT_SHA256;
  const text = `GET\n/p\nh:1;${date};${hash};v1`;
  const sig = createHmac('sha256', primary).update(text).digest('base64');
  const headers = {
    host: 'h:1',
    'x-ms-date': date,
    'x-ms-content-sha256': hash,
    'x-custom': 'v1',
    authorization: `HMAC-SHA256 SignedHeaders=host;x-ms-date;x-ms-content-sha256;x-custom&Signature=${sig}`,
  };
  assert.equal(verifyAcsRequest({ method: 'GET', rawPath: '/p', headers, body: Buffer.alloc(0) }, [primary]).ok, true);
  assert.equal(failure(verifyAcsRequest({ method: 'GET', rawPath: '/p', headers: { ...headers, 'x-custom': 'v2' }, body: Buffer.alloc(0) }, [primary])).reason, 'signatureMismatch');
  const { 'x-custom': _drop, ...without } = headers;
  const f = failure(verifyAcsRequest({ method: 'GET', rawPath: '/p', headers: without, body: Buffer.alloc(0) }, [primary]));
  assert.equal(f.reason, 'missingSignedHeader');
  assert.match(f.message, /'x-custom'/);
});

test('unit: a signature that is not 32 bytes of base64 is malformed', () => {
  const h = signAcsRequest({ method: 'GET', url: 'https://h/p' }, primary);
  h.authorization = h.authorization!.replace(/Signature=.*/, 'Signature=abc');
  const f = failure(verifyAcsRequest({ method: 'GET', rawPath: '/p', headers: h, body: Buffer.alloc(0) }, [primary]));
  assert.equal(f.reason, 'malformedAuthorization');
});

test('unit: the date window defaults to ±15 minutes and is measured against nowMs', () => {
  const t0 = Date.parse('Tue, 15 Nov 1994 08:12:31 GMT');
  const h = signAcsRequest({ method: 'GET', url: 'https://h/p' }, primary, t0);
  assert.equal(h['x-ms-date'], 'Tue, 15 Nov 1994 08:12:31 GMT');
  const at = (now: number) => verifyAcsRequest({ method: 'GET', rawPath: '/p', headers: h, body: Buffer.alloc(0) }, [primary], now);
  assert.equal(DEFAULT_DATE_WINDOW_MS, 15 * 60_000);
  assert.equal(at(t0 + DEFAULT_DATE_WINDOW_MS).ok, true);
  assert.equal(at(t0 - DEFAULT_DATE_WINDOW_MS).ok, true);
  assert.equal(failure(at(t0 + DEFAULT_DATE_WINDOW_MS + 1000)).reason, 'staleDate');
  assert.equal(verifyAcsRequest({ method: 'GET', rawPath: '/p', headers: h, body: Buffer.alloc(0) }, [primary], t0 + 120_000, 60_000).ok, false);
});

test('unit: contentUrl signing drops the query and signs for x-ms-host', () => {
  const h = signAcsRequest({ method: 'GET', url: 'https://content.example/v1/objects/d%2B1/content/audio?sig=x', mode: 'contentUrl', signingHost: 'api.example:8443' }, primary);
  assert.equal(h['x-ms-host'], 'api.example:8443');
  assert.equal(h.host, 'content.example');
  const base = { method: 'GET', headers: h, body: Buffer.alloc(0), mode: 'contentUrl' as const };
  assert.equal(verifyAcsRequest({ ...base, rawPath: '/v1/objects/d%2B1/content/audio?sig=x' }, [primary]).ok, true);
  assert.equal(verifyAcsRequest({ ...base, rawPath: '/v1/objects/d%2B1/content/audio?sig=other' }, [primary]).ok, true, 'the query is not covered');
  assert.equal(failure(verifyAcsRequest({ ...base, rawPath: '/v1/objects/d%2B2/content/audio?sig=x' }, [primary])).reason, 'signatureMismatch');
  assert.equal(failure(verifyAcsRequest({ ...base, headers: { ...h, 'x-ms-host': 'other' } , rawPath: '/v1/objects/d%2B1/content/audio' }, [primary])).reason, 'signatureMismatch');
});

// ---- connection strings

test('connection strings: parse, format, and the endpoint-without-path rule', () => {
  const key = newAccessKey();
  assert.equal(Buffer.from(key, 'base64').length, 64);
  const cs = formatConnectionString('https://LocalHost:8443', key);
  assert.equal(cs, `endpoint=https://localhost:8443/;accesskey=${key}`);
  const parsed = parseConnectionString(cs);
  assert.equal(parsed.endpoint, 'https://localhost:8443/');
  assert.equal(parsed.host, 'localhost:8443');
  assert.equal(parsed.accessKey, key);
  assert.deepEqual(parsed.key, Buffer.from(key, 'base64'));
  // Case-insensitive names, any order, a trailing ';', default port dropped.
  const p2 = parseConnectionString(`AccessKey=${key}; Endpoint=https://acs.example:443/;`);
  assert.equal(p2.endpoint, 'https://acs.example/');
  assert.equal(formatConnectionString(new URL('http://127.0.0.1:8080/'), Buffer.from([1, 2, 3])), 'endpoint=http://127.0.0.1:8080/;accesskey=AQID');

  const bad: [string, RegExp][] = [
    [`endpoint=https://h/acs/;accesskey=${key}`, /must have no path/],
    [`endpoint=https://h/?x=1;accesskey=${key}`, /no query/],
    [`endpoint=ftp://h/;accesskey=${key}`, /http:\/\/ or https:\/\//],
    [`endpoint=not a url;accesskey=${key}`, /not an absolute URL/],
    ['endpoint=https://h/', /no accesskey=/],
    [`accesskey=${key}`, /no endpoint=/],
    ['endpoint=https://h/;accesskey=***', /base64/],
    ['endpoint=https://h/;accesskey=', /base64/],
    ['endpoint=https://h/;accesskey=QQ==;accesskey=QQ==', /twice/],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseConnectionString(text), (err: any) => err instanceof AcsConnectionStringError && message.test(err.message), text);
  }
  assert.throws(() => formatConnectionString('https://h/base', key), /must have no path/);
});

test('the SDK accepts a formatted connection string and signs with the decoded key', async () => {
  const key = newAccessKey();
  server.keys = [parseConnectionString(formatConnectionString(`http://127.0.0.1:${server.port}`, key)).key];
  const c = new CallAutomationClient(formatConnectionString(`http://127.0.0.1:${server.port}`, key), { allowInsecureConnection: true });
  await c.getCallConnection('x').getCallConnectionProperties();
  assert.deepEqual(server.last.result, { ok: true, keyIndex: 0 });
});

// ---- error bodies

test('AcsError bodies: the standard shape, and the content-URL quirk', () => {
  const e = AcsError.unauthorized('nope');
  assert.deepEqual(e.toBody(), { error: { code: 'Denied', message: 'nope' } });
  assert.deepEqual(e.toContentBody(), { status: 401, message: 'nope', error: { code: 'Denied', message: 'nope' } });
  const f = AcsError.invalidField('targets[0].phoneNumber.value', 'bad', { details: [{ code: 'X', message: 'y' }], innererror: { code: 'Inner' } });
  assert.equal(f.status, 400);
  assert.deepEqual(f.toBody(), {
    error: {
      code: 'BadRequest',
      message: "Invalid value for 'targets[0].phoneNumber.value': bad",
      target: 'targets[0].phoneNumber.value',
      details: [{ code: 'X', message: 'y' }],
      innererror: { code: 'Inner' },
    },
  });
  assert.deepEqual(AcsError.tooManyRequests('slow down', 2.2).headers, { 'retry-after': '3' });
  assert.equal(AcsError.callNotFound('cc9').status, 404);
  assert.deepEqual(acsContentErrorBody(404, 'NotFound', 'gone'), { status: 404, message: 'gone', error: { code: 'NotFound', message: 'gone' } });
});
