/**
 * WAV parsing/conversion (src/media/audio/Wav.ts) and resampling (Resampler.ts): every common PCM
 * layout to 16 kHz mono, anti-aliasing, typed errors with their reasons, write → parse round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWav, parseWavInSlices, readWavFormat, writeWav, WavError } from '../../src/media/audio/Wav.ts';
import { Resampler, forgetResamplerTables } from '../../src/media/audio/Resampler.ts';

// --- building test files ------------------------------------------------------------------------

interface Layout {
  tag: number; // format tag (0xFFFE: extensible)
  sub?: number; // extensible sub-format
  rate: number;
  channels: number;
  bits: number; // container bits
  validBits?: number;
}

const EXT_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

function chunk(id: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length + (body.length & 1));
  for (let i = 0; i < 4; i++) out[i] = id.charCodeAt(i);
  new DataView(out.buffer).setUint32(4, body.length, true);
  out.set(body, 8);
  return out;
}

function fmtBody(l: Layout): Uint8Array {
  const ext = l.tag === 0xfffe;
  const body = new Uint8Array(ext ? 40 : 16);
  const dv = new DataView(body.buffer);
  const block = (l.channels * l.bits) / 8;
  dv.setUint16(0, l.tag, true);
  dv.setUint16(2, l.channels, true);
  dv.setUint32(4, l.rate, true);
  dv.setUint32(8, l.rate * block, true);
  dv.setUint16(12, block, true);
  dv.setUint16(14, l.bits, true);
  if (ext) {
    dv.setUint16(16, 22, true);
    dv.setUint16(18, l.validBits ?? l.bits, true);
    dv.setUint32(20, 0, true); // channel mask
    dv.setUint16(24, l.sub ?? 1, true);
    body.set(EXT_GUID_TAIL, 26);
  }
  return body;
}

function riff(...chunks: Uint8Array[]): Uint8Array {
  const len = chunks.reduce((s, c) => s + c.length, 0);
  const out = new Uint8Array(12 + len);
  out.set([0x52, 0x49, 0x46, 0x46], 0);
  new DataView(out.buffer).setUint32(4, 4 + len, true);
  out.set([0x57, 0x41, 0x56, 0x45], 8);
  let o = 12;
  for (const c of chunks) out.set(c, o), (o += c.length);
  return out;
}

/** Encodes float frames (per channel arrays, −1…1) into the data bytes of a layout. */
function encode(l: Layout, chans: Float64Array[]): Uint8Array {
  const n = chans[0]!.length;
  const bps = l.bits / 8;
  const out = new Uint8Array(n * l.channels * bps);
  const dv = new DataView(out.buffer);
  const float = l.tag === 3 || (l.tag === 0xfffe && l.sub === 3);
  let p = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < l.channels; c++, p += bps) {
      const v = chans[c]![i]!;
      if (float) {
        if (bps === 4) dv.setFloat32(p, v, true);
        else dv.setFloat64(p, v, true);
      } else if (bps === 1) {
        out[p] = Math.max(0, Math.min(255, Math.round(v * 128 + 128)));
      } else {
        const full = 2 ** (l.bits - 1);
        const q = Math.max(-full, Math.min(full - 1, Math.round(v * full)));
        if (bps === 2) dv.setInt16(p, q, true);
        else if (bps === 3) {
          out[p] = q & 0xff;
          out[p + 1] = (q >> 8) & 0xff;
          out[p + 2] = (q >> 16) & 0xff;
        } else dv.setInt32(p, q, true);
      }
    }
  }
  return out;
}

function wavFile(l: Layout, chans: Float64Array[]): Uint8Array {
  return riff(chunk('fmt ', fmtBody(l)), chunk('data', encode(l, chans)));
}

function sine(hz: number, rate: number, seconds: number, amp: number, phase = 0): Float64Array {
  const x = new Float64Array(Math.round(rate * seconds));
  for (let i = 0; i < x.length; i++) x[i] = amp * Math.sin((2 * Math.PI * hz * i) / rate + phase);
  return x;
}

// --- measuring ------------------------------------------------------------------------------------

