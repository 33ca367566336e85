// The durable outbox, end to end: retries and backoff, non-retried failures, timeouts, network
// errors, re-homing by redirect, per-call ordering under load, and no loss across a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Harness, Webhook, createTenant, type Json, type Recorded, type TestTenant } from '../helpers/harness.ts';

// A generous timeout for the shared harness: a delivery that times out on a loaded machine is
// (rightly) retried and reaches the bot twice, which would make the exactly-once checks flaky.
// The timeout test runs its own harness with timeoutMs 300.
const SETTINGS = { backoffBaseMs: 20, backoffMaxMs: 200, maxAttempts: 4, timeoutMs: 3000, shutdownFlushMs: 500 };
const SHORT_TIMEOUT_MS = 300;

let h: Harness;
let t: TestTenant;
const hooks: Webhook[] = [];

before(async () => {
  h = await Harness.start({ config: { notifications: SETTINGS } });
  t = await createTenant(h, { webhook: null, users: Array.from({ length: 20 }, () => ({})) });
});
after(async () => {
  await h.stop();
  for (const w of hooks) await w.stop();
});

async function newHook(responder?: Webhook['responder']): Promise<Webhook> {
  const w = await new Webhook().start();
  if (responder) w.responder = responder;
  hooks.push(w);
  return w;
}

