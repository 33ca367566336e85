// ACS access-key authentication: the HMAC-SHA256 scheme the Azure Communication Services SDKs sign
// every request with, verified here on the server side; plus signing (for tests and Telegraph's own
// outgoing requests) and the connection string `endpoint=https://host[:port]/;accesskey=<base64>`.
//
// What a client signs (reference: shared/reference/acs-call-automation-wire.md §1):
//   stringToSign = `${VERB}\n${pathAndQuery}\n${x-ms-date};${host};${x-ms-content-sha256}`
//   signature    = base64(HMAC-SHA256(base64decode(accesskey), stringToSign))
//   Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<signature>
// where pathAndQuery is the URL's (percent-encoded) pathname plus `?` and the query re-serialised by
// URLSearchParams, and host is the URL's host (with a non-default port).
//
// Verification rules:
// - The third line is the values of the headers named in SignedHeaders, in the order given, joined
//   with ';'. SignedHeaders must name x-ms-date, host and x-ms-content-sha256 (so the date, the host
//   and the body are always covered); any other header it names must be present and is used as is.
// - "host" is the `x-ms-host` header when present, else `Host` (recording content requests are
//   sent to the content host but signed for the API host, which they carry in x-ms-host).
// - The path is the request target exactly as received (percent-encoding intact, never decoded).
//   The query is re-serialised with URLSearchParams as the JS SDK does; when that differs from the
//   query as received, the raw query is accepted too (SDKs in other languages sign it unchanged).
// - mode 'contentUrl' (recording download/delete): the SDK signs `endpoint.origin +
//   contentLocation.pathname`, so the query is dropped and only the pathname is covered.
// - x-ms-content-sha256 must equal base64(SHA-256(raw body bytes)); an empty body hashes to
//   47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=.
// - x-ms-date (RFC 1123) must lie within ±windowMs of the server's clock (default ±15 min; what
//   ACS itself allows is unverified).
// - A resource may have several keys (primary and secondary): a signature made with any of them is
//   accepted. Signatures are compared with crypto.timingSafeEqual on equal-length buffers, and every
//   key is tried (no early exit).
// Failures are 401 with code "Denied" (as real ACS answers) and a message naming what failed.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const EMPTY_CONTENT_SHA256 = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
export const DEFAULT_DATE_WINDOW_MS = 15 * 60_000;
export const HMAC_SCHEME = 'HMAC-SHA256';
const REQUIRED_SIGNED_HEADERS = ['x-ms-date', 'host', 'x-ms-content-sha256'] as const;

export type HeaderBag = Record<string, string | string[] | number | undefined>;

export interface AcsRequestToVerify {
  method: string;
  /** The request target as received: `/path?query`, percent-encoding intact. An absolute-form target is reduced to its path and query. */
  rawPath: string;
  /** Request headers, any casing (node's IncomingHttpHeaders fits). */
  headers: HeaderBag;
  /** The raw body bytes (empty Buffer when there is none). */
  body: Buffer;
  /** 'request' (default): path and query are signed. 'contentUrl': recording content download/delete, pathname only. */
  mode?: 'request' | 'contentUrl';
}

export type AcsAuthFailureReason =
  | 'missingAuthorization'
  | 'unsupportedScheme'
  | 'malformedAuthorization'
  | 'missingSignedHeader'
  | 'missingDate'
  | 'invalidDate'
  | 'staleDate'
  | 'missingContentHash'
  | 'contentHashMismatch'
  | 'unknownKey'
  | 'signatureMismatch';

export type AcsVerifyResult =
  | { ok: true; /** Which of the keys given signed the request (0 = primary). */ keyIndex: number }
  | { ok: false; status: 401; code: 'Denied'; reason: AcsAuthFailureReason; message: string };

function fail(reason: AcsAuthFailureReason, message: string): AcsVerifyResult {
  return { ok: false, status: 401, code: 'Denied', reason, message };
}