/** RMS level of the middle of `x`, dB relative to full scale (sine at full scale = −3.01 dB). */
function rmsDb(x: Int16Array): number {
  const a = Math.floor(x.length * 0.1), b = Math.floor(x.length * 0.9);
  let s = 0;
  for (let i = a; i < b; i++) s += x[i]! * x[i]!;
  return 10 * Math.log10(s / (b - a) / 32768 ** 2);
}

/** Frequency from positive-going zero crossings (linear interpolation) in the middle of `x`. */
function frequency(x: Int16Array, rate: number): number {
  const a = Math.floor(x.length * 0.1), b = Math.floor(x.length * 0.9);
  let first = -1, last = -1, count = 0;
  for (let i = a; i < b; i++) {
    if (x[i - 1]! < 0 && x[i]! >= 0) {
      const t = i - 1 + -x[i - 1]! / (x[i]! - x[i - 1]!);
      if (first < 0) first = t;
      else count++;
      last = t;
    }
  }
  return (count * rate) / (last - first);
}

const sineDb = (amp: number) => 20 * Math.log10(amp) - 3.0103;

// --- tests ----------------------------------------------------------------------------------------

test('8-bit unsigned PCM at 8 kHz: decoded and upsampled to 16 kHz (1 kHz keeps frequency and level)', () => {
  const bytes = wavFile({ tag: 1, rate: 8000, channels: 1, bits: 8 }, [sine(1000, 8000, 1, 0.5)]);
  const { format, samples, sampleRate } = parseWav(bytes);
  assert.equal(format.formatName, 'PCM');
  assert.equal(format.bitsPerSample, 8);
  assert.equal(sampleRate, 16000);
  assert.equal(samples.length, 16000);
  assert.ok(Math.abs(frequency(samples, 16000) - 1000) < 0.5);
  assert.ok(Math.abs(rmsDb(samples) - sineDb(0.5)) < 0.15, `${rmsDb(samples)} dB`);
  // silence is 0x80 in unsigned 8-bit
  const silent = parseWav(wavFile({ tag: 1, rate: 16000, channels: 1, bits: 8 }, [new Float64Array(100)]));
  assert.ok(silent.samples.every((v) => v === 0));
});

test('24-bit and 32-bit integer PCM, 32/64-bit float, extensible: 44.1 kHz → 16 kHz', () => {
  const layouts: Layout[] = [
    { tag: 1, rate: 44100, channels: 1, bits: 24 },
    { tag: 1, rate: 44100, channels: 1, bits: 32 },
    { tag: 3, rate: 44100, channels: 1, bits: 32 },
    { tag: 3, rate: 44100, channels: 1, bits: 64 },
    { tag: 0xfffe, sub: 1, rate: 44100, channels: 1, bits: 24, validBits: 20 },
    { tag: 0xfffe, sub: 1, rate: 44100, channels: 1, bits: 32, validBits: 24 },
    { tag: 0xfffe, sub: 3, rate: 44100, channels: 1, bits: 32 },
  ];
  for (const l of layouts) {
    const { format, samples } = parseWav(wavFile(l, [sine(1000, 44100, 1, 0.25)]));
    const what = `${l.tag.toString(16)}/${l.sub ?? ''} ${l.bits}-bit`;
    assert.equal(format.extensible, l.tag === 0xfffe, what);
    assert.equal(samples.length, 16000, what);
    assert.ok(Math.abs(frequency(samples, 16000) - 1000) < 0.5, what);
    assert.ok(Math.abs(rmsDb(samples) - sineDb(0.25)) < 0.05, `${what}: ${rmsDb(samples)} dB`);
  }
  // 24-bit decoding is exact: a full-scale negative and a small positive value
  const exact = wavFile({ tag: 1, rate: 16000, channels: 1, bits: 24 }, [Float64Array.from([-1, 0.5, 1 / 256])]);
  assert.deepEqual(Array.from(parseWav(exact).samples), [-32768, 16384, 128]);
  // float beyond ±1 clips instead of wrapping
  const loud = wavFile({ tag: 3, rate: 16000, channels: 1, bits: 32 }, [Float64Array.from([2, -2, 0.25])]);
  assert.deepEqual(Array.from(parseWav(loud).samples), [32767, -32768, 8192]);
});

