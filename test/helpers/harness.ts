// Test harness: a real Telegraph on a loopback port with a fresh data directory, a real HTTP
// webhook that records every notification, and helpers for tokens and Graph requests.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { before, after } from 'node:test';
import pino from 'pino';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { loadConfig } from '../../src/config/loadConfig.ts';
import { Telegraph } from '../../src/server.ts';
import { eventually } from './wait.ts';

export type Json = Record<string, any>;

export interface Recorded {
  at: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Json;
  /** The first (and in Telegraph always only) commsNotification of the POST. */
  n: Json;
}

/** A bot's webhook: records every POST; the responder decides the status (default 202). */
export class Webhook {
  readonly received: Recorded[] = [];
  private server!: http.Server;
  url!: string;
  private waiters: { pred: (r: Recorded) => boolean; resolve: (r: Recorded) => void }[] = [];
  responder: (req: http.IncomingMessage, count: number) => { status: number; headers?: Record<string, string>; delayMs?: number } = () => ({ status: 202 });
  private count = 0;

  async start(port = 0): Promise<this> {
    this.server = http.createServer((req, res) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => {
        const n = ++this.count;
        const r = this.responder(req, n);
        const finish = () => {
          if (r.status >= 200 && r.status < 300) {
            let body: Json = {};
            try { body = JSON.parse(b); } catch { /* recorded as empty */ }
            const rec: Recorded = { at: Date.now(), path: req.url ?? '/', headers: req.headers, body, n: body.value?.[0] ?? body[0] ?? body };
            this.received.push(rec);
            this.waiters = this.waiters.filter((w) => {
              if (w.pred(rec)) { w.resolve(rec); return false; }
              return true;
            });
          }
          res.writeHead(r.status, r.headers ?? {});
          res.end();
        };
        if (r.delayMs) setTimeout(finish, r.delayMs); else finish();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    const addr = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${addr.port}/api/calls`;
    return this;
  }

  /** Waits for a notification matching `pred` (already received ones count), or fails after `ms`. */
  waitFor(pred: (r: Recorded) => boolean, ms = 5000, what = 'notification'): Promise<Recorded> {
    const found = this.received.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; received: ${this.received.map((r) => `${r.n.changeType} ${r.n.resourceUrl} ${r.n.resourceData?.state ?? ''}`).join(' | ')}`));
      }, ms);
      const done = (r: Recorded) => { clearTimeout(timer); resolve(r); };
      this.waiters.push({ pred, resolve: done });
    });
  }

  /** Waits for the call's state notification (`updated`/`deleted` with resourceData.state). */
  waitForState(callId: string, state: string, ms = 5000): Promise<Recorded> {
    return this.waitFor((r) => r.n.resourceUrl === `/communications/calls/${callId}` && r.n.resourceData?.state === state, ms, `call ${callId} state ${state}`);
  }

  /** The notifications about one call (state, roster, operations), in arrival order. */
  forCall(callId: string): Recorded[] {
    return this.received.filter((r) => typeof r.n.resourceUrl === 'string' && r.n.resourceUrl.startsWith(`/communications/calls/${callId}`));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface StartOptions {
  config?: Json;
  dataDir?: string;
  /** Keep the data directory after stop (restart tests). */
  keepData?: boolean;
}

export class Harness {
  private tokenCache = new Map<string, string>();
  constructor(
    readonly telegraph: Telegraph,
    readonly url: string,
    readonly dataDir: string,
    private readonly keepData: boolean,
  ) {}

  static async start(opts: StartOptions = {}): Promise<Harness> {
    const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'telegraph-test-'));
    const config = loadConfig({
      raw: { server: { port: 0 }, dataDir, adminKey: 'test-admin-key-0123456789', ...opts.config },
      env: {},
    });
    const telegraph = await Telegraph.create(config, { logger: pino({ level: process.env.TELEGRAPH_TEST_LOG ?? 'silent' }) });
    const url = await telegraph.listen();
    return new Harness(telegraph, url, dataDir, opts.keepData ?? false);
  }

  get adminKey(): string {
    return this.telegraph.adminKey;
  }

  async stop(): Promise<void> {
    await this.telegraph.stop();
    if (!this.keepData) rmSync(this.dataDir, { recursive: true, force: true });
  }

  async token(tenantId: string, clientId: string, secret: string): Promise<string> {
    const key = `${tenantId}/${clientId}/${secret}`;
    const cached = this.tokenCache.get(key);
    if (cached) return cached;
    const res = await fetch(`${this.url}/${tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: 'https://graph.microsoft.com/.default' }),
    });
    const body = (await res.json()) as Json;
    if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
    this.tokenCache.set(key, body.access_token);
    return body.access_token;
  }

  /** A request with a JSON (or raw string) body; returns status, headers and parsed body. */
  async request(method: string, path: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Headers; body: any }> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.raw !== undefined) { body = opts.raw; headers['content-type'] ??= 'application/json'; }
    else if (opts.body !== undefined) { body = JSON.stringify(opts.body); headers['content-type'] = 'application/json'; }
    const res = await fetch(`${this.url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: any = text;
    try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  admin(method: string, path: string, body?: unknown) {
    return this.request(method, `/admin${path}`, { body, headers: { authorization: `Bearer ${this.adminKey}` } });
  }

  sim(method: string, path: string, body?: unknown) {
    return this.request(method, `/simulator${path}`, { body, headers: { authorization: `Bearer ${this.adminKey}` } });
  }

  /** Verifies a notification's bearer token the way a bot would: through the published keys. */
  async verifyNotification(rec: Recorded, appId: string): Promise<Json> {
    const auth = String(rec.headers.authorization ?? '');
    const jwks = createRemoteJWKSet(new URL(`${this.url}/discovery/v2.0/keys`));
    const { payload } = await jwtVerify(auth.replace(/^Bearer /, ''), jwks, { audience: appId, issuer: `${this.url}/` });
    return payload as Json;
  }
}

/** Starts a Harness (`opts`) and a Webhook before the file's tests, hands both to `use`, and stops both after them. */
export function harnessAndWebhook(use: (h: Harness, hook: Webhook) => void, opts: StartOptions = {}): void {
  let h: Harness;
  let hook: Webhook;
  before(async () => {
    h = await Harness.start(opts);
    hook = await new Webhook().start();
    use(h, hook);
  });
  after(async () => {
    await h.stop();
    await hook.stop();
  });
}

/** A tenant made through the admin API, with one bot and some virtual users. */
export interface TestTenant {
  tenantId: string;
  appId: string;
  secret: string;
  instanceId: string;
  phoneNumber: string;
  users: { id: string; displayName: string; phoneNumber: string }[];
  token: string;
}

let numberSeq = 0;
/** Unique E.164 numbers per test process (the directory keeps numbers globally unique). */
export function nextNumber(): string {
  return `+1425${String(process.pid % 1000).padStart(3, '0')}${String(++numberSeq).padStart(4, '0')}`;
}

export async function createTenant(
  h: Harness,
  opts: {
    webhook?: string | null;
    permissions?: string[];
    users?: { displayName?: string; behaviour?: Json }[];
    meetings?: Json[];
  } = {},
): Promise<TestTenant> {
  const t = await h.admin('POST', '/tenants', { displayName: 'Test tenant' });
  if (t.status !== 201) throw new Error(`tenant: ${t.status} ${JSON.stringify(t.body)}`);
  const tenantId = t.body.id;
  const app = await h.admin('POST', `/tenants/${tenantId}/applications`, {
    displayName: 'Test Bot',
    permissions: opts.permissions ?? ['Calls.Initiate.All', 'Calls.InitiateGroupCall.All', 'Calls.JoinGroupCall.All', 'Calls.JoinGroupCallAsGuest.All', 'Calls.AccessMedia.All'],
    callingWebhook: opts.webhook ?? null,
  });
  if (app.status !== 201) throw new Error(`application: ${app.status} ${JSON.stringify(app.body)}`);
  const phoneNumber = nextNumber();
  const inst = await h.admin('POST', `/tenants/${tenantId}/applicationInstances`, { appId: app.body.appId, displayName: 'Test Bot line', phoneNumber });
  if (inst.status !== 201) throw new Error(`instance: ${inst.status} ${JSON.stringify(inst.body)}`);
  const users = [];
  for (const [i, u] of (opts.users ?? [{}, {}]).entries()) {
    const number = nextNumber();
    const r = await h.admin('POST', `/tenants/${tenantId}/users`, {
      displayName: u.displayName ?? `User ${i + 1}`,
      phoneNumber: number,
      endpoint: { kind: 'virtual', behaviour: { answer: 'auto', answerAfterMs: 0, ...(u.behaviour ?? {}) } },
    });
    if (r.status !== 201) throw new Error(`user: ${r.status} ${JSON.stringify(r.body)}`);
    users.push({ id: r.body.id, displayName: r.body.displayName, phoneNumber: number });
  }
  for (const m of opts.meetings ?? []) {
    const r = await h.admin('POST', `/tenants/${tenantId}/meetings`, { organizerId: users[0]!.id, ...m });
    if (r.status !== 201) throw new Error(`meeting: ${r.status} ${JSON.stringify(r.body)}`);
  }
  const token = await h.token(tenantId, app.body.appId, app.body.secret);
  return { tenantId, appId: app.body.appId, secret: app.body.secret, instanceId: inst.body.id, phoneNumber, users, token };
}

/** A virtual user in a call: its simulator call's id is its participant id in the call. */
export interface CallUser {
  id: string;
  simCallId: string;
}

/**
 * A Graph call (beta) from `t`'s bot to all of `t`'s users (one: peer-to-peer; more: a group call),
 * once `established`, with each user's simulator call once in `userState(i)` (default 'connected';
 * polled every `pollMs`).
 */
export async function callUsers(
  h: Harness,
  hook: Webhook,
  t: TestTenant,
  mediaConfig: Json,
  opts: { userState?: (i: number) => string; pollMs?: number } = {},
): Promise<{ callId: string; users: CallUser[] }> {
  const res = await h.request('POST', '/beta/communications/calls', {
    token: t.token,
    body: {
      '@odata.type': '#microsoft.graph.call',
      callbackUri: hook.url,
      targets: t.users.map((u) => ({ '@odata.type': '#microsoft.graph.invitationParticipantInfo', identity: { user: { id: u.id, displayName: u.displayName } } })),
      requestedModalities: ['audio'],
      mediaConfig,
    },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const callId = res.body.id as string;
  await hook.waitForState(callId, 'established', 5000);
  const users = await Promise.all(
    t.users.map(async (u, i) => {
      const state = opts.userState?.(i) ?? 'connected';
      const probe = async () => {
        const r = await h.sim('GET', `/users/${u.id}/calls`);
        return (r.body.value as Json[]).find((x) => x.state === state);
      };
      const c = await eventually(probe, `user ${u.displayName} ${state}`, 5000, opts.pollMs);
      return { id: u.id, simCallId: c.id as string };
    }),
  );
  return { callId, users };
}

/** Replaces every occurrence of each key with its value throughout a seed example's text. */
export function swapIds(text: string, swaps: Record<string, string>): string {
  let out = text;
  for (const [from, to] of Object.entries(swaps)) out = out.split(from).join(to);
  return out;
}