/** Case-insensitive header lookup; a repeated header yields its first value. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const lower = name.toLowerCase();
  let v = headers[lower];
  if (v === undefined) {
    for (const [k, val] of Object.entries(headers)) {
      if (k.toLowerCase() === lower) { v = val; break; }
    }
  }
  if (Array.isArray(v)) return v[0];
  if (typeof v === 'number') return String(v);
  return v;
}

export function contentSha256(body: Buffer | string): string {
  return createHash('sha256').update(body).digest('base64');
}

function hmacSha256(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

export function buildStringToSign(method: string, pathAndQuery: string, signedValues: readonly string[]): string {
  return `${method.toUpperCase()}\n${pathAndQuery}\n${signedValues.join(';')}`;
}

/** Splits a request target into its path and raw query (without '?'); absolute-form targets are reduced. */
function splitTarget(rawPath: string): { path: string; query: string } {
  let target = rawPath;
  const authority = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target);
  if (authority) {
    target = target.slice(authority[0].length);
    if (!target.startsWith('/')) target = `/${target}`;
  }
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/** The pathAndQuery forms a client may have signed: URLSearchParams-re-serialised first, then the raw query. */
function pathCandidates(rawPath: string, mode: 'request' | 'contentUrl'): string[] {
  const { path, query } = splitTarget(rawPath);
  if (mode === 'contentUrl') return [path];
  const reserialised = new URLSearchParams(query).toString();
  const out = [reserialised ? `${path}?${reserialised}` : path];
  const raw = query ? `${path}?${query}` : path;
  if (raw !== out[0]) out.push(raw);
  return out;
}

