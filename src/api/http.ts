// The HTTP server every API shares: lenient JSON parsing, request ids, body limits, and one error
// handler that renders each API's own error format.
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { GraphError, graphErrorBody } from './graph/GraphError.ts';
import { AcsError } from './acs/AcsError.ts';
import { CallError } from '../calls/CallService.ts';
import { DirectoryError } from '../directory/Directory.ts';

declare module 'fastify' {
  interface FastifyRequest {
    requestId: string;
  }
}

/**
 * JSON with trailing commas, as several of the Graph documentation's own examples are written
 * (`"preFetchMedia": [...],\n  },`). Strict JSON is tried first; only on failure are commas before
 * a closing bracket removed (outside strings) and the text parsed again.
 */
export function parseLenientJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    let out = '';
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (inString) {
        out += c;
        if (c === '\\') out += text[++i] ?? '';
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      if (c === ',') {
        let j = i + 1;
        while (j < text.length && /\s/.test(text[j]!)) j++;
        if (text[j] === '}' || text[j] === ']') continue;
      }
      out += c;
    }
    try {
      return JSON.parse(out);
    } catch {
      throw first;
    }
  }
}

export class BodyParseError extends Error {}

/** The token endpoint answers in the OAuth 2.0 error format (as Entra ID does), not Graph's. */
const TOKEN_PATH = /^\/[^/]*\/oauth2\/v2\.0\/token\/?$/i;
function oauthErrorBody(status: number, message: string, requestId: string): Record<string, unknown> {
  return {
    error: status >= 500 ? 'server_error' : 'invalid_request',
    error_description: message,
    error_codes: [],
    timestamp: new Date().toISOString(),
    trace_id: requestId,
    correlation_id: requestId,
  };
}

export function buildHttp(log: Logger, bodyLimit: number): FastifyInstance {
  const app = Fastify({
    loggerInstance: log.child({ component: 'http' }) as any,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    genReqId: () => randomUUID(),
    routerOptions: { ignoreTrailingSlash: true, caseSensitive: false },
    // Errors the router raises before any route or hook runs (a badly percent-encoded path, a path
    // segment over maxParamLength): rendered in the error format of the API the path belongs to.
    frameworkErrors: (err: any, req: FastifyRequest, reply: FastifyReply) => {
      const path = (req.raw.url ?? '').split('?')[0]!;
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      const message = err.code === 'FST_ERR_BAD_URL'
        ? 'The request path is not correctly percent-encoded (a % must be followed by two hex digits forming valid UTF-8).'
        : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? 'A path segment (an id) of the request is longer than the server accepts (100 characters).'
          : String(err.message || 'The request path is not valid.');
      const code = status === 414 ? 'RequestUriTooLong' : 'BadRequest';
      reply.header('request-id', req.id);
      if (TOKEN_PATH.test(path)) return reply.status(status).type('application/json').send(oauthErrorBody(status, message, req.id));
      if (/^\/calling(\/|$)/i.test(path)) return reply.status(status).type('application/json').send(new AcsError(status, code, message).toBody());
      const clientRequestId = typeof req.headers['client-request-id'] === 'string' ? req.headers['client-request-id'] : undefined;
      return reply.status(status).type('application/json').send(graphErrorBody(code, message, req.id, clientRequestId));
    },
  } as any) as unknown as FastifyInstance;

  app.decorateRequest('requestId', '');
  app.addHook('onRequest', async (req, reply) => {
    req.requestId = req.id;
    reply.header('request-id', req.id);
    const clientRequestId = req.headers['client-request-id'];
    if (typeof clientRequestId === 'string') reply.header('client-request-id', clientRequestId);
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'text/json'], { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, parseLenientJson(text));
    } catch (err) {
      done(new BodyParseError(`The request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: any, req: FastifyRequest, reply: FastifyReply) => {
    let status = 500;
    let code = 'InternalServerError';
    let message = 'An unexpected error occurred.';
    if (err instanceof GraphError) {
      status = err.status; code = err.code; message = err.message;
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    } else if (err instanceof CallError) {
      status = err.status; code = err.code; message = err.message;
    } else if (err instanceof DirectoryError) {
      status = err.status; code = status === 404 ? 'NotFound' : status === 409 ? 'Conflict' : 'BadRequest'; message = err.message;
    } else if (err instanceof BodyParseError) {
      status = 400; code = 'BadRequest'; message = err.message;
    } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      status = 413; code = 'RequestEntityTooLarge'; message = `The request body is larger than the limit of ${bodyLimit} bytes.`;
    } else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      status = 400; code = 'BadRequest'; message = err.message;
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode; code = 'BadRequest'; message = err.message;
    } else {
      req.log.error({ err, url: req.url }, 'unhandled error');
    }
    if (TOKEN_PATH.test((req.raw.url ?? '').split('?')[0]!)) return reply.status(status).type('application/json').send(oauthErrorBody(status, message, req.requestId || req.id));
    const clientRequestId = typeof req.headers['client-request-id'] === 'string' ? req.headers['client-request-id'] : undefined;
    reply.status(status).type('application/json').send(graphErrorBody(code, message, req.requestId || req.id, clientRequestId));
  });

  app.setNotFoundHandler((req, reply) => {
    const clientRequestId = typeof req.headers['client-request-id'] === 'string' ? req.headers['client-request-id'] : undefined;
    reply.status(404).send(graphErrorBody('NotFound', `No resource matches ${req.method} ${req.url.split('?')[0]}.`, req.requestId || req.id, clientRequestId));
  });
  return app;
}

/** One range of bytes, `end` inclusive; without `end`, to the last byte. */
export interface ByteRange {
  start: number;
  end?: number;
}

/**
 * An HTTP Range header of one range: `bytes=a-b`, `bytes=a-`, or `bytes=-n` (the last n bytes, when the
 * size is known). Anything else — malformed (SDK 1.5.1 sends `bytes=undefined`), several ranges, an
 * end before the start — is ignored: the whole content is served (200), as HTTP allows.
 */
export function parseRange(header: string | undefined, totalSize: number | null): ByteRange | null {
  if (!header) return null;
  const h = header.trim();
  let m = /^bytes=(\d+)-(\d*)$/i.exec(h);
  if (m) {
    const start = Number(m[1]);
    const end = m[2] ? Number(m[2]) : undefined;
    if (!Number.isSafeInteger(start) || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) return null;
    return end === undefined ? { start } : { start, end };
  }
  m = /^bytes=-(\d+)$/i.exec(h);
  if (m && totalSize !== null) {
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n) || n === 0 || totalSize === 0) return null;
    return { start: Math.max(0, totalSize - n) };
  }
  return null;
}
