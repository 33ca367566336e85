// The real command: `telegraph start` ends active calls on SIGTERM, delivers their final
// notification to the bot, and exits 0; SIGINT on an idle server exits 0 too.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { Webhook, type Recorded } from '../helpers/harness.ts';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const ADMIN_KEY = 'cli-test-admin-key-0123456789';
const TENANT = 'cli-tenant-0001';
const APP = 'cli-app-0001';
const SECRET = 'cli-secret-0123456789';
const USER = 'cli-user-0001';

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`)), ms); }),
  ]);
}

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** Spawns `node bin/telegraph.js start` with a fresh data directory and waits for "listening". */
async function startCli(webhook: string | null, reuseDir?: string): Promise<Started & { dir: string }> {
  const dir = reuseDir ?? mkdtempSync(join(tmpdir(), 'telegraph-cli-'));
  if (!reuseDir) dirs.push(dir);
  const config = {
    adminKey: ADMIN_KEY,
    log: { level: 'warn' },
    notifications: { timeoutMs: 1000, backoffBaseMs: 20, backoffMaxMs: 200, maxAttempts: 5, shutdownFlushMs: 5000 },
    tenants: [
      {
        id: TENANT,
        displayName: 'CLI tenant',
        applications: [
          {
            appId: APP,
            displayName: 'CLI Bot',
            secrets: [SECRET],
            permissions: ['Calls.Initiate.All', 'Calls.InitiateGroupCall.All', 'Calls.JoinGroupCall.All', 'Calls.JoinGroupCallAsGuest.All', 'Calls.AccessMedia.All'],
            callingWebhook: webhook,
          },
        ],
        applicationInstances: [{ id: 'cli-instance-0001', appId: APP, displayName: 'CLI Bot line', phoneNumber: '+14255559900' }],
        users: [{ id: USER, displayName: 'CLI User', phoneNumber: '+14255559901', endpoint: { kind: 'virtual', behaviour: { answer: 'auto', answerAfterMs: 0 } } }],
      },
    ],
  };
  const configFile = join(dir, 'telegraph.yaml');
  writeFileSync(configFile, stringify(config));
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TELEGRAPH_')));
  const child = spawn(process.execPath, ['bin/telegraph.js', 'start', '--port', String(port), '--data-dir', join(dir, 'data'), '--config', configFile], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal, at: Date.now() })),
  );
  await withTimeout(
    new Promise<void>((resolveListening, reject) => {
      const check = () => { if (/listening/.test(out)) resolveListening(); };
      child.stdout!.on('data', check);
      check();
      void exited.then((e) => reject(new Error(`telegraph exited (${e.code ?? e.signal}) before listening:\n${out}`)));
    }),
    15_000,
    () => `"listening" on stdout (output so far: ${out})`,
  );
  const url = `http://127.0.0.1:${port}`;
  assert.match(out, new RegExp(`listening on ${url.replace(/[.]/g, '\\.')}`));
  return { child, url, output: () => out, exited, dir };
}

async function json(res: Response): Promise<any> {
  const text = await res.text();
  try { return text ? JSON.parse(text) : null; } catch { return text; }
}

