// Renders domain events of ACS call connections (legs whose request.api is 'acs') as CloudEvents
// POSTed to the connection's callbackUri (or an operation's operationCallbackUri), one event per
// POST in a JSON array, through the durable outbox (stream = callConnectionId, so in order). The
// outbox adds `Authorization: Bearer <JWT>` (issuer Telegraph, audience the resource id), verifiable
// through Telegraph's JWKS, as real ACS signs its callbacks. Incoming calls for a resource are
// published as Microsoft.Communication.IncomingCall through Event Grid. Graph legs are ignored.
import { randomUUID } from 'node:crypto';
import type { AppLeg, LegRequest } from '../../calls/AppLeg.ts';
import type { CallObserver } from '../../calls/CallService.ts';
import type { Identity, LegState, ResultInfo, Tone } from '../../calls/CallTypes.ts';
import type { JournalEntry } from '../../calls/CallJournal.ts';
import type { Operation } from '../../calls/Operation.ts';
import type { Participant } from '../../calls/Participant.ts';
import { Results } from '../../calls/ResultCodes.ts';
import { acsResourceIdOf, type Directory } from '../../directory/Directory.ts';
import type { AcsResource, Application } from '../../directory/DirectoryTypes.ts';
import type { EventGridPublisher } from '../../notify/EventGridPublisher.ts';
import type { Outbox } from '../../notify/Outbox.ts';
import type { IncomingCallContexts } from './IncomingCallContext.ts';
import { acsIdentifierOf, renderParticipant, resultInformation, toneToAcs, visibleParticipants } from './AcsWire.ts';

type Json = Record<string, unknown>;

export const INCOMING_CALL_EVENT = 'Microsoft.Communication.IncomingCall';
/** The api-version Telegraph's events say they follow (the SDK ignores it). */
const EVENT_VERSION = '2026-03-12';

/** What the ACS adapter keeps per call connection, beyond the domain's leg. */
export interface AcsLegState {
  /** CallConnected was sent. */
  connected: boolean;
  /** ParticipantsUpdated sequenceNumber. */
  participantsSequence: number;
  /** Participants whose keys are reported one by one (start/stopContinuousDtmfRecognition). */
  continuousDtmf: Set<Participant>;
  /** The transfer in progress: what its events say. */
  transfer: { operationContext: string | null; callbackUri: string | null; target: Identity; transferee: Participant | null } | null;
}

export class AcsNotifier implements CallObserver {
  private readonly states = new WeakMap<AppLeg, AcsLegState>();

  constructor(
    private readonly outbox: Outbox,
    private readonly directory: Directory,
    private readonly eventGrid: EventGridPublisher,
    private readonly contexts: IncomingCallContexts,
  ) {}

  state(leg: AppLeg): AcsLegState {
    let s = this.states.get(leg);
    if (!s) this.states.set(leg, (s = { connected: false, participantsSequence: 0, continuousDtmf: new Set(), transfer: null }));
    return s;
  }

  /** The AppApiBinding of ACS: an incoming call reaches a resource only through a validated IncomingCall subscription. */
  incomingRequest(app: Application): LegRequest | null {
    const resourceId = acsResourceIdOf(app);
    if (!resourceId || !this.eventGrid.hasSubscriber(resourceId, INCOMING_CALL_EVENT)) return null;
    return { api: 'acs', apiVersion: 'v1.0', callbackUri: null, requestedModalities: ['audio'], media: 'service', wire: {} };
  }

  private resourceOf(leg: AppLeg): AcsResource | null {
    if (leg.request.api !== 'acs') return null;
    const id = acsResourceIdOf(leg.app);
    return id ? (this.directory.getAcsResource(id) ?? null) : null;
  }

  // ------------------------------------------------------------------ CallObserver

  legIncoming(leg: AppLeg): void {
    const resource = this.resourceOf(leg);
    if (!resource) return;
    const to = acsIdentifierOf(leg.participant.identity, resource, this.directory);
    const caller = leg.caller ?? { kind: 'phone', id: 'anonymous', displayName: null };
    const from = acsIdentifierOf(caller, resource, this.directory);
    const data: Json = {
      to,
      from,
      serverCallId: leg.call.id,
      callerDisplayName: caller.displayName ?? '',
      incomingCallContext: this.contexts.issue({ legId: leg.id, resourceId: resource.id }),
      correlationId: leg.callChainId,
    };
    this.eventGrid.publish(resource.id, { eventType: INCOMING_CALL_EVENT, subject: `/caller/${from.rawId}/recipient/${to.rawId}`, data }, leg.call.id);
  }

