// Recording benchmark (in-process): what recording costs the media engine.
//
// For each variant (unmixed wav with its default 5 channels, unmixed wav with 2, unmixed mp3 stereo,
// mixed wav and mixed mp3 for reference), N two-party calls are built on one MediaEngine, each leg
// speaking a looping 2 s buffer (1 s of a tone, then 1 s of digital zeros: "speaking" frames either
// way, so the recorder copies every frame), A and B in alternation. The engine is ticked back to back
// for BENCH_TICKS ticks (default 500: 10 s of audio, so that the whole run stays under a minute) after BENCH_WARMUP_TICKS, letting the event loop turn every 50 ticks (chunks
// are assembled and handed over there), once without recordings (the baseline) and once with one
// RecordingSession per call; chunks are cut every BENCH_CHUNK_SECONDS so their assembly is measured.
//
// Reported per variant:
//   - cpuUsPerCallSecond: CPU time the recordings add (process.cpuUsage, with − without), per recorded
//     call per second of audio (µs). One core gives 1,000,000 µs per second: 1e6 / this is how many
//     calls one core could record, the mixing itself aside;
//   - bytesPerCallSecond: bytes written per recorded call per second of audio (the chunks' files);
//   - tickMs p50/p99/max with recordings (wall clock, N calls per tick).
//
// Then the chunk upload part: per variant, BENCH_UPLOAD_CALLS calls are recorded the same way
// (their chunks kept in memory), and the chunks (each with its metadata JSON, as CallRecordings
// stores them) are uploaded to a FileBlobStore in a temporary directory, BENCH_UPLOAD_CONCURRENCY
// at a time. Reported per variant under `upload`: bytes written per second (wall clock of the upload),
// the chunk size, and the upload latency per chunk (content + metadata put) p50/p99/max.
// Results go to bench/results/recording.json (BENCH_OUT).
//
//   node --import tsx bench/recording/run.ts
//   BENCH_CALLS=500 BENCH_TICKS=1500 node --import tsx bench/recording/run.ts
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MediaEngine } from '../../src/media/MediaEngine.ts';
import { FRAME_MS, SAMPLE_RATE } from '../../src/media/MediaFormat.ts';
import { Player } from '../../src/media/Player.ts';
import { sineTone } from '../../src/media/Tones.ts';
import { mp3EncoderLoad, preloadMp3Encoder } from '../../src/recording/ChunkWriter.ts';
import { RecordingSession, type RecordingOptions } from '../../src/recording/RecordingSession.ts';
import type { RecordingChunk } from '../../src/recording/RecordingConfig.ts';
import { FileBlobStore } from '../../src/storage/blob/FileBlobStore.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const intEnv = (name: string, dflt: number) => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const CALLS = intEnv('BENCH_CALLS', 200);
const TICKS = intEnv('BENCH_TICKS', 500);
const WARMUP = intEnv('BENCH_WARMUP_TICKS', 100);
const CHUNK_SECONDS = intEnv('BENCH_CHUNK_SECONDS', 5);
const UPLOAD_CALLS = intEnv('BENCH_UPLOAD_CALLS', 20);
const UPLOAD_CONCURRENCY = intEnv('BENCH_UPLOAD_CONCURRENCY', 8);
const OUT = process.env.BENCH_OUT ?? resolve(ROOT, 'bench/results/recording.json');

interface Variant {
  name: string;
  options: Partial<RecordingOptions>;
}
const VARIANTS: Variant[] = [
  { name: 'unmixed wav (5 channels)', options: { recordingChannelType: 'unmixed', recordingFormatType: 'wav' } },
  { name: 'unmixed wav (2 channels)', options: { recordingChannelType: 'unmixed', recordingFormatType: 'wav', unmixedChannels: 2 } },
  { name: 'unmixed mp3 (joint stereo, 96 kbps)', options: { recordingChannelType: 'unmixed', recordingFormatType: 'mp3' } },
  { name: 'mixed wav', options: { recordingChannelType: 'mixed', recordingFormatType: 'wav' } },
  { name: 'mixed mp3 (48 kbps)', options: { recordingChannelType: 'mixed', recordingFormatType: 'mp3' } },
];

// One buffer per side, shared by every call: 1 s of tone then 1 s of zeros, B the other way round.
const tone = sineTone(700, 1000, -12);
const zeros = new Int16Array(SAMPLE_RATE);
const bufA = new Int16Array(2 * SAMPLE_RATE);
bufA.set(tone, 0);
bufA.set(zeros, SAMPLE_RATE);
const bufB = new Int16Array(2 * SAMPLE_RATE);
bufB.set(sineTone(1100, 1000, -12), SAMPLE_RATE);

