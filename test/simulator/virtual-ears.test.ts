// VirtualEars (src/endpoints/virtual/VirtualEars.ts): what virtual users heard is kept for a user's
// 10 most recent calls and, across all users, within a memory budget; audio that is dropped stops
// being recorded (its recorder leaves the leg) and its memory is given back at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualEars } from '../../src/endpoints/virtual/VirtualEars.ts';
import { MediaLeg } from '../../src/media/MediaLeg.ts';
import { FRAME_SAMPLES } from '../../src/media/MediaFormat.ts';
import { RECORDER_BLOCK_BYTES } from '../../src/media/Recorder.ts';

const FRAME = new Int16Array(FRAME_SAMPLES).fill(100);
/** `seconds` of what the leg's participant hears. */
const hear = (leg: MediaLeg, seconds: number) => {
  for (let f = 0; f < seconds * 50; f++) leg.hear(FRAME, false);
};
const secondsHeard = (ears: VirtualEars, id: string) => {
  const x = ears.heard(id);
  return x === null ? null : x.length / 16000;
};

test('a user keeps what it heard in its 10 most recent calls; an older call\'s recorder leaves its leg, its memory given back', () => {
  const ears = new VirtualEars(120 * 50, 64 * 1_048_576);
  const legs: MediaLeg[] = [];
  for (let i = 0; i < 11; i++) {
    const leg = new MediaLeg(`p${i}`);
    legs.push(leg);
    ears.listen('alice', `p${i}`, leg);
    hear(leg, 1);
  }
  ears.listen('bob', 'b0', new MediaLeg('b0')); // another user's calls count for it alone
  assert.equal(secondsHeard(ears, 'p0'), null, 'the oldest of 11 is dropped');
  assert.equal(legs[0]!.sinks.length, 0, 'and no longer recorded, though its call goes on');
  for (let i = 1; i < 11; i++) assert.equal(secondsHeard(ears, `p${i}`), 1);
  assert.equal(ears.bytes, 10 * RECORDER_BLOCK_BYTES, 'only the kept calls\' blocks are held');
  hear(legs[0]!, 5);
  assert.equal(ears.bytes, 10 * RECORDER_BLOCK_BYTES);
});

test('all users together stay within the budget: the oldest call\'s audio goes first, and one call alone over it stops recording', () => {
  const ears = new VirtualEars(120 * 50, 4 * RECORDER_BLOCK_BYTES);
  const a = new MediaLeg('a'), b = new MediaLeg('b'), c = new MediaLeg('c');
  ears.listen('u1', 'a', a);
  ears.listen('u2', 'b', b);
  hear(a, 2);
  hear(b, 2);
  assert.equal(ears.bytes, 4 * RECORDER_BLOCK_BYTES);
  ears.listen('u3', 'c', c);
  hear(c, 1);
  assert.equal(secondsHeard(ears, 'a'), null, 'the oldest call made room');
  assert.equal(a.sinks.length, 0);
  assert.deepEqual([secondsHeard(ears, 'b'), secondsHeard(ears, 'c')], [2, 1]);
  hear(c, 10); // c alone would fill the budget: b goes, then c stops at the budget
  assert.equal(secondsHeard(ears, 'b'), null);
  assert.equal(secondsHeard(ears, 'c'), 4, 'kept up to the budget, then no more');
  assert.equal(ears.bytes, 4 * RECORDER_BLOCK_BYTES);
});

test('no budget or no seconds: nothing is kept', () => {
  for (const ears of [new VirtualEars(0, 1_048_576), new VirtualEars(50, 0)]) {
    const leg = new MediaLeg('x');
    ears.listen('u', 'x', leg);
    assert.equal(leg.sinks.length, 0);
    assert.equal(ears.heard('x'), null);
  }
});
