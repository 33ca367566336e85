// The composition root: builds every part from the configuration and wires them together.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { TelegraphConfig } from './config/ConfigSchema.ts';
import { CALLING_PERMISSIONS } from './config/ConfigSchema.ts';
import { StateStore } from './storage/StateStore.ts';
import { Directory, newSecret } from './directory/Directory.ts';
import { KeyStore } from './identity/KeyStore.ts';
import { TokenService } from './identity/TokenService.ts';
import { HttpDelivery } from './notify/HttpDelivery.ts';
import { Outbox } from './notify/Outbox.ts';
import { CallService } from './calls/CallService.ts';
import { Results } from './calls/ResultCodes.ts';
import { GraphNotifier } from './api/graph/GraphNotifier.ts';
import { CallJournal } from './calls/CallJournal.ts';
import { buildHttp } from './api/http.ts';
import { registerGraphRoutes } from './api/graph/graphRoutes.ts';
import { registerIdentityRoutes } from './api/identity/identityRoutes.ts';
import { registerAdminRoutes } from './api/admin/adminRoutes.ts';
import { registerSimulatorRoutes } from './api/simulator/simulatorRoutes.ts';
import { VirtualEndpoints } from './endpoints/virtual/VirtualEndpoints.ts';
import { MediaEngine } from './media/MediaEngine.ts';
import { PromptStore } from './media/prompts/PromptStore.ts';
import { ResponseRecordings } from './media/ResponseRecordings.ts';
import { SpeechDetector } from './media/vad/SpeechDetector.ts';
import { CallMedia } from './calls/CallMedia.ts';
import { registerRecordingRoutes } from './api/graph/recordingRoutes.ts';
import { AcsNotifier } from './api/acs/AcsNotifier.ts';
import { registerAcsRoutes } from './api/acs/acsRoutes.ts';
import { IncomingCallContexts } from './api/acs/IncomingCallContext.ts';
import { RepeatabilityCache } from './api/acs/Repeatability.ts';
import { EventGridPublisher } from './notify/EventGridPublisher.ts';
import { ACS_APP_PREFIX } from './directory/Directory.ts';
import { newAccessKey } from './identity/AcsHmac.ts';
import { AcsRecording } from './api/acs/AcsRecording.ts';
import { CallRecordings } from './recording/CallRecordings.ts';
import { preloadMp3Encoder } from './recording/ChunkWriter.ts';
import { FileBlobStore } from './storage/blob/FileBlobStore.ts';
import { ensureLocalTls } from './tls/LocalCa.ts';

export interface DevelopmentTenant {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  applicationInstanceId: string;
  phoneNumber: string;
  userIds: string[];
  meetingId: string;
  /** The development ACS resource (absent in data directories made before ACS support). */
  acs?: { resourceId: string; accessKey: string; phoneNumber: string };
}

/** The HTTPS listener's material: configured files, or the local CA's (caPath set). */
export interface TelegraphTls {
  cert: string;
  key: string;
  /** The local CA clients trust (NODE_EXTRA_CA_CERTS); null with a configured certificate. */
  caPath: string | null;
  caFingerprint: string | null;
}

export interface TelegraphOptions {
  logger?: Logger;
  /** Keep state in memory only (tests); the data directory is then used for nothing. */
  inMemory?: boolean;
}

export class Telegraph {
  readonly http: FastifyInstance;
  readonly store: StateStore;
  readonly directory: Directory;
  readonly calls: CallService;
  readonly outbox: Outbox;
  readonly virtual: VirtualEndpoints;
  readonly adminKey: string;
  readonly developmentTenant: DevelopmentTenant | null;
  private url: string | null = null;
  private secureUrl: string | null = null;
  private httpsServer: HttpsServer | null = null;
  /** The HTTPS listener's certificate (null when server.https is disabled). */
  readonly tls: TelegraphTls | null;
  private readonly tempTlsDir: string | null;
  private stopping: Promise<void> | null = null;

