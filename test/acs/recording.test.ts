// ACS call recording end to end with the official SDK (@azure/communication-call-automation 1.6.0)
// against a real Telegraph, following seed 003 (the call recording quickstart) in TypeScript:
// create a call to a virtual user, wait for CallConnected, the user speaks (simulator tones), the
// application speaks (play()), start recording by serverCallLocator (or callConnectionId), pause,
// resume, stop; receive Microsoft.Communication.RecordingFileStatusUpdated through an Event Grid
// subscription (validation handshake included); download the content and the metadata with
// downloadToPath / downloadStreaming through Telegraph's SDK helper (telegraph/sdk); delete.
// The files are analysed: WAV channels (each party on its own channel only, the others silent),
// paused time absent, metadata durations = file durations; MP3 frames and gapless lengths.
// Also: pauseOnStart (+ resume, and never resumed: no file), channelAffinity, externalStorage in a
// real Azurite container, RecordingStateChanged events, and the errors (409, 400s naming the field,
// 404s, 401 on content URLs), and an in-memory Telegraph stopped while recording (the file and its
// event are completed during shutdown). Chunks are 1 s here (recording.maxChunkSeconds), so
// recordings span several chunks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { BlobServiceClient, ContainerSASPermissions, SASProtocol, StorageSharedKeyCredential, generateBlobSASQueryParameters } from '@azure/storage-blob';
import { parseCallAutomationEvent, type CallAutomationClient, type CallConnection, type StartRecordingOptions } from '@azure/communication-call-automation';
import { telegraphRecordingPolicy, toSdkRecordingUrl } from 'telegraph/sdk';
import { Harness, createTenant, type Json, type TestTenant } from '../helpers/harness.ts';
import { AcsEventSink, acsClient, acsUser, createAcsResource, simCallIn, waitSimState, type AcsRecorded, type TestAcsResource } from '../helpers/acs.ts';
import { DEV_ACCOUNT, DEV_KEY, startAzurite, type Azurite } from '../storage/azurite.ts';
import { readWavFormat, writeWav } from '../../src/media/audio/Wav.ts';
import { assertNear, isSilent, readChannels, toneMs } from '../helpers/audio.ts';
import { sineTone } from '../../src/media/Tones.ts';
import { parseMp3 } from '../../src/recording/Mp3.ts';
import { Mp3ChunkWriter, mp3EncoderLoad } from '../../src/recording/ChunkWriter.ts';
import { eventually } from '../helpers/wait.ts';
import { signAcsRequest } from '../../src/identity/AcsHmac.ts';
import { loadConfig } from '../../src/config/loadConfig.ts';
import { Telegraph } from '../../src/server.ts';

const RATE = 16000;
const BOT_HZ = 700;
const FILE_STATUS = 'Microsoft.Communication.RecordingFileStatusUpdated';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------ audio analysis

/** A WAV's channels, de-interleaved (16-bit at 16 kHz asserted). */
const wavChannels = (bytes: Uint8Array): Int16Array[] => readChannels(bytes, RATE).channels;

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}


// ------------------------------------------------------------------------------ set-up

let h: Harness;
let sink: AcsEventSink;
let prompts: http.Server;
let promptBase = '';
let azurite: Azurite;
let t: TestTenant;
let acs: TestAcsResource;
let client: CallAutomationClient;
let work: string;

const ADA = 0, GRACE = 1;

before(async () => {
  [h, sink, azurite] = await Promise.all([
    Harness.start({ config: { recording: { maxChunkSeconds: 1 } } }),
    new AcsEventSink().start(),
    startAzurite(),
  ]);
  const wav = Buffer.from(writeWav(sineTone(BOT_HZ, 500, -12), RATE, 1));
  prompts = http.createServer((req, res) => {
    if (req.url?.startsWith('/bot.wav')) {
      res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length }).end(wav);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => prompts.listen(0, '127.0.0.1', resolve));
  promptBase = `http://127.0.0.1:${(prompts.address() as AddressInfo).port}`;
  t = await createTenant(h, { users: [{ displayName: 'Ada' }, { displayName: 'Grace' }] });
  acs = await createAcsResource(h, t.tenantId);
  // The quickstart's client, plus Telegraph's policy for recording download and delete.
  client = acsClient(acs.connectionString, { additionalPolicies: [telegraphRecordingPolicy()] });
  work = mkdtempSync(join(tmpdir(), 'telegraph-acs-recording-'));

  // "Subscribe to events through Azure Event Grid": the handshake runs before the subscription is created.
  const sub = await h.admin('POST', `/tenants/${t.tenantId}/acsResources/${acs.resourceId}/eventSubscriptions`, {
    name: 'recording-files', endpointUrl: `${sink.eventGrid}/recordings`, includedEventTypes: [FILE_STATUS],
  });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));
  assert.equal(sub.body.validation.state, 'validated');
  const v = sink.validations.find((r) => r.path === '/eventgrid/recordings');
  assert.ok(v?.event?.data?.validationCode, 'the validation event reached the subscriber');
});

