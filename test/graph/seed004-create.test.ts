// Seed 004 (Graph "create call", examples 1–10): every example request is posted verbatim — the
// documentation's own JSON text with its trailing commas and duplicate keys — with only the ids
// swapped for directory ones and the callbackUri for the test webhook's. Each test checks the
// 201 response against what the seed's response shows, then the notifications the bot receives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Harness, Webhook, createTenant, nextNumber, swapIds, type Json, type Recorded, type TestTenant } from '../helpers/harness.ts';
import { parseLenientJson } from '../../src/api/http.ts';

/** The placeholder values of the seed's examples. */
const SEED = {
  tenant: 'aa67bd4c-8475-432d-bd41-39f255720e0a',
  /** Example 5 also names this (malformed) tenant id, as a duplicate organizer key and at the top level. */
  tenantEx5: '86dc81db-c112-4228-9222-63f3esaa1edb',
  app: '2891555a-92ff-42e6-80fa-6e1300c6b5c6',
  appTestBot: 'dd3885da-f9ab-486b-bfae-85de3d445555',
  john: '112f7296-5fa4-42ca-bae8-6a692b15d4b8',
  user1: '98da8a1a-1b87-452c-a713-65d3f10b5555',
  user2: 'bf5aae9a-d11d-47a8-93b1-782504c95555',
  organizer: '5810cede-f3cc-42eb-b2c1-e9bd5d53ec96',
  instance: '3d913abb-aec0-4964-8fa6-3c6850c4f278',
  phone: '+12345678901',
  scheduledThread: '19:meeting_Win6Ydo4wsMijFjZS00ZGVjLTk5MGUtOTRjNWY2NmNkYTFm@thread.v2',
  channelThread: '19:cbee7c1c860e465f8258e3cebf7bee0d@thread.skype',
  callbackUri: 'https://bot.contoso.com/callback',
};

/** One directory meeting per meeting example, so the examples' calls stay apart. */
const THREADS = {
  5: '19:meeting_Seed004Example5@thread.v2',
  6: '19:meeting_Seed004Example6@thread.v2',
  7: '19:seed004example7@thread.skype',
  8: '19:seed004example8@thread.skype',
} as const;

const CONTEXT_SUFFIX = '/beta/$metadata#app/calls/$entity';

let h: Harness;
let hook: Webhook;
let t: TestTenant;
let bob: TestTenant['users'][number];
let john: TestTenant['users'][number];
let user1: TestTenant['users'][number];
let user2: TestTenant['users'][number];
let pstnUserId: string;

before(async () => {
  h = await Harness.start();
  hook = await new Webhook().start();
  t = await createTenant(h, {
    webhook: hook.url,
    // Bob first: createTenant makes users[0] the meetings' organizer, as Bob is in the seed.
    users: [{ displayName: 'Bob' }, { displayName: 'John' }, { displayName: 'user1' }, { displayName: 'user2' }],
    meetings: [
      { threadId: THREADS[5], messageId: '0', lobbyBypass: 'organization' },
      { threadId: THREADS[6], messageId: '0', lobbyBypass: 'organization' },
      { threadId: THREADS[7], messageId: '1533758867081', lobbyBypass: 'organization' },
      // Guests never bypass an 'organization' lobby: the guest bot of example 8 waits there.
      { threadId: THREADS[8], messageId: '1533758867081', lobbyBypass: 'organization' },
    ],
  });
  [bob, john, user1, user2] = t.users as [typeof bob, typeof john, typeof user1, typeof user2];
  // Examples 9 and 10 call +12345678901: a virtual user owns it, so the call is answered.
  const pstn = await h.admin('POST', `/tenants/${t.tenantId}/users`, {
    displayName: 'PSTN callee',
    phoneNumber: SEED.phone,
    endpoint: { kind: 'virtual', behaviour: { answer: 'auto', answerAfterMs: 0 } },
  });
  assert.equal(pstn.status, 201, JSON.stringify(pstn.body));
  pstnUserId = pstn.body.id;
});

