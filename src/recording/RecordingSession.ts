/**
 * Records one MediaSession while its call goes on: ACS call recording's engine (mixed or unmixed,
 * wav or mp3, pause/resume, chunks with their metadata handed over as they complete).
 *
 * HOW IT LISTENS. Each recorded participant's leg gets a tap (what the participant says: its inbound
 * frame) and a sink. MediaSession runs every leg's taps before any leg's sinks in a tick (both in
 * the general mix and the two-party path), so the first sink call of a tick marks its end: the
 * frames the taps kept are then complete and the tick is recorded. The recording's clock is
 * therefore the session's own: one frame per tick in which at least one recorded participant's leg
 * is in the session (a call with no one in it records nothing).
 *
 * WHAT IS RECORDED. A participant's inbound audio when its leg speaks and is not server-muted (what
 * the others hear of it). Mixed: one channel, the clipped sum of everyone. Unmixed: one channel per
 * participant (the others silent on it), `channels` of them (5 for wav, 2 for mp3 by default):
 *   - audioChannelParticipantOrdering gives its participants channels 0, 1, … in order, and
 *     channelAffinity pins participants to channels; both are reserved from the start, whether or
 *     not those participants ever join or speak (disagreements are refused by the constructor);
 *   - everyone else gets the lowest free channel when first heard speaking (see SpeechDetection), and
 *     keeps it for the whole recording, across chunks, leaving and re-joining;
 *   - a participant first heard when no channel is free is not recorded; the metadata lists it
 *     (unrecordedParticipants).
 * An unmixed recording runs LOOKBACK_FRAMES (100 ms) behind the call: speech is recognised some
 * frames after it begins (≥ 3 frames for the detector's onset), and the delay lets the channel given
 * at the onset hold the speech from its first frame. stop() writes out those last frames.
 *
 * PAUSE. pause() / resume() (and pauseOnStart): paused time is absent from the output, not silence.
 * Each pause is listed (wall-clock start and end) in the metadata of the chunk in which the audio
 * goes on after it, with its offset in that chunk; a recording stopped while paused lists the last
 * pause in its last chunk, at its end. Never resumed after pauseOnStart: no audio, no chunk.
 *
 * CHUNKS. A chunk ends when it holds maxChunkSeconds of audio (ChunkMaximumTimeExceeded) or when one
 * more frame would make its file larger than maxChunkBytes (ChunkMaximumSizeExceeded), at the next
 * frame to record; the last one ends with stop() (SessionEnded). Its file is made off the media tick
 * (setImmediate) and handed to onChunk with its metadata, in order; a promise returned by onChunk is
 * awaited before the next chunk is handed over, and stop() resolves once every chunk has been.
 *
 * COST. Nothing is allocated per frame: participants' frames go into per-participant rings made
 * when they join, the output into pooled 1 s blocks (wav) or 200 ms encoder batches (mp3).
 */
import { FRAME_MS, FRAME_SAMPLES, type FrameSink } from '../media/MediaFormat.ts';
import type { MediaLeg } from '../media/MediaLeg.ts';
import type { MediaSession } from '../media/MediaSession.ts';
import { SpeechDetector } from '../media/vad/SpeechDetector.ts';
import { Mp3ChunkWriter, WavChunkWriter, type ChunkWriter } from './ChunkWriter.ts';
import {
  bitRateOf,
  resolveRecordingConfig,
  RecordingConfigError,
  type ChunkEndReason,
  type ChunkMetadata,
  type ChunkParticipant,
  type PauseInterval,
  type RecordingChannelType,
  type RecordingChunk,
  type RecordingFormatType,
  type RecordingOptions,
  type ResolvedRecordingConfig,
} from './RecordingConfig.ts';

export { RecordingConfigError } from './RecordingConfig.ts';
export type * from './RecordingConfig.ts';

/** How far an unmixed recording runs behind the call (frames): the speech detector's onset window and then some. */
export const LOOKBACK_FRAMES = 5;

const ZERO_FRAME = new Int16Array(FRAME_SAMPLES);
/** Silent frames in a row after which the speech detector is not fed more silence (1 s). */
const SILENCE_FED = 50;

