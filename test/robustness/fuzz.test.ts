// Robustness fuzz: a deterministic (seeded PRNG), bounded stream of malformed requests against a
// real Telegraph, over every route family: the Graph calls API (create call and the actions on a
// live call, participants), the token endpoint, the admin API, the simulator API and the signed
// ACS Call Automation API. Bodies of wrong JSON types at every level, invalid JSON, wrong content
// types, empty bodies, huge strings and numbers, unicode, prototype-pollution keys, bad path params.
// Asserts: no 5xx (except the deliberate 501 NotImplemented / 503 shutdown), every 4xx in the error
// format of its API with a non-empty message, and a healthy server at the end (healthz, a real call).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Harness, Webhook, createTenant, callUsers, type Json, type TestTenant } from '../helpers/harness.ts';
import { AcsEventSink, acsUser, createAcsResource, type TestAcsResource } from '../helpers/acs.ts';
import { signAcsRequest } from '../../src/identity/AcsHmac.ts';

const SEED = 0x7e1e9a9;
const MAX_MS = 18_000;

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

function deep(n: number): unknown {
  let v: unknown = { leaf: 1 };
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

/** Values of the wrong type for any field. */
const GARBAGE: unknown[] = [
  null, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, true, false,
  '', ' ', 'x', 'NaN', 'Infinity', '-0', '1e999', '9'.repeat(400), 'x'.repeat(70_000),
  '😀👍🏽\u202e\u0000\uffff', 'ünïcødé', '../../etc/passwd', '%2F%2e%2e', '<script>', 'a\nb\r\nc',
  [], [null], [1, 'a', {}], [[[[]]]], {}, { '': '' }, deep(60), deep(3),
  JSON.parse('{"__proto__":{"polluted":1}}'), { constructor: { prototype: { polluted: 1 } } },
  { toString: 'x', valueOf: 1, hasOwnProperty: null },
];

/** Raw bodies sent as application/json. */
const RAW: string[] = [
  '', ' ', '{', '}', '[', '{"a":', '{"a":1,,}', "{'a':1}", 'null', 'true', '0', '-', '"str"', '[]', '[1,2', 'NaN', 'Infinity',
  '1e999', '{"a":1e999}', '{"a":NaN}', '\u0000', '\ufeff{}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}',
  '{"a":"\\ud800"}', '{"a":"\\u00"}', '[' .repeat(5000) + ']'.repeat(5000), '{"a":' .repeat(3000) + '1' + '}'.repeat(3000),
  '{"a":1}{"b":2}', '{"a":1} trailing', '\xff\xfe', 'x'.repeat(2_000_000),
];

/** Content types to send a (valid-looking) body with. */
const CONTENT_TYPES = ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'application/json; charset=utf-16', 'application/octet-stream', 'application/jsonx', '', 'text/json', 'APPLICATION/JSON'];

/** Bad path parameters (already in URL form). */
const BAD_IDS = ['x'.repeat(5000), 'a%2Fb', '%2e%2e', '..', encodeURIComponent('😀ü'), '%', '%ZZ', '%00', 'null', 'undefined', '__proto__',
  'constructor', '1e999', '-1', encodeURIComponent(' '), 'a;b', 'a:b', '%C0%AF', '%E0%A4%A'];

/** Paths of every leaf (and inner node) of a JSON value. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [];
  if (v && typeof v === 'object') {
    for (const [k, c] of Object.entries(v)) {
      const p = [...prefix, Array.isArray(v) ? Number(k) : k];
      out.push(p, ...paths(c, p));
    }
  }
  return out;
}
function setAt(v: unknown, p: (string | number)[], x: unknown): unknown {
  const copy = structuredClone(v) as any;
  let o = copy;
  for (const k of p.slice(0, -1)) o = o[k];
  o[p[p.length - 1]!] = x;
  return copy;
}

/** Mutations of a valid body: each field replaced by garbage (several per field), plus whole-body garbage. */
function mutations(base: Json, perField = 3): unknown[] {
  const out: unknown[] = [];
  for (const g of GARBAGE) out.push(g);
  for (const p of paths(base)) for (let i = 0; i < perField; i++) out.push(setAt(base, p, pick(GARBAGE)));
  out.push({ ...base, extra: pick(GARBAGE), __proto__: { admin: true } });
  return out;
}

