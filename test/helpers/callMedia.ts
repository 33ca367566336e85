// CallMedia (src/calls/CallMedia.ts) on its own, for its unit tests: a two-party call (a virtual
// caller and a bot's leg) on an engine the test ticks by hand, with stand-ins for what CallMedia
// talks to (CallService's operations, the prompt store, the recordings store) that note what they
// are told.
import type { CallMedia, RecordParams } from '../../src/calls/CallMedia.ts';
import type { AppLeg } from '../../src/calls/AppLeg.ts';
import type { Call } from '../../src/calls/Call.ts';
import type { Operation } from '../../src/calls/Operation.ts';
import type { Participant } from '../../src/calls/Participant.ts';
import { MediaEngine } from '../../src/media/MediaEngine.ts';
import { standInCallMedia, twoPartyCall } from './callMediaStandIns.ts';

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

/** `write` stands for the recordings store's write (by default it counts and resolves at once); `prompt` is every prompt's audio (none by default). */
export function callMediaBench(opts: { write?: () => Promise<void>; prompt?: Int16Array } = {}): CallMediaBench {
  const engine = new MediaEngine(null);
  const completed: Operation[] = [];
  const bench = { completed, recordedSamples: 0 } as CallMediaBench;
  const media = standInCallMedia(engine, {
    prompt: opts.prompt,
    done: (_leg, op) => completed.push(op),
    write: async (chunks) => {
      for (const c of chunks) bench.recordedSamples += c.length;
      if (opts.write) await opts.write();
    },
  });
  const { call, caller, bot, leg } = twoPartyCall(media);
  engine.stop(); // ticked by the test
  return Object.assign(bench, {
    engine, media, call, caller, bot, leg,
    step: async () => {
      engine.tick();
      await nextTurn();
    },
  });
}
