// An application's own leg in a Call: what the Graph API calls a call and ACS a call connection.
import type { Application } from '../directory/DirectoryTypes.ts';
import type { Call } from './Call.ts';
import type { Participant } from './Participant.ts';
import type { Identity, LegState, ResultInfo, Tone } from './CallTypes.ts';
import type { Operation } from './Operation.ts';

export type MediaHosting = 'service' | 'app';

export interface LegRequest {
  /** Which API created or answered the leg (decides which adapter renders it), and its version. */
  api: 'graph' | 'acs';
  /** Graph's version. ACS legs carry 'v1.0' here (unused) and their api-version in `wire`. */
  apiVersion: 'v1.0' | 'beta';
  callbackUri: string | null;
  requestedModalities: string[];
  media: MediaHosting;
  /** The adapter's own view of the request (echoed back, open properties preserved). */
  wire: Record<string, unknown>;
}

export class AppLeg {
  state: LegState;
  resultInfo: ResultInfo | null = null;
  toneInfo: { sequenceId: number; tone: Tone; participantId: string } | null = null;
  toneSequence = 0;
  subscribedToTone = false;
  readonly operations = new Map<string, Operation>();
  answerTimer: NodeJS.Timeout | null = null;
  keepAliveTimer: NodeJS.Timeout | null = null;
  /** For incoming legs: how the call got here (dialled number → application instance). */
  callRoutes: { original: Identity; final: Identity; routingType: 'lookup' | 'forwarded' | 'selfFork' }[] = [];
  /** The peer that placed an incoming call. */
  caller: Identity | null = null;
  /** Participants this leg was created to reach (outgoing) or that it was offered to (incoming). */
  targets: Identity[] = [];
  readonly createdAt = new Date();
  /** Set once the leg's adapter has seen the establishing transition (establishing may be skipped). */
  source: Identity;

  constructor(
    readonly id: string,
    readonly app: Application,
    readonly call: Call,
    readonly participant: Participant,
    readonly direction: 'incoming' | 'outgoing',
    readonly callChainId: string,
    public request: LegRequest,
    initialState: LegState,
  ) {
    this.state = initialState;
    this.source = participant.identity;
  }

  get tenantId(): string {
    return this.call.tenantId;
  }

  get ended(): boolean {
    return this.state === 'terminated';
  }
}
