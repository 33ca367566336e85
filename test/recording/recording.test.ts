/**
 * The recording engine (src/recording): a MediaEngine ticked by hand, legs speaking known audio
 * (Player sources with sine tones of a distinct frequency per participant, or a sample counter where
 * the exact order of samples matters), recorded and read back:
 *   - unmixed: each participant's tone on its own channel (Goertzel energy at every participant's
 *     frequency on every channel), the other channels exactly silent, the channel holding exactly
 *     what the participant said; channels in order of first speech, or as ordering / affinity say;
 *     a participant beyond the channels not recorded; leaving and re-joining;
 *   - mixed: every tone in the one channel, which is exactly the clipped sum of the unmuted talkers;
 *   - pause / resume / pauseOnStart: the paused span absent (the counter runs on without a gap or a
 *     repeat), the pause intervals in the metadata;
 *   - chunks by duration and by size: indexes, endReasons, durations adding up to the audio;
 *   - mp3: frames, Info tag, duration (gapless exact; plain decode within the documented delay);
 *   - configuration errors, each naming its field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaEngine } from '../../src/media/MediaEngine.ts';
import { FRAME_SAMPLES, SAMPLE_RATE, type FrameSink, type FrameSource } from '../../src/media/MediaFormat.ts';
import type { MediaLeg } from '../../src/media/MediaLeg.ts';
import type { MediaSession } from '../../src/media/MediaSession.ts';
import { Player } from '../../src/media/Player.ts';
import { sineTone } from '../../src/media/Tones.ts';
import { readWavFormat } from '../../src/media/audio/Wav.ts';
import {
  RecordingConfigError,
  RecordingSession,
  LOOKBACK_FRAMES,
  type RecordingChunk,
  type RecordingOptions,
} from '../../src/recording/RecordingSession.ts';
import { EncoderBusyError, Mp3ChunkWriter, mp3EncoderLoad, terminateMp3Encoders } from '../../src/recording/ChunkWriter.ts';
import { eventually } from '../helpers/wait.ts';
import { MP3_DECODER_DELAY, MP3_ENCODER_DELAY, MP3_FRAME_SAMPLES, mp3AudioFrames, parseMp3 } from '../../src/recording/Mp3.ts';
import { dbfsAmplitude, isSilent, readChannels, toneAmplitude } from '../helpers/audio.ts';

const T0 = Date.UTC(2026, 0, 15, 9, 0, 0);
const FREQ: Record<string, number> = { A: 500, B: 900, C: 1300, D: 1700, E: 2100, F: 2500 };
const TONE_DBFS = -12;
const TONE_AMP = dbfsAmplitude(TONE_DBFS);

/** Keeps what a leg said each tick (a copy; zeros when silent), and whether it was muted. */
class Capture implements FrameSink {
  readonly frames: Int16Array[] = [];
  readonly muted: boolean[] = [];
  constructor(private readonly leg: MediaLeg) {}
  write(frame: Int16Array, silent: boolean): void {
    this.frames.push(silent ? new Int16Array(FRAME_SAMPLES) : frame.slice());
    this.muted.push(this.leg.muted);
  }
}

/** Speaks a sample counter (1…30000, repeating): any gap or repeat in a recording of it shows. */
class Counter implements FrameSource {
  n = 0;
  frame(out: Int16Array): Int16Array {
    for (let i = 0; i < FRAME_SAMPLES; i++) out[i] = ((this.n * FRAME_SAMPLES + i) % 30000) + 1;
    this.n++;
    return out;
  }
}

interface Party {
  id: string;
  leg: MediaLeg;
  player: Player;
  /** Capture per tick, aligned with the harness tick (null before the leg existed). */
  said: (Int16Array | null)[];
  capture: Capture;
  joinedAt: number;
}

class Harness {
  readonly engine = new MediaEngine();
  readonly session: MediaSession = this.engine.createSession('call-1');
  wall = T0;
  t = 0;
  readonly chunks: RecordingChunk[] = [];
  readonly parties = new Map<string, Party>();

  party(id: string, source?: FrameSource): Party {
    const leg = this.session.addLeg(id);
    const player = new Player();
    leg.addSource(source ?? player);
    const capture = new Capture(leg);
    leg.addTap(capture);
    const p: Party = { id, leg, player, said: [], capture, joinedAt: this.t };
    this.parties.set(id, p);
    return p;
  }

  tone(id: string, ms: number): void {
    this.parties.get(id)!.player.enqueue({ kind: 'buffer', samples: sineTone(FREQ[id]!, ms, TONE_DBFS) });
  }

  recording(opts: Partial<RecordingOptions> = {}): RecordingSession {
    return new RecordingSession(this.session, {
      recordingId: 'rec-1',
      serverCallId: 'server-call-1',
      onChunk: (c) => {
        this.chunks.push(c);
      },
      now: () => this.wall,
      ...opts,
    });
  }

  /** Ticks n times; `at[k]` runs before tick k (harness time). */
  run(n: number, at: Record<number, () => void> = {}): void {
    for (let i = 0; i < n; i++) {
      at[this.t]?.();
      this.engine.tick();
      this.t++;
      this.wall += 20;
    }
  }

