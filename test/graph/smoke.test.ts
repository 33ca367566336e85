import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Webhook, createTenant, type TestTenant } from '../helpers/harness.ts';

let h: Harness;
let hook: Webhook;
let t: TestTenant;

before(async () => {
  h = await Harness.start();
  hook = await new Webhook().start();
  t = await createTenant(h, { webhook: hook.url });
});
after(async () => {
  await h.stop();
  await hook.stop();
});

test('a peer-to-peer call to a virtual user is established, then ended by the bot', async () => {
  const res = await h.request('POST', '/v1.0/communications/calls', {
    token: t.token,
    body: {
      callbackUri: hook.url,
      targets: [{ identity: { user: { id: t.users[0]!.id, displayName: 'User 1' } } }],
      requestedModalities: ['audio'],
      mediaConfig: { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' },
    },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.id;
  assert.equal(res.headers.get('location'), `${h.url}/v1.0/communications/calls/${id}`);
  await hook.waitForState(id, 'established');
  const del = await h.request('DELETE', `/v1.0/communications/calls/${id}`, { token: t.token });
  assert.equal(del.status, 204);
  const end = await hook.waitForState(id, 'terminated');
  assert.equal(end.n.changeType, 'deleted');
  assert.deepEqual([end.n.resourceData.resultInfo.code, end.n.resourceData.resultInfo.subcode], [200, 7000]);
  assert.deepEqual(hook.forCall(id).map((r) => r.n.resourceData.state), ['establishing', 'established', 'terminating', 'terminated']);
  const claims = await h.verifyNotification(end, t.appId);
  assert.equal(claims.tid, t.tenantId);
  const gone = await h.request('GET', `/v1.0/communications/calls/${id}`, { token: t.token });
  assert.equal(gone.status, 404);
  assert.equal(gone.body.error.code, '8522');
});
