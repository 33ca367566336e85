// A minimal calling bot for Telegraph (or the Microsoft Graph calls API): it takes incoming calls,
// answers them, and hangs up once they are established. Run it next to Telegraph:
//
//   npx tsx examples/bot/bot.ts
//
// Configuration (environment): TELEGRAPH_URL (default http://127.0.0.1:8080), TENANT_ID, CLIENT_ID,
// CLIENT_SECRET. Without the last three it reads Telegraph's development tenant from
// TELEGRAPH_DEV_TENANT_FILE (default ./.telegraph/development-tenant.json). BOT_HOST and BOT_PORT
// choose where it listens (default 127.0.0.1:3978, the development application's webhook).
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { createRemoteJWKSet, jwtVerify } from 'jose';

export interface BotOptions {
  /** Telegraph's origin, e.g. http://127.0.0.1:8080 (no trailing slash needed). */
  telegraphUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Where the webhook listens. Port 0 picks a free port (see BotHandle.url). */
  host?: string;
  port?: number;
  /** How long to stay in an established call before hanging up (default 1000 ms). */
  hangUpAfterMs?: number;
  /** Where log lines go (default: console.log with a timestamp). */
  log?: (line: string) => void;
}

export type BotStep = 'incoming' | 'answered' | 'establishing' | 'established' | 'hungUp' | 'terminated' | 'rejectedNotification' | 'error';

export interface BotEvent {
  step: BotStep;
  callId: string | null;
  detail?: string;
}

export interface BotHandle {
  /** The webhook URL the bot serves: http://host:port/api/calls. */
  readonly url: string;
  /** Every step the bot took, in order (handy in tests). */
  readonly events: BotEvent[];
  close(): Promise<void>;
}

type Json = Record<string, any>;

