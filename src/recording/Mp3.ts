// MP3 for recordings: what the encoder (LAME 3.100 compiled to WebAssembly, from the npm package
// wasm-media-encoders) produces at 16 kHz, the "Info" frame that makes its length exact for players,
// and a frame parser.
//
// The stream: MPEG-2 Layer III, 16 kHz, CBR, 576 samples (36 ms) per frame, mono or joint stereo
// (LAME's default; it codes a frame as mid/side only where the channels are alike, so a silent
// channel stays exactly silent), no tag of LAME's own. For n samples LAME writes exactly
// 2 + ⌈n / 576⌉ frames: its 576-sample encoder delay, then the audio, then padding up to a whole
// frame (measured; tested). A decoder adds its own 529 samples (the MDCT's 528 + 1), so the audio of
// a plain decode begins 1105 samples in.
//
// The Info frame (a Xing header for CBR, with LAME's extension, as LAME writes it) comes first and
// states the frame count, the byte count and the encoder delay (576) and padding (frames × 576 −
// 576 − n): gapless decoders (mpg123, ffmpeg, Apple's, foobar2000) trim both and give back exactly n
// samples (checked with mpg123); decoders that ignore it play one silent frame, then the stream as is.
import { SAMPLE_RATE } from '../media/MediaFormat.ts';

export const MP3_FRAME_SAMPLES = 576; // MPEG-2 (LSF) Layer III: one granule per frame
/** LAME's encoder delay (ENCDELAY), stated in the Info frame. */
export const MP3_ENCODER_DELAY = 576;
/** What a decoder adds: stated nowhere, assumed by every gapless decoder. */
export const MP3_DECODER_DELAY = 529;
const LAME_VERSION = 'LAME3.100'; // the encoder, as LAME names itself in its own tag (9 bytes)

/** MPEG-2 Layer III bitrate indexes (kbps). */
const BITRATES_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const RATES_V2 = [22050, 24000, 16000];
const RATES_V1 = [44100, 48000, 32000];
const RATES_V25 = [11025, 12000, 8000];
const BITRATES_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];

/** Bytes of one frame at 16 kHz (no padding slot is ever needed: 72 × kbps × 1000 / 16000 is whole). */
export function mp3FrameBytes(kbps: number): number {
  return (72 * kbps * 1000) / SAMPLE_RATE;
}

/** Frames LAME writes for n samples (tested against the encoder). */
export function mp3AudioFrames(samples: number): number {
  return 2 + Math.ceil(samples / MP3_FRAME_SAMPLES);
}

/** The Info frame's bitrate: the stream's when the tag fits in such a frame, else the smallest that holds it. */
export function infoFrameKbps(kbps: number, channels: number): number {
  const need = sideInfoEnd(channels) + 120 + 36;
  if (mp3FrameBytes(kbps) >= need) return kbps;
  for (const b of BITRATES_V2) if (b > 0 && mp3FrameBytes(b) >= need) return b;
  throw new Error('no bitrate holds the Info tag');
}

/** Total bytes of the file for n samples: the Info frame and the audio frames. */
export function mp3FileBytes(samples: number, kbps: number, channels: number): number {
  return mp3FrameBytes(infoFrameKbps(kbps, channels)) + mp3AudioFrames(samples) * mp3FrameBytes(kbps);
}

function sideInfoEnd(channels: number): number {
  return 4 + (channels === 1 ? 9 : 17); // header + MPEG-2 side information
}

