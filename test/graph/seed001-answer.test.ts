// Seed 001 (Graph "call: answer"): incoming calls to a bot, answered, rejected, redirected or left
// to time out, with the seed's request examples posted verbatim (only ids and callbackUri swapped).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Harness, Webhook, createTenant, harnessAndWebhook, swapIds, type Json, type Recorded, type TestTenant } from '../helpers/harness.ts';
import { eventually } from '../helpers/wait.ts';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/seed001/${name}`, import.meta.url), 'utf8');

let h: Harness;
let hook: Webhook;
harnessAndWebhook((hh, wh) => ((h = hh), (hook = wh)));

// ------------------------------------------------------------------ helpers

/** Polls `fn` (every 10 ms) until it returns a truthy value, or fails after `ms`. */
const until = <T>(fn: () => Promise<T | null | undefined | false>, what: string, ms = 3000): Promise<T> => eventually(fn, what, ms, 10);

async function simCalls(hh: Harness, userId: string): Promise<Json[]> {
  const r = await hh.sim('GET', `/users/${userId}/calls`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.value;
}

async function simCall(hh: Harness, userId: string, callId: string): Promise<Json> {
  const r = await hh.sim('GET', `/users/${userId}/calls/${callId}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

interface Incoming {
  /** The caller's call as the simulator reports it (id = the caller's participant id). */
  sim: Json;
  /** The `created` notification the bot received. */
  created: Recorded;
  /** The bot's call id. */
  id: string;
}

/** A virtual user of `t` calls the bot (by its number unless told otherwise); waits for the incoming notification. */
async function callBot(t: TestTenant, opts: { from?: number; target?: Json; hh?: Harness; wh?: Webhook } = {}): Promise<Incoming> {
  const hh = opts.hh ?? h;
  const wh = opts.wh ?? hook;
  const caller = t.users[opts.from ?? 0]!;
  const placed = await hh.sim('POST', `/users/${caller.id}/calls`, opts.target ?? { phone: t.phoneNumber });
  assert.equal(placed.status, 201, JSON.stringify(placed.body));
  const serverCallId = placed.body.serverCallId;
  const created = await wh.waitFor((r) => r.n.changeType === 'created' && r.n.resourceData?.serverCallId === serverCallId, 3000, `incoming call ${serverCallId}`);
  return { sim: placed.body, created, id: created.n.resourceData.id };
}

