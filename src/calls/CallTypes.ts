// Public types of the call domain. Adapters (Graph, ACS) translate their wire shapes to and from these.

/** Who a participant is, independent of any API's identity format. */
export interface Identity {
  kind: 'user' | 'application' | 'applicationInstance' | 'phone' | 'guest';
  id: string;
  displayName: string | null;
  tenantId?: string | null;
}

export interface ResultInfo {
  code: number;
  subcode: number;
  message: string;
}

/** The states of an application's leg, in Graph's vocabulary (the richest of the APIs served). */
export type LegState =
  | 'incoming'
  | 'establishing'
  | 'ringing'
  | 'established'
  | 'hold'
  | 'transferring'
  | 'transferAccepted'
  | 'redirecting'
  | 'terminating'
  | 'terminated';

export type ParticipantState = 'inviting' | 'ringing' | 'inLobby' | 'connected' | 'disconnected';

export type CallKind = 'peerToPeer' | 'group' | 'meeting';

export type OperationStatus = 'notStarted' | 'running' | 'completed' | 'failed';

export type OperationKind =
  | 'inviteParticipants'
  | 'muteParticipant'
  | 'unmuteParticipant'
  | 'updateRecordingStatus'
  | 'subscribeToTone'
  | 'playPrompt'
  | 'record'
  | 'sendDtmfTones'
  | 'cancelMediaProcessing'
  | 'recognize'
  | 'removeParticipant';

export type Tone =
  | 'tone0' | 'tone1' | 'tone2' | 'tone3' | 'tone4' | 'tone5' | 'tone6' | 'tone7' | 'tone8' | 'tone9'
  | 'star' | 'pound' | 'a' | 'b' | 'c' | 'd' | 'flash';

export const TONES: readonly Tone[] = [
  'tone0', 'tone1', 'tone2', 'tone3', 'tone4', 'tone5', 'tone6', 'tone7', 'tone8', 'tone9',
  'star', 'pound', 'a', 'b', 'c', 'd', 'flash',
];

/** A DTMF key as pressed ("0".."9", "*", "#", "A".."D") to its Graph tone name. */
export function toneFromKey(key: string): Tone | null {
  if (/^[0-9]$/.test(key)) return `tone${key}` as Tone;
  switch (key.toUpperCase()) {
    case '*': return 'star';
    case '#': return 'pound';
    case 'A': return 'a';
    case 'B': return 'b';
    case 'C': return 'c';
    case 'D': return 'd';
    default: return null;
  }
}

export type RecordingStatus = 'notRecording' | 'recording' | 'failed';

export type RejectReason = 'none' | 'busy' | 'forbidden';

/** Why an endpoint did not take a call offered to it. */
export type DeclineReason = 'busy' | 'declined' | 'forbidden' | 'unreachable' | 'notAnswered';
