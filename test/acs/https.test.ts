// The HTTPS listener (server.https): a local CA in <dataDir>/tls, trusted by a child process through
// NODE_EXTRA_CA_CERTS, lets the official Call Automation SDK work without allowInsecureConnection
// (TLS + HMAC); fetch trusts it through an undici Agent; a restart on the same data directory keeps the CA.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, fetch as undiciFetch } from 'undici';
import { loadConfig } from '../../src/config/loadConfig.ts';
import { Telegraph } from '../../src/server.ts';
import { formatConnectionString } from '../../src/identity/AcsHmac.ts';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLIENT = join(ROOT, 'test/fixtures/https/acs-client.ts');
const dir = mkdtempSync(join(tmpdir(), 'telegraph-https-'));
const running: Telegraph[] = [];
const received: unknown[] = [];
const sink = http.createServer((req, res) => {
  let text = '';
  req.on('data', (c) => (text += c));
  req.on('end', () => {
    try { received.push(JSON.parse(text)); } catch { /* ignored */ }
    res.writeHead(200);
    res.end();
  });
});

after(async () => {
  for (const t of running) await t.stop().catch(() => {});
  await new Promise<void>((r) => sink.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<Telegraph> {
  const config = loadConfig({
    raw: { dataDir: dir, log: { level: 'silent' }, server: { port: 0, https: { enabled: true, port: 0 } }, notifications: { shutdownFlushMs: 500 } },
    env: {},
  });
  const t = await Telegraph.create(config);
  running.push(t);
  await t.listen();
  return t;
}

/** Runs the SDK client in a child process that trusts `ca` from its start; bounded in time. */
function runClient(env: Record<string, string>): Promise<any> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLIENT], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the client did not finish in 30 s; stderr: ${err}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        resolveRun(JSON.parse(out.trim().split('\n').pop()!));
      } catch {
        reject(new Error(`client exited ${code} without JSON; stdout: ${out}; stderr: ${err}`));
      }
    });
  });
}

let firstFingerprint = '';
let firstCa = '';

test('HTTPS with a local CA: SDK over TLS without allowInsecureConnection, fetch with the CA, both listeners serve the routes', { timeout: 60_000 }, async () => {
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const callback = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/events`;
  const t = await start();

  assert.ok(t.tls?.caPath, 'a local CA was made');
  assert.equal(t.tls.caPath, join(dir, 'tls', 'ca.pem'));
  assert.equal(statSync(join(dir, 'tls', 'ca-key.pem')).mode & 0o777, 0o600);
  assert.equal(statSync(t.tls.caPath).mode & 0o777, 0o600);
  assert.match(t.httpsUrl!, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(t.publicUrl, t.httpsUrl, 'with HTTPS enabled and no publicUrl, the public URL is the HTTPS origin');
  firstFingerprint = t.tls.caFingerprint!;
  firstCa = readFileSync(t.tls.caPath, 'utf8');

  // fetch over HTTPS, trusting the CA through an undici Agent; untrusted, it fails.
  const agent = new Agent({ connect: { ca: firstCa } });
  try {
    const res = await undiciFetch(`${t.httpsUrl}/healthz`, { dispatcher: agent });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ok');
  } finally {
    await agent.close();
  }
  await assert.rejects(undiciFetch(`${t.httpsUrl}/healthz`), 'the local CA is not trusted by default');
  // The HTTP listener serves the same routes.
  assert.equal((await fetch(`${t.httpUrl}/healthz`)).status, 200);

  const dev = t.developmentTenant!;
  const result = await runClient({
    NODE_EXTRA_CA_CERTS: t.tls.caPath,
    TELEGRAPH_CS: formatConnectionString(t.httpsUrl!, dev.acs!.accessKey),
    TELEGRAPH_TARGET: `8:acs:${dev.acs!.resourceId}_${dev.userIds[0]}`,
    TELEGRAPH_CALLBACK: callback,
  });
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.match(result.callConnectionId, /\S/);
  assert.ok(['connecting', 'connected', 'establishing', 'unknown'].includes(String(result.state).toLowerCase()), `state ${result.state}`);
  assert.deepEqual(result.unknown, { name: 'RestError', statusCode: 404 });
  await t.stop();
});

test('a restart on the same data directory reuses the CA (same fingerprint)', { timeout: 30_000 }, async () => {
  assert.ok(firstFingerprint, 'runs after the first test');
  const t = await start();
  assert.equal(t.tls?.caFingerprint, firstFingerprint);
  assert.equal(readFileSync(t.tls!.caPath!, 'utf8'), firstCa);
  const agent = new Agent({ connect: { ca: firstCa } });
  try {
    assert.equal((await undiciFetch(`${t.httpsUrl}/healthz`, { dispatcher: agent })).status, 200);
  } finally {
    await agent.close();
  }
  await t.stop();
});
