// The media side of calls: gives every connected participant a leg in its call's MediaSession,
// listens for DTMF on the legs of people (in band), and runs an application's service-hosted media
// operations (playPrompt, recordResponse, sendDtmfTones, cancelMediaProcessing) one after the other.
import type { Logger } from 'pino';
import type { AppLeg } from './AppLeg.ts';
import type { Call } from './Call.ts';
import { CallError, type CallService } from './CallService.ts';
import { toneFromKey, type Tone, type ResultInfo } from './CallTypes.ts';
import type { Operation } from './Operation.ts';
import type { Participant } from './Participant.ts';
import { Results } from './ResultCodes.ts';
import type { MediaEngine } from '../media/MediaEngine.ts';
import type { MediaSession } from '../media/MediaSession.ts';
import type { MediaLeg } from '../media/MediaLeg.ts';
import { FRAME_MS, msToFrames, type FrameSink } from '../media/MediaFormat.ts';
import { Player, type PlayItem } from '../media/Player.ts';
import { Recorder } from '../media/Recorder.ts';
import { RECORD_BEEP } from '../media/Tones.ts';
import { DtmfListener } from '../media/dtmf/DtmfListener.ts';
import { Ear } from '../media/Ear.ts';
import type { ReservedRecording, ResponseRecordings } from '../media/ResponseRecordings.ts';

/** Decides, frame by frame, whether someone is speaking (see media/vad). */
export interface SpeechGate {
  /** `silent`: the caller knows the frame is all zero (it need not look). */
  process(frame: Int16Array, silent?: boolean): boolean;
  reset(): void;
  /** Starts a new recording while keeping what was learnt about the line's noise. */
  restart(): void;
  /** Whether speech was heard since the last restart (a burst later judged to be noise is withdrawn). */
  readonly speechSeen: boolean;
  /** Milliseconds since speech was last heard (after hangover smoothing, measured from the speech itself). */
  readonly silenceMs: number;
  /** Optional: see FrameSource.warm (media/MediaFormat). */
  warm?(): number;
  /** Optional: its leg has gone; it gives back what it holds (see SpeechDetector.release). */
  release?(): void;
}

/**
 * Where prompts come from (media/prompts/PromptStore). `scope` is the application asking (see
 * promptScope): a resourceId names a prompt within it, never another tenant's or application's.
 */
export interface PromptSource {
  get(media: { uri: string; resourceId?: string | null }, scope: string): Promise<Int16Array>;
  prefetch(list: { uri: string; resourceId?: string | null }[], scope: string): void;
}

/** The prompts' scope of an application's leg: its tenant and application. */
export function promptScope(leg: AppLeg): string {
  return `${leg.tenantId}/${leg.app.appId}`;
}

export interface MediaPrompt {
  uri: string;
  resourceId?: string | null;
  /** How many times to play it (1 when absent). */
  loop?: number;
}

export interface RecordParams {
  prompt: MediaPrompt | null;
  bargeInAllowed: boolean;
  initialSilenceTimeoutSeconds: number;
  maxSilenceTimeoutSeconds: number;
  maxRecordDurationSeconds: number;
  playBeep: boolean;
  stopTones: Tone[];
  clientContext: string | null;
}

/** How a prompt is played (ACS play): to whom, how often, and whether it interrupts the queue. */
export interface PlayOptions {
  /** Only these participants hear it (each through its Ear); absent or null: everyone (the application's voice). */
  listeners?: Participant[] | null;
  /** Loop the prompts until the operation is cancelled. */
  forever?: boolean;
  /** Cancel whatever the leg has running or queued first. */
  bargeIn?: boolean;
}

/** DTMF collection (ACS recognize with DTMF input). */
export interface RecognizeParams {
  /** Whose keys are collected. */
  target: Participant;
  /** Played to the target first; collection (and the initial silence timer) starts when they end. */
  prompts: MediaPrompt[];
  /** A key during the prompt stops it and counts; otherwise keys during the prompt are ignored. */
  interruptPrompt: boolean;
  initialSilenceTimeoutSeconds: number;
  interToneTimeoutSeconds: number;
  maxTones: number;
  stopTones: Tone[];
  clientContext: string | null;
  /** Cancel whatever the leg has running or queued first. */
  bargeIn: boolean;
}

