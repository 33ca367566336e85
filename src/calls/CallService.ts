// The domain core: creates Calls, offers them to endpoints, moves legs and participants through
// their states and tells observers (the notification renderers) what happened. It knows no wire
// format: the Graph adapter (and later ACS, SIP, WebRTC) translate to and from these methods.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Directory } from '../directory/Directory.ts';
import type { Application, OnlineMeeting } from '../directory/DirectoryTypes.ts';
import { AppLeg, type LegRequest } from './AppLeg.ts';
import { Call } from './Call.ts';
import type { DeclineReason, Identity, LegState, RecordingStatus, RejectReason, ResultInfo, Tone } from './CallTypes.ts';
import { Operation } from './Operation.ts';
import { Participant, type EndpointRef } from './Participant.ts';
import { Results, declineResult } from './ResultCodes.ts';
import type { CallMedia } from './CallMedia.ts';
import type { MediaLeg } from '../media/MediaLeg.ts';

export class CallError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409,
    readonly code: string,
    message: string,
    readonly target?: string,
  ) {
    super(message);
  }
}

/** What the core tells the outside world. Every method is optional. */
export interface CallObserver {
  legIncoming?(leg: AppLeg): void;
  legStateChanged?(leg: AppLeg, previous: LegState): void;
  rosterChanged?(leg: AppLeg, changed: Participant[]): void;
  operationCompleted?(leg: AppLeg, op: Operation): void;
  /** A media operation began to act (its prompt started playing). */
  operationStarted?(leg: AppLeg, op: Operation): void;
  toneReceived?(leg: AppLeg, tone: Tone, from: Participant): void;
}

/**
 * How applications of an API other than Graph (`Application.api`) are offered incoming calls.
 * Graph applications need a calling webhook; an ACS resource needs an Event Grid subscription.
 */
export interface AppApiBinding {
  /** The request an incoming leg of `app` starts with, or null when nobody can be told (the caller hears unreachable). */
  incomingRequest(app: Application, offered: Participant): LegRequest | null;
}

/** An endpoint driver (virtual users today; SIP and WebRTC later) as the core sees it. */
export interface EndpointDriver {
  /** The call is offered to the participant: ring it. The driver answers through CallService. */
  offer(p: Participant, caller: Identity): void;
  /** The participant is connected (its outgoing call was answered, or it joined). */
  connected(p: Participant): void;
  /** The participant left the call or its offer ended, with the reason. */
  disconnected(p: Participant, result: ResultInfo): void;
  /** The participant's audio leg exists: attach its voice and ears. */
  mediaAttached?(p: Participant, leg: MediaLeg): void;
  /** Something changed in the call that the endpoint may want to record (roster, tones). */
  observe?(p: Participant, event: string, detail?: Record<string, unknown>): void;
}

export interface CallTimings {
  answerTimeoutMs: number;
  keepAliveTimeoutMs: number;
  ringTimeoutMs: number;
}

export type PlaceTarget =
  | { kind: 'user'; id: string }
  | { kind: 'application'; id: string }
  | { kind: 'applicationInstance'; id: string }
  | { kind: 'phone'; id: string };

export interface PlaceFromApp {
  app: Application;
  source: Identity;
  targets: (PlaceTarget & { displayName?: string | null })[];
  meeting: { meeting: OnlineMeeting; asGuest: boolean } | null;
  request: LegRequest;
  ringTimeoutMs?: number;
}

const who = (i: Identity): string => (i.displayName ? `${i.displayName} (${i.id})` : `${i.kind} ${i.id}`);

export class CallService {
  private readonly legs = new Map<string, AppLeg>();
  private readonly calls = new Map<string, Call>();
  private readonly meetingCalls = new Map<string, Call>();
  private readonly observers: CallObserver[] = [];
  private readonly drivers = new Map<string, EndpointDriver>();
  private readonly appApis = new Map<string, AppApiBinding>();
  private accepting = true;
  private media: CallMedia | null = null;

  constructor(
    private readonly directory: Directory,
    private readonly timings: CallTimings,
    private readonly log: Logger,
  ) {}

  observe(o: CallObserver): void {
    this.observers.push(o);
  }

  /** Gives calls real audio (service-hosted media); without it calls carry signalling only. */
  useMedia(media: CallMedia): void {
    this.media = media;
  }

  get mediaEnabled(): boolean {
    return this.media !== null;
  }

  registerDriver(kind: 'virtual', driver: EndpointDriver): void {
    this.drivers.set(kind, driver);
  }

  /** Binds an application API (`Application.api`) other than Graph: how its applications hear of incoming calls. */
  registerAppApi(api: 'acs', binding: AppApiBinding): void {
    this.appApis.set(api, binding);
  }

  // ------------------------------------------------------------------ lookups

  getLeg(id: string): AppLeg | undefined {
    return this.legs.get(id);
  }

  getCall(serverCallId: string): Call | undefined {
    return this.calls.get(serverCallId);
  }