const ANSWER_SERVICE = { callbackUri: '', acceptedModalities: ['audio'], mediaConfig: { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' } };

async function answer(t: TestTenant, id: string, version = 'v1.0') {
  return h.request('POST', `/${version}/communications/calls/${id}/answer`, { token: t.token, body: { ...ANSWER_SERVICE, callbackUri: hook.url } });
}

const identityKinds = ['user', 'application', 'applicationInstance', 'phone', 'guest', 'encrypted'];

/**
 * Every property of the seed's example is present in Telegraph's object, recursively (arrays by
 * their first element). An identitySet matches any identitySet: which identity kind it holds depends
 * on the routing and is asserted separately. `skip` lists properties Telegraph does not send.
 */
function assertShape(actual: unknown, expected: unknown, path: string, skip: string[] = []): void {
  if (expected === null || typeof expected !== 'object') return;
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path} should be an array`);
    if (expected.length > 0) {
      assert.ok(actual.length > 0, `${path} should not be empty`);
      assertShape(actual[0], expected[0], `${path}[0]`, skip);
    }
    return;
  }
  assert.ok(actual && typeof actual === 'object' && !Array.isArray(actual), `${path} should be an object`);
  const exp = expected as Json;
  const act = actual as Json;
  if (identityKinds.some((k) => k in exp)) {
    const kind = identityKinds.find((k) => k in act);
    assert.ok(kind, `${path} should hold an identity, got ${JSON.stringify(act)}`);
    assert.equal(typeof act[kind].id, 'string', `${path}.${kind}.id`);
    assert.ok('displayName' in act[kind], `${path}.${kind}.displayName`);
    return;
  }
  for (const k of Object.keys(exp)) {
    if (skip.includes(k)) continue;
    assert.ok(k in act, `${path}.${k} is in the seed's example but missing from Telegraph's`);
    assertShape(act[k], exp[k], `${path}.${k}`, skip);
  }
}

function stateIndex(id: string, state: string): number {
  return hook.forCall(id).findIndex((r) => r.n.resourceUrl === `/communications/calls/${id}` && r.n.resourceData?.state === state);
}

// ------------------------------------------------------------------ 1. the seed's answer examples, verbatim

describe('seed 001 answer examples posted verbatim', () => {
  const cases = [
    { name: 'the generic request (appHostedMediaConfig blob, callOptions, participantCapacity 200)', file: 'answer-request.json', version: 'beta', media: 'app' },
    { name: 'example 1: service-hosted media with preFetchMedia', file: 'example1-answer-request.json', version: 'v1.0', media: 'service' },
    { name: 'example 2: app-hosted media', file: 'example2-answer-request.json', version: 'beta', media: 'app' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const t = await createTenant(h, { webhook: hook.url });
      const inc = await callBot(t);
      const raw = swapIds(fixture(c.file), { 'callbackUri-value': hook.url, 'https://bot.contoso.com/api/calls': hook.url });
      const sent = JSON.parse(raw) as Json;
      const res = await h.request('POST', `/${c.version}/communications/calls/${inc.id}/answer`, { token: t.token, raw });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body, null, 'a 202 answer has an empty body');

      const [establishing, established] = await Promise.all([hook.waitForState(inc.id, 'establishing'), hook.waitForState(inc.id, 'established')]);
      for (const n of [establishing.n, established.n]) {
        assert.equal(n['@odata.type'], '#microsoft.graph.commsNotification');
        assert.equal(establishing.body['@odata.type'], '#microsoft.graph.commsNotifications');
        assert.equal(n.changeType, 'updated');
        assert.equal(n.resourceUrl, `/communications/calls/${inc.id}`);
        assert.equal(n.resourceData['@odata.type'], '#microsoft.graph.call');
        assert.equal(n.resourceData['@odata.id'], `/communications/calls/${inc.id}`);
      }
      // The seed warns they may arrive out of order; Telegraph delivers a call's notifications in order.
      assert.ok(stateIndex(inc.id, 'establishing') < stateIndex(inc.id, 'established'), 'establishing is sent before established');
      assert.deepEqual(hook.forCall(inc.id).map((r) => r.n.resourceData?.state), ['incoming', 'establishing', 'established']);

      // The answer's options are the call's from now on.
      const got = await h.request('GET', `/${c.version}/communications/calls/${inc.id}`, { token: t.token });
      assert.equal(got.status, 200, JSON.stringify(got.body));
      assert.equal(got.body.state, 'established');
      assert.equal(got.body.callbackUri, hook.url);
      assert.deepEqual(got.body.mediaConfig, sent.mediaConfig);
      if (sent.callOptions) assert.deepEqual(got.body.callOptions, sent.callOptions);
      // The caller is connected to the bot.
      const caller = await simCall(h, t.users[0]!.id, inc.sim.id);
      assert.equal(caller.state, 'connected');

      const del = await h.request('DELETE', `/${c.version}/communications/calls/${inc.id}`, { token: t.token });
      assert.equal(del.status, 204);
      await hook.waitForState(inc.id, 'terminated');
    });
  }
});

// ------------------------------------------------------------------ 2. the incoming notification

describe('the incoming call notification', () => {
  test('routed by phone number: compared with example 1 (callRoutes lookup, source, targets), signed', async () => {
    const t = await createTenant(h, { webhook: hook.url });
    const caller = t.users[0]!;
    const inc = await callBot(t);
    const seed = JSON.parse(fixture('example1-incoming-notification.json')) as Json;
    const { body, n } = inc.created;
    assert.equal(inc.created.path, new URL(hook.url).pathname);
    assert.equal(body['@odata.type'], '#microsoft.graph.commsNotifications');
    assert.equal(body.value.length, 1);
    assertShape(body, seed, 'notification', ['@odata.etag']);

    assert.equal(n['@odata.type'], '#microsoft.graph.commsNotification');
    assert.equal(n.changeType, 'created');
    assert.equal(n.resourceUrl, `/communications/calls/${inc.id}`);
    const d = n.resourceData;
    assert.equal(d['@odata.type'], '#microsoft.graph.call');
    assert.equal(d['@odata.id'], `/communications/calls/${inc.id}`);
    assert.equal(d.state, 'incoming');
    assert.equal(d.direction, 'incoming');
    assert.deepEqual(d.requestedModalities, ['audio']);
    assert.equal(d.tenantId, t.tenantId);
    assert.equal(typeof d.myParticipantId, 'string');
    assert.ok(d.myParticipantId.length > 0);
    assert.equal(typeof d.callChainId, 'string');
    assert.ok(d.callChainId.length > 0);

    // source: the calling user.
    assert.equal(d.source.identity.user.id, caller.id);
    assert.equal(d.source.identity.user.displayName, caller.displayName);
    assert.ok(!('encrypted' in d.source.identity));
    // targets: the application instance whose number was dialled.
    assert.equal(d.targets.length, 1);
    assert.equal(d.targets[0].identity.applicationInstance.id, t.instanceId);
    // callRoutes: lookup from the dialled number to the application instance.
    assert.equal(d.callRoutes.length, 1);
    assert.equal(d.callRoutes[0].routingType, 'lookup');
    assert.equal(d.callRoutes[0].original.phone.id, t.phoneNumber);
    assert.equal(d.callRoutes[0].final.applicationInstance.id, t.instanceId);

    // The notification is signed for this application and tenant.
    const claims = await h.verifyNotification(inc.created, t.appId);
    assert.equal(claims.aud, t.appId);
    assert.equal(claims.tid, t.tenantId);
    assert.equal(inc.created.headers['x-microsoft-skype-chain-id'], d.callChainId);

    // A GET before answering shows the same incoming call.
    const got = await h.request('GET', `/v1.0/communications/calls/${inc.id}`, { token: t.token });
    assert.equal(got.status, 200);
    assert.equal(got.body.state, 'incoming');
    assert.equal(got.body.source.identity.user.id, caller.id);

    const hang = await h.sim('POST', `/users/${caller.id}/calls/${inc.sim.id}/hangup`);
    assert.equal(hang.status, 200, JSON.stringify(hang.body));
    await hook.waitForState(inc.id, 'terminated');
  });

  test('calling the application by id: compared with example 2, no callRoutes', async () => {
    const t = await createTenant(h, { webhook: hook.url });
    const caller = t.users[1]!;
    const inc = await callBot(t, { from: 1, target: { application: t.appId } });
    const seed = JSON.parse(fixture('example2-incoming-notification.json')) as Json;
    assertShape(inc.created.body, seed, 'notification', ['@odata.etag']);
    const d = inc.created.n.resourceData;
    assert.equal(inc.created.n.changeType, 'created');
    assert.equal(d.state, 'incoming');
    assert.equal(d.direction, 'incoming');
    assert.deepEqual(d.callRoutes, []);
    assert.equal(d.source['@odata.type'], '#microsoft.graph.participantInfo');
    assert.equal(d.source.identity.user.id, caller.id);
    assert.equal(d.targets[0]['@odata.type'], '#microsoft.graph.invitationParticipantInfo');
    assert.equal(d.targets[0].identity.application.id, t.appId);
    assert.deepEqual(d.requestedModalities, ['audio']);
    assert.equal(d.tenantId, t.tenantId);
    await h.verifyNotification(inc.created, t.appId);

    const res = await answer(t, inc.id);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await hook.waitForState(inc.id, 'established');
    await h.request('DELETE', `/v1.0/communications/calls/${inc.id}`, { token: t.token });
    await hook.waitForState(inc.id, 'terminated');
  });
});

// ------------------------------------------------------------------ 3. callbackUri validation

test('answer: callbackUri must be an https URI ("callbackUri-value" and http on a public host are 400)', async () => {
  const t = await createTenant(h, { webhook: hook.url });
  const inc = await callBot(t);
  const body = JSON.parse(fixture('answer-request.json')) as Json;
  assert.equal(body.callbackUri, 'callbackUri-value');

  const literal = await h.request('POST', `/beta/communications/calls/${inc.id}/answer`, { token: t.token, raw: fixture('answer-request.json') });
  assert.equal(literal.status, 400, JSON.stringify(literal.body));
  assert.equal(literal.body.error.code, 'BadRequest');
  assert.match(literal.body.error.message, /callbackUri/);

  const insecure = await h.request('POST', `/beta/communications/calls/${inc.id}/answer`, { token: t.token, body: { ...body, callbackUri: 'http://bot.contoso.com/api/calls' } });
  assert.equal(insecure.status, 400, JSON.stringify(insecure.body));
  assert.match(insecure.body.error.message, /callbackUri/);
  assert.match(insecure.body.error.message, /https/);

  // The rejected requests changed nothing: the call is still incoming and can be answered.
  const got = await h.request('GET', `/beta/communications/calls/${inc.id}`, { token: t.token });
  assert.equal(got.body.state, 'incoming');
  const ok = await h.request('POST', `/beta/communications/calls/${inc.id}/answer`, { token: t.token, body: { ...body, callbackUri: hook.url } });
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
  await hook.waitForState(inc.id, 'established');
  await h.request('DELETE', `/beta/communications/calls/${inc.id}`, { token: t.token });
  await hook.waitForState(inc.id, 'terminated');
});

// ------------------------------------------------------------------ 4. encrypted source

test('an application with none of the calling permissions sees the caller encrypted', async () => {
  const t = await createTenant(h, { webhook: hook.url, permissions: [] });
  const caller = t.users[0]!;
  const inc = await callBot(t);
  const src = inc.created.n.resourceData.source;
  assert.ok(src.identity.encrypted, `source.identity.encrypted expected, got ${JSON.stringify(src)}`);
  assert.equal(typeof src.identity.encrypted.id, 'string');
  assert.ok(!('user' in src.identity), 'the user identity is not disclosed');
  assert.ok(!JSON.stringify(src).includes(caller.id), 'the caller id appears nowhere in the source');
  assert.ok(!JSON.stringify(src).includes(caller.displayName), 'the caller name appears nowhere in the source');
  // Without Calls.JoinGroupCall.All it cannot answer either.
  const res = await answer(t, inc.id);
  assert.equal(res.status, 403, JSON.stringify(res.body));
  await h.sim('POST', `/users/${caller.id}/calls/${inc.sim.id}/hangup`);
  await hook.waitForState(inc.id, 'terminated');
});

// ------------------------------------------------------------------ 5. answer timeout

test('an incoming call not answered within the answer timeout ends with 408 for the bot and the caller', async () => {
  const h2 = await Harness.start({ config: { calls: { answerTimeoutMs: 300 } } });
  const hook2 = await new Webhook().start();
  try {
    const t = await createTenant(h2, { webhook: hook2.url });
    const caller = t.users[0]!;
    const t0 = Date.now();
    const inc = await callBot(t, { hh: h2, wh: hook2 });
    const end = await hook2.waitForState(inc.id, 'terminated', 3000);
    assert.equal(end.n.changeType, 'deleted');
    assert.equal(end.n.resourceData.resultInfo.code, 408);
    assert.ok(end.at - t0 >= 290, `ended ${end.at - t0} ms after the call was placed, before the 300 ms timeout`);
    const mine = await until(async () => {
      const c = (await simCalls(h2, caller.id)).find((x) => x.id === inc.sim.id);
      return c?.state === 'ended' ? c : null;
    }, "the caller's call to end");
    assert.equal(mine.result.code, 408);
    // Too late to answer now.
    const late = await h2.request('POST', `/v1.0/communications/calls/${inc.id}/answer`, { token: t.token, body: { ...ANSWER_SERVICE, callbackUri: hook2.url } });
    assert.equal(late.status, 404, JSON.stringify(late.body));
    assert.equal(late.body.error.code, '8522');
  } finally {
    await h2.stop();
    await hook2.stop();
  }
});

// ------------------------------------------------------------------ 6. reject

describe('reject', () => {
  const cases: { reason: string; code: number }[] = [
    { reason: 'none', code: 603 },
    { reason: 'busy', code: 486 },
    { reason: 'forbidden', code: 403 },
    { reason: 'BUSY', code: 486 },
  ];
  for (const c of cases) {
    test(`reason '${c.reason}' → 202, the caller's call ends with ${c.code}`, async () => {
      const t = await createTenant(h, { webhook: hook.url });
      const caller = t.users[0]!;
      const inc = await callBot(t);
      const res = await h.request('POST', `/v1.0/communications/calls/${inc.id}/reject`, { token: t.token, body: { reason: c.reason } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body, null);
      const end = await hook.waitForState(inc.id, 'terminated');
      assert.equal(end.n.changeType, 'deleted');
      const mine = await until(async () => {
        const x = await simCall(h, caller.id, inc.sim.id);
        return x.state === 'ended' ? x : null;
      }, "the caller's call to end");
      assert.equal(mine.result.code, c.code);
      const gone = await h.request('GET', `/v1.0/communications/calls/${inc.id}`, { token: t.token });
      assert.equal(gone.status, 404);
    });
  }

  test("an unknown reason → 400 naming 'reason'; the call is still incoming", async () => {
    const t = await createTenant(h, { webhook: hook.url });
    const inc = await callBot(t);
    const res = await h.request('POST', `/v1.0/communications/calls/${inc.id}/reject`, { token: t.token, body: { reason: 'sleeping' } });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.match(res.body.error.message, /'reason'/);
    const got = await h.request('GET', `/v1.0/communications/calls/${inc.id}`, { token: t.token });
    assert.equal(got.body.state, 'incoming');
    const ok = await h.request('POST', `/v1.0/communications/calls/${inc.id}/reject`, { token: t.token, body: {} });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    await hook.waitForState(inc.id, 'terminated');
  });
});