/** Told when a participant's leg joins or leaves its call's MediaSession, and when a call's media ends (before its legs go). */
export interface LegObserver {
  legAttached?(p: Participant, leg: MediaLeg): void;
  legDetached?(p: Participant, leg: MediaLeg): void;
  callEnded?(call: Call): void;
}

/** DTMF tone timing for sendDtmfTones (ITU-T Q.23/Q.24: at least 40 ms on, 40 ms off). */
export const DTMF_TONE_MS = 100;
export const DTMF_DEFAULT_GAP_MS = 100;

interface Party {
  leg: MediaLeg;
  /** The voice of an application (prompts, beeps, DTMF) or of a virtual user. */
  voice: Player;
  detector: DtmfListener | null;
  /** Its recordResponse jobs' speech detector (made by the first; one job runs at a time per leg). */
  gate: SpeechGate | null;
}

/** One queued media operation of an application's leg. */
interface MediaJob {
  op: Operation;
  kind: 'play' | 'record' | 'dtmf' | 'recognize';
  start(): void;
  /** Set by startHead(): a job starts once, however many starts were scheduled for its queue. */
  started?: boolean;
  /** Stops it (running or queued) as cancelled. */
  cancel(): void;
  /** For record and recognize jobs: a tone was pressed by someone else in the call. */
  tone?(tone: Tone, from: Participant): void;
  /** For jobs aimed at one participant: a participant left the call (its audio is gone already). */
  left?(p: Participant): void;
}

export class CallMedia {
  private readonly sessions = new Map<Call, MediaSession>();
  private readonly legObservers: LegObserver[] = [];
  private readonly parties = new Map<Participant, Party>();
  private readonly queues = new Map<AppLeg, MediaJob[]>();
  /** Participants' Ears (made on first private audio or hold). */
  private readonly ears = new Map<Participant, Ear>();

  constructor(
    private readonly engine: MediaEngine,
    private readonly calls: CallService,
    private readonly prompts: PromptSource,
    private readonly recordings: ResponseRecordings,
    private readonly speechGate: () => SpeechGate,
    private readonly log: Logger,
  ) {}

  // ------------------------------------------------------------------ legs

  /** The participant is connected: it gets a leg (and, for a person, a DTMF listener). */
  attach(p: Participant): MediaLeg {
    const existing = this.parties.get(p);
    if (existing) return existing.leg;
    let session = this.sessions.get(p.call);
    if (!session) {
      session = this.engine.createSession(p.call.id);
      this.sessions.set(p.call, session);
      if (!this.engine.running) this.engine.start();
    }
    const leg = session.addLeg(p.id);
    const voice = new Player();
    leg.addSource(voice);
    let detector: DtmfListener | null = null;
    if (p.endpoint.kind !== 'app') {
      // Applications' audio is Telegraph's own: only people's audio is listened to for digits.
      detector = new DtmfListener((key) => {
        const tone = toneFromKey(key);
        if (tone) setImmediate(() => this.tonePressed(p, tone));
      });
      leg.addTap(detector);
    }
    leg.muted = p.serverMuted || (p.endpoint.kind === 'app' && p.isMuted);
    this.parties.set(p, { leg, voice, detector, gate: null });
    for (const o of this.legObservers) o.legAttached?.(p, leg);
    return leg;
  }

  /** Observers of legs coming and going and of calls' media ending (call recording follows calls this way). Returns an unsubscribe. */
  observeLegs(o: LegObserver): () => void {
    this.legObservers.push(o);
    return () => {
      const i = this.legObservers.indexOf(o);
      if (i >= 0) this.legObservers.splice(i, 1);
    };
  }

  /** The call's MediaSession, while anyone in it has a leg. */
  sessionOf(call: Call): MediaSession | null {
    return this.sessions.get(call) ?? null;
  }

  voiceOf(p: Participant): Player | null {
    return this.parties.get(p)?.voice ?? null;
  }