export type RecordingState = 'created' | 'active' | 'paused' | 'stopped';

export interface RecordingSummary {
  recordingId: string;
  serverCallId: string;
  /** ISO 8601: when start() was called. */
  recordingStartTime: string;
  /** Audio recorded, ms (paused time excluded): the sum of the chunks' durations. */
  recordingDurationMs: number;
  sessionEndReason: string;
  channelType: RecordingChannelType;
  format: RecordingFormatType;
  channels: number;
  chunks: Array<{ index: number; documentId: string; endReason: ChunkEndReason; durationMs: number; startOffsetMs: number; bytes: number }>;
  pauseResumeIntervals: PauseInterval[];
  participants: ChunkParticipant[];
  unrecordedParticipants: string[];
  /** onChunk failures (the chunk is lost to the sink; the recording goes on). */
  sinkErrors: Array<{ index: number; error: string }>;
}

interface Pause {
  startWall: number;
  endWall: number;
  /** The first tick after the pause (set by resume() or stop()); −1 while paused. */
  resumeTick: number;
  attached: boolean;
  interval: PauseInterval | null;
}

/** A participant of the recording; the tap on its leg. Kept after it leaves (its channel stays its own). */
class Participant implements FrameSink {
  leg: MediaLeg | null = null;
  /** Unmixed channel, −1 if none (yet). */
  channel = -1;
  /** Unmixed: first heard when no channel was free. */
  unrecorded = false;
  detector: SpeechDetector | null = null;
  /** Silent frames in a row fed to the detector. */
  silentRun = 0;
  /** Unmixed: the last frames it said, by tick (ring of `ringFrames`), and which tick each slot holds. */
  readonly ring: Int16Array;
  readonly ringTick: Float64Array;

  constructor(
    readonly id: string,
    private readonly rec: RecordingSession,
    ringFrames: number,
  ) {
    this.ring = new Int16Array(ringFrames * FRAME_SAMPLES);
    this.ringTick = new Float64Array(ringFrames).fill(-1);
  }

  write(frame: Int16Array, silent: boolean): void {
    this.rec.onFrame(this, frame, silent);
  }
}

export class RecordingSession {
  readonly recordingId: string;
  readonly serverCallId: string;
  private readonly cfg: ResolvedRecordingConfig;
  private readonly mixed: boolean;
  private readonly channels: number;
  private readonly writer: ChunkWriter;
  /** Frames of delay (0 mixed, LOOKBACK_FRAMES unmixed) and ring length (delay + 1). */
  private readonly delay: number;
  private readonly ringFrames: number;

  private _state: RecordingState = 'created';
  private readonly participants = new Map<string, Participant>();
  /** Unmixed: who holds each channel (set when the participant joins: reserved or first speech). */
  private readonly owners: (Participant | null)[];
  private freeChannels: number;

  // --- per tick ---
  private tick = 0;
  private tapped = false;
  private readonly tickPaused: Uint8Array;
  private readonly tickWall: Float64Array;
  private readonly mixSum = new Int32Array(FRAME_SAMPLES);
  private readonly mixOut = new Int16Array(FRAME_SAMPLES);
  private mixAny = false;
  private readonly src: (Int16Array | null)[];
  private readonly off: Int32Array;
  private readonly endSink: FrameSink = { write: () => this.endTick() };

  // --- timeline ---
  private startWall = 0;
  private totalFrames = 0;
  private readonly pauses: Pause[] = [];
  private openPause: Pause | null = null;
  private nextUnattached = 0;

  // --- chunks ---
  private chunkOpen = false;
  private chunkIndex = 0;
  private chunkFrames = 0;
  private chunkStartWall = 0;
  private chunkStartFrames = 0;
  private chunkPauses: PauseInterval[] = [];
  private delivery: Promise<void> = Promise.resolve();
  private readonly delivered: RecordingSummary['chunks'] = [];
  private readonly sinkErrors: RecordingSummary['sinkErrors'] = [];
  private sessionEndReason: string | null = null;
  private stopping: Promise<RecordingSummary> | null = null;

