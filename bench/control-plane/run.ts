// Control-plane benchmark: how many Graph call setups per second one Telegraph process sustains.
//
// Telegraph runs as a separate process (bin/telegraph.js, its own data directory and config file);
// this process is the bot: a loopback webhook (node:http, answers 202) and an undici Pool client
// that runs a bounded closed loop of C workers, each doing
//   POST /v1.0/communications/calls → `established` at the webhook → DELETE → `terminated` at the webhook.
// Results go to bench/results/control-plane.json; a short summary is printed.
//
//   npm run bench:control-plane
//   BENCH_SECONDS=20 BENCH_CONCURRENCY=64 BENCH_USERS=100 npm run bench:control-plane
//   BENCH_RATE=300 npm run bench:control-plane      (latency at a fixed offered rate instead of at saturation)
//   BENCH_SERVER_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:control-plane
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { stringify as toYaml } from 'yaml';
import { ROOT, intEnv } from '../helpers.ts';

// ---------------------------------------------------------------- settings

const SECONDS = intEnv('BENCH_SECONDS', 20, 1, 600);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 64, 1, 2048);
const USERS = intEnv('BENCH_USERS', 100, 1, 10_000);
const WARMUP_MS = intEnv('BENCH_WARMUP_MS', 2000, 0, 60_000);
/** 0: an unpaced closed loop (as fast as the workers go). N: call creates are paced to N per second overall. */
const RATE = intEnv('BENCH_RATE', 0, 0, 100_000);
/** How long one wait (a response or a notification) may take before it counts as an error. */
const STEP_TIMEOUT_MS = intEnv('BENCH_STEP_TIMEOUT_MS', 10_000, 100, 120_000);
const SERVER_NODE_OPTIONS = (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
const OUT_FILE = resolve(ROOT, process.env.BENCH_OUT ?? 'bench/results/control-plane.json');
const TARGET = { setupsPerSecond: 300, notificationP99Ms: 25 };
/** A hard cap on the samples kept per series (a bound on memory whatever the rate). */
const MAX_SAMPLES = 500_000;

type Json = Record<string, any>;

// ---------------------------------------------------------------- small helpers

interface Summary {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

class Series {
  readonly values: number[] = [];
  dropped = 0;
  add(v: number): void {
    if (this.values.length < MAX_SAMPLES) this.values.push(v);
    else this.dropped++;
  }
  summary(): Summary {
    const v = [...this.values].sort((a, b) => a - b);
    const q = (p: number) => (v.length ? round(v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)]!) : null);
    const mean = v.length ? round(v.reduce((s, x) => s + x, 0) / v.length) : null;
    return { count: v.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: v.length ? round(v[v.length - 1]!) : null, mean };
  }
}

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A timer for Promise.race bounds: it does not keep the process alive once the race is won. */
const bound = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch { /* Linux's usual value */ }

/** utime + stime of a process in seconds, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Busy CPU seconds of the whole machine (every core), from /proc/stat: to see what other processes took. */
function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0)) / clockTicks;
}

/** VmRSS and VmHWM (peak) of a process in MiB, from /proc/<pid>/status. */
function memory(pid: number): { rssMiB: number; peakRssMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: round(kb('VmRSS') / 1024, 1), peakRssMiB: round(kb('VmHWM') / 1024, 1) };
}

// ---------------------------------------------------------------- the bot's webhook

interface CallTrack {
  /** performance.now() at which the webhook received each state's notification. */
  states: Map<string, number>;
  waiter: { state: string; resolve: (at: number) => void } | null;
}

class Webhook {
  private server!: http.Server;
  url = '';
  received = 0;
  unparsable = 0;
  /** Notifications per call, kept until the worker finished with the call (bounded below). */
  private readonly tracks = new Map<string, CallTrack>();

  track(callId: string): CallTrack {
    let t = this.tracks.get(callId);
    if (!t) {
      t = { states: new Map(), waiter: null };
      this.tracks.set(callId, t);
      // Calls whose create failed on our side may leave entries: keep the map bounded.
      if (this.tracks.size > 100_000) this.tracks.delete(this.tracks.keys().next().value!);
    }
    return t;
  }

  forget(callId: string): void {
    this.tracks.delete(callId);
  }

