// Repeatable requests (OASIS Repeatable Requests 1.0, as ACS implements them): the SDK sends
// `Repeatability-Request-ID` (a GUID) and `Repeatability-First-Sent` (IMF-fixdate) on its POSTs,
// and resends both unchanged when it retries (after a timeout, 408, 429 or 5xx). The first response
// is kept so that a retry returns the same result without acting twice.
//
// Behaviour, following the ACS documentation's table (rest/api/communication/repeatable-requests):
//   neither header                                      -> not repeatable: act normally
//   only one header, a non-GUID id, or a malformed date -> 400, Repeatability-Result: rejected
//   First-Sent more than the tracked period (ttlMs, default 5 min) away from now, past or future
//                                                       -> 412, rejected ("check the client's clock")
//   a new id                                            -> act; Repeatability-Result: accepted
//   a known id, same request, first still running       -> 409, rejected (no second action)
//   a known id, same request, first answered 2xx/4xx    -> that same response again (status, headers,
//                                                          body), accepted; nothing is done again
//   a known id, same request, first answered 5xx/threw  -> nothing was kept: acts again
//   a known id, different request                       -> 400, rejected  (chosen over 409: the
//                                                          client reused an id for another request,
//                                                          a client error that retrying cannot fix;
//                                                          ACS documents 400 for it too)
// "Same request" means the same method, request target (path and query as received) and SHA-256
// of the body. Ids are scoped by resource (the ACS resource, or whatever key the caller scopes by).
// The cache is bounded: entries expire ttlMs after max(first receipt, First-Sent), and beyond
// maxEntries the oldest are evicted (a retry of an evicted request would act again; at the default
// 10 000 entries that takes more than 30 new POSTs a second for five minutes).
import { createHash } from 'node:crypto';
import { AcsError } from './AcsError.ts';
import { headerValue, type HeaderBag } from '../../identity/AcsHmac.ts';

export const REPEATABILITY_TTL_MS = 5 * 60_000;
export const REPEATABILITY_MAX_ENTRIES = 10_000;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

export interface RepeatableRequest {
  /** What request ids are scoped by: the ACS resource (two resources may use the same id). */
  resource: string;
  method: string;
  /** The request target as received (path and query). */
  rawPath: string;
  headers: HeaderBag;
  body: Buffer;
}

/** A response worth replaying: keep only headers that belong to the result (content-type, location, …). */
export interface RepeatableResponse {
  status: number;
  headers: Record<string, string>;
  body?: Buffer | string;
}

export type RepeatabilityDecision =
  /** The request carries no repeatability headers. */
  | { kind: 'none' }
  /** First sight of this id: act, then call complete() with the response (or abandon() on failure). */
  | { kind: 'execute'; requestId: string; complete(outcome: RepeatableResponse | AcsError): void; abandon(): void }
  /** A retry of a request already answered: send this instead of acting. */
  | { kind: 'replay'; requestId: string; outcome: RepeatableResponse | AcsError }
  /** Not acceptable: send this error (its headers carry Repeatability-Result: rejected). */
  | { kind: 'reject'; error: AcsError };

interface Entry {
  fingerprint: string;
  expiresAt: number;
  /** undefined while the first request is still being acted on. */
  outcome: RepeatableResponse | AcsError | undefined;
}

