// Service-hosted media through the Graph calls API, end to end with real audio: a local HTTP server
// serves the prompt WAVs, Telegraph plays them into real calls with virtual users, and the test
// listens to what each user heard (GET /simulator/.../recording) and to what recordResponse kept
// (GET recordingLocation), analysing the audio itself (Goertzel tone detection, exact sample
// matching of speech made by espeak-ng).
//
// Seeds: 000 (recordResponse, test/fixtures/seed000/recordResponse-request.json) and 002
// (sendDtmfTones, test/fixtures/seed002/sendDtmfTones-request.json) are posted verbatim; only the
// seed's https://cdn.contoso.com/beep.wav is swapped for the local prompt server's.
//
// The cases run concurrently, each in its own call (all set up in before(), after a warm-up call
// that also prefetches the prompts, so that no case's timers run during the set-up burst). Timers
// are asserted end to end with ±250 ms (notification delivery included), measured from the
// request's round trip and corrected for frames the media clock had to skip on a starved machine;
// the detectors' own precision is tested in dtmf.test.ts and vad.test.ts.
//
// espeak-ng is required (Debian: apt-get install espeak-ng). Without it these tests fail.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Harness, Webhook, callUsers, createTenant, type CallUser, type Json, type Recorded, type TestTenant } from '../helpers/harness.ts';
import { assertNear, openSpeechSynth, runMs, toneMs, toneRuns, type Run, type SpeechSynth } from '../helpers/audio.ts';
import { PromptServer } from '../helpers/promptServer.ts';
import { eventually, sleep } from '../helpers/wait.ts';
import { parseWav, writeWav } from '../../src/media/audio/Wav.ts';
import { sineTone } from '../../src/media/Tones.ts';

const RATE = 16000;
const FRAME = 320; // 20 ms
const FRAME_MS = 20;

const SEED000 = readFileSync(new URL('../fixtures/seed000/recordResponse-request.json', import.meta.url), 'utf8');
const SEED002 = readFileSync(new URL('../fixtures/seed002/sendDtmfTones-request.json', import.meta.url), 'utf8');
const SEED000_CONTEXT = 'd45324c1-fcb5-430a-902c-f20af696537c';
const SEED002_CONTEXT = 'e0be71f1-a14f-4cec-b65a-e7aba5db7c53';

const toneWav = (hz: number, ms: number) => writeWav(sineTone(hz, ms, -12), RATE, 1);

// ------------------------------------------------------------------------------ audio analysis

/** The longest run of `f` Hz, or a failure naming what was found. */
function longestToneRun(x: Int16Array, f: number, what: string): Run {
  const runs = toneRuns(x, f);
  assert.ok(runs.length > 0, `${what}: no ${f} Hz tone in ${x.length / RATE} s of audio`);
  return runs.reduce((a, b) => (runMs(b) > runMs(a) ? b : a));
}

/** Where `needle` occurs sample for sample in `hay`, or −1. */
function findExact(hay: Int16Array, needle: Int16Array, from = 0): number {
  outer: for (let p = from; p + needle.length <= hay.length; p++) {
    if (hay[p] !== needle[0]) continue;
    for (let i = 1; i < needle.length; i++) if (hay[p + i] !== needle[i]) continue outer;
    return p;
  }
  return -1;
}

/** Index of the first and last sample louder than `level`. */
function activeSpan(x: Int16Array, level = 300): { first: number; last: number } {
  let first = -1;
  let last = -1;
  for (let i = 0; i < x.length; i++) {
    if (Math.abs(x[i]!) > level) {
      if (first < 0) first = i;
      last = i;
    }
  }
  return { first, last };
}

/** Where the whole utterance `speech` lies in `hay` (exactly as spoken), or a failure. */
function locateSpeech(hay: Int16Array, speech: Int16Array, what: string): number {
  const { first } = activeSpan(speech, 1000);
  const probe = speech.subarray(first, first + 1600); // 100 ms of voiced speech
  const p = findExact(hay, probe);
  assert.ok(p >= 0, `${what}: the utterance is not in the audio (${(hay.length / RATE).toFixed(2)} s)`);
  return p - first;
}

