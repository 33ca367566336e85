/**
 * Fetches and caches prompt audio for service-hosted media (playPrompt, recordResponse's
 * prompts, serviceHostedMediaConfig.preFetchMedia).
 *
 * get({ uri, resourceId }) answers the prompt as 16 kHz mono 16-bit PCM, or rejects with a
 * PromptError whose `reason` is one sentence naming the cause and the URI (query values that look
 * like credentials, such as a SAS `sig`, and any user:password are masked in it).
 *
 * Fetching: http: and https: only; every host (the first and each redirect's) is resolved and
 * checked by the SsrfGuard before connecting, and the connection is pinned to the checked
 * addresses; at most MAX_REDIRECTS redirects, followed here, not by undici; a connect timeout and
 * an overall timeout (DNS, connect, redirects and body together); a body cap checked against
 * Content-Length up front and enforced while reading (reading stops as soon as it is passed).
 * The body must be a WAV file parseWav() accepts; it is converted to mono 16 kHz.
 *
 * Caching: keyed by resourceId when given (Graph: "resourceId is the cache key"), else by URI;
 * LRU bounded by the total bytes of PCM held; concurrent gets of one key share one fetch;
 * failures are not cached (the next get tries again). The arrays handed out are shared: treat
 * them as read-only.
 */
import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { Agent, request } from 'undici';
import { parseWavInSlices, WavError } from '../audio/Wav.ts';
import { DnsError, policyEntryProblem, SsrfError, SsrfGuard, type Resolver } from './SsrfGuard.ts';

/** Redirects followed at most, per fetch. */
export const MAX_REDIRECTS = 3;