  legStateChanged(leg: AppLeg, previous: LegState): void {
    const resource = this.resourceOf(leg);
    if (!resource) return;
    const s = this.state(leg);
    const callContext = (leg.request.wire.operationContext as string | undefined) ?? null;
    switch (leg.state) {
      case 'established':
        if (previous === 'transferring') {
          // The transfer target did not take the call: the connection stays as it was.
          const t = s.transfer;
          s.transfer = null;
          this.send(leg, 'CallTransferFailed', {
            operationContext: t?.operationContext ?? undefined,
            resultInformation: resultInformation(leg.resultInfo ?? Results.transferFailed('the target did not answer.')),
            transferTarget: t ? acsIdentifierOf(t.target, resource, this.directory) : undefined,
            transferee: t?.transferee ? acsIdentifierOf(t.transferee.identity, resource, this.directory) : undefined,
          }, t?.callbackUri);
          return;
        }
        if (s.connected) return;
        s.connected = true;
        this.send(leg, 'CallConnected', { operationContext: callContext ?? undefined, resultInformation: resultInformation(Results.success()) });
        // A two-party call has no roster changes of its own: its participants are told once, now.
        if (leg.call.kind === 'peerToPeer') this.participantsUpdated(leg, resource);
        return;
      case 'transferAccepted': {
        const t = s.transfer;
        this.send(leg, 'CallTransferAccepted', {
          operationContext: t?.operationContext ?? undefined,
          resultInformation: resultInformation(Results.transferCompleted()),
          transferTarget: t ? acsIdentifierOf(t.target, resource, this.directory) : undefined,
          transferee: t?.transferee ? acsIdentifierOf(t.transferee.identity, resource, this.directory) : undefined,
        }, t?.callbackUri);
        return;
      }
      case 'terminated': {
        if (!leg.request.callbackUri) return; // never answered: nobody to tell
        if (!s.connected) {
          this.send(leg, leg.direction === 'outgoing' ? 'CreateCallFailed' : 'AnswerFailed', {
            operationContext: callContext ?? undefined,
            resultInformation: resultInformation(leg.resultInfo),
          });
        }
        this.send(leg, 'CallDisconnected', { operationContext: callContext ?? undefined, resultInformation: resultInformation(leg.resultInfo) });
        return;
      }
      default:
        return;
    }
  }

  rosterChanged(leg: AppLeg): void {
    const resource = this.resourceOf(leg);
    if (!resource || leg.ended || !this.state(leg).connected) return;
    this.participantsUpdated(leg, resource);
  }

  private participantsUpdated(leg: AppLeg, resource: AcsResource): void {
    const s = this.state(leg);
    this.send(leg, 'ParticipantsUpdated', {
      sequenceNumber: ++s.participantsSequence,
      participants: visibleParticipants(leg).map((p) => renderParticipant(p, resource, this.directory)),
      resultInformation: resultInformation(Results.success()),
    });
  }

  operationStarted(leg: AppLeg, op: Operation): void {
    if (!this.resourceOf(leg) || op.kind !== 'playPrompt') return;
    this.send(leg, 'PlayStarted', { operationContext: op.clientContext ?? undefined, resultInformation: resultInformation({ code: 200, subcode: 0, message: 'Action started.' }) }, this.callbackOf(op));
  }

  operationCompleted(leg: AppLeg, op: Operation): void {
    const resource = this.resourceOf(leg);
    if (!resource) return;
    const r = op.resultInfo;
    const ok = op.status === 'completed' && (r?.code ?? 200) < 400;
    const canceled = r?.subcode === Results.operationCanceled().subcode && (r?.code ?? 0) >= 400;
    const base = { operationContext: op.clientContext ?? undefined, resultInformation: resultInformation(r) };
    const url = this.callbackOf(op);
    switch (op.kind) {
      case 'playPrompt': {
        if (ok) this.send(leg, 'PlayCompleted', { ...base, resultInformation: resultInformation(Results.success()) }, url);
        else if (canceled) this.send(leg, 'PlayCanceled', base, url);
        else this.send(leg, 'PlayFailed', { ...base, resultInformation: resultInformation(playFailure(r)), failedPlaySourceIndex: op.details.failedPromptIndex ?? 0 }, url);
        return;
      }
      case 'recognize': {
        if (ok) {
          const tones = (op.details.tones as Tone[] | undefined) ?? [];
          this.send(leg, 'RecognizeCompleted', { ...base, recognitionType: 'dtmf', dtmfResult: { tones: tones.map(toneToAcs) } }, url);
        } else if (canceled) this.send(leg, 'RecognizeCanceled', base, url);
        else this.send(leg, 'RecognizeFailed', { ...base, failedPlaySourceIndex: r?.subcode === 8511 ? 0 : undefined }, url);
        return;
      }
      case 'sendDtmfTones':
        this.send(leg, ok ? 'SendDtmfTonesCompleted' : 'SendDtmfTonesFailed', base, url);
        return;
      case 'inviteParticipants': {
        const participant = op.details.acsParticipant as Json | undefined;
        if (op.details.canceled) {
          this.send(leg, 'CancelAddParticipantSucceeded', {
            operationContext: (op.details.cancelContext as string | undefined) ?? op.clientContext ?? undefined,
            invitationId: op.id,
            resultInformation: resultInformation(Results.success()),
          }, (op.details.cancelCallbackUri as string | undefined) ?? url);
          return;
        }
        this.send(leg, ok ? 'AddParticipantSucceeded' : 'AddParticipantFailed', { ...base, participant }, url);
        return;
      }
      case 'removeParticipant':
        this.send(leg, ok ? 'RemoveParticipantSucceeded' : 'RemoveParticipantFailed', { ...base, participant: op.details.acsParticipant }, url);
        return;
      default:
        return;
    }
  }

