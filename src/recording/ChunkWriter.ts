// Writes a recording's frames into the current chunk, in memory, and makes the chunk's file when it
// ends. Frames arrive as one source per channel (or null: silence), so mixed (1 channel) and unmixed
// (N channels) share the path, and nothing is allocated per frame:
//   - WAV: interleaved 16-bit PCM into 1 s blocks taken from a pool; at the end of the chunk the
//     blocks are handed over, copied behind a 44-byte header off the media tick (assemble()), and
//     go back to the pool;
//   - MP3: PCM batched 200 ms at a time and posted to the MP3 encoders' thread (mp3Worker.mjs); at
//     the end of the chunk the thread flushes the encoder and sends the frames back, and an Info
//     frame stating the exact length is put in front (see Mp3.ts).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FRAME_SAMPLES, SAMPLE_RATE } from '../media/MediaFormat.ts';
import { WAV_HEADER_BYTES, joinBytes, wavParts } from '../media/audio/Wav.ts';
import { buildInfoFrame, mp3FileBytes, mp3FrameBytes } from './Mp3.ts';

/** A finished chunk whose file is made on demand (off the media tick). */
export interface PendingChunkFile {
  frames: number;
  /** Makes the file; call once. */
  assemble(): Promise<Uint8Array>;
}

export interface ChunkWriter {
  readonly channels: number;
  /** Starts a chunk. */
  begin(): void;
  /**
   * Appends one 20 ms frame: for each channel c, FRAME_SAMPLES samples of `src[c]` from `off[c]`, or
   * silence where `src[c]` is null.
   */
  write(src: readonly (Int16Array | null)[], off: Int32Array): void;
  /** The size of the chunk's file if it held `frames` frames. */
  fileBytes(frames: number): number;
  /** Ends the chunk. */
  end(): PendingChunkFile;
  /** The recording is over (after its last end()). */
  close(): void;
}

const BLOCK_FRAMES = 50; // 1 s

export class WavChunkWriter implements ChunkWriter {
  private readonly blockSamples: number;
  private readonly pool: Int16Array[] = [];
  private blocks: Int16Array[] = [];
  private cur: Int16Array | null = null;
  private pos = 0;
  private frames = 0;

  constructor(readonly channels: number) {
    this.blockSamples = BLOCK_FRAMES * FRAME_SAMPLES * channels;
  }

  close(): void {}

  begin(): void {
    this.blocks = [];
    this.cur = null;
    this.pos = this.blockSamples;
    this.frames = 0;
  }

  write(src: readonly (Int16Array | null)[], off: Int32Array): void {
    if (this.pos === this.blockSamples) {
      this.cur = this.pool.pop() ?? new Int16Array(this.blockSamples);
      this.blocks.push(this.cur);
      this.pos = 0;
    }
    const block = this.cur!;
    const base = this.pos;
    const C = this.channels;
    if (C === 1) {
      const s = src[0];
      if (s) {
        const o = off[0]!;
        for (let i = 0; i < FRAME_SAMPLES; i++) block[base + i] = s[o + i]!;
      } else {
        block.fill(0, base, base + FRAME_SAMPLES);
      }
    } else {
      for (let c = 0; c < C; c++) {
        const s = src[c];
        if (s) {
          const o = off[c]!;
          for (let i = 0, j = base + c; i < FRAME_SAMPLES; i++, j += C) block[j] = s[o + i]!;
        } else {
          for (let i = 0, j = base + c; i < FRAME_SAMPLES; i++, j += C) block[j] = 0;
        }
      }
    }
    this.pos = base + FRAME_SAMPLES * C;
    this.frames++;
  }

  fileBytes(frames: number): number {
    return WAV_HEADER_BYTES + frames * FRAME_SAMPLES * this.channels * 2;
  }