async function placeCall(on: Harness, tenant: TestTenant, callbackUri: string, userIndex = 0): Promise<string> {
  const res = await on.request('POST', '/v1.0/communications/calls', {
    token: tenant.token,
    body: {
      callbackUri,
      targets: [{ identity: { user: { id: tenant.users[userIndex]!.id, displayName: tenant.users[userIndex]!.displayName } } }],
      requestedModalities: ['audio'],
      mediaConfig: { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' },
    },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id as string;
}

async function hangUp(on: Harness, tenant: TestTenant, id: string): Promise<void> {
  const del = await on.request('DELETE', `/v1.0/communications/calls/${id}`, { token: tenant.token });
  assert.equal(del.status, 204, JSON.stringify(del.body));
}

/** The call's own state notifications (not roster or operations), in arrival order. */
function states(w: Webhook, id: string): string[] {
  return w.received.filter((r) => r.n.resourceUrl === `/communications/calls/${id}`).map((r) => r.n.resourceData?.state);
}

function notificationIds(rs: Recorded[]): string[] {
  return rs.map((r) => String(r.headers['x-telegraph-notification-id']));
}

function assertNoDuplicates(w: Webhook): void {
  const ids = notificationIds(w.received);
  assert.equal(new Set(ids).size, ids.length, `a notification reached the bot twice: ${ids.join(', ')}`);
}

async function notifications(on: Harness, callId: string): Promise<Json[]> {
  const res = await on.admin('GET', `/notifications?callId=${encodeURIComponent(callId)}&limit=1000`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.value as Json[];
}

async function notification(on: Harness, id: string): Promise<Json> {
  const res = await on.admin('GET', `/notifications/${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as Json;
}

/** The admin record of the call's notification whose resourceData.state is `state`. */
async function recordFor(on: Harness, callId: string, state: string): Promise<Json> {
  const list = await notifications(on, callId);
  const n = list.find((r) => r.payload?.value?.[0]?.resourceUrl === `/communications/calls/${callId}` && r.payload.value[0].resourceData?.state === state);
  assert.ok(n, `no notification of state ${state} for call ${callId}: ${list.map((r) => r.payload?.value?.[0]?.resourceData?.state).join(', ')}`);
  return notification(on, n.id);
}

/** Polls `fn` until it returns a truthy value, failing after `ms`. */
async function until<T>(fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    last = await fn();
    if (last) return last as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until every notification of the call has left the pending state; returns them. */
function settled(on: Harness, callId: string, ms = 5000): Promise<Json[]> {
  return until(async () => {
    const list = await notifications(on, callId);
    return list.length > 0 && list.every((n) => n.status !== 'pending') ? list : null;
  }, ms, `notifications of call ${callId} to settle`);
}

test('a flaky bot (500, 500, then 202) gets each notification once and in order; the admin record shows 3 attempts', async () => {
  const hook = await newHook((_req, count) => ({ status: count <= 2 ? 500 : 202 }));
  const id = await placeCall(h, t, hook.url);
  await hook.waitForState(id, 'established', 5000);
  await hangUp(h, t, id);
  await hook.waitForState(id, 'terminated', 5000);
  assert.deepEqual(states(hook, id), ['establishing', 'established', 'terminating', 'terminated']);
  assertNoDuplicates(hook);

  const first = await recordFor(h, id, 'establishing');
  assert.equal(first.status, 'delivered');
  assert.equal(first.attempts, 3);
  assert.deepEqual(first.attemptLog.map((a: Json) => a.status), [500, 500, 202]);
  assert.deepEqual(first.attemptLog.map((a: Json) => a.attempt), [1, 2, 3]);
  assert.equal(first.attemptLog[0].error, 'HTTP 500');
  assert.equal(first.attemptLog[2].error, null);
  assert.equal(typeof first.latencyMs, 'number');
  assert.ok(first.latencyMs >= SETTINGS.backoffBaseMs + 2 * SETTINGS.backoffBaseMs, `latency ${first.latencyMs} ms includes both backoffs`);
  // the bot saw exactly what the admin API lists, in the same order
  const list = await settled(h, id);
  assert.ok(list.every((n) => n.status === 'delivered'), JSON.stringify(list.map((n) => [n.status, n.attempts])));
  assert.deepEqual(notificationIds(hook.forCall(id)), list.map((n) => n.id));
  assert.deepEqual(list.map((n) => n.attempts), [3, ...list.slice(1).map(() => 1)]);
});

test('429 with Retry-After: 0 is retried', async () => {
  const hook = await newHook((_req, count) => (count === 1 ? { status: 429, headers: { 'retry-after': '0' } } : { status: 202 }));
  const id = await placeCall(h, t, hook.url);
  await hook.waitForState(id, 'established', 5000);
  const first = await recordFor(h, id, 'establishing');
  assert.equal(first.status, 'delivered');
  assert.equal(first.attempts, 2);
  assert.deepEqual(first.attemptLog.map((a: Json) => [a.status, a.error]), [[429, 'HTTP 429'], [202, null]]);
  assert.deepEqual(states(hook, id).slice(0, 2), ['establishing', 'established']);
  await hangUp(h, t, id);
  await hook.waitForState(id, 'terminated', 5000);
  assertNoDuplicates(hook);
});

test('a 400 is not retried (failed after 1 attempt) and the next notification of the call is still delivered', async () => {
  const hook = await newHook((_req, count) => ({ status: count === 1 ? 400 : 202 }));
  const id = await placeCall(h, t, hook.url);
  await hook.waitForState(id, 'established', 5000);
  const first = await recordFor(h, id, 'establishing');
  assert.equal(first.status, 'failed');
  assert.equal(first.attempts, 1);
  assert.equal(first.lastStatus, 400);
  assert.equal(first.deliveredAt, null);
  assert.deepEqual(first.attemptLog.map((a: Json) => [a.status, a.error]), [[400, 'HTTP 400']]);
  const second = await recordFor(h, id, 'established');
  assert.equal(second.status, 'delivered');
  assert.equal(second.attempts, 1);
  await hangUp(h, t, id);
  await hook.waitForState(id, 'terminated', 5000);
  assert.deepEqual(states(hook, id), ['established', 'terminating', 'terminated']);
  assertNoDuplicates(hook);
});

test('a bot that never answers within timeoutMs: every attempt times out, failed after maxAttempts', async () => {
  const hs = await Harness.start({ config: { notifications: { ...SETTINGS, timeoutMs: SHORT_TIMEOUT_MS, shutdownFlushMs: 0 } } });
  try {
    const ts = await createTenant(hs, { webhook: null, users: [{}] });
    const hook = await newHook(() => ({ status: 503, delayMs: 1500 }));
    const id = await placeCall(hs, ts, hook.url);
    const first = await until(async () => {
      const r = await recordFor(hs, id, 'establishing');
      return r.status === 'pending' ? null : r;
    }, 10_000, 'the first notification to give up');
    assert.equal(first.status, 'failed');
    assert.equal(first.attempts, SETTINGS.maxAttempts);
    assert.equal(first.lastStatus, null);
    assert.match(String(first.lastError), /timed out after 300 ms/);
    assert.equal(first.attemptLog.length, SETTINGS.maxAttempts);
    for (const a of first.attemptLog as Json[]) {
      assert.equal(a.status, null);
      assert.match(String(a.error), /timed out after 300 ms/);
      assert.ok(a.durationMs >= SHORT_TIMEOUT_MS - 50 && a.durationMs < 1500, `attempt took ${a.durationMs} ms`);
    }
    // the bot never acknowledged anything within the timeout
    assert.equal(hook.received.length, 0);
  } finally {
    await hs.stop();
  }
});

test('a webhook on a closed loopback port: network errors are retried, then the notification fails', async () => {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const url = `http://127.0.0.1:${port}/api/calls`;
  const id = await placeCall(h, t, url);
  await settled(h, id, 10_000);
  const first = await recordFor(h, id, 'establishing');
  assert.equal(first.status, 'failed');
  assert.equal(first.attempts, SETTINGS.maxAttempts);
  assert.equal(first.attemptLog.length, SETTINGS.maxAttempts);
  for (const a of first.attemptLog as Json[]) {
    assert.equal(a.status, null);
    assert.equal(a.url, url);
    assert.match(String(a.error), /ECONNREFUSED/);
  }
  assert.match(String(first.lastError), /ECONNREFUSED/);
  // the retries were spaced by the backoff: 20, 40, 80 ms at least
  const starts = (first.attemptLog as Json[]).map((a) => Date.parse(a.startedAt));
  for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! >= SETTINGS.backoffBaseMs * 2 ** (i - 1) - 2, `gap ${i}: ${starts[i]! - starts[i - 1]!} ms`);
  await hangUp(h, t, id);
});

test('a 302 with Location re-homes that notification and every later one of the call', async () => {
  const second = await newHook();
  const first = await newHook(() => ({ status: 302, headers: { location: second.url } }));
  const id = await placeCall(h, t, first.url);
  await second.waitForState(id, 'established', 5000);
  await hangUp(h, t, id);
  await second.waitForState(id, 'terminated', 5000);
  assert.deepEqual(states(second, id), ['establishing', 'established', 'terminating', 'terminated']);
  assert.equal(first.received.length, 0);
  assertNoDuplicates(second);
  const list = await settled(h, id);
  assert.ok(list.every((n) => n.status === 'delivered' && n.url === second.url), JSON.stringify(list.map((n) => [n.status, n.url])));
  const rec = await recordFor(h, id, 'establishing');
  assert.deepEqual(rec.attemptLog.map((a: Json) => [a.url, a.status]), [[first.url, 302], [second.url, 202]]);
  // later notifications went straight to the new home: one attempt each
  const later = await recordFor(h, id, 'terminated');
  assert.deepEqual(later.attemptLog.map((a: Json) => [a.url, a.status]), [[second.url, 202]]);
});

test('a redirect loop (308 to itself) is bounded by maxAttempts, then the notification fails', async () => {
  const hook = await newHook();
  hook.responder = () => ({ status: 308, headers: { location: hook.url } });
  const id = await placeCall(h, t, hook.url);
  const first = await until(async () => {
    const r = await recordFor(h, id, 'establishing');
    return r.status === 'pending' ? null : r;
  }, 5000, 'the redirected notification to give up');
  assert.equal(first.status, 'failed');
  assert.equal(first.attempts, SETTINGS.maxAttempts);
  assert.equal(first.lastStatus, 308);
  assert.deepEqual(first.attemptLog.map((a: Json) => a.status), Array(SETTINGS.maxAttempts).fill(308));
  assert.equal(hook.received.length, 0);
  await hangUp(h, t, id);
});

test('ordering under load: 20 simultaneous calls each get their notifications in order', async () => {
  // a little jitter so deliveries of different calls interleave
  const hook = await newHook((_req, count) => ({ status: 202, delayMs: count % 3 }));
  const ids = await Promise.all(t.users.map((_u, i) => placeCall(h, t, hook.url, i)));
  assert.equal(new Set(ids).size, 20);
  await Promise.all(ids.map((id) => hook.waitForState(id, 'established', 10_000)));
  await Promise.all(ids.map((id) => hangUp(h, t, id)));
  await Promise.all(ids.map((id) => hook.waitForState(id, 'terminated', 10_000)));
  for (const id of ids) {
    assert.deepEqual(states(hook, id), ['establishing', 'established', 'terminating', 'terminated'], `call ${id}`);
    const list = await settled(h, id);
    assert.ok(list.every((n) => n.status === 'delivered' && n.attempts === 1), `call ${id}`);
    assert.deepEqual(notificationIds(hook.forCall(id)), list.map((n) => n.id), `call ${id}: arrival order = enqueue order`);
  }
  assertNoDuplicates(hook);
});

test('a restart while notifications are queued loses nothing: all delivered after restart, in order, exactly once', async () => {
  const config = { notifications: { ...SETTINGS, maxAttempts: 100, shutdownFlushMs: 100 } };
  const bot = await newHook(() => ({ status: 503 }));
  const h1 = await Harness.start({ keepData: true, config });
  let h2: Harness | null = null;
  try {
    const t1 = await createTenant(h1, { webhook: bot.url, users: [{}] });
    const id = await placeCall(h1, t1, bot.url);
    // the call is established while its notifications pile up behind the failing first one
    await until(async () => (await h1.request('GET', `/v1.0/communications/calls/${id}`, { token: t1.token })).body?.state === 'established', 5000, 'call established');
    const queued = await until(async () => {
      const list = await notifications(h1, id);
      const first = list[0];
      return first && first.attempts >= 2 && list.length >= 2 ? list : null;
    }, 5000, 'notifications queued with failed attempts');
    assert.ok(queued.every((n) => n.status === 'pending'));
    await h1.stop();
    assert.equal(bot.received.length, 0);

    bot.responder = () => ({ status: 202 });
    h2 = await Harness.start({ dataDir: h1.dataDir, config });
    // shutdown ended the call (server-side, so straight to terminated): that notification was queued too
    const end = await bot.waitForState(id, 'terminated', 10_000);
    assert.equal(end.n.changeType, 'deleted');
    assert.equal(end.n.resourceData.resultInfo.code, 503);
    assert.deepEqual(states(bot, id), ['establishing', 'established', 'terminated']);
    assertNoDuplicates(bot);
    const list = await settled(h2, id);
    assert.ok(list.length >= 3);
    assert.ok(list.every((n) => n.status === 'delivered'), JSON.stringify(list.map((n) => [n.status, n.attempts])));
    assert.deepEqual(notificationIds(bot.forCall(id)), list.map((n) => n.id), 'delivered in the order they were queued, each once');
    const first = await notification(h2, list[0]!.id);
    assert.ok(first.attempts >= 3);
    assert.deepEqual(first.attemptLog.slice(0, -1).map((a: Json) => a.status), first.attemptLog.slice(0, -1).map(() => 503));
    assert.equal(first.attemptLog.at(-1).status, 202);
    // nothing left pending, nothing arrives twice later
    await new Promise((r) => setTimeout(r, 200));
    assertNoDuplicates(bot);
    assert.equal((await h2.admin('GET', '/notifications?status=pending')).body.value.length, 0);
  } finally {
    if (h2) await h2.stop();
    else await h1.stop();
  }
});