let crcTable: Uint16Array | undefined;
/** CRC-16 as LAME computes the Info tag's (polynomial 0x8005 reflected, initial 0). */
export function crc16(bytes: Uint8Array, start: number, end: number): number {
  if (!crcTable) {
    crcTable = new Uint16Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
      crcTable[i] = c;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ crcTable[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/**
 * The Info frame for a stream of `audioFrames` frames holding `samples` samples (`audioBytes` bytes
 * of frames after it).
 */
export function buildInfoFrame(samples: number, audioFrames: number, audioBytes: number, kbps: number, channels: number): Uint8Array {
  const frameKbps = infoFrameKbps(kbps, channels);
  const size = mp3FrameBytes(frameKbps);
  const f = new Uint8Array(size);
  const dv = new DataView(f.buffer);
  // header: sync, MPEG-2, Layer III, no CRC | bitrate, 16 kHz, no padding | channel mode, original
  f[0] = 0xff;
  f[1] = 0xf3;
  f[2] = (BITRATES_V2.indexOf(frameKbps) << 4) | (2 << 2);
  f[3] = (channels === 1 ? 3 << 6 : 1 << 6) | 0x04; // mono or joint stereo (as the audio frames)
  const tag = sideInfoEnd(channels); // the side information stays zero: a silent frame
  const total = size + audioBytes;
  f.set([0x49, 0x6e, 0x66, 0x6f], tag); // "Info": a CBR stream's Xing header
  dv.setUint32(tag + 4, 0x0f, false); // frames, bytes, TOC and quality present
  dv.setUint32(tag + 8, audioFrames, false);
  dv.setUint32(tag + 12, total, false);
  for (let i = 0; i < 100; i++) f[tag + 16 + i] = Math.floor((i * 256) / 100); // CBR: position ∝ time
  dv.setUint32(tag + 116, 0, false); // quality
  const lame = tag + 120;
  for (let i = 0; i < 9; i++) f[lame + i] = LAME_VERSION.charCodeAt(i);
  f[lame + 9] = 0x01; // tag revision 0, VBR method 1: constant bitrate
  f[lame + 10] = Math.min(255, Math.round(SAMPLE_RATE / 2 / 100)); // lowpass, 100 Hz units
  // peak (4), radio and audiophile replay gain (2 + 2), flags + ATH: left zero
  f[lame + 20] = Math.min(255, kbps);
  // Delay and padding (12 bits each); left zero (no trimming) if the stream is not what LAME writes.
  const padding = audioFrames * MP3_FRAME_SAMPLES - MP3_ENCODER_DELAY - samples;
  if (padding >= 0 && padding <= 0xfff) {
    f[lame + 21] = MP3_ENCODER_DELAY >> 4;
    f[lame + 22] = ((MP3_ENCODER_DELAY & 0x0f) << 4) | (padding >> 8);
    f[lame + 23] = padding & 0xff;
  }
  f[lame + 24] = channels === 1 ? 0 : 3 << 2; // misc: stereo mode (0 mono, 3 joint), source ≤ 32 kHz
  dv.setUint32(lame + 28, total, false); // music length
  // music CRC (lame + 32) left zero
  dv.setUint16(lame + 34, crc16(f, 0, lame + 34), false);
  return f;
}

export interface Mp3Frame {
  offset: number;
  bytes: number;
  sampleRate: number;
  channels: number;
  kbps: number;
  samples: number;
}

export interface Mp3InfoTag {
  kind: 'Info' | 'Xing';
  frames: number | null;
  bytes: number | null;
  encoder: string | null;
  encoderDelay: number | null;
  padding: number | null;
  /** Whether the LAME tag's CRC matches its frame (null without a LAME tag). */
  crcOk: boolean | null;
}

export interface ParsedMp3 {
  /** Audio frames (the Info frame excluded). */
  frames: Mp3Frame[];
  info: Mp3InfoTag | null;
  sampleRate: number;
  channels: number;
  /** Samples of a plain decode: every audio frame's (the Info frame not counted). */
  decodedSamples: number;
  /** Samples of a gapless decode: without the encoder delay, the decoder's 529 and the padding (= decodedSamples without an Info tag). */
  gaplessSamples: number;
  /** Bytes after the last whole frame (0 for a well-formed stream). */
  trailingBytes: number;
}

/** Walks an MP3 stream frame by frame (MPEG 1, 2 and 2.5, Layer III); reads an Info/Xing frame's LAME tag. */
export function parseMp3(b: Uint8Array): ParsedMp3 {
  let p = 0;
  // an ID3v2 tag may come first
  if (b.length >= 10 && b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33) {
    p = 10 + (((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f));
  }
  const frames: Mp3Frame[] = [];
  let info: Mp3InfoTag | null = null;
  let first = true;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff || (b[p + 1]! & 0xe0) !== 0xe0) throw new Error(`no MP3 frame sync at byte ${p}`);
    const ver = (b[p + 1]! >> 3) & 3; // 0: 2.5, 2: 2, 3: 1
    const layer = (b[p + 1]! >> 1) & 3;
    if (ver === 1 || layer !== 1) throw new Error(`byte ${p}: not an MPEG Layer III frame`);
    const bi = (b[p + 2]! >> 4) & 15;
    const si = (b[p + 2]! >> 2) & 3;
    const pad = (b[p + 2]! >> 1) & 1;
    if (bi === 0 || bi === 15 || si === 3) throw new Error(`byte ${p}: bad bitrate or sample-rate index`);
    const mpeg1 = ver === 3;
    const kbps = (mpeg1 ? BITRATES_V1 : BITRATES_V2)[bi]!;
    const sampleRate = (mpeg1 ? RATES_V1 : ver === 2 ? RATES_V2 : RATES_V25)[si]!;
    const samples = mpeg1 ? 1152 : 576;
    const bytes = Math.floor(((samples / 8) * kbps * 1000) / sampleRate) + pad;
    const channels = b[p + 3]! >> 6 === 3 ? 1 : 2;
    if (p + bytes > b.length) break;
    if (first) {
      first = false;
      const side = mpeg1 ? (channels === 1 ? 17 : 32) : channels === 1 ? 9 : 17;
      const t = p + 4 + side;
      const id = String.fromCharCode(b[t]!, b[t + 1]!, b[t + 2]!, b[t + 3]!);
      if (id === 'Info' || id === 'Xing') {
        info = readInfo(b, p, t, id, p + bytes);
        p += bytes;
        continue;
      }
    }
    frames.push({ offset: p, bytes, sampleRate, channels, kbps, samples });
    p += bytes;
  }
  const decodedSamples = frames.reduce((s, f) => s + f.samples, 0);
  let gaplessSamples = decodedSamples;
  if (info?.encoderDelay != null && info.padding != null) gaplessSamples = decodedSamples - info.encoderDelay - info.padding;
  return {
    frames,
    info,
    sampleRate: frames[0]?.sampleRate ?? 0,
    channels: frames[0]?.channels ?? 0,
    decodedSamples,
    gaplessSamples,
    trailingBytes: b.length - p,
  };
}

function readInfo(b: Uint8Array, frameStart: number, t: number, kind: 'Info' | 'Xing', frameEnd: number): Mp3InfoTag {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const flags = dv.getUint32(t + 4, false);
  let q = t + 8;
  let frames: number | null = null;
  let bytes: number | null = null;
  if (flags & 1) (frames = dv.getUint32(q, false)), (q += 4);
  if (flags & 2) (bytes = dv.getUint32(q, false)), (q += 4);
  if (flags & 4) q += 100;
  if (flags & 8) q += 4;
  let encoder: string | null = null;
  let encoderDelay: number | null = null;
  let padding: number | null = null;
  let crcOk: boolean | null = null;
  if (q + 36 <= frameEnd) {
    encoder = String.fromCharCode(...b.subarray(q, q + 9)).replace(/\0+$/, '');
    if (/^(LAME|Lavf|Lavc)/.test(encoder)) {
      const v = (b[q + 21]! << 16) | (b[q + 22]! << 8) | b[q + 23]!;
      encoderDelay = v >> 12;
      padding = v & 0xfff;
      crcOk = crc16(b, frameStart, q + 34) === dv.getUint16(q + 34, false);
    }
  }
  return { kind, frames, bytes, encoder, encoderDelay, padding, crcOk };
}
