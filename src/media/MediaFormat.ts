// The engine's internal audio format: 16-bit linear PCM, 16 kHz, mono, 20 ms frames.
export const SAMPLE_RATE = 16_000;
export const FRAME_MS = 20;
export const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000; // 320

/** Something that speaks into a leg: fills one frame, returns false (and leaves it untouched) when it has nothing. */
export interface FrameSource {
  read(out: Int16Array): boolean;
}

/** Something that listens: receives one frame per tick. It must copy what it keeps: the frame is reused. */
export interface FrameSink {
  write(frame: Int16Array, silent: boolean): void;
}

export function msToFrames(ms: number): number {
  return Math.ceil(ms / FRAME_MS);
}
