// CallMedia (src/calls/CallMedia.ts) without the rest of Telegraph: small stand-ins for what it
// talks to (CallService's operations, the prompt store, the recordings store) and a two-party call
// (a virtual caller and a bot's leg) attached to it. Used by CallMedia's unit tests
// (test/helpers/callMedia.ts) and by bench/media, which builds 1,000 such calls.
import { pino } from 'pino';
import { CallMedia } from '../../src/calls/CallMedia.ts';
import type { AppLeg } from '../../src/calls/AppLeg.ts';
import type { Call } from '../../src/calls/Call.ts';
import type { CallService } from '../../src/calls/CallService.ts';
import type { ResultInfo, Tone } from '../../src/calls/CallTypes.ts';
import { Operation } from '../../src/calls/Operation.ts';
import type { Participant } from '../../src/calls/Participant.ts';
import type { MediaEngine } from '../../src/media/MediaEngine.ts';
import type { ResponseRecordings } from '../../src/media/ResponseRecordings.ts';
import { SpeechDetector } from '../../src/media/vad/SpeechDetector.ts';

export interface StandInHooks {
  /** Told each operation as it completes (its status, resultInfo and completionReason set). */
  done?: (leg: AppLeg, op: Operation) => void;
  /** Told each key a participant pressed. */
  tone?: (p: Participant, tone: Tone) => void;
  /** The recordings store's write: given each recording's chunks (nothing is kept). */
  write?: (chunks: readonly Int16Array[]) => Promise<void> | void;
  /** What the prompt store hands out for every prompt (its cache gives one shared array per prompt). */
  prompt?: Int16Array;
}

/** A CallMedia on `engine` whose collaborators are stand-ins that tell `hooks` what they are told. */
export function standInCallMedia(engine: MediaEngine, hooks: StandInHooks = {}): CallMedia {
  let seq = 0;
  const calls = {
    newOperation: (_leg: AppLeg, kind: Operation['kind'], clientContext: string | null) => new Operation(`op-${++seq}`, kind, clientContext),
    completeOperation: (leg: AppLeg, op: Operation, status: 'completed' | 'failed', result: ResultInfo | null, reason: string | null = null) => {
      op.status = status;
      op.resultInfo = result;
      op.completionReason = reason;
      hooks.done?.(leg, op);
    },
    operationStarted: () => {},
    tonePressed: (p: Participant, tone: Tone) => hooks.tone?.(p, tone),
  } as unknown as CallService;
  const reserved = { id: 'rec-1', location: 'http://127.0.0.1:1/recordings/responses/rec-1' };
  const recordings = {
    reserve: () => reserved,
    write: async (_r: unknown, chunks: readonly Int16Array[]) => {
      await hooks.write?.(chunks);
    },
    token: () => 'token-1',
    callEnded: () => {},
  } as unknown as ResponseRecordings;
  const prompt = hooks.prompt ?? new Int16Array(0);
  const prompts = { get: async () => prompt, prefetch: () => {} };
  return new CallMedia(engine, calls, prompts, recordings, () => new SpeechDetector(), pino({ level: 'silent' }));
}

export interface TwoPartyCall {
  call: Call;
  caller: Participant;
  bot: Participant;
  /** The bot's application leg (service-hosted media). */
  leg: AppLeg;
}

/** A call of a virtual caller and a bot, both attached to `media`; ids end in `tag`. */
export function twoPartyCall(media: CallMedia, tag: string | number = 1): TwoPartyCall {
  const call = { id: `call-${tag}`, tenantId: 't', participants: new Map<string, Participant>() } as unknown as Call;
  const caller = { id: `caller-${tag}`, call, endpoint: { kind: 'virtual', userId: `u${tag}` }, serverMuted: false, isMuted: false, connected: true } as unknown as Participant;
  const bot = { id: `bot-${tag}`, call, endpoint: { kind: 'app', leg: null }, serverMuted: false, isMuted: false, connected: true } as unknown as Participant;
  const leg = { id: `leg-${tag}`, participant: bot, call, tenantId: 't', app: { appId: 'a' }, operations: new Map() } as unknown as AppLeg;
  (bot.endpoint as { leg: AppLeg }).leg = leg;
  call.participants.set(caller.id, caller);
  call.participants.set(bot.id, bot);
  media.attach(caller);
  media.attach(bot);
  return { call, caller, bot, leg };
}