  private constructor(
    readonly config: TelegraphConfig,
    readonly log: Logger,
    parts: {
      store: StateStore; directory: Directory; calls: CallService; outbox: Outbox; virtual: VirtualEndpoints;
      http: FastifyInstance; adminKey: string; dev: DevelopmentTenant | null; delivery: HttpDelivery;
      engine: MediaEngine; recordings: ResponseRecordings; eventGrid: EventGridPublisher; media: CallMedia;
      callRecordings: CallRecordings; acsRecording: AcsRecording; recordingBlobDir: string; tempBlobDir: string | null;
      tls: TelegraphTls | null; tempTlsDir: string | null;
    },
  ) {
    this.store = parts.store;
    this.directory = parts.directory;
    this.calls = parts.calls;
    this.outbox = parts.outbox;
    this.virtual = parts.virtual;
    this.http = parts.http;
    this.adminKey = parts.adminKey;
    this.developmentTenant = parts.dev;
    this.delivery = parts.delivery;
    this.engine = parts.engine;
    this.media = parts.media;
    this.recordings = parts.recordings;
    this.eventGrid = parts.eventGrid;
    this.callRecordings = parts.callRecordings;
    this.acsRecording = parts.acsRecording;
    this.recordingBlobDir = parts.recordingBlobDir;
    this.tempBlobDir = parts.tempBlobDir;
    this.tls = parts.tls;
    this.tempTlsDir = parts.tempTlsDir;
  }

  /** ACS call recording (the service behind /calling/recordings and its content URLs). */
  readonly callRecordings: CallRecordings;
  private readonly acsRecording: AcsRecording;
  /** Where the recordings Telegraph stores itself live (recording.blobDir, <dataDir>/blobs, or a temporary directory). */
  readonly recordingBlobDir: string;
  /** The blob directory of an in-memory Telegraph (removed at stop). */
  private readonly tempBlobDir: string | null;

  /** Event Grid subscriptions of ACS resources (IncomingCall; call recording publishes through it too). */
  readonly eventGrid: EventGridPublisher;

  readonly engine: MediaEngine;
  /** Calls' media (legs, sessions); call recording observes it. */
  readonly media: CallMedia;
  private readonly recordings: ResponseRecordings;

  private readonly delivery: HttpDelivery;

