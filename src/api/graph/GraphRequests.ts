// Request bodies of the Graph calls API, validated at the edge. Objects are open (passthrough):
// unknown properties are kept, as Graph's open types require; known ones must have the right type.
import { z, type ZodIssue, type ZodTypeAny } from 'zod';
import { GraphError } from './GraphError.ts';

const odataType = z.string().optional();

const identity = z
  .object({ '@odata.type': odataType, id: z.string().min(1, 'must not be empty'), displayName: z.string().nullable().optional() })
  .passthrough();

export const identitySet = z
  .object({
    '@odata.type': odataType,
    user: identity.optional(),
    application: identity.optional(),
    applicationInstance: identity.optional(),
    phone: identity.optional(),
    guest: identity.optional(),
    device: identity.optional(),
    encrypted: identity.optional(),
    azureCommunicationServicesUser: identity.optional(),
    onPremises: identity.optional(),
    assertedIdentity: identity.optional(),
  })
  .passthrough();

const endpointType = z.enum(['default', 'voicemail', 'skypeForBusiness', 'skypeForBusinessVoipPhone', 'unknownFutureValue']).nullable().optional();

export const participantInfo = z
  .object({
    '@odata.type': odataType,
    identity: identitySet,
    endpointType,
    countryCode: z.string().nullable().optional(),
    region: z.string().nullable().optional(),
    languageId: z.string().nullable().optional(),
    participantId: z.string().nullable().optional(),
  })
  .passthrough();

export const invitationParticipantInfo = participantInfo
  .extend({
    hidden: z.boolean().nullable().optional(),
    replacesCallId: z.string().nullable().optional(),
    removeFromDefaultAudioRoutingGroup: z.boolean().nullable().optional(),
  })
  .passthrough();

const mediaInfo = z.object({ '@odata.type': odataType, uri: z.string().min(1), resourceId: z.string().nullable().optional() }).passthrough();

export const mediaConfig = z
  .object({
    '@odata.type': z.enum(['#microsoft.graph.serviceHostedMediaConfig', '#microsoft.graph.appHostedMediaConfig'], {
      errorMap: () => ({ message: "must be '#microsoft.graph.serviceHostedMediaConfig' or '#microsoft.graph.appHostedMediaConfig'" }),
    }),
    blob: z.string().nullable().optional(),
    preFetchMedia: z.array(mediaInfo).max(20).nullable().optional(),
    removeFromDefaultAudioGroup: z.boolean().nullable().optional(),
  })
  .passthrough();

const chatInfo = z
  .object({
    '@odata.type': odataType,
    threadId: z.string().min(1),
    messageId: z.string().nullable().optional(),
    replyChainMessageId: z.string().nullable().optional(),
  })
  .passthrough();

const meetingInfo = z
  .object({
    '@odata.type': z.enum(['#microsoft.graph.organizerMeetingInfo', '#microsoft.graph.tokenMeetingInfo', '#microsoft.graph.joinMeetingIdMeetingInfo'], {
      errorMap: () => ({ message: "must be '#microsoft.graph.organizerMeetingInfo', '#microsoft.graph.tokenMeetingInfo' or '#microsoft.graph.joinMeetingIdMeetingInfo'" }),
    }),
    organizer: identitySet.optional(),
    token: z.string().optional(),
    joinMeetingId: z.string().optional(),
    passcode: z.string().nullable().optional(),
    allowConversationWithoutHost: z.boolean().nullable().optional(),
  })
  .passthrough();

const modality = z.enum(['unknown', 'audio', 'video', 'videoBasedScreenSharing', 'data']);
const clientContext = z.string().max(256, 'must be at most 256 characters').nullable().optional();

const callOptions = z
  .object({
    '@odata.type': odataType,
    hideBotAfterEscalation: z.boolean().nullable().optional(),
    isContentSharingNotificationEnabled: z.boolean().nullable().optional(),
    isDeltaRosterEnabled: z.boolean().nullable().optional(),
    isInteractiveRosterEnabled: z.boolean().nullable().optional(),
  })
  .passthrough();

export const createCallBody = z
  .object({
    '@odata.type': z.literal('#microsoft.graph.call').optional(),
    callbackUri: z.string({ required_error: 'is required' }),
    source: participantInfo.optional(),
    targets: z.array(invitationParticipantInfo).optional(),
    requestedModalities: z.array(modality).optional(),
    mediaConfig: mediaConfig,
    chatInfo: chatInfo.optional(),
    meetingInfo: meetingInfo.optional(),
    subject: z.string().nullable().optional(),
    tenantId: z.string().nullable().optional(),
    direction: z.enum(['incoming', 'outgoing']).optional(),
    callOptions: callOptions.optional(),
    ringingTimeoutInSeconds: z.number().int().min(1).max(115).nullable().optional(),
    state: z.string().optional(),
  })
  .passthrough();