test('stereo 48 kHz → 16 kHz mono: channels averaged, 1 kHz frequency and level survive, 7.5 kHz attenuated ≥ 40 dB', () => {
  const l: Layout = { tag: 1, rate: 48000, channels: 2, bits: 16 };
  const left = sine(1000, 48000, 1, 0.5);
  const { format, samples } = parseWav(wavFile(l, [left, left]));
  assert.equal(format.channels, 2);
  assert.equal(format.sampleRate, 48000);
  assert.equal(samples.length, 16000);
  assert.ok(Math.abs(frequency(samples, 16000) - 1000) < 0.5);
  assert.ok(Math.abs(rmsDb(samples) - sineDb(0.5)) < 0.05, `${rmsDb(samples)} dB`);
  // averaging: opposite channels cancel, one silent channel halves the level (−6 dB)
  const inverse = left.map((v) => -v);
  assert.ok(rmsDb(parseWav(wavFile(l, [left, inverse])).samples) < -80);
  const half = parseWav(wavFile(l, [left, new Float64Array(left.length)])).samples;
  assert.ok(Math.abs(rmsDb(half) - sineDb(0.25)) < 0.05);
  // anti-aliasing: 7.5 kHz (and everything that would fold back below 8 kHz) is removed
  for (const hz of [7500, 9000, 12000, 16000, 20000]) {
    const hi = parseWav(wavFile(l, [sine(hz, 48000, 1, 0.5), sine(hz, 48000, 1, 0.5)])).samples;
    const att = sineDb(0.5) - rmsDb(hi);
    assert.ok(att >= 40, `${hz} Hz attenuated only ${att.toFixed(1)} dB`);
  }
  // six channels, 96 kHz: any channel count and the top rate
  const six = Array.from({ length: 6 }, () => sine(440, 96000, 0.5, 0.3));
  const s6 = parseWav(wavFile({ tag: 1, rate: 96000, channels: 6, bits: 16 }, six)).samples;
  assert.equal(s6.length, 8000);
  assert.ok(Math.abs(frequency(s6, 16000) - 440) < 0.5);
});

test('G.711 µ-law and A-law WAVs are decoded', () => {
  for (const tag of [6, 7]) {
    const body = new Uint8Array(16000);
    // encode a 1 kHz tone through the decoder's own table by searching the nearest code
    const probe = new Uint8Array(256).map((_, i) => i);
    const table = parseWav(riff(chunk('fmt ', fmtBody({ tag, rate: 16000, channels: 1, bits: 8 })), chunk('data', probe))).samples;
    const x = sine(1000, 16000, 1, 0.3);
    for (let i = 0; i < x.length; i++) {
      const want = x[i]! * 32768;
      let best = 0;
      for (let c = 1; c < 256; c++) if (Math.abs(table[c]! - want) < Math.abs(table[best]! - want)) best = c;
      body[i] = best;
    }
    const { format, samples } = parseWav(riff(chunk('fmt ', fmtBody({ tag, rate: 16000, channels: 1, bits: 8 })), chunk('data', body)));
    assert.equal(format.formatName, tag === 6 ? 'A-law' : 'µ-law');
    assert.ok(Math.abs(frequency(samples, 16000) - 1000) < 0.5);
    assert.ok(Math.abs(rmsDb(samples) - sineDb(0.3)) < 0.3);
  }
  // known points of the G.711 tables
  const m = parseWav(riff(chunk('fmt ', fmtBody({ tag: 7, rate: 16000, channels: 1, bits: 8 })), chunk('data', Uint8Array.from([0xff, 0x7f, 0x80, 0x00])))).samples;
  assert.deepEqual(Array.from(m), [0, 0, 32124, -32124]);
  const a = parseWav(riff(chunk('fmt ', fmtBody({ tag: 6, rate: 16000, channels: 1, bits: 8 })), chunk('data', Uint8Array.from([0xd5, 0x55, 0xaa, 0x2a])))).samples;
  assert.deepEqual(Array.from(a), [8, -8, 32256, -32256]);
});

