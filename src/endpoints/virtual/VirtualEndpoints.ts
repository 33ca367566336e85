// The virtual endpoint driver: directory users whose endpoint is `virtual` are scripted callers.
// Each behaves as configured (answer after N ms, reject busy, never answer, be unreachable) or is
// driven through the simulator API, and keeps the list of its calls and of what it observed.
import type { CallService, EndpointDriver } from '../../calls/CallService.ts';
import { toneFromKey, type Identity, type ResultInfo, type Tone } from '../../calls/CallTypes.ts';
import { keyOfTone } from '../../calls/CallMedia.ts';
import type { Participant } from '../../calls/Participant.ts';
import type { Directory } from '../../directory/Directory.ts';
import type { User } from '../../directory/DirectoryTypes.ts';
import type { ScriptStep } from '../../config/ConfigSchema.ts';
import type { CallMedia, PromptSource } from '../../calls/CallMedia.ts';
import type { MediaLeg } from '../../media/MediaLeg.ts';
import { msToFrames } from '../../media/MediaFormat.ts';
import { EARS_KEPT_PER_USER, VirtualEars } from './VirtualEars.ts';
import { DtmfListener } from '../../media/dtmf/DtmfListener.ts';
import { NoiseSound, ToneSound } from '../../media/Tones.ts';
import { parseWavInSlices, writeWav } from '../../media/audio/Wav.ts';
import type { PlayItem } from '../../media/Player.ts';
import { readFile } from 'node:fs/promises';

export interface SimCall {
  id: string;
  serverCallId: string;
  direction: 'incoming' | 'outgoing';
  peer: Identity | null;
  state: 'ringing' | 'inLobby' | 'connected' | 'ended';
  result: ResultInfo | null;
  startedAt: string;
  connectedAt: string | null;
  endedAt: string | null;
}

export interface SimEvent {
  seq: number;
  at: string;
  callId: string;
  type: string;
  detail?: Record<string, unknown>;
}

const MAX_EVENTS = 2000;
const MAX_ENDED_CALLS = 200;

export interface VirtualAudioOptions {
  media: CallMedia;
  prompts: PromptSource;
  /** Seconds of what it hears each virtual user keeps per call. */
  earSeconds: number;
  /** Bytes of what they heard all virtual users keep together (the oldest calls' go first). */
  earBytes: number;
}

class VirtualUserState {
  readonly calls = new Map<string, SimCall>();
  readonly participants = new Map<string, Participant>();
  readonly events: SimEvent[] = [];
  seq = 0;
}

export class VirtualEndpoints implements EndpointDriver {
  private readonly users = new Map<string, VirtualUserState>();

  /** What they heard (null without audio). */
  readonly ears: VirtualEars | null;

  constructor(
    private readonly directory: Directory,
    private readonly calls: CallService,
    private readonly audio: VirtualAudioOptions | null = null,
  ) {
    this.ears = audio ? new VirtualEars(msToFrames(audio.earSeconds * 1000), audio.earBytes) : null;
  }

  private state(userId: string): VirtualUserState {
    let s = this.users.get(userId);
    if (!s) {
      s = new VirtualUserState();
      this.users.set(userId, s);
    }
    return s;
  }

  private userOf(p: Participant): User | undefined {
    return p.endpoint.kind === 'virtual' ? this.directory.getUser(p.endpoint.userId) : undefined;
  }

  private record(userId: string, callId: string, type: string, detail?: Record<string, unknown>): void {
    const s = this.state(userId);
    s.events.push({ seq: ++s.seq, at: new Date().toISOString(), callId, type, ...(detail ? { detail } : {}) });
    if (s.events.length > MAX_EVENTS) s.events.splice(0, s.events.length - MAX_EVENTS);
  }