  activeLegs(): AppLeg[] {
    return [...this.legs.values()];
  }

  activeCalls(): Call[] {
    return [...this.calls.values()];
  }

  /** The call a meeting is held in, if anyone is in it. */
  meetingCall(meetingId: string): Call | undefined {
    return this.meetingCalls.get(meetingId);
  }

  stopAccepting(): void {
    this.accepting = false;
  }

  private assertAccepting(): void {
    if (!this.accepting) throw new CallError(409, 'ServiceUnavailable', 'Telegraph is shutting down and accepts no new calls.');
  }

  // ------------------------------------------------------------------ creating calls

  /** An application places a call: peer-to-peer, group, or a meeting join. */
  placeFromApp(input: PlaceFromApp): AppLeg {
    this.assertAccepting();
    const { app } = input;
    let call: Call;
    if (input.meeting) {
      call = this.callForMeeting(input.meeting.meeting);
    } else {
      call = this.newCall(app.tenantId, input.targets.length > 1 ? 'group' : 'peerToPeer');
    }
    const me = new Participant(randomUUID(), call, input.source, { kind: 'none' });
    const leg = new AppLeg(randomUUID(), app, call, me, 'outgoing', randomUUID(), input.request, 'establishing');
    me.endpoint = { kind: 'app', leg };
    leg.targets = input.targets.map((t) => ({ kind: t.kind, id: t.id, displayName: t.displayName ?? null }));
    call.participants.set(me.id, me);
    this.legs.set(leg.id, leg);
    this.armKeepAlive(leg);

    // The response to the request goes out first; everything after happens on later ticks.
    setImmediate(() => {
      if (leg.ended) return;
      this.emitState(leg, 'establishing', true);
      if (input.meeting) {
        this.joinMeeting(leg, input.meeting.meeting);
        return;
      }
      this.markConnected(me);
      if (call.kind === 'group') this.setLegState(leg, 'established');
      for (const t of input.targets) this.offerTo(call, t, input.source, input.ringTimeoutMs ?? this.timings.ringTimeoutMs, leg);
      if (call.kind === 'group') this.emitRoster(call, [me]);
    });
    return leg;
  }

  /** A virtual user (or, later, a SIP or WebRTC endpoint) places a call. */
  placeFromEndpoint(
    caller: { identity: Identity; endpoint: EndpointRef; tenantId: string },
    target: PlaceTarget | { kind: 'meeting'; meeting: OnlineMeeting },
  ): Participant {
    this.assertAccepting();
    if (target.kind === 'meeting') {
      const call = this.callForMeeting(target.meeting);
      const p = new Participant(randomUUID(), call, caller.identity, caller.endpoint);
      call.participants.set(p.id, p);
      const bypass = this.admitsDirectly(target.meeting, caller.identity);
      setImmediate(() => {
        if (bypass) this.connect(p);
        else {
          p.state = 'inLobby';
          p.isInLobby = true;
          this.emitRoster(call, [p]);
        }
      });
      return p;
    }
    const call = this.newCall(caller.tenantId, 'peerToPeer');
    const p = new Participant(randomUUID(), call, caller.identity, caller.endpoint);
    this.markConnected(p);
    call.participants.set(p.id, p);
    setImmediate(() => this.offerTo(call, target, caller.identity, this.timings.ringTimeoutMs, null));
    return p;
  }

  private newCall(tenantId: string, kind: Call['kind'], meeting: OnlineMeeting | null = null): Call {
    const call = new Call(randomUUID(), tenantId, kind, meeting);
    this.calls.set(call.id, call);
    return call;
  }

  private callForMeeting(meeting: OnlineMeeting): Call {
    let call = this.meetingCalls.get(meeting.id);
    if (!call || call.ended) {
      call = this.newCall(meeting.tenantId, 'meeting', meeting);
      this.meetingCalls.set(meeting.id, call);
    }
    return call;
  }

  /** Whether a joiner goes straight into the meeting (else it waits in the lobby). */
  admitsDirectly(meeting: OnlineMeeting, identity: Identity): boolean {
    const isOrganizer = identity.kind === 'user' && identity.id === meeting.organizerId;
    switch (meeting.lobbyBypass) {
      case 'everyone':
        return true;
      case 'organization':
        // Guests and dial-in phones are outside the organisation.
        return identity.kind !== 'guest' && identity.kind !== 'phone';
      case 'organizer':
        return isOrganizer;
      case 'invited':
        return isOrganizer || (meeting.attendees ?? []).includes(identity.id);
    }
  }

  private joinMeeting(leg: AppLeg, meeting: OnlineMeeting): void {
    const me = leg.participant;
    if (!this.admitsDirectly(meeting, me.identity)) {
      me.state = 'inLobby';
      me.isInLobby = true;
      // In the lobby the bot sees only itself.
      this.notifyRoster(leg, [me]);
      this.emitRoster(leg.call, [me], leg);
      return;
    }
    this.connect(me);
  }