after(async () => {
  await h?.stop();
  await sink?.stop();
  await azurite?.stop();
  prompts?.closeAllConnections?.();
  if (prompts) await new Promise<void>((resolve) => prompts.close(() => resolve()));
  if (work) rmSync(work, { recursive: true, force: true });
});

const user = (i: number) => acsUser(acs.resourceId, t.users[i]!.id);
const rawIdOf = (i: number) => user(i).communicationUserId;
type Identifier = NonNullable<StartRecordingOptions['audioChannelParticipantOrdering']>[number];
/** The application, when it calls with the resource's number as its caller id. */
const bot = (): Identifier => ({ phoneNumber: acs.phoneNumber });

interface Connected { id: string; serverCallId: string; conn: CallConnection; simId: string; userIndex: number }

/** Calls user `i` (as the resource's number when `callerId`) and waits for CallConnected. */
async function connectedCall(i: number, callerId = false): Promise<Connected> {
  const res = await client.createCall({ targetParticipant: user(i), ...(callerId ? { sourceCallIdNumber: { phoneNumber: acs.phoneNumber } } : {}) }, sink.events);
  const id = res.callConnectionProperties.callConnectionId!;
  const { parsed } = await sink.waitForEvent('CallConnected', id);
  // The quickstart takes the serverCallId from CallConnected.
  const serverCallId = parsed.serverCallId as string;
  assert.equal(serverCallId, res.callConnectionProperties.serverCallId);
  const sim = await simCallIn(h, t.users[i]!.id, serverCallId);
  await waitSimState(h, t.users[i]!.id, sim.id, 'connected');
  return { id, serverCallId, conn: res.callConnection, simId: sim.id, userIndex: i };
}

async function say(c: Connected, frequencyHz: number, durationMs: number): Promise<void> {
  const r = await h.sim('POST', `/users/${t.users[c.userIndex]!.id}/calls/${c.simId}/say`, { tone: { frequencyHz, durationMs } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
}

/** The application plays its tone to everyone and waits until it has been played. */
async function botSpeaks(c: Connected, context: string): Promise<void> {
  await c.conn.getCallMedia().playToAll([{ kind: 'fileSource', url: `${promptBase}/bot.wav` }], { operationContext: context });
  await sink.waitForEvent('PlayCompleted', c.id, 8000, (e) => e.data.operationContext === context);
}

/** The nth RecordingStateChanged (from 1) of a recording with this state, received at `path`. */
async function stateEvent(recordingId: string, state: 'active' | 'inactive', path: string, nth = 1): Promise<{ rec: AcsRecorded; parsed: any }> {
  const matches = (r: AcsRecorded) => r.path === path && r.event?.type === 'Microsoft.Communication.RecordingStateChanged' && r.event?.data?.recordingId === recordingId && r.event?.data?.state === state;
  const rec = await sink.waitFor((r) => matches(r) && sink.received.filter(matches).indexOf(r) === nth - 1, 8000, `RecordingStateChanged #${nth} ${state} of ${recordingId}`);
  return { rec, parsed: parseCallAutomationEvent(rec.body) };
}

function fileStatus(recordingId: string): Promise<AcsRecorded> {
  return sink.waitForEventGrid(FILE_STATUS, (e) => String(e.subject).endsWith(`/recordingId/${recordingId}`), 10_000);
}

interface Chunk { bytes: Uint8Array; meta: Json; loc: Json }

/** Downloads every chunk (content and metadata) with the SDK's downloadToPath, as the quickstart does. */
async function downloadAll(data: Json, ext: string): Promise<Chunk[]> {
  const out: Chunk[] = [];
  for (const loc of data.recordingStorageInfo.recordingChunks as Json[]) {
    const file = join(work, `${loc.documentId}.${ext}`);
    const metaFile = join(work, `${loc.documentId}.json`);
    await client.getCallRecording().downloadToPath(toSdkRecordingUrl(loc.contentLocation), file);
    await client.getCallRecording().downloadToPath(toSdkRecordingUrl(loc.metadataLocation), metaFile);
    const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
    assert.equal(meta.chunkDocumentId, loc.documentId);
    assert.equal(meta.chunkIndex, loc.index);
    out.push({ bytes: new Uint8Array(readFileSync(file)), meta, loc });
  }
  return out;
}

/** Checks the event's envelope and locations; returns its data. */
function checkFileStatus(rec: AcsRecorded, c: Connected, recordingId: string, expect: { channel: string; format: string; endReason?: string }): Json {
  const e = rec.event;
  assert.equal(rec.headers['aeg-event-type'], 'Notification');
  assert.equal(rec.headers['aeg-subscription-name'], 'RECORDING-FILES');
  assert.equal(e.eventType, FILE_STATUS);
  assert.equal(e.subject, `/recording/call/${c.serverCallId}/serverCallId/${c.serverCallId}/recordingId/${recordingId}`);
  assert.match(e.topic, new RegExp(`/communicationServices/${acs.resourceId}$`));
  assert.equal(e.dataVersion, '1.0');
  assert.equal(e.metadataVersion, '1');
  const d = e.data;
  assert.equal(d.recordingContentType, 'audio');
  assert.equal(d.recordingChannelType, expect.channel);
  assert.equal(d.recordingFormatType, expect.format);
  assert.equal(d.sessionEndReason, expect.endReason ?? 'RecordingStopped');
  assert.ok(!Number.isNaN(Date.parse(d.recordingStartTime)));
  const chunks = d.recordingStorageInfo.recordingChunks as Json[];
  assert.ok(chunks.length >= 1);
  chunks.forEach((ch, i) => {
    assert.equal(ch.index, i);
    const object = `${h.url}/v1/objects/${ch.documentId}`;
    assert.equal(ch.contentLocation, `${object}/content/audio`);
    assert.equal(ch.metadataLocation, `${object}/content/acsmetadata`);
    assert.equal(ch.deleteLocation, object);
    assert.equal(ch.endReason, i === chunks.length - 1 ? 'SessionEnded' : 'ChunkMaximumTimeExceeded');
  });
  return d;
}

async function rejects(p: Promise<unknown>, status: number, message?: RegExp): Promise<any> {
  let caught: any;
  await assert.rejects(p, (err: any) => {
    caught = err;
    // RestError (API calls) has statusCode; download and delete throw {status, message}.
    assert.equal(err.statusCode ?? err.status, status, `expected ${status}, got ${err.statusCode ?? err.status}: ${err.message}`);
    if (message) assert.match(String(err.message), message);
    return true;
  });
  return caught;
}

async function readStream(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c as Buffer));
  return Buffer.concat(parts);
}

