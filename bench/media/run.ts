// Media-engine benchmark: how many concurrent IVR calls one Telegraph process mixes on one core.
//
// Everything runs in this process with virtual legs (no network, no RTP): for each N in a series,
// N two-party calls are wired through CallMedia itself (the production code: attach(), playPrompt(),
// record(), with test/helpers/callMediaStandIns.ts's stand-ins for CallService, the prompt store
// and the recordings store), each with
//   - a "caller" leg (a person): CallMedia's DTMF listener taps it (DtmfDetector; silent frames
//     skipped); it speaks a looping speech buffer (espeak-ng if installed, else a synthetic
//     speech-like signal; one buffer shared by all calls) and presses '#' (a DtmfGenerator, through
//     a Player placed first among the leg's sources, as a prompt plays over a voice);
//   - a "bot" leg (an application): it plays a 3 s prompt (playPrompt), then records the caller
//     (record(): beep, then CallMedia's record sink, a Recorder + SpeechDetector, on its outbound;
//     '#' ends the recording, as would the silence timeouts or the duration bound), then starts over.
// Two scenarios (BENCH_SCENARIOS): "talk", the caller talks all the time and presses '#' every
// 4–8 s (the worst case: the DTMF detector busy on every call all the time), and "turns", an IVR
// dialogue: the caller is silent during the prompt, answers after the beep, then presses '#'.
// Calls are staggered (random start offsets) so their phases spread as on a real server.
//
// Two ways of driving the engine:
//   - tight loop: engine.tick() back to back for BENCH_TICKS ticks after BENCH_WARMUP_TICKS,
//     letting the event loop turn between ticks (the operations' callbacks): tick duration
//     p50/p99/max (over all ticks, and over the ticks the OS did not interrupt), CPU µs per
//     leg-frame (process.cpuUsage over the run / (ticks × legs)), memory per call (heapUsed +
//     arrayBuffers after a forced GC, less the same before the calls were built, / N), GC pauses;
//   - real time: at the target's 1000 calls and the largest N (BENCH_RT_CALLS), the engine's own 20 ms clock (engine.start())
//     for BENCH_RT_SECONDS: late ticks and skipped frames as the engine counts them, tick
//     durations, and how late each tick started against its 20 ms slot.
// Results go to bench/results/media.json (BENCH_OUT); a table per scenario is printed.
//
//   npm run bench:media                                (node --expose-gc --import tsx bench/media/run.ts)
//   BENCH_CALLS=1000,2000 BENCH_TICKS=3000 BENCH_SCENARIOS=turns npm run bench:media
//   taskset -c 0 npm run bench:media                   (every thread of the process on one core)
//   node --expose-gc --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/media/run.ts
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, readSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CallMedia, RecordParams } from '../../src/calls/CallMedia.ts';
import type { AppLeg } from '../../src/calls/AppLeg.ts';
import type { Call } from '../../src/calls/Call.ts';
import type { Operation } from '../../src/calls/Operation.ts';
import type { Participant } from '../../src/calls/Participant.ts';
import { MediaEngine } from '../../src/media/MediaEngine.ts';
import type { MediaLeg } from '../../src/media/MediaLeg.ts';
import { FRAME_MS, SAMPLE_RATE } from '../../src/media/MediaFormat.ts';
import { Player } from '../../src/media/Player.ts';
import { recorderMemory } from '../../src/media/Recorder.ts';
import { parseWav } from '../../src/media/audio/Wav.ts';
import { DTMF_KERNEL_AVAILABLE } from '../../src/media/dtmf/DtmfDetector.ts';
import { standInCallMedia, twoPartyCall } from '../../test/helpers/callMediaStandIns.ts';

// ---------------------------------------------------------------- settings

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const intEnv = (name: string, dflt: number, min: number, max: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  return n;
};
const SERIES = (process.env.BENCH_CALLS ?? '100,250,500,1000,1500')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
  .map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`BENCH_CALLS: "${s}" is not a call count in [1, 100000]`);
    return n;
  });
if (SERIES.length === 0) throw new Error('BENCH_CALLS is empty');
/**
 * Measured ticks per N: 1500 = 30 s of audio. A p99 over 500 ticks (the default until 0.3.7) is the
 * 5th-slowest tick, and this host's slow spells last seconds: a 10 s measure caught one or none, and
 * its p99 landed either side of the target from run to run. `windows` gives each 10 s's figures too.
 */
export const TICKS = intEnv('BENCH_TICKS', 1500, 10, 100_000);
/** Ticks per window of `TightResult.windows` (10 s of audio). */
const WINDOW_TICKS = 500;
/**
 * Calls start at random ticks within this many. 2000 = 40 s, four to five IVR cycles: with 450 (one
 * cycle, before 0.3.3) the calls' phases were still bunched when measured (the number of legs
 * speaking swung by ±10 % over seconds, four times what independent calls show, and the tick time
 * with it); from 2000 on it swings as much as independent calls' would (`speakingLegs` in the JSON).
 */
