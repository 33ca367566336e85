/**
 * WAV (RIFF/WAVE) reading and writing.
 *
 * parseWav() accepts the PCM WAV files people actually have: integer PCM of 8 (unsigned), 16, 24
 * and 32 bits (and other byte widths, left-justified as the format requires), IEEE float of 32 and
 * 64 bits, G.711 A-law and µ-law, each either plain or as WAVE_FORMAT_EXTENSIBLE; any rate from
 * 8 kHz to 96 kHz; any number of channels. Channels are averaged to mono and the result is
 * resampled (polyphase windowed sinc, no aliasing) to the engine's 16 kHz, as an Int16Array.
 *
 * Anything that is not usable audio is refused with a WavError whose `reason` names the cause,
 * e.g. "not a RIFF/WAVE file", "unsupported format tag 0x55 (MPEG Layer 3)", "no data chunk",
 * "truncated".
 *
 * writeWav() writes 16-bit PCM at a given rate and channel count from interleaved samples.
 */
import { Resampler } from './Resampler.ts';

export class WavError extends Error {
  /** Short, stable statement of the cause ("no data chunk", "truncated", …). */
  readonly reason: string;
  constructor(reason: string, detail?: string) {
    super(detail ? `invalid WAV: ${reason}: ${detail}` : `invalid WAV: ${reason}`);
    this.name = 'WavError';
    this.reason = reason;
  }
}

export const WAVE_FORMAT_PCM = 0x0001;
export const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
export const WAVE_FORMAT_ALAW = 0x0006;
export const WAVE_FORMAT_MULAW = 0x0007;
export const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Names of format tags seen in the wild, for error messages. */
const FORMAT_NAMES: Record<number, string> = {
  0x0000: 'unknown',
  0x0001: 'PCM',
  0x0002: 'Microsoft ADPCM',
  0x0003: 'IEEE float',
  0x0006: 'A-law',
  0x0007: 'µ-law',
  0x0010: 'OKI ADPCM',
  0x0011: 'IMA ADPCM',
  0x0014: 'G.723 ADPCM',
  0x0022: 'DSP Group TrueSpeech',
  0x0031: 'GSM 6.10',
  0x0040: 'G.721 ADPCM',
  0x0042: 'G.723.1',
  0x0045: 'G.726 ADPCM',
  0x0050: 'MPEG',
  0x0055: 'MPEG Layer 3',
  0x0064: 'G.726 ADPCM',
  0x0065: 'G.722 ADPCM',
  0x0092: 'Dolby AC3 SPDIF',
  0x0161: 'Windows Media Audio',
  0x0162: 'Windows Media Audio Pro',
  0x0163: 'Windows Media Audio Lossless',
  0x00ff: 'AAC',
  0x1610: 'MPEG-4 AAC (HE-AAC)',
  0x2000: 'Dolby AC3',
  0x2001: 'DTS',
  0x674f: 'Ogg Vorbis',
  0x6750: 'Ogg Vorbis',
  0x6751: 'Ogg Vorbis',
  0x704f: 'Opus',
  0xf1ac: 'FLAC',
  0xfffe: 'extensible',
};

export function formatTagName(tag: number): string {
  return FORMAT_NAMES[tag] ?? 'unknown codec';
}

function hex(tag: number, width = 2): string {
  return '0x' + tag.toString(16).toUpperCase().padStart(width, '0');
}

/** What the fmt chunk says, plus the data chunk's extent. */
export interface WavFormat {
  /** Effective format: 1 PCM, 3 IEEE float, 6 A-law, 7 µ-law (the sub-format when extensible). */
  formatTag: number;
  formatName: string;
  extensible: boolean;
  sampleRate: number;
  channels: number;
  /** Container bits per sample. */
  bitsPerSample: number;
  /** Significant bits (extensible files may say fewer than the container holds). */
  validBitsPerSample: number;
  blockAlign: number;
  /** Sample frames (one sample per channel) in the data chunk. */
  frames: number;
  durationMs: number;
  /** Byte offset and length of the audio data within the file. */
  dataOffset: number;
  dataLength: number;
}

export interface ParsedWav {
  format: WavFormat;
  /** Mono, at the requested rate (16 kHz unless told otherwise). */
  samples: Int16Array;
  sampleRate: number;
}

export interface ParseWavOptions {
  /** Output rate. Default 16000. */
  sampleRate?: number;
}

