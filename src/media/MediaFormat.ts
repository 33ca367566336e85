// The engine's internal audio format: 16-bit linear PCM, 16 kHz, mono, 20 ms frames.
export const SAMPLE_RATE = 16_000;
export const FRAME_MS = 20;
export const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000; // 320

/**
 * Something that speaks into a leg: returns this tick's frame, or null when it has nothing. The
 * frame is `scratch`, filled, or a view of the source's own audio (a prompt shared by every call
 * playing it: no copy); either way the others only read it, during this tick.
 */
export interface FrameSource {
  frame(scratch: Int16Array): Int16Array | null;
  /**
   * Optional, here and on FrameSink: reads the fields its next frame reads first (its own, and
   * the objects it goes to next) and folds them into the number it returns. The engine asks a
   * group of calls' sources and sinks in one pass just before ticking them, so their objects come
   * from memory together instead of one after the other (see MediaEngine.tick). Only reads; any result.
   */
  warm?(): number;
}

/**
 * Something that listens: receives one frame per tick. It must copy what it keeps (the frame is
 * reused) and never write to it (it may be another leg's, or a prompt shared by many calls).
 */
export interface FrameSink {
  /** `silent` is true only when every sample of `frame` is zero (a sink may then skip looking). */
  write(frame: Int16Array, silent: boolean): void;
  /** Optional: see FrameSource.warm. */
  warm?(): number;
  /**
   * Optional: the leg it listens on has gone (MediaLeg.close). It gives back now what it holds that
   * the collector would give back late or never (a DTMF detector's slot in its kernel's memory),
   * and stays safe to write to. (What it recorded stays: a Recorder's audio outlives its leg.)
   */
  legClosed?(): void;
}

/** A frame of silence, shared: never written. */
export const SILENT_FRAME = new Int16Array(FRAME_SAMPLES);

export function msToFrames(ms: number): number {
  return Math.ceil(ms / FRAME_MS);
}