  legOf(p: Participant): MediaLeg | null {
    return this.parties.get(p)?.leg ?? null;
  }

  setMuted(p: Participant, muted: boolean): void {
    const party = this.parties.get(p);
    if (party) party.leg.muted = muted || p.isOnHold;
  }

  /** The participant's Ear: what it alone hears. Null when it has no audio leg. */
  private ear(p: Participant): Ear | null {
    const party = this.parties.get(p);
    if (!party) return null;
    let ear = this.ears.get(p);
    if (!ear) this.ears.set(p, (ear = new Ear(party.leg)));
    return ear;
  }

  private readonly holdMusic = new Map<Participant, PlayItem>();

  /**
   * Hold: the participant hears silence (or `music`, looped, a prompt of the application of leg
   * `by`, which holds it) and is not mixed into the call; unhold undoes both.
   */
  setHeld(p: Participant, held: boolean, music: MediaPrompt | null, by: AppLeg): void {
    const party = this.parties.get(p);
    const ear = this.ear(p);
    if (!party || !ear) return;
    ear.held = held;
    party.leg.muted = held || p.serverMuted || (p.endpoint.kind === 'app' && p.isMuted);
    const playing = this.holdMusic.get(p);
    if (playing) {
      this.holdMusic.delete(p);
      ear.player.cancel(playing);
    }
    if (!held || !music) return;
    this.prompts.get(music, promptScope(by)).then(
      (samples) => {
        if (!p.isOnHold || !ear.held || this.holdMusic.has(p) || !this.parties.has(p)) return;
        const item: PlayItem = { kind: 'buffer', samples, loop: true };
        this.holdMusic.set(p, item);
        ear.player.enqueue(item);
      },
      (err: Error) => this.log.warn({ err: err.message, participant: p.id }, 'hold music could not be played: the participant hears silence'),
    );
  }

  /** The participant left: its operations end, its leg goes. */
  detach(p: Participant): void {
    const party = this.parties.get(p);
    if (!party) return;
    this.parties.delete(p);
    for (const o of this.legObservers) o.legDetached?.(p, party.leg);
    if (p.endpoint.kind === 'app') {
      this.cancelAll(p.endpoint.leg);
      // Its recordResponse recordings (those just cut short too) expire after the retention: the
      // application's call has ended, whether or not the others stay in theirs.
      this.recordings.callEnded(p.endpoint.leg.id);
    }
    party.voice.cancelAll();
    // (its kernel slot, now: left to the collector, kernel memory piles up as calls come and go;
    // the DTMF listener's goes with the leg, see MediaLeg.close)
    party.gate?.release?.();
    this.ears.get(p)?.player.cancelAll();
    this.ears.delete(p);
    this.holdMusic.delete(p);
    // A running job aimed at this participant ends now: it would wait for its audio for ever, and
    // the jobs queued behind it with it.
    for (const other of p.call.participants.values()) {
      if (other.endpoint.kind === 'app') this.queues.get(other.endpoint.leg)?.[0]?.left?.(p);
    }
    const session = this.sessions.get(p.call);
    if (!session) return;
    session.removeLeg(party.leg);
    if (session.legs.length === 0) this.closeSession(p.call);
  }

  callEnded(call: Call): void {
    for (const o of [...this.legObservers]) o.callEnded?.(call);
    for (const p of call.participants.values()) this.detach(p); // (each application's recordings expire from here)
    this.closeSession(call);
  }

  private closeSession(call: Call): void {
    const s = this.sessions.get(call);
    if (!s) return;
    this.sessions.delete(call);
    this.engine.closeSession(s);
    if (this.engine.sessionCount === 0) this.engine.stop();
  }

  private tonePressed(p: Participant, tone: Tone): void {
    if (!p.connected) return;
    this.calls.tonePressed(p, tone);
    for (const other of p.call.participants.values()) {
      if (other === p || other.endpoint.kind !== 'app') continue;
      const job = this.queues.get(other.endpoint.leg)?.[0];
      job?.tone?.(tone, p);
    }
  }

