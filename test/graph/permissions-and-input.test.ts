// Application permissions per calling scenario, tenant isolation, and the validation of what
// clients send (with the errors naming the field and the reason).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Harness, Webhook, createTenant, type Json, type TestTenant } from '../helpers/harness.ts';

const ALL = ['Calls.Initiate.All', 'Calls.InitiateGroupCall.All', 'Calls.JoinGroupCall.All', 'Calls.JoinGroupCallAsGuest.All', 'Calls.AccessMedia.All'];
const CALLS = '/v1.0/communications/calls';
const SERVICE_MEDIA = { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' };
const THREAD = `19:meeting_${randomUUID().replace(/-/g, '')}@thread.v2`;

let h: Harness;
let hook: Webhook;
let a: TestTenant;
let b: TestTenant;
/** Calls created by any test, hung up (if still there) at the end. */
const created: { id: string; token: string }[] = [];

before(async () => {
  h = await Harness.start({ config: { notifications: { maxAttempts: 2, backoffBaseMs: 10, backoffMaxMs: 50, timeoutMs: 1000, shutdownFlushMs: 2000 } } });
  hook = await new Webhook().start();
  a = await createTenant(h, {
    webhook: hook.url,
    users: [{}, {}, {}, {}, {}, {}],
    meetings: [{ threadId: THREAD, subject: 'Permissions stand-up', lobbyBypass: 'everyone' }],
  });
  b = await createTenant(h, { webhook: hook.url, users: [{}] });
});
after(async () => {
  for (const c of created) await h.request('DELETE', `${CALLS}/${c.id}`, { token: c.token });
  await h.stop();
  await hook.stop();
});

/** Another application in tenant A with exactly these permissions; returns its token. */
async function appWith(permissions: string[]): Promise<string> {
  const r = await h.admin('POST', `/tenants/${a.tenantId}/applications`, { displayName: `Bot ${permissions.join('+') || 'none'}`, permissions, callingWebhook: hook.url });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return h.token(a.tenantId, r.body.appId, r.body.secret);
}

function userTarget(id: string, extra: Json = {}): Json {
  return { '@odata.type': '#microsoft.graph.invitationParticipantInfo', identity: { '@odata.type': '#microsoft.graph.identitySet', user: { '@odata.type': '#microsoft.graph.identity', id, displayName: 'User', ...extra } } };
}

function p2pBody(over: Json = {}): Json {
  return { '@odata.type': '#microsoft.graph.call', callbackUri: hook.url, targets: [userTarget(a.users[0]!.id)], requestedModalities: ['audio'], mediaConfig: SERVICE_MEDIA, ...over };
}

async function create(token: string, body: unknown, path = CALLS) {
  const res = await h.request('POST', path, { token, body });
  if (res.status === 201) created.push({ id: res.body.id, token });
  return res;
}

async function hangUp(token: string, id: string): Promise<void> {
  const del = await h.request('DELETE', `${CALLS}/${id}`, { token });
  assert.equal(del.status, 204, JSON.stringify(del.body));
}

/** Asserts a Graph error: status, code, and that the message contains every fragment. */
function assertGraphError(res: { status: number; body: any }, status: number, code: string, ...fragments: (string | RegExp)[]): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  const e = res.body?.error;
  assert.ok(e, `Graph error body expected, got ${JSON.stringify(res.body)}`);
  assert.equal(e.code, code, JSON.stringify(res.body));
  assert.equal(typeof e.innerError?.['request-id'], 'string');
  for (const f of fragments) {
    if (typeof f === 'string') assert.ok(e.message.includes(f), `message should contain ${JSON.stringify(f)}: ${e.message}`);
    else assert.match(e.message, f);
  }
}

async function establishedCall(): Promise<string> {
  const res = await create(a.token, p2pBody({ targets: [userTarget(a.users[1]!.id)] }));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await hook.waitForState(res.body.id, 'established', 5000);
  return res.body.id;
}

