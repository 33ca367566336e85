// One HTTP POST of a notification, with a hard timeout, through a keep-alive connection pool.
import { Agent, request } from 'undici';

export interface DeliveryResult {
  status: number | null;
  error: string | null;
  location: string | null;
  retryAfterMs: number | null;
  durationMs: number;
}

export class HttpDelivery {
  private readonly agent: Agent;

  constructor(private readonly timeoutMs: number) {
    this.agent = new Agent({ connections: 128, keepAliveTimeout: 30_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs });
  }

  async post(url: string, headers: Record<string, string>, body: string): Promise<DeliveryResult> {
    const started = performance.now();
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Telegraph/0.3', ...headers },
        body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.timeoutMs),
        maxRedirections: 0,
      } as Parameters<typeof request>[1]);
      await res.body.dump();
      const location = headerValue(res.headers.location);
      const retryAfter = headerValue(res.headers['retry-after']);
      return {
        status: res.statusCode,
        error: res.statusCode >= 400 ? `HTTP ${res.statusCode}` : null,
        location: location ? new URL(location, url).toString() : null,
        retryAfterMs: parseRetryAfter(retryAfter),
        durationMs: performance.now() - started,
      };
    } catch (err) {
      const e = err as Error & { code?: string };
      const reason = e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT'
        ? `timed out after ${this.timeoutMs} ms`
        : `${e.code ?? e.name}: ${e.message}`;
      return { status: null, error: reason, location: null, retryAfterMs: null, durationMs: performance.now() - started };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function headerValue(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}

function parseRetryAfter(v: string | null): number | null {
  if (!v) return null;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(v);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}