export const SPREAD_TICKS = intEnv('BENCH_SPREAD_TICKS', 2000, 1, 100_000);
/** Ticks before measuring: every call started, every path (prompts, beeps, recordings, keys) run. */
export const WARMUP_TICKS = intEnv('BENCH_WARMUP_TICKS', SPREAD_TICKS + 500, 0, 100_000);
const RT_SECONDS = intEnv('BENCH_RT_SECONDS', 5, 0, 600);
/** Call counts run against the real clock: by default the target's (when in the series) and the largest. */
const RT_CALLS: number[] = process.env.BENCH_RT_CALLS
  ? process.env.BENCH_RT_CALLS.split(',').map((v) => {
      const n = Number(v.trim());
      if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`BENCH_RT_CALLS: "${v}" is not a call count in [1, 100000]`);
      return n;
    })
  : [...new Set([...(SERIES.includes(1000) ? [1000] : []), Math.max(...SERIES)])];
const SEED = intEnv('BENCH_SEED', 1, 1, 2 ** 31 - 1);
const OUT_FILE = resolve(ROOT, process.env.BENCH_OUT ?? 'bench/results/media.json');
/** The machine's load when the bench began (a shared machine: other work skews the tick times). */
const LOAD_AT_START = os.loadavg();
const TARGET = { calls: 1000, tickP99Ms: 5, bytesPerCall: 200 * 1024 };

// The IVR scenario
const PROMPT_MS = 3000;
const RECORD: Omit<RecordParams, 'clientContext'> = {
  prompt: null, // the playPrompt before it is the prompt
  bargeInAllowed: false,
  initialSilenceTimeoutSeconds: 5,
  maxSilenceTimeoutSeconds: 3,
  maxRecordDurationSeconds: 10,
  playBeep: true,
  stopTones: ['pound'],
};
/**
 * What the caller does:
 *   talk  — talks all the time (the speech loop, with its own pauses) and presses '#' every 4–8 s,
 *           whatever the bot is doing: the worst case, a detector busy on every call all the time;
 *   turns — an IVR dialogue: silent (digital silence, as from a line with DTX or comfort-noise
 *           suppression) while the prompt plays, starts answering 0.5–1.5 s after the beep, talks
 *           2–5 s, falls silent, and presses '#' 0.5–1 s later, which ends the recording.
 */
type Scenario = 'talk' | 'turns';
const SCENARIOS: Scenario[] = (process.env.BENCH_SCENARIOS ?? 'talk,turns').split(',').map((s) => {
  const v = s.trim();
  if (v !== 'talk' && v !== 'turns') throw new Error(`BENCH_SCENARIOS: "${v}" is not talk or turns`);
  return v;
});
const KEY_EVERY_TICKS: [number, number] = [200, 400]; // talk: '#' every 4–8 s
const TURN = {
  beepTicks: 15, // 300 ms
  waitTicks: [25, 75] as [number, number], // answer starts 0.5–1.5 s after the beep
  talkTicks: [100, 250] as [number, number], // 2–5 s
  keyAfterTicks: [25, 50] as [number, number], // '#' 0.5–1 s after falling silent
};
const NEVER = -1;

type Json = Record<string, any>;

// ---------------------------------------------------------------- helpers

/** A forced GC: --expose-gc's, or the same turned on here (so plain `node --import tsx` works too). */
const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc ?? (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
export const nextTurn = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let rng = SEED >>> 0;
/** Back to the seed's first number (bench/media/compare.ts: both worlds draw the same calls). */
export function reseed(): void {
  rng = SEED >>> 0;
}
function random(): number {
  rng ^= rng << 13; rng >>>= 0;
  rng ^= rng >>> 17;
  rng ^= rng << 5; rng >>>= 0;
  return rng / 0x100000000;
}
const randInt = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

function quantiles(values: ArrayLike<number>): { p50: number; p99: number; max: number; mean: number } {
  const v = Float64Array.from(values).sort();
  const n = v.length;
  if (n === 0) return { p50: 0, p99: 0, max: 0, mean: 0 };
  const q = (p: number) => v[Math.min(n - 1, Math.ceil(p * n) - 1)]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += v[i]!;
  return { p50: round(q(0.5), 3), p99: round(q(0.99), 3), max: round(v[n - 1]!, 3), mean: round(sum / n, 3) };
}

/** quantiles() of each whole WINDOW_TICKS of `durations` (none when it holds fewer). */
function windowsOf(durations: number[]): ReturnType<typeof quantiles>[] {
  const out: ReturnType<typeof quantiles>[] = [];
  for (let i = 0; i + WINDOW_TICKS <= durations.length; i += WINDOW_TICKS) out.push(quantiles(durations.slice(i, i + WINDOW_TICKS)));
  return out;
}

/** Ticks in paceOf()'s sliding median: 0.5 s, long enough to ignore one slow tick, short enough to follow the host. */
const PACE_TICKS = 25;

/**
 * How much of the tick's spread is the host's: the median of the PACE_TICKS ticks around each tick
 * (its "pace"), and each tick over its pace. On this shared host the pace drifts by 2× within 30 s
 * while the work per tick stays the same (the legs speaking vary by ~1.5 %), so a p99 is mostly the
 * slowest spell's pace; the ratio's p99 is the code's own tick-to-tick spread. `steadyP99` (the
 * overall p50 times that ratio) estimates the p99 at a constant pace: an aid to reading a run, never
 * what the target is judged on.
 */
function paceOf(durations: number[]): { paceMs: { min: number; p50: number; max: number }; overPace: { p50: number; p99: number }; steadyP99: number } {
  const n = durations.length;
  if (n === 0) return { paceMs: { min: 0, p50: 0, max: 0 }, overPace: { p50: 0, p99: 0 }, steadyP99: 0 };
  const half = PACE_TICKS >> 1;
  const pace = new Float64Array(n);
  const ratio = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const w = Float64Array.from(durations.slice(Math.max(0, i - half), Math.min(n, i + half + 1))).sort();
    pace[i] = w[w.length >> 1]!;
    ratio[i] = durations[i]! / pace[i]!;
  }
  const p = quantiles(pace);
  const r = quantiles(ratio);
  return {
    paceMs: { min: round(pace.reduce((m, x) => Math.min(m, x), Infinity), 3), p50: p.p50, max: p.max },
    overPace: { p50: r.p50, p99: r.p99 },
    steadyP99: round(quantiles(durations).p50 * r.p99, 3),
  };
}