test('SIGTERM ends the active call, delivers its terminated notification (503), then exits 0', async () => {
  const hook = await new Webhook().start();
  try {
    const cli = await startCli(hook.url);
    const tok = await fetch(`${cli.url}/${TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: APP, client_secret: SECRET, scope: 'https://graph.microsoft.com/.default' }),
      signal: AbortSignal.timeout(5000),
    });
    const tokBody = await json(tok);
    assert.equal(tok.status, 200, JSON.stringify(tokBody));
    const created = await fetch(`${cli.url}/v1.0/communications/calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokBody.access_token}` },
      body: JSON.stringify({
        callbackUri: hook.url,
        targets: [{ identity: { user: { id: USER, displayName: 'CLI User' } } }],
        requestedModalities: ['audio'],
        mediaConfig: { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' },
      }),
      signal: AbortSignal.timeout(5000),
    });
    const call = await json(created);
    assert.equal(created.status, 201, JSON.stringify(call));
    const id = call.id as string;
    await hook.waitForState(id, 'established', 5000);

    // what the bot had received by the moment the process exited
    let atExit: Recorded[] = [];
    const exited = cli.exited.then((e) => { atExit = [...hook.received]; return e; });
    assert.equal(cli.child.kill('SIGTERM'), true);
    const { code, signal } = await withTimeout(exited, 15_000, 'telegraph to exit after SIGTERM');
    assert.equal(signal, null, cli.output());
    assert.equal(code, 0, cli.output());

    const end = atExit.find((r) => r.n.resourceUrl === `/communications/calls/${id}` && r.n.resourceData?.state === 'terminated');
    assert.ok(end, `terminated notification not received before exit; received: ${atExit.map((r) => `${r.n.changeType} ${r.n.resourceData?.state}`).join(' | ')}`);
    assert.equal(end.n.changeType, 'deleted');
    assert.equal(end.n.resourceData.resultInfo.code, 503);
    const states = atExit.filter((r) => r.n.resourceUrl === `/communications/calls/${id}`).map((r) => r.n.resourceData?.state);
    assert.deepEqual(states, ['establishing', 'established', 'terminated']);
  } finally {
    await hook.stop();
  }
});

test('SIGINT on an idle server exits 0', async () => {
  const cli = await startCli(null);
  const health = await fetch(`${cli.url}/healthz`, { signal: AbortSignal.timeout(5000) });
  assert.equal(health.status, 200);
  assert.equal((await json(health)).status, 'ok');
  assert.equal(cli.child.kill('SIGINT'), true);
  const { code, signal } = await withTimeout(cli.exited, 15_000, 'telegraph to exit after SIGINT');
  assert.equal(signal, null, cli.output());
  assert.equal(code, 0, cli.output());
});

test('after a crash (SIGKILL) the next start tells the bot its live call ended (500/7101)', async () => {
  const hook = await new Webhook().start();
  try {
    const first = await startCli(hook.url);
    const tok = await fetch(`${first.url}/${TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: APP, client_secret: SECRET, scope: 'https://graph.microsoft.com/.default' }),
      signal: AbortSignal.timeout(5000),
    });
    const token = (await json(tok)).access_token as string;
    const created = await fetch(`${first.url}/v1.0/communications/calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        callbackUri: hook.url,
        targets: [{ identity: { user: { id: USER, displayName: 'CLI User' } } }],
        mediaConfig: { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' },
      }),
      signal: AbortSignal.timeout(5000),
    });
    const id = (await json(created)).id as string;
    await hook.waitForState(id, 'established', 5000);
    first.child.kill('SIGKILL');
    await withTimeout(first.exited, 10_000, 'the killed process to exit');
    assert.equal(hook.forCall(id).some((r) => r.n.resourceData?.state === 'terminated'), false);

    const second = await startCli(hook.url, first.dir);
    const end = await hook.waitForState(id, 'terminated', 10_000);
    assert.equal(end.n.changeType, 'deleted');
    assert.deepEqual([end.n.resourceData.resultInfo.code, end.n.resourceData.resultInfo.subcode], [500, 7101]);
    // The issuer names the origin, and this run listens on another port: take a fresh token.
    const tok2 = await fetch(`${second.url}/${TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: APP, client_secret: SECRET, scope: 'https://graph.microsoft.com/.default' }),
      signal: AbortSignal.timeout(5000),
    });
    const token2 = (await json(tok2)).access_token as string;
    const gone = await fetch(`${second.url}/v1.0/communications/calls/${id}`, { headers: { authorization: `Bearer ${token2}` }, signal: AbortSignal.timeout(5000) });
    assert.equal(gone.status, 404);
    second.child.kill('SIGTERM');
    assert.equal((await withTimeout(second.exited, 15_000, 'exit after SIGTERM')).code, 0);
  } finally {
    await hook.stop();
  }
});
