// Graph's wire shapes: domain objects rendered as Graph JSON (with @odata.type discriminators,
// every property present and null when unset), and Graph identities parsed into domain ones.
import type { AppLeg } from '../../calls/AppLeg.ts';
import type { Identity, LegState, OperationStatus } from '../../calls/CallTypes.ts';
import type { Operation } from '../../calls/Operation.ts';
import type { Participant } from '../../calls/Participant.ts';

export type GraphVersion = 'v1.0' | 'beta';
type Json = Record<string, unknown>;

export const IDENTITY_KEYS = ['user', 'application', 'applicationInstance', 'phone', 'guest'] as const;

const BETA_ONLY_CALL_PROPS = ['activeModalities', 'routingPolicies', 'terminationReason', 'ringingTimeoutInSeconds', 'answeredBy', 'meetingCapability'];

export function renderIdentity(i: Identity): Json {
  const out: Json = { '@odata.type': '#microsoft.graph.identity', displayName: i.displayName, id: i.id };
  if (i.tenantId) out.tenantId = i.tenantId;
  return out;
}

export function renderIdentitySet(i: Identity): Json {
  return { '@odata.type': '#microsoft.graph.identitySet', [i.kind]: renderIdentity(i) };
}

/** An encrypted identity set: what applications without calling permissions see of a caller. */
export function renderEncryptedIdentitySet(i: Identity): Json {
  return {
    '@odata.type': '#microsoft.graph.identitySet',
    encrypted: { '@odata.type': '#microsoft.graph.identity', id: Buffer.from(`${i.kind}:${i.id}`).toString('base64url'), displayName: null },
  };
}

export function renderParticipantInfo(i: Identity, extra: Json = {}): Json {
  return {
    '@odata.type': '#microsoft.graph.participantInfo',
    identity: renderIdentitySet(i),
    countryCode: null,
    endpointType: null,
    region: null,
    languageId: null,
    ...extra,
  };
}

/** Fills the properties a participantInfo must carry with null, keeping what the client sent. */
function withNulls(obj: unknown, keys: string[], odataType: string): Json {
  const o: Json = obj && typeof obj === 'object' ? { ...(obj as Json) } : {};
  if (!o['@odata.type']) o['@odata.type'] = odataType;
  for (const k of keys) if (!(k in o)) o[k] = null;
  return o;
}

export function statusText(status: OperationStatus, casing: 'lowercase' | 'pascalCase'): string {
  return casing === 'pascalCase' ? status[0]!.toUpperCase() + status.slice(1) : status;
}

export interface RenderContext {
  baseUrl: string;
  version: GraphVersion;
  casing: 'lowercase' | 'pascalCase';
  /** Whether the application may see who is calling it (else the source is encrypted). */
  canSeeCaller: boolean;
}

export function callPath(leg: AppLeg): string {
  return `/communications/calls/${leg.id}`;
}

function meetingParts(leg: AppLeg): { chatInfo: Json | null; meetingInfo: Json | null } {
  const wire = leg.request.wire;
  const m = leg.call.meeting;
  const chatInfo = (wire.chatInfo as Json | undefined) ?? (m ? { '@odata.type': '#microsoft.graph.chatInfo', threadId: m.threadId, messageId: m.messageId } : null);
  return {
    chatInfo: chatInfo ? withNulls(chatInfo, ['threadId', 'messageId', 'replyChainMessageId'], '#microsoft.graph.chatInfo') : null,
    meetingInfo: (wire.meetingInfo as Json | undefined) ?? null,
  };
}

/** The full call object, as GET and the create response return it. */
export function renderCall(leg: AppLeg, ctx: RenderContext): Json {
  const wire = leg.request.wire;
  const { chatInfo, meetingInfo } = meetingParts(leg);
  const source = leg.direction === 'outgoing'
    ? withNulls(wire.source ?? renderParticipantInfo(leg.participant.identity), ['countryCode', 'endpointType', 'region', 'languageId'], '#microsoft.graph.participantInfo')
    : leg.caller
      ? renderParticipantInfo(leg.caller, ctx.canSeeCaller ? {} : { identity: renderEncryptedIdentitySet(leg.caller) })
      : null;
  const targets = leg.direction === 'outgoing'
    ? ((wire.targets as unknown[] | undefined) ?? []).map((t) =>
        withNulls(t, ['endpointType', 'region', 'replacesCallId', 'languageId'], '#microsoft.graph.invitationParticipantInfo'))
    : leg.targets.map((t) => ({ ...renderParticipantInfo(t), '@odata.type': '#microsoft.graph.invitationParticipantInfo', replacesCallId: null }));
  const out: Json = {
    ...openProperties(wire),
    '@odata.type': '#microsoft.graph.call',
    state: leg.state,
    direction: leg.direction,
    callbackUri: leg.request.callbackUri,
    callChainId: leg.callChainId,
    callRoutes: leg.callRoutes.map((r) => ({
      '@odata.type': '#microsoft.graph.callRoute',
      routingType: r.routingType,
      original: renderIdentitySet(r.original),
      final: renderIdentitySet(r.final),
    })),
    source,
    targets,
    requestedModalities: leg.request.requestedModalities,
    activeModalities: leg.state === 'established' ? leg.request.requestedModalities : [],
    mediaConfig: wire.mediaConfig ?? null,
    routingPolicies: (wire.routingPolicies as unknown[] | undefined) ?? [],
    tenantId: leg.tenantId,
    myParticipantId: leg.participant.id,
    id: leg.id,
    '@odata.context': `${ctx.baseUrl}/${ctx.version}/$metadata#app/calls/$entity`,
    subject: (wire.subject as string | undefined) ?? leg.call.meeting?.subject ?? null,
    terminationReason: null,
    ringingTimeoutInSeconds: (wire.ringingTimeoutInSeconds as number | undefined) ?? null,
    mediaState: leg.state === 'established' ? { '@odata.type': '#microsoft.graph.callMediaState', audio: 'active' } : null,
    resultInfo: leg.resultInfo ? renderResultInfo(leg.resultInfo) : null,
    answeredBy: null,
    chatInfo,
    meetingInfo,
    transcription: null,
    meetingCapability: null,
    toneInfo: leg.toneInfo ? renderToneInfo(leg) : null,
    callOptions: wire.callOptions ?? null,
    incomingContext: null,
    serverCallId: leg.call.id,
  };
  if (ctx.version === 'v1.0') for (const k of BETA_ONLY_CALL_PROPS) delete out[k];
  return out;
}

