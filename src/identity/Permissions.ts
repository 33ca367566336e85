// Which application permission (role) each calling scenario needs, as the Graph documentation states.
import type { CallingPermission } from '../config/ConfigSchema.ts';

export type Scenario = 'peerToPeer' | 'group' | 'joinMeeting' | 'joinMeetingAsGuest' | 'answer' | 'appHostedMedia' | 'accessMedia' | 'sendDtmf' | 'anyCalling';

/** For each scenario, the permissions of which any one suffices (least privileged first). */
export const REQUIRED: Record<Scenario, CallingPermission[]> = {
  peerToPeer: ['Calls.Initiate.All'],
  group: ['Calls.InitiateGroupCall.All'],
  joinMeeting: ['Calls.JoinGroupCall.All'],
  joinMeetingAsGuest: ['Calls.JoinGroupCallAsGuest.All'],
  answer: ['Calls.JoinGroupCall.All', 'Calls.JoinGroupCallAsGuest.All'],
  appHostedMedia: ['Calls.AccessMedia.All'],
  accessMedia: ['Calls.AccessMedia.All'],
  sendDtmf: ['Calls.Initiate.All', 'Calls.AccessMedia.All'],
  anyCalling: ['Calls.Initiate.All', 'Calls.InitiateGroupCall.All', 'Calls.JoinGroupCall.All', 'Calls.JoinGroupCallAsGuest.All', 'Calls.AccessMedia.All'],
};

const SCENARIO_TEXT: Record<Scenario, string> = {
  peerToPeer: 'placing a peer-to-peer call',
  group: 'creating a group call',
  joinMeeting: 'joining a meeting',
  joinMeetingAsGuest: 'joining a meeting as a guest',
  answer: 'answering a call',
  appHostedMedia: 'a call with appHostedMediaConfig',
  accessMedia: 'this media action',
  sendDtmf: 'sending DTMF tones',
  anyCalling: 'the calls API',
};

/** Returns null when granted, else the message of the 403. */
export function missingPermission(roles: readonly string[], scenario: Scenario): string | null {
  const any = REQUIRED[scenario];
  if (any.some((p) => roles.includes(p))) return null;
  const names = any.length === 1 ? any[0] : `one of ${any.join(', ')}`;
  return `Insufficient permissions: ${SCENARIO_TEXT[scenario]} requires the application permission ${names}, which the application has not been granted.`;
}

/** Seed 001: without one of these, the source of an incoming call stays encrypted. */
export function canSeeCaller(roles: readonly string[]): boolean {
  return REQUIRED.anyCalling.some((p) => roles.includes(p));
}
