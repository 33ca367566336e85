// Event Grid, as Azure Communication Services resources publish through it: event subscriptions
// (webhook endpoint, included event types, subject filters) proven by the validation handshake,
// then events in the Event Grid schema POSTed to each matching subscription through the durable
// outbox (ordered per subscription, retried, observable in /admin/notifications).
//
// The handshake (as Event Grid does it, learn.microsoft.com/azure/event-grid/webhook-event-delivery):
// a POST with `aeg-event-type: SubscriptionValidation` and a Microsoft.EventGrid.SubscriptionValidationEvent
// whose data carries validationCode and validationUrl. The subscriber either answers 200
// `{"validationResponse": "<validationCode>"}` (synchronous), or answers 2xx and later GETs the
// validationUrl (asynchronous: the subscription waits in awaitingManualAction). Until validated, a
// subscription gets nothing. Failures are kept on the subscription (state failed, lastError) for the
// admin API, which can run the handshake again.
//
// Deliveries: `aeg-event-type: Notification`, `aeg-subscription-name: <NAME>` (upper-case, as Event
// Grid sends it), `aeg-data-version`, `aeg-metadata-version: 1`, `aeg-delivery-count`; the body is
// an array of one event `{id, topic, subject, data, eventType, eventTime, metadataVersion: "1", dataVersion}`.
//
// Used by the ACS adapter (Microsoft.Communication.IncomingCall) and by call recording
// (Microsoft.Communication.RecordingFileStatusUpdated): publish(resourceId, event).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { request } from 'undici';
import type { Directory } from '../directory/Directory.ts';
import { acsAppId } from '../directory/Directory.ts';
import type { AcsResource, EventGridSubscription } from '../directory/DirectoryTypes.ts';
import type { Outbox } from './Outbox.ts';

export const SUBSCRIPTION_VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent';

export interface EventGridEventInput {
  eventType: string;
  subject: string;
  data: unknown;
  /** Defaults: a new GUID, now, "1.0". */
  id?: string;
  eventTime?: string;
  dataVersion?: string;
}

/** An event in the Event Grid schema, as delivered. */
export interface EventGridEvent {
  id: string;
  topic: string;
  subject: string;
  data: unknown;
  eventType: string;
  eventTime: string;
  metadataVersion: '1';
  dataVersion: string;
}

export interface EventGridSettings {
  /** Most time for one validation POST. */
  timeoutMs: number;
  /** Validation POSTs tried (network errors and 5xx are retried) before the subscription is failed. */
  validationAttempts: number;
  /** Pause before a retried validation POST. */
  validationRetryMs: number;
}

export class EventGridPublisher {
  private readonly running = new Map<string, Promise<EventGridSubscription>>();
  private stopped = false;

  constructor(
    private readonly directory: Directory,
    private readonly outbox: Outbox,
    private readonly publicUrl: () => string,
    private readonly settings: EventGridSettings,
    private readonly log: Logger,
  ) {}

  /** The topic of a resource's events, shaped like the ARM id Event Grid puts there. */
  topicOf(resource: AcsResource): string {
    return `/subscriptions/${resource.tenantId}/resourceGroups/telegraph/providers/Microsoft.Communication/communicationServices/${resource.id}`;
  }

  /** Whether a validated subscription of the resource would receive this event type. */
  hasSubscriber(resourceId: string, eventType: string): boolean {
    return this.directory.listEventGridSubscriptions(resourceId).some((s) => s.validation.state === 'validated' && includesType(s, eventType));
  }

  /**
   * Queues the event for every validated subscription of the resource that accepts it (type and
   * subject filters). Returns how many subscriptions it was queued for.
   */
  publish(resourceId: string, input: EventGridEventInput, callId: string | null = null): number {
    const resource = this.directory.getAcsResource(resourceId);
    if (!resource) return 0;
    const event: EventGridEvent = {
      id: input.id ?? randomUUID(),
      topic: this.topicOf(resource),
      subject: input.subject,
      data: input.data,
      eventType: input.eventType,
      eventTime: input.eventTime ?? new Date().toISOString(),
      metadataVersion: '1',
      dataVersion: input.dataVersion ?? '1.0',
    };
    let queued = 0;
    for (const sub of this.directory.listEventGridSubscriptions(resourceId)) {
      if (sub.validation.state !== 'validated' || !includesType(sub, event.eventType)) continue;
      if (sub.subjectBeginsWith && !event.subject.startsWith(sub.subjectBeginsWith)) continue;
      if (sub.subjectEndsWith && !event.subject.endsWith(sub.subjectEndsWith)) continue;
      this.outbox.enqueue({
        stream: `eventgrid:${sub.id}`,
        tenantId: resource.tenantId,
        appId: acsAppId(resource.id),
        callId,
        url: sub.endpointUrl,
        kind: 'eventGrid',
        headers: {
          'aeg-event-type': 'Notification',
          'aeg-subscription-name': sub.name.toUpperCase(),
          'aeg-data-version': event.dataVersion,
          'aeg-metadata-version': '1',
          'aeg-delivery-count': '0',
        },
        body: JSON.stringify([event]),
      });
      queued++;
    }
    return queued;
  }