  /** Checks the options (throws RecordingConfigError naming the field at fault); records nothing until start(). */
  constructor(
    readonly session: MediaSession,
    options: RecordingOptions,
  ) {
    this.cfg = resolveRecordingConfig(options);
    this.recordingId = this.cfg.recordingId;
    this.serverCallId = this.cfg.serverCallId;
    this.mixed = this.cfg.channelType === 'mixed';
    this.channels = this.cfg.channels;
    this.writer = this.cfg.format === 'mp3' ? new Mp3ChunkWriter(this.channels, this.cfg.mp3Kbps) : new WavChunkWriter(this.channels);
    const oneFrame = this.writer.fileBytes(1);
    if (oneFrame > this.cfg.maxChunkBytes) {
      this.writer.close(); // (an MP3 writer holds an encoder on its thread)
      throw new RecordingConfigError('maxChunkBytes', `${this.cfg.maxChunkBytes} bytes cannot hold one ${FRAME_MS} ms frame (${oneFrame} bytes as a ${this.cfg.format} file)`);
    }
    this.delay = this.mixed ? 0 : LOOKBACK_FRAMES;
    this.ringFrames = this.delay + 1;
    this.tickPaused = new Uint8Array(this.ringFrames);
    this.tickWall = new Float64Array(this.ringFrames);
    this.owners = new Array<Participant | null>(this.channels).fill(null);
    this.freeChannels = this.mixed ? 0 : this.cfg.reserved.filter((r) => r === null).length;
    this.src = new Array<Int16Array | null>(this.channels).fill(null);
    this.off = new Int32Array(this.channels);
  }

  get state(): RecordingState {
    return this._state;
  }

  /** Audio recorded so far, ms (written to chunks; an unmixed recording's last 100 ms come at stop()). */
  get recordedMs(): number {
    return this.totalFrames * FRAME_MS;
  }

  /** The participant's channel (unmixed), or −1: none yet, or not recorded. */
  channelOf(participantId: string): number {
    return this.participants.get(participantId)?.channel ?? -1;
  }

  /**
   * Starts recording (paused with pauseOnStart). `participants` are attached at once; without it,
   * every leg now in the session is, each under its leg id.
   */
  start(participants?: Iterable<{ participantId: string; leg: MediaLeg }>): void {
    if (this._state !== 'created') throw new Error(`recording ${this.recordingId} already started`);
    this._state = this.cfg.pauseOnStart ? 'paused' : 'active';
    this.startWall = this.cfg.now();
    if (this.cfg.pauseOnStart) this.beginPause(this.startWall);
    const list = participants ? [...participants] : this.session.legs.map((leg) => ({ participantId: leg.id, leg }));
    for (const { participantId, leg } of list) this.addParticipant(participantId, leg);
  }

  /** Records a participant's leg from the next tick on (a participant re-joining keeps its channel). */
  addParticipant(participantId: string, leg: MediaLeg): void {
    if (this._state === 'created' || this._state === 'stopped') throw new Error(`recording ${this.recordingId} is ${this._state === 'created' ? 'not started' : 'stopped'}`);
    if (typeof participantId !== 'string' || participantId === '') throw new TypeError('participantId must be a non-empty string');
    if (!this.session.legs.includes(leg)) throw new Error(`leg ${leg.id} is not in media session ${this.session.id}`);
    for (const q of this.participants.values()) {
      if (q.leg === leg) throw new Error(`leg ${leg.id} is already recorded as participant ${q.id}`);
    }
    let p = this.participants.get(participantId);
    // A leg the session has dropped (removeLeg) without removeParticipant: the participant left.
    if (p?.leg?.closed) this.detach(p);
    if (p?.leg) throw new Error(`participant ${participantId} is already recorded (leg ${p.leg.id})`);
    if (!p) {
      p = new Participant(participantId, this, this.mixed ? 0 : this.ringFrames);
      this.participants.set(participantId, p);
      if (!this.mixed) {
        const c = this.cfg.reserved.indexOf(participantId);
        if (c >= 0) {
          p.channel = c;
          this.owners[c] = p;
        }
      }
    }
    p.leg = leg;
    leg.addTap(p);
    leg.addSink(this.endSink);
  }