type Family = 'graph' | 'oauth' | 'acs';
interface Sent { method: string; path: string; status: number; body: any; family: Family }
const failures: string[] = [];
let sent = 0;
let started = 0;

function check(r: Sent): void {
  sent++;
  const where = `${r.method} ${r.path.slice(0, 160)} -> ${r.status} ${JSON.stringify(r.body)?.slice(0, 300)}`;
  if (r.status >= 500 && r.status !== 501 && r.status !== 503) { failures.push(`5xx: ${where}`); return; }
  if (r.status < 400 || r.status >= 500) return;
  const b = r.body;
  if (r.family === 'oauth') {
    const ok = b && typeof b.error === 'string' && b.error && typeof b.error_description === 'string' && b.error_description;
    if (!ok) failures.push(`not an OAuth error: ${where}`);
    return;
  }
  const e = b?.error;
  const ok = e && typeof e.code === 'string' && e.code && typeof e.message === 'string' && e.message.trim();
  if (!ok) failures.push(`not a ${r.family === 'acs' ? 'ACS' : 'Graph'} error: ${where}`);
}

let h: Harness;
let hook: Webhook;
let sink: AcsEventSink;
let t: TestTenant;
let acs: TestAcsResource;
let acsKey: Buffer;

before(async () => {
  h = await Harness.start();
  hook = await new Webhook().start();
  sink = await new AcsEventSink().start();
  t = await createTenant(h, { webhook: null, users: [{ displayName: 'A' }, { displayName: 'B' }] });
  acs = await createAcsResource(h, t.tenantId);
  acsKey = Buffer.from(acs.keys[0]!.key, 'base64');
  started = Date.now();
});
after(async () => {
  await h.stop();
  await hook.stop();
  await sink.stop();
});

async function send(family: Family, method: string, path: string, opts: { token?: string; body?: unknown; raw?: string; contentType?: string; headers?: Record<string, string> } = {}): Promise<Sent> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  if (opts.contentType === '') delete headers['content-type'];
  const url = `${h.url}${path}`;
  if (family === 'acs') {
    const { host: _host, ...signed } = signAcsRequest({ method, url, body: body ?? '' }, acsKey);
    Object.assign(headers, signed);
  }
  let status: number;
  let text: string;
  try {
    const res = await fetch(url, { method, headers, body });
    status = res.status;
    text = await res.text();
  } catch (err) {
    failures.push(`transport failure (crash?): ${method} ${path.slice(0, 160)}: ${(err as Error).message}`);
    return { method, path, status: 0, body: null, family };
  }
  let parsed: any = text;
  try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  const r: Sent = { method, path, status, body: parsed, family };
  check(r);
  return r;
}

/** Sends every mutation of `base`, the raw bodies, the content types and an empty body to one route (`path` may be re-resolved per request). */
async function fuzzRoute(family: Family, method: string, path: string | (() => Promise<string>), base: Json, opts: { token?: string; headers?: Record<string, string> } = {}): Promise<void> {
  if (Date.now() - started > MAX_MS) return;
  const o = { token: opts.token, headers: opts.headers };
  const at = async () => (typeof path === 'string' ? path : await path());
  for (const m of mutations(base)) await send(family, method, await at(), { ...o, body: m });
  for (const raw of RAW) await send(family, method, await at(), { ...o, raw });
  for (const ct of CONTENT_TYPES) await send(family, method, await at(), { ...o, raw: JSON.stringify(base), contentType: ct });
  await send(family, method, await at(), o);
  await send(family, method, await at(), { ...o, raw: '' });
}