  /** Admits a participant waiting in a meeting's lobby (admin API, or a virtual organizer). */
  admit(participantId: string): Participant {
    const p = this.findParticipant(participantId);
    if (!p || !p.isInLobby || !p.active) throw new CallError(404, 'NotFound', `participant ${participantId} is not waiting in a lobby`);
    p.isInLobby = false;
    this.connect(p);
    return p;
  }

  /** Denies entry to a participant waiting in a lobby. */
  deny(participantId: string): Participant {
    const p = this.findParticipant(participantId);
    if (!p || !p.isInLobby || !p.active) throw new CallError(404, 'NotFound', `participant ${participantId} is not waiting in a lobby`);
    this.leave(p, Results.lobbyDenied(), 'removed');
    return p;
  }

  findParticipant(id: string): Participant | undefined {
    for (const call of this.calls.values()) {
      const p = call.participants.get(id);
      if (p) return p;
    }
    return undefined;
  }

  /**
   * Offers a call to a target. Resolution goes through the directory: users ring their endpoint,
   * applications and application instances (by id or number) get an incoming call notification.
   */
  private offerTo(call: Call, target: PlaceTarget, caller: Identity, ringMs: number, inviter: AppLeg | null, onSettled?: (ok: boolean, result: ResultInfo | null, p: Participant) => void): Participant {
    const resolved = this.resolve(call.tenantId, target);
    const p = new Participant(randomUUID(), call, resolved.identity, resolved.endpoint);
    p.state = 'ringing';
    call.participants.set(p.id, p);
    if (onSettled) this.settleHooks.set(p, onSettled);
    if (resolved.endpoint.kind === 'none' && !resolved.app) {
      this.decline(p, 'unreachable');
      return p;
    }
    if (resolved.app) {
      this.offerToApp(p, resolved.app, caller, resolved.routes);
      return p;
    }
    p.ringTimer = setTimeout(() => this.decline(p, 'notAnswered', ringMs), ringMs);
    p.ringTimer.unref?.();
    void inviter;
    this.driverOf(p)?.offer(p, caller);
    if (call.kind !== 'peerToPeer') this.emitRoster(call, [p]);
    return p;
  }

  private readonly settleHooks = new Map<Participant, (ok: boolean, result: ResultInfo | null, p: Participant) => void>();

  private settle(p: Participant, ok: boolean, result: ResultInfo | null): void {
    const hook = this.settleHooks.get(p);
    if (hook) {
      this.settleHooks.delete(p);
      hook(ok, result, p);
    }
  }

  private resolve(
    tenantId: string,
    target: PlaceTarget,
  ): { identity: Identity; endpoint: EndpointRef; app?: Application; routes?: AppLeg['callRoutes'] } {
    switch (target.kind) {
      case 'user': {
        const u = this.directory.getUser(target.id);
        if (!u || u.tenantId !== tenantId) throw new CallError(404, 'NotFound', `user ${target.id} is not in tenant ${tenantId}`);
        return { identity: { kind: 'user', id: u.id, displayName: u.displayName, tenantId: u.tenantId }, endpoint: { kind: 'virtual', userId: u.id } };
      }
      case 'application': {
        const a = this.directory.getApplication(target.id);
        if (!a || a.tenantId !== tenantId) throw new CallError(404, 'NotFound', `application ${target.id} is not in tenant ${tenantId}`);
        return { identity: { kind: 'application', id: a.appId, displayName: a.displayName }, endpoint: { kind: 'none' }, app: a };
      }
      case 'applicationInstance': {
        const i = this.directory.getApplicationInstance(target.id);
        const a = i && this.directory.getApplication(i.appId);
        if (!i || !a || i.tenantId !== tenantId) throw new CallError(404, 'NotFound', `application instance ${target.id} is not in tenant ${tenantId}`);
        return { identity: { kind: 'applicationInstance', id: i.id, displayName: i.displayName }, endpoint: { kind: 'none' }, app: a };
      }
      case 'phone': {
        const phoneIdentity: Identity = { kind: 'phone', id: target.id, displayName: null };
        const owner = this.directory.findByPhoneNumber(target.id);
        if (!owner) return { identity: phoneIdentity, endpoint: { kind: 'none' } };
        if ('user' in owner) return { identity: phoneIdentity, endpoint: { kind: 'virtual', userId: owner.user.id } };
        if ('acsResource' in owner) {
          // A number of an ACS resource: the resource (as an application) is offered the call; it stays the number dialled.
          const acs = this.directory.acsApplication(owner.acsResource.id);
          return acs ? { identity: phoneIdentity, endpoint: { kind: 'none' }, app: acs } : { identity: phoneIdentity, endpoint: { kind: 'none' } };
        }
        const a = this.directory.getApplication(owner.instance.appId);
        if (!a) return { identity: phoneIdentity, endpoint: { kind: 'none' } };
        return {
          identity: { kind: 'applicationInstance', id: owner.instance.id, displayName: owner.instance.displayName },
          endpoint: { kind: 'none' },
          app: a,
          routes: [
            {
              original: phoneIdentity,
              final: { kind: 'applicationInstance', id: owner.instance.id, displayName: owner.instance.displayName },
              routingType: 'lookup',
            },
          ],
        };
      }
    }
  }