  static async create(config: TelegraphConfig, options: TelegraphOptions = {}): Promise<Telegraph> {
    const log = options.logger ?? pino({ level: config.log.level, base: { service: 'telegraph' } });
    const dataDir = options.inMemory ? null : resolve(config.dataDir);
    const store = new StateStore(dataDir);
    const directory = new Directory(store);

    let adminKey = config.adminKey ?? store.getSetting('adminKey');
    if (!adminKey) {
      adminKey = randomBytes(24).toString('base64url');
      store.setSetting('adminKey', adminKey);
    }

    let dev: DevelopmentTenant | null = null;
    if (config.tenants) {
      for (const t of config.tenants) directory.applyTenantConfig(t);
    } else {
      const saved = store.getSetting('developmentTenant');
      dev = saved ? (JSON.parse(saved) as DevelopmentTenant) : directory.listTenants().length === 0 ? createDevelopmentTenant(directory) : null;
      if (dev && !saved) {
        store.setSetting('developmentTenant', JSON.stringify(dev));
        if (dataDir) {
          mkdirSync(dataDir, { recursive: true });
          writeFileSync(join(dataDir, 'development-tenant.json'), JSON.stringify(dev, null, 2), { mode: 0o600 });
        }
      }
    }

    // HTTPS: the configured certificate, else the local CA's (in <dataDir>/tls, or a temporary directory in memory).
    let tls: TelegraphTls | null = null;
    let tempTlsDir: string | null = null;
    const httpsConfig = config.server.https;
    if (httpsConfig.enabled && httpsConfig.certFile && httpsConfig.keyFile) {
      tls = { cert: readFileSync(resolve(httpsConfig.certFile), 'utf8'), key: readFileSync(resolve(httpsConfig.keyFile), 'utf8'), caPath: null, caFingerprint: null };
    } else if (httpsConfig.enabled) {
      if (!dataDir) tempTlsDir = mkdtempSync(join(tmpdir(), 'telegraph-tls-'));
      const hosts = [config.server.host];
      if (config.server.publicUrl) hosts.push(new URL(config.server.publicUrl).hostname);
      const local = ensureLocalTls(dataDir ? join(dataDir, 'tls') : tempTlsDir!, hosts);
      if (local.generated.ca) log.info({ ca: local.caPath }, 'made a local CA for the HTTPS listener');
      tls = { cert: local.cert, key: local.key, caPath: local.caPath, caFingerprint: local.caFingerprint };
    }

    const keys = await KeyStore.open(dataDir);
    let instance: Telegraph | null = null;
    const publicUrl = () => instance?.publicUrl ?? defaultPublicUrl(config, null, null);
    const tokens = new TokenService(keys, publicUrl, config.identity.tokenLifetimeSeconds, config.identity.notificationTokenLifetimeSeconds);
    const delivery = new HttpDelivery(config.notifications.timeoutMs);
    // Notifications are signed for their application; an ACS resource's (appId acs:<id>) for the resource id, as ACS does.
    const outbox = new Outbox(store, config.notifications, delivery, (tid, appId) => tokens.notificationToken(tid, appId.startsWith(ACS_APP_PREFIX) ? appId.slice(ACS_APP_PREFIX.length) : appId), log.child({ component: 'outbox' }));
    const calls = new CallService(directory, config.calls, log.child({ component: 'calls' }));
    const graphNotifier = new GraphNotifier(outbox, publicUrl, config.calls.operationStatusCasing);
    calls.observe(graphNotifier);
    const eventGrid = new EventGridPublisher(directory, outbox, publicUrl, {
      timeoutMs: config.notifications.timeoutMs,
      validationAttempts: 3,
      validationRetryMs: Math.min(config.notifications.backoffBaseMs, 2000),
    }, log.child({ component: 'eventgrid' }));
    const incomingCallContexts = new IncomingCallContexts();
    const acsNotifier = new AcsNotifier(outbox, directory, eventGrid, incomingCallContexts);
    calls.observe(acsNotifier);
    calls.registerAppApi('acs', { incomingRequest: (app) => acsNotifier.incomingRequest(app) });
    // Calls do not outlive their process (their media cannot); applications are told at once.
    const journal = new CallJournal(store);
    const orphans = journal.takeOrphans();
    for (const entry of orphans) {
      if (entry.api === 'acs') acsNotifier.legLost(entry, Results.restarted());
      else graphNotifier.legLost(entry, Results.restarted());
    }
    if (orphans.length) log.warn({ calls: orphans.length }, 'calls left active by the previous run were ended');
    calls.observe(journal);
    const engine = new MediaEngine(log.child({ component: 'media' }));
    const prompts = new PromptStore(config.media.prompts, { logger: log.child({ component: 'prompts' }) });
    const recordings = new ResponseRecordings(dataDir, publicUrl, config.media.recordingTokenSeconds, config.media.recordingRetentionMs);
    const media = new CallMedia(engine, calls, prompts, recordings, () => new SpeechDetector(), log.child({ component: 'media' }));
    calls.useMedia(media);
    const virtual = new VirtualEndpoints(directory, calls, { media, prompts, earSeconds: config.media.virtualEarSeconds, earBytes: config.media.virtualEarMemoryMB * 1_048_576 });
    calls.registerDriver('virtual', virtual);

    // ACS call recording: chunks in Telegraph's blob store (or the application's Azure container).
    const tempBlobDir = (config.recording.blobDir || dataDir) ? null : mkdtempSync(join(tmpdir(), 'telegraph-blobs-'));
    const blobDir = config.recording.blobDir ? resolve(config.recording.blobDir) : dataDir ? join(dataDir, 'blobs') : tempBlobDir!;
    const callRecordings = new CallRecordings({
      media, store, blobs: new FileBlobStore(blobDir), log: log.child({ component: 'recording' }),
      retentionMs: config.recording.retentionHours * 3600_000,
    });
    const acsRecording = new AcsRecording({
      recordings: callRecordings, calls, directory, notifier: acsNotifier, eventGrid, publicUrl,
      allowInsecureCallbacks: config.calls.allowInsecureCallbacks,
      tuning: {
        maxChunkSeconds: config.recording.maxChunkSeconds,
        maxChunkBytes: config.recording.maxChunkBytes,
        mp3BitrateKbpsPerChannel: config.recording.mp3BitrateKbps,
        speechDetection: config.recording.speechDetection,
      },
      log: log.child({ component: 'acs-recording' }),
    });

    const http = buildHttp(log, config.server.bodyLimitBytes);
    http.get('/', async () => ({ service: 'telegraph', graph: `${publicUrl()}/v1.0/communications/calls`, docs: 'README.md and docs/ in the Telegraph repository' }));
    http.get('/healthz', async () => {
      const m = engine.stats();
      return { status: 'ok', activeCalls: calls.activeCalls().length, pendingNotifications: outbox.pending, media: { sessions: m.sessions, legs: m.legs, lateTicks: m.lateTicks, skippedFrames: m.skippedFrames, sessionErrors: m.sessionErrors } };
    });
    registerIdentityRoutes(http, { directory, tokens, keys, publicUrl });
    registerGraphRoutes(http, {
      calls, media, directory, tokens, publicUrl,
      allowInsecureCallbacks: config.calls.allowInsecureCallbacks,
      casing: config.calls.operationStatusCasing,
      maxGroupTargets: config.calls.maxGroupTargets,
    });
    registerAcsRoutes(http, {
      calls, media, directory, notifier: acsNotifier, contexts: incomingCallContexts, eventGrid,
      repeatability: new RepeatabilityCache(),
      allowInsecureCallbacks: config.calls.allowInsecureCallbacks,
      maxGroupTargets: config.calls.maxGroupTargets,
      ringTimeoutMs: config.calls.ringTimeoutMs,
      extraRoutes: acsRecording.routes,
    });
    acsRecording.registerContentRoutes(http);
    registerAdminRoutes(http, { directory, calls, outbox, adminKey, mediaStats: () => engine.stats(), acs: { eventGrid, publicUrl } });
    registerSimulatorRoutes(http, { directory, virtual, adminKey });
    registerRecordingRoutes(http, recordings);

    instance = new Telegraph(config, log, { store, directory, calls, outbox, virtual, http, adminKey, dev, delivery, engine, recordings, eventGrid, media, callRecordings, acsRecording, recordingBlobDir: blobDir, tempBlobDir, tls, tempTlsDir });
    return instance;
  }