interface ParsedAuthorization {
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(value: string): ParsedAuthorization | { error: AcsVerifyResult } {
  const trimmed = value.trim();
  const space = trimmed.search(/\s/);
  const scheme = space < 0 ? trimmed : trimmed.slice(0, space);
  if (scheme.toUpperCase() !== HMAC_SCHEME) {
    return {
      error: fail(
        'unsupportedScheme',
        `The Authorization scheme '${scheme}' is not ${HMAC_SCHEME}: sign requests with the access key of the connection string (endpoint=…;accesskey=…).`,
      ),
    };
  }
  const params = new Map<string, string>();
  for (const part of (space < 0 ? '' : trimmed.slice(space + 1)).trim().split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const signedHeaders = params.get('signedheaders');
  const signature = params.get('signature');
  if (!signedHeaders) {
    return { error: fail('malformedAuthorization', `The ${HMAC_SCHEME} Authorization header has no SignedHeaders= parameter (expected "${HMAC_SCHEME} SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<base64>").`) };
  }
  if (!signature) {
    return { error: fail('malformedAuthorization', `The ${HMAC_SCHEME} Authorization header has no Signature= parameter (expected "${HMAC_SCHEME} SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<base64>").`) };
  }
  return { signedHeaders: signedHeaders.split(';').map((h) => h.trim().toLowerCase()), signature };
}

/** Formats a signed duration in whole seconds for messages. */
function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/**
 * Verifies a request signed with the ACS HMAC-SHA256 scheme against the resource's keys (decoded
 * bytes, primary first). Returns `{ ok: true, keyIndex }` or a 401 failure naming what failed.
 */
export function verifyAcsRequest(
  req: AcsRequestToVerify,
  keys: readonly Buffer[],
  nowMs: number = Date.now(),
  windowMs: number = DEFAULT_DATE_WINDOW_MS,
): AcsVerifyResult {
  const mode = req.mode ?? 'request';
  const authorization = headerValue(req.headers, 'authorization');
  if (authorization === undefined || authorization.trim() === '') {
    return fail('missingAuthorization', `The request has no Authorization header: ACS requests must be signed with ${HMAC_SCHEME} using the connection string's access key.`);
  }
  const auth = parseAuthorization(authorization);
  if ('error' in auth) return auth.error;

  const missingRequired = REQUIRED_SIGNED_HEADERS.filter((h) => !auth.signedHeaders.includes(h));
  if (missingRequired.length > 0) {
    return fail(
      'malformedAuthorization',
      `SignedHeaders '${auth.signedHeaders.join(';')}' must include x-ms-date, host and x-ms-content-sha256 (missing: ${missingRequired.join(', ')}).`,
    );
  }

  // Freshness.
  const date = headerValue(req.headers, 'x-ms-date');
  if (date === undefined || date.trim() === '') {
    return fail('missingDate', 'The x-ms-date header is missing: it must carry the time of signing (RFC 1123, e.g. "Tue, 15 Nov 1994 08:12:31 GMT").');
  }
  const dateMs = Date.parse(date);
  if (Number.isNaN(dateMs)) {
    return fail('invalidDate', `x-ms-date '${date}' is not an HTTP date (RFC 1123, e.g. "Tue, 15 Nov 1994 08:12:31 GMT").`);
  }
  const skew = dateMs - nowMs;
  if (Math.abs(skew) > windowMs) {
    return fail(
      'staleDate',
      `x-ms-date '${date}' is ${seconds(Math.abs(skew))} in the ${skew < 0 ? 'past' : 'future'}, outside the allowed window of ±${seconds(windowMs)}: check the client's clock (server time ${new Date(nowMs).toUTCString()}).`,
    );
  }

  // Body integrity.
  const claimedHash = headerValue(req.headers, 'x-ms-content-sha256');
  if (claimedHash === undefined || claimedHash.trim() === '') {
    return fail('missingContentHash', `The x-ms-content-sha256 header is missing: it must carry base64(SHA-256(body)) (${EMPTY_CONTENT_SHA256} for an empty body).`);
  }
  const actualHash = contentSha256(req.body);
  const claimedBuf = Buffer.from(claimedHash.trim(), 'utf8');
  const actualBuf = Buffer.from(actualHash, 'utf8');
  if (claimedBuf.length !== actualBuf.length || !timingSafeEqual(claimedBuf, actualBuf)) {
    return fail(
      'contentHashMismatch',
      `x-ms-content-sha256 '${claimedHash.trim()}' differs from the SHA-256 of the request body (${req.body.length} bytes, ${actualHash}): the body was changed after signing or hashed differently.`,
    );
  }

  // The signed header values, in the order given.
  const signedValues: string[] = [];
  for (const name of auth.signedHeaders) {
    let v: string | undefined;
    if (name === 'host') v = headerValue(req.headers, 'x-ms-host') ?? headerValue(req.headers, 'host');
    else v = headerValue(req.headers, name);
    if (v === undefined) {
      return fail('missingSignedHeader', name === 'host' ? 'The request has neither an x-ms-host nor a Host header, but SignedHeaders names host.' : `SignedHeaders names '${name}', but the request has no such header.`);
    }
    signedValues.push(v);
  }

  if (keys.length === 0) {
    return fail('unknownKey', 'No access key is configured for this Communication Services resource: the request cannot be authenticated.');
  }

  const given = Buffer.from(auth.signature, 'base64');
  if (given.length !== 32) {
    return fail('malformedAuthorization', `The Signature '${auth.signature}' is not a base64 HMAC-SHA256 value (32 bytes).`);
  }

  const candidates = pathCandidates(req.rawPath, mode).map((p) => buildStringToSign(req.method, p, signedValues));
  let matched = -1;
  for (let k = 0; k < keys.length; k++) {
    for (const text of candidates) {
      const expected = hmacSha256(keys[k]!, text);
      if (timingSafeEqual(expected, given) && matched < 0) matched = k;
    }
  }
  if (matched >= 0) return { ok: true, keyIndex: matched };
  return fail(
    'signatureMismatch',
    `The signature matches none of this resource's ${keys.length} access key(s) for the string-to-sign ${JSON.stringify(candidates[0])}: ` +
      `either the accesskey is wrong, or the method, path, query or host ('${signedValues[auth.signedHeaders.indexOf('host')]}') differ from what was signed` +
      (mode === 'contentUrl' ? ' (content URLs are signed over the pathname only, for the API host carried in x-ms-host).' : '.'),
  );
}

export interface AcsSignInput {
  method: string;
  /** The full URL the request is sent to. */
  url: string | URL;
  body?: Buffer | string;
  /** 'contentUrl': sign the pathname only, as the SDK does for recording content download/delete. */
  mode?: 'request' | 'contentUrl';
  /**
   * Sign for this host instead of the URL's and send it as x-ms-host (content URLs are signed for
   * the API endpoint's host while being sent to the content host).
   */
  signingHost?: string;
}

/**
 * Signs a request as the ACS SDKs do. Returns the headers to send: host, x-ms-date,
 * x-ms-content-sha256, authorization, and x-ms-host when signingHost is given. (`host` is what was
 * signed; node:http sets the same value itself, and fetch does not let it be set.)
 */
export function signAcsRequest(input: AcsSignInput, key: Buffer, nowMs: number = Date.now()): Record<string, string> {
  const url = typeof input.url === 'string' ? new URL(input.url) : input.url;
  const query = url.searchParams.toString();
  const pathAndQuery = input.mode === 'contentUrl' || !query ? url.pathname : `${url.pathname}?${query}`;
  const date = new Date(nowMs).toUTCString();
  const hash = contentSha256(input.body ?? '');
  const host = input.signingHost ?? url.host;
  const signature = hmacSha256(key, buildStringToSign(input.method, pathAndQuery, [date, host, hash])).toString('base64');
  const headers: Record<string, string> = {
    host: url.host,
    'x-ms-date': date,
    'x-ms-content-sha256': hash,
    authorization: `${HMAC_SCHEME} SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=${signature}`,
  };
  if (input.signingHost !== undefined) headers['x-ms-host'] = input.signingHost;
  return headers;
}

// ---- connection strings

export class AcsConnectionStringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AcsConnectionStringError';
  }
}

