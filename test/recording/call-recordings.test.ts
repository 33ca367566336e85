/**
 * Call recording, the domain service (src/recording/CallRecordings.ts), in process against a real
 * Telegraph: Graph-created calls with virtual users speaking tones through the simulator
 * (POST /simulator/users/{u}/calls/{c}/say {tone}) and the bot playing a tone prompt (Graph
 * playPrompt, from a local prompt server). The recorded files are read back from the blob store and
 * analysed (Goertzel tone detection per channel):
 *   - unmixed WAV with audioChannelParticipantOrdering (participants keyed by API identity): each
 *     party's tone on its own channel only, the other channels exactly silent; metadata participants;
 *     blobs present in the FileBlobStore (<dataDir>/blobs) with durations matching the files;
 *   - a participant whose leg attaches after the start (answers later) is recorded on its reserved
 *     channel; one who leaves is dropped while the recording goes on;
 *   - pause/resume: the tone said while paused is absent, the pause listed in the metadata; state events;
 *   - mixed MP3 in several chunks (maxChunkSeconds): Info tag lengths = metadata durations;
 *   - pauseOnStart never resumed: no file, the status says so;
 *   - errors: a second start (Conflict), audioVideo, unknown ids, acting on an ended recording;
 *   - the call's end stops it (sessionEndReason CallEnded);
 *   - externalStorage: the files in a real Azurite container, read and deleted through the index;
 *   - after a restart on the same data directory, content can still be opened, then deleted (gone).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobServiceClient, ContainerSASPermissions, SASProtocol, StorageSharedKeyCredential, generateBlobSASQueryParameters } from '@azure/storage-blob';
import { Harness, Webhook, callUsers, createTenant, type CallUser, type Json, type TestTenant } from '../helpers/harness.ts';
import { assertNear, isSilent, readChannels, runMs, toneMs, toneRuns } from '../helpers/audio.ts';
import { PromptServer } from '../helpers/promptServer.ts';
import { eventually, sleep } from '../helpers/wait.ts';
import { DEV_ACCOUNT, DEV_KEY, startAzurite, type Azurite } from '../storage/azurite.ts';
import { readWavFormat, writeWav } from '../../src/media/audio/Wav.ts';
import { sineTone } from '../../src/media/Tones.ts';
import { parseMp3 } from '../../src/recording/Mp3.ts';
import { mp3EncoderLoad } from '../../src/recording/ChunkWriter.ts';
import type { Call } from '../../src/calls/Call.ts';
import type { Participant } from '../../src/calls/Participant.ts';
import { FileBlobStore } from '../../src/storage/blob/FileBlobStore.ts';
import {
  CallRecordingError,
  CallRecordings,
  type RecordingFileStatus,
  type RecordingStateChange,
} from '../../src/recording/CallRecordings.ts';
import type { ChunkMetadata } from '../../src/recording/RecordingSession.ts';

const RATE = 16000;
const FRAME_MS = 20;
const BOT_HZ = 700;

// ------------------------------------------------------------------------------ audio analysis

/** A WAV's channels, de-interleaved (16 kHz, 16-bit). */
const wavChannels = (bytes: Uint8Array): Int16Array[] => readChannels(bytes, RATE).channels;

async function readAll(stream: Readable): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return new Uint8Array(Buffer.concat(parts));
}

// ------------------------------------------------------------------------------ set-up

let h: Harness;
let hook: Webhook;
let prompts: PromptServer;
let blobs: FileBlobStore;
let recordings: CallRecordings;
const states: RecordingStateChange[] = [];
const statuses: RecordingFileStatus[] = [];

/** The key participants are recorded under: their API identity (kind:id), as an API layer would. */
const keyOf = (p: Participant) => `${p.identity.kind}:${p.identity.id}`;

function serviceFor(harness: Harness): CallRecordings {
  return new CallRecordings({ media: harness.telegraph.media, store: harness.telegraph.store, blobs: new FileBlobStore(join(harness.dataDir, 'blobs')) });
}

before(async () => {
  prompts = await new PromptServer().start();
  prompts.add('/bot.wav', writeWav(sineTone(BOT_HZ, 800, -12), RATE, 1));
  h = await Harness.start();
  hook = await new Webhook().start();
  blobs = new FileBlobStore(join(h.dataDir, 'blobs'));
  recordings = new CallRecordings({ media: h.telegraph.media, store: h.telegraph.store, blobs });
  recordings.onStateChanged((e) => states.push(e));
  recordings.onFileStatus((s) => statuses.push(s));
});

