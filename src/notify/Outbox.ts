// The durable outbox: every notification is written to the state store before any attempt to
// deliver it, delivered in order per stream (one call's notifications, one at a time), retried
// with exponential backoff, and every attempt is recorded. A restart resumes what was pending.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { StateStore } from '../storage/StateStore.ts';
import type { Statement } from 'better-sqlite3';
import { HttpDelivery, type DeliveryResult } from './HttpDelivery.ts';

export interface OutboxMessage {
  /** Ordering key: messages of one stream are delivered strictly one after the other. */
  stream: string;
  tenantId: string;
  appId: string;
  callId: string | null;
  url: string;
  /** Which renderer made it (graph, cloudEvents, eventGrid): shown in the admin listing. */
  kind: string;
  headers: Record<string, string>;
  body: string;
}

export interface OutboxSettings {
  timeoutMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  concurrency: number;
  retentionMs: number;
}

export type NotificationStatus = 'pending' | 'delivered' | 'failed';

export interface NotificationRecord {
  id: string;
  seq: number;
  stream: string;
  tenantId: string;
  appId: string;
  callId: string | null;
  url: string;
  kind: string;
  status: NotificationStatus;
  attempts: number;
  createdAt: string;
  deliveredAt: string | null;
  latencyMs: number | null;
  lastStatus: number | null;
  lastError: string | null;
  payload?: unknown;
  headers?: Record<string, string>;
  attemptLog?: { attempt: number; url: string; startedAt: string; durationMs: number; status: number | null; error: string | null }[];
}

interface Pending {
  seq: number;
  id: string;
  tenantId: string;
  appId: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  attempts: number;
  createdAt: number;
  notBefore: number;
}

interface Stream {
  key: string;
  queue: Pending[];
  busy: boolean;
  timer: NodeJS.Timeout | null;
  /** Set by a 302 from the subscriber: later messages of this stream go there. */
  rehomedTo: string | null;
}

/** Supplies the Authorization header at send time, so no bearer token is ever stored. */
export type Authorizer = (tenantId: string, appId: string) => Promise<string | null>;

/** Observes every finished message (used by benchmarks and tests through the admin API). */
export type DeliveryListener = (record: { id: string; stream: string; status: NotificationStatus; latencyMs: number }) => void;

export class Outbox {
  private readonly streams = new Map<string, Stream>();
  private readonly ready: Stream[] = [];
  private inFlight = 0;
  private pendingCount = 0;
  private stopped = false;
  private started = false;
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly listeners: DeliveryListener[] = [];
  /** Messages whose INSERT is queued in the store's batch: each is scheduled once it is committed. */
  private unpushed = 0;
  private readonly stmt: {
    insert: Statement;
    delivered: Statement;
    retry: Statement;
    failed: Statement;
    attempt: Statement;
    rehome: Statement;
  };

