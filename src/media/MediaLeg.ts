// A participant's audio in a MediaSession: what it says this tick (inbound) and what it hears (the
// mix of everyone else, outbound). Sources fill the inbound frame; taps see it (detectors, recorders
// of what the participant says); sinks get the outbound frame (the endpoint, recorders).
// Taps and sinks only read the frame they are given, and only during the call: it may be another
// leg's buffer (a two-party session hands the other's inbound frame over as it is). What they keep,
// they copy.
import { FRAME_SAMPLES, SILENT_FRAME, type FrameSink, type FrameSource } from './MediaFormat.ts';

/** A sink that took over a leg's sinks and writes to them itself (an Ear): see MediaLeg.takeSinks. */
export interface SinkHolder extends FrameSink {
  /** Stops writing to `s`; false if it does not hold it. */
  dropSink(s: FrameSink): boolean;
}

export class MediaLeg {
  /** What the participant says this tick (read-only): `inbound`, a source's own view, or silence. */
  frame: Int16Array = SILENT_FRAME;
  /** The buffer sources fill when they have no view of their own to give. */
  readonly inbound = new Int16Array(FRAME_SAMPLES);
  readonly outbound = new Int16Array(FRAME_SAMPLES);
  /** Sources are tried in order each tick; the first with audio speaks (a prompt over the caller's own voice source, say). Change through the methods. */
  readonly sources: readonly FrameSource[] = [];
  /** See `inbound`'s frame each tick (read-only: change through the methods). */
  readonly taps: readonly FrameSink[] = [];
  /** Get the outbound frame each tick (read-only: change through the methods). */
  readonly sinks: readonly FrameSink[] = [];
  /** Set during a tick: whether the inbound frame carries audio (false: all zero, skipped by the mixer). */
  speaking = false;
  /** Whether the last outbound frame was all zero (lets the mixer skip clearing it again). */
  outboundSilent = true;
  /** Server-side mute: the participant's audio is not mixed into the others' (its own taps still see it). */
  muted = false;
  closed = false;
  // The first two entries of each list, kept by every change (see pull()).
  private src0: FrameSource | null = null;
  private src1: FrameSource | null = null;
  private tap0: FrameSink | null = null;
  private tap1: FrameSink | null = null;
  private sink0: FrameSink | null = null;
  private sink1: FrameSink | null = null;
  /** The sink that took the others over (see takeSinks), if any. */
  private holder: SinkHolder | null = null;

  constructor(readonly id: string) {}

  addSource(s: FrameSource, first = false): void {
    const l = this.sources as FrameSource[];
    if (first) l.unshift(s);
    else l.push(s);
    this.changed();
  }

  removeSource(s: FrameSource): void {
    remove(this.sources as FrameSource[], s);
    this.changed();
  }

  addTap(t: FrameSink): void {
    (this.taps as FrameSink[]).push(t);
    this.changed();
  }

  removeTap(t: FrameSink): void {
    remove(this.taps as FrameSink[], t);
    this.changed();
  }

  addSink(s: FrameSink): void {
    (this.sinks as FrameSink[]).push(s);
    this.changed();
  }

  /** Removes `s`, whether among the leg's sinks or among those a holder took over (see takeSinks). */
  removeSink(s: FrameSink): void {
    if (!remove(this.sinks as FrameSink[], s)) this.holder?.dropSink(s);
    this.changed();
  }

  /** Makes `s` the leg's only sink and returns the sinks it had (an Ear takes them over). */
  takeSinks(s: SinkHolder): FrameSink[] {
    const had = (this.sinks as FrameSink[]).splice(0, this.sinks.length, s);
    this.holder = s;
    this.changed();
    return had;
  }

  /** Puts `instead` where `s` is among the sinks (an Ear giving its sinks back); false if `s` is not there. */
  replaceSink(s: FrameSink, instead: readonly FrameSink[]): boolean {
    const i = this.sinks.indexOf(s);
    if (i < 0) return false;
    (this.sinks as FrameSink[]).splice(i, 1, ...instead);
    if (s === this.holder) this.holder = null;
    this.changed();
    return true;
  }

  /**
   * The leg has gone (see MediaSession.removeLeg): its taps and sinks are told (FrameSink.legClosed).
   * They are left in place: a late frame still finds them safe to write to.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.taps) t.legClosed?.();
    for (const s of this.sinks) s.legClosed?.();
  }

  /** Keeps the first two of each list in fields (see the tick methods). */
  private changed(): void {
    const so = this.sources, ta = this.taps, si = this.sinks;
    this.src0 = so[0] ?? null;
    this.src1 = so[1] ?? null;
    this.tap0 = ta[0] ?? null;
    this.tap1 = ta[1] ?? null;
    this.sink0 = si[0] ?? null;
    this.sink1 = si[1] ?? null;
  }

  // The tick's methods read the first two entries of each list from fields: at 1,000 calls each
  // array read is two more objects per list and tick (the array and its elements store), each a
  // likely cache miss, and nearly every list has at most two entries. (A list changed by an entry
  // it runs takes effect from the next frame at the latest.)

  /** Sets `frame` from the first source that has audio; silence when none. */
  pull(): void {
    const inbound = this.inbound;
    let f: Int16Array | null = null;
    const s0 = this.src0;
    if (s0 !== null) {
      f = s0.frame(inbound);
      const s1 = this.src1;
      if (f === null && s1 !== null) {
        f = s1.frame(inbound);
        const rest = this.sources;
        for (let i = 2; f === null && i < rest.length; i++) f = rest[i]!.frame(inbound);
      }
    }
    if (f !== null) {
      this.frame = f;
      this.speaking = true;
    } else {
      this.frame = SILENT_FRAME;
      this.speaking = false;
    }
  }

  /**
   * Puts the parts its tick goes to first (first two sources, first tap and sink; null where none)
   * into `out` from `m`; returns the next index (m + 4). For the engine's warm-up pass.
   */
  partsInto(out: (FrameSource | FrameSink | null)[], m: number): number {
    out[m] = this.src0;
    out[m + 1] = this.src1;
    out[m + 2] = this.tap0;
    out[m + 3] = this.sink0;
    return m + 4;
  }

  /** Runs the taps on this tick's inbound frame. */
  tap(): void {
    writeAll(this.tap0, this.tap1, this.taps, this.frame, !this.speaking);
  }

  /** Gives the sinks what the participant hears this tick. */
  hear(frame: Int16Array, silent: boolean): void {
    writeAll(this.sink0, this.sink1, this.sinks, frame, silent);
  }
}

/** Writes the frame to a list's sinks: its first two from the leg's fields, any others from the list. */
function writeAll(first: FrameSink | null, second: FrameSink | null, list: readonly FrameSink[], frame: Int16Array, silent: boolean): void {
  if (first === null) return;
  first.write(frame, silent);
  if (second === null) return;
  second.write(frame, silent);
  for (let i = 2; i < list.length; i++) list[i]!.write(frame, silent);
}

/** Removes `x` from `list`; false if it was not there. */
export function remove<T>(list: T[], x: T): boolean {
  const i = list.indexOf(x);
  if (i < 0) return false;
  list.splice(i, 1);
  return true;
}
