// The call journal: a row per live application leg in the state store. Media cannot survive a
// restart, so calls do not either; but a leg that was live when the process died is found here at
// the next start and its application is told the call ended, instead of waiting for it forever.
import type { Statement } from 'better-sqlite3';
import type { StateStore } from '../storage/StateStore.ts';
import type { AppLeg } from './AppLeg.ts';
import type { CallObserver } from './CallService.ts';

export interface JournalEntry {
  id: string;
  tenantId: string;
  appId: string;
  serverCallId: string;
  state: string;
  callbackUri: string | null;
  callChainId: string;
  direction: 'incoming' | 'outgoing';
  myParticipantId: string;
  apiVersion: 'v1.0' | 'beta';
  /** Which API's notifier tells the application (absent in entries written before ACS: Graph). */
  api?: 'graph' | 'acs';
}

export class CallJournal implements CallObserver {
  private readonly upsert: Statement;
  private readonly remove: Statement;

  constructor(private readonly store: StateStore) {
    this.upsert = store.db.prepare(
      `INSERT INTO calls (id, tenant_id, app_id, server_call_id, state, data, created_at, updated_at)
       VALUES (@id, @tenantId, @appId, @serverCallId, @state, @data, @now, @now)
       ON CONFLICT(id) DO UPDATE SET state = excluded.state, data = excluded.data, updated_at = excluded.updated_at`,
    );
    this.remove = store.db.prepare('DELETE FROM calls WHERE id = ?');
  }

  /** Legs a previous process left live; they are removed from the journal as they are returned. */
  takeOrphans(): JournalEntry[] {
    const rows = this.store.db.prepare('SELECT data FROM calls').all() as { data: string }[];
    this.store.db.prepare('DELETE FROM calls').run();
    return rows.map((r) => JSON.parse(r.data) as JournalEntry);
  }

  legIncoming(leg: AppLeg): void {
    this.write(leg);
  }

  legStateChanged(leg: AppLeg): void {
    // Batched with the outbox's writes: one commit per event-loop turn (StateStore.defer).
    if (leg.state === 'terminated') this.store.defer(() => this.remove.run(leg.id));
    else this.write(leg);
  }

  private write(leg: AppLeg): void {
    const entry: JournalEntry = {
      id: leg.id,
      tenantId: leg.tenantId,
      appId: leg.app.appId,
      serverCallId: leg.call.id,
      state: leg.state,
      callbackUri: leg.request.callbackUri ?? leg.app.callingWebhook,
      callChainId: leg.callChainId,
      direction: leg.direction,
      myParticipantId: leg.participant.id,
      apiVersion: leg.request.apiVersion,
      api: leg.request.api,
    };
    const row = { id: leg.id, tenantId: entry.tenantId, appId: entry.appId, serverCallId: entry.serverCallId, state: leg.state, data: JSON.stringify(entry), now: Date.now() };
    this.store.defer(() => this.upsert.run(row));
  }
}
