// A participant: one endpoint's membership in a Call (an application, a user, a phone, a guest).
import type { Identity, ParticipantState, RecordingStatus } from './CallTypes.ts';
import type { Call } from './Call.ts';
import type { AppLeg } from './AppLeg.ts';

/** How signalling reaches the participant. `app` participants are driven by their AppLeg. */
export type EndpointRef = { kind: 'app'; leg: AppLeg } | { kind: 'virtual'; userId: string } | { kind: 'none' };

let sourceIds = 0;

export class Participant {
  state: ParticipantState = 'inviting';
  isMuted = false;
  serverMuted = false;
  isInLobby = false;
  /** Held by an application (ACS hold): hears silence or hold music, and is not heard. */
  isOnHold = false;
  recording: { status: RecordingStatus; initiator: Identity } | null = null;
  removedReason: string | null = null;
  readonly audioSourceId = String(++sourceIds);
  /** Set while an offer (ring) is pending: cancels its ring timer. */
  ringTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly id: string,
    readonly call: Call,
    readonly identity: Identity,
    public endpoint: EndpointRef,
    /** Metadata the adapter wants on the roster entry (e.g. Graph's languageId). */
    readonly info: { languageId?: string | null; region?: string | null } = {},
  ) {}

  get active(): boolean {
    return this.state !== 'disconnected';
  }

  get connected(): boolean {
    return this.state === 'connected';
  }
}