  /** An application is offered the call: it gets an incoming leg and must answer in time. */
  private offerToApp(p: Participant, app: Application, caller: Identity, routes: AppLeg['callRoutes'] | undefined): void {
    const request = this.incomingRequest(app, p);
    if (!request) {
      this.decline(p, 'unreachable');
      return;
    }
    const leg = new AppLeg(randomUUID(), app, p.call, p, 'incoming', randomUUID(), request, 'incoming');
    p.endpoint = { kind: 'app', leg };
    leg.caller = caller;
    leg.targets = [p.identity];
    leg.callRoutes = routes ?? [];
    this.legs.set(leg.id, leg);
    leg.answerTimer = setTimeout(() => {
      if (leg.state !== 'incoming') return;
      this.decline(p, 'notAnswered', this.timings.answerTimeoutMs, Results.answerTimeout(this.timings.answerTimeoutMs));
    }, this.timings.answerTimeoutMs);
    leg.answerTimer.unref?.();
    for (const o of this.observers) o.legIncoming?.(leg);
  }

  private incomingRequest(app: Application, p: Participant): LegRequest | null {
    if (app.api) return this.appApis.get(app.api)?.incomingRequest(app, p) ?? null;
    if (!app.callingWebhook) return null;
    return { api: 'graph', apiVersion: 'v1.0', callbackUri: app.callingWebhook, requestedModalities: ['audio'], media: 'service', wire: {} };
  }

  // ------------------------------------------------------------------ endpoint callbacks

  /**
   * The endpoint is alerting its user. A caller's leg in a peer-to-peer call shows it as the
   * `ringing` state on beta (v1.0 has no such state). An endpoint that answers at once never rings.
   */
  ringing(p: Participant): void {
    if (p.state !== 'ringing' || p.call.kind !== 'peerToPeer') return;
    for (const other of p.call.participants.values()) {
      if (other === p || other.endpoint.kind !== 'app') continue;
      const leg = other.endpoint.leg;
      if (leg.direction === 'outgoing' && leg.state === 'establishing' && leg.request.apiVersion === 'beta') this.setLegState(leg, 'ringing');
    }
  }

  /** The endpoint took the call. */
  answered(p: Participant): void {
    if (p.state !== 'ringing') return;
    this.clearRing(p);
    this.settle(p, true, null);
    this.connect(p);
  }

  /** The endpoint did not take the call (busy, declined, unreachable, or it rang out). */
  decline(p: Participant, reason: DeclineReason, ringMs = this.timings.ringTimeoutMs, result?: ResultInfo): void {
    if (p.state !== 'ringing' && p.state !== 'inviting') return;
    this.clearRing(p);
    const res = result ?? declineResult(reason, who(p.identity), ringMs);
    this.settle(p, false, res);
    this.leave(p, res, 'declined');
  }

  /** The endpoint hung up. */
  hungUp(p: Participant): void {
    if (!p.active) return;
    if (p.state === 'ringing') {
      this.decline(p, 'declined');
      return;
    }
    this.leave(p, Results.endedByParticipant(), 'hungUp');
  }

  /** A participant pressed a DTMF key: every subscribed leg in the call hears about it. */
  tonePressed(p: Participant, tone: Tone): void {
    if (!p.connected) return;
    for (const other of p.call.participants.values()) {
      if (other === p || !other.connected) continue;
      if (other.endpoint.kind === 'app') {
        const leg = other.endpoint.leg;
        if (!leg.subscribedToTone || leg.state !== 'established') continue;
        leg.toneInfo = { sequenceId: ++leg.toneSequence, tone, participantId: p.id };
        for (const o of this.observers) o.toneReceived?.(leg, tone, p);
      } else {
        this.driverOf(other)?.observe?.(other, 'toneReceived', { tone, from: p.id });
      }
    }
  }

  // ------------------------------------------------------------------ application actions

  answer(leg: AppLeg, request: LegRequest): void {
    if (leg.state !== 'incoming') throw new CallError(400, 'BadRequest', `The call is ${leg.state}: only an incoming call can be answered.`);
    this.clearAnswerTimer(leg);
    leg.request = request;
    this.armKeepAlive(leg);
    this.setLegState(leg, 'establishing');
    setImmediate(() => {
      if (leg.ended) return;
      this.answered(leg.participant);
    });
  }

  reject(leg: AppLeg, reason: RejectReason): void {
    if (leg.state !== 'incoming') throw new CallError(400, 'BadRequest', `The call is ${leg.state}: only an incoming call can be rejected.`);
    this.clearAnswerTimer(leg);
    const p = leg.participant;
    const decline: DeclineReason = reason === 'busy' ? 'busy' : reason === 'forbidden' ? 'forbidden' : 'declined';
    const toCaller = declineResult(decline, who(p.identity), 0);
    this.clearRing(p);
    this.settle(p, false, toCaller);
    leg.resultInfo = Results.rejectedByApplication(reason);
    this.leave(p, toCaller, 'declined', leg.resultInfo);
  }

