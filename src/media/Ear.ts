// What one participant hears beyond the call's N−1 mix: audio meant for it alone (an ACS play to
// chosen participants, DTMF sent to one participant, hold music) and, while it is on hold, nothing
// of the call at all. An Ear is put in front of a leg's sinks: the mixer writes the leg's outbound
// frame to the Ear, and the Ear writes what the participant really hears to the sinks that were
// there (the endpoint, its recorders, its DTMF listener). Sinks added to the leg after the Ear was
// installed hear the plain mix. No allocation per frame.
import { FRAME_SAMPLES, type FrameSink } from './MediaFormat.ts';
import { remove, type MediaLeg, type SinkHolder } from './MediaLeg.ts';
import { Player } from './Player.ts';

export class Ear implements SinkHolder {
  /** Audio for this participant only; mixed over the call (or alone while held). */
  readonly player = new Player();
  /** On hold: the call's mix is not heard (the player still is: hold music). */
  held = false;
  private readonly sinks: FrameSink[];
  private readonly out = new Int16Array(FRAME_SAMPLES);
  private readonly own = new Int16Array(FRAME_SAMPLES);
  private installed = true;

  constructor(private readonly leg: MediaLeg) {
    // Take the leg's sinks; the mixer now writes to this Ear only.
    this.sinks = leg.takeSinks(this);
  }

  write(frame: Int16Array, silent: boolean): void {
    const hasOwn = this.player.read(this.own);
    if (!hasOwn && !this.held) {
      this.forward(frame, silent);
      return;
    }
    const out = this.out;
    let nz = 0;
    if (!hasOwn) {
      // Held, nothing to play: silence.
      out.fill(0);
    } else if (this.held || silent) {
      const x = this.own;
      for (let i = 0; i < FRAME_SAMPLES; i++) {
        const v = x[i]!;
        out[i] = v;
        nz |= v;
      }
    } else {
      const x = this.own;
      for (let i = 0; i < FRAME_SAMPLES; i++) {
        let v = frame[i]! + x[i]!;
        v = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
        out[i] = v;
        nz |= v;
      }
    }
    this.forward(out, nz === 0);
  }

  private forward(frame: Int16Array, silent: boolean): void {
    const sinks = this.sinks;
    for (let s = 0; s < sinks.length; s++) sinks[s]!.write(frame, silent);
  }

  dropSink(s: FrameSink): boolean {
    return remove(this.sinks, s);
  }

  /** See FrameSink.legClosed: the sinks it writes to are the leg's. */
  legClosed(): void {
    for (const s of this.sinks) s.legClosed?.();
  }

  /** Gives the leg its sinks back and drops whatever was queued for this participant. */
  uninstall(): void {
    if (!this.installed) return;
    this.installed = false;
    this.player.cancelAll();
    this.leg.replaceSink(this, this.sinks);
  }
}