after(async () => {
  await recordings?.close();
  await h?.stop();
  await hook?.stop();
  await prompts?.stop();
});

type Person = CallUser;

interface Setup {
  t: TestTenant;
  /** The bot's Graph call id (its leg). */
  callId: string;
  call: Call;
  bot: Participant;
  users: Person[];
}

const until = <T>(what: string, ms: number, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false): Promise<T> =>
  eventually(probe, what, ms, 25);

/** A Graph call from a bot to the users (one: peer-to-peer; more: a group call); users with `manual` answer later. */
async function setup(opts: { users?: number; manual?: number[] } = {}): Promise<Setup> {
  const n = opts.users ?? 1;
  const manual = new Set(opts.manual ?? []);
  const t = await createTenant(h, {
    webhook: hook.url,
    users: Array.from({ length: n }, (_, i) => ({ displayName: `Speaker ${i + 1}`, ...(manual.has(i) ? { behaviour: { answer: 'manual' } } : {}) })),
  });
  const { callId, users } = await callUsers(h, hook, t, { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' }, {
    userState: (i) => (manual.has(i) ? 'ringing' : 'connected'),
    pollMs: 25,
  });
  const leg = h.telegraph.calls.getLeg(callId)!;
  return { t, callId, call: leg.call, bot: leg.participant, users };
}

async function say(u: Person, step: Json): Promise<void> {
  const r = await h.sim('POST', `/users/${u.id}/calls/${u.simCallId}/say`, step);
  assert.equal(r.status, 202, JSON.stringify(r.body));
}

const tone = (frequencyHz: number, durationMs: number) => ({ tone: { frequencyHz, durationMs } });

