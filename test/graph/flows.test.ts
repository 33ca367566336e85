// Call flows of the Graph calls API against scripted virtual users: group calls, call outcomes,
// transfer, invite (with replacesCallId), participants, recording status, keepAlive, DTMF and
// meetings with their lobby. Each test asserts the notifications the bot's webhook receives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Webhook, createTenant, harnessAndWebhook, type Json, type Recorded, type TestTenant } from '../helpers/harness.ts';
import { eventually, sleep } from '../helpers/wait.ts';

const CALLS = '/v1.0/communications/calls';
const SERVICE_MEDIA = { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' };

let h: Harness;
let hook: Webhook;
harnessAndWebhook((hh, wh) => ((h = hh), (hook = wh)));

// ---------------------------------------------------------------- helpers

const userTarget = (id: string) => ({ identity: { '@odata.type': '#microsoft.graph.identitySet', user: { id } } });

async function place(hx: Harness, wh: Webhook, t: TestTenant, userIds: string[]): Promise<string> {
  const res = await hx.request('POST', CALLS, {
    token: t.token,
    body: { callbackUri: wh.url, targets: userIds.map(userTarget), requestedModalities: ['audio'], mediaConfig: SERVICE_MEDIA },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id;
}

async function placeEstablished(t: TestTenant, userIds: string[]): Promise<string> {
  const id = await place(h, hook, t, userIds);
  await hook.waitForState(id, 'established');
  return id;
}

function action(callId: string, name: string, t: TestTenant, body: unknown = {}, hx = h) {
  return hx.request('POST', `${CALLS}/${callId}/${name}`, { token: t.token, body });
}

const rosterUrl = (callId: string) => `/communications/calls/${callId}/participants`;
const isRoster = (callId: string) => (r: Recorded) => r.n.resourceUrl === rosterUrl(callId);
const rosters = (callId: string, wh = hook) => wh.received.filter(isRoster(callId));

/** How many notifications the webhook has: later waits can ignore what came before. */
const mark = (wh = hook) => wh.received.length;

/** Waits for a roster notification of the call (received at or after `since`) whose participant list satisfies `pred`. */
function waitRoster(callId: string, pred: (list: Json[]) => boolean, what: string, since = 0, wh = hook): Promise<Recorded> {
  return wh.waitFor(
    (r) => wh.received.indexOf(r) >= since && isRoster(callId)(r) && Array.isArray(r.n.resourceData) && pred(r.n.resourceData),
    5000,
    `roster of ${callId}: ${what}`,
  );
}

const userIdOf = (p: Json): string | undefined => p.info?.identity?.user?.id;
const appIdOf = (p: Json): string | undefined => p.info?.identity?.application?.id;
const findUser = (list: Json[], userId: string) => list.find((p) => userIdOf(p) === userId);
const findBot = (list: Json[], t: TestTenant) => list.find((p) => appIdOf(p) === t.appId);

/** The states of the call's state notifications, in order. */
const states = (callId: string, wh = hook) =>
  wh.forCall(callId).filter((r) => r.n.resourceUrl === `/communications/calls/${callId}`).map((r) => r.n.resourceData.state as string).filter(Boolean);

const resultOf = (r: Recorded) => [r.n.resourceData.resultInfo?.code, r.n.resourceData.resultInfo?.subcode];

async function getCall(callId: string, t: TestTenant, hx = h) {
  return hx.request('GET', `${CALLS}/${callId}`, { token: t.token });
}

/** The virtual user's own record of the call with this serverCallId (its simulator view). */
async function simCall(userId: string, serverCallId: string, hx = h): Promise<Json | undefined> {
  const res = await hx.sim('GET', `/users/${userId}/calls`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body.value as Json[]).filter((c) => c.serverCallId === serverCallId).at(-1);
}

async function simEvents(userId: string, hx = h): Promise<Json[]> {
  const res = await hx.sim('GET', `/users/${userId}/events`);
  assert.equal(res.status, 200);
  return res.body.value;
}

async function withHarness(config: Json, fn: (hx: Harness, wh: Webhook) => Promise<void>): Promise<void> {
  const hx = await Harness.start({ config });
  const wh = await new Webhook().start();
  try {
    await fn(hx, wh);
  } finally {
    await hx.stop();
    await wh.stop();
  }
}

// ---------------------------------------------------------------- group calls

test('group call with two users: established, roster as they join, the bot leaves alone on DELETE', async () => {
  const t = await createTenant(h, { webhook: hook.url, users: [{}, {}] });
  const [u1, u2] = t.users.map((u) => u.id) as [string, string];
  const id = await place(h, hook, t, [u1, u2]);
  await hook.waitForState(id, 'established');
  const full = await waitRoster(id, (l) => Boolean(findUser(l, u1) && findUser(l, u2)), 'both users connected');
  const list = full.n.resourceData as Json[];
  assert.equal(full.n.changeType, 'updated');
  assert.equal(list.length, 3);
  assert.ok(findBot(list, t), 'the roster includes the bot');
  for (const p of list) {
    assert.equal(p['@odata.type'], '#microsoft.graph.participant');
    assert.equal(p.isInLobby, false);
  }
  // Every roster notification is an array of participants that includes the bot.
  for (const r of rosters(id)) {
    assert.ok(Array.isArray(r.n.resourceData));
    assert.ok(findBot(r.n.resourceData, t), 'every roster includes the bot');
  }
  // The roster grew as the users joined: the first one shows the bot without both users.
  assert.ok(rosters(id).length >= 2);
  assert.ok(!(findUser(rosters(id)[0]!.n.resourceData, u1) && findUser(rosters(id)[0]!.n.resourceData, u2)));
  const serverCallId = (await getCall(id, t)).body.serverCallId;

  const del = await h.request('DELETE', `${CALLS}/${id}`, { token: t.token });
  assert.equal(del.status, 204);
  const end = await hook.waitForState(id, 'terminated');
  assert.equal(end.n.changeType, 'deleted');
  assert.deepEqual(resultOf(end), [200, 7000]);
  assert.deepEqual(states(id), ['establishing', 'established', 'terminating', 'terminated']);

  // Only the bot left: two participants remain, so the users' calls stay connected.
  const c1 = await simCall(u1, serverCallId);
  const c2 = await simCall(u2, serverCallId);
  assert.equal(c1?.state, 'connected');
  assert.equal(c2?.state, 'connected');
  // With fewer than two participants left a group call ends: user 1 hangs up, user 2's call ends.
  assert.equal((await h.sim('POST', `/users/${u1}/calls/${c1!.id}/hangup`)).status, 200);
  const c2end = await eventually(async () => {
    const c = await simCall(u2, serverCallId);
    return c?.state === 'ended' ? c : null;
  }, 'user 2 call ended');
  assert.deepEqual([c2end.result.code, c2end.result.subcode], [200, 5002]);
});

test('a group call with six targets is refused with 400', async () => {
  const t = await createTenant(h, { webhook: hook.url, users: [{}, {}, {}, {}, {}, {}] });
  const res = await h.request('POST', CALLS, {
    token: t.token,
    body: { callbackUri: hook.url, targets: t.users.map((u) => userTarget(u.id)), requestedModalities: ['audio'], mediaConfig: SERVICE_MEDIA },
  });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'BadRequest');
  assert.match(res.body.error.message, /targets/);
  assert.match(res.body.error.message, /at most 5/);
});

// ---------------------------------------------------------------- outcomes of a P2P call

test('P2P outcomes: busy → 486, unreachable → 480/10037, peer hangs up → 200/18503', async () => {
  const t = await createTenant(h, {
    webhook: hook.url,
    users: [{ behaviour: { answer: 'reject', rejectReason: 'busy' } }, { behaviour: { answer: 'unreachable' } }, {}],
  });
  const [busy, unreachable, auto] = t.users.map((u) => u.id) as [string, string, string];

  const a = await place(h, hook, t, [busy]);
  const aEnd = await hook.waitForState(a, 'terminated');
  assert.equal(aEnd.n.changeType, 'deleted');
  assert.equal(aEnd.n.resourceData.resultInfo.code, 486);
  assert.deepEqual(states(a), ['establishing', 'terminated']);
  assert.equal((await getCall(a, t)).status, 404);

  const b = await place(h, hook, t, [unreachable]);
  const bEnd = await hook.waitForState(b, 'terminated');
  assert.equal(bEnd.n.changeType, 'deleted');
  assert.deepEqual(resultOf(bEnd), [480, 10037]);

  const c = await placeEstablished(t, [auto]);
  const serverCallId = (await getCall(c, t)).body.serverCallId;
  const sc = await simCall(auto, serverCallId);
  assert.equal(sc?.state, 'connected');
  assert.equal((await h.sim('POST', `/users/${auto}/calls/${sc!.id}/hangup`)).status, 200);
  const cEnd = await hook.waitForState(c, 'terminated');
  assert.equal(cEnd.n.changeType, 'deleted');
  assert.deepEqual(resultOf(cEnd), [200, 18503]);
  assert.deepEqual(states(c), ['establishing', 'established', 'terminated']);
});

test('P2P outcome: a user that never answers rings out with 408 (ringTimeoutMs 300)', async () => {
  await withHarness({ calls: { ringTimeoutMs: 300 } }, async (hx, wh) => {
    const t = await createTenant(hx, { webhook: wh.url, users: [{ behaviour: { answer: 'never' } }] });
    const started = Date.now();
    const id = await place(hx, wh, t, [t.users[0]!.id]);
    const end = await wh.waitForState(id, 'terminated', 3000);
    assert.ok(Date.now() - started >= 250, 'rang for about ringTimeoutMs');
    assert.equal(end.n.changeType, 'deleted');
    assert.equal(end.n.resourceData.resultInfo.code, 408);
    const calls = (await hx.sim('GET', `/users/${t.users[0]!.id}/calls`)).body.value as Json[];
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.state, 'ended');
    assert.equal(calls[0]!.result.code, 408);
  });
});

// ---------------------------------------------------------------- transfer

test('blind transfer: transferring, transferAccepted, terminated 200/7015; the caller is now with the target', async () => {
  const t = await createTenant(h, { webhook: hook.url, users: [{}, {}] });
  const [u1, u2] = t.users.map((u) => u.id) as [string, string];
  const id = await placeEstablished(t, [u1]);
  const serverCallId = (await getCall(id, t)).body.serverCallId;
  const res = await action(id, 'transfer', t, { transferTarget: { ...userTarget(u2), endpointType: 'default' } });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const end = await hook.waitForState(id, 'terminated');
  assert.equal(end.n.changeType, 'deleted');
  assert.deepEqual(resultOf(end), [200, 7015]);
  assert.deepEqual(states(id), ['establishing', 'established', 'transferring', 'transferAccepted', 'terminated']);

  // The first user's call goes on, now with the second user.
  const c2 = await eventually(async () => {
    const c = await simCall(u2, serverCallId);
    return c?.state === 'connected' ? c : null;
  }, 'user 2 connected');
  const c1 = await simCall(u1, serverCallId);
  assert.equal(c1?.state, 'connected');
  const ev = await simEvents(u1);
  const answered = ev.filter((e) => e.callId === c1!.id && e.type === 'answered');
  assert.equal(answered.at(-1)?.detail?.participantId, c2.id, 'user 1 saw user 2 connect');
  assert.ok(!ev.some((e) => e.callId === c1!.id && e.type === 'ended'));
  await h.sim('POST', `/users/${u1}/calls/${c1!.id}/hangup`);
});

test('a transfer to a user who rejects goes back to established with 500/7000, and the call stays usable', async () => {
  const t = await createTenant(h, { webhook: hook.url, users: [{}, { behaviour: { answer: 'reject', rejectReason: 'declined' } }] });
  const [u1, u2] = t.users.map((u) => u.id) as [string, string];
  const id = await placeEstablished(t, [u1]);
  const serverCallId = (await getCall(id, t)).body.serverCallId;
  const res = await action(id, 'transfer', t, { transferTarget: userTarget(u2) });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const back = await hook.waitFor(
    (r) => r.n.resourceUrl === `/communications/calls/${id}` && r.n.resourceData.state === 'established' && Boolean(r.n.resourceData.resultInfo),
    5000,
    'established again with a resultInfo',
  );
  assert.deepEqual(resultOf(back), [500, 7000]);
  assert.deepEqual(states(id), ['establishing', 'established', 'transferring', 'established']);

  // Still usable: GET, keepAlive, an operation, the user still connected, then a normal hang-up.
  const got = await getCall(id, t);
  assert.equal(got.status, 200);
  assert.equal(got.body.state, 'established');
  assert.equal((await action(id, 'keepAlive', t)).status, 200);
  const sub = await action(id, 'subscribeToTone', t);
  assert.equal(sub.status, 200);
  assert.equal(sub.body.status, 'completed');
  assert.equal((await simCall(u1, serverCallId))?.state, 'connected');
  assert.equal((await simCall(u2, serverCallId))?.state, 'ended');
  assert.equal((await h.request('DELETE', `${CALLS}/${id}`, { token: t.token })).status, 204);
  const end = await hook.waitForState(id, 'terminated');
  assert.deepEqual(resultOf(end), [200, 7000]);
});

// ---------------------------------------------------------------- invite

test('invite into a group call: running operation, completed notification, roster with the invitee; a decline fails it', async () => {
  const t = await createTenant(h, { webhook: hook.url, users: [{}, {}, {}, { behaviour: { answer: 'reject', rejectReason: 'declined' } }] });
  const [u1, u2, u3, u4] = t.users.map((u) => u.id) as [string, string, string, string];
  const id = await placeEstablished(t, [u1, u2]);
  await waitRoster(id, (l) => Boolean(findUser(l, u1) && findUser(l, u2)), 'both users');

  const inv = await h.request('POST', `${CALLS}/${id}/participants/invite`, {
    token: t.token,
    body: { participants: [{ '@odata.type': '#microsoft.graph.invitationParticipantInfo', ...userTarget(u3) }], clientContext: 'ctx-invite' },
  });
  assert.equal(inv.status, 200, JSON.stringify(inv.body));
  assert.equal(inv.body['@odata.type'], '#microsoft.graph.inviteParticipantsOperation');
  assert.equal(inv.body.status, 'running');
  assert.equal(inv.body.clientContext, 'ctx-invite');
  assert.equal(inv.headers.get('location'), `${h.url}${CALLS}/${id}/operations/${inv.body.id}`);
  assert.equal(inv.body.participants[0].identity.user.id, u3);

  const opUrl = `/communications/calls/${id}/operations/${inv.body.id}`;
  const done = await hook.waitFor((r) => r.n.resourceUrl === opUrl, 5000, 'invite operation notification');
  assert.equal(done.n.changeType, 'deleted');
  assert.equal(done.n.resourceData['@odata.type'], '#microsoft.graph.inviteParticipantsOperation');
  assert.equal(done.n.resourceData.status, 'completed');
  assert.equal(done.n.resourceData.clientContext, 'ctx-invite');
  const withU3 = await waitRoster(id, (l) => Boolean(findUser(l, u3)), 'the invitee');
  assert.equal((withU3.n.resourceData as Json[]).length, 4);
  const op = await h.request('GET', `${CALLS}/${id}/operations/${inv.body.id}`, { token: t.token });
  assert.equal(op.status, 200);
  assert.equal(op.body.status, 'completed');

  // An invitee who declines fails the operation; the call goes on.
  const inv2 = await h.request('POST', `${CALLS}/${id}/participants/invite`, { token: t.token, body: { participants: [userTarget(u4)] } });
  assert.equal(inv2.status, 200, JSON.stringify(inv2.body));
  assert.equal(inv2.body.status, 'running');
  const failed = await hook.waitFor((r) => r.n.resourceUrl === `/communications/calls/${id}/operations/${inv2.body.id}`, 5000, 'failed invite');
  assert.equal(failed.n.changeType, 'deleted');
  assert.equal(failed.n.resourceData.status, 'failed');
  assert.ok(failed.n.resourceData.resultInfo.code >= 400);
  assert.equal((await getCall(id, t)).body.state, 'established');
  const list = await h.request('GET', `${CALLS}/${id}/participants`, { token: t.token });
  assert.equal(list.body.value.length, 4);
  assert.equal(findUser(list.body.value, u4), undefined);
  await h.request('DELETE', `${CALLS}/${id}`, { token: t.token });
});

test('invite with replacesCallId moves the user from a P2P call into the group call; an unknown one is 404', async () => {
  const t = await createTenant(h, { webhook: hook.url, users: [{}, {}, {}] });
  const [u1, u2, u3] = t.users.map((u) => u.id) as [string, string, string];
  const a = await placeEstablished(t, [u1]);
  const aServer = (await getCall(a, t)).body.serverCallId;
  const b = await placeEstablished(t, [u2, u3]);
  const bServer = (await getCall(b, t)).body.serverCallId;
  await waitRoster(b, (l) => Boolean(findUser(l, u2) && findUser(l, u3)), 'both users');

  const unknown = await h.request('POST', `${CALLS}/${b}/participants/invite`, {
    token: t.token,
    body: { participants: [{ ...userTarget(u1), replacesCallId: '00000000-0000-0000-0000-000000000000' }] },
  });
  assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
  assert.equal((await getCall(a, t)).body.state, 'established', 'a failed invite changes nothing');
  // Also refused on the P2P call itself, which stays a P2P call (no escalation to a group call).
  const unknownIntoA = await h.request('POST', `${CALLS}/${a}/participants/invite`, {
    token: t.token,
    body: { participants: [{ ...userTarget(u2), replacesCallId: 'no-such-call' }] },
  });
  assert.equal(unknownIntoA.status, 404, JSON.stringify(unknownIntoA.body));
  assert.equal(unknownIntoA.body.error.code, '8522');
  const kinds = (await h.admin('GET', '/calls')).body.value as Json[];
  assert.equal(kinds.find((c) => c.serverCallId === aServer)?.kind, 'peerToPeer');

  const inv = await h.request('POST', `${CALLS}/${b}/participants/invite`, {
    token: t.token,
    body: { participants: [{ ...userTarget(u1), replacesCallId: a }] },
  });
  assert.equal(inv.status, 200, JSON.stringify(inv.body));
  assert.equal(inv.body['@odata.type'], '#microsoft.graph.inviteParticipantsOperation');
  const done = await hook.waitFor((r) => r.n.resourceUrl === `/communications/calls/${b}/operations/${inv.body.id}`, 5000, 'invite done');
  assert.equal(done.n.resourceData.status, 'completed');
  const roster = await waitRoster(b, (l) => Boolean(findUser(l, u1)), 'the moved user');
  assert.equal((roster.n.resourceData as Json[]).length, 4);
  // Call A ends for the bot.
  const aEnd = await hook.waitForState(a, 'terminated');
  assert.equal(aEnd.n.changeType, 'deleted');
  assert.deepEqual(resultOf(aEnd), [200, 7016]);
  assert.ok(!rosters(a).length, 'call A stayed peer-to-peer: no roster notifications');
  assert.equal((await getCall(a, t)).status, 404);
  // The user now is in B, connected; its call in A is over.
  const inB = await simCall(u1, bServer);
  assert.equal(inB?.state, 'connected');
  assert.equal((await simCall(u1, aServer))?.state, 'ended');
  assert.equal((await getCall(b, t)).body.state, 'established');
  await h.request('DELETE', `${CALLS}/${b}`, { token: t.token });
});

// ---------------------------------------------------------------- participants

test('participants: list, get, mute one, mute and unmute the bot, remove one, unknown ids', async () => {
  const t = await createTenant(h, { webhook: hook.url, users: [{}, {}, {}] });
  const [u1, u2, u3] = t.users.map((u) => u.id) as [string, string, string];
  const id = await placeEstablished(t, [u1, u2, u3]);
  await waitRoster(id, (l) => l.length === 4, 'everyone');
  const serverCallId = (await getCall(id, t)).body.serverCallId;

  const list = await h.request('GET', `${CALLS}/${id}/participants`, { token: t.token });
  assert.equal(list.status, 200);
  assert.equal(list.body.value.length, 4);
  const bot = findBot(list.body.value, t)!;
  assert.equal(bot.id, (await getCall(id, t)).body.myParticipantId);
  const p1 = findUser(list.body.value, u1)!;
  const p3 = findUser(list.body.value, u3)!;
  const one = await h.request('GET', `${CALLS}/${id}/participants/${p1.id}`, { token: t.token });
  assert.equal(one.status, 200);
  assert.equal(one.body.id, p1.id);
  assert.equal(userIdOf(one.body), u1);
  assert.equal((await h.request('GET', `${CALLS}/${id}/participants/nope`, { token: t.token })).status, 404);

  // Mute a participant.
  const mute = await h.request('POST', `${CALLS}/${id}/participants/${p1.id}/mute`, { token: t.token, body: { clientContext: 'm1' } });
  assert.equal(mute.status, 200, JSON.stringify(mute.body));
  assert.equal(mute.body['@odata.type'], '#microsoft.graph.muteParticipantOperation');
  assert.equal(mute.body.status, 'completed');
  assert.equal(mute.headers.get('location'), `${h.url}${CALLS}/${id}/operations/${mute.body.id}`);
  const muted = await waitRoster(id, (l) => findUser(l, u1)?.isMuted === true, 'user 1 muted');
  assert.equal(findUser(muted.n.resourceData, u1)!.mediaStreams[0].serverMuted, true);
  assert.equal(findUser(muted.n.resourceData, u2)!.isMuted, false);
  const muteUnknown = await h.request('POST', `${CALLS}/${id}/participants/nope/mute`, { token: t.token, body: {} });
  assert.equal(muteUnknown.status, 404, JSON.stringify(muteUnknown.body));

  // Mute and unmute the bot itself.
  const self = await action(id, 'mute', t, { clientContext: 'self' });
  assert.equal(self.status, 200);
  assert.equal(self.body['@odata.type'], '#microsoft.graph.muteParticipantOperation');
  assert.equal(self.body.status, 'completed');
  await waitRoster(id, (l) => findBot(l, t)?.isMuted === true, 'bot muted');
  const beforeUnmute = mark();
  const un = await action(id, 'unmute', t, {});
  assert.equal(un.status, 200);
  assert.equal(un.body['@odata.type'], '#microsoft.graph.unmuteParticipantOperation');
  assert.equal(un.body.status, 'completed');
  await waitRoster(id, (l) => findBot(l, t)?.isMuted === false, 'bot unmuted', beforeUnmute);

  // Remove a participant.
  const beforeRemove = mark();
  const del = await h.request('DELETE', `${CALLS}/${id}/participants/${p3.id}`, { token: t.token });
  assert.equal(del.status, 204, JSON.stringify(del.body));
  const without = await waitRoster(id, (l) => l.length === 3 && !findUser(l, u3), 'user 3 removed', beforeRemove);
  assert.ok(findBot(without.n.resourceData, t));
  const c3 = await eventually(async () => {
    const c = await simCall(u3, serverCallId);
    return c?.state === 'ended' ? c : null;
  }, 'user 3 call ended');
  assert.deepEqual([c3.result.code, c3.result.subcode], [200, 5000]);
  const delUnknown = await h.request('DELETE', `${CALLS}/${id}/participants/nope`, { token: t.token });
  assert.equal(delUnknown.status, 404, JSON.stringify(delUnknown.body));
  const delAgain = await h.request('DELETE', `${CALLS}/${id}/participants/${p3.id}`, { token: t.token });
  assert.equal(delAgain.status, 404);

  // Operations returned completed get no notification.
  assert.equal(hook.forCall(id).filter((r) => r.n.resourceUrl.includes('/operations/')).length, 0);
  await h.request('DELETE', `${CALLS}/${id}`, { token: t.token });
});

// ---------------------------------------------------------------- recording status

test('updateRecordingStatus: completed operation and the roster shows the bot recording; a bogus status is 400', async () => {
  const t = await createTenant(h, { webhook: hook.url, users: [{}, {}] });
  const [u1, u2] = t.users.map((u) => u.id) as [string, string];
  const id = await placeEstablished(t, [u1, u2]);
  await waitRoster(id, (l) => l.length === 3, 'everyone');
  const res = await action(id, 'updateRecordingStatus', t, { status: 'recording', clientContext: 'rec' });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body['@odata.type'], '#microsoft.graph.updateRecordingStatusOperation');
  assert.equal(res.body.status, 'completed');
  assert.equal(res.body.clientContext, 'rec');
  const r = await waitRoster(id, (l) => findBot(l, t)?.recordingInfo?.recordingStatus === 'recording', 'bot recording');
  assert.equal(findBot(r.n.resourceData, t)!.recordingInfo.initiator.application.id, t.appId);
  const bogus = await action(id, 'updateRecordingStatus', t, { status: 'bogus' });
  assert.equal(bogus.status, 400);
  assert.match(bogus.body.error.message, /status/);
  await h.request('DELETE', `${CALLS}/${id}`, { token: t.token });
});