  /** Sends an incoming call on to other targets (all ring at once); the application's leg ends. */
  redirect(leg: AppLeg, targets: PlaceTarget[], timeoutMs: number): void {
    if (leg.state !== 'incoming') throw new CallError(400, 'BadRequest', `The call is ${leg.state}: only an incoming call can be redirected.`);
    this.clearAnswerTimer(leg);
    const call = leg.call;
    const p = leg.participant;
    const caller = leg.caller ?? p.identity;
    // Resolve every target before anything changes, so a bad target leaves the call untouched.
    for (const t of targets) this.resolve(call.tenantId, t);
    this.setLegState(leg, 'redirecting');
    this.clearRing(p);
    this.settleHooks.delete(p);
    leg.resultInfo = Results.redirected();
    this.leave(p, leg.resultInfo, 'redirected', leg.resultInfo, true);
    let pending = targets.length;
    let won = false;
    const offered: Participant[] = [];
    const onSettled = (ok: boolean, result: ResultInfo | null, winner: Participant): void => {
      pending--;
      if (ok && !won) {
        won = true;
        for (const o of offered) if (o !== winner && o.active) this.decline(o, 'declined', timeoutMs, Results.endedByPeer());
      } else if (!won && pending === 0) {
        this.endCall(call, result ?? Results.notAnswered('the redirect targets', timeoutMs));
      }
    };
    for (const t of targets) offered.push(this.offerTo(call, t, caller, timeoutMs, null, onSettled));
  }

  /** Blind transfer: the peer is offered to the target; once it answers the application's leg ends. */
  transfer(leg: AppLeg, target: PlaceTarget): void {
    if (leg.state !== 'established') throw new CallError(400, 'BadRequest', `The call is ${leg.state}: only an established call can be transferred.`);
    if (leg.call.kind !== 'peerToPeer') throw new CallError(400, 'BadRequest', 'Only a peer-to-peer call can be transferred; in a group call invite the target instead.');
    this.resolve(leg.call.tenantId, target);
    const peer = leg.call.connected().find((x) => x !== leg.participant);
    this.setLegState(leg, 'transferring');
    this.offerTo(leg.call, target, peer?.identity ?? leg.participant.identity, this.timings.ringTimeoutMs, leg, (ok, result) => {
      if (leg.ended) return;
      if (ok) {
        this.setLegState(leg, 'transferAccepted');
        this.leave(leg.participant, Results.transferCompleted(), 'transferred', Results.transferCompleted(), true);
      } else {
        leg.resultInfo = Results.transferFailed(result?.message ?? 'the target did not answer.');
        this.setLegState(leg, 'established');
      }
    });
  }

  /** The application leaves. In a peer-to-peer call that ends the call; in a group call only the application leaves. */
  hangUp(leg: AppLeg): void {
    if (leg.ended) return;
    if (leg.state === 'incoming') {
      this.reject(leg, 'none');
      return;
    }
    this.setLegState(leg, 'terminating');
    leg.resultInfo = Results.endedByApplication();
    this.leave(leg.participant, leg.resultInfo, 'hungUp', leg.resultInfo);
  }

  keepAlive(leg: AppLeg): void {
    this.armKeepAlive(leg);
  }

  newOperation(leg: AppLeg, kind: Operation['kind'], clientContext: string | null): Operation {
    const op = new Operation(randomUUID(), kind, clientContext);
    leg.operations.set(op.id, op);
    return op;
  }

  /** A media operation began to act (e.g. its prompt is playing): observers may say so (ACS PlayStarted). */
  operationStarted(leg: AppLeg, op: Operation): void {
    if (op.done || leg.ended) return;
    for (const o of this.observers) o.operationStarted?.(leg, op);
  }

  completeOperation(leg: AppLeg, op: Operation, status: 'completed' | 'failed', result: ResultInfo | null, reason: string | null = null): void {
    if (op.done) return;
    op.status = status;
    op.resultInfo = result;
    op.completionReason = reason;
    if (!leg.ended || status === 'failed') for (const o of this.observers) o.operationCompleted?.(leg, op);
  }

