/**
 * The media tick allocates nothing per frame: a two-party IVR call (a caller talking, in-band keys
 * over the voice, the DTMF listener on the caller's leg; a bot playing a prompt, a speech detector
 * listening to what the bot hears) ticked thousands of times grows the young generation, where every
 * JavaScript object is born, by nothing. Measured as vad.test.ts does: a trial during which a
 * GC ran (v8.GCProfiler) does not count, the least of the others does, less what reading the
 * statistics costs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { MediaEngine } from '../../src/media/MediaEngine.ts';
import type { FrameSink } from '../../src/media/MediaFormat.ts';
import { Player } from '../../src/media/Player.ts';
import { sineTone } from '../../src/media/Tones.ts';
import { DtmfListener } from '../../src/media/dtmf/DtmfListener.ts';
import { SpeechDetector } from '../../src/media/vad/SpeechDetector.ts';
import { prng } from '../helpers/audio.ts';

/** A voice-like buffer: tone bursts of varying pitch and level with pauses (content is irrelevant here). */
function voice(seconds: number, extra = 0): Int16Array {
  const rnd = prng(9);
  const out = new Int16Array(16000 * seconds + extra);
  let at = 0;
  while (at < out.length) {
    const burst = sineTone(120 + rnd() * 900, 80 + rnd() * 300, -30 + rnd() * 20);
    out.set(burst.subarray(0, Math.min(burst.length, out.length - at)), at);
    at += burst.length + Math.floor(rnd() * 3000);
  }
  return out;
}

/** One IVR call in `engine`: returns a function to run before each tick (keys now and then). */
function ivrCall(engine: MediaEngine, id: string, heard: { n: number }): (t: number) => void {
  const session = engine.createSession(id);
  const caller = session.addLeg('caller');
  const bot = session.addLeg('bot');
  const talk = new Player();
  talk.enqueue({ kind: 'buffer', samples: VOICE, loop: true });
  const keys = new Player();
  caller.addSource(keys);
  caller.addSource(talk);
  caller.addTap(new DtmfListener(() => heard.n++));
  const prompt = new Player();
  prompt.enqueue({ kind: 'buffer', samples: PROMPT, loop: true });
  bot.addSource(prompt);
  const det = new SpeechDetector();
  const listen: FrameSink = { write: (frame) => void det.process(frame) };
  bot.addSink(listen);
  // keys now and then, over the voice (a DtmfGenerator, made once by the Player)
  return (t) => {
    if (t % 400 === 0) keys.enqueue({ kind: 'dtmf', keys: '5#', toneMs: 100, gapMs: 100 });
  };
}

// (77 samples past a whole number of frames: from its second pass on, the loop is read off the frame grid)
const VOICE = voice(7, 77);
const PROMPT = voice(3);

/** Young-generation growth per tick of `engine` with `calls` IVR calls: the least over trials without a GC. */
function growthPerTick(calls: number, gc: () => void): { least: number; seen: string[]; heard: number } {
  const engine = new MediaEngine();
  const heard = { n: 0 };
  const before = Array.from({ length: calls }, (_, i) => ivrCall(engine, `call-${i}`, heard));
  const tick = (t: number) => {
    for (let i = 0; i < before.length; i++) before[i]!(t);
    engine.tick();
  };
  let t = 0;
  for (; t < 3000; t++) tick(t); // warm-up: every path (keys, speech, silence) optimised
  const young = () => v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')!.space_used_size;
  const ticks = 2000;
  let least = Infinity;
  const seen: string[] = [];
  for (let trial = 0; trial < 5; trial++) {
    gc();
    const profiler = new v8.GCProfiler();
    profiler.start();
    const start = young();
    for (let i = 0; i < ticks; i++, t++) tick(t);
    const reading = young();
    const end = reading - (young() - reading);
    if (profiler.stop().statistics.length > 0) {
      seen.push('(collected)'); // a GC ran during the trial: its growth says nothing
      continue;
    }
    const perTick = (end - start) / ticks;
    seen.push(perTick.toFixed(2));
    least = Math.min(least, perTick);
  }
  return { least, seen, heard: heard.n };
}

test('a call costs the media tick no allocation per frame (IVR calls: prompt, voice, keys, DTMF and speech detection)', (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  // The difference between 1 and 41 calls is what 40 calls allocate per tick; what does not depend
  // on the calls cancels: the engine's two clock readings (16 B each, as every clock Node offers)
  // and V8's own settling (tens of bytes per tick, shrinking from trial to trial).
  const one = growthPerTick(1, gc);
  const many = growthPerTick(41, gc);
  assert.ok(one.heard >= 10 && many.heard >= 410, `the listeners heard the keys (${one.heard}, ${many.heard})`);
  assert.ok(Number.isFinite(one.least) && Number.isFinite(many.least), 'some trials ran without a GC');
  const perCall = (many.least - one.least) / 40;
  t.diagnostic(`young-generation growth per tick: 1 call ${one.seen.join(', ')} B; 41 calls ${many.seen.join(', ')} B; per call ${perCall.toFixed(2)} B`);
  // a call's key items are the only objects made (a few per 400 ticks: ~4 B per tick); a boxed number
  // per frame would add 16 B per call and tick, 640 B per tick in all
  assert.ok(perCall < 8, `a call allocates ≈ ${perCall.toFixed(2)} B per tick (1 call: ${one.seen.join(', ')}; 41 calls: ${many.seen.join(', ')})`);
});
