/**
 * Player (src/media/Player.ts): buffer items come out frame by frame exactly as queued — whole
 * frames, a short last frame padded with zeros, loops of any length (the frame that wraps takes the
 * end and the start), one buffer played by several players at once, and cancellation mid-item.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Player } from '../../src/media/Player.ts';
import { DtmfDetector } from '../../src/media/dtmf/DtmfDetector.ts';
import { FRAME_SAMPLES } from '../../src/media/MediaFormat.ts';
import { NoiseSound, ToneSound, sineTone, whiteNoise } from '../../src/media/Tones.ts';

function ramp(n: number, from = 1): Int16Array {
  const a = new Int16Array(n);
  for (let i = 0; i < n; i++) a[i] = ((from + i) % 30000) + 1;
  return a;
}

/** What the player should produce for `samples`: frames of it, zero-padded (or wrapped when looping). */
function expected(samples: Int16Array, frames: number, loop: boolean): Int16Array[] {
  const out: Int16Array[] = [];
  let pos = 0;
  for (let f = 0; f < frames; f++) {
    const fr = new Int16Array(FRAME_SAMPLES);
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      if (pos >= samples.length) {
        if (!loop) break;
        pos = 0;
      }
      fr[i] = samples[pos++]!;
    }
    out.push(fr);
    if (!loop && pos >= samples.length) break;
  }
  return out;
}

for (const len of [FRAME_SAMPLES * 3, FRAME_SAMPLES * 3 + 17, 100, FRAME_SAMPLES - 1, FRAME_SAMPLES + 1]) {
  for (const loop of [false, true]) {
    test(`player: a ${len}-sample buffer${loop ? ', looped' : ''}, frame by frame`, async () => {
      const samples = ramp(len, len);
      const player = new Player();
      let done = 0;
      player.enqueue({ kind: 'buffer', samples, loop, onDone: () => done++ });
      const want = expected(samples, loop ? 12 : 1000, loop);
      const out = new Int16Array(FRAME_SAMPLES);
      for (const [f, frame] of want.entries()) {
        out.fill(-1);
        assert.equal(player.read(out), true, `frame ${f}`);
        assert.deepEqual(out, frame, `frame ${f}`);
      }
      if (!loop) {
        assert.equal(player.read(out), false, 'nothing after the end');
        await new Promise((r) => setImmediate(r));
        assert.equal(done, 1);
      }
    });
  }
}

test('player: one buffer played by several players at different positions', () => {
  const samples = ramp(FRAME_SAMPLES * 10 + 5);
  const players = [0, 3, 7].map((skip) => {
    const p = new Player();
    p.enqueue({ kind: 'buffer', samples, loop: true });
    const tmp = new Int16Array(FRAME_SAMPLES);
    for (let i = 0; i < skip; i++) p.read(tmp);
    return { p, skip };
  });
  const want = expected(samples, 40, true);
  const out = new Int16Array(FRAME_SAMPLES);
  for (let f = 0; f < 25; f++) {
    for (const { p, skip } of players) {
      p.read(out);
      assert.deepEqual(out, want[f + skip], `frame ${f} of the player that skipped ${skip}`);
    }
  }
});

test('player: a cancelled item stops at once; the next starts from its beginning', () => {
  const a = ramp(FRAME_SAMPLES * 4, 1);
  const b = ramp(FRAME_SAMPLES * 2 + 3, 5000);
  const player = new Player();
  const itemA = { kind: 'buffer' as const, samples: a };
  player.enqueue(itemA);
  player.enqueue({ kind: 'buffer', samples: b });
  const out = new Int16Array(FRAME_SAMPLES);
  player.read(out);
  assert.deepEqual(out, a.subarray(0, FRAME_SAMPLES));
  player.cancel(itemA);
  for (const frame of expected(b, 10, false)) {
    assert.equal(player.read(out), true);
    assert.deepEqual(out, frame);
  }
  assert.equal(player.read(out), false);
});