function buildCalls(engine: MediaEngine, n: number) {
  const sessions = [];
  for (let i = 0; i < n; i++) {
    const s = engine.createSession(`call-${i}`);
    for (const [id, buf] of [
      ['a', bufA],
      ['b', bufB],
    ] as const) {
      const leg = s.addLeg(`${id}-${i}`);
      const p = new Player();
      p.enqueue({ kind: 'buffer', samples: buf, loop: true });
      leg.addSource(p);
    }
    // spread the calls' phases: each starts at a different point of its loop
    const skip = (i * 37) % 100;
    for (let k = 0; k < skip; k++) s.tick();
    sessions.push(s);
  }
  return sessions;
}

const turn = () => new Promise<void>((r) => setImmediate(r));

interface RunResult {
  cpuUs: number;
  wallMs: number;
  tickMs: { p50: number; p99: number; max: number };
  bytes: number;
  chunks: number;
  recordedMs: number;
}

/**
 * Waits until the MP3 encoders' threads have caught up: the tight loop feeds them faster than real
 * time, and a thread still behind from the last run would refuse new recordings (EncoderBusyError).
 */
async function encodersCaughtUp(): Promise<void> {
  for (let waited = 0; mp3EncoderLoad().some((l) => l.full || l.pending > 0); waited += 50) {
    if (waited > 120_000) throw new Error('the MP3 encoders did not catch up within 2 minutes');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function run(variant: Variant | null, calls = CALLS, keep?: RecordingChunk[]): Promise<RunResult> {
  await encodersCaughtUp();
  const engine = new MediaEngine();
  const sessions = buildCalls(engine, calls);
  let bytes = 0;
  let chunks = 0;
  const recordings: RecordingSession[] = [];
  if (variant) {
    sessions.forEach((s, i) => {
      const r = new RecordingSession(s, {
        recordingId: `rec-${i}`,
        serverCallId: `sc-${i}`,
        maxChunkSeconds: CHUNK_SECONDS,
        onChunk: (c) => {
          bytes += c.bytes.length;
          chunks++;
          keep?.push(c);
        },
        ...variant.options,
      });
      r.start();
      recordings.push(r);
    });
  }
  for (let t = 0; t < WARMUP; t++) {
    engine.tick();
    if (t % 50 === 49) await turn();
  }
  const durations = new Float64Array(TICKS);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let t = 0; t < TICKS; t++) {
    const a = performance.now();
    engine.tick();
    durations[t] = performance.now() - a;
    if (t % 50 === 49) await turn();
  }
  // stop: the last chunks are written and handed over (counted: they are part of the work)
  const summaries = await Promise.all(recordings.map((r) => r.stop()));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  const sorted = Array.from(durations).sort((x, y) => x - y);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  // bytes over the whole recordings (warm-up included: chunks straddle it), per second recorded
  const recordedMs = summaries.reduce((s, x) => s + x.recordingDurationMs, 0);
  return {
    cpuUs: cpu.user + cpu.system,
    wallMs,
    tickMs: { p50: q(0.5), p99: q(0.99), max: sorted[sorted.length - 1]! },
    bytes,
    chunks,
    recordedMs,
  };
}

interface UploadResult {
  chunks: number;
  bytes: number;
  wallMs: number;
  bytesPerSecond: number;
  chunkBytes: { mean: number; max: number };
  latencyMs: { p50: number; p99: number; max: number };
}

/** Uploads the chunks (content + metadata JSON, as CallRecordings does) to a fresh FileBlobStore, UPLOAD_CONCURRENCY at a time. */
async function upload(variant: Variant, chunks: RecordingChunk[]): Promise<UploadResult> {
  const dir = mkdtempSync(join(os.tmpdir(), 'telegraph-bench-blobs-'));
  try {
    const store = new FileBlobStore(dir);
    const latencies: number[] = [];
    let next = 0;
    let bytes = 0;
    const contentType = variant.options.recordingFormatType === 'mp3' ? 'audio/mpeg' : 'audio/wav';
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(UPLOAD_CONCURRENCY, chunks.length) }, async () => {
        while (next < chunks.length) {
          const c = chunks[next++]!;
          const meta = Buffer.from(c.metadataJson, 'utf8');
          const a = performance.now();
          await store.put(`${c.recordingId}/${c.index}/audio`, c.bytes, { contentType, metadata: { documentid: c.documentId } });
          await store.put(`${c.recordingId}/${c.index}/metadata`, meta, { contentType: 'application/json' });
          latencies.push(performance.now() - a);
          bytes += c.bytes.length + meta.length;
        }
      }),
    );
    const wallMs = performance.now() - t0;
    latencies.sort((x, y) => x - y);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
    return {
      chunks: chunks.length,
      bytes,
      wallMs,
      bytesPerSecond: bytes / (wallMs / 1000),
      chunkBytes: { mean: chunks.length ? chunks.reduce((s, c) => s + c.bytes.length, 0) / chunks.length : 0, max: Math.max(0, ...chunks.map((c) => c.bytes.length)) },
      latencyMs: { p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1] ?? 0 },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  console.log(`recording bench: ${CALLS} two-party calls, ${TICKS} ticks (${(TICKS * FRAME_MS) / 1000} s of audio) after ${WARMUP} warm-up ticks, chunks of ${CHUNK_SECONDS} s`);
  await preloadMp3Encoder();
  // the baseline first, once to warm up the JIT and once measured
  await run(null);
  const base = await run(null);
  const audioSeconds = (TICKS * FRAME_MS) / 1000;
  const rows = [];
  for (const v of VARIANTS) {
    await run(v); // warm-up run of this variant
    const r = await run(v);
    const perCallSecond = (r.cpuUs - base.cpuUs) / CALLS / audioSeconds;
    const callSeconds = r.recordedMs / 1000;
    rows.push({
      variant: v.name,
      options: v.options,
      cpuUsPerCallSecond: round(perCallSecond, 1),
      callsPerCore: Math.round(1e6 / Math.max(perCallSecond, 1e-9)),
      bytesPerCallSecond: Math.round(r.bytes / callSeconds),
      chunks: r.chunks,
      tickMs: { p50: round(r.tickMs.p50, 3), p99: round(r.tickMs.p99, 3), max: round(r.tickMs.max, 3) },
      baselineTickMsP50: round(base.tickMs.p50, 3),
      upload: null as null | Record<string, unknown>,
    });
  }
  // The chunk upload part: fewer calls (their chunks are held in memory), uploaded to a FileBlobStore.
  for (const [i, v] of VARIANTS.entries()) {
    const kept: RecordingChunk[] = [];
    await run(v, UPLOAD_CALLS, kept);
    const u = await upload(v, kept);
    rows[i]!.upload = {
      calls: UPLOAD_CALLS,
      concurrency: UPLOAD_CONCURRENCY,
      chunks: u.chunks,
      bytes: u.bytes,
      wallMs: round(u.wallMs, 1),
      bytesPerSecond: Math.round(u.bytesPerSecond),
      mbPerSecond: round(u.bytesPerSecond / 1e6, 1),
      chunkBytes: { mean: Math.round(u.chunkBytes.mean), max: u.chunkBytes.max },
      latencyMs: { p50: round(u.latencyMs.p50, 2), p99: round(u.latencyMs.p99, 2), max: round(u.latencyMs.max, 2) },
    };
  }
  console.log('');
  console.log('variant                          CPU µs/call·s   calls/core   bytes/call·s   tick p50/p99 ms (baseline p50)');
  for (const r of rows) {
    console.log(
      `${r.variant.padEnd(32)} ${String(r.cpuUsPerCallSecond).padStart(13)} ${String(r.callsPerCore).padStart(12)} ${String(r.bytesPerCallSecond).padStart(14)}   ${r.tickMs.p50}/${r.tickMs.p99} (${r.baselineTickMsP50})`,
    );
  }
  console.log('');
  console.log(`chunk upload to FileBlobStore (${UPLOAD_CALLS} calls' chunks, ${UPLOAD_CONCURRENCY} at a time)`);
  console.log('variant                          chunks   mean chunk B     MB/s   latency p50/p99/max ms');
  for (const r of rows) {
    const u = r.upload as { chunks: number; chunkBytes: { mean: number }; mbPerSecond: number; latencyMs: { p50: number; p99: number; max: number } };
    console.log(`${r.variant.padEnd(32)} ${String(u.chunks).padStart(6)} ${String(u.chunkBytes.mean).padStart(14)} ${String(u.mbPerSecond).padStart(8)}   ${u.latencyMs.p50}/${u.latencyMs.p99}/${u.latencyMs.max}`);
  }
  const result = {
    bench: 'recording',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    settings: { calls: CALLS, ticks: TICKS, warmupTicks: WARMUP, chunkSeconds: CHUNK_SECONDS, audioSecondsPerCall: audioSeconds, uploadCalls: UPLOAD_CALLS, uploadConcurrency: UPLOAD_CONCURRENCY },
    baseline: { cpuUs: base.cpuUs, tickMs: base.tickMs },
    results: rows,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwritten to ${OUT}`);
}

await main();
