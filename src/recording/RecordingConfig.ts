// Options of a call recording, their validation and their defaults. The field names follow the ACS
// start-recording request (recordingChannelType, recordingFormatType, audioChannelParticipantOrdering,
// channelAffinity, pauseOnStart) so that a request maps onto them one to one; every error names the
// field at fault (RecordingConfigError.field), so the API layer can answer 400 with it.
import { FRAME_MS, SAMPLE_RATE } from '../media/MediaFormat.ts';

export type RecordingChannelType = 'mixed' | 'unmixed';
export type RecordingFormatType = 'wav' | 'mp3';
/**
 * Why a chunk ended: the ACS names (RecordingFileStatusUpdated, recordingChunks[].endReason).
 * ACS also has "ChunkIsBeingRecovered" (a chunk re-made after a service failure); Telegraph does not
 * recover chunks, so it never produces it.
 */
export type ChunkEndReason = 'SessionEnded' | 'ChunkMaximumTimeExceeded' | 'ChunkMaximumSizeExceeded';
/**
 * How a participant's first speech is recognised, for giving unmixed channels in order of first speech:
 * - 'vad' (default): the SpeechDetector's onset (≥ 60 ms of speech-like sound above the line's own
 *   noise floor). The leg's `speaking` flag only says that a source delivered a frame: a phone's
 *   stream delivers frames all the time (background noise, comfort noise), so on its own it would
 *   order participants by when their audio started, not by when they spoke.
 * - 'audio': the first frame the leg delivers that is not all zero (`speaking` and a non-zero sample).
 */
export type SpeechDetection = 'vad' | 'audio';

/** ACS allows channels 0–4: an unmixed recording has at most 5 channels. */
export const MAX_UNMIXED_CHANNELS = 5;
/** MP3 holds one or two channels. */
export const MAX_MP3_CHANNELS = 2;
/** MPEG-2 Layer III bitrates (kbps) at 16 kHz. */
export const MP3_BITRATES = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160] as const;
/** Per channel: ACS's mixed mp3 is 48 kbps at 16 kHz. */
export const DEFAULT_MP3_KBPS_PER_CHANNEL = 48;
/** Default chunk bounds. In memory until the chunk is handed over: these bound a recording's memory. */
export const DEFAULT_MAX_CHUNK_SECONDS = 15 * 60;
export const DEFAULT_MAX_CHUNK_BYTES = 16 * 1024 * 1024;
/** A RIFF file's sizes are 32-bit. */
export const MAX_WAV_BYTES = 0xffffffff;

export interface ChannelAffinity {
  /** 0–4 (and below the recording's channel count). */
  channel: number;
  participantId: string;
}

/** What was recorded, when a chunk completes: its bytes (a whole file) and its metadata. */
export interface RecordingChunk {
  recordingId: string;
  index: number;
  documentId: string;
  endReason: ChunkEndReason;
  /** Whether this is the recording's last chunk (then `metadata.chunkCount` is set). */
  isLast: boolean;
  format: RecordingFormatType;
  /** The file: WAV (16-bit PCM) or MP3. */
  bytes: Uint8Array;
  /** Audio in the chunk, ms (frames × 20: exact). */
  durationMs: number;
  /** Where the chunk starts in the recording's own timeline (paused time excluded), ms. */
  startOffsetMs: number;
  metadata: ChunkMetadata;
  /** `metadata` as the JSON document stored beside the chunk. */
  metadataJson: string;
}

export interface PauseInterval {
  /** Wall clock, ISO 8601: when pause() was called (or the recording started, with pauseOnStart). */
  startTime: string;
  /** Wall clock, ISO 8601: when resume() (or stop()) was called. */
  endTime: string;
  /** endTime − startTime, ms (wall clock). */
  duration: number;
  /** Where the gap lies in the chunk's audio, ms from the chunk's start (nothing is missing there: paused time is left out). */
  offsetMs: number;
  /** The same, in the whole recording's timeline. */
  recordingOffsetMs: number;
}

export interface ChunkParticipant {
  participantId: string;
  /** Its channel (unmixed); 0 for every participant of a mixed recording. */
  channel: number;
}