after(async () => {
  await h.stop();
  await hook.stop();
});

// ---------------------------------------------------------------------------------- helpers

function fixture(n: number): string {
  return readFileSync(new URL(`../fixtures/seed004/example-${String(n).padStart(2, '0')}-request.json`, import.meta.url), 'utf8');
}

function idSwaps(extra: Record<string, string> = {}): Record<string, string> {
  return {
    [SEED.tenant]: t.tenantId,
    [SEED.tenantEx5]: t.tenantId,
    [SEED.app]: t.appId,
    [SEED.appTestBot]: t.appId,
    [SEED.john]: john.id,
    [SEED.user1]: user1.id,
    [SEED.user2]: user2.id,
    [SEED.organizer]: bob.id,
    [SEED.instance]: t.instanceId,
    [SEED.callbackUri]: hook.url,
    ...extra,
  };
}

interface Created {
  id: string;
  body: Json;
  /** The request as the server parsed it (lenient JSON: trailing commas dropped, last duplicate wins). */
  sent: Json;
}

/** Posts example `n` verbatim (ids swapped) and checks the 201, the Location and the ids. */
async function create(n: number, extraSwaps: Record<string, string> = {}): Promise<Created> {
  const raw = swapIds(fixture(n), idSwaps(extraSwaps));
  assert.ok(!raw.includes('bot.contoso.com'), 'the callbackUri was swapped');
  const sent = parseLenientJson(raw) as Json;
  const res = await h.request('POST', '/beta/communications/calls', { token: t.token, raw });
  assert.equal(res.status, 201, `example ${n}: ${JSON.stringify(res.body)}`);
  const id = res.body.id;
  assert.equal(typeof id, 'string');
  assert.equal(res.headers.get('location'), `${h.url}/beta/communications/calls/${id}`);
  assert.match(String(res.headers.get('content-type')), /^application\/json/);
  return { id, body: res.body, sent };
}

type Pred = ((v: unknown) => boolean) & { what: string };
const pred = (what: string, fn: (v: unknown) => boolean): Pred => Object.assign(fn, { what });
const aString = pred('a non-empty string', (v) => typeof v === 'string' && v.length > 0);
const aGuid = pred('a GUID', (v) => typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v));
const aBoolean = pred('a boolean', (v) => typeof v === 'boolean');
const endsWith = (suffix: string) => pred(`a string ending in ${suffix}`, (v) => typeof v === 'string' && v.endsWith(suffix));

/**
 * `actual` has every property of `pattern` (extra properties are allowed: the seed's objects "might be
 * shortened"); arrays have the same length; leaves are equal or satisfy the predicate.
 */
