// SpeechDetector against real (synthetic) speech: espeak-ng utterances placed at known positions in
// a longer signal, with silence gaps of known length, clean and in seeded white and pink noise at
// 20 dB S/N. A recordResponse-style timer built on the detector must fire within ±100 ms of the
// true time (initial silence and max silence, 1 s and 2 s); noise alone must not be speech once the
// detector has adapted (≤ 500 ms, also after a step in the noise level); the same timers through
// recordResponse itself (CallMedia's sink, timers and recorder on an engine ticked by hand) end
// the recording within ±100 ms too; a talker 20 dB quieter
// must be detected just the same. Also: a step in the noise does not disturb the timers; babble
// (8 espeak-ng talkers) alone is not speech once learnt, and the max silence timer works in it
// after the detector has listened to the line (restart() at the start of the recording); process()
// allocates nothing per frame.
//
// Ground truth: each utterance is trimmed of espeak-ng's own leading and trailing silence by its
// clean energy (2 ms blocks within 50 dB of its loudest block) before it is placed, so its start
// and end in the test signal are known to the sample. Speech level is the RMS over the utterance's
// active 20 ms frames (those within 30 dB of its loudest); S/N is that over the noise's full-band
// RMS.
//
// espeak-ng is required (Debian: apt-get install espeak-ng). Without it these tests fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { SpeechDetector } from '../../src/media/vad/SpeechDetector.ts';
import { RECORD_DEFAULTS, callMediaBench, nextTurn } from '../helpers/callMedia.ts';
import { energy, openSpeechSynth, pinkNoise, prng, toInt16, unitRms, whiteNoise, type SpeechSynth } from '../helpers/audio.ts';

const RATE = 16000;
const FRAME = 320;
const FRAME_MS = 20;
const TOLERANCE_MS = 100;
const ADAPT_MS = 500;
const SNR_DB = 20;
/**
 * Babble is not stationary: the detector needs ≈ 1 s of it to learn it (the long stationarity
 * rule). The ±100 ms of the babble timer test hold for this material; a wider sweep (36
 * utterances, 4 voices) found 24 of 36 ends within ±100 ms in babble, so it is not a guarantee.
 */
const BABBLE_ADAPT_MS = 1500;
const BABBLE_TOLERANCE_MS = 100;

// ------------------------------------------------------------------ speech material

const UTTERANCES = {
  appointment: { voice: 'en', text: 'Hello, I am calling about my appointment next Tuesday.' },
  callback: { voice: 'en-us', text: 'Could you please call me back when you get this message? Thanks.' },
  digits: { voice: 'en+f3', text: 'Seven three nine, four four one, two eight.' },
  short: { voice: 'en-gb-scotland', text: 'Yes, that is fine.' },
} as const;
type UttName = keyof typeof UTTERANCES;

/** Talkers of the babble: long readings in different voices, summed at staggered offsets. */
const BABBLE_TEXT =
  'On the first morning of the fair the square filled early. Traders called out their prices, ' +
  'children ran between the stalls, and an old man played the same tune on a fiddle until noon. ' +
  'By the afternoon the clouds came over the hill, and most of the visitors went home before the rain.';
const BABBLE_VOICES = ['en', 'en-us', 'en+f2', 'en+m3', 'en-gb-scotland', 'en+f4', 'en-gb-x-rp', 'en+m7'];
let babbleTalkers: Int16Array[] = [];

/** Trimmed utterances (16 kHz mono), by name. */
const speech = new Map<UttName, Int16Array>();
/** Active speech level of `appointment` (RMS, linear), the reference for S/N. */
let speechRms = 0;
let synth: SpeechSynth | undefined;

before(async () => {
  const tts = openSpeechSynth('telegraph-vad-', 'these tests need real speech from it');
  synth = tts;
  await Promise.all(
    (Object.keys(UTTERANCES) as UttName[]).map(async (name) => {
      const { voice, text } = UTTERANCES[name];
      speech.set(name, trimSilence(await tts.speak(text, { voice, wpm: 160 })));
    }),
  );
  speechRms = activeRms(speech.get('appointment')!);
  babbleTalkers = await Promise.all(BABBLE_VOICES.map(async (voice, i) => trimSilence(await tts.speak(BABBLE_TEXT, { voice, wpm: 150 + 5 * i }))));
});