  private track(userId: string, p: Participant, direction: SimCall['direction'], peer: Identity | null, state: SimCall['state']): SimCall {
    const s = this.state(userId);
    const c: SimCall = {
      id: p.id, serverCallId: p.call.id, direction, peer, state, result: null,
      startedAt: new Date().toISOString(), connectedAt: null, endedAt: null,
    };
    s.calls.set(p.id, c);
    s.participants.set(p.id, p);
    // Keep the history bounded: drop the oldest ended calls.
    if (s.calls.size > MAX_ENDED_CALLS) {
      for (const [id, call] of s.calls) {
        if (s.calls.size <= MAX_ENDED_CALLS) break;
        if (call.state === 'ended') { s.calls.delete(id); s.participants.delete(id); }
      }
    }
    return c;
  }

  // ---------------------------------------------------------------- EndpointDriver

  offer(p: Participant, caller: Identity): void {
    const user = this.userOf(p);
    if (!user || user.endpoint.kind !== 'virtual') {
      this.calls.decline(p, 'unreachable');
      return;
    }
    this.track(user.id, p, 'incoming', caller, 'ringing');
    this.record(user.id, p.id, 'ringing', { from: caller });
    const b = user.endpoint.behaviour;
    switch (b.answer) {
      case 'auto':
        if (b.answerAfterMs === 0) {
          setImmediate(() => this.calls.answered(p));
          return;
        }
        this.calls.ringing(p);
        setTimeout(() => this.calls.answered(p), b.answerAfterMs).unref();
        return;
      case 'reject':
        setImmediate(() => this.calls.decline(p, b.rejectReason));
        return;
      case 'unreachable':
        setImmediate(() => this.calls.decline(p, 'unreachable'));
        return;
      case 'never':
      case 'manual':
        this.calls.ringing(p);
        return;
    }
  }

  connected(p: Participant): void {
    const user = this.userOf(p);
    if (!user) return;
    const c = this.state(user.id).calls.get(p.id);
    if (!c) return;
    c.state = 'connected';
    c.connectedAt = new Date().toISOString();
    this.record(user.id, p.id, 'connected');
    this.startScript(user, p);
  }

  disconnected(p: Participant, result: ResultInfo): void {
    const user = this.userOf(p);
    if (!user) return;
    const c = this.state(user.id).calls.get(p.id);
    if (!c || c.state === 'ended') return;
    c.state = 'ended';
    c.result = result;
    c.endedAt = new Date().toISOString();
    this.record(user.id, p.id, 'ended', { code: result.code, subcode: result.subcode, message: result.message });
  }

  mediaAttached(p: Participant, leg: MediaLeg): void {
    const user = this.userOf(p);
    if (!user || !this.audio) return;
    this.ears?.listen(user.id, p.id, leg);
    leg.addSink(new DtmfListener((key) => this.record(user.id, p.id, 'dtmfHeard', { key })));
  }

  /** The configured script starts once the other side is there (answered, or joined). */
  private startScript(user: User, p: Participant): void {
    if (!this.audio || user.endpoint.kind !== 'virtual' || user.endpoint.behaviour.script.length === 0) return;
    if (this.scripted.has(p)) return;
    this.scripted.add(p);
    void this.runScript(user.id, p, user.endpoint.behaviour.script);
  }

  private readonly scripted = new WeakSet<Participant>();

  /** Plays a script's steps one after the other on the participant's voice. */
  private async runScript(userId: string, p: Participant, steps: ScriptStep[]): Promise<void> {
    for (const step of steps) {
      if (!p.connected) return;
      if ('hangUp' in step) {
        this.record(userId, p.id, 'scriptHangUp');
        this.calls.hungUp(p);
        return;
      }
      try {
        const item = await this.itemFor(step);
        await new Promise<void>((resolve) => {
          item.onDone = () => resolve();
          if (!this.enqueueVoice(p, item)) return resolve();
          if (item.kind === 'dtmf') for (const key of item.keys) this.record(userId, p.id, 'dtmfSent', { tone: toneFromKey(key) });
        });
      } catch (err) {
        this.record(userId, p.id, 'scriptFailed', { step, reason: (err as Error).message });
        return;
      }
    }
  }