/** A content-URL request signed like the SDK's (pathname only, x-ms-host the API host). */
function signedContentRequest(method: string, url: string, key = acs.keys[0]!.key, extra: Record<string, string> = {}): Promise<Response> {
  const headers = signAcsRequest({ method, url, mode: 'contentUrl', signingHost: new URL(h.url).host }, Buffer.from(key, 'base64'));
  delete headers.host;
  return fetch(url, { method, headers: { ...headers, ...extra } });
}

// ------------------------------------------------------------------------------ the quickstart

test('seed 003: unmixed WAV with audioChannelParticipantOrdering; pause, resume, stop; RecordingFileStatusUpdated; downloadToPath; range; delete', async () => {
  const c = await connectedCall(ADA, true);
  const recording = client.getCallRecording();
  const stateUri = `${sink.base}/recording-state`;
  const started = await recording.start({
    callLocator: { id: c.serverCallId, kind: 'serverCallLocator' },
    recordingContent: 'audio',
    recordingChannel: 'unmixed',
    recordingFormat: 'wav',
    recordingStateCallbackEndpointUrl: stateUri,
    audioChannelParticipantOrdering: [user(ADA), bot()],
  });
  const startedAt = Date.now();
  const id = started.recordingId;
  assert.match(id, /^[A-Za-z0-9_-]{16,}$/, 'a URL-safe opaque id');
  assert.equal(started.recordingState, 'active');
  assert.equal(started.recordingKind, 'azureCommunicationServices');
  const { parsed: active } = await stateEvent(id, 'active', '/recording-state');
  assert.equal(active.kind, 'RecordingStateChanged');
  assert.equal(active.callConnectionId, c.id);
  assert.equal(active.serverCallId, c.serverCallId);
  assert.equal(active.recordingKind, 'azureCommunicationServices');
  assert.ok(!Number.isNaN(Date.parse(active.startDateTime)));

  // Ada speaks, then the application.
  await say(c, 1000, 600);
  await sleep(700);
  await botSpeaks(c, 'bot-1');

  // Paused: what Ada says now is not recorded.
  await recording.pause(id);
  const pausedAt = Date.now();
  await stateEvent(id, 'inactive', '/recording-state');
  assert.equal((await recording.getState(id)).recordingState, 'inactive');
  await say(c, 1500, 500);
  await sleep(700);
  await recording.resume(id);
  const pauseMs = Date.now() - pausedAt;
  await stateEvent(id, 'active', '/recording-state', 2);
  assert.equal((await recording.getState(id)).recordingState, 'active');
  await say(c, 1000, 400);
  await sleep(600);
  await recording.stop(id);
  const stoppedAt = Date.now();
  await stateEvent(id, 'inactive', '/recording-state', 2);

  // The file is announced through Event Grid.
  const rec = await fileStatus(id);
  const data = checkFileStatus(rec, c, id, { channel: 'unmixed', format: 'wav' });
  const chunks = await downloadAll(data, 'wav');
  assert.ok(chunks.length >= 2, `1 s chunks: ${chunks.length} for ${data.recordingDurationMs} ms`);

  // Metadata durations are the files' durations; the chunks add up to the recording.
  let total = 0;
  const perChannel: Int16Array[][] = [[], [], [], [], []];
  const pauses: Json[] = [];
  for (const ch of chunks) {
    const f = readWavFormat(ch.bytes);
    assert.equal(f.channels, 5, 'unmixed WAV: channels 0-4');
    assert.equal(ch.meta.chunkDuration, (f.frames / RATE) * 1000, 'metadata chunkDuration = the file');
    assert.deepEqual(ch.meta.recordingInfo, { contentType: 'audio', channelType: 'unmixed', format: 'wav', audioConfiguration: { sampleRate: RATE, bitRate: RATE * 16 * 5, channels: 5 } });
    assert.equal(ch.meta.recordingId, id);
    assert.equal(ch.meta.resourceId, acs.resourceId);
    assert.deepEqual(
      [...ch.meta.participants].sort((a: Json, b: Json) => a.channel - b.channel),
      [{ participantId: rawIdOf(ADA), channel: 0 }, { participantId: `4:${acs.phoneNumber}`, channel: 1 }],
    );
    pauses.push(...ch.meta.pauseResumeIntervals);
    total += ch.meta.chunkDuration;
    wavChannels(ch.bytes).forEach((x, i) => perChannel[i]!.push(x));
  }
  assert.equal(total, data.recordingDurationMs);
  const [ada, app, ...rest] = perChannel.map(concat) as [Int16Array, Int16Array, ...Int16Array[]];

  // Each party on its own channel only; the free channels exactly silent.
  assertNear(toneMs(ada, 1000), 1000, 120, "Ada's speech on channel 0");
  assert.equal(toneMs(ada, BOT_HZ), 0, 'the application is not on channel 0');
  assertNear(toneMs(app, BOT_HZ), 500, 100, "the application's speech on channel 1");
  assert.equal(toneMs(app, 1000), 0, 'Ada is not on channel 1');
  for (const x of rest) assert.ok(isSilent(x), 'channels 2-4 are silent');

  // Paused time is absent: neither what Ada said then nor the time itself.
  assert.equal(toneMs(ada, 1500), 0, 'what was said while paused is not in the file');
  assert.equal(pauses.length, 1);
  assertNear(pauses[0].duration, pauseMs, 250, 'the pause in the metadata');
  assertNear(data.recordingDurationMs, stoppedAt - startedAt - pauseMs, 400, 'recording duration = wall time minus the pause');

  // Range download (206) through the SDK; a malformed Range (SDK 1.5.1's bytes=undefined) is ignored.
  const first = chunks[0]!;
  const part = await readStream(await recording.downloadStreaming(toSdkRecordingUrl(first.loc.contentLocation), { offset: 44, length: 100 }));
  assert.deepEqual(new Uint8Array(part), first.bytes.subarray(44, 144));
  const ranged = await signedContentRequest('GET', first.loc.contentLocation, undefined, { range: 'bytes=10-19' });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers.get('content-range'), `bytes 10-19/${first.bytes.length}`);
  assert.equal(ranged.headers.get('content-type'), 'audio/wav');
  const tail = await signedContentRequest('GET', first.loc.contentLocation, undefined, { range: 'bytes=-4' });
  assert.equal(tail.status, 206);
  assert.deepEqual(new Uint8Array(await tail.arrayBuffer()), first.bytes.subarray(first.bytes.length - 4));
  const sloppy = await signedContentRequest('GET', first.loc.contentLocation, undefined, { range: 'bytes=undefined' });
  assert.equal(sloppy.status, 200);
  assert.equal(Buffer.from(await sloppy.arrayBuffer()).length, first.bytes.length);
  const beyond = await signedContentRequest('GET', first.loc.contentLocation, undefined, { range: `bytes=${first.bytes.length}-` });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers.get('content-range'), `bytes */${first.bytes.length}`);
  await beyond.arrayBuffer();

  // Delete (exactly 200 for the SDK), then the content and metadata are gone (404).
  await recording.delete(toSdkRecordingUrl(first.loc.deleteLocation));
  await rejects(recording.downloadToPath(toSdkRecordingUrl(first.loc.contentLocation), join(work, 'gone.wav')), 404, /not found/);
  await rejects(recording.downloadToPath(toSdkRecordingUrl(first.loc.metadataLocation), join(work, 'gone.json')), 404);
  await rejects(recording.delete(toSdkRecordingUrl(first.loc.deleteLocation)), 404);
  const again = await signedContentRequest('GET', first.loc.contentLocation);
  assert.equal(again.status, 404);
  const body = (await again.json()) as Json;
  assert.equal(body.status, 404, 'top-level status, as the SDK reads it');
  assert.match(body.message, /not found/);
  assert.equal(body.error.code, 'NotFound');
  // The other chunks are still there.
  await recording.downloadToPath(toSdkRecordingUrl(chunks[1]!.loc.contentLocation), join(work, 'second.wav'));

  await c.conn.hangUp(true);
});