function assertMatches(actual: unknown, pattern: unknown, path = '$'): void {
  if (typeof pattern === 'function') {
    assert.ok((pattern as Pred)(actual), `${path}: expected ${(pattern as Pred).what}, got ${JSON.stringify(actual)}`);
    return;
  }
  if (Array.isArray(pattern)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, got ${JSON.stringify(actual)}`);
    assert.equal(actual.length, pattern.length, `${path}: expected ${pattern.length} items, got ${JSON.stringify(actual)}`);
    pattern.forEach((p, i) => assertMatches(actual[i], p, `${path}[${i}]`));
    return;
  }
  if (pattern !== null && typeof pattern === 'object') {
    assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${path}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [k, p] of Object.entries(pattern)) {
      assert.ok(Object.hasOwn(actual as Json, k), `${path}: missing property '${k}' in ${JSON.stringify(actual)}`);
      assertMatches((actual as Json)[k], p, `${path}.${k}`);
    }
    return;
  }
  assert.equal(actual, pattern, `${path}: expected ${JSON.stringify(pattern)}, got ${JSON.stringify(actual)}`);
}

const PARTICIPANT_INFO_NULLS = { countryCode: null, endpointType: null, region: null, languageId: null };
const INVITATION_NULLS = { endpointType: null, region: null, replacesCallId: null, languageId: null };

/**
 * The create response as the seed shows it (examples 1, 2, 5, 9, 10 show one; the others are
 * checked against the same shape): every property, with the deterministic values.
 */
function expectedCall(sent: Json): Json {
  const isMeeting = Boolean(sent.meetingInfo);
  const source = sent.source
    ? { ...PARTICIPANT_INFO_NULLS, ...sent.source }
    : {
        '@odata.type': '#microsoft.graph.participantInfo',
        identity: {
          '@odata.type': '#microsoft.graph.identitySet',
          application: { '@odata.type': '#microsoft.graph.identity', displayName: aString, id: t.appId },
        },
        ...PARTICIPANT_INFO_NULLS,
      };
  return {
    '@odata.type': '#microsoft.graph.call',
    state: 'establishing',
    direction: 'outgoing',
    callbackUri: hook.url,
    callChainId: aGuid,
    callRoutes: [],
    source,
    targets: ((sent.targets as Json[] | undefined) ?? []).map((x) => ({ ...INVITATION_NULLS, ...x })),
    requestedModalities: ['audio'],
    activeModalities: [],
    mediaConfig: sent.mediaConfig,
    routingPolicies: [],
    tenantId: t.tenantId,
    myParticipantId: aGuid,
    id: aGuid,
    '@odata.context': endsWith(CONTEXT_SUFFIX),
    subject: sent.subject ?? null,
    terminationReason: null,
    ringingTimeoutInSeconds: null,
    mediaState: null,
    resultInfo: null,
    answeredBy: null,
    chatInfo: isMeeting ? { ...sent.chatInfo, replyChainMessageId: null } : null,
    meetingInfo: isMeeting ? sent.meetingInfo : null,
    transcription: null,
    meetingCapability: null,
    toneInfo: null,
    serverCallId: aGuid,
  };
}

function checkResponse(c: Created): void {
  assertMatches(c.body, expectedCall(c.sent));
  // The media configuration comes back exactly as sent (no property lost or added).
  assert.deepEqual(c.body.mediaConfig, c.sent.mediaConfig);
  assert.notEqual(c.body.serverCallId, c.body.id, 'serverCallId names the server call, not the leg');
}

const kindOf = (r: Recorded): string =>
  r.n.resourceUrl.endsWith('/participants') ? 'roster' : r.n.resourceUrl.includes('/operations/') ? 'operation' : String(r.n.resourceData?.state);

/** The commsNotification envelope every notification of the call shares. */
function assertEnvelope(r: Recorded, c: Created, resourceUrl: string, changeType = 'updated'): void {
  assert.equal(r.body['@odata.type'], '#microsoft.graph.commsNotifications');
  assert.equal(r.body.value.length, 1);
  assertMatches(r.n, { '@odata.type': '#microsoft.graph.commsNotification', changeType, resourceUrl, callbackUri: hook.url });
  assert.equal(r.headers['x-microsoft-skype-chain-id'], c.body.callChainId);
}

/** A state notification, with the resourceData the seed shows for it. */
function assertState(r: Recorded, c: Created, state: string): void {
  assertEnvelope(r, c, `/communications/calls/${c.id}`, state === 'terminated' ? 'deleted' : 'updated');
  const data: Json = { '@odata.type': '#microsoft.graph.call', state, id: c.id };
  if (state === 'established') Object.assign(data, { direction: 'outgoing', tenantId: t.tenantId });
  // Meeting joins: the state notifications carry chatInfo and meetingInfo (seed example 5).
  if (c.sent.meetingInfo) Object.assign(data, { chatInfo: c.sent.chatInfo, meetingInfo: c.sent.meetingInfo });
  assertMatches(r.n.resourceData, data, `${state}.resourceData`);
}

/** A roster notification: an array of #microsoft.graph.participant with mediaStreams, isMuted, isInLobby. */
function assertRoster(r: Recorded, c: Created): Json[] {
  assertEnvelope(r, c, `/communications/calls/${c.id}/participants`);
  const list = r.n.resourceData as Json[];
  assert.ok(Array.isArray(list) && list.length > 0, `roster resourceData is a non-empty array: ${JSON.stringify(list)}`);
  list.forEach((p, i) => {
    assertMatches(p, {
      '@odata.type': '#microsoft.graph.participant',
      info: { '@odata.type': '#microsoft.graph.participantInfo', identity: { '@odata.type': '#microsoft.graph.identitySet' } },
      mediaStreams: pred('a non-empty array', (v) => Array.isArray(v) && v.length > 0),
      isMuted: aBoolean,
      isInLobby: aBoolean,
      id: aGuid,
    }, `roster[${i}]`);
    (p.mediaStreams as Json[]).forEach((s, j) =>
      assertMatches(s, { '@odata.type': '#microsoft.graph.mediaStream', mediaType: aString, sourceId: aString, direction: aString, serverMuted: aBoolean }, `roster[${i}].mediaStreams[${j}]`));
  });
  return list;
}

/** The bot's own roster entry, as the seed shows it (audio sendReceive, not muted). */
function assertBotEntry(list: Json[], c: Created, identity: Json, isInLobby: boolean): void {
  const me = list.find((p) => p.id === c.body.myParticipantId);
  assert.ok(me, `the bot (${c.body.myParticipantId}) is in the roster: ${JSON.stringify(list)}`);
  assertMatches(me, {
    info: { identity },
    mediaStreams: [{ '@odata.type': '#microsoft.graph.mediaStream', mediaType: 'audio', sourceId: aString, direction: 'sendReceive', serverMuted: false }],
    isMuted: false,
    isInLobby,
  }, 'roster.bot');
}

const applicationIdentity = () => ({ application: { '@odata.type': '#microsoft.graph.identity', id: t.appId } });

/** Every notification of the call carries a valid bearer token for this bot and tenant: checked once each. */
async function verifyTokens(c: Created): Promise<void> {
  const recs = hook.forCall(c.id);
  assert.ok(recs.length > 0);
  for (const r of recs) {
    const claims = await h.verifyNotification(r, t.appId);
    assert.equal(claims.tid, t.tenantId);
    assert.equal(claims.aud, t.appId);
  }
}

/** Hangs the bot up (DELETE → 204) and checks the terminating → terminated (200/7000) end. */
async function hangUp(c: Created): Promise<void> {
  const del = await h.request('DELETE', `/beta/communications/calls/${c.id}`, { token: t.token });
  assert.equal(del.status, 204, JSON.stringify(del.body));
  const end = await hook.waitForState(c.id, 'terminated');
  assertState(end, c, 'terminated');
  assertMatches(end.n.resourceData.resultInfo, { '@odata.type': '#microsoft.graph.resultInfo', code: 200, subcode: 7000, message: aString });
  assertState(await hook.waitForState(c.id, 'terminating'), c, 'terminating');
}

async function until(what: string, check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** John joins a meeting through the simulator (he is in the seed's roster); returns his simulator call id. */
async function johnJoins(threadId: string): Promise<string> {
  const r = await h.sim('POST', `/users/${john.id}/calls`, { meeting: { threadId } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await until(`John connected in ${threadId}`, async () => (await h.sim('GET', `/users/${john.id}/calls/${r.body.id}`)).body.state === 'connected');
  return r.body.id;
}

async function simHangUp(userId: string, simCallId: string): Promise<void> {
  const r = await h.sim('POST', `/users/${userId}/calls/${simCallId}/hangup`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.state, 'ended');
}

/** The virtual user's simulator call that belongs to a server call. */
async function simCallOf(userId: string, serverCallId: string): Promise<Json> {
  const r = await h.sim('GET', `/users/${userId}/calls`);
  const c = (r.body.value as Json[]).find((x) => x.serverCallId === serverCallId);
  assert.ok(c, `user ${userId} has a call in ${serverCallId}: ${JSON.stringify(r.body.value)}`);
  return c;
}

// ---------------------------------------------------------------------------------- peer-to-peer

for (const n of [1, 2]) {
  const media = n === 1 ? 'service hosted media' : 'application hosted media (Calls.AccessMedia.All)';
  test(`example ${n}: peer-to-peer VoIP call with ${media} is created, establishing → established`, async () => {
    const c = await create(n);
    checkResponse(c);
    assertMatches(c.body.targets[0].identity.user, { id: john.id, displayName: 'John' });

    const established = await hook.waitForState(c.id, 'established');
    assertState(hook.forCall(c.id)[0]!, c, 'establishing');
    assertState(established, c, 'established');
    // Peer-to-peer: call state notifications only, no roster.
    assert.deepEqual(hook.forCall(c.id).map(kindOf), ['establishing', 'established']);

    // John's virtual endpoint answered the call.
    const sim = await simCallOf(john.id, c.body.serverCallId);
    assert.equal(sim.state, 'connected');

    await hangUp(c);
    assert.deepEqual(hook.forCall(c.id).map(kindOf), ['establishing', 'established', 'terminating', 'terminated']);
    await verifyTokens(c);
  });
}

// ---------------------------------------------------------------------------------- group calls

for (const n of [3, 4]) {
  const media = n === 3 ? 'service hosted media' : 'application hosted media';
  test(`example ${n}: group call with two VoIP users and ${media}: roster shows both users connected`, async () => {
    const c = await create(n);
    checkResponse(c);
    assert.equal(c.body.subject, 'Create a group call with service hosted media');
    assert.equal(c.body.source.identity.application.displayName, 'TestBot');
    assert.equal(c.body.targets[1]['@odata.type'], '#microsoft.graph.participantInfo', 'the second target keeps the type it was sent with');

    const established = await hook.waitForState(c.id, 'established');
    assertState(established, c, 'established');
    const full = await hook.waitFor(
      (r) => r.n.resourceUrl === `/communications/calls/${c.id}/participants` && (r.n.resourceData as Json[]).filter((p) => p.info?.identity?.user).length === 2,
      5000,
      'a roster with both users',
    );
    const list = assertRoster(full, c);
    assert.equal(list.length, 3);
    assertBotEntry(list, c, applicationIdentity(), false);
    for (const u of [user1, user2]) {
      const entry = list.find((p) => p.info.identity.user?.id === u.id);
      assert.ok(entry, `${u.displayName} in the roster`);
      assertMatches(entry, { info: { identity: { user: { '@odata.type': '#microsoft.graph.identity', id: u.id, displayName: u.displayName } } }, isInLobby: false });
      assert.ok((entry.mediaStreams as Json[]).some((s) => s.mediaType === 'audio' && s.direction === 'sendReceive'));
    }

    const kinds = hook.forCall(c.id).map(kindOf);
    assert.deepEqual(kinds.slice(0, 2), ['establishing', 'established']);
    assert.ok(kinds.slice(2).every((k) => k === 'roster'), `only roster notifications follow: ${kinds.join(', ')}`);
    for (const r of hook.forCall(c.id).slice(2)) assertRoster(r, c);

    // The bot leaves (only the bot: it is a group call); then one user hangs up, which ends the call.
    await hangUp(c);
    assert.deepEqual(hook.forCall(c.id).map(kindOf).slice(-2), ['terminating', 'terminated']);
    const u1 = await simCallOf(user1.id, c.body.serverCallId);
    assert.equal(u1.state, 'connected', 'the users stay connected when the bot leaves a group call');
    await simHangUp(user1.id, u1.id);
    await until('user2 ended', async () => (await simCallOf(user2.id, c.body.serverCallId)).state === 'ended');
    await verifyTokens(c);
  });
}

// ---------------------------------------------------------------------------------- meetings

for (const n of [5, 6, 7] as const) {
  const what = n === 5 ? 'scheduled meeting with service hosted media' : n === 6 ? 'scheduled meeting with app hosted media' : 'channel meeting with service hosted media';
  test(`example ${n}: join ${what}: establishing → established → roster with John and the bot`, async () => {
    const johnCall = await johnJoins(THREADS[n]);
    const seedThread = n === 7 ? SEED.channelThread : SEED.scheduledThread;
    const c = await create(n, { [seedThread]: THREADS[n] });
    checkResponse(c);
    assert.deepEqual(c.body.targets, []);
    assertMatches(c.body.chatInfo, {
      '@odata.type': '#microsoft.graph.chatInfo',
      threadId: THREADS[n],
      messageId: n === 7 ? '1533758867081' : '0',
      replyChainMessageId: null,
    });
    assertMatches(c.body.meetingInfo, {
      '@odata.type': '#microsoft.graph.organizerMeetingInfo',
      organizer: {
        '@odata.type': '#microsoft.graph.identitySet',
        user: { '@odata.type': '#microsoft.graph.identity', id: bob.id, tenantId: t.tenantId, displayName: 'Bob' },
      },
      allowConversationWithoutHost: true,
    });

    const roster = await hook.waitFor((r) => r.n.resourceUrl === `/communications/calls/${c.id}/participants`, 5000, 'the roster');
    const recs = hook.forCall(c.id);
    assert.deepEqual(recs.map(kindOf), ['establishing', 'established', 'roster']);
    assertState(recs[0]!, c, 'establishing');
    assertState(recs[1]!, c, 'established');
    const list = assertRoster(roster, c);
    assert.equal(list.length, 2, JSON.stringify(list));
    assertMatches(list[0], { info: { identity: { user: { '@odata.type': '#microsoft.graph.identity', id: john.id, displayName: 'John' } } }, isInLobby: false });
    assertBotEntry(list, c, applicationIdentity(), false);
    assert.equal(list[1]!.id, c.body.myParticipantId);

    await hangUp(c);
    assert.deepEqual(hook.forCall(c.id).map(kindOf), ['establishing', 'established', 'roster', 'terminating', 'terminated']);
    await simHangUp(john.id, johnCall);
    await verifyTokens(c);
  });
}

test('example 8: join a channel meeting as a guest: held in the lobby, admitted through the admin API, then established', async () => {
  const johnCall = await johnJoins(THREADS[8]);
  const c = await create(8, { [SEED.channelThread]: THREADS[8] });
  checkResponse(c);
  assertMatches(c.body.source.identity, { guest: { '@odata.type': '#microsoft.graph.identity', displayName: 'Guest User', id: 'd7a3b999-17ac-4bca-9e77-e6a730d2ec2e' } });

  // In the lobby the bot sees only itself, isInLobby true (the seed's roster notification).
  const lobby = await hook.waitFor((r) => r.n.resourceUrl === `/communications/calls/${c.id}/participants`, 5000, 'the lobby roster');
  const lobbyList = assertRoster(lobby, c);
  assert.equal(lobbyList.length, 1, `only the guest bot before admission: ${JSON.stringify(lobbyList)}`);
  assertBotEntry(lobbyList, c, { guest: { '@odata.type': '#microsoft.graph.identity', displayName: 'Guest User', id: 'd7a3b999-17ac-4bca-9e77-e6a730d2ec2e' } }, true);
  assert.deepEqual(hook.forCall(c.id).map(kindOf), ['establishing', 'roster']);
  assertState(hook.forCall(c.id)[0]!, c, 'establishing');
  const waiting = await h.request('GET', `/beta/communications/calls/${c.id}`, { token: t.token });
  assert.equal(waiting.status, 200);
  assert.equal(waiting.body.state, 'establishing', 'the call waits in the lobby');

  const admit = await h.admin('POST', `/participants/${c.body.myParticipantId}/admit`);
  assert.equal(admit.status, 200, JSON.stringify(admit.body));
  assertMatches(admit.body, { '@odata.type': '#microsoft.graph.participant', id: c.body.myParticipantId, isInLobby: false });

  const established = await hook.waitForState(c.id, 'established');
  assertState(established, c, 'established');
  // Once admitted, the bot receives the meeting's roster: John and itself.
  const full = await hook.waitFor((r) => r !== lobby && r.n.resourceUrl === `/communications/calls/${c.id}/participants`, 5000, 'the roster after admission');
  const list = assertRoster(full, c);
  assert.equal(list.length, 2, JSON.stringify(list));
  assertMatches(list.find((p) => p.id !== c.body.myParticipantId), { info: { identity: { user: { id: john.id } } }, isInLobby: false });
  assertBotEntry(list, c, { guest: { id: 'd7a3b999-17ac-4bca-9e77-e6a730d2ec2e' } }, false);
  assert.deepEqual(hook.forCall(c.id).map(kindOf), ['establishing', 'roster', 'established', 'roster']);

  await hangUp(c);
  assert.deepEqual(hook.forCall(c.id).map(kindOf), ['establishing', 'roster', 'established', 'roster', 'terminating', 'terminated']);
  await simHangUp(john.id, johnCall);
  await verifyTokens(c);
});

// ---------------------------------------------------------------------------------- PSTN

for (const n of [9, 10]) {
  const media = n === 9 ? 'service hosted media' : 'application hosted media';
  test(`example ${n}: peer-to-peer PSTN call from an application instance with ${media}: the number's owner answers`, async () => {
    const c = await create(n);
    checkResponse(c);
    assertMatches(c.body.source.identity, {
      '@odata.type': '#microsoft.graph.identitySet',
      applicationInstance: { '@odata.type': '#microsoft.graph.identity', displayName: 'Calling Bot', id: t.instanceId },
    });
    assertMatches(c.body.targets[0].identity, { phone: { '@odata.type': '#microsoft.graph.identity', id: SEED.phone } });

    const established = await hook.waitForState(c.id, 'established');
    assertState(hook.forCall(c.id)[0]!, c, 'establishing');
    assertState(established, c, 'established');
    assert.deepEqual(hook.forCall(c.id).map(kindOf), ['establishing', 'established']);
    assert.equal((await simCallOf(pstnUserId, c.body.serverCallId)).state, 'connected');

    await hangUp(c);
    assert.deepEqual(hook.forCall(c.id).map(kindOf), ['establishing', 'established', 'terminating', 'terminated']);
    await verifyTokens(c);
  });
}

test('example 9 to a number nobody owns: the call ends with a deleted terminated notification, 480', async () => {
  const nobody = nextNumber();
  const c = await create(9, { [SEED.phone]: nobody });
  checkResponse(c);
  assertMatches(c.body.targets[0].identity, { phone: { id: nobody } });

  const end = await hook.waitForState(c.id, 'terminated');
  assertState(end, c, 'terminated');
  assertMatches(end.n.resourceData.resultInfo, { '@odata.type': '#microsoft.graph.resultInfo', code: 480, subcode: 10037, message: aString });
  assert.deepEqual(hook.forCall(c.id).map(kindOf), ['establishing', 'terminated']);
  assertState(hook.forCall(c.id)[0]!, c, 'establishing');

  // Already ended: nothing is left to hang up.
  const del = await h.request('DELETE', `/beta/communications/calls/${c.id}`, { token: t.token });
  assert.equal(del.status, 404);
  assert.equal(del.body.error.code, '8522');
  await verifyTokens(c);
});

test('seed 004: the suite leaves no call running', async () => {
  const calls = await h.admin('GET', '/calls');
  assert.equal(calls.status, 200);
  assert.deepEqual(calls.body.value, [], JSON.stringify(calls.body.value));
});