async function botPlays(s: Setup): Promise<void> {
  const r = await h.request('POST', `/beta/communications/calls/${s.callId}/playPrompt`, {
    token: s.t.token,
    body: { prompts: [{ '@odata.type': '#microsoft.graph.mediaPrompt', mediaInfo: { uri: `${prompts.base}/bot.wav`, resourceId: 'bot-tone' } }] },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

function participantOf(s: Setup, u: Person): Participant {
  return [...s.call.participants.values()].find((p) => p.identity.id === u.id)!;
}

async function blobBytes(key: string): Promise<Uint8Array> {
  const r = await blobs.get(key);
  assert.ok(r, `blob ${key} exists`);
  return readAll(r.stream);
}

/** Every chunk of a status: its file, its metadata (both from the blob store), checked against each other. */
async function chunksOf(status: RecordingFileStatus): Promise<{ bytes: Uint8Array; meta: ChunkMetadata }[]> {
  const out = [];
  for (const c of status.chunks) {
    const bytes = await readAll((await recordings.openContent(c.documentId)).stream);
    const meta = JSON.parse(Buffer.from(await readAll((await recordings.openMetadata(c.documentId)).stream)).toString('utf8')) as ChunkMetadata;
    assert.equal(meta.chunkDocumentId, c.documentId);
    assert.equal(meta.chunkIndex, c.index);
    assert.equal(meta.recordingId, status.recordingId);
    assert.equal(meta.serverCallId, status.serverCallId);
    assert.equal(meta.chunkDuration, c.durationMs);
    assert.equal(bytes.length, c.bytes);
    out.push({ bytes, meta });
  }
  return out;
}

// ------------------------------------------------------------------------------ cases

test('unmixed WAV with audioChannelParticipantOrdering: each party on its own channel only; blobs in the file store', async () => {
  const s = await setup();
  const [u] = s.users as [Person];
  const userKey = `user:${u.id}`;
  const botKey = `application:${s.t.appId}`;
  const rec = recordings.start(s.call, {
    recordingChannelType: 'unmixed',
    recordingFormatType: 'wav',
    audioChannelParticipantOrdering: [userKey, botKey],
    participantKey: keyOf,
    stateCallbackUri: 'https://app.example/recording-state',
    owner: 'resource-1',
  });
  assert.match(rec.recordingId, /^[A-Za-z0-9_-]{20,}$/, 'a URL-safe opaque id');
  assert.equal(rec.state, 'active');
  assert.equal(rec.kind, 'azureCommunicationServices');
  assert.equal(rec.serverCallId, s.call.id);
  assert.deepEqual(recordings.get(rec.recordingId), rec);

  await say(u, tone(1000, 800));
  await botPlays(s);
  await sleep(1500);
  const status = await recordings.stop(rec.recordingId);

  assert.equal(status.recordingId, rec.recordingId);
  assert.equal(status.serverCallId, s.call.id);
  assert.equal(status.sessionEndReason, 'RecordingStopped');
  assert.equal(status.recordingChannelType, 'unmixed');
  assert.equal(status.recordingFormatType, 'wav');
  assert.equal(status.recordingContentType, 'audio');
  assert.equal(status.recordingStartTime, rec.startTime);
  assert.equal(status.stateCallbackUri, 'https://app.example/recording-state');
  assert.equal(status.owner, 'resource-1');
  assert.equal(status.hasContent, true);
  assert.deepEqual(status.uploadErrors, []);
  assert.equal(status.chunks.length, 1);
  const c = status.chunks[0]!;
  assert.equal(c.index, 0);
  assert.equal(c.endReason, 'SessionEnded');
  assert.equal(c.contentKey, `recordings/${rec.recordingId}/${c.documentId}/audio.wav`);
  assert.equal(c.metadataKey, `recordings/${rec.recordingId}/${c.documentId}/metadata.json`);
  assert.ok(statuses.includes(status), 'the file status went to the listeners');

  // The blobs are in the file store under <dataDir>/blobs.
  assert.ok(existsSync(join(h.dataDir, 'blobs', 'recordings', rec.recordingId, c.documentId)));
  assert.equal((await blobs.head(c.contentKey))?.contentType, 'audio/wav');
  assert.equal((await blobs.head(c.metadataKey))?.contentType, 'application/json');
  const [{ bytes, meta }] = (await chunksOf(status)) as [{ bytes: Uint8Array; meta: ChunkMetadata }];
  assert.deepEqual(bytes, await blobBytes(c.contentKey));

  // Durations: metadata = file = status.
  const f = readWavFormat(bytes);
  assert.equal(f.channels, 5, 'ACS unmixed WAV: channels 0-4');
  assert.equal(meta.chunkDuration, (f.frames * 1000) / RATE);
  assert.equal(status.recordingDurationMs, meta.chunkDuration);
  assert.ok(status.recordingDurationMs >= 1400, `${status.recordingDurationMs} ms recorded`);
  assert.equal(meta.isLastChunk, true);
  assert.equal(meta.chunkCount, 1);
  assert.equal(meta.sessionEndReason, 'RecordingStopped');
  assert.deepEqual(meta.recordingInfo, { contentType: 'audio', channelType: 'unmixed', format: 'wav', audioConfiguration: { sampleRate: 16000, bitRate: 16000 * 16 * 5, channels: 5 } });
  assert.deepEqual(meta.participants, [
    { participantId: userKey, channel: 0 },
    { participantId: botKey, channel: 1 },
  ]);

  // The audio: the user's tone on channel 0 only, the bot's on channel 1 only, the rest silent.
  const ch = wavChannels(bytes);
  assertNear(toneMs(ch[0]!, 1000), 800, 60, 'the user tone on channel 0 (ms)');
  assert.equal(toneMs(ch[0]!, BOT_HZ), 0, 'no bot tone on channel 0');
  assertNear(toneMs(ch[1]!, BOT_HZ), 800, 60, 'the bot tone on channel 1 (ms)');
  assert.equal(toneMs(ch[1]!, 1000), 0, 'no user tone on channel 1');
  for (const k of [2, 3, 4]) assert.ok(isSilent(ch[k]!), `channel ${k} is silent`);

  // State events: active at the start, inactive at the stop.
  const mine = states.filter((e) => e.recordingId === rec.recordingId);
  assert.deepEqual(mine.map((e) => [e.state, e.reason]), [['active', 'started'], ['inactive', 'stopped']]);
  assert.ok(mine.every((e) => e.startDateTime === rec.startTime && e.recordingKind === 'azureCommunicationServices' && e.stateCallbackUri === 'https://app.example/recording-state'));
  const after = recordings.get(rec.recordingId);
  assert.equal(after.state, 'inactive');
  assert.equal(after.ended, true);
  assert.deepEqual(recordings.documents(rec.recordingId).map((d) => d.documentId), [c.documentId]);
  await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
});

test('follows the call: a participant answering after the start is recorded on its reserved channel; one leaving is dropped', async () => {
  const s = await setup({ users: 2, manual: [1] });
  const [u1, u2] = s.users as [Person, Person];
  const rec = recordings.start(s.call, {
    recordingChannelType: 'unmixed',
    audioChannelParticipantOrdering: [`user:${u1.id}`, `user:${u2.id}`],
    participantKey: keyOf,
    tuning: { unmixedChannels: 2 },
  });
  await say(u1, tone(800, 500));
  await sleep(600);
  // The second user answers now: its leg attaches to the recording.
  assert.equal((await h.sim('POST', `/users/${u2.id}/calls/${u2.simCallId}/answer`)).status, 200);
  await until('the second user connected', 5000, () => h.telegraph.media.legOf(participantOf(s, u2)) !== null);
  await say(u2, tone(1400, 500));
  await sleep(650);
  // It leaves; the call (bot + first user) goes on and so does the recording.
  await h.sim('POST', `/users/${u2.id}/calls/${u2.simCallId}/hangup`);
  await until('the second user gone', 5000, () => h.telegraph.media.legOf(participantOf(s, u2)) === null);
  assert.equal(s.call.ended, false);
  assert.equal(recordings.get(rec.recordingId).state, 'active');
  await say(u1, tone(800, 500));
  await sleep(700);
  const status = await recordings.stop(rec.recordingId);

  const [{ bytes, meta }] = (await chunksOf(status)) as [{ bytes: Uint8Array; meta: ChunkMetadata }];
  const ch = wavChannels(bytes);
  assert.equal(ch.length, 2, 'two channels (tuning.unmixedChannels)');
  assert.deepEqual(toneRuns(ch[0]!, 800).map(runMs).map((ms) => Math.abs(ms - 500) <= 60), [true, true], 'the first user twice on channel 0');
  assert.equal(toneMs(ch[0]!, 1400), 0);
  assertNear(toneMs(ch[1]!, 1400), 500, 60, 'the late joiner on channel 1 (ms)');
  assert.equal(toneMs(ch[1]!, 800), 0);
  assert.deepEqual(meta.participants, [
    { participantId: `user:${u1.id}`, channel: 0 },
    { participantId: `user:${u2.id}`, channel: 1 },
  ]);
  assert.deepEqual(meta.unrecordedParticipants, [], 'the silent bot took no channel');
  await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
});

test('pause and resume: the paused span is absent from the file and listed in the metadata; chunks by duration', async () => {
  const s = await setup();
  const [u] = s.users as [Person];
  const rec = recordings.start(s.call, { recordingChannelType: 'mixed', recordingFormatType: 'wav', tuning: { maxChunkSeconds: 1.5 } });
  const t0 = Date.now();
  // A (600 Hz) … B (1200 Hz, said while paused) … C (1800 Hz)
  await say(u, tone(600, 600));
  await say(u, { silenceMs: 700 });
  await say(u, tone(1200, 600));
  await say(u, { silenceMs: 700 });
  await say(u, tone(1800, 600));
  await sleep(t0 + 950 - Date.now());
  const paused = recordings.pause(rec.recordingId);
  assert.equal(paused.state, 'inactive');
  assert.equal(recordings.pause(rec.recordingId).state, 'inactive', 'pausing a paused recording is fine');
  const pausedAt = Date.now();
  await sleep(t0 + 2250 - Date.now());
  assert.equal(recordings.resume(rec.recordingId).state, 'active');
  const pauseMs = Date.now() - pausedAt;
  assert.equal(recordings.resume(rec.recordingId).state, 'active', 'resuming an active recording is fine');
  await sleep(t0 + 3700 - Date.now());
  const stoppedAt = Date.now();
  const status = await recordings.stop(rec.recordingId);

  // Chunks: 1.5 s each, then the rest.
  assert.ok(status.chunks.length >= 2, `${status.chunks.length} chunks`);
  status.chunks.forEach((c, i) => {
    assert.equal(c.index, i);
    const last = i === status.chunks.length - 1;
    assert.equal(c.endReason, last ? 'SessionEnded' : 'ChunkMaximumTimeExceeded');
    if (!last) assert.equal(c.durationMs, 1500);
  });
  const chunks = await chunksOf(status);
  assert.equal(status.recordingDurationMs, chunks.reduce((a, c) => a + c.meta.chunkDuration, 0));
  for (const c of chunks) assert.equal(c.meta.chunkDuration, (readWavFormat(c.bytes).frames * 1000) / RATE, 'metadata duration = file duration');

  // The audio: A and C, not B; the file is shorter than the wall-clock time by the pause.
  const all = new Int16Array(chunks.reduce((a, c) => a + readWavFormat(c.bytes).frames, 0));
  let at = 0;
  for (const c of chunks) {
    const x = wavChannels(c.bytes)[0]!;
    all.set(x, at);
    at += x.length;
  }
  assertNear(toneMs(all, 600), 600, 60, 'A (before the pause)');
  assert.equal(toneMs(all, 1200), 0, 'B (said while paused) is absent');
  assertNear(toneMs(all, 1800), 600, 60, 'C (after the resume)');
  assertNear(status.recordingDurationMs, stoppedAt - Date.parse(status.recordingStartTime) - pauseMs, 120, 'recorded = wall clock − pause');

  // The pause: in the metadata of the chunk where the audio goes on, and in the status.
  const listed = chunks.flatMap((c) => c.meta.pauseResumeIntervals.map((p) => ({ ...p, chunk: c.meta.chunkIndex })));
  assert.equal(listed.length, 1, JSON.stringify(listed));
  const p = listed[0]!;
  assertNear(p.duration, pauseMs, 40, 'pause duration');
  const aEnd = toneRuns(all, 600)[0]!.end * FRAME_MS;
  const cStart = toneRuns(all, 1800)[0]!.start * FRAME_MS;
  assert.ok(p.recordingOffsetMs >= aEnd && p.recordingOffsetMs <= cStart, `the gap (${p.recordingOffsetMs} ms) lies between A (ends ${aEnd}) and C (starts ${cStart})`);
  assert.equal(p.offsetMs, p.recordingOffsetMs - chunks[p.chunk]!.meta.chunkStartOffsetMs);
  assert.deepEqual(status.pauseResumeIntervals, [{ startTime: p.startTime, endTime: p.endTime, duration: p.duration, offsetMs: p.offsetMs, recordingOffsetMs: p.recordingOffsetMs }]);

  const mine = states.filter((e) => e.recordingId === rec.recordingId);
  assert.deepEqual(mine.map((e) => [e.state, e.reason]), [['active', 'started'], ['inactive', 'paused'], ['active', 'resumed'], ['inactive', 'stopped']]);
  await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
});

test('a start whose index row cannot be written fails whole: no recording, its MP3 encoder closed, and the call can be recorded next', async () => {
  const s = await setup();
  const channels = () => mp3EncoderLoad().reduce((n, l) => n + l.channels, 0);
  const before = channels();
  const sql = (recordings as unknown as { sql: { insertRecording: (row: unknown) => void } }).sql;
  const insert = sql.insertRecording;
  sql.insertRecording = () => {
    throw new Error('database is locked');
  };
  try {
    assert.throws(() => recordings.start(s.call, { recordingChannelType: 'mixed', recordingFormatType: 'mp3' }), /database is locked/);
  } finally {
    sql.insertRecording = insert;
  }
  assert.equal(channels(), before, 'its encoder closed');
  const rec = recordings.start(s.call, { recordingChannelType: 'mixed', recordingFormatType: 'mp3' }); // not "already being recorded"
  assert.equal(channels(), before + 1);
  await recordings.stop(rec.recordingId);
  assert.equal(channels(), before);
  await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
});

test('mixed MP3 in chunks: each an MP3 whose length is its metadata duration', async () => {
  const s = await setup();
  const [u] = s.users as [Person];
  const rec = recordings.start(s.call, { recordingChannelType: 'mixed', recordingFormatType: 'mp3', tuning: { maxChunkSeconds: 1 } });
  await say(u, tone(1000, 1200));
  await sleep(2300);
  const status = await recordings.stop(rec.recordingId);
  assert.equal(status.recordingFormatType, 'mp3');
  assert.ok(status.chunks.length >= 2, `${status.chunks.length} chunks`);
  const chunks = await chunksOf(status);
  let total = 0;
  for (const [i, c] of chunks.entries()) {
    const ref = status.chunks[i]!;
    assert.equal(ref.contentKey, `recordings/${rec.recordingId}/${ref.documentId}/audio.mp3`);
    assert.equal((await blobs.head(ref.contentKey))?.contentType, 'audio/mpeg');
    const mp3 = parseMp3(c.bytes);
    assert.equal(mp3.sampleRate, RATE);
    assert.equal(mp3.channels, 1, 'mixed: mono');
    assert.equal(mp3.trailingBytes, 0);
    assert.equal(mp3.gaplessSamples, (c.meta.chunkDuration * RATE) / 1000, 'the Info tag states exactly the metadata duration');
    assert.deepEqual(c.meta.recordingInfo, { contentType: 'audio', channelType: 'mixed', format: 'mp3', audioConfiguration: { sampleRate: 16000, bitRate: 48000, channels: 1 } });
    assert.deepEqual(c.meta.participants.map((p) => p.channel), c.meta.participants.map(() => 0));
    total += c.meta.chunkDuration;
  }
  assert.equal(status.recordingDurationMs, total);
  assert.deepEqual(
    chunks.at(-1)!.meta.participants.map((p) => p.participantId).sort(),
    [s.bot.id, participantOf(s, u).id].sort(),
    'participants keyed by participant id by default',
  );
  await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
});

test('pauseOnStart never resumed: no file, and the status says so', async () => {
  const s = await setup();
  const [u] = s.users as [Person];
  const rec = recordings.start(s.call, { pauseOnStart: true });
  assert.equal(rec.state, 'inactive');
  await say(u, tone(1000, 400));
  await sleep(600);
  const status = await recordings.stop(rec.recordingId);
  assert.deepEqual(status.chunks, []);
  assert.equal(status.hasContent, false);
  assert.equal(status.recordingDurationMs, 0);
  assert.equal(status.pauseResumeIntervals.length, 1, 'the pause that never ended, listed');
  assert.deepEqual(await blobs.list(`recordings/${rec.recordingId}/`), []);
  assert.deepEqual(recordings.documents(rec.recordingId), []);
  // started inactive; stopping a paused recording changes no state
  assert.deepEqual(states.filter((e) => e.recordingId === rec.recordingId).map((e) => [e.state, e.reason]), [['inactive', 'started']]);
  await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
});

test('errors: one recording per call (Conflict), audioVideo, bad options, unknown ids, an ended recording', async () => {
  const s = await setup();
  const code = (c: string, field?: string) => (err: unknown) => {
    assert.ok(err instanceof CallRecordingError, String(err));
    assert.equal(err.code, c, err.message);
    if (field !== undefined) assert.equal(err.field, field, err.message);
    return true;
  };
  const first = recordings.start(s.call);
  assert.throws(() => recordings.start(s.call), (err) => {
    code('Conflict')(err);
    const e = err as CallRecordingError;
    assert.equal(e.status, 409);
    assert.match(e.message, new RegExp(`call ${s.call.id} is already being recorded \\(recording ${first.recordingId}`));
    return true;
  });
  recordings.pause(first.recordingId);
  assert.throws(() => recordings.start(s.call), code('Conflict'), 'a paused recording still holds the call');
  assert.equal(recordings.recordingOf(s.call)?.recordingId, first.recordingId);
  await recordings.stop(first.recordingId);
  assert.equal(recordings.recordingOf(s.call), null);

  assert.throws(() => recordings.start(s.call, { recordingContentType: 'audioVideo' }), (err) => {
    code('InvalidArgument', 'recordingContentType')(err);
    assert.match((err as Error).message, /recordingContentType.*audioVideo.*audio only/);
    return true;
  });
  assert.throws(() => recordings.start(s.call, { recordingChannelType: 'mixed', channelAffinity: [{ channel: 0, participantId: 'x' }] }), code('InvalidArgument', 'channelAffinity'));
  assert.throws(() => recordings.start(s.call, { recordingChannelType: 'unmixed', channelAffinity: [{ channel: 5, participantId: 'x' }] }), code('InvalidArgument', 'channelAffinity[0].channel'));
  assert.throws(() => recordings.start(s.call, { recordingFormatType: 'mp4' as 'wav' }), code('InvalidArgument', 'recordingFormatType'));
  assert.throws(() => recordings.start(s.call, { storage: { kind: 'azureBlob', containerUrl: 'not a url' } }), code('InvalidArgument', 'storage.containerUrl'));

  for (const act of [() => recordings.get('nope'), () => recordings.pause('nope'), () => recordings.resume('nope'), () => recordings.stop('nope')]) {
    assert.throws(act, code('NotFound'));
  }
  await assert.rejects(recordings.openContent('nope'), code('NotFound'));
  await assert.rejects(recordings.openMetadata('nope'), code('NotFound'));
  await assert.rejects(recordings.deleteContent('nope'), code('NotFound'));

  // An ended recording: its state is readable; pause/resume are refused; stop gives the same status again.
  const second = recordings.start(s.call);
  const st = await recordings.stop(second.recordingId);
  assert.equal(await recordings.stop(second.recordingId), st, 'stop is idempotent');
  assert.throws(() => recordings.pause(second.recordingId), code('RecordingEnded'));
  assert.throws(() => recordings.resume(second.recordingId), code('RecordingEnded'));
  assert.equal(recordings.get(second.recordingId).ended, true);
  await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
  await until('the call ended', 5000, () => s.call.ended);
  assert.throws(() => recordings.start(s.call), code('CallNotActive'));
});

test('the call ending stops the recording (sessionEndReason CallEnded)', async () => {
  const s = await setup();
  const [u] = s.users as [Person];
  const rec = recordings.start(s.call, { recordingFormatType: 'wav' });
  const ended = new Promise<RecordingFileStatus>((resolve) => {
    const off = recordings.onFileStatus((st) => {
      if (st.recordingId === rec.recordingId) {
        off();
        resolve(st);
      }
    });
  });
  await say(u, tone(1000, 400));
  await sleep(600);
  await h.sim('POST', `/users/${u.id}/calls/${u.simCallId}/hangup`);
  const status = await ended;
  assert.equal(s.call.ended, true);
  assert.equal(status.sessionEndReason, 'CallEnded');
  assert.equal(status.chunks.length, 1);
  const [{ bytes, meta }] = (await chunksOf(status)) as [{ bytes: Uint8Array; meta: ChunkMetadata }];
  assert.equal(meta.sessionEndReason, 'CallEnded');
  assertNear(toneMs(wavChannels(bytes)[0]!, 1000), 400, 60, 'the tone');
  const info = recordings.get(rec.recordingId);
  assert.equal(info.ended, true);
  assert.equal(info.state, 'inactive');
  assert.equal(info.sessionEndReason, 'CallEnded');
  assert.deepEqual(states.filter((e) => e.recordingId === rec.recordingId).map((e) => [e.state, e.reason]), [['active', 'started'], ['inactive', 'stopped']]);
});

test('external storage: the files go to the caller\'s Azure container (Azurite); read and deleted through the index', { timeout: 60_000 }, async () => {
  let azurite: Azurite | null = null;
  try {
    azurite = await startAzurite({ startTimeoutMs: 20_000 });
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('recordings-ext');
    await container.create();
    const sas = generateBlobSASQueryParameters(
      {
        containerName: 'recordings-ext',
        permissions: ContainerSASPermissions.parse('racwdl'),
        startsOn: new Date(Date.now() - 5 * 60_000),
        expiresOn: new Date(Date.now() + 3_600_000),
        protocol: SASProtocol.HttpsAndHttp,
      },
      new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
    ).toString();
    const containerUrl = `${azurite.blobEndpoint}/recordings-ext?${sas}`;

    const s = await setup();
    const [u] = s.users as [Person];
    const rec = recordings.start(s.call, { recordingChannelType: 'unmixed', storage: { kind: 'azureBlob', containerUrl }, participantKey: keyOf, audioChannelParticipantOrdering: [`user:${u.id}`] });
    assert.equal(rec.storage, 'azureBlob');
    await say(u, tone(1000, 500));
    await sleep(800);
    const status = await recordings.stop(rec.recordingId);
    assert.equal(status.storage, 'azureBlob');
    assert.deepEqual(status.uploadErrors, []);
    assert.equal(status.chunks.length, 1);
    const c = status.chunks[0]!;

    // In the container, not in Telegraph's own store.
    const names: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: `recordings/${rec.recordingId}/` })) names.push(b.name);
    assert.deepEqual(names.sort(), [c.contentKey, c.metadataKey].sort());
    assert.deepEqual(await blobs.list(`recordings/${rec.recordingId}/`), []);
    const direct = new Uint8Array(await container.getBlobClient(c.contentKey).downloadToBuffer());

    const [{ bytes, meta }] = (await chunksOf(status)) as [{ bytes: Uint8Array; meta: ChunkMetadata }];
    assert.deepEqual(bytes, direct);
    assertNear(toneMs(wavChannels(bytes)[0]!, 1000), 500, 60, 'the tone on channel 0');
    assert.deepEqual(meta.participants, [{ participantId: `user:${u.id}`, channel: 0 }]);
    const doc = recordings.document(c.documentId)!;
    assert.equal(doc.storage, 'azureBlob');
    assert.ok(!JSON.stringify(doc).includes('sig='), 'the SAS token is never shown');

    // A range of the content.
    const part = await recordings.openContent(c.documentId, { start: 0, end: 43 });
    assert.deepEqual(part.range, { start: 0, end: 43 });
    assert.deepEqual(await readAll(part.stream), bytes.subarray(0, 44));

    await recordings.deleteContent(c.documentId);
    const left: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: `recordings/${rec.recordingId}/` })) left.push(b.name);
    assert.deepEqual(left, [], 'content and metadata deleted from the container');
    await assert.rejects(recordings.openContent(c.documentId), (err) => err instanceof CallRecordingError && err.code === 'NotFound');
    await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
  } finally {
    await azurite?.stop();
  }
});