  /** Resolves with the receive time of `state` for the call, or null after `ms`. */
  waitFor(callId: string, state: string, ms: number): Promise<number | null> {
    const t = this.track(callId);
    const at = t.states.get(state);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        t.waiter = null;
        resolve(null);
      }, ms);
      t.waiter = {
        state,
        resolve: (when) => {
          clearTimeout(timer);
          t.waiter = null;
          resolve(when);
        },
      };
    });
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const at = performance.now();
        res.writeHead(202);
        res.end();
        this.received++;
        let n: Json | undefined;
        try {
          n = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json).value?.[0];
        } catch {
          this.unparsable++;
          return;
        }
        const url = n?.resourceUrl;
        const state = n?.resourceData?.state;
        if (typeof url !== 'string' || typeof state !== 'string') return;
        const m = /^\/communications\/calls\/([^/]+)$/.exec(url);
        if (!m) return;
        const t = this.track(m[1]!);
        if (!t.states.has(state)) t.states.set(state, at);
        if (t.waiter?.state === state) t.waiter.resolve(at);
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const port = (this.server.address() as { port: number }).port;
    this.url = `http://127.0.0.1:${port}/api/calls`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

// ---------------------------------------------------------------- Telegraph as a child process

interface Server {
  child: ChildProcess;
  url: string;
  output: string[];
}