  end(): PendingChunkFile {
    const blocks = this.blocks;
    const frames = this.frames;
    const C = this.channels;
    const blockSamples = this.blockSamples;
    const pool = this.pool;
    this.blocks = [];
    this.cur = null;
    this.pos = this.blockSamples;
    this.frames = 0;
    return {
      frames,
      async assemble(): Promise<Uint8Array> {
        const views: Int16Array[] = [];
        let left = frames * FRAME_SAMPLES * C;
        for (const b of blocks) {
          const n = Math.min(left, blockSamples);
          views.push(b.subarray(0, n));
          left -= n;
        }
        const out = joinBytes(wavParts(views, SAMPLE_RATE, C));
        for (const b of blocks) pool.push(b);
        return out;
      },
    };
  }
}


const MP3_BATCH_FRAMES = 10; // 200 ms per message to an encoders' thread
let mp3Phase = 0; // staggers the recordings' messages over the ticks

type Waiter = { resolve: (bytes: Uint8Array) => void; reject: (err: Error) => void };

/**
 * A thread is full when it spent more than this share of its last report's 250 ms encoding, or
 * when the batches it has not encoded yet waited longer than MP3_MAX_LAG_MS: a recording added
 * then would make it, and every recording on it, fall behind for good (their PCM piling up in
 * memory), so none is added.
 */
const MP3_MAX_BUSY = 0.85;
const MP3_MAX_LAG_MS = 1000;

/** No MP3 encoders' thread can take one more recording now (see MP3_MAX_BUSY). */
export class EncoderBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncoderBusyError';
  }
}

/** What an MP3 encoders' thread reports of its load (mp3EncoderLoad()). */
export interface Mp3ThreadLoad {
  started: boolean;
  /** Channels of the recordings it encodes (a stereo recording counts 2). */
  channels: number;
  /** Encode batches posted and not yet encoded (as of its last report). */
  pending: number;
  /** Share of its last report's time spent encoding (0–1). */
  busy: number;
  /** The longest a batch waited to be encoded in its last report (ms). */
  lagMs: number;
  full: boolean;
}

/**
 * A thread MP3 encoders run on (mp3Worker.mjs; see MP3_THREADS), started with its first MP3
 * recording (or preloadMp3Encoder()). It keeps the process alive only while a chunk is awaited
 * from it. If it dies, what was waited for fails, and the next recording on it starts a new one.
 */
class Mp3Thread {
  private worker: Worker | null = null;
  private generation = 0;
  private ready: Promise<void> = Promise.resolve();
  private nextId = 1;
  private readonly waiting = new Map<string, Waiter>();
  // load (see MP3_MAX_BUSY): encode batches posted and done, and the thread's last report
  private posted = 0;
  private done = 0;
  private busy = 0;
  private lagMs = 0;
  /** Channels of the encoders open on it: where the next recording goes (the least). */
  channels = 0;