test('mixed MP3 by callConnectionId: state events to the connection callback; frames and gapless lengths match the metadata', async () => {
  const c = await connectedCall(GRACE);
  const recording = client.getCallRecording();
  const started = await recording.start({ callConnectionId: c.id, recordingContent: 'audio', recordingChannel: 'mixed', recordingFormat: 'mp3' });
  const id = started.recordingId;
  const startedAt = Date.now();
  // No recordingStateCallbackUri: RecordingStateChanged goes to the call connection's callback.
  const { parsed } = await stateEvent(id, 'active', '/events');
  assert.equal(parsed.callConnectionId, c.id);
  await say(c, 800, 1000);
  await sleep(1200);
  await recording.stop(id);
  const wall = Date.now() - startedAt;
  await stateEvent(id, 'inactive', '/events');
  const data = checkFileStatus(await fileStatus(id), c, id, { channel: 'mixed', format: 'mp3' });
  const chunks = await downloadAll(data, 'mp3');
  let total = 0;
  for (const ch of chunks) {
    const mp3 = parseMp3(ch.bytes);
    assert.equal(mp3.sampleRate, RATE);
    assert.equal(mp3.channels, 1, 'mixed: mono');
    assert.equal(mp3.trailingBytes, 0);
    assert.ok(mp3.frames.length > 0);
    assert.equal(mp3.gaplessSamples, (ch.meta.chunkDuration * RATE) / 1000, 'the Info tag states the metadata duration');
    assert.deepEqual(ch.meta.recordingInfo, { contentType: 'audio', channelType: 'mixed', format: 'mp3', audioConfiguration: { sampleRate: RATE, bitRate: 48000, channels: 1 } });
    total += ch.meta.chunkDuration;
  }
  assert.equal(total, data.recordingDurationMs);
  assertNear(total, wall, 300, 'the time recorded');
  await c.conn.hangUp(true);
});