/** heapUsed + arrayBuffers once the previous run's callbacks have run and everything collectable is collected. */
async function memNow(): Promise<number> {
  await sleep(50);
  gc?.();
  await nextTurn();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Mean, standard deviation and range of a series. */
function spreadOf(values: readonly number[]): { mean: number; sd: number; min: number; max: number } {
  const n = values.length;
  if (n === 0) return { mean: 0, sd: 0, min: 0, max: 0 };
  let sum = 0, sq = 0, min = Infinity, max = -Infinity;
  for (const v of values) {
    sum += v;
    sq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  return { mean: round(mean, 1), sd: round(Math.sqrt(Math.max(0, sq / n - mean * mean)), 1), min, max };
}

type GcStats = Record<string, { count: number; ms: number; maxMs: number }>;

/** Garbage collections while a run is measured: count and pause time by kind. */
class GcWatch {
  private readonly kinds: Record<string, { count: number; ms: number; maxMs: number }> = {};
  /** [start, end] of each pause (performance.now() time). */
  readonly pauses: [number, number][] = [];
  private readonly obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      this.pauses.push([e.startTime, e.startTime + e.duration]);
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      const name =
        kind === perfConstants.NODE_PERFORMANCE_GC_MINOR ? 'minor' :
        kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR ? 'major' :
        kind === perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL ? 'incremental' :
        kind === perfConstants.NODE_PERFORMANCE_GC_WEAKCB ? 'weakcb' : 'other';
      const k = (this.kinds[name] ??= { count: 0, ms: 0, maxMs: 0 });
      k.count++;
      k.ms += e.duration;
      if (e.duration > k.maxMs) k.maxMs = e.duration;
    }
  });
  start(): void {
    this.obs.observe({ entryTypes: ['gc'] });
  }
  async stop(): Promise<GcStats> {
    await nextTurn();
    this.obs.disconnect();
    for (const k of Object.values(this.kinds)) {
      k.ms = round(k.ms, 1);
      k.maxMs = round(k.maxMs, 2);
    }
    return this.kinds;
  }
}

/**
 * Involuntary context switches of this process's main thread so far (Linux: /proc/<pid>/task/<pid>/status,
 * one pread), or −1 where unavailable. A tick during which the count did not move ran on its core
 * from start to end: its wall-clock time is what the engine needed, not what a busy machine let it
 * have (on a shared machine other processes take the core away for whole scheduler slices).
 */
const preemptions: () => number = (() => {
  try {
    const fd = openSync(`/proc/${process.pid}/task/${process.pid}/status`, 'r');
    const buf = Buffer.alloc(8192);
    const key = Buffer.from('nonvoluntary_ctxt_switches:');
    const read = () => {
      const n = readSync(fd, buf, 0, buf.length, 0);
      let i = buf.indexOf(key);
      if (i < 0 || i >= n) return -1;
      i += key.length;
      while (buf[i] === 9 || buf[i] === 32) i++;
      let v = 0;
      for (; i < n && buf[i]! >= 48 && buf[i]! <= 57; i++) v = v * 10 + (buf[i]! - 48);
      return v;
    };
    if (read() < 0) throw new Error('no context-switch count');
    return read;
  } catch {
    return () => -1;
  }
})();

/** The engine, its tick timed here (run() calls this.tick(), so the real clock's ticks are timed too). */
export class TimedEngine extends MediaEngine {
  /** Wall-clock duration of each tick (ms). */
  timed: number[] | null = null;
  /** Whether each tick was preempted (see preemptions). */
  preempted: boolean[] | null = null;
  tickStarts: number[] | null = null;
  tickEnds: number[] | null = null;
  override tick(): void {
    const s0 = this.preempted ? preemptions() : 0;
    const t0 = performance.now();
    super.tick();
    const t1 = performance.now();
    this.preempted?.push(preemptions() !== s0);
    this.timed?.push(t1 - t0);
    this.tickStarts?.push(t0);
    this.tickEnds?.push(t1);
  }
}

// ---------------------------------------------------------------- audio

/** A 3 s prompt: a vowel-like tone sequence (its content does not matter to the cost of playing it). */
export function makePrompt(speech: Int16Array): Int16Array {
  const n = (SAMPLE_RATE * PROMPT_MS) / 1000;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = speech[i % speech.length]!;
  return out;
}

