// Plays a queue of audio items into a leg, frame by frame: buffers (prompts, beeps), generated
// sounds (a virtual user's tones and noise) and DTMF. Reports each item's end through a callback
// (items are rare; frames allocate nothing).
import { FRAME_SAMPLES, type FrameSource } from './MediaFormat.ts';
import { DtmfGenerator } from './dtmf/DtmfGenerator.ts';
import type { Sound } from './Tones.ts';

export type PlayItem =
  | { kind: 'buffer'; samples: Int16Array; loop?: boolean; onDone?: (completed: boolean) => void }
  | { kind: 'silence'; frames: number; onDone?: (completed: boolean) => void }
  | { kind: 'sound'; sound: Sound; onDone?: (completed: boolean) => void }
  | { kind: 'dtmf'; keys: string; toneMs: number; gapMs: number; onDone?: (completed: boolean) => void };

/**
 * Frame-sized views of the buffers played, made on first use and kept as long as the buffer (prompt
 * buffers are shared by every call that plays them): out.set(view) copies a frame without the
 * subarray() that would otherwise be garbage on every read. About 100 bytes per 640-byte frame.
 */
const frameViews = new WeakMap<Int16Array, Int16Array[]>();

const NO_VIEWS: Int16Array[] = [];

function frameViewsOf(src: Int16Array): Int16Array[] {
  let views = frameViews.get(src);
  if (!views) frameViews.set(src, (views = new Array<Int16Array>(Math.floor(src.length / FRAME_SAMPLES))));
  return views;
}

export class Player implements FrameSource {
  private readonly queue: PlayItem[] = [];
  /** queue[0], kept by every change of the queue: the frame path reads one field, not an array's element. */
  private head: PlayItem | undefined = undefined;
  /** The head's samples and their length when it is a buffer (null otherwise): the frame path then fetches neither the item nor the array object. */
  private src: Int16Array | null = null;
  private srcLen = 0;
  private srcLoop = false;
  private pos = 0;
  private silenceLeft = 0;
  private dtmf: DtmfGenerator | null = null;
  private dtmfStarted = false;
  /** The kind of the last item that ended (played out or cut): a dtmf item right after another starts with a pause. */
  private lastKind: PlayItem['kind'] | null = null;
  /** The frame views of the buffer last played (a WeakMap lookup per frame showed in profiles at 1,000 calls). */
  private viewsOf: Int16Array | null = null;
  private views: Int16Array[] = NO_VIEWS;

  get busy(): boolean {
    return this.queue.length > 0;
  }

  enqueue(item: PlayItem): void {
    this.queue.push(item);
    this.setHead();
  }

  private setHead(): void {
    const head = this.queue[0];
    this.head = head;
    const buffer = head?.kind === 'buffer' ? head : null;
    this.src = buffer ? buffer.samples : null;
    this.srcLen = buffer ? buffer.samples.length : 0;
    this.srcLoop = buffer ? buffer.loop === true : false;
  }

  /** Stops the current item and drops the queue; each dropped item hears onDone(false). */
  cancelAll(): void {
    const dropped = this.queue.splice(0);
    if (dropped.length > 0) this.lastKind = dropped[0]!.kind;
    this.setHead();
    this.reset();
    for (const item of dropped) item.onDone?.(false);
  }

  /** Removes one item (current or queued) without playing the rest of it. */
  cancel(item: PlayItem): void {
    const i = this.queue.indexOf(item);
    if (i < 0) return;
    this.queue.splice(i, 1);
    this.setHead();
    if (i === 0) {
      this.lastKind = item.kind;
      this.reset();
    }
    item.onDone?.(false);
  }

  /** The frame-aligned frame at `pos` of `src`, as a view. */
  private frameView(src: Int16Array, pos: number): Int16Array {
    if (this.viewsOf !== src) {
      this.viewsOf = src;
      this.views = frameViewsOf(src);
    }
    return (this.views[pos / FRAME_SAMPLES] ??= src.subarray(pos, pos + FRAME_SAMPLES));
  }