const KNOWN_CALL_PROPS = new Set([
  '@odata.type', 'state', 'direction', 'callbackUri', 'callChainId', 'callRoutes', 'source', 'targets', 'requestedModalities',
  'activeModalities', 'mediaConfig', 'routingPolicies', 'tenantId', 'myParticipantId', 'id', '@odata.context', 'subject',
  'terminationReason', 'ringingTimeoutInSeconds', 'mediaState', 'resultInfo', 'answeredBy', 'chatInfo', 'meetingInfo',
  'transcription', 'meetingCapability', 'toneInfo', 'callOptions', 'incomingContext', 'serverCallId',
]);

/** Properties the client sent that Graph does not define: the call is an open type, so they come back. */
function openProperties(wire: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(wire)) if (!KNOWN_CALL_PROPS.has(k)) out[k] = v;
  return out;
}

export function renderResultInfo(r: { code: number; subcode: number; message: string }): Json {
  return { '@odata.type': '#microsoft.graph.resultInfo', code: r.code, subcode: r.subcode, message: r.message };
}

export function renderToneInfo(leg: AppLeg): Json | null {
  const t = leg.toneInfo;
  if (!t) return null;
  return { '@odata.type': '#microsoft.graph.toneInfo', sequenceId: t.sequenceId, tone: t.tone, participantId: t.participantId };
}

/** The state notification's resourceData: the few properties that changed, as the seeds show. */
export function renderCallDelta(leg: AppLeg, state: LegState): Json {
  const out: Json = {
    '@odata.type': '#microsoft.graph.call',
    '@odata.id': callPath(leg),
    state,
    direction: leg.direction,
    tenantId: leg.tenantId,
    myParticipantId: leg.participant.id,
    callChainId: leg.callChainId,
    id: leg.id,
  };
  if (leg.call.kind === 'meeting') Object.assign(out, meetingParts(leg));
  if (state === 'established') out.mediaState = { '@odata.type': '#microsoft.graph.callMediaState', audio: 'active' };
  if (leg.resultInfo && (state === 'terminated' || state === 'established')) out.resultInfo = renderResultInfo(leg.resultInfo);
  return out;
}

export function renderParticipant(p: Participant): Json {
  const out: Json = {
    '@odata.type': '#microsoft.graph.participant',
    info: {
      '@odata.type': '#microsoft.graph.participantInfo',
      identity: renderIdentitySet(p.identity),
      ...(p.info.languageId !== undefined ? { languageId: p.info.languageId } : {}),
    },
    mediaStreams: [
      {
        '@odata.type': '#microsoft.graph.mediaStream',
        mediaType: 'audio',
        sourceId: p.audioSourceId,
        direction: 'sendReceive',
        serverMuted: p.serverMuted,
      },
    ],
    isMuted: p.isMuted,
    isInLobby: p.isInLobby,
    id: p.id,
    metadata: null,
    recordingInfo: p.recording
      ? { '@odata.type': '#microsoft.graph.recordingInfo', recordingStatus: p.recording.status, initiator: renderIdentitySet(p.recording.initiator) }
      : null,
  };
  if (!p.active) out.removedState = { '@odata.type': '#microsoft.graph.removedState', reason: p.removedReason };
  return out;
}

const OPERATION_TYPES: Record<Operation['kind'], string> = {
  inviteParticipants: 'inviteParticipantsOperation',
  muteParticipant: 'muteParticipantOperation',
  unmuteParticipant: 'unmuteParticipantOperation',
  updateRecordingStatus: 'updateRecordingStatusOperation',
  subscribeToTone: 'subscribeToToneOperation',
  playPrompt: 'playPromptOperation',
  record: 'recordOperation',
  sendDtmfTones: 'sendDtmfTonesOperation',
  cancelMediaProcessing: 'cancelMediaProcessingOperation',
  // ACS-only operations (never on a Graph leg); named for completeness.
  recognize: 'operation',
  removeParticipant: 'operation',
};

export function renderOperation(op: Operation, casing: 'lowercase' | 'pascalCase'): Json {
  const out: Json = {
    '@odata.type': `#microsoft.graph.${OPERATION_TYPES[op.kind]}`,
    id: op.id,
    status: statusText(op.status, casing),
    clientContext: op.clientContext,
    resultInfo: op.resultInfo ? renderResultInfo(op.resultInfo) : null,
  };
  if (op.kind === 'playPrompt' || op.kind === 'record' || op.kind === 'sendDtmfTones') out.completionReason = op.completionReason;
  if (op.kind === 'record') {
    out.recordingLocation = (op.details.recordingLocation as string | undefined) ?? null;
    out.recordingAccessToken = (op.details.recordingAccessToken as string | undefined) ?? null;
  }
  if (op.kind === 'inviteParticipants') out.participants = op.details.wireParticipants ?? [];
  return out;
}

export function operationPath(leg: AppLeg, op: Operation): string {
  return `${callPath(leg)}/operations/${op.id}`;
}
