// The configuration file's schema: every key, its type and its default, in one place.
// docs/configuration.md documents the same shape with a complete example.
import { z } from 'zod';
import { promptsConfigSchema } from '../media/prompts/PromptStore.ts';

/** MP3 kbps per channel whose mono and stereo rates are both MPEG-2 Layer III bitrates at 16 kHz. */
export const MP3_KBPS_PER_CHANNEL: readonly number[] = [8, 16, 24, 32, 40, 48, 56, 64, 80];

export const CALLING_PERMISSIONS = [
  'Calls.Initiate.All',
  'Calls.InitiateGroupCall.All',
  'Calls.JoinGroupCall.All',
  'Calls.JoinGroupCallAsGuest.All',
  'Calls.AccessMedia.All',
] as const;
export type CallingPermission = (typeof CALLING_PERMISSIONS)[number];

/** One step of a virtual user's script. */
export const scriptStep = z.union([
  z.object({ say: z.string().min(1).describe('a WAV file: a path, or an http(s) URL fetched like a prompt') }).strict(),
  z.object({ dtmf: z.string().regex(/^[0-9*#A-Da-d]+$/, 'DTMF keys 0-9, *, #, A-D'), toneMs: z.number().int().min(20).max(2000).default(100), gapMs: z.number().int().min(20).max(5000).default(100) }).strict(),
  z.object({ tone: z.object({ frequencyHz: z.number().min(50).max(7900), durationMs: z.number().int().min(1).max(600_000), dbfs: z.number().max(0).default(-12) }).strict() }).strict(),
  z.object({ noise: z.object({ durationMs: z.number().int().min(1).max(600_000), dbfs: z.number().max(0).default(-40) }).strict() }).strict(),
  z.object({ silenceMs: z.number().int().min(20).max(600_000) }).strict(),
  z.object({ hangUp: z.literal(true) }).strict(),
]);
export type ScriptStep = z.infer<typeof scriptStep>;

const virtualBehaviour = z
  .object({
    /** auto: answers after answerAfterMs; manual: rings until the simulator answers; reject; never; unreachable. */
    answer: z.enum(['auto', 'manual', 'reject', 'never', 'unreachable']).default('auto'),
    answerAfterMs: z.number().int().min(0).max(600_000).default(1000),
    rejectReason: z.enum(['busy', 'declined']).default('busy'),
    /** What the user does once connected, step by step (its voice): speak, press keys, hang up. */
    script: z.array(scriptStep).default([]),
  })
  .strict();

export const endpointSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('virtual'), behaviour: virtualBehaviour.default({}) }).strict(),
]);

export const applicationSchema = z
  .object({
    appId: z.string().min(1),
    displayName: z.string().min(1),
    secrets: z.array(z.string().min(8)).default([]),
    permissions: z.array(z.enum(CALLING_PERMISSIONS)).default([]),
    callingWebhook: z.string().url().nullable().default(null),
  })
  .strict();

export const applicationInstanceSchema = z
  .object({
    id: z.string().min(1),
    appId: z.string().min(1),
    displayName: z.string().min(1),
    phoneNumber: z.string().regex(/^\+[1-9][0-9]{3,15}$/, 'an E.164 number such as +14255550100').nullable().default(null),
  })
  .strict();

export const userSchema = z
  .object({
    id: z.string().min(1),
    displayName: z.string().min(1),
    phoneNumber: z.string().regex(/^\+[1-9][0-9]{3,15}$/, 'an E.164 number such as +14255550100').nullable().default(null),
    endpoint: endpointSchema.default({ kind: 'virtual', behaviour: {} }),
  })
  .strict();

export const meetingSchema = z
  .object({
    id: z.string().min(1),
    subject: z.string().nullable().default(null),
    organizerId: z.string().min(1),
    threadId: z.string().min(1),
    messageId: z.string().default('0'),
    joinMeetingId: z.string().regex(/^[0-9]{6,20}$/).nullable().default(null),
    passcode: z.string().nullable().default(null),
    joinToken: z.string().nullable().default(null),
    /** Who goes straight in; the others wait in the lobby until admitted. Guests are never "organization". */
    lobbyBypass: z.enum(['everyone', 'organization', 'organizer', 'invited']).default('organization'),
    /** Users on the meeting's invitation: with lobbyBypass 'invited' they (and the organizer) go straight in. */
    attendees: z.array(z.string().min(1)).default([]),
  })
  .strict();

