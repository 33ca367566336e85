// The simulator API itself: virtual users placing calls to each other, answering, rejecting,
// hanging up and pressing keys, the event log, and the API's validation and authentication.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, createTenant, type Json, type TestTenant } from '../helpers/harness.ts';
import { eventually, sleep } from '../helpers/wait.ts';

let h: Harness;
let t: TestTenant;
let caller: string;
let callee: string;
let other: string;

before(async () => {
  h = await Harness.start();
  t = await createTenant(h, {
    users: [{ behaviour: { answer: 'manual' } }, { behaviour: { answer: 'manual' } }, { behaviour: { answer: 'manual' } }],
  });
  [caller, callee, other] = t.users.map((u) => u.id) as [string, string, string];
});
after(async () => {
  await h.stop();
});

async function simCall(userId: string, callId: string): Promise<Json> {
  const res = await h.sim('GET', `/users/${userId}/calls/${callId}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** The callee's ringing incoming call with this serverCallId. */
async function incoming(userId: string, serverCallId: string): Promise<Json> {
  return eventually(async () => {
    const res = await h.sim('GET', `/users/${userId}/calls`);
    return (res.body.value as Json[]).find((c) => c.serverCallId === serverCallId && c.direction === 'incoming');
  }, `incoming call at ${userId}`);
}

async function events(userId: string, after?: number): Promise<Json[]> {
  const res = await h.sim('GET', `/users/${userId}/events${after !== undefined ? `?after=${after}` : ''}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.value;
}

async function dial(from: string, to: string): Promise<{ out: Json; inc: Json }> {
  const res = await h.sim('POST', `/users/${from}/calls`, { user: to });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { out: res.body, inc: await incoming(to, res.body.serverCallId) };
}

test('a user calls a manual user: it rings until answered, then both are connected; hang-up ends both', async () => {
  const { out, inc } = await dial(caller, callee);
  assert.equal(out.direction, 'outgoing');
  assert.equal(out.state, 'ringing');
  assert.equal(out.peer.id, callee);
  assert.equal(out.result, null);
  assert.equal(inc.state, 'ringing');
  assert.equal(inc.peer.id, caller);
  assert.equal(inc.peer.kind, 'user');

  // A manual user keeps ringing.
  await sleep(150);
  assert.equal((await simCall(callee, inc.id)).state, 'ringing');
  assert.equal((await simCall(caller, out.id)).state, 'ringing');

  const ans = await h.sim('POST', `/users/${callee}/calls/${inc.id}/answer`);
  assert.equal(ans.status, 200, JSON.stringify(ans.body));
  assert.equal(ans.body.state, 'connected');
  assert.ok(ans.body.connectedAt);
  const outNow = await eventually(async () => {
    const c = await simCall(caller, out.id);
    return c.state === 'connected' ? c : null;
  }, 'caller connected');
  assert.ok(outNow.connectedAt);
  // Answering twice is a conflict.
  assert.equal((await h.sim('POST', `/users/${callee}/calls/${inc.id}/answer`)).status, 409);

  const hang = await h.sim('POST', `/users/${caller}/calls/${out.id}/hangup`);
  assert.equal(hang.status, 200, JSON.stringify(hang.body));
  assert.equal(hang.body.state, 'ended');
  assert.deepEqual([hang.body.result.code, hang.body.result.subcode], [200, 0]);
  const incEnd = await eventually(async () => {
    const c = await simCall(callee, inc.id);
    return c.state === 'ended' ? c : null;
  }, 'callee ended');
  assert.deepEqual([incEnd.result.code, incEnd.result.subcode], [200, 18503]);
  assert.ok(incEnd.endedAt);
  // Hanging up an ended call is a conflict.
  assert.equal((await h.sim('POST', `/users/${caller}/calls/${out.id}/hangup`)).status, 409);
  assert.equal((await h.sim('POST', `/users/${callee}/calls/${inc.id}/hangup`)).status, 409);
});

test('the callee rejects with reason busy: both calls end with 486', async () => {
  const { out, inc } = await dial(caller, other);
  const rej = await h.sim('POST', `/users/${other}/calls/${inc.id}/reject`, { reason: 'busy' });
  assert.equal(rej.status, 200, JSON.stringify(rej.body));
  assert.equal(rej.body.state, 'ended');
  assert.equal(rej.body.result.code, 486);
  const outEnd = await eventually(async () => {
    const c = await simCall(caller, out.id);
    return c.state === 'ended' ? c : null;
  }, 'caller ended');
  assert.equal(outEnd.result.code, 486);
  assert.equal(outEnd.connectedAt, null);
  // Rejecting again, or rejecting an outgoing call, is a conflict.
  assert.equal((await h.sim('POST', `/users/${other}/calls/${inc.id}/reject`, { reason: 'busy' })).status, 409);
  const { out: out2, inc: inc2 } = await dial(caller, other);
  assert.equal((await h.sim('POST', `/users/${caller}/calls/${out2.id}/reject`, {})).status, 409);
  // The default reason is declined (603).
  const declined = await h.sim('POST', `/users/${other}/calls/${inc2.id}/reject`);
  assert.equal(declined.status, 200, JSON.stringify(declined.body));
  assert.equal(declined.body.result.code, 603);
});

test('events: increasing seq per user and the after filter', async () => {
  const before = await events(callee);
  const last = before.at(-1)?.seq ?? 0;
  const { out, inc } = await dial(caller, callee);
  await h.sim('POST', `/users/${callee}/calls/${inc.id}/answer`);
  await h.sim('POST', `/users/${callee}/calls/${inc.id}/dtmf`, { tones: '5' });
  // The key goes out in band: wait until the caller's side has detected it before hanging up.
  await eventually(async () => (await events(caller)).some((e) => e.callId === out.id && e.type === 'toneReceived'), 'tone detected');
  await h.sim('POST', `/users/${callee}/calls/${inc.id}/hangup`);
  await eventually(async () => (await simCall(caller, out.id)).state === 'ended', 'caller ended');

  const all = await events(callee);
  assert.ok(all.length >= 4);
  for (let i = 1; i < all.length; i++) assert.ok(all[i]!.seq > all[i - 1]!.seq, 'seq increases');
  for (const e of all) {
    assert.equal(typeof e.at, 'string');
    assert.equal(typeof e.callId, 'string');
    assert.equal(typeof e.type, 'string');
  }
  const fresh = await events(callee, last);
  assert.ok(fresh.every((e) => e.seq > last));
  assert.deepEqual(fresh.map((e) => e.type), ['ringing', 'connected', 'dtmfSent', 'ended']);
  assert.ok(fresh.every((e) => e.callId === inc.id));
  assert.equal(fresh[0]!.detail.from.id, caller);
  assert.equal(fresh[2]!.detail.tone, 'tone5');
  assert.deepEqual([fresh[3]!.detail.code, fresh[3]!.detail.subcode], [200, 0]);
  // after = the last seq gives nothing; a non-number is ignored.
  assert.deepEqual(await events(callee, all.at(-1)!.seq), []);
  const junk = await h.sim('GET', `/users/${callee}/events?after=abc`);
  assert.equal(junk.status, 200);
  assert.equal(junk.body.value.length, all.length);

  const callerEvents = (await events(caller)).filter((e) => e.callId === out.id).map((e) => e.type);
  // The caller's ear hears the key (dtmfHeard); the detector on the callee's line reports it (toneReceived).
  assert.deepEqual(callerEvents, ['dialing', 'answered', 'dtmfHeard', 'toneReceived', 'ended']);
});

test('DTMF: 409 on a call that is not connected; tones are validated', async () => {
  const { out, inc } = await dial(caller, callee);
  const ringing = await h.sim('POST', `/users/${callee}/calls/${inc.id}/dtmf`, { tones: '1' });
  assert.equal(ringing.status, 409, JSON.stringify(ringing.body));
  assert.equal(ringing.body.error.code, 'Conflict');
  await h.sim('POST', `/users/${callee}/calls/${inc.id}/answer`);
  await eventually(async () => (await simCall(caller, out.id)).state === 'connected', 'caller connected');
  const ok = await h.sim('POST', `/users/${caller}/calls/${out.id}/dtmf`, { tones: ['tone9', '*', 'pound'] });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual(ok.body.sent, ['tone9', 'star', 'pound']);
  const bad = await h.sim('POST', `/users/${caller}/calls/${out.id}/dtmf`, { tones: '1x' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /tones\[1\]/);
  const none = await h.sim('POST', `/users/${caller}/calls/${out.id}/dtmf`, {});
  assert.equal(none.status, 400);
  assert.match(none.body.error.message, /'tones'/);
  await h.sim('POST', `/users/${caller}/calls/${out.id}/hangup`);
  await eventually(async () => (await simCall(callee, inc.id)).state === 'ended', 'callee ended');
  const ended = await h.sim('POST', `/users/${callee}/calls/${inc.id}/dtmf`, { tones: '1' });
  assert.equal(ended.status, 409);
});

test('bad bodies are 400 naming the field', async () => {
  const two = await h.sim('POST', `/users/${caller}/calls`, { user: callee, phone: t.users[1]!.phoneNumber });
  assert.equal(two.status, 400);
  assert.equal(two.body.error.code, 'BadRequest');
  assert.match(two.body.error.message, /exactly one of phone, application, applicationInstance, user, meeting/);
  const none = await h.sim('POST', `/users/${caller}/calls`, {});
  assert.equal(none.status, 400);
  assert.match(none.body.error.message, /exactly one of/);
  const phone = await h.sim('POST', `/users/${caller}/calls`, { phone: '12345' });
  assert.equal(phone.status, 400);
  assert.match(phone.body.error.message, /'phone'/);
  assert.match(phone.body.error.message, /E\.164/);
  const unknownField = await h.sim('POST', `/users/${caller}/calls`, { user: callee, colour: 'blue' });
  assert.equal(unknownField.status, 400);
  assert.match(unknownField.body.error.message, /colour/);
  const self = await h.sim('POST', `/users/${caller}/calls`, { user: caller });
  assert.equal(self.status, 400);
  assert.match(self.body.error.message, /'user'/);
  const noTarget = await h.sim('POST', `/users/${caller}/calls`, { user: 'no-such-user' });
  assert.equal(noTarget.status, 400);
  assert.match(noTarget.body.error.message, /'user'/);
  const noMeeting = await h.sim('POST', `/users/${caller}/calls`, { meeting: { id: 'no-such-meeting' } });
  assert.equal(noMeeting.status, 400);
  assert.match(noMeeting.body.error.message, /'meeting'/);
  const { out, inc } = await dial(caller, callee);
  const reason = await h.sim('POST', `/users/${callee}/calls/${inc.id}/reject`, { reason: 'bogus' });
  assert.equal(reason.status, 400);
  assert.match(reason.body.error.message, /'reason'/);
  assert.equal((await simCall(callee, inc.id)).state, 'ringing', 'a bad request changes nothing');
  await h.sim('POST', `/users/${caller}/calls/${out.id}/hangup`);
  // Calling a phone number nobody owns is accepted and ends as unreachable.
  const nobody = await h.sim('POST', `/users/${caller}/calls`, { phone: '+19995550000' });
  assert.equal(nobody.status, 201, JSON.stringify(nobody.body));
  const end = await eventually(async () => {
    const c = await simCall(caller, nobody.body.id);
    return c.state === 'ended' ? c : null;
  }, 'unreachable call ended');
  assert.deepEqual([end.result.code, end.result.subcode], [480, 10037]);
});

test('unknown users and calls are 404', async () => {
  for (const [method, path, body] of [
    ['GET', '/users/no-such-user/calls', undefined],
    ['POST', '/users/no-such-user/calls', { user: callee }],
    ['GET', '/users/no-such-user/events', undefined],
    ['GET', `/users/${caller}/calls/no-such-call`, undefined],
    ['POST', `/users/${caller}/calls/no-such-call/answer`, undefined],
    ['POST', `/users/${caller}/calls/no-such-call/hangup`, undefined],
    ['POST', `/users/${caller}/calls/no-such-call/dtmf`, { tones: '1' }],
  ] as const) {
    const res = await h.sim(method, path, body);
    assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'NotFound');
  }
  const users = await h.sim('GET', '/users');
  assert.equal(users.status, 200);
  assert.ok((users.body.value as Json[]).some((u) => u.id === caller));
});

test('the simulator needs the admin key: 401 without it or with a wrong one', async () => {
  const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-key-0123456789' }, { 'x-admin-key': 'nope' }, { authorization: `Bearer ${t.token}` }];
  for (const headers of attempts) {
    const res = await h.request('GET', `/simulator/users/${caller}/calls`, { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.equal(res.body.error.code, 'Unauthorized');
  }
  const post = await h.request('POST', `/simulator/users/${caller}/calls`, { body: { user: callee } });
  assert.equal(post.status, 401);
  assert.equal((await h.request('GET', `/simulator/users/${caller}/calls`, { headers: { 'x-admin-key': h.adminKey } })).status, 200);
});
