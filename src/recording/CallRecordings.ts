/**
 * Call recording, the domain service (ACS "call recording"): starts a RecordingSession on a Call's
 * MediaSession, follows the call (participants whose legs come later are recorded, those who leave
 * are dropped, the call's end stops it), uploads each chunk and its metadata document to a blob
 * store while the call goes on, keeps an index of the uploaded chunks (in memory and in the SQLite
 * state store, so content can be downloaded and deleted after a restart), and tells listeners of
 * state changes (RecordingStateChanged) and of the finished recording (RecordingFileStatusUpdated).
 * Transport-agnostic: the ACS HTTP routes and the Event Grid publisher are built on top of it.
 *
 * IDENTITIES. The recording engine knows participants by a string: the key that ordering
 * (`audioChannelParticipantOrdering`) and `channelAffinity` name, and that the metadata lists. By
 * default a participant's key is its participant id; the caller passes `participantKey` to key them
 * by an API identifier instead (the ACS layer: the identifier's rawId). It goes participant → key,
 * not key → participant, because ordering and affinity may name participants who have not joined
 * yet: they are matched when their legs attach.
 *
 * STORAGE. `{kind: 'telegraph'}`: the blob store given to the constructor (FileBlobStore under
 * <dataDir>/blobs by default). `{kind: 'azureBlob', containerUrl}`: the caller's own container (a
 * SAS URL), through AzureBlobStore; the files live there and Telegraph keeps only the index (the
 * container URL, SAS token included, is kept in the state store so that the files stay reachable
 * after a restart). Keys: `recordings/<recordingId>/<documentId>/audio.<wav|mp3>` and
 * `…/metadata.json`. A chunk is indexed once both of its blobs are uploaded; an upload that fails
 * is listed in the file status (`uploadErrors`) and the recording goes on.
 *
 * STATES. `active` while recording, `inactive` while paused (or started with pauseOnStart) and once
 * ended. Pausing a paused recording and resuming an active one change nothing (no event). A state
 * event is emitted on each change only (so stopping a paused recording emits none).
 *
 * ENDING. stop() ends with sessionEndReason 'RecordingStopped' (Telegraph's own value: ACS
 * documents only "CallEnded" and "InitiatorLeft"; a caller may pass another); the call's end stops
 * it with 'CallEnded'. Once every chunk has been uploaded the file status is emitted — also when
 * nothing was recorded (pauseOnStart never resumed: `chunks: []`, `hasContent: false`; ACS then
 * makes no file, so the event layer should publish nothing).
 *
 * LIMITATION. A RecordingSession is bound to one MediaSession. If everyone with audio leaves a call
 * that goes on (its MediaSession closes) and someone joins later (a new MediaSession), the
 * recording records nothing more until it is stopped or the call ends (a warning is logged).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Call } from '../calls/Call.ts';
import type { LegObserver } from '../calls/CallMedia.ts';
import type { Participant } from '../calls/Participant.ts';
import type { MediaLeg } from '../media/MediaLeg.ts';
import type { MediaSession } from '../media/MediaSession.ts';
import type { StateStore } from '../storage/StateStore.ts';
import { EncoderBusyError } from './ChunkWriter.ts';
import { AzureBlobStore } from '../storage/blob/AzureBlobStore.ts';
import { BlobStoreError, type BlobRange, type BlobReadResult, type BlobStore } from '../storage/blob/BlobStore.ts';
import {
  RecordingConfigError,
  RecordingSession,
  type ChannelAffinity,
  type ChunkEndReason,
  type ChunkParticipant,
  type PauseInterval,
  type RecordingChannelType,
  type RecordingChunk,
  type RecordingFormatType,
  type RecordingOptions,
  type RecordingSummary,
  type SpeechDetection,
} from './RecordingSession.ts';

/** What CallRecordings needs of CallMedia (the real one, or a stand-in). */
export interface RecordingMedia {
  observeLegs(o: LegObserver): () => void;
  sessionOf(call: Call): MediaSession | null;
  legOf(p: Participant): MediaLeg | null;
}

export type RecordingStorage = { kind: 'telegraph' } | { kind: 'azureBlob'; containerUrl: string };
export type RecordingStorageKind = RecordingStorage['kind'];

/** sessionEndReason when the call ends (ACS's value). */
export const SESSION_END_CALL_ENDED = 'CallEnded';
/** sessionEndReason of stop() (Telegraph's own: ACS documents no value for it). */
export const SESSION_END_STOPPED = 'RecordingStopped';