after(() => {
  synth?.close();
});

/** Cuts espeak-ng's leading and trailing silence: keeps 2 ms blocks from the first to the last within 50 dB of the loudest. */
function trimSilence(s: Int16Array): Int16Array {
  const B = 32;
  const nb = Math.floor(s.length / B);
  const e = new Float64Array(nb);
  let max = 0;
  for (let b = 0; b < nb; b++) {
    const v = energy(s, b * B, B);
    e[b] = v;
    if (v > max) max = v;
  }
  assert.ok(max > 0, 'espeak-ng produced silence');
  const th = max * 1e-5;
  let first = 0;
  while (e[first]! < th) first++;
  let last = nb - 1;
  while (e[last]! < th) last--;
  return s.slice(first * B, (last + 1) * B);
}

/** RMS over the 20 ms frames within 30 dB of the loudest (an active-speech level). */
function activeRms(s: Int16Array): number {
  const n = Math.floor(s.length / FRAME);
  const e = new Float64Array(n);
  let max = 0;
  for (let f = 0; f < n; f++) {
    e[f] = energy(s, f * FRAME, FRAME) / FRAME;
    if (e[f]! > max) max = e[f]!;
  }
  let sum = 0;
  let count = 0;
  for (const v of e) if (v >= max / 1000) (sum += v), count++;
  return Math.sqrt(sum / count);
}

// ------------------------------------------------------------------ noise (deterministic)

/** Multi-talker babble, unit RMS: the talkers summed, each looped from a seeded offset. */
function babbleNoise(n: number, seed: number): Float64Array {
  const r = prng(seed, { open: true });
  const out = new Float64Array(n);
  for (const t of babbleTalkers) {
    let j = Math.floor(r() * t.length);
    for (let i = 0; i < n; i++) {
      out[i]! += t[j]!;
      if (++j === t.length) j = 0;
    }
  }
  return unitRms(out);
}

type NoiseKind = 'clean' | 'white' | 'pink' | 'babble';

function noiseOf(kind: NoiseKind, n: number, seed: number): Float64Array | null {
  switch (kind) {
    case 'clean':
      return null;
    case 'white':
      return whiteNoise(n, seed);
    case 'pink':
      return pinkNoise(n, seed);
    case 'babble':
      return babbleNoise(n, seed);
  }
}

// ------------------------------------------------------------------ signals

interface Placed {
  name: UttName;
  /** Start, ms from the signal's start. */
  at: number;
}

interface Signal {
  pcm: Int16Array;
  /** Speech segments [start, end) in ms, as placed. */
  truth: Array<[number, number]>;
}

function durMs(name: UttName): number {
  return (speech.get(name)!.length * 1000) / RATE;
}

/**
 * Lays out utterances at known places over `totalMs`; `gain` scales the speech, `noise` (unit RMS)
 * is added at `noiseRms(ms)` (a level or a level profile).
 */
function compose(totalMs: number, placed: Placed[], gain: number, noise: Float64Array | null, noiseRms: (ms: number) => number): Signal {
  const n = (totalMs * RATE) / 1000;
  const y = new Float64Array(n);
  const truth: Array<[number, number]> = [];
  for (const p of placed) {
    const s = speech.get(p.name)!;
    const at = (p.at * RATE) / 1000;
    assert.ok(at + s.length <= n, `utterance ${p.name} at ${p.at} ms runs past the ${totalMs} ms signal`);
    for (let i = 0; i < s.length; i++) y[at + i]! += s[i]! * gain;
    truth.push([p.at, p.at + (s.length * 1000) / RATE]);
  }
  if (noise) for (let i = 0; i < n; i++) y[i]! += noise[i]! * noiseRms((i * 1000) / RATE);
  return { pcm: toInt16(y), truth };
}

/** Utterances one after another from `startMs`, separated by `gaps` (ms); returns the placements. */
function sequence(startMs: number, names: UttName[], gaps: number[]): Placed[] {
  const out: Placed[] = [];
  let t = startMs;
  names.forEach((name, i) => {
    t = Math.round(t);
    out.push({ name, at: t });
    t += durMs(name) + (gaps[i] ?? 0);
  });
  return out;
}

// ------------------------------------------------------------------ the recordResponse timer