  private async itemFor(step: Exclude<ScriptStep, { hangUp: true }>): Promise<PlayItem> {
    if ('say' in step) return { kind: 'buffer', samples: await this.loadAudio(step.say) };
    if ('dtmf' in step) return { kind: 'dtmf', keys: step.dtmf.toUpperCase(), toneMs: step.toneMs, gapMs: step.gapMs };
    // made as they play: up to 10 minutes of either, in no memory
    if ('tone' in step) return { kind: 'sound', sound: new ToneSound(step.tone.frequencyHz, step.tone.durationMs, step.tone.dbfs) };
    if ('noise' in step) return { kind: 'sound', sound: new NoiseSound(step.noise.durationMs, step.noise.dbfs, Date.now()) };
    return { kind: 'silence', frames: msToFrames(step.silenceMs) };
  }

  /** A WAV from a path, or from an http(s) URL through the prompt store (same guards and cache). */
  private async loadAudio(source: string): Promise<Int16Array> {
    if (/^https?:\/\//i.test(source)) return this.audio!.prompts.get({ uri: source }, 'simulator');
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(source));
    } catch (err) {
      throw new Error(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      return (await parseWavInSlices(bytes)).samples;
    } catch (err) {
      // The reason only (e.g. "not a RIFF/WAVE file"): never echo a local file's bytes back.
      throw new Error(`${source} is not usable WAV audio: ${(err as { reason?: string }).reason ?? 'unreadable'}`);
    }
  }

  private enqueueVoice(p: Participant, item: PlayItem): boolean {
    const voice = this.audio?.media.voiceOf(p);
    if (!voice) return false;
    voice.enqueue(item);
    return true;
  }

  /** Simulator: make the user say something now (queued after what it is already saying). */
  async say(userId: string, callId: string, step: Exclude<ScriptStep, { hangUp: true }>): Promise<void> {
    const x = this.require(userId, callId);
    if (x.call.state !== 'connected') throw new SimulatorError(409, `call ${callId} is not connected`);
    if (!this.audio) throw new SimulatorError(400, 'the media engine is disabled');
    let item: PlayItem;
    try {
      item = await this.itemFor(step);
    } catch (err) {
      throw new SimulatorError(400, `the audio could not be loaded: ${(err as Error).message}`);
    }
    if (!this.enqueueVoice(x.participant, item)) throw new SimulatorError(409, `call ${callId} has no audio`);
    this.record(userId, callId, 'saying', { step: Object.keys(step)[0] });
  }

  /** Simulator: the user's voice from raw WAV bytes. */
  async sayWav(userId: string, callId: string, wav: Uint8Array): Promise<void> {
    const x = this.require(userId, callId);
    if (x.call.state !== 'connected') throw new SimulatorError(409, `call ${callId} is not connected`);
    let samples: Int16Array;
    try {
      samples = (await parseWavInSlices(wav)).samples;
    } catch (err) {
      throw new SimulatorError(400, `not usable audio: ${(err as Error).message}`);
    }
    if (x.call.state !== 'connected') throw new SimulatorError(409, `call ${callId} is not connected`);
    if (!this.enqueueVoice(x.participant, { kind: 'buffer', samples })) throw new SimulatorError(409, `call ${callId} has no audio`);
    this.record(userId, callId, 'saying', { step: 'wav' });
  }

  /** What the user heard in a call, as a 16 kHz mono WAV. */
  heard(userId: string, callId: string): Uint8Array {
    this.require(userId, callId);
    const heard = this.ears?.heard(callId);
    if (!heard) {
      throw new SimulatorError(404, `no audio is kept for call ${callId}: a user keeps what it heard in its ${EARS_KEPT_PER_USER} most recent calls, all users within media.virtualEarMemoryMB (the oldest calls' dropped first), and only with media.virtualEarSeconds > 0`);
    }
    return writeWav(heard, 16000, 1);
  }