export const answerBody = z
  .object({
    callbackUri: z.string().nullable().optional(),
    acceptedModalities: z.array(modality).optional(),
    mediaConfig: mediaConfig,
    callOptions: callOptions.optional(),
    participantCapacity: z.number().int().min(1).nullable().optional(),
  })
  .passthrough();

const caseInsensitive = <T extends string>(values: readonly [T, ...T[]]) =>
  z.preprocess((v) => (typeof v === 'string' ? values.find((x) => x.toLowerCase() === v.toLowerCase()) ?? v : v), z.enum(values));

export const rejectBody = z
  .object({ reason: caseInsensitive(['none', 'busy', 'forbidden'] as const).optional(), callbackUri: z.string().nullable().optional() })
  .passthrough();

export const redirectBody = z
  .object({
    targets: z.array(invitationParticipantInfo).min(1, 'must name at least one target'),
    timeout: z.number().int().min(15, 'must be between 15 and 90 seconds').max(90, 'must be between 15 and 90 seconds').nullable().optional(),
    callbackUri: z.string().nullable().optional(),
    maskCallee: z.boolean().nullable().optional(),
    maskCaller: z.boolean().nullable().optional(),
  })
  .passthrough();

export const transferBody = z
  .object({ transferTarget: invitationParticipantInfo, transferee: participantInfo.nullable().optional(), clientContext })
  .passthrough();

export const clientContextBody = z.object({ clientContext }).passthrough();

export const inviteBody = z
  .object({ participants: z.array(invitationParticipantInfo).min(1, 'must name at least one participant'), clientContext })
  .passthrough();

export const recordingStatusBody = z
  .object({ status: z.enum(['notRecording', 'recording', 'failed', 'unknownFutureValue']), clientContext })
  .passthrough();

export const screenSharingBody = z.object({ role: z.enum(['viewer', 'sharer']) }).passthrough();

function fieldPath(path: (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(body)';
}

function describe(issue: ZodIssue): string {
  if (issue.code === 'invalid_type') {
    if (issue.received === 'undefined') return 'is required';
    return `expected ${issue.expected}, received ${issue.received}`;
  }
  if (issue.code === 'invalid_enum_value') return `'${String(issue.received)}' is not one of ${issue.options.map((o) => `'${String(o)}'`).join(', ')}`;
  if (issue.code === 'invalid_literal') return `must be '${String(issue.expected)}'`;
  if (issue.code === 'too_big' && issue.type === 'array') return `must have at most ${issue.maximum} items`;
  if (issue.code === 'too_small' && issue.type === 'array') return issue.message.startsWith('Array') ? `must have at least ${issue.minimum} item(s)` : issue.message;
  return issue.message;
}

/** Parses a body against a schema; the first problem becomes a 400 that names the field and the reason. */
export function parseBody<S extends ZodTypeAny>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined || body === null) body = {};
  if (typeof body !== 'object' || Array.isArray(body) || Buffer.isBuffer(body)) {
    throw GraphError.badRequest('The request body must be a JSON object (Content-Type: application/json).');
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw GraphError.invalidField(fieldPath(issue.path), describe(issue));
}

// ---- service-hosted media actions

const mediaPrompt = z
  .object({
    '@odata.type': odataType,
    mediaInfo: mediaInfo,
    loop: z.number().int().min(0).max(100).nullable().optional(),
  })
  .passthrough();

export const playPromptBody = z
  .object({ prompts: z.array(mediaPrompt).min(1, 'must hold at least one mediaPrompt').max(20), clientContext })
  .passthrough();

const seconds = (field: string) =>
  z.number({ invalid_type_error: 'must be an integer number of seconds' }).int('must be an integer number of seconds')
    .min(1, `${field} must be between 1 and 120 seconds`).max(120, `${field} must be between 1 and 120 seconds`).nullable().optional();

export const recordResponseBody = z
  .object({
    prompts: z.array(mediaPrompt).max(1, 'at most one prompt plays before recording').nullable().optional(),
    bargeInAllowed: z.boolean().nullable().optional(),
    initialSilenceTimeoutInSeconds: seconds('initialSilenceTimeoutInSeconds'),
    maxSilenceTimeoutInSeconds: seconds('maxSilenceTimeoutInSeconds'),
    maxRecordDurationInSeconds: seconds('maxRecordDurationInSeconds'),
    playBeep: z.boolean().nullable().optional(),
    stopTones: z.array(z.string()).max(16).nullable().optional(),
    streamWhileRecording: z.boolean().nullable().optional(),
    clientContext,
  })
  .passthrough();

export const sendDtmfTonesBody = z
  .object({
    tones: z.array(z.string()).min(1, 'must hold at least one tone').max(64, 'at most 64 tones per request'),
    delayBetweenTonesMs: z.number().int().min(0).max(10_000).nullable().optional(),
    clientContext,
  })
  .passthrough();