// ------------------------------------------------------------------ permission matrix

const meetingJoin = (): Json => ({
  callbackUri: hook.url,
  requestedModalities: ['audio'],
  mediaConfig: SERVICE_MEDIA,
  chatInfo: { '@odata.type': '#microsoft.graph.chatInfo', threadId: THREAD, messageId: '0' },
  meetingInfo: { '@odata.type': '#microsoft.graph.organizerMeetingInfo', organizer: { '@odata.type': '#microsoft.graph.identitySet', user: { id: a.users[0]!.id } } },
});

const scenarios: { name: string; needs: string[]; missing: string; body: () => Json }[] = [
  { name: 'peer-to-peer call to a user', needs: ['Calls.Initiate.All'], missing: 'Calls.Initiate.All', body: () => p2pBody() },
  {
    name: 'group call with two users',
    needs: ['Calls.InitiateGroupCall.All'],
    missing: 'Calls.InitiateGroupCall.All',
    body: () => p2pBody({ targets: [userTarget(a.users[0]!.id), userTarget(a.users[1]!.id)] }),
  },
  { name: 'joining a meeting (organizerMeetingInfo + chatInfo)', needs: ['Calls.JoinGroupCall.All'], missing: 'Calls.JoinGroupCall.All', body: meetingJoin },
  {
    name: 'joining a meeting as a guest',
    needs: ['Calls.JoinGroupCallAsGuest.All'],
    missing: 'Calls.JoinGroupCallAsGuest.All',
    body: () => ({ ...meetingJoin(), source: { identity: { guest: { id: randomUUID(), displayName: 'Guest bot' } } } }),
  },
  {
    name: 'peer-to-peer call with appHostedMediaConfig',
    needs: ['Calls.Initiate.All', 'Calls.AccessMedia.All'],
    missing: 'Calls.AccessMedia.All',
    body: () => p2pBody({ mediaConfig: { '@odata.type': '#microsoft.graph.appHostedMediaConfig', blob: '<media configuration blob>' } }),
  },
];

for (const s of scenarios) {
  test(`permissions: ${s.name} needs ${s.needs.join(' + ')}`, async () => {
    const granted = await appWith(s.needs);
    const ok = await create(granted, s.body());
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(typeof ok.body.id, 'string');
    await hangUp(granted, ok.body.id);

    // Every permission except the one needed: still refused.
    const denied = await appWith(ALL.filter((p) => p !== s.missing));
    const res = await create(denied, s.body());
    assertGraphError(res, 403, '7504', s.missing);
    // With no permission at all as well.
    const none = await appWith([]);
    assertGraphError(await create(none, s.body()), 403, '7504');
  });
}

// ------------------------------------------------------------------ tenant isolation

test('tenant isolation: another tenant cannot see, end or answer a call, nor call its users', async () => {
  const res = await create(a.token, p2pBody({ targets: [userTarget(a.users[2]!.id)] }));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.id;

  assertGraphError(await h.request('GET', `${CALLS}/${id}`, { token: b.token }), 404, '8522');
  assertGraphError(await h.request('DELETE', `${CALLS}/${id}`, { token: b.token }), 404, '8522');
  assertGraphError(await h.request('POST', `${CALLS}/${id}/answer`, { token: b.token, body: { callbackUri: hook.url, mediaConfig: SERVICE_MEDIA, acceptedModalities: ['audio'] } }), 404, '8522');
  assertGraphError(await h.request('POST', `${CALLS}/${id}/subscribeToTone`, { token: b.token, body: {} }), 404, '8522');
  assertGraphError(await h.request('GET', `${CALLS}/${id}/participants`, { token: b.token }), 404, '8522');

  // The call is untouched.
  const still = await h.request('GET', `${CALLS}/${id}`, { token: a.token });
  assert.equal(still.status, 200, JSON.stringify(still.body));
  assert.notEqual(still.body.state, 'terminated');

  // Tenant B cannot target tenant A's user.
  const cross = await create(b.token, p2pBody({ targets: [userTarget(a.users[0]!.id)] }));
  assertGraphError(cross, 400, 'BadRequest', 'targets[0].identity.user.id', a.users[0]!.id);
  await hangUp(a.token, id);
});