test('pauseOnStart + resume, with channelAffinity: only what follows resume, each party on its pinned channel; the call\'s end stops it', async () => {
  const c = await connectedCall(ADA, true);
  const recording = client.getCallRecording();
  const started = await recording.start({
    callLocator: { id: c.serverCallId, kind: 'serverCallLocator' },
    recordingContent: 'audio', recordingChannel: 'unmixed', recordingFormat: 'wav',
    pauseOnStart: true,
    channelAffinity: [{ channel: 3, targetParticipant: user(ADA) }, { channel: 1, targetParticipant: bot() }],
  });
  const id = started.recordingId;
  assert.equal(started.recordingState, 'inactive', 'paused on start');
  await stateEvent(id, 'inactive', '/events');
  await say(c, 1500, 400);
  await sleep(500);
  await recording.resume(id);
  await stateEvent(id, 'active', '/events');
  await say(c, 1000, 500);
  await sleep(600);
  await botSpeaks(c, 'bot-affinity');
  // The call's end stops the recording (sessionEndReason CallEnded).
  await c.conn.hangUp(true);
  await stateEvent(id, 'inactive', '/events', 2);
  const data = checkFileStatus(await fileStatus(id), c, id, { channel: 'unmixed', format: 'wav', endReason: 'CallEnded' });
  const chunks = await downloadAll(data, 'wav');
  const perChannel: Int16Array[][] = [[], [], [], [], []];
  for (const ch of chunks) {
    wavChannels(ch.bytes).forEach((x, i) => perChannel[i]!.push(x));
    assert.deepEqual(
      [...ch.meta.participants].sort((a: Json, b: Json) => a.channel - b.channel),
      [{ participantId: `4:${acs.phoneNumber}`, channel: 1 }, { participantId: rawIdOf(ADA), channel: 3 }],
    );
  }
  const x = perChannel.map(concat);
  assertNear(toneMs(x[3]!, 1000), 500, 100, "Ada's speech after resume, on channel 3");
  assert.equal(toneMs(x[3]!, 1500), 0, 'nothing from before resume');
  assertNear(toneMs(x[1]!, BOT_HZ), 500, 100, 'the application on channel 1');
  assert.equal(toneMs(x[1]!, 1000), 0);
  for (const i of [0, 2, 4]) assert.ok(isSilent(x[i]!), `channel ${i} is silent`);
  await rejects(recording.pause(id), 404, /has ended/);
});

