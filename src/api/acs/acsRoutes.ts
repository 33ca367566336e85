// The ACS Call Automation API over HTTP: /calling/... as the official SDK (@azure/communication-call-automation)
// calls it. A thin adapter on the call core, like the Graph adapter: every request is authenticated
// with the HMAC-SHA256 access-key scheme over its raw bytes (which also names the ACS resource),
// Repeatability-Request-ID is honoured, bodies are checked field by field (a 400 names the field),
// and replies carry exactly the status codes the SDK declares. Errors use the ACS error body.
//
// Routing is done here, on the raw request target, not by Fastify's router: action names follow a
// ':' inside a path segment (`/calling/callConnections/{id}:play`) and path parameters arrive
// percent-encoded (`/participants/8%3Aacs%3A…`), as they were signed. More routes (call recording's
// /calling/recordings…) plug in through `extraRoutes`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppLeg, LegRequest } from '../../calls/AppLeg.ts';
import { DTMF_DEFAULT_GAP_MS, type CallMedia, type MediaPrompt } from '../../calls/CallMedia.ts';
import { CallError, type CallService, type PlaceTarget } from '../../calls/CallService.ts';
import type { Tone } from '../../calls/CallTypes.ts';
import type { Operation } from '../../calls/Operation.ts';
import { Results } from '../../calls/ResultCodes.ts';
import { DirectoryError, type Directory } from '../../directory/Directory.ts';
import type { AcsResource, Application } from '../../directory/DirectoryTypes.ts';
import type { EventGridPublisher } from '../../notify/EventGridPublisher.ts';
import { AcsError } from './AcsError.ts';
import { AcsAuthenticator } from './AcsAuthenticator.ts';
import { callbackUriProblem } from '../callbackUri.ts';
import { E164, parseAcsIdentifier, parseAcsIdentity } from './AcsIdentifiers.ts';
import type { AcsNotifier } from './AcsNotifier.ts';
import {
  acsIdentifierOf,
  applicationIdentity,
  identityContext,
  renderCallConnection,
  renderParticipant,
  requireParticipant,
  findParticipant,
  toneFromAcs,
  visibleParticipants,
} from './AcsWire.ts';
import type { IncomingCallContexts } from './IncomingCallContext.ts';
import type { RepeatabilityCache } from './Repeatability.ts';

type Json = Record<string, any>;

/** What a route handler gets: the authenticated resource, its application view, the parsed body. */
export interface AcsRequestContext {
  resource: AcsResource;
  app: Application;
  method: string;
  /** The path as received (percent-encoded), without the query. */
  path: string;
  /** The route pattern's capture groups, percent-decoded. */
  params: string[];
  body: Json;
  rawBody: Buffer;
  req: FastifyRequest;
}

export interface AcsResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface AcsRoute {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  /** Matched against the raw path (no query); capture groups become ctx.params (decoded). */
  path: RegExp;
  handler(ctx: AcsRequestContext): AcsResult | Promise<AcsResult>;
}

export interface AcsRouteOptions {
  calls: CallService;
  media: CallMedia | null;
  directory: Directory;
  notifier: AcsNotifier;
  contexts: IncomingCallContexts;
  eventGrid: EventGridPublisher;
  repeatability: RepeatabilityCache;
  allowInsecureCallbacks: boolean;
  maxGroupTargets: number;
  /** How long redirect targets ring. */
  ringTimeoutMs: number;
  /** Allowed skew of x-ms-date (default ±15 min). */
  hmacWindowMs?: number;
  /** More /calling routes (call recording). */
  extraRoutes?: AcsRoute[];
}

const CC = '/calling/callConnections';
/** One path segment, percent-encoded, without ':' (actions follow a ':'). */
const SEG = '([^/:?]+)';

declare module 'fastify' {
  interface FastifyRequest {
    acsRawBody?: Buffer;
  }
}

/**
 * Sets up a route scope the ACS way: the raw body bytes are kept (the HMAC's x-ms-content-sha256
 * covers them; JSON is parsed after the check), and every error is rendered by `render`.
 */
export function useAcsScope(
  scope: FastifyInstance,
  toError: (err: unknown) => AcsError,
  render: (e: AcsError) => unknown,
  failureLog: string,
): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body, done) => {
    req.acsRawBody = body as Buffer;
    done(null, undefined);
  });
  scope.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = toError(err);
    if (e.status >= 500) req.log.error({ err, url: req.url }, failureLog);
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    reply.status(e.status).type('application/json').send(render(e));
  });
}