// ------------------------------------------------------------------ bad input

test('bad input: body format', async () => {
  assertGraphError(await h.request('POST', CALLS, { token: a.token, raw: '{"callbackUri": ' }), 400, 'BadRequest', /JSON/);
  assertGraphError(await h.request('POST', CALLS, { token: a.token, raw: '[]' }), 400, 'BadRequest', /JSON object/);
  assertGraphError(await h.request('POST', CALLS, { token: a.token, body: [p2pBody()] }), 400, 'BadRequest', /JSON object/);
  assertGraphError(await h.request('POST', CALLS, { token: a.token, raw: '"a string"' }), 400, 'BadRequest', /JSON object/);
});

test('bad input: create-call fields name the field and the reason', async () => {
  const { callbackUri: _c, ...noCallback } = p2pBody();
  const { mediaConfig: _m, ...noMedia } = p2pBody();
  assertGraphError(await create(a.token, p2pBody({ callbackUri: 42 })), 400, 'BadRequest', "'callbackUri'", /expected string, received number/);
  assertGraphError(await create(a.token, noCallback), 400, 'BadRequest', "'callbackUri'", /required/);
  assertGraphError(await create(a.token, noMedia), 400, 'BadRequest', "'mediaConfig'", /required/);
  assertGraphError(await create(a.token, p2pBody({ mediaConfig: { '@odata.type': '#microsoft.graph.smellHostedMediaConfig' } })), 400, 'BadRequest', 'mediaConfig.@odata.type', 'smellHostedMediaConfig');
  assertGraphError(await create(a.token, p2pBody({ requestedModalities: ['smell'] })), 400, 'BadRequest', 'requestedModalities[0]', "'smell'");
  assertGraphError(await create(a.token, p2pBody({ callbackUri: 'http://example.com/cb' })), 400, 'BadRequest', "'callbackUri'", /https/);
  assertGraphError(await create(a.token, p2pBody({ callbackUri: 'not a uri' })), 400, 'BadRequest', "'callbackUri'", /absolute URI/);
  assertGraphError(await create(a.token, p2pBody({ targets: [] })), 400, 'BadRequest', "'targets'", /at least one target/);

  // http on loopback is accepted (local development).
  const local = await create(a.token, p2pBody({ callbackUri: 'http://127.0.0.1:9/cb', targets: [userTarget(a.users[3]!.id)] }));
  assert.equal(local.status, 201, JSON.stringify(local.body));
  assert.equal(local.body.callbackUri, 'http://127.0.0.1:9/cb');
  await hangUp(a.token, local.body.id);
});

test('bad input: at most 5 targets (5 is fine)', async () => {
  const six = a.users.map((u) => userTarget(u.id));
  assert.equal(six.length, 6);
  assertGraphError(await create(a.token, p2pBody({ targets: six })), 400, 'BadRequest', "'targets'", /at most 5/);
  const five = await create(a.token, p2pBody({ targets: six.slice(0, 5) }));
  assert.equal(five.status, 201, JSON.stringify(five.body));
  await hangUp(a.token, five.body.id);
});

test('bad input: a body over 1 MB is refused with 413', async () => {
  const res = await h.request('POST', CALLS, { token: a.token, body: p2pBody({ padding: 'x'.repeat(1024 * 1024 + 16) }) });
  assert.equal(res.status, 413, JSON.stringify(res.body).slice(0, 300));
  assert.equal(typeof res.body.error.code, 'string');
  assert.match(res.body.error.message, /limit/);
  assert.equal(typeof res.body.error.innerError['request-id'], 'string');
});

