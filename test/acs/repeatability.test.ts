// Repeatable requests: one action per Repeatability-Request-ID, replays of the first response,
// the ACS rejection statuses, expiry and bounds; and a real SDK retry answered from the cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { CallAutomationClient } from '@azure/communication-call-automation';
import { AcsError } from '../../src/api/acs/AcsError.ts';
import { RepeatabilityCache, REPEATABILITY_TTL_MS, type RepeatableRequest, type RepeatableResponse } from '../../src/api/acs/Repeatability.ts';
import { formatConnectionString } from '../../src/identity/AcsHmac.ts';
import { FakeAcsServer } from './fakeAcsServer.ts';

let now = Date.parse('Tue, 15 Nov 1994 08:12:31 GMT');
const clock = () => now;

function request(id: string | undefined, body = '{"a":1}', over: Partial<RepeatableRequest> & { firstSent?: string | undefined } = {}): RepeatableRequest {
  const headers: Record<string, string> = {};
  if (id !== undefined) headers['Repeatability-Request-ID'] = id;
  const firstSent = 'firstSent' in over ? over.firstSent : new Date(now).toUTCString();
  if (firstSent !== undefined) headers['Repeatability-First-Sent'] = firstSent;
  return { resource: 'res1', method: 'POST', rawPath: '/calling/callConnections/cc1:play?api-version=2026-03-12', headers, body: Buffer.from(body), ...over };
}

function counter() {
  let n = 0;
  const action = async (): Promise<RepeatableResponse> => {
    n++;
    return { status: 202, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n }) };
  };
  return { action, get count() { return n; } };
}

async function rejectsWith(p: Promise<unknown>, status: number, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AcsError, String(err));
    assert.equal(err.status, status, err.message);
    assert.match(err.message, message);
    assert.equal(err.headers['repeatability-result'], 'rejected');
    return true;
  });
}

test('the same id twice acts once; the retry gets the first response, marked accepted', async () => {
  const cache = new RepeatabilityCache({ now: clock });
  const c = counter();
  const id = randomUUID();
  const first = await cache.run(request(id), c.action);
  const second = await cache.run(request(id), c.action);
  assert.equal(c.count, 1);
  assert.deepEqual(first, { status: 202, headers: { 'content-type': 'application/json', 'repeatability-result': 'accepted' }, body: '{"n":1}' });
  assert.deepEqual(second, first);
  // The id is case-insensitive; a retry's First-Sent is the original one, but a later one is tolerated.
  now += 1000;
  assert.deepEqual(await cache.run(request(id.toUpperCase()), c.action), first);
  assert.equal(c.count, 1);
  // A new id acts again.
  await cache.run(request(randomUUID()), c.action);
  assert.equal(c.count, 2);
});

test('requests without the headers are not repeatable and always act', async () => {
  const cache = new RepeatabilityCache({ now: clock });
  const c = counter();
  const r = await cache.run(request(undefined, '{}', { firstSent: undefined }), c.action);
  await cache.run(request(undefined, '{}', { firstSent: undefined }), c.action);
  assert.equal(c.count, 2);
  assert.equal(r.headers['repeatability-result'], undefined);
  assert.equal(cache.size, 0);
});

test('the same id with a different body, path or method is a 400 and does not act', async () => {
  const cache = new RepeatabilityCache({ now: clock });
  const c = counter();
  const id = randomUUID();
  await cache.run(request(id), c.action);
  await rejectsWith(cache.run(request(id, '{"a":2}'), c.action), 400, new RegExp(`Repeatability-Request-ID ${id} was already used for a different request`));
  await rejectsWith(cache.run(request(id, '{"a":1}', { rawPath: '/calling/callConnections/cc2:play?api-version=2026-03-12' }), c.action), 400, /different request/);
  await rejectsWith(cache.run(request(id, '{"a":1}', { method: 'PUT' }), c.action), 400, /different request/);
  assert.equal(c.count, 1);
  // Ids are scoped by resource: another resource may use the same id.
  await cache.run(request(id, '{"a":2}', { resource: 'res2' }), c.action);
  assert.equal(c.count, 2);
});

test('malformed headers are 400s; a First-Sent outside the tracked period is 412', async () => {
  const cache = new RepeatabilityCache({ now: clock });
  const c = counter();
  await rejectsWith(cache.run(request('not-a-guid'), c.action), 400, /'not-a-guid' is not a GUID/);
  await rejectsWith(cache.run(request(randomUUID(), '{}', { firstSent: '1994-11-15T08:12:31Z' }), c.action), 400, /is not an IMF-fixdate/);
  await rejectsWith(cache.run(request(randomUUID(), '{}', { firstSent: undefined }), c.action), 400, /without Repeatability-First-Sent/);
  await rejectsWith(cache.run(request(undefined), c.action), 400, /without Repeatability-Request-ID/);
  await rejectsWith(cache.run(request(randomUUID(), '{}', { firstSent: new Date(now - REPEATABILITY_TTL_MS - 1000).toUTCString() }), c.action), 412, /301 s in the past, outside the tracked period of 300 s/);
  await rejectsWith(cache.run(request(randomUUID(), '{}', { firstSent: new Date(now + REPEATABILITY_TTL_MS + 1000).toUTCString() }), c.action), 412, /in the future/);
  assert.equal(c.count, 0);
  const e = cache.begin(request('x'));
  assert.equal(e.kind, 'reject');
  assert.equal(e.kind === 'reject' && e.error.target, 'Repeatability-Request-ID');
});