// ---------------------------------------------------------------- keepAlive

test('keepAlive: 200 on a live call', async () => {
  const t = await createTenant(h, { webhook: hook.url, users: [{}] });
  const id = await placeEstablished(t, [t.users[0]!.id]);
  const res = await action(id, 'keepAlive', t);
  assert.equal(res.status, 200);
  await h.request('DELETE', `${CALLS}/${id}`, { token: t.token });
});

test('keepAlive: a call without one ends with 408/8537, one kept alive lives on; keepAlive on an ended call is 404', async () => {
  await withHarness({ calls: { keepAliveTimeoutMs: 1000 } }, async (hx, wh) => {
    const t = await createTenant(hx, { webhook: wh.url, users: [{}, {}] });
    const quiet = await place(hx, wh, t, [t.users[0]!.id]);
    const alive = await place(hx, wh, t, [t.users[1]!.id]);
    const started = Date.now();
    let keepAlives = 0;
    const pinger = setInterval(() => {
      void action(alive, 'keepAlive', t, {}, hx).then((r) => {
        if (r.status === 200) keepAlives++;
      });
    }, 300);
    try {
      const end = await wh.waitForState(quiet, 'terminated', 4000);
      assert.equal(end.n.changeType, 'deleted');
      assert.deepEqual(resultOf(end), [408, 8537]);
      assert.ok(Date.now() - started >= 900);
      await sleep(Math.max(0, 1600 - (Date.now() - started)));
      const got = await getCall(alive, t, hx);
      assert.equal(got.status, 200);
      assert.equal(got.body.state, 'established');
      assert.ok(keepAlives >= 3, `keepAlives sent: ${keepAlives}`);
    } finally {
      clearInterval(pinger);
    }
    assert.ok(!wh.forCall(alive).some((r) => r.n.resourceData?.state === 'terminated'));
    const late = await action(quiet, 'keepAlive', t, {}, hx);
    assert.equal(late.status, 404);
    assert.equal(late.body.error.code, '8522');
  });
});

