// The media engine: one 20 ms clock per process drives every call's MediaSession. The clock keeps
// its own schedule (no drift); a tick that starts late is counted, and the missed frames are still
// processed (up to a bound, beyond which they are counted as skipped and logged), never dropped silently.
// A session whose tick throws is counted and logged, and the others go on: one call's fault must not
// stop the clock (the error would escape the timer and end the process, with every call in it).
import type { Logger } from 'pino';
import { FRAME_MS, type FrameSink, type FrameSource } from './MediaFormat.ts';
import type { MediaLeg } from './MediaLeg.ts';
import { MediaSession } from './MediaSession.ts';

const STAT_WINDOW = 3000; // the last minute of ticks
const MAX_CATCH_UP = 5; // frames processed back to back after a stall before skipping ahead
/** Sessions warmed up together (see tick()). */
const WARM_GROUP = 16;

export interface EngineStats {
  ticks: number;
  lateTicks: number;
  skippedFrames: number;
  /** Session ticks that threw (each logged, at most one log line per 5 s). */
  sessionErrors: number;
  sessions: number;
  legs: number;
  tickMs: { p50: number; p99: number; max: number };
}

export class MediaEngine {
  private readonly sessions: MediaSession[] = [];
  private timer: NodeJS.Timeout | null = null;
  private nextAt = 0;
  private ticks = 0;
  private lateTicks = 0;
  private skippedFrames = 0;
  private readonly durations = new Float64Array(STAT_WINDOW);
  private lastLateLog = -Infinity; // (not 0: performance.now() starts at the process's start, and a stall in its first 5 s went unlogged)
  private sessionErrors = 0;
  private lastErrorLog = -Infinity;
  private readonly onTimer = () => this.run();
  // the warm-up pass's lists (preallocated; cleared after each tick)
  private readonly warmLegs: (MediaLeg | null)[] = new Array<MediaLeg | null>(2 * WARM_GROUP).fill(null);
  private readonly warmParts: (FrameSource | FrameSink | null)[] = new Array<FrameSource | FrameSink | null>(8 * WARM_GROUP).fill(null);
  /** What the warm-up pass read (kept, so that its reads are not optimised away). */
  private warmed = 0;

  constructor(private readonly log: Logger | null = null) {}

  createSession(id: string): MediaSession {
    const s = new MediaSession(id);
    this.sessions.push(s);
    return s;
  }

  closeSession(s: MediaSession): void {
    s.closed = true;
    for (const leg of s.legs) leg.close();
    const i = this.sessions.indexOf(s);
    if (i >= 0) this.sessions.splice(i, 1);
  }

  get sessionCount(): number {
    return this.sessions.length;
  }

  /** Starts the real-time clock. Tests and benchmarks may instead call tick() themselves. */
  start(): void {
    if (this.timer) return;
    this.nextAt = performance.now() + FRAME_MS;
    this.timer = setTimeout(this.onTimer, FRAME_MS);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  private run(): void {
    let now = performance.now();
    let due = Math.floor((now - this.nextAt) / FRAME_MS) + 1;
    if (due > 1) {
      this.lateTicks++;
      const lateByMs = Math.round(now - this.nextAt); // (before any skip moves nextAt)
      if (due > MAX_CATCH_UP) {
        const skip = due - MAX_CATCH_UP;
        this.skippedFrames += skip;
        this.nextAt += skip * FRAME_MS;
        due = MAX_CATCH_UP;
      }
      if (now - this.lastLateLog > 5000) {
        this.lastLateLog = now;
        this.log?.warn({ lateByMs, lateTicks: this.lateTicks, skippedFrames: this.skippedFrames }, 'media clock: tick late');
      }
    }
    for (let i = 0; i < due; i++) {
      this.tick();
      this.nextAt += FRAME_MS;
    }
    now = performance.now();
    this.timer = setTimeout(this.onTimer, Math.max(0, this.nextAt - now));
  }

  /**
   * Processes one frame of every session.
   *
   * Sessions go in groups, each warmed up first: at 1,000 calls most objects a call's tick reads
   * are not in the caches, and read call by call each miss waits for the one before (a call's
   * chain of objects is read in order). The warm-up pass reads the group's sessions, then their
   * legs, then the legs' first sources, tap and sink (each asked for what it reads first): the
   * reads at each step are independent, so the memory serves them together. About 3 % off the
   * IVR bench's tick, more when the host is busy (bench/media/README.md).
   */
  tick(): void {
    const t0 = performance.now();
    const sessions = this.sessions;
    const n = sessions.length;
    const legs = this.warmLegs, parts = this.warmParts;
    let warmed = 0;
    for (let i = 0; i < n; i += WARM_GROUP) {
      const end = Math.min(n, i + WARM_GROUP);
      let j = 0;
      for (let k = i; k < end; k++) j = sessions[k]!.legsInto(legs, j);
      let m = 0;
      for (let q = 0; q < j; q++) m = legs[q]!.partsInto(parts, m);
      for (let r = 0; r < m; r++) {
        const p = parts[r];
        if (p != null && p.warm !== undefined) warmed += p.warm();
      }
      for (let k = i; k < end; k++) {
        const s = sessions[k]!;
        try {
          s.tick();
        } catch (err) {
          this.failed(s, err);
        }
      }
    }
    this.warmed = warmed;
    legs.fill(null);
    parts.fill(null);
    this.durations[this.ticks % STAT_WINDOW] = performance.now() - t0;
    this.ticks++;
  }

  /** A session's tick threw: counted, logged (rate-limited); the session stays, and ticks again next frame. */
  private failed(s: MediaSession, err: unknown): void {
    this.sessionErrors++;
    const now = performance.now();
    if (now - this.lastErrorLog < 5000) return;
    this.lastErrorLog = now;
    this.log?.error({ err, session: s.id, sessionErrors: this.sessionErrors }, 'media session tick failed');
  }

  /** Ticks run so far (stats().ticks without the rest: stats() sorts the last minute's durations). */
  get tickCount(): number {
    return this.ticks;
  }

  stats(): EngineStats {
    const n = Math.min(this.ticks, STAT_WINDOW);
    const sorted = this.durations.slice(0, n).sort(); // (a typed array sorts by value)
    const q = (p: number) => (n ? sorted[Math.min(n - 1, Math.floor(p * n))]! : 0);
    let legs = 0;
    for (const s of this.sessions) legs += s.legs.length;
    return {
      ticks: this.ticks,
      lateTicks: this.lateTicks,
      skippedFrames: this.skippedFrames,
      sessionErrors: this.sessionErrors,
      sessions: this.sessions.length,
      legs,
      tickMs: { p50: q(0.5), p99: q(0.99), max: n ? sorted[n - 1]! : 0 },
    };
  }
}
