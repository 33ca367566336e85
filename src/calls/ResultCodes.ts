// The resultInfo values Telegraph reports when a call or an operation ends. Where the Graph
// documentation lists a code/subcode it is used as is; the others are marked and listed in docs/graph.md.
import type { DeclineReason, ResultInfo } from './CallTypes.ts';

const r = (code: number, subcode: number, message: string): ResultInfo => ({ code, subcode, message });

export const Results = {
  success: () => r(200, 0, 'Action completed successfully.'),
  /** Documented: the bot ended the call. */
  endedByApplication: () => r(200, 7000, 'The call was ended by the application.'),
  /** Documented: the other participant ended the call. */
  endedByPeer: () => r(200, 4097, 'The call was ended by the other participant.'),
  /** What an endpoint that hung up is told about its own call. */
  endedByParticipant: () => r(200, 0, 'The call was ended by this participant.'),
  /** Documented: the other participant in the peer-to-peer call left. */
  peerLeft: () => r(200, 18503, 'The other participant in the peer-to-peer call left.'),
  /** Documented: removed by another participant. */
  removed: () => r(200, 5000, 'The participant was removed from the call by another participant.'),
  /** Documented: all other participants left. */
  allOthersLeft: () => r(200, 5002, 'The call ended because all other participants left.'),
  /** Documented: transfer completed. */
  transferCompleted: () => r(200, 7015, 'The call was transferred.'),
  /** Documented: keepAlive not received. */
  keepAliveTimeout: () => r(408, 8537, 'The call ended because no keepAlive was received in time.'),
  /** Seen in real notifications when a bot does not answer in time ("Callee could not be reached"). */
  answerTimeout: (ms: number) => r(408, 8544, `Callee could not be reached: the incoming call was not answered, rejected or redirected within ${ms} ms.`),
  /** Documented: callee unreachable. */
  unreachable: (who: string) => r(480, 10037, `${who} is unreachable: no endpoint is registered for it.`),
  // Telegraph's own subcodes (not documented by the cloud), in the SIP code families the cloud uses.
  /** ACS's code for a busy callee. */
  busy: (who: string) => r(486, 560486, `${who} is busy.`),
  /** ACS's code for a callee that declined. */
  declined: (who: string) => r(603, 0, `${who} declined the call.`),
  forbidden: (who: string) => r(403, 10403, `${who} rejected the call (forbidden).`),
  /** Documented: no signalling from the callee in time. */
  notAnswered: (who: string, ms: number) => r(408, 10057, `Call timed out: ${who} did not answer within ${Math.round(ms / 1000)} s.`),
  /** Documented for a failed blind transfer (the call stays established). */
  transferFailed: (why: string) => r(500, 7000, `The transfer failed: ${why}`),
  rejectedByApplication: (reason: string) => r(200, 7001, `The application rejected the call (reason: ${reason}).`),
  redirected: () => r(200, 7002, 'The application redirected the call.'),
  replaced: (byCallId: string) => r(200, 7016, `The call was replaced: its participant moved into call ${byCallId}.`),
  shutdown: () => r(503, 7100, 'Telegraph is shutting down: the call was ended.'),
  restarted: () => r(500, 7101, 'Telegraph restarted while the call was active: its media was lost.'),
  lobbyDenied: () => r(403, 10404, 'The meeting lobby denied entry.'),
  /** A prompt could not be fetched or decoded: the message says why (the cloud only says "unknown"). */
  promptFailed: (why: string) => r(400, 8511, `The prompt could not be played: ${why}`),
  /** recordResponse outcomes. 8515 is documented for the maximum duration; the others follow ACS's recognize codes. */
  maxRecordDuration: (s: number) => r(200, 8515, `Recording stopped: the maximum duration of ${s} s was reached.`),
  // failed, as seed 000 says ("time out and fail the operation"); 400/8510 as ACS's initial silence timeout
  initialSilence: (s: number) => r(400, 8510, `Recording failed: no speech within ${s} s (initial silence timeout).`),
  maxSilence: (s: number) => r(200, 8512, `Recording stopped: ${s} s of silence after speech.`),
  stopTone: (tone: string) => r(200, 8514, `Recording stopped: stop tone ${tone} was pressed.`),
  /** Documented for cancelled media operations. */
  operationCanceled: () => r(400, 8508, 'The operation was canceled.'),
  // DTMF recognition (ACS recognize), the codes ACS documents.
  maxTonesReceived: (n: number) => r(200, 8531, `Action completed, max digits received (${n}).`),
  recognizeStopTone: (tone: string) => r(200, 8514, `Action completed as stop tone ${tone} was detected.`),
  recognizeInitialSilence: (s: number) => r(400, 8510, `Action failed, initial silence timeout reached: no tone within ${s} s.`),
  recognizeInterToneTimeout: (s: number) => r(400, 8532, `Action failed, inter-digit silence timeout reached: no tone within ${s} s of the last one.`),
  recognizePromptFailed: (why: string) => r(500, 8511, `Action failed, encountered failure while trying to play the prompt: ${why}`),
  /** An invitation withdrawn by the application before it was answered (ACS cancelAddParticipant). */
  inviteCanceled: () => r(487, 5300, 'The invitation was canceled by the application.'),
} as const;

export function declineResult(reason: DeclineReason, who: string, ringMs: number): ResultInfo {
  switch (reason) {
    case 'busy': return Results.busy(who);
    case 'declined': return Results.declined(who);
    case 'forbidden': return Results.forbidden(who);
    case 'unreachable': return Results.unreachable(who);
    case 'notAnswered': return Results.notAnswered(who, ringMs);
  }
}
