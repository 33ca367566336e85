// The ACS Call Automation wire shapes Telegraph renders: call connection properties, participants,
// identifiers of the call's parties as one resource sees them, DTMF tone names, result information.
import type { AppLeg } from '../../calls/AppLeg.ts';
import type { Identity, LegState, ResultInfo, Tone } from '../../calls/CallTypes.ts';
import type { Participant } from '../../calls/Participant.ts';
import { acsAppId, type Directory } from '../../directory/Directory.ts';
import type { AcsResource } from '../../directory/DirectoryTypes.ts';
import { AcsError } from './AcsError.ts';
import {
  canonicalRawId,
  identityToAcs,
  parseAcsIdentifier,
  renderAcsIdentifier,
  type AcsIdentityContext,
  type CommunicationIdentifierModel,
} from './AcsIdentifiers.ts';

type Json = Record<string, unknown>;

/** How one resource sees identities: its own users as 8:acs:<resourceId>_<userId>. */
export function identityContext(resource: AcsResource, directory: Directory): AcsIdentityContext {
  return { resourceId: resource.id, isApplicationInstance: (id) => directory.getApplicationInstance(id) !== undefined };
}

/**
 * An identity of the call as the resource sees it. Users of the resource's tenant are its ACS
 * users; a user of another tenant reached the call like a phone (its number, or anonymous).
 */
export function acsIdentifierOf(identity: Identity, resource: AcsResource, directory: Directory): CommunicationIdentifierModel {
  if (identity.kind === 'user') {
    const u = directory.getUser(identity.id);
    if (u && u.tenantId !== resource.tenantId) {
      return renderAcsIdentifier(identityToAcs({ kind: 'phone', id: u.phoneNumber ?? 'anonymous', displayName: null }, identityContext(resource, directory)));
    }
  }
  return renderAcsIdentifier(identityToAcs(identity, identityContext(resource, directory)));
}

export function renderParticipant(p: Participant, resource: AcsResource, directory: Directory): Json {
  return { identifier: acsIdentifierOf(p.identity, resource, directory), isMuted: p.isMuted, isOnHold: p.isOnHold };
}

/** The participants an application sees: everyone connected but itself. */
export function visibleParticipants(leg: AppLeg): Participant[] {
  return leg.call.connected().filter((p) => p !== leg.participant);
}

/**
 * The participant of the call an identifier names (matched on the canonical rawId of how the
 * resource sees each party), or null. Throws a 400 naming the field when the identifier is malformed.
 */
export function findParticipant(leg: AppLeg, value: unknown, field: string, resource: AcsResource, directory: Directory): Participant | null {
  const wanted = canonicalRawId(parseAcsIdentifier(value, field)).toLowerCase();
  for (const p of leg.call.active()) {
    if (p === leg.participant) continue;
    if ((acsIdentifierOf(p.identity, resource, directory).rawId ?? '').toLowerCase() === wanted) return p;
  }
  return null;
}

/** Like findParticipant, but a participant not in the call is a 400 naming the field (as ACS answers). */
export function requireParticipant(leg: AppLeg, value: unknown, field: string, resource: AcsResource, directory: Directory, connected = true): Participant {
  const p = findParticipant(leg, value, field, resource, directory);
  if (!p || (connected && !p.connected)) {
    const raw = (value as Json | null)?.rawId ?? JSON.stringify(value);
    throw new AcsError(404, 'NotFound', `Participant ${String(raw)} is not ${connected ? 'connected in' : 'in'} call connection ${leg.id}.`, { target: field });
  }
  return p;
}

export function connectionState(state: LegState): string {
  switch (state) {
    case 'incoming':
      return 'unknown';
    case 'establishing':
    case 'ringing':
      return 'connecting';
    case 'established':
    case 'hold':
      return 'connected';
    case 'transferring':
      return 'transferring';
    case 'transferAccepted':
      return 'transferAccepted';
    case 'redirecting':
    case 'terminating':
      return 'disconnecting';
    case 'terminated':
      return 'disconnected';
  }
}

/** CallConnectionProperties of a leg. */
export function renderCallConnection(leg: AppLeg, resource: AcsResource, directory: Directory): Json {
  const wire = leg.request.wire;
  const out: Json = {
    callConnectionId: leg.id,
    serverCallId: leg.call.id,
    targets: leg.targets.map((t) => acsIdentifierOf(t, resource, directory)),
    callConnectionState: connectionState(leg.state),
    callbackUri: leg.request.callbackUri ?? undefined,
    correlationId: leg.callChainId,
  };
  if (leg.direction === 'outgoing') {
    if (wire.sourceCallerIdNumber) out.sourceCallerIdNumber = wire.sourceCallerIdNumber;
    if (typeof wire.sourceDisplayName === 'string') out.sourceDisplayName = wire.sourceDisplayName;
    if (wire.source) out.source = { kind: 'communicationUser', rawId: (wire.source as Json).id, communicationUser: wire.source };
  } else {
    if (leg.caller) out.source = acsIdentifierOf(leg.caller, resource, directory);
    if (leg.caller?.displayName) out.sourceDisplayName = leg.caller.displayName;
    if (wire.answeredBy) out.answeredBy = wire.answeredBy;
    const offered = leg.participant.identity;
    if (offered.kind === 'phone') out.answeredFor = { value: offered.id };
  }
  return out;
}

/** The identity an ACS application places calls as (what the callee sees). */
export function applicationIdentity(resource: AcsResource, displayName: string | null, callerIdNumber: string | null): Identity {
  if (callerIdNumber) return { kind: 'phone', id: callerIdNumber, displayName };
  return { kind: 'application', id: acsAppId(resource.id), displayName: displayName ?? resource.displayName };
}

export function resultInformation(r: ResultInfo | null | undefined): Json | undefined {
  return r ? { code: r.code, subCode: r.subcode, message: r.message } : undefined;
}

// ---- DTMF tone names

const ACS_TONES: Record<string, Tone> = {
  zero: 'tone0', one: 'tone1', two: 'tone2', three: 'tone3', four: 'tone4',
  five: 'tone5', six: 'tone6', seven: 'tone7', eight: 'tone8', nine: 'tone9',
  asterisk: 'star', pound: 'pound', a: 'a', b: 'b', c: 'c', d: 'd',
};

export const ACS_TONE_NAMES = Object.keys(ACS_TONES);

/** An ACS tone name (any case) as the domain's tone; throws a 400 naming the field. */
export function toneFromAcs(value: unknown, field: string): Tone {
  const t = typeof value === 'string' ? ACS_TONES[value.toLowerCase()] : undefined;
  if (!t) throw AcsError.invalidField(field, `'${String(value)}' is not a DTMF tone: use one of ${ACS_TONE_NAMES.join(', ')}.`);
  return t;
}

export function toneToAcs(t: Tone): string {
  for (const [name, tone] of Object.entries(ACS_TONES)) if (tone === t) return name;
  return t;
}
