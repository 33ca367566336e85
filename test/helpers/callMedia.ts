// CallMedia (src/calls/CallMedia.ts) on its own, for its unit tests: a two-party call (a virtual
// caller and a bot's leg) on an engine the test ticks by hand, with stand-ins for what CallMedia
// talks to (CallService's operations, the prompt store, the recordings store) that note what they
// are told.
import { pino } from 'pino';
import { CallMedia, type RecordParams } from '../../src/calls/CallMedia.ts';
import type { AppLeg } from '../../src/calls/AppLeg.ts';
import type { Call } from '../../src/calls/Call.ts';
import type { CallService } from '../../src/calls/CallService.ts';
import type { ResultInfo } from '../../src/calls/CallTypes.ts';
import { Operation } from '../../src/calls/Operation.ts';
import type { Participant } from '../../src/calls/Participant.ts';
import { MediaEngine } from '../../src/media/MediaEngine.ts';
import type { ResponseRecordings } from '../../src/media/ResponseRecordings.ts';
import { SpeechDetector } from '../../src/media/vad/SpeechDetector.ts';

export interface CallMediaBench {
  engine: MediaEngine;
  media: CallMedia;
  call: Call;
  caller: Participant;
  bot: Participant;
  leg: AppLeg;
  /** Operations completed, in order. */
  completed: Operation[];
  /** Samples handed to the recordings store. */
  recordedSamples: number;
  /** One engine tick, then the event loop's turn (the operations' callbacks, as under the clock). */
  step(): Promise<void>;
}

export const nextTurn = () => new Promise<void>((r) => setImmediate(r));

export const RECORD_DEFAULTS: RecordParams = {
  prompt: null,
  bargeInAllowed: false,
  initialSilenceTimeoutSeconds: 5,
  maxSilenceTimeoutSeconds: 5,
  maxRecordDurationSeconds: 120,
  playBeep: false,
  stopTones: [],
  clientContext: null,
};

/** `write` stands for the recordings store's write (by default it counts and resolves at once). */
export function callMediaBench(opts: { write?: () => Promise<void> } = {}): CallMediaBench {
  const engine = new MediaEngine(null);
  const completed: Operation[] = [];
  let seq = 0;
  const calls = {
    newOperation: (_leg: AppLeg, kind: Operation['kind'], clientContext: string | null) => new Operation(`op-${++seq}`, kind, clientContext),
    completeOperation: (_leg: AppLeg, op: Operation, status: 'completed' | 'failed', result: ResultInfo | null, reason: string | null = null) => {
      op.status = status;
      op.resultInfo = result;
      op.completionReason = reason;
      completed.push(op);
    },
    operationStarted: () => {},
    tonePressed: () => {},
  } as unknown as CallService;
  const bench = { completed, recordedSamples: 0 } as CallMediaBench;
  const recordings = {
    reserve: () => ({ id: 'rec-1', location: 'http://127.0.0.1:1/recordings/responses/rec-1' }),
    write: async (_r: unknown, chunks: readonly Int16Array[]) => {
      for (const c of chunks) bench.recordedSamples += c.length;
      if (opts.write) await opts.write();
    },
    token: () => 'token-1',
    callEnded: () => {},
  } as unknown as ResponseRecordings;
  const prompts = { get: async () => new Int16Array(0), prefetch: () => {} };
  const media = new CallMedia(engine, calls, prompts, recordings, () => new SpeechDetector(), pino({ level: 'silent' }));
  const call = { id: 'call-1', tenantId: 't', participants: new Map<string, Participant>() } as unknown as Call;
  const caller = { id: 'caller', call, endpoint: { kind: 'virtual', userId: 'u' }, serverMuted: false, isMuted: false, connected: true } as unknown as Participant;
  const bot = { id: 'bot', call, endpoint: { kind: 'app', leg: null }, serverMuted: false, isMuted: false, connected: true } as unknown as Participant;
  const leg = { id: 'leg-1', participant: bot, call, tenantId: 't', app: { appId: 'a' }, operations: new Map() } as unknown as AppLeg;
  (bot.endpoint as { leg: AppLeg }).leg = leg;
  call.participants.set(caller.id, caller);
  call.participants.set(bot.id, bot);
  media.attach(caller);
  media.attach(bot);
  engine.stop(); // ticked by the test
  return Object.assign(bench, {
    engine, media, call, caller, bot, leg,
    step: async () => {
      engine.tick();
      await nextTurn();
    },
  });
}
