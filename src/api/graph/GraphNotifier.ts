// Renders domain events of Graph-facing legs as commsNotifications and hands them to the outbox.
// Legs of other APIs (ACS call connections) are left to their own notifier (api/acs/AcsNotifier).
import { randomUUID } from 'node:crypto';
import type { AppLeg } from '../../calls/AppLeg.ts';
import type { CallObserver } from '../../calls/CallService.ts';
import type { LegState } from '../../calls/CallTypes.ts';
import type { Operation } from '../../calls/Operation.ts';
import type { Participant } from '../../calls/Participant.ts';
import type { Outbox } from '../../notify/Outbox.ts';
import type { JournalEntry } from '../../calls/CallJournal.ts';
import type { ResultInfo } from '../../calls/CallTypes.ts';
import { canSeeCaller } from '../../identity/Permissions.ts';
import {
  callPath,
  operationPath,
  renderCall,
  renderCallDelta,
  renderOperation,
  renderParticipant,
  renderResultInfo,
  renderToneInfo,
  type RenderContext,
} from './GraphWire.ts';

type Json = Record<string, unknown>;

export class GraphNotifier implements CallObserver {
  constructor(
    private readonly outbox: Outbox,
    private readonly baseUrl: () => string,
    private readonly casing: 'lowercase' | 'pascalCase',
  ) {}

  private ctx(leg: AppLeg): RenderContext {
    return { baseUrl: this.baseUrl(), version: leg.request.apiVersion, casing: this.casing, canSeeCaller: canSeeCaller(leg.app.permissions) };
  }

  legIncoming(leg: AppLeg): void {
    if (leg.request.api !== 'graph') return;
    const data = renderCall(leg, this.ctx(leg));
    data['@odata.id'] = callPath(leg);
    this.send(leg, 'created', callPath(leg), data);
  }

  legStateChanged(leg: AppLeg, _previous: LegState): void {
    if (leg.request.api !== 'graph') return;
    const state = leg.state;
    this.send(leg, state === 'terminated' ? 'deleted' : 'updated', callPath(leg), renderCallDelta(leg, state));
  }

  rosterChanged(leg: AppLeg, changed: Participant[]): void {
    // Graph sends no participant notifications in a peer-to-peer call.
    if (leg.request.api !== 'graph' || leg.ended || leg.call.kind === 'peerToPeer') return;
    const delta = Boolean((leg.request.wire.callOptions as Json | undefined)?.isDeltaRosterEnabled);
    let list: Participant[];
    if (delta) list = changed;
    else if (leg.participant.isInLobby) list = [leg.participant];
    else list = leg.call.active().filter((p) => p.connected || p.isInLobby);
    this.send(leg, 'updated', `${callPath(leg)}/participants`, list.map(renderParticipant));
  }

  operationCompleted(leg: AppLeg, op: Operation): void {
    if (leg.request.api !== 'graph') return;
    const data = renderOperation(op, this.casing);
    data['@odata.id'] = operationPath(leg, op);
    this.send(leg, 'deleted', operationPath(leg, op), data);
  }

  toneReceived(leg: AppLeg): void {
    if (leg.request.api !== 'graph') return;
    this.send(leg, 'updated', callPath(leg), {
      '@odata.type': '#microsoft.graph.call',
      '@odata.id': callPath(leg),
      state: leg.state,
      id: leg.id,
      toneInfo: renderToneInfo(leg),
    });
  }

  /** A leg the previous process left live: its application is told it ended (see CallJournal). */
  legLost(entry: JournalEntry, result: ResultInfo): void {
    if (!entry.callbackUri) return;
    const path = `/communications/calls/${entry.id}`;
    this.enqueue(entry.id, entry.tenantId, entry.appId, entry.callChainId, entry.callbackUri, 'deleted', path, {
      '@odata.type': '#microsoft.graph.call',
      '@odata.id': path,
      state: 'terminated',
      direction: entry.direction,
      tenantId: entry.tenantId,
      myParticipantId: entry.myParticipantId,
      callChainId: entry.callChainId,
      id: entry.id,
      resultInfo: renderResultInfo(result),
    });
  }

  private send(leg: AppLeg, changeType: 'created' | 'updated' | 'deleted', resourceUrl: string, resourceData: Json | Json[]): void {
    const url = leg.request.callbackUri ?? leg.app.callingWebhook;
    if (!url) return;
    this.enqueue(leg.id, leg.tenantId, leg.app.appId, leg.callChainId, url, changeType, resourceUrl, resourceData);
  }

  private enqueue(
    legId: string, tenantId: string, appId: string, callChainId: string, url: string,
    changeType: 'created' | 'updated' | 'deleted', resourceUrl: string, resourceData: Json | Json[],
  ): void {
    const body = {
      '@odata.type': '#microsoft.graph.commsNotifications',
      value: [
        {
          '@odata.type': '#microsoft.graph.commsNotification',
          changeType,
          resource: resourceUrl.replace('/communications/calls/', '/app/calls/'),
          resourceUrl,
          callbackUri: url,
          resourceData,
        },
      ],
    };
    this.outbox.enqueue({
      stream: legId,
      tenantId,
      appId,
      callId: legId,
      url,
      kind: 'graph',
      headers: {
        'x-microsoft-skype-chain-id': callChainId,
        'x-microsoft-skype-message-id': randomUUID(),
        'scenario-id': callChainId,
      },
      body: JSON.stringify(body),
    });
  }
}