export interface RepeatabilityOptions {
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

const ACCEPTED = { 'repeatability-result': 'accepted' } as const;
const REJECTED = { 'repeatability-result': 'rejected' } as const;

function rejected(status: 400 | 409 | 412, message: string, target?: string): AcsError {
  const options = { headers: { ...REJECTED }, ...(target ? { target } : {}) };
  if (status === 409) return AcsError.conflict(message, options);
  if (status === 412) return AcsError.preconditionFailed(message, options);
  return AcsError.badRequest(message, options);
}

/** A copy of a kept outcome marked accepted, so that replays never share mutable header objects. */
function markAccepted(outcome: RepeatableResponse | AcsError): RepeatableResponse | AcsError {
  if (outcome instanceof AcsError) {
    return new AcsError(outcome.status, outcome.code, outcome.message, {
      target: outcome.target,
      details: outcome.details,
      innererror: outcome.innererror,
      headers: { ...outcome.headers, ...ACCEPTED },
    });
  }
  return { status: outcome.status, headers: { ...outcome.headers, ...ACCEPTED }, ...(outcome.body !== undefined ? { body: outcome.body } : {}) };
}

export class RepeatabilityCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: RepeatabilityOptions = {}) {
    this.ttlMs = options.ttlMs ?? REPEATABILITY_TTL_MS;
    this.maxEntries = Math.max(1, options.maxEntries ?? REPEATABILITY_MAX_ENTRIES);
    this.now = options.now ?? Date.now;
  }

  /** Entries currently kept (pending and answered). */
  get size(): number {
    return this.entries.size;
  }

  /** Decides what to do with a request (see the file header). */
  begin(req: RepeatableRequest): RepeatabilityDecision {
    const idHeader = headerValue(req.headers, 'repeatability-request-id');
    const sentHeader = headerValue(req.headers, 'repeatability-first-sent');
    if (idHeader === undefined && sentHeader === undefined) return { kind: 'none' };
    if (idHeader === undefined || idHeader.trim() === '') {
      return { kind: 'reject', error: rejected(400, 'Repeatability-First-Sent was sent without Repeatability-Request-ID: a repeatable request needs both.', 'Repeatability-Request-ID') };
    }
    if (sentHeader === undefined || sentHeader.trim() === '') {
      return { kind: 'reject', error: rejected(400, 'Repeatability-Request-ID was sent without Repeatability-First-Sent: a repeatable request needs both.', 'Repeatability-First-Sent') };
    }
    const requestId = idHeader.trim();
    if (!GUID.test(requestId)) {
      return { kind: 'reject', error: rejected(400, `Repeatability-Request-ID '${requestId}' is not a GUID.`, 'Repeatability-Request-ID') };
    }
    const sent = sentHeader.trim();
    const sentMs = Date.parse(sent);
    if (!IMF_FIXDATE.test(sent) || Number.isNaN(sentMs)) {
      return { kind: 'reject', error: rejected(400, `Repeatability-First-Sent '${sent}' is not an IMF-fixdate such as "Tue, 15 Nov 1994 08:12:31 GMT".`, 'Repeatability-First-Sent') };
    }
    const now = this.now();
    if (Math.abs(now - sentMs) > this.ttlMs) {
      return {
        kind: 'reject',
        error: rejected(
          412,
          `Repeatability-First-Sent '${sent}' is ${Math.round(Math.abs(now - sentMs) / 1000)} s in the ${sentMs < now ? 'past' : 'future'}, outside the tracked period of ${Math.round(this.ttlMs / 1000)} s: the request may not be safely repeated (check the client's clock).`,
          'Repeatability-First-Sent',
        ),
      };
    }

    this.sweep(now);
    const key = `${req.resource}\n${requestId.toLowerCase()}`;
    const fingerprint = this.fingerprint(req);
    const existing = this.entries.get(key);
    if (existing && existing.expiresAt > now) {
      if (existing.fingerprint !== fingerprint) {
        return {
          kind: 'reject',
          error: rejected(400, `Repeatability-Request-ID ${requestId} was already used for a different request (another method, path or body): use a new id for a new request.`, 'Repeatability-Request-ID'),
        };
      }
      if (existing.outcome === undefined) {
        return { kind: 'reject', error: rejected(409, `The request with Repeatability-Request-ID ${requestId} is still being processed: retry later.`, 'Repeatability-Request-ID') };
      }
      return { kind: 'replay', requestId, outcome: markAccepted(existing.outcome) };
    }
    if (existing) this.entries.delete(key);

    const entry: Entry = { fingerprint, expiresAt: Math.max(now, sentMs) + this.ttlMs, outcome: undefined };
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, entry);
    const owns = () => this.entries.get(key) === entry;
    return {
      kind: 'execute',
      requestId,
      complete: (outcome) => {
        if (!owns()) return;
        // A server error is not kept: the retry acts again (ACS: "re-executed").
        if (outcome.status >= 500) this.entries.delete(key);
        else entry.outcome = markAccepted(outcome);
      },
      abandon: () => {
        if (owns()) this.entries.delete(key);
      },
    };
  }

  /**
   * Runs `action` at most once per request id: returns its response (or a replay of the first),
   * marked Repeatability-Result: accepted; throws the rejection AcsError, or the AcsError the action
   * threw (kept and rethrown on replay when it is a 4xx). Requests without the headers just run.
   */
  async run(req: RepeatableRequest, action: () => Promise<RepeatableResponse>): Promise<RepeatableResponse> {
    const decision = this.begin(req);
    switch (decision.kind) {
      case 'none':
        return action();
      case 'reject':
        throw decision.error;
      case 'replay':
        if (decision.outcome instanceof AcsError) throw decision.outcome;
        return decision.outcome;
      case 'execute': {
        let response: RepeatableResponse;
        try {
          response = await action();
        } catch (err) {
          if (err instanceof AcsError) {
            decision.complete(err);
            throw err.status < 500 ? markAccepted(err) : err;
          }
          decision.abandon();
          throw err;
        }
        decision.complete(response);
        return response.status < 500 ? markAccepted(response) : response;
      }
    }
  }

  private fingerprint(req: RepeatableRequest): string {
    return createHash('sha256')
      .update(`${req.method.toUpperCase()}\n${req.rawPath}\n`)
      .update(req.body)
      .digest('base64');
  }

  /** Drops expired entries from the oldest end (entries are roughly in expiry order). */
  private sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(key);
    }
  }
}
