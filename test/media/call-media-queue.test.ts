// The per-leg operation queue of CallMedia (src/calls/CallMedia.ts), on an engine ticked by hand
// (test/helpers/callMedia.ts): a job starts once, however its queue was emptied and refilled, and a
// job aimed at one participant ends when that participant leaves, so the queue goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PlayItem } from '../../src/media/Player.ts';
import { callMediaBench, nextTurn, type CallMediaBench } from '../helpers/callMedia.ts';

/** Notes the keys of every dtmf item the bot's voice is given. */
function spyVoice(b: CallMediaBench): string[] {
  const voice = b.media.voiceOf(b.bot)!;
  const keys: string[] = [];
  const enqueue = voice.enqueue.bind(voice);
  voice.enqueue = (item: PlayItem) => {
    if (item.kind === 'dtmf') keys.push(item.keys);
    enqueue(item);
  };
  return keys;
}

test('a job starts once when its queue empties and refills in one turn (cancelMediaProcessing, or a barge-in, then a new operation)', async () => {
  const b = callMediaBench();
  try {
    const keys = spyVoice(b);
    // A's start is scheduled; A is cancelled before it runs and B queued: B's start is scheduled
    // too, and both scheduled starts find B at the head.
    const a = b.media.sendDtmfTones(b.leg, ['tone1'], 100, 'A');
    b.media.cancelMediaProcessing(b.leg, null);
    const c = b.media.sendDtmfTones(b.leg, ['tone2', 'tone3'], 100, 'B');
    for (let f = 0; f < 40 && !c.done; f++) await b.step();
    assert.deepEqual(keys, ['23'], 'B played once, A never');
    assert.deepEqual(b.completed.map((o) => [o.clientContext, o.completionReason]), [['A', 'mediaOperationCanceled'], ['B', 'completedSuccessfully']]);
    assert.equal(a.done, true);

    // the same with a job running: it and the one queued behind it cancelled, then a new one
    keys.length = 0;
    const d = b.media.sendDtmfTones(b.leg, ['tone4'], 100, 'D');
    await nextTurn(); // D starts
    b.media.sendDtmfTones(b.leg, ['tone5'], 100, 'E');
    b.media.cancelMediaProcessing(b.leg, null);
    const f2 = b.media.sendDtmfTones(b.leg, ['tone6'], 100, 'F');
    for (let f = 0; f < 40 && !f2.done; f++) await b.step();
    assert.equal(d.done, true);
    assert.deepEqual(keys, ['4', '6'], 'F played once, E never');
  } finally {
    b.media.callEnded(b.call);
  }
});

test('a sendDtmfTones to one participant fails when that participant leaves, and the queue goes on', async () => {
  const b = callMediaBench();
  try {
    const toCaller = b.media.sendDtmfTones(b.leg, ['tone1', 'tone2', 'tone3', 'tone4'], 500, 'to-caller', b.caller);
    const next = b.media.sendDtmfTones(b.leg, ['tone9'], 100, 'next');
    await b.step(); // the first starts
    await b.step();
    // The caller leaves (CallService detaches its media before the participant's state changes).
    b.media.detach(b.caller);
    for (let f = 0; f < 20 && !next.done; f++) await b.step();
    assert.equal(toCaller.status, 'failed');
    assert.deepEqual([toCaller.resultInfo?.code, toCaller.resultInfo?.subcode], [400, 8509]);
    assert.match(toCaller.resultInfo?.message ?? '', /left the call/);
    assert.equal(next.status, 'completed', 'the next operation ran');
  } finally {
    b.media.callEnded(b.call);
  }
});

test('a recognize whose target leaves fails, during its prompt or while it collects keys, and the queue goes on', async () => {
  for (const during of ['prompt', 'collection']) {
  const b = callMediaBench({ prompt: new Int16Array(16000) }); // 1 s
  try {
    const rec = b.media.recognizeDtmf(b.leg, {
      target: b.caller, prompts: [{ uri: 'http://127.0.0.1:1/p.wav' }], interruptPrompt: false,
      initialSilenceTimeoutSeconds: 5, interToneTimeoutSeconds: 2, maxTones: 4, stopTones: [], clientContext: 'rec', bargeIn: false,
    });
    const next = b.media.sendDtmfTones(b.leg, ['tone9'], 100, 'next');
    for (let f = 0; f < (during === 'prompt' ? 3 : 60); f++) await b.step(); // the prompt plays to the caller for 50 frames
    assert.equal(rec.done, false);
    b.media.detach(b.caller);
    for (let f = 0; f < 20 && !next.done; f++) await b.step();
    assert.equal(rec.status, 'failed');
    assert.equal(rec.resultInfo?.subcode, 8509);
    assert.match(rec.resultInfo?.message ?? '', /left the call/);
    assert.equal(next.status, 'completed', 'the next operation ran');
  } finally {
    b.media.callEnded(b.call);
  }
  }
});
