// The media bench builds calls through CallMedia with stand-ins of its own, so a change to what
// CallMedia needs of a leg can break it while every other test passes (0.3.7's prompt scope did).
// This runs it at a few calls, briefly, and checks that every path of its IVR cycle ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBench } from '../helpers/bench.ts';

interface Counters { prompts: number; records: number; recordReasons: Record<string, number>; keysSent: number; tonesHeard: number; failures: number }

test('bench/media runs both scenarios through CallMedia, tight loop and real clock', { timeout: 60_000 }, async () => {
  const json = await runBench<{
    results: Record<string, { runs: { calls: number; ticks: number; bytesPerCall: number; recordingBytesPerCall: number; counters: Counters }[]; realTime: { ticks: number; counters: Counters }[] }>;
  }>('bench/media/run.ts', {
    BENCH_SCENARIOS: 'turns,talk', BENCH_CALLS: '8', BENCH_TICKS: '600', BENCH_SPREAD_TICKS: '10', BENCH_WARMUP_TICKS: '20', BENCH_RT_SECONDS: '1',
  }, 50_000);
  for (const scenario of ['turns', 'talk']) {
    const r = json.results[scenario];
    assert.ok(r, scenario);
    const [run] = r.runs;
    assert.equal(run.calls, 8);
    assert.equal(run.ticks, 600);
    assert.ok(run.bytesPerCall > 0);
    // what the recordings in progress hold, in whole 1 s blocks (32,000 bytes) across the 8 calls
    assert.ok(Number.isInteger((run.recordingBytesPerCall * 8) / 32000), `${scenario}: recordings' share ${run.recordingBytesPerCall}`);
    // and at most what a recording of the bench's 10 s holds, per call
    assert.ok(run.recordingBytesPerCall >= 0 && run.recordingBytesPerCall <= 10 * 32000, `${scenario}: recordings' share ${run.recordingBytesPerCall}`);
    const c = run.counters;
    assert.equal(c.failures, 0, `${scenario}: no operation failed`);
    assert.ok(c.prompts > 0 && c.records > 0, `${scenario}: prompts and recordings ran (${JSON.stringify(c)})`);
    assert.ok(c.keysSent > 0 && c.tonesHeard > 0, `${scenario}: keys pressed and heard`);
    assert.ok((c.recordReasons.stopToneDetected ?? 0) > 0, `${scenario}: '#' ended a recording`);
    assert.equal(r.realTime.length, 1);
    assert.ok(r.realTime[0].ticks > 0, `${scenario}: the real clock ticked`);
  }
});
