// ACS call recording over HTTP, on the call-recording service (src/recording/CallRecordings.ts):
//
// - the /calling/recordings routes, plugged into registerAcsRoutes through `extraRoutes` (so HMAC,
//   Repeatability-Request-ID and the ACS error body come with them): start (POST, 200
//   RecordingStateResponse), get state (GET, 200), stop (DELETE, 204), pause / resume (POST
//   `{id}:pause` / `{id}:resume`, 202);
// - RecordingStateChanged CloudEvents (to recordingStateCallbackUri, else the call connection's
//   callbackUri) and, once a recording has ended and its chunks are stored,
//   Microsoft.Communication.RecordingFileStatusUpdated through the resource's Event Grid subscriptions;
// - the content URLs those events carry, in the real shapes on Telegraph's own origin:
//   GET <publicUrl>/v1/objects/<documentId>/content/audio (Range → 206), …/content/acsmetadata,
//   DELETE <publicUrl>/v1/objects/<documentId> (exactly 200), authenticated with the content-URL
//   HMAC mode (signed over the pathname only, for the API host carried in x-ms-host), errors with
//   top-level status and message too (the SDK reads those, reference §1).
//
// Ownership: a recording belongs to the resource that started it (`owner`); another resource gets
// 404 for it and for its content. A recording is started on a call where the resource has a call
// connection (by serverCallLocator or callConnectionId).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AppLeg } from '../../calls/AppLeg.ts';
import type { Call } from '../../calls/Call.ts';
import type { CallService } from '../../calls/CallService.ts';
import type { Participant } from '../../calls/Participant.ts';
import type { Directory } from '../../directory/Directory.ts';
import type { AcsResource } from '../../directory/DirectoryTypes.ts';
import { headerValue } from '../../identity/AcsHmac.ts';
import type { EventGridPublisher } from '../../notify/EventGridPublisher.ts';
import {
  CallRecordingError,
  type CallRecordings,
  type RecordingFileStatus,
  type RecordingInfo,
  type RecordingStateChange,
  type RecordingStorage,
  type RecordingTuning,
  type StartRecordingOptions,
} from '../../recording/CallRecordings.ts';
import type { ChannelAffinity, RecordingChannelType, RecordingFormatType } from '../../recording/RecordingSession.ts';
import { BlobStoreError } from '../../storage/blob/BlobStore.ts';
import { parseRange } from '../http.ts';
import { AcsError } from './AcsError.ts';
import { AcsAuthenticator } from './AcsAuthenticator.ts';
import { callbackUriProblem } from '../callbackUri.ts';
import { canonicalRawId, parseAcsIdentifier } from './AcsIdentifiers.ts';
import type { AcsNotifier } from './AcsNotifier.ts';
import { useAcsScope, type AcsRequestContext, type AcsResult, type AcsRoute } from './acsRoutes.ts';
import { acsIdentifierOf } from './AcsWire.ts';

type Json = Record<string, any>;

export const RECORDING_FILE_STATUS_EVENT = 'Microsoft.Communication.RecordingFileStatusUpdated';
/** Where a chunk's content lives, relative to the public URL (the shapes of ACS's own URLs). */
export const CONTENT_PATH = '/v1/objects';

export interface AcsRecordingOptions {
  recordings: CallRecordings;
  calls: CallService;
  directory: Directory;
  notifier: AcsNotifier;
  eventGrid: EventGridPublisher;
  /** Telegraph's origin, for the content URLs of RecordingFileStatusUpdated. */
  publicUrl: () => string;
  allowInsecureCallbacks: boolean;
  /** Engine settings from the configuration (chunk limits, MP3 bitrate per channel, speech detection). */
  tuning?: { maxChunkSeconds?: number; maxChunkBytes?: number; mp3BitrateKbpsPerChannel?: number; speechDetection?: 'vad' | 'audio' };
  hmacWindowMs?: number;
  log?: Logger;
}

/** Whom a recording's state events go to. */
interface EventTarget {
  leg: AppLeg;
  resourceId: string;
}

const REC = '/calling/recordings';
/** One path segment, percent-encoded, without ':' (actions follow a ':'). */
const SEG = '([^/:?]+)';

/**
 * The ACS recording adapter: `routes` go into registerAcsRoutes' extraRoutes, `registerContentRoutes`
 * serves the content URLs, and the constructor subscribes to the service's events.
 */