export interface StartRecordingOptions {
  /** Default 'mixed'. */
  recordingChannelType?: RecordingChannelType;
  /** Default 'wav'. */
  recordingFormatType?: RecordingFormatType;
  /** Default 'audio'; 'audioVideo' is refused (Telegraph records audio only). */
  recordingContentType?: 'audio' | 'audioVideo';
  /** Unmixed: these keys (see participantKey) take channels 0, 1, … */
  audioChannelParticipantOrdering?: string[];
  /** Unmixed: a participant (by key) pinned to a channel 0–4. */
  channelAffinity?: ChannelAffinity[];
  /** Start paused: nothing is recorded until resume(); no file at all if never resumed. */
  pauseOnStart?: boolean;
  /** Default {kind: 'telegraph'}. */
  storage?: RecordingStorage;
  /** Where the application wants RecordingStateChanged events (carried in the events, not used here). */
  stateCallbackUri?: string | null;
  /** Who the recording belongs to (e.g. the ACS resource id): carried in events and the index, for access checks. */
  owner?: string | null;
  /** The key a participant is recorded under (matched against ordering and affinity, listed in the metadata). Default: its participant id. */
  participantKey?: (p: Participant) => string;
  /** Engine settings (defaults: the constructor's, then the engine's). */
  tuning?: RecordingTuning;
}

export interface RecordingTuning {
  maxChunkSeconds?: number;
  maxChunkBytes?: number;
  mp3BitrateKbps?: number;
  unmixedChannels?: number;
  speechDetection?: SpeechDetection;
  /** ACS resource id, written into the chunks' metadata. */
  resourceId?: string;
}

export type RecordingState = 'active' | 'inactive';

/** A recording as the API shows it (ACS RecordingStateResponse, plus what Telegraph knows). */
export interface RecordingInfo {
  recordingId: string;
  serverCallId: string;
  state: RecordingState;
  kind: 'azureCommunicationServices';
  /** Stopped, or its call ended (state is then 'inactive'). */
  ended: boolean;
  /** ISO 8601: when it was started. */
  startTime: string;
  recordingContentType: 'audio';
  recordingChannelType: RecordingChannelType;
  recordingFormatType: RecordingFormatType;
  storage: RecordingStorageKind;
  stateCallbackUri: string | null;
  owner: string | null;
  /** Once ended: why. */
  sessionEndReason: string | null;
}

/** For RecordingStateChanged. */
export interface RecordingStateChange {
  recordingId: string;
  serverCallId: string;
  owner: string | null;
  stateCallbackUri: string | null;
  state: RecordingState;
  /** ISO 8601: when the recording started. */
  startDateTime: string;
  /** ISO 8601: when this change happened. */
  changedAt: string;
  recordingKind: 'azureCommunicationServices';
  reason: 'started' | 'paused' | 'resumed' | 'stopped';
}

/** One uploaded chunk, as the file status lists it. */
export interface RecordingChunkRef {
  documentId: string;
  index: number;
  endReason: ChunkEndReason;
  /** Blob keys in the recording's store; the HTTP layer turns them into contentLocation / metadataLocation / deleteLocation. */
  contentKey: string;
  metadataKey: string;
  durationMs: number;
  bytes: number;
}

/** For RecordingFileStatusUpdated: emitted once per recording, when it has ended and every chunk is uploaded. */
export interface RecordingFileStatus {
  recordingId: string;
  serverCallId: string;
  owner: string | null;
  stateCallbackUri: string | null;
  storage: RecordingStorageKind;
  recordingStartTime: string;
  /** Audio recorded, ms: paused time excluded. */
  recordingDurationMs: number;
  recordingContentType: 'audio';
  recordingChannelType: RecordingChannelType;
  recordingFormatType: RecordingFormatType;
  sessionEndReason: string;
  /** The uploaded chunks, in order. */
  chunks: RecordingChunkRef[];
  /** false when nothing was recorded (e.g. pauseOnStart never resumed): ACS makes no file then. */
  hasContent: boolean;
  pauseResumeIntervals: PauseInterval[];
  participants: ChunkParticipant[];
  unrecordedParticipants: string[];
  /** Chunks that could not be uploaded (missing from `chunks`). */
  uploadErrors: Array<{ index: number; documentId: string; error: string }>;
}

/** An indexed chunk: where its content and metadata are. */
export interface RecordingDocument {
  documentId: string;
  recordingId: string;
  serverCallId: string;
  owner: string | null;
  index: number;
  endReason: ChunkEndReason;
  storage: RecordingStorageKind;
  contentKey: string;
  metadataKey: string;
  /** 'audio/wav' or 'audio/mpeg'. */
  mediaType: string;
  durationMs: number;
  bytes: number;
  createdAt: Date;
}

export type CallRecordingErrorCode = 'InvalidArgument' | 'Conflict' | 'NotFound' | 'RecordingEnded' | 'CallNotActive' | 'Busy';

