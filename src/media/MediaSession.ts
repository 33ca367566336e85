// One Call's audio: its legs and the N−1 mix (each leg hears everyone but itself).
import { FRAME_SAMPLES } from './MediaFormat.ts';
import { MediaLeg } from './MediaLeg.ts';

export class MediaSession {
  readonly legs: MediaLeg[] = [];
  private readonly sum = new Int32Array(FRAME_SAMPLES);
  closed = false;

  constructor(readonly id: string) {}

  addLeg(id: string): MediaLeg {
    const leg = new MediaLeg(id);
    this.legs.push(leg);
    return leg;
  }

  removeLeg(leg: MediaLeg): void {
    leg.closed = true;
    const i = this.legs.indexOf(leg);
    if (i >= 0) this.legs.splice(i, 1);
  }

  /** One 20 ms step: pull every leg, run its taps, mix, deliver. No allocation. */
  tick(): void {
    const legs = this.legs;
    const n = legs.length;
    const sum = this.sum;
    let anyone = false;
    for (let l = 0; l < n; l++) {
      const leg = legs[l]!;
      leg.pull();
      const taps = leg.taps;
      for (let t = 0; t < taps.length; t++) taps[t]!.write(leg.inbound, !leg.speaking);
      if (leg.speaking && !leg.muted) {
        const x = leg.inbound;
        if (!anyone) {
          for (let i = 0; i < FRAME_SAMPLES; i++) sum[i] = x[i]!;
          anyone = true;
        } else {
          for (let i = 0; i < FRAME_SAMPLES; i++) sum[i]! += x[i]!;
        }
      }
    }
    for (let l = 0; l < n; l++) {
      const leg = legs[l]!;
      const out = leg.outbound;
      const own = leg.speaking && !leg.muted;
      let silent = true;
      if (anyone) {
        const x = leg.inbound;
        for (let i = 0; i < FRAME_SAMPLES; i++) {
          let v = own ? sum[i]! - x[i]! : sum[i]!;
          if (v > 32767) v = 32767;
          else if (v < -32768) v = -32768;
          out[i] = v;
          if (v !== 0) silent = false;
        }
      } else if (!leg.outboundSilent) {
        out.fill(0);
      }
      leg.outboundSilent = silent;
      const sinks = leg.sinks;
      for (let s = 0; s < sinks.length; s++) sinks[s]!.write(out, silent);
    }
  }
}