  /** Stops recording a participant (it left); its channel stays its own. */
  removeParticipant(participantId: string): void {
    const p = this.participants.get(participantId);
    if (!p?.leg) return;
    this.detach(p);
  }

  private detach(p: Participant): void {
    const leg = p.leg!;
    leg.removeTap(p);
    leg.removeSink(this.endSink);
    p.leg = null;
    this.dropDetector(p);
  }

  /** Its speech detector is no longer needed (made again if it is): its kernel slot goes back now. */
  private dropDetector(p: Participant): void {
    p.detector?.release();
    p.detector = null;
  }

  pause(): void {
    if (this._state !== 'active') return;
    this._state = 'paused';
    this.beginPause(this.cfg.now());
  }

  resume(): void {
    if (this._state !== 'paused') return;
    this._state = 'active';
    this.endPause(this.cfg.now());
  }

  private beginPause(wall: number): void {
    const pause: Pause = { startWall: wall, endWall: -1, resumeTick: -1, attached: false, interval: null };
    this.pauses.push(pause);
    this.openPause = pause;
  }

  private endPause(wall: number): void {
    const p = this.openPause!;
    p.endWall = wall;
    p.resumeTick = this.tick;
    this.openPause = null;
  }

  /**
   * Stops: detaches from the legs, records the frames still delayed, ends the last chunk
   * (SessionEnded) and resolves once every chunk has been handed to onChunk.
   */
  stop(reason = 'CallEnded'): Promise<RecordingSummary> {
    if (this.stopping) return this.stopping;
    if (this._state === 'created') {
      this._state = 'stopped';
      this.startWall = this.cfg.now();
      this.sessionEndReason = reason;
      this.writer.close();
      return (this.stopping = Promise.resolve(this.summary()));
    }
    this.sessionEndReason = reason;
    if (this.openPause) this.endPause(this.cfg.now());
    for (const p of this.participants.values()) if (p.leg) this.detach(p);
    // the frames still behind (unmixed): what was said before the stop
    for (let s = Math.max(0, this.tick - this.delay); s < this.tick; s++) this.emitUnmixed(s);
    this._state = 'stopped';
    if (this.chunkOpen) {
      this.attachPauses(Infinity);
      this.closeChunk('SessionEnded', true);
    }
    this.writer.close();
    return (this.stopping = this.delivery.then(() => this.summary()));
  }

  // ------------------------------------------------------------------ per frame

  /** A participant's tap: its frame of this tick. */
  onFrame(p: Participant, frame: Int16Array, silent: boolean): void {
    this.tapped = true;
    if (this._state !== 'active') return;
    // Muted: the others do not hear it, so neither does the recording.
    const quiet = silent || p.leg!.muted;
    if (this.mixed) {
      if (quiet) return;
      const sum = this.mixSum;
      if (!this.mixAny) {
        for (let i = 0; i < FRAME_SAMPLES; i++) sum[i] = frame[i]!;
        this.mixAny = true;
      } else {
        for (let i = 0; i < FRAME_SAMPLES; i++) sum[i] = sum[i]! + frame[i]!;
      }
      return;
    }
    if (p.channel >= 0) {
      if (!quiet) this.keep(p, frame);
      return;
    }
    // No channel yet: listen for the first speech.
    if (p.unrecorded) return;
    if (quiet) {
      this.hearSilence(p);
      return;
    }
    p.silentRun = 0;
    if (this.freeChannels === 0) {
      if (this.heardSpeaking(p, frame)) {
        p.unrecorded = true;
        this.dropDetector(p);
      }
      return;
    }
    this.keep(p, frame); // before the onset is known: the lookback holds it
    if (this.heardSpeaking(p, frame)) this.assign(p);
  }