export interface AcsConnectionString {
  /** The endpoint as the SDK wants it: origin plus '/', e.g. `https://localhost:8443/`. */
  endpoint: string;
  /** host[:port], as a client signs it. */
  host: string;
  /** The access key as written (base64). */
  accessKey: string;
  /** The decoded key bytes, what the HMAC is keyed with. */
  key: Buffer;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

function checkEndpoint(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AcsConnectionStringError(`endpoint '${text}' is not an absolute URL (expected e.g. https://localhost:8443/).`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AcsConnectionStringError(`endpoint '${text}' must be http:// or https://.`);
  }
  if (url.username || url.password) throw new AcsConnectionStringError(`endpoint '${text}' must not carry credentials.`);
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new AcsConnectionStringError(`endpoint '${text}' must have no path (the API lives at /calling/... on the root): use ${url.origin}/.`);
  }
  if (url.search || url.hash) throw new AcsConnectionStringError(`endpoint '${text}' must have no query or fragment.`);
  return url;
}

function checkKey(accessKey: string): Buffer {
  if (!accessKey || !BASE64.test(accessKey)) {
    throw new AcsConnectionStringError('accesskey must be a non-empty base64 string.');
  }
  const key = Buffer.from(accessKey, 'base64');
  if (key.length === 0) throw new AcsConnectionStringError('accesskey must be a non-empty base64 string.');
  return key;
}

/**
 * Parses `endpoint=https://host[:port]/;accesskey=<base64>` (names case-insensitive, in any order,
 * other `name=value` parts ignored). The endpoint must have no path (reference §0.5).
 */
export function parseConnectionString(text: string): AcsConnectionString {
  const parts = new Map<string, string>();
  for (const raw of text.split(';')) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new AcsConnectionStringError(`connection string part '${part}' is not name=value.`);
    const name = part.slice(0, eq).trim().toLowerCase();
    if (parts.has(name)) throw new AcsConnectionStringError(`connection string names '${name}' twice.`);
    parts.set(name, part.slice(eq + 1).trim());
  }
  const endpointText = parts.get('endpoint');
  const accessKey = parts.get('accesskey');
  if (!endpointText) throw new AcsConnectionStringError('connection string has no endpoint= (expected endpoint=https://host[:port]/;accesskey=<base64>).');
  if (accessKey === undefined) throw new AcsConnectionStringError('connection string has no accesskey= (expected endpoint=https://host[:port]/;accesskey=<base64>).');
  const url = checkEndpoint(endpointText);
  return { endpoint: `${url.origin}/`, host: url.host, accessKey, key: checkKey(accessKey) };
}

/** Renders a connection string for an endpoint (origin only) and a key (bytes, or base64 text). */
export function formatConnectionString(endpoint: string | URL, key: Buffer | string): string {
  const url = checkEndpoint(typeof endpoint === 'string' ? endpoint : endpoint.href);
  const accessKey = typeof key === 'string' ? key : key.toString('base64');
  checkKey(accessKey);
  return `endpoint=${url.origin}/;accesskey=${accessKey}`;
}

/** A new random access key, base64 of 64 bytes (the length of real ACS keys). */
export function newAccessKey(): string {
  return randomBytes(64).toString('base64');
}
