// The recording bench drives RecordingSession and the MP3 encoders' threads faster than real time;
// this runs it small and briefly so that a change to what they need (or refuse: the encoders'
// admission, which the bench must wait out between runs) cannot break it unseen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBench } from '../helpers/bench.ts';

test('bench/recording runs every variant and the upload part', { timeout: 90_000 }, async () => {
  const json = await runBench<{ results: { variant: string; chunks: number; bytesPerCallSecond: number; upload: { chunks: number } }[] }>('bench/recording/run.ts', {
    BENCH_CALLS: '20', BENCH_TICKS: '250', BENCH_WARMUP_TICKS: '50', BENCH_UPLOAD_CALLS: '2', BENCH_CHUNK_SECONDS: '2',
  }, 80_000);
  assert.equal(json.results.length, 5);
  for (const r of json.results) {
    // 20 calls × (1 s warm-up + 5 s) in 2 s chunks: 3 chunks each
    assert.equal(r.chunks, 60, r.variant);
    assert.ok(r.bytesPerCallSecond > 0, r.variant);
    assert.equal(r.upload.chunks, 6, r.variant);
  }
});