  /**
   * The detector hears the line's silences too (digital silence: zeros), so that its noise floor is
   * the line's, not the first sound's (a steady sound after silence is then an onset). After
   * SILENCE_FED frames of it the detector's state no longer changes: the rest is not fed.
   */
  private hearSilence(p: Participant): void {
    if (this.cfg.speechDetection !== 'vad' || p.silentRun >= SILENCE_FED) return;
    p.silentRun++;
    (p.detector ??= new SpeechDetector()).process(ZERO_FRAME);
  }

  private keep(p: Participant, frame: Int16Array): void {
    const t = this.tick;
    const slot = t % this.ringFrames;
    p.ring.set(frame, slot * FRAME_SAMPLES);
    p.ringTick[slot] = t;
  }

  private heardSpeaking(p: Participant, frame: Int16Array): boolean {
    if (this.cfg.speechDetection === 'audio') {
      for (let i = 0; i < FRAME_SAMPLES; i++) if (frame[i] !== 0) return true;
      return false;
    }
    p.detector ??= new SpeechDetector();
    return p.detector.process(frame);
  }

  private assign(p: Participant): void {
    const reserved = this.cfg.reserved;
    for (let c = 0; c < this.channels; c++) {
      if (this.owners[c] === null && reserved[c] === null) {
        this.owners[c] = p;
        p.channel = c;
        this.dropDetector(p);
        this.freeChannels--;
        return;
      }
    }
  }

  /** The first sink call of a tick: every tap has run. */
  private endTick(): void {
    if (!this.tapped) return;
    this.tapped = false;
    const t = this.tick;
    const slot = t % this.ringFrames;
    const paused = this._state !== 'active';
    this.tickPaused[slot] = paused ? 1 : 0;
    this.tickWall[slot] = this.cfg.now();
    if (this.mixed) {
      if (!paused) {
        if (this.mixAny) {
          const sum = this.mixSum;
          const out = this.mixOut;
          for (let i = 0; i < FRAME_SAMPLES; i++) {
            const v = sum[i]!;
            out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
          }
          this.src[0] = out;
        } else {
          this.src[0] = null;
        }
        this.off[0] = 0;
        this.writeFrame(t);
      }
      this.mixAny = false;
    } else if (t >= this.delay) {
      this.emitUnmixed(t - this.delay);
    }
    this.tick = t + 1;
  }

  /** Writes tick s (≤ the current tick − 0, within the ring) of an unmixed recording, unless it was paused. */
  private emitUnmixed(s: number): void {
    if (this.mixed) return;
    const slot = s % this.ringFrames;
    if (this.tickPaused[slot]) return;
    const base = slot * FRAME_SAMPLES;
    for (let c = 0; c < this.channels; c++) {
      const p = this.owners[c];
      if (p !== null && p.ringTick[slot] === s) {
        this.src[c] = p.ring;
        this.off[c] = base;
      } else {
        this.src[c] = null;
      }
    }
    this.writeFrame(s);
  }

  private writeFrame(s: number): void {
    if (this.chunkOpen) {
      if (this.chunkFrames >= this.cfg.maxChunkFrames) this.closeChunk('ChunkMaximumTimeExceeded', false);
      else if (this.writer.fileBytes(this.chunkFrames + 1) > this.cfg.maxChunkBytes) this.closeChunk('ChunkMaximumSizeExceeded', false);
    }
    if (!this.chunkOpen) {
      this.chunkOpen = true;
      this.chunkFrames = 0;
      this.chunkStartFrames = this.totalFrames;
      this.chunkStartWall = this.tickWall[s % this.ringFrames]!;
      this.chunkPauses = [];
      this.writer.begin();
    }
    if (this.nextUnattached < this.pauses.length) this.attachPauses(s);
    this.writer.write(this.src, this.off);
    this.chunkFrames++;
    this.totalFrames++;
  }

  /** Lists in the current chunk, at its current end, the pauses that ended by tick s. */
  private attachPauses(s: number): void {
    const pauses = this.pauses;
    while (this.nextUnattached < pauses.length) {
      const p = pauses[this.nextUnattached]!;
      if (p.resumeTick < 0 || p.resumeTick > s) return;
      p.attached = true;
      p.interval = {
        startTime: iso(p.startWall),
        endTime: iso(p.endWall),
        duration: Math.max(0, Math.round(p.endWall - p.startWall)),
        offsetMs: this.chunkFrames * FRAME_MS,
        recordingOffsetMs: this.totalFrames * FRAME_MS,
      };
      this.chunkPauses.push(p.interval);
      this.nextUnattached++;
    }
  }