  /**
   * The origin clients use (tokens' issuer, callback and content URLs, the ACS endpoint): the configured
   * public URL, else the HTTPS address listened on when HTTPS is enabled, else the HTTP one.
   */
  get publicUrl(): string {
    return defaultPublicUrl(this.config, this.url, this.secureUrl);
  }

  /** The HTTP listener's origin (null before listen). */
  get httpUrl(): string | null {
    return this.url;
  }

  /** The HTTPS listener's origin (null before listen, or when server.https is disabled). */
  get httpsUrl(): string | null {
    return this.secureUrl;
  }

  /** Listens on HTTP (and HTTPS when enabled: the same Fastify routes, through its router); returns the HTTP origin. */
  async listen(): Promise<string> {
    await this.http.listen({ host: this.config.server.host, port: this.config.server.port });
    const addr = this.http.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.config.server.port;
    this.url = `http://${displayHost(this.config.server.host)}:${port}`;
    if (this.tls) {
      const server = createHttpsServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => this.http.routing(req, res));
      server.keepAliveTimeout = this.http.server.keepAliveTimeout;
      server.requestTimeout = this.http.server.requestTimeout;
      await new Promise<void>((resolveListen, reject) => {
        server.once('error', reject);
        server.listen({ host: this.config.server.host, port: this.config.server.https.port }, () => {
          server.off('error', reject);
          resolveListen();
        });
      }).catch(async (err) => {
        await this.http.close();
        throw err;
      });
      this.httpsServer = server;
      this.secureUrl = `https://${displayHost(this.config.server.host)}:${(server.address() as { port: number }).port}`;
    }
    this.outbox.start();
    this.eventGrid.start();
    // The MP3 encoder (WebAssembly) is compiled once per process, off the first recording's path.
    preloadMp3Encoder().catch((err) => this.log.warn({ err: (err as Error).message }, 'the MP3 encoder could not be loaded: MP3 recordings will fail'));
    return this.url;
  }

  /** Graceful stop: no new work, every active call ended with its notifications, the outbox flushed. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.calls.stopAccepting();
      this.calls.endAll(Results.shutdown());
      // Recordings end with their calls; their last chunks are stored (and their events queued) before the outbox flushes.
      await this.callRecordings.close();
      this.acsRecording.close();
      const flushed = await this.outbox.flush(this.config.notifications.shutdownFlushMs);
      if (!flushed) this.log.warn({ pending: this.outbox.pending }, 'shutdown: notifications still pending; they will be delivered at the next start');
      this.eventGrid.stop();
      this.outbox.stop();
      this.engine.stop();
      await this.recordings.close();
      const secure = this.httpsServer;
      const secureClosed = secure ? new Promise<void>((r) => secure.close(() => r())) : Promise.resolve();
      secure?.closeIdleConnections();
      await this.http.close();
      secure?.closeAllConnections();
      await secureClosed;
      if (this.tempTlsDir) rmSync(this.tempTlsDir, { recursive: true, force: true });
      await this.delivery.close();
      this.store.close();
      if (this.tempBlobDir) rmSync(this.tempBlobDir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}

function displayHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function defaultPublicUrl(config: TelegraphConfig, httpUrl: string | null, httpsUrl: string | null): string {
  const configured = config.server.publicUrl?.replace(/\/$/, '');
  if (configured) return configured;
  if (config.server.https.enabled) return httpsUrl ?? `https://${displayHost(config.server.host)}:${config.server.https.port}`;
  return httpUrl ?? `http://${displayHost(config.server.host)}:${config.server.port}`;
}

function createDevelopmentTenant(directory: Directory): DevelopmentTenant {
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const clientSecret = newSecret();
  const instanceId = randomUUID();
  const phoneNumber = '+14255550100';
  const users = [
    { id: randomUUID(), displayName: 'Adele Vance', phoneNumber: '+14255550101', answer: 'auto' as const },
    { id: randomUUID(), displayName: 'Alex Wilber', phoneNumber: '+14255550102', answer: 'manual' as const },
  ];
  const meetingId = randomUUID();
  const acs = { resourceId: randomUUID(), accessKey: newAccessKey(), phoneNumber: '+14255550110' };
  directory.applyTenantConfig({
    id: tenantId,
    displayName: 'Telegraph development tenant',
    applications: [
      {
        appId: clientId,
        displayName: 'Development Bot',
        secrets: [clientSecret],
        permissions: [...CALLING_PERMISSIONS],
        callingWebhook: 'http://127.0.0.1:3978/api/calls',
      },
    ],
    applicationInstances: [{ id: instanceId, appId: clientId, displayName: 'Development Bot line', phoneNumber }],
    users: users.map((u) => ({
      id: u.id,
      displayName: u.displayName,
      phoneNumber: u.phoneNumber,
      endpoint: { kind: 'virtual' as const, behaviour: { answer: u.answer, answerAfterMs: 1000, rejectReason: 'busy' as const, script: [] } },
    })),
    meetings: [
      {
        id: meetingId,
        subject: 'Development stand-up',
        organizerId: users[0]!.id,
        threadId: '19:meeting_telegraph-dev@thread.v2',
        messageId: '0',
        joinMeetingId: '1234567890',
        passcode: 'telegraph',
        joinToken: randomBytes(16).toString('base64url'),
        lobbyBypass: 'organization',
        attendees: [],
      },
    ],
    acsResources: [
      { id: acs.resourceId, displayName: 'Development Communication Services', keys: [acs.accessKey], phoneNumbers: [acs.phoneNumber], eventGridSubscriptions: [] },
    ],
  });
  return { tenantId, clientId, clientSecret, applicationInstanceId: instanceId, phoneNumber, userIds: users.map((u) => u.id), meetingId, acs };
}