interface Fired {
  kind: 'initialSilence' | 'maxSilence';
  atMs: number;
}

/**
 * What recordResponse does with the detector: before any speech, stop after `initialMs` of
 * recording; once speech was seen, stop when silence has lasted `maxMs`. Returns the first (only)
 * firing, or null, and the speaking flag per frame.
 */
function recordTimer(pcm: Int16Array, initialMs: number, maxMs: number, listenMs = 0): { fired: Fired | null; speaking: Uint8Array } {
  const det = new SpeechDetector();
  const frames = Math.floor(pcm.length / FRAME);
  const speaking = new Uint8Array(frames);
  const listenFrames = listenMs / FRAME_MS;
  let fired: Fired | null = null;
  for (let f = 0; f < frames; f++) {
    // The detector may listen before the recording starts (during the prompt); restart() then
    // starts the recording's clock and marks, keeping what it learnt of the background.
    if (listenFrames > 0 && f === listenFrames) det.restart();
    speaking[f] = det.process(pcm.subarray(f * FRAME, (f + 1) * FRAME)) ? 1 : 0;
    if (fired || f < listenFrames) continue;
    if (!det.speechSeen) {
      if (det.nowMs >= initialMs) fired = { kind: 'initialSilence', atMs: det.nowMs };
    } else if (det.silenceMs >= maxMs) {
      fired = { kind: 'maxSilence', atMs: det.nowMs };
    }
  }
  return { fired, speaking };
}

// ------------------------------------------------------------------ reporting

const report: string[] = [];
function note(line: string): void {
  report.push(line);
}
after(() => {
  if (report.length) console.log(['SpeechDetector timer errors (fired − expected):', ...report].join('\n  '));
});

function noiseLevel(kind: NoiseKind, gain: number): number {
  return kind === 'clean' ? 0 : (speechRms * gain) / 10 ** (SNR_DB / 20);
}

const CONDITIONS: Array<{ kind: NoiseKind; gain: number; label: string }> = [
  { kind: 'clean', gain: 1, label: 'clean' },
  { kind: 'white', gain: 1, label: 'white 20 dB S/N' },
  { kind: 'pink', gain: 1, label: 'pink 20 dB S/N' },
];
const QUIET = 0.1; // −20 dB

// ------------------------------------------------------------------ (a) initial silence timeout

for (const { kind, gain, label } of CONDITIONS) {
  test(`initial silence timeout fires at the timeout when speech starts later (${label})`, () => {
    for (const timeout of [1000, 2000]) {
      const row: string[] = [];
      for (const startMs of [timeout + 200, timeout + 600, timeout + 1500]) {
        const total = startMs + durMs('appointment') + 500;
        const sig = compose(total, [{ name: 'appointment', at: startMs }], gain, noiseOf(kind, (total * RATE) / 1000, 11 + startMs), () =>
          noiseLevel(kind, gain),
        );
        const { fired } = recordTimer(sig.pcm, timeout, 10_000);
        assert.ok(fired, `${label}: timeout ${timeout} ms, speech at ${startMs} ms: the timer never fired`);
        assert.equal(fired.kind, 'initialSilence', `${label}: timeout ${timeout} ms, speech at ${startMs} ms: ${JSON.stringify(fired)}`);
        const err = fired.atMs - timeout;
        row.push(`speech at ${startMs} → ${signed(err)}`);
        assert.ok(Math.abs(err) <= TOLERANCE_MS, `${label}: fired at ${fired.atMs} ms, expected ${timeout} ± ${TOLERANCE_MS}`);
      }
      note(`(a) ${label}, initial ${timeout} ms: ${row.join(', ')} ms`);
    }
  });

  test(`initial silence timeout does not fire when speech starts before it (${label})`, () => {
    for (const timeout of [1000, 2000]) {
      const row: string[] = [];
      for (const startMs of [0, timeout - 500, timeout - 300]) {
        const total = startMs + durMs('appointment') + 500;
        const sig = compose(total, [{ name: 'appointment', at: startMs }], gain, noiseOf(kind, (total * RATE) / 1000, 23 + startMs), () =>
          noiseLevel(kind, gain),
        );
        const { fired } = recordTimer(sig.pcm, timeout, 10_000);
        row.push(`speech at ${startMs} → ${fired ? `fired (${fired.kind}) at ${fired.atMs}` : 'not fired'}`);
        assert.equal(fired, null, `${label}: timeout ${timeout} ms, speech at ${startMs} ms: fired ${JSON.stringify(fired)}`);
      }
      note(`(a) ${label}, initial ${timeout} ms: ${row.join(', ')}`);
    }
  });
}

