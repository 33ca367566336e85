// Helpers for the ACS Call Automation tests: an ACS resource made through the admin API, a client
// of the official SDK connected to it, and a callback server that records CloudEvents (per call
// connection) and Event Grid deliveries, answering the Event Grid validation handshake as told.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallAutomationClient, parseCallAutomationEvent, type CallAutomationClientOptions } from '@azure/communication-call-automation';
import type { Harness, Json } from './harness.ts';
import { nextNumber } from './harness.ts';

export interface AcsRecorded {
  at: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  /** The first event of the array (CloudEvent or Event Grid event). */
  event: Json;
}

export type ValidationMode = 'sync' | 'none' | 'fail' | 'wrong';

/** Records what Telegraph POSTs: CloudEvents under /events, Event Grid under /eventgrid. */
export class AcsEventSink {
  readonly received: AcsRecorded[] = [];
  readonly validations: AcsRecorded[] = [];
  /** How /eventgrid answers a SubscriptionValidation POST. */
  validationMode: ValidationMode = 'sync';
  private server!: http.Server;
  base = '';
  private waiters: { pred: (r: AcsRecorded) => boolean; resolve: (r: AcsRecorded) => void }[] = [];

  get events(): string {
    return `${this.base}/events`;
  }

  get eventGrid(): string {
    return `${this.base}/eventgrid`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        let body: any = null;
        try { body = JSON.parse(text); } catch { /* kept as null */ }
        const rec: AcsRecorded = { at: Date.now(), path: req.url ?? '/', headers: req.headers, body, event: Array.isArray(body) ? body[0] : body };
        if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
          this.validations.push(rec);
          const code = rec.event?.data?.validationCode;
          switch (this.validationMode) {
            case 'sync':
              res.writeHead(200, { 'content-type': 'application/json' });
              res.end(JSON.stringify({ validationResponse: code }));
              return;
            case 'none':
              res.writeHead(200);
              res.end();
              return;
            case 'wrong':
              res.writeHead(200, { 'content-type': 'application/json' });
              res.end(JSON.stringify({ validationResponse: 'not-the-code' }));
              return;
            case 'fail':
              res.writeHead(500);
              res.end('boom');
              return;
          }
        }
        this.received.push(rec);
        this.waiters = this.waiters.filter((w) => {
          if (w.pred(rec)) { w.resolve(rec); return false; }
          return true;
        });
        res.writeHead(200);
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  waitFor(pred: (r: AcsRecorded) => boolean, ms = 8000, what = 'an event'): Promise<AcsRecorded> {
    const found = this.received.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; received: ${this.received.map((r) => `${r.event?.type ?? r.event?.eventType} ${r.event?.data?.callConnectionId ?? ''}`).join(' | ')}`));
      }, ms);
      const done = (r: AcsRecorded) => { clearTimeout(timer); resolve(r); };
      this.waiters.push({ pred, resolve: done });
    });
  }

  /** Waits for a CloudEvent of a type (`CallConnected` or the full name) about a call connection, parsed by the SDK. */
  async waitForEvent(type: string, callConnectionId: string, ms = 8000, extra: (e: Json) => boolean = () => true): Promise<{ rec: AcsRecorded; parsed: any }> {
    const full = type.startsWith('Microsoft.') ? type : `Microsoft.Communication.${type}`;
    const rec = await this.waitFor((r) => r.event?.type === full && r.event?.data?.callConnectionId === callConnectionId && extra(r.event), ms, `${type} for ${callConnectionId}`);
    return { rec, parsed: parseCallAutomationEvent(rec.body) };
  }

  /** The CloudEvent types received for a call connection, in order. */
  typesFor(callConnectionId: string): string[] {
    return this.received
      .filter((r) => r.event?.data?.callConnectionId === callConnectionId && typeof r.event?.type === 'string')
      .map((r) => r.event.type.replace('Microsoft.Communication.', ''));
  }

  waitForEventGrid(eventType: string, pred: (e: Json) => boolean = () => true, ms = 8000): Promise<AcsRecorded> {
    return this.waitFor((r) => r.path.startsWith('/eventgrid') && r.event?.eventType === eventType && pred(r.event), ms, `Event Grid ${eventType}`);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface TestAcsResource {
  resourceId: string;
  tenantId: string;
  phoneNumber: string;
  keys: { id: string; key: string; connectionString: string }[];
  connectionString: string;
}

/** An ACS resource (with one phone number) in a tenant, made through the admin API. */
export async function createAcsResource(h: Harness, tenantId: string, opts: { id?: string; phoneNumbers?: string[] } = {}): Promise<TestAcsResource> {
  const phoneNumber = nextNumber();
  const r = await h.admin('POST', `/tenants/${tenantId}/acsResources`, { ...(opts.id ? { id: opts.id } : {}), displayName: 'Test ACS', phoneNumbers: opts.phoneNumbers ?? [phoneNumber] });
  if (r.status !== 201) throw new Error(`acs resource: ${r.status} ${JSON.stringify(r.body)}`);
  return { resourceId: r.body.id, tenantId, phoneNumber: r.body.phoneNumbers[0] ?? phoneNumber, keys: r.body.keys, connectionString: r.body.keys[0].connectionString };
}

/** The official SDK's client over plain HTTP (no retries: each test sees each answer). */
export function acsClient(connectionString: string, options: CallAutomationClientOptions = {}): CallAutomationClient {
  return new CallAutomationClient(connectionString, { allowInsecureConnection: true, retryOptions: { maxRetries: 0 }, ...options });
}

/** A directory user as an ACS user of the resource. */
export function acsUser(resourceId: string, userId: string): { communicationUserId: string } {
  return { communicationUserId: `8:acs:${resourceId}_${userId}` };
}

/** The simulator's call (id) of a virtual user in a server call. */
export async function simCallIn(h: Harness, userId: string, serverCallId: string, ms = 5000): Promise<Json> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await h.sim('GET', `/users/${userId}/calls`);
    const c = (r.body.value as Json[]).find((x) => x.serverCallId === serverCallId);
    if (c) return c;
    if (Date.now() > until) throw new Error(`user ${userId} has no call in ${serverCallId}: ${JSON.stringify(r.body.value)}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

/** Polls a virtual user's call until its state is `state`. */
export async function waitSimState(h: Harness, userId: string, simCallId: string, state: string, ms = 5000): Promise<Json> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await h.sim('GET', `/users/${userId}/calls/${simCallId}`);
    if (r.body?.state === state) return r.body;
    if (Date.now() > until) throw new Error(`sim call ${simCallId} of ${userId} is ${JSON.stringify(r.body)}, not ${state}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

/** The keys a virtual user heard in a call (simulator dtmfHeard events). */
export async function keysHeard(h: Harness, userId: string, simCallId: string): Promise<string> {
  const r = await h.sim('GET', `/users/${userId}/events`);
  return (r.body.value as Json[]).filter((e) => e.type === 'dtmfHeard' && e.callId === simCallId).map((e) => e.detail.key).join('');
}