  observe(p: Participant, event: string, detail?: Record<string, unknown>): void {
    const user = this.userOf(p);
    if (!user) return;
    const s = this.state(user.id);
    if (event === 'moved') {
      // The participant moved into another call (invite with replacesCallId): follow it there.
      const old = [...s.calls.values()].find((c) => c.serverCallId === detail?.fromCall && c.state !== 'ended');
      if (old) {
        old.state = 'ended';
        old.endedAt = new Date().toISOString();
        this.record(user.id, old.id, 'movedOut', detail);
      }
      this.track(user.id, p, old?.direction ?? 'incoming', old?.peer ?? null, 'ringing');
      this.record(user.id, p.id, 'movedIn', detail);
      return;
    }
    if (event === 'peerConnected') {
      const c = s.calls.get(p.id);
      if (c && c.state !== 'connected') {
        c.state = 'connected';
        c.connectedAt = new Date().toISOString();
      }
      this.record(user.id, p.id, 'answered', detail);
      this.startScript(user, p);
      return;
    }
    this.record(user.id, p.id, event, detail);
  }

  // ---------------------------------------------------------------- simulator commands

  place(user: User, target: Parameters<CallService['placeFromEndpoint']>[1]): SimCall {
    const identity: Identity = { kind: 'user', id: user.id, displayName: user.displayName, tenantId: user.tenantId };
    const p = this.calls.placeFromEndpoint({ identity, endpoint: { kind: 'virtual', userId: user.id }, tenantId: user.tenantId }, target);
    const peer: Identity | null = target.kind === 'meeting'
      ? null
      : { kind: target.kind, id: target.id, displayName: null };
    const initial = target.kind !== 'meeting' ? 'ringing' : this.calls.admitsDirectly(target.meeting, identity) ? 'connected' : 'inLobby';
    const c = this.track(user.id, p, 'outgoing', peer, initial);
    this.record(user.id, p.id, 'dialing', { target });
    return c;
  }

  list(userId: string): SimCall[] {
    return [...this.state(userId).calls.values()];
  }

  get(userId: string, callId: string): { call: SimCall; participant: Participant } | null {
    const s = this.state(userId);
    const call = s.calls.get(callId);
    const participant = s.participants.get(callId);
    return call && participant ? { call, participant } : null;
  }

  events(userId: string, after = 0): SimEvent[] {
    return this.state(userId).events.filter((e) => e.seq > after);
  }

  answer(userId: string, callId: string): void {
    const x = this.require(userId, callId);
    if (x.call.state !== 'ringing' || x.call.direction !== 'incoming') throw new SimulatorError(409, `call ${callId} is not ringing at ${userId}`);
    this.calls.answered(x.participant);
  }

  reject(userId: string, callId: string, reason: 'busy' | 'declined'): void {
    const x = this.require(userId, callId);
    if (x.call.state !== 'ringing' || x.call.direction !== 'incoming') throw new SimulatorError(409, `call ${callId} is not ringing at ${userId}`);
    this.calls.decline(x.participant, reason);
  }

  hangUp(userId: string, callId: string): void {
    const x = this.require(userId, callId);
    if (x.call.state === 'ended') throw new SimulatorError(409, `call ${callId} has already ended`);
    this.calls.hungUp(x.participant);
  }

  /**
   * Presses DTMF keys: in band (the tones go out in the user's voice and are detected like anyone's)
   * when the call has audio; out of band otherwise.
   */
  pressKeys(userId: string, callId: string, tones: Tone[], toneMs = 100, gapMs = 100): void {
    const x = this.require(userId, callId);
    if (x.call.state !== 'connected') throw new SimulatorError(409, `call ${callId} is not connected`);
    for (const t of tones) this.record(userId, callId, 'dtmfSent', { tone: t });
    const keys = tones.map(keyOfTone).join('');
    if (this.enqueueVoice(x.participant, { kind: 'dtmf', keys, toneMs, gapMs })) return;
    for (const t of tones) this.calls.tonePressed(x.participant, t);
  }

  private require(userId: string, callId: string) {
    const x = this.get(userId, callId);
    if (!x) throw new SimulatorError(404, `user ${userId} has no call ${callId}`);
    return x;
  }
}

export class SimulatorError extends Error {
  constructor(
    readonly status: 404 | 409 | 400,
    message: string,
  ) {
    super(message);
  }
}
