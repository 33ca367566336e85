// The Graph calls API over HTTP: /{v1.0|beta}/communications/calls and the deprecated /app/calls.
// A thin adapter: it checks the token and the body, translates to CallService calls, renders replies.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppLeg, LegRequest } from '../../calls/AppLeg.ts';
import { CallError, type CallService, type PlaceTarget } from '../../calls/CallService.ts';
import type { Identity } from '../../calls/CallTypes.ts';
import type { Operation } from '../../calls/Operation.ts';
import { DTMF_DEFAULT_GAP_MS, type CallMedia, type MediaPrompt } from '../../calls/CallMedia.ts';
import { TONES, toneFromKey, type Tone } from '../../calls/CallTypes.ts';
import type { Directory } from '../../directory/Directory.ts';
import type { Application } from '../../directory/DirectoryTypes.ts';
import { canSeeCaller, missingPermission, type Scenario } from '../../identity/Permissions.ts';
import { TokenError, type TokenService } from '../../identity/TokenService.ts';
import { GraphError } from './GraphError.ts';
import { callbackUriProblem } from '../callbackUri.ts';
import {
  answerBody,
  clientContextBody,
  createCallBody,
  inviteBody,
  parseBody,
  recordingStatusBody,
  playPromptBody,
  recordResponseBody,
  sendDtmfTonesBody,
  redirectBody,
  rejectBody,
  screenSharingBody,
  transferBody,
} from './GraphRequests.ts';
import { renderCall, renderOperation, renderParticipant, type GraphVersion, IDENTITY_KEYS } from './GraphWire.ts';

type Json = Record<string, any>;

export interface GraphRouteOptions {
  calls: CallService;
  media: CallMedia | null;
  directory: Directory;
  tokens: TokenService;
  publicUrl: () => string;
  allowInsecureCallbacks: boolean;
  casing: 'lowercase' | 'pascalCase';
  maxGroupTargets: number;
}

interface Principal {
  tenantId: string;
  app: Application;
  roles: string[];
}