export class AcsRecording {
  readonly routes: AcsRoute[];
  private readonly targets = new Map<string, EventTarget>();
  /** Set during recordings.start(): its 'started' state event comes before start() returns the id. */
  private starting: EventTarget | null = null;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly auth: AcsAuthenticator;

  constructor(private readonly o: AcsRecordingOptions) {
    this.auth = new AcsAuthenticator(o.directory, o.hmacWindowMs);
    this.routes = [
      { method: 'POST', path: new RegExp(`^${REC}$`, 'i'), handler: (ctx) => this.start(ctx) },
      { method: 'GET', path: new RegExp(`^${REC}/${SEG}$`, 'i'), handler: (ctx) => this.getState(ctx) },
      { method: 'DELETE', path: new RegExp(`^${REC}/${SEG}$`, 'i'), handler: (ctx) => this.stop(ctx) },
      { method: 'POST', path: new RegExp(`^${REC}/${SEG}:([A-Za-z]+)$`, 'i'), handler: (ctx) => this.action(ctx) },
    ];
    this.unsubscribe.push(o.recordings.onStateChanged((e) => this.stateChanged(e)));
    this.unsubscribe.push(o.recordings.onFileStatus((s) => this.fileStatus(s)));
  }

  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  // ------------------------------------------------------------------ /calling/recordings

  private start(ctx: AcsRequestContext): AcsResult {
    const b = ctx.body;
    const { call, leg } = this.locate(ctx, b);

    const contentType = enumField(b, 'recordingContentType', ['audio', 'audioVideo'], 'audio');
    if (contentType === 'audioVideo') {
      throw AcsError.invalidField('recordingContentType', "'audioVideo' is not supported: Telegraph records audio only (use 'audio').");
    }
    const channelType = enumField(b, 'recordingChannelType', ['mixed', 'unmixed'], 'mixed') as RecordingChannelType;
    const format = enumField(b, 'recordingFormatType', ['wav', 'mp3', 'mp4'], 'wav');
    if (format === 'mp4') {
      throw AcsError.invalidField('recordingFormatType', "'mp4' is a video format and Telegraph records audio only: use 'wav' or 'mp3'.");
    }
    const pauseOnStart = b.pauseOnStart ?? false;
    if (typeof pauseOnStart !== 'boolean') throw AcsError.invalidField('pauseOnStart', 'must be true or false.');
    const stateCallbackUri = this.callbackUri(b.recordingStateCallbackUri, 'recordingStateCallbackUri');
    const storage = this.storage(b.externalStorage);

    // Participants are recorded under their identifiers' rawIds, as this resource sees them.
    const keyOf = (p: Participant) => acsIdentifierOf(p.identity, ctx.resource, this.o.directory).rawId ?? p.id;
    const present = new Map<string, string>();
    for (const p of call.participants.values()) {
      const k = keyOf(p);
      present.set(k.toLowerCase(), k);
    }
    const keyFor = (value: unknown, field: string) => {
      const raw = canonicalRawId(parseAcsIdentifier(value, field));
      return present.get(raw.toLowerCase()) ?? raw;
    };
    const orderingRaw = b.audioChannelParticipantOrdering;
    if (orderingRaw !== undefined && orderingRaw !== null && !Array.isArray(orderingRaw)) {
      throw AcsError.invalidField('audioChannelParticipantOrdering', 'must be an array of CommunicationIdentifierModels.');
    }
    const ordering = ((orderingRaw as unknown[] | null | undefined) ?? []).map((v, i) => keyFor(v, `audioChannelParticipantOrdering[${i}]`));
    const affinityRaw = b.channelAffinity;
    if (affinityRaw !== undefined && affinityRaw !== null && !Array.isArray(affinityRaw)) {
      throw AcsError.invalidField('channelAffinity', 'must be an array of {channel, participant}.');
    }
    const affinity: ChannelAffinity[] = ((affinityRaw as unknown[] | null | undefined) ?? []).map((v, i) => {
      const field = `channelAffinity[${i}]`;
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw AcsError.invalidField(field, 'must be an object {channel, participant}.');
      const a = v as Json;
      if (a.channel === undefined || a.channel === null) throw AcsError.invalidField(`${field}.channel`, 'is required (0 to 4).');
      if (typeof a.channel !== 'number' || !Number.isInteger(a.channel) || a.channel < 0 || a.channel > 4) {
        throw AcsError.invalidField(`${field}.channel`, 'must be an integer from 0 to 4.');
      }
      if (a.participant === undefined || a.participant === null) throw AcsError.invalidField(`${field}.participant`, 'is required.');
      return { channel: a.channel, participantId: keyFor(a.participant, `${field}.participant`) };
    });
    if (channelType === 'mixed' && ordering.length > 0) {
      throw AcsError.invalidField('audioChannelParticipantOrdering', "applies to unmixed recordings only (recordingChannelType 'unmixed').");
    }
    if (channelType === 'mixed' && affinity.length > 0) {
      throw AcsError.invalidField('channelAffinity', "applies to unmixed recordings only (recordingChannelType 'unmixed').");
    }

    const options: StartRecordingOptions = {
      recordingContentType: 'audio',
      recordingChannelType: channelType,
      recordingFormatType: format as RecordingFormatType,
      audioChannelParticipantOrdering: ordering,
      channelAffinity: affinity,
      pauseOnStart,
      storage,
      stateCallbackUri,
      owner: ctx.resource.id,
      participantKey: keyOf,
      tuning: this.tuningFor(channelType, format as RecordingFormatType, ctx.resource.id),
    };
    let info: RecordingInfo;
    this.starting = { leg, resourceId: ctx.resource.id };
    try {
      info = this.o.recordings.start(call, options);
    } catch (err) {
      throw toAcsError(err);
    } finally {
      this.starting = null;
    }
    return { status: 200, body: stateResponse(info) };
  }