const policyEntry = z.string().superRefine((s, ctx) => {
  const problem = policyEntryProblem(s);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

/** Configuration of prompt fetching, to be mounted as `media.prompts`. */
export const promptsConfigSchema = z
  .object({
    /** Most time to establish a TCP (and TLS) connection to one address. */
    connectTimeoutMs: z.number().int().min(1).max(600_000).default(5000),
    /** Most time for a whole fetch: DNS, connects, redirects and the body. */
    timeoutMs: z.number().int().min(1).max(3_600_000).default(15_000),
    /** Largest response body accepted (the WAV file as served). Default 10 MiB. */
    maxBytes: z.number().int().min(1).default(10 * 1024 * 1024),
    /** PCM kept in the cache (16 kHz mono 16-bit: 32,000 bytes a second). Default 64 MiB; 0 disables caching. */
    cacheBytes: z.number().int().min(0).default(64 * 1024 * 1024),
    /** CIDRs, addresses and host names ("*.example.com" for names below) allowed even where a default rule denies. */
    allow: z.array(policyEntry).default([]),
    /** CIDRs, addresses and host names refused; these win over `allow`. */
    deny: z.array(policyEntry).default([]),
  })
  .strict();

export type PromptsConfig = z.infer<typeof promptsConfigSchema>;
export type PromptsConfigInput = z.input<typeof promptsConfigSchema>;

export interface MediaInfo {
  uri: string;
  resourceId?: string | null;
}

/** What went wrong, as a stable word for programs (the `reason` is for people). */
export type PromptErrorCode =
  | 'invalid-uri'
  | 'scheme'
  | 'ssrf'
  | 'dns'
  | 'connect'
  | 'tls'
  | 'timeout'
  | 'http-status'
  | 'redirect'
  | 'too-large'
  | 'not-audio'
  | 'empty'
  | 'fetch';

export class PromptError extends Error {
  readonly code: PromptErrorCode;
  /** One sentence naming the cause and the URI. */
  readonly reason: string;
  /** The URI as given. */
  readonly uri: string;
  /** The HTTP status, for 'http-status'. */
  readonly status?: number;
  constructor(code: PromptErrorCode, reason: string, uri: string, opts: { status?: number; cause?: unknown } = {}) {
    super(reason, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PromptError';
    this.code = code;
    this.reason = reason;
    this.uri = uri;
    if (opts.status !== undefined) this.status = opts.status;
  }
}

/** The logging PromptStore does (pino's Logger fits). */
export interface PromptLogger {
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface PromptStoreDeps {
  logger?: PromptLogger;
  /** DNS resolution (all addresses of a name); dns.lookup by default. For tests. */
  resolver?: Resolver;
}

export interface PromptStoreStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  /** Fetches started (each may follow redirects). */
  fetches: number;
  failures: number;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const SENSITIVE_PARAM = /sig|signature|token|key|secret|pass|credential|auth|session|code/i;

/** The URI for a message: credentials masked, overlong URIs (data: …) shortened. */
export function describeUri(uri: string): string {
  let out = uri;
  try {
    const u = new URL(uri);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    if (u.search) {
      const parts = u.search
        .slice(1)
        .split('&')
        .map((p) => {
          const eq = p.indexOf('=');
          if (eq < 0) return p;
          let name = p.slice(0, eq);
          try {
            name = decodeURIComponent(name);
          } catch {
            /* keep as is */
          }
          return SENSITIVE_PARAM.test(name) ? `${p.slice(0, eq)}=***` : p;
        });
      u.search = '?' + parts.join('&');
    }
    out = u.protocol === 'data:' ? uri : u.toString();
  } catch {
    /* not a URL: quote as given */
  }
  if (out.length > 160) out = out.slice(0, 157) + '…';
  return JSON.stringify(out);
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** What a non-WAV body looks like, for the error message. */
function sniff(bytes: Uint8Array): string | null {
  const head = Buffer.from(bytes.subarray(0, 512)).toString('latin1');
  if (head.startsWith('ID3') || (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0)) return 'MP3 audio';
  if (head.startsWith('OggS')) return 'Ogg audio';
  if (head.startsWith('fLaC')) return 'FLAC audio';
  if (head.slice(4, 8) === 'ftyp') return 'MP4/M4A media';
  if (head.startsWith('#!AMR')) return 'AMR audio';
  const text = head.replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (text.startsWith('<!doctype html') || text.startsWith('<html') || /<(head|body|title)[\s>]/.test(text)) return 'an HTML page';
  if (text.startsWith('<?xml') || text.startsWith('<')) return 'XML';
  if (text.startsWith('{') || text.startsWith('[')) return 'JSON';
  return null;
}

class TimeoutSignal extends Error {}

function errCode(e: unknown): string | undefined {
  const seen = new Set<unknown>();
  let cur: unknown = e;
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string') return c;
    if (cur instanceof AggregateError && cur.errors.length > 0) {
      cur = cur.errors[0];
      continue;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function findIn<T>(e: unknown, cls: abstract new (...args: never[]) => T): T | undefined {
  const seen = new Set<unknown>();
  let cur: unknown = e;
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    if (cur instanceof cls) return cur as T;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

interface CacheEntry {
  samples: Int16Array;
  bytes: number;
}

export class PromptStore {
  readonly config: PromptsConfig;
  private readonly guard: SsrfGuard;
  private readonly logger: PromptLogger | undefined;
  /** LRU: Map iteration order is insertion order; a hit moves the entry to the end. */
  private readonly cache = new Map<string, CacheEntry>();
  private cachedBytes = 0;
  private readonly inflight = new Map<string, Promise<Int16Array>>();
  private counters = { hits: 0, misses: 0, fetches: 0, failures: 0 };

  constructor(config: PromptsConfigInput = {}, deps: PromptStoreDeps = {}) {
    this.config = promptsConfigSchema.parse(config);
    this.guard = new SsrfGuard({ allow: this.config.allow, deny: this.config.deny }, deps.resolver);
    this.logger = deps.logger;
  }

  /**
   * The prompt as 16 kHz mono PCM (shared: do not modify), from the cache or fetched. `scope` is
   * who asks (an application of a tenant): a resourceId is only that scope's name for a prompt,
   * so one application cannot be served another's prompt by naming its resourceId. Prompts cached
   * by URI are shared: anyone giving the URI could fetch it as well.
   */
  get(mediaInfo: MediaInfo, scope: string): Promise<Int16Array> {
    let key: string;
    let uri: string;
    try {
      ({ key, uri } = this.keyOf(mediaInfo, scope));
    } catch (e) {
      return Promise.reject(e);
    }
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      this.counters.hits++;
      return Promise.resolve(hit.samples);
    }
    const pending = this.inflight.get(key);
    if (pending) {
      this.counters.hits++;
      return pending;
    }
    this.counters.misses++;
    const p = this.load(uri).then(
      (samples) => {
        this.inflight.delete(key);
        this.store(key, samples);
        return samples;
      },
      (err: unknown) => {
        this.inflight.delete(key);
        this.counters.failures++;
        throw err;
      },
    );
    this.inflight.set(key, p);
    return p;
  }

  /**
   * Starts fetching each prompt not already cached or on its way, without waiting. Never throws:
   * failures are logged, not cached, and tried again by the next get.
   */
  prefetch(list: Iterable<MediaInfo> | null | undefined, scope: string): void {
    try {
      if (!list || typeof (list as Iterable<MediaInfo>)[Symbol.iterator] !== 'function') return;
      for (const info of list) {
        try {
          const { key } = this.keyOf(info, scope);
          if (this.cache.has(key) || this.inflight.has(key)) continue;
          this.get(info, scope).catch((err: unknown) => this.logFailure(info, err));
        } catch (err) {
          this.logFailure(info, err);
        }
      }
    } catch (err) {
      this.logFailure(null, err);
    }
  }

  /** Whether the prompt is cached (not merely on its way). */
  has(mediaInfo: MediaInfo, scope: string): boolean {
    try {
      return this.cache.has(this.keyOf(mediaInfo, scope).key);
    } catch {
      return false;
    }
  }

  /** Drops every cached prompt (fetches under way still complete and are cached). */
  clear(): void {
    this.cache.clear();
    this.cachedBytes = 0;
  }

  stats(): PromptStoreStats {
    return { entries: this.cache.size, bytes: this.cachedBytes, ...this.counters };
  }

  // --- internals -------------------------------------------------------------------------------

  private keyOf(info: MediaInfo, scope: string): { key: string; uri: string } {
    const uri = info && typeof info === 'object' ? (info as { uri?: unknown }).uri : undefined;
    if (typeof uri !== 'string' || uri.trim() === '') {
      throw new PromptError('invalid-uri', 'invalid prompt: mediaInfo.uri is missing or not a string', String(uri ?? ''));
    }
    const rid = (info as { resourceId?: unknown }).resourceId;
    const key = typeof rid === 'string' && rid !== '' ? `id:${scope}\n${rid}` : `uri:${uri}`;
    return { key, uri };
  }

  private store(key: string, samples: Int16Array): void {
    const bytes = samples.byteLength;
    const old = this.cache.get(key);
    if (old) {
      this.cache.delete(key);
      this.cachedBytes -= old.bytes;
    }
    if (bytes > this.config.cacheBytes) return; // larger than the whole cache: served, not kept
    while (this.cachedBytes + bytes > this.config.cacheBytes) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      const evicted = this.cache.get(oldest.value)!;
      this.cache.delete(oldest.value);
      this.cachedBytes -= evicted.bytes;
    }
    this.cache.set(key, { samples, bytes });
    this.cachedBytes += bytes;
  }

  private logFailure(info: unknown, err: unknown): void {
    try {
      const i = info && typeof info === 'object' ? (info as { uri?: unknown; resourceId?: unknown }) : {};
      const reason = err instanceof PromptError ? err.reason : err instanceof Error ? err.message : String(err);
      this.logger?.warn(
        { resourceId: typeof i.resourceId === 'string' ? i.resourceId : undefined, code: err instanceof PromptError ? err.code : undefined, reason },
        'prompt prefetch failed; the next use will try again',
      );
    } catch {
      /* logging must not throw either */
    }
  }

  private parseUri(text: string, original: string, via: string | null): URL {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new PromptError(
        'invalid-uri',
        via === null
          ? `invalid prompt URI ${describeUri(text)}: not an absolute URL`
          : `prompt ${describeUri(original)} redirected to an invalid location ${describeUri(text)}`,
        original,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new PromptError(
        'scheme',
        via === null
          ? `prompt URI ${describeUri(text)} uses the ${url.protocol} scheme; only http: and https: URIs are fetched`
          : `prompt ${describeUri(original)} redirected to ${describeUri(text)}, a ${url.protocol} URI; only http: and https: are followed`,
        original,
      );
    }
    if (url.hostname === '') throw new PromptError('invalid-uri', `invalid prompt URI ${describeUri(text)}: no host`, original);
    return url;
  }

  /** Fetches `uri` and converts it to 16 kHz mono PCM. */
  private async load(uri: string): Promise<Int16Array> {
    this.counters.fetches++;
    const { bytes, contentType, finalUrl } = await this.download(uri);
    const where = finalUrl === uri ? describeUri(uri) : `${describeUri(uri)} (redirected to ${describeUri(finalUrl)})`;
    if (bytes.length === 0) throw new PromptError('empty', `prompt ${where} is empty: the response body has no bytes`, uri);
    let samples: Int16Array;
    try {
      // in slices: a 10 MB file is half a second of work, which must not stop every call's audio
      samples = (await parseWavInSlices(bytes)).samples;
    } catch (e) {
      if (e instanceof WavError) {
        if (e.reason === 'no audio samples') {
          throw new PromptError('empty', `prompt ${where} holds no audio: its WAV data chunk is empty`, uri, { cause: e });
        }
        const looks = sniff(bytes);
        const hints = [looks ? `the body looks like ${looks}` : null, contentType ? `Content-Type ${contentType}` : null].filter(Boolean);
        throw new PromptError(
          'not-audio',
          `prompt ${where} is not usable WAV audio: ${e.reason}${hints.length ? ` (${hints.join('; ')})` : ''}`,
          uri,
          { cause: e },
        );
      }
      throw e;
    }
    if (samples.length === 0) throw new PromptError('empty', `prompt ${where} holds no audio samples`, uri);
    return samples;
  }

  private async download(original: string): Promise<{ bytes: Uint8Array; contentType: string | null; finalUrl: string }> {
    const { timeoutMs, connectTimeoutMs, maxBytes } = this.config;
    let url = this.parseUri(original, original, null);
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new TimeoutSignal('timeout')), timeoutMs);
    timer.unref?.();
    const timedOut = () => ctl.signal.aborted && ctl.signal.reason instanceof TimeoutSignal;
    const abortable = <T>(p: Promise<T>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        if (ctl.signal.aborted) return reject(ctl.signal.reason);
        const onAbort = () => reject(ctl.signal.reason);
        ctl.signal.addEventListener('abort', onAbort, { once: true });
        p.then(
          (v) => {
            ctl.signal.removeEventListener('abort', onAbort);
            resolve(v);
          },
          (e: unknown) => {
            ctl.signal.removeEventListener('abort', onAbort);
            reject(e);
          },
        );
      });

    try {
      for (let hop = 0; ; hop++) {
        const where = hop === 0 ? describeUri(original) : `${describeUri(original)} (redirected to ${describeUri(url.href)})`;
        const host = url.hostname;
        const hostPort = `${host}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
        let agent: Agent | null = null;
        try {
          const addrs = await abortable(this.guard.check(host));
          agent = new Agent({
            connect: this.guard.connector(host, addrs, { timeoutMs: connectTimeoutMs }),
            connections: 1,
            pipelining: 0,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          });
          const res = await request(url, {
            method: 'GET',
            dispatcher: agent,
            signal: ctl.signal,
            headers: { accept: 'audio/wav, audio/x-wav, audio/*;q=0.9, */*;q=0.5', 'user-agent': 'Telegraph prompt fetcher' },
          });
          const body = res.body;
          body.on('error', () => {});
          const status = res.statusCode;

          if (REDIRECT_STATUSES.has(status)) {
            body.destroy();
            const loc = res.headers.location;
            const location = Array.isArray(loc) ? loc[0] : loc;
            if (!location) {
              throw new PromptError('redirect', `prompt ${where} answered HTTP ${status} without a Location header`, original, { status });
            }
            let next: string;
            try {
              next = new URL(location, url).href;
            } catch {
              next = location;
            }
            if (hop >= MAX_REDIRECTS) {
              throw new PromptError('redirect', `prompt ${describeUri(original)} redirected more than ${MAX_REDIRECTS} times (the last time to ${describeUri(next)})`, original, { status });
            }
            url = this.parseUri(next, original, url.href);
            continue;
          }
          if (status !== 200) {
            body.destroy();
            const text = STATUS_CODES[status];
            throw new PromptError('http-status', `prompt ${where} answered HTTP ${status}${text ? ` (${text})` : ''}; 200 expected`, original, { status });
          }

          const ctHeader = res.headers['content-type'];
          const contentType = (Array.isArray(ctHeader) ? ctHeader[0] : ctHeader) ?? null;
          const clHeader = res.headers['content-length'];
          const cl = Number(Array.isArray(clHeader) ? clHeader[0] : clHeader);
          if (clHeader !== undefined && Number.isFinite(cl) && cl > maxBytes) {
            body.destroy();
            throw new PromptError('too-large', `prompt ${where} is too large: Content-Length ${cl} bytes exceeds the ${formatBytes(maxBytes)} limit`, original);
          }
          const chunks: Buffer[] = [];
          let total = 0;
          for await (const chunk of body as AsyncIterable<Buffer>) {
            total += chunk.length;
            if (total > maxBytes) {
              body.destroy();
              throw new PromptError('too-large', `prompt ${where} is too large: the body exceeds the ${formatBytes(maxBytes)} limit (stopped reading after ${total} bytes)`, original);
            }
            chunks.push(chunk);
          }
          return { bytes: Buffer.concat(chunks, total), contentType, finalUrl: url.href };
        } catch (e) {
          throw this.classify(e, original, where, hostPort, timedOut());
        } finally {
          agent?.destroy().catch(() => {});
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private classify(e: unknown, uri: string, where: string, hostPort: string, timedOut: boolean): PromptError {
    if (e instanceof PromptError) return e;
    const { timeoutMs, connectTimeoutMs } = this.config;
    if (timedOut) {
      return new PromptError('timeout', `prompt ${where} timed out: no complete answer within ${timeoutMs} ms`, uri, { cause: e });
    }
    const ssrf = findIn(e, SsrfError);
    if (ssrf) return new PromptError('ssrf', `prompt ${where} refused: ${ssrf.message}`, uri, { cause: e });
    const dnsErr = findIn(e, DnsError);
    if (dnsErr) return new PromptError('dns', `prompt ${where} failed: ${dnsErr.message}`, uri, { cause: e });
    const code = errCode(e) ?? '';
    const msg = e instanceof Error ? e.message : String(e);
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
      case 'ETIMEDOUT':
        return new PromptError('timeout', `prompt ${where} failed: connecting to ${hostPort} timed out after ${connectTimeoutMs} ms`, uri, { cause: e });
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_BODY_TIMEOUT':
        return new PromptError('timeout', `prompt ${where} timed out: the server at ${hostPort} stopped answering for ${timeoutMs} ms`, uri, { cause: e });
      case 'ECONNREFUSED':
        return new PromptError('connect', `prompt ${where} failed: the connection to ${hostPort} was refused`, uri, { cause: e });
      case 'ECONNRESET':
      case 'EPIPE':
      case 'UND_ERR_SOCKET':
      case 'UND_ERR_CLOSED':
        return new PromptError('connect', `prompt ${where} failed: the connection to ${hostPort} was reset or closed by the server before the response was complete`, uri, { cause: e });
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
      case 'EADDRNOTAVAIL':
        return new PromptError('connect', `prompt ${where} failed: ${hostPort} is unreachable (${code})`, uri, { cause: e });
      case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
        return new PromptError('connect', `prompt ${where} failed: the body from ${hostPort} ended before its Content-Length`, uri, { cause: e });
    }
    if (/^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(code)) {
      return new PromptError('tls', `prompt ${where} failed: TLS with ${hostPort} failed (${code}: ${msg})`, uri, { cause: e });
    }
    return new PromptError('fetch', `prompt ${where} failed: ${msg}${code ? ` (${code})` : ''}`, uri, { cause: e });
  }
}