/** The metadata document of one chunk: the ACS schema (resourceId … participants) plus Telegraph's extras. */
export interface ChunkMetadata {
  resourceId: string | null;
  /** ACS names the call `callId`; Telegraph's is the serverCallId. */
  callId: string;
  serverCallId: string;
  recordingId: string;
  chunkDocumentId: string;
  chunkIndex: number;
  /** Known on the last chunk only (chunks are handed over while the call goes on); null before. */
  chunkCount: number | null;
  isLastChunk: boolean;
  chunkEndReason: ChunkEndReason;
  /** ISO 8601: wall-clock time of the chunk's first frame. */
  chunkStartTime: string;
  /** ms of audio in the chunk: exactly frames × 20 (the WAV's length; the MP3's decoded length, its encoder delay and padding trimmed). */
  chunkDuration: number;
  chunkStartOffsetMs: number;
  recordingStartTime: string;
  pauseResumeIntervals: PauseInterval[];
  recordingInfo: {
    contentType: 'audio';
    channelType: RecordingChannelType;
    format: RecordingFormatType;
    audioConfiguration: { sampleRate: number; bitRate: number; channels: number };
  };
  participants: ChunkParticipant[];
  /** Unmixed: participants who spoke while every channel was taken, so are in no channel. */
  unrecordedParticipants: string[];
  /** On the last chunk: why the recording ended (stop()'s reason). */
  sessionEndReason: string | null;
}

export interface RecordingOptions {
  recordingId: string;
  serverCallId: string;
  /** ACS resource id, copied into the metadata. */
  resourceId?: string;
  /** Default 'mixed'. */
  recordingChannelType?: RecordingChannelType;
  /** Default 'wav'. */
  recordingFormatType?: RecordingFormatType;
  /** Only 'audio' is recorded. */
  recordingContentType?: 'audio';
  /** Unmixed only: these participants take channels 0, 1, … in this order (reserved even before they join or speak). */
  audioChannelParticipantOrdering?: string[];
  /** Unmixed only: a participant pinned to a channel. */
  channelAffinity?: ChannelAffinity[];
  /** Start paused: nothing is recorded until resume(); no chunk at all if never resumed. */
  pauseOnStart?: boolean;
  /** Unmixed: channels in the file, 1–5. Default 5 for wav (as ACS: channels 0–4), 2 for mp3 (stereo). */
  unmixedChannels?: number;
  /** Default 900 (15 min). */
  maxChunkSeconds?: number;
  /** Default 16 MiB. A chunk never exceeds it (its whole file). */
  maxChunkBytes?: number;
  /** Total MP3 bitrate, kbps, one of MP3_BITRATES. Default 48 per channel. */
  mp3BitrateKbps?: number;
  /** How first speech is recognised (unmixed channel order). Default 'vad'. */
  speechDetection?: SpeechDetection;
  /** Receives each chunk as it completes, in order; a returned promise is awaited before the next chunk. */
  onChunk: (chunk: RecordingChunk) => void | Promise<void>;
  /** The chunk's documentId. Default `${recordingId}-${index}`. */
  documentId?: (index: number) => string;
  /** Wall clock, ms since the epoch. Default Date.now. */
  now?: () => number;
}

export class RecordingConfigError extends Error {
  /** The option at fault, e.g. "channelAffinity[1].channel". */
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'RecordingConfigError';
    this.field = field;
  }
}

