// Listens to a stream of frames for DTMF digits and reports each one. Silent frames cost nothing:
// a few are fed to close a digit in progress, then the detector rests until sound returns.
import type { FrameSink } from '../MediaFormat.ts';
import { DtmfDetector } from './DtmfDetector.ts';

const CLOSING_FRAMES = 3;

export class DtmfListener implements FrameSink {
  private readonly detector = new DtmfDetector();
  private quiet = 0;

  constructor(private readonly onKey: (key: string) => void) {}

  /** See FrameSource.warm (MediaFormat). */
  warm(): number {
    // (a resting detector runs only if sound returns: not worth fetching for every silent frame)
    const quiet = this.quiet;
    return quiet >= CLOSING_FRAMES ? quiet : quiet + this.detector.warm();
  }

  write(frame: Int16Array, silent: boolean): void {
    if (silent) {
      if (this.quiet >= CLOSING_FRAMES) return;
      this.quiet++;
    } else {
      this.quiet = 0;
    }
    const key = this.detector.process(frame);
    if (key !== '') this.onKey(key);
  }

  /** See FrameSink.legClosed: its detector's kernel slot goes back (DtmfDetector.release). */
  legClosed(): void {
    this.detector.release();
  }
}
