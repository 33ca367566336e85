// A Call: one conversation on the server, named by its serverCallId, with its participants.
// Every application's leg (a Graph call, an ACS call connection) is a view onto a Call.
import type { CallKind } from './CallTypes.ts';
import type { OnlineMeeting } from '../directory/DirectoryTypes.ts';
import type { Participant } from './Participant.ts';

export class Call {
  readonly participants = new Map<string, Participant>();
  ended = false;
  rosterSequence = 0;
  readonly createdAt = new Date();

  constructor(
    readonly id: string,
    readonly tenantId: string,
    public kind: CallKind,
    readonly meeting: OnlineMeeting | null = null,
  ) {}

  /** Participants still in the call or being invited to it. */
  active(): Participant[] {
    const out: Participant[] = [];
    for (const p of this.participants.values()) if (p.active) out.push(p);
    return out;
  }

  connected(): Participant[] {
    const out: Participant[] = [];
    for (const p of this.participants.values()) if (p.connected) out.push(p);
    return out;
  }
}
