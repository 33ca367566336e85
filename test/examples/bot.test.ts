// The example bot (examples/bot/bot.ts) against a real Telegraph: a virtual user calls the bot's
// number; the bot verifies each notification, answers, and hangs up once the call is established.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, type Json } from '../helpers/harness.ts';
import { startBot, type BotHandle } from '../../examples/bot/bot.ts';

let h: Harness;
let bot: BotHandle;
const lines: string[] = [];

before(async () => {
  h = await Harness.start();
  const dev = h.telegraph.developmentTenant;
  assert.ok(dev, 'the harness starts without tenants, so Telegraph creates its development tenant');
  // The bot listens on a free loopback port; the development application's webhook is pointed there.
  bot = await startBot({
    telegraphUrl: h.url,
    tenantId: dev.tenantId,
    clientId: dev.clientId,
    clientSecret: dev.clientSecret,
    port: 0,
    hangUpAfterMs: 0,
    log: (line) => lines.push(line),
  });
  const patch = await h.admin('PATCH', `/tenants/${dev.tenantId}/applications/${dev.clientId}`, { callingWebhook: bot.url });
  assert.equal(patch.status, 200, JSON.stringify(patch.body));
});

after(async () => {
  await bot?.close();
  await h?.stop();
});

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; bot log:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('the bot answers a call to its number, sees it established, and hangs up', async () => {
  const dev = h.telegraph.developmentTenant!;
  const caller = dev.userIds[0]!;
  const placed = await h.sim('POST', `/users/${caller}/calls`, { phone: dev.phoneNumber });
  assert.equal(placed.status, 201, JSON.stringify(placed.body));

  const ended = await until('the caller to see the call end', async () => {
    const r = await h.sim('GET', `/users/${caller}/calls/${placed.body.id}`);
    return r.body.state === 'ended' ? (r.body as Json) : undefined;
  });
  // The bot left a peer-to-peer call, so the caller was told the other participant left.
  assert.deepEqual([ended.result.code, ended.result.subcode], [200, 18503]);
  assert.ok(ended.connectedAt, 'the call was connected before it ended');

  const callId = await until('the bot to log the end', () => bot.events.find((e) => e.step === 'terminated')?.callId ?? undefined);
  assert.ok(callId);
  // Answer/establishing and hang-up/terminated may interleave (replies race notifications); the rest is ordered.
  const steps = bot.events.filter((e) => e.callId === callId).map((e) => e.step);
  for (const s of ['incoming', 'answered', 'established', 'hungUp', 'terminated'] as const) assert.ok(steps.includes(s), `bot step ${s} missing: ${steps.join(', ')}`);
  assert.equal(steps[0], 'incoming');
  assert.ok(steps.indexOf('established') < steps.indexOf('terminated'), steps.join(', '));
  // Ended by the application: 200/7000.
  assert.equal(bot.events.find((e) => e.step === 'terminated')!.detail, '200/7000');
  assert.equal(bot.events.filter((e) => e.step === 'rejectedNotification' || e.step === 'error').length, 0, lines.join('\n'));

  // Every notification of the call went to the bot and was acknowledged with 202.
  const sent = await h.admin('GET', `/notifications?callId=${callId}`);
  assert.ok(sent.body.value.length >= 4);
  for (const n of sent.body.value) {
    assert.equal(n.url, bot.url);
    assert.equal(n.status, 'delivered');
    assert.equal(n.lastStatus, 202);
  }
});

test('the bot refuses a notification that Telegraph did not sign', async () => {
  const forged = await fetch(bot.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-jwt' },
    body: JSON.stringify({ value: [] }),
  });
  assert.equal(forged.status, 401);
  const missing = await fetch(bot.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"value":[]}' });
  assert.equal(missing.status, 401);
});
