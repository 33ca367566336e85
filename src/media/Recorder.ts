// Records frames into memory up to a bound: a list of preallocated blocks, so a long recording
// never copies what it already holds. Used by recordResponse and by virtual users' ears.
import { FRAME_SAMPLES, SAMPLE_RATE, type FrameSink } from './MediaFormat.ts';

// 1 s per block (32,000 bytes): a short response holds little more than it recorded (5 s blocks
// made every recording cost 160 KB from its first frame).
const BLOCK_FRAMES = 50;
const BLOCK_SAMPLES = BLOCK_FRAMES * FRAME_SAMPLES;
export const RECORDER_BLOCK_BYTES = BLOCK_SAMPLES * 2;

/** A bound on the blocks of a group of recorders (see VirtualEars): asked before each new block. */
export interface RecorderBudget {
  /** Whether `r` may take one more block (false: it records no more). */
  take(r: Recorder): boolean;
  /** `r` gave back `blocks` it had taken (release()). */
  give(blocks: number): void;
}

/**
 * Blocks given back by release(), for the next recordings: at 1,000 calls recording, new blocks
 * were 32 MB of ArrayBuffers a second, and V8 runs a full GC for every few tens of MB of them.
 */
const POOL: Int16Array[] = [];
const POOL_MAX = 256; // 8 MB

/** Blocks held by recorders now: taken, and neither released nor collected with their recorder. */
let blocksHeld = 0;
/** A recorder collected without release() (a virtual user's ear, say) gives its count back here. */
const COLLECTED = new FinalizationRegistry<{ n: number }>((held) => {
  blocksHeld -= held.n;
});

/** The recorders' memory: blocks held by recordings, and blocks in the pool (each `blockBytes`). */
export function recorderMemory(): { heldBlocks: number; pooledBlocks: number; blockBytes: number } {
  return { heldBlocks: blocksHeld, pooledBlocks: POOL.length, blockBytes: RECORDER_BLOCK_BYTES };
}

export class Recorder implements FrameSink {
  private readonly blocks: Int16Array[] = [];
  /** The block being filled and where (kept in fields: the frame path fetches no array element). */
  private cur: Int16Array | null = null;
  private at = BLOCK_SAMPLES;
  private frames = 0;
  private paused = false;
  /** How many of the blocks recorderMemory() counts are this one's. */
  private readonly held = { n: 0 };
  /** Set when the bound was reached: later frames are not kept. */
  full = false;

  constructor(
    private readonly maxFrames: number,
    /** Asked before each new block (a recorder kept without its own bound: release() it when done). */
    private readonly budget: RecorderBudget | null = null,
  ) {
    COLLECTED.register(this, this.held);
  }

  /** See FrameSource.warm (MediaFormat): also the line its next frame is written to. */
  warm(): number {
    const cur = this.cur, at = this.at;
    return cur !== null && at < cur.length ? cur[at]! : at;
  }

  write(frame: Int16Array): void {
    if (this.paused || this.full) return;
    if (this.frames >= this.maxFrames) {
      this.full = true;
      return;
    }
    let cur = this.cur;
    if (cur === null || this.at === BLOCK_SAMPLES) {
      if (this.budget !== null && !this.budget.take(this)) {
        this.full = true;
        return;
      }
      cur = POOL.pop() ?? new Int16Array(BLOCK_SAMPLES);
      this.blocks.push(cur);
      this.held.n++;
      blocksHeld++;
      this.cur = cur;
      this.at = 0;
    }
    cur.set(frame, this.at);
    this.at += FRAME_SAMPLES;
    this.frames++;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  get durationMs(): number {
    return (this.frames * FRAME_SAMPLES * 1000) / SAMPLE_RATE;
  }

  get frameCount(): number {
    return this.frames;
  }

  /** The recorded audio as one buffer (optionally only the first `frames`). */
  samples(frames = this.frames): Int16Array {
    const out = new Int16Array(Math.min(frames, this.frames) * FRAME_SAMPLES);
    let at = 0;
    for (const c of this.chunks(frames)) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /**
   * The recorded audio (optionally only the first `frames`) as views of the recorder's own blocks,
   * in order: no copy, valid until release().
   */
  chunks(frames = this.frames): Int16Array[] {
    const n = Math.min(frames, this.frames);
    const out: Int16Array[] = [];
    for (let f = 0; f < n; f += BLOCK_FRAMES) {
      out.push(this.blocks[f / BLOCK_FRAMES]!.subarray(0, Math.min(BLOCK_FRAMES, n - f) * FRAME_SAMPLES));
    }
    return out;
  }

  /**
   * Done with it (after samples(), or once its chunks() are written): its blocks go back to the
   * pool for other recordings, and it records nothing more.
   */
  release(): void {
    for (const b of this.blocks) if (POOL.length < POOL_MAX) POOL.push(b);
    blocksHeld -= this.held.n;
    this.budget?.give(this.held.n);
    this.held.n = 0;
    this.blocks.length = 0;
    this.cur = null;
    this.at = BLOCK_SAMPLES;
    this.frames = 0;
    this.full = true;
  }
}
