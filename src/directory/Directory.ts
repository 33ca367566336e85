// The directory: tenants and what lives in them. Held in memory for lookups on every request,
// written through to the state store so admin changes survive a restart.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { StateStore } from '../storage/StateStore.ts';
import { CALLING_PERMISSIONS, type TenantConfig } from '../config/ConfigSchema.ts';
import type {
  AcsAccessKey,
  AcsResource,
  Application,
  ApplicationInstance,
  DirectoryKind,
  EventGridSubscription,
  OnlineMeeting,
  Tenant,
  User,
} from './DirectoryTypes.ts';

export class DirectoryError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

type Entity = Tenant | Application | ApplicationInstance | User | OnlineMeeting | AcsResource | EventGridSubscription;

/** The appId under which an ACS resource acts as an application of its tenant. */
export const ACS_APP_PREFIX = 'acs:';

export function acsAppId(resourceId: string): string {
  return `${ACS_APP_PREFIX}${resourceId}`;
}

/** The resource id of an ACS application (`acs:<resourceId>`), or null for a Graph application. */
export function acsResourceIdOf(app: Application): string | null {
  return app.api === 'acs' ? app.appId.slice(ACS_APP_PREFIX.length) : null;
}

/** An access key entry for a base64 key; its id is derived from the key so config reloads keep it. */
export function acsKeyEntry(key: string, createdAt = new Date().toISOString()): AcsAccessKey {
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 8), key, createdAt };
}