  private getState(ctx: AcsRequestContext): AcsResult {
    return { status: 200, body: stateResponse(this.owned(ctx, ctx.params[0]!)) };
  }

  private stop(ctx: AcsRequestContext): AcsResult {
    const id = ctx.params[0]!;
    this.owned(ctx, id);
    let ending: Promise<RecordingFileStatus>;
    try {
      ending = this.o.recordings.stop(id);
    } catch (err) {
      throw toAcsError(err);
    }
    // The file status (and its event) follows once every chunk is stored; the request does not wait for uploads.
    ending.catch((err) => this.o.log?.error({ err: (err as Error).message, recordingId: id }, 'ACS recording: stop failed'));
    return { status: 204 };
  }

  private action(ctx: AcsRequestContext): AcsResult {
    const [id, name] = ctx.params as [string, string];
    const action = name.toLowerCase();
    if (action !== 'pause' && action !== 'resume') throw AcsError.notFound(`'${name}' is not an action of a recording. Actions: pause, resume.`);
    this.owned(ctx, id);
    try {
      if (action === 'pause') this.o.recordings.pause(id);
      else this.o.recordings.resume(id);
    } catch (err) {
      throw toAcsError(err);
    }
    return { status: 202 };
  }

  /** The recording, if it belongs to the requesting resource; 404 otherwise (unknown or someone else's). */
  private owned(ctx: AcsRequestContext, id: string): RecordingInfo {
    let info: RecordingInfo;
    try {
      info = this.o.recordings.get(id);
    } catch (err) {
      if (err instanceof CallRecordingError && err.code === 'NotFound') throw AcsError.recordingNotFound(id);
      throw toAcsError(err);
    }
    if (info.owner !== ctx.resource.id) throw AcsError.recordingNotFound(id);
    return info;
  }