for (const len of [FRAME_SAMPLES * 3, FRAME_SAMPLES * 3 + 17, FRAME_SAMPLES - 1]) {
  for (const loop of [false, true]) {
    test(`player: frame() gives what read() does (${len} samples${loop ? ', looped' : ''}), whole aligned frames as views of the buffer`, async () => {
      const samples = ramp(len, len);
      const player = new Player();
      let done = 0;
      player.enqueue({ kind: 'buffer', samples, loop, onDone: () => done++ });
      const scratch = new Int16Array(FRAME_SAMPLES);
      for (const [f, want] of expected(samples, loop ? 12 : 1000, loop).entries()) {
        scratch.fill(-1);
        const got = player.frame(scratch);
        assert.ok(got !== null, `frame ${f}`);
        assert.deepEqual(got, want, `frame ${f}`);
        // a view (no copy) exactly when the frame is a whole aligned one of the buffer
        const whole = ((f * FRAME_SAMPLES) % (loop ? len : Infinity)) % FRAME_SAMPLES === 0 && (f * FRAME_SAMPLES) % (loop ? len : Infinity) + FRAME_SAMPLES <= len;
        if (len % FRAME_SAMPLES === 0) assert.equal(got.buffer === samples.buffer, whole, `frame ${f}: view`);
      }
      if (!loop) {
        assert.equal(player.frame(scratch), null, 'nothing after the end');
        await new Promise((r) => setImmediate(r));
        assert.equal(done, 1);
      }
    });
  }
}

test('player: a generated sound (tone, noise) plays the samples its whole rendering has, in no memory of its length; a cancelled one starts again from its beginning', async () => {
  for (const [sound, whole] of [
    [new ToneSound(697, 137, -6), sineTone(697, 137, -6)],
    [new NoiseSound(90, -20, 7), whiteNoise(90, -20, 7)],
  ] as const) {
    const player = new Player();
    let done = 0;
    const item = { kind: 'sound' as const, sound, onDone: () => done++ };
    player.enqueue(item);
    const want = expected(whole, 1000, false);
    const out = new Int16Array(FRAME_SAMPLES);
    for (const [f, frame] of want.entries()) {
      out.fill(-1);
      assert.equal(player.read(out), true);
      assert.deepEqual(out, frame, `${sound.constructor.name} frame ${f}`);
      if (f === 1 && done === 0) {
        // cancelled mid-way, then queued again: it starts over, the same samples
        player.cancel(item);
        assert.equal(done, 1);
        player.enqueue(item);
        assert.equal(player.read(out), true);
        assert.deepEqual(out, want[0], 'from its beginning again');
        assert.equal(player.read(out), true);
        assert.deepEqual(out, want[1]);
      }
    }
    assert.equal(player.read(out), false, 'nothing after the end');
    await new Promise((r) => setImmediate(r));
    assert.equal(done, 2);
  }
  // ten minutes of tone: its object holds no samples
  const long = new ToneSound(440, 600_000);
  assert.equal(long.samples, 9_600_000);
  assert.ok(Object.values(long).every((v) => typeof v === 'number'), 'numbers only, no buffer');
});

test('player: dtmf items back to back are separate presses: one after another starts with its gap (none after other items)', () => {
  const TONE_MS = 100; // five whole frames: each item's last tone ends on a frame's end
  for (const idleFrames of [0, 1]) {
    for (const gapMs of [60, 100]) {
      const player = new Player();
      const detector = new DtmfDetector();
      const out = new Int16Array(FRAME_SAMPLES);
      const tones: boolean[] = [];
      let keys = '';
      const play = () => {
        while (player.read(out)) {
          keys += detector.process(out);
          tones.push(out.some((v) => v !== 0));
        }
        for (let i = 0; i < idleFrames; i++) {
          out.fill(0);
          keys += detector.process(out);
          tones.push(false);
        }
      };
      player.enqueue({ kind: 'dtmf', keys: '1', toneMs: TONE_MS, gapMs });
      play();
      player.enqueue({ kind: 'dtmf', keys: '1', toneMs: TONE_MS, gapMs });
      play();
      for (let i = 0; i < 10; i++) keys += detector.process(new Int16Array(FRAME_SAMPLES));
      assert.equal(keys, '11', `idle ${idleFrames}, gap ${gapMs}`);
      // the silence between the two tones: at least the gap
      const first = tones.indexOf(false), second = tones.indexOf(true, first);
      assert.ok((second - first) * 20 >= gapMs, `idle ${idleFrames}, gap ${gapMs}: ${(second - first) * 20} ms`);
    }
  }
  // after another item, no pause: the keys start at once
  const player = new Player();
  const out = new Int16Array(FRAME_SAMPLES);
  player.enqueue({ kind: 'dtmf', keys: '1', toneMs: TONE_MS, gapMs: 100 });
  player.enqueue({ kind: 'buffer', samples: ramp(FRAME_SAMPLES) });
  player.enqueue({ kind: 'dtmf', keys: '2', toneMs: TONE_MS, gapMs: 100 });
  for (let i = 0; i < 6; i++) player.read(out);
  assert.equal(player.read(out), true);
  assert.ok(out.some((v) => v !== 0), 'the keys after a buffer start in its next frame');
});