export async function startBot(options: BotOptions): Promise<BotHandle> {
  const base = options.telegraphUrl.replace(/\/+$/, '');
  const host = options.host ?? '127.0.0.1';
  const hangUpAfterMs = options.hangUpAfterMs ?? 1000;
  const log = options.log ?? ((line: string) => console.log(`${new Date().toISOString().slice(11, 23)} ${line}`));
  const events: BotEvent[] = [];
  const timers = new Set<NodeJS.Timeout>();
  /** Calls this bot answered: the only ones it hangs up. */
  const answered = new Set<string>();
  const step = (s: BotStep, callId: string | null, detail?: string) => {
    events.push({ step: s, callId, ...(detail !== undefined ? { detail } : {}) });
  };

  // Notifications carry a JWT signed by Telegraph: issuer "<TELEGRAPH_URL>/", audience = our client id.
  const jwks = createRemoteJWKSet(new URL(`${base}/discovery/v2.0/keys`));
  const issuer = `${base}/`;

  // ---- the bot's own access token (client credentials), renewed a minute before it expires
  let token: { value: string; expiresAt: number } | null = null;
  async function accessToken(): Promise<string> {
    if (token && token.expiresAt - Date.now() > 60_000) return token.value;
    const res = await fetch(`${base}/${options.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: options.clientId,
        client_secret: options.clientSecret,
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    const body = (await res.json()) as Json;
    if (!res.ok) throw new Error(`token request failed (${res.status}): ${body.error_description ?? JSON.stringify(body)}`);
    token = { value: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
    return token.value;
  }

  async function graph(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<void> {
    const res = await fetch(`${base}/v1.0/communications/calls${path}`, {
      method,
      headers: { authorization: `Bearer ${await accessToken()}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) {
      const text = await res.text();
      throw new Error(`${method} ${path} failed (${res.status}): ${text}`);
    }
  }

  const http = Fastify({ logger: false });
  let webhookUrl = '';

  http.post('/api/calls', async (req, reply) => {
    const auth = req.headers.authorization ?? '';
    try {
      await jwtVerify(auth.replace(/^Bearer\s+/i, ''), jwks, { issuer, audience: options.clientId });
    } catch (err) {
      log(`rejected a notification: ${(err as Error).message}`);
      step('rejectedNotification', null, (err as Error).message);
      return reply.status(401).send();
    }
    // Acknowledge at once; act on the notification after the reply (Telegraph waits at most a few seconds).
    const notifications = ((req.body as Json | undefined)?.value ?? []) as Json[];
    setImmediate(() => {
      for (const n of notifications) handle(n).catch((err: Error) => {
        log(`error: ${err.message}`);
        step('error', null, err.message);
      });
    });
    return reply.status(202).send();
  });

  async function handle(n: Json): Promise<void> {
    const m = /^\/communications\/calls\/([^/]+)$/.exec(String(n.resourceUrl ?? ''));
    if (!m || Array.isArray(n.resourceData)) return; // roster and operation updates: not used here
    const callId = m[1]!;
    const call = n.resourceData as Json;
    const state = call.state as string | undefined;

    if (n.changeType === 'created' && state === 'incoming') {
      const caller = call.source?.identity ?? {};
      const who = caller.user?.displayName ?? caller.phone?.id ?? caller.user?.id ?? 'someone';
      log(`incoming call ${callId} from ${who}`);
      step('incoming', callId, who);
      answered.add(callId); // before the request: its notifications may arrive before its reply
      try {
        await graph('POST', `/${callId}/answer`, {
          callbackUri: webhookUrl,
          acceptedModalities: ['audio'],
          mediaConfig: { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' },
        });
      } catch (err) {
        answered.delete(callId);
        throw err;
      }
      log(`answered ${callId}`);
      step('answered', callId);
      return;
    }
    if (state === 'establishing') {
      log(`call ${callId} is establishing`);
      step('establishing', callId);
    } else if (state === 'established' && answered.has(callId)) {
      log(`call ${callId} is established; hanging up in ${hangUpAfterMs} ms`);
      step('established', callId);
      const t = setTimeout(() => {
        timers.delete(t);
        graph('DELETE', `/${callId}`).then(
          () => {
            log(`hung up ${callId}`);
            step('hungUp', callId);
          },
          (err: Error) => {
            log(`error: ${err.message}`);
            step('error', callId, err.message);
          },
        );
      }, hangUpAfterMs);
      timers.add(t);
    } else if (state === 'terminated') {
      answered.delete(callId);
      const r = call.resultInfo ?? {};
      log(`call ${callId} ended: ${r.code}/${r.subcode} ${r.message ?? ''}`.trimEnd());
      step('terminated', callId, `${r.code}/${r.subcode}`);
    } else if (state) {
      log(`call ${callId} is ${state}`);
    }
  }

  await http.listen({ host, port: options.port ?? 3978 });
  const addr = http.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port ?? 3978;
  webhookUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}/api/calls`;
  await accessToken(); // fail early on wrong credentials
  log(`bot ${options.clientId} listening on ${webhookUrl} (Telegraph at ${base})`);

  return {
    url: webhookUrl,
    events,
    async close() {
      for (const t of timers) clearTimeout(t);
      await http.close();
    },
  };
}

/** Options from the environment, falling back to Telegraph's development tenant file. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): BotOptions {
  let tenantId = env.TENANT_ID;
  let clientId = env.CLIENT_ID;
  let clientSecret = env.CLIENT_SECRET;
  if (!tenantId || !clientId || !clientSecret) {
    const file = resolve(env.TELEGRAPH_DEV_TENANT_FILE ?? './.telegraph/development-tenant.json');
    if (!existsSync(file)) {
      throw new Error(`set TENANT_ID, CLIENT_ID and CLIENT_SECRET, or start Telegraph once so that ${file} exists (TELEGRAPH_DEV_TENANT_FILE names another)`);
    }
    const dev = JSON.parse(readFileSync(file, 'utf8')) as Json;
    tenantId ??= dev.tenantId;
    clientId ??= dev.clientId;
    clientSecret ??= dev.clientSecret;
  }
  return {
    telegraphUrl: env.TELEGRAPH_URL ?? 'http://127.0.0.1:8080',
    tenantId: tenantId!,
    clientId: clientId!,
    clientSecret: clientSecret!,
    host: env.BOT_HOST ?? '127.0.0.1',
    port: env.BOT_PORT ? Number(env.BOT_PORT) : 3978,
  };
}

// Run directly (npx tsx examples/bot/bot.ts): start, and stop cleanly on Ctrl-C.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const bot = await startBot(optionsFromEnv());
    const stop = () => void bot.close().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (err) {
    console.error(`bot: ${(err as Error).message}`);
    process.exit(1);
  }
}
