// The virtual endpoint driver: directory users whose endpoint is `virtual` are scripted callers.
// Each behaves as configured (answer after N ms, reject busy, never answer, be unreachable) or is
// driven through the simulator API, and keeps the list of its calls and of what it observed.
import type { CallService, EndpointDriver } from '../../calls/CallService.ts';
import type { Identity, ResultInfo } from '../../calls/CallTypes.ts';
import type { Participant } from '../../calls/Participant.ts';
import type { Directory } from '../../directory/Directory.ts';
import type { User } from '../../directory/DirectoryTypes.ts';

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

class VirtualUserState {
  readonly calls = new Map<string, SimCall>();
  readonly participants = new Map<string, Participant>();
  readonly events: SimEvent[] = [];
  seq = 0;
}

export class VirtualEndpoints implements EndpointDriver {
  private readonly users = new Map<string, VirtualUserState>();

  constructor(
    private readonly directory: Directory,
    private readonly calls: CallService,
  ) {}

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

  /** Presses DTMF keys one after the other (out of band for now; in-band audio comes with the media engine). */
  pressKeys(userId: string, callId: string, tones: import('../../calls/CallTypes.ts').Tone[]): void {
    const x = this.require(userId, callId);
    if (x.call.state !== 'connected') throw new SimulatorError(409, `call ${callId} is not connected`);
    for (const t of tones) {
      this.record(userId, callId, 'dtmfSent', { tone: t });
      this.calls.tonePressed(x.participant, t);
    }
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
