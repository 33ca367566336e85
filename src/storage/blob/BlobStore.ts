// The blob store: where recording chunks and their metadata documents live once a recording ends.
// One small interface, several backends: the local filesystem (FileBlobStore, the default) and
// Azure Blob Storage (AzureBlobStore, for ACS `externalStorage`); an S3-compatible one can follow.
//
// The contract every backend keeps (test/storage/blobstore.test.ts runs it against each):
// - Keys are opaque, URL-safe strings (see assertValidKey); an invalid key throws InvalidKey
//   before any I/O. '/' separates segments, so keys can be listed by prefix.
// - put() replaces the whole blob atomically: a reader sees the old blob or the new one, never a mix.
// - etag is a strong entity tag in HTTP form (a quoted string, usable as an ETag header as is). It
//   is the same from put(), head(), get() and list(), and changes when the content changes. Its
//   value is backend-specific (a content hash on the filesystem, the service's version on Azure).
// - Ranges are HTTP byte ranges: `end` is inclusive. An `end` past the last byte is clamped to it
//   (as HTTP does, so the answer is a 206 of the bytes that exist); a `start` at or past the size
//   throws RangeNotSatisfiable (carrying totalSize, for a 416 with `Content-Range: bytes */N`),
//   an empty blob included. get() without a range always succeeds, for an empty blob too.
// - A missing key is not an error: get() and head() answer null, delete() answers false.
// - list(prefix) is a plain string prefix (not only whole segments), sorted by key.
import type { Readable } from 'node:stream';

export interface BlobPutOptions {
  /** The MIME type, e.g. 'audio/wav' or 'application/json'. Printable ASCII, at most 255 characters. */
  contentType: string;
  /** User metadata: names [a-z_][a-z0-9_]* (HTTP headers carry them, lower-cased), values printable ASCII. */
  metadata?: Record<string, string>;
}

export interface BlobPutResult {
  size: number;
  etag: string;
}

/** An HTTP-style byte range: `start` and `end` are zero-based byte offsets, `end` inclusive. */
export interface BlobRange {
  start: number;
  end?: number;
}

export interface BlobInfo {
  key: string;
  /** The whole blob's size in bytes. */
  size: number;
  contentType: string;
  etag: string;
  lastModified: Date;
  metadata: Record<string, string>;
}

export interface BlobReadResult {
  /** The bytes asked for; the caller must consume or destroy it. */
  stream: Readable;
  /** Bytes in `stream`. */
  size: number;
  /** The whole blob's size. */
  totalSize: number;
  /** The bytes served, inclusive, when a range was asked for (after clamping); null for the whole blob. */
  range: { start: number; end: number } | null;
  contentType: string;
  etag: string;
  lastModified: Date;
  metadata: Record<string, string>;
}

export interface BlobStore {
  /** 'file' or 'azureBlob': for logs and diagnostics. */
  readonly kind: string;
  put(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: BlobPutOptions): Promise<BlobPutResult>;
  get(key: string, range?: BlobRange): Promise<BlobReadResult | null>;
  head(key: string): Promise<BlobInfo | null>;
  /** true when the blob existed and is now gone, false when there was none. */
  delete(key: string): Promise<boolean>;
  list(prefix: string): Promise<BlobInfo[]>;
}

export type BlobStoreErrorCode =
  | 'InvalidKey'
  | 'InvalidArgument'
  | 'RangeNotSatisfiable'
  | 'ContainerNotFound'
  | 'AuthenticationFailed'
  | 'Network'
  | 'Storage';

/** Every failure a blob store reports; `code` says which kind, `status` the HTTP status when a service answered. */
export class BlobStoreError extends Error {
  readonly code: BlobStoreErrorCode;
  readonly status: number | undefined;
  /** For RangeNotSatisfiable: the blob's size. */
  readonly totalSize: number | undefined;

  constructor(code: BlobStoreErrorCode, message: string, extra: { status?: number; totalSize?: number; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'BlobStoreError';
    this.code = code;
    this.status = extra.status;
    this.totalSize = extra.totalSize;
  }
}

export const MAX_KEY_LENGTH = 1024;
export const MAX_SEGMENT_LENGTH = 200;
export const MAX_SEGMENTS = 32;
const SEGMENT = /^[A-Za-z0-9._~-]+$/;
const PREFIX = /^[A-Za-z0-9._~/-]*$/;

const KEY_RULES =
  `keys are 1-${MAX_KEY_LENGTH} characters of A-Z a-z 0-9 . _ ~ - in segments separated by '/' ` +
  `(at most ${MAX_SEGMENTS} segments of at most ${MAX_SEGMENT_LENGTH} characters), with no leading, trailing or doubled '/' and no '..'`;

function invalidKey(key: unknown, why: string): BlobStoreError {
  const shown = typeof key === 'string' ? JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key) : String(key);
  return new BlobStoreError('InvalidKey', `invalid blob key ${shown}: ${why}; ${KEY_RULES}`);
}