// ------------------------------------------------------------------ (b) max silence timeout, (d) quiet talker

const MAX_CONDITIONS = [
  ...CONDITIONS,
  { kind: 'clean' as NoiseKind, gain: QUIET, label: 'quiet talker (−20 dB), clean' },
  { kind: 'white' as NoiseKind, gain: QUIET, label: 'quiet talker (−20 dB), white 20 dB S/N' },
  { kind: 'pink' as NoiseKind, gain: QUIET, label: 'quiet talker (−20 dB), pink 20 dB S/N' },
];

const ORDERS: UttName[][] = [
  ['appointment', 'callback', 'short', 'digits'],
  ['digits', 'appointment', 'short', 'callback'],
  ['callback', 'digits', 'appointment', 'short'],
  ['short', 'callback', 'digits', 'appointment'],
];

for (const { kind, gain, label } of MAX_CONDITIONS) {
  test(`max silence timeout fires at speech end + timeout, not in the pauses (${label})`, () => {
    for (const timeout of [1000, 2000]) {
      const row: string[] = [];
      for (const [o, order] of ORDERS.entries()) {
        // Four utterances with 400 ms and 700 ms gaps (shorter than either timeout); the utterances
        // have pauses of their own at commas and full stops. Each order ends on another utterance.
        const placed = sequence(800, order, [400, 700, 400]);
        const last = placed[placed.length - 1]!;
        const speechEnd = last.at + durMs(last.name);
        const total = Math.ceil(speechEnd + timeout + 1000);
        const sig = compose(total, placed, gain, noiseOf(kind, (total * RATE) / 1000, 101 + timeout + o), () => noiseLevel(kind, gain));
        const { fired, speaking } = recordTimer(sig.pcm, 5000, timeout);
        const what = `${label}: max ${timeout} ms, ending on "${last.name}"`;
        assert.ok(fired, `${what}: never fired`);
        assert.equal(fired.kind, 'maxSilence', `${what}: ${JSON.stringify(fired)}`);
        const expected = speechEnd + timeout;
        const err = fired.atMs - expected;
        row.push(`${last.name} ${signed(err)}`);
        assert.ok(Math.abs(err) <= TOLERANCE_MS, `${what}: fired at ${fired.atMs} ms, expected ${expected.toFixed(0)} ± ${TOLERANCE_MS}`);
        // Every utterance was detected as speech (the quiet talker's too).
        for (const [s, e] of sig.truth) {
          let hit = 0;
          for (let f = Math.floor(s / FRAME_MS); f < Math.ceil(e / FRAME_MS); f++) hit += speaking[f]!;
          const frames = Math.ceil(e / FRAME_MS) - Math.floor(s / FRAME_MS);
          assert.ok(hit / frames >= 0.7, `${what}: speech ${s}–${e.toFixed(0)} ms detected in only ${hit} of ${frames} frames`);
        }
      }
      note(`(b) ${label}, max ${timeout} ms, error by final utterance: ${row.join(', ')} ms`);
    }
  });
}

// ------------------------------------------------------------------ (b') the same, through recordResponse itself

/**
 * recordResponse as CallMedia runs it (its sink, its timers, its recorder), on an engine ticked by
 * hand (test/helpers/callMedia.ts): a virtual caller plays `pcm` from the recording's start, and
 * the result is how long the recording ran (ms) and why it ended.
 */
async function recordThroughCallMedia(pcm: Int16Array, initialSeconds: number, maxSilenceSeconds: number): Promise<{ reason: string; recordedMs: number }> {
  const b = callMediaBench();
  try {
    b.media.record(b.leg, { ...RECORD_DEFAULTS, initialSilenceTimeoutSeconds: initialSeconds, maxSilenceTimeoutSeconds: maxSilenceSeconds });
    await nextTurn(); // the job starts (its sink on the leg) on the next turn
    b.media.voiceOf(b.caller)!.enqueue({ kind: 'buffer', samples: pcm });
    for (let f = 0; f < pcm.length / FRAME + 500 && b.completed.length === 0; f++) await b.step();
    for (let i = 0; i < 10 && b.completed.length === 0; i++) await nextTurn();
    const ended = b.completed[0];
    assert.ok(ended, 'the recording never ended');
    return { reason: ended.completionReason ?? '?', recordedMs: (b.recordedSamples * 1000) / RATE };
  } finally {
    b.media.callEnded(b.call);
  }
}