/** Every refusal of the service: `code` says which, `status` the HTTP status it maps to, `field` the option at fault. */
export class CallRecordingError extends Error {
  readonly code: CallRecordingErrorCode;
  readonly status: number;
  readonly field: string | null;
  constructor(code: CallRecordingErrorCode, message: string, opts: { status?: number; field?: string | null; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CallRecordingError';
    this.code = code;
    this.field = opts.field ?? null;
    this.status = opts.status ?? DEFAULT_STATUS[code];
  }
}

const DEFAULT_STATUS: Record<CallRecordingErrorCode, number> = {
  InvalidArgument: 400,
  Conflict: 409,
  NotFound: 404,
  // ACS forgets a stopped recording (unverified): acting on it is "not found".
  RecordingEnded: 404,
  CallNotActive: 400,
  // the MP3 encoders are at capacity: a WAV recording, or a retry later, is possible
  Busy: 503,
};

export interface CallRecordingsOptions {
  media: RecordingMedia;
  /** The index lives here (tables recordings and recording_chunks). */
  store: StateStore;
  /** Telegraph's own storage (`{kind: 'telegraph'}`), e.g. a FileBlobStore under <dataDir>/blobs. */
  blobs: BlobStore;
  /** Makes the store of an `azureBlob` recording. Default: an AzureBlobStore on the container URL. */
  azureStore?: (containerUrl: string) => BlobStore;
  /** Defaults for every recording's engine. */
  tuning?: RecordingTuning;
  log?: Logger;
  /** Wall clock, ms. Default Date.now. */
  now?: () => number;
  /**
   * Chunks kept in Telegraph's own storage are deleted this long after they were written (ACS keeps
   * recordings 24 hours in its built-in storage). 0 or absent: kept until deleted. Chunks in the
   * caller's own container (`azureBlob`) are the caller's: never deleted by this.
   */
  retentionMs?: number;
}

/** How often expired chunks are looked for, at most. */
const SWEEP_EVERY_MS = 10 * 60_000;

const MEDIA_TYPES: Record<RecordingFormatType, string> = { wav: 'audio/wav', mp3: 'audio/mpeg' };
/** Finished recordings remembered in memory (their status, for stop() and get()); older ones come from the database. */
const FINISHED_KEPT = 1000;

interface Live {
  id: string;
  call: Call;
  serverCallId: string;
  owner: string | null;
  stateCallbackUri: string | null;
  storage: RecordingStorage;
  store: BlobStore;
  channelType: RecordingChannelType;
  format: RecordingFormatType;
  engine: RecordingSession;
  keyOf: (p: Participant) => string;
  state: 'active' | 'paused' | 'ended';
  startWall: number;
  /** Participants whose legs are recorded, with their keys. */
  attached: Map<Participant, string>;
  chunks: RecordingChunkRef[];
  uploadErrors: RecordingFileStatus['uploadErrors'];
  ending: Promise<RecordingFileStatus> | null;
  sessionEndReason: string | null;
  warnedSession: boolean;
}

interface IndexEntry extends RecordingDocument {
  /** For azureBlob: the container URL (SAS included). Never shown. */
  containerUrl: string | null;
}

interface RecordingRow {
  id: string;
  server_call_id: string;
  owner: string | null;
  storage_kind: string;
  container_url: string | null;
  content_type: string;
  channel_type: string;
  format: string;
  started_at: number;
  ended_at: number | null;
  session_end_reason: string | null;
  duration_ms: number | null;
}

interface ChunkRow {
  document_id: string;
  recording_id: string;
  chunk_index: number;
  end_reason: string;
  content_key: string;
  metadata_key: string;
  media_type: string;
  duration_ms: number;
  bytes: number;
  created_at: number;
  server_call_id: string;
  owner: string | null;
  storage_kind: string;
  container_url: string | null;
}

const newId = (bytes: number) => randomBytes(bytes).toString('base64url');
const iso = (ms: number) => new Date(ms).toISOString();

export class CallRecordings {
  private readonly media: RecordingMedia;
  private readonly store: StateStore;
  private readonly blobs: BlobStore;
  private readonly makeAzureStore: (containerUrl: string) => BlobStore;
  private readonly tuning: RecordingTuning;
  private readonly log: Logger | null;
  private readonly now: () => number;