export function registerAcsRoutes(http: FastifyInstance, o: AcsRouteOptions): void {
  const { calls, directory, notifier } = o;
  const auth = new AcsAuthenticator(directory, o.hmacWindowMs);

  // ------------------------------------------------------------------ checks

  function obj(v: unknown, field: string, required = true): Json | undefined {
    if (v === undefined || v === null) {
      if (required) throw AcsError.invalidField(field, 'is required.');
      return undefined;
    }
    if (typeof v !== 'object' || Array.isArray(v)) throw AcsError.invalidField(field, 'must be an object.');
    return v as Json;
  }

  function str(b: Json, key: string, field = key, required = false): string | undefined {
    const v = b[key];
    if (v === undefined || v === null) {
      if (required) throw AcsError.invalidField(field, 'is required.');
      return undefined;
    }
    if (typeof v !== 'string') throw AcsError.invalidField(field, 'must be a string.');
    if (required && v.trim() === '') throw AcsError.invalidField(field, 'must not be empty.');
    return v;
  }

  function bool(b: Json, key: string, field = key): boolean | undefined {
    const v = b[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw AcsError.invalidField(field, 'must be true or false.');
    return v;
  }

  function int(b: Json, key: string, min: number, max: number, field = key): number | undefined {
    const v = b[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw AcsError.invalidField(field, `must be an integer from ${min} to ${max}.`);
    return v;
  }

  function arr(b: Json, key: string, field = key, required = false): unknown[] | undefined {
    const v = b[key];
    if (v === undefined || v === null) {
      if (required) throw AcsError.invalidField(field, 'is required.');
      return undefined;
    }
    if (!Array.isArray(v)) throw AcsError.invalidField(field, 'must be an array.');
    return v;
  }

  function callbackUri(value: string | undefined, field: string, required: boolean): string | null {
    if (value === undefined || value === '') {
      if (required) throw AcsError.invalidField(field, 'is required: events about the call are POSTed there.');
      return null;
    }
    const problem = callbackUriProblem(value, o.allowInsecureCallbacks);
    if (problem) throw AcsError.invalidField(field, problem);
    return value;
  }

  /** The field path of the identifier's sub-object (for messages about who it names). */
  function idField(value: unknown, field: string): string {
    const v = (value ?? {}) as Json;
    for (const k of ['communicationUser', 'phoneNumber', 'microsoftTeamsUser', 'microsoftTeamsApp']) if (v[k]) return `${field}.${k}`;
    return `${field}.rawId`;
  }

  /** An identifier naming someone to call (target, participant to add, transfer or redirect target). */
  function placeTarget(ctx: AcsRequestContext, value: unknown, field: string): PlaceTarget & { displayName: string | null } {
    const identity = parseAcsIdentity(value, field, identityContext(ctx.resource, directory));
    const tenantId = ctx.resource.tenantId;
    switch (identity.kind) {
      case 'user': {
        const u = directory.getUser(identity.id);
        if (!u || u.tenantId !== tenantId) throw AcsError.invalidField(idField(value, field), `no user '${identity.id}' in this resource (its users are 8:acs:${ctx.resource.id}_<userId>).`);
        return { kind: 'user', id: u.id, displayName: null };
      }
      case 'application': {
        const a = directory.getApplication(identity.id);
        if (!a || a.tenantId !== tenantId) throw AcsError.invalidField(idField(value, field), `no application '${identity.id}' in this resource's tenant.`);
        return { kind: 'application', id: a.appId, displayName: null };
      }
      case 'applicationInstance': {
        const i = directory.getApplicationInstance(identity.id);
        if (!i || i.tenantId !== tenantId) throw AcsError.invalidField(idField(value, field), `no application instance '${identity.id}' in this resource's tenant.`);
        return { kind: 'applicationInstance', id: i.id, displayName: null };
      }
      case 'phone':
        if (!E164.test(identity.id)) throw AcsError.invalidField(idField(value, field), 'an anonymous number cannot be called.');
        return { kind: 'phone', id: identity.id, displayName: null };
      case 'guest':
        throw AcsError.invalidField(idField(value, field), 'an anonymous Teams user cannot be called.');
    }
  }

  /** sourceCallerIdNumber: one of the resource's own numbers. */
  function callerIdNumber(ctx: AcsRequestContext, b: Json): string | null {
    const model = obj(b.sourceCallerIdNumber, 'sourceCallerIdNumber', false);
    if (!model) return null;
    const value = str(model, 'value', 'sourceCallerIdNumber.value', true)!;
    if (!E164.test(value)) throw AcsError.invalidField('sourceCallerIdNumber.value', `'${value}' is not an E.164 phone number such as +14255550100.`);
    if (!ctx.resource.phoneNumbers.includes(value)) {
      throw AcsError.invalidField('sourceCallerIdNumber.value', `${value} is not a number of this resource (${ctx.resource.phoneNumbers.join(', ') || 'it has none'}).`);
    }
    return value;
  }

  function connection(ctx: AcsRequestContext, id: string): AppLeg {
    const leg = calls.getLeg(id);
    // Tenant and resource isolation: a connection is visible to the resource it belongs to only.
    if (!leg || leg.app.appId !== ctx.app.appId || leg.request.api !== 'acs' || leg.state === 'incoming') throw AcsError.callNotFound(id);
    return leg;
  }

  function incoming(ctx: AcsRequestContext, b: Json): AppLeg {
    const context = str(b, 'incomingCallContext', 'incomingCallContext', true)!;
    const ref = o.contexts.open(context);
    if (!ref) throw AcsError.invalidField('incomingCallContext', 'is not an incomingCallContext issued by this Telegraph (copy it from the IncomingCall event).');
    if (ref.resourceId !== ctx.resource.id) throw AcsError.invalidField('incomingCallContext', 'belongs to a call offered to another Communication Services resource.');
    const leg = calls.getLeg(ref.legId);
    if (!leg || leg.state !== 'incoming' || leg.app.appId !== ctx.app.appId) {
      throw new AcsError(404, 'NotFound', 'The incoming call is no longer available: it was answered, rejected or redirected already, the caller hung up, or it was not answered in time.', { target: 'incomingCallContext' });
    }
    return leg;
  }

  function playSource(src: unknown, field: string): MediaPrompt {
    const s = obj(src, field)!;
    const kind = typeof s.kind === 'string' ? s.kind.toLowerCase() : s.file ? 'file' : s.text ? 'text' : s.ssml ? 'ssml' : undefined;
    if (kind === 'text' || kind === 'ssml') {
      throw AcsError.invalidField(`${field}.kind`, `'${kind}' sources need text-to-speech, and no TTS engine is configured in Telegraph: play an audio file instead (kind 'file', a WAV at an http(s) URL).`);
    }
    if (kind !== 'file') throw AcsError.invalidField(`${field}.kind`, `must be 'file' (got ${JSON.stringify(s.kind)}).`);
    const file = obj(s.file, `${field}.file`)!;
    const uri = str(file, 'uri', `${field}.file.uri`, true)!;
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw AcsError.invalidField(`${field}.file.uri`, `'${uri}' is not an absolute URL.`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw AcsError.invalidField(`${field}.file.uri`, 'must be an http or https URL.');
    const cacheId = str(s, 'playSourceCacheId', `${field}.playSourceCacheId`);
    return { uri, resourceId: cacheId ?? null };
  }

  function mediaFor(leg: AppLeg, action: string): CallMedia {
    if (!o.media) throw new AcsError(400, 'BadRequest', `${action} needs the media engine, which is disabled in this Telegraph.`);
    if (leg.state !== 'established') throw AcsError.badRequest(`The call connection is ${leg.state === 'establishing' ? 'connecting' : leg.state}: ${action} needs a connected call.`);
    return o.media;
  }

  function unsupported(field: string, what: string): never {
    throw AcsError.invalidField(field, `${what} is not supported by Telegraph.`);
  }

  function rejectUnsupportedOptions(b: Json): void {
    if (b.mediaStreamingOptions) unsupported('mediaStreamingOptions', 'media streaming (audio over WebSocket)');
    if (b.transcriptionOptions) unsupported('transcriptionOptions', 'transcription');
  }

  const opContext = (b: Json) => str(b, 'operationContext') ?? null;
  const opCallback = (b: Json) => callbackUri(str(b, 'operationCallbackUri'), 'operationCallbackUri', false);

  function tagged(op: Operation, b: Json): Operation {
    const url = opCallback(b);
    if (url) op.details.callbackUri = url;
    return op;
  }

  // ------------------------------------------------------------------ handlers

  async function createCall(ctx: AcsRequestContext): Promise<AcsResult> {
    const b = ctx.body;
    const targetsRaw = arr(b, 'targets', 'targets', true)!;
    if (targetsRaw.length === 0) throw AcsError.invalidField('targets', 'a call needs at least one target.');
    if (targetsRaw.length > o.maxGroupTargets) throw AcsError.invalidField('targets', `a call can be created with at most ${o.maxGroupTargets} targets (got ${targetsRaw.length}); add more participants once it is connected.`);
    const cb = callbackUri(str(b, 'callbackUri'), 'callbackUri', true)!;
    rejectUnsupportedOptions(b);
    const callerId = callerIdNumber(ctx, b);
    const displayName = str(b, 'sourceDisplayName') ?? null;
    const source = obj(b.source, 'source', false);
    if (source) {
      const id = str(source, 'id', 'source.id', true)!;
      parseAcsIdentity({ communicationUser: { id } }, 'source', identityContext(ctx.resource, directory));
    }
    const targets = targetsRaw.map((t, i) => placeTarget(ctx, t, `targets[${i}]`));
    if (targets.some((t) => t.kind === 'phone') && !callerId) {
      throw AcsError.invalidField('sourceCallerIdNumber', 'is required to call a phone number: give one of the resource\'s numbers as the caller id.');
    }
    const request: LegRequest = {
      api: 'acs',
      apiVersion: 'v1.0',
      callbackUri: cb,
      requestedModalities: ['audio'],
      media: 'service',
      wire: {
        operationContext: opContext(b) ?? undefined,
        sourceCallerIdNumber: callerId ? { value: callerId } : undefined,
        sourceDisplayName: displayName ?? undefined,
        source: source ? { id: source.id } : undefined,
      },
    };
    const leg = calls.placeFromApp({ app: ctx.app, source: applicationIdentity(ctx.resource, displayName, callerId), targets, meeting: null, request });
    return { status: 201, body: renderCallConnection(leg, ctx.resource, directory) };
  }

  function answerCall(ctx: AcsRequestContext): AcsResult {
    const b = ctx.body;
    const leg = incoming(ctx, b);
    const cb = callbackUri(str(b, 'callbackUri'), 'callbackUri', true)!;
    rejectUnsupportedOptions(b);
    const answeredBy = obj(b.answeredBy, 'answeredBy', false);
    calls.answer(leg, {
      api: 'acs',
      apiVersion: 'v1.0',
      callbackUri: cb,
      requestedModalities: ['audio'],
      media: 'service',
      wire: { operationContext: opContext(b) ?? undefined, answeredBy: answeredBy ? { id: answeredBy.id } : undefined },
    });
    return { status: 200, body: renderCallConnection(leg, ctx.resource, directory) };
  }

  function rejectCall(ctx: AcsRequestContext): AcsResult {
    const b = ctx.body;
    const leg = incoming(ctx, b);
    const reason = str(b, 'callRejectReason') ?? 'none';
    const known = ['none', 'busy', 'forbidden'] as const;
    const r = known.find((k) => k === reason.toLowerCase());
    if (!r) throw AcsError.invalidField('callRejectReason', `must be one of ${known.join(', ')}.`);
    calls.reject(leg, r);
    return { status: 204 };
  }

  function redirectCall(ctx: AcsRequestContext): AcsResult {
    const b = ctx.body;
    const leg = incoming(ctx, b);
    const target = placeTarget(ctx, obj(b.target, 'target'), 'target');
    calls.redirect(leg, [target], o.ringTimeoutMs);
    return { status: 204 };
  }

  function connectCall(): AcsResult {
    throw AcsError.badRequest('connect (joining a call by server call id, group call id or room id) is not supported by Telegraph.');
  }

  function getConnection(ctx: AcsRequestContext): AcsResult {
    return { status: 200, body: renderCallConnection(connection(ctx, ctx.params[0]!), ctx.resource, directory) };
  }

  function hangUp(ctx: AcsRequestContext): AcsResult {
    calls.hangUp(connection(ctx, ctx.params[0]!));
    return { status: 204 };
  }

  const connectionActions: Record<string, (ctx: AcsRequestContext, leg: AppLeg) => AcsResult> = {
    terminate(_ctx, leg) {
      leg.resultInfo = Results.endedByApplication();
      calls.endCall(leg.call, Results.endedByApplication());
      return { status: 204 };
    },
    transferToParticipant(ctx, leg) {
      const b = ctx.body;
      const targetValue = obj(b.targetParticipant, 'targetParticipant');
      const target = placeTarget(ctx, targetValue, 'targetParticipant');
      let transferee = null;
      if (b.transferee) {
        transferee = requireParticipant(leg, b.transferee, 'transferee', ctx.resource, directory);
        const peer = visibleParticipants(leg);
        if (leg.call.kind !== 'peerToPeer' || peer[0] !== transferee) {
          throw AcsError.invalidField('transferee', 'transferring one participant out of a group call is not supported by Telegraph: only a two-party call can be transferred (omit transferee).');
        }
      }
      const url = opCallback(b);
      const operationContext = opContext(b);
      if (b.sourceCallerIdNumber) callerIdNumber(ctx, b);
      const state = notifier.state(leg);
      calls.transfer(leg, target);
      state.transfer = { operationContext, callbackUri: url, target: { ...target }, transferee: transferee ?? visibleParticipants(leg)[0] ?? null };
      return { status: 202, body: { operationContext: operationContext ?? undefined } };
    },
    play(ctx, leg) {
      const b = ctx.body;
      const sources = arr(b, 'playSources', 'playSources', true)!;
      if (sources.length === 0) throw AcsError.invalidField('playSources', 'needs at least one play source.');
      const prompts = sources.map((s, i) => playSource(s, `playSources[${i}]`));
      const playTo = arr(b, 'playTo') ?? [];
      const listeners = playTo.length === 0 ? null : playTo.map((t, i) => requireParticipant(leg, t, `playTo[${i}]`, ctx.resource, directory));
      const options = obj(b.playOptions, 'playOptions', false) ?? {};
      const loop = bool(options, 'loop', 'playOptions.loop') ?? false;
      const interrupt = bool(b, 'interruptCallMediaOperation') ?? false;
      const media = mediaFor(leg, 'play');
      tagged(media.playPrompt(leg, prompts, opContext(b), { listeners, forever: loop, bargeIn: interrupt }), b);
      return { status: 202 };
    },
    recognize(ctx, leg) {
      const b = ctx.body;
      const inputType = str(b, 'recognizeInputType', 'recognizeInputType', true)!;
      if (inputType.toLowerCase() !== 'dtmf') {
        throw AcsError.invalidField('recognizeInputType', `'${inputType}' needs speech recognition, and no speech recognition engine is configured in Telegraph: use 'dtmf'.`);
      }
      const ro = obj(b.recognizeOptions, 'recognizeOptions')!;
      const target = requireParticipant(leg, obj(ro.targetParticipant, 'recognizeOptions.targetParticipant'), 'recognizeOptions.targetParticipant', ctx.resource, directory);
      const dtmf = obj(ro.dtmfOptions, 'recognizeOptions.dtmfOptions', false) ?? {};
      const stopTones = (arr(dtmf, 'stopTones', 'recognizeOptions.dtmfOptions.stopTones') ?? []).map((t, i) => toneFromAcs(t, `recognizeOptions.dtmfOptions.stopTones[${i}]`));
      const prompts: MediaPrompt[] = [];
      if (b.playPrompt) prompts.push(playSource(b.playPrompt, 'playPrompt'));
      (arr(b, 'playPrompts') ?? []).forEach((p, i) => prompts.push(playSource(p, `playPrompts[${i}]`)));
      const initial = ro.initialSilenceTimeoutInSeconds;
      if (initial !== undefined && initial !== null && (typeof initial !== 'number' || initial < 0 || initial > 300)) {
        throw AcsError.invalidField('recognizeOptions.initialSilenceTimeoutInSeconds', 'must be a number of seconds from 0 to 300.');
      }
      const media = mediaFor(leg, 'recognize');
      tagged(media.recognizeDtmf(leg, {
        target,
        prompts,
        interruptPrompt: bool(ro, 'interruptPrompt', 'recognizeOptions.interruptPrompt') ?? false,
        initialSilenceTimeoutSeconds: typeof initial === 'number' ? initial : 5,
        interToneTimeoutSeconds: int(dtmf, 'interToneTimeoutInSeconds', 1, 60, 'recognizeOptions.dtmfOptions.interToneTimeoutInSeconds') ?? 2,
        maxTones: int(dtmf, 'maxTonesToCollect', 1, 100, 'recognizeOptions.dtmfOptions.maxTonesToCollect') ?? 1,
        stopTones,
        clientContext: opContext(b),
        bargeIn: bool(b, 'interruptCallMediaOperation') ?? false,
      }), b);
      return { status: 202 };
    },
    startContinuousDtmfRecognition(ctx, leg) {
      const b = ctx.body;
      const p = requireParticipant(leg, obj(b.targetParticipant, 'targetParticipant'), 'targetParticipant', ctx.resource, directory);
      mediaFor(leg, 'startContinuousDtmfRecognition');
      notifier.state(leg).continuousDtmf.add(p);
      leg.subscribedToTone = true;
      return { status: 200 };
    },
    stopContinuousDtmfRecognition(ctx, leg) {
      const b = ctx.body;
      const p = requireParticipant(leg, obj(b.targetParticipant, 'targetParticipant'), 'targetParticipant', ctx.resource, directory);
      const s = notifier.state(leg);
      s.continuousDtmf.delete(p);
      if (s.continuousDtmf.size === 0) leg.subscribedToTone = false;
      notifier.emit(leg, 'ContinuousDtmfRecognitionStopped', { operationContext: opContext(b) ?? undefined, resultInformation: { code: 200, subCode: 0, message: 'Continuous DTMF recognition stopped.' } }, opCallback(b));
      return { status: 200 };
    },
    sendDtmfTones(ctx, leg) {
      const b = ctx.body;
      const tonesRaw = arr(b, 'tones', 'tones', true)!;
      if (tonesRaw.length === 0 || tonesRaw.length > 18) throw AcsError.invalidField('tones', 'must list 1 to 18 tones.');
      const tones: Tone[] = tonesRaw.map((t, i) => toneFromAcs(t, `tones[${i}]`));
      const p = requireParticipant(leg, obj(b.targetParticipant, 'targetParticipant'), 'targetParticipant', ctx.resource, directory);
      const media = mediaFor(leg, 'sendDtmfTones');
      tagged(media.sendDtmfTones(leg, tones, DTMF_DEFAULT_GAP_MS, opContext(b), p), b);
      return { status: 202, body: { operationContext: opContext(b) ?? undefined } };
    },
    cancelAllMediaOperations(_ctx, leg) {
      mediaFor(leg, 'cancelAllMediaOperations').cancelMediaProcessing(leg, null);
      return { status: 202 };
    },
    hold(ctx, leg) {
      const b = ctx.body;
      const p = requireParticipant(leg, obj(b.targetParticipant, 'targetParticipant'), 'targetParticipant', ctx.resource, directory);
      const music = b.playSourceInfo ? playSource(b.playSourceInfo, 'playSourceInfo') : null;
      mediaFor(leg, 'hold');
      calls.holdParticipant(leg, p.id, true, music);
      return { status: 200 };
    },
    unhold(ctx, leg) {
      const b = ctx.body;
      const p = requireParticipant(leg, obj(b.targetParticipant, 'targetParticipant'), 'targetParticipant', ctx.resource, directory);
      mediaFor(leg, 'unhold');
      calls.holdParticipant(leg, p.id, false);
      return { status: 200 };
    },
    startTranscription: () => unsupported('(action)', 'transcription'),
    stopTranscription: () => unsupported('(action)', 'transcription'),
    updateTranscription: () => unsupported('(action)', 'transcription'),
    startMediaStreaming: () => unsupported('(action)', 'media streaming'),
    stopMediaStreaming: () => unsupported('(action)', 'media streaming'),
  };

  const participantActions: Record<string, (ctx: AcsRequestContext, leg: AppLeg) => AcsResult> = {
    add(ctx, leg) {
      const b = ctx.body;
      const value = obj(b.participantToAdd, 'participantToAdd')!;
      const target = placeTarget(ctx, value, 'participantToAdd');
      const timeout = int(b, 'invitationTimeoutInSeconds', 0, 180);
      const callerId = callerIdNumber(ctx, b);
      if (target.kind === 'phone' && !callerId) {
        throw AcsError.invalidField('sourceCallerIdNumber', 'is required to add a phone number: give one of the resource\'s numbers as the caller id.');
      }
      if (findParticipant(leg, value, 'participantToAdd', ctx.resource, directory)) {
        throw AcsError.invalidField('participantToAdd', 'is already in the call.');
      }
      const url = opCallback(b);
      const identifier = acsIdentifierOf({ kind: target.kind, id: target.id, displayName: null }, ctx.resource, directory);
      const op = calls.invite(leg, [target], opContext(b), {
        ringTimeoutMs: timeout ? timeout * 1000 : undefined,
        source: applicationIdentity(ctx.resource, str(b, 'sourceDisplayName') ?? null, callerId),
      });
      op.details.acsParticipant = identifier;
      if (url) op.details.callbackUri = url;
      return {
        status: 202,
        body: { participant: { identifier, isMuted: false, isOnHold: false }, operationContext: op.clientContext ?? undefined, invitationId: op.id },
      };
    },
    remove(ctx, leg) {
      const b = ctx.body;
      const value = obj(b.participantToRemove, 'participantToRemove')!;
      const p = requireParticipant(leg, value, 'participantToRemove', ctx.resource, directory, false);
      const op = tagged(calls.newOperation(leg, 'removeParticipant', opContext(b)), b);
      op.details.acsParticipant = acsIdentifierOf(p.identity, ctx.resource, directory);
      calls.completeOperation(leg, op, 'completed', Results.success(), 'completedSuccessfully');
      calls.removeParticipant(leg, p.id);
      return { status: 202, body: { operationContext: op.clientContext ?? undefined } };
    },
    mute(ctx, leg) {
      const b = ctx.body;
      const list = arr(b, 'targetParticipants', 'targetParticipants', true)!;
      if (list.length !== 1) throw AcsError.invalidField('targetParticipants', 'must name exactly one participant.');
      const p = requireParticipant(leg, list[0], 'targetParticipants[0]', ctx.resource, directory);
      calls.muteParticipant(leg, p.id, opContext(b));
      return { status: 200, body: { operationContext: opContext(b) ?? undefined } };
    },
    cancelAddParticipant(ctx, leg) {
      const b = ctx.body;
      const invitationId = str(b, 'invitationId', 'invitationId', true)!;
      const op = leg.operations.get(invitationId);
      if (!op || op.kind !== 'inviteParticipants') throw new AcsError(404, 'NotFound', `No addParticipant invitation ${invitationId} in call connection ${leg.id}.`, { target: 'invitationId' });
      const url = opCallback(b);
      if (op.done) {
        notifier.emit(leg, 'CancelAddParticipantFailed', {
          operationContext: opContext(b) ?? undefined,
          invitationId,
          resultInformation: { code: 400, subCode: 8523, message: `The invitation has already ${op.status === 'completed' ? 'been answered' : 'ended'}: there is nothing to cancel.` },
        }, url);
      } else {
        op.details.cancelContext = opContext(b) ?? undefined;
        if (url) op.details.cancelCallbackUri = url;
        calls.cancelInvite(leg, op);
      }
      return { status: 202, body: { operationContext: opContext(b) ?? undefined, invitationId } };
    },
    moveHere: () => unsupported('(action)', 'moving participants between calls'),
  };

  function connectionAction(ctx: AcsRequestContext): AcsResult {
    const [id, action] = ctx.params as [string, string];
    const handler = Object.entries(connectionActions).find(([k]) => k.toLowerCase() === action.toLowerCase())?.[1];
    if (!handler) throw AcsError.notFound(`'${action}' is not an action of a call connection. Actions: ${Object.keys(connectionActions).join(', ')}.`);
    return handler(ctx, connection(ctx, id));
  }

  function participantsAction(ctx: AcsRequestContext): AcsResult {
    const [id, action] = ctx.params as [string, string];
    const handler = Object.entries(participantActions).find(([k]) => k.toLowerCase() === action.toLowerCase())?.[1];
    if (!handler) throw AcsError.notFound(`'${action}' is not an action of the participants of a call connection. Actions: ${Object.keys(participantActions).join(', ')}.`);
    return handler(ctx, connection(ctx, id));
  }

  function listParticipants(ctx: AcsRequestContext): AcsResult {
    const leg = connection(ctx, ctx.params[0]!);
    return { status: 200, body: { value: visibleParticipants(leg).map((p) => renderParticipant(p, ctx.resource, directory)) } };
  }

  function getParticipant(ctx: AcsRequestContext): AcsResult {
    const leg = connection(ctx, ctx.params[0]!);
    const rawId = ctx.params[1]!;
    parseAcsIdentifier({ rawId }, 'participantRawId');
    const p = findParticipant(leg, { rawId }, 'participantRawId', ctx.resource, directory);
    if (!p || !p.connected) throw new AcsError(404, 'NotFound', `Participant ${rawId} is not in call connection ${leg.id}.`, { target: 'participantRawId' });
    return { status: 200, body: renderParticipant(p, ctx.resource, directory) };
  }

  const routes: AcsRoute[] = [
    { method: 'POST', path: new RegExp(`^${CC}$`, 'i'), handler: createCall },
    { method: 'POST', path: new RegExp(`^${CC}:answer$`, 'i'), handler: answerCall },
    { method: 'POST', path: new RegExp(`^${CC}:reject$`, 'i'), handler: rejectCall },
    { method: 'POST', path: new RegExp(`^${CC}:redirect$`, 'i'), handler: redirectCall },
    { method: 'POST', path: new RegExp(`^${CC}:connect$`, 'i'), handler: connectCall },
    { method: 'GET', path: new RegExp(`^${CC}/${SEG}$`, 'i'), handler: getConnection },
    { method: 'DELETE', path: new RegExp(`^${CC}/${SEG}$`, 'i'), handler: hangUp },
    { method: 'POST', path: new RegExp(`^${CC}/${SEG}:([A-Za-z]+)$`, 'i'), handler: connectionAction },
    { method: 'GET', path: new RegExp(`^${CC}/${SEG}/participants$`, 'i'), handler: listParticipants },
    { method: 'POST', path: new RegExp(`^${CC}/${SEG}/participants:([A-Za-z]+)$`, 'i'), handler: participantsAction },
    { method: 'GET', path: new RegExp(`^${CC}/${SEG}/participants/([^/?]+)$`, 'i'), handler: getParticipant },
    ...(o.extraRoutes ?? []),
  ];

  // ------------------------------------------------------------------ the /calling scope

  function toAcsError(err: any): AcsError {
    if (err instanceof AcsError) return err;
    if (err instanceof CallError) return new AcsError(err.status, err.code, err.message, err.target ? { target: err.target } : {});
    if (err instanceof DirectoryError) return new AcsError(err.status, err.status === 404 ? 'NotFound' : err.status === 409 ? 'Conflict' : 'BadRequest', err.message);
    if (err?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new AcsError(413, 'RequestEntityTooLarge', 'The request body is larger than the server accepts.');
    if (typeof err?.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return new AcsError(err.statusCode, 'BadRequest', String(err.message));
    return AcsError.internal();
  }

  http.register(async (scope) => {
    useAcsScope(scope, toAcsError, (e) => e.toBody(), 'ACS request failed');

    async function handle(req: FastifyRequest, reply: FastifyReply) {
      const rawUrl = req.raw.url ?? req.url;
      const q = rawUrl.indexOf('?');
      const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
      const rawBody = req.acsRawBody ?? Buffer.alloc(0);
      const resource = auth.authenticate(req, rawUrl, rawBody);
      const app = directory.acsApplication(resource.id);
      if (!app) throw AcsError.unauthorized('The Communication Services resource no longer exists.');
      let route: AcsRoute | undefined;
      let m: RegExpExecArray | null = null;
      for (const r of routes) {
        if (r.method !== req.method) continue;
        m = r.path.exec(path);
        if (m) { route = r; break; }
      }
      if (!route || !m) throw AcsError.notFound(`No Call Automation operation matches ${req.method} ${path}.`);
      let body: Json = {};
      if (rawBody.length > 0) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(rawBody.toString('utf8'));
        } catch (err) {
          throw AcsError.badRequest(`The request body is not valid JSON: ${(err as Error).message}`);
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw AcsError.badRequest('The request body must be a JSON object.');
        body = parsed as Json;
      }
      let params: string[];
      try {
        params = m.slice(1).map((x) => decodeURIComponent(x));
      } catch {
        throw AcsError.badRequest(`The path ${path} is not correctly percent-encoded.`);
      }
      const ctx: AcsRequestContext = { resource, app, method: req.method, path, params, body, rawBody, req };
      const handler = route.handler;
      const result = await o.repeatability.run(
        { resource: resource.id, method: req.method, rawPath: rawUrl, headers: req.headers, body: rawBody },
        async () => {
          let r: AcsResult;
          try {
            r = await handler(ctx);
          } catch (err) {
            // Domain errors become ACS errors here, so that a 4xx is kept for a repeated request too.
            throw err instanceof CallError || err instanceof DirectoryError ? toAcsError(err) : err;
          }
          const headers: Record<string, string> = { ...(r.headers ?? {}) };
          if (r.body !== undefined) headers['content-type'] = 'application/json';
          return { status: r.status, headers, ...(r.body !== undefined ? { body: JSON.stringify(r.body) } : {}) };
        },
      );
      for (const [k, v] of Object.entries(result.headers)) reply.header(k, v);
      reply.status(result.status);
      return reply.send(result.body ?? undefined);
    }

    scope.route({ method: ['GET', 'POST', 'DELETE', 'PUT', 'PATCH'], url: '/*', handler: handle });
    scope.route({ method: ['GET', 'POST', 'DELETE', 'PUT', 'PATCH'], url: '/', handler: handle });
  }, { prefix: '/calling' });

  // The asynchronous Event Grid handshake: a subscriber GETs the validationUrl of the validation event.
  http.get('/eventgrid/validate', async (req, reply) => {
    const q = req.query as Json;
    const sub = typeof q.id === 'string' && typeof q.code === 'string' ? o.eventGrid.validateByUrl(q.id, q.code) : null;
    if (!sub) return reply.status(400).type('text/plain').send('This validation URL is not valid (unknown subscription or wrong code).');
    return reply.status(200).type('text/plain').send(`Webhook successfully validated as a part of the subscription validation for ${sub.name}.`);
  });
}