  /** callLocator (serverCallLocator) or callConnectionId, one or the other: the call and the resource's connection in it. */
  private locate(ctx: AcsRequestContext, b: Json): { call: Call; leg: AppLeg } {
    const locator = b.callLocator;
    const connectionId = b.callConnectionId;
    const hasLocator = locator !== undefined && locator !== null;
    const hasConnection = connectionId !== undefined && connectionId !== null && connectionId !== '';
    if (hasLocator && hasConnection) {
      throw AcsError.invalidField('callLocator', 'give either callLocator or callConnectionId, not both.');
    }
    if (!hasLocator && !hasConnection) {
      throw AcsError.invalidField('callLocator', 'is required (a serverCallLocator {serverCallId}), unless callConnectionId is given.');
    }
    if (hasConnection) {
      if (typeof connectionId !== 'string') throw AcsError.invalidField('callConnectionId', 'must be a string.');
      const leg = this.o.calls.getLeg(connectionId);
      if (!leg || leg.app.appId !== ctx.app.appId || leg.request.api !== 'acs' || leg.state === 'incoming' || leg.ended) throw AcsError.callNotFound(connectionId);
      if (leg.call.ended) throw AcsError.callNotFound(connectionId);
      return { call: leg.call, leg };
    }
    if (typeof locator !== 'object' || Array.isArray(locator)) throw AcsError.invalidField('callLocator', 'must be an object {kind, serverCallId}.');
    const l = locator as Json;
    const kind = typeof l.kind === 'string' ? l.kind : l.serverCallId !== undefined ? 'serverCallLocator' : l.groupCallId !== undefined ? 'groupCallLocator' : l.roomId !== undefined ? 'roomCallLocator' : undefined;
    if (kind === undefined) throw AcsError.invalidField('callLocator.kind', "is required: 'serverCallLocator'.");
    if (kind.toLowerCase() === 'groupcalllocator' || kind.toLowerCase() === 'roomcalllocator') {
      throw AcsError.invalidField('callLocator.kind', `'${kind}' is not supported by Telegraph: locate the call with a serverCallLocator {serverCallId} (from CallConnected or the call connection's properties), or give callConnectionId.`);
    }
    if (kind.toLowerCase() !== 'servercalllocator') throw AcsError.invalidField('callLocator.kind', `must be 'serverCallLocator' (got '${kind}').`);
    const serverCallId = l.serverCallId;
    if (typeof serverCallId !== 'string' || serverCallId.trim() === '') throw AcsError.invalidField('callLocator.serverCallId', 'is required: the serverCallId of the call to record.');
    const call = this.o.calls.getCall(serverCallId);
    const leg = call && !call.ended ? this.legIn(call, ctx) : null;
    if (!call || !leg) {
      throw new AcsError(404, 'NotFound', `No active call with serverCallId ${serverCallId} in this resource: the call does not exist, has ended, or this resource has no call connection in it.`, { target: 'callLocator.serverCallId' });
    }
    return { call, leg };
  }

  /** The resource's live call connection in a call (the one its events go to). */
  private legIn(call: Call, ctx: AcsRequestContext): AppLeg | null {
    for (const p of call.participants.values()) {
      if (p.endpoint.kind !== 'app') continue;
      const leg = p.endpoint.leg;
      if (leg.app.appId === ctx.app.appId && leg.request.api === 'acs' && !leg.ended && leg.state !== 'incoming') return leg;
    }
    return null;
  }

  private storage(value: unknown): RecordingStorage {
    if (value === undefined || value === null) return { kind: 'telegraph' };
    if (typeof value !== 'object' || Array.isArray(value)) throw AcsError.invalidField('externalStorage', 'must be an object {recordingStorageKind, recordingDestinationContainerUrl}.');
    const s = value as Json;
    const kind = typeof s.recordingStorageKind === 'string' ? s.recordingStorageKind : 'azureBlobStorage';
    if (kind.toLowerCase() === 'azurecommunicationservices') return { kind: 'telegraph' };
    if (kind.toLowerCase() !== 'azureblobstorage') {
      throw AcsError.invalidField('externalStorage.recordingStorageKind', `must be 'azureBlobStorage' or 'azureCommunicationServices' (got ${JSON.stringify(s.recordingStorageKind)}).`);
    }
    const url = s.recordingDestinationContainerUrl;
    if (typeof url !== 'string' || url.trim() === '') {
      throw AcsError.invalidField('externalStorage.recordingDestinationContainerUrl', 'is required for azureBlobStorage: the URL of your container, with a SAS token allowing read, add, create, write, delete and list.');
    }
    return { kind: 'azureBlob', containerUrl: url };
  }

  private callbackUri(value: unknown, field: string): string | null {
    if (value === undefined || value === null || value === '') return null;
    if (typeof value !== 'string') throw AcsError.invalidField(field, 'must be a string.');
    const problem = callbackUriProblem(value, this.o.allowInsecureCallbacks);
    if (problem) throw AcsError.invalidField(field, problem);
    return value;
  }

  private tuningFor(channelType: RecordingChannelType, format: RecordingFormatType, resourceId: string): RecordingTuning {
    const t = this.o.tuning ?? {};
    const out: RecordingTuning = { resourceId };
    if (t.maxChunkSeconds !== undefined) out.maxChunkSeconds = t.maxChunkSeconds;
    if (t.maxChunkBytes !== undefined) out.maxChunkBytes = t.maxChunkBytes;
    if (t.speechDetection !== undefined) out.speechDetection = t.speechDetection;
    // Mixed MP3 is mono; unmixed MP3 stereo (2 channels).
    if (format === 'mp3' && t.mp3BitrateKbpsPerChannel !== undefined) out.mp3BitrateKbps = t.mp3BitrateKbpsPerChannel * (channelType === 'mixed' ? 1 : 2);
    return out;
  }