  /** Every recording of this process not yet forgotten, by id (live and recently finished). */
  private readonly live = new Map<string, Live>();
  /** The recording running on each call (active or paused; not ending). */
  private readonly byCall = new Map<Call, Live>();
  /** Finished recordings, newest last, with their status (bounded). */
  private readonly finished = new Map<string, { info: RecordingInfo; status: Promise<RecordingFileStatus> }>();
  private readonly index = new Map<string, IndexEntry>();
  private readonly azureStores = new Map<string, BlobStore>();
  private readonly stateListeners: ((e: RecordingStateChange) => void)[] = [];
  private readonly fileListeners: ((s: RecordingFileStatus) => void)[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly unobserve: () => void;
  private closed = false;
  private readonly retentionMs: number;
  private readonly sweeper: NodeJS.Timeout | null;

  private readonly sql: {
    insertRecording: (r: RecordingRow) => void;
    endRecording: (id: string, endedAt: number, reason: string, durationMs: number) => void;
    insertChunk: (c: Omit<ChunkRow, 'server_call_id' | 'owner' | 'storage_kind' | 'container_url'>) => void;
    deleteChunk: (documentId: string) => void;
    recording: (id: string) => RecordingRow | undefined;
  };

  constructor(options: CallRecordingsOptions) {
    this.media = options.media;
    this.store = options.store;
    this.blobs = options.blobs;
    this.makeAzureStore = options.azureStore ?? ((containerUrl) => new AzureBlobStore({ containerUrl }));
    this.tuning = options.tuning ?? {};
    this.log = options.log ?? null;
    this.now = options.now ?? Date.now;
    this.retentionMs = options.retentionMs ?? 0;

    const db = this.store.db;
    const insertRecording = db.prepare(
      `INSERT INTO recordings (id, server_call_id, owner, storage_kind, container_url, content_type, channel_type, format, started_at, ended_at, session_end_reason, duration_ms)
       VALUES (@id, @server_call_id, @owner, @storage_kind, @container_url, @content_type, @channel_type, @format, @started_at, @ended_at, @session_end_reason, @duration_ms)`,
    );
    const endRecording = db.prepare('UPDATE recordings SET ended_at = ?, session_end_reason = ?, duration_ms = ? WHERE id = ?');
    const insertChunk = db.prepare(
      `INSERT OR REPLACE INTO recording_chunks (document_id, recording_id, chunk_index, end_reason, content_key, metadata_key, media_type, duration_ms, bytes, created_at)
       VALUES (@document_id, @recording_id, @chunk_index, @end_reason, @content_key, @metadata_key, @media_type, @duration_ms, @bytes, @created_at)`,
    );
    const deleteChunk = db.prepare('DELETE FROM recording_chunks WHERE document_id = ?');
    const selectRecording = db.prepare('SELECT * FROM recordings WHERE id = ?');
    this.sql = {
      insertRecording: (r) => void insertRecording.run(r),
      endRecording: (id, endedAt, reason, durationMs) => void endRecording.run(endedAt, reason, durationMs, id),
      insertChunk: (c) => void insertChunk.run(c),
      deleteChunk: (documentId) => void deleteChunk.run(documentId),
      recording: (id) => selectRecording.get(id) as RecordingRow | undefined,
    };

    // The index of uploaded chunks, from earlier runs.
    const rows = db
      .prepare(
        `SELECT c.*, r.server_call_id, r.owner, r.storage_kind, r.container_url
         FROM recording_chunks c JOIN recordings r ON r.id = c.recording_id`,
      )
      .all() as ChunkRow[];
    for (const row of rows) this.index.set(row.document_id, entryOf(row));

    this.unobserve = this.media.observeLegs({
      legAttached: (p, leg) => this.legAttached(p, leg),
      legDetached: (p) => this.legDetached(p),
      callEnded: (call) => this.callEnded(call),
    });

    // What expired while Telegraph was down goes at once; the rest as it expires.
    this.sweeper = null;
    if (this.retentionMs > 0) {
      const sweep = () => this.track(this.deleteExpired());
      setImmediate(sweep);
      this.sweeper = setInterval(sweep, Math.max(1000, Math.min(SWEEP_EVERY_MS, this.retentionMs / 4)));
      this.sweeper.unref();
    }
  }

  // ------------------------------------------------------------------ listeners

  /** RecordingStateChanged: each change of a recording's state. Returns an unsubscribe. */
  onStateChanged(cb: (e: RecordingStateChange) => void): () => void {
    return subscribe(this.stateListeners, cb);
  }

  /** RecordingFileStatusUpdated: a recording ended and its chunks are uploaded. Returns an unsubscribe. */
  onFileStatus(cb: (s: RecordingFileStatus) => void): () => void {
    return subscribe(this.fileListeners, cb);
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Starts recording the call. Throws CallRecordingError: InvalidArgument (with the field at fault),
   * Conflict (the call is already being recorded), CallNotActive (the call has ended, or no one in
   * it has audio yet).
   */
  start(call: Call, options: StartRecordingOptions = {}): RecordingInfo {
    if (this.closed) throw new CallRecordingError('CallNotActive', 'call recording is shutting down', { status: 503 });
    if (call.ended) throw new CallRecordingError('CallNotActive', `call ${call.id} has ended`, { status: 404 });
    const running = this.byCall.get(call);
    if (running) {
      throw new CallRecordingError(
        'Conflict',
        `call ${call.id} is already being recorded (recording ${running.id}, ${running.state}); stop that recording before starting another`,
      );
    }
    const contentType = options.recordingContentType ?? 'audio';
    if (contentType !== 'audio') {
      throw new CallRecordingError(
        'InvalidArgument',
        `recordingContentType: ${JSON.stringify(contentType)} is not supported: Telegraph records audio only (use "audio")`,
        { field: 'recordingContentType' },
      );
    }
    const storage = options.storage ?? { kind: 'telegraph' };
    let store: BlobStore;
    if (storage.kind === 'telegraph') {
      store = this.blobs;
    } else if (storage.kind === 'azureBlob') {
      if (typeof storage.containerUrl !== 'string' || storage.containerUrl === '') {
        throw new CallRecordingError('InvalidArgument', 'storage.containerUrl: required for azureBlob storage', { field: 'storage.containerUrl' });
      }
      store = this.azureStoreFor(storage.containerUrl);
    } else {
      throw new CallRecordingError('InvalidArgument', `storage.kind: must be "telegraph" or "azureBlob", got ${JSON.stringify((storage as { kind: unknown }).kind)}`, {
        field: 'storage.kind',
      });
    }
    const session = this.media.sessionOf(call);
    if (!session) throw new CallRecordingError('CallNotActive', `call ${call.id} has no audio yet: no one in it is connected`);

    const id = newId(24);
    const keyOf = options.participantKey ?? ((p: Participant) => p.id);
    const tuning = { ...this.tuning, ...options.tuning };
    let live!: Live;
    // The engine reads the clock at start(): the same instant as the recording's start time here.
    let startClock: number | null = null;
    const clock = this.now;
    const engineOptions: RecordingOptions = {
      recordingId: id,
      serverCallId: call.id,
      recordingChannelType: options.recordingChannelType,
      recordingFormatType: options.recordingFormatType,
      recordingContentType: 'audio',
      audioChannelParticipantOrdering: options.audioChannelParticipantOrdering,
      channelAffinity: options.channelAffinity,
      pauseOnStart: options.pauseOnStart,
      ...definedOnly(tuning),
      documentId: () => newId(18),
      now: () => startClock ?? clock(),
      onChunk: (chunk) => this.upload(live, chunk),
    };
    let engine: RecordingSession;
    try {
      engine = new RecordingSession(session, engineOptions);
    } catch (err) {
      if (err instanceof RecordingConfigError) throw new CallRecordingError('InvalidArgument', err.message, { field: err.field, cause: err });
      if (err instanceof EncoderBusyError) throw new CallRecordingError('Busy', err.message, { cause: err });
      throw err;
    }
    const channelType = options.recordingChannelType ?? 'mixed';
    const format = options.recordingFormatType ?? 'wav';
    live = {
      id,
      call,
      serverCallId: call.id,
      owner: options.owner ?? null,
      stateCallbackUri: options.stateCallbackUri ?? null,
      storage,
      store,
      channelType,
      format,
      engine,
      keyOf,
      state: options.pauseOnStart ? 'paused' : 'active',
      startWall: 0,
      attached: new Map(),
      chunks: [],
      uploadErrors: [],
      ending: null,
      sessionEndReason: null,
      warnedSession: false,
    };
    live.startWall = startClock = this.now();
    try {
      this.sql.insertRecording({
        id,
        server_call_id: call.id,
        owner: live.owner,
        storage_kind: storage.kind,
        container_url: storage.kind === 'azureBlob' ? storage.containerUrl : null,
        content_type: 'audio',
        channel_type: channelType,
        format,
        started_at: live.startWall,
        ended_at: null,
        session_end_reason: null,
        duration_ms: null,
      });
    } catch (err) {
      void engine.stop(); // (not started: this closes its writer, an MP3 encoder included)
      throw err;
    }
    engine.start([]);
    startClock = null;
    this.live.set(id, live);
    this.byCall.set(call, live);
    for (const p of call.participants.values()) {
      const leg = this.media.legOf(p);
      if (leg) this.addLeg(live, p, leg);
    }
    this.log?.info({ recordingId: id, serverCallId: call.id, channelType, format, storage: storage.kind }, 'call recording started');
    this.emitState(live, options.pauseOnStart ? 'inactive' : 'active', 'started');
    return this.info(live);
  }

  /** The recording (live, or ended: from memory or the state store). Throws NotFound. */
  get(recordingId: string): RecordingInfo {
    const live = this.live.get(recordingId);
    if (live) return this.info(live);
    const done = this.finished.get(recordingId);
    if (done) return { ...done.info };
    const row = typeof recordingId === 'string' ? this.sql.recording(recordingId) : undefined;
    if (!row) throw notFound(recordingId);
    return {
      recordingId: row.id,
      serverCallId: row.server_call_id,
      state: 'inactive',
      kind: 'azureCommunicationServices',
      ended: true,
      startTime: iso(row.started_at),
      recordingContentType: 'audio',
      recordingChannelType: row.channel_type as RecordingChannelType,
      recordingFormatType: row.format as RecordingFormatType,
      storage: row.storage_kind as RecordingStorageKind,
      stateCallbackUri: null,
      owner: row.owner,
      // Never ended in its process: that process stopped (or crashed) while it ran.
      sessionEndReason: row.session_end_reason ?? 'ServiceRestarted',
    };
  }

  /** Pauses (a paused recording stays paused). Throws NotFound, RecordingEnded. */
  pause(recordingId: string): RecordingInfo {
    const live = this.running(recordingId, 'pause');
    if (live.state === 'active') {
      live.engine.pause();
      live.state = 'paused';
      this.emitState(live, 'inactive', 'paused');
    }
    return this.info(live);
  }

  /** Resumes (an active recording stays active). Throws NotFound, RecordingEnded. */
  resume(recordingId: string): RecordingInfo {
    const live = this.running(recordingId, 'resume');
    if (live.state === 'paused') {
      live.engine.resume();
      live.state = 'active';
      this.emitState(live, 'active', 'resumed');
    }
    return this.info(live);
  }

  /**
   * Stops; resolves with the file status once every chunk is uploaded (the listeners get it too).
   * Stopping a recording that is ending or ended gives the same status. Throws NotFound, and
   * RecordingEnded for a recording that ended in an earlier run.
   */
  stop(recordingId: string, sessionEndReason: string = SESSION_END_STOPPED): Promise<RecordingFileStatus> {
    const live = this.live.get(recordingId);
    if (live) return this.end(live, sessionEndReason);
    const done = this.finished.get(recordingId);
    if (done) return done.status;
    if (typeof recordingId === 'string' && this.sql.recording(recordingId)) {
      throw new CallRecordingError('RecordingEnded', `recording ${recordingId} has already ended`);
    }
    throw notFound(recordingId);
  }

  /** The recording running on a call (active or paused), if any. */
  recordingOf(call: Call): RecordingInfo | null {
    const live = this.byCall.get(call);
    return live ? this.info(live) : null;
  }

  /** Ends every running recording (as CallEnded: a shutdown ends the calls) and waits for their uploads. Call before closing the state store. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const live of [...this.byCall.values()]) void this.end(live, SESSION_END_CALL_ENDED);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.unobserve();
  }

  // ------------------------------------------------------------------ content

  /** The indexed chunk, or null. */
  document(documentId: string): RecordingDocument | null {
    const e = this.index.get(documentId);
    return e ? publicEntry(e) : null;
  }

  /** The indexed chunks of a recording, in order. */
  documents(recordingId: string): RecordingDocument[] {
    const out: RecordingDocument[] = [];
    for (const e of this.index.values()) if (e.recordingId === recordingId) out.push(publicEntry(e));
    return out.sort((a, b) => a.index - b.index);
  }

  /**
   * A chunk's audio (optionally a byte range: BlobStoreError RangeNotSatisfiable passes through).
   * Throws NotFound for an unknown (or deleted) document, or when its blob is gone from the store.
   */
  async openContent(documentId: string, range?: BlobRange): Promise<BlobReadResult & { document: RecordingDocument }> {
    return this.open(documentId, 'content', range);
  }

  /** A chunk's metadata document (JSON). Throws NotFound. */
  async openMetadata(documentId: string, range?: BlobRange): Promise<BlobReadResult & { document: RecordingDocument }> {
    return this.open(documentId, 'metadata', range);
  }

  /** Deletes a chunk's content and metadata and forgets it. Throws NotFound for an unknown document; store failures pass through (the index is kept). */
  async deleteContent(documentId: string): Promise<void> {
    const e = this.index.get(documentId);
    if (!e) throw documentNotFound(documentId);
    const store = this.storeOf(e);
    await store.delete(e.contentKey);
    await store.delete(e.metadataKey);
    this.index.delete(documentId);
    this.sql.deleteChunk(documentId);
    this.log?.info({ documentId, recordingId: e.recordingId }, 'recording content deleted');
  }

  /**
   * Deletes the chunks in Telegraph's own storage older than the retention (see
   * CallRecordingsOptions.retentionMs). Returns how many went; a chunk the store fails to delete is
   * logged and tried again at the next sweep.
   */
  async deleteExpired(): Promise<number> {
    if (this.retentionMs <= 0 || this.closed) return 0;
    const before = this.now() - this.retentionMs;
    let n = 0;
    for (const e of [...this.index.values()]) {
      if (e.storage !== 'telegraph' || e.createdAt.getTime() > before) continue;
      try {
        await this.deleteContent(e.documentId);
        n++;
      } catch (err) {
        if (err instanceof CallRecordingError && err.code === 'NotFound') continue; // deleted meanwhile
        this.log?.warn({ err, documentId: e.documentId }, 'an expired recording chunk could not be deleted; trying again later');
      }
    }
    if (n > 0) this.log?.info({ chunks: n, retentionMs: this.retentionMs }, 'expired recording chunks deleted');
    return n;
  }

  private async open(documentId: string, which: 'content' | 'metadata', range?: BlobRange): Promise<BlobReadResult & { document: RecordingDocument }> {
    const e = typeof documentId === 'string' ? this.index.get(documentId) : undefined;
    if (!e) throw documentNotFound(documentId);
    const r = await this.storeOf(e).get(which === 'content' ? e.contentKey : e.metadataKey, range);
    if (!r) throw new CallRecordingError('NotFound', `the ${which} of recording document ${documentId} is no longer in its ${e.storage === 'azureBlob' ? 'Azure container' : 'store'}`);
    return Object.assign(r, { document: publicEntry(e) });
  }

  private storeOf(e: IndexEntry): BlobStore {
    return e.storage === 'azureBlob' && e.containerUrl ? this.azureStoreFor(e.containerUrl) : this.blobs;
  }

  private azureStoreFor(containerUrl: string): BlobStore {
    let s = this.azureStores.get(containerUrl);
    if (!s) {
      try {
        s = this.makeAzureStore(containerUrl);
      } catch (err) {
        if (err instanceof BlobStoreError) {
          throw new CallRecordingError('InvalidArgument', `storage.containerUrl: ${err.message}`, { field: 'storage.containerUrl', cause: err });
        }
        throw err;
      }
      this.azureStores.set(containerUrl, s);
    }
    return s;
  }

  // ------------------------------------------------------------------ following the call

  private legAttached(p: Participant, leg: MediaLeg): void {
    const live = this.byCall.get(p.call);
    if (live) this.addLeg(live, p, leg);
  }

  private legDetached(p: Participant): void {
    const live = this.byCall.get(p.call);
    const key = live?.attached.get(p);
    if (!live || key === undefined) return;
    live.attached.delete(p);
    try {
      live.engine.removeParticipant(key);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, recordingId: live.id, participant: p.id }, 'call recording: could not drop a participant');
    }
  }