test('externalStorage: the files land in the Azurite container; download and delete work on them', async () => {
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const container = service.getContainerClient('call-recordings');
  await container.create();
  const sas = generateBlobSASQueryParameters(
    { containerName: 'call-recordings', permissions: ContainerSASPermissions.parse('racwdl'), startsOn: new Date(Date.now() - 300_000), expiresOn: new Date(Date.now() + 3_600_000), protocol: SASProtocol.HttpsAndHttp },
    new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
  ).toString();
  const containerUrl = `${azurite.blobEndpoint}/call-recordings?${sas}`;

  const c = await connectedCall(GRACE);
  const recording = client.getCallRecording();
  const { recordingId: id } = await recording.start({
    callLocator: { id: c.serverCallId, kind: 'serverCallLocator' },
    recordingContent: 'audio', recordingChannel: 'mixed', recordingFormat: 'wav',
    recordingStorage: { recordingStorageKind: 'azureBlobStorage', recordingDestinationContainerUrl: containerUrl },
  });
  await say(c, 1000, 500);
  await sleep(700);
  await recording.stop(id);
  const data = checkFileStatus(await fileStatus(id), c, id, { channel: 'mixed', format: 'wav' });
  const names: string[] = [];
  for await (const b of container.listBlobsFlat({ prefix: `recordings/${id}/` })) names.push(b.name);
  const chunks = data.recordingStorageInfo.recordingChunks as Json[];
  assert.deepEqual(names.sort(), chunks.flatMap((ch) => [`recordings/${id}/${ch.documentId}/audio.wav`, `recordings/${id}/${ch.documentId}/metadata.json`]).sort());
  assert.ok(!existsSync(join(h.dataDir, 'blobs', 'recordings', id)), "nothing in Telegraph's own store");

  const downloaded = await downloadAll(data, 'wav');
  const inContainer = await container.getBlobClient(`recordings/${id}/${chunks[0]!.documentId}/audio.wav`).downloadToBuffer();
  assert.deepEqual(downloaded[0]!.bytes, new Uint8Array(inContainer));
  assert.ok(toneMs(concat(downloaded.map((d) => wavChannels(d.bytes)[0]!)), 1000) > 300);

  for (const ch of chunks) await recording.delete(toSdkRecordingUrl(ch.deleteLocation));
  const left: string[] = [];
  for await (const b of container.listBlobsFlat({ prefix: `recordings/${id}/` })) left.push(b.name);
  assert.deepEqual(left, [], 'deleted from the container');
  await rejects(recording.downloadToPath(toSdkRecordingUrl(chunks[0]!.contentLocation), join(work, 'az-gone.wav')), 404);
  await c.conn.hangUp(true);
});

