// Recorder (src/media/Recorder.ts): frames kept in 1 s blocks up to a bound, pause/resume, and
// blocks handed back by release() serving the next recordings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FRAME_SAMPLES } from '../../src/media/MediaFormat.ts';
import { Recorder, recorderMemory } from '../../src/media/Recorder.ts';

/** Frame k: samples k·1000 + i (i < 320), so any misplaced frame shows. */
const frame = (k: number) => Int16Array.from({ length: FRAME_SAMPLES }, (_, i) => ((k * 1000 + i) % 30000) + 1);
const expected = (ks: number[]) => {
  const out = new Int16Array(ks.length * FRAME_SAMPLES);
  ks.forEach((k, j) => out.set(frame(k), j * FRAME_SAMPLES));
  return out;
};
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

test('recorder: frames across blocks, the bound, pause and resume, samples(n)', () => {
  const r = new Recorder(130);
  for (let k = 0; k < 60; k++) r.write(frame(k));
  r.pause();
  for (let k = 60; k < 70; k++) r.write(frame(k));
  r.resume();
  for (let k = 70; k < 200; k++) r.write(frame(k));
  assert.equal(r.frameCount, 130);
  assert.equal(r.full, true);
  assert.equal(r.durationMs, 2600);
  assert.deepEqual(r.samples(), expected([...range(0, 60), ...range(70, 140)]));
  assert.deepEqual(r.samples(55), expected(range(0, 55)));
});

test('recorder: release() gives the blocks to the next recordings, and the released one records nothing more', () => {
  const a = new Recorder(1000);
  for (let k = 0; k < 120; k++) a.write(frame(k)); // 3 blocks
  const kept = a.samples();
  a.release();
  assert.equal(a.frameCount, 0);
  a.write(frame(0));
  assert.equal(a.frameCount, 0, 'released: nothing more is recorded');
  // new recordings take the blocks back (their old content is overwritten, never shown)
  const b = new Recorder(1000);
  const c = new Recorder(1000);
  for (let k = 500; k < 575; k++) b.write(frame(k));
  for (let k = 900; k < 910; k++) c.write(frame(k));
  assert.deepEqual(b.samples(), expected(range(500, 575)));
  assert.deepEqual(c.samples(), expected(range(900, 910)));
  assert.deepEqual(kept, expected(range(0, 120)), 'what was taken before the release is untouched');
});

test('recorder: chunks() are views of its blocks, in order, up to n frames; the same audio as samples()', () => {
  const r = new Recorder(200);
  for (let k = 0; k < 120; k++) r.write(frame(k));
  const chunks = r.chunks();
  assert.deepEqual(chunks.map((c) => c.length / FRAME_SAMPLES), [50, 50, 20]);
  const joined = new Int16Array(120 * FRAME_SAMPLES);
  let at = 0;
  for (const c of chunks) {
    joined.set(c, at);
    at += c.length;
  }
  assert.deepEqual(joined, r.samples());
  assert.deepEqual(r.chunks(55).map((c) => c.length / FRAME_SAMPLES), [50, 5]);
  assert.deepEqual(r.chunks(0), []);
  // views, not copies: what the recorder holds is what the chunks show
  assert.equal(chunks[0]!.buffer, chunks[0]!.subarray(0, 1).buffer);
});

test('recorder: recorderMemory() counts the blocks recordings hold, given back by release() or when a recorder is collected', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  /** Collects until the count is `n` (the registry is told of collected recorders on a later turn). */
  const collectedTo = async (n: number) => {
    for (let i = 0; i < 50 && recorderMemory().heldBlocks !== n; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    return recorderMemory().heldBlocks;
  };
  // the earlier tests' recorders (this file runs in a process of its own) first
  const base = await collectedTo(0);
  assert.equal(base, 0);
  assert.equal(recorderMemory().blockBytes, 50 * FRAME_SAMPLES * 2);
  const a = new Recorder(1000);
  for (let k = 0; k < 120; k++) a.write(frame(k)); // 3 blocks
  assert.equal(recorderMemory().heldBlocks, base + 3);
  a.release();
  assert.equal(recorderMemory().heldBlocks, base);
  assert.ok(recorderMemory().pooledBlocks >= 3);
  // dropped without release() (a virtual user's ear): its blocks stop counting once it is collected
  (() => {
    const b = new Recorder(1000);
    for (let k = 0; k < 60; k++) b.write(frame(k)); // 2 blocks
    assert.equal(recorderMemory().heldBlocks, base + 2);
  })();
  assert.equal(await collectedTo(base), base);
});