test('bad input: unknown call and unknown action', async () => {
  assertGraphError(await h.request('GET', `${CALLS}/${randomUUID()}`, { token: a.token }), 404, '8522');
  assertGraphError(await h.request('DELETE', `${CALLS}/${randomUUID()}`, { token: a.token }), 404, '8522');
  assertGraphError(await h.request('POST', `${CALLS}/${randomUUID()}/subscribeToTone`, { token: a.token, body: {} }), 404, '8522');
  const id = await establishedCall();
  assertGraphError(await h.request('POST', `${CALLS}/${id}/frobnicate`, { token: a.token, body: {} }), 400, 'BadRequest', 'frobnicate');
  await hangUp(a.token, id);
});

test('bad input: clientContext is at most 256 characters (subscribeToTone, mute)', async () => {
  const id = await establishedCall();
  for (const action of ['subscribeToTone', 'mute']) {
    assertGraphError(
      await h.request('POST', `${CALLS}/${id}/${action}`, { token: a.token, body: { clientContext: 'c'.repeat(257) } }),
      400, 'BadRequest', "'clientContext'", /256/,
    );
    const ok = await h.request('POST', `${CALLS}/${id}/${action}`, { token: a.token, body: { clientContext: 'c'.repeat(256) } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.clientContext, 'c'.repeat(256));
    assert.ok(ok.headers.get('location')?.startsWith(`${h.url}${CALLS}/${id}/operations/`));
  }
  await hangUp(a.token, id);
});

// ------------------------------------------------------------------ open types

test('unknown properties the client sent are kept in the create response and in GET', async () => {
  const body = p2pBody({
    myCustomField: { a: 1 },
    targets: [userTarget(a.users[4]!.id, { tenantId: a.tenantId })],
  });
  const res = await create(a.token, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const get = await h.request('GET', `${CALLS}/${res.body.id}`, { token: a.token });
  assert.equal(get.status, 200, JSON.stringify(get.body));
  for (const call of [res.body, get.body]) {
    assert.deepEqual(call.myCustomField, { a: 1 });
    assert.equal(call.targets[0].identity.user.tenantId, a.tenantId);
    assert.equal(call.targets[0].identity.user.id, a.users[4]!.id);
  }
  await hangUp(a.token, res.body.id);
});

// ------------------------------------------------------------------ paths and action names

test('the deprecated /app/calls path works for create and GET; qualified action names work', async () => {
  const res = await create(a.token, p2pBody({ targets: [userTarget(a.users[5]!.id)] }), '/v1.0/app/calls');
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.id;
  const viaApp = await h.request('GET', `/v1.0/app/calls/${id}`, { token: a.token });
  assert.equal(viaApp.status, 200, JSON.stringify(viaApp.body));
  assert.equal(viaApp.body.id, id);
  const viaComms = await h.request('GET', `${CALLS}/${id}`, { token: a.token });
  assert.equal(viaComms.status, 200);
  assert.equal(viaComms.body.id, id);
  await hook.waitForState(id, 'established', 5000);

  const op = await h.request('POST', `/v1.0/app/calls/${id}/microsoft.graph.subscribeToTone`, { token: a.token, body: { clientContext: 'qualified' } });
  assert.equal(op.status, 200, JSON.stringify(op.body));
  assert.equal(op.body['@odata.type'], '#microsoft.graph.subscribeToToneOperation');
  assert.equal(op.body.clientContext, 'qualified');
  const op2 = await h.request('POST', `${CALLS}/${id}/microsoft.graph.subscribeToTone`, { token: a.token, body: {} });
  assert.equal(op2.status, 200, JSON.stringify(op2.body));

  const del = await h.request('DELETE', `/v1.0/app/calls/${id}`, { token: a.token });
  assert.equal(del.status, 204, JSON.stringify(del.body));
  assertGraphError(await h.request('GET', `/v1.0/app/calls/${id}`, { token: a.token }), 404, '8522');
});

// ------------------------------------------------------------------ still alive

test('after all of the above the server still answers /healthz', async () => {
  const res = await h.request('GET', '/healthz');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.status, 'ok');
});