  invite(
    leg: AppLeg,
    invitees: (PlaceTarget & { replacesCallId?: string | null; displayName?: string | null })[],
    clientContext: string | null,
    options: { ringTimeoutMs?: number; source?: Identity } = {},
  ): Operation {
    this.assertEstablished(leg);
    // Validate every invitee first: nothing starts unless all of them can be offered.
    const replaced = invitees.map((inv, i) => {
      if (!inv.replacesCallId) {
        this.resolve(leg.call.tenantId, inv);
        return null;
      }
      const other = this.legs.get(inv.replacesCallId);
      if (!other || other.app.appId !== leg.app.appId || other.ended || other === leg)
        throw new CallError(404, '8522', `participants[${i}].replacesCallId: call ${inv.replacesCallId} is not an active call of this application.`);
      const peer = other.call.connected().find((x) => x !== other.participant && x.identity.id === inv.id);
      if (!peer) throw new CallError(400, 'BadRequest', `participants[${i}]: ${inv.kind} ${inv.id} is not connected in call ${inv.replacesCallId}.`, `participants[${i}]`);
      return { other, peer };
    });
    if (leg.call.kind === 'peerToPeer') leg.call.kind = 'group';
    const op = this.newOperation(leg, 'inviteParticipants', clientContext);
    op.details.participants = invitees;
    let pending = invitees.length;
    let failed: ResultInfo | null = null;
    const done = (ok: boolean, result: ResultInfo | null): void => {
      if (!ok) failed = result;
      if (--pending === 0) this.completeOperation(leg, op, failed ? 'failed' : 'completed', failed ?? Results.success());
    };
    setImmediate(() => {
      invitees.forEach((inv, i) => {
        const r = replaced[i];
        if (r) {
          this.moveParticipant(r.peer, r.other, leg);
          done(true, null);
        } else {
          if (op.details.canceled) return done(false, Results.inviteCanceled());
          const offered = this.offerTo(leg.call, inv, options.source ?? leg.participant.identity, options.ringTimeoutMs ?? this.timings.ringTimeoutMs, leg, (ok, result) => done(ok, result));
          ((op.details.offeredParticipantIds ??= []) as string[]).push(offered.id);
        }
      });
    });
    return op;
  }

  /** Moves a connected participant out of another call of the same application into this one. */
  private moveParticipant(peer: Participant, from: AppLeg, to: AppLeg): void {
    const moved = new Participant(randomUUID(), to.call, peer.identity, peer.endpoint, peer.info);
    to.call.participants.set(moved.id, moved);
    this.media?.detach(peer);
    peer.endpoint = { kind: 'none' };
    peer.state = 'disconnected';
    this.driverOf(moved)?.observe?.(moved, 'moved', { fromCall: from.call.id, toCall: to.call.id, participantId: moved.id });
    from.resultInfo = Results.replaced(to.id);
    this.leave(from.participant, from.resultInfo, 'replaced', from.resultInfo);
    this.connect(moved);
  }

  /**
   * Withdraws an invitation (inviteParticipants operation) whose invitees still ring: they stop
   * ringing and the operation fails with inviteCanceled. False when nothing was left to cancel.
   */
  cancelInvite(leg: AppLeg, op: Operation): boolean {
    if (op.kind !== 'inviteParticipants' || op.done) return false;
    op.details.canceled = true;
    // Not offered yet (the invite starts on the next tick): the canceled flag stops it there.
    for (const id of (op.details.offeredParticipantIds ?? []) as string[]) {
      const p = leg.call.participants.get(id);
      if (p && (p.state === 'ringing' || p.state === 'inviting')) this.decline(p, 'declined', 0, Results.inviteCanceled());
    }
    return true;
  }

  /**
   * Puts a participant on hold (or takes it off): a held participant hears silence, or the hold
   * music given, and is not heard by the others.
   */
  holdParticipant(leg: AppLeg, participantId: string, hold: boolean, music: { uri: string; resourceId?: string | null } | null = null): void {
    this.assertEstablished(leg);
    const p = leg.call.participants.get(participantId);
    if (!p || !p.connected) throw new CallError(404, 'NotFound', `Participant ${participantId} is not connected in this call.`);
    if (p.endpoint.kind === 'app') throw new CallError(400, 'BadRequest', 'An application cannot be put on hold.', 'targetParticipant');
    p.isOnHold = hold;
    this.media?.setHeld(p, hold, music, leg);
    this.driverOf(p)?.observe?.(p, hold ? 'held' : 'unheld', { by: leg.participant.id });
    setImmediate(() => this.emitRoster(leg.call, [p]));
  }

  removeParticipant(leg: AppLeg, participantId: string): void {
    const p = leg.call.participants.get(participantId);
    if (!p || !p.active) throw new CallError(404, 'NotFound', `Participant ${participantId} is not in this call.`);
    if (p === leg.participant) {
      this.hangUp(leg);
      return;
    }
    if (p.state === 'ringing' || p.state === 'inviting') {
      this.decline(p, 'declined', 0, Results.removed());
      return;
    }
    this.leave(p, Results.removed(), 'removed');
  }

  muteSelf(leg: AppLeg, muted: boolean, clientContext: string | null): Operation {
    this.assertEstablished(leg);
    const op = this.newOperation(leg, muted ? 'muteParticipant' : 'unmuteParticipant', clientContext);
    leg.participant.isMuted = muted;
    this.media?.setMuted(leg.participant, muted);
    op.status = 'completed';
    op.resultInfo = Results.success();
    setImmediate(() => this.emitRoster(leg.call, [leg.participant]));
    return op;
  }