  /** Starts the thread if needed; resolves once its encoder module is compiled. */
  start(): Promise<void> {
    if (this.worker) return this.ready;
    let worker: Worker;
    try {
      worker = new Worker(new URL('./mp3Worker.mjs', import.meta.url));
    } catch (err) {
      // (no thread: this recording's chunks fail, plainly; the next recording tries again)
      this.ready = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      this.ready.catch(() => undefined);
      return this.ready;
    }
    const generation = ++this.generation;
    this.worker = worker;
    this.posted = this.done = this.busy = this.lagMs = 0;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { t: string; id?: number; seq?: number; bytes?: Uint8Array; error?: string; done?: number; busy?: number; lagMs?: number }) => {
        if (m.t === 'load') {
          this.done = m.done!;
          this.busy = m.busy!;
          this.lagMs = m.lagMs!;
        } else if (m.t === 'ready' || m.t === 'failed') {
          // held (ref'd) until now: a start-up that awaits the thread must not see the loop run dry
          if (this.waiting.size === 0) worker.unref();
          if (m.t === 'ready') resolve();
          else reject(new Error(m.error));
        }
        else if (m.t === 'chunk') {
          const key = `${m.id}:${m.seq}`;
          const w = this.waiting.get(key);
          if (!w) return;
          this.settled(key);
          if (m.bytes) w.resolve(m.bytes);
          else w.reject(new Error(m.error ?? 'the MP3 encoder failed'));
        }
      });
      const died = (err: Error) => {
        if (this.generation !== generation) return;
        this.worker = null;
        reject(err);
        for (const [key, w] of [...this.waiting]) {
          this.settled(key);
          w.reject(err);
        }
      };
      worker.on('error', died);
      worker.on('exit', (code) => died(new Error(`the MP3 encoder thread exited (${code})`)));
    });
    this.ready.catch(() => undefined); // (each waiter hears of it)
    return this.ready;
  }

  /** An encoder on the thread: [its id, the thread's generation]. */
  open(channels: number, kbps: number): [number, number] {
    void this.start();
    const id = this.nextId++;
    if (!this.worker) return [id, -1]; // no thread: end() says so
    this.worker.postMessage({ t: 'open', id, channels, kbps });
    return [id, this.generation];
  }

  post(generation: number, msg: { t: string; [k: string]: unknown }, transfer?: ArrayBuffer[]): void {
    if (generation !== this.generation || !this.worker) return;
    if (msg.t === 'encode') this.posted++;
    this.worker.postMessage(msg, transfer);
  }

  load(): Mp3ThreadLoad {
    const pending = this.worker ? this.posted - this.done : 0;
    const busy = this.worker ? this.busy : 0;
    const lagMs = pending > 0 ? this.lagMs : 0;
    return { started: this.worker !== null, channels: this.channels, pending, busy, lagMs, full: busy > MP3_MAX_BUSY || lagMs > MP3_MAX_LAG_MS };
  }

  /** Ends encoder `id`'s chunk `seq`: its MP3 frames, once the thread has made them. */
  end(generation: number, id: number, seq: number): Promise<Uint8Array> {
    if (generation !== this.generation || !this.worker) return Promise.reject(new Error('the MP3 encoder thread is gone'));
    const key = `${id}:${seq}`;
    const bytes = new Promise<Uint8Array>((resolve, reject) => this.waiting.set(key, { resolve, reject }));
    if (this.waiting.size === 1) this.worker.ref();
    this.worker.postMessage({ t: 'end', id, seq });
    return bytes;
  }

  /** Stops the thread; what was waited for fails, and the next recording starts a new thread. */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  private settled(key: string): void {
    this.waiting.delete(key);
    if (this.waiting.size === 0) this.worker?.unref();
  }
}

/**
 * One encoder thread carries ~270 mono or ~180 stereo recordings on a core (bench/recording): one
 * per core but the media thread's, at least one and at most four; each recording keeps to one.
 */
const MP3_THREADS = Array.from({ length: Math.max(1, Math.min(4, availableParallelism() - 1)) }, () => new Mp3Thread());

/** The MP3 encoders' threads' load, one entry per thread (a started thread reports it every 250 ms). */
export function mp3EncoderLoad(): Mp3ThreadLoad[] {
  return MP3_THREADS.map((t) => t.load());
}

/** The thread a new recording goes to: the one encoding the fewest channels, unless it is full. */
function threadForRecording(): Mp3Thread {
  let best = MP3_THREADS[0]!;
  for (const t of MP3_THREADS) if (t.channels < best.channels) best = t;
  if (!best.load().full) return best;
  // (another, not full, may carry more recordings of less work: try them before refusing)
  for (const t of MP3_THREADS) if (!t.load().full) return t;
  const each = mp3EncoderLoad().map((l) => `${Math.round(l.busy * 100)} % busy, ${Math.round(l.lagMs)} ms behind`);
  throw new EncoderBusyError(`the MP3 encoders are at capacity (${each.length} thread(s): ${each.join('; ')}): record as WAV, or try again when recordings end`);
}

/** Starts the MP3 encoders' threads and compiles the encoder in each; a recording's first chunk waits for it otherwise. */
export function preloadMp3Encoder(): Promise<void> {
  return Promise.all(MP3_THREADS.map((t) => t.start())).then(() => undefined);
}

/** Stops the MP3 encoders' threads (chunks not yet made fail); the next MP3 recording starts one again. */
export function terminateMp3Encoders(): Promise<void> {
  return Promise.all(MP3_THREADS.map((t) => t.terminate())).then(() => undefined);
}