  private callEnded(call: Call): void {
    const live = this.byCall.get(call);
    if (live) void this.end(live, SESSION_END_CALL_ENDED);
  }

  /** Records a participant's leg; never throws (it runs inside CallMedia's attach). */
  private addLeg(live: Live, p: Participant, leg: MediaLeg): void {
    if (live.state === 'ended' || live.attached.has(p)) return;
    if (!live.engine.session.legs.includes(leg)) {
      if (!live.warnedSession) {
        live.warnedSession = true;
        this.log?.warn(
          { recordingId: live.id, serverCallId: live.serverCallId, participant: p.id },
          "call recording: the call's media session was replaced (everyone with audio had left); participants joining now are not recorded",
        );
      }
      return;
    }
    let key: string;
    try {
      key = live.keyOf(p);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, recordingId: live.id, participant: p.id }, 'call recording: participantKey failed; recording under the participant id');
      key = p.id;
    }
    try {
      live.engine.addParticipant(key, leg);
      live.attached.set(p, key);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, recordingId: live.id, participant: p.id, key }, 'call recording: participant not recorded');
    }
  }

  // ------------------------------------------------------------------ internals

  private running(recordingId: string, action: string): Live {
    const live = this.live.get(recordingId);
    if (live && live.state !== 'ended') return live;
    if (live || this.finished.has(recordingId) || (typeof recordingId === 'string' && this.sql.recording(recordingId))) {
      throw new CallRecordingError('RecordingEnded', `recording ${recordingId} has ended: it cannot ${action}`);
    }
    throw notFound(recordingId);
  }

  private end(live: Live, reason: string): Promise<RecordingFileStatus> {
    if (live.ending) return live.ending;
    const wasActive = live.state === 'active';
    live.state = 'ended';
    live.sessionEndReason = reason;
    if (this.byCall.get(live.call) === live) this.byCall.delete(live.call);
    live.attached.clear();
    if (wasActive) this.emitState(live, 'inactive', 'stopped');
    const ending = live.engine.stop(reason).then((summary) => this.finish(live, summary));
    live.ending = ending;
    this.track(ending);
    return ending;
  }

  private finish(live: Live, summary: RecordingSummary): RecordingFileStatus {
    const status: RecordingFileStatus = {
      recordingId: live.id,
      serverCallId: live.serverCallId,
      owner: live.owner,
      stateCallbackUri: live.stateCallbackUri,
      storage: live.storage.kind,
      recordingStartTime: summary.recordingStartTime,
      recordingDurationMs: summary.recordingDurationMs,
      recordingContentType: 'audio',
      recordingChannelType: live.channelType,
      recordingFormatType: live.format,
      sessionEndReason: summary.sessionEndReason,
      chunks: live.chunks.slice().sort((a, b) => a.index - b.index),
      hasContent: live.chunks.length > 0,
      pauseResumeIntervals: summary.pauseResumeIntervals,
      participants: summary.participants,
      unrecordedParticipants: summary.unrecordedParticipants,
      uploadErrors: live.uploadErrors.slice(),
    };
    try {
      this.sql.endRecording(live.id, this.now(), status.sessionEndReason, status.recordingDurationMs);
    } catch (err) {
      this.log?.error({ err: (err as Error).message, recordingId: live.id }, 'call recording: could not save its end');
    }
    // Forget the live state (the engine, the call); remember the status for a while.
    this.live.delete(live.id);
    this.finished.set(live.id, { info: this.info(live), status: Promise.resolve(status) });
    while (this.finished.size > FINISHED_KEPT) this.finished.delete(this.finished.keys().next().value!);
    this.log?.info({ recordingId: live.id, durationMs: status.recordingDurationMs, chunks: status.chunks.length, reason: status.sessionEndReason }, 'call recording ended');
    for (const cb of [...this.fileListeners]) {
      try {
        cb(status);
      } catch (err) {
        this.log?.error({ err: (err as Error).message, recordingId: live.id }, 'call recording: a file status listener failed');
      }
    }
    return status;
  }

  /** The engine's chunk sink: uploads the file and its metadata, then indexes them. Never throws (failures are listed). */
  private async upload(live: Live, chunk: RecordingChunk): Promise<void> {
    const base = `recordings/${live.id}/${chunk.documentId}`;
    const contentKey = `${base}/audio.${chunk.format}`;
    const metadataKey = `${base}/metadata.json`;
    const mediaType = MEDIA_TYPES[chunk.format];
    const blobMeta = { recording_id: live.id, document_id: chunk.documentId, chunk_index: String(chunk.index) };
    const work = (async () => {
      try {
        await live.store.put(contentKey, chunk.bytes, { contentType: mediaType, metadata: blobMeta });
        try {
          await live.store.put(metadataKey, Buffer.from(chunk.metadataJson, 'utf8'), { contentType: 'application/json', metadata: blobMeta });
        } catch (err) {
          await live.store.delete(contentKey).catch(() => false);
          throw err;
        }
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        live.uploadErrors.push({ index: chunk.index, documentId: chunk.documentId, error });
        this.log?.error({ err: error, recordingId: live.id, documentId: chunk.documentId, storage: live.store.kind }, 'call recording: a chunk could not be uploaded');
        return;
      }
      const createdAt = this.now();
      const entry: IndexEntry = {
        documentId: chunk.documentId,
        recordingId: live.id,
        serverCallId: live.serverCallId,
        owner: live.owner,
        index: chunk.index,
        endReason: chunk.endReason,
        storage: live.storage.kind,
        contentKey,
        metadataKey,
        mediaType,
        durationMs: chunk.durationMs,
        bytes: chunk.bytes.length,
        createdAt: new Date(createdAt),
        containerUrl: live.storage.kind === 'azureBlob' ? live.storage.containerUrl : null,
      };
      this.index.set(entry.documentId, entry);
      try {
        this.sql.insertChunk({
          document_id: entry.documentId,
          recording_id: entry.recordingId,
          chunk_index: entry.index,
          end_reason: entry.endReason,
          content_key: contentKey,
          metadata_key: metadataKey,
          media_type: mediaType,
          duration_ms: entry.durationMs,
          bytes: entry.bytes,
          created_at: createdAt,
        });
      } catch (err) {
        this.log?.error({ err: (err as Error).message, recordingId: live.id, documentId: entry.documentId }, 'call recording: could not save a chunk in the index (downloadable until restart)');
      }
      live.chunks.push({ documentId: entry.documentId, index: entry.index, endReason: entry.endReason, contentKey, metadataKey, durationMs: entry.durationMs, bytes: entry.bytes });
    })();
    this.track(work);
    return work;
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    const done = () => this.pending.delete(p);
    p.then(done, done);
  }

  private info(live: Live): RecordingInfo {
    return {
      recordingId: live.id,
      serverCallId: live.serverCallId,
      state: live.state === 'active' ? 'active' : 'inactive',
      kind: 'azureCommunicationServices',
      ended: live.state === 'ended',
      startTime: iso(live.startWall),
      recordingContentType: 'audio',
      recordingChannelType: live.channelType,
      recordingFormatType: live.format,
      storage: live.storage.kind,
      stateCallbackUri: live.stateCallbackUri,
      owner: live.owner,
      sessionEndReason: live.sessionEndReason,
    };
  }

  private emitState(live: Live, state: RecordingState, reason: RecordingStateChange['reason']): void {
    const e: RecordingStateChange = {
      recordingId: live.id,
      serverCallId: live.serverCallId,
      owner: live.owner,
      stateCallbackUri: live.stateCallbackUri,
      state,
      startDateTime: iso(live.startWall),
      changedAt: iso(this.now()),
      recordingKind: 'azureCommunicationServices',
      reason,
    };
    for (const cb of [...this.stateListeners]) {
      try {
        cb(e);
      } catch (err) {
        this.log?.error({ err: (err as Error).message, recordingId: live.id }, 'call recording: a state listener failed');
      }
    }
  }
}

function subscribe<T>(list: T[], cb: T): () => void {
  list.push(cb);
  return () => {
    const i = list.indexOf(cb);
    if (i >= 0) list.splice(i, 1);
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

function notFound(recordingId: unknown): CallRecordingError {
  return new CallRecordingError('NotFound', `no recording ${JSON.stringify(recordingId)}`);
}

function documentNotFound(documentId: unknown): CallRecordingError {
  return new CallRecordingError('NotFound', `no recording document ${JSON.stringify(documentId)} (unknown or deleted)`);
}

function entryOf(row: ChunkRow): IndexEntry {
  return {
    documentId: row.document_id,
    recordingId: row.recording_id,
    serverCallId: row.server_call_id,
    owner: row.owner,
    index: row.chunk_index,
    endReason: row.end_reason as ChunkEndReason,
    storage: row.storage_kind as RecordingStorageKind,
    contentKey: row.content_key,
    metadataKey: row.metadata_key,
    mediaType: row.media_type,
    durationMs: row.duration_ms,
    bytes: row.bytes,
    createdAt: new Date(row.created_at),
    containerUrl: row.container_url,
  };
}

function publicEntry(e: IndexEntry): RecordingDocument {
  const { containerUrl: _secret, ...doc } = e;
  return doc;
}