  muteParticipant(leg: AppLeg, participantId: string, clientContext: string | null): Operation {
    this.assertEstablished(leg);
    const p = leg.call.participants.get(participantId);
    if (!p || !p.connected) throw new CallError(404, 'NotFound', `Participant ${participantId} is not connected in this call.`);
    const op = this.newOperation(leg, 'muteParticipant', clientContext);
    p.isMuted = true;
    p.serverMuted = p !== leg.participant;
    this.media?.setMuted(p, true);
    op.status = 'completed';
    op.resultInfo = Results.success();
    this.driverOf(p)?.observe?.(p, 'muted', { by: leg.participant.id });
    setImmediate(() => this.emitRoster(leg.call, [p]));
    return op;
  }

  updateRecordingStatus(leg: AppLeg, status: RecordingStatus, clientContext: string | null): Operation {
    this.assertEstablished(leg);
    const op = this.newOperation(leg, 'updateRecordingStatus', clientContext);
    leg.participant.recording = { status, initiator: leg.participant.identity };
    op.status = 'completed';
    op.resultInfo = Results.success();
    setImmediate(() => this.emitRoster(leg.call, [leg.participant]));
    return op;
  }

  subscribeToTone(leg: AppLeg, clientContext: string | null): Operation {
    this.assertEstablished(leg);
    const op = this.newOperation(leg, 'subscribeToTone', clientContext);
    leg.subscribedToTone = true;
    op.status = 'completed';
    op.resultInfo = Results.success();
    return op;
  }

  private assertEstablished(leg: AppLeg): void {
    if (leg.state !== 'established') throw new CallError(400, 'BadRequest', `The call is ${leg.state}: this action needs an established call.`);
  }

  // ------------------------------------------------------------------ state machinery

  private driverOf(p: Participant): EndpointDriver | undefined {
    return p.endpoint.kind === 'virtual' ? this.drivers.get('virtual') : undefined;
  }

  /** A caller is in its own call from the start (it hears ringing, then the callee): it has audio at once. */
  private markConnected(p: Participant): void {
    p.state = 'connected';
    const mediaLeg = this.media?.attach(p);
    if (mediaLeg) this.driverOf(p)?.mediaAttached?.(p, mediaLeg);
  }

  private connect(p: Participant): void {
    const call = p.call;
    if (call.ended || !p.active) return;
    p.state = 'connected';
    p.isInLobby = false;
    // Audio flows before anyone is told the participant is there.
    const mediaLeg = this.media?.attach(p);
    if (mediaLeg) this.driverOf(p)?.mediaAttached?.(p, mediaLeg);
    if (p.endpoint.kind === 'app') {
      const leg = p.endpoint.leg;
      // A caller's leg in a peer-to-peer call is established when the callee answers.
      if (call.kind !== 'peerToPeer' || call.connected().length >= 2) this.setLegState(leg, 'established');
    } else {
      this.driverOf(p)?.connected(p);
    }
    if (call.kind === 'peerToPeer') {
      for (const other of call.connected()) {
        if (other !== p && other.endpoint.kind === 'app' && (other.endpoint.leg.state === 'establishing' || other.endpoint.leg.state === 'ringing')) this.setLegState(other.endpoint.leg, 'established');
        if (other !== p && other.endpoint.kind === 'virtual' && p.endpoint.kind !== 'virtual') this.driverOf(other)?.observe?.(other, 'peerConnected', { participantId: p.id });
        if (other !== p && other.endpoint.kind === 'virtual' && p.endpoint.kind === 'virtual') this.driverOf(other)?.observe?.(other, 'peerConnected', { participantId: p.id });
      }
    } else {
      // A newly admitted application sees the whole roster; the others see the newcomer.
      if (p.endpoint.kind === 'app') this.notifyRoster(p.endpoint.leg, call.active().filter((x) => !x.isInLobby || x === p));
      this.emitRoster(call, [p], p.endpoint.kind === 'app' ? p.endpoint.leg : undefined);
    }
  }

  /**
   * A participant leaves (hangs up, is removed, declines, is moved). `legResult` is what its own
   * leg reports, `result` what its endpoint is told. Then the call is re-evaluated.
   */
  private leave(p: Participant, result: ResultInfo, why: string, legResult: ResultInfo = result, keepCall = false): void {
    if (!p.active && p.endpoint.kind !== 'app') return;
    const call = p.call;
    const wasConnected = p.connected;
    this.media?.detach(p);
    p.state = 'disconnected';
    p.removedReason = why;
    this.clearRing(p);
    if (p.endpoint.kind === 'app') this.terminateLeg(p.endpoint.leg, legResult);
    else this.driverOf(p)?.disconnected(p, result);
    if (call.ended || keepCall) return;
    const remaining = call.active();
    if (call.kind === 'peerToPeer') {
      // One side gone ends a two-party call for the other, whatever state it was in; but a target of a
      // simultaneous ring (redirect to several) declining or losing the race ends nothing while another still rings.
      if (why === 'declined' && remaining.some((x) => x.state === 'ringing')) return;
      // A (transfer) target that never connected leaves the two connected parties as they were.
      if (!wasConnected && call.connected().length >= 2) return;
      this.endCall(call, why === 'declined' || why === 'removed' ? result : Results.peerLeft());
      return;
    }
    if (call.kind === 'group' && remaining.filter((x) => x.connected || x.state === 'ringing').length < 2) {
      this.endCall(call, Results.allOthersLeft());
      return;
    }
    if (call.kind === 'meeting' && remaining.length === 0) {
      this.endCall(call, Results.allOthersLeft());
      return;
    }
    if (wasConnected || p.isInLobby || why === 'declined') this.emitRoster(call, [p]);
  }