function keyOf(kind: DirectoryKind, e: Entity): string {
  return kind === 'application' ? (e as Application).appId : (e as { id: string }).id;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newSecret(): string {
  // 40 characters of URL-safe base64: the shape of an Entra client secret, and typeable in a shell.
  return randomBytes(30).toString('base64url');
}

export class Directory {
  private readonly tenants = new Map<string, Tenant>();
  private readonly applications = new Map<string, Application>();
  private readonly instances = new Map<string, ApplicationInstance>();
  private readonly users = new Map<string, User>();
  private readonly meetings = new Map<string, OnlineMeeting>();
  private readonly acsResources = new Map<string, AcsResource>();
  private readonly eventGridSubscriptions = new Map<string, EventGridSubscription>();
  /** The application view of each ACS resource, made once per version of the resource. */
  private readonly acsApps = new Map<string, { resource: AcsResource; app: Application }>();

  constructor(private readonly store: StateStore) {
    const rows = store.db.prepare('SELECT kind, data FROM directory_entries').all() as { kind: DirectoryKind; data: string }[];
    for (const row of rows) this.mapOf(row.kind).set(keyOf(row.kind, JSON.parse(row.data)), JSON.parse(row.data));
  }

  private mapOf(kind: DirectoryKind): Map<string, any> {
    switch (kind) {
      case 'tenant': return this.tenants;
      case 'application': return this.applications;
      case 'applicationInstance': return this.instances;
      case 'user': return this.users;
      case 'meeting': return this.meetings;
      case 'acsResource': return this.acsResources;
      case 'eventGridSubscription': return this.eventGridSubscriptions;
    }
  }

  private put(kind: DirectoryKind, tenantId: string, entity: Entity): void {
    const id = keyOf(kind, entity);
    this.store.db
      .prepare(
        'INSERT INTO directory_entries (kind, id, tenant_id, data) VALUES (?, ?, ?, ?) ON CONFLICT(kind, id) DO UPDATE SET tenant_id = excluded.tenant_id, data = excluded.data',
      )
      .run(kind, id, tenantId, JSON.stringify(entity));
    this.mapOf(kind).set(id, entity);
  }

  private remove(kind: DirectoryKind, id: string): void {
    this.store.db.prepare('DELETE FROM directory_entries WHERE kind = ? AND id = ?').run(kind, id);
    this.mapOf(kind).delete(id);
  }

  private requireTenant(tenantId: string): Tenant {
    const t = this.tenants.get(tenantId);
    if (!t) throw new DirectoryError(404, `tenant ${tenantId} does not exist`);
    return t;
  }

  /** Ids are global (as GUIDs are in the cloud): the same id in two tenants would make routing ambiguous. */
  private assertFree(kind: DirectoryKind, id: string, tenantId: string): void {
    const existing = this.mapOf(kind).get(id) as { tenantId?: string; id?: string } | undefined;
    if (existing && (existing.tenantId ?? existing.id) !== tenantId) {
      throw new DirectoryError(409, `${kind} ${id} already exists in another tenant`);
    }
  }

  // ---- tenants
  listTenants(): Tenant[] { return [...this.tenants.values()]; }
  getTenant(id: string): Tenant | undefined { return this.tenants.get(id); }
  upsertTenant(t: Tenant): Tenant { this.put('tenant', t.id, t); return t; }
  deleteTenant(id: string): void {
    this.requireTenant(id);
    this.store.db.transaction(() => {
      for (const kind of ['application', 'applicationInstance', 'user', 'meeting', 'acsResource', 'eventGridSubscription'] as const) {
        for (const e of [...this.mapOf(kind).values()]) if (e.tenantId === id) this.remove(kind, keyOf(kind, e));
      }
      this.remove('tenant', id);
    })();
  }

  // ---- applications
  listApplications(tenantId: string): Application[] { return [...this.applications.values()].filter((a) => a.tenantId === tenantId); }
  /** A Graph application, or the application view of an ACS resource (appId `acs:<resourceId>`). */
  getApplication(appId: string): Application | undefined {
    const app = this.applications.get(appId);
    if (app || !appId.startsWith(ACS_APP_PREFIX)) return app;
    return this.acsApplication(appId.slice(ACS_APP_PREFIX.length));
  }
  upsertApplication(app: Application): Application {
    this.requireTenant(app.tenantId);
    this.assertFree('application', app.appId, app.tenantId);
    if (app.appId.startsWith(ACS_APP_PREFIX) && app.api !== 'acs') throw new DirectoryError(400, `appId '${app.appId}' is reserved: '${ACS_APP_PREFIX}<resourceId>' names an ACS resource acting as an application`);
    this.put('application', app.tenantId, app);
    return app;
  }
  deleteApplication(appId: string): void { this.remove('application', appId); }

  /** Adds a secret and returns its plain text: the only time it is ever visible. */
  addSecret(appId: string, plain: string = newSecret()): { id: string; secret: string } {
    const app = this.applications.get(appId);
    if (!app) throw new DirectoryError(404, `application ${appId} does not exist`);
    const id = randomUUID();
    const hash = hashSecret(plain);
    if (!app.secrets.some((s) => s.hash === hash)) {
      app.secrets.push({ id, hash, hint: plain.slice(0, 3), createdAt: new Date().toISOString() });
      this.put('application', app.tenantId, app);
    }
    return { id, secret: plain };
  }

  verifySecret(app: Application, plain: string): boolean {
    const given = Buffer.from(hashSecret(plain), 'hex');
    let ok = false;
    for (const s of app.secrets) if (timingSafeEqual(given, Buffer.from(s.hash, 'hex'))) ok = true;
    return ok;
  }

  // ---- application instances
  listApplicationInstances(tenantId: string): ApplicationInstance[] { return [...this.instances.values()].filter((a) => a.tenantId === tenantId); }
  getApplicationInstance(id: string): ApplicationInstance | undefined { return this.instances.get(id); }
  upsertApplicationInstance(i: ApplicationInstance): ApplicationInstance {
    this.requireTenant(i.tenantId);
    this.assertFree('applicationInstance', i.id, i.tenantId);
    const app = this.applications.get(i.appId);
    if (!app || app.tenantId !== i.tenantId) throw new DirectoryError(400, `appId ${i.appId} is not an application of tenant ${i.tenantId}`);
    if (i.phoneNumber) this.assertNumberFree(i.phoneNumber, i.id);
    this.put('applicationInstance', i.tenantId, i);
    return i;
  }
  deleteApplicationInstance(id: string): void { this.remove('applicationInstance', id); }

  // ---- users
  listUsers(tenantId: string): User[] { return [...this.users.values()].filter((u) => u.tenantId === tenantId); }
  getUser(id: string): User | undefined { return this.users.get(id); }
  upsertUser(u: User): User {
    this.requireTenant(u.tenantId);
    this.assertFree('user', u.id, u.tenantId);
    if (u.phoneNumber) this.assertNumberFree(u.phoneNumber, u.id);
    this.put('user', u.tenantId, u);
    return u;
  }
  deleteUser(id: string): void { this.remove('user', id); }

  // ---- meetings
  listMeetings(tenantId: string): OnlineMeeting[] { return [...this.meetings.values()].filter((m) => m.tenantId === tenantId); }
  getMeeting(id: string): OnlineMeeting | undefined { return this.meetings.get(id); }
  upsertMeeting(m: OnlineMeeting): OnlineMeeting {
    this.requireTenant(m.tenantId);
    this.assertFree('meeting', m.id, m.tenantId);
    const organizer = this.users.get(m.organizerId);
    if (!organizer || organizer.tenantId !== m.tenantId) throw new DirectoryError(400, `organizerId ${m.organizerId} is not a user of tenant ${m.tenantId}`);
    this.put('meeting', m.tenantId, m);
    return m;
  }
  deleteMeeting(id: string): void { this.remove('meeting', id); }

  findMeeting(tenantId: string, by: { threadId?: string; token?: string; joinMeetingId?: string }): OnlineMeeting | undefined {
    for (const m of this.meetings.values()) {
      if (m.tenantId !== tenantId) continue;
      if (by.threadId !== undefined && m.threadId === by.threadId) return m;
      if (by.token !== undefined && m.joinToken === by.token) return m;
      if (by.joinMeetingId !== undefined && m.joinMeetingId === by.joinMeetingId) return m;
    }
    return undefined;
  }

  // ---- ACS resources
  listAcsResources(tenantId: string): AcsResource[] { return [...this.acsResources.values()].filter((r) => r.tenantId === tenantId); }
  allAcsResources(): AcsResource[] { return [...this.acsResources.values()]; }
  getAcsResource(id: string): AcsResource | undefined { return this.acsResources.get(id); }
  upsertAcsResource(r: AcsResource): AcsResource {
    this.requireTenant(r.tenantId);
    this.assertFree('acsResource', r.id, r.tenantId);
    if (!/^[A-Za-z0-9.-]+$/.test(r.id)) throw new DirectoryError(400, `ACS resource id '${r.id}' must be letters, digits, '.' and '-' only (it is the <resourceId> of 8:acs:<resourceId>_<userId>).`);
    if (this.applications.has(acsAppId(r.id))) throw new DirectoryError(409, `application ${acsAppId(r.id)} already exists: it would shadow ACS resource ${r.id}`);
    for (const n of r.phoneNumbers) this.assertNumberFree(n, r.id);
    this.put('acsResource', r.tenantId, r);
    return r;
  }
  deleteAcsResource(id: string): void {
    this.store.db.transaction(() => {
      for (const s of [...this.eventGridSubscriptions.values()]) if (s.resourceId === id) this.remove('eventGridSubscription', s.id);
      this.remove('acsResource', id);
    })();
  }

  /** The ACS resource as an application of its tenant: what the call core sees it as. */
  acsApplication(resourceId: string): Application | undefined {
    const r = this.acsResources.get(resourceId);
    if (!r) return undefined;
    const cached = this.acsApps.get(resourceId);
    if (cached && cached.resource === r) return cached.app;
    const app: Application = {
      tenantId: r.tenantId,
      appId: acsAppId(r.id),
      displayName: r.displayName,
      secrets: [],
      permissions: [...CALLING_PERMISSIONS],
      callingWebhook: null,
      api: 'acs',
    };
    this.acsApps.set(resourceId, { resource: r, app });
    return app;
  }

  // ---- Event Grid subscriptions (of ACS resources)
  listEventGridSubscriptions(resourceId: string): EventGridSubscription[] { return [...this.eventGridSubscriptions.values()].filter((s) => s.resourceId === resourceId); }
  getEventGridSubscription(resourceId: string, name: string): EventGridSubscription | undefined { return this.eventGridSubscriptions.get(`${resourceId}/${name}`); }
  /** A subscription as configured, keeping the validation of an existing one to the same endpoint. */
  newEventGridSubscription(
    tenantId: string,
    resourceId: string,
    input: { name: string; endpointUrl: string; includedEventTypes?: string[]; subjectBeginsWith?: string | null; subjectEndsWith?: string | null },
  ): EventGridSubscription {
    const existing = this.getEventGridSubscription(resourceId, input.name);
    const keep = existing && existing.endpointUrl === input.endpointUrl ? existing.validation : null;
    return {
      tenantId,
      id: `${resourceId}/${input.name}`,
      resourceId,
      name: input.name,
      endpointUrl: input.endpointUrl,
      includedEventTypes: [...(input.includedEventTypes ?? [])],
      subjectBeginsWith: input.subjectBeginsWith ?? null,
      subjectEndsWith: input.subjectEndsWith ?? null,
      validation: keep ?? { state: 'pending', code: randomUUID(), attempts: 0, lastError: null, validatedAt: null },
    };
  }
  upsertEventGridSubscription(s: EventGridSubscription): EventGridSubscription {
    const r = this.acsResources.get(s.resourceId);
    if (!r || r.tenantId !== s.tenantId) throw new DirectoryError(400, `ACS resource ${s.resourceId} is not in tenant ${s.tenantId}`);
    if (!/^[A-Za-z0-9-]{3,64}$/.test(s.name)) throw new DirectoryError(400, `event subscription name '${s.name}' must be 3-64 letters, digits and '-' (as in Event Grid)`);
    this.put('eventGridSubscription', s.tenantId, s);
    return s;
  }
  deleteEventGridSubscription(id: string): void { this.remove('eventGridSubscription', id); }

  /** Who answers a phone number: a user or an application instance, in any tenant (numbers are global). */
  findByPhoneNumber(number: string): { user: User } | { instance: ApplicationInstance } | { acsResource: AcsResource } | undefined {
    for (const u of this.users.values()) if (u.phoneNumber === number) return { user: u };
    for (const i of this.instances.values()) if (i.phoneNumber === number) return { instance: i };
    for (const r of this.acsResources.values()) if (r.phoneNumbers.includes(number)) return { acsResource: r };
    return undefined;
  }

  private assertNumberFree(number: string, ownerId: string): void {
    const owner = this.findByPhoneNumber(number);
    if (!owner) return;
    const id = 'user' in owner ? owner.user.id : 'instance' in owner ? owner.instance.id : owner.acsResource.id;
    if (id !== ownerId) throw new DirectoryError(409, `phone number ${number} already belongs to ${id}`);
  }

  /** Applies a tenant from the configuration file: the file is the source of truth for what it names. */
  applyTenantConfig(t: TenantConfig): void {
    this.store.db.transaction(() => {
      this.upsertTenant({ id: t.id, displayName: t.displayName });
      for (const a of t.applications) {
        const existing = this.applications.get(a.appId);
        const app: Application = {
          tenantId: t.id,
          appId: a.appId,
          displayName: a.displayName,
          permissions: [...a.permissions],
          callingWebhook: a.callingWebhook,
          secrets: existing?.tenantId === t.id ? existing.secrets : [],
        };
        this.upsertApplication(app);
        for (const s of a.secrets) this.addSecret(a.appId, s);
      }
      for (const i of t.applicationInstances) this.upsertApplicationInstance({ tenantId: t.id, ...i });
      for (const u of t.users) this.upsertUser({ tenantId: t.id, ...u });
      for (const m of t.meetings) this.upsertMeeting({ tenantId: t.id, ...m });
      for (const r of t.acsResources) {
        const existing = this.acsResources.get(r.id);
        const keys = existing?.tenantId === t.id ? [...existing.keys] : [];
        for (const k of r.keys) if (!keys.some((x) => x.key === k)) keys.push(acsKeyEntry(k));
        this.upsertAcsResource({ tenantId: t.id, id: r.id, displayName: r.displayName, keys, phoneNumbers: [...r.phoneNumbers] });
        for (const sub of r.eventGridSubscriptions) {
          this.upsertEventGridSubscription(this.newEventGridSubscription(t.id, r.id, sub));
        }
      }
    })();
  }
}