// ---------------------------------------------------------------- tones

test('subscribeToTone is completed at once; DTMF from the user arrives as toneInfo updates', async () => {
  const t = await createTenant(h, { webhook: hook.url, users: [{}] });
  const u1 = t.users[0]!.id;
  const id = await placeEstablished(t, [u1]);
  const sub = await action(id, 'subscribeToTone', t, { clientContext: 'tones' });
  assert.equal(sub.status, 200, JSON.stringify(sub.body));
  assert.equal(sub.body['@odata.type'], '#microsoft.graph.subscribeToToneOperation');
  assert.equal(sub.body.status, 'completed');
  assert.equal(sub.headers.get('location'), `${h.url}${CALLS}/${id}/operations/${sub.body.id}`);

  const call = (await getCall(id, t)).body;
  const sc = await simCall(u1, call.serverCallId);
  const parts = (await h.request('GET', `${CALLS}/${id}/participants`, { token: t.token })).body.value as Json[];
  const userPid = findUser(parts, u1)!.id;
  assert.equal(sc!.id, userPid, 'the simulator names the call by the user\'s participant id');
  const dtmf = await h.sim('POST', `/users/${u1}/calls/${sc!.id}/dtmf`, { tones: '1#' });
  assert.equal(dtmf.status, 200, JSON.stringify(dtmf.body));
  assert.deepEqual(dtmf.body.sent, ['tone1', 'pound']);

  const toneOf = (r: Recorded) => r.n.resourceUrl === `/communications/calls/${id}` && r.n.resourceData.toneInfo;
  await hook.waitFor((r) => toneOf(r)?.sequenceId === 2, 5000, 'second tone');
  const tones = hook.forCall(id).filter(toneOf);
  assert.equal(tones.length, 2);
  assert.deepEqual(tones.map((r) => r.n.changeType), ['updated', 'updated']);
  assert.deepEqual(
    tones.map((r) => [r.n.resourceData.toneInfo.sequenceId, r.n.resourceData.toneInfo.tone, r.n.resourceData.toneInfo.participantId]),
    [[1, 'tone1', userPid], [2, 'pound', userPid]],
  );
  assert.equal(hook.forCall(id).filter((r) => r.n.resourceUrl.includes('/operations/')).length, 0, 'no notification for subscribeToTone');
  const after = await getCall(id, t);
  assert.equal(after.body.toneInfo.sequenceId, 2);
  await h.request('DELETE', `${CALLS}/${id}`, { token: t.token });
});