export function registerGraphRoutes(http: FastifyInstance, o: GraphRouteOptions): void {
  const { calls, directory } = o;

  async function authenticate(req: FastifyRequest): Promise<Principal> {
    const header = req.headers.authorization;
    const challenge = (error: string, description: string) => ({
      'www-authenticate': `Bearer realm="${o.publicUrl()}", authorization_uri="${o.publicUrl()}/common/oauth2/v2.0/authorize", error="${error}", error_description="${description}"`,
    });
    if (!header) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token is empty: send Authorization: Bearer <token> (from POST /{tenantId}/oauth2/v2.0/token).', challenge('invalid_request', 'no token'));
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new GraphError(401, 'InvalidAuthenticationToken', 'The Authorization header must be "Bearer <token>".', challenge('invalid_request', 'malformed authorization header'));
    let claims;
    try {
      claims = await o.tokens.verifyAppToken(m[1]!);
    } catch (err) {
      if (err instanceof TokenError) {
        throw new GraphError(err.status, err.code, err.message, err.status === 401 ? challenge('invalid_token', err.message.replace(/"/g, "'")) : {});
      }
      throw err;
    }
    const app = directory.getApplication(claims.appid);
    if (!app || app.tenantId !== claims.tid || !directory.getTenant(claims.tid)) {
      throw new GraphError(401, 'InvalidAuthenticationToken', `Application ${claims.appid} is not registered in tenant ${claims.tid} (any more).`, challenge('invalid_token', 'unknown application'));
    }
    // Roles are read from the directory, not the token: a revoked permission takes effect at once.
    return { tenantId: claims.tid, app, roles: app.permissions };
  }

  function require(p: Principal, scenario: Scenario): void {
    const msg = missingPermission(p.roles, scenario);
    if (msg) throw GraphError.forbidden(msg);
  }

  function leg(p: Principal, id: string): AppLeg {
    const l = calls.getLeg(id);
    if (!l || l.tenantId !== p.tenantId || l.app.appId !== p.app.appId) throw GraphError.callNotFound(id);
    return l;
  }

  function checkCallbackUri(value: string | null | undefined, field: string): string | null {
    if (value === undefined || value === null) return null;
    const problem = callbackUriProblem(value, o.allowInsecureCallbacks);
    if (problem) throw GraphError.invalidField(field, problem);
    return value;
  }

  function versionOf(req: FastifyRequest): GraphVersion {
    return req.url.toLowerCase().startsWith('/beta/') ? 'beta' : 'v1.0';
  }

  function baseLocation(req: FastifyRequest): string {
    return `${o.publicUrl()}/${versionOf(req)}/communications/calls`;
  }

  function ctx(req: FastifyRequest, p: Principal) {
    return { baseUrl: o.publicUrl(), version: versionOf(req), casing: o.casing, canSeeCaller: canSeeCaller(p.roles) };
  }

  /** The one identity an identitySet names, as a call target. */
  function targetOf(set: Json, field: string): PlaceTarget & { displayName: string | null } {
    for (const key of IDENTITY_KEYS) {
      const i = set[key];
      if (!i) continue;
      if (key === 'guest') throw GraphError.invalidField(field, 'a guest identity can only be the source of a meeting join.');
      return { kind: key, id: i.id, displayName: i.displayName ?? null };
    }
    throw GraphError.invalidField(field, 'must name a user, application, applicationInstance or phone identity.');
  }

  function checkTarget(p: Principal, t: PlaceTarget, field: string): void {
    switch (t.kind) {
      case 'user': {
        const u = directory.getUser(t.id);
        if (!u || u.tenantId !== p.tenantId) throw GraphError.invalidField(`${field}.user.id`, `no user '${t.id}' in tenant ${p.tenantId}.`);
        return;
      }
      case 'application': {
        const a = directory.getApplication(t.id);
        if (!a || a.tenantId !== p.tenantId) throw GraphError.invalidField(`${field}.application.id`, `no application '${t.id}' in tenant ${p.tenantId}.`);
        return;
      }
      case 'applicationInstance': {
        const i = directory.getApplicationInstance(t.id);
        if (!i || i.tenantId !== p.tenantId) throw GraphError.invalidField(`${field}.applicationInstance.id`, `no application instance '${t.id}' in tenant ${p.tenantId}.`);
        return;
      }
      case 'phone':
        if (!/^\+[1-9][0-9]{3,15}$/.test(t.id)) throw GraphError.invalidField(`${field}.phone.id`, `'${t.id}' is not an E.164 phone number such as +14255550100.`);
    }
  }

  function mediaOf(mc: Json): LegRequest['media'] {
    return mc['@odata.type'] === '#microsoft.graph.appHostedMediaConfig' ? 'app' : 'service';
  }

  function opReply(req: FastifyRequest, reply: FastifyReply, l: AppLeg, op: Operation, status = 200): Json {
    reply.status(status).header('location', `${baseLocation(req)}/${l.id}/operations/${op.id}`);
    return renderOperation(op, o.casing);
  }

  function wrap(fn: () => unknown): unknown {
    try {
      return fn();
    } catch (err) {
      if (err instanceof CallError && err.target && err.status === 400) throw GraphError.invalidField(err.target, err.message);
      throw err;
    }
  }

  // ---------------------------------------------------------------- create

  async function createCall(req: FastifyRequest, reply: FastifyReply) {
    const p = await authenticate(req);
    const raw = (req.body ?? {}) as Json;
    const b = parseBody(createCallBody, raw);
    const callbackUri = checkCallbackUri(b.callbackUri, 'callbackUri');
    const isMeeting = Boolean(b.meetingInfo || b.chatInfo);
    const guest = b.source?.identity?.guest as Json | undefined;
    const targetsRaw = b.targets ?? [];
    const media = mediaOf(b.mediaConfig);

    let source: Identity = { kind: 'application', id: p.app.appId, displayName: p.app.displayName };
    const srcSet = b.source?.identity as Json | undefined;
    if (srcSet?.application && srcSet.application.id !== p.app.appId) {
      throw GraphError.invalidField('source.identity.application.id', `must be the calling application's id ${p.app.appId}, got '${srcSet.application.id}'.`);
    }
    if (srcSet?.applicationInstance) {
      const inst = directory.getApplicationInstance(srcSet.applicationInstance.id);
      if (!inst || inst.tenantId !== p.tenantId || inst.appId !== p.app.appId) {
        throw GraphError.invalidField('source.identity.applicationInstance.id', `'${srcSet.applicationInstance.id}' is not an application instance of application ${p.app.appId}.`);
      }
      source = { kind: 'applicationInstance', id: inst.id, displayName: inst.displayName };
    }
    if (guest) {
      if (!isMeeting) throw GraphError.invalidField('source.identity.guest', 'a guest source is only possible when joining a meeting.');
      source = { kind: 'guest', id: guest.id, displayName: guest.displayName ?? null };
    }

    let meeting = null;
    let scenario: Scenario;
    if (isMeeting) {
      const mi = b.meetingInfo as Json | undefined;
      if (!mi) throw GraphError.invalidField('meetingInfo', 'is required to join a meeting (organizerMeetingInfo with chatInfo, tokenMeetingInfo or joinMeetingIdMeetingInfo).');
      const kind = mi['@odata.type'];
      if (kind === '#microsoft.graph.organizerMeetingInfo') {
        if (!b.chatInfo) throw GraphError.invalidField('chatInfo', 'is required with organizerMeetingInfo: its threadId names the meeting.');
        meeting = directory.findMeeting(p.tenantId, { threadId: b.chatInfo.threadId });
        if (!meeting) throw new GraphError(404, 'NotFound', `No online meeting with chatInfo.threadId '${b.chatInfo.threadId}' in tenant ${p.tenantId}.`);
        const orgId = (mi.organizer as Json | undefined)?.user?.id;
        if (orgId && orgId !== meeting.organizerId) throw GraphError.invalidField('meetingInfo.organizer.user.id', `'${orgId}' is not the organizer of the meeting in thread '${b.chatInfo.threadId}'.`);
      } else if (kind === '#microsoft.graph.tokenMeetingInfo') {
        if (!mi.token) throw GraphError.invalidField('meetingInfo.token', 'is required.');
        meeting = directory.findMeeting(p.tenantId, { token: mi.token });
        if (!meeting) throw new GraphError(404, 'NotFound', 'No online meeting has this meetingInfo.token in this tenant.');
      } else {
        if (!mi.joinMeetingId) throw GraphError.invalidField('meetingInfo.joinMeetingId', 'is required.');
        meeting = directory.findMeeting(p.tenantId, { joinMeetingId: String(mi.joinMeetingId).replace(/\s/g, '') });
        if (!meeting) throw new GraphError(404, 'NotFound', `No online meeting with joinMeetingId '${mi.joinMeetingId}' in tenant ${p.tenantId}.`);
        if (meeting.passcode && mi.passcode !== meeting.passcode) throw GraphError.invalidField('meetingInfo.passcode', 'does not match the meeting\'s passcode.');
      }
      scenario = guest ? 'joinMeetingAsGuest' : 'joinMeeting';
    } else {
      if (targetsRaw.length === 0) throw GraphError.invalidField('targets', 'a call needs at least one target (or meetingInfo to join a meeting).');
      if (targetsRaw.length > o.maxGroupTargets) {
        throw GraphError.invalidField('targets', `a group call can be created with at most ${o.maxGroupTargets} targets; got ${targetsRaw.length}. Invite more participants once the call is established.`);
      }
      scenario = targetsRaw.length > 1 ? 'group' : 'peerToPeer';
    }
    require(p, scenario);
    if (media === 'app') require(p, 'appHostedMedia');

    const targets = targetsRaw.map((t, i) => {
      const target = targetOf(t.identity as Json, `targets[${i}].identity`);
      checkTarget(p, target, `targets[${i}].identity`);
      if (target.kind === 'phone' && source.kind !== 'applicationInstance') {
        throw GraphError.invalidField('source.identity.applicationInstance', `calling a phone number needs an application instance with a phone number as the source.`);
      }
      return target;
    });
    if (source.kind === 'applicationInstance' && targets.some((t) => t.kind === 'phone')) {
      const inst = directory.getApplicationInstance(source.id)!;
      if (!inst.phoneNumber) throw GraphError.invalidField('source.identity.applicationInstance.id', `application instance ${inst.id} has no phone number to call from.`);
    }

    const l = wrap(() => calls.placeFromApp({
      app: p.app,
      source,
      targets,
      meeting: meeting ? { meeting, asGuest: Boolean(guest) } : null,
      request: {
        api: 'graph',
        apiVersion: versionOf(req),
        callbackUri: callbackUri ?? p.app.callingWebhook,
        requestedModalities: b.requestedModalities ?? ['audio'],
        media,
        wire: raw,
      },
      ringTimeoutMs: b.ringingTimeoutInSeconds ? b.ringingTimeoutInSeconds * 1000 : undefined,
    })) as AppLeg;
    if (media === 'service' && b.mediaConfig.preFetchMedia?.length) o.media?.prefetch(l, b.mediaConfig.preFetchMedia as MediaPrompt[]);
    reply.status(201).header('location', `${baseLocation(req)}/${l.id}`);
    return renderCall(l, ctx(req, p));
  }

  // ---------------------------------------------------------------- actions

  type Action = (req: FastifyRequest, reply: FastifyReply, p: Principal, l: AppLeg, body: unknown) => unknown;

  const actions: Record<string, Action> = {
    answer(req, reply, p, l, body) {
      const b = parseBody(answerBody, body);
      const callbackUri = checkCallbackUri(b.callbackUri, 'callbackUri');
      require(p, 'answer');
      const media = mediaOf(b.mediaConfig);
      if (media === 'app') require(p, 'appHostedMedia');
      calls.answer(l, {
        api: 'graph',
        apiVersion: versionOf(req),
        callbackUri: callbackUri ?? l.request.callbackUri,
        requestedModalities: b.acceptedModalities ?? ['audio'],
        media,
        wire: { mediaConfig: b.mediaConfig, callOptions: b.callOptions, participantCapacity: b.participantCapacity },
      });
      if (media === 'service' && b.mediaConfig.preFetchMedia?.length) o.media?.prefetch(l, b.mediaConfig.preFetchMedia as MediaPrompt[]);
      reply.status(202);
      return null;
    },
    reject(_req, reply, _p, l, body) {
      const b = parseBody(rejectBody, body);
      const callbackUri = checkCallbackUri(b.callbackUri, 'callbackUri');
      if (callbackUri) l.request.callbackUri = callbackUri;
      calls.reject(l, b.reason ?? 'none');
      reply.status(202);
      return null;
    },
    redirect(_req, reply, p, l, body) {
      const b = parseBody(redirectBody, body);
      const callbackUri = checkCallbackUri(b.callbackUri, 'callbackUri');
      if (callbackUri) l.request.callbackUri = callbackUri;
      const targets = b.targets.map((t, i) => {
        const target = targetOf(t.identity as Json, `targets[${i}].identity`);
        checkTarget(p, target, `targets[${i}].identity`);
        return target;
      });
      const timeout = (b.timeout ?? (targets.length > 1 ? 60 : 55)) * 1000;
      wrap(() => calls.redirect(l, targets, timeout));
      reply.status(202);
      return null;
    },
    transfer(_req, reply, p, l, body) {
      const b = parseBody(transferBody, body);
      if (b.transferee) throw GraphError.invalidField('transferee', 'consultative transfer is not supported yet: omit transferee for a blind transfer.');
      const target = targetOf(b.transferTarget.identity as Json, 'transferTarget.identity');
      checkTarget(p, target, 'transferTarget.identity');
      wrap(() => calls.transfer(l, target));
      reply.status(202);
      return null;
    },
    keepAlive(_req, reply, _p, l) {
      calls.keepAlive(l);
      reply.status(200);
      return null;
    },
    mute(req, reply, _p, l, body) {
      const b = parseBody(clientContextBody, body);
      return opReply(req, reply, l, calls.muteSelf(l, true, b.clientContext ?? null));
    },
    unmute(req, reply, _p, l, body) {
      const b = parseBody(clientContextBody, body);
      return opReply(req, reply, l, calls.muteSelf(l, false, b.clientContext ?? null));
    },
    subscribeToTone(req, reply, _p, l, body) {
      const b = parseBody(clientContextBody, body);
      return opReply(req, reply, l, calls.subscribeToTone(l, b.clientContext ?? null));
    },
    updateRecordingStatus(req, reply, _p, l, body) {
      const b = parseBody(recordingStatusBody, body);
      if (b.status === 'unknownFutureValue') throw GraphError.invalidField('status', "'unknownFutureValue' is not a recording status.");
      return opReply(req, reply, l, calls.updateRecordingStatus(l, b.status, b.clientContext ?? null));
    },
    playPrompt(req, reply, _p, l, body) {
      const b = parseBody(playPromptBody, body);
      const media = serviceMedia(l, 'playPrompt');
      return opReply(req, reply, l, media.playPrompt(l, b.prompts.map(promptOf), b.clientContext ?? null));
    },
    recordResponse(req, reply, p, l, body) {
      return record(req, reply, p, l, body, 'recordResponse');
    },
    record(req, reply, p, l, body) {
      if (versionOf(req) !== 'beta') throw GraphError.badRequest("'record' is a beta action: use /beta, or recordResponse.");
      return record(req, reply, p, l, body, 'record');
    },
    sendDtmfTones(req, reply, p, l, body) {
      const b = parseBody(sendDtmfTonesBody, body);
      require(p, 'sendDtmf');
      const media = serviceMedia(l, 'sendDtmfTones');
      const tones = b.tones.map((t, i) => toneOf(t, `tones[${i}]`));
      // Q.24 receivers need at least 40 ms between digits; shorter gaps are raised to 50 ms.
      const gap = Math.max(50, b.delayBetweenTonesMs ?? DTMF_DEFAULT_GAP_MS);
      return opReply(req, reply, l, media.sendDtmfTones(l, tones, gap, b.clientContext ?? null));
    },
    cancelMediaProcessing(req, reply, _p, l, body) {
      const b = parseBody(clientContextBody, body);
      const media = serviceMedia(l, 'cancelMediaProcessing');
      return opReply(req, reply, l, media.cancelMediaProcessing(l, b.clientContext ?? null));
    },
    changeScreenSharingRole(_req, reply, _p, l, body) {
      parseBody(screenSharingBody, body);
      if (l.request.media !== 'app') throw GraphError.badRequest('changeScreenSharingRole needs a call with appHostedMediaConfig: service-hosted media carries no video.');
      reply.status(202);
      return null;
    },
  };

  function serviceMedia(l: AppLeg, action: string): CallMedia {
    if (l.request.media !== 'service') {
      throw GraphError.badRequest(`${action} is only supported for calls with serviceHostedMediaConfig: this call uses appHostedMediaConfig, so the application handles its own media.`);
    }
    if (!o.media) throw new GraphError(501, 'NotImplemented', `${action} needs the media engine, which is disabled.`);
    if (l.state !== 'established') throw GraphError.badRequest(`The call is ${l.state}: ${action} needs an established call.`);
    return o.media;
  }

  function promptOf(p: Json): MediaPrompt {
    return { uri: p.mediaInfo.uri, resourceId: p.mediaInfo.resourceId ?? null, loop: p.loop ?? undefined };
  }

  /** A Graph tone name (any case) or a key ("1", "#", "*", "A"), to send or (`detect`) to listen for. */
  function toneOf(value: string, field: string, detect = false): Tone {
    const named = TONES.find((t) => t.toLowerCase() === value.toLowerCase());
    const tone = named ?? toneFromKey(value);
    if (!tone) throw GraphError.invalidField(field, `'${value}' is not a tone: use tone0–tone9, star, pound, a–d (or the keys 0–9, *, #, A–D).`);
    if (tone === 'flash') {
      throw GraphError.invalidField(
        field,
        detect
          ? "'flash' is a hook flash, not an in-band tone: Telegraph detects tones in the audio only, so it would never stop the recording."
          : "'flash' is a hook flash, not an in-band tone: Telegraph cannot send it.",
      );
    }
    return tone;
  }

  function record(req: FastifyRequest, reply: FastifyReply, p: Principal, l: AppLeg, body: unknown, action: string) {
    const b = parseBody(recordResponseBody, body);
    require(p, 'accessMedia');
    const media = serviceMedia(l, action);
    const stopTones = (b.stopTones ?? []).map((t, i) => toneOf(t, `stopTones[${i}]`, true));
    return opReply(req, reply, l, media.record(l, {
      prompt: b.prompts && b.prompts.length > 0 ? promptOf(b.prompts[0] as Json) : null,
      bargeInAllowed: b.bargeInAllowed ?? false,
      initialSilenceTimeoutSeconds: b.initialSilenceTimeoutInSeconds ?? 5,
      maxSilenceTimeoutSeconds: b.maxSilenceTimeoutInSeconds ?? 5,
      maxRecordDurationSeconds: b.maxRecordDurationInSeconds ?? 5,
      playBeep: b.playBeep ?? true,
      stopTones,
      clientContext: b.clientContext ?? null,
    }));
  }

  async function runAction(req: FastifyRequest, reply: FastifyReply) {
    const p = await authenticate(req);
    const { id, action } = req.params as { id: string; action: string };
    const name = action.replace(/^microsoft\.graph\./i, '');
    const handler = Object.entries(actions).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
    if (!handler) throw new GraphError(400, 'BadRequest', `'${action}' is not an action of a call. Actions: ${Object.keys(actions).join(', ')}.`);
    require(p, 'anyCalling');
    const l = leg(p, id);
    const result = handler(req, reply, p, l, req.body);
    if (result === null) return reply.send();
    return result;
  }

  // ---------------------------------------------------------------- routes

  for (const version of ['v1.0', 'beta']) {
    for (const base of [`/${version}/communications/calls`, `/${version}/app/calls`]) {
      http.post(base, createCall);
      http.get(`${base}/:id`, async (req) => {
        const p = await authenticate(req);
        return renderCall(leg(p, (req.params as Json).id), ctx(req, p));
      });
      http.delete(`${base}/:id`, async (req, reply) => {
        const p = await authenticate(req);
        calls.hangUp(leg(p, (req.params as Json).id));
        return reply.status(204).send();
      });
      http.post(`${base}/:id/:action`, runAction);
      http.get(`${base}/:id/participants`, async (req) => {
        const p = await authenticate(req);
        const l = leg(p, (req.params as Json).id);
        const list = l.participant.isInLobby ? [l.participant] : l.call.active().filter((x) => x.connected || x.isInLobby);
        return { '@odata.context': `${o.publicUrl()}/${versionOf(req)}/$metadata#communications/calls('${l.id}')/participants`, value: list.map(renderParticipant) };
      });
      http.get(`${base}/:id/participants/:pid`, async (req) => {
        const p = await authenticate(req);
        const { id, pid } = req.params as Json;
        const l = leg(p, id);
        const part = l.call.participants.get(pid);
        if (!part || !part.active) throw new GraphError(404, 'NotFound', `Participant ${pid} is not in call ${id}.`);
        return renderParticipant(part);
      });
      http.delete(`${base}/:id/participants/:pid`, async (req, reply) => {
        const p = await authenticate(req);
        const { id, pid } = req.params as Json;
        const l = leg(p, id);
        wrap(() => calls.removeParticipant(l, pid));
        return reply.status(204).send();
      });
      http.post(`${base}/:id/participants/:action`, async (req, reply) => {
        const p = await authenticate(req);
        const { id, action } = req.params as Json;
        if (action.replace(/^microsoft\.graph\./i, '').toLowerCase() !== 'invite') throw GraphError.badRequest(`'${action}' is not an action of the participants collection (invite).`);
        const l = leg(p, id);
        const b = parseBody(inviteBody, req.body);
        const invitees = b.participants.map((x, i) => {
          const t = targetOf(x.identity as Json, `participants[${i}].identity`);
          checkTarget(p, t, `participants[${i}].identity`);
          return { ...t, replacesCallId: x.replacesCallId ?? null };
        });
        if (l.call.kind === 'peerToPeer') require(p, 'group');
        const op = wrap(() => calls.invite(l, invitees, b.clientContext ?? null)) as Operation;
        op.details.wireParticipants = (req.body as Json).participants;
        return opReply(req, reply, l, op);
      });
      http.post(`${base}/:id/participants/:pid/:action`, async (req, reply) => {
        const p = await authenticate(req);
        const { id, pid, action } = req.params as Json;
        const l = leg(p, id);
        const name = action.replace(/^microsoft\.graph\./i, '').toLowerCase();
        const b = parseBody(clientContextBody, req.body);
        if (name === 'mute') return opReply(req, reply, l, wrap(() => calls.muteParticipant(l, pid, b.clientContext ?? null)) as Operation);
        throw GraphError.badRequest(`'${action}' is not a supported action of a participant (mute).`);
      });
      http.get(`${base}/:id/operations/:opId`, async (req) => {
        const p = await authenticate(req);
        const { id, opId } = req.params as Json;
        const l = leg(p, id);
        const op = l.operations.get(opId);
        if (!op) throw new GraphError(404, 'NotFound', `Operation ${opId} does not exist in call ${id}.`);
        return renderOperation(op, o.casing);
      });
    }
  }
}
