/**
 * What a call holds is given back when its audio ends, not when the collector gets round to it:
 * the detectors' slots in their WebAssembly kernels' memory (src/media/KernelMemory.ts), which
 * cannot shrink and otherwise piles up with call turnover; and a sink removed from a leg whose
 * sinks an Ear took over (a stopped call recording's). A released detector stays safe to feed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DTMF_KERNEL_MEMORY, DtmfDetector } from '../../src/media/dtmf/DtmfDetector.ts';
import { VAD_KERNEL_MEMORY, SpeechDetector } from '../../src/media/vad/SpeechDetector.ts';
import { Ear } from '../../src/media/Ear.ts';
import { Recorder } from '../../src/media/Recorder.ts';
import { MediaSession } from '../../src/media/MediaSession.ts';
import { FRAME_SAMPLES, type FrameSink } from '../../src/media/MediaFormat.ts';
import { RECORD_DEFAULTS, callMediaBench, nextTurn } from '../helpers/callMedia.ts';
import { addDtmfTone, toInt16, whiteNoiseAt, prng } from '../helpers/audio.ts';

const dtmfMemory = () => {
  assert.ok(DTMF_KERNEL_MEMORY, 'this machine runs the DTMF kernel (WebAssembly SIMD)');
  return DTMF_KERNEL_MEMORY;
};
const vadMemory = () => {
  assert.ok(VAD_KERNEL_MEMORY, 'this machine runs the speech detector kernel (WebAssembly SIMD)');
  return VAD_KERNEL_MEMORY;
};

/** `key` pressed for 100 ms after 100 ms of silence, then 200 ms of silence, as frames. */
function keyFrames(key: string): Int16Array[] {
  const x = new Float64Array(16000 * 0.4);
  addDtmfTone(x, key, 1600, 3200);
  const pcm = toInt16(x);
  const out: Int16Array[] = [];
  for (let at = 0; at < pcm.length; at += FRAME_SAMPLES) out.push(pcm.subarray(at, at + FRAME_SAMPLES));
  return out;
}

function keysHeard(d: DtmfDetector, frames: Int16Array[]): string {
  let keys = '';
  for (const f of frames) keys += d.process(f);
  return keys;
}

test('a released DTMF detector gives its kernel slot back at once, and still hears keys (in JavaScript)', () => {
  const memory = dtmfMemory();
  const d = new DtmfDetector();
  const held = memory.inUse;
  assert.equal(keysHeard(d, keyFrames('7')), '7');
  d.release();
  assert.equal(memory.inUse, held - 1, 'its slot is free without a collection');
  d.release();
  assert.equal(memory.inUse, held - 1, 'a second release gives nothing back twice');
  // The next detector takes the slot just freed; the released one must not write into it.
  const next = new DtmfDetector();
  assert.equal(memory.inUse, held);
  assert.equal(keysHeard(d, keyFrames('3')), '3', 'the released detector still works');
  assert.equal(keysHeard(next, keyFrames('#')), '#', 'and its slot\'s new owner hears only its own keys');
  next.release();
});

test('a released speech detector gives its kernel slot back at once, and its slot\'s next owner is untouched by it', () => {
  const memory = vadMemory();
  const d = new SpeechDetector();
  const held = memory.inUse;
  d.release();
  assert.equal(memory.inUse, held - 1);
  d.release();
  assert.equal(memory.inUse, held - 1);
  const next = new SpeechDetector();
  const quiet = new Int16Array(FRAME_SAMPLES);
  for (let i = 0; i < 10; i++) next.process(quiet);
  const floor = next.noiseFloorDb;
  const noise = whiteNoiseAt(-20, 2, prng(5));
  for (let at = 0; at + FRAME_SAMPLES <= noise.length; at += FRAME_SAMPLES) d.process(noise.subarray(at, at + FRAME_SAMPLES));
  assert.ok(d.noiseFloorDb > -40, `the released detector hears the noise (floor ${d.noiseFloorDb.toFixed(1)} dBFS)`);
  assert.equal(next.noiseFloorDb, floor, 'the slot\'s new owner is unchanged');
  next.release();
});

test('a call\'s detectors give their kernel slots back when its audio ends, without a collection', async () => {
  const dtmf = dtmfMemory(), vad = vadMemory();
  const before = [dtmf.inUse, vad.inUse];
  const b = callMediaBench();
  b.media.record(b.leg, { ...RECORD_DEFAULTS, clientContext: 'slots' }); // (its speech detector)
  await nextTurn();
  for (let i = 0; i < 5; i++) await b.step();
  assert.equal(dtmf.inUse, before[0]! + 1, 'the caller\'s DTMF listener holds a slot');
  assert.equal(vad.inUse, before[1]! + 1, 'the recording\'s speech detector holds a slot');
  b.media.callEnded(b.call);
  assert.deepEqual([dtmf.inUse, vad.inUse], before, 'both given back as the call ends');
});

/** A sink that counts its frames and the times it was told its leg closed. */
class CountingSink implements FrameSink {
  frames = 0;
  released = 0;
  write(): void {
    this.frames++;
  }
  legClosed(): void {
    this.released++;
  }
}

test('a sink removed from a leg whose sinks an Ear took over hears no more of it', () => {
  const session = new MediaSession('s');
  const leg = session.addLeg('a');
  session.addLeg('b');
  const recording = new CountingSink(), endpoint = new CountingSink();
  leg.addSink(endpoint);
  leg.addSink(recording);
  new Ear(leg); // (a private prompt, or hold, took the sinks over)
  session.tick();
  assert.deepEqual([endpoint.frames, recording.frames], [1, 1]);
  leg.removeSink(recording); // the recording stopped
  session.tick();
  assert.deepEqual([endpoint.frames, recording.frames], [2, 1], 'the stopped recording is no longer written to, nor held');
});

test('a leg that goes tells its taps and sinks, those behind an Ear too, once; a recorder on it keeps its audio', () => {
  const session = new MediaSession('s');
  const leg = session.addLeg('a');
  const tap = new CountingSink(), held = new CountingSink(), after = new CountingSink();
  leg.addTap(tap);
  leg.addSink(held);
  new Ear(leg);
  leg.addSink(after);
  const recorder = new Recorder(100);
  leg.addSink(recorder);
  recorder.write(new Int16Array(FRAME_SAMPLES).fill(9));
  session.removeLeg(leg);
  session.removeLeg(leg);
  assert.deepEqual([tap.released, held.released, after.released], [1, 1, 1]);
  assert.equal(recorder.frameCount, 1, 'what a recorder holds outlives its leg (a virtual user\'s ear, a recording being written)');
  assert.equal(recorder.samples()[0], 9);
});