export const MIN_WAV_RATE = 8000;
export const MAX_WAV_RATE = 96000;

// KSDATAFORMAT_SUBTYPE_xxx GUIDs share bytes 2..15: 00 00 00 00 10 00 80 00 00 AA 00 38 9B 71
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

function fourcc(b: Uint8Array, off: number): string {
  return String.fromCharCode(b[off]!, b[off + 1]!, b[off + 2]!, b[off + 3]!);
}

/** Reads and validates the header; throws WavError for anything that is not usable audio. */
export function readWavFormat(bytes: Uint8Array): WavFormat {
  if (bytes.length < 12) {
    if (bytes.length >= 4 && fourcc(bytes, 0) === 'RIFF') throw new WavError('truncated', `only ${bytes.length} bytes`);
    throw new WavError('not a RIFF/WAVE file', bytes.length === 0 ? 'empty input' : `only ${bytes.length} bytes`);
  }
  const magic = fourcc(bytes, 0);
  const wave = fourcc(bytes, 8);
  if (magic === 'RF64' || magic === 'BW64') throw new WavError('RF64 WAV not supported', '64-bit sizes');
  if (magic === 'RIFX') throw new WavError('big-endian RIFX WAV not supported');
  if (magic !== 'RIFF' || wave !== 'WAVE') {
    throw new WavError('not a RIFF/WAVE file', `starts with ${JSON.stringify(magic)}…${JSON.stringify(wave)}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  let fmtOff = -1;
  let fmtLen = 0;
  let dataOff = -1;
  let dataLen = 0;
  let off = 12;
  while (off + 8 <= bytes.length) {
    const id = fourcc(bytes, off);
    const size = dv.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'fmt ') {
      if (body + size > bytes.length) throw new WavError('truncated', 'fmt chunk runs past the end of the file');
      fmtOff = body;
      fmtLen = size;
    } else if (id === 'data') {
      dataOff = body;
      const avail = bytes.length - body;
      if (size === 0xffffffff || (size === 0x7ffff000 && size > avail) || (size === 0 && avail > 0 && dv.getUint32(4, true) === 0)) {
        // Writers that stream (stdout, pipes) leave a placeholder size: 0xFFFFFFFF, 0, or SoX's
        // 0x7FFFF000 (as `sox … -t wav -` writes it).
        dataLen = avail;
      } else if (size > avail) {
        throw new WavError('truncated', `data chunk declares ${size} bytes, ${avail} present`);
      } else {
        dataLen = size;
      }
      if (fmtOff >= 0) break; // everything needed; trailing chunks are ignored
      off = body + dataLen + (dataLen & 1);
      continue;
    }
    off = body + size + (size & 1);
  }
  // Stopped inside a chunk header or a chunk body: the file was cut short.
  const overran = off > bytes.length + 1 || (off < bytes.length && bytes.length - off < 8 && (fmtOff < 0 || dataOff < 0));
  if (fmtOff < 0) {
    if (overran && dataOff < 0) throw new WavError('truncated', 'the file ends before a fmt chunk');
    throw new WavError('no fmt chunk');
  }
  if (fmtLen < 16) throw new WavError('bad fmt chunk', `${fmtLen} bytes, at least 16 needed`);

  const tag = dv.getUint16(fmtOff, true);
  const channels = dv.getUint16(fmtOff + 2, true);
  const sampleRate = dv.getUint32(fmtOff + 4, true);
  const blockAlign = dv.getUint16(fmtOff + 12, true);
  const bitsPerSample = dv.getUint16(fmtOff + 14, true);

  let effTag = tag;
  let validBits = bitsPerSample;
  let extensible = false;
  if (tag === WAVE_FORMAT_EXTENSIBLE) {
    extensible = true;
    if (fmtLen < 40) throw new WavError('bad fmt chunk', `extensible fmt chunk of ${fmtLen} bytes, 40 needed`);
    const cbSize = dv.getUint16(fmtOff + 16, true);
    if (cbSize < 22) throw new WavError('bad fmt chunk', `extensible cbSize ${cbSize}, 22 needed`);
    const vb = dv.getUint16(fmtOff + 18, true);
    if (vb !== 0) validBits = vb;
    const sub = dv.getUint16(fmtOff + 24, true);
    for (let i = 0; i < 14; i++) {
      if (bytes[fmtOff + 26 + i] !== GUID_TAIL[i]) {
        const guid = Array.from(bytes.subarray(fmtOff + 24, fmtOff + 40), (b) => b.toString(16).padStart(2, '0')).join('');
        throw new WavError('unsupported extensible sub-format', `GUID ${guid}`);
      }
    }
    effTag = sub;
    if (!isSupportedTag(sub)) {
      throw new WavError(`unsupported format tag ${hex(sub)} (${formatTagName(sub)})`, 'extensible sub-format');
    }
  } else if (!isSupportedTag(tag)) {
    throw new WavError(`unsupported format tag ${hex(tag)} (${formatTagName(tag)})`);
  }

  if (channels === 0) throw new WavError('invalid channel count 0');
  if (sampleRate < MIN_WAV_RATE || sampleRate > MAX_WAV_RATE) {
    throw new WavError(`unsupported sample rate ${sampleRate} Hz`, `supported: ${MIN_WAV_RATE}–${MAX_WAV_RATE} Hz`);
  }
  const bytesPerSample = blockAlign / channels;
  if (blockAlign === 0 || !Number.isInteger(bytesPerSample)) {
    throw new WavError('invalid block align', `${blockAlign} bytes for ${channels} channels`);
  }
  switch (effTag) {
    case WAVE_FORMAT_PCM:
      if (bitsPerSample < 1 || bitsPerSample > 32 || bytesPerSample !== Math.ceil(bitsPerSample / 8)) {
        throw new WavError(`unsupported bits per sample ${bitsPerSample} for PCM`, `block align ${blockAlign}, ${channels} channels`);
      }
      break;
    case WAVE_FORMAT_IEEE_FLOAT:
      if ((bitsPerSample !== 32 && bitsPerSample !== 64) || bytesPerSample !== bitsPerSample / 8) {
        throw new WavError(`unsupported bits per sample ${bitsPerSample} for IEEE float`, `block align ${blockAlign}`);
      }
      break;
    case WAVE_FORMAT_ALAW:
    case WAVE_FORMAT_MULAW:
      if (bitsPerSample !== 8 || bytesPerSample !== 1) {
        throw new WavError(`unsupported bits per sample ${bitsPerSample} for ${formatTagName(effTag)}`);
      }
      break;
  }
  if (validBits > bitsPerSample) validBits = bitsPerSample;

  if (dataOff < 0) {
    if (overran) throw new WavError('truncated', 'the file ends before a data chunk');
    throw new WavError('no data chunk');
  }
  const frames = Math.floor(dataLen / blockAlign);
  if (frames === 0) {
    if (dataLen > 0) throw new WavError('truncated', `data chunk of ${dataLen} bytes holds no whole frame of ${blockAlign}`);
    throw new WavError('no audio samples', 'empty data chunk');
  }
  return {
    formatTag: effTag,
    formatName: formatTagName(effTag),
    extensible,
    sampleRate,
    channels,
    bitsPerSample,
    validBitsPerSample: validBits,
    blockAlign,
    frames,
    durationMs: (frames * 1000) / sampleRate,
    dataOffset: dataOff,
    dataLength: frames * blockAlign,
  };
}

function isSupportedTag(tag: number): boolean {
  return tag === WAVE_FORMAT_PCM || tag === WAVE_FORMAT_IEEE_FLOAT || tag === WAVE_FORMAT_ALAW || tag === WAVE_FORMAT_MULAW;
}

/** Decodes to mono float (−1…1, channels averaged) at the file's own rate. */
export function decodeWavMono(bytes: Uint8Array): { format: WavFormat; samples: Float32Array } {
  const f = readWavFormat(bytes);
  const out = new Float32Array(f.frames);
  decodeFrames(bytes, f, 0, f.frames, out);
  return { format: f, samples: out };
}

/** Decodes frames [from, to) of a file read by readWavFormat() to mono float, into out[0 …]. */
function decodeFrames(bytes: Uint8Array, f: WavFormat, from: number, to: number, out: Float32Array): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ch = f.channels;
  const bps = f.blockAlign / ch;
  const inv = 1 / ch;
  let p = f.dataOffset + from * f.blockAlign;
  const n = to - from;
  switch (f.formatTag) {
    case WAVE_FORMAT_PCM:
      if (bps === 1) {
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let c = 0; c < ch; c++) s += bytes[p++]! - 128;
          out[i] = (s * inv) / 128;
        }
      } else if (bps === 2) {
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let c = 0; c < ch; c++, p += 2) s += dv.getInt16(p, true);
          out[i] = (s * inv) / 32768;
        }
      } else if (bps === 3) {
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let c = 0; c < ch; c++, p += 3) {
            const v = bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16);
            s += (v << 8) >> 8; // sign-extend 24 → 32
          }
          out[i] = (s * inv) / 8388608;
        }
      } else {
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let c = 0; c < ch; c++, p += 4) s += dv.getInt32(p, true);
          out[i] = (s * inv) / 2147483648;
        }
      }
      break;
    case WAVE_FORMAT_IEEE_FLOAT:
      if (bps === 4) {
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let c = 0; c < ch; c++, p += 4) s += sanitize(dv.getFloat32(p, true));
          out[i] = s * inv;
        }
      } else {
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let c = 0; c < ch; c++, p += 8) s += sanitize(dv.getFloat64(p, true));
          out[i] = s * inv;
        }
      }
      break;
    case WAVE_FORMAT_ALAW:
    case WAVE_FORMAT_MULAW: {
      const table = f.formatTag === WAVE_FORMAT_ALAW ? alawTable() : mulawTable();
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let c = 0; c < ch; c++) s += table[bytes[p++]!]!;
        out[i] = (s * inv) / 32768;
      }
      break;
    }
  }
}

function sanitize(v: number): number {
  return Number.isFinite(v) ? v : 0;
}

/** Parses a WAV file into mono 16-bit PCM at 16 kHz (or `opts.sampleRate`). */
export function parseWav(bytes: Uint8Array, opts: ParseWavOptions = {}): ParsedWav {
  const rate = opts.sampleRate ?? 16000;
  const { format, samples } = decodeWavMono(bytes);
  const resampled = format.sampleRate === rate ? samples : Resampler.convert(samples, format.sampleRate, rate);
  const pcm = new Int16Array(resampled.length);
  toInt16(resampled, pcm, 0);
  return { format, samples: pcm, sampleRate: rate };
}

/** Input frames parseWavInSlices() converts between pauses: about 1–3 ms of work. */
export const WAV_SLICE_FRAMES = 8192;

/**
 * parseWav() a slice at a time, awaiting `pause()` between slices (by default the next turn of
 * the event loop), so that a long file (a 10 MB WAV takes about half a second to convert) never
 * holds the thread the media clock runs on for more than a few milliseconds. The same samples as
 * parseWav(); a header that is not usable audio throws the same WavError, before any pause.
 */
export async function parseWavInSlices(
  bytes: Uint8Array,
  opts: ParseWavOptions & { pause?: () => Promise<void>; sliceFrames?: number } = {},
): Promise<ParsedWav> {
  const rate = opts.sampleRate ?? 16000;
  const pause = opts.pause ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  const slice = Math.max(1, Math.floor(opts.sliceFrames ?? WAV_SLICE_FRAMES));
  const format = readWavFormat(bytes);
  const same = format.sampleRate === rate;
  const total = same ? format.frames : Resampler.outputLength(format.frames, format.sampleRate, rate);
  const pcm = new Int16Array(total);
  const input = new Float32Array(Math.min(slice, format.frames));
  let resampler: Resampler | null = null;
  let output = input;
  if (!same) {
    // its filter table, built a few rows at a time (~30 ms of work in one piece at odd rates), or cached
    await Resampler.prepare(format.sampleRate, rate, {}, pause);
    resampler = new Resampler(format.sampleRate, rate, { maxInput: slice });
    output = new Float32Array(resampler.maxOutputLength(slice));
  }
  let written = 0;
  for (let from = 0; from < format.frames; from += slice) {
    if (from > 0) await pause();
    const to = Math.min(format.frames, from + slice);
    const chunk = input.subarray(0, to - from);
    decodeFrames(bytes, format, from, to, chunk);
    if (!resampler) {
      toInt16(chunk, pcm, written);
      written += chunk.length;
      continue;
    }
    const n = resampler.process(chunk, output.subarray(0, Math.min(output.length, total - written)));
    toInt16(output.subarray(0, n), pcm, written);
    written += n;
  }
  if (resampler && written < total) {
    const tail = new Float32Array(total - written);
    const n = resampler.flush(tail);
    toInt16(tail.subarray(0, n), pcm, written);
    written += n;
  }
  return { format, samples: written === total ? pcm : pcm.subarray(0, written), sampleRate: rate };
}

/** Float samples (−1…1) to rounded, clipped 16-bit ones, into out[at …]. */
function toInt16(x: Float32Array, out: Int16Array, at: number): void {
  for (let i = 0; i < x.length; i++) {
    const v = Math.round(x[i]! * 32768);
    out[at + i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/** Size of the canonical PCM WAV header writeWavHeader() writes. */
export const WAV_HEADER_BYTES = 44;

/** Writes the canonical 44-byte header of a 16-bit PCM WAV holding `dataBytes` of samples at the start of `out`. */
export function writeWavHeader(out: Uint8Array, dataBytes: number, sampleRate: number, channels: number): void {
  const dv = new DataView(out.buffer, out.byteOffset, WAV_HEADER_BYTES);
  const ascii = (off: number, s: string) => {
    for (let i = 0; i < 4; i++) out[off + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  dv.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, WAVE_FORMAT_PCM, true);
  dv.setUint16(22, channels, true);
  dv.setUint32(24, sampleRate, true);
  dv.setUint32(28, sampleRate * channels * 2, true);
  dv.setUint16(32, channels * 2, true);
  dv.setUint16(34, 16, true);
  ascii(36, 'data');
  dv.setUint32(40, dataBytes, true);
}

/** Writes 16-bit PCM WAV from interleaved samples. */
export function writeWav(samples: Int16Array, sampleRate: number, channels = 1): Uint8Array {
  return joinBytes(wavParts([samples], sampleRate, channels));
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A 16-bit PCM WAV of the interleaved samples in `chunks` (one after the other), as parts to write
 * in order: its header, then each chunk's bytes, which on little-endian hosts are views of the
 * chunk itself (no copy: a recording's blocks go to the file as they are; keep them unchanged
 * until the parts are written).
 */
export function wavParts(chunks: readonly Int16Array[], sampleRate: number, channels: number): Uint8Array[] {
  if (!Number.isInteger(channels) || channels < 1 || channels > 65535) throw new RangeError(`invalid channel count ${channels}`);
  if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new RangeError(`invalid sample rate ${sampleRate}`);
  let samples = 0;
  for (const c of chunks) samples += c.length;
  if (samples % channels !== 0) throw new RangeError(`${samples} samples is not a whole number of ${channels}-channel frames`);
  const dataLen = samples * 2;
  if (dataLen > 0xffffffff - 36) throw new RangeError('too much audio for a RIFF file');
  const header = new Uint8Array(WAV_HEADER_BYTES);
  writeWavHeader(header, dataLen, sampleRate, channels);
  const parts: Uint8Array[] = [header];
  for (const c of chunks) {
    if (LITTLE_ENDIAN) {
      parts.push(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
    } else {
      const le = new Uint8Array(c.byteLength);
      const dv = new DataView(le.buffer);
      for (let i = 0; i < c.length; i++) dv.setInt16(i * 2, c[i]!, true);
      parts.push(le);
    }
  }
  return parts;
}

/** The parts, one after the other, in one array. */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// --- G.711 expansion (ITU-T G.711 tables, computed) -----------------------------------------------

let alaw: Int16Array | undefined;
let mulaw: Int16Array | undefined;

function alawTable(): Int16Array {
  if (alaw) return alaw;
  const t = new Int16Array(256);
  for (let i = 0; i < 256; i++) {
    const a = i ^ 0x55;
    const seg = (a >> 4) & 7;
    const mant = a & 0x0f;
    const mag = seg === 0 ? (mant << 4) + 8 : ((mant << 4) + 0x108) << (seg - 1);
    t[i] = a & 0x80 ? mag : -mag;
  }
  return (alaw = t);
}

function mulawTable(): Int16Array {
  if (mulaw) return mulaw;
  const t = new Int16Array(256);
  for (let i = 0; i < 256; i++) {
    const u = ~i & 0xff;
    const seg = (u >> 4) & 7;
    const mant = u & 0x0f;
    const mag = (((mant << 3) + 0x84) << seg) - 0x84;
    t[i] = u & 0x80 ? -mag : mag;
  }
  return (mulaw = t);
}