// ---------------------------------------------------------------- meetings

const joinBody = (wh: Webhook, meetingInfo: Json) => ({
  callbackUri: wh.url,
  requestedModalities: ['audio'],
  mediaConfig: SERVICE_MEDIA,
  meetingInfo,
});

test('meetings: join by token and by joinMeetingId (+passcode); errors; a user joining shows in the roster', async () => {
  const t = await createTenant(h, {
    webhook: hook.url,
    users: [{}, {}],
    meetings: [
      { id: 'flows-m1', threadId: '19:meeting_flows-m1@thread.v2', joinToken: 'flows-token-1', subject: 'Token meeting' },
      { id: 'flows-m2', threadId: '19:meeting_flows-m2@thread.v2', joinMeetingId: '987654321', passcode: 'secret7' },
    ],
  });
  const u2 = t.users[1]!.id;

  const byToken = await h.request('POST', CALLS, {
    token: t.token,
    body: joinBody(hook, { '@odata.type': '#microsoft.graph.tokenMeetingInfo', token: 'flows-token-1' }),
  });
  assert.equal(byToken.status, 201, JSON.stringify(byToken.body));
  const m1 = byToken.body.id;
  const est = await hook.waitForState(m1, 'established');
  assert.equal(est.n.resourceData.chatInfo.threadId, '19:meeting_flows-m1@thread.v2');
  const first = await waitRoster(m1, (l) => Boolean(findBot(l, t)), 'the bot');
  assert.equal(findBot(first.n.resourceData, t)!.isInLobby, false);

  // A virtual user joins the same meeting through the simulator.
  const joined = await h.sim('POST', `/users/${u2}/calls`, { meeting: { id: 'flows-m1' } });
  assert.equal(joined.status, 201, JSON.stringify(joined.body));
  const withUser = await waitRoster(m1, (l) => Boolean(findUser(l, u2)), 'the user');
  assert.equal(findUser(withUser.n.resourceData, u2)!.isInLobby, false);
  assert.equal(findUser(withUser.n.resourceData, u2)!.id, joined.body.id);
  assert.equal(joined.body.serverCallId, (await getCall(m1, t)).body.serverCallId);
  await eventually(async () => (await h.sim('GET', `/users/${u2}/calls/${joined.body.id}`)).body.state === 'connected', 'user connected');

  const byId = await h.request('POST', CALLS, {
    token: t.token,
    body: joinBody(hook, { '@odata.type': '#microsoft.graph.joinMeetingIdMeetingInfo', joinMeetingId: '987 654 321', passcode: 'secret7' }),
  });
  assert.equal(byId.status, 201, JSON.stringify(byId.body));
  await hook.waitForState(byId.body.id, 'established');

  const wrong = await h.request('POST', CALLS, {
    token: t.token,
    body: joinBody(hook, { '@odata.type': '#microsoft.graph.joinMeetingIdMeetingInfo', joinMeetingId: '987654321', passcode: 'nope' }),
  });
  assert.equal(wrong.status, 400);
  assert.match(wrong.body.error.message, /meetingInfo\.passcode/);
  const unknownId = await h.request('POST', CALLS, {
    token: t.token,
    body: joinBody(hook, { '@odata.type': '#microsoft.graph.joinMeetingIdMeetingInfo', joinMeetingId: '111111111' }),
  });
  assert.equal(unknownId.status, 404);
  const unknownToken = await h.request('POST', CALLS, {
    token: t.token,
    body: joinBody(hook, { '@odata.type': '#microsoft.graph.tokenMeetingInfo', token: 'no-such-token' }),
  });
  assert.equal(unknownToken.status, 404);

  await h.request('DELETE', `${CALLS}/${m1}`, { token: t.token });
  await h.request('DELETE', `${CALLS}/${byId.body.id}`, { token: t.token });
});