/**
 * MP3 through LAME 3.100 compiled to WebAssembly (wasm-media-encoders), on the encoders' thread (see
 * Mp3Thread): an encoder per recording, reconfigured for each chunk. The media thread only batches
 * the frames (200 ms) and posts them; a chunk's frames come back when it ends.
 */
export class Mp3ChunkWriter implements ChunkWriter {
  private readonly batchSamples = MP3_BATCH_FRAMES * FRAME_SAMPLES;
  private readonly thread: Mp3Thread;
  private readonly id: number;
  private readonly generation: number;
  private readonly phase: number;
  private batch: Int16Array[] | null = null;
  private pos = 0;
  private target = 0;
  private frames = 0;
  private seq = 0;
  private closed = false;

  constructor(
    readonly channels: number,
    private readonly kbps: number,
  ) {
    if (channels !== 1 && channels !== 2) throw new RangeError(`MP3 holds 1 or 2 channels, not ${channels}`);
    this.thread = threadForRecording();
    [this.id, this.generation] = this.thread.open(channels, kbps);
    this.thread.channels += channels;
    this.phase = mp3Phase++ % MP3_BATCH_FRAMES;
  }

  begin(): void {
    this.pos = 0;
    this.frames = 0;
    // The first batch of a chunk is shorter by a per-recording phase, so that recordings started
    // together do not all post on the same tick.
    this.target = (MP3_BATCH_FRAMES - this.phase) * FRAME_SAMPLES;
    this.thread.post(this.generation, { t: 'begin', id: this.id });
  }

  write(src: readonly (Int16Array | null)[], off: Int32Array): void {
    // a batch's buffers are handed over to the thread (transferred), so each batch has new ones
    this.batch ??= Array.from({ length: this.channels }, () => new Int16Array(this.batchSamples));
    const base = this.pos;
    for (let c = 0; c < this.channels; c++) {
      const dst = this.batch[c]!;
      const s = src[c];
      if (s) {
        const o = off[c]!;
        for (let i = 0; i < FRAME_SAMPLES; i++) dst[base + i] = s[o + i]!;
      } else {
        dst.fill(0, base, base + FRAME_SAMPLES);
      }
    }
    this.pos = base + FRAME_SAMPLES;
    this.frames++;
    if (this.pos === this.target) this.flush();
  }

  private flush(): void {
    const n = this.pos;
    const batch = this.batch;
    this.batch = null;
    this.pos = 0;
    this.target = this.batchSamples;
    if (!batch || n === 0) return;
    const pcm = n === this.batchSamples ? batch : batch.map((b) => b.subarray(0, n));
    this.thread.post(this.generation, { t: 'encode', id: this.id, pcm, at: Date.now() }, batch.map((b) => b.buffer as ArrayBuffer));
  }

  fileBytes(frames: number): number {
    return mp3FileBytes(frames * FRAME_SAMPLES, this.kbps, this.channels);
  }

  end(): PendingChunkFile {
    this.flush();
    const body = this.thread.end(this.generation, this.id, this.seq++);
    body.catch(() => undefined); // (assemble() reports it)
    const frames = this.frames;
    const samples = frames * FRAME_SAMPLES;
    const { kbps, channels } = this;
    const frameBytes = mp3FrameBytes(kbps);
    this.frames = 0;
    return {
      frames,
      assemble: async (): Promise<Uint8Array> => {
        let bytes: Uint8Array;
        try {
          bytes = await body;
        } catch (err) {
          throw new Error(`MP3 encoder unavailable: ${(err as Error).message}`);
        }
        // CBR: every frame has the same size. The size bound (fileBytes) rests on LAME writing
        // mp3AudioFrames(samples) frames (tested); the Info frame states what was actually written.
        const audioFrames = Math.round(bytes.length / frameBytes);
        const info = buildInfoFrame(samples, audioFrames, bytes.length, kbps, channels);
        const out = new Uint8Array(info.length + bytes.length);
        out.set(info, 0);
        out.set(bytes, info.length);
        return out;
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.thread.channels -= this.channels;
    this.thread.post(this.generation, { t: 'close', id: this.id });
  }
}