  private reset(): void {
    this.viewsOf = null; // (the next item's views are looked up on its first frame; this one's are not held)
    this.views = NO_VIEWS;
    this.pos = 0;
    this.silenceLeft = 0;
    this.dtmfStarted = false;
  }

  private finish(): void {
    const item = this.queue.shift()!;
    this.lastKind = item.kind;
    this.setHead();
    this.reset();
    // Told after the frame is produced: the callback may enqueue more without disturbing this read.
    if (item.onDone) setImmediate(item.onDone, true);
  }

  /** See FrameSource.warm (MediaFormat). */
  warm(): number {
    return this.pos;
  }

  /**
   * FrameSource: a whole frame-aligned frame of a buffer is given as a view of it (no copy); other
   * frames are read() into `scratch`.
   */
  frame(scratch: Int16Array): Int16Array | null {
    const src = this.src;
    if (src !== null) {
      const pos = this.pos;
      if (pos % FRAME_SAMPLES === 0 && pos + FRAME_SAMPLES <= this.srcLen) {
        const view = this.frameView(src, pos);
        this.pos = pos + FRAME_SAMPLES;
        if (this.pos >= this.srcLen) {
          if (this.srcLoop) this.pos = 0;
          else this.finish();
        }
        return view;
      }
    } else if (this.head === undefined) {
      return null;
    }
    return this.read(scratch) ? scratch : null;
  }

  /** Fills `out` with the next frame; false (out untouched) when there is nothing to play. */
  read(out: Int16Array): boolean {
    const item = this.head;
    if (!item) return false;
    switch (item.kind) {
      case 'silence': {
        if (this.silenceLeft === 0) this.silenceLeft = item.frames;
        out.fill(0);
        if (--this.silenceLeft === 0) this.finish();
        return true;
      }
      case 'buffer': {
        const src = item.samples;
        let written = 0;
        if (this.pos % FRAME_SAMPLES === 0 && this.pos + FRAME_SAMPLES <= src.length) {
          // a whole frame, frame-aligned (nearly every read): a view made once per buffer, not per read
          out.set(this.frameView(src, this.pos));
          written = FRAME_SAMPLES;
          this.pos += FRAME_SAMPLES;
          if (this.pos >= src.length && item.loop) this.pos = 0;
        }
        // Otherwise sample by sample: a looped buffer whose length is not a whole number of frames
        // is read off the frame grid from its second pass on, every frame (a subarray() here was
        // two new objects per frame and call).
        while (written < FRAME_SAMPLES) {
          const n = Math.min(FRAME_SAMPLES - written, src.length - this.pos);
          if (n <= 0) break;
          const from = this.pos - written;
          for (let i = written, end = written + n; i < end; i++) out[i] = src[from + i]!;
          written += n;
          this.pos += n;
          if (this.pos >= src.length && item.loop) this.pos = 0;
        }
        if (written < FRAME_SAMPLES) out.fill(0, written);
        if (this.pos >= src.length && !item.loop) this.finish();
        return true;
      }
      case 'sound': {
        const sound = item.sound;
        if (this.pos === 0) sound.rewind();
        const n = Math.min(FRAME_SAMPLES, sound.samples - this.pos);
        if (n > 0) sound.fill(out, this.pos, n);
        if (n < FRAME_SAMPLES) out.fill(0, Math.max(0, n));
        this.pos += FRAME_SAMPLES;
        if (this.pos >= sound.samples) this.finish();
        return true;
      }
      case 'dtmf': {
        if (!this.dtmfStarted) {
          this.dtmf ??= new DtmfGenerator();
          this.dtmf.reset();
          // An item ends with its last tone (the gap after it is not waited for), so one that
          // follows another dtmf item starts with the gap: without it, two items of the same key
          // (two sendDtmfTones of tone1, two key presses of a virtual user) play as one long tone,
          // and a receiver hears one press.
          if (this.lastKind === 'dtmf') this.dtmf.pause(item.gapMs);
          this.dtmf.enqueue(item.keys, { toneMs: item.toneMs, gapMs: item.gapMs });
          this.dtmfStarted = true;
        }
        this.dtmf!.generate(out);
        if (!this.dtmf!.busy) this.finish();
        return true;
      }
    }
  }
}