test('after a restart on the same data directory the content can still be opened, then deleted', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'telegraph-rec-restart-'));
  let h1: Harness | null = null;
  let h2: Harness | null = null;
  try {
    h1 = await Harness.start({ dataDir, keepData: true });
    const svc1 = serviceFor(h1);
    const saved = h;
    h = h1; // setup() and say() talk to this instance
    let status: RecordingFileStatus;
    let u: Person;
    try {
      const s = await setup();
      u = s.users[0]!;
      const rec = svc1.start(s.call, { recordingChannelType: 'unmixed', participantKey: keyOf, audioChannelParticipantOrdering: [`user:${u.id}`] });
      await say(u, tone(1000, 400));
      await sleep(700);
      status = await svc1.stop(rec.recordingId);
    } finally {
      h = saved;
    }
    assert.equal(status.chunks.length, 1);
    const c = status.chunks[0]!;
    const before = await readAll((await svc1.openContent(c.documentId)).stream);
    await svc1.close();
    await h1.stop();
    h1 = null;

    h2 = await Harness.start({ dataDir });
    const svc2 = serviceFor(h2);
    const doc = svc2.document(c.documentId);
    assert.ok(doc, 'the index survived the restart');
    assert.equal(doc.recordingId, status.recordingId);
    assert.equal(doc.contentKey, c.contentKey);
    const again = await svc2.openContent(c.documentId);
    assert.equal(again.contentType, 'audio/wav');
    assert.deepEqual(await readAll(again.stream), before);
    assertNear(toneMs(wavChannels(before)[0]!, 1000), 400, 60, 'the tone');
    const meta = JSON.parse(Buffer.from(await readAll((await svc2.openMetadata(c.documentId)).stream)).toString('utf8')) as ChunkMetadata;
    assert.equal(meta.chunkDocumentId, c.documentId);
    const info = svc2.get(status.recordingId);
    assert.equal(info.ended, true);
    assert.equal(info.state, 'inactive');
    assert.equal(info.sessionEndReason, 'RecordingStopped');
    assert.throws(() => svc2.pause(status.recordingId), (err) => err instanceof CallRecordingError && err.code === 'RecordingEnded');

    await svc2.deleteContent(c.documentId);
    await assert.rejects(svc2.openContent(c.documentId), (err) => err instanceof CallRecordingError && err.code === 'NotFound');
    const files = new FileBlobStore(join(dataDir, 'blobs'));
    assert.equal(await files.head(c.contentKey), null, 'the content is gone from the store');
    assert.equal(await files.head(c.metadataKey), null, 'the metadata is gone from the store');
    const svc3 = serviceFor(h2);
    assert.equal(svc3.document(c.documentId), null, 'and from the saved index');
    await svc3.close();
    await svc2.close();
  } finally {
    await h1?.stop();
    await h2?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('retention: chunks Telegraph stored are deleted once older than the retention (at start, then by the sweeper), not before', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'telegraph-rec-retention-'));
  let h1: Harness | null = null;
  const services: CallRecordings[] = [];
  try {
    h1 = await Harness.start({ dataDir });
    const hour = 3600_000;
    const files = new FileBlobStore(join(dataDir, 'blobs'));
    const service = (nowOffsetMs: number) => {
      const svc = new CallRecordings({ media: h1!.telegraph.media, store: h1!.telegraph.store, blobs: files, retentionMs: 24 * hour, now: () => Date.now() + nowOffsetMs });
      services.push(svc);
      return svc;
    };
    const svc = service(0);
    const saved = h;
    h = h1;
    let status: RecordingFileStatus;
    try {
      const s = await setup();
      const rec = svc.start(s.call, { recordingChannelType: 'mixed' });
      await say(s.users[0]!, tone(1000, 300));
      await sleep(500);
      status = await svc.stop(rec.recordingId);
    } finally {
      h = saved;
    }
    const c = status.chunks[0]!;
    assert.ok(await files.head(c.contentKey), 'written');

    // 23 hours later: kept
    assert.equal(await service(23 * hour).deleteExpired(), 0);
    assert.ok(svc.document(c.documentId) && (await files.head(c.contentKey)), 'kept within the retention');

    // 25 hours later, a Telegraph starting on this data: deleted at once by the sweeper, index included
    const later = service(25 * hour);
    await eventually(async () => (await files.head(c.contentKey)) === null, 'the expired content deleted at start', 5000, 25);
    assert.equal(await files.head(c.metadataKey), null, 'its metadata too');
    assert.equal(later.document(c.documentId), null);
    await assert.rejects(later.openContent(c.documentId), (err) => err instanceof CallRecordingError && err.code === 'NotFound');
    assert.equal(service(0).document(c.documentId), null, 'gone from the saved index');
    assert.equal(await later.deleteExpired(), 0, 'nothing left to delete');
  } finally {
    for (const s of services) await s.close();
    await h1?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
