// A participant's audio in a MediaSession: what it says this tick (inbound) and what it hears (the
// mix of everyone else, outbound). Sources fill the inbound frame; taps see it (detectors, recorders
// of what the participant says); sinks get the outbound frame (the endpoint, recorders).
// Taps and sinks only read the frame they are given, and only during the call: it may be another
// leg's buffer (a two-party session hands the other's inbound frame over as it is). What they keep,
// they copy.
import { FRAME_SAMPLES, SILENT_FRAME, type FrameSink, type FrameSource } from './MediaFormat.ts';

export class MediaLeg {
  /** What the participant says this tick (read-only): `inbound`, a source's own view, or silence. */
  frame: Int16Array = SILENT_FRAME;
  /** The buffer sources fill when they have no view of their own to give. */
  readonly inbound = new Int16Array(FRAME_SAMPLES);
  readonly outbound = new Int16Array(FRAME_SAMPLES);
  /** Sources are tried in order each tick; the first with audio speaks (a prompt over the caller's own voice source, say). */
  readonly sources: FrameSource[] = [];
  readonly taps: FrameSink[] = [];
  readonly sinks: FrameSink[] = [];
  /** Set during a tick: whether the inbound frame carries audio (false: all zero, skipped by the mixer). */
  speaking = false;
  /** Whether the last outbound frame was all zero (lets the mixer skip clearing it again). */
  outboundSilent = true;
  /** Server-side mute: the participant's audio is not mixed into the others' (its own taps still see it). */
  muted = false;
  closed = false;

  constructor(readonly id: string) {}

  addSource(s: FrameSource, first = false): void {
    if (first) this.sources.unshift(s);
    else this.sources.push(s);
  }

  removeSource(s: FrameSource): void {
    const i = this.sources.indexOf(s);
    if (i >= 0) this.sources.splice(i, 1);
  }

  addTap(t: FrameSink): void {
    this.taps.push(t);
  }

  removeTap(t: FrameSink): void {
    const i = this.taps.indexOf(t);
    if (i >= 0) this.taps.splice(i, 1);
  }

  addSink(s: FrameSink): void {
    this.sinks.push(s);
  }

  removeSink(s: FrameSink): void {
    const i = this.sinks.indexOf(s);
    if (i >= 0) this.sinks.splice(i, 1);
  }

  /** Sets `frame` from the first source that has audio; silence when none. */
  pull(): void {
    const sources = this.sources;
    for (let i = 0; i < sources.length; i++) {
      const f = sources[i]!.frame(this.inbound);
      if (f !== null) {
        this.frame = f;
        this.speaking = true;
        return;
      }
    }
    this.frame = SILENT_FRAME;
    this.speaking = false;
  }
}