  prefetch(leg: AppLeg, list: { uri: string; resourceId?: string | null }[]): void {
    this.prompts.prefetch(list, promptScope(leg));
  }

  // ------------------------------------------------------------------ the operation queue

  private enqueue(leg: AppLeg, job: MediaJob, bargeIn = false): Operation {
    let q = this.queues.get(leg);
    if (!q) this.queues.set(leg, (q = []));
    if (bargeIn) for (const j of q.splice(0)) j.cancel();
    // Cancelling the last job drops the emptied queue from the map (finish): put it back.
    this.queues.set(leg, q);
    q.push(job);
    if (q.length === 1) setImmediate(() => this.startHead(leg));
    return job.op;
  }

  private startHead(leg: AppLeg): void {
    const job = this.queues.get(leg)?.[0];
    // Two starts can be pending for one head: the queue emptied and refilled in the same turn
    // (cancelMediaProcessing then a new operation, or a barge-in as the head ended) schedules one
    // for the new head while the old head's end scheduled another.
    if (!job || job.op.done || job.started) return;
    job.started = true;
    job.start();
  }

  /** Ends a job and starts the next one. */
  private finish(leg: AppLeg, job: MediaJob, status: 'completed' | 'failed', result: ResultInfo, reason: string): void {
    if (job.op.done) return;
    const q = this.queues.get(leg);
    if (q) {
      const i = q.indexOf(job);
      if (i >= 0) q.splice(i, 1);
      if (i === 0 && q.length > 0) setImmediate(() => this.startHead(leg));
      if (q.length === 0) this.queues.delete(leg);
    }
    this.calls.completeOperation(leg, job.op, status, result, reason);
  }

  private cancelAll(leg: AppLeg): void {
    const q = this.queues.get(leg);
    if (!q) return;
    for (const j of [...q]) j.cancel();
    this.queues.delete(leg);
  }

  private voice(leg: AppLeg): Player {
    const v = this.parties.get(leg.participant)?.voice;
    // Only a connected participant has audio; say so instead of failing with a 500.
    if (!v) throw new CallError(409, 'Conflict', `The call ${leg.id} has no audio yet (state ${leg.state}): media actions need the application to be connected.`);
    return v;
  }

  // ------------------------------------------------------------------ operations

  playPrompt(leg: AppLeg, prompts: MediaPrompt[], clientContext: string | null, options: PlayOptions = {}): Operation {
    const op = this.calls.newOperation(leg, 'playPrompt', clientContext);
    const placed: { player: Player; item: PlayItem }[] = [];
    let cancelled = false;
    const job: MediaJob = {
      op,
      kind: 'play',
      start: () => {
        const fetches = prompts.map((p, i) => this.prompts.get(p, promptScope(leg)).catch((err: Error) => Promise.reject(Object.assign(new Error(err.message), { promptIndex: i }))));
        void Promise.all(fetches).then(
          (buffers) => {
            if (cancelled || op.done) return;
            // Who hears it: everyone (the application's voice) or the chosen participants (their Ears).
            const players = options.listeners
              ? options.listeners.map((l) => this.ear(l)?.player).filter((x): x is Player => x !== undefined)
              : [this.voice(leg)];
            if (players.length === 0) {
              this.finish(leg, job, 'failed', Results.promptFailed('none of the participants to play to is in the call any more.'), 'unknown');
              return;
            }
            let pending = players.length;
            const listenerDone = (ok: boolean) => {
              if (cancelled || op.done) return;
              // A listener that left (its queue dropped) counts as done; the job's own cancel sets `cancelled` first.
              if (!ok && !options.listeners) return;
              if (--pending === 0) this.finish(leg, job, 'completed', Results.success(), 'completedSuccessfully');
            };
            for (const player of players) {
              if (options.forever) {
                // Looped until cancelled: one buffer of the whole sequence, repeated by the player.
                const samples = buffers.length === 1 ? buffers[0]! : concat(buffers);
                const item: PlayItem = { kind: 'buffer', samples, loop: true };
                placed.push({ player, item });
                player.enqueue(item);
                continue;
              }
              const last = buffers.length - 1;
              buffers.forEach((samples, i) => {
                const times = Math.max(1, prompts[i]!.loop ?? 1);
                for (let t = 0; t < times; t++) {
                  const isLast = i === last && t === times - 1;
                  const item: PlayItem = { kind: 'buffer', samples, onDone: isLast ? listenerDone : undefined };
                  placed.push({ player, item });
                  player.enqueue(item);
                }
              });
            }
            this.calls.operationStarted(leg, op);
          },
          (err: Error & { promptIndex?: number }) => {
            if (cancelled || op.done) return;
            op.details.failedPromptIndex = err.promptIndex ?? 0;
            this.finish(leg, job, 'failed', Results.promptFailed(err.message), 'unknown');
          },
        );
      },
      cancel: () => {
        cancelled = true;
        for (const { player, item } of placed) player.cancel(item);
        this.finish(leg, job, 'failed', Results.operationCanceled(), 'mediaOperationCanceled');
      },
    };
    return this.enqueue(leg, job, options.bargeIn ?? false);
  }