test('errors name their cause (WavError.reason)', () => {
  const good = wavFile({ tag: 1, rate: 16000, channels: 1, bits: 16 }, [sine(500, 16000, 0.1, 0.5)]);
  const reason = (bytes: Uint8Array): string => {
    try {
      parseWav(bytes);
    } catch (e) {
      assert.ok(e instanceof WavError, String(e));
      return e.reason;
    }
    assert.fail('parsed');
  };
  const mp3 = Uint8Array.from([0x49, 0x44, 0x33, 0x04, 0, 0, 0, 0, 0, 0x21, 0xff, 0xfb, 0x90, 0x64]);
  assert.equal(reason(mp3), 'not a RIFF/WAVE file');
  assert.equal(reason(new Uint8Array(0)), 'not a RIFF/WAVE file');
  const avi = good.slice();
  avi.set([0x41, 0x56, 0x49, 0x20], 8);
  assert.equal(reason(avi), 'not a RIFF/WAVE file');
  const rf64 = good.slice();
  rf64.set([0x52, 0x46, 0x36, 0x34], 0);
  assert.equal(reason(rf64), 'RF64 WAV not supported');

  const mpeg = riff(chunk('fmt ', fmtBody({ tag: 0x55, rate: 44100, channels: 2, bits: 0 } as Layout)), chunk('data', new Uint8Array(100)));
  assert.equal(reason(mpeg), 'unsupported format tag 0x55 (MPEG Layer 3)');
  const adpcm = riff(chunk('fmt ', fmtBody({ tag: 0x11, rate: 8000, channels: 1, bits: 4 })), chunk('data', new Uint8Array(100)));
  assert.equal(reason(adpcm), 'unsupported format tag 0x11 (IMA ADPCM)');
  const extMp3 = riff(chunk('fmt ', fmtBody({ tag: 0xfffe, sub: 0x55, rate: 44100, channels: 2, bits: 16 })), chunk('data', new Uint8Array(100)));
  assert.equal(reason(extMp3), 'unsupported format tag 0x55 (MPEG Layer 3)');

  assert.equal(reason(riff(chunk('fmt ', fmtBody({ tag: 1, rate: 16000, channels: 1, bits: 16 })))), 'no data chunk');
  assert.equal(reason(riff(chunk('LIST', new Uint8Array(10)), chunk('data', new Uint8Array(10)))), 'no fmt chunk');
  assert.equal(reason(good.subarray(0, good.length - 50)), 'truncated');
  assert.equal(reason(good.subarray(0, 30)), 'truncated');
  assert.equal(reason(good.subarray(0, 8)), 'truncated');
  assert.equal(reason(riff(chunk('fmt ', fmtBody({ tag: 1, rate: 16000, channels: 1, bits: 16 })), chunk('data', new Uint8Array(0)))), 'no audio samples');
  assert.equal(reason(wavFile({ tag: 1, rate: 4000, channels: 1, bits: 16 }, [new Float64Array(10)])), 'unsupported sample rate 4000 Hz');
  assert.equal(reason(wavFile({ tag: 1, rate: 192000, channels: 1, bits: 16 }, [new Float64Array(10)])), 'unsupported sample rate 192000 Hz');
  const noChannels = riff(chunk('fmt ', fmtBody({ tag: 1, rate: 16000, channels: 0, bits: 16 })), chunk('data', new Uint8Array(10)));
  assert.equal(reason(noChannels), 'invalid channel count 0');
  const float16 = riff(chunk('fmt ', fmtBody({ tag: 3, rate: 16000, channels: 1, bits: 16 })), chunk('data', new Uint8Array(10)));
  assert.equal(reason(float16), 'unsupported bits per sample 16 for IEEE float');
  const shortFmt = riff(chunk('fmt ', new Uint8Array(12)), chunk('data', new Uint8Array(10)));
  assert.equal(reason(shortFmt), 'bad fmt chunk');

  // the message carries the detail
  try {
    parseWav(good.subarray(0, good.length - 50));
  } catch (e) {
    assert.match((e as Error).message, /truncated: data chunk declares \d+ bytes, \d+ present/);
  }
});

