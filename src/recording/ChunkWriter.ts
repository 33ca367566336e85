// Writes a recording's frames into the current chunk, in memory, and makes the chunk's file when it
// ends. Frames arrive as one source per channel (or null: silence), so mixed (1 channel) and unmixed
// (N channels) share the path, and nothing is allocated per frame:
//   - WAV: interleaved 16-bit PCM into 1 s blocks taken from a pool; at the end of the chunk the
//     blocks are handed over, copied behind a 44-byte header off the media tick (assemble()), and
//     go back to the pool;
//   - MP3: planar PCM (float, as the encoder takes it) batched 200 ms at a time into the encoder
//     (its output is copied out once per batch, not per frame); at the end the encoder is flushed and
//     an Info frame stating the exact length is put in front (see Mp3.ts).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createEncoder, type WasmMediaEncoder } from 'wasm-media-encoders';
import { FRAME_SAMPLES, SAMPLE_RATE } from '../media/MediaFormat.ts';
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
}

const BLOCK_FRAMES = 50; // 1 s
const WAV_HEADER_BYTES = 44;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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
    const bytes = this.fileBytes(frames);
    this.blocks = [];
    this.cur = null;
    this.pos = this.blockSamples;
    this.frames = 0;
    return {
      frames,
      async assemble(): Promise<Uint8Array> {
        const out = new Uint8Array(bytes);
        writeWavHeader(out, bytes - WAV_HEADER_BYTES, C);
        let left = frames * FRAME_SAMPLES * C;
        let at = WAV_HEADER_BYTES;
        for (const b of blocks) {
          const n = Math.min(left, blockSamples);
          if (LITTLE_ENDIAN) {
            out.set(new Uint8Array(b.buffer, b.byteOffset, n * 2), at);
          } else {
            const dv = new DataView(out.buffer, out.byteOffset + at, n * 2);
            for (let i = 0; i < n; i++) dv.setInt16(i * 2, b[i]!, true);
          }
          at += n * 2;
          left -= n;
          pool.push(b);
        }
        return out;
      },
    };
  }
}

/** The canonical 44-byte header: PCM, 16-bit, 16 kHz (what src/media/audio/Wav.ts writeWav writes). */
function writeWavHeader(out: Uint8Array, dataBytes: number, channels: number): void {
  const dv = new DataView(out.buffer, out.byteOffset, WAV_HEADER_BYTES);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  dv.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true); // PCM
  dv.setUint16(22, channels, true);
  dv.setUint32(24, SAMPLE_RATE, true);
  dv.setUint32(28, SAMPLE_RATE * channels * 2, true);
  dv.setUint16(32, channels * 2, true);
  dv.setUint16(34, 16, true);
  ascii(36, 'data');
  dv.setUint32(40, dataBytes, true);
}

const MP3_BATCH_FRAMES = 10; // 200 ms per encoder call
let mp3Phase = 0; // staggers the recordings' encoder calls over the ticks

type Mp3Wasm = WasmMediaEncoder<'audio/mpeg'>;
let mp3Module: Promise<WebAssembly.Module> | null = null;

/** Compiles the MP3 encoder (once per process); a recording's first chunk waits for it otherwise. */
export function preloadMp3Encoder(): Promise<void> {
  mp3Module ??= readFile(createRequire(import.meta.url).resolve('wasm-media-encoders/wasm/mp3')).then((b) => WebAssembly.compile(b));
  return mp3Module.then(() => undefined);
}

interface Mp3Chunk {
  parts: Uint8Array[];
  bytes: number;
}

/**
 * MP3 through LAME 3.100 compiled to WebAssembly (wasm-media-encoders): an encoder per recording,
 * reconfigured for each chunk. Its instantiation is asynchronous: until it is ready (a few ms after
 * the recording starts; longer only while the module compiles, once per process), the encoder's
 * work is queued in order and done as soon as it is.
 */
export class Mp3ChunkWriter implements ChunkWriter {
  private readonly batch: Float32Array[];
  private readonly batchSamples = MP3_BATCH_FRAMES * FRAME_SAMPLES;
  private readonly phase: number;
  private enc: Mp3Wasm | null = null;
  private failed: Error | null = null;
  private readonly queue: Array<(enc: Mp3Wasm) => void> = [];
  private readonly ready: Promise<void>;
  private chunk: Mp3Chunk = { parts: [], bytes: 0 };
  private pos = 0;
  private target = 0;
  private frames = 0;