test('meeting lobby: a non-organizer waits in the lobby, the bot sees isInLobby; admit and deny', async () => {
  const t = await createTenant(h, {
    webhook: hook.url,
    users: [{}, {}, {}],
    meetings: [{ id: 'flows-lobby', threadId: '19:meeting_flows-lobby@thread.v2', joinToken: 'flows-lobby-token', lobbyBypass: 'organizer' }],
  });
  const [organizer, u2, u3] = t.users.map((u) => u.id) as [string, string, string];

  // The bot is not the organizer either: it waits in the lobby until admitted.
  const join = await h.request('POST', CALLS, {
    token: t.token,
    body: joinBody(hook, { '@odata.type': '#microsoft.graph.tokenMeetingInfo', token: 'flows-lobby-token' }),
  });
  assert.equal(join.status, 201, JSON.stringify(join.body));
  const id = join.body.id;
  const waiting = await waitRoster(id, (l) => findBot(l, t)?.isInLobby === true, 'bot in lobby');
  assert.equal((waiting.n.resourceData as Json[]).length, 1);
  assert.equal((await getCall(id, t)).body.state, 'establishing');
  const admitBot = await h.admin('POST', `/participants/${join.body.myParticipantId}/admit`);
  assert.equal(admitBot.status, 200, JSON.stringify(admitBot.body));
  await hook.waitForState(id, 'established');

  // The organizer goes straight in.
  const org = await h.sim('POST', `/users/${organizer}/calls`, { meeting: { id: 'flows-lobby' } });
  assert.equal(org.status, 201);
  const withOrg = await waitRoster(id, (l) => Boolean(findUser(l, organizer)), 'organizer');
  assert.equal(findUser(withOrg.n.resourceData, organizer)!.isInLobby, false);

  // Another user waits in the lobby; the bot sees them there.
  const guest = await h.sim('POST', `/users/${u2}/calls`, { meeting: { id: 'flows-lobby' } });
  assert.equal(guest.status, 201, JSON.stringify(guest.body));
  const lobby = await waitRoster(id, (l) => findUser(l, u2)?.isInLobby === true, 'user 2 in lobby');
  const pid = findUser(lobby.n.resourceData, u2)!.id;
  assert.equal(pid, guest.body.id);
  assert.equal((await h.sim('GET', `/users/${u2}/calls/${pid}`)).body.state, 'inLobby');
  const admit = await h.admin('POST', `/participants/${pid}/admit`);
  assert.equal(admit.status, 200, JSON.stringify(admit.body));
  assert.equal(admit.body.isInLobby, false);
  await waitRoster(id, (l) => findUser(l, u2)?.isInLobby === false, 'user 2 admitted');
  await eventually(async () => (await h.sim('GET', `/users/${u2}/calls/${pid}`)).body.state === 'connected', 'user 2 connected');
  assert.equal((await h.admin('POST', `/participants/${pid}/admit`)).status, 404, 'no longer in the lobby');

  // A third one is denied: removed from the roster, its call ends.
  const denied = await h.sim('POST', `/users/${u3}/calls`, { meeting: { id: 'flows-lobby' } });
  const pid3 = denied.body.id;
  await waitRoster(id, (l) => findUser(l, u3)?.isInLobby === true, 'user 3 in lobby');
  const beforeDeny = mark();
  const deny = await h.admin('POST', `/participants/${pid3}/deny`);
  assert.equal(deny.status, 200, JSON.stringify(deny.body));
  const after3 = await waitRoster(id, (l) => !findUser(l, u3) && Boolean(findUser(l, u2)), 'user 3 removed', beforeDeny);
  assert.equal((after3.n.resourceData as Json[]).length, 3);
  const c3 = await eventually(async () => {
    const c = (await h.sim('GET', `/users/${u3}/calls/${pid3}`)).body;
    return c.state === 'ended' ? c : null;
  }, 'user 3 call ended');
  assert.equal(c3.result.code, 403);
  await h.request('DELETE', `${CALLS}/${id}`, { token: t.token });
});
