/**
 * The DTMF detector's WebAssembly kernel (src/media/dtmf/dtmfKernel.wat) against its JavaScript
 * path: the same keys, times and levels, bit for bit, on speech, keys and noise; through the
 * kernel memory's growth (which detaches every view of it); and each committed kernel .wasm (this
 * one's and the speech detector's) is what its .wat compiles to. The clause-by-clause tests of the
 * standard (dtmf.test.ts) run through the kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KERNELS, compileWat } from '../../scripts/build-wasm.mjs';
import { DtmfDetector } from '../../src/media/dtmf/DtmfDetector.ts';
import { DTMF_HIGH, DTMF_KEYS, DTMF_LOW, addDtmfTone, addGaussianNoise, openSpeechSynth, prng, toInt16 } from '../helpers/audio.ts';

const FS = 16000;

/** A test signal: speech, then 48 keys of random level, twist, offset and length, over noise. */
async function signal(): Promise<Int16Array> {
  const synth = openSpeechSynth('telegraph-dtmf-kernel-', 'the kernel test needs speech');
  let speech: Int16Array;
  try {
    speech = await synth.speak('The reference number is four seven two, nine nine one. Press the hash key when you are done.', { voice: 'en-us', wpm: 170 });
  } finally {
    synth.close();
  }
  const rnd = prng(77);
  const keysMs = 48 * 300;
  const x = new Float64Array(speech.length + (keysMs * FS) / 1000);
  for (let i = 0; i < speech.length; i++) x[i] = speech[i]!;
  for (let k = 0; k < 48; k++) {
    const key = DTMF_KEYS[k % 16]!;
    const n0 = speech.length + Math.round(((k * 300 + 20 + rnd() * 60) * FS) / 1000);
    const ms = 20 + rnd() * 80;
    addDtmfTone(x, key, n0, n0 + Math.round((ms * FS) / 1000), {
      lowDb: -35 + rnd() * 30,
      highDb: -35 + rnd() * 30,
      lowDev: (rnd() - 0.5) * 0.04,
      highDev: (rnd() - 0.5) * 0.04,
    });
  }
  addGaussianNoise(x, 60, rnd);
  return toInt16(x);
}

/** Everything a detector reports, as text. */
function run(det: DtmfDetector, x: Int16Array, frames: number[], from = 0, to = x.length): string {
  let out = '';
  let f = 0;
  for (let i = from; i < to; ) {
    const n = Math.min(frames[f++ % frames.length]!, to - i);
    const key = det.process(x.subarray(i, i + n));
    if (key) out += `${key}@${det.digitAtMs}/${det.digitStartMs}/${det.lowLevelDbfs}/${det.highLevelDbfs} `;
    i += n;
  }
  return out;
}

test('the kernel and the JavaScript path report the same keys, times and levels, bit for bit', async () => {
  const x = await signal();
  for (const frames of [[320], [160, 160], [320, 1000, 320, 320], [7, 313, 320, 320, 640]]) {
    const js = run(new DtmfDetector({ kernel: false }), x, frames);
    const wasm = run(new DtmfDetector(), x, frames);
    assert.equal(wasm, js, `frames ${frames.join(',')}`);
    assert.ok(js.split('@').length > 12, `keys found: ${js}`); // (many of the 48 are out of the standard on purpose)
  }
});

test('detectors made while others run (the kernel memory grows, views are made again) stay exact', async () => {
  const x = await signal();
  const half = Math.floor(x.length / 640) * 320;
  const ref = new DtmfDetector({ kernel: false });
  const det = new DtmfDetector();
  let a = run(ref, x, [320], 0, half);
  let b = run(det, x, [320], 0, half);
  // about 11 KB each: hundreds of them grow the memory several times
  const others = Array.from({ length: 400 }, () => new DtmfDetector());
  for (const o of others) o.process(x.subarray(0, 320));
  a += run(ref, x, [320], half);
  b += run(det, x, [320], half);
  assert.equal(b, a);
  // and a new one still agrees
  const whole = run(new DtmfDetector({ kernel: false }), x, [320]);
  assert.equal(run(new DtmfDetector(), x, [320]), whole);
  // reset() right after the memory grew (its views detached): as new
  const r = new DtmfDetector();
  run(r, x, [320], 0, half);
  const more = Array.from({ length: 400 }, () => new DtmfDetector());
  r.reset();
  assert.equal(run(r, x, [320]), whole, 'reset after growth');
  assert.equal(more.length, 400);
});

test('each kernel .wasm (dtmfKernel, vadKernel: KERNELS of npm run build:wasm) is what its .wat compiles to', async () => {
  assert.ok(KERNELS.includes('src/media/dtmf/dtmfKernel.wat') && KERNELS.includes('src/media/vad/vadKernel.wat'), `KERNELS: ${KERNELS.join(', ')}`);
  for (const wat of KERNELS) {
    const wasm = wat.replace(/\.wat$/, '.wasm');
    const committed = readFileSync(new URL(`../../${wasm}`, import.meta.url));
    assert.ok((await compileWat(wat)).equals(committed), `${wasm} is stale: run npm run build:wasm`);
  }
});

test('the JavaScript path is there for runtimes without the kernel: it meets the frequencies of Q.23', () => {
  for (const [r, lo] of DTMF_LOW.entries()) {
    for (const [c, hi] of DTMF_HIGH.entries()) {
      const x = new Float64Array(FS / 5);
      addDtmfTone(x, DTMF_KEYS[r * 4 + c]!, 800, 800 + (60 * FS) / 1000);
      const keys = run(new DtmfDetector({ kernel: false }), toInt16(x), [320]);
      assert.equal(keys.split('@')[0], DTMF_KEYS[r * 4 + c], `${lo} + ${hi} Hz`);
    }
  }
});