// ------------------------------------------------------------------ 7. redirect

const userTarget = (u: { id: string; displayName: string }) => ({
  '@odata.type': '#microsoft.graph.invitationParticipantInfo',
  identity: { '@odata.type': '#microsoft.graph.identitySet', user: { '@odata.type': '#microsoft.graph.identity', displayName: u.displayName, id: u.id } },
});

describe('redirect', () => {
  test('to one user: the caller ends up connected to that user, the bot leg ends', async () => {
    const t = await createTenant(h, { webhook: hook.url, users: [{ displayName: 'Caller' }, { displayName: 'Target', behaviour: { answer: 'auto', answerAfterMs: 0 } }] });
    const [caller, target] = [t.users[0]!, t.users[1]!];
    const inc = await callBot(t);
    const res = await h.request('POST', `/v1.0/communications/calls/${inc.id}/redirect`, { token: t.token, body: { targets: [userTarget(target)], callbackUri: hook.url } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const end = await hook.waitForState(inc.id, 'terminated');
    assert.equal(end.n.changeType, 'deleted');
    assert.equal(end.n.resourceData.resultInfo.code, 200);
    const theirs = await until(async () => (await simCalls(h, target.id)).find((c) => c.serverCallId === inc.sim.serverCallId && c.state === 'connected'), 'the target to be connected');
    assert.equal(theirs.direction, 'incoming');
    const mine = await simCall(h, caller.id, inc.sim.id);
    assert.equal(mine.state, 'connected');
    // The two users talk; the bot is out of the call.
    const gone = await h.request('GET', `/v1.0/communications/calls/${inc.id}`, { token: t.token });
    assert.equal(gone.status, 404);
    await h.sim('POST', `/users/${caller.id}/calls/${inc.sim.id}/hangup`);
    await until(async () => (await simCall(h, target.id, theirs.id)).state === 'ended', 'the target call to end');
  });

  test('to two users at once: the first to answer wins, the other stops ringing', async () => {
    const t = await createTenant(h, {
      webhook: hook.url,
      users: [{ displayName: 'Caller' }, { displayName: 'A', behaviour: { answer: 'manual' } }, { displayName: 'B', behaviour: { answer: 'manual' } }],
    });
    const [caller, a, b] = [t.users[0]!, t.users[1]!, t.users[2]!];
    const inc = await callBot(t);
    const res = await h.request('POST', `/v1.0/communications/calls/${inc.id}/redirect`, { token: t.token, body: { targets: [userTarget(a), userTarget(b)], timeout: 30 } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const ringing = (u: { id: string }) => until(async () => (await simCalls(h, u.id)).find((c) => c.serverCallId === inc.sim.serverCallId && c.state === 'ringing'), `${u.id} to ring`);
    const [ringA, ringB] = await Promise.all([ringing(a), ringing(b)]);
    await hook.waitForState(inc.id, 'terminated');

    const ans = await h.sim('POST', `/users/${a.id}/calls/${ringA.id}/answer`);
    assert.equal(ans.status, 200, JSON.stringify(ans.body));
    const bEnded = await until(async () => {
      const x = await simCall(h, b.id, ringB.id);
      return x.state === 'ended' ? x : null;
    }, 'B to stop ringing');
    assert.ok(bEnded.result, 'B has a result');
    assert.equal((await simCall(h, a.id, ringA.id)).state, 'connected');
    assert.equal((await simCall(h, caller.id, inc.sim.id)).state, 'connected', 'the caller stays connected to the winner');
    // B can no longer answer.
    const late = await h.sim('POST', `/users/${b.id}/calls/${ringB.id}/answer`);
    assert.equal(late.status, 409);
    await h.sim('POST', `/users/${caller.id}/calls/${inc.sim.id}/hangup`);
    await until(async () => (await simCall(h, a.id, ringA.id)).state === 'ended', 'A call to end');
  });

  test('to two users at once: one declining leaves the other ringing, and it can still answer', async () => {
    const t = await createTenant(h, {
      webhook: hook.url,
      users: [{ displayName: 'Caller' }, { displayName: 'A', behaviour: { answer: 'manual' } }, { displayName: 'B', behaviour: { answer: 'manual' } }],
    });
    const [caller, a, b] = [t.users[0]!, t.users[1]!, t.users[2]!];
    const inc = await callBot(t);
    const res = await h.request('POST', `/v1.0/communications/calls/${inc.id}/redirect`, { token: t.token, body: { targets: [userTarget(a), userTarget(b)] } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const ringing = (u: { id: string }) => until(async () => (await simCalls(h, u.id)).find((c) => c.serverCallId === inc.sim.serverCallId && c.state === 'ringing'), `${u.id} to ring`);
    const [ringA, ringB] = await Promise.all([ringing(a), ringing(b)]);
    const busy = await h.sim('POST', `/users/${b.id}/calls/${ringB.id}/reject`, { reason: 'busy' });
    assert.equal(busy.status, 200, JSON.stringify(busy.body));
    assert.equal((await simCall(h, a.id, ringA.id)).state, 'ringing', 'A still rings');
    assert.equal((await simCall(h, caller.id, inc.sim.id)).state, 'ringing', 'the caller still waits');
    const ans = await h.sim('POST', `/users/${a.id}/calls/${ringA.id}/answer`);
    assert.equal(ans.status, 200, JSON.stringify(ans.body));
    assert.equal((await simCall(h, caller.id, inc.sim.id)).state, 'connected');
    await h.sim('POST', `/users/${caller.id}/calls/${inc.sim.id}/hangup`);
    await until(async () => (await simCall(h, a.id, ringA.id)).state === 'ended', 'A call to end');
  });

  test("timeout 10 or 100 → 400 naming 'timeout'", async () => {
    const t = await createTenant(h, { webhook: hook.url });
    const inc = await callBot(t);
    for (const timeout of [10, 100]) {
      const res = await h.request('POST', `/v1.0/communications/calls/${inc.id}/redirect`, { token: t.token, body: { targets: [userTarget(t.users[1]!)], timeout } });
      assert.equal(res.status, 400, `timeout ${timeout}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.message, /'timeout'/);
    }
    const got = await h.request('GET', `/v1.0/communications/calls/${inc.id}`, { token: t.token });
    assert.equal(got.body.state, 'incoming');
    await h.sim('POST', `/users/${t.users[0]!.id}/calls/${inc.sim.id}/hangup`);
    await hook.waitForState(inc.id, 'terminated');
  });
});

// ------------------------------------------------------------------ 8. answer errors

test('answer on an established call → 400; on an unknown call → 404 8522', async () => {
  const t = await createTenant(h, { webhook: hook.url });
  const inc = await callBot(t);
  assert.equal((await answer(t, inc.id)).status, 202);
  await hook.waitForState(inc.id, 'established');
  const again = await answer(t, inc.id);
  assert.equal(again.status, 400, JSON.stringify(again.body));
  assert.equal(again.body.error.code, 'BadRequest');
  assert.match(again.body.error.message, /established/);

  const unknown = await answer(t, '57DAB8B1894C409AB240BD8BEAE78896');
  assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
  assert.equal(unknown.body.error.code, '8522');

  await h.request('DELETE', `/v1.0/communications/calls/${inc.id}`, { token: t.token });
  await hook.waitForState(inc.id, 'terminated');
});

// ------------------------------------------------------------------ 9. caller hangs up

test('after answering, the caller hangs up: the bot leg terminates with code 200', async () => {
  const t = await createTenant(h, { webhook: hook.url });
  const caller = t.users[0]!;
  const inc = await callBot(t);
  assert.equal((await answer(t, inc.id)).status, 202);
  await hook.waitForState(inc.id, 'established');
  const hang = await h.sim('POST', `/users/${caller.id}/calls/${inc.sim.id}/hangup`);
  assert.equal(hang.status, 200, JSON.stringify(hang.body));
  assert.equal(hang.body.state, 'ended');
  const end = await hook.waitForState(inc.id, 'terminated');
  assert.equal(end.n.changeType, 'deleted');
  assert.equal(end.n.resourceData.resultInfo.code, 200);
  assert.equal(typeof end.n.resourceData.resultInfo.subcode, 'number');
  const gone = await h.request('GET', `/v1.0/communications/calls/${inc.id}`, { token: t.token });
  assert.equal(gone.status, 404);
});