  /** What the party said at harness tick k (zeros if absent or silent). */
  said(id: string, k: number): Int16Array {
    const p = this.parties.get(id)!;
    const i = k - p.joinedAt;
    return p.capture.frames[i] ?? new Int16Array(FRAME_SAMPLES);
  }
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** All chunks' audio, channel by channel, joined. */
function recordedChannels(chunks: RecordingChunk[]): Int16Array[] {
  const per = chunks.map((c) => readChannels(c.bytes).channels);
  return per[0]!.map((_, ch) => concat(per.map((p) => p[ch]!)));
}

/** Amplitude of the component at `freq` (Goertzel), over x[start, start + len). */
const goertzel = (x: Int16Array, start: number, len: number, freq: number): number => toneAmplitude(x, start, len, freq, SAMPLE_RATE);

function firstNonZero(x: Int16Array): number {
  for (let i = 0; i < x.length; i++) if (x[i] !== 0) return i;
  return -1;
}

/** The recording of `id` expected on its channel: what it said at ticks [from, to), minus paused ticks. */
function expectedTrack(h: Harness, id: string, ticks: number[]): Int16Array {
  return concat(ticks.map((k) => h.said(id, k)));
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

// ------------------------------------------------------------------------------------------------

test('unmixed wav: channels in order of first speech; each tone alone on its channel, the rest silent', async () => {
  const h = new Harness();
  for (const id of ['A', 'B', 'C']) h.party(id);
  const rec = h.recording({ recordingChannelType: 'unmixed' });
  rec.start();
  // B speaks first (0.2 s), then A (0.6 s), then C (1.0 s); each for 1 s: they overlap.
  h.run(100, { 10: () => h.tone('B', 1000), 30: () => h.tone('A', 1000), 50: () => h.tone('C', 1000) });
  assert.equal(rec.recordedMs, (100 - LOOKBACK_FRAMES) * 20, 'an unmixed recording runs the lookback behind the call');
  const summary = await rec.stop();
  assert.deepEqual(summary.participants, [
    { participantId: 'B', channel: 0 },
    { participantId: 'A', channel: 1 },
    { participantId: 'C', channel: 2 },
  ]);
  assert.equal(h.chunks.length, 1);
  const chunk = h.chunks[0]!;
  const { channels, rate } = readChannels(chunk.bytes);
  assert.equal(rate, 16000);
  assert.equal(channels.length, 5, 'an unmixed wav has channels 0–4');
  assert.equal(channels[0]!.length, 100 * FRAME_SAMPLES, 'every tick recorded');
  assert.equal(chunk.durationMs, 2000);
  assert.equal(chunk.metadata.chunkDuration, 2000);
  assert.deepEqual(chunk.metadata.participants, summary.participants);
  assert.equal(chunk.metadata.recordingInfo.audioConfiguration.channels, 5);

  // Goertzel: each channel's energy at each participant's frequency, while that channel's owner speaks.
  const owner = ['B', 'A', 'C'];
  const startTick: Record<string, number> = { B: 10, A: 30, C: 50 };
  for (let c = 0; c < 3; c++) {
    const own = owner[c]!;
    const from = (startTick[own]! + 5) * FRAME_SAMPLES; // past the 5 ms ramp
    const len = 40 * FRAME_SAMPLES; // 0.8 s, a whole number of cycles of every frequency
    const amp = goertzel(channels[c]!, from, len, FREQ[own]!);
    assert.ok(Math.abs(amp - TONE_AMP) / TONE_AMP < 0.01, `channel ${c}: ${own}'s tone at full level (${amp.toFixed(0)} vs ${TONE_AMP.toFixed(0)})`);
    for (const other of owner.filter((o) => o !== own)) {
      const leak = goertzel(channels[c]!, from, len, FREQ[other]!);
      assert.ok(leak < 1e-4 * TONE_AMP, `channel ${c} holds no ${other} (${leak})`);
    }
  }
  assert.ok(isSilent(channels[3]!) && isSilent(channels[4]!), 'unused channels are silent');
  // Exactly what each said, from the first frame of its speech (the lookback covers the detector's onset).
  for (let c = 0; c < 3; c++) {
    const own = owner[c]!;
    assert.deepEqual(channels[c], expectedTrack(h, own, range(0, 100)), `channel ${c} is exactly ${own}'s audio`);
    assert.ok(Math.abs(firstNonZero(channels[c]!) - startTick[own]! * FRAME_SAMPLES) <= 1, `${own}'s speech starts on time`);
  }
});

test('unmixed: audioChannelParticipantOrdering and channelAffinity reserve channels; the rest go by first speech', async () => {
  const h = new Harness();
  for (const id of ['A', 'B', 'C', 'D']) h.party(id);
  const rec = h.recording({
    recordingChannelType: 'unmixed',
    audioChannelParticipantOrdering: ['C'],
    channelAffinity: [{ channel: 3, participantId: 'A' }],
  });
  rec.start();
  // Reserved participants have their channels before speaking.
  assert.equal(rec.channelOf('C'), 0);
  assert.equal(rec.channelOf('A'), 3);
  assert.equal(rec.channelOf('B'), -1);
  // Speaking order: A, D, B, C. D and B take the lowest channels not reserved: 1 and 2.
  h.run(80, { 5: () => h.tone('A', 400), 15: () => h.tone('D', 400), 25: () => h.tone('B', 400), 35: () => h.tone('C', 400) });
  const summary = await rec.stop();
  assert.deepEqual(summary.participants, [
    { participantId: 'C', channel: 0 },
    { participantId: 'D', channel: 1 },
    { participantId: 'B', channel: 2 },
    { participantId: 'A', channel: 3 },
  ]);
  const ch = recordedChannels(h.chunks);
  const order = ['C', 'D', 'B', 'A'];
  for (let c = 0; c < 4; c++) {
    for (const id of order) {
      const amp = goertzel(ch[c]!, 0, ch[c]!.length, FREQ[id]!);
      if (id === order[c]) assert.ok(amp > 0.05 * TONE_AMP, `${id} on channel ${c}`);
      else assert.ok(amp < 1e-4 * TONE_AMP, `${id} not on channel ${c}`);
    }
    assert.deepEqual(ch[c], expectedTrack(h, order[c]!, range(0, 80)));
  }
  assert.ok(isSilent(ch[4]!));
});

test('unmixed: channelAffinity alone; a participant in ordering but absent leaves its channel silent', async () => {
  const h = new Harness();
  h.party('A');
  h.party('B');
  const rec = h.recording({
    recordingChannelType: 'unmixed',
    audioChannelParticipantOrdering: ['nobody'],
    channelAffinity: [{ channel: 2, participantId: 'A' }],
    unmixedChannels: 4,
  });
  rec.start();
  h.run(40, { 2: () => h.tone('A', 300), 10: () => h.tone('B', 300) });
  const summary = await rec.stop();
  assert.deepEqual(summary.participants, [
    { participantId: 'B', channel: 1 },
    { participantId: 'A', channel: 2 },
  ]);
  const ch = recordedChannels(h.chunks);
  assert.equal(ch.length, 4);
  assert.ok(isSilent(ch[0]!), "the absent participant's channel");
  assert.ok(isSilent(ch[3]!));
  assert.deepEqual(ch[1], expectedTrack(h, 'B', range(0, 40)));
  assert.deepEqual(ch[2], expectedTrack(h, 'A', range(0, 40)));
});

test('unmixed: a participant first heard when all 5 channels are taken is not recorded, and counted', async () => {
  const h = new Harness();
  const ids = ['A', 'B', 'C', 'D', 'E', 'F'];
  for (const id of ids) h.party(id);
  const rec = h.recording({ recordingChannelType: 'unmixed' });
  rec.start();
  const at: Record<number, () => void> = {};
  ids.forEach((id, i) => (at[5 + 10 * i] = () => h.tone(id, 300)));
  h.run(90, at);
  const summary = await rec.stop();
  assert.deepEqual(
    summary.participants.map((p) => p.participantId),
    ['A', 'B', 'C', 'D', 'E'],
  );
  assert.deepEqual(summary.unrecordedParticipants, ['F']);
  assert.deepEqual(h.chunks[0]!.metadata.unrecordedParticipants, ['F']);
  const ch = recordedChannels(h.chunks);
  for (let c = 0; c < 5; c++) {
    assert.ok(goertzel(ch[c]!, 0, ch[c]!.length, FREQ.F!) < 1e-4 * TONE_AMP, `no F on channel ${c}`);
    assert.deepEqual(ch[c], expectedTrack(h, ids[c]!, range(0, 90)));
  }
});

test("unmixed: speechDetection 'audio' orders by first non-zero frame; a talker's silence frames do not count", async () => {
  const h = new Harness();
  h.party('A');
  h.party('B');
  const rec = h.recording({ recordingChannelType: 'unmixed', speechDetection: 'audio', unmixedChannels: 2 });
  rec.start();
  h.run(40, {
    0: () => h.parties.get('A')!.player.enqueue({ kind: 'silence', frames: 20 }), // "speaking" zeros
    4: () => h.tone('B', 200),
    20: () => h.tone('A', 200),
  });
  const summary = await rec.stop();
  assert.deepEqual(summary.participants, [
    { participantId: 'B', channel: 0 },
    { participantId: 'A', channel: 1 },
  ]);
});

test('unmixed: participants leave, re-join (keeping their channel) and join mid-recording', async () => {
  const h = new Harness();
  const a = h.party('A', new Counter());
  h.party('B');
  const rec = h.recording({ recordingChannelType: 'unmixed', audioChannelParticipantOrdering: ['A'], unmixedChannels: 3 });
  rec.start();
  h.run(30, { 3: () => h.tone('B', 200) });
  // A leaves at tick 30 …
  rec.removeParticipant('A');
  h.session.removeLeg(a.leg);
  h.run(20);
  // … and comes back on a new leg at tick 50; C joins and speaks.
  const a2 = h.party('A2', new Counter());
  rec.addParticipant('A', a2.leg);
  const c = h.party('C');
  rec.addParticipant('C', c.leg);
  h.run(30, { 55: () => h.tone('C', 200) });
  const summary = await rec.stop();
  assert.deepEqual(summary.participants, [
    { participantId: 'A', channel: 0 },
    { participantId: 'B', channel: 1 },
    { participantId: 'C', channel: 2 },
  ]);
  const ch = recordedChannels(h.chunks);
  assert.equal(ch[0]!.length, 80 * FRAME_SAMPLES);
  const expectA = concat([...range(0, 30).map((k) => h.said('A', k)), new Int16Array(20 * FRAME_SAMPLES), ...range(50, 80).map((k) => h.said('A2', k))]);
  assert.deepEqual(ch[0], expectA, 'A on channel 0, silent while away, back on channel 0');
  assert.deepEqual(ch[1], expectedTrack(h, 'B', range(0, 80)));
  assert.deepEqual(ch[2], expectedTrack(h, 'C', range(0, 80)));
  assert.throws(() => rec.addParticipant('D', c.leg), /stopped/);
});

test('unmixed: addParticipant refuses a leg outside the session, a leg recorded twice, a participant twice', () => {
  const h = new Harness();
  const a = h.party('A');
  const other = new MediaEngine().createSession('x').addLeg('y');
  const rec = h.recording({ recordingChannelType: 'unmixed' });
  assert.throws(() => rec.addParticipant('A', a.leg), /not started/);
  rec.start([]);
  assert.throws(() => rec.addParticipant('Z', other), /not in media session/);
  rec.addParticipant('A', a.leg);
  assert.throws(() => rec.addParticipant('A2', a.leg), /already recorded as participant A/);
  const b = h.party('B');
  assert.throws(() => rec.addParticipant('A', b.leg), /participant A is already recorded/);
  // a leg the session dropped without removeParticipant: the participant may come back on a new one
  h.session.removeLeg(a.leg);
  rec.addParticipant('A', b.leg);
  assert.deepEqual(a.leg.taps, [a.capture]);
  void rec.stop();
});

test('mixed wav: all tones in one channel, exactly the clipped sum of the unmuted talkers', async () => {
  const h = new Harness();
  for (const id of ['A', 'B', 'C']) h.party(id);
  const rec = h.recording({ recordingChannelType: 'mixed' });
  rec.start();
  const loud = (id: string) => () => h.parties.get(id)!.player.enqueue({ kind: 'buffer', samples: sineTone(FREQ[id]!, 600, -1) });
  h.run(100, {
    0: () => h.tone('A', 1600),
    10: () => h.tone('B', 1600),
    20: () => h.tone('C', 1600),
    60: () => (h.parties.get('B')!.leg.muted = true),
    70: () => (h.parties.get('B')!.leg.muted = false),
    84: loud('A'), // A and B at −1 dBFS together: the sum clips
    85: loud('B'),
  });
  const summary = await rec.stop();
  assert.equal(summary.channels, 1);
  assert.deepEqual(
    summary.participants.map((p) => p.channel),
    [0, 0, 0],
  );
  const [mix] = recordedChannels(h.chunks);
  assert.equal(mix!.length, 100 * FRAME_SAMPLES);
  // every tone in the channel while all three speak
  const win = [30 * FRAME_SAMPLES, 20 * FRAME_SAMPLES] as const;
  for (const id of ['A', 'B', 'C']) {
    const amp = goertzel(mix!, win[0], win[1], FREQ[id]!);
    assert.ok(Math.abs(amp - TONE_AMP) / TONE_AMP < 0.01, `${id} in the mix (${amp.toFixed(0)})`);
  }
  // B muted: not in the recording (as the others do not hear it)
  assert.ok(goertzel(mix!, 61 * FRAME_SAMPLES, 8 * FRAME_SAMPLES, FREQ.B!) < 1e-4 * TONE_AMP, 'muted B absent');
  // exact: the clipped sum
  const expected = new Int16Array(100 * FRAME_SAMPLES);
  let clipped = 0;
  for (let k = 0; k < 100; k++) {
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      let v = 0;
      for (const id of ['A', 'B', 'C']) {
        const p = h.parties.get(id)!;
        if (!p.capture.muted[k]) v += h.said(id, k)[i]!;
      }
      if (v > 32767 || v < -32768) clipped++;
      expected[k * FRAME_SAMPLES + i] = Math.max(-32768, Math.min(32767, v));
    }
  }
  assert.ok(clipped > 100, 'the test does reach clipping');
  assert.deepEqual(mix, expected);
});

test('pause/resume (mixed): the paused span is absent, the audio contiguous around it, the pause listed', async () => {
  const h = new Harness();
  h.party('A', new Counter());
  const rec = h.recording();
  rec.start();
  h.run(120, { 50: () => rec.pause(), 80: () => rec.resume() });
  assert.equal(rec.state, 'active');
  const summary = await rec.stop();
  const [a] = recordedChannels(h.chunks);
  const expected = concat([...range(0, 50), ...range(80, 120)].map((k) => h.said('A', k)));
  assert.equal(a!.length, 90 * FRAME_SAMPLES, 'total = recorded time (120 − 30 ticks)');
  assert.deepEqual(a, expected, 'the counter jumps once, from tick 49 to tick 80: no gap of silence, no repeat');
  assert.equal(summary.recordingDurationMs, 1800);
  const chunk = h.chunks[0]!;
  assert.equal(chunk.durationMs, 1800);
  assert.deepEqual(chunk.metadata.pauseResumeIntervals, [
    {
      startTime: new Date(T0 + 50 * 20).toISOString(),
      endTime: new Date(T0 + 80 * 20).toISOString(),
      duration: 600,
      offsetMs: 1000,
      recordingOffsetMs: 1000,
    },
  ]);
  assert.deepEqual(summary.pauseResumeIntervals, chunk.metadata.pauseResumeIntervals);
  assert.equal(chunk.metadata.recordingStartTime, new Date(T0).toISOString());
  assert.equal(chunk.metadata.chunkStartTime, new Date(T0).toISOString());
});

test('pause/resume (unmixed, behind the call by the lookback): absent span, contiguous audio, stop while paused', async () => {
  const h = new Harness();
  h.party('A', new Counter());
  h.party('B');
  const rec = h.recording({ recordingChannelType: 'unmixed', audioChannelParticipantOrdering: ['A'], unmixedChannels: 2 });
  rec.start();
  h.run(100, { 20: () => rec.pause(), 40: () => rec.resume(), 60: () => h.tone('B', 400), 70: () => rec.pause() });
  // paused from tick 70 to the stop at tick 100
  const summary = await rec.stop('StopRecording');
  const kept = [...range(0, 20), ...range(40, 70)];
  const [a, b] = recordedChannels(h.chunks);
  assert.deepEqual(a, expectedTrack(h, 'A', kept), 'A: ticks 0–19 then 40–69, nothing else');
  assert.deepEqual(b, expectedTrack(h, 'B', kept), "B's speech up to the second pause");
  assert.equal(summary.recordingDurationMs, 50 * 20);
  assert.equal(summary.sessionEndReason, 'StopRecording');
  const m = h.chunks[0]!.metadata;
  assert.equal(m.sessionEndReason, 'StopRecording');
  assert.deepEqual(
    m.pauseResumeIntervals.map((p) => [p.offsetMs, p.duration, p.startTime, p.endTime]),
    [
      [400, 400, new Date(T0 + 400).toISOString(), new Date(T0 + 800).toISOString()],
      [1000, 600, new Date(T0 + 1400).toISOString(), new Date(T0 + 2000).toISOString()],
    ],
  );
});

test('pauseOnStart: nothing until resume(); then recorded; never resumed: no chunk at all', async () => {
  const h = new Harness();
  h.party('A', new Counter());
  const rec = h.recording({ pauseOnStart: true });
  rec.start();
  assert.equal(rec.state, 'paused');
  h.run(30);
  rec.resume();
  h.run(50);
  const summary = await rec.stop();
  const [a] = recordedChannels(h.chunks);
  assert.deepEqual(a, expectedTrack(h, 'A', range(30, 80)));
  assert.equal(summary.recordingDurationMs, 1000);
  assert.deepEqual(h.chunks[0]!.metadata.pauseResumeIntervals, [
    { startTime: new Date(T0).toISOString(), endTime: new Date(T0 + 600).toISOString(), duration: 600, offsetMs: 0, recordingOffsetMs: 0 },
  ]);
  assert.equal(h.chunks[0]!.metadata.chunkStartTime, new Date(T0 + 600).toISOString(), "the chunk starts at its first frame's time");

  const h2 = new Harness();
  h2.party('A', new Counter());
  const rec2 = h2.recording({ pauseOnStart: true, recordingChannelType: 'unmixed' });
  rec2.start();
  h2.run(40);
  const s2 = await rec2.stop();
  assert.equal(h2.chunks.length, 0, 'no file');
  assert.equal(s2.recordingDurationMs, 0);
  assert.equal(s2.chunks.length, 0);
  assert.equal(s2.pauseResumeIntervals.length, 1);
  assert.equal(s2.pauseResumeIntervals[0]!.duration, 800);
});

test('chunks by duration: indexes, endReasons, durations adding up, audio contiguous across chunks', async () => {
  const h = new Harness();
  h.party('A', new Counter());
  h.party('B');
  const rec = h.recording({ recordingChannelType: 'unmixed', unmixedChannels: 2, audioChannelParticipantOrdering: ['A', 'B'], maxChunkSeconds: 1 });
  rec.start();
  h.run(175, { 100: () => rec.pause(), 110: () => rec.resume() });
  const summary = await rec.stop();
  // 165 recorded ticks = 3.3 s: chunks of 1 s, 1 s, 1 s, 0.3 s
  assert.deepEqual(
    h.chunks.map((c) => [c.index, c.endReason, c.durationMs, c.startOffsetMs, c.isLast, c.metadata.chunkCount]),
    [
      [0, 'ChunkMaximumTimeExceeded', 1000, 0, false, null],
      [1, 'ChunkMaximumTimeExceeded', 1000, 1000, false, null],
      [2, 'ChunkMaximumTimeExceeded', 1000, 2000, false, null],
      [3, 'SessionEnded', 300, 3000, true, 4],
    ],
  );
  let total = 0;
  for (const c of h.chunks) {
    const f = readWavFormat(c.bytes);
    assert.equal(f.durationMs, c.durationMs, 'the file holds exactly the stated duration');
    assert.equal(c.metadata.chunkDuration, c.durationMs);
    assert.equal(c.metadata.chunkIndex, c.index);
    assert.equal(c.metadata.chunkDocumentId, `rec-1-${c.index}`);
    assert.deepEqual(JSON.parse(c.metadataJson), c.metadata);
    total += c.durationMs;
  }
  assert.equal(total, summary.recordingDurationMs);
  assert.equal(total, 3300);
  // the pause (ticks 100–110) lies at the start of chunk 2 (recording time 2.0 s)
  assert.deepEqual(
    h.chunks.map((c) => c.metadata.pauseResumeIntervals.map((p) => [p.offsetMs, p.recordingOffsetMs])),
    [[], [], [[0, 2000]], []],
  );
  const [a] = recordedChannels(h.chunks);
  assert.deepEqual(a, expectedTrack(h, 'A', [...range(0, 100), ...range(110, 175)]));
  assert.equal(h.chunks[2]!.metadata.chunkStartTime, new Date(T0 + 110 * 20).toISOString());
});

test('chunks by size (wav): no chunk exceeds maxChunkBytes; ChunkMaximumSizeExceeded', async () => {
  const h = new Harness();
  h.party('A', new Counter());
  const max = 44 + 30 * 640 + 500; // 30 frames and a bit
  const rec = h.recording({ maxChunkBytes: max });
  rec.start();
  h.run(100);
  await rec.stop();
  assert.deepEqual(
    h.chunks.map((c) => [c.endReason, c.durationMs]),
    [
      ['ChunkMaximumSizeExceeded', 600],
      ['ChunkMaximumSizeExceeded', 600],
      ['ChunkMaximumSizeExceeded', 600],
      ['SessionEnded', 200],
    ],
  );
  for (const c of h.chunks) assert.ok(c.bytes.length <= max);
  assert.equal(h.chunks[0]!.bytes.length, 44 + 30 * 640);
  assert.deepEqual(recordedChannels(h.chunks)[0], expectedTrack(h, 'A', range(0, 100)));
});

test('mp3 mixed: mono MPEG-2 Layer III at 16 kHz, Info tag, duration exact (gapless) and within the delay plainly', async () => {
  const h = new Harness();
  h.party('A');
  h.party('B');
  const rec = h.recording({ recordingFormatType: 'mp3' });
  rec.start();
  h.run(157, { 0: () => h.tone('A', 2000), 40: () => h.tone('B', 2000) });
  const summary = await rec.stop();
  assert.equal(h.chunks.length, 1);
  const c = h.chunks[0]!;
  assert.equal(c.format, 'mp3');
  assert.equal(c.durationMs, 157 * 20);
  assert.deepEqual(c.metadata.recordingInfo.audioConfiguration, { sampleRate: 16000, bitRate: 48000, channels: 1 });
  const mp3 = parseMp3(c.bytes);
  assert.equal(mp3.sampleRate, 16000);
  assert.equal(mp3.channels, 1);
  assert.equal(mp3.trailingBytes, 0);
  assert.ok(mp3.frames.every((f) => f.kbps === 48 && f.bytes === 216));
  const samples = 157 * FRAME_SAMPLES;
  assert.equal(mp3.frames.length, mp3AudioFrames(samples));
  assert.equal(mp3.info?.kind, 'Info');
  assert.equal(mp3.info?.frames, mp3.frames.length);
  assert.equal(mp3.info?.bytes, c.bytes.length);
  assert.equal(mp3.info?.encoderDelay, MP3_ENCODER_DELAY);
  assert.equal(mp3.info?.crcOk, true);
  assert.equal(mp3.gaplessSamples, samples, 'a gapless decoder gives back exactly the recorded samples');
  // A decoder that ignores the tag: the audio frames (+ the encoder and decoder delays, ≤ 2 frames + padding < 1 frame).
  const extra = mp3.decodedSamples - samples;
  assert.ok(extra >= MP3_ENCODER_DELAY + MP3_DECODER_DELAY && extra < MP3_ENCODER_DELAY + MP3_DECODER_DELAY + 2 * MP3_FRAME_SAMPLES, `plain decode ${extra} samples longer`);
  assert.ok(Math.abs(mp3.gaplessSamples - samples) <= MP3_FRAME_SAMPLES, 'within ±1 frame');
  assert.equal(summary.chunks[0]!.bytes, c.bytes.length);
});

test('mp3 unmixed: stereo for 2 channels; size-bounded chunks; the frame count LAME writes', async () => {
  const h = new Harness();
  h.party('A');
  h.party('B');
  const rec = h.recording({ recordingFormatType: 'mp3', recordingChannelType: 'unmixed', maxChunkBytes: 8000 });
  rec.start();
  h.run(200, { 2: () => h.tone('A', 3000), 20: () => h.tone('B', 3000) });
  const summary = await rec.stop();
  assert.ok(h.chunks.length > 1);
  let total = 0;
  for (const c of h.chunks) {
    assert.ok(c.bytes.length <= 8000, `chunk ${c.index}: ${c.bytes.length} bytes`);
    const mp3 = parseMp3(c.bytes);
    assert.equal(mp3.channels, 2);
    assert.ok(mp3.frames.every((f) => f.kbps === 96));
    assert.equal(mp3.gaplessSamples, (c.durationMs / 20) * FRAME_SAMPLES);
    assert.equal(c.metadata.recordingInfo.audioConfiguration.channels, 2);
    assert.equal(c.endReason, c.isLast ? 'SessionEnded' : 'ChunkMaximumSizeExceeded');
    total += c.durationMs;
  }
  assert.equal(total, 4000);
  assert.equal(summary.recordingDurationMs, 4000);
  assert.deepEqual(summary.participants, [
    { participantId: 'A', channel: 0 },
    { participantId: 'B', channel: 1 },
  ]);
  // The chunk-size bound rests on LAME writing 2 + ⌈n / 576⌉ frames for n samples (n = frames × 320).
  for (const ch of [1, 2] as const) {
    const w = new Mp3ChunkWriter(ch, 48 * ch);
    const tone = sineTone(1000, 2000);
    for (const frames of [1, 2, 9, 10, 11, 18, 19, 36, 50, 51, 90, 100]) {
      w.begin();
      const off = new Int32Array(ch);
      for (let f = 0; f < frames; f++) {
        off.fill(f * FRAME_SAMPLES);
        w.write(ch === 1 ? [tone] : [tone, null], off);
      }
      const file = await w.end().assemble();
      const mp3 = parseMp3(file);
      assert.equal(mp3.frames.length, mp3AudioFrames(frames * FRAME_SAMPLES), `${frames} frames, ${ch} channel(s)`);
      assert.equal(file.length, w.fileBytes(frames));
      assert.equal(mp3.gaplessSamples, frames * FRAME_SAMPLES);
      assert.equal(mp3.info?.crcOk, true);
    }
  }
});

test('a failing onChunk is reported and does not stop the recording', async () => {
  const h = new Harness();
  h.party('A', new Counter());
  let calls = 0;
  const rec = h.recording({
    maxChunkSeconds: 0.2,
    onChunk: async (c) => {
      calls++;
      if (c.index === 1) throw new Error('upload failed');
      h.chunks.push(c);
    },
  });
  rec.start();
  h.run(30);
  const s = await rec.stop();
  assert.equal(calls, 3);
  assert.deepEqual(s.sinkErrors, [{ index: 1, error: 'upload failed' }]);
  assert.deepEqual(
    h.chunks.map((c) => c.index),
    [0, 2],
  );
});

test('configuration errors name the field', () => {
  const h = new Harness();
  const bad = (opts: Partial<RecordingOptions>, field: string, msg: RegExp) => {
    assert.throws(
      () => h.recording(opts),
      (e: unknown) => {
        assert.ok(e instanceof RecordingConfigError, String(e));
        assert.equal(e.field, field);
        assert.match(e.message, msg);
        return true;
      },
    );
  };
  const u = { recordingChannelType: 'unmixed' } as const;
  bad({ ...u, channelAffinity: [{ channel: 1, participantId: 'A' }, { channel: 1, participantId: 'B' }] }, 'channelAffinity[1].channel', /channel 1 is given to both "A" .* and "B"/);
  bad({ ...u, channelAffinity: [{ channel: 1, participantId: 'A' }, { channel: 2, participantId: 'A' }] }, 'channelAffinity[1].channel', /"A" pinned to channel 2, but it is already pinned to channel 1/);
  bad({ ...u, audioChannelParticipantOrdering: ['A'], channelAffinity: [{ channel: 2, participantId: 'A' }] }, 'channelAffinity[0].channel', /audioChannelParticipantOrdering puts it on channel 0/);
  bad({ ...u, audioChannelParticipantOrdering: ['A', 'B'], channelAffinity: [{ channel: 1, participantId: 'C' }] }, 'channelAffinity[0].channel', /channel 1 is given to both "B" \(by audioChannelParticipantOrdering\) and "C"/);
  bad({ ...u, channelAffinity: [{ channel: 5, participantId: 'A' }] }, 'channelAffinity[0].channel', /integer 0–4, got 5/);
  bad({ ...u, channelAffinity: [{ channel: -1, participantId: 'A' }] }, 'channelAffinity[0].channel', /0–4/);
  bad({ ...u, channelAffinity: [{ channel: 1.5, participantId: 'A' }] }, 'channelAffinity[0].channel', /0–4/);
  bad({ ...u, unmixedChannels: 2, channelAffinity: [{ channel: 3, participantId: 'A' }] }, 'channelAffinity[0].channel', /channel 3 does not exist: the recording has 2 channels/);
  bad({ ...u, channelAffinity: [{ channel: 0, participantId: '' }] }, 'channelAffinity[0].participantId', /non-empty/);
  bad({ ...u, audioChannelParticipantOrdering: ['A', 'B', 'A'] }, 'audioChannelParticipantOrdering[2]', /listed twice/);
  bad({ ...u, audioChannelParticipantOrdering: ['A', 'B', 'C', 'D', 'E', 'F'] }, 'audioChannelParticipantOrdering', /lists 6 participants but the recording has 5 channels/);
  bad({ ...u, recordingFormatType: 'mp3', unmixedChannels: 3 }, 'unmixedChannels', /at most 2 channels \(stereo\), 3 asked; use recordingFormatType "wav"/);
  bad({ ...u, recordingFormatType: 'mp3', audioChannelParticipantOrdering: ['A', 'B', 'C'] }, 'audioChannelParticipantOrdering', /lists 3 participants but the recording has 2 channels/);
  bad({ ...u, unmixedChannels: 6 }, 'unmixedChannels', /1–5/);
  bad({ audioChannelParticipantOrdering: ['A'] }, 'audioChannelParticipantOrdering', /unmixed recordings only/);
  bad({ channelAffinity: [{ channel: 0, participantId: 'A' }] }, 'channelAffinity', /unmixed recordings only/);
  bad({ recordingFormatType: 'mp4' as 'wav' }, 'recordingFormatType', /mp4 is for audioVideo/);
  bad({ recordingChannelType: 'stereo' as 'mixed' }, 'recordingChannelType', /"mixed" or "unmixed"/);
  bad({ recordingContentType: 'audioVideo' as 'audio' }, 'recordingContentType', /only "audio"/);
  bad({ recordingFormatType: 'mp3', mp3BitrateKbps: 50 }, 'mp3BitrateKbps', /one of 8, 16/);
  bad({ mp3BitrateKbps: 48 }, 'mp3BitrateKbps', /mp3 recordings only/);
  bad({ maxChunkBytes: 600 }, 'maxChunkBytes', /cannot hold one 20 ms frame \(684 bytes as a wav file\)/);
  bad({ maxChunkSeconds: 0 }, 'maxChunkSeconds', /≥ 0.02/);
  bad({ recordingId: '' }, 'recordingId', /non-empty/);
  // valid combinations
  h.recording({ ...u, audioChannelParticipantOrdering: ['A', 'B'], channelAffinity: [{ channel: 1, participantId: 'B' }, { channel: 4, participantId: 'C' }] });
  h.recording({ ...u, recordingFormatType: 'mp3', channelAffinity: [{ channel: 1, participantId: 'A' }] });
  h.recording({ recordingFormatType: 'mp3', mp3BitrateKbps: 32 });
});

test('start/stop edge cases: stop twice, stop before start, pause/resume when not applicable, legs left clean', async () => {
  const h = new Harness();
  const a = h.party('A', new Counter());
  const r0 = h.recording();
  r0.resume();
  r0.pause();
  assert.equal(r0.state, 'created', 'pause/resume before start do nothing');
  const s0 = await r0.stop();
  assert.equal(s0.chunks.length, 0);
  assert.throws(() => r0.start(), /already started/);
  const rec = h.recording();
  rec.start();
  assert.throws(() => rec.start(), /already started/);
  assert.equal(a.leg.taps.length, 2);
  h.run(10);
  rec.resume();
  assert.equal(rec.state, 'active');
  const p1 = rec.stop();
  assert.equal(rec.stop(), p1, 'stop twice: the same result');
  const s = await p1;
  assert.equal(s.recordingDurationMs, 200);
  assert.equal(rec.state, 'stopped');
  assert.deepEqual(a.leg.taps, [a.capture], 'the recording took its tap away');
  assert.equal(a.leg.sinks.length, 0);
  h.run(5); // nothing breaks after the stop
});

test('mp3: the encoders run on their own thread; if it dies, the chunks it owed fail plainly and the next recording gets a new one', async () => {
  const tone = sineTone(440, 1000, -12);
  const off = new Int32Array(1);
  const writeSecond = (w: Mp3ChunkWriter) => {
    for (let f = 0; f < 50; f++) {
      off[0] = f * FRAME_SAMPLES;
      w.write([tone], off);
    }
  };
  const a = new Mp3ChunkWriter(1, 48);
  a.begin();
  writeSecond(a);
  await terminateMp3Encoders();
  const owed = a.end();
  await assert.rejects(owed.assemble(), /MP3 encoder unavailable: .*(thread|exited)/);
  a.close();

  const b = new Mp3ChunkWriter(1, 48);
  b.begin();
  writeSecond(b);
  const file = await b.end().assemble();
  b.close();
  const mp3 = parseMp3(file);
  assert.equal(mp3.gaplessSamples, 50 * FRAME_SAMPLES, 'a new thread, a whole second of audio');
});

test('mp3: a thread that cannot keep up takes no new recording (EncoderBusyError, naming the load) until it has caught up', { timeout: 60_000 }, async () => {
  const channels = () => mp3EncoderLoad().map((l) => l.channels);
  const before = channels(); // (earlier tests leave recordings open)
  const tone = sineTone(440, 1000, -12);
  const off = new Int32Array(2);
  // stereo recordings until every thread has one (a new one goes to the thread encoding the fewest channels)
  const writers: Mp3ChunkWriter[] = [];
  while (channels().some((c, i) => c === before[i]) && writers.length < 4 * before.length) writers.push(new Mp3ChunkWriter(2, 64));
  assert.ok(channels().every((c, i) => c > before[i]!), 'a recording on every thread');
  for (const w of writers) w.begin();
  // 3 minutes of stereo each, posted at once, as if 180 recordings had come in: about a second of
  // encoding behind on each thread
  for (let sec = 0; sec < 180; sec++) {
    for (const w of writers) {
      for (let f = 0; f < 50; f++) {
        off[0] = off[1] = f * FRAME_SAMPLES;
        w.write([tone, tone], off);
      }
    }
  }
  await eventually(() => mp3EncoderLoad().every((l) => l.full), 'every thread reports itself full', 20_000, 10);
  assert.throws(() => new Mp3ChunkWriter(1, 48), (err) => err instanceof EncoderBusyError && /MP3 encoders are at capacity .* record as WAV/.test(err.message));
  await eventually(() => mp3EncoderLoad().every((l) => !l.full && l.pending === 0), 'caught up', 40_000, 20);
  const later = new Mp3ChunkWriter(1, 48); // taken again
  later.close();
  for (const w of writers) {
    const mp3 = parseMp3(await w.end().assemble());
    assert.equal(mp3.gaplessSamples, 180 * 50 * FRAME_SAMPLES, 'nothing of the backlog lost');
    w.close();
  }
  assert.deepEqual(channels(), before, 'closed recordings count no more');
});