test('a duplicate while the first is still running is a 409 and does not act', async () => {
  const cache = new RepeatabilityCache({ now: clock });
  const id = randomUUID();
  let release!: () => void;
  let n = 0;
  const slow = async (): Promise<RepeatableResponse> => {
    n++;
    await new Promise<void>((r) => { release = r; });
    return { status: 200, headers: {}, body: 'ok' };
  };
  const first = cache.run(request(id), slow);
  await rejectsWith(cache.run(request(id), slow), 409, /still being processed/);
  release();
  assert.equal((await first).body, 'ok');
  assert.equal((await cache.run(request(id), slow)).body, 'ok');
  assert.equal(n, 1);
});

test('4xx errors are kept and replayed; 5xx and unexpected errors are not (the retry acts again)', async () => {
  const cache = new RepeatabilityCache({ now: clock });
  let n = 0;
  const notFound = async (): Promise<RepeatableResponse> => { n++; throw AcsError.callNotFound('cc1'); };
  const id = randomUUID();
  await assert.rejects(cache.run(request(id), notFound), (e: any) => e.status === 404 && e.headers['repeatability-result'] === 'accepted');
  await assert.rejects(cache.run(request(id), notFound), (e: any) => e instanceof AcsError && e.status === 404 && e.code === '8522');
  assert.equal(n, 1);

  let m = 0;
  const flaky = async (): Promise<RepeatableResponse> => {
    m++;
    if (m === 1) throw AcsError.internal('boom');
    if (m === 2) throw new Error('unexpected');
    if (m === 3) return { status: 503, headers: {} };
    return { status: 202, headers: {} };
  };
  const id2 = randomUUID();
  await assert.rejects(cache.run(request(id2), flaky), /boom/);
  await assert.rejects(cache.run(request(id2), flaky), /unexpected/);
  assert.equal((await cache.run(request(id2), flaky)).status, 503);
  assert.equal((await cache.run(request(id2), flaky)).status, 202);
  assert.equal((await cache.run(request(id2), flaky)).status, 202);
  assert.equal(m, 4);
});

test('entries expire after the tracked period, and the cache is bounded', async () => {
  const cache = new RepeatabilityCache({ now: clock, ttlMs: 60_000, maxEntries: 3 });
  const c = counter();
  const id = randomUUID();
  const sent = new Date(now).toUTCString();
  await cache.run(request(id, '{}', { firstSent: sent }), c.action);
  now += 59_000;
  await cache.run(request(id, '{}', { firstSent: sent }), c.action);
  assert.equal(c.count, 1);
  now += 2_000;
  // Past the period: the retry is refused (412) rather than acted on twice.
  await rejectsWith(cache.run(request(id, '{}', { firstSent: sent }), c.action), 412, /outside the tracked period of 60 s/);
  // With a fresh First-Sent the expired entry is gone: it acts again.
  await cache.run(request(id, '{}'), c.action);
  assert.equal(c.count, 2);

  const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  for (const i of ids) await cache.run(request(i), c.action);
  assert.equal(cache.size, 3);
  assert.equal(c.count, 6);
  await cache.run(request(ids[3]), c.action); // still kept
  assert.equal(c.count, 6);
  await cache.run(request(ids[0]), c.action); // evicted: acts again
  assert.equal(c.count, 7);
  // Expired entries are swept.
  now += 120_000;
  await cache.run(request(randomUUID()), c.action);
  assert.equal(cache.size, 1);
});

test('SDK: a retry after a lost response carries the same id and is answered from the cache', async () => {
  const key = randomBytes(32);
  const server = await FakeAcsServer.start([key]);
  const cache = new RepeatabilityCache();
  const seenIds: string[] = [];
  let acted = 0;
  let attempts = 0;
  server.routes = [
    async (req) => {
      if (req.rawPath.split('?')[0] !== '/calling/recordings') return undefined;
      attempts++;
      seenIds.push(String(req.headers['repeatability-request-id']));
      try {
        const res = await cache.run({ resource: 'res1', method: req.method, rawPath: req.rawPath, headers: req.headers, body: req.body }, async () => {
          acted++;
          return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ recordingId: `rec${acted}`, recordingState: 'active' }) };
        });
        // The first answer is lost on the way back: the SDK sees a reset connection and retries.
        return attempts === 1 ? { status: 0, drop: true } : { status: res.status, headers: res.headers, json: JSON.parse(String(res.body)) };
      } catch (err) {
        if (err instanceof AcsError) return { status: err.status, json: err.toBody(), headers: err.headers };
        throw err;
      }
    },
  ];
  try {
    const sdk = new CallAutomationClient(formatConnectionString(`http://127.0.0.1:${server.port}`, key), {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
    });
    const started = await sdk.getCallRecording().start({ callLocator: { id: 'sc1', kind: 'serverCallLocator' } });
    assert.equal(started.recordingId, 'rec1');
    assert.equal(attempts, 2);
    assert.equal(acted, 1);
    assert.equal(seenIds[0], seenIds[1]);
    assert.match(seenIds[0]!, /^[0-9a-f-]{36}$/);
    assert.equal(server.last.headers['repeatability-first-sent'], server.seen[0]!.headers['repeatability-first-sent']);
    assert.equal(server.last.result.ok, true, 'the retry is re-signed');
  } finally {
    await server.stop();
  }
});
