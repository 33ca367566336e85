// SpeechDetector cost: microseconds of CPU per 20 ms frame, over a few minutes of audio.
//
// Material: espeak-ng utterances (several voices) with pauses, in white noise at 20 dB S/N, looped
// to BENCH_SECONDS of audio (default 180). Without espeak-ng, a synthetic stand-in (harmonic
// "vowels" with a syllabic envelope) is used and the results say so. The whole material is run
// through one detector BENCH_PASSES times (default 5, after one warm-up pass) untimed, for the mean
// cost and a count of garbage collections (the detector allocates nothing per frame, so there should
// be none), then BENCH_PASSES times with every frame timed, for the distribution. Results go to bench/results/vad.json; a summary is printed.
//
//   node --import tsx bench/media-vad/run.ts
//   BENCH_SECONDS=600 BENCH_PASSES=3 node --import tsx bench/media-vad/run.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { SpeechDetector } from '../../src/media/vad/SpeechDetector.ts';
import { SpeechSynth, addGaussianNoise, espeakVersion, prng, toInt16 } from '../../test/helpers/audio.ts';
import { ROOT, intEnv } from '../helpers.ts';

const OUT_FILE = resolve(ROOT, process.env.BENCH_OUT ?? 'bench/results/vad.json');
const SECONDS = intEnv('BENCH_SECONDS', 180, 10, 3600);
const PASSES = intEnv('BENCH_PASSES', 5, 1, 50);
const RATE = 16000;
const FRAME = 320;

// ---------------------------------------------------------------- material

const TEXTS: Array<[string, string]> = [
  ['en', 'Hello, I am calling about my appointment next Tuesday.'],
  ['en-us', 'Could you please call me back when you get this message? Thanks.'],
  ['en+f3', 'Seven three nine, four four one, two eight.'],
  ['en-gb-scotland', 'Yes, that is fine. I will be at home all afternoon.'],
];

async function speechMaterial(): Promise<{ clips: Int16Array[]; source: string }> {
  const version = espeakVersion();
  if (version === null) return { clips: [synthetic()], source: 'synthetic (espeak-ng not installed)' };
  const synth = new SpeechSynth('telegraph-vad-bench-');
  try {
    const clips = await synth.speakAll(TEXTS.map(([voice, text]) => ({ voice, wpm: 160, what: text })), 1);
    return { clips, source: `espeak-ng ${version.split(/\s+/).slice(0, 4).join(' ')}` };
  } finally {
    synth.close();
  }
}

/** 3 s of harmonic "syllables" (150 Hz, 4 per second) as a stand-in for speech. */
function synthetic(): Int16Array {
  const out = new Int16Array(3 * RATE);
  for (let i = 0; i < out.length; i++) {
    const t = i / RATE;
    const env = Math.max(0, Math.sin(2 * Math.PI * 4 * t));
    let v = 0;
    for (let h = 1; h <= 20; h++) v += Math.sin(2 * Math.PI * 150 * h * t) / h;
    out[i] = Math.round(6000 * env * v);
  }
  return out;
}

function buildSignal(clips: Int16Array[]): Int16Array {
  const n = SECONDS * RATE;
  const y = new Float64Array(n);
  let pos = RATE; // 1 s of noise first
  let k = 0;
  let speechPower = 0;
  let speechCount = 0;
  while (pos < n) {
    const c = clips[k++ % clips.length]!;
    for (let i = 0; i < c.length && pos + i < n; i++) {
      y[pos + i] = c[i]!;
      speechPower += c[i]! * c[i]!;
      speechCount++;
    }
    pos += c.length + RATE * (0.4 + 1.6 * ((k * 7) % 5) / 4); // pauses of 0.4–2 s
  }
  const noiseRms = Math.sqrt(speechPower / Math.max(1, speechCount)) / 10; // 20 dB S/N
  addGaussianNoise(y, noiseRms, prng(12345, { open: true }));
  return toInt16(y);
}

// ---------------------------------------------------------------- run

const { clips, source } = await speechMaterial();
const pcm = buildSignal(clips);
const frames = Math.floor(pcm.length / FRAME);
const views: Int16Array[] = [];
for (let f = 0; f < frames; f++) views.push(pcm.subarray(f * FRAME, (f + 1) * FRAME));

const det = new SpeechDetector();
let speakingFrames = 0;

/** One pass over the material from a fresh start; returns the frames reported as speech. */
function pass(): number {
  det.reset();
  let speaking = 0;
  for (let f = 0; f < frames; f++) if (det.process(views[f]!)) speaking++;
  return speaking;
}

// warm-up (JIT)
for (let p = 0; p < 2; p++) pass();

// 1. Untimed passes: throughput (wall time over whole passes) and garbage collections. Nothing
//    else runs in this loop, so a collection here would mean the detector allocates.
let gcEvents = 0;
const obs = new PerformanceObserver((list) => {
  gcEvents += list.getEntries().length;
});
obs.observe({ entryTypes: ['gc'] });
const heapBefore = process.memoryUsage().heapUsed;
const wallStart = performance.now();
for (let p = 0; p < PASSES; p++) speakingFrames = pass();
const wallMs = performance.now() - wallStart;
const heapAfter = process.memoryUsage().heapUsed;
await new Promise((r) => setTimeout(r, 50)); // let the observer deliver
obs.disconnect();

// 2. Timed passes: every frame timed on its own, for the distribution (the timer itself allocates,
//    so these passes are not used for the allocation check).
const times = new Float64Array(frames * PASSES);
for (let p = 0; p < PASSES; p++) {
  det.reset();
  const base = p * frames;
  for (let f = 0; f < frames; f++) {
    const t0 = performance.now();
    det.process(views[f]!);
    times[base + f] = performance.now() - t0;
  }
}

const sorted = Float64Array.from(times).sort();
const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 1000;
const meanUs = (wallMs * 1000) / (frames * PASSES);
const frameUs = (FRAME / RATE) * 1e6;
const result = {
  benchmark: 'media-vad',
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  material: { source, seconds: SECONDS, snrDb: 20, noise: 'white', speakingShare: +(speakingFrames / frames).toFixed(3) },
  frames: frames * PASSES,
  passes: PASSES,
  usPerFrame: {
    mean: +meanUs.toFixed(3),
    p50: +q(0.5).toFixed(3),
    p90: +q(0.9).toFixed(3),
    p99: +q(0.99).toFixed(3),
    max: +q(1).toFixed(3),
    note: 'mean: wall time of the untimed passes / frames; percentiles: each frame timed with performance.now() (includes its overhead)',
  },
  shareOfOneCorePercent: +((meanUs / frameUs) * 100).toFixed(4),
  streamsPerCore: Math.floor(frameUs / meanUs),
  gcEventsDuringUntimedPasses: gcEvents,
  heapDeltaBytes: heapAfter - heapBefore,
};
mkdirSync(dirname(OUT_FILE), { recursive: true });
writeFileSync(OUT_FILE, JSON.stringify(result, null, 2) + '\n');
console.log(
  `SpeechDetector: ${result.usPerFrame.mean} µs per 20 ms frame (p50 ${result.usPerFrame.p50}, p99 ${result.usPerFrame.p99}, max ${result.usPerFrame.max}) ` +
    `over ${PASSES} × ${SECONDS} s of ${source} audio; ${result.shareOfOneCorePercent} % of one core per stream ` +
    `(≈ ${result.streamsPerCore} streams per core); garbage collections during the untimed passes: ${gcEvents}; heap delta ${result.heapDeltaBytes} B.\n` +
    `→ ${OUT_FILE}`,
);