/** Speech from espeak-ng (several sentences with their natural pauses), or null when it is not installed. */
export function espeakSpeech(): Int16Array | null {
  const dir = mkdtempSync(join(os.tmpdir(), 'telegraph-bench-media-'));
  try {
    const wav = join(dir, 'speech.wav');
    const text =
      'Hello, I am calling about my order. It was supposed to arrive on Tuesday, but nothing came. ' +
      'The reference number is four seven two, nine nine one. Could somebody call me back this afternoon? ' +
      'Thank you very much, goodbye.';
    execFileSync('espeak-ng', ['-v', 'en-us', '-s', '160', '-w', wav, text], { stdio: 'pipe' });
    return parseWav(readFileSync(wav)).samples;
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A speech-like stand-in: voiced syllables (a glottal pulse train at a drifting pitch through two
 * resonances), 150–300 ms each at a varying level, with short gaps between syllables and longer
 * pauses between "sentences" (digital silence, as between espeak-ng's sentences).
 */
export function syntheticSpeech(seconds = 12): Int16Array {
  const n = SAMPLE_RATE * seconds;
  const out = new Int16Array(n);
  let i = 0;
  let phase = 0;
  let f1s1 = 0, f1s2 = 0, f2s1 = 0, f2s2 = 0;
  const reson = (f: number, bw: number) => {
    const r = Math.exp((-Math.PI * bw) / SAMPLE_RATE);
    return { a1: 2 * r * Math.cos((2 * Math.PI * f) / SAMPLE_RATE), a2: -r * r, g: 1 - r };
  };
  let syllables = 0;
  while (i < n) {
    const len = randInt(150, 300) * 16;
    const pitch = 100 + 60 * random();
    const amp = 3000 + 6000 * random();
    const r1 = reson(400 + 500 * random(), 80);
    const r2 = reson(1200 + 1200 * random(), 120);
    for (let j = 0; j < len && i < n; j++, i++) {
      phase += (pitch * (1 + 0.1 * Math.sin((2 * Math.PI * j) / len))) / SAMPLE_RATE;
      const pulse = phase >= 1 ? 1 : 0;
      if (phase >= 1) phase -= 1;
      const y1 = r1.g * pulse * 40 + r1.a1 * f1s1 + r1.a2 * f1s2;
      f1s2 = f1s1; f1s1 = y1;
      const y2 = r2.g * y1 * 20 + r2.a1 * f2s1 + r2.a2 * f2s2;
      f2s2 = f2s1; f2s1 = y2;
      const env = Math.sin((Math.PI * j) / len);
      const v = Math.round(amp * env * (y1 + 0.5 * y2));
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    i += ++syllables % 8 === 0 ? randInt(400, 700) * 16 : randInt(30, 80) * 16; // pauses: zeros
  }
  return out;
}

// ---------------------------------------------------------------- the calls

interface BenchCall {
  call: Call;
  caller: Participant;
  bot: Participant;
  appLeg: AppLeg;
  keys: Player;
  /** Ticks at which the bot starts its first prompt / the caller starts or stops speaking / presses '#' (NEVER: nothing due). */
  botAt: number;
  speakAt: number;
  quietAt: number;
  keyAt: number;
}

interface Counters {
  prompts: number;
  records: number;
  recordReasons: Record<string, number>;
  recordedFrames: number;
  keysSent: number;
  tonesHeard: number;
  failures: number;
}

/** The bench's calls on one CallMedia (its collaborators stand-ins, in memory), and their script. */
export class World {
  readonly counters: Counters = { prompts: 0, records: 0, recordReasons: {}, recordedFrames: 0, keysSent: 0, tonesHeard: 0, failures: 0 };
  readonly media: CallMedia;
  readonly calls: BenchCall[] = [];
  private readonly legs: MediaLeg[] = [];
  private readonly byLeg = new Map<AppLeg, BenchCall>();
  /** The tick the harness last scripted. */
  private now = 0;

  constructor(
    readonly engine: TimedEngine,
    private readonly scenario: Scenario,
    prompt: Int16Array,
    private readonly speech: Int16Array,
  ) {
    // The recordings store is not the media engine: here it only counts (the real one keeps WAV files).
    this.media = standInCallMedia(engine, {
      done: (leg, op) => this.operationDone(leg, op),
      tone: () => {
        this.counters.tonesHeard++;
      },
      write: (chunks) => {
        for (const c of chunks) this.counters.recordedFrames += c.length / 320;
      },
      prompt, // PromptStore's cache hands out one shared array per prompt
    });
  }

  /** Builds one call, its first actions staggered over the first `spread` ticks. */
  addCall(i: number, now: number, spread: number): void {
    const { call, caller, bot, leg: appLeg } = twoPartyCall(this.media, i);
    // '#' is played over the caller's voice: a Player first among the leg's sources.
    const keys = new Player();
    this.media.legOf(caller)!.addSource(keys, true);
    const talk = this.scenario === 'talk';
    const c: BenchCall = {
      call, caller, bot, appLeg, keys,
      botAt: now + randInt(0, spread),
      speakAt: talk ? now + randInt(0, spread) : NEVER,
      quietAt: NEVER,
      keyAt: talk ? now + randInt(KEY_EVERY_TICKS[0], KEY_EVERY_TICKS[1]) : NEVER,
    };
    this.calls.push(c);
    this.byLeg.set(appLeg, c);
    this.legs.push(this.media.legOf(caller)!, this.media.legOf(bot)!);
  }

  /** How many legs speak this tick (after it): the mix of the calls' phases, which the tick's cost follows. */
  speakingLegs(): number {
    let n = 0;
    for (const leg of this.legs) if (leg.speaking) n++;
    return n;
  }

  /** The harness's part of tick `t`: starts of speech and prompts, key presses. */
  script(t: number): void {
    this.now = t;
    const talk = this.scenario === 'talk';
    for (const c of this.calls) {
      if (c.speakAt === t) this.media.voiceOf(c.caller)!.enqueue({ kind: 'buffer', samples: this.speech, loop: true });
      if (c.quietAt === t) this.media.voiceOf(c.caller)!.cancelAll();
      if (c.botAt === t) this.play(c.appLeg);
      if (c.keyAt === t) {
        c.keys.enqueue({ kind: 'dtmf', keys: '#', toneMs: 100, gapMs: 100 });
        this.counters.keysSent++;
        c.keyAt = talk ? t + randInt(KEY_EVERY_TICKS[0], KEY_EVERY_TICKS[1]) : NEVER;
      }
    }
  }

  private play(leg: AppLeg): void {
    this.counters.prompts++;
    this.media.playPrompt(leg, [{ uri: 'https://prompts.invalid/welcome.wav' }], null);
  }

  private operationDone(leg: AppLeg, op: Operation): void {
    if (op.status === 'failed' && op.completionReason !== 'mediaOperationCanceled' && op.completionReason !== 'initialSilenceTimeout') this.counters.failures++;
    if (!leg.participant.connected) return;
    if (op.kind === 'playPrompt') {
      this.counters.records++;
      this.media.record(leg, { ...RECORD, clientContext: null });
      const c = this.byLeg.get(leg);
      if (c && this.scenario === 'turns') {
        // the caller answers after the beep, then presses '#'
        c.speakAt = this.now + TURN.beepTicks + randInt(...TURN.waitTicks);
        c.quietAt = c.speakAt + randInt(...TURN.talkTicks);
        c.keyAt = c.quietAt + randInt(...TURN.keyAfterTicks);
      }
    } else if (op.kind === 'record') {
      const r = op.completionReason ?? '?';
      this.counters.recordReasons[r] = (this.counters.recordReasons[r] ?? 0) + 1;
      this.play(leg);
    }
  }

  teardown(): void {
    for (const c of this.calls) {
      (c.caller as { connected: boolean }).connected = false;
      (c.bot as { connected: boolean }).connected = false;
      this.media.callEnded(c.call);
    }
    this.calls.length = 0;
    this.byLeg.clear();
    this.engine.stop();
  }
}

// ---------------------------------------------------------------- runs



interface TightResult {
  calls: number;
  legs: number;
  ticks: number;
  tickMs: ReturnType<typeof quantiles>;
  /**
   * The ticks the OS did not interrupt (no involuntary context switch of the main thread), and the
   * wall-clock figures over those alone: what the engine needs on a core of its own. null where the
   * count is unavailable.
   */
  unpreemptedTicks: number | null;
  tickMsUnpreempted: ReturnType<typeof quantiles> | null;
  /** Ticks during which a GC pause began or ended, and the wall-clock figures of the others. */
  ticksWithGc: number;
  tickMsWithoutGc: ReturnType<typeof quantiles>;
  /** The same figures over each 10 s (WINDOW_TICKS) of the measure, in order: how steady the host was. */
  windows: ReturnType<typeof quantiles>[];
  /** The host's pace over the measure, and the tick's spread around it (see paceOf). */
  pace: ReturnType<typeof paceOf>;
  /** Share of one core the engine's ticks take in real time (mean tick / 20 ms). */
  coreShare: number;
  /** process.cpuUsage (user + system, every thread: GC helpers included) over the measured ticks. */
  cpuUsPerLegFrame: number;
  cpuUsPerCallFrame: number;
  bytesPerCall: number;
  /**
   * Of bytesPerCall: the recordings in progress at the measure (their 1 s blocks, held until the
   * recording is written), and the recorders' pool of free blocks (what it grew by; at most 8 MB).
   * What a call holds moves with its phase: a recording holds up to 10 s, 320 KB, at its end.
   */
  recordingBytesPerCall: number;
  pooledBytesPerCall: number;
  gc: GcStats;
  counters: Counters;
  /** Legs speaking after each measured tick: how steady the calls' phase mix was (see SPREAD_TICKS). */
  speakingLegs: { mean: number; sd: number; min: number; max: number };
  meetsTarget: boolean;
  /** The same over the ticks the OS did not interrupt. */
  meetsTargetUnpreempted: boolean | null;
}

/** Builds N calls and warms the JIT up with the tight loop. */
async function setUp(scenario: Scenario, n: number, prompt: Int16Array, speech: Int16Array): Promise<{ engine: TimedEngine; world: World; t: number }> {
  const engine = new TimedEngine(null);
  const world = new World(engine, scenario, prompt, speech);
  for (let i = 0; i < n; i++) world.addCall(i, 0, SPREAD_TICKS);
  engine.stop(); // attach() started the real clock: the tight loop drives tick() itself
  let t = 0;
  for (; t < WARMUP_TICKS; t++) {
    world.script(t);
    engine.tick();
    await nextTurn();
  }
  return { engine, world, t };
}

/** The ticks a GC pause fell into, and the durations of the others. */
function gcHits(engine: TimedEngine, pauses: [number, number][]): { ticksWithGc: number; withoutGc: number[] } {
  const durations = engine.timed!, starts = engine.tickStarts!, ends = engine.tickEnds!;
  const withoutGc: number[] = [];
  let ticksWithGc = 0;
  for (let i = 0; i < durations.length; i++) {
    const hit = pauses.some(([a, b]) => a < ends[i]! && b > starts[i]!);
    if (hit) ticksWithGc++;
    else withoutGc.push(durations[i]!);
  }
  return { ticksWithGc, withoutGc };
}

async function tightRun(scenario: Scenario, n: number, prompt: Int16Array, speech: Int16Array): Promise<TightResult> {
  const before = await memNow();
  const pooledBefore = recorderMemory().pooledBlocks;
  const { engine, world, t: t0 } = await setUp(scenario, n, prompt, speech);
  engine.timed = [];
  engine.preempted = [];
  engine.tickStarts = [];
  engine.tickEnds = [];
  const gcWatch = new GcWatch();
  gcWatch.start();
  const cpu0 = process.cpuUsage();
  const speaking: number[] = [];
  for (let t = t0, end = t0 + TICKS; t < end; t++) {
    world.script(t);
    engine.tick();
    speaking.push(world.speakingLegs());
    await nextTurn(); // the operations' callbacks (setImmediate) run between ticks, as under the clock
  }
  const cpu = process.cpuUsage(cpu0);
  const gcs = await gcWatch.stop();
  const durations = engine.timed;
  const preempted = engine.preempted;
  const measurable = preemptions() >= 0;
  const unpreempted = durations.filter((_, i) => !preempted[i]);
  const { ticksWithGc, withoutGc } = gcHits(engine, gcWatch.pauses);
  engine.timed = null;
  engine.preempted = null;
  engine.tickStarts = null;
  engine.tickEnds = null;
  const after = await memNow();
  const legs = 2 * n;
  const cpuUs = cpu.user + cpu.system;
  const tickMs = quantiles(durations);
  const bytesPerCall = Math.round((after - before) / n);
  const rec = recorderMemory();
  const counters = { ...world.counters, recordedFrames: Math.round(world.counters.recordedFrames) };
  world.teardown();
  await nextTurn();
  return {
    calls: n,
    legs,
    ticks: TICKS,
    tickMs,
    unpreemptedTicks: measurable ? unpreempted.length : null,
    tickMsUnpreempted: measurable ? quantiles(unpreempted) : null,
    ticksWithGc,
    tickMsWithoutGc: quantiles(withoutGc),
    windows: windowsOf(durations),
    pace: paceOf(durations),
    coreShare: round(tickMs.mean / FRAME_MS, 3),
    cpuUsPerLegFrame: round(cpuUs / (TICKS * legs), 3),
    cpuUsPerCallFrame: round(cpuUs / (TICKS * n), 3),
    bytesPerCall,
    recordingBytesPerCall: Math.round((rec.heldBlocks * rec.blockBytes) / n),
    pooledBytesPerCall: Math.round(((rec.pooledBlocks - pooledBefore) * rec.blockBytes) / n),
    gc: gcs,
    counters,
    speakingLegs: spreadOf(speaking),
    meetsTarget: tickMs.p99 < TARGET.tickP99Ms && bytesPerCall < TARGET.bytesPerCall,
    meetsTargetUnpreempted: measurable ? quantiles(unpreempted).p99 < TARGET.tickP99Ms && bytesPerCall < TARGET.bytesPerCall : null,
  };
}

interface RealTimeResult {
  calls: number;
  seconds: number;
  ticks: number;
  expectedTicks: number;
  lateTicks: number;
  skippedFrames: number;
  tickMs: ReturnType<typeof quantiles>;
  ticksWithGc: number;
  tickMsWithoutGc: ReturnType<typeof quantiles>;
  /** Lateness of each tick's start against its 20 ms grid slot (the first tick's start is the origin). */
  startLagMs: ReturnType<typeof quantiles>;
  cpuUsPerLegFrame: number;
  gc: GcStats;
  counters: Counters;
}

async function realTimeRun(scenario: Scenario, n: number, prompt: Int16Array, speech: Int16Array): Promise<RealTimeResult> {
  const { engine, world, t } = await setUp(scenario, n, prompt, speech);
  const base = engine.stats();
  engine.timed = [];
  engine.tickStarts = [];
  engine.tickEnds = [];
  // the harness's script follows the engine's tick count
  const offset = t - base.ticks;
  let scripted = t;
  const script = setInterval(() => {
    const now = engine.tickCount + offset; // (not stats(): every 20 ms, its sort was most of the run's garbage)
    for (; scripted < now; scripted++) world.script(scripted);
  }, FRAME_MS);
  const gcWatch = new GcWatch();
  gcWatch.start();
  const cpu0 = process.cpuUsage();
  engine.start();
  await sleep(RT_SECONDS * 1000);
  engine.stop();
  clearInterval(script);
  const cpu = process.cpuUsage(cpu0);
  const gcs = await gcWatch.stop();
  const stats = engine.stats();
  const starts = engine.tickStarts;
  const lag: number[] = [];
  for (let i = 0; i < starts.length; i++) lag.push(Math.max(0, starts[i]! - (starts[0]! + i * FRAME_MS)));
  const ticks = stats.ticks - base.ticks;
  const hits = gcHits(engine, gcWatch.pauses);
  const result: RealTimeResult = {
    calls: n,
    seconds: RT_SECONDS,
    ticks,
    expectedTicks: Math.round((RT_SECONDS * 1000) / FRAME_MS),
    lateTicks: stats.lateTicks - base.lateTicks,
    skippedFrames: stats.skippedFrames - base.skippedFrames,
    tickMs: quantiles(engine.timed),
    ticksWithGc: hits.ticksWithGc,
    tickMsWithoutGc: quantiles(hits.withoutGc),
    startLagMs: quantiles(lag),
    cpuUsPerLegFrame: round((cpu.user + cpu.system) / (Math.max(1, ticks) * 2 * n), 3),
    gc: gcs,
    counters: { ...world.counters, recordedFrames: Math.round(world.counters.recordedFrames) },
  };
  engine.timed = null;
  engine.tickStarts = null;
  engine.tickEnds = null;
  world.teardown();
  return result;
}

// ---------------------------------------------------------------- main

function printTable(scenario: Scenario, runs: TightResult[], rts: RealTimeResult[]): void {
  const rows = [
    ['calls', 'legs', 'tick p50', 'p99', 'max ms', 'unpreempted: n', 'p50', 'p99', 'max ms', 'core %', 'µs/leg-frame', 'KB/call', 'target (all/unpreempted)'],
    ...runs.map((r) => {
      const u = r.tickMsUnpreempted;
      return [
        String(r.calls), String(r.legs), r.tickMs.p50.toFixed(2), r.tickMs.p99.toFixed(2), r.tickMs.max.toFixed(2),
        r.unpreemptedTicks === null ? '-' : String(r.unpreemptedTicks), u ? u.p50.toFixed(2) : '-', u ? u.p99.toFixed(2) : '-', u ? u.max.toFixed(2) : '-',
        (100 * r.coreShare).toFixed(1), r.cpuUsPerLegFrame.toFixed(2), (r.bytesPerCall / 1024).toFixed(1),
        `${r.meetsTarget ? 'yes' : 'no'}/${r.meetsTargetUnpreempted === null ? '-' : r.meetsTargetUnpreempted ? 'yes' : 'no'}`,
      ];
    }),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  console.log(`\nscenario "${scenario}", tight loop (${TICKS} ticks = ${(TICKS * FRAME_MS) / 1000} s of audio per N):`);
  for (const row of rows) console.log('  ' + row.map((cell, c) => cell.padStart(widths[c]!)).join('  '));
  for (const rt of rts) {
    console.log(
      `  real-time clock, ${rt.calls} calls for ${rt.seconds} s: ${rt.ticks} ticks (expected ${rt.expectedTicks}), ` +
        `late ticks ${rt.lateTicks}, skipped frames ${rt.skippedFrames}, tick p50/p99 ${rt.tickMs.p50.toFixed(3)}/${rt.tickMs.p99.toFixed(3)} ms ` +
        `(${rt.ticksWithGc} with a GC pause; without them ${rt.tickMsWithoutGc.p50.toFixed(3)}/${rt.tickMsWithoutGc.p99.toFixed(3)}), ` +
        `start lag p99 ${rt.startLagMs.p99.toFixed(2)} ms (max ${rt.startLagMs.max.toFixed(2)})`,
    );
  }
  for (const r of runs) {
    if (r.windows.length > 1) console.log(`  ${r.calls} calls, each ${(WINDOW_TICKS * FRAME_MS) / 1000} s: tick p50 ${r.windows.map((w) => w.p50.toFixed(2)).join(' ')} · p99 ${r.windows.map((w) => w.p99.toFixed(2)).join(' ')} ms`);
    const pc = r.pace;
    console.log(
      `  ${r.calls} calls, pace (median of each ${(PACE_TICKS * FRAME_MS) / 1000} s) ${pc.paceMs.min.toFixed(2)}–${pc.paceMs.max.toFixed(2)} ms; ` +
        `tick / pace p99 ${pc.overPace.p99.toFixed(2)}, so at a steady pace p99 ≈ ${pc.steadyP99.toFixed(2)} ms (an estimate: the target is judged on tick p99)`,
    );
  }
  const best = runs.filter((r) => r.meetsTarget).reduce((m, r) => Math.max(m, r.calls), 0);
  const bestU = runs.filter((r) => r.meetsTargetUnpreempted).reduce((m, r) => Math.max(m, r.calls), 0);
  const atTarget = runs.find((r) => r.calls === TARGET.calls);
  console.log(
    `  target (≥ ${TARGET.calls} calls, tick p99 < ${TARGET.tickP99Ms} ms, < ${TARGET.bytesPerCall / 1024} KB per call): ` +
      (atTarget ? `all ticks ${atTarget.meetsTarget ? 'met' : 'missed'}, unpreempted ticks ${atTarget.meetsTargetUnpreempted ? 'met' : 'missed'}` : `not measured at ${TARGET.calls}`) +
      `; largest N meeting it: ${best || 'none'} (all ticks), ${bestU || 'none'} (unpreempted ticks)`,
  );
}

async function main(): Promise<void> {
  if (!gc) console.warn('warning: no forced GC available: memory per call is only approximate');
  let speech = espeakSpeech();
  const speechSource = speech ? 'espeak-ng (en-us, 160 wpm)' : 'synthetic (voiced syllables and pauses)';
  speech ??= syntheticSpeech();
  let zeros = 0;
  for (let i = 0; i < speech.length; i++) if (speech[i] === 0) zeros++;
  const prompt = makePrompt(syntheticSpeech(PROMPT_MS / 1000));
  console.log(
    `media bench: scenarios ${SCENARIOS.join(', ')}; calls ${SERIES.join(', ')}; ${TICKS} ticks after ${WARMUP_TICKS} warm-up; ` +
      `real time ${RT_SECONDS} s at ${RT_CALLS.join(', ')} calls; caller speech: ${speechSource}, ${(speech.length / SAMPLE_RATE).toFixed(1)} s looped, ` +
      `${Math.round((100 * zeros) / speech.length)} % zero samples; DTMF kernel ${DTMF_KERNEL_AVAILABLE ? 'on' : 'off'}; load average ${LOAD_AT_START.map((x) => x.toFixed(2)).join(' ')}`,
  );

  const results: Json = {};
  for (const scenario of SCENARIOS) {
    const runs: TightResult[] = [];
    for (const n of SERIES) {
      const r = await tightRun(scenario, n, prompt, speech);
      runs.push(r);
      console.log(
        `  ${scenario} ${String(n).padStart(6)} calls: tick p50 ${r.tickMs.p50.toFixed(3)} p99 ${r.tickMs.p99.toFixed(3)} max ${r.tickMs.max.toFixed(3)} ms (unpreempted p99 ${r.tickMsUnpreempted?.p99.toFixed(3) ?? '-'}) · ` +
          `${r.cpuUsPerLegFrame.toFixed(2)} µs/leg-frame · ${(r.bytesPerCall / 1024).toFixed(1)} KB/call ` +
          `(recordings in progress ${(r.recordingBytesPerCall / 1024).toFixed(1)}, recorders' pool ${(r.pooledBytesPerCall / 1024).toFixed(1)})`,
      );
    }
    const rts: RealTimeResult[] = [];
    if (RT_SECONDS > 0) for (const n of RT_CALLS) rts.push(await realTimeRun(scenario, n, prompt, speech));
    results[scenario] = {
      runs,
      realTime: rts,
      largestMeetingTarget: runs.filter((r) => r.meetsTarget).reduce((m, r) => Math.max(m, r.calls), 0),
      largestMeetingTargetUnpreempted: runs.filter((r) => r.meetsTargetUnpreempted).reduce((m, r) => Math.max(m, r.calls), 0),
    };
    printTable(scenario, runs, rts);
  }

  const cpus = os.cpus();
  const out: Json = {
    benchmark: 'media',
    at: new Date().toISOString(),
    machine: { cpus: cpus.length, model: cpus[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}`, loadAverageAtStart: LOAD_AT_START.map((x) => round(x, 2)) },
    settings: { scenarios: SCENARIOS, calls: SERIES, ticks: TICKS, warmupTicks: WARMUP_TICKS, spreadTicks: SPREAD_TICKS, realTimeSeconds: RT_SECONDS, realTimeCalls: RT_CALLS, seed: SEED, gcExposed: !!gc, dtmfKernel: DTMF_KERNEL_AVAILABLE },
    scenario: {
      legsPerCall: 2,
      callerSpeech: { source: speechSource, seconds: round(speech.length / SAMPLE_RATE, 1), zeroSampleShare: round(zeros / speech.length, 3) },
      talk: `the caller talks all the time (speech loop) and presses '#' every ${(KEY_EVERY_TICKS[0] * FRAME_MS) / 1000}–${(KEY_EVERY_TICKS[1] * FRAME_MS) / 1000} s`,
      turns: 'the caller is silent during the prompt, answers 0.5–1.5 s after the beep for 2–5 s, then presses # 0.5–1 s after falling silent',
      callerTaps: "CallMedia's DTMF listener (DtmfDetector; silent frames skipped after 3)",
      bot: { promptMs: PROMPT_MS, record: RECORD, cycle: 'playPrompt → record → playPrompt …', sinks: "CallMedia's record sink (Recorder + SpeechDetector) while recording" },
    },
    target: TARGET,
    results,
  };
  mkdirSync(dirname(OUT_FILE), { recursive: true });
  writeFileSync(OUT_FILE, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwritten: ${OUT_FILE}`);
}

// (imported by bench/media/compare.ts: then only its parts are used)
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