async function startTelegraph(dataDir: string, configFile: string): Promise<Server> {
  const args = [...SERVER_NODE_OPTIONS, join(ROOT, 'bin/telegraph.js'), 'start', '--port', '0', '--data-dir', dataDir, '--config', configFile, '--log-level', 'warn'];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stderr!.on('data', keep);
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`Telegraph did not start within 30 s:\n${output.join('')}`)), 30_000);
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      buffered += chunk.toString('utf8');
      const m = /Telegraph is listening on (http:\/\/\S+)/.exec(buffered);
      if (m) {
        clearTimeout(timer);
        buffered = '';
        resolveUrl(m[1]!);
      } else if (buffered.length > 65_536) buffered = buffered.slice(-4096);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Telegraph exited during start (code ${code}, signal ${signal}):\n${output.join('')}`));
    });
  });
  return { child, url, output };
}

/** SIGTERM (Telegraph's graceful stop), SIGKILL after 20 s. Returns how long the stop took. */
async function stopTelegraph(s: Server): Promise<{ ms: number; killed: boolean }> {
  const t = performance.now();
  if (s.child.exitCode !== null || s.child.signalCode !== null) return { ms: 0, killed: false };
  const exited = new Promise<void>((r) => s.child.once('exit', () => r()));
  s.child.kill('SIGTERM');
  const timedOut = await Promise.race([exited.then(() => false), bound(20_000).then(() => true)]);
  if (timedOut) {
    s.child.kill('SIGKILL');
    await exited;
  }
  return { ms: Math.round(performance.now() - t), killed: timedOut };
}

// ---------------------------------------------------------------- the run

interface Stats {
  setups: number;
  setupsPerSecondBucket: number[];
  create: Series;
  del: Series;
  /** Webhook receive time minus the response time of the request that caused the change. */
  notify: Record<'establishing' | 'established' | 'terminating' | 'terminated', Series>;
  errors: Record<string, number>;
}

function newStats(): Stats {
  return {
    setups: 0,
    setupsPerSecondBucket: [],
    create: new Series(),
    del: new Series(),
    notify: { establishing: new Series(), established: new Series(), terminating: new Series(), terminated: new Series() },
    errors: {},
  };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(os.tmpdir(), 'telegraph-bench-'));
  const dataDir = join(work, 'data');
  const configFile = join(work, 'telegraph.yaml');
  const webhook = new Webhook();
  await webhook.start();

  const tenantId = randomUUID();
  const appId = randomUUID();
  const secret = randomBytes(30).toString('base64url');
  const adminKey = randomBytes(24).toString('base64url');
  const userIds = Array.from({ length: USERS }, () => randomUUID());
  writeFileSync(
    configFile,
    toYaml({
      adminKey,
      tenants: [
        {
          id: tenantId,
          displayName: 'Benchmark tenant',
          applications: [
            {
              appId,
              displayName: 'Benchmark bot',
              secrets: [secret],
              permissions: ['Calls.Initiate.All', 'Calls.InitiateGroupCall.All', 'Calls.JoinGroupCall.All', 'Calls.JoinGroupCallAsGuest.All', 'Calls.AccessMedia.All'],
              callingWebhook: webhook.url,
            },
          ],
          users: userIds.map((id, i) => ({ id, displayName: `Bench user ${i + 1}`, endpoint: { kind: 'virtual', behaviour: { answer: 'auto', answerAfterMs: 0 } } })),
        },
      ],
    }),
  );

  let server: Server | null = null;
  let pool: Pool | null = null;
  try {
    server = await startTelegraph(dataDir, configFile);
    const pid = server.child.pid!;
    pool = new Pool(server.url, { connections: CONCURRENCY + 4, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 });
    const p = pool;

    const call = async (method: 'GET' | 'POST' | 'DELETE', path: string, headers: Record<string, string>, body?: string) => {
      const res = await p.request({ method, path, headers, body, headersTimeout: STEP_TIMEOUT_MS, bodyTimeout: STEP_TIMEOUT_MS });
      const text = await res.body.text();
      return { status: res.statusCode, text };
    };

    const tok = await call('POST', `/${tenantId}/oauth2/v2.0/token`, { 'content-type': 'application/x-www-form-urlencoded' },
      new URLSearchParams({ grant_type: 'client_credentials', client_id: appId, client_secret: secret, scope: 'https://graph.microsoft.com/.default' }).toString());
    if (tok.status !== 200) throw new Error(`token request failed: ${tok.status} ${tok.text}`);
    const auth = `Bearer ${(JSON.parse(tok.text) as Json).access_token}`;
    const jsonHeaders = { authorization: auth, 'content-type': 'application/json' };
    const authHeaders = { authorization: auth };

    // The closed loop. Every phase has a fixed end; every wait has a timeout.
    const t0 = performance.now();
    const measureStart = t0 + WARMUP_MS;
    const measureEnd = measureStart + SECONDS * 1000;
    const drainDeadline = measureEnd + STEP_TIMEOUT_MS * 3;
    const maxIterationsPerWorker = WARMUP_MS + SECONDS * 1000 + 10; // a count bound: a cycle takes well over 1 ms
    const stats = newStats();
    const inWindow = (t: number) => t >= measureStart && t < measureEnd;
    const error = (kind: string) => {
      stats.errors[kind] = (stats.errors[kind] ?? 0) + 1;
    };
    type Edge = { cpu: number; at: number; clientCpu: NodeJS.CpuUsage; machine: number; load: string };
    let snapshot: Edge | null = null;
    let end: (Edge & { mem: ReturnType<typeof memory> }) | null = null;
    const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    let midSeq = 0;

    // CPU and memory at the window's edges, on timers (independent of the workers' progress).
    const edges = [
      setTimeout(() => (snapshot = { cpu: cpuSeconds(pid), at: performance.now(), clientCpu: process.cpuUsage(), machine: machineBusySeconds(), load: loadavg() }), Math.max(0, measureStart - performance.now())),
      setTimeout(() => (midSeq = webhook.received), Math.max(0, measureStart + (SECONDS * 1000) / 2 - performance.now())),
      setTimeout(() => (end = { cpu: cpuSeconds(pid), at: performance.now(), clientCpu: process.cpuUsage(), machine: machineBusySeconds(), load: loadavg(), mem: memory(pid) }), Math.max(0, measureEnd - performance.now())),
    ];

    const body = (userId: string) => JSON.stringify({
      '@odata.type': '#microsoft.graph.call',
      callbackUri: webhook.url,
      targets: [{ '@odata.type': '#microsoft.graph.invitationParticipantInfo', identity: { '@odata.type': '#microsoft.graph.identitySet', user: { '@odata.type': '#microsoft.graph.identity', id: userId, displayName: 'Bench user' } } }],
      requestedModalities: ['audio'],
      mediaConfig: { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' },
    });

    // Pacing (BENCH_RATE): one shared schedule of start slots; a slot missed is skipped, never made up in a burst.
    let nextSlot = 0;
    const pace = async (): Promise<void> => {
      if (RATE === 0) return;
      const now = performance.now();
      const at = Math.max(now, nextSlot);
      nextSlot = at + 1000 / RATE;
      if (at > now) await sleep(at - now);
    };

    const worker = async (): Promise<void> => {
      for (let i = 0; i < maxIterationsPerWorker && performance.now() < measureEnd; i++) {
        await pace();
        if (performance.now() >= measureEnd) break;
        const started = performance.now();
        let created: { status: number; text: string };
        try {
          created = await call('POST', '/v1.0/communications/calls', jsonHeaders, body(userIds[Math.floor(Math.random() * userIds.length)]!));
        } catch (err) {
          if (inWindow(started)) error(`create: ${(err as Error).name}`);
          await sleep(10);
          continue;
        }
        const createdAt = performance.now();
        if (created.status !== 201) {
          if (inWindow(started)) error(`create: HTTP ${created.status}`);
          await sleep(10);
          continue;
        }
        const callId = (JSON.parse(created.text) as Json).id as string;
        const measured = inWindow(started);
        if (measured) stats.create.add(createdAt - started);

        const establishedAt = await webhook.waitFor(callId, 'established', STEP_TIMEOUT_MS);
        const track = webhook.track(callId);
        if (measured) {
          const e = track.states.get('establishing');
          if (e !== undefined) stats.notify.establishing.add(e - createdAt);
          else error('no establishing notification');
          if (establishedAt !== null) stats.notify.established.add(establishedAt - createdAt);
        }
        if (establishedAt === null && measured) error('established: timed out');

        const delStarted = performance.now();
        let deleted: { status: number; text: string };
        try {
          deleted = await call('DELETE', `/v1.0/communications/calls/${callId}`, authHeaders);
        } catch (err) {
          if (measured) error(`delete: ${(err as Error).name}`);
          webhook.forget(callId);
          continue;
        }
        const deletedAt = performance.now();
        if (deleted.status !== 204) {
          if (measured) error(`delete: HTTP ${deleted.status}`);
          webhook.forget(callId);
          continue;
        }
        if (measured) stats.del.add(deletedAt - delStarted);

        const terminatedAt = await webhook.waitFor(callId, 'terminated', STEP_TIMEOUT_MS);
        if (terminatedAt === null) {
          if (measured) error('terminated: timed out');
          webhook.forget(callId);
          continue;
        }
        const terminating = track.states.get('terminating');
        if (measured) {
          if (terminating !== undefined) stats.notify.terminating.add(terminating - deletedAt);
          else error('no terminating notification');
          stats.notify.terminated.add(terminatedAt - deletedAt);
        }
        webhook.forget(callId);
        // A setup counts when its whole cycle finished inside the window.
        if (inWindow(terminatedAt) && establishedAt !== null) {
          stats.setups++;
          const bucket = Math.floor((terminatedAt - measureStart) / 1000);
          stats.setupsPerSecondBucket[bucket] = (stats.setupsPerSecondBucket[bucket] ?? 0) + 1;
        }
      }
    };

    process.stdout.write(`telegraph-bench: ${CONCURRENCY} workers${RATE ? ` paced to ${RATE} creates/s` : ' (unpaced)'}, ${USERS} users, ${WARMUP_MS} ms warm-up + ${SECONDS} s measured, server pid ${pid}\n`);
    const workers = Array.from({ length: CONCURRENCY }, () => worker());
    const all = Promise.all(workers);
    const finished = await Promise.race([all.then(() => true), bound(Math.max(0, drainDeadline - performance.now())).then(() => false)]);
    for (const e of edges) clearTimeout(e);
    if (!finished) error('workers still busy at the drain deadline');
    if (!snapshot || !end) throw new Error('the measurement window did not complete');
    const s0 = snapshot as Edge;
    const s1 = end as Edge & { mem: ReturnType<typeof memory> };
    const wallS = (s1.at - s0.at) / 1000;
    const serverCpuS = s1.cpu - s0.cpu;
    const clientCpuS = (s1.clientCpu.user - s0.clientCpu.user + s1.clientCpu.system - s0.clientCpu.system) / 1e6;

    // The server's own view: latencyMs of a sample of delivered notifications from mid-window.
    const sample = new Series();
    const sampleRes = await call('GET', `/admin/notifications?limit=1000&status=delivered&after=${midSeq}`, { authorization: `Bearer ${adminKey}` });
    if (sampleRes.status === 200) {
      for (const r of (JSON.parse(sampleRes.text) as Json).value as Json[]) if (typeof r.latencyMs === 'number') sample.add(r.latencyMs);
    } else error(`admin notifications: HTTP ${sampleRes.status}`);
    const health = await call('GET', '/healthz', {});

    const clientSide = new Series();
    for (const k of ['establishing', 'terminating', 'terminated'] as const) for (const v of stats.notify[k].values) clientSide.add(v);
    const setupsPerSecond = round(stats.setups / wallS, 1);
    const notifyP99 = clientSide.summary().p99 as number | null;
    const serverP99 = sample.summary().p99 as number | null;
    const result = {
      benchmark: 'control-plane',
      at: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? null, node: process.version, platform: `${os.platform()} ${os.release()}` },
      settings: { seconds: SECONDS, warmupMs: WARMUP_MS, concurrency: CONCURRENCY, rate: RATE || null, users: USERS, stepTimeoutMs: STEP_TIMEOUT_MS, serverNodeOptions: SERVER_NODE_OPTIONS },
      measuredSeconds: round(wallS, 3),
      setups: stats.setups,
      setupsPerSecond,
      setupsPerSecondTimeline: Array.from({ length: SECONDS }, (_, i) => stats.setupsPerSecondBucket[i] ?? 0),
      apiLatencyMs: { create: stats.create.summary(), delete: stats.del.summary() },
      notificationLatencyMs: {
        note: 'webhook receive time minus the create response time (establishing, established) or the DELETE response time (terminating, terminated); established includes the virtual user answering',
        establishing: stats.notify.establishing.summary(),
        established: stats.notify.established.summary(),
        terminating: stats.notify.terminating.summary(),
        terminated: stats.notify.terminated.summary(),
        stateChanges: clientSide.summary(),
        serverReportedSample: { note: 'latencyMs (enqueue to 2xx) of up to 1000 delivered notifications from the middle of the window, from GET /admin/notifications', ...sample.summary() },
      },
      errors: stats.errors,
      errorCount: Object.values(stats.errors).reduce((s, x) => s + x, 0),
      webhook: { received: webhook.received, unparsable: webhook.unparsable },
      server: {
        cpuSeconds: round(serverCpuS, 2),
        cpuPercentOfOneCore: round((serverCpuS / wallS) * 100, 1),
        cpuMsPerSetup: stats.setups ? round((serverCpuS * 1000) / stats.setups, 3) : null,
        ...s1.mem,
        health: health.status === 200 ? JSON.parse(health.text) : null,
      },
      client: { cpuSeconds: round(clientCpuS, 2), cpuPercentOfOneCore: round((clientCpuS / wallS) * 100, 1) },
      /** What the rest of the machine used meanwhile: on a shared 2-core box this is what moves the tails. */
      otherProcesses: {
        cpuPercentOfOneCore: round((Math.max(0, s1.machine - s0.machine - serverCpuS - clientCpuS) / wallS) * 100, 1),
        loadAverageAtStart: s0.load,
        loadAverageAtEnd: s1.load,
      },
      target: {
        ...TARGET,
        /** Judged on unpaced runs only: a paced run offers a fixed rate and measures latency at it. */
        setupsMet: RATE ? null : setupsPerSecond >= TARGET.setupsPerSecond,
        notificationP99Met: notifyP99 !== null && notifyP99 < TARGET.notificationP99Ms,
        serverReportedP99Met: serverP99 !== null && serverP99 < TARGET.notificationP99Ms,
      },
    };

    mkdirSync(dirname(OUT_FILE), { recursive: true });
    const gitkeep = join(dirname(OUT_FILE), '.gitkeep');
    if (!existsSync(gitkeep)) writeFileSync(gitkeep, '');
    writeFileSync(OUT_FILE, JSON.stringify(result, null, 2) + '\n');

    const a = result.apiLatencyMs, n = result.notificationLatencyMs;
    const lines = [
      `setups/s          ${setupsPerSecond}  (${stats.setups} in ${round(wallS, 1)} s; ${RATE ? `paced at ${RATE}/s offered` : `target ≥ ${TARGET.setupsPerSecond}: ${result.target.setupsMet ? 'met' : 'MISSED'}`})`,
      `create  p50/p99   ${a.create.p50} / ${a.create.p99} ms`,
      `delete  p50/p99   ${a.delete.p50} / ${a.delete.p99} ms`,
      `notify  p50/p99   ${n.stateChanges.p50} / ${n.stateChanges.p99} ms client-side (establishing ${n.establishing.p99}, terminating ${n.terminating.p99}, terminated ${n.terminated.p99} p99); target < ${TARGET.notificationP99Ms}: ${result.target.notificationP99Met ? 'met' : 'MISSED'}`,
      `server  p50/p99   ${n.serverReportedSample.p50} / ${n.serverReportedSample.p99} ms latencyMs (sample of ${n.serverReportedSample.count})`,
      `established p50/p99 ${n.established.p50} / ${n.established.p99} ms after the create response`,
      `errors            ${result.errorCount}${result.errorCount ? ' ' + JSON.stringify(stats.errors) : ''}`,
      `server CPU        ${result.server.cpuPercentOfOneCore}% of a core (${result.server.cpuMsPerSetup} ms/setup), RSS ${result.server.rssMiB} MiB (peak ${result.server.peakRssMiB})`,
      `bench  CPU        ${result.client.cpuPercentOfOneCore}% of a core; other processes ${result.otherProcesses.cpuPercentOfOneCore}% (load ${s1.load})`,
      `written           ${OUT_FILE}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await pool?.close().catch(() => undefined);
    if (server) {
      const stop = await stopTelegraph(server);
      if (stop.killed || stop.ms > 5000) process.stderr.write(`telegraph-bench: the server took ${stop.ms} ms to stop${stop.killed ? ' and was killed' : ''}; its last output:\n${server.output.join('').slice(-2000)}\n`);
    }
    await webhook.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