  // ------------------------------------------------------------------ chunks

  private closeChunk(reason: ChunkEndReason, last: boolean): void {
    const file = this.writer.end();
    const index = this.chunkIndex++;
    const documentId = this.cfg.documentId(index);
    const durationMs = file.frames * FRAME_MS;
    const startOffsetMs = this.chunkStartFrames * FRAME_MS;
    const metadata: ChunkMetadata = {
      resourceId: this.cfg.resourceId,
      callId: this.serverCallId,
      serverCallId: this.serverCallId,
      recordingId: this.recordingId,
      chunkDocumentId: documentId,
      chunkIndex: index,
      chunkCount: last ? index + 1 : null,
      isLastChunk: last,
      chunkEndReason: reason,
      chunkStartTime: iso(this.chunkStartWall),
      chunkDuration: durationMs,
      chunkStartOffsetMs: startOffsetMs,
      recordingStartTime: iso(this.startWall),
      pauseResumeIntervals: this.chunkPauses,
      recordingInfo: {
        contentType: 'audio',
        channelType: this.cfg.channelType,
        format: this.cfg.format,
        audioConfiguration: { sampleRate: 16000, bitRate: bitRateOf(this.cfg), channels: this.channels },
      },
      participants: this.participantList(),
      unrecordedParticipants: this.unrecordedList(),
      sessionEndReason: last ? this.sessionEndReason : null,
    };
    this.chunkOpen = false;
    this.chunkPauses = [];
    const format = this.cfg.format;
    const onChunk = this.cfg.onChunk;
    this.delivery = this.delivery
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(async () => {
        try {
          const bytes = await file.assemble();
          this.delivered.push({ index, documentId, endReason: reason, durationMs, startOffsetMs, bytes: bytes.length });
          const chunk: RecordingChunk = {
            recordingId: this.recordingId,
            index,
            documentId,
            endReason: reason,
            isLast: last,
            format,
            bytes,
            durationMs,
            startOffsetMs,
            metadata,
            metadataJson: JSON.stringify(metadata),
          };
          await onChunk(chunk);
        } catch (err) {
          this.sinkErrors.push({ index, error: err instanceof Error ? err.message : String(err) });
        }
      });
  }

  private participantList(): ChunkParticipant[] {
    const out: ChunkParticipant[] = [];
    if (this.mixed) {
      for (const p of this.participants.values()) out.push({ participantId: p.id, channel: 0 });
    } else {
      this.owners.forEach((p, channel) => {
        if (p) out.push({ participantId: p.id, channel });
      });
    }
    return out;
  }

  private unrecordedList(): string[] {
    const out: string[] = [];
    for (const p of this.participants.values()) if (p.unrecorded) out.push(p.id);
    return out;
  }

  private summary(): RecordingSummary {
    return {
      recordingId: this.recordingId,
      serverCallId: this.serverCallId,
      recordingStartTime: iso(this.startWall),
      recordingDurationMs: this.totalFrames * FRAME_MS,
      sessionEndReason: this.sessionEndReason ?? 'CallEnded',
      channelType: this.cfg.channelType,
      format: this.cfg.format,
      channels: this.channels,
      chunks: this.delivered.slice(),
      pauseResumeIntervals: this.pauses.map(
        (p) =>
          p.interval ?? {
            startTime: iso(p.startWall),
            endTime: iso(p.endWall),
            duration: Math.max(0, Math.round(p.endWall - p.startWall)),
            offsetMs: 0,
            recordingOffsetMs: this.totalFrames * FRAME_MS,
          },
      ),
      participants: this.participantList(),
      unrecordedParticipants: this.unrecordedList(),
      sinkErrors: this.sinkErrors.slice(),
    };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