  constructor(
    private readonly store: StateStore,
    private readonly settings: OutboxSettings,
    private readonly http: HttpDelivery,
    private readonly authorize: Authorizer,
    private readonly log: Logger,
  ) {
    const db = store.db;
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO outbox (id, stream, tenant_id, app_id, call_id, url, kind, headers, body, status, attempts, created_at, next_attempt_at)
         VALUES (@id, @stream, @tenantId, @appId, @callId, @url, @kind, @headers, @body, 'pending', 0, @createdAt, @createdAt)`,
      ),
      delivered: db.prepare(`UPDATE outbox SET status = 'delivered', attempts = ?, delivered_at = ?, latency_ms = ?, last_status = ?, last_error = NULL, url = ? WHERE id = ?`),
      retry: db.prepare(`UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?, url = ? WHERE id = ?`),
      failed: db.prepare(`UPDATE outbox SET status = 'failed', attempts = ?, last_status = ?, last_error = ?, url = ? WHERE id = ?`),
      attempt: db.prepare(`INSERT INTO outbox_attempts (notification_id, attempt, url, started_at, duration_ms, status, error) VALUES (?, ?, ?, ?, ?, ?, ?)`),
      rehome: db.prepare(`UPDATE outbox SET url = ? WHERE stream = ? AND status = 'pending'`),
    };
  }

  /** Loads what a previous run left pending and starts delivering it. */
  start(): void {
    this.started = true;
    const rows = this.store.db
      .prepare(`SELECT seq, id, stream, tenant_id, app_id, url, headers, body, attempts, created_at, next_attempt_at FROM outbox WHERE status = 'pending' ORDER BY seq`)
      .all() as { seq: number; id: string; stream: string; tenant_id: string; app_id: string; url: string; headers: string; body: string; attempts: number; created_at: number; next_attempt_at: number }[];
    for (const r of rows) {
      this.push(r.stream, {
        seq: r.seq, id: r.id, tenantId: r.tenant_id, appId: r.app_id, url: r.url, headers: JSON.parse(r.headers), body: r.body,
        attempts: r.attempts, createdAt: r.created_at, notBefore: r.next_attempt_at,
      });
    }
    if (rows.length) this.log.info({ pending: rows.length }, 'outbox: resuming notifications left pending by the previous run');
    this.pruneTimer = setInterval(() => this.prune(), 60_000);
    this.pruneTimer.unref();
    this.pump();
  }

  onDelivery(listener: DeliveryListener): void {
    this.listeners.push(listener);
  }

  /** Persists a message, then schedules it. Returns its id. */
  enqueue(msg: OutboxMessage): string {
    const id = randomUUID();
    const createdAt = Date.now();
    const stream = this.streams.get(msg.stream);
    const url = stream?.rehomedTo ?? msg.url;
    const headers = { ...msg.headers, 'x-telegraph-notification-id': id };
    const row = {
      id, stream: msg.stream, tenantId: msg.tenantId, appId: msg.appId, callId: msg.callId, url, kind: msg.kind,
      headers: JSON.stringify(headers), body: msg.body, createdAt,
    };
    // Before start() the row is only stored: start() loads every pending row, in order, once.
    if (!this.started) {
      this.stmt.insert.run(row);
      return id;
    }
    // Durable before the first attempt: the message is scheduled only once its INSERT is committed.
    const p: Pending = { seq: 0, id, tenantId: msg.tenantId, appId: msg.appId, url, headers, body: msg.body, attempts: 0, createdAt, notBefore: createdAt };
    this.unpushed++;
    this.defer(
      () => {
        p.seq = Number(this.stmt.insert.run(row).lastInsertRowid);
      },
      () => {
        this.unpushed--;
        this.push(msg.stream, p);
        this.pump();
      },
    );
    return id;
  }

  /** Queues a write in the store's batch (one transaction per event-loop turn); committed at once after stop(). */
  private defer(write: () => void, then?: () => void): void {
    this.store.defer(write, then);
    if (this.stopped) this.store.commitBatch();
  }

  private flushWrites(): void {
    this.store.commitBatch();
  }

  private push(key: string, p: Pending): void {
    let s = this.streams.get(key);
    if (!s) {
      s = { key, queue: [], busy: false, timer: null, rehomedTo: null };
      this.streams.set(key, s);
    }
    s.queue.push(p);
    this.pendingCount++;
    if (!s.busy && s.queue.length === 1 && !s.timer) this.ready.push(s);
  }

  /** Starts as many deliveries as the concurrency limit allows. */
  private pump(): void {
    while (!this.stopped && this.inFlight < this.settings.concurrency && this.ready.length > 0) {
      const s = this.ready.shift()!;
      if (s.busy || s.queue.length === 0) continue;
      const head = s.queue[0]!;
      const wait = head.notBefore - Date.now();
      if (wait > 0) {
        if (!s.timer) {
          s.timer = setTimeout(() => {
            s.timer = null;
            this.ready.push(s);
            this.pump();
          }, wait);
          s.timer.unref();
        }
        continue;
      }
      s.busy = true;
      this.inFlight++;
      void this.attempt(s, head);
    }
  }

  private async attempt(s: Stream, m: Pending): Promise<void> {
    const started = Date.now();
    let result: DeliveryResult;
    try {
      const auth = await this.authorize(m.tenantId, m.appId);
      const headers = auth ? { ...m.headers, authorization: `Bearer ${auth}` } : m.headers;
      result = await this.http.post(m.url, headers, m.body);
    } catch (err) {
      result = { status: null, error: (err as Error).message, location: null, retryAfterMs: null, durationMs: Date.now() - started };
    }
    m.attempts++;
    const attempt = m.attempts, url = m.url;
    this.defer(() => this.stmt.attempt.run(m.id, attempt, url, started, result.durationMs, result.status, result.error));
    const outcome = this.classify(result);
    if (outcome === 'delivered') {
      const now = Date.now();
      const latency = now - m.createdAt;
      this.defer(() => this.stmt.delivered.run(attempt, now, latency, result.status, url, m.id));
      this.finish(s, m, 'delivered', latency);
    } else if (outcome === 'rehome' && m.attempts < this.settings.maxAttempts) {
      const to = result.location!;
      this.log.info({ stream: s.key, from: m.url, to }, 'outbox: subscriber re-homed the call\'s notifications');
      s.rehomedTo = to;
      this.flushWrites(); // messages of this stream still being inserted join its queue first
      for (const q of s.queue) q.url = to;
      this.stmt.rehome.run(to, s.key);
      this.again(s, m, 0, result);
    } else if (outcome === 'retry' && m.attempts < this.settings.maxAttempts) {
      const backoff = Math.min(this.settings.backoffMaxMs, this.settings.backoffBaseMs * 2 ** (m.attempts - 1));
      const delay = Math.min(this.settings.backoffMaxMs, Math.max(backoff, result.retryAfterMs ?? 0));
      this.again(s, m, delay, result);
    } else {
      this.defer(() => this.stmt.failed.run(attempt, result.status, result.error ?? `HTTP ${result.status}`, url, m.id));
      this.log.warn({ id: m.id, url: m.url, attempts: m.attempts, status: result.status, error: result.error }, 'outbox: notification not delivered; giving up');
      this.finish(s, m, 'failed', Date.now() - m.createdAt);
    }
  }

  private classify(r: DeliveryResult): 'delivered' | 'rehome' | 'retry' | 'fail' {
    if (r.status === null) return 'retry';
    if (r.status >= 200 && r.status < 300) return 'delivered';
    if ((r.status === 302 || r.status === 307 || r.status === 308) && r.location) return 'rehome';
    if (r.status === 429 || r.status === 408 || r.status >= 500) return 'retry';
    return 'fail';
  }

  private again(s: Stream, m: Pending, delayMs: number, r: DeliveryResult): void {
    m.notBefore = Date.now() + delayMs;
    const attempts = m.attempts, notBefore = m.notBefore, url = m.url;
    this.defer(() => this.stmt.retry.run(attempts, notBefore, r.status, r.error, url, m.id));
    s.busy = false;
    this.inFlight--;
    this.ready.push(s);
    this.pump();
  }

  private finish(s: Stream, m: Pending, status: NotificationStatus, latencyMs: number): void {
    s.queue.shift();
    s.busy = false;
    this.inFlight--;
    this.pendingCount--;
    if (s.queue.length > 0) this.ready.push(s);
    else if (!s.rehomedTo) this.streams.delete(s.key);
    for (const l of this.listeners) l({ id: m.id, stream: s.key, status, latencyMs });
    if (this.pendingCount === 0 && this.unpushed === 0) for (const w of this.idleWaiters.splice(0)) w();
    this.pump();
  }

  /** Resolves once nothing is pending, or after `timeoutMs` (what is left stays in the store). */
  async flush(timeoutMs: number): Promise<boolean> {
    this.flushWrites();
    if (this.pendingCount === 0) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  get pending(): number {
    return this.pendingCount + this.unpushed;
  }

  stop(): void {
    this.flushWrites();
    this.stopped = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    for (const s of this.streams.values()) if (s.timer) clearTimeout(s.timer);
  }

  private prune(): void {
    this.flushWrites();
    const before = Date.now() - this.settings.retentionMs;
    this.store.db.prepare(`DELETE FROM outbox_attempts WHERE notification_id IN (SELECT id FROM outbox WHERE status != 'pending' AND created_at < ?)`).run(before);
    this.store.db.prepare(`DELETE FROM outbox WHERE status != 'pending' AND created_at < ?`).run(before);
  }

  // ------------------------------------------------------------------ observation (admin API)

  list(filter: { callId?: string; tenantId?: string; status?: string; limit?: number; after?: number }): NotificationRecord[] {
    this.flushWrites();
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.callId) { where.push('call_id = ?'); args.push(filter.callId); }
    if (filter.tenantId) { where.push('tenant_id = ?'); args.push(filter.tenantId); }
    if (filter.status) { where.push('status = ?'); args.push(filter.status); }
    if (filter.after) { where.push('seq > ?'); args.push(filter.after); }
    const sql = `SELECT * FROM outbox ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq LIMIT ?`;
    args.push(Math.min(filter.limit ?? 100, 1000));
    return (this.store.db.prepare(sql).all(...args) as any[]).map((r) => this.toRecord(r, true));
  }

  get(id: string): NotificationRecord | null {
    this.flushWrites();
    const row = this.store.db.prepare('SELECT * FROM outbox WHERE id = ?').get(id);
    if (!row) return null;
    const rec = this.toRecord(row as any, true);
    rec.attemptLog = (this.store.db.prepare('SELECT * FROM outbox_attempts WHERE notification_id = ? ORDER BY attempt').all(id) as any[]).map((a) => ({
      attempt: a.attempt, url: a.url, startedAt: new Date(a.started_at).toISOString(), durationMs: a.duration_ms, status: a.status, error: a.error,
    }));
    return rec;
  }

  private toRecord(r: any, withPayload: boolean): NotificationRecord {
    const rec: NotificationRecord = {
      id: r.id, seq: r.seq, stream: r.stream, tenantId: r.tenant_id, appId: r.app_id, callId: r.call_id, url: r.url, kind: r.kind,
      status: r.status, attempts: r.attempts, createdAt: new Date(r.created_at).toISOString(),
      deliveredAt: r.delivered_at ? new Date(r.delivered_at).toISOString() : null, latencyMs: r.latency_ms, lastStatus: r.last_status, lastError: r.last_error,
    };
    if (withPayload) {
      rec.headers = JSON.parse(r.headers);
      rec.payload = JSON.parse(r.body);
    }
    return rec;
  }
}