test('errors: a second start 409, audioVideo / mp4 / locators 400 naming the field, unknown ids 404, other resources 404, bad signatures 401; pauseOnStart never resumed makes no file', async () => {
  const c = await connectedCall(ADA);
  const recording = client.getCallRecording();
  const locator = { id: c.serverCallId, kind: 'serverCallLocator' as const };
  const { recordingId: id } = await recording.start({ callLocator: locator, recordingContent: 'audio', recordingChannel: 'mixed', recordingFormat: 'wav', pauseOnStart: true });

  await rejects(recording.start({ callLocator: locator, recordingContent: 'audio', recordingChannel: 'mixed', recordingFormat: 'wav' }), 409, new RegExp(`already being recorded \\(recording ${id}`));
  await rejects(recording.start({ callConnectionId: c.id, recordingContent: 'audio' }), 409);
  await rejects(recording.start({ callLocator: locator, recordingContent: 'audioVideo', recordingChannel: 'mixed', recordingFormat: 'mp4' }), 400, /'recordingContentType'.*audio only/);
  await rejects(recording.start({ callLocator: locator, recordingContent: 'audio', recordingChannel: 'mixed', recordingFormat: 'mp4' }), 400, /'recordingFormatType'/);
  await rejects(recording.start({ callLocator: { id: 'g1', kind: 'groupCallLocator' }, recordingContent: 'audio' }), 400, /'callLocator\.kind'.*groupCallLocator/);
  await rejects(recording.start({ callLocator: { id: 'r1', kind: 'roomCallLocator' }, recordingContent: 'audio' }), 400, /'callLocator\.kind'/);
  await rejects(recording.start({ recordingContent: 'audio' }), 400, /'callLocator'/);
  await rejects(recording.start({ callLocator: { id: 'no-such-call', kind: 'serverCallLocator' }, recordingContent: 'audio' }), 404, /no-such-call/);
  await rejects(recording.start({ callLocator: locator, recordingContent: 'audio', recordingChannel: 'mixed', audioChannelParticipantOrdering: [user(ADA)] }), 400, /'audioChannelParticipantOrdering'.*unmixed/);
  await rejects(
    recording.start({ callLocator: locator, recordingContent: 'audio', recordingChannel: 'unmixed', channelAffinity: [{ channel: 7, targetParticipant: user(ADA) }] }),
    400,
    /'channelAffinity\[0\]\.channel'/,
  );

  // Unknown ids: 404 for every operation.
  await rejects(recording.getState('no-such-recording'), 404);
  await rejects(recording.pause('no-such-recording'), 404);
  await rejects(recording.resume('no-such-recording'), 404);
  await rejects(recording.stop('no-such-recording'), 404);

  // Another resource sees neither the recording nor its call.
  const other = await createAcsResource(h, t.tenantId);
  const otherClient = acsClient(other.connectionString, { additionalPolicies: [telegraphRecordingPolicy()] });
  await rejects(otherClient.getCallRecording().getState(id), 404);
  await rejects(otherClient.getCallRecording().stop(id), 404);
  await rejects(otherClient.getCallRecording().start({ callLocator: locator, recordingContent: 'audio' }), 404);
  assert.equal((await recording.getState(id)).recordingState, 'inactive');

  // pauseOnStart never resumed: stopped with no audio, so no file and no event.
  await recording.stop(id);
  const status = await h.telegraph.callRecordings.stop(id);
  assert.equal(status.hasContent, false);
  await sleep(300);
  assert.ok(!sink.received.some((r) => r.event?.eventType === FILE_STATUS && String(r.event.subject).endsWith(`/recordingId/${id}`)), 'no RecordingFileStatusUpdated');

  // A recording with content, to probe its content URLs with other credentials.
  const { recordingId: id2 } = await recording.start({ callLocator: locator, recordingContent: 'audio', recordingChannel: 'mixed', recordingFormat: 'wav' });
  await say(c, 1000, 200);
  await sleep(300);
  await recording.stop(id2);
  const loc = ((await fileStatus(id2)).event.data.recordingStorageInfo.recordingChunks as Json[])[0]!;
  // Signed with a key that is not the resource's: 401, with the SDK's top-level status.
  const stranger = acsClient(`endpoint=${h.url}/;accesskey=${Buffer.alloc(64, 7).toString('base64')}`, { additionalPolicies: [telegraphRecordingPolicy()] });
  await rejects(stranger.getCallRecording().downloadToPath(toSdkRecordingUrl(loc.contentLocation), join(work, 'x.wav')), 401, /signature/);
  await rejects(stranger.getCallRecording().delete(toSdkRecordingUrl(loc.deleteLocation)), 401);
  const unsigned = await fetch(loc.contentLocation);
  assert.equal(unsigned.status, 401);
  const ub = (await unsigned.json()) as Json;
  assert.equal(ub.status, 401);
  assert.equal(ub.error.code, 'Denied');
  // Another resource's valid key: its content is not found.
  await rejects(otherClient.getCallRecording().downloadToPath(toSdkRecordingUrl(loc.contentLocation), join(work, 'y.wav')), 404);
  await rejects(otherClient.getCallRecording().delete(toSdkRecordingUrl(loc.deleteLocation)), 404);
  // A signature over another path does not open this one.
  const signedElsewhere = signAcsRequest({ method: 'GET', url: `${h.url}/v1/objects/other/content/audio`, mode: 'contentUrl' }, Buffer.from(acs.keys[0]!.key, 'base64'));
  delete signedElsewhere.host;
  assert.equal((await fetch(loc.contentLocation, { headers: signedElsewhere })).status, 401);
  // Not a content operation: 404 in the content error shape.
  const wrong = await signedContentRequest('GET', `${h.url}/v1/objects/${loc.documentId}/content/video`);
  assert.equal(wrong.status, 404);
  assert.equal(((await wrong.json()) as Json).status, 404);
  // Still downloadable by its owner.
  await recording.downloadToPath(toSdkRecordingUrl(loc.contentLocation), join(work, 'owner.wav'));
  await c.conn.hangUp(true);
});