  /** Ends the call for everyone still in it. */
  endCall(call: Call, result: ResultInfo): void {
    if (call.ended) return;
    call.ended = true;
    this.media?.callEnded(call);
    for (const p of call.participants.values()) {
      if (p.endpoint.kind === 'app' && !p.endpoint.leg.ended) {
        p.state = 'disconnected';
        this.clearRing(p);
        this.terminateLeg(p.endpoint.leg, result);
        continue;
      }
      if (!p.active) continue;
      p.state = 'disconnected';
      this.clearRing(p);
      this.settle(p, false, result);
      this.driverOf(p)?.disconnected(p, result);
    }
    this.calls.delete(call.id);
    if (call.meeting && this.meetingCalls.get(call.meeting.id) === call) this.meetingCalls.delete(call.meeting.id);
  }

  private terminateLeg(leg: AppLeg, result: ResultInfo): void {
    if (leg.ended) return;
    this.clearAnswerTimer(leg);
    if (leg.keepAliveTimer) clearTimeout(leg.keepAliveTimer);
    leg.resultInfo = result;
    for (const op of leg.operations.values()) {
      if (!op.done) this.completeOperation(leg, op, 'failed', Results.operationCanceled(), 'operationCanceled');
    }
    this.setLegState(leg, 'terminated');
    this.legs.delete(leg.id);
    this.settleHooks.delete(leg.participant);
  }

  private setLegState(leg: AppLeg, state: LegState): void {
    if (leg.state === state || leg.ended) return;
    const previous = leg.state;
    leg.state = state;
    for (const o of this.observers) o.legStateChanged?.(leg, previous);
  }

  /** Re-announces the current state (used for the first establishing notification after a create). */
  private emitState(leg: AppLeg, state: LegState, force: boolean): void {
    if (leg.state !== state && !force) return;
    for (const o of this.observers) o.legStateChanged?.(leg, state);
  }

  /** Tells every application in a group call or meeting (except `skip`) that participants changed. */
  private emitRoster(call: Call, changed: Participant[], skip?: AppLeg): void {
    call.rosterSequence++;
    if (call.kind === 'peerToPeer') {
      // Applications hear of changes in two-party calls too (ACS reports them; the Graph adapter does not); endpoints do not.
      for (const p of call.participants.values()) {
        if (p.endpoint.kind === 'app' && p.connected && p.endpoint.leg !== skip && !p.endpoint.leg.ended) this.notifyRoster(p.endpoint.leg, changed);
      }
      return;
    }
    for (const p of call.participants.values()) {
      if (p.endpoint.kind !== 'app' || !p.connected) continue;
      const leg = p.endpoint.leg;
      if (leg === skip || leg.ended) continue;
      this.notifyRoster(leg, changed);
    }
    for (const p of call.participants.values()) {
      if (p.endpoint.kind === 'virtual' && p.connected) this.driverOf(p)?.observe?.(p, 'rosterChanged', { participants: changed.map((c) => c.id) });
    }
  }

  private notifyRoster(leg: AppLeg, participants: Participant[]): void {
    for (const o of this.observers) o.rosterChanged?.(leg, participants);
  }

  private armKeepAlive(leg: AppLeg): void {
    if (leg.keepAliveTimer) clearTimeout(leg.keepAliveTimer);
    leg.keepAliveTimer = setTimeout(() => {
      if (leg.ended) return;
      this.log.info({ callId: leg.id }, 'call ended: no keepAlive');
      leg.resultInfo = Results.keepAliveTimeout();
      this.leave(leg.participant, Results.endedByPeer(), 'keepAliveTimeout', leg.resultInfo);
    }, this.timings.keepAliveTimeoutMs);
    leg.keepAliveTimer.unref?.();
  }

  private clearAnswerTimer(leg: AppLeg): void {
    if (leg.answerTimer) clearTimeout(leg.answerTimer);
    leg.answerTimer = null;
  }

  private clearRing(p: Participant): void {
    if (p.ringTimer) clearTimeout(p.ringTimer);
    p.ringTimer = null;
  }

  /** Ends every active call (shutdown): each application gets its terminated notification. */
  endAll(result: ResultInfo): void {
    for (const call of [...this.calls.values()]) this.endCall(call, result);
    for (const leg of [...this.legs.values()]) this.terminateLeg(leg, result);
  }
}