for (const { kind, gain, label } of CONDITIONS) {
  test(`recordResponse itself (CallMedia's sink and timers): max silence and initial silence within ±${TOLERANCE_MS} ms (${label})`, async () => {
    const row: string[] = [];
    // max silence, 1 s and 2 s, after four utterances with pauses shorter than either
    for (const timeout of [1000, 2000]) {
      const placed = sequence(800, ['appointment', 'callback', 'short', 'digits'], [400, 700, 400]);
      const last = placed[placed.length - 1]!;
      const speechEnd = last.at + durMs(last.name);
      const total = Math.ceil(speechEnd + timeout + 1000);
      const sig = compose(total, placed, gain, noiseOf(kind, (total * RATE) / 1000, 301 + timeout), () => noiseLevel(kind, gain));
      const { reason, recordedMs } = await recordThroughCallMedia(sig.pcm, 5, timeout / 1000);
      assert.equal(reason, 'maxSilenceTimeout', `${label}, max ${timeout} ms`);
      const err = recordedMs - (speechEnd + timeout);
      row.push(`max ${timeout} ${signed(err)}`);
      assert.ok(Math.abs(err) <= TOLERANCE_MS, `${label}: max silence ${timeout} ms ended the recording at ${recordedMs} ms, expected ${(speechEnd + timeout).toFixed(0)} ± ${TOLERANCE_MS}`);
    }
    // initial silence, 1 s: the line's noise, speech only after it
    const total = 1500 + durMs('short') + 500;
    const sig = compose(total, [{ name: 'short', at: 1500 }], gain, noiseOf(kind, (total * RATE) / 1000, 401), () => noiseLevel(kind, gain));
    const { reason, recordedMs } = await recordThroughCallMedia(sig.pcm, 1, 5);
    assert.equal(reason, 'initialSilenceTimeout', label);
    row.push(`initial 1000 ${signed(recordedMs - 1000)}`);
    assert.ok(Math.abs(recordedMs - 1000) <= TOLERANCE_MS, `${label}: initial silence 1 s ended the recording at ${recordedMs} ms`);
    note(`(b') ${label}, through CallMedia: ${row.join(', ')} ms`);
  });
}

// ------------------------------------------------------------------ (c) noise alone

for (const kind of ['white', 'pink'] as const) {
  test(`${kind} noise alone is not speech after ${ADAPT_MS} ms, nor after a step in its level`, () => {
    // 20 dB below speech level; +10 dB at 4 s; −10 dB (back) at 8 s; +6 dB at 10 s.
    const base = noiseLevel(kind, 1);
    const steps: Array<[number, number]> = [
      [0, 0],
      [4000, 10],
      [8000, 0],
      [10000, 6],
    ];
    const total = 13000;
    const levelAt = (ms: number) => {
      let db = 0;
      for (const [t, d] of steps) if (ms >= t) db = d;
      return base * 10 ** (db / 20);
    };
    const sig = compose(total, [], 1, noiseOf(kind, (total * RATE) / 1000, kind === 'white' ? 5 : 6), levelAt);
    const det = new SpeechDetector();
    const frames = Math.floor(sig.pcm.length / FRAME);
    const bad: number[] = [];
    let lastSpeaking = -1;
    for (let f = 0; f < frames; f++) {
      const sp = det.process(sig.pcm.subarray(f * FRAME, (f + 1) * FRAME));
      const t = f * FRAME_MS;
      if (!sp) continue;
      lastSpeaking = t;
      const since = Math.max(...steps.map(([s]) => s).filter((s) => s <= t));
      if (t >= since + ADAPT_MS) bad.push(t);
    }
    note(
      `(c) ${kind} noise with steps: speech frames after adaptation: ${bad.length}; last speaking frame at ${lastSpeaking} ms; ` +
        `speechSeen at the end: ${det.speechSeen}`,
    );
    assert.deepEqual(bad, [], `${kind} noise reported as speech at ${bad.slice(0, 10).join(', ')} ms`);
    // The brief "speech" after the step was recognised as background and withdrawn.
    assert.equal(det.speechSeen, false, `${kind} noise: a step in the noise left speechSeen set`);
    // And a recordResponse on noise alone ends on its initial silence timeout, on time.
    const { fired } = recordTimer(sig.pcm.subarray(0, 3000 * 16), 2000, 1000);
    assert.deepEqual(fired, { kind: 'initialSilence', atMs: 2000 });
  });
}