  // ------------------------------------------------------------------ events

  private stateChanged(e: RecordingStateChange): void {
    let target = this.targets.get(e.recordingId);
    if (!target && this.starting && e.owner === this.starting.resourceId) {
      target = this.starting;
      this.targets.set(e.recordingId, target);
    }
    if (!target) return;
    this.o.notifier.emit(
      target.leg,
      'RecordingStateChanged',
      { recordingId: e.recordingId, state: e.state, startDateTime: e.startDateTime, recordingKind: e.recordingKind },
      e.stateCallbackUri,
    );
  }

  private fileStatus(s: RecordingFileStatus): void {
    this.targets.delete(s.recordingId);
    // Nothing recorded (pauseOnStart never resumed): ACS makes no file and publishes nothing.
    if (!s.hasContent || !s.owner) return;
    const base = this.o.publicUrl().replace(/\/$/, '');
    const data = {
      recordingStorageInfo: {
        recordingChunks: s.chunks.map((c) => {
          const object = `${base}${CONTENT_PATH}/${encodeURIComponent(c.documentId)}`;
          return {
            documentId: c.documentId,
            index: c.index,
            endReason: c.endReason,
            metadataLocation: `${object}/content/acsmetadata`,
            contentLocation: `${object}/content/audio`,
            deleteLocation: object,
          };
        }),
      },
      recordingStartTime: s.recordingStartTime,
      recordingDurationMs: s.recordingDurationMs,
      recordingContentType: s.recordingContentType,
      recordingChannelType: s.recordingChannelType,
      recordingFormatType: s.recordingFormatType,
      sessionEndReason: s.sessionEndReason,
    };
    // The call id of the subject is the serverCallId (as in the chunks' metadata, whose callId it also is).
    const subject = `/recording/call/${s.serverCallId}/serverCallId/${s.serverCallId}/recordingId/${s.recordingId}`;
    const queued = this.o.eventGrid.publish(s.owner, { eventType: RECORDING_FILE_STATUS_EVENT, subject, data }, s.serverCallId);
    this.o.log?.info({ recordingId: s.recordingId, chunks: s.chunks.length, subscriptions: queued }, 'ACS recording: RecordingFileStatusUpdated published');
  }

  // ------------------------------------------------------------------ content URLs

  /** GET …/content/audio, GET …/content/acsmetadata, DELETE /v1/objects/<documentId>. */
  registerContentRoutes(http: FastifyInstance): void {
    http.register(
      async (scope) => {
        // Raw bytes for the x-ms-content-sha256 check (the SDK sends an empty body); errors carry
        // the top-level status and message the SDK reads on content URLs.
        useAcsScope(scope, contentError, (e) => e.toContentBody(), 'recording content request failed');
        scope.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
          const e = AcsError.notFound(`No recording content operation matches ${req.method} ${req.url.split('?')[0]}: GET ${CONTENT_PATH}/<documentId>/content/audio or …/content/acsmetadata, DELETE ${CONTENT_PATH}/<documentId>.`);
          reply.status(404).type('application/json').send(e.toContentBody());
        });
        scope.get('/:documentId/content/:which', (req, reply) => this.download(req, reply));
        scope.delete('/:documentId', (req, reply) => this.deleteContent(req, reply));
      },
      { prefix: CONTENT_PATH },
    );
  }

  /** The resource whose key signed a content request (pathname only, host from x-ms-host). */
  private authenticate(req: FastifyRequest): AcsResource {
    return this.auth.authenticate(req, req.raw.url ?? req.url, req.acsRawBody ?? Buffer.alloc(0), 'contentUrl');
  }

  /** The document, if the resource owns it. */
  private document(resource: AcsResource, documentId: string) {
    const doc = this.o.recordings.document(documentId);
    if (!doc || doc.owner !== resource.id) throw contentNotFound(documentId);
    return doc;
  }

  private async download(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const resource = this.authenticate(req);
    const { documentId, which } = req.params as { documentId: string; which: string };
    const kind = which.toLowerCase();
    if (kind !== 'audio' && kind !== 'acsmetadata') throw AcsError.notFound(`No recording content '${which}': use …/content/audio or …/content/acsmetadata.`);
    const doc = this.document(resource, documentId);
    const range = parseRange(headerValue(req.headers, 'range'), kind === 'audio' ? doc.bytes : null);
    let r;
    try {
      r = kind === 'audio' ? await this.o.recordings.openContent(documentId, range ?? undefined) : await this.o.recordings.openMetadata(documentId, range ?? undefined);
    } catch (err) {
      if (err instanceof CallRecordingError && err.code === 'NotFound') throw contentNotFound(documentId);
      throw err;
    }
    reply.header('content-type', kind === 'audio' ? doc.mediaType : 'application/json');
    reply.header('content-length', String(r.size));
    reply.header('accept-ranges', 'bytes');
    reply.header('etag', r.etag);
    reply.header('last-modified', r.lastModified.toUTCString());
    if (r.range) {
      reply.header('content-range', `bytes ${r.range.start}-${r.range.end}/${r.totalSize}`);
      reply.status(206);
    } else {
      reply.status(200);
    }
    return reply.send(r.stream);
  }

  private async deleteContent(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const resource = this.authenticate(req);
    const { documentId } = req.params as { documentId: string };
    this.document(resource, documentId);
    try {
      await this.o.recordings.deleteContent(documentId);
    } catch (err) {
      if (err instanceof CallRecordingError && err.code === 'NotFound') throw contentNotFound(documentId);
      throw err;
    }
    // The SDK accepts exactly 200.
    return reply.status(200).send();
  }
}

