// The state store: one SQLite database in the data directory (WAL, so readers never wait on the writer).
// Every table Telegraph keeps is created here; the stores that use them hold their own statements.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const MIGRATIONS: string[] = [
  `CREATE TABLE directory_entries (
     kind TEXT NOT NULL, id TEXT NOT NULL, tenant_id TEXT NOT NULL, data TEXT NOT NULL,
     PRIMARY KEY (kind, id));
   CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     stream TEXT NOT NULL,
     tenant_id TEXT NOT NULL,
     app_id TEXT NOT NULL,
     call_id TEXT,
     url TEXT NOT NULL,
     kind TEXT NOT NULL,
     headers TEXT NOT NULL,
     body TEXT NOT NULL,
     status TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     next_attempt_at INTEGER NOT NULL,
     delivered_at INTEGER,
     latency_ms REAL,
     last_status INTEGER,
     last_error TEXT);
   CREATE INDEX outbox_pending ON outbox (status, seq);
   CREATE INDEX outbox_call ON outbox (call_id, seq);
   CREATE TABLE outbox_attempts (
     notification_id TEXT NOT NULL, attempt INTEGER NOT NULL, url TEXT NOT NULL,
     started_at INTEGER NOT NULL, duration_ms REAL NOT NULL, status INTEGER, error TEXT,
     PRIMARY KEY (notification_id, attempt));
   CREATE TABLE calls (
     id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, app_id TEXT NOT NULL, server_call_id TEXT NOT NULL,
     state TEXT NOT NULL, data TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
   CREATE INDEX calls_state ON calls (state);`,
  // ACS call recordings (src/recording/CallRecordings.ts): each recording, and the index of its
  // uploaded chunks (documentId → blob keys), so content can be downloaded and deleted after a restart.
  `CREATE TABLE recordings (
     id TEXT PRIMARY KEY,
     server_call_id TEXT NOT NULL,
     owner TEXT,
     storage_kind TEXT NOT NULL,
     container_url TEXT,
     content_type TEXT NOT NULL,
     channel_type TEXT NOT NULL,
     format TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     session_end_reason TEXT,
     duration_ms INTEGER);
   CREATE INDEX recordings_call ON recordings (server_call_id);
   CREATE TABLE recording_chunks (
     document_id TEXT PRIMARY KEY,
     recording_id TEXT NOT NULL,
     chunk_index INTEGER NOT NULL,
     end_reason TEXT NOT NULL,
     content_key TEXT NOT NULL,
     metadata_key TEXT NOT NULL,
     media_type TEXT NOT NULL,
     duration_ms INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     created_at INTEGER NOT NULL);
   CREATE INDEX recording_chunks_recording ON recording_chunks (recording_id, chunk_index);`,
];

export class StateStore {
  readonly db: Database.Database;
  private readonly batch: (() => void)[] = [];
  private readonly afterCommit: (() => void)[] = [];
  private batchTimer: NodeJS.Immediate | null = null;

  constructor(dataDir: string | null) {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    this.db = new Database(dataDir ? join(dataDir, 'telegraph.db') : ':memory:');
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a committed row survives a process crash; only an OS crash may lose the last commits.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  getSetting(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  setSetting(key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /**
   * Runs `write` in the next batch: the writes queued during one event-loop turn commit together, in
   * order, in one transaction (at setImmediate, or earlier through commitBatch); `then` runs after that
   * commit. One commit per turn instead of one per statement is most of the cost of the hot paths.
   */
  defer(write: () => void, then?: () => void): void {
    this.batch.push(write);
    if (then) this.afterCommit.push(then);
    this.batchTimer ??= setImmediate(() => this.commitBatch());
  }

  /** Commits the queued writes now: before a read that must see them, and at shutdown. */
  commitBatch(): void {
    if (this.batchTimer) clearImmediate(this.batchTimer);
    this.batchTimer = null;
    if (this.batch.length === 0) return;
    const writes = this.batch.splice(0);
    const then = this.afterCommit.splice(0);
    this.db.transaction(() => {
      for (const w of writes) w();
    })();
    for (const t of then) t();
  }

  close(): void {
    if (this.db.open) {
      this.commitBatch();
      this.db.close();
    }
  }
}