test('MP3 encoders at capacity: 503 ServiceUnavailable with Retry-After and nothing left behind; WAV still records; MP3 again once they catch up', { timeout: 90_000 }, async () => {
  const c = await connectedCall(GRACE);
  const recording = client.getCallRecording();
  const locator = { id: c.serverCallId, kind: 'serverCallLocator' as const };
  // Every encoders' thread given minutes of stereo at once (as if hundreds of recordings ran on it).
  const channels = () => mp3EncoderLoad().map((l) => l.channels);
  const before = channels();
  const flood: Mp3ChunkWriter[] = [];
  while (channels().some((n, i) => n === before[i]) && flood.length < 4 * before.length) flood.push(new Mp3ChunkWriter(2, 64));
  const tone = sineTone(440, 1000, -12);
  const off = new Int32Array(2);
  for (const w of flood) {
    w.begin();
    for (let sec = 0; sec < 180; sec++) {
      for (let f = 0; f < 50; f++) {
        off[0] = off[1] = f * 320;
        w.write([tone, tone], off);
      }
    }
  }
  await eventually(() => mp3EncoderLoad().every((l) => l.full), 'the encoders full', 20_000, 10);
  const err = await rejects(
    recording.start({ callLocator: locator, recordingContent: 'audio', recordingChannel: 'mixed', recordingFormat: 'mp3' }),
    503,
    /MP3 encoders are at capacity.*record as WAV/,
  );
  assert.equal(err.code, 'ServiceUnavailable');
  assert.equal(err.response?.headers.get('retry-after'), '5');
  // nothing half-made: the call is not being recorded, so a WAV recording starts at once
  const { recordingId: wav } = await recording.start({ callLocator: locator, recordingContent: 'audio', recordingChannel: 'mixed', recordingFormat: 'wav' });
  await recording.stop(wav);
  await eventually(() => mp3EncoderLoad().every((l) => !l.full && l.pending === 0), 'caught up', 60_000, 25);
  const { recordingId: mp3 } = await recording.start({ callLocator: locator, recordingContent: 'audio', recordingChannel: 'mixed', recordingFormat: 'mp3' });
  await recording.stop(mp3);
  for (const w of flood) {
    await w.end().assemble();
    w.close();
  }
  await c.conn.hangUp(true);
});

test('in-memory Telegraph: recordings in a temporary blob directory; a recording running at shutdown ends (CallEnded) and its event is delivered before stop() resolves', async () => {
  const config = loadConfig({ raw: { server: { port: 0 }, adminKey: 'test-admin-key-0123456789' }, env: {} });
  const tg = await Telegraph.create(config, { inMemory: true, logger: pino({ level: 'silent' }) });
  const url = await tg.listen();
  const scratch = mkdtempSync(join(tmpdir(), 'telegraph-acs-recording-mem-'));
  const h2 = new Harness(tg, url, scratch, false);
  let stopped = false;
  try {
    assert.ok(existsSync(tg.recordingBlobDir) && tg.recordingBlobDir.startsWith(tmpdir()), 'a temporary blob directory');
    const t2 = await createTenant(h2, { users: [{ displayName: 'Mem' }] });
    const acs2 = await createAcsResource(h2, t2.tenantId);
    const sub = await h2.admin('POST', `/tenants/${t2.tenantId}/acsResources/${acs2.resourceId}/eventSubscriptions`, { name: 'mem', endpointUrl: `${sink.eventGrid}/mem` });
    assert.equal(sub.body.validation?.state, 'validated');
    const c2 = acsClient(acs2.connectionString, { additionalPolicies: [telegraphRecordingPolicy()] });
    const res = await c2.createCall({ targetParticipant: acsUser(acs2.resourceId, t2.users[0]!.id) }, sink.events);
    const { parsed } = await sink.waitForEvent('CallConnected', res.callConnectionProperties.callConnectionId!);
    const { recordingId } = await c2.getCallRecording().start({ callLocator: { id: parsed.serverCallId, kind: 'serverCallLocator' }, recordingContent: 'audio', recordingChannel: 'mixed', recordingFormat: 'wav' });
    await sleep(300);
    await h2.stop();
    stopped = true;
    // Delivered during the shutdown's outbox flush.
    const ev = sink.received.find((r) => r.path === '/eventgrid/mem' && r.event?.eventType === FILE_STATUS);
    assert.ok(ev, 'RecordingFileStatusUpdated delivered before stop() resolved');
    assert.equal(ev.event.data.sessionEndReason, 'CallEnded');
    assert.ok(String(ev.event.subject).endsWith(`/recordingId/${recordingId}`));
    assert.ok(!existsSync(tg.recordingBlobDir), 'the temporary blob directory is removed at stop');
  } finally {
    if (!stopped) await h2.stop();
  }
});