  /** Sends DTMF tones in the application's voice (everyone hears them), or to one participant only (`to`). */
  sendDtmfTones(leg: AppLeg, tones: Tone[], delayBetweenTonesMs: number, clientContext: string | null, to: Participant | null = null): Operation {
    const op = this.calls.newOperation(leg, 'sendDtmfTones', clientContext);
    const keys = tones.map(keyOfTone).join('');
    let item: PlayItem | null = null;
    let player: Player | null = null;
    const job: MediaJob = {
      op,
      kind: 'dtmf',
      start: () => {
        item = {
          kind: 'dtmf', keys, toneMs: DTMF_TONE_MS, gapMs: delayBetweenTonesMs,
          onDone: (ok) => {
            if (ok) this.finish(leg, job, 'completed', Results.success(), 'completedSuccessfully');
          },
        };
        player = to ? (this.ear(to)?.player ?? null) : this.voice(leg);
        if (!player) {
          this.finish(leg, job, 'failed', { code: 400, subcode: 8509, message: 'The participant to send the tones to has no audio in this call.' }, 'unknown');
          return;
        }
        player.enqueue(item);
      },
      left: (p) => {
        if (p !== to || op.done) return;
        if (item && player) player.cancel(item);
        this.finish(leg, job, 'failed', { code: 400, subcode: 8509, message: 'The participant the tones were sent to left the call.' }, 'unknown');
      },
      cancel: () => {
        if (item && player) player.cancel(item);
        // Seed 002 shows a cancelled sendDtmfTones as status completed with reason mediaOperationCanceled.
        this.finish(leg, job, 'completed', Results.operationCanceled(), 'mediaOperationCanceled');
      },
    };
    return this.enqueue(leg, job);
  }

