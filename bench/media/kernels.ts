// Per-frame CPU cost of the media engine's DSP kernels on speech, with many instances live (as on a
// loaded server: their state does not all fit the caches). Prints µs per 20 ms frame.
//   node --import tsx bench/media/kernels.ts [all | dtmf | vad | vad-kernel | vad-js]
// (vad: the speech detector with its WebAssembly kernel, then without; vad-kernel, vad-js: one of them)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseWav } from '../../src/media/audio/Wav.ts';
import { DtmfDetector } from '../../src/media/dtmf/DtmfDetector.ts';
import { SpeechDetector } from '../../src/media/vad/SpeechDetector.ts';

const INSTANCES = Number(process.env.KERNEL_INSTANCES ?? 1000);
const ROUNDS = Number(process.env.KERNEL_ROUNDS ?? 5);

function speech(): Int16Array {
  const dir = mkdtempSync(join(os.tmpdir(), 'telegraph-kernels-'));
  try {
    const wav = join(dir, 's.wav');
    execFileSync('espeak-ng', ['-v', 'en-us', '-s', '160', '-w', wav,
      'Hello, I am calling about my order. It was supposed to arrive on Tuesday, but nothing came. The reference number is four seven two, nine nine one.'], { stdio: 'pipe' });
    return parseWav(readFileSync(wav)).samples;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const s = speech();
// speech frames only (no digital silence): the worst case
const frames: Int16Array[] = [];
for (let i = 0; i + 320 <= s.length; i += 320) {
  const f = s.subarray(i, i + 320);
  if (f.some((v) => v !== 0)) frames.push(f);
}

function run(name: string, make: () => { process(f: Int16Array): unknown }): void {
  const inst = Array.from({ length: INSTANCES }, make);
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.cpuUsage();
    let n = 0;
    for (let k = 0; k < frames.length; k++) {
      const f = frames[k]!;
      for (let i = 0; i < inst.length; i++) inst[i]!.process(f);
      n += inst.length;
    }
    const t = process.cpuUsage(t0);
    best = Math.min(best, (t.user + t.system) / n);
  }
  console.log(`${name.padEnd(18)} ${best.toFixed(2)} µs/frame (${INSTANCES} instances, ${frames.length} speech frames, best of ${ROUNDS})`);
}

const which = process.argv[2] ?? 'all';
if (which === 'all' || which === 'dtmf') run('DtmfDetector', () => new DtmfDetector());
if (which === 'all' || which === 'vad' || which === 'vad-kernel') run('SpeechDetector', () => new SpeechDetector());
if (which === 'all' || which === 'vad' || which === 'vad-js') run('SpeechDetector JS', () => new SpeechDetector({ kernel: false }));