test('write → parse round trip, and tolerated variations (chunk order, odd chunks, streamed size)', () => {
  const x = new Int16Array(16000);
  for (let i = 0; i < x.length; i++) x[i] = Math.round(12000 * Math.sin(i * 0.3) + 3000 * Math.sin(i * 0.031));
  const mono = writeWav(x, 16000);
  assert.equal(mono.length, 44 + 32000);
  assert.deepEqual(parseWav(mono).samples, x);
  const f = readWavFormat(mono);
  assert.deepEqual([f.formatTag, f.sampleRate, f.channels, f.bitsPerSample, f.frames, f.durationMs], [1, 16000, 1, 16, 16000, 1000]);

  // stereo 8 kHz: format as written, averaged and upsampled on parse
  const st = new Int16Array(16000);
  for (let i = 0; i < 8000; i++) st[2 * i] = st[2 * i + 1] = Math.round(10000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
  const stereo = writeWav(st, 8000, 2);
  const sf = readWavFormat(stereo);
  assert.deepEqual([sf.channels, sf.sampleRate, sf.blockAlign, sf.frames], [2, 8000, 4, 8000]);
  const sp = parseWav(stereo).samples;
  assert.equal(sp.length, 16000);
  assert.ok(Math.abs(frequency(sp, 16000) - 440) < 0.5);
  assert.throws(() => writeWav(new Int16Array(3), 8000, 2), RangeError);

  // LIST before fmt, an odd-sized chunk (padded), data before fmt
  const body = mono.subarray(44);
  const fmt = chunk('fmt ', fmtBody({ tag: 1, rate: 16000, channels: 1, bits: 16 }));
  const odd = chunk('junk', new Uint8Array(7));
  assert.deepEqual(parseWav(riff(chunk('LIST', new Uint8Array(26)), odd, fmt, chunk('data', body))).samples, x);
  assert.deepEqual(parseWav(riff(chunk('data', body), odd, fmt)).samples, x);
  // streamed writers leave 0xFFFFFFFF as the data size
  const streamed = mono.slice();
  new DataView(streamed.buffer).setUint32(40, 0xffffffff, true);
  assert.deepEqual(parseWav(streamed).samples, x);
  // and SoX writing to a pipe leaves 0x7FFFF000 in both sizes
  new DataView(streamed.buffer).setUint32(40, 0x7ffff000, true);
  new DataView(streamed.buffer).setUint32(4, 0x7ffff000 + 36, true);
  assert.deepEqual(parseWav(streamed).samples, x);
  // other output rates on request
  assert.equal(parseWav(mono, { sampleRate: 8000 }).samples.length, 8000);
});

test('resampler: every common rate to 16 kHz flat in the passband, streaming equals whole-buffer', () => {
  for (const rate of [8000, 11025, 12000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 37800]) {
    const x = Float32Array.from(sine(1000, rate, 1, 0.5));
    const y = Resampler.convert(x, rate, 16000);
    assert.equal(y.length, 16000, `${rate}`);
    const i16 = Int16Array.from(y, (v) => Math.round(v * 32767));
    assert.ok(Math.abs(rmsDb(i16) - sineDb(0.5)) < 0.02, `${rate}: ${rmsDb(i16)} dB`);
    assert.ok(Math.abs(frequency(i16, 16000) - 1000) < 0.2, `${rate}`);
  }
  // streaming in uneven chunks gives exactly the whole-buffer result, with Int16 I/O too
  const x = Float32Array.from(sine(3100, 44100, 0.5, 0.7));
  const whole = Resampler.convert(x, 44100, 16000);
  const r = new Resampler(44100, 16000, { maxInput: 1000 });
  const got = new Float32Array(whole.length);
  let n = 0;
  const tmp = new Float32Array(2000);
  for (let i = 0, step = 1; i < x.length; i += step, step = (step * 7 + 3) % 997) {
    const k = r.process(x.subarray(i, Math.min(x.length, i + step)), tmp);
    got.set(tmp.subarray(0, k), n);
    n += k;
  }
  n += r.flush(got.subarray(n));
  assert.equal(n, whole.length);
  assert.deepEqual(got, whole);

  const ri = new Resampler(16000, 8000);
  const inp = Int16Array.from(sine(500, 16000, 0.1, 0.5), (v) => Math.round(v * 32767));
  const out = new Int16Array(ri.maxOutputLength(inp.length) + 100);
  let m = ri.processInt16(inp, out);
  m += ri.flushInt16(out.subarray(m));
  assert.equal(m, 800);
});

test('parseWavInSlices gives parseWav\'s samples exactly, pausing between slices, and refuses bad files before any pause', async () => {
  const layouts: Layout[] = [
    { tag: 1, rate: 44100, channels: 2, bits: 16 },
    { tag: 1, rate: 48000, channels: 1, bits: 24 },
    { tag: 1, rate: 16000, channels: 1, bits: 16 }, // no resampling
    { tag: 1, rate: 8000, channels: 1, bits: 8 },
    { tag: 3, rate: 22050, channels: 2, bits: 32 },
    { tag: 7, rate: 8000, channels: 1, bits: 8 },
    { tag: 1, rate: 44056, channels: 1, bits: 16 }, // an odd rate: interpolated phases
  ];
  for (const l of layouts) {
    const seconds = 1.37;
    const chans = Array.from({ length: l.channels }, (_, c) => sine(700 + 300 * c, l.rate, seconds, 0.3));
    const bytes = wavFile(l, chans);
    const whole = parseWav(bytes).samples;
    for (const sliceFrames of [1000, 4096, 1 << 20]) {
      let pauses = 0;
      const sliced = await parseWavInSlices(bytes, { sliceFrames, pause: async () => void pauses++ });
      const what = `${l.tag}/${l.rate}/${l.channels}/${l.bits} in slices of ${sliceFrames}`;
      assert.equal(sliced.samples.length, whole.length, what);
      assert.ok(Buffer.from(sliced.samples.buffer, sliced.samples.byteOffset, sliced.samples.byteLength).equals(Buffer.from(whole.buffer)), `${what}: same samples`);
      // (parseWav built the resampler's table: cached, no pause for it)
      assert.equal(pauses, Math.ceil(readWavFormat(bytes).frames / sliceFrames) - 1, `${what}: a pause between slices`);
    }
  }
  let paused = false;
  await assert.rejects(parseWavInSlices(new TextEncoder().encode('<html>no</html>'), { pause: async () => void (paused = true) }), WavError);
  assert.equal(paused, false);
});

test('an odd rate\'s resampler table is built a few rows at a time by prepare(), once, and is the table the constructor builds', async () => {
  const x = Float32Array.from(sine(1000, 44057, 0.2, 0.5));
  forgetResamplerTables();
  const cold = Resampler.convert(x, 44057, 16000); // the table built in one piece
  forgetResamplerTables();
  let pauses = 0;
  await Resampler.prepare(44057, 16000, {}, async () => void pauses++);
  // 1,025 rows of 348 taps: ~30 ms in one piece; prepare() pauses every ~16,000 entries
  assert.ok(pauses >= 20, `${pauses} pauses`);
  assert.deepEqual(Resampler.convert(x, 44057, 16000), cold, 'the same table');
  pauses = 0;
  await Resampler.prepare(44057, 16000, {}, async () => void pauses++);
  assert.equal(pauses, 0, 'cached: built once');
  await Resampler.prepare(16000, 16000, {}, async () => void pauses++);
  assert.equal(pauses, 0, 'no table for equal rates');
  await assert.rejects(Resampler.prepare(0, 16000, {}, async () => undefined), RangeError);

  // parseWavInSlices prepares the table itself, pausing while it is built
  forgetResamplerTables();
  const bytes = wavFile({ tag: 1, rate: 44057, channels: 1, bits: 16 }, [sine(700, 44057, 0.5, 0.3)]);
  pauses = 0;
  const sliced = await parseWavInSlices(bytes, { sliceFrames: 1 << 20, pause: async () => void pauses++ });
  assert.ok(pauses >= 20, `${pauses} pauses while its table was built`);
  assert.deepEqual(sliced.samples, parseWav(bytes).samples);
});