  /**
   * Collects DTMF keys pressed by one participant (ACS recognize, DTMF input): after an optional
   * prompt, until maxTones keys, a stop tone, or a timeout (initial silence before the first key,
   * inter-tone silence after one). The keys are left in op.details.tones (stop tone excluded).
   */
  recognizeDtmf(leg: AppLeg, params: RecognizeParams): Operation {
    const op = this.calls.newOperation(leg, 'recognize', params.clientContext);
    const tones: Tone[] = [];
    op.details.tones = tones;
    op.details.recognitionType = 'dtmf';
    const placed: { player: Player; item: PlayItem }[] = [];
    let prompting = false;
    let collecting = false;
    let timer: NodeJS.Timeout | null = null;
    const clear = () => {
      if (timer) clearTimeout(timer);
      timer = null;
    };
    const arm = (seconds: number, result: () => ResultInfo, reason: string) => {
      clear();
      timer = setTimeout(() => end('failed', result(), reason), seconds * 1000);
      timer.unref?.();
    };
    const end = (status: 'completed' | 'failed', result: ResultInfo, reason: string) => {
      clear();
      prompting = false;
      collecting = false;
      for (const { player, item } of placed) player.cancel(item);
      this.finish(leg, job, status, result, reason);
    };
    const startCollecting = () => {
      if (op.done) return;
      prompting = false;
      collecting = true;
      arm(params.initialSilenceTimeoutSeconds, () => Results.recognizeInitialSilence(params.initialSilenceTimeoutSeconds), 'initialSilenceTimeout');
    };
    const job: MediaJob = {
      op,
      kind: 'recognize',
      start: () => {
        if (!params.target.connected) {
          this.finish(leg, job, 'failed', { code: 400, subcode: 8509, message: 'The target participant is not in the call.' }, 'unknown');
          return;
        }
        if (params.prompts.length === 0) {
          startCollecting();
          return;
        }
        prompting = true;
        void Promise.all(params.prompts.map((p) => this.prompts.get(p, promptScope(leg)))).then(
          (buffers) => {
            if (op.done || !prompting) return;
            const player = this.ear(params.target)?.player;
            if (!player) {
              end('failed', { code: 400, subcode: 8509, message: 'The target participant has no audio in this call.' }, 'unknown');
              return;
            }
            const last = buffers.length - 1;
            buffers.forEach((samples, i) => {
              const item: PlayItem = { kind: 'buffer', samples, onDone: i === last ? (ok) => { if (ok && prompting) startCollecting(); } : undefined };
              placed.push({ player, item });
              player.enqueue(item);
            });
            this.calls.operationStarted(leg, op);
          },
          (err: Error) => {
            if (op.done) return;
            end('failed', Results.recognizePromptFailed(err.message), 'playPromptFailed');
          },
        );
      },
      tone: (tone, from) => {
        if (op.done || from !== params.target) return;
        if (prompting) {
          if (!params.interruptPrompt) return;
          prompting = false;
          for (const { player, item } of placed.splice(0)) player.cancel(item);
          collecting = true;
        }
        if (!collecting) return;
        if (params.stopTones.includes(tone)) {
          end('completed', Results.recognizeStopTone(keyOfTone(tone)), 'stopToneDetected');
          return;
        }
        tones.push(tone);
        if (tones.length >= params.maxTones) {
          end('completed', Results.maxTonesReceived(params.maxTones), 'maxTonesReceived');
          return;
        }
        arm(params.interToneTimeoutSeconds, () => Results.recognizeInterToneTimeout(params.interToneTimeoutSeconds), 'interToneTimeout');
      },
      left: (p) => {
        if (p === params.target && !op.done) end('failed', { code: 400, subcode: 8509, message: 'The target participant left the call.' }, 'unknown');
      },
      cancel: () => {
        prompting = false;
        end('failed', Results.operationCanceled(), 'mediaOperationCanceled');
      },
    };
    return this.enqueue(leg, job, params.bargeIn);
  }

  record(leg: AppLeg, params: RecordParams): Operation {
    const op = this.calls.newOperation(leg, 'record', params.clientContext);
    const items: PlayItem[] = [];
    let sink: FrameSink | null = null;
    let stopped = false;

    let reserved: ReservedRecording | null = null;
    /** While a stopped recording is being written: reports its outcome at once (see job.cancel). */
    let settle: (() => void) | null = null;
    const settleNow = (): void => settle?.();

