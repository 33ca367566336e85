// recordResponse's ending in CallMedia (src/calls/CallMedia.ts), on an engine ticked by hand
// (test/helpers/callMedia.ts): a recording that has stopped is reported with its recording even
// when the call ends while its file is still being written, and a failure to store it is the
// operation's failure when the call goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RECORD_DEFAULTS, callMediaBench, nextTurn, type CallMediaBench } from '../helpers/callMedia.ts';

/** Records until the caller's '#' stops the recording and its write has begun. */
async function stopWithPound(b: CallMediaBench, writing: () => boolean): Promise<void> {
  b.media.record(b.leg, { ...RECORD_DEFAULTS, stopTones: ['pound'], clientContext: 'vm' });
  await nextTurn(); // the job starts
  b.media.voiceOf(b.caller)!.enqueue({ kind: 'dtmf', keys: '#', toneMs: 100, gapMs: 100 });
  for (let f = 0; f < 50 && !writing(); f++) await b.step();
  assert.ok(writing(), 'the key stopped the recording and its write began');
}

test('a recording stopped by its key is reported at once, with its recording, when the call ends during the write', async () => {
  let release!: () => void;
  let writing = false;
  const b = callMediaBench({ write: () => { writing = true; return new Promise<void>((r) => (release = r)); } });
  await stopWithPound(b, () => writing);
  assert.equal(b.completed.length, 0, 'not reported before it is stored, while the call lasts');
  b.media.callEnded(b.call); // the caller hangs up: the leg ends in this same turn
  assert.equal(b.completed.length, 1, 'reported in the same turn as the end');
  const op = b.completed[0]!;
  assert.equal(op.status, 'completed');
  assert.equal(op.completionReason, 'stopToneDetected');
  assert.deepEqual([op.resultInfo?.code, op.resultInfo?.subcode], [200, 8514]);
  assert.equal(op.details.recordingLocation, 'http://127.0.0.1:1/recordings/responses/rec-1');
  assert.equal(op.details.recordingAccessToken, 'token-1');
  release();
  await nextTurn();
  assert.equal(b.completed.length, 1, 'once');
});

test('a recording that cannot be stored fails its operation (500, unspecifiedError) while the call goes on', async () => {
  let writing = false;
  const b = callMediaBench({ write: async () => { writing = true; throw new Error('disk full'); } });
  try {
    await stopWithPound(b, () => writing);
    for (let i = 0; i < 5 && b.completed.length === 0; i++) await nextTurn();
    const op = b.completed[0]!;
    assert.equal(op.status, 'failed');
    assert.equal(op.completionReason, 'unspecifiedError');
    assert.equal(op.resultInfo?.code, 500);
    assert.match(op.resultInfo?.message ?? '', /disk full/);
    assert.equal(op.details.recordingLocation ?? null, null);
  } finally {
    b.media.callEnded(b.call);
  }
});

test('a recording a timer ended is reported with that reason when a cancel or the call end comes in the same turn', async () => {
  for (const how of ['cancelMediaProcessing', 'callEnded'] as const) {
    const b = callMediaBench();
    try {
      b.media.record(b.leg, { ...RECORD_DEFAULTS, initialSilenceTimeoutSeconds: 1, clientContext: how });
      await nextTurn(); // the job starts
      for (let i = 0; i < 49; i++) await b.step();
      b.engine.tick(); // frame 50: 1 s of silence; the timer's end is told on the next turn
      if (how === 'cancelMediaProcessing') b.media.cancelMediaProcessing(b.leg, null);
      else b.media.callEnded(b.call);
      if (how === 'callEnded') assert.equal(b.completed.length, 1, 'reported in the same turn as the end');
      for (let i = 0; i < 5 && b.completed.length === 0; i++) await nextTurn();
      const op = b.completed[0]!;
      assert.deepEqual([op.status, op.completionReason, op.resultInfo?.code, op.resultInfo?.subcode], ['failed', 'initialSilenceTimeout', 400, 8510], how);
      assert.equal(op.details.recordingLocation, 'http://127.0.0.1:1/recordings/responses/rec-1');
      assert.equal(b.recordedSamples, 16000, `${how}: the second of silence recorded`);
      await nextTurn();
      assert.equal(b.completed.length, 1, 'once');
    } finally {
      b.media.callEnded(b.call);
    }
  }
});