  constructor(
    readonly channels: number,
    private readonly kbps: number,
  ) {
    if (channels !== 1 && channels !== 2) throw new RangeError(`MP3 holds 1 or 2 channels, not ${channels}`);
    this.batch = Array.from({ length: channels }, () => new Float32Array(this.batchSamples));
    this.phase = mp3Phase++ % MP3_BATCH_FRAMES;
    this.ready = preloadMp3Encoder()
      .then(() => mp3Module!)
      .then((m) => createEncoder('audio/mpeg', m))
      .then(
        (enc) => {
          this.enc = enc;
          for (const op of this.queue.splice(0)) op(enc);
        },
        (err: unknown) => {
          this.failed = err instanceof Error ? err : new Error(String(err));
          this.queue.length = 0;
        },
      );
  }

  /** Runs `op` on the encoder now, or once it is ready (in order). */
  private run(op: (enc: Mp3Wasm) => void): void {
    if (this.enc) op(this.enc);
    else if (!this.failed) this.queue.push(op);
  }

  begin(): void {
    this.chunk = { parts: [], bytes: 0 };
    this.pos = 0;
    this.frames = 0;
    // The first batch of a chunk is shorter by a per-recording phase, so that recordings started
    // together do not all encode on the same tick.
    this.target = (MP3_BATCH_FRAMES - this.phase) * FRAME_SAMPLES;
    const params = { channels: this.channels as 1 | 2, sampleRate: SAMPLE_RATE, bitrate: this.kbps as 48 };
    this.run((enc) => enc.configure(params));
  }

  write(src: readonly (Int16Array | null)[], off: Int32Array): void {
    const base = this.pos;
    for (let c = 0; c < this.channels; c++) {
      const dst = this.batch[c]!;
      const s = src[c];
      if (s) {
        const o = off[c]!;
        for (let i = 0; i < FRAME_SAMPLES; i++) dst[base + i] = s[o + i]! / 32768;
      } else {
        dst.fill(0, base, base + FRAME_SAMPLES);
      }
    }
    this.pos = base + FRAME_SAMPLES;
    this.frames++;
    if (this.pos === this.target) this.encodeBatch();
  }

  private encodeBatch(): void {
    const n = this.pos;
    const chunk = this.chunk;
    if (this.enc) {
      keep(chunk, this.enc.encode(n === this.batchSamples ? this.batch : this.batch.map((b) => b.subarray(0, n))));
    } else {
      const copy = this.batch.map((b) => b.slice(0, n));
      this.run((enc) => keep(chunk, enc.encode(copy)));
    }
    this.pos = 0;
    this.target = this.batchSamples;
  }

  fileBytes(frames: number): number {
    return mp3FileBytes(frames * FRAME_SAMPLES, this.kbps, this.channels);
  }

  end(): PendingChunkFile {
    if (this.pos > 0) this.encodeBatch();
    const chunk = this.chunk;
    this.run((enc) => keep(chunk, enc.finalize()));
    const frames = this.frames;
    const samples = frames * FRAME_SAMPLES;
    const { kbps, channels } = this;
    const frameBytes = mp3FrameBytes(kbps);
    this.chunk = { parts: [], bytes: 0 };
    this.pos = 0;
    this.frames = 0;
    return {
      frames,
      assemble: async (): Promise<Uint8Array> => {
        await this.ready; // every queued operation has run by then
        if (this.failed) throw new Error(`MP3 encoder unavailable: ${this.failed.message}`);
        // CBR: every frame has the same size. The size bound (fileBytes) rests on LAME writing
        // mp3AudioFrames(samples) frames (tested); the Info frame states what was actually written.
        const audioFrames = Math.round(chunk.bytes / frameBytes);
        const info = buildInfoFrame(samples, audioFrames, chunk.bytes, kbps, channels);
        const out = new Uint8Array(info.length + chunk.bytes);
        out.set(info, 0);
        let at = info.length;
        for (const p of chunk.parts) {
          out.set(p, at);
          at += p.length;
        }
        return out;
      },
    };
  }
}

/** The encoder's output is a view into its memory, valid until its next call: copied. */
function keep(chunk: Mp3Chunk, out: Uint8Array): void {
  if (out.byteLength === 0) return;
  chunk.parts.push(out.slice());
  chunk.bytes += out.byteLength;
}