test('a step in the noise neither cancels an initial silence timeout nor restarts a max silence one', () => {
  for (const kind of ['white', 'pink'] as const) {
    const base = noiseLevel(kind, 1);
    // No speech; noise +10 dB at 1.5 s; initial silence timeout 2 s.
    {
      const total = 3000;
      const sig = compose(total, [], 1, noiseOf(kind, (total * RATE) / 1000, 61), (ms) => (ms >= 1500 ? base * 10 ** (10 / 20) : base));
      const { fired } = recordTimer(sig.pcm, 2000, 1000);
      note(`(c) ${kind}: +10 dB step at 1500 ms, no speech, initial 2000 ms → ${fired ? `${fired.kind} at ${fired.atMs} ms` : 'not fired'}`);
      assert.deepEqual(fired, { kind: 'initialSilence', atMs: 2000 }, `${kind}: ${JSON.stringify(fired)}`);
    }
    // Speech, then noise +10 dB 500 ms after it ends; max silence timeout 2 s.
    {
      const placed: Placed[] = [{ name: 'appointment', at: 800 }];
      const speechEnd = 800 + durMs('appointment');
      const stepAt = Math.round(speechEnd + 500);
      const total = Math.ceil(speechEnd + 3500);
      const sig = compose(total, placed, 1, noiseOf(kind, (total * RATE) / 1000, 62), (ms) => (ms >= stepAt ? base * 10 ** (10 / 20) : base));
      const { fired } = recordTimer(sig.pcm, 5000, 2000);
      assert.ok(fired && fired.kind === 'maxSilence', `${kind}: ${JSON.stringify(fired)}`);
      const err = fired.atMs - (speechEnd + 2000);
      note(`(c) ${kind}: +10 dB step 500 ms after the speech, max 2000 ms → ${signed(err)} ms`);
      assert.ok(Math.abs(err) <= TOLERANCE_MS, `${kind}: max silence fired at ${fired.atMs} ms, expected ${(speechEnd + 2000).toFixed(0)} ± ${TOLERANCE_MS}`);
    }
  }
});

// ------------------------------------------------------------------ babble (multi-talker)

test('babble alone is not speech once the detector has adapted', () => {
  const total = 12_000;
  const sig = compose(total, [], 1, noiseOf('babble', (total * RATE) / 1000, 31), () => noiseLevel('babble', 1));
  const det = new SpeechDetector();
  const frames = Math.floor(sig.pcm.length / FRAME);
  let lastSpeaking = -1;
  for (let f = 0; f < frames; f++) if (det.process(sig.pcm.subarray(f * FRAME, (f + 1) * FRAME))) lastSpeaking = f * FRAME_MS;
  note(`(c) babble (8 talkers, 20 dB below speech): last speaking frame at ${lastSpeaking} ms; speechSeen at the end: ${det.speechSeen}`);
  assert.ok(lastSpeaking < BABBLE_ADAPT_MS, `babble reported as speech at ${lastSpeaking} ms`);
  assert.equal(det.speechSeen, false, 'the false talk-spurts in babble were not undone');
});