function maxAbs(x: Int16Array, from: number, to: number): number {
  let m = 0;
  for (let i = Math.max(0, from); i < Math.min(x.length, to); i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

// ------------------------------------------------------------------------------ speech (espeak-ng)

interface Utterance {
  /** 16 kHz mono samples, as Telegraph will play them. */
  samples: Int16Array;
  /** Base64 of a 16 kHz mono WAV of them (what the virtual user is told to say). */
  wav64: string;
}

const TEXTS = {
  message: 'Hello, this is Adele. Please call me back about the invoice.',
  short: 'Yes, I will be there tomorrow.',
  long: 'This is a rather long answer, which keeps on going for well over a second.',
  group: 'Good morning everyone, can you hear me?',
} as const;
const speech = {} as Record<keyof typeof TEXTS, Utterance>;

async function synthesize(synth: SpeechSynth, text: string): Promise<Utterance> {
  const samples = await synth.speak(text, { voice: 'en-us', wpm: 165 });
  const wav = writeWav(samples, RATE, 1);
  return { samples, wav64: Buffer.from(wav).toString('base64') };
}

// ------------------------------------------------------------------------------ fixture state

let h: Harness;
let hook: Webhook;
let prompts: PromptServer;
let synth: SpeechSynth | undefined;

before(async () => {
  const tts = openSpeechSynth('telegraph-graph-media-', 'these tests make the virtual users speak with it');
  synth = tts;
  await Promise.all((Object.keys(TEXTS) as (keyof typeof TEXTS)[]).map(async (k) => { speech[k] = await synthesize(tts, TEXTS[k]); }));
  prompts = await new PromptServer().start();
  prompts.add('/beep.wav', toneWav(600, 700)); // the seed's prompt
  prompts.add('/p440.wav', toneWav(440, 1000));
  prompts.add('/answer-prefetch.wav', toneWav(650, 400));
  prompts.add('/p500.wav', toneWav(500, 500));
  prompts.add('/p800.wav', toneWav(800, 500));
  prompts.add('/p1100.wav', toneWav(1100, 500));
  prompts.add('/p1300.wav', toneWav(1300, 300));
  prompts.add('/p350.wav', toneWav(350, 800));
  prompts.add('/long.wav', toneWav(400, 3000));
  prompts.add('/queued.wav', toneWav(1800, 1000));
  prompts.add('/prefetch.wav', toneWav(550, 400));
  prompts.add('/page.wav', Buffer.from('<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in</body></html>'), 'text/html; charset=utf-8');
  h = await Harness.start({ config: { media: { recordingRetentionMs: 1000 } } });
  hook = await new Webhook().start();
  // Warm up every path the cases take (routes, tokens, media, notifications) before they run
  // side by side: a cold first pass stalls the event loop, and with it the media clock.
  // The prompts the timed cases play are in the prompt cache before they start (preFetchMedia).
  const cached = ['p440', 'p500', 'p800', 'p1100', 'p1300', 'p350', 'long', 'queued'].map((n) => ({ uri: `${prompts.base}/${n}.wav`, resourceId: `pp-${n.replace(/^p/, '')}` }));
  const w = await setup({ preFetchMedia: cached });
  const warm = await startOp(w, 'playPrompt', { prompts: [{ mediaInfo: { uri: `${prompts.base}/p1300.wav`, resourceId: 'pp-1300' } }] });
  await opEnded(w, warm.id, 5000);
  const rec = await startOp(w, 'recordResponse', recordBody({ maxRecordDurationInSeconds: 1 }));
  await say(w.users[0]!, speech.short);
  const recEnd = await opEnded(w, rec.id, 5000);
  await download(recEnd.n.resourceData.recordingLocation, recEnd.n.resourceData.recordingAccessToken);
  await ear(w, w.users[0]!);
  await h.request('DELETE', `/beta/communications/calls/${w.callId}`, { token: w.t.token });
  for (const c of cached) assert.equal(prompts.count(new URL(c.uri).pathname), 1, `${c.uri} prefetched`);
  await Promise.all(Object.entries(PLAN).map(async ([key, opts]) => prepared.set(key, await setup(opts))));
  await sleep(300);
});

after(async () => {
  await h?.stop();
  await hook?.stop();
  await prompts?.stop();
  synth?.close();
});

// ------------------------------------------------------------------------------ helpers

type Person = CallUser;

interface Setup {
  t: TestTenant;
  callId: string;
  users: Person[];
}

const until = <T>(what: string, ms: number, probe: () => Promise<T | null | undefined | false>, every = 50): Promise<T> => eventually(probe, what, ms, every);

/** A tenant of its own, and an established call from its bot to `users` virtual users (2+: a group call). */
async function setup(opts: { users?: number; permissions?: string[]; appHosted?: boolean; preFetchMedia?: Json[] } = {}): Promise<Setup> {
  const n = opts.users ?? 1;
  const t = await createTenant(h, {
    webhook: hook.url,
    users: Array.from({ length: n }, (_, i) => ({ displayName: `Listener ${i + 1}` })),
    ...(opts.permissions ? { permissions: opts.permissions } : {}),
  });
  const mediaConfig = opts.appHosted
    ? { '@odata.type': '#microsoft.graph.appHostedMediaConfig', blob: '<Media Session Configuration Blob>' }
    : { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig', ...(opts.preFetchMedia ? { preFetchMedia: opts.preFetchMedia } : {}) };
  const { callId, users } = await callUsers(h, hook, t, mediaConfig, { pollMs: 50 });
  return { t, callId, users };
}

function action(s: Setup, name: string, body: unknown, raw = false) {
  return h.request('POST', `/beta/communications/calls/${s.callId}/${name}`, raw ? { token: s.t.token, raw: body as string } : { token: s.t.token, body });
}

/** POSTs an action that must answer 200 + Location + a running operation; returns the operation. */
async function startOp(s: Setup, name: string, body: unknown, raw = false): Promise<Json> {
  const res = await action(s, name, body, raw);
  assert.equal(res.status, 200, `${name}: ${JSON.stringify(res.body)}`);
  assert.equal(res.headers.get('location'), `${h.url}/beta/communications/calls/${s.callId}/operations/${res.body.id}`);
  assert.equal(res.body.status, 'running', `${name}: ${JSON.stringify(res.body)}`);
  return res.body as Json;
}

function opEnded(s: Setup, opId: string, ms: number): Promise<Recorded> {
  const url = `/communications/calls/${s.callId}/operations/${opId}`;
  return hook.waitFor((r) => r.n.resourceUrl === url && r.n.changeType === 'deleted', ms, `operation ${opId} to end`);
}

async function ear(s: Setup, u: Person): Promise<Int16Array> {
  const r = await fetch(`${h.url}/simulator/users/${u.id}/calls/${u.simCallId}/recording`, { headers: { authorization: `Bearer ${h.adminKey}` } });
  assert.equal(r.status, 200);
  return parseWav(new Uint8Array(await r.arrayBuffer())).samples;
}

async function say(u: Person, what: Utterance): Promise<void> {
  const r = await h.sim('POST', `/users/${u.id}/calls/${u.simCallId}/say`, { wav: what.wav64 });
  assert.equal(r.status, 202, JSON.stringify(r.body));
}

async function press(u: Person, tones: string): Promise<void> {
  const r = await h.sim('POST', `/users/${u.id}/calls/${u.simCallId}/dtmf`, { tones });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function heardKeys(u: Person): Promise<string> {
  const r = await h.sim('GET', `/users/${u.id}/events`);
  return (r.body.value as Json[]).filter((e) => e.type === 'dtmfHeard' && e.callId === u.simCallId).map((e) => e.detail.key).join('');
}

async function download(location: string, token?: string): Promise<{ status: number; type: string | null; bytes: Uint8Array }> {
  const r = await fetch(location, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: r.status, type: r.headers.get('content-type'), bytes: new Uint8Array(await r.arrayBuffer()) };
}

const wavMs = (samples: Int16Array) => (samples.length * 1000) / RATE;

/** What a media timer took: between `min` and `max` ms (its start lies somewhere within the request's round trip). */
interface Took {
  min: number;
  max: number;
}

/**
 * A stopwatch for media timers, started just before the request that starts them; started() is
 * called when its response is in. Readings are wall-clock ms less the 20 ms frames the media clock
 * skipped meanwhile (a starved process plays its audio late, never faster); take them as soon as
 * the event arrives.
 */
function mediaTimer(): ((at: number) => Took) & { started(): void } {
  const skipped = () => h.telegraph.engine.stats().skippedFrames;
  const t0 = Date.now();
  let t1 = Number.NaN;
  const s0 = skipped();
  const read = (at: number): Took => {
    const lost = (skipped() - s0) * FRAME_MS;
    return { min: at - (Number.isNaN(t1) ? t0 : t1) - lost, max: at - t0 - lost };
  };
  return Object.assign(read, { started: () => { t1 = Date.now(); } });
}

/** The timer's reading is consistent with `expected` ± `tolerance` ms. */
function assertTook(took: Took, expected: number, tolerance: number, what: string): void {
  assert.ok(
    took.max >= expected - tolerance && took.min <= expected + tolerance,
    `${what}: took ${took.min}–${took.max} ms; ${expected} ± ${tolerance} ms expected`,
  );
}
const recordBody = (extra: Json) => ({ bargeInAllowed: false, playBeep: false, initialSilenceTimeoutInSeconds: 5, maxSilenceTimeoutInSeconds: 5, maxRecordDurationInSeconds: 10, ...extra });

/** The calls the cases use, set up side by side before any case runs (so their timers run on a quiet machine). */
const PLAN: Record<string, Parameters<typeof setup>[0]> = {
  seed002: {},
  dtmfCancel: {},
  dtmfHangup: {},
  dtmfRefuse: {},
  dtmfApp: { appHosted: true },
  seed000: {},
  initialSilence: {},
  maxSilence: {},
  maxRecord: {},
  recordCancel: {},
  recordHangup: {},
  recordDelete: {},
  recordLeaveGroup: { users: 2 },
  bargeIn: {},
  noBargeIn: {},
  recordHtml: {},
  recordRefused: {},
  recordBeta: {},
  recordApp: { appHosted: true },
  recordNoMedia: { permissions: ['Calls.Initiate.All'] },
  playOne: {},
  playThree: {},
  playLoop: {},
  playNotAudio: {},
  playSsrf: {},
  playCancel: {},
  subscribe: {},
  group: { users: 2 },
};
const prepared = new Map<string, Setup>();

function ready(key: keyof typeof PLAN): Setup {
  const s = prepared.get(key);
  assert.ok(s, `no prepared call '${key}'`);
  return s;
}

// ------------------------------------------------------------------------------ the cases

describe('service-hosted media, end to end with real audio', { concurrency: true }, () => {
  // ---------------------------------------------------------------- 1. sendDtmfTones

  test('seed 002 verbatim: twelve tones 1 s apart reach the user, who hears 1234567890*# in order', { timeout: 40_000 }, async () => {
    const s = ready('seed002');
    const timer = mediaTimer();
    const res = await h.request('POST', `/beta/communications/calls/${s.callId}/microsoft.graph.sendDtmfTones`, { token: s.t.token, raw: SEED002 });
    timer.started();
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('location'), `${h.url}/beta/communications/calls/${s.callId}/operations/${res.body.id}`);
    assert.equal(res.body['@odata.type'], '#microsoft.graph.sendDtmfTonesOperation');
    assert.equal(res.body.status, 'running');
    assert.equal(res.body.clientContext, SEED002_CONTEXT);
    assert.match(res.body.id, /^[0-9a-f-]{36}$/);

    const end = await opEnded(s, res.body.id, 20_000);
    const elapsed = timer(end.at);
    const d = end.n.resourceData;
    assert.equal(end.n.resourceUrl, `/communications/calls/${s.callId}/operations/${res.body.id}`);
    assert.equal(d['@odata.type'], '#microsoft.graph.sendDtmfTonesOperation');
    assert.equal(d.status, 'completed');
    assert.equal(d.completionReason, 'completedSuccessfully');
    assert.equal(d.clientContext, SEED002_CONTEXT);
    assert.equal(d.id, res.body.id);
    // 12 tones of 100 ms with 1000 ms between them: 12.2 s.
    assertTook(elapsed, 12_200, 300, 'twelve 100 ms tones with 1000 ms between them (ms)');
    const keys = await until('the user to hear all twelve keys', 2000, async () => { const k = await heardKeys(s.users[0]!); return k.length >= 12 && k; });
    assert.equal(keys, '1234567890*#');
  });

  test('sendDtmfTones cancelled by cancelMediaProcessing ends with mediaOperationCanceled; the rest is not sent', { timeout: 20_000 }, async () => {
    const s = ready('dtmfCancel');
    const op = await startOp(s, 'sendDtmfTones', { tones: ['tone1', 'tone2', 'tone3', 'tone4', 'tone5'], delayBetweenTonesMs: 1000, clientContext: 'dtmf-cancel' });
    await sleep(1500);
    const cancel = await action(s, 'cancelMediaProcessing', { clientContext: 'stop-it' });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    assert.equal(cancel.body.status, 'completed');
    const t1 = Date.now();
    const end = await opEnded(s, op.id, 3000);
    assert.ok(end.at - t1 < 1000, 'the cancellation takes effect at once');
    // As seed 002's first error example: status completed, completionReason mediaOperationCanceled.
    assert.equal(end.n.resourceData.status, 'completed');
    assert.equal(end.n.resourceData.completionReason, 'mediaOperationCanceled');
    assert.equal(end.n.resourceData.clientContext, 'dtmf-cancel');
    await sleep(1500);
    const keys = await heardKeys(s.users[0]!);
    assert.ok(keys === '12' || keys === '1', `the user heard '${keys}'; only the keys before the cancellation should be sent`);
  });

  test('sendDtmfTones cancelled by the user hanging up ends with mediaOperationCanceled', { timeout: 20_000 }, async () => {
    const s = ready('dtmfHangup');
    const op = await startOp(s, 'sendDtmfTones', { tones: ['1', '2', '3', '4'], delayBetweenTonesMs: 1000 });
    await sleep(700);
    const r = await h.sim('POST', `/users/${s.users[0]!.id}/calls/${s.users[0]!.simCallId}/hangup`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const end = await opEnded(s, op.id, 3000);
    assert.equal(end.n.resourceData.status, 'completed');
    assert.equal(end.n.resourceData.completionReason, 'mediaOperationCanceled');
    await hook.waitForState(s.callId, 'terminated', 3000);
  });

  test("sendDtmfTones refuses 'flash' (naming tones[i]) and app-hosted calls (saying why)", { timeout: 20_000 }, async () => {
    const s = ready('dtmfRefuse');
    const flash = await action(s, 'sendDtmfTones', { tones: ['tone1', 'flash'] });
    assert.equal(flash.status, 400);
    assert.match(flash.body.error.message, /tones\[1\]/);
    assert.match(flash.body.error.message, /flash/);
    const bogus = await action(s, 'sendDtmfTones', { tones: ['tone1', 'tone2', 'toneX'] });
    assert.equal(bogus.status, 400);
    assert.match(bogus.body.error.message, /tones\[2\]/);

    const app = ready('dtmfApp');
    for (const [name, body] of [
      ['sendDtmfTones', { tones: ['tone1'] }],
      ['playPrompt', { prompts: [{ mediaInfo: { uri: `${prompts.base}/p440.wav` } }] }],
      ['recordResponse', {}],
      ['cancelMediaProcessing', {}],
    ] as const) {
      const r = await action(app, name, body);
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, /serviceHostedMediaConfig/, name);
      assert.match(r.body.error.message, /appHostedMediaConfig/, name);
    }
  });

  // ---------------------------------------------------------------- 2. recordResponse, seed 000

  test('seed 000 verbatim: prompt, beep, speech, # → stopToneDetected; the recording downloads with its token only, then expires', { timeout: 40_000 }, async () => {
    const s = ready('seed000');
    const u = s.users[0]!;
    const body = SEED000.split('https://cdn.contoso.com/beep.wav').join(`${prompts.base}/beep.wav`);
    assert.notEqual(body, SEED000);
    const res = await action(s, 'recordResponse', body, true);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('location'), `${h.url}/beta/communications/calls/${s.callId}/operations/${res.body.id}`);
    assert.equal(res.body['@odata.type'], '#microsoft.graph.recordOperation');
    assert.match(res.body.id, /^[0-9a-f-]{36}$/);
    assert.equal(res.body.status, 'running');
    assert.equal(res.body.completionReason, null);
    assert.equal(res.body.resultInfo, null);
    assert.equal(res.body.recordingLocation, null);
    assert.equal(res.body.clientContext, SEED000_CONTEXT);

    // The user hears the prompt (600 Hz, 700 ms), then the beep (1 kHz, 300 ms) right after it.
    const heard = await until('the prompt and the beep to be heard', 5000, async () => {
      const x = await ear(s, u);
      const beep = toneRuns(x, 1000).find((r) => runMs(r) >= 260);
      return beep && x.length / FRAME >= beep.end + 2 ? x : null;
    }, 100);
    const prompt = longestToneRun(heard, 600, 'prompt');
    const beep = longestToneRun(heard, 1000, 'beep');
    assertNear(runMs(prompt), 700, 60, 'prompt duration heard (ms)');
    assertNear(runMs(beep), 300, 60, 'beep duration heard (ms)');
    const gap = (beep.start - prompt.end) * FRAME_MS;
    assert.ok(gap >= 0 && gap <= 120, `the beep follows the prompt (gap ${gap} ms)`);

    // The user answers, then presses #.
    await say(u, speech.message);
    await press(u, '#');
    const end = await opEnded(s, res.body.id, 15_000);
    const d = end.n.resourceData;
    assert.equal(d['@odata.type'], '#microsoft.graph.recordOperation');
    assert.equal(d.id, res.body.id);
    assert.equal(d.clientContext, SEED000_CONTEXT);
    assert.equal(d.status, 'completed');
    assert.equal(d.completionReason, 'stopToneDetected');
    assert.equal(typeof d.recordingLocation, 'string');
    assert.equal(typeof d.recordingAccessToken, 'string');
    assert.ok(d.recordingLocation.startsWith(`${h.url}/`), d.recordingLocation);

    const got = await download(d.recordingLocation, d.recordingAccessToken);
    assert.equal(got.status, 200);
    assert.equal(got.type, 'application/octet-stream');
    const wav = parseWav(got.bytes);
    assert.equal(wav.format.sampleRate, RATE);
    assert.equal(wav.format.channels, 1);
    // The speech is in it, sample for sample; the recording ends shortly after it (the # was pressed).
    const at = locateSpeech(wav.samples, speech.message.samples, 'recording');
    const speechEnd = at + speech.message.samples.length;
    assert.ok(at >= -FRAME, `the recording starts before the speech (at ${at})`);
    const tail = ((wav.samples.length - speechEnd) * 1000) / RATE;
    assert.ok(tail >= 0 && tail <= 400, `the recording ends ${tail} ms after the speech; the # follows it at once`);
    assert.ok(wavMs(wav.samples) >= wavMs(speech.message.samples), 'the recording is at least as long as the speech');
    assert.ok(wavMs(wav.samples) <= wavMs(speech.message.samples) + 1200, `the recording lasts ${wavMs(wav.samples)} ms for ${wavMs(speech.message.samples)} ms of speech`);

    // Access control.
    assert.equal((await download(d.recordingLocation)).status, 401);
    assert.equal((await download(d.recordingLocation, 'garbage.not.a-token')).status, 401);
    const other = await startOp(s, 'recordResponse', recordBody({ initialSilenceTimeoutInSeconds: 1, clientContext: 'second' }));
    const otherEnd = await opEnded(s, other.id, 5000);
    assert.equal(otherEnd.n.resourceData.completionReason, 'initialSilenceTimeout');
    assert.notEqual(otherEnd.n.resourceData.recordingLocation, d.recordingLocation);
    assert.equal((await download(d.recordingLocation, otherEnd.n.resourceData.recordingAccessToken)).status, 403);
    assert.equal((await download(otherEnd.n.resourceData.recordingLocation, d.recordingAccessToken)).status, 403);
    assert.equal((await download(d.recordingLocation, d.recordingAccessToken)).status, 200, 'still there while the call lasts');

    // One byte range at a time, as a media player asks (206); past the end, 416.
    const ranged = async (range: string) => {
      const r = await fetch(d.recordingLocation, { headers: { authorization: `Bearer ${d.recordingAccessToken}`, range } });
      return { status: r.status, contentRange: r.headers.get('content-range'), bytes: Buffer.from(await r.arrayBuffer()) };
    };
    const whole = Buffer.from(got.bytes);
    const head = await ranged('bytes=0-43');
    assert.equal(head.status, 206);
    assert.equal(head.contentRange, `bytes 0-43/${whole.length}`);
    assert.ok(head.bytes.equals(whole.subarray(0, 44)), 'the header, byte for byte');
    const tail2 = await ranged('bytes=-100');
    assert.equal(tail2.status, 206);
    assert.ok(tail2.bytes.equals(whole.subarray(whole.length - 100)), 'the last 100 bytes');
    const past = await ranged(`bytes=${whole.length}-`);
    assert.equal(past.status, 416);
    assert.equal(past.contentRange, `bytes */${whole.length}`);
    assert.equal((await ranged('bytes=0-1,5-9')).status, 200, 'several ranges: the whole file');

    // After the call ends and the retention (1 s) passes, it is gone.
    const hangUp = Date.now();
    const del = await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
    assert.equal(del.status, 204);
    await until('the recording to be deleted after the retention', 3000, async () => (await download(d.recordingLocation, d.recordingAccessToken)).status === 404, 20);
    assert.ok(Date.now() - hangUp >= 995, `deleted ${Date.now() - hangUp} ms after the hang-up: only after the retention (1 s)`);
    await hook.waitForState(s.callId, 'terminated', 3000);
    // What the user heard outlives its call (a leg's end tells its sinks; a recorder keeps its audio).
    const after = await ear(s, u);
    assert.ok(after.length >= heard.length, `${after.length} samples heard, downloaded after the call`);
    assertNear(runMs(longestToneRun(after, 1000, 'beep')), 300, 60, 'beep duration heard, after the call (ms)');
  });

  // ---------------------------------------------------------------- 3. completion reasons

  test('recordResponse: initialSilenceTimeout fires ~1 s after the beep ends when nobody speaks', { timeout: 20_000 }, async () => {
    const s = ready('initialSilence');
    const timer = mediaTimer();
    const op = await startOp(s, 'recordResponse', recordBody({ playBeep: true, initialSilenceTimeoutInSeconds: 1, clientContext: 'silence' }));
    timer.started();
    assert.equal(op['@odata.type'], '#microsoft.graph.recordOperation');
    const end = await opEnded(s, op.id, 5000);
    const elapsed = timer(end.at);
    const d = end.n.resourceData;
    // Seed 000: the timer "time[s] out and fail[s] the operation".
    assert.equal(d.status, 'failed');
    assert.equal(d.completionReason, 'initialSilenceTimeout');
    assert.deepEqual([d.resultInfo.code, d.resultInfo.subcode], [400, 8510]);
    // Beep 300 ms, then 1 s of silence.
    assertTook(elapsed, 1300, 250, 'initialSilenceTimeout after the request (ms)');
    const rec = parseWav((await download(d.recordingLocation, d.recordingAccessToken)).bytes).samples;
    assertNear(wavMs(rec), 1000, 40, 'recording length (ms): from the end of the beep to the timeout');
    assert.equal(maxAbs(rec, 0, rec.length), 0, 'nothing but silence was recorded (the beep is not)');
    const heard = await ear(s, s.users[0]!);
    assertNear(runMs(longestToneRun(heard, 1000, 'beep')), 300, 60, 'beep heard (ms)');
  });

  test('recordResponse: maxSilenceTimeout fires ~1 s after the speech ends', { timeout: 20_000 }, async () => {
    const s = ready('maxSilence');
    const op = await startOp(s, 'recordResponse', recordBody({ maxSilenceTimeoutInSeconds: 1, clientContext: 'pause' }));
    await say(s.users[0]!, speech.short);
    const end = await opEnded(s, op.id, 10_000);
    const d = end.n.resourceData;
    assert.equal(d.status, 'completed');
    assert.equal(d.completionReason, 'maxSilenceTimeout');
    assert.equal(d.resultInfo.code, 200);
    const rec = parseWav((await download(d.recordingLocation, d.recordingAccessToken)).bytes).samples;
    const at = locateSpeech(rec, speech.short.samples, 'recording');
    const spokenEnd = at + activeSpan(speech.short.samples).last;
    assertNear(((rec.length - spokenEnd) * 1000) / RATE, 1000, 200, 'silence recorded after the speech (ms)');
  });

  test('recordResponse: maxRecordDurationReached stops continuous speech after 1 s (200/8515)', { timeout: 20_000 }, async () => {
    const s = ready('maxRecord');
    const timer = mediaTimer();
    const op = await startOp(s, 'recordResponse', recordBody({ maxRecordDurationInSeconds: 1, clientContext: 'chatty' }));
    timer.started();
    await say(s.users[0]!, speech.long);
    const end = await opEnded(s, op.id, 5000);
    const elapsed = timer(end.at);
    const d = end.n.resourceData;
    assert.equal(d.status, 'completed');
    assert.equal(d.completionReason, 'maxRecordDurationReached');
    assert.deepEqual([d.resultInfo.code, d.resultInfo.subcode], [200, 8515]);
    assertTook(elapsed, 1000, 250, 'maxRecordDurationReached after the request (ms)');
    const rec = parseWav((await download(d.recordingLocation, d.recordingAccessToken)).bytes).samples;
    assertNear(wavMs(rec), 1000, 40, 'recording length (ms)');
    assert.ok(wavMs(speech.long.samples) > 2500, 'the utterance is longer than the limit');
    assert.ok(maxAbs(rec, 0, rec.length) > 3000, 'speech was recorded');
  });

  test('recordResponse: cancelMediaProcessing while recording → failed, operationCanceled, 400/8508', { timeout: 20_000 }, async () => {
    const s = ready('recordCancel');
    const op = await startOp(s, 'recordResponse', recordBody({ initialSilenceTimeoutInSeconds: 10, clientContext: 'to-cancel' }));
    await sleep(400);
    const cancel = await action(s, 'cancelMediaProcessing', { clientContext: 'cancel-record' });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    assert.equal(cancel.body['@odata.type'], '#microsoft.graph.cancelMediaProcessingOperation');
    assert.equal(cancel.body.status, 'completed');
    const t1 = Date.now();
    const end = await opEnded(s, op.id, 3000);
    assert.ok(end.at - t1 < 1000, 'cancelled at once');
    const d = end.n.resourceData;
    assert.equal(d.status, 'failed');
    assert.equal(d.completionReason, 'operationCanceled');
    assert.deepEqual([d.resultInfo.code, d.resultInfo.subcode], [400, 8508]);
    assert.equal(d.clientContext, 'to-cancel');
    // It had begun recording: what it recorded is kept (the silence until the cancellation).
    const rec = await download(d.recordingLocation, d.recordingAccessToken);
    assert.equal(rec.status, 200);
    assert.ok(wavMs(parseWav(rec.bytes).samples) >= 200, 'the silence before the cancellation was recorded');
  });

  // A message left before hanging up (the commonest voicemail) and a bot ending the call: the
  // operation ends with the recording, before the call's own end.
  for (const [key, who] of [['recordHangup', 'the caller hangs up'], ['recordDelete', 'the bot deletes the call']] as const) {
    test(`recordResponse: ${who} while recording → operationCanceled with the recording, then the call ends`, { timeout: 20_000 }, async () => {
      const s = ready(key);
      const u = s.users[0]!;
      const op = await startOp(s, 'recordResponse', recordBody({ maxSilenceTimeoutInSeconds: 5, clientContext: `cut-${key}` }));
      await say(u, speech.short);
      await sleep(wavMs(speech.short.samples) + 300);
      if (key === 'recordHangup') {
        const r = await h.sim('POST', `/users/${u.id}/calls/${u.simCallId}/hangup`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
      } else {
        const del = await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
        assert.equal(del.status, 204);
      }
      const end = await opEnded(s, op.id, 3000);
      const d = end.n.resourceData;
      assert.equal(typeof d.recordingLocation, 'string', `the recording is reported: ${JSON.stringify(d)}`);
      const rec = await download(d.recordingLocation, d.recordingAccessToken); // at once: the retention (1 s) runs from the call's end
      assert.equal(rec.status, 200, 'readable after the call ended, until the retention');
      assert.equal(d.status, 'failed');
      assert.equal(d.completionReason, 'operationCanceled');
      assert.deepEqual([d.resultInfo.code, d.resultInfo.subcode], [400, 8508]);
      const terminated = await hook.waitForState(s.callId, 'terminated', 3000);
      const order = hook.forCall(s.callId);
      assert.ok(order.indexOf(end) < order.indexOf(terminated), 'the operation ends before the call');
      const samples = parseWav(rec.bytes).samples;
      locateSpeech(samples, speech.short.samples, 'the message left before the end');
    });
  }

  test('recordResponse: the bot leaving a group call that goes on → its recordings expire after the retention all the same', { timeout: 20_000 }, async () => {
    const s = ready('recordLeaveGroup');
    const op = await startOp(s, 'recordResponse', recordBody({ initialSilenceTimeoutInSeconds: 1, clientContext: 'leave-group' }));
    const d = (await opEnded(s, op.id, 5000)).n.resourceData;
    assert.equal(d.completionReason, 'initialSilenceTimeout');
    assert.equal((await download(d.recordingLocation, d.recordingAccessToken)).status, 200);
    const del = await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
    assert.equal(del.status, 204);
    await hook.waitForState(s.callId, 'terminated', 3000);
    // the two users are still in their call with each other; the bot's call has ended
    for (const u of s.users) {
      const calls = await h.sim('GET', `/users/${u.id}/calls`);
      assert.deepEqual(calls.body.value.map((c: { state: string }) => c.state), ['connected'], `${u.id} still in the call`);
    }
    await until('the recording to be deleted (retention 1 s)', 5000, async () => (await download(d.recordingLocation, d.recordingAccessToken)).status === 404);
  });

  test('recordResponse with bargeInAllowed cancels the playing prompt and starts at once', { timeout: 20_000 }, async () => {
    const s = ready('bargeIn');
    const play = await startOp(s, 'playPrompt', { prompts: [{ mediaInfo: { uri: `${prompts.base}/long.wav`, resourceId: 'pp-long' } }] });
    await until('the prompt to be playing', 5000, async () => toneRuns(await ear(s, s.users[0]!), 400).some((r) => runMs(r) >= 200), 100);
    const timer = mediaTimer();
    const rec = await startOp(s, 'recordResponse', recordBody({ bargeInAllowed: true, playBeep: true, initialSilenceTimeoutInSeconds: 1 }));
    timer.started();
    const played = await opEnded(s, play.id, 3000);
    assert.ok(timer(played.at).min < 500, 'the prompt is cancelled at once');
    assert.equal(played.n.resourceData.completionReason, 'mediaOperationCanceled');
    const end = await opEnded(s, rec.id, 5000);
    const elapsed = timer(end.at);
    assert.equal(end.n.resourceData.completionReason, 'initialSilenceTimeout');
    assertTook(elapsed, 1300, 250, 'beep and 1 s of silence after barging in (ms)');
    const heard = await ear(s, s.users[0]!);
    const prompt = longestToneRun(heard, 400, 'prompt');
    const beep = longestToneRun(heard, 1000, 'beep');
    assert.ok(runMs(prompt) < 1500, `the prompt was cut short (${runMs(prompt)} ms)`);
    assert.ok(beep.start >= prompt.end && beep.start - prompt.end <= 6, `the beep follows at once (frames ${prompt.end} → ${beep.start})`);
  });

  test('recordResponse without bargeInAllowed waits for the playing prompt', { timeout: 20_000 }, async () => {
    const s = ready('noBargeIn');
    const timer = mediaTimer();
    const play = await startOp(s, 'playPrompt', { prompts: [{ mediaInfo: { uri: `${prompts.base}/p440.wav`, resourceId: 'pp-440' } }] });
    timer.started();
    const rec = await startOp(s, 'recordResponse', recordBody({ playBeep: true, initialSilenceTimeoutInSeconds: 1 }));
    const [p, r] = await Promise.all([opEnded(s, play.id, 5000), opEnded(s, rec.id, 6000)]);
    const elapsed = timer(r.at);
    assert.equal(p.n.resourceData.completionReason, 'completedSuccessfully');
    assert.equal(r.n.resourceData.completionReason, 'initialSilenceTimeout');
    assertTook(elapsed, 2300, 250, 'prompt 1 s, beep 0.3 s, silence 1 s (ms)');
  });

  test('recordResponse: a prompt that is an HTML page → failed, playPromptFailed, naming the cause', { timeout: 20_000 }, async () => {
    const s = ready('recordHtml');
    const op = await startOp(s, 'recordResponse', recordBody({ playBeep: true, prompts: [{ mediaInfo: { uri: `${prompts.base}/page.wav`, resourceId: 'rec-html-page' } }] }));
    const end = await opEnded(s, op.id, 5000);
    const d = end.n.resourceData;
    assert.equal(d.status, 'failed');
    assert.equal(d.completionReason, 'playPromptFailed');
    assert.match(d.resultInfo.message, /not a RIFF\/WAVE file|not usable WAV audio/);
    assert.match(d.resultInfo.message, /HTML/);
    assert.equal(d.recordingLocation, null);
    const heard = await ear(s, s.users[0]!);
    assert.equal(toneRuns(heard, 1000).length, 0, 'no beep after a failed prompt');
  });

  test("the beta 'record' action records like recordResponse: a key press stops it, the audio is kept", { timeout: 20_000 }, async () => {
    const s = ready('recordBeta');
    const op = await startOp(s, 'record', recordBody({ stopTones: ['#'], clientContext: 'beta-record' }));
    assert.equal(op['@odata.type'], '#microsoft.graph.recordOperation');
    await sleep(400);
    await press(s.users[0]!, '#');
    const end = await opEnded(s, op.id, 5000);
    const d = end.n.resourceData;
    assert.equal(d.status, 'completed');
    assert.equal(d.completionReason, 'stopToneDetected');
    assert.equal(d.clientContext, 'beta-record');
    const rec = await download(d.recordingLocation, d.recordingAccessToken);
    assert.equal(rec.status, 200);
    assert.ok(wavMs(parseWav(rec.bytes).samples) >= 300, 'the time before the key was recorded');
  });

  test('recordResponse: out-of-range parameters, two prompts, app-hosted calls and missing Calls.AccessMedia.All are refused', { timeout: 20_000 }, async () => {
    const s = ready('recordRefused');
    for (const field of ['initialSilenceTimeoutInSeconds', 'maxSilenceTimeoutInSeconds', 'maxRecordDurationInSeconds']) {
      for (const value of [0, 121, 1.5, '5']) {
        const r = await action(s, 'recordResponse', { [field]: value });
        assert.equal(r.status, 400, `${field}=${JSON.stringify(value)}: ${JSON.stringify(r.body)}`);
        assert.ok(r.body.error.message.includes(field), `${field}=${JSON.stringify(value)}: ${r.body.error.message}`);
      }
    }
    const two = await action(s, 'recordResponse', { prompts: [{ mediaInfo: { uri: `${prompts.base}/p440.wav` } }, { mediaInfo: { uri: `${prompts.base}/p500.wav` } }] });
    assert.equal(two.status, 400);
    assert.match(two.body.error.message, /prompts/);
    // The beta 'record' action takes the same body and checks.
    const beta = await action(s, 'record', { maxRecordDurationInSeconds: 0 });
    assert.equal(beta.status, 400);
    assert.match(beta.body.error.message, /maxRecordDurationInSeconds/);
    // A hook flash cannot be heard in the audio: refused as a stop tone, saying so.
    const flash = await action(s, 'recordResponse', { stopTones: ['#', 'flash'] });
    assert.equal(flash.status, 400);
    assert.match(flash.body.error.message, /stopTones\[1\]/);
    assert.match(flash.body.error.message, /detects tones in the audio only/);
    // Nothing was started by the refused requests.
    assert.equal(hook.forCall(s.callId).filter((r) => r.n.resourceUrl.includes('/operations/')).length, 0);

    const app = ready('recordApp');
    const r = await action(app, 'recordResponse', {});
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /serviceHostedMediaConfig/);

    const noMedia = ready('recordNoMedia');
    const f = await action(noMedia, 'recordResponse', {});
    assert.equal(f.status, 403, JSON.stringify(f.body));
    assert.match(f.body.error.message, /Calls\.AccessMedia\.All/);
  });

  // ---------------------------------------------------------------- 4. playPrompt

  test('playPrompt: one prompt completes after about its duration, and is heard', { timeout: 20_000 }, async () => {
    const s = ready('playOne');
    const timer = mediaTimer();
    const op = await startOp(s, 'playPrompt', { clientContext: 'one', prompts: [{ '@odata.type': '#microsoft.graph.mediaPrompt', mediaInfo: { uri: `${prompts.base}/p440.wav`, resourceId: 'pp-440' } }] });
    timer.started();
    assert.equal(op['@odata.type'], '#microsoft.graph.playPromptOperation');
    assert.equal(op.clientContext, 'one');
    const end = await opEnded(s, op.id, 5000);
    const elapsed = timer(end.at);
    const d = end.n.resourceData;
    assert.equal(d['@odata.type'], '#microsoft.graph.playPromptOperation');
    assert.equal(d.status, 'completed');
    assert.equal(d.completionReason, 'completedSuccessfully');
    assert.deepEqual([d.resultInfo.code, d.resultInfo.subcode], [200, 0]);
    assertTook(elapsed, 1000, 250, 'playPrompt of a 1 s prompt (ms)');
    assertNear(runMs(longestToneRun(await ear(s, s.users[0]!), 440, 'prompt')), 1000, 60, 'prompt heard (ms)');
  });

  test('playPrompt: three prompts in two requests play in order; the second request completes after the first', { timeout: 20_000 }, async () => {
    const s = ready('playThree');
    const timer = mediaTimer();
    const first = await startOp(s, 'playPrompt', { prompts: [{ mediaInfo: { uri: `${prompts.base}/p500.wav`, resourceId: 'pp-500' } }, { mediaInfo: { uri: `${prompts.base}/p800.wav`, resourceId: 'pp-800' } }] });
    timer.started();
    const second = await startOp(s, 'playPrompt', { prompts: [{ mediaInfo: { uri: `${prompts.base}/p1100.wav`, resourceId: 'pp-1100' } }] });
    const timed = (id: string) => opEnded(s, id, 5000).then((r) => ({ r, ms: timer(r.at) }));
    const [{ r: e1, ms: ms1 }, { r: e2, ms: ms2 }] = await Promise.all([timed(first.id), timed(second.id)]);
    assert.equal(e1.n.resourceData.status, 'completed');
    assert.equal(e2.n.resourceData.status, 'completed');
    assertTook(ms1, 1000, 250, 'first request done (ms)');
    assertTook(ms2, 1500, 250, 'second request done (ms)');
    assert.ok(e2.at >= e1.at, 'the second completes after the first');
    const heard = await ear(s, s.users[0]!);
    const a = longestToneRun(heard, 500, 'prompt 1');
    const b = longestToneRun(heard, 800, 'prompt 2');
    const c = longestToneRun(heard, 1100, 'prompt 3');
    for (const [r, name] of [[a, 1], [b, 2], [c, 3]] as const) assertNear(runMs(r), 500, 60, `prompt ${name} heard (ms)`);
    assert.ok(b.start >= a.end - 1 && b.start - a.end <= 2, `prompt 2 follows prompt 1 (frames ${a.end} → ${b.start})`);
    assert.ok(c.start >= b.end - 1 && c.start - b.end <= 6, `prompt 3 follows prompt 2 (frames ${b.end} → ${c.start})`);
  });

  test('playPrompt: loop plays the prompt that many times', { timeout: 20_000 }, async () => {
    const s = ready('playLoop');
    const timer = mediaTimer();
    const op = await startOp(s, 'playPrompt', { prompts: [{ loop: 3, mediaInfo: { uri: `${prompts.base}/p1300.wav`, resourceId: 'pp-1300' } }] });
    timer.started();
    const end = await opEnded(s, op.id, 5000);
    const elapsed = timer(end.at);
    assert.equal(end.n.resourceData.status, 'completed');
    assertTook(elapsed, 900, 250, 'three times 300 ms (ms)');
    const total = toneMs(await ear(s, s.users[0]!), 1300);
    assertNear(total, 900, 60, '1300 Hz heard in total (ms)');
  });

  test('playPrompt: a prompt that is not audio fails, naming the cause', { timeout: 20_000 }, async () => {
    const s = ready('playNotAudio');
    const op = await startOp(s, 'playPrompt', { prompts: [{ mediaInfo: { uri: `${prompts.base}/page.wav`, resourceId: 'pp-html' } }] });
    const d = (await opEnded(s, op.id, 5000)).n.resourceData;
    assert.equal(d.status, 'failed');
    assert.notEqual(d.completionReason, 'completedSuccessfully');
    assert.match(d.resultInfo.message, /not a RIFF\/WAVE file|not usable WAV audio/);
    assert.match(d.resultInfo.message, /HTML/);
    assert.doesNotMatch(d.resultInfo.message, /^unknown$/i);
  });

  test('playPrompt: a prompt on a denied address (169.254.169.254) fails, naming the SSRF rule', { timeout: 20_000 }, async () => {
    const s = ready('playSsrf');
    const op = await startOp(s, 'playPrompt', { prompts: [{ mediaInfo: { uri: 'http://169.254.169.254/x.wav', resourceId: 'pp-metadata' } }] });
    const d = (await opEnded(s, op.id, 5000)).n.resourceData;
    assert.equal(d.status, 'failed');
    assert.match(d.resultInfo.message, /169\.254\.169\.254/);
    assert.match(d.resultInfo.message, /metadata|link-local/);
  });

  test('cancelMediaProcessing cancels the running and the queued playPrompt', { timeout: 20_000 }, async () => {
    const s = ready('playCancel');
    const running = await startOp(s, 'playPrompt', { clientContext: 'long', prompts: [{ mediaInfo: { uri: `${prompts.base}/long.wav`, resourceId: 'pp-long' } }] });
    const queued = await startOp(s, 'playPrompt', { clientContext: 'queued', prompts: [{ mediaInfo: { uri: `${prompts.base}/queued.wav`, resourceId: 'pp-queued' } }] });
    await sleep(600);
    const cancel = await action(s, 'cancelMediaProcessing', { clientContext: 'cancel-all' });
    const t1 = Date.now();
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    assert.equal(cancel.body['@odata.type'], '#microsoft.graph.cancelMediaProcessingOperation');
    assert.equal(cancel.body.status, 'completed');
    assert.equal(cancel.body.clientContext, 'cancel-all');
    const ends = await Promise.all([opEnded(s, running.id, 3000), opEnded(s, queued.id, 3000)]);
    for (const [e, ctx] of [[ends[0], 'long'], [ends[1], 'queued']] as const) {
      const d = e.n.resourceData;
      assert.ok(e.at - t1 < 1000, `${ctx}: cancelled at once`);
      assert.equal(d.status, 'failed', ctx);
      assert.deepEqual([d.resultInfo.code, d.resultInfo.subcode], [400, 8508], ctx);
      assert.equal(d.completionReason, 'mediaOperationCanceled', ctx);
      assert.equal(d.clientContext, ctx);
    }
    await sleep(1200);
    // The cancel operation, complete in its response, gets no notification of its own.
    assert.equal(hook.forCall(s.callId).filter((r) => r.n.resourceUrl.endsWith(cancel.body.id)).length, 0);
    const heard = await ear(s, s.users[0]!);
    const long = longestToneRun(heard, 400, 'the long prompt');
    assert.ok(runMs(long) >= 300 && runMs(long) <= 1200, `the 3 s prompt stopped when cancelled (heard ${runMs(long)} ms)`);
    assert.equal(toneRuns(heard, 1800).length, 0, 'the queued prompt never played');
  });

  test('preFetchMedia: the prompt is fetched once at create; playPrompt with its resourceId makes no new request', { timeout: 20_000 }, async () => {
    const resourceId = 'prefetch-1a2b3c';
    assert.equal(prompts.count('/prefetch.wav'), 0);
    const s = await setup({ preFetchMedia: [{ uri: `${prompts.base}/prefetch.wav`, resourceId }] });
    await until('the prefetch request', 3000, async () => prompts.count('/prefetch.wav') >= 1);
    assert.equal(prompts.count('/prefetch.wav'), 1);
    // Same resourceId (the cache key), even with another query string: served from the cache.
    const op = await startOp(s, 'playPrompt', { prompts: [{ mediaInfo: { uri: `${prompts.base}/prefetch.wav?again=1`, resourceId } }] });
    const d = (await opEnded(s, op.id, 5000)).n.resourceData;
    assert.equal(d.status, 'completed');
    assert.equal(prompts.count('/prefetch.wav'), 1, 'no second request');
    assertNear(runMs(longestToneRun(await ear(s, s.users[0]!), 550, 'prefetched prompt')), 400, 60, 'prefetched prompt heard (ms)');
  });

  test('preFetchMedia on answer: the prompt is fetched when the bot answers, and played from the cache', { timeout: 20_000 }, async () => {
    const t = await createTenant(h, { webhook: hook.url, users: [{ displayName: 'Caller' }] });
    const caller = t.users[0]!;
    const placed = await h.sim('POST', `/users/${caller.id}/calls`, { phone: t.phoneNumber });
    assert.equal(placed.status, 201, JSON.stringify(placed.body));
    const created = await hook.waitFor((r) => r.n.changeType === 'created' && r.n.resourceData?.serverCallId === placed.body.serverCallId, 3000, 'the incoming call');
    const callId = created.n.resourceData.id as string;
    const resourceId = 'answer-prefetch-9f8e';
    assert.equal(prompts.count('/answer-prefetch.wav'), 0);
    const answered = await h.request('POST', `/v1.0/communications/calls/${callId}/answer`, {
      token: t.token,
      body: {
        callbackUri: hook.url,
        acceptedModalities: ['audio'],
        mediaConfig: { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig', preFetchMedia: [{ uri: `${prompts.base}/answer-prefetch.wav`, resourceId }] },
      },
    });
    assert.equal(answered.status, 202, JSON.stringify(answered.body));
    await until('the prefetch request on answer', 3000, async () => prompts.count('/answer-prefetch.wav') >= 1);
    await hook.waitForState(callId, 'established', 5000);
    const s: Setup = { t, callId, users: [{ id: caller.id, simCallId: placed.body.id as string }] };
    const op = await startOp(s, 'playPrompt', { prompts: [{ mediaInfo: { uri: `${prompts.base}/answer-prefetch.wav?again=1`, resourceId } }] });
    assert.equal((await opEnded(s, op.id, 5000)).n.resourceData.status, 'completed');
    assert.equal(prompts.count('/answer-prefetch.wav'), 1, 'no second request');
    assertNear(runMs(longestToneRun(await ear(s, s.users[0]!), 650, 'prefetched prompt')), 400, 60, 'prefetched prompt heard (ms)');
  });

  // ---------------------------------------------------------------- 5. subscribeToTone

  test('subscribeToTone: the user presses 123 in band → three toneInfo notifications naming the user', { timeout: 20_000 }, async () => {
    const s = ready('subscribe');
    const sub = await action(s, 'subscribeToTone', { clientContext: 'tones' });
    assert.equal(sub.status, 200, JSON.stringify(sub.body));
    assert.equal(sub.body['@odata.type'], '#microsoft.graph.subscribeToToneOperation');
    assert.equal(sub.body.status, 'completed');
    const parts = await h.request('GET', `/beta/communications/calls/${s.callId}/participants`, { token: s.t.token });
    const me = (parts.body.value as Json[]).find((p) => p.info?.identity?.user?.id === s.users[0]!.id);
    assert.ok(me, JSON.stringify(parts.body));
    assert.equal(me.id, s.users[0]!.simCallId);
    await press(s.users[0]!, '123');
    const isTone = (r: Recorded) => r.n.resourceUrl === `/communications/calls/${s.callId}` && r.n.resourceData?.toneInfo;
    await hook.waitFor((r) => Boolean(isTone(r) && r.n.resourceData.toneInfo.sequenceId === 3), 5000, 'the third toneInfo');
    await sleep(300);
    const infos = hook.forCall(s.callId).filter(isTone).map((r) => r.n.resourceData.toneInfo);
    assert.deepEqual(infos.map((i: Json) => [i.sequenceId, i.tone, i.participantId]), [
      [1, 'tone1', me.id],
      [2, 'tone2', me.id],
      [3, 'tone3', me.id],
    ]);
  });

  // ---------------------------------------------------------------- 6. group call

  test('group call: both users hear the prompt; A is heard by B once, exactly, and not by A itself', { timeout: 20_000 }, async () => {
    const s = ready('group');
    const [a, b] = s.users as [Person, Person];
    const op = await startOp(s, 'playPrompt', { prompts: [{ mediaInfo: { uri: `${prompts.base}/p350.wav`, resourceId: 'pp-350' } }] });
    assert.equal((await opEnded(s, op.id, 5000)).n.resourceData.status, 'completed');
    await say(a, speech.group);
    const utt = speech.group.samples;
    const bEar = await until('B to have heard all of what A said', 8000, async () => {
      const x = await ear(s, b);
      const { first } = activeSpan(utt, 1000);
      const p = findExact(x, utt.subarray(first, first + 1600));
      return p >= 0 && x.length >= p - first + utt.length + 10 * FRAME ? x : null;
    }, 200);
    const aEar = await ear(s, a);
    const promptA = longestToneRun(aEar, 350, 'A: prompt');
    const promptB = longestToneRun(bEar, 350, 'B: prompt');
    assertNear(runMs(promptA), 800, 60, 'A heard the prompt (ms)');
    assertNear(runMs(promptB), 800, 60, 'B heard the prompt (ms)');
    // B: after the prompt, exactly A's utterance once (sample for sample, not doubled), silence around it.
    const at = locateSpeech(bEar, utt, 'B');
    const from = at < 0 ? -at : 0;
    for (let i = from; i < utt.length; i++) if (bEar[at + i] !== utt[i]) assert.fail(`B heard A altered at sample ${i}`);
    assert.equal(maxAbs(bEar, promptB.end * FRAME + FRAME, at), 0, 'B hears nothing between the prompt and A');
    assert.equal(maxAbs(bEar, at + utt.length, bEar.length), 0, 'B hears A only once');
    // A hears nothing of itself.
    assert.equal(maxAbs(aEar, promptA.end * FRAME + FRAME, aEar.length), 0, 'A does not hear itself');
    assert.ok(aEar.length / RATE > (at + utt.length) / RATE - 0.5, 'A\'s ear covers the time A spoke');
  });

  // ---------------------------------------------------------------- 7. scripted callers (behaviour.script)

  /** A tenant whose one user follows `script`, called by the bot; the call and the user. */
  async function scripted(script: Json[]): Promise<Setup> {
    const t = await createTenant(h, { webhook: hook.url, users: [{ displayName: 'Scripted caller', behaviour: { script } }] });
    const { callId, users } = await callUsers(h, hook, t, { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' }, { pollMs: 50 });
    return { t, callId, users };
  }

  async function events(u: Person): Promise<Json[]> {
    return ((await h.sim('GET', `/users/${u.id}/events`)).body.value as Json[]).filter((e) => e.callId === u.simCallId);
  }

  test('a scripted caller leaves a voicemail: a WAV by path, one by URL, a tone, noise, # and a hang-up, all in the recording', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'telegraph-script-'));
    try {
      const message = join(dir, 'message.wav');
      writeFileSync(message, Buffer.from(speech.short.wav64, 'base64'));
      const s = await scripted([
        { silenceMs: 2500 }, // the bot's recordResponse (no beep) starts well within it
        { say: message },
        { say: `${prompts.base}/p1100.wav` },
        { tone: { frequencyHz: 900, durationMs: 300, dbfs: -12 } },
        { noise: { durationMs: 300, dbfs: -30 } },
        { dtmf: '#' },
        { silenceMs: 500 },
        { hangUp: true },
      ]);
      const u = s.users[0]!;
      const op = await startOp(s, 'recordResponse', recordBody({ stopTones: ['#'], clientContext: 'scripted' }));
      const end = await opEnded(s, op.id, 15_000);
      const d = end.n.resourceData;
      assert.equal(d.completionReason, 'stopToneDetected', JSON.stringify(d));
      const rec = parseWav((await download(d.recordingLocation, d.recordingAccessToken)).bytes).samples;
      const at = locateSpeech(rec, speech.short.samples, 'the said WAV (by path)');
      const url = longestToneRun(rec, 1100, 'the said WAV (by URL)');
      const tone = longestToneRun(rec, 900, 'the tone step');
      assertNear(runMs(url), 500, 60, 'the WAV by URL (ms)');
      assertNear(runMs(tone), 300, 60, 'the tone step (ms)');
      assert.ok(at + speech.short.samples.length <= url.start * FRAME + FRAME && url.end <= tone.start + 1, 'the steps in order');
      const noise = rec.subarray(tone.end * FRAME + FRAME, tone.end * FRAME + 6 * FRAME);
      assert.ok(maxAbs(noise, 0, noise.length) > 200, 'the noise step follows the tone');
      // The script goes on after the key: half a second, then it hangs up, which ends the bot's call.
      await hook.waitForState(s.callId, 'terminated', 5000);
      const types = (await events(u)).map((e) => e.type);
      assert.ok(types.includes('dtmfSent'), `a script's key is logged as sent: ${types.join(' ')}`);
      assert.ok(types.indexOf('scriptHangUp') >= 0 && types.indexOf('scriptHangUp') < types.indexOf('ended'), types.join(' '));
      assert.ok(!types.includes('scriptFailed'), types.join(' '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a script step that cannot run stops the script with scriptFailed, naming the step and the reason; the caller stays', { timeout: 20_000 }, async () => {
    const missing = join(tmpdir(), `telegraph-no-such-${process.pid}.wav`);
    const s = await scripted([{ silenceMs: 100 }, { say: missing }, { hangUp: true }]);
    const u = s.users[0]!;
    const failed = await until('scriptFailed', 5000, async () => (await events(u)).find((e) => e.type === 'scriptFailed'));
    assert.deepEqual(failed.detail.step, { say: missing });
    assert.match(failed.detail.reason, /ENOENT/);
    await sleep(300);
    const types = (await events(u)).map((e) => e.type);
    assert.ok(!types.includes('scriptHangUp') && !types.includes('ended'), `the later steps did not run: ${types.join(' ')}`);
    const del = await h.request('DELETE', `/beta/communications/calls/${s.callId}`, { token: s.t.token });
    assert.equal(del.status, 204);
  });
});