const promptUri = 'https://cdn.example.com/prompt.wav';
const serviceMedia = { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig', preFetchMedia: [] };

/** A live Graph call (made again when a fuzzed request ended it). */
let live: { callId: string; users: { id: string; simCallId: string }[] } | null = null;
async function liveCall() {
  if (live) {
    const r = await h.request('GET', `/beta/communications/calls/${live.callId}`, { token: t.token });
    if (r.status === 200 && r.body.state === 'established') return live;
  }
  live = await callUsers(h, hook, { ...t, users: t.users.slice(0, 1) }, serviceMedia);
  return live;
}

test('fuzz: no 5xx, every 4xx in its API error format, server healthy after', { timeout: 60_000 }, async () => {
  const graphUser = (id: string) => ({ '@odata.type': '#microsoft.graph.invitationParticipantInfo', identity: { user: { id, displayName: 'X' } } });
  const createBody = {
    '@odata.type': '#microsoft.graph.call',
    callbackUri: hook.url,
    targets: [graphUser(t.users[0]!.id)],
    requestedModalities: ['audio'],
    mediaConfig: serviceMedia,
    tenantId: t.tenantId,
  };

  // ---- Graph: create call (both versions), bad ids on GET/DELETE
  await fuzzRoute('graph', 'POST', '/v1.0/communications/calls', createBody, { token: t.token });
  await fuzzRoute('graph', 'POST', '/beta/communications/calls', { ...createBody, source: { identity: { applicationInstance: { id: t.instanceId } } } }, { token: t.token });
  for (const id of BAD_IDS) {
    await send('graph', 'GET', `/v1.0/communications/calls/${id}`, { token: t.token });
    await send('graph', 'DELETE', `/beta/communications/calls/${id}`, { token: t.token });
    await send('graph', 'POST', `/v1.0/communications/calls/${id}/playPrompt`, { token: t.token, body: {} });
    await send('graph', 'GET', `/v1.0/communications/calls/${id}/participants/${id}`, { token: t.token });
    await send('graph', 'GET', `/v1.0/communications/calls/${id}/operations/${id}`, { token: t.token });
  }
  // Bad tokens.
  for (const tok of ['', 'x', 'a.b.c', 'e30.e30.', 'x'.repeat(10_000), '\u00ff\u00fe']) await send('graph', 'GET', '/v1.0/communications/calls/abc', { headers: { authorization: `Bearer ${tok}` } });

  // ---- Graph: actions on a live call
  const actions: [string, Json][] = [
    ['answer', { callbackUri: hook.url, acceptedModalities: ['audio'], mediaConfig: serviceMedia }],
    ['reject', { reason: 'busy' }],
    ['redirect', { targets: [graphUser(t.users[1]!.id)], callbackUri: hook.url }],
    ['transfer', { transferTarget: { endpointType: 'default', identity: { user: { id: t.users[1]!.id } } } }],
    ['playPrompt', { clientContext: 'c', prompts: [{ '@odata.type': '#microsoft.graph.mediaPrompt', mediaInfo: { uri: promptUri, resourceId: randomUUID() } }] }],
    ['recordResponse', { bargeInAllowed: true, maxRecordDurationInSeconds: 10, initialSilenceTimeoutInSeconds: 5, maxSilenceTimeoutInSeconds: 2, playBeep: true, stopTones: ['#', '1', '*'], prompts: [{ '@odata.type': '#microsoft.graph.mediaPrompt', mediaInfo: { uri: promptUri } }] }],
    ['sendDtmfTones', { tones: ['tone1', 'tone2', 'pound'], delayBetweenTonesMs: 100, clientContext: 'c' }],
    ['subscribeToTone', { clientContext: 'c' }],
    ['mute', { clientContext: 'c' }],
    ['unmute', { clientContext: 'c' }],
    ['updateRecordingStatus', { status: 'recording', clientContext: 'c' }],
    ['cancelMediaProcessing', { clientContext: 'c' }],
    ['changeScreenSharingRole', { role: 'viewer' }],
    ['nonexistentAction', {}],
  ];
  for (const [action, base] of actions) {
    await fuzzRoute('graph', 'POST', async () => `/v1.0/communications/calls/${(await liveCall()).callId}/${action}`, base, { token: t.token });
  }
  await fuzzRoute('graph', 'POST', async () => `/beta/communications/calls/${(await liveCall()).callId}/participants/invite`, {
    participants: [{ '@odata.type': '#microsoft.graph.invitationParticipantInfo', identity: { user: { id: t.users[1]!.id } } }], clientContext: 'c',
  }, { token: t.token });
  for (const p of [null, ...BAD_IDS]) {
    await fuzzRoute('graph', 'POST', async () => { const c = await liveCall(); return `/v1.0/communications/calls/${c.callId}/participants/${p ?? c.users[0]!.id}/mute`; }, { clientContext: 'c' }, { token: t.token });
    await send('graph', 'GET', `/v1.0/communications/calls/${(await liveCall()).callId}/participants/${p}`, { token: t.token });
    if (Date.now() - started > MAX_MS) break;
  }

  // ---- Token endpoint
  const tokenForm = { grant_type: 'client_credentials', client_id: t.appId, client_secret: t.secret, scope: 'https://graph.microsoft.com/.default' };
  for (const tid of [t.tenantId, ...BAD_IDS]) {
    for (const [k] of Object.entries(tokenForm)) {
      for (const v of ['', 'x'.repeat(10_000), '😀', '%', '&&==', 'a\u0000b']) {
        await send('oauth', 'POST', `/${tid}/oauth2/v2.0/token`, { raw: new URLSearchParams({ ...tokenForm, [k]: v }).toString(), contentType: 'application/x-www-form-urlencoded' });
      }
    }
    for (const raw of ['', '=', '&&&', '%zz=1', 'a=%', 'grant_type=client_credentials&grant_type=x', '\u0000']) {
      await send('oauth', 'POST', `/${tid}/oauth2/v2.0/token`, { raw, contentType: 'application/x-www-form-urlencoded' });
    }
    for (const ct of [...CONTENT_TYPES, 'application/json']) await send('oauth', 'POST', `/${tid}/oauth2/v2.0/token`, { raw: JSON.stringify(tokenForm), contentType: ct });
    await send('oauth', 'POST', `/${tid}/oauth2/v2.0/token`, {});
    for (const raw of RAW) await send('oauth', 'POST', `/${tid}/oauth2/v2.0/token`, { raw });
    if (tid !== t.tenantId) break;
  }

  const admin = { headers: { authorization: `Bearer ${h.adminKey}` } };
  // ---- Simulator
  const u0 = t.users[0]!;
  await fuzzRoute('graph', 'POST', `/simulator/users/${u0.id}/calls`, { applicationInstance: t.instanceId }, admin);
  const sc = (await liveCall()).users[0]!.simCallId;
  await fuzzRoute('graph', 'POST', `/simulator/users/${u0.id}/calls/${sc}/dtmf`, { tones: '12#', toneMs: 100, gapMs: 100 }, admin);
  await fuzzRoute('graph', 'POST', `/simulator/users/${u0.id}/calls/${sc}/say`, { tone: { frequencyHz: 440, durationMs: 100 } }, admin);
  for (const id of BAD_IDS) {
    for (const a of ['answer', 'reject', 'hangup', 'dtmf', 'say']) {
      await send('graph', 'POST', `/simulator/users/${u0.id}/calls/${id}/${a}`, { ...admin, body: pick(GARBAGE) });
      await send('graph', 'POST', `/simulator/users/${id}/calls/${sc}/${a}`, { ...admin, body: pick(GARBAGE) });
    }
    await send('graph', 'GET', `/simulator/users/${id}/calls`, admin);
    await send('graph', 'GET', `/simulator/users/${u0.id}/calls/${id}`, admin);
    await send('graph', 'GET', `/simulator/users/${u0.id}/calls/${id}/recording`, admin);
    await send('graph', 'GET', `/simulator/users/${id}/events`, admin);
  }
  for (const q of ['?since=-1', '?since=abc', '?since=1e999', '?limit=😀']) await send('graph', 'GET', `/simulator/users/${u0.id}/events${q}`, admin);

  // ---- ACS (signed)
  const acsTarget = { id: acsUser(acs.resourceId, t.users[1]!.id).communicationUserId };
  const createAcs = { targets: [{ kind: 'communicationUser', communicationUser: acsTarget, rawId: acsTarget.id }], callbackUri: sink.events, sourceCallerIdNumber: { value: acs.phoneNumber } };
  await fuzzRoute('acs', 'POST', '/calling/callConnections?api-version=2025-05-15', createAcs);
  const made = await send('acs', 'POST', '/calling/callConnections?api-version=2025-05-15', { body: createAcs });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const cc = made.body.callConnectionId as string;
  await sink.waitForEvent('CallConnected', cc);
  const acsTargetParticipant = { kind: 'communicationUser', communicationUser: acsTarget };
  await fuzzRoute('acs', 'POST', `/calling/callConnections/${cc}:play?api-version=2025-05-15`, { playSources: [{ kind: 'file', file: { uri: promptUri } }], playTo: [acsTargetParticipant], playOptions: { loop: false }, operationContext: 'x' });
  await fuzzRoute('acs', 'POST', `/calling/callConnections/${cc}:recognize?api-version=2025-05-15`, { recognizeInputType: 'dtmf', recognizeOptions: { targetParticipant: acsTargetParticipant, initialSilenceTimeoutInSeconds: 5, dtmfOptions: { maxTonesToCollect: 2, stopTones: ['pound'] } }, playPrompt: { kind: 'file', file: { uri: promptUri } } });
  await fuzzRoute('acs', 'POST', `/calling/callConnections/${cc}/participants:add?api-version=2025-05-15`, { participantToAdd: { communicationUser: { id: acsUser(acs.resourceId, t.users[0]!.id).communicationUserId } }, invitationTimeoutInSeconds: 30, operationContext: 'x' });
  const serverCallId = (await send('acs', 'GET', `/calling/callConnections/${cc}?api-version=2025-05-15`)).body?.serverCallId as string;
  await fuzzRoute('acs', 'POST', '/calling/recordings?api-version=2025-05-15', { callLocator: { kind: 'serverCallLocator', serverCallId }, recordingContentType: 'audio', recordingChannelType: 'mixed', recordingFormatType: 'wav' });
  for (const id of BAD_IDS) {
    await send('acs', 'GET', `/calling/callConnections/${id}`);
    await send('acs', 'DELETE', `/calling/callConnections/${id}`);
    await send('acs', 'POST', `/calling/callConnections/${id}:play`, { body: {} });
    await send('acs', 'GET', `/calling/callConnections/${cc}/participants/${id}`);
    await send('acs', 'GET', `/calling/recordings/${id}`);
    await send('acs', 'POST', `/calling/recordings/${id}:pause`, { body: {} });
  }
  // Unsigned and badly signed ACS requests.
  for (const auth of ['', 'HMAC-SHA256', 'HMAC-SHA256 SignedHeaders=&Signature=', 'Bearer x', '\u00e9']) {
    await send('graph', 'GET', `/calling/callConnections/${cc}`, { headers: { authorization: auth } }).then((r) => { if (r.status >= 400 && r.status < 500 && !r.body?.error?.message) failures.push(`ACS auth error without message: ${auth}`); });
  }

  // ---- Admin CRUD
  // (on a scratch tenant: a fuzzed PATCH or a '..' id resolved by the URL parser may really change or delete things)
  const s = await createTenant(h, { users: [{ displayName: 'S' }] });
  const sAcs = await createAcsResource(h, s.tenantId);
  await fuzzRoute('graph', 'POST', '/admin/tenants', { displayName: 'T', id: randomUUID() }, admin);
  await fuzzRoute('graph', 'POST', `/admin/tenants/${s.tenantId}/applications`, { displayName: 'Bot', permissions: ['Calls.Initiate.All'], callingWebhook: hook.url }, admin);
  await fuzzRoute('graph', 'PATCH', `/admin/tenants/${s.tenantId}/applications/${s.appId}`, { displayName: 'Bot', permissions: ['Calls.Initiate.All', 'Calls.AccessMedia.All', 'Calls.InitiateGroupCall.All', 'Calls.JoinGroupCall.All', 'Calls.JoinGroupCallAsGuest.All'] }, admin);
  await fuzzRoute('graph', 'POST', `/admin/tenants/${s.tenantId}/applicationInstances`, { appId: s.appId, displayName: 'Line', phoneNumber: '+14255559999' }, admin);
  await fuzzRoute('graph', 'POST', `/admin/tenants/${s.tenantId}/users`, { displayName: 'U', phoneNumber: '+14255559998', endpoint: { kind: 'virtual', behaviour: { answer: 'auto', answerAfterMs: 0 } } }, admin);
  await fuzzRoute('graph', 'POST', `/admin/tenants/${s.tenantId}/meetings`, { organizerId: s.users[0]!.id, subject: 'M' }, admin);
  await fuzzRoute('graph', 'POST', `/admin/tenants/${s.tenantId}/acsResources`, { displayName: 'R', phoneNumbers: ['+14255559997'] }, admin);
  await fuzzRoute('graph', 'PATCH', `/admin/tenants/${s.tenantId}/acsResources/${sAcs.resourceId}`, { displayName: 'R', phoneNumbers: [sAcs.phoneNumber] }, admin);
  await fuzzRoute('graph', 'POST', `/admin/tenants/${s.tenantId}/acsResources/${sAcs.resourceId}/eventSubscriptions`, { name: 'sub', endpoint: sink.eventGrid, eventTypes: ['Microsoft.Communication.IncomingCall'] }, admin);
  for (const id of BAD_IDS) {
    for (const p of [`/tenants/${id}`, `/tenants/${s.tenantId}/applications/${id}`, `/tenants/${s.tenantId}/users/${id}`, `/tenants/${s.tenantId}/acsResources/${id}`,
      `/tenants/${s.tenantId}/acsResources/${sAcs.resourceId}/keys/${id}`, `/tenants/${s.tenantId}/applications/${s.appId}/secrets/${id}`,
      `/tenants/${s.tenantId}/acsResources/${sAcs.resourceId}/eventSubscriptions/${id}`, `/notifications/${id}`]) {
      await send('graph', 'GET', `/admin${p}`, admin);
      await send('graph', 'DELETE', `/admin${p}`, admin);
      await send('graph', 'PATCH', `/admin${p}`, { ...admin, body: pick(GARBAGE) });
    }
    await send('graph', 'POST', `/admin/participants/${id}/admit`, admin);
    await send('graph', 'POST', `/admin/participants/${id}/deny`, admin);
  }
  for (const q of ['?limit=-1', '?limit=1e999', '?limit=abc', '?limit=99999999999999999999', '?callId=%00', '?top=😀&skip=-5']) await send('graph', 'GET', `/admin/notifications${q}`, admin);
  await send('graph', 'GET', '/admin/tenants', { headers: { authorization: 'Bearer wrong' } });

  // ---- Unknown routes
  for (const p of ['/nope', '/v1.0/nope', '/%', '/' + 'x'.repeat(10_000)]) await send('graph', 'GET', p);

  // ---- Results
  const elapsed = Date.now() - started;
  assert.ok(sent > 1000, `only ${sent} requests were sent`);
  // One line per distinct failure (method, route shape, status) keeps the report readable.
  const distinct = [...new Map(failures.map((f) => [f.replace(/\/[^/ ]{40,}/g, '/<long>').replace(/ -> (\d+).*$/, ' -> $1').slice(0, 200), f])).values()];
  assert.deepEqual(distinct.slice(0, 30), [], `${failures.length} failures (${distinct.length} distinct) in ${sent} requests (${elapsed} ms)`);

  // ---- Still healthy: healthz, and a normal call works end to end.
  const health = await h.request('GET', '/healthz');
  assert.equal(health.status, 200);
  const fresh = await createTenant(h, { users: [{ displayName: 'Z' }] });
  const { callId: okCall } = await callUsers(h, hook, fresh, serviceMedia);
  const del = await h.request('DELETE', `/v1.0/communications/calls/${okCall}`, { token: fresh.token });
  assert.equal(del.status, 204);
  const del2 = await send('acs', 'DELETE', `/calling/callConnections/${cc}`);
  assert.ok(del2.status < 300, JSON.stringify(del2.body));
});