test('max silence timeout in babble at 20 dB S/N, after listening to the line for 3 s', () => {
  const listen = 3000;
  const errors: number[] = [];
  for (const timeout of [1000, 2000]) {
    const row: string[] = [];
    for (const [o, order] of ORDERS.entries()) {
      const placed = sequence(listen + 800, order, [400, 700, 400]);
      const last = placed[placed.length - 1]!;
      const speechEnd = last.at + durMs(last.name);
      const total = Math.ceil(speechEnd + timeout + 1000);
      const sig = compose(total, placed, 1, noiseOf('babble', (total * RATE) / 1000, 201 + timeout + o), () => noiseLevel('babble', 1));
      const { fired } = recordTimer(sig.pcm, 5000, timeout, listen);
      const what = `babble 20 dB S/N: max ${timeout} ms, ending on "${last.name}"`;
      assert.ok(fired, `${what}: never fired`);
      assert.equal(fired.kind, 'maxSilence', `${what}: ${JSON.stringify(fired)}`);
      const err = fired.atMs - (speechEnd - listen + timeout);
      errors.push(err);
      row.push(`${last.name} ${signed(err)}`);
    }
    note(`(b) babble 20 dB S/N (after 3 s of listening), max ${timeout} ms, error by final utterance: ${row.join(', ')} ms`);
  }
  for (const err of errors) assert.ok(Math.abs(err) <= BABBLE_TOLERANCE_MS, `babble: timer error ${err} ms beyond ±${BABBLE_TOLERANCE_MS}`);
});

test('process() allocates nothing per frame', () => {
  // A gc() for this test only: expose it, then take it from a fresh context.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const total = 20_000;
  const placed = sequence(1000, ['appointment', 'callback', 'digits', 'short'], [400, 700, 400]);
  const sig = compose(total, placed, 1, noiseOf('white', (total * RATE) / 1000, 55), () => noiseLevel('white', 1));
  const frames = Math.floor(sig.pcm.length / FRAME);
  const views: Int16Array[] = [];
  for (let f = 0; f < frames; f++) views.push(sig.pcm.subarray(f * FRAME, (f + 1) * FRAME));
  const det = new SpeechDetector();
  for (let pass = 0; pass < 3; pass++) for (let f = 0; f < frames; f++) det.process(views[f]!); // warm-up (JIT)
  // Measured in the young generation, where objects are born: what process() allocates lands there,
  // while the heap as a whole also moves with V8's own work (code from a late optimisation, the
  // sweeper after gc()), which made a heapUsed measure flaky. A trial during which a GC ran
  // (v8.GCProfiler says) does not count; the least of the others does.
  const young = () => v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')!.space_used_size;
  const trials = 5;
  const passes = 10;
  let least = Infinity;
  const seen: string[] = [];
  for (let trial = 0; trial < trials; trial++) {
    gc();
    const profiler = new v8.GCProfiler();
    profiler.start();
    const before = young();
    for (let pass = 0; pass < passes; pass++) for (let f = 0; f < frames; f++) det.process(views[f]!);
    const reading = young();
    const overhead = young() - reading; // what reading the statistics allocates
    const after = reading - overhead;
    if (profiler.stop().statistics.length > 0) {
      seen.push('(collected)'); // a GC ran during the trial: its growth says nothing
      continue;
    }
    const perFrame = (after - before) / (passes * frames);
    seen.push(perFrame.toFixed(3));
    least = Math.min(least, perFrame);
  }
  note(`allocation in the young generation per frame, ${trials} trials of ${passes * frames} frames: ${seen.join(', ')} B`);
  // One boxed number per frame would be 16 B per frame (and 10,000 frames of it 160 KB: no scavenge).
  assert.ok(Number.isFinite(least), `some trials ran without a GC (${seen.join(', ')})`);
  assert.ok(least < 1, `process() allocates ≈ ${least.toFixed(1)} B per frame (trials: ${seen.join(', ')})`);
});

test('reset() restores the initial state; frames of the wrong size are refused', () => {
  const det = new SpeechDetector();
  const n = whiteNoise(RATE * 2, 77);
  const pcm = new Int16Array(n.length);
  for (let i = 0; i < n.length; i++) pcm[i] = Math.round(n[i]! * 300);
  const first: boolean[] = [];
  for (let f = 0; f < 100; f++) first.push(det.process(pcm.subarray(f * FRAME, (f + 1) * FRAME)));
  det.reset();
  assert.equal(det.frames, 0);
  assert.equal(det.speechSeen, false);
  for (let f = 0; f < 100; f++) assert.equal(det.process(pcm.subarray(f * FRAME, (f + 1) * FRAME)), first[f]);
  assert.throws(() => det.process(new Int16Array(160)), RangeError);
});

function signed(v: number): string {
  return (v >= 0 ? '+' : '') + v.toFixed(0);
}