const E164_RULE = 'an E.164 number such as +14255550100';

export const eventGridSubscriptionSchema = z
  .object({
    /** Unique per resource; sent as aeg-subscription-name (upper-case, as Event Grid does). */
    name: z.string().regex(/^[A-Za-z0-9-]{3,64}$/, '3-64 letters, digits and -'),
    /** The webhook: it must answer the validation handshake before events are delivered. */
    endpointUrl: z.string().url(),
    /** Event types to deliver (e.g. Microsoft.Communication.IncomingCall); empty or absent: all. */
    includedEventTypes: z.array(z.string().min(1)).default([]),
    subjectBeginsWith: z.string().nullable().default(null),
    subjectEndsWith: z.string().nullable().default(null),
  })
  .strict();

export const acsResourceSchema = z
  .object({
    /** The <resourceId> of its users' ids (8:acs:<resourceId>_<userId>) and the audience of its event tokens. */
    id: z.string().regex(/^[A-Za-z0-9.-]+$/, "letters, digits, '.' and '-'"),
    displayName: z.string().min(1).default('Communication Services'),
    /** Access keys (base64, e.g. 64 random bytes); any of them signs requests. */
    keys: z.array(z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64').min(4)).default([]),
    /** Numbers owned by the resource: calls to them are incoming calls (Event Grid IncomingCall). */
    phoneNumbers: z.array(z.string().regex(/^\+[1-9][0-9]{3,15}$/, E164_RULE)).default([]),
    eventGridSubscriptions: z.array(eventGridSubscriptionSchema).default([]),
  })
  .strict();

export const tenantSchema = z
  .object({
    id: z.string().min(1),
    displayName: z.string().default('Tenant'),
    applications: z.array(applicationSchema).default([]),
    applicationInstances: z.array(applicationInstanceSchema).default([]),
    users: z.array(userSchema).default([]),
    meetings: z.array(meetingSchema).default([]),
    /** Azure Communication Services resources (Call Automation API), each an application of the tenant. */
    acsResources: z.array(acsResourceSchema).default([]),
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** The origin that clients and bots use to reach Telegraph; defaults to http://host:port. */
        publicUrl: z.string().url().nullable().default(null),
        bodyLimitBytes: z.number().int().min(1024).default(1024 * 1024),
        /**
         * A second listener, HTTPS, serving the same routes. Without certFile/keyFile, a local CA and a
         * server certificate signed by it are made in <dataDir>/tls and reused. When enabled (and publicUrl
         * is unset), the public URL is the HTTPS one.
         */
        https: z
          .object({
            enabled: z.boolean().default(false),
            port: z.number().int().min(0).max(65535).default(8443),
            /** PEM certificate (chain) and its key; both or neither. */
            certFile: z.string().min(1).nullable().default(null),
            keyFile: z.string().min(1).nullable().default(null),
          })
          .strict()
          .refine((h) => (h.certFile === null) === (h.keyFile === null), { message: 'certFile and keyFile go together' })
          .default({}),
      })
      .strict()
      .default({}),
    dataDir: z.string().default('./.telegraph'),
    /** Protects /admin and /simulator. Generated and printed on first start when unset. */
    adminKey: z.string().min(16).nullable().default(null),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().default({}),
    identity: z
      .object({
        tokenLifetimeSeconds: z.number().int().min(60).max(86_400).default(3600),
        notificationTokenLifetimeSeconds: z.number().int().min(60).max(86_400).default(3600),
      })
      .strict()
      .default({}),
    calls: z
      .object({
        /** An incoming call not answered, rejected or redirected within this time ends (the caller hears 408). */
        answerTimeoutMs: z.number().int().min(100).default(15_000),
        /** A call with no keepAlive for this long ends with 408/8537. */
        keepAliveTimeoutMs: z.number().int().min(1000).default(45 * 60_000),
        /** How long an outgoing call rings before it ends as not answered. */
        ringTimeoutMs: z.number().int().min(100).default(60_000),
        /** Accept http:// callbackUris on hosts other than loopback (development only). */
        allowInsecureCallbacks: z.boolean().default(false),
        /** Casing of operation status values: the documentation's lowercase, or the metadata's PascalCase. */
        operationStatusCasing: z.enum(['lowercase', 'pascalCase']).default('lowercase'),
        /** Most targets a group call may be created with. */
        maxGroupTargets: z.number().int().min(1).max(50).default(5),
      })
      .strict()
      .default({}),
    notifications: z
      .object({
        timeoutMs: z.number().int().min(100).default(5000),
        maxAttempts: z.number().int().min(1).max(100).default(8),
        backoffBaseMs: z.number().int().min(1).default(500),
        backoffMaxMs: z.number().int().min(1).default(60_000),
        /** Deliveries in flight at once across all calls (each call has at most one). */
        concurrency: z.number().int().min(1).max(10_000).default(256),
        /** Delivered rows older than this are pruned from the outbox. */
        retentionMs: z.number().int().min(0).default(24 * 3600_000),
        shutdownFlushMs: z.number().int().min(0).default(10_000),
      })
      .strict()
      .default({}),
    media: z
      .object({
        /** Fetching prompts (playPrompt, recordResponse, preFetchMedia): timeouts, size cap, cache, SSRF allow/deny lists. */
        prompts: promptsConfigSchema.default({}),
        /** recordResponse recordings are deleted this long after their call ends. */
        recordingRetentionMs: z.number().int().min(0).default(5 * 60_000),
        /** Lifetime of a recordingAccessToken. */
        recordingTokenSeconds: z.number().int().min(10).max(86_400).default(15 * 60),
        /** How much of what it hears each virtual user keeps (downloadable through the simulator). */
        virtualEarSeconds: z.number().int().min(0).max(3600).default(120),
        /** What all virtual users keep of what they heard, together, MB (the oldest calls' audio goes first). */
        virtualEarMemoryMB: z.number().int().min(0).max(65_536).default(256),
      })
      .strict()
      .default({}),
    /** ACS call recording (/calling/recordings): chunk limits, MP3 bitrate, where Telegraph keeps the files. */
    recording: z
      .object({
        /** A chunk ends after this much audio (ACS: about 15 minutes). */
        maxChunkSeconds: z.number().min(1).max(4 * 3600).default(15 * 60),
        /** A chunk's file never exceeds this; chunks are held in memory until uploaded, so it bounds a recording's memory. */
        maxChunkBytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(16 * 1024 * 1024),
        /** MP3 bitrate per channel (mixed: mono, unmixed: stereo); the product must be an MPEG-2 Layer III rate. */
        mp3BitrateKbps: z
          .number()
          .int()
          .refine((v) => MP3_KBPS_PER_CHANNEL.includes(v), { message: `must be one of ${MP3_KBPS_PER_CHANNEL.join(', ')} (kbps per channel; stereo doubles it)` })
          .default(48),
        /** How a participant's first speech is recognised (unmixed channels go by first speech): vad or the first non-silent audio. */
        speechDetection: z.enum(['vad', 'audio']).default('vad'),
        /** Where recordings stored by Telegraph live. Default <dataDir>/blobs (a temporary directory for an in-memory Telegraph). */
        blobDir: z.string().min(1).nullable().default(null),
        /** Chunks stored by Telegraph are deleted this many hours after they were written, as ACS's built-in storage does after 24; 0 keeps them. Never the caller's own container. */
        retentionHours: z.number().min(0).max(100 * 365 * 24).default(24),
      })
      .strict()
      .default({}),
    tenants: z.array(tenantSchema).nullable().default(null),
  })
  .strict();

export type TelegraphConfig = z.infer<typeof configSchema>;
export type TenantConfig = z.infer<typeof tenantSchema>;
export type ApplicationConfig = z.infer<typeof applicationSchema>;
export type ApplicationInstanceConfig = z.infer<typeof applicationInstanceSchema>;
export type UserConfig = z.infer<typeof userSchema>;
export type MeetingConfig = z.infer<typeof meetingSchema>;
export type EndpointConfig = z.infer<typeof endpointSchema>;
export type AcsResourceConfig = z.infer<typeof acsResourceSchema>;
export type EventGridSubscriptionConfig = z.infer<typeof eventGridSubscriptionSchema>;
export type VirtualBehaviour = z.infer<typeof virtualBehaviour>;