export interface ResolvedRecordingConfig {
  recordingId: string;
  serverCallId: string;
  resourceId: string | null;
  channelType: RecordingChannelType;
  format: RecordingFormatType;
  /** Channels in the file: 1 for mixed. */
  channels: number;
  /** Participant pinned to each channel (ordering, then affinity); null where the channel goes to the first speaker. */
  reserved: (string | null)[];
  pauseOnStart: boolean;
  maxChunkFrames: number;
  maxChunkBytes: number;
  mp3Kbps: number;
  speechDetection: SpeechDetection;
  onChunk: RecordingOptions['onChunk'];
  documentId: (index: number) => string;
  now: () => number;
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Checks the options and fills in the defaults; throws RecordingConfigError naming the field at fault. */
export function resolveRecordingConfig(o: RecordingOptions): ResolvedRecordingConfig {
  if (!o || typeof o !== 'object') throw new RecordingConfigError('options', 'required');
  if (!isId(o.recordingId)) throw new RecordingConfigError('recordingId', 'must be a non-empty string');
  if (!isId(o.serverCallId)) throw new RecordingConfigError('serverCallId', 'must be a non-empty string');
  if (typeof o.onChunk !== 'function') throw new RecordingConfigError('onChunk', 'must be a function');
  const contentType = o.recordingContentType ?? 'audio';
  if (contentType !== 'audio') {
    throw new RecordingConfigError('recordingContentType', `only "audio" is supported, got ${JSON.stringify(contentType)}`);
  }
  const channelType = o.recordingChannelType ?? 'mixed';
  if (channelType !== 'mixed' && channelType !== 'unmixed') {
    throw new RecordingConfigError('recordingChannelType', `must be "mixed" or "unmixed", got ${JSON.stringify(channelType)}`);
  }
  const format = o.recordingFormatType ?? 'wav';
  if (format !== 'wav' && format !== 'mp3') {
    const hint = (format as string) === 'mp4' ? ' (mp4 is for audioVideo recordings, which Telegraph does not make)' : '';
    throw new RecordingConfigError('recordingFormatType', `must be "wav" or "mp3", got ${JSON.stringify(format)}${hint}`);
  }
  const ordering = o.audioChannelParticipantOrdering ?? [];
  const affinity = o.channelAffinity ?? [];
  if (!Array.isArray(ordering)) throw new RecordingConfigError('audioChannelParticipantOrdering', 'must be an array of participant ids');
  if (!Array.isArray(affinity)) throw new RecordingConfigError('channelAffinity', 'must be an array of {channel, participantId}');

  let channels = 1;
  if (channelType === 'unmixed') {
    const max = format === 'mp3' ? MAX_MP3_CHANNELS : MAX_UNMIXED_CHANNELS;
    channels = o.unmixedChannels ?? max;
    if (!Number.isInteger(channels) || channels < 1 || channels > MAX_UNMIXED_CHANNELS) {
      throw new RecordingConfigError('unmixedChannels', `must be an integer 1–${MAX_UNMIXED_CHANNELS}, got ${String(o.unmixedChannels)}`);
    }
    if (format === 'mp3' && channels > MAX_MP3_CHANNELS) {
      throw new RecordingConfigError(
        'unmixedChannels',
        `an unmixed mp3 recording holds at most ${MAX_MP3_CHANNELS} channels (stereo), ${channels} asked; use recordingFormatType "wav" for up to ${MAX_UNMIXED_CHANNELS}`,
      );
    }
  } else {
    if (o.unmixedChannels !== undefined) throw new RecordingConfigError('unmixedChannels', 'applies to unmixed recordings only');
    if (ordering.length > 0) throw new RecordingConfigError('audioChannelParticipantOrdering', 'applies to unmixed recordings only');
    if (affinity.length > 0) throw new RecordingConfigError('channelAffinity', 'applies to unmixed recordings only');
  }

  // Channels pinned by the ordering (0, 1, …) and the affinities; any disagreement is an error.
  const reserved: (string | null)[] = new Array<string | null>(channels).fill(null);
  const channelOf = new Map<string, number>();
  if (ordering.length > channels) {
    throw new RecordingConfigError(
      'audioChannelParticipantOrdering',
      `lists ${ordering.length} participants but the recording has ${channels} channel${channels === 1 ? '' : 's'}`,
    );
  }
  ordering.forEach((id, i) => {
    if (!isId(id)) throw new RecordingConfigError(`audioChannelParticipantOrdering[${i}]`, 'must be a non-empty participant id');
    const prev = channelOf.get(id);
    if (prev !== undefined) {
      throw new RecordingConfigError(`audioChannelParticipantOrdering[${i}]`, `participant ${JSON.stringify(id)} is listed twice (also at ${prev})`);
    }
    channelOf.set(id, i);
    reserved[i] = id;
  });
  affinity.forEach((a, i) => {
    const field = `channelAffinity[${i}]`;
    if (!a || typeof a !== 'object') throw new RecordingConfigError(field, 'must be {channel, participantId}');
    const { channel, participantId: id } = a;
    if (!isId(id)) throw new RecordingConfigError(`${field}.participantId`, 'must be a non-empty participant id');
    if (!Number.isInteger(channel) || channel < 0 || channel > MAX_UNMIXED_CHANNELS - 1) {
      throw new RecordingConfigError(`${field}.channel`, `must be an integer 0–${MAX_UNMIXED_CHANNELS - 1}, got ${JSON.stringify(channel)}`);
    }
    if (channel >= channels) {
      throw new RecordingConfigError(
        `${field}.channel`,
        `channel ${channel} does not exist: the recording has ${channels} channel${channels === 1 ? '' : 's'} (0–${channels - 1})`,
      );
    }
    const had = channelOf.get(id);
    if (had !== undefined && had !== channel) {
      const where = ordering.includes(id) ? `audioChannelParticipantOrdering puts it on channel ${had}` : `it is already pinned to channel ${had}`;
      throw new RecordingConfigError(`${field}.channel`, `participant ${JSON.stringify(id)} pinned to channel ${channel}, but ${where}`);
    }
    const holder = reserved[channel];
    if (holder != null && holder !== id) {
      const by = ordering[channel] === holder ? 'audioChannelParticipantOrdering' : 'an earlier channelAffinity';
      throw new RecordingConfigError(
        `${field}.channel`,
        `channel ${channel} is given to both ${JSON.stringify(holder)} (by ${by}) and ${JSON.stringify(id)}`,
      );
    }
    channelOf.set(id, channel);
    reserved[channel] = id;
  });

  const pauseOnStart = o.pauseOnStart ?? false;
  if (typeof pauseOnStart !== 'boolean') throw new RecordingConfigError('pauseOnStart', 'must be a boolean');

  const maxSeconds = o.maxChunkSeconds ?? DEFAULT_MAX_CHUNK_SECONDS;
  if (typeof maxSeconds !== 'number' || !(maxSeconds >= FRAME_MS / 1000) || !Number.isFinite(maxSeconds)) {
    throw new RecordingConfigError('maxChunkSeconds', `must be a number ≥ ${FRAME_MS / 1000} (one frame), got ${String(o.maxChunkSeconds)}`);
  }
  const maxChunkFrames = Math.floor((maxSeconds * 1000) / FRAME_MS + 1e-9);

  let mp3Kbps = 0;
  if (format === 'mp3') {
    mp3Kbps = o.mp3BitrateKbps ?? DEFAULT_MP3_KBPS_PER_CHANNEL * channels;
    if (!(MP3_BITRATES as readonly number[]).includes(mp3Kbps)) {
      throw new RecordingConfigError('mp3BitrateKbps', `must be one of ${MP3_BITRATES.join(', ')} (MPEG-2 Layer III at 16 kHz), got ${String(o.mp3BitrateKbps)}`);
    }
  } else if (o.mp3BitrateKbps !== undefined) {
    throw new RecordingConfigError('mp3BitrateKbps', 'applies to mp3 recordings only');
  }

  const maxChunkBytes = o.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES;
  if (!Number.isInteger(maxChunkBytes) || maxChunkBytes < 1) {
    throw new RecordingConfigError('maxChunkBytes', `must be a positive integer, got ${String(o.maxChunkBytes)}`);
  }
  if (format === 'wav' && maxChunkBytes > MAX_WAV_BYTES) {
    throw new RecordingConfigError('maxChunkBytes', `a WAV file holds at most ${MAX_WAV_BYTES} bytes, got ${maxChunkBytes}`);
  }

  const speechDetection = o.speechDetection ?? 'vad';
  if (speechDetection !== 'vad' && speechDetection !== 'audio') {
    throw new RecordingConfigError('speechDetection', `must be "vad" or "audio", got ${JSON.stringify(speechDetection)}`);
  }
  if (o.now !== undefined && typeof o.now !== 'function') throw new RecordingConfigError('now', 'must be a function');
  if (o.documentId !== undefined && typeof o.documentId !== 'function') throw new RecordingConfigError('documentId', 'must be a function');
  const recordingId = o.recordingId;
  return {
    recordingId,
    serverCallId: o.serverCallId,
    resourceId: o.resourceId ?? null,
    channelType,
    format,
    channels,
    reserved,
    pauseOnStart,
    maxChunkFrames,
    maxChunkBytes,
    mp3Kbps,
    speechDetection,
    onChunk: o.onChunk,
    documentId: o.documentId ?? ((i) => `${recordingId}-${i}`),
    now: o.now ?? Date.now,
  };
}

/** Bits per second of the recording's audio, as the metadata states it. */
export function bitRateOf(cfg: Pick<ResolvedRecordingConfig, 'format' | 'channels' | 'mp3Kbps'>): number {
  return cfg.format === 'mp3' ? cfg.mp3Kbps * 1000 : SAMPLE_RATE * 16 * cfg.channels;
}