    const stopRecording = (reason: string, result: ResultInfo, recorder: Recorder | null, keepFrames?: number) => {
      if (stopped) return;
      stopped = true;
      const mediaLeg = this.parties.get(leg.participant)?.leg;
      const s = sink;
      // Sinks are not removed while the engine walks them: leave the tick first.
      setImmediate(() => { if (s && mediaLeg) mediaLeg.removeSink(s); });
      const r = reserved;
      if (!recorder || !r) {
        this.finish(leg, job, 'failed', result, reason); // (recording had not begun: nothing reserved)
        return;
      }
      // The recorder's blocks are written as they are, then go back to the pool (at 1,000 calls a
      // copy of every recording was tens of MB a second of new buffers, and a full GC every second).
      const written = this.recordings.write(r, recorder.chunks(keepFrames)).finally(() => recorder.release());
      const report = () => {
        settle = null;
        op.details.recordingLocation = r.location;
        op.details.recordingAccessToken = this.recordings.token(r.id);
        this.finish(leg, job, result.code >= 400 ? 'failed' : 'completed', result, reason);
      };
      if (reason === 'operationCanceled') {
        // Cut short, maybe by the call's end, which ends the leg in this same turn: reported now,
        // with its location, so that a message left before a hang-up is not lost. Readable once
        // written (a read waits for the write).
        report();
        written.catch((err: Error) => this.log.error({ err, recording: r.id }, 'recordResponse: could not store a recording cut short'));
        return;
      }
      // Otherwise reported once stored, so that a failure to store it is the operation's; unless
      // the call ends (or the job is cancelled) meanwhile: then at once, as it ended (settle).
      settle = report;
      written.then(
        () => { if (!op.done) report(); },
        (err: Error) => {
          this.log.error({ err, recording: r.id }, 'recordResponse: could not store the recording');
          if (!op.done) this.finish(leg, job, 'failed', { code: 500, subcode: 0, message: `The recording could not be stored: ${err.message}` }, 'unspecifiedError');
        },
      );
    };

    // A speech detector listening from the moment the job starts (during the prompt and the beep)
    // so that it already knows the line's noise when recording begins: the leg's own, reset when
    // the job starts (as good as new; a new one per job was a dozen objects each time, scattered
    // over the heap, which a tick at 1,000 calls pays for in cache misses).
    const party = this.parties.get(leg.participant);
    const gate = party ? (party.gate ??= this.speechGate()) : this.speechGate();
    const listen = new ResponseListener(
      gate,
      msToFrames(params.initialSilenceTimeoutSeconds * 1000),
      msToFrames(params.maxRecordDurationSeconds * 1000),
      params.maxSilenceTimeoutSeconds * 1000,
      (reason, recorder) => {
        const result =
          reason === 'initialSilenceTimeout' ? Results.initialSilence(params.initialSilenceTimeoutSeconds) :
          reason === 'maxSilenceTimeout' ? Results.maxSilence(params.maxSilenceTimeoutSeconds) :
          Results.maxRecordDuration(params.maxRecordDurationSeconds);
        stopRecording(reason, result, recorder);
      },
    );

    const startRecording = () => {
      if (stopped || op.done) return;
      const recorder = new Recorder(listen.maxFrames);
      reserved = this.recordings.reserve(leg.id); // (the application's own call: they expire when it ends)
      gate.restart();
      listen.recorder = recorder;
      job.tone = (tone) => {
        if (listen.done || !params.stopTones.includes(tone)) return;
        listen.done = true;
        stopRecording('stopToneDetected', Results.stopTone(tone), recorder);
      };
      job.cancel = () => {
        if (settle) return settle(); // stopped already, being written: it ended as it ended
        if (listen.ended !== null) {
          // A timer ended it in this turn, its end not yet told: it ends as it ended, not as cancelled.
          listen.endNow();
          return settleNow();
        }
        listen.done = true;
        stopRecording('operationCanceled', Results.operationCanceled(), recorder);
      };
    };

    const job: MediaJob = {
      op,
      kind: 'record',
      start: () => {
        const mediaLeg = this.parties.get(leg.participant)?.leg;
        gate.reset();
        if (mediaLeg) {
          sink = listen;
          mediaLeg.addSink(listen);
        }
        const afterPrompt = () => {
          if (stopped || op.done) return;
          if (!params.playBeep) {
            startRecording();
            return;
          }
          const beep: PlayItem = { kind: 'buffer', samples: RECORD_BEEP, onDone: (ok) => { if (ok) startRecording(); } };
          items.push(beep);
          this.voice(leg).enqueue(beep);
        };
        if (!params.prompt) {
          afterPrompt();
          return;
        }
        const prompt = params.prompt;
        this.prompts.get(prompt, promptScope(leg)).then(
          (samples) => {
            if (stopped || op.done) return;
            const times = Math.max(1, prompt.loop ?? 1);
            for (let t = 0; t < times; t++) {
              const item: PlayItem = { kind: 'buffer', samples, onDone: t === times - 1 ? (ok) => { if (ok) afterPrompt(); } : undefined };
              items.push(item);
              this.voice(leg).enqueue(item);
            }
          },
          (err: Error) => {
            if (stopped || op.done) return;
            listen.done = true;
            stopRecording('playPromptFailed', Results.promptFailed(err.message), null);
          },
        );
      },
      cancel: () => {
        listen.done = true;
        const voice = this.parties.get(leg.participant)?.voice;
        for (const item of items) voice?.cancel(item);
        stopRecording('operationCanceled', Results.operationCanceled(), null);
      },
    };
    return this.enqueue(leg, job, params.bargeInAllowed);
  }