/** Throws InvalidKey unless `key` follows the key rules (URL-safe, no traversal, bounded). */
export function assertValidKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw invalidKey(key, 'not a string');
  if (key.length === 0) throw invalidKey(key, 'empty');
  if (key.length > MAX_KEY_LENGTH) throw invalidKey(key, `longer than ${MAX_KEY_LENGTH} characters`);
  if (key.includes('..')) throw invalidKey(key, "contains '..'");
  if (key.startsWith('/')) throw invalidKey(key, "starts with '/'");
  if (key.endsWith('/')) throw invalidKey(key, "ends with '/'");
  const segments = key.split('/');
  if (segments.length > MAX_SEGMENTS) throw invalidKey(key, `more than ${MAX_SEGMENTS} segments`);
  for (const s of segments) {
    if (s === '') throw invalidKey(key, "contains '//'");
    if (s === '.') throw invalidKey(key, "has a '.' segment");
    if (s.length > MAX_SEGMENT_LENGTH) throw invalidKey(key, `a segment is longer than ${MAX_SEGMENT_LENGTH} characters`);
    if (!SEGMENT.test(s)) throw invalidKey(key, 'contains a character outside the allowed set');
  }
}

/** A list prefix: '' (everything) or the start of a key; it may end with '/'. */
export function assertValidPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') throw invalidKey(prefix, 'a list prefix must be a string');
  if (prefix === '') return;
  if (prefix.length > MAX_KEY_LENGTH || !PREFIX.test(prefix) || prefix.includes('..') || prefix.startsWith('/') || prefix.includes('//')) {
    throw invalidKey(prefix, 'not a valid list prefix');
  }
  const whole = prefix.split('/').slice(0, -1);
  if (whole.some((s) => s === '.')) throw invalidKey(prefix, "has a '.' segment");
}

const METADATA_NAME = /^[a-z_][a-z0-9_]{0,63}$/;
const METADATA_VALUE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const CONTENT_TYPE = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/;
export const MAX_METADATA_BYTES = 8192;

/** Checks put() options the same way for every backend (Azure's own limits are the strictest). */
export function assertValidPutOptions(options: BlobPutOptions): void {
  if (!options || typeof options.contentType !== 'string' || !CONTENT_TYPE.test(options.contentType)) {
    throw new BlobStoreError('InvalidArgument', 'contentType must be 1-255 printable ASCII characters, e.g. "audio/wav"');
  }
  const md = options.metadata ?? {};
  let bytes = 0;
  for (const [name, value] of Object.entries(md)) {
    if (!METADATA_NAME.test(name)) {
      throw new BlobStoreError('InvalidArgument', `metadata name ${JSON.stringify(name)}: names are 1-64 characters [a-z_][a-z0-9_]*`);
    }
    if (typeof value !== 'string' || !METADATA_VALUE.test(value)) {
      throw new BlobStoreError('InvalidArgument', `metadata ${name}: values are non-empty printable ASCII with no leading or trailing space`);
    }
    bytes += name.length + value.length;
  }
  if (bytes > MAX_METADATA_BYTES) throw new BlobStoreError('InvalidArgument', `metadata is ${bytes} bytes; at most ${MAX_METADATA_BYTES}`);
}

/** Validates a range's shape (not its fit to a blob). */
export function assertValidRange(range: BlobRange | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) throw new BlobStoreError('InvalidArgument', `range start must be an integer >= 0, not ${start}`);
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    throw new BlobStoreError('InvalidArgument', `range end must be an integer >= start (${start}), not ${end}`);
  }
}

/** Applies the range rules to a blob of `totalSize` bytes: the inclusive bytes to serve, or RangeNotSatisfiable. */
export function resolveRange(key: string, range: BlobRange, totalSize: number): { start: number; end: number } {
  if (range.start >= totalSize) {
    throw new BlobStoreError('RangeNotSatisfiable', `range start ${range.start} is not before the end of blob ${key} (${totalSize} bytes)`, {
      status: 416,
      totalSize,
    });
  }
  return { start: range.start, end: Math.min(range.end ?? totalSize - 1, totalSize - 1) };
}