  /** Runs the handshake of every subscription still pending (at start: subscriptions from the configuration). */
  start(): void {
    for (const t of this.directory.listTenants()) {
      for (const r of this.directory.listAcsResources(t.id)) {
        for (const s of this.directory.listEventGridSubscriptions(r.id)) {
          if (s.validation.state === 'pending') void this.validate(s);
        }
      }
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** The URL a subscriber may GET to validate asynchronously. */
  validationUrl(sub: EventGridSubscription): string {
    return `${this.publicUrl()}/eventgrid/validate?id=${encodeURIComponent(sub.id)}&code=${encodeURIComponent(sub.validation.code)}`;
  }

  /** A subscriber GET its validationUrl: the subscription is validated if the code matches. */
  validateByUrl(id: string, code: string): EventGridSubscription | null {
    const slash = id.indexOf('/');
    const sub = slash > 0 ? this.directory.getEventGridSubscription(id.slice(0, slash), id.slice(slash + 1)) : undefined;
    if (!sub || sub.validation.code !== code || sub.validation.state === 'failed') return null;
    if (sub.validation.state !== 'validated') this.save(sub, { state: 'validated', lastError: null, validatedAt: new Date().toISOString() });
    return this.directory.getEventGridSubscription(sub.resourceId, sub.name) ?? null;
  }

  /**
   * Runs the validation handshake (one at a time per subscription) and returns the subscription
   * with its new state: validated, awaitingManualAction (2xx without the code: GET the
   * validationUrl) or failed (lastError says why).
   */
  validate(sub: EventGridSubscription): Promise<EventGridSubscription> {
    const running = this.running.get(sub.id);
    if (running) return running;
    const p = this.handshake(sub).finally(() => this.running.delete(sub.id));
    this.running.set(sub.id, p);
    return p;
  }

  private async handshake(sub: EventGridSubscription): Promise<EventGridSubscription> {
    const resource = this.directory.getAcsResource(sub.resourceId);
    if (!resource) return sub;
    const body = JSON.stringify([
      {
        id: randomUUID(),
        topic: this.topicOf(resource),
        subject: '',
        data: { validationCode: sub.validation.code, validationUrl: this.validationUrl(sub) },
        eventType: SUBSCRIPTION_VALIDATION_EVENT,
        eventTime: new Date().toISOString(),
        metadataVersion: '1',
        dataVersion: '2',
      },
    ]);
    let lastError = 'not attempted';
    let attempts = sub.validation.attempts;
    for (let i = 0; i < this.settings.validationAttempts && !this.stopped; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, this.settings.validationRetryMs));
      attempts++;
      let status: number;
      let text: string;
      try {
        const res = await request(sub.endpointUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Telegraph/0.2 (Event Grid)',
            'aeg-event-type': 'SubscriptionValidation',
            'aeg-subscription-name': sub.name.toUpperCase(),
            'aeg-data-version': '2',
            'aeg-metadata-version': '1',
            'aeg-delivery-count': '0',
          },
          body,
          signal: AbortSignal.timeout(this.settings.timeoutMs),
          maxRedirections: 0,
        } as Parameters<typeof request>[1]);
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        const e = err as Error & { code?: string };
        lastError = e.name === 'TimeoutError' ? `the endpoint did not answer within ${this.settings.timeoutMs} ms` : `the endpoint could not be reached (${e.code ?? e.name}: ${e.message})`;
        continue;
      }
      if (status >= 200 && status < 300) {
        let answer: unknown = undefined;
        try {
          answer = text ? (JSON.parse(text) as { validationResponse?: unknown }).validationResponse : undefined;
        } catch {
          /* not JSON: treated as no code */
        }
        if (answer === sub.validation.code) {
          return this.save(sub, { state: 'validated', attempts, lastError: null, validatedAt: new Date().toISOString() });
        }
        if (answer !== undefined) {
          return this.save(sub, { state: 'failed', attempts, lastError: `the endpoint answered validationResponse ${JSON.stringify(answer)}, not the validationCode sent` });
        }
        this.log.info({ subscription: sub.id }, 'Event Grid: the endpoint accepted the validation event without the code: awaiting a GET of the validationUrl');
        return this.save(sub, { state: 'awaitingManualAction', attempts, lastError: `HTTP ${status} without {"validationResponse": "<code>"}: GET the validationUrl to complete the handshake` });
      }
      lastError = `the endpoint answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
      if (status < 500 && status !== 408 && status !== 429) break;
    }
    this.log.warn({ subscription: sub.id, endpoint: sub.endpointUrl, error: lastError }, 'Event Grid: subscription validation failed');
    return this.save(sub, { state: 'failed', attempts, lastError: `validation handshake failed: ${lastError}` });
  }

  private save(sub: EventGridSubscription, change: Partial<EventGridSubscription['validation']>): EventGridSubscription {
    // The subscription may have changed (or gone) while the handshake ran.
    const current = this.directory.getEventGridSubscription(sub.resourceId, sub.name);
    if (!current || current.endpointUrl !== sub.endpointUrl || current.validation.code !== sub.validation.code) return current ?? sub;
    return this.directory.upsertEventGridSubscription({ ...current, validation: { ...current.validation, ...change } });
  }
}

function includesType(sub: EventGridSubscription, eventType: string): boolean {
  return sub.includedEventTypes.length === 0 || sub.includedEventTypes.some((t) => t.toLowerCase() === eventType.toLowerCase());
}