  /** Cancels every running and queued playPrompt, recordResponse and sendDtmfTones of the leg. */
  cancelMediaProcessing(leg: AppLeg, clientContext: string | null): Operation {
    const op = this.calls.newOperation(leg, 'cancelMediaProcessing', clientContext);
    this.cancelAll(leg);
    op.status = 'completed';
    op.resultInfo = Results.success();
    return op;
  }
}

/**
 * recordResponse's sink on the leg: feeds the speech detector from the job's start, and the
 * recorder once recording begins, and ends the recording on its timers. A class rather than a
 * closure: the frame path then fetches this object and its fields, not also a function and its
 * context (at 1,000 calls, each object a frame touches is a likely cache miss).
 */
class ResponseListener implements FrameSink {
  done = false;
  /** Why a timer ended the recording (told on the next turn, or at once by endNow()). */
  ended: 'initialSilenceTimeout' | 'maxSilenceTimeout' | 'maxRecordDurationReached' | null = null;
  recorder: Recorder | null = null;
  frames = 0;

  constructor(
    private readonly gate: SpeechGate,
    private readonly initialFrames: number,
    readonly maxFrames: number,
    private readonly maxSilenceMs: number,
    /** Told once, on the next turn of the event loop, when a timer ends the recording. */
    private readonly end: (reason: 'initialSilenceTimeout' | 'maxSilenceTimeout' | 'maxRecordDurationReached', recorder: Recorder) => void,
  ) {}

  /** Tells the timer's end now (the same call the next turn makes; the later one then does nothing). */
  endNow(): void {
    if (this.ended !== null && this.recorder !== null) this.end(this.ended, this.recorder);
  }

  /** See FrameSource.warm (media/MediaFormat). */
  warm(): number {
    if (this.done) return 0; // (write() returns at once: nothing else to fetch)
    const gate = this.gate, recorder = this.recorder;
    return this.frames + (gate.warm !== undefined ? gate.warm() : 0) + (recorder !== null ? recorder.warm() : 0);
  }

  write(frame: Int16Array, silent: boolean): void {
    if (this.done) return;
    const gate = this.gate;
    gate.process(frame, silent);
    const recorder = this.recorder;
    if (recorder === null) return;
    recorder.write(frame);
    const frames = ++this.frames;
    const reason =
      !gate.speechSeen && frames >= this.initialFrames ? 'initialSilenceTimeout' :
      gate.speechSeen && gate.silenceMs >= this.maxSilenceMs ? 'maxSilenceTimeout' :
      frames >= this.maxFrames ? 'maxRecordDurationReached' : null;
    if (reason !== null) {
      this.done = true;
      this.ended = reason;
      setImmediate(this.end, reason, recorder);
    }
  }
}

/** Several buffers as one (a looped sequence). */
function concat(buffers: Int16Array[]): Int16Array {
  const out = new Int16Array(buffers.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of buffers) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** A Graph tone name as the key it sends. */
export function keyOfTone(t: Tone): string {
  if (t.startsWith('tone')) return t.slice(4);
  switch (t) {
    case 'star': return '*';
    case 'pound': return '#';
    case 'a': return 'A';
    case 'b': return 'B';
    case 'c': return 'C';
    case 'd': return 'D';
    default: throw new Error(`tone ${t} cannot be sent in band`);
  }
}

export const FRAME_DURATION_MS = FRAME_MS;
