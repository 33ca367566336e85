// What virtual users heard, call by call (downloadable through the simulator). It is audio in
// memory, 32 KB a second of call, so it is bounded twice: a user keeps its 10 most recent calls'
// (an older one is dropped, recording or not), and all users together keep at most a budget of
// blocks (when a recording needs a block beyond it, the oldest kept call's audio goes first). A
// load test of 1,000 virtual callers in two-minute calls would otherwise hold 3.8 GB.
import type { FrameSink } from '../../media/MediaFormat.ts';
import type { MediaLeg } from '../../media/MediaLeg.ts';
import { Recorder, RECORDER_BLOCK_BYTES, type RecorderBudget } from '../../media/Recorder.ts';

/** Ears are kept for this many of a user's most recent calls. */
export const EARS_KEPT_PER_USER = 10;

interface Kept {
  userId: string;
  recorder: Recorder;
  /** The leg it listens on while the call lasts. */
  leg: MediaLeg;
}

export class VirtualEars implements RecorderBudget {
  /** By participant id, oldest first (a Map keeps insertion order). */
  private readonly kept = new Map<string, Kept>();
  /** Each user's participant ids with audio kept, oldest first. */
  private readonly byUser = new Map<string, string[]>();
  /** Blocks the kept recorders hold. */
  private blocks = 0;
  private readonly maxBlocks: number;

  constructor(
    private readonly maxFrames: number,
    maxBytes: number,
  ) {
    this.maxBlocks = Math.floor(maxBytes / RECORDER_BLOCK_BYTES);
  }

  /** Starts keeping what participant `participantId` of user `userId` hears on `leg`. */
  listen(userId: string, participantId: string, leg: MediaLeg): void {
    if (this.maxFrames <= 0 || this.maxBlocks <= 0) return;
    this.drop(participantId); // (attached again: what it hears from now on)
    const recorder = new Recorder(this.maxFrames, this);
    leg.addSink(recorder);
    this.kept.set(participantId, { userId, recorder, leg });
    let mine = this.byUser.get(userId);
    if (!mine) this.byUser.set(userId, (mine = []));
    mine.push(participantId);
    while (mine.length > EARS_KEPT_PER_USER) this.drop(mine[0]!);
  }

  /** What the participant heard, or null when it is not kept. */
  heard(participantId: string): Int16Array | null {
    return this.kept.get(participantId)?.recorder.samples() ?? null;
  }

  /** Memory held now, bytes (for tests and the operator). */
  get bytes(): number {
    return this.blocks * RECORDER_BLOCK_BYTES;
  }

  /** RecorderBudget: a kept recorder needs one more block; the oldest others make room if need be. */
  take(r: Recorder): boolean {
    while (this.blocks >= this.maxBlocks) {
      let oldest: string | null = null;
      for (const [id, k] of this.kept) {
        if (k.recorder !== r) {
          oldest = id;
          break;
        }
      }
      if (oldest === null) return false; // (it alone fills the budget: it stops here)
      this.drop(oldest);
    }
    this.blocks++;
    return true;
  }

  /** RecorderBudget: a recorder gave its blocks back. */
  give(blocks: number): void {
    this.blocks -= blocks;
  }

  /** Forgets a participant's audio: its recorder leaves its leg (if the call goes on) and gives its blocks back. */
  private drop(participantId: string): void {
    const k = this.kept.get(participantId);
    if (!k) return;
    this.kept.delete(participantId);
    const mine = this.byUser.get(k.userId)!;
    mine.splice(mine.indexOf(participantId), 1);
    if (mine.length === 0) this.byUser.delete(k.userId);
    k.leg.removeSink(k.recorder as FrameSink);
    k.recorder.release();
  }
}