// ------------------------------------------------------------------ helpers

function stateResponse(info: RecordingInfo): Json {
  return { recordingId: info.recordingId, recordingState: info.state, recordingKind: info.kind };
}

/** An optional enum field, matched case-insensitively; returns the canonical spelling. */
function enumField(b: Json, key: string, values: string[], fallback: string): string {
  const v = b[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw AcsError.invalidField(key, `must be one of ${values.map((x) => `'${x}'`).join(', ')}.`);
  const found = values.find((x) => x.toLowerCase() === v.toLowerCase());
  if (!found) throw AcsError.invalidField(key, `must be one of ${values.map((x) => `'${x}'`).join(', ')} (got '${v}').`);
  return found;
}

/** The option names of the service, as the wire names them. */
function wireField(field: string): string {
  if (field === 'storage.containerUrl') return 'externalStorage.recordingDestinationContainerUrl';
  if (field === 'storage.kind') return 'externalStorage.recordingStorageKind';
  return field.replace(/^(channelAffinity\[\d+\])\.participantId$/, '$1.participant');
}

/** A refusal of the recording service as an ACS error (400 naming the field, 409, 404 …). */
export function toAcsError(err: unknown): unknown {
  if (!(err instanceof CallRecordingError)) return err;
  if (err.code === 'InvalidArgument') {
    const field = wireField(err.field ?? 'request');
    const reason = err.field && err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
    return AcsError.invalidField(field, reason);
  }
  if (err.code === 'Conflict') return AcsError.conflict(`${err.message}.`.replace(/\.\.$/, '.'));
  if (err.code === 'Busy') return new AcsError(503, 'ServiceUnavailable', err.message, { headers: { 'retry-after': '5' } });
  const code = err.status === 404 ? 'NotFound' : err.status === 503 ? 'ServiceUnavailable' : err.status === 409 ? 'Conflict' : 'BadRequest';
  return new AcsError(err.status, code, err.message);
}

function contentNotFound(documentId: string): AcsError {
  return AcsError.notFound(`Recording content ${documentId} was not found: it does not exist, was deleted, or belongs to another resource.`, { target: 'documentId' });
}

function contentError(err: any): AcsError {
  if (err instanceof AcsError) return err;
  if (err instanceof CallRecordingError) return toAcsError(err) as AcsError;
  if (err instanceof BlobStoreError) {
    if (err.code === 'RangeNotSatisfiable') {
      return new AcsError(416, 'RangeNotSatisfiable', err.message, { headers: err.totalSize !== undefined ? { 'content-range': `bytes */${err.totalSize}` } : {} });
    }
    return new AcsError(502, 'StorageError', `The recording's storage failed: ${err.message}`);
  }
  if (typeof err?.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return new AcsError(err.statusCode, 'BadRequest', String(err.message));
  return AcsError.internal();
}