  toneReceived(leg: AppLeg, tone: Tone, from: Participant): void {
    if (!this.resourceOf(leg) || !this.state(leg).continuousDtmf.has(from)) return;
    this.send(leg, 'ContinuousDtmfRecognitionToneReceived', {
      sequenceId: leg.toneInfo?.sequenceId ?? 0,
      tone: toneToAcs(tone),
      resultInformation: resultInformation(Results.success()),
    });
  }

  // ------------------------------------------------------------------ events the adapter raises itself

  /** An event not tied to a domain change (ContinuousDtmfRecognitionStopped, CancelAddParticipantFailed, HoldFailed …). */
  emit(leg: AppLeg, name: string, data: Json, callbackUri?: string | null): void {
    if (!this.resourceOf(leg)) return;
    this.send(leg, name, data, callbackUri);
  }

  /** A connection the previous process left live: its application is told it ended (see CallJournal). */
  legLost(entry: JournalEntry, result: ResultInfo): void {
    if (!entry.callbackUri) return;
    const data = {
      callConnectionId: entry.id,
      serverCallId: entry.serverCallId,
      correlationId: entry.callChainId,
      resultInformation: resultInformation(result),
      version: EVENT_VERSION,
      publicEventType: 'Microsoft.Communication.CallDisconnected',
    };
    this.enqueue(entry.id, entry.tenantId, entry.appId, entry.callbackUri, this.cloudEvent(entry.id, 'CallDisconnected', data));
  }

  // ------------------------------------------------------------------ delivery

  private callbackOf(op: Operation): string | null {
    return (op.details.callbackUri as string | undefined) ?? null;
  }

  private send(leg: AppLeg, name: string, extra: Json, callbackUri?: string | null): void {
    const url = callbackUri ?? leg.request.callbackUri;
    if (!url) return;
    const data: Json = {
      callConnectionId: leg.id,
      serverCallId: leg.call.id,
      correlationId: leg.callChainId,
      ...extra,
      version: EVENT_VERSION,
      publicEventType: `Microsoft.Communication.${name}`,
    };
    for (const k of Object.keys(data)) if (data[k] === undefined) delete data[k];
    this.enqueue(leg.id, leg.tenantId, leg.app.appId, url, this.cloudEvent(leg.id, name, data));
  }

  private cloudEvent(callConnectionId: string, name: string, data: Json): Json {
    const source = `calling/callConnections/${callConnectionId}`;
    return {
      id: randomUUID(),
      source,
      type: `Microsoft.Communication.${name}`,
      data,
      time: new Date().toISOString(),
      specversion: '1.0',
      datacontenttype: 'application/json',
      subject: source,
    };
  }

  private enqueue(stream: string, tenantId: string, appId: string, url: string, event: Json): void {
    this.outbox.enqueue({ stream, tenantId, appId, callId: stream, url, kind: 'cloudEvents', headers: {}, body: JSON.stringify([event]) });
  }
}

/** A failed prompt as ACS reports it: 400/8536 (the file could not be downloaded or decoded). */
function playFailure(r: ResultInfo | null): ResultInfo {
  if (!r) return { code: 400, subcode: 8536, message: 'Action failed, file could not be downloaded.' };
  return r.subcode === 8511 ? { code: 400, subcode: 8536, message: `Action failed, file could not be downloaded or played: ${r.message.replace(/^The prompt could not be played: /, '')}` } : r;
}
