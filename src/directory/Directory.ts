// The directory: tenants and what lives in them. Held in memory for lookups on every request,
// written through to the state store so admin changes survive a restart.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { StateStore } from '../storage/StateStore.ts';
import type { TenantConfig } from '../config/ConfigSchema.ts';
import type {
  Application,
  ApplicationInstance,
  DirectoryKind,
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

type Entity = Tenant | Application | ApplicationInstance | User | OnlineMeeting;

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
      for (const kind of ['application', 'applicationInstance', 'user', 'meeting'] as const) {
        for (const e of [...this.mapOf(kind).values()]) if (e.tenantId === id) this.remove(kind, keyOf(kind, e));
      }
      this.remove('tenant', id);
    })();
  }

  // ---- applications
  listApplications(tenantId: string): Application[] { return [...this.applications.values()].filter((a) => a.tenantId === tenantId); }
  getApplication(appId: string): Application | undefined { return this.applications.get(appId); }
  upsertApplication(app: Application): Application {
    this.requireTenant(app.tenantId);
    this.assertFree('application', app.appId, app.tenantId);
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

  /** Who answers a phone number: a user or an application instance, in any tenant (numbers are global). */
  findByPhoneNumber(number: string): { user: User } | { instance: ApplicationInstance } | undefined {
    for (const u of this.users.values()) if (u.phoneNumber === number) return { user: u };
    for (const i of this.instances.values()) if (i.phoneNumber === number) return { instance: i };
    return undefined;
  }

  private assertNumberFree(number: string, ownerId: string): void {
    const owner = this.findByPhoneNumber(number);
    if (!owner) return;
    const id = 'user' in owner ? owner.user.id : owner.instance.id;
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
    })();
  }
}
